//! The events this crate projects, as it reads them off the wire.
//!
//! A tolerant reader (the payload shapes are in [`super::payloads`]): an envelope is
//! upcast first (`platform::upcast`), so an old version reads in its current shape, then
//! decoded by `(service, aggregate_type, event_type)`; event types no view needs are
//! [`ProjectedEvent::Ignored`].

use std::sync::LazyLock;

use platform::envelope::EventEnvelope;
use platform::payload::{Payload, RawPayload};
use platform::upcast::Upcasters;
use serde::de::DeserializeOwned;

pub use super::payloads::*;

/// An envelope as the feeds deliver it: its payload still JSON text, decoded once, by
/// [`decode`], into the typed event.
pub type FeedEnvelope = EventEnvelope<RawPayload>;

/// The contract's upcasters: an old event is decoded in its current shape.
static UPCASTERS: LazyLock<Upcasters> = LazyLock::new(Upcasters::contract);

/// The payload version decoded here: the latest the upcasters reach, else 1.
fn supported_version<P>(envelope: &EventEnvelope<P>) -> &'static str {
    UPCASTERS
        .latest(&envelope.service, &envelope.event_type)
        .unwrap_or("1")
}

/// Events of the inventory `Product` aggregate (aggregate id = sku).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductEvent {
    ProductAdded(ProductAdded),
    ProductUpdated(ProductUpdated),
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

/// Events of the payment `Payment` aggregate (aggregate id = payment id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentEvent {
    AuthorizationRequested(AuthorizationRequested),
    AuthorizationRetried(AuthorizationRequested),
    Authorized(PaymentAuthorized),
    Declined(PaymentDeclined),
    Captured(PaymentCaptured),
    Voided(PaymentVoided),
    Refunded(PaymentRefunded),
    LateApprovalVoided(LateApprovalVoided),
}

/// Events of the notification `Notification` aggregate (aggregate id = notification id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationEvent {
    Requested(NotificationRequested),
    Sent(NotificationSent),
    Failed(NotificationFailed),
    Abandoned(NotificationAbandoned),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectedEvent {
    Product(ProductEvent),
    Order(OrderEvent),
    User(UserEvent),
    Payment(PaymentEvent),
    Notification(NotificationEvent),
    /// No projection here needs it (yet): acknowledged and skipped.
    Ignored,
}

/// An event this crate should project but cannot: parked, never retried.
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
pub fn decode<P: Payload>(envelope: &EventEnvelope<P>) -> Result<ProjectedEvent, DecodeError> {
    let envelope = &*UPCASTERS.upcast_ref(envelope);
    let source = (envelope.service.as_str(), envelope.aggregate_type.as_str());
    let event = match source {
        ("inventory", "Product") => decode_product(envelope)?.map(ProjectedEvent::Product),
        ("order", "Order") => decode_order(envelope)?.map(ProjectedEvent::Order),
        ("user", "User") => decode_user(envelope)?.map(ProjectedEvent::User),
        ("payment", "Payment") => decode_payment(envelope)?.map(ProjectedEvent::Payment),
        ("notification", "Notification") => {
            decode_notification(envelope)?.map(ProjectedEvent::Notification)
        }
        _ => None,
    };
    let Some(event) = event else {
        return Ok(ProjectedEvent::Ignored);
    };
    check_aggregate(envelope, event.aggregate_id())?;
    Ok(event)
}

fn decode_product<P: Payload>(
    envelope: &EventEnvelope<P>,
) -> Result<Option<ProductEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "ProductAdded" => ProductEvent::ProductAdded(payload(envelope)?),
        "ProductUpdated" => ProductEvent::ProductUpdated(payload(envelope)?),
        "StockAdded" => ProductEvent::StockAdded(payload(envelope)?),
        "StockAllocated" => ProductEvent::StockAllocated(payload(envelope)?),
        "AllocationReleased" => ProductEvent::AllocationReleased(payload(envelope)?),
        "AllocationCommitted" => ProductEvent::AllocationCommitted(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_order<P: Payload>(
    envelope: &EventEnvelope<P>,
) -> Result<Option<OrderEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "OrderPlaced" => OrderEvent::OrderPlaced(payload(envelope)?),
        "OrderConfirmed" => OrderEvent::OrderConfirmed(payload(envelope)?),
        "OrderCancelled" => OrderEvent::OrderCancelled(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_user<P: Payload>(envelope: &EventEnvelope<P>) -> Result<Option<UserEvent>, DecodeError> {
    let event = match envelope.event_type.as_str() {
        "UserRegistered" => UserEvent::UserRegistered(payload(envelope)?),
        "ProfileUpdated" => UserEvent::ProfileUpdated(payload(envelope)?),
        "UserDeactivated" => UserEvent::UserDeactivated(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_payment<P: Payload>(
    envelope: &EventEnvelope<P>,
) -> Result<Option<PaymentEvent>, DecodeError> {
    use PaymentEvent as E;
    let event = match envelope.event_type.as_str() {
        "PaymentAuthorizationRequested" => E::AuthorizationRequested(payload(envelope)?),
        "PaymentAuthorizationRetried" => E::AuthorizationRetried(payload(envelope)?),
        "PaymentAuthorized" => E::Authorized(payload(envelope)?),
        "PaymentDeclined" => E::Declined(payload(envelope)?),
        "PaymentCaptured" => E::Captured(payload(envelope)?),
        "PaymentVoided" => E::Voided(payload(envelope)?),
        "PaymentRefunded" => E::Refunded(payload(envelope)?),
        "LateApprovalVoided" => E::LateApprovalVoided(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

fn decode_notification<P: Payload>(
    envelope: &EventEnvelope<P>,
) -> Result<Option<NotificationEvent>, DecodeError> {
    use NotificationEvent as E;
    let event = match envelope.event_type.as_str() {
        "NotificationRequested" => E::Requested(payload(envelope)?),
        "NotificationSent" => E::Sent(payload(envelope)?),
        "NotificationFailed" => E::Failed(payload(envelope)?),
        "NotificationAbandoned" => E::Abandoned(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

/// Only called for event types projected here, so unknown types never get this far.
fn payload<T: DeserializeOwned, P: Payload>(envelope: &EventEnvelope<P>) -> Result<T, DecodeError> {
    if envelope.event_version != supported_version(envelope) {
        // A newer shape might mean something else: better parked than misapplied.
        return Err(DecodeError::UnsupportedVersion {
            event_type: envelope.event_type.clone(),
            version: envelope.event_version.clone(),
        });
    }
    // Tolerates a producer that forgot to unwrap the cqrs-es enum tag: tried only when
    // the payload does not decode as it is, so the common case reads the text once.
    envelope.payload.decode().or_else(|source| {
        let untagged = envelope.payload.clone().untagged(&envelope.event_type);
        untagged.decode().map_err(|_| DecodeError::Payload {
            event_type: envelope.event_type.clone(),
            source,
        })
    })
}

/// Documents are keyed by aggregate id and versioned by its sequence, so an event whose
/// payload names another aggregate would corrupt both.
fn check_aggregate<P>(envelope: &EventEnvelope<P>, payload_id: &str) -> Result<(), DecodeError> {
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
            Self::Payment(event) => event.payment_id(),
            Self::Notification(event) => event.notification_id(),
            Self::Ignored => "",
        }
    }
}

impl ProductEvent {
    pub fn sku(&self) -> &str {
        match self {
            Self::ProductAdded(e) => &e.sku,
            Self::ProductUpdated(e) => &e.sku,
            Self::StockAdded(e) => &e.sku,
            Self::StockAllocated(e)
            | Self::AllocationReleased(e)
            | Self::AllocationCommitted(e) => &e.sku,
        }
    }

    /// How the event moves the product's stock between its three buckets.
    pub fn stock_delta(&self) -> StockDelta {
        let (available, reserved, sold) = match self {
            Self::ProductAdded(_) | Self::ProductUpdated(_) => (0, 0, 0),
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

/// How an event moves a product's stock between its three buckets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StockDelta {
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
}

impl OrderEvent {
    pub fn order_id(&self) -> &str {
        match self {
            Self::OrderPlaced(e) => &e.order_id,
            Self::OrderConfirmed(e) => &e.order_id,
            Self::OrderCancelled(e) => &e.order_id,
        }
    }

    /// The order's status once the event is applied.
    pub fn status(&self) -> &'static str {
        match self {
            Self::OrderPlaced(_) => "placed",
            Self::OrderConfirmed(_) => "confirmed",
            Self::OrderCancelled(_) => "cancelled",
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

impl PaymentEvent {
    pub fn payment_id(&self) -> &str {
        match self {
            Self::AuthorizationRequested(e) | Self::AuthorizationRetried(e) => &e.payment_id,
            Self::Authorized(e) => &e.payment_id,
            Self::Declined(e) => &e.payment_id,
            Self::Captured(e) => &e.payment_id,
            Self::Voided(e) => &e.payment_id,
            Self::Refunded(e) => &e.payment_id,
            Self::LateApprovalVoided(e) => &e.payment_id,
        }
    }
}

impl NotificationEvent {
    pub fn notification_id(&self) -> &str {
        match self {
            Self::Requested(e) => &e.notification_id,
            Self::Sent(e) => &e.notification_id,
            Self::Failed(e) => &e.notification_id,
            Self::Abandoned(e) => &e.notification_id,
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
