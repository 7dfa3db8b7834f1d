//! The events the star schema is built from, decoded from the feeds' envelopes: a
//! tolerant reader. Pure.
//!
//! Only the fields used here are read, so a producer may add fields freely; event
//! types the schema does not use (stock movements, captures, notifications, ...) are
//! ignored. A used event type with a payload that does not fit, or of a version this
//! reader does not know, is refused: the runner parks it for an operator rather than
//! guess at its meaning. An old version is first upcast to the current one by the
//! contract's upcasters ([`platform::upcast`]), so `OrderPlaced` v1 reads as v2.

use std::sync::LazyLock;

use platform::envelope::EventEnvelope;
use platform::payload::Payload;
use platform::upcast::Upcasters;
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductAdded {
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductUpdated {
    pub sku: String,
    pub price_cents: i64,
    pub category: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderPlaced {
    pub order_id: String,
    pub customer_id: String,
    pub lines: Vec<OrderLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderRef {
    pub order_id: String,
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
pub struct UserRef {
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: String,
    pub order_id: String,
    pub amount_cents: i64,
    #[serde(default)]
    pub reason: String,
}

/// An event the star schema uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    ProductAdded(ProductAdded),
    ProductUpdated(ProductUpdated),
    OrderPlaced(OrderPlaced),
    OrderConfirmed(OrderRef),
    OrderCancelled(OrderRef),
    UserRegistered(UserRegistered),
    ProfileUpdated(ProfileUpdated),
    UserDeactivated(UserRef),
    PaymentRefunded(PaymentRefunded),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{event_type} v{version} is not a version this reader knows")]
    UnknownVersion { event_type: String, version: String },
    #[error("{event_type} payload does not fit: {reason}")]
    Payload { event_type: String, reason: String },
}

/// The contract's evolutions, applied before decoding.
static UPCASTERS: LazyLock<Upcasters> = LazyLock::new(Upcasters::contract);

/// The fact an envelope carries, `None` for the events the schema does not use.
pub fn decode<P: Payload>(envelope: &EventEnvelope<P>) -> Result<Option<Fact>, DecodeError> {
    let envelope = &*UPCASTERS.upcast_ref(envelope);
    let key = (
        envelope.service.as_str(),
        envelope.aggregate_type.as_str(),
        envelope.event_type.as_str(),
    );
    let fact = match key {
        ("inventory", "Product", "ProductAdded") => Fact::ProductAdded(payload(envelope)?),
        ("inventory", "Product", "ProductUpdated") => Fact::ProductUpdated(payload(envelope)?),
        ("order", "Order", "OrderPlaced") => Fact::OrderPlaced(payload(envelope)?),
        ("order", "Order", "OrderConfirmed") => Fact::OrderConfirmed(payload(envelope)?),
        ("order", "Order", "OrderCancelled") => Fact::OrderCancelled(payload(envelope)?),
        ("user", "User", "UserRegistered") => Fact::UserRegistered(payload(envelope)?),
        ("user", "User", "ProfileUpdated") => Fact::ProfileUpdated(payload(envelope)?),
        ("user", "User", "UserDeactivated") => Fact::UserDeactivated(payload(envelope)?),
        ("payment", "Payment", "PaymentRefunded") => Fact::PaymentRefunded(payload(envelope)?),
        _ => return Ok(None),
    };
    Ok(Some(fact))
}

/// Whether the (upcast) envelope is in the version this reader decodes: the latest
/// the upcasters reach, or 1 for an event type that never evolved.
fn known_version<P>(envelope: &EventEnvelope<P>) -> bool {
    let latest = UPCASTERS.latest(&envelope.service, &envelope.event_type);
    envelope.event_version == latest.unwrap_or("1")
}

fn payload<T: DeserializeOwned, P: Payload>(envelope: &EventEnvelope<P>) -> Result<T, DecodeError> {
    if !known_version(envelope) {
        return Err(DecodeError::UnknownVersion {
            event_type: envelope.event_type.clone(),
            version: envelope.event_version.clone(),
        });
    }
    envelope
        .payload
        .decode()
        .map_err(|err| DecodeError::Payload {
            event_type: envelope.event_type.clone(),
            reason: err.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn envelope(service: &str, aggregate: &str, event_type: &str, payload: Value) -> EventEnvelope {
        EventEnvelope {
            event_id: uuid::Uuid::new_v4(),
            service: service.into(),
            aggregate_type: aggregate.into(),
            aggregate_id: "a".into(),
            sequence: 1,
            global_position: 1,
            event_type: event_type.into(),
            event_version: "1".into(),
            occurred_at: chrono::Utc::now(),
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }

    #[test]
    fn a_placed_order_is_read_with_its_lines_and_extra_fields_ignored() {
        let placed = envelope(
            "order",
            "Order",
            "OrderPlaced",
            json!({
            "order_id": "o1", "customer_id": "c1", "card_token": "tok_ok", "total_cents": 1000,
            "lines": [{"sku": "MUG-1", "quantity": 2, "unit_price_cents": 500, "gift": true}]}),
        );
        let expected = Fact::OrderPlaced(OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            lines: vec![OrderLine {
                sku: "MUG-1".into(),
                quantity: 2,
                unit_price_cents: 500,
            }],
        });
        assert_eq!(decode(&placed), Ok(Some(expected)));
    }

    #[test]
    fn a_placed_order_of_version_one_is_upcast_and_read_like_version_two() {
        let lines = json!([{"sku": "MUG-1", "quantity": 1, "unit_price_cents": 5}]);
        let mut v2 = envelope(
            "order",
            "Order",
            "OrderPlaced",
            json!({
            "order_id": "o1", "customer_id": "c1", "card_token": "tok_ok", "lines": lines}),
        );
        v2.event_version = "2".into();
        let v1 = envelope(
            "order",
            "Order",
            "OrderPlaced",
            json!({"order_id": "o1", "customer_id": "c1", "lines": lines}),
        );
        assert_eq!(decode(&v2), decode(&v1));
        assert!(matches!(decode(&v1), Ok(Some(Fact::OrderPlaced(_)))));
        let mut v3 = v2.clone();
        v3.event_version = "3".into();
        assert!(matches!(
            decode(&v3),
            Err(DecodeError::UnknownVersion { .. })
        ));
    }

    #[test]
    fn a_refund_and_a_product_update_are_read() {
        let refunded = envelope(
            "payment",
            "Payment",
            "PaymentRefunded",
            json!({
            "payment_id": "o1", "order_id": "o1", "amount_cents": 700, "reason": "commit refused"}),
        );
        assert!(
            matches!(decode(&refunded), Ok(Some(Fact::PaymentRefunded(r))) if r.amount_cents == 700)
        );
        let updated = envelope(
            "inventory",
            "Product",
            "ProductUpdated",
            json!({"sku": "MUG-1", "price_cents": 1499, "category": "gifts"}),
        );
        assert!(
            matches!(decode(&updated), Ok(Some(Fact::ProductUpdated(u))) if u.category == "gifts")
        );
    }

    #[test]
    fn events_the_schema_does_not_use_are_ignored_whatever_their_payload() {
        let ignored = [
            envelope(
                "inventory",
                "Product",
                "StockAdded",
                json!({"sku": "A", "quantity": 1}),
            ),
            envelope("inventory", "Reservation", "StockReserved", json!(null)),
            envelope(
                "payment",
                "Payment",
                "PaymentCaptured",
                json!({"payment_id": "p"}),
            ),
            envelope("order", "Order", "OrderShipped", json!("anything")),
            envelope("user", "EmailClaim", "EmailClaimed", json!({})),
        ];
        for event in ignored {
            assert_eq!(decode(&event), Ok(None), "{}", event.event_type);
        }
    }

    #[test]
    fn a_used_event_with_a_payload_that_does_not_fit_is_refused() {
        let broken = envelope("order", "Order", "OrderConfirmed", json!({"id": "o1"}));
        assert!(matches!(decode(&broken), Err(DecodeError::Payload { .. })));
    }

    #[test]
    fn a_used_event_of_an_unknown_version_is_refused() {
        let mut future = envelope("user", "User", "UserDeactivated", json!({"user_id": "u"}));
        future.event_version = "2".into();
        assert!(matches!(
            decode(&future),
            Err(DecodeError::UnknownVersion { .. })
        ));
    }
}
