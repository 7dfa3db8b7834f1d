//! The payloads this crate reads, one struct per event shape (`schemas/events/**`).
//!
//! The query side shares only `platform` with the write sides, so it owns its copy of
//! the shapes: each struct takes the fields a view needs and ignores the rest (a card
//! token, a notification's template data), so a producer adding a field breaks nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductAdded {
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

/// The terms in force from then on: both are sent, the unchanged one too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductUpdated {
    pub sku: String,
    pub price_cents: i64,
    pub category: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StockAdded {
    pub sku: String,
    #[serde(deserialize_with = "count")]
    pub quantity: i64,
}

/// `StockAllocated`, `AllocationReleased` and `AllocationCommitted` share this shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AllocationMoved {
    pub sku: String,
    pub order_id: String,
    #[serde(deserialize_with = "count")]
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderLine {
    pub sku: String,
    #[serde(deserialize_with = "count")]
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderConfirmed {
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderCancelled {
    pub order_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserRegistered {
    pub user_id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProfileUpdated {
    pub user_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserDeactivated {
    pub user_id: String,
}

/// `PaymentAuthorizationRequested` and `PaymentAuthorizationRetried` share this shape.
/// The card token is left out: no view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizationRequested {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_cents: i64,
    #[serde(deserialize_with = "count")]
    pub attempt: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentAuthorized {
    pub payment_id: String,
    pub order_id: String,
    pub amount_cents: i64,
    pub provider_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentDeclined {
    pub payment_id: String,
    pub order_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentCaptured {
    pub payment_id: String,
    pub order_id: String,
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentVoided {
    pub payment_id: String,
    pub order_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: String,
    pub order_id: String,
    pub amount_cents: i64,
    pub reason: String,
}

/// The provider approved after the void: its hold on the card must be released.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LateApprovalVoided {
    pub payment_id: String,
    pub provider_ref: String,
}

/// The template's `data` is left out: it is the message's content, not its delivery.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationRequested {
    pub notification_id: String,
    pub customer_id: String,
    pub channel: String,
    pub template: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationSent {
    pub notification_id: String,
    pub channel: String,
    pub delivered_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationFailed {
    pub notification_id: String,
    pub channel: String,
    #[serde(deserialize_with = "count")]
    pub attempt: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NotificationAbandoned {
    pub notification_id: String,
    #[serde(deserialize_with = "count")]
    pub attempts: i64,
}

/// Counts are unsigned on the write side; stored as i64 because BSON has no u64, so a
/// negative or oversized one is malformed.
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = u64::deserialize(deserializer)?;
    i64::try_from(value).map_err(serde::de::Error::custom)
}
