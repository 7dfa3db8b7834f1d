//! The OpenAPI document served at `GET /openapi.json`: the analytics routes (from
//! their handlers in [`crate::api`]) and the routes the platform serves for every
//! service (`/health`, `/metrics`, `/projections…`), described here since their
//! handlers live in `platform`.

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::api::{ErrorBody, MonthlySales, TopProducts};
use crate::queries::{CustomerLtv, MonthlySalesRow, TopProduct};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "analytics-service",
        description = "Sales, customer lifetime value and top products, from the OLAP star \
                       schema projected from every service's event feed."
    ),
    paths(
        crate::api::monthly_sales,
        crate::api::customer_ltv,
        crate::api::top_products,
        openapi_document,
        health,
        metrics,
        projections,
        projection,
        rebuild
    ),
    components(schemas(
        MonthlySales,
        MonthlySalesRow,
        CustomerLtv,
        TopProducts,
        TopProduct,
        ErrorBody,
        HealthReport,
        ProjectionStatus,
        RebuildProgress,
        RebuildStarted
    )),
    tags(
        (name = "analytics", description = "Reads of the star schema's cubes"),
        (name = "operations", description = "Health, metrics and projections")
    )
)]
pub struct ApiDoc;

/// `GET /health`: `status` `up` or `down`, and each dependency's state.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "up", "dependencies": {
    "postgres": {"status": "up"}, "rabbitmq": {"status": "up"}}}))]
pub struct HealthReport {
    pub status: String,
    #[schema(value_type = Object)]
    pub dependencies: serde_json::Value,
}

/// A projection: its current version and its last (or running) rebuild.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectionStatus {
    #[schema(example = "olap")]
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
// document itself in `crate::api`); nothing calls them.

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

/// Prometheus metrics (text exposition format), among them `projection_lag_events`,
/// `projection_events_total` and `analytics_cube_refresh_seconds`.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text", body = String, content_type = "text/plain")))]
#[allow(dead_code)]
fn metrics() {}

/// Every projection of the service (here `olap`).
#[utoipa::path(get, path = "/projections", tag = "operations", responses(
    (status = 200, description = "The projections", body = [ProjectionStatus])))]
#[allow(dead_code)]
fn projections() {}

/// One projection.
#[utoipa::path(get, path = "/projections/{name}", tag = "operations",
    params(("name" = String, Path, description = "The projection's name, `olap`")),
    responses(
        (status = 200, description = "The projection", body = ProjectionStatus),
        (status = 404, description = "No such projection", body = ErrorBody)))]
#[allow(dead_code)]
fn projection() {}

/// Rebuilds the projection into its next version from every feed's beginning, while
/// the current version keeps serving; the new version becomes current when caught up.
#[utoipa::path(post, path = "/projections/{name}/rebuild", tag = "operations",
    params(("name" = String, Path, description = "The projection's name, `olap`")),
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
    fn every_route_the_service_serves_is_documented() {
        let doc = ApiDoc::openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        for route in [
            "/analytics/sales/monthly",
            "/analytics/customers/{customer_id}/ltv",
            "/analytics/products/top",
            "/openapi.json",
            "/health",
            "/metrics",
            "/projections",
            "/projections/{name}",
            "/projections/{name}/rebuild",
        ] {
            assert!(paths.contains(&route), "{route} missing from {paths:?}");
        }
    }

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
