//! NATS → RabbitMQ: the provider's webhooks, from the durable pull consumer
//! `bridge-webhooks` (filtered on `<prefix>.webhooks.>`), to the `events` exchange as
//! `provider.Webhook.AuthorizationAnswered` envelopes.
//!
//! A webhook is acked on JetStream only after RabbitMQ confirmed its envelope, so a crash
//! or a broker outage on either side loses nothing: the durable consumer redelivers what
//! was not acked. The envelope's `event_id` is the webhook id, so a redelivered webhook
//! is a duplicate that downstream consumers recognise. A malformed webhook is
//! terminated (`AckKind::Term`) and never forwarded.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::Stream as Messages;
use async_nats::jetstream::{self, AckKind, Message};
use async_nats::Client;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use platform::broker;
use platform::envelope::EventEnvelope;
use platform::nats::{self, NatsError, NatsSettings};
use platform::relay::publish_confirmed;
use serde::Deserialize;
use uuid::Uuid;

use crate::{BridgeError, Link};

/// The durable consumer of this direction.
pub const CONSUMER: &str = "bridge-webhooks";
/// The envelope's coordinates: routing key `provider.Webhook.AuthorizationAnswered`.
pub const SERVICE: &str = "provider";
pub const AGGREGATE_TYPE: &str = "Webhook";
pub const EVENT_TYPE: &str = "AuthorizationAnswered";

/// The webhook fields the envelope needs; the whole webhook travels as the payload.
#[derive(Debug, Deserialize)]
struct WebhookHeader {
    webhook_id: Uuid,
    payment_id: String,
    attempt: i64,
    occurred_at: DateTime<Utc>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
}

/// Wraps a webhook body in its event envelope; `stream_sequence` (the message's
/// position in the JetStream stream) becomes the envelope's global position.
pub fn to_envelope(body: &[u8], stream_sequence: u64) -> Result<EventEnvelope, serde_json::Error> {
    let payload: serde_json::Value = serde_json::from_slice(body)?;
    let header = WebhookHeader::deserialize(&payload)?;
    Ok(EventEnvelope {
        event_id: header.webhook_id,
        service: SERVICE.to_string(),
        aggregate_type: AGGREGATE_TYPE.to_string(),
        aggregate_id: header.payment_id,
        sequence: header.attempt,
        global_position: i64::try_from(stream_sequence).unwrap_or(i64::MAX),
        event_type: EVENT_TYPE.to_string(),
        event_version: "1".to_string(),
        occurred_at: header.occurred_at,
        correlation_id: header.correlation_id,
        causation_id: header.causation_id,
        payload,
    })
}

/// One session: a confirm-mode channel and the webhook consumer.
struct Session {
    connection: Connection,
    channel: Channel,
    messages: Messages,
}

pub struct WebhookForwarder {
    client: Client,
    nats: NatsSettings,
    amqp_url: String,
    link: Link,
}

impl WebhookForwarder {
    pub fn new(client: Client, nats: NatsSettings, amqp_url: String, link: Link) -> Self {
        Self {
            client,
            nats,
            amqp_url,
            link,
        }
    }

    /// Forwards until `shutdown` resolves, starting a new session after any failure.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let opened = tokio::select! {
                () = &mut shutdown => return,
                opened = broker::bounded("subscribing", self.open()) => opened,
            };
            let result = match opened {
                Ok(session) => self.forward_all(session, &mut shutdown).await,
                Err(err) => Err(err),
            };
            self.link.set(false);
            match result {
                Ok(()) => return,
                Err(err) => tracing::error!(error = %err, "webhook forwarding failed, restarting"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// NATS first: a NATS failure then leaves no RabbitMQ connection behind.
    async fn open(&self) -> Result<Session, BridgeError> {
        let js = jetstream::new(self.client.clone());
        let stream = nats::ensure_stream(&js, &self.nats).await?;
        let consumer =
            nats::durable_consumer(&stream, CONSUMER, self.nats.webhook_filter()).await?;
        let messages = consumer
            .messages()
            .await
            .map_err(|err| NatsError::jetstream("pull subscription", err))?;
        let connection = broker::connect(&self.amqp_url, CONSUMER, 5).await?;
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        self.link.set(true);
        tracing::info!(
            consumer = CONSUMER,
            "bridge forwarding webhooks to RabbitMQ"
        );
        Ok(Session {
            connection,
            channel,
            messages,
        })
    }

    /// Forwards webhooks one at a time, in stream order; `Ok` means shutdown.
    async fn forward_all(
        &self,
        mut session: Session,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<(), BridgeError> {
        let result = loop {
            let message = tokio::select! {
                () = &mut *shutdown => break Ok(()),
                next = session.messages.next() => match next {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => break Err(NatsError::jetstream("pull", err).into()),
                    None => break Err(NatsError::jetstream("pull", "message stream ended").into()),
                },
            };
            if let Err(err) = forward(&session.channel, &message).await {
                break Err(err);
            }
        };
        crate::close(&session.connection).await;
        result
    }
}

/// Publishes one webhook with a confirm, then acks it. A RabbitMQ failure naks it (for
/// a prompt redelivery) and ends the session.
async fn forward(channel: &Channel, message: &Message) -> Result<(), BridgeError> {
    let envelope = match message.info() {
        Ok(info) => {
            to_envelope(&message.payload, info.stream_sequence).map_err(|err| err.to_string())
        }
        Err(err) => Err(format!("not a JetStream delivery: {err}")),
    };
    let envelope = match envelope {
        Ok(envelope) => envelope,
        Err(reason) => {
            tracing::warn!(subject = %message.subject, reason, "malformed webhook terminated");
            metrics::counter!("bridge_webhooks_total", "outcome" => "malformed").increment(1);
            return settle(message, AckKind::Term).await;
        }
    };
    if let Err(err) = publish_confirmed(channel, std::slice::from_ref(&envelope)).await {
        // Best effort: without the nak JetStream still redelivers after its ack wait.
        let _ = message.ack_with(AckKind::Nak(None)).await;
        return Err(err.into());
    }
    tracing::info!(webhook_id = %envelope.event_id, payment_id = %envelope.aggregate_id,
        attempt = envelope.sequence, "webhook forwarded to RabbitMQ");
    metrics::counter!("bridge_webhooks_total", "outcome" => "forwarded").increment(1);
    settle(message, AckKind::Ack).await
}

async fn settle(message: &Message, kind: AckKind) -> Result<(), BridgeError> {
    message
        .ack_with(kind)
        .await
        .map_err(|err| NatsError::jetstream("ack", err).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn webhook() -> serde_json::Value {
        json!({"webhook_id": "6f1c1f43-2a57-5b8e-9d0c-6d6f0c1f9b10", "payment_id": "pay-1",
            "attempt": 2, "status": "approved", "provider_ref": "prv_abc", "reason": null,
            "occurred_at": "2026-01-02T03:04:05Z", "correlation_id": "corr-1",
            "causation_id": "4b8f0a52-8a7e-4c55-9d0f-1d2b3c4d5e6f"})
    }

    #[test]
    fn a_webhook_becomes_an_authorization_answered_envelope() {
        let body = serde_json::to_vec(&webhook()).expect("json");
        let envelope = to_envelope(&body, 42).expect("a valid webhook");
        assert_eq!(
            envelope.routing_key(),
            "provider.Webhook.AuthorizationAnswered"
        );
        assert_eq!(
            envelope.event_id.to_string(),
            "6f1c1f43-2a57-5b8e-9d0c-6d6f0c1f9b10"
        );
        assert_eq!(envelope.aggregate_id, "pay-1");
        assert_eq!((envelope.sequence, envelope.global_position), (2, 42));
        assert_eq!(envelope.correlation_id.as_deref(), Some("corr-1"));
        assert_eq!(envelope.payload, webhook());
    }

    #[test]
    fn a_webhook_without_an_id_is_malformed() {
        let mut body = webhook();
        body.as_object_mut().map(|map| map.remove("webhook_id"));
        assert!(to_envelope(&serde_json::to_vec(&body).expect("json"), 1).is_err());
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed() {
        assert!(to_envelope(b"not json", 1).is_err());
    }
}
