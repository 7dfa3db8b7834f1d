//! Users: `user_profile`, `user_summary` and `user_activity`.

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bson_datetime, optional_bson_datetime, page, Slice, ViewError};
use crate::store::{ReadStore, USER_ACTIVITY, USER_PROFILE, USER_SUMMARY};

/// The kinds of `user_activity` entries.
pub const ACTIVITY_KINDS: [&str; 6] = [
    "user_registered",
    "profile_updated",
    "user_deactivated",
    "order_placed",
    "order_confirmed",
    "order_cancelled",
];

/// A `user_profile` document. Its `version` stays internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
    #[serde(deserialize_with = "bson_datetime")]
    pub registered_at: DateTime<Utc>,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// A `user_summary` document. The profile fields are empty while the user's
/// registration is not applied yet (their orders may come first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserSummaryView {
    pub user_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "optional_bson_datetime")]
    pub registered_at: Option<DateTime<Utc>>,
    /// Every order placed.
    #[serde(default)]
    pub orders_placed: i64,
    /// Orders confirmed and not cancelled since.
    #[serde(default)]
    pub orders_confirmed: i64,
    /// Orders cancelled, before or after their confirmation.
    #[serde(default)]
    pub orders_cancelled: i64,
    /// The total of the confirmed orders that stand.
    #[serde(default)]
    pub total_spent_cents: i64,
}

/// One `user_activity` entry: an event of the user, or of one of their orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivityView {
    /// The event's id.
    #[serde(alias = "_id")]
    pub event_id: String,
    pub user_id: String,
    /// `user_registered`, `profile_updated`, `user_deactivated`, `order_placed`,
    /// `order_confirmed` or `order_cancelled`.
    #[schema(example = "order_placed")]
    pub kind: String,
    #[serde(deserialize_with = "bson_datetime")]
    pub at: DateTime<Utc>,
    /// For an order's event.
    #[serde(default)]
    pub order_id: Option<String>,
    /// What the event said: `{email, name}`, `{name}`, `{}`,
    /// `{order_id, total_cents, lines, units}`, `{order_id}`, `{order_id, reason}`.
    #[schema(value_type = Object)]
    pub details: Document,
}

pub async fn user(store: &ReadStore, user_id: &str) -> Result<Option<UserView>, ViewError> {
    let users = store.current::<UserView>(USER_PROFILE).await?;
    Ok(users.find_one(doc! {"_id": user_id}).await?)
}

pub async fn user_summary(
    store: &ReadStore,
    user_id: &str,
) -> Result<Option<UserSummaryView>, ViewError> {
    let summaries = store.current::<UserSummaryView>(USER_SUMMARY).await?;
    Ok(summaries.find_one(doc! {"_id": user_id}).await?)
}

/// A page of a user's activity, newest first, optionally of one kind (indexes
/// `user_at`, `user_kind_at`); entries of the same millisecond in a fixed order (by id).
pub async fn user_activity(
    store: &ReadStore,
    user_id: &str,
    kind: Option<&str>,
    slice: Slice,
) -> Result<Vec<ActivityView>, ViewError> {
    let mut filter = doc! {"user_id": user_id};
    if let Some(kind) = kind {
        filter.insert("kind", kind);
    }
    let activity = store.current::<ActivityView>(USER_ACTIVITY).await?;
    Ok(page(activity, filter, doc! {"at": -1, "_id": -1}, slice).await?)
}
