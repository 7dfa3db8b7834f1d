//! The read models as the API serves them, and the queries that fetch them.
//!
//! Each query reads the current version of its view (see [`ReadStore::current`]), so
//! a rebuild's swap is seen by the next request. Views list their fields explicitly, so storage details (`_id`, checkpoints) never
//! reach a client; times are stored as BSON dates and served as RFC 3339.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Deserializer, Serialize};

use crate::projector::events::OrderLine;
use crate::store::{ReadStore, ORDER_DETAILS, PRODUCT_LIST, STOCK_LEVELS, USER_PROFILE};

/// A `product_list` document. Description fields are optional because stock events
/// create the document too, should they ever come first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductView {
    pub sku: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub price_cents: Option<i64>,
    #[serde(default)]
    pub available: i64,
    #[serde(default)]
    pub reserved: i64,
    #[serde(default)]
    pub sold: i64,
    pub version: i64,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// An `order_details` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    /// `placed`, `confirmed` or `cancelled`.
    pub status: String,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(deserialize_with = "bson_datetime")]
    pub placed_at: DateTime<Utc>,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A `user_profile` document. Its `version` stays internal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A `stock:{sku}` hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StockView {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
}

pub async fn product(
    store: &ReadStore,
    sku: &str,
) -> Result<Option<ProductView>, mongodb::error::Error> {
    store
        .current::<ProductView>(PRODUCT_LIST)
        .await?
        .find_one(doc! {"_id": sku})
        .await
}

/// A page of products, optionally of one category, in sku order.
pub async fn products(
    store: &ReadStore,
    category: Option<&str>,
    limit: i64,
    offset: u64,
) -> Result<Vec<ProductView>, mongodb::error::Error> {
    let filter = match category {
        Some(category) => doc! {"category": category},
        None => Document::new(),
    };
    store
        .current::<ProductView>(PRODUCT_LIST)
        .await?
        .find(filter)
        .sort(doc! {"sku": 1})
        .skip(offset)
        .limit(limit)
        .await?
        .try_collect()
        .await
}

pub async fn order(
    store: &ReadStore,
    order_id: &str,
) -> Result<Option<OrderView>, mongodb::error::Error> {
    store
        .current::<OrderView>(ORDER_DETAILS)
        .await?
        .find_one(doc! {"_id": order_id})
        .await
}

/// A page of one customer's orders, newest first (index `customer_placed_at`).
pub async fn customer_orders(
    store: &ReadStore,
    customer_id: &str,
    limit: i64,
    offset: u64,
) -> Result<Vec<OrderView>, mongodb::error::Error> {
    store
        .current::<OrderView>(ORDER_DETAILS)
        .await?
        .find(doc! {"customer_id": customer_id})
        .sort(doc! {"placed_at": -1})
        .skip(offset)
        .limit(limit)
        .await?
        .try_collect()
        .await
}

pub async fn user(
    store: &ReadStore,
    user_id: &str,
) -> Result<Option<UserView>, mongodb::error::Error> {
    store
        .current::<UserView>(USER_PROFILE)
        .await?
        .find_one(doc! {"_id": user_id})
        .await
}

/// The stock levels of `sku`, or `None` when no event ever created its hash.
pub async fn stock(store: &ReadStore, sku: &str) -> Result<Option<StockView>, redis::RedisError> {
    let version = store.current_version(STOCK_LEVELS).await.map_err(|err| {
        redis::RedisError::from((redis::ErrorKind::Io, "version lookup", err.to_string()))
    })?;
    let mut redis = store.redis.clone();
    let fields: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(store.stock_key(version, sku))
        .query_async(&mut redis)
        .await?;
    if fields.is_empty() {
        return Ok(None);
    }
    let field = |name: &str| fields.get(name).copied().unwrap_or(0);
    Ok(Some(StockView {
        sku: sku.to_string(),
        available: field("available"),
        reserved: field("reserved"),
        sold: field("sold"),
    }))
}

fn bson_datetime<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let value = mongodb::bson::DateTime::deserialize(deserializer)?;
    DateTime::from_timestamp_millis(value.timestamp_millis())
        .ok_or_else(|| serde::de::Error::custom("date out of range"))
}
