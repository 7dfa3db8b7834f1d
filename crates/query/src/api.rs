//! The HTTP query API:
//!
//! - `GET /products?category=&limit=&offset=`: a page of products in sku order
//!   (`limit` 1..=500, default 50), as `{"items": [...], "limit", "offset"}`.
//! - `GET /customers/{customer_id}/orders?limit=&offset=`: a page of that customer's
//!   orders, newest `placed_at` first (same `limit` bounds and shape; an unknown
//!   customer has an empty page).
//! - `GET /products/{sku}`, `GET /orders/{order_id}`, `GET /users/{user_id}`: one
//!   document.
//! - `GET /stock/{sku}`: stock levels from Redis.
//! - `GET /health` (MongoDB, Redis, broker session) and `GET /metrics`.
//!
//! Errors are `platform::http::ApiError` JSON: 404 with a reason for unknown ids, 400
//! for bad parameters, 503 when a store fails (its cause is logged, not sent).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::{operational_routes, ApiError, Health};
use serde::{Deserialize, Serialize};

use crate::projector::BrokerStatus;
use crate::store::ReadStore;
use crate::views::{self, OrderView, ProductView, StockView, UserView};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct ApiState {
    pub store: ReadStore,
    pub broker: BrokerStatus,
}

/// The query API with its operational routes.
pub fn app(state: ApiState) -> Router {
    let health = health(&state);
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{sku}", get(get_product))
        .route("/stock/{sku}", get(get_stock))
        .route("/orders/{order_id}", get(get_order))
        .route("/customers/{customer_id}/orders", get(list_customer_orders))
        .route("/users/{user_id}", get(get_user))
        .with_state(state)
        .merge(operational_routes(health))
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

#[derive(Debug, Deserialize)]
struct ListParams {
    category: Option<String>,
    limit: Option<i64>,
    offset: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct PageParams {
    limit: Option<i64>,
    offset: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Page<T> {
    items: Vec<T>,
    limit: i64,
    offset: u64,
}

/// Checks the paging parameters and fills in their defaults: `(limit, offset)`.
fn paging(limit: Option<i64>, offset: Option<u64>) -> Result<(i64, u64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let reason = format!("limit must be between 1 and {MAX_LIMIT}, got {limit}");
        return Err(ApiError::BadRequest(reason));
    }
    Ok((limit, offset.unwrap_or(0)))
}

fn bad_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

async fn list_products(
    State(state): State<ApiState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Page<ProductView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    // `?category=` (empty) means no filter, as an absent parameter does.
    let category = params.category.as_deref().filter(|c| !c.is_empty());
    let items = views::products(&state.store, category, limit, offset)
        .await
        .map_err(unavailable)?;
    Ok(Json(Page {
        items,
        limit,
        offset,
    }))
}

async fn list_customer_orders(
    State(state): State<ApiState>,
    Path(customer_id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let (limit, offset) = paging(params.limit, params.offset)?;
    let items = views::customer_orders(&state.store, &customer_id, limit, offset)
        .await
        .map_err(unavailable)?;
    Ok(Json(Page {
        items,
        limit,
        offset,
    }))
}

async fn get_product(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let product = views::product(&state.store, &sku)
        .await
        .map_err(unavailable)?;
    product
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no product with sku {sku:?}")))
}

async fn get_stock(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    let stock = views::stock(&state.store, &sku)
        .await
        .map_err(unavailable)?;
    stock
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no stock levels for sku {sku:?}")))
}

async fn get_order(
    State(state): State<ApiState>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = views::order(&state.store, &order_id)
        .await
        .map_err(unavailable)?;
    order
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no order with id {order_id:?}")))
}

async fn get_user(
    State(state): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = views::user(&state.store, &user_id)
        .await
        .map_err(unavailable)?;
    user.map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user with id {user_id:?}")))
}

fn unavailable(err: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(err.to_string())
}
