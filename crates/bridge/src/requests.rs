//! RabbitMQ → NATS: payment authorization requests, from the durable queue
//! `bridge.to-nats` (bound to the configured routing keys of `events`), to the
//! provider's request subject, body unchanged.
//!
//! Settlement: stored by JetStream (publish ack received) → ack; not an event envelope
//! → nack without requeue (to `bridge.to-nats.dlq`); NATS failure → nack with requeue
//! after a short pause, then a new channel (as the query projector does: closing the
//! channel hands the prefetched deliveries behind the failed one back in order).
//! Each publish carries `Nats-Msg-Id` = the envelope's `event_id`, so a redelivered
//! request is stored once.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::Client;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use platform::broker::{self, EVENTS_EXCHANGE};
use platform::consumer::{self, Disposition};
use platform::envelope::EventEnvelope;
use platform::nats::{self, NatsSettings};

use crate::{BridgeError, Link};

/// The queue of this direction.
pub const QUEUE: &str = "bridge.to-nats";
/// How many unacknowledged deliveries RabbitMQ may push ahead.
const PREFETCH: u16 = 32;
/// The pause before a request is handed back, so a down NATS is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Why a consuming session ended without an error.
enum Stopped {
    Shutdown,
    StreamEnded,
    /// A delivery was handed back; resume at once on a fresh channel.
    Retrying,
}

pub struct RequestForwarder {
    js: jetstream::Context,
    nats: NatsSettings,
    amqp_url: String,
    keys: Vec<String>,
    link: Link,
}

impl RequestForwarder {
    pub fn new(
        client: Client,
        nats: NatsSettings,
        amqp_url: String,
        keys: Vec<String>,
        link: Link,
    ) -> Self {
        Self {
            js: jetstream::new(client),
            nats,
            amqp_url,
            keys,
            link,
        }
    }

    /// Forwards until `shutdown` resolves, reconnecting after failures on either side.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let session = self.consume(&mut shutdown).await;
            self.link.set(false);
            match session {
                Ok(Stopped::Shutdown) => return,
                Ok(Stopped::Retrying) => continue,
                Ok(Stopped::StreamEnded) => tracing::warn!("request queue stream ended"),
                Err(err) => tracing::error!(error = %err, "request forwarding failed, restarting"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One session: the stream must exist before anything is taken off the queue.
    async fn consume(
        &self,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Stopped, BridgeError> {
        // Connecting retries for seconds: shutdown must not wait for it.
        let (connection, mut consumer) = tokio::select! {
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
            opened = broker::bounded("subscribing", self.open()) => opened?,
        };
        self.link.set(true);
        tracing::info!(queue = QUEUE, keys = ?self.keys, "bridge forwarding requests to NATS");
        // See `broker::session_alive`: the stream is not always woken when the
        // connection dies.
        let mut watchdog = tokio::time::interval(broker::WATCHDOG_PERIOD);
        let stopped = loop {
            let delivery = tokio::select! {
                () = &mut *shutdown => break Ok(Stopped::Shutdown),
                _ = watchdog.tick() => {
                    if connection.status().connected() {
                        continue;
                    }
                    break Ok(Stopped::StreamEnded);
                }
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => delivery,
                    Some(Err(err)) => break Err(err.into()),
                    None => break Ok(Stopped::StreamEnded),
                },
            };
            if !self.process(delivery).await {
                break Ok(Stopped::Retrying);
            }
        };
        crate::close(&connection).await;
        stopped
    }

    async fn open(&self) -> Result<(Connection, Consumer), BridgeError> {
        nats::ensure_stream(&self.js, &self.nats).await?;
        let connection = broker::connect(&self.amqp_url, QUEUE, 5).await?;
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        broker::declare_queue_with_dlq(&channel, QUEUE, EVENTS_EXCHANGE, &keys).await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                QUEUE.into(),
                "nats-bridge".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((connection, consumer))
    }

    /// Forwards and settles one delivery ([`consumer::settle`], bounded). Returns
    /// `false` when it was handed back for a retry, or could not be settled, which ends
    /// the session.
    async fn process(&self, delivery: Delivery) -> bool {
        let disposition = self.forward(&delivery).await;
        let outcome = match disposition {
            Disposition::Ack => "forwarded",
            Disposition::DeadLetter => "dead_lettered",
            Disposition::Retry => "retried",
        };
        let settled = consumer::settle(delivery, disposition, RETRY_PAUSE).await;
        metrics::counter!("bridge_requests_total", "outcome" => outcome).increment(1);
        settled.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "could not settle delivery; RabbitMQ will redeliver it");
            false
        })
    }

    async fn forward(&self, delivery: &Delivery) -> Disposition {
        let envelope: EventEnvelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(routing_key = %delivery.routing_key, error = %err,
                    "request that is not an event envelope dead-lettered");
                return Disposition::DeadLetter;
            }
        };
        let id = envelope.event_id.to_string();
        let subject = self.nats.request_subject();
        match nats::publish_deduplicated(&self.js, subject, &id, delivery.data.clone()).await {
            Ok(duplicate) => {
                tracing::info!(event_id = %id, event_type = %envelope.event_type,
                    aggregate_id = %envelope.aggregate_id, duplicate, "request forwarded to NATS");
                Disposition::Ack
            }
            Err(err) => {
                tracing::warn!(event_id = %id, error = %err, "request not stored, will retry");
                Disposition::Retry
            }
        }
    }
}
