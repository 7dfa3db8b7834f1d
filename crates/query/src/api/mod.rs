//! The HTTP query API, one route (or two) per view; [`openapi`] documents every one
//! at `GET /openapi.json`.
//!
//! - [`catalog`]: `GET /products`, `/products/{sku}`, `/stock/{sku}` (Redis),
//!   `/stock-levels`, `/stock-levels/{sku}` (MongoDB), `/categories`, `/categories/{name}`.
//! - [`orders`]: `GET /orders/{order_id}`, `/orders/{order_id}/status` (Redis),
//!   `/customers/{customer_id}/orders`, `/customers/{customer_id}/recent-orders` (Redis),
//!   `/rankings/best-sellers` (Redis), `/payments/{order_id}`.
//! - [`users`]: `GET /users/{user_id}`, `/users/{user_id}/summary`,
//!   `/users/{user_id}/activity`.
//! - [`notifications`]: `GET /notifications/{notification_id}`, `/templates`,
//!   `/templates/{name}`, `/channels`, `/channels/{name}`.
//! - `GET /health` (MongoDB, Redis, broker session) and `GET /metrics`.
//!
//! A list answers `{"items": [...], "limit", "offset"}`: `limit` 1..=500 (default 50),
//! `offset` >= 0 (default 0). Errors are `platform::http::ApiError` JSON: 404 with a
//! reason for unknown ids, 400 for bad parameters, 503 when a store fails (its cause is
//! logged, not sent).

pub mod catalog;
pub mod notifications;
pub mod openapi;
pub mod orders;
pub mod users;

use axum::extract::rejection::QueryRejection;
use axum::routing::get;
use axum::{Json, Router};
use platform::http::{operational_routes, ApiError, Health};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::projector::BrokerStatus;
use crate::store::ReadStore;
use crate::views::{Slice, ViewError};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub store: ReadStore,
    pub broker: BrokerStatus,
}

/// The query API with its operational routes and its OpenAPI document.
pub fn app(state: ApiState) -> Router {
    let health = health(&state);
    Router::new()
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(users::routes())
        .merge(notifications::routes())
        .with_state(state)
        .route("/openapi.json", get(openapi_document))
        .merge(operational_routes(health))
}

async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

fn health(state: &ApiState) -> Health {
    let (mongo, redis, broker) = (
        state.store.clone(),
        state.store.clone(),
        state.broker.clone(),
    );
    Health::default()
        .with_check("mongodb", move || {
            let store = mongo.clone();
            async move { store.ping_mongodb().await.map_err(|err| err.to_string()) }
        })
        .with_check("redis", move || {
            let store = redis.clone();
            async move { store.ping_redis().await.map_err(|err| err.to_string()) }
        })
        .with_check("broker", move || {
            let connected = broker.is_connected();
            async move {
                connected
                    .then_some(())
                    .ok_or_else(|| "the projector has no broker session".to_string())
            }
        })
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: i64,
    pub offset: u64,
}

impl<T> Page<T> {
    fn of(items: Vec<T>, slice: Slice) -> Json<Self> {
        Json(Self {
            items,
            limit: slice.limit,
            offset: slice.offset,
        })
    }
}

/// The platform's JSON error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    #[schema(example = "bad_request")]
    pub error: String,
    #[schema(example = "limit must be between 1 and 500, got 0")]
    pub reason: String,
}

/// Checks the paging parameters and fills in their defaults.
fn paging(limit: Option<i64>, offset: Option<u64>) -> Result<Slice, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let reason = format!("limit must be between 1 and {MAX_LIMIT}, got {limit}");
        return Err(ApiError::BadRequest(reason));
    }
    Ok(Slice {
        limit,
        offset: offset.unwrap_or(0),
    })
}

/// A parameter the query string could not be read into (`limit=ten`, `offset=-1`).
fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// An empty filter (`?category=`) means none, as an absent one does.
fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// A filter that must be one of `allowed`.
fn one_of<'a>(
    name: &str,
    value: Option<&'a str>,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match given(value) {
        Some(value) if !allowed.contains(&value) => Err(ApiError::BadRequest(format!(
            "{name} must be one of {}, got {value:?}",
            allowed.join(", ")
        ))),
        other => Ok(other),
    }
}

/// The document, or 404 with `reason`.
fn found<T>(value: Option<T>, reason: impl FnOnce() -> String) -> Result<Json<T>, ApiError> {
    value.map(Json).ok_or_else(|| ApiError::NotFound(reason()))
}

fn unavailable(err: ViewError) -> ApiError {
    ApiError::Unavailable(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_takes_limits_from_1_to_500_and_defaults_to_50() {
        assert_eq!(
            paging(None, None).ok(),
            Some(Slice {
                limit: 50,
                offset: 0
            })
        );
        assert!(paging(Some(0), None).is_err());
        assert!(paging(Some(501), None).is_err());
        assert_eq!(
            paging(Some(500), Some(7)).ok(),
            Some(Slice {
                limit: 500,
                offset: 7
            })
        );
    }

    #[test]
    fn a_filter_outside_its_values_is_refused_and_an_empty_one_ignored() {
        let statuses = ["placed", "confirmed"];
        assert!(one_of("status", Some("lost"), &statuses).is_err());
        assert_eq!(one_of("status", Some(""), &statuses).ok(), Some(None));
        assert_eq!(
            one_of("status", Some("placed"), &statuses).ok(),
            Some(Some("placed"))
        );
    }
}
