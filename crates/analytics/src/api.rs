//! The analytics HTTP API:
//!
//! - `GET /analytics/sales/monthly?from=YYYY-MM&to=YYYY-MM&category=`: sales month by
//!   month (both bounds inclusive and optional), for all categories or one.
//! - `GET /analytics/customers/{customer_id}/ltv`: a customer's lifetime value; 404
//!   for a customer the schema does not know.
//! - `GET /analytics/products/top?limit=&offset=&category=`: products by net revenue,
//!   a page at a time (`limit` 1..=100, default 10).
//! - `GET /openapi.json`: the OpenAPI document of all of the service's routes.
//!
//! Parameters are read as text and checked here, so a bad one answers 400 with a
//! reason in the platform's JSON error (`{"error": "bad_request", "reason": …}`); a
//! failing database answers 503 (its cause is logged, not sent).

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::ApiError;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::calendar::Month;
use crate::queries::{self, CustomerLtv, MonthlySalesRow, TopProduct};

const DEFAULT_LIMIT: i64 = 10;
const MAX_LIMIT: i64 = 100;

/// The analytics routes and `/openapi.json`.
pub fn routes(pool: PgPool) -> Router {
    Router::new()
        .route("/analytics/sales/monthly", get(monthly_sales))
        .route("/analytics/customers/{customer_id}/ltv", get(customer_ltv))
        .route("/analytics/products/top", get(top_products))
        .with_state(pool)
        .route("/openapi.json", get(openapi))
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::ApiDoc::openapi())
}

/// `from` and `to` are months, `YYYY-MM`, inclusive; `category` narrows to one.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthlyParams {
    /// The first month, `YYYY-MM` (default: the first with sales).
    #[param(example = "2026-01")]
    pub from: Option<String>,
    /// The last month, `YYYY-MM` (default: the last with sales).
    #[param(example = "2026-12")]
    pub to: Option<String>,
    /// Only the lines of this category (the product's category when sold).
    pub category: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlySales {
    pub rows: Vec<MonthlySalesRow>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopParams {
    /// 1..=100, default 10.
    #[param(value_type = Option<i64>, example = 10)]
    pub limit: Option<String>,
    /// How many to skip, default 0.
    #[param(value_type = Option<i64>, example = 0)]
    pub offset: Option<String>,
    /// Only sales of this category (the product's category when sold).
    pub category: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopProducts {
    pub items: Vec<TopProduct>,
    pub limit: i64,
    pub offset: i64,
    /// How many products the list holds in all.
    pub total: i64,
}

/// The platform's JSON error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "bad_request")]
    pub error: String,
    #[schema(example = "limit must be between 1 and 100, got 0")]
    pub reason: String,
}

fn unavailable(err: sqlx::Error) -> ApiError {
    ApiError::Unavailable(err.to_string())
}

/// An empty parameter means none, as an absent one does.
fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn month(name: &str, value: Option<String>) -> Result<Option<Month>, ApiError> {
    given(value)
        .map(|text| {
            text.parse::<Month>()
                .map_err(|err| ApiError::BadRequest(format!("{name}: {err}")))
        })
        .transpose()
}

fn number(name: &str, value: Option<String>, default: i64) -> Result<i64, ApiError> {
    let Some(text) = given(value) else {
        return Ok(default);
    };
    text.trim()
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{name} must be an integer, got {text:?}")))
}

/// Checks the paging parameters and fills in their defaults: `(limit, offset)`.
pub fn paging(limit: Option<String>, offset: Option<String>) -> Result<(i64, i64), ApiError> {
    let limit = number("limit", limit, DEFAULT_LIMIT)?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        let reason = format!("limit must be between 1 and {MAX_LIMIT}, got {limit}");
        return Err(ApiError::BadRequest(reason));
    }
    let offset = number("offset", offset, 0)?;
    if offset < 0 {
        let reason = format!("offset cannot be negative, got {offset}");
        return Err(ApiError::BadRequest(reason));
    }
    Ok((limit, offset))
}

/// Sales month by month.
#[utoipa::path(get, path = "/analytics/sales/monthly", tag = "analytics", params(MonthlyParams),
    responses(
        (status = 200, description = "One row per month with sales, oldest first", body = MonthlySales),
        (status = 400, description = "A malformed month, or `from` after `to`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub async fn monthly_sales(
    State(pool): State<PgPool>,
    Query(params): Query<MonthlyParams>,
) -> Result<Json<MonthlySales>, ApiError> {
    let from = month("from", params.from)?;
    let to = month("to", params.to)?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            let reason = format!("from ({from}) is after to ({to})");
            return Err(ApiError::BadRequest(reason));
        }
    }
    let category = given(params.category);
    let rows = queries::monthly_sales(&pool, from, to, category.as_deref())
        .await
        .map_err(unavailable)?;
    Ok(Json(MonthlySales { rows }))
}

/// A customer's lifetime value.
#[utoipa::path(get, path = "/analytics/customers/{customer_id}/ltv", tag = "analytics",
    params(("customer_id" = String, Path, description = "The customer's (user's) id")),
    responses(
        (status = 200, description = "The customer's sales, refunds and order dates", body = CustomerLtv),
        (status = 404, description = "No event names this customer yet", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub async fn customer_ltv(
    State(pool): State<PgPool>,
    Path(customer_id): Path<String>,
) -> Result<Json<CustomerLtv>, ApiError> {
    queries::customer_ltv(&pool, &customer_id)
        .await
        .map_err(unavailable)?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no customer {customer_id}")))
}

/// Products by net revenue, then units, then sku.
#[utoipa::path(get, path = "/analytics/products/top", tag = "analytics", params(TopParams),
    responses(
        (status = 200, description = "A page of products", body = TopProducts),
        (status = 400, description = "`limit` outside 1..=100, or a bad `offset`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody)))]
pub async fn top_products(
    State(pool): State<PgPool>,
    Query(params): Query<TopParams>,
) -> Result<Json<TopProducts>, ApiError> {
    let (limit, offset) = paging(params.limit, params.offset)?;
    let category = given(params.category);
    let (items, total) = queries::top_products(&pool, category.as_deref(), limit, offset)
        .await
        .map_err(unavailable)?;
    Ok(Json(TopProducts {
        items,
        limit,
        offset,
        total,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn paging_defaults_to_the_first_ten() {
        assert!(matches!(paging(None, None), Ok((10, 0))));
        assert!(matches!(paging(text(""), text(" ")), Ok((10, 0))));
        assert!(matches!(paging(text("100"), text("40")), Ok((100, 40))));
    }

    #[test]
    fn a_limit_outside_one_to_a_hundred_is_refused_with_a_reason() {
        for limit in ["0", "101", "-3", "ten"] {
            let Err(ApiError::BadRequest(reason)) = paging(text(limit), None) else {
                panic!("limit {limit} accepted");
            };
            assert!(reason.contains("limit"), "{reason}");
        }
    }

    #[test]
    fn a_negative_or_malformed_offset_is_refused() {
        assert!(paging(None, text("-1")).is_err());
        assert!(paging(None, text("1.5")).is_err());
    }

    #[test]
    fn a_month_parameter_names_itself_when_malformed() {
        let Err(ApiError::BadRequest(reason)) = month("from", text("2026-13")) else {
            panic!("2026-13 accepted");
        };
        assert!(reason.starts_with("from:"), "{reason}");
        assert!(matches!(month("to", None), Ok(None)));
    }
}
