//! The catalogue's routes: products, stock (Redis and its MongoDB mirror), categories.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_query, found, given, paging, unavailable, ApiState, ErrorBody, Page};
use crate::views::{self, CategoryView, ProductView, StockLevelView, StockView};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{sku}", get(get_product))
        .route("/stock/{sku}", get(get_stock))
        .route("/stock-levels", get(list_stock_levels))
        .route("/stock-levels/{sku}", get(get_stock_level))
        .route("/categories", get(list_categories))
        .route("/categories/{name}", get(get_category))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductParams {
    /// Only the products of this category.
    pub category: Option<String>,
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StockLevelParams {
    /// Only the skus with at most this many units available (a low-stock report).
    pub max_available: Option<i64>,
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoryParams {
    /// Only the sub-categories of this one (`kitchen` for `kitchen/mugs`).
    pub parent: Option<String>,
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

/// Products in sku order, all or one category's.
#[utoipa::path(get, path = "/products", tag = "catalog", params(ProductParams), responses(
    (status = 200, description = "A page of products", body = Page<ProductView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody),
    (status = 503, description = "MongoDB is unavailable", body = ErrorBody)))]
pub async fn list_products(
    State(state): State<ApiState>,
    params: Result<Query<ProductParams>, QueryRejection>,
) -> Result<Json<Page<ProductView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let category = given(params.category.as_deref());
    let items = views::products(&state.store, category, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// One product: its description and stock.
#[utoipa::path(get, path = "/products/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "The product's sku")), responses(
    (status = 200, description = "The product", body = ProductView),
    (status = 404, description = "No such product", body = ErrorBody)))]
pub async fn get_product(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let product = views::product(&state.store, &sku)
        .await
        .map_err(unavailable)?;
    found(product, || format!("no product with sku {sku:?}"))
}

/// A product's live stock, from Redis.
#[utoipa::path(get, path = "/stock/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "The product's sku")), responses(
    (status = 200, description = "Its stock levels", body = StockView),
    (status = 404, description = "No stock levels for the sku", body = ErrorBody)))]
pub async fn get_stock(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    let stock = views::stock(&state.store, &sku)
        .await
        .map_err(unavailable)?;
    found(stock, || format!("no stock levels for sku {sku:?}"))
}

/// Stock levels from the MongoDB mirror, lowest available first (then by sku).
#[utoipa::path(get, path = "/stock-levels", tag = "catalog", params(StockLevelParams),
    responses(
    (status = 200, description = "A page of stock levels", body = Page<StockLevelView>),
    (status = 400, description = "A bad filter, limit or offset", body = ErrorBody)))]
pub async fn list_stock_levels(
    State(state): State<ApiState>,
    params: Result<Query<StockLevelParams>, QueryRejection>,
) -> Result<Json<Page<StockLevelView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let items = views::stock_levels(&state.store, params.max_available, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// A product's stock from the MongoDB mirror.
#[utoipa::path(get, path = "/stock-levels/{sku}", tag = "catalog",
    params(("sku" = String, Path, description = "The product's sku")), responses(
    (status = 200, description = "Its stock levels", body = StockLevelView),
    (status = 404, description = "No stock levels for the sku", body = ErrorBody)))]
pub async fn get_stock_level(
    State(state): State<ApiState>,
    Path(sku): Path<String>,
) -> Result<Json<StockLevelView>, ApiError> {
    let level = views::stock_level(&state.store, &sku)
        .await
        .map_err(unavailable)?;
    found(level, || format!("no stock levels for sku {sku:?}"))
}

/// Categories by name, all or one category's children.
#[utoipa::path(get, path = "/categories", tag = "catalog", params(CategoryParams), responses(
    (status = 200, description = "A page of categories", body = Page<CategoryView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody)))]
pub async fn list_categories(
    State(state): State<ApiState>,
    params: Result<Query<CategoryParams>, QueryRejection>,
) -> Result<Json<Page<CategoryView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let parent = given(params.parent.as_deref());
    let items = views::categories(&state.store, parent, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// One category: its products and units available.
#[utoipa::path(get, path = "/categories/{name}", tag = "catalog",
    params(("name" = String, Path, description = "The category (a `/` in it URL-encoded)")),
    responses(
    (status = 200, description = "The category", body = CategoryView),
    (status = 404, description = "No product ever was in it", body = ErrorBody)))]
pub async fn get_category(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<CategoryView>, ApiError> {
    let category = views::category(&state.store, &name)
        .await
        .map_err(unavailable)?;
    found(category, || format!("no category {name:?}"))
}
