//! `payment_info` against the real MongoDB: every status a payment goes through, with
//! its attempts, provider reference, reasons, refund and a late approval voided; the
//! route by order; idempotence.

mod support;

use platform::envelope::EventEnvelope;
use serde_json::{json, Value};

use support::{assert_same, get, payment_event, Fixture};

fn requested(payment_id: &str, order_id: &str, attempt: u64) -> Value {
    json!({"payment_id": payment_id, "order_id": order_id, "customer_id": "c-1",
        "amount_cents": 1500, "card_token": "tok_flaky", "attempt": attempt})
}

/// p1: retried, authorized, captured, refunded; p2: declined; p3: voided, then approved
/// late (and that hold voided).
fn payments() -> Vec<EventEnvelope> {
    let ids = |p: &str, o: &str| json!({"payment_id": p, "order_id": o});
    vec![
        payment_event(
            "p1",
            1,
            "PaymentAuthorizationRequested",
            requested("p1", "o1", 1),
        ),
        payment_event(
            "p1",
            2,
            "PaymentAuthorizationRetried",
            requested("p1", "o1", 2),
        ),
        payment_event(
            "p1",
            3,
            "PaymentAuthorized",
            json!({"payment_id": "p1", "order_id": "o1",
            "amount_cents": 1500, "provider_ref": "ref-1"}),
        ),
        payment_event(
            "p1",
            4,
            "PaymentCaptured",
            json!({"payment_id": "p1", "order_id": "o1",
            "amount_cents": 1500}),
        ),
        payment_event(
            "p1",
            5,
            "PaymentRefunded",
            json!({"payment_id": "p1", "order_id": "o1",
            "amount_cents": 1500, "reason": "commit refused"}),
        ),
        payment_event(
            "p2",
            1,
            "PaymentAuthorizationRequested",
            requested("p2", "o2", 1),
        ),
        payment_event(
            "p2",
            2,
            "PaymentDeclined",
            json!({"payment_id": "p2", "order_id": "o2",
            "reason": "card declined"}),
        ),
        payment_event(
            "p3",
            1,
            "PaymentAuthorizationRequested",
            requested("p3", "o3", 1),
        ),
        payment_event("p3", 2, "PaymentVoided", ids("p3", "o3")),
        payment_event(
            "p3",
            3,
            "LateApprovalVoided",
            json!({"payment_id": "p3",
            "provider_ref": "ref-late"}),
        ),
    ]
}

/// The fields a client reads, from `GET /payments/{order_id}`.
fn shown(payment: &Value) -> Value {
    let fields = [
        "payment_id",
        "status",
        "amount_cents",
        "provider_ref",
        "attempts",
        "reason",
        "refunded_cents",
        "late_approval_voided",
    ];
    fields
        .iter()
        .map(|f| (f.to_string(), payment[f].clone()))
        .collect()
}

#[tokio::test]
async fn a_payment_shows_its_status_attempts_reference_and_reasons() {
    let fx = Fixture::new().await;
    let events = payments();
    fx.apply_all(&events).await;
    let base = fx.serve().await;

    let (status, refunded) = get(&base, "/payments/o1").await;
    assert_eq!(status, 200);
    assert_eq!(
        shown(&refunded),
        json!({"payment_id": "p1", "status": "refunded",
        "amount_cents": 1500, "provider_ref": "ref-1", "attempts": 2, "reason": "commit refused",
        "refunded_cents": 1500, "late_approval_voided": false})
    );
    assert_eq!(refunded["customer_id"], "c-1");
    let (_, declined) = get(&base, "/payments/o2").await;
    assert_eq!(
        shown(&declined),
        json!({"payment_id": "p2", "status": "declined",
        "amount_cents": 1500, "provider_ref": null, "attempts": 1, "reason": "card declined",
        "refunded_cents": 0, "late_approval_voided": false})
    );
    let (_, voided) = get(&base, "/payments/o3").await;
    assert_eq!(
        (
            voided["status"].clone(),
            voided["provider_ref"].clone(),
            voided["late_approval_voided"].clone()
        ),
        (json!("voided"), json!("ref-late"), json!(true))
    );
    assert!(
        voided.get("_id").is_none() && voided.get("version").is_none(),
        "{voided}"
    );

    let (status, body) = get(&base, "/payments/no-such-order").await;
    assert_eq!(status, 404);
    assert!(body["reason"]
        .as_str()
        .is_some_and(|r| r.contains("no-such-order")));

    let before = fx.snapshot(1).await;
    fx.apply_all(&events).await;
    assert_same(&fx.snapshot(1).await, &before, "applied twice");
    fx.drop_all().await;
}
