//! Payments end to end: the payment service asks the provider over the bridge
//! (RabbitMQ -> NATS JetStream -> simulator -> NATS -> RabbitMQ) and records its answer;
//! the card token decides the answer.

use e2e::{EventTap, TestStack};
use serde_json::json;

use crate::support::assert_accepted;

fn authorize(payment_id: &str, card_token: &str) -> serde_json::Value {
    json!({"payment_id": payment_id, "order_id": format!("order-{payment_id}"),
        "customer_id": "c-1", "amount_cents": 4999, "card_token": card_token})
}

async fn stack_with_payments() -> anyhow::Result<TestStack> {
    let mut stack = TestStack::start().await?;
    stack.start_payments().await?;
    Ok(stack)
}

#[tokio::test]
async fn a_good_card_is_authorized_by_the_provider_and_then_captured() -> anyhow::Result<()> {
    let stack = stack_with_payments().await?;
    let tap = EventTap::bind(&stack, "payment.#").await?;
    let id = format!("pay-ok-{}", stack.id);
    assert_accepted(
        &stack
            .send("payment.AuthorizePayment", authorize(&id, "tok_ok"))
            .await?,
    );
    let authorized = tap
        .wait_for("payment.Payment.PaymentAuthorized", &id)
        .await?;
    assert!(authorized.payload["provider_ref"]
        .as_str()
        .is_some_and(|r| r.starts_with("prv_")));
    assert_eq!(
        authorized.correlation_id.as_deref().map(str::is_empty),
        Some(false)
    );

    let captured = stack
        .send("payment.CapturePayment", json!({"payment_id": id}))
        .await?;
    assert_eq!(captured.events, vec!["PaymentCaptured".to_string()]);
    stack.stop().await
}

#[tokio::test]
async fn a_flaky_card_is_retried_until_approved_and_a_bad_card_is_declined() -> anyhow::Result<()> {
    let stack = stack_with_payments().await?;
    let tap = EventTap::bind(&stack, "payment.#").await?;
    let flaky = format!("pay-flaky-{}", stack.id);
    assert_accepted(
        &stack
            .send("payment.AuthorizePayment", authorize(&flaky, "tok_flaky"))
            .await?,
    );
    let retried = tap
        .wait_for("payment.Payment.PaymentAuthorizationRetried", &flaky)
        .await?;
    assert_eq!(retried.payload["attempt"], 2);
    tap.wait_for("payment.Payment.PaymentAuthorized", &flaky)
        .await?;

    let declined = format!("pay-decline-{}", stack.id);
    assert_accepted(
        &stack
            .send(
                "payment.AuthorizePayment",
                authorize(&declined, "tok_decline"),
            )
            .await?,
    );
    let event = tap
        .wait_for("payment.Payment.PaymentDeclined", &declined)
        .await?;
    assert_eq!(event.payload["reason"], "card declined");
    let capture = stack
        .send("payment.CapturePayment", json!({"payment_id": declined}))
        .await?;
    assert_eq!(
        capture.error.map(|e| e.code),
        Some("not_authorized".to_string())
    );
    stack.stop().await
}

#[tokio::test]
async fn a_payment_the_provider_never_answers_can_be_voided() -> anyhow::Result<()> {
    let stack = stack_with_payments().await?;
    let id = format!("pay-silent-{}", stack.id);
    assert_accepted(
        &stack
            .send("payment.AuthorizePayment", authorize(&id, "tok_timeout"))
            .await?,
    );
    let void = stack
        .send("payment.VoidPayment", json!({"payment_id": id}))
        .await?;
    assert_eq!(void.events, vec!["PaymentVoided".to_string()]);
    let again = stack
        .send("payment.VoidPayment", json!({"payment_id": id}))
        .await?;
    assert_accepted(&again);
    assert!(again.events.is_empty(), "voiding twice changes nothing");
    stack.stop().await
}
