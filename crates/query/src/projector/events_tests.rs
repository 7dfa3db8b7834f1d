use chrono::Utc;
use serde_json::{json, Value};

use super::*;

fn envelope(
    service: &str,
    aggregate: &str,
    id: &str,
    event_type: &str,
    payload: Value,
) -> EventEnvelope {
    EventEnvelope {
        event_id: Default::default(),
        service: service.to_string(),
        aggregate_type: aggregate.to_string(),
        aggregate_id: id.to_string(),
        sequence: 1,
        global_position: 1,
        event_type: event_type.to_string(),
        event_version: "1".to_string(),
        occurred_at: Utc::now(),
        correlation_id: None,
        causation_id: None,
        payload,
    }
}

#[test]
fn an_order_placed_payload_is_decoded_with_its_lines() {
    let payload = json!({"order_id": "o-1", "customer_id": "c-1", "total_cents": 500,
        "lines": [{"sku": "A", "quantity": 2, "unit_price_cents": 250}]});
    let decoded = decode(&envelope("order", "Order", "o-1", "OrderPlaced", payload));
    let Ok(ProjectedEvent::Order(OrderEvent::OrderPlaced(placed))) = decoded else {
        panic!("unexpected {decoded:?}");
    };
    assert_eq!(placed.lines[0].quantity, 2);
    assert_eq!(placed.total_cents, 500);
}

#[test]
fn an_externally_tagged_payload_is_accepted() {
    let payload = json!({"StockAdded": {"sku": "A", "quantity": 3}});
    let decoded = decode(&envelope(
        "inventory",
        "Product",
        "A",
        "StockAdded",
        payload,
    ));
    let expected = StockAdded {
        sku: "A".into(),
        quantity: 3,
    };
    assert_eq!(
        decoded.ok(),
        Some(ProjectedEvent::Product(ProductEvent::StockAdded(expected)))
    );
}

#[test]
fn a_negative_quantity_is_rejected_as_malformed() {
    let payload = json!({"sku": "A", "quantity": -3});
    let decoded = decode(&envelope(
        "inventory",
        "Product",
        "A",
        "StockAdded",
        payload,
    ));
    assert!(
        matches!(decoded, Err(DecodeError::Payload { .. })),
        "{decoded:?}"
    );
}

#[test]
fn a_payload_about_another_aggregate_is_rejected() {
    let payload = json!({"order_id": "o-2"});
    let decoded = decode(&envelope(
        "order",
        "Order",
        "o-1",
        "OrderConfirmed",
        payload,
    ));
    assert!(
        matches!(decoded, Err(DecodeError::AggregateMismatch { .. })),
        "{decoded:?}"
    );
}

#[test]
fn unknown_and_reservation_events_are_ignored_whatever_their_payload() {
    for (aggregate, event_type) in [
        ("Reservation", "StockReserved"),
        ("Product", "PriceChanged"),
    ] {
        let decoded = decode(&envelope(
            "inventory",
            aggregate,
            "x",
            event_type,
            json!(null),
        ));
        assert_eq!(decoded.ok(), Some(ProjectedEvent::Ignored));
    }
}

#[test]
fn a_newer_version_of_a_known_event_is_rejected() {
    let mut event = envelope(
        "order",
        "Order",
        "o-1",
        "OrderConfirmed",
        json!({"order_id": "o-1"}),
    );
    event.event_version = "2".to_string();
    assert!(matches!(
        decode(&event),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
}

#[test]
fn user_events_are_decoded_and_email_claims_ignored() {
    let payload = json!({"user_id": "u-1", "email": "Ann@example.com", "name": "Ann"});
    let decoded = decode(&envelope("user", "User", "u-1", "UserRegistered", payload));
    let expected = UserRegistered {
        user_id: "u-1".into(),
        email: "Ann@example.com".into(),
        name: "Ann".into(),
    };
    assert_eq!(
        decoded.ok(),
        Some(ProjectedEvent::User(UserEvent::UserRegistered(expected)))
    );
    let claim = json!({"email": "ann@example.com", "user_id": "u-1"});
    let claimed = decode(&envelope(
        "user",
        "EmailClaim",
        "ann@example.com",
        "EmailClaimed",
        claim,
    ));
    assert_eq!(claimed.ok(), Some(ProjectedEvent::Ignored));
}

#[test]
fn a_profile_update_without_a_name_is_rejected_as_malformed() {
    let payload = json!({"user_id": "u-1"});
    let decoded = decode(&envelope("user", "User", "u-1", "ProfileUpdated", payload));
    assert!(
        matches!(decoded, Err(DecodeError::Payload { .. })),
        "{decoded:?}"
    );
}

#[test]
fn a_deactivation_about_another_user_is_rejected() {
    let payload = json!({"user_id": "u-2"});
    let decoded = decode(&envelope("user", "User", "u-1", "UserDeactivated", payload));
    assert!(
        matches!(decoded, Err(DecodeError::AggregateMismatch { .. })),
        "{decoded:?}"
    );
}
