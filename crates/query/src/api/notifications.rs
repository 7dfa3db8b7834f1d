//! The notifications' routes: a notification's delivery, templates, channels.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::ApiError;

use super::orders::PageParams;
use super::{bad_query, found, paging, unavailable, ApiState, ErrorBody, Page};
use crate::views::{self, ChannelView, DeliveryView, TemplateUsageView};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/notifications/{notification_id}", get(get_delivery))
        .route("/templates", get(list_templates))
        .route("/templates/{name}", get(get_template))
        .route("/channels", get(list_channels))
        .route("/channels/{name}", get(get_channel))
}

/// A notification's delivery.
#[utoipa::path(get, path = "/notifications/{notification_id}", tag = "notifications",
    params(("notification_id" = String, Path, description = "The notification's id")),
    responses(
    (status = 200, description = "Its delivery", body = DeliveryView),
    (status = 404, description = "No such notification", body = ErrorBody)))]
pub async fn get_delivery(
    State(state): State<ApiState>,
    Path(notification_id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = views::delivery(&state.store, &notification_id)
        .await
        .map_err(unavailable)?;
    found(delivery, || {
        format!("no notification with id {notification_id:?}")
    })
}

/// Every template's counts, by name.
#[utoipa::path(get, path = "/templates", tag = "notifications", params(PageParams),
    responses(
    (status = 200, description = "A page of templates", body = Page<TemplateUsageView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody)))]
pub async fn list_templates(
    State(state): State<ApiState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<TemplateUsageView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let items = views::templates(&state.store, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// One template's counts.
#[utoipa::path(get, path = "/templates/{name}", tag = "notifications",
    params(("name" = String, Path, description = "The template's name")), responses(
    (status = 200, description = "Its counts", body = TemplateUsageView),
    (status = 404, description = "No notification used it", body = ErrorBody)))]
pub async fn get_template(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<TemplateUsageView>, ApiError> {
    let usage = views::template(&state.store, &name)
        .await
        .map_err(unavailable)?;
    found(usage, || format!("no template {name:?}"))
}

/// Every channel's counts and success rate, by name.
#[utoipa::path(get, path = "/channels", tag = "notifications", params(PageParams),
    responses(
    (status = 200, description = "A page of channels", body = Page<ChannelView>),
    (status = 400, description = "A bad limit or offset", body = ErrorBody)))]
pub async fn list_channels(
    State(state): State<ApiState>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<ChannelView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let items = views::channels(&state.store, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}

/// One channel's counts and success rate.
#[utoipa::path(get, path = "/channels/{name}", tag = "notifications",
    params(("name" = String, Path, description = "The channel: `email` or `sms`")),
    responses(
    (status = 200, description = "Its counts", body = ChannelView),
    (status = 404, description = "No notification went through it", body = ErrorBody)))]
pub async fn get_channel(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = views::channel(&state.store, &name)
        .await
        .map_err(unavailable)?;
    found(channel, || format!("no channel {name:?}"))
}
