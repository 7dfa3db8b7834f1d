//! The orders' routes: details, status, a customer's history and latest orders, the
//! best-seller ranking, and an order's payment.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_query, found, one_of, paging, unavailable, ApiState, ErrorBody, Page};
use crate::views::{
    self, BestSellerView, OrderStatusView, OrderView, PaymentView, RecentOrderView, ORDER_STATUSES,
};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/orders/{order_id}", get(get_order))
        .route("/orders/{order_id}/status", get(get_order_status))
        .route("/customers/{customer_id}/orders", get(list_customer_orders))
        .route(
            "/customers/{customer_id}/recent-orders",
            get(list_recent_orders),
        )
        .route("/rankings/best-sellers", get(list_best_sellers))
        .route("/payments/{order_id}", get(get_payment))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerOrderParams {
    /// Only the orders in this status: `placed`, `confirmed` or `cancelled`.
    pub status: Option<String>,
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

/// An order's details.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "The order's id")), responses(
    (status = 200, description = "The order", body = OrderView),
    (status = 404, description = "No such order", body = ErrorBody)))]
pub async fn get_order(
    State(state): State<ApiState>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = views::order(&state.store, &order_id)
        .await
        .map_err(unavailable)?;
    found(order, || format!("no order with id {order_id:?}"))
}

/// An order's status, from Redis.
#[utoipa::path(get, path = "/orders/{order_id}/status", tag = "orders",
    params(("order_id" = String, Path, description = "The order's id")), responses(
    (status = 200, description = "Its status", body = OrderStatusView),
    (status = 404, description = "No such order", body = ErrorBody)))]
pub async fn get_order_status(
    State(state): State<ApiState>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderStatusView>, ApiError> {
    let status = views::order_status(&state.store, &order_id)
        .await
        .map_err(unavailable)?;
    found(status, || format!("no order with id {order_id:?}"))
}

/// A customer's orders (`order_history`), newest first; an unknown customer has none.
#[utoipa::path(get, path = "/customers/{customer_id}/orders", tag = "orders",
    params(("customer_id" = String, Path, description = "The customer's (user's) id"),
        CustomerOrderParams), responses(
    (status = 200, description = "A page of orders", body = Page<OrderView>),
    (status = 400, description = "A bad status, limit or offset", body = ErrorBody)))]
pub async fn list_customer_orders(
    State(state): State<ApiState>,
    Path(customer_id): Path<String>,
    params: Result<Query<CustomerOrderParams>, QueryRejection>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let status = one_of("status", params.status.as_deref(), &ORDER_STATUSES)?;
    let items = views::customer_orders(&state.store, &customer_id, status, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// A customer's latest orders (the newest 20 are kept), newest first, from Redis.
#[utoipa::path(get, path = "/customers/{customer_id}/recent-orders", tag = "orders",
    params(("customer_id" = String, Path, description = "The customer's (user's) id"),
        PageParams), responses(
    (status = 200, description = "A page of recent orders", body = Page<RecentOrderView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody)))]
pub async fn list_recent_orders(
    State(state): State<ApiState>,
    Path(customer_id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<RecentOrderView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let items = views::recent_orders(&state.store, &customer_id, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// Skus by units sold in confirmed orders that stand, most first, from Redis.
#[utoipa::path(get, path = "/rankings/best-sellers", tag = "orders", params(PageParams),
    responses(
    (status = 200, description = "A page of the ranking", body = Page<BestSellerView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody)))]
pub async fn list_best_sellers(
    State(state): State<ApiState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<BestSellerView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let items = views::best_sellers(&state.store, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// The payment of an order.
#[utoipa::path(get, path = "/payments/{order_id}", tag = "orders",
    params(("order_id" = String, Path, description = "The order's id")), responses(
    (status = 200, description = "Its payment", body = PaymentView),
    (status = 404, description = "No payment for the order", body = ErrorBody)))]
pub async fn get_payment(
    State(state): State<ApiState>,
    Path(order_id): Path<String>,
) -> Result<Json<PaymentView>, ApiError> {
    let payment = views::order_payment(&state.store, &order_id)
        .await
        .map_err(unavailable)?;
    found(payment, || format!("no payment for order {order_id:?}"))
}
