//! Orders: `order_details` (by id), `order_history` (by customer), the Redis views
//! `order_status`, `recent_orders` and `best_sellers`, and an order's `payment_info`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bson_datetime, from_millis, page, Slice, ViewError};
use crate::projector::events::OrderLine;
use crate::store::{
    ReadStore, BEST_SELLERS, ORDER_DETAILS, ORDER_HISTORY, ORDER_STATUS, PAYMENT_INFO,
    RECENT_ORDERS,
};

/// The statuses of an order.
pub const ORDER_STATUSES: [&str; 3] = ["placed", "confirmed", "cancelled"];

/// An `order_details` (or `order_history`) document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    /// `placed`, `confirmed` or `cancelled`.
    #[schema(example = "confirmed")]
    pub status: String,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(deserialize_with = "bson_datetime")]
    pub placed_at: DateTime<Utc>,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// An order's status, from the Redis hash `order_status:{order_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderStatusView {
    pub order_id: String,
    /// Unknown only if the order's placement was never applied.
    pub customer_id: Option<String>,
    /// `placed`, `confirmed` or `cancelled`.
    #[schema(example = "placed")]
    pub status: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One of a customer's latest orders (Redis `recent_orders:{customer_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecentOrderView {
    pub order_id: String,
    pub placed_at: Option<DateTime<Utc>>,
}

/// A sku's place in the best-seller ranking (Redis `best_sellers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BestSellerView {
    /// 1 for the best seller.
    pub rank: u64,
    pub sku: String,
    /// Units sold in confirmed orders that stand (not cancelled since).
    pub units_sold: i64,
}

pub async fn order(store: &ReadStore, order_id: &str) -> Result<Option<OrderView>, ViewError> {
    let orders = store.current::<OrderView>(ORDER_DETAILS).await?;
    Ok(orders.find_one(doc! {"_id": order_id}).await?)
}

/// A page of one customer's orders from `order_history`, newest first, optionally of
/// one status (indexes `customer_placed_at`, `customer_status_placed_at`).
pub async fn customer_orders(
    store: &ReadStore,
    customer_id: &str,
    status: Option<&str>,
    slice: Slice,
) -> Result<Vec<OrderView>, ViewError> {
    let mut filter = doc! {"customer_id": customer_id};
    if let Some(status) = status {
        filter.insert("status", status);
    }
    let orders = store.current::<OrderView>(ORDER_HISTORY).await?;
    Ok(page(orders, filter, doc! {"placed_at": -1}, slice).await?)
}

/// The status of `order_id`, or `None` when no event ever created its hash.
pub async fn order_status(
    store: &ReadStore,
    order_id: &str,
) -> Result<Option<OrderStatusView>, ViewError> {
    let version = store.redis_version(ORDER_STATUS).await?;
    let mut redis = store.redis.clone();
    let fields: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(store.order_status_key(version, order_id))
        .query_async(&mut redis)
        .await?;
    let Some(status) = fields.get("status") else {
        return Ok(None);
    };
    let updated_at = fields.get("updated_at").and_then(|ms| ms.parse().ok());
    Ok(Some(OrderStatusView {
        order_id: order_id.to_string(),
        customer_id: fields.get("customer_id").cloned(),
        status: status.clone(),
        updated_at: updated_at.and_then(from_millis),
    }))
}

/// A page of a customer's latest orders, newest first (at most the newest 20 are kept).
pub async fn recent_orders(
    store: &ReadStore,
    customer_id: &str,
    slice: Slice,
) -> Result<Vec<RecentOrderView>, ViewError> {
    let version = store.redis_version(RECENT_ORDERS).await?;
    let key = store.recent_orders_key(version, customer_id);
    let found = descending(store, &key, slice).await?;
    Ok(found
        .into_iter()
        .map(|(order_id, placed_at)| RecentOrderView {
            order_id,
            placed_at: from_millis(placed_at as i64),
        })
        .collect())
}

/// A page of the best-seller ranking: most units first; equal units in reverse sku
/// order (Redis orders equal scores by member, then reverses the whole range).
pub async fn best_sellers(
    store: &ReadStore,
    slice: Slice,
) -> Result<Vec<BestSellerView>, ViewError> {
    let version = store.redis_version(BEST_SELLERS).await?;
    let found = descending(store, &store.best_sellers_key(version), slice).await?;
    Ok(found
        .into_iter()
        .zip(slice.offset + 1..)
        .map(|((sku, units), rank)| BestSellerView {
            rank,
            sku,
            units_sold: units as i64,
        })
        .collect())
}

/// A slice of a sorted set, highest score first, with the scores.
async fn descending(
    store: &ReadStore,
    key: &str,
    slice: Slice,
) -> Result<Vec<(String, f64)>, redis::RedisError> {
    let start = i64::try_from(slice.offset).unwrap_or(i64::MAX);
    let stop = start.saturating_add(slice.limit - 1);
    let mut redis = store.redis.clone();
    redis::cmd("ZREVRANGE")
        .arg(key)
        .arg(start)
        .arg(stop)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await
}

/// A `payment_info` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    /// `requested`, `authorized`, `declined`, `captured`, `voided` or `refunded`.
    #[schema(example = "captured")]
    pub status: String,
    pub amount_cents: i64,
    /// The provider's reference, once it approved.
    #[serde(default)]
    pub provider_ref: Option<String>,
    /// Authorization attempts made (a transient provider failure is tried again).
    pub attempts: i64,
    /// Why it was declined, or refunded.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub refunded_cents: i64,
    /// The provider approved after the void, and that hold was released.
    #[serde(default)]
    pub late_approval_voided: bool,
    #[serde(deserialize_with = "bson_datetime")]
    pub requested_at: DateTime<Utc>,
    #[serde(deserialize_with = "bson_datetime")]
    pub updated_at: DateTime<Utc>,
}

/// The payment of `order_id`: its latest, should there ever be several (index
/// `order_requested_at`).
pub async fn order_payment(
    store: &ReadStore,
    order_id: &str,
) -> Result<Option<PaymentView>, ViewError> {
    let payments = store.current::<PaymentView>(PAYMENT_INFO).await?;
    let latest = payments
        .find_one(doc! {"order_id": order_id})
        .sort(doc! {"requested_at": -1})
        .await?;
    Ok(latest)
}
