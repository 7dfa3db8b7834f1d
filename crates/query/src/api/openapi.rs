//! The OpenAPI document served at `GET /openapi.json`: the query routes (from their
//! handlers) and the routes the platform serves for every service (`/health`,
//! `/metrics`, `/projections…`), described here since their handlers live in `platform`.

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{catalog, notifications, orders, users, ErrorBody};
use crate::projector::events::OrderLine;
use crate::views::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "query-service",
        description = "The read models of the platform, projected from every service's \
                       event feed into MongoDB and Redis. Lists take `limit` (1..=500, \
                       default 50) and `offset`."
    ),
    paths(
        catalog::list_products, catalog::get_product, catalog::get_stock,
        catalog::list_stock_levels, catalog::get_stock_level,
        catalog::list_categories, catalog::get_category,
        orders::get_order, orders::get_order_status, orders::list_customer_orders,
        orders::list_recent_orders, orders::list_best_sellers, orders::get_payment,
        users::get_user, users::get_user_summary, users::list_user_activity,
        notifications::get_delivery, notifications::list_templates,
        notifications::get_template, notifications::list_channels,
        notifications::get_channel,
        openapi_document, health, metrics, projections, projection, rebuild
    ),
    components(schemas(
        ProductView, StockView, StockLevelView, CategoryView, OrderView, OrderLine,
        OrderStatusView, RecentOrderView, BestSellerView, PaymentView, UserView,
        UserSummaryView, ActivityView, DeliveryView, TemplateUsageView, ChannelView,
        ErrorBody, HealthReport, ProjectionStatus, RebuildProgress, RebuildStarted
    )),
    tags(
        (name = "catalog", description = "Products, stock and categories"),
        (name = "orders", description = "Orders, rankings and payments"),
        (name = "users", description = "Profiles, summaries and activity"),
        (name = "notifications", description = "Deliveries, templates and channels"),
        (name = "operations", description = "Health, metrics and projections")
    )
)]
pub struct ApiDoc;

/// `GET /health`: `status` `up` or `down`, and each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "up", "dependencies": {
    "mongodb": {"status": "up"}, "redis": {"status": "up"}, "broker": {"status": "up"}}}))]
pub struct HealthReport {
    pub status: String,
    #[schema(value_type = Object)]
    pub dependencies: serde_json::Value,
}

/// A projection (a view): its current version and its last (or running) rebuild.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionStatus {
    #[schema(example = "category_tree")]
    pub name: String,
    pub version: Option<u32>,
    pub rebuild: RebuildProgress,
}

/// `state`: `idle`, `rebuilding`, `swapping`, `done` or `failed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildProgress {
    pub state: String,
    pub total: u64,
    pub done: u64,
    pub events_per_second: f64,
    pub eta_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebuildStarted {
    pub name: String,
    #[schema(example = "rebuilding")]
    pub state: String,
}

// The functions below only carry the documentation of routes whose handlers are
// elsewhere (`platform::http::operational_routes`, `ProjectionSet::routes`, the
// document itself in `super::app`); nothing calls them.

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "The OpenAPI 3.1 document of the service", body = Object)))]
#[allow(dead_code)]
fn openapi_document() {}

/// Each dependency's state.
#[utoipa::path(get, path = "/health", tag = "operations", responses(
    (status = 200, description = "Every dependency is up", body = HealthReport),
    (status = 503, description = "A dependency is down", body = HealthReport)))]
#[allow(dead_code)]
fn health() {}

/// Prometheus metrics (text exposition format), among them `projection_lag_events` and
/// `projection_events_total`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text", body = String, content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics() {}

/// Every projection of the service: one per view.
#[utoipa::path(get, path = "/projections", tag = "operations", responses(
    (status = 200, description = "The projections", body = [ProjectionStatus])))]
#[allow(dead_code)]
fn projections() {}

/// One projection.
#[utoipa::path(get, path = "/projections/{name}", tag = "operations",
    params(("name" = String, Path, description = "The view's name, e.g. `product_list`")),
    responses(
        (status = 200, description = "The projection", body = ProjectionStatus),
        (status = 404, description = "No such projection", body = ErrorBody)))]
#[allow(dead_code)]
fn projection() {}

/// Rebuilds the view into its next version from every feed's beginning, while the
/// current version keeps serving; the new version becomes current when caught up.
#[utoipa::path(post, path = "/projections/{name}/rebuild", tag = "operations",
    params(("name" = String, Path, description = "The view's name, e.g. `product_list`")),
    responses(
        (status = 202, description = "Started; progress on GET /projections/{name}", body = RebuildStarted),
        (status = 404, description = "No such projection", body = ErrorBody),
        (status = 409, description = "A rebuild of it is already running", body = ErrorBody)))]
#[allow(dead_code)]
fn rebuild() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_is_a_component() {
        let json = serde_json::to_string(&ApiDoc::openapi()).expect("serializable");
        let schemas = ApiDoc::openapi()
            .components
            .map(|c| c.schemas)
            .unwrap_or_default();
        for reference in json.split("#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(
                schemas.contains_key(name),
                "{name} is referenced, not defined"
            );
        }
    }
}
