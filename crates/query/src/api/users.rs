//! The users' routes: profile, summary, activity.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use platform::http::ApiError;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{bad_query, found, one_of, paging, unavailable, ApiState, ErrorBody, Page};
use crate::views::{self, ActivityView, UserSummaryView, UserView, ACTIVITY_KINDS};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/users/{user_id}", get(get_user))
        .route("/users/{user_id}/summary", get(get_user_summary))
        .route("/users/{user_id}/activity", get(list_user_activity))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// Only entries of this kind: `user_registered`, `profile_updated`,
    /// `user_deactivated`, `order_placed`, `order_confirmed` or `order_cancelled`.
    pub kind: Option<String>,
    /// 1..=500, default 50.
    pub limit: Option<i64>,
    /// How many to skip, default 0.
    pub offset: Option<u64>,
}

/// A user's profile.
#[utoipa::path(get, path = "/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "The user's id")), responses(
    (status = 200, description = "The profile", body = UserView),
    (status = 404, description = "No such user", body = ErrorBody)))]
pub async fn get_user(
    State(state): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = views::user(&state.store, &user_id)
        .await
        .map_err(unavailable)?;
    found(user, || format!("no user with id {user_id:?}"))
}

/// A user's profile and order counters.
#[utoipa::path(get, path = "/users/{user_id}/summary", tag = "users",
    params(("user_id" = String, Path, description = "The user's id")), responses(
    (status = 200, description = "The summary", body = UserSummaryView),
    (status = 404, description = "Nothing is known of the user", body = ErrorBody)))]
pub async fn get_user_summary(
    State(state): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<UserSummaryView>, ApiError> {
    let summary = views::user_summary(&state.store, &user_id)
        .await
        .map_err(unavailable)?;
    found(summary, || format!("no user with id {user_id:?}"))
}

/// A user's events and their orders' events, newest first; an unknown user has none.
#[utoipa::path(get, path = "/users/{user_id}/activity", tag = "users",
    params(("user_id" = String, Path, description = "The user's id"), ActivityParams),
    responses(
    (status = 200, description = "A page of activity", body = Page<ActivityView>),
    (status = 400, description = "A bad kind, limit or offset", body = ErrorBody)))]
pub async fn list_user_activity(
    State(state): State<ApiState>,
    Path(user_id): Path<String>,
    params: Result<Query<ActivityParams>, QueryRejection>,
) -> Result<Json<Page<ActivityView>>, ApiError> {
    let Query(params) = params.map_err(bad_query)?;
    let slice = paging(params.limit, params.offset)?;
    let kind = one_of("kind", params.kind.as_deref(), &ACTIVITY_KINDS)?;
    let items = views::user_activity(&state.store, &user_id, kind, slice)
        .await
        .map_err(unavailable)?;
    Ok(Page::of(items, slice))
}
