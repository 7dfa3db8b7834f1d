//! The events this crate projects, as it reads them off the wire.
//!
//! The query side shares only `platform` with the write side, so it owns its copy of
//! the payload shapes: a tolerant reader that takes the fields it needs and ignores
//! the rest. Decoding dispatches on `(service, aggregate_type, event_type)`.

use std::sync::LazyLock;

use platform::envelope::{unwrap_payload, EventEnvelope};
use platform::upcast::Upcasters;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The contract's upcasters: an old event is decoded in its current shape.
static UPCASTERS: LazyLock<Upcasters> = LazyLock::new(Upcasters::contract);

/// The payload version decoded here: the latest the upcasters reach, else 1.
fn supported_version(envelope: &EventEnvelope) -> &'static str {
    UPCASTERS
        .latest(&envelope.service, &envelope.event_type)
        .unwrap_or("1")
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductAdded {
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StockAdded {
    pub sku: String,
    #[serde(deserialize_with = "quantity")]
    pub quantity: i64,
}

/// `StockAllocated`, `AllocationReleased` and `AllocationCommitted` share this shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AllocationMoved {
    pub sku: String,
    pub order_id: String,
    #[serde(deserialize_with = "quantity")]
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    #[serde(deserialize_with = "quantity")]
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

/// Events of the inventory `Product` aggregate (aggregate id = sku).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductEvent {
    ProductAdded(ProductAdded),
    StockAdded(StockAdded),
    StockAllocated(AllocationMoved),
    AllocationReleased(AllocationMoved),
    AllocationCommitted(AllocationMoved),
}

/// Events of the order `Order` aggregate (aggregate id = order id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    OrderPlaced(OrderPlaced),
    OrderConfirmed(OrderConfirmed),
    OrderCancelled(OrderCancelled),
}

/// Events of the user `User` aggregate (aggregate id = user id). The `EmailClaim`
/// aggregate of the same service is not projected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserEvent {
    UserRegistered(UserRegistered),
    ProfileUpdated(ProfileUpdated),
    UserDeactivated(UserDeactivated),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectedEvent {
    Product(ProductEvent),
    Order(OrderEvent),
    User(UserEvent),
    /// No projection here needs it (yet): acknowledged and skipped.
    Ignored,
}

/// An event this crate should project but cannot: dead-lettered, never retried.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{event_type} payload is invalid: {source}")]
    Payload {
        event_type: String,
        source: serde_json::Error,
    },
    #[error("{event_type} version {version} is not supported")]
    UnsupportedVersion { event_type: String, version: String },
    #[error("{event_type} is about {payload_id} but its aggregate is {aggregate_id}")]
    AggregateMismatch {
        event_type: String,
        payload_id: String,
        aggregate_id: String,
    },
}

/// Decodes the payload of `envelope` into the event it carries.
pub fn decode(envelope: &EventEnvelope) -> Result<ProjectedEvent, DecodeError> {
    let envelope = &UPCASTERS.upcast(envelope.clone());
    let source = (envelope.service.as_str(), envelope.aggregate_type.as_str());
    let event = match source {
        ("inventory", "Product") => decode_product(envelope)?.map(ProjectedEvent::Product),
        ("order", "Order") => decode_order(envelope)?.map(ProjectedEvent::Order),
        ("user", "User") => decode_user(envelope)?.map(ProjectedEvent::User),
        _ => None,
    };
    let Some(event) = event else {
        return Ok(ProjectedEvent::Ignored);
    };
    check_aggregate(envelope, event.aggregate_id())?;
    Ok(event)
}

fn decode_product(envelope: &EventEnvelope) -> Result<Option<ProductEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "ProductAdded" => ProductEvent::ProductAdded(payload(envelope)?),
        "StockAdded" => ProductEvent::StockAdded(payload(envelope)?),
        "StockAllocated" => ProductEvent::StockAllocated(payload(envelope)?),
        "AllocationReleased" => ProductEvent::AllocationReleased(payload(envelope)?),
        "AllocationCommitted" => ProductEvent::AllocationCommitted(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_order(envelope: &EventEnvelope) -> Result<Option<OrderEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "OrderPlaced" => OrderEvent::OrderPlaced(payload(envelope)?),
        "OrderConfirmed" => OrderEvent::OrderConfirmed(payload(envelope)?),
        "OrderCancelled" => OrderEvent::OrderCancelled(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_user(envelope: &EventEnvelope) -> Result<Option<UserEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "UserRegistered" => UserEvent::UserRegistered(payload(envelope)?),
        "ProfileUpdated" => UserEvent::ProfileUpdated(payload(envelope)?),
        "UserDeactivated" => UserEvent::UserDeactivated(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

/// Only called for event types projected here, so unknown types never get this far.
fn payload<T: DeserializeOwned>(envelope: &EventEnvelope) -> Result<T, DecodeError> {
    if envelope.event_version != supported_version(envelope) {
        // A newer shape might mean something else: better parked than misapplied.
        return Err(DecodeError::UnsupportedVersion {
            event_type: envelope.event_type.clone(),
            version: envelope.event_version.clone(),
        });
    }
    // Tolerates a producer that forgot to unwrap the cqrs-es enum tag.
    let value = unwrap_payload(&envelope.event_type, envelope.payload.clone());
    serde_json::from_value(value).map_err(|source| DecodeError::Payload {
        event_type: envelope.event_type.clone(),
        source,
    })
}

/// Documents are keyed by aggregate id and versioned by its sequence, so an event whose
/// payload names another aggregate would corrupt both.
fn check_aggregate(envelope: &EventEnvelope, payload_id: &str) -> Result<(), DecodeError> {
    if payload_id == envelope.aggregate_id {
        return Ok(());
    }
    Err(DecodeError::AggregateMismatch {
        event_type: envelope.event_type.clone(),
        payload_id: payload_id.to_string(),
        aggregate_id: envelope.aggregate_id.clone(),
    })
}

impl ProjectedEvent {
    fn aggregate_id(&self) -> &str {
        match self {
            Self::Product(event) => event.sku(),
            Self::Order(event) => event.order_id(),
            Self::User(event) => event.user_id(),
            Self::Ignored => "",
        }
    }
}

impl ProductEvent {
    pub fn sku(&self) -> &str {
        match self {
            Self::ProductAdded(e) => &e.sku,
            Self::StockAdded(e) => &e.sku,
            Self::StockAllocated(e)
            | Self::AllocationReleased(e)
            | Self::AllocationCommitted(e) => &e.sku,
        }
    }
}

/// How an event moves a product's stock between its three buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockDelta {
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
}

impl ProductEvent {
    pub fn stock_delta(&self) -> StockDelta {
        let (available, reserved, sold) = match self {
            Self::ProductAdded(_) => (0, 0, 0),
            Self::StockAdded(e) => (e.quantity, 0, 0),
            Self::StockAllocated(e) => (-e.quantity, e.quantity, 0),
            Self::AllocationReleased(e) => (e.quantity, -e.quantity, 0),
            Self::AllocationCommitted(e) => (0, -e.quantity, e.quantity),
        };
        StockDelta {
            available,
            reserved,
            sold,
        }
    }
}

impl OrderEvent {
    pub fn order_id(&self) -> &str {
        match self {
            Self::OrderPlaced(e) => &e.order_id,
            Self::OrderConfirmed(e) => &e.order_id,
            Self::OrderCancelled(e) => &e.order_id,
        }
    }
}

impl UserEvent {
    pub fn user_id(&self) -> &str {
        match self {
            Self::UserRegistered(e) => &e.user_id,
            Self::ProfileUpdated(e) => &e.user_id,
            Self::UserDeactivated(e) => &e.user_id,
        }
    }
}

/// Quantities are unsigned on the write side; stored as i64 because BSON has no u64.
fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = u64::deserialize(deserializer)?;
    i64::try_from(value).map_err(serde::de::Error::custom)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
