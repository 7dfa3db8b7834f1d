//! The simulated gateway's consumer: takes authorization requests from the durable pull
//! consumer `provider-sim` (filtered on `<prefix>.requests.>`) and answers each with a
//! webhook on `<prefix>.webhooks.authorization`.
//!
//! Settlement: answered (or deliberately left unanswered) → ack, only after JetStream
//! acknowledged the webhook; malformed → terminated (`AckKind::Term`), never retried;
//! NATS failure → nak, so JetStream redelivers it. A redelivery publishes the same
//! webhook id, which JetStream de-duplicates. Requests are answered concurrently (a real
//! gateway does not serialize its customers), up to a configured limit.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::pull::Stream as Messages;
use async_nats::jetstream::{self, AckKind, Message};
use async_nats::Client;
use chrono::Utc;
use futures::StreamExt;
use platform::envelope::EventEnvelope;
use platform::nats::{self, NatsError, NatsSettings};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::decision::{decide, webhook_id, AuthorizationRequest, Webhook};

/// The durable consumer of the simulator.
pub const CONSUMER: &str = "provider-sim";
/// How long JetStream waits before redelivering a request that hit a NATS failure.
const NAK_DELAY: Duration = Duration::from_secs(1);

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error(transparent)]
    Nats(#[from] NatsError),
}

/// Answers one request at a time; cloned into each in-flight task.
#[derive(Clone)]
struct Responder {
    js: jetstream::Context,
    subject: String,
    delay: Duration,
}

pub struct Simulator {
    client: Client,
    settings: NatsSettings,
    delay: Duration,
    concurrency: usize,
}

impl Simulator {
    pub fn new(
        client: Client,
        settings: NatsSettings,
        delay: Duration,
        concurrency: usize,
    ) -> Self {
        Self {
            client,
            settings,
            delay,
            concurrency: concurrency.max(1),
        }
    }

    /// Consumes until `shutdown` resolves, starting a new session after any failure.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let subscribed = tokio::select! {
                () = &mut shutdown => return,
                subscribed = self.subscribe() => subscribed,
            };
            let result = match subscribed {
                Ok(messages) => self.consume(messages, &mut shutdown).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => return,
                Err(err) => tracing::error!(error = %err, "provider lost JetStream, resubscribing"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn responder(&self) -> Responder {
        Responder {
            js: jetstream::new(self.client.clone()),
            subject: self.settings.webhook_subject(),
            delay: self.delay,
        }
    }

    async fn subscribe(&self) -> Result<Messages, NatsError> {
        let js = jetstream::new(self.client.clone());
        let stream = nats::ensure_stream(&js, &self.settings).await?;
        let consumer =
            nats::durable_consumer(&stream, CONSUMER, self.settings.request_filter()).await?;
        let messages = consumer
            .messages()
            .await
            .map_err(|err| NatsError::jetstream("pull subscription", err))?;
        tracing::info!(stream = %self.settings.stream, consumer = CONSUMER, "provider consuming");
        Ok(messages)
    }

    /// Hands each request to its own task; returns `Ok` on shutdown, after the tasks in
    /// flight finished (each acks its request only once its answer is stored).
    async fn consume(
        &self,
        mut messages: Messages,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<(), NatsError> {
        let responder = self.responder();
        let limit = Arc::new(Semaphore::new(self.concurrency));
        let mut in_flight = JoinSet::new();
        let result = loop {
            let message = tokio::select! {
                () = &mut *shutdown => break Ok(()),
                next = messages.next() => match next {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => break Err(NatsError::jetstream("pull", err)),
                    None => break Err(NatsError::jetstream("pull", "message stream ended")),
                },
            };
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break Ok(());
            };
            let responder = responder.clone();
            in_flight.spawn(async move {
                responder.handle(message).await;
                drop(permit);
            });
            while in_flight.try_join_next().is_some() {}
        };
        while in_flight.join_next().await.is_some() {}
        result
    }
}

impl Responder {
    /// Answers and settles one request; nothing it receives can stop the consumer.
    async fn handle(&self, message: Message) {
        let (outcome, settled) = match self.answer(&message).await {
            Ok(outcome) => (outcome, message.ack().await),
            Err(Failure::Malformed(reason)) => {
                tracing::warn!(subject = %message.subject, reason, "malformed request terminated");
                ("malformed", message.ack_with(AckKind::Term).await)
            }
            Err(Failure::Nats(err)) => {
                tracing::warn!(error = %err, "webhook not stored, request will be redelivered");
                (
                    "retried",
                    message.ack_with(AckKind::Nak(Some(NAK_DELAY))).await,
                )
            }
        };
        metrics::counter!("provider_requests_total", "outcome" => outcome).increment(1);
        if let Err(err) = settled {
            tracing::warn!(error = %err, "could not settle request; JetStream will redeliver it");
        }
    }

    /// Decides, waits the simulated latency, and stores the webhook (if any).
    async fn answer(&self, message: &Message) -> Result<&'static str, Failure> {
        let (envelope, request) = decode(&message.payload)?;
        tokio::time::sleep(self.delay).await;
        let Some(answer) = decide(&request) else {
            tracing::info!(payment_id = %request.payment_id, attempt = request.attempt,
                "request left unanswered (timeout card)");
            return Ok("unanswered");
        };
        let webhook = Webhook {
            webhook_id: webhook_id(&request.payment_id, request.attempt),
            payment_id: request.payment_id,
            attempt: request.attempt,
            status: answer.status,
            provider_ref: answer.provider_ref,
            reason: answer.reason,
            occurred_at: Utc::now(),
            correlation_id: envelope.correlation_id,
            causation_id: Some(envelope.event_id.to_string()),
        };
        let body =
            serde_json::to_vec(&webhook).map_err(|err| Failure::Malformed(err.to_string()))?;
        let id = webhook.webhook_id.to_string();
        let duplicate =
            nats::publish_deduplicated(&self.js, self.subject.clone(), &id, body).await?;
        tracing::info!(webhook_id = %id, payment_id = %webhook.payment_id,
            attempt = webhook.attempt, status = ?webhook.status, duplicate, "webhook sent");
        Ok("answered")
    }
}

/// A request is an event envelope whose payload is an [`AuthorizationRequest`].
fn decode(body: &[u8]) -> Result<(EventEnvelope, AuthorizationRequest), Failure> {
    let envelope: EventEnvelope = serde_json::from_slice(body)
        .map_err(|err| Failure::Malformed(format!("envelope: {err}")))?;
    let request = serde_json::from_value(envelope.payload.clone())
        .map_err(|err| Failure::Malformed(format!("payload: {err}")))?;
    Ok((envelope, request))
}
