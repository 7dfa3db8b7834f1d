//! The read models as the API serves them, and the queries that fetch them.
//!
//! Each query reads the current version of its view (see [`ReadStore::current`]), so a
//! rebuild's swap is seen by the next request. Views list their fields explicitly, so
//! storage details (`_id`, checkpoints, feed positions) never reach a client; times are
//! stored as BSON dates (Redis: epoch milliseconds) and served as RFC 3339.
//!
//! [`catalog`]: products, stock, categories; [`orders`]: orders, order status, recent
//! orders, best sellers, payments; [`users`]: profiles, summaries, activity;
//! [`notifications`]: deliveries, templates, channels.

pub mod catalog;
pub mod notifications;
pub mod orders;
pub mod users;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::Document;
use mongodb::Collection;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

pub use catalog::*;
pub use notifications::*;
pub use orders::*;
pub use users::*;

#[cfg(doc)]
use crate::store::ReadStore;

/// Why a query failed: a store did.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("MongoDB failed: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A page of a list: which slice of it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub limit: i64,
    pub offset: u64,
}

/// A page of `collection` matching `filter` in `sort` order.
pub(crate) async fn page<T>(
    collection: Collection<T>,
    filter: Document,
    sort: Document,
    slice: Slice,
) -> Result<Vec<T>, mongodb::error::Error>
where
    T: DeserializeOwned + Send + Sync,
{
    collection
        .find(filter)
        .sort(sort)
        .skip(slice.offset)
        .limit(slice.limit)
        .await?
        .try_collect()
        .await
}

pub(crate) fn bson_datetime<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    let value = mongodb::bson::DateTime::deserialize(deserializer)?;
    DateTime::from_timestamp_millis(value.timestamp_millis())
        .ok_or_else(|| serde::de::Error::custom("date out of range"))
}

/// A date that may be absent or null.
pub(crate) fn optional_bson_datetime<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<mongodb::bson::DateTime>::deserialize(deserializer)?;
    value
        .map(|date| {
            DateTime::from_timestamp_millis(date.timestamp_millis())
                .ok_or_else(|| serde::de::Error::custom("date out of range"))
        })
        .transpose()
}

/// Epoch milliseconds, as Redis views keep times, to a time.
pub(crate) fn from_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}
