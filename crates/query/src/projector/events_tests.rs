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

#[test]
fn a_product_update_is_decoded_and_moves_no_stock() {
    let payload = json!({"sku": "A", "price_cents": 990, "category": "garden"});
    let decoded = decode(&envelope(
        "inventory",
        "Product",
        "A",
        "ProductUpdated",
        payload,
    ));
    let Ok(ProjectedEvent::Product(event @ ProductEvent::ProductUpdated(_))) = decoded else {
        panic!("unexpected {decoded:?}");
    };
    assert_eq!(event.stock_delta(), StockDelta::default());
}

#[test]
fn every_payment_event_is_decoded_without_its_card_token() {
    let requested = json!({"payment_id": "p-1", "order_id": "o-1", "customer_id": "c-1",
        "amount_cents": 500, "card_token": "tok_ok", "attempt": 2});
    let cases = [
        ("PaymentAuthorizationRequested", requested.clone()),
        ("PaymentAuthorizationRetried", requested),
        (
            "PaymentAuthorized",
            json!({"payment_id": "p-1", "order_id": "o-1",
            "amount_cents": 500, "provider_ref": "ref-1"}),
        ),
        (
            "PaymentDeclined",
            json!({"payment_id": "p-1", "order_id": "o-1", "reason": "no"}),
        ),
        (
            "PaymentCaptured",
            json!({"payment_id": "p-1", "order_id": "o-1", "amount_cents": 500}),
        ),
        (
            "PaymentVoided",
            json!({"payment_id": "p-1", "order_id": "o-1"}),
        ),
        (
            "PaymentRefunded",
            json!({"payment_id": "p-1", "order_id": "o-1",
            "amount_cents": 500, "reason": "late"}),
        ),
        (
            "LateApprovalVoided",
            json!({"payment_id": "p-1", "provider_ref": "ref-1"}),
        ),
    ];
    for (event_type, payload) in cases {
        let decoded = decode(&envelope("payment", "Payment", "p-1", event_type, payload));
        assert!(
            matches!(&decoded, Ok(ProjectedEvent::Payment(e)) if e.payment_id() == "p-1"),
            "{event_type}: {decoded:?}"
        );
    }
}

#[test]
fn every_notification_event_is_decoded_and_a_bad_attempt_is_malformed() {
    let cases = [
        (
            "NotificationRequested",
            json!({"notification_id": "n-1", "customer_id": "c-1",
            "channel": "email", "template": "order_confirmed", "data": {"order_id": "o-1"}}),
        ),
        (
            "NotificationSent",
            json!({"notification_id": "n-1", "channel": "sms",
            "delivered_at": "2026-01-01T10:00:00Z"}),
        ),
        (
            "NotificationFailed",
            json!({"notification_id": "n-1", "channel": "sms",
            "attempt": 1, "reason": "smtp down"}),
        ),
        (
            "NotificationAbandoned",
            json!({"notification_id": "n-1", "attempts": 5}),
        ),
    ];
    for (event_type, payload) in cases {
        let decoded = decode(&envelope(
            "notification",
            "Notification",
            "n-1",
            event_type,
            payload,
        ));
        assert!(
            matches!(&decoded, Ok(ProjectedEvent::Notification(e)) if e.notification_id() == "n-1"),
            "{event_type}: {decoded:?}"
        );
    }
    let bad = json!({"notification_id": "n-1", "attempts": -1});
    let decoded = decode(&envelope(
        "notification",
        "Notification",
        "n-1",
        "NotificationAbandoned",
        bad,
    ));
    assert!(
        matches!(decoded, Err(DecodeError::Payload { .. })),
        "{decoded:?}"
    );
}
