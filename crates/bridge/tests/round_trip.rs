//! Payment requests through RabbitMQ → bridge → NATS → provider → NATS → bridge →
//! RabbitMQ, against the real servers.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicPublishOptions};
use lapin::BasicProperties;
use platform::broker::EVENTS_EXCHANGE;
use platform::envelope::EventEnvelope;
use support::{request, Bench};

const ANSWER_WAIT: Duration = Duration::from_secs(10);

fn status(envelope: &EventEnvelope) -> &str {
    envelope.payload["status"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_request_comes_back_as_an_authorization_answered_event() -> anyhow::Result<()> {
    let mut bench = Bench::new().await?;
    let provider = bench.start_provider(50).await?;
    let bridge = bench.start_bridge().await?;
    let sent = request("pay-ok", "tok_ok", 1);
    bench.publish(&sent).await?;

    let answer = bench.next_answer(ANSWER_WAIT).await?.expect("a webhook");
    assert_eq!(
        answer.routing_key(),
        "provider.Webhook.AuthorizationAnswered"
    );
    assert_eq!(status(&answer), "approved");
    assert_eq!(answer.aggregate_id, "pay-ok");
    assert_eq!(answer.sequence, 1);
    assert!(answer.global_position > 0, "the stream sequence");
    assert_eq!(answer.correlation_id.as_deref(), Some("corr-pay-ok"));
    assert_eq!(answer.causation_id, Some(sent.event_id.to_string()));
    assert_eq!(answer.event_id.to_string(), answer.payload["webhook_id"]);
    assert!(answer.payload["provider_ref"]
        .as_str()
        .is_some_and(|r| r.starts_with("prv_")));

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_card_token_gets_its_own_answer() -> anyhow::Result<()> {
    let mut bench = Bench::new().await?;
    let provider = bench.start_provider(50).await?;
    let bridge = bench.start_bridge().await?;
    for sent in [
        request("pay-flaky", "tok_flaky", 1),
        request("pay-flaky", "tok_flaky", 2),
        request("pay-decline", "tok_decline", 1),
        request("pay-timeout", "tok_timeout", 1),
    ] {
        bench.publish(&sent).await?;
    }

    let mut answers = HashMap::new();
    while answers.len() < 3 {
        let answer = bench.next_answer(ANSWER_WAIT).await?.expect("a webhook");
        answers.insert((answer.aggregate_id.clone(), answer.sequence), answer);
    }
    assert_eq!(status(&answers[&("pay-flaky".into(), 1)]), "failed");
    assert_eq!(
        answers[&("pay-flaky".into(), 1)].payload["reason"],
        "gateway error"
    );
    assert_eq!(status(&answers[&("pay-flaky".into(), 2)]), "approved");
    assert_eq!(status(&answers[&("pay-decline".into(), 1)]), "declined");
    assert_eq!(
        answers[&("pay-decline".into(), 1)].payload["reason"],
        "card declined"
    );
    let late = bench.next_answer(Duration::from_secs(1)).await?;
    assert!(late.is_none(), "tok_timeout is never answered: {late:?}");

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_delivered_twice_yields_one_webhook() -> anyhow::Result<()> {
    let mut bench = Bench::new().await?;
    let provider = bench.start_provider(50).await?;
    let bridge = bench.start_bridge().await?;
    let sent = request("pay-twice", "tok_ok", 1);
    bench.publish(&sent).await?;
    bench.publish(&sent).await?;

    let answer = bench.next_answer(ANSWER_WAIT).await?.expect("a webhook");
    assert_eq!(answer.aggregate_id, "pay-twice");
    let second = bench.next_answer(Duration::from_millis(1500)).await?;
    assert!(second.is_none(), "the copy was stored once: {second:?}");

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answered_while_the_bridge_is_down_arrives_after_its_restart(
) -> anyhow::Result<()> {
    let mut bench = Bench::new().await?;
    let provider = bench.start_provider(1500).await?;
    let bridge = bench.start_bridge().await?;
    bench.publish(&request("pay-late", "tok_ok", 1)).await?;
    wait_for_subject(&bench, bench.nats.request_subject()).await?;
    bridge.stop().await;

    wait_for_subject(&bench, bench.nats.webhook_subject()).await?;
    assert!(bench
        .next_answer(Duration::from_millis(200))
        .await?
        .is_none());
    let bridge = bench.start_bridge().await?;
    let answer = bench
        .next_answer(ANSWER_WAIT)
        .await?
        .expect("the webhook kept by JetStream");
    assert_eq!(answer.aggregate_id, "pay-late");
    assert_eq!(status(&answer), "approved");

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_set_aside_and_the_flow_goes_on() -> anyhow::Result<()> {
    let mut bench = Bench::new().await?;
    let provider = bench.start_provider(50).await?;
    let bridge = bench.start_bridge().await?;
    send_malformed(&bench).await?;
    bench.publish(&request("pay-good", "tok_ok", 1)).await?;

    let answer = bench.next_answer(ANSWER_WAIT).await?.expect("a webhook");
    assert_eq!(answer.aggregate_id, "pay-good");
    assert!(bench
        .next_answer(Duration::from_millis(500))
        .await?
        .is_none());
    let dead = bench
        .channel
        .basic_get(
            "bridge.to-nats.dlq".into(),
            BasicGetOptions { no_ack: true },
        )
        .await?
        .expect("the body that is not an envelope was dead-lettered");
    assert_eq!(dead.delivery.data, b"not an envelope");

    bridge.stop().await;
    provider.stop().await;
    bench.teardown().await
}

/// Sends a body that is not an envelope, a request whose payload is not one, and a
/// webhook without its fields.
async fn send_malformed(bench: &Bench) -> anyhow::Result<()> {
    let key = "payment.Payment.PaymentAuthorizationRequested";
    bench
        .channel
        .basic_publish(
            EVENTS_EXCHANGE.into(),
            key.into(),
            BasicPublishOptions::default(),
            b"not an envelope",
            BasicProperties::default(),
        )
        .await?
        .await?;
    let mut bad_request = request("pay-bad", "tok_ok", 1);
    bad_request.payload = serde_json::json!({"payment_id": "pay-bad"});
    bench.publish(&bad_request).await?;
    let garbage = b"{\"webhook_id\": 7}".to_vec();
    bench
        .js
        .publish(bench.nats.webhook_subject(), garbage.into())
        .await?
        .await?;
    Ok(())
}

/// Waits until the stream holds a message on `subject`.
async fn wait_for_subject(bench: &Bench, subject: String) -> anyhow::Result<()> {
    let stream = bench.js.get_stream(&bench.nats.stream).await?;
    for _ in 0..100 {
        if stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("nothing arrived on {subject}")
}
