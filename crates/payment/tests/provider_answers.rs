//! The provider-answer consumer of a running payment service, against the real
//! RabbitMQ and PostgreSQL: a webhook published to `events` as the bridge does is
//! recorded once under `webhook:<event_id>`, however often it is delivered; a transient
//! failure asks the provider again; a malformed webhook is dead-lettered.

mod support;

use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use payment::provider_answers::QUEUE;
use platform::broker::EVENTS_EXCHANGE;
use platform::store::command_events;
use support::{webhook, Harness};
use uuid::Uuid;

/// Runs `scenario` on a fresh service, then removes it whatever the outcome.
async fn with_service(
    scenario: impl AsyncFnOnce(&Harness) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let harness = Harness::start().await?;
    let result = scenario(&harness).await;
    harness.stop().await?;
    result
}

#[tokio::test]
async fn an_approved_webhook_authorizes_the_payment_under_its_own_command_id() -> anyhow::Result<()>
{
    with_service(async |h| {
        h.authorize("p1", "tok_ok").await?;
        let event_id = Uuid::new_v4();
        h.publish(&webhook(event_id, "p1", 1, "approved", Some("ref-1"))?)
            .await?;
        let types = h.wait_for("p1", "PaymentAuthorized").await?;
        assert_eq!(
            types,
            ["PaymentAuthorizationRequested", "PaymentAuthorized"]
        );
        let recorded = command_events(&h.pool, &format!("webhook:{event_id}")).await?;
        assert_eq!(recorded, [("p1".into(), 2, "PaymentAuthorized".into())]);
        let (correlation, causation): (String, String) = sqlx::query_as(
            "SELECT metadata->>'correlation_id', metadata->>'causation_id' FROM events \
             WHERE aggregate_id = 'p1' AND sequence = 2",
        )
        .fetch_one(&h.pool)
        .await?;
        assert_eq!(
            (correlation.as_str(), causation),
            ("flow-p1", event_id.to_string())
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_redelivered_webhook_is_recorded_once() -> anyhow::Result<()> {
    with_service(async |h| {
        h.authorize("p1", "tok_ok").await?;
        h.authorize("p2", "tok_flaky").await?;
        let approval = webhook(Uuid::new_v4(), "p1", 1, "approved", Some("ref-1"))?;
        h.publish(&approval).await?;
        h.wait_for("p1", "PaymentAuthorized").await?;
        h.publish(&approval).await?;
        // Answers are consumed one at a time in order: once this later one is recorded,
        // the duplicate before it was handled too.
        h.publish(&webhook(Uuid::new_v4(), "p2", 1, "failed", None)?)
            .await?;
        h.wait_for("p2", "PaymentAuthorizationRetried").await?;
        let types = h.event_types("p1").await?;
        assert_eq!(
            types,
            ["PaymentAuthorizationRequested", "PaymentAuthorized"]
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_failed_answer_asks_the_provider_again_with_attempt_two() -> anyhow::Result<()> {
    with_service(async |h| {
        // Where the bridge would pick the request up, to see the retry leave the service.
        let requests = h
            .channel
            .queue_declare("".into(), exclusive(), FieldTable::default())
            .await?;
        let key = "payment.Payment.PaymentAuthorizationRetried";
        h.channel
            .queue_bind(
                requests.name().clone(),
                EVENTS_EXCHANGE.into(),
                key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        h.authorize("p1", "tok_flaky").await?;
        h.publish(&webhook(Uuid::new_v4(), "p1", 1, "failed", None)?)
            .await?;
        h.wait_for("p1", "PaymentAuthorizationRetried").await?;
        let published = h.take(requests.name().as_str()).await?;
        let envelope: serde_json::Value = serde_json::from_slice(&published)?;
        assert_eq!(envelope["payload"]["attempt"], 2, "{envelope}");
        assert_eq!(envelope["payload"]["card_token"], "tok_flaky");
        assert_eq!(envelope["correlation_id"], "flow-p1");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_malformed_webhook_is_dead_lettered() -> anyhow::Result<()> {
    with_service(async |h| {
        h.publish(b"{\"not\": \"an envelope\"}").await?;
        let dead = h.take(&format!("{QUEUE}.dlq")).await?;
        assert_eq!(dead, b"{\"not\": \"an envelope\"}");
        // The consumer goes on with the next webhook.
        h.authorize("p1", "tok_ok").await?;
        h.publish(&webhook(
            Uuid::new_v4(),
            "p1",
            1,
            "approved",
            Some("ref-1"),
        )?)
        .await?;
        h.wait_for("p1", "PaymentAuthorized").await?;
        Ok(())
    })
    .await
}

fn exclusive() -> QueueDeclareOptions {
    QueueDeclareOptions {
        exclusive: true,
        ..QueueDeclareOptions::default()
    }
}
