//! The projector: consumes the `query.projections` queue (bound to `inventory.#` and
//! `order.#` on the `events` exchange) and feeds every delivery, one at a time and in
//! order, to [`Projections`].
//!
//! Settlement: applied or ignored → ack; undecodable → nack without requeue (to
//! `query.projections.dlq`); store failure → nack with requeue after a short pause,
//! then a new channel (see [`Projector::consume`] for why). Broker failures reconnect;
//! nothing a producer sends can stop the loop, only the shutdown future can.

pub mod checkpoint;
pub mod events;
pub mod indexes;
pub mod mongo;
pub mod projections;
pub mod redis;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, Consumer};
use platform::broker::{self, EVENTS_EXCHANGE};
use platform::envelope::EventEnvelope;
use tracing::Instrument;

pub use projections::{Outcome, ProjectionError, ProjectionOutcome, Projections};

/// The queue of this projector, and the routing keys it takes from `events`.
pub const QUEUE: &str = "query.projections";
const BINDINGS: [&str; 2] = ["inventory.#", "order.#"];
/// The pause before a failed event is handed back, so a down store is not hammered.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// Whether the projector currently holds a consuming broker session (for `/health`).
#[derive(Clone, Debug, Default)]
pub struct BrokerStatus(Arc<AtomicBool>);

impl BrokerStatus {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, connected: bool) {
        self.0.store(connected, Ordering::Relaxed);
    }
}

/// Why a consuming session ended without a broker error.
enum Stopped {
    Shutdown,
    StreamEnded,
    /// An event was handed back for a retry; resume at once on a fresh channel.
    Retrying,
}

enum Disposition {
    Ack,
    DeadLetter,
    Retry,
}

pub struct Projector {
    projections: Projections,
    status: BrokerStatus,
    prefetch: u16,
}

impl Projector {
    pub fn new(projections: Projections, status: BrokerStatus, prefetch: u16) -> Self {
        Self {
            projections,
            status,
            prefetch,
        }
    }

    /// Consumes until `shutdown` resolves, reconnecting after broker failures.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let session = self.consume(&amqp_url, &mut shutdown).await;
            self.status.set(false);
            match session {
                Ok(Stopped::Shutdown) => return,
                Ok(Stopped::Retrying) => continue,
                Ok(Stopped::StreamEnded) => tracing::warn!("event stream ended, reconnecting"),
                Err(err) => {
                    tracing::error!(error = %err, "projector lost the broker, reconnecting")
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One broker session. After a retry it ends: deliveries already prefetched behind
    /// the failed one must not be applied before it (the version check would then
    /// skip it for good), and closing the channel requeues them all in order.
    async fn consume(
        &self,
        amqp_url: &str,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Stopped, lapin::Error> {
        // Connecting retries with back-off for seconds: shutdown must not wait for it.
        let connection = tokio::select! {
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
            connection = broker::connect(amqp_url, QUEUE, 5) => connection?,
        };
        let mut consumer = self.subscribe(&connection).await?;
        self.status.set(true);
        tracing::info!(queue = QUEUE, "projector consuming");
        let stopped = loop {
            let delivery = tokio::select! {
                () = &mut *shutdown => break Stopped::Shutdown,
                next = consumer.next() => match next {
                    Some(delivery) => delivery?,
                    None => break Stopped::StreamEnded,
                },
            };
            if !self.process(delivery).await {
                break Stopped::Retrying;
            }
        };
        close(&connection).await;
        Ok(stopped)
    }

    /// Declares the topology (idempotent) and starts consuming on a new channel.
    async fn subscribe(&self, connection: &Connection) -> Result<Consumer, lapin::Error> {
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        broker::declare_queue_with_dlq(&channel, QUEUE, EVENTS_EXCHANGE, &BINDINGS).await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let options = BasicConsumeOptions::default();
        let tag = "query-projector";
        channel
            .basic_consume(QUEUE.into(), tag.into(), options, FieldTable::default())
            .await
    }

    /// Projects and settles one delivery. Returns `false` when it was handed back for
    /// a retry, which ends the session.
    async fn process(&self, delivery: Delivery) -> bool {
        let disposition = self.evaluate(&delivery).await;
        let settled = match disposition {
            Disposition::Ack => delivery.ack(BasicAckOptions::default()).await,
            Disposition::DeadLetter => delivery.nack(nack(false)).await,
            Disposition::Retry => {
                tokio::time::sleep(RETRY_PAUSE).await;
                delivery.nack(nack(true)).await
            }
        };
        if let Err(err) = settled {
            tracing::warn!(error = %err, "could not settle delivery; the broker will redeliver it");
        }
        !matches!(disposition, Disposition::Retry)
    }

    async fn evaluate(&self, delivery: &Delivery) -> Disposition {
        let envelope: EventEnvelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(err) => {
                tracing::warn!(routing_key = %delivery.routing_key, error = %err,
                    "undecodable event envelope dead-lettered");
                checkpoint::count("none", "rejected");
                return Disposition::DeadLetter;
            }
        };
        let span = tracing::info_span!("project",
            event_id = %envelope.event_id,
            correlation_id = envelope.correlation_id.as_deref().unwrap_or_default(),
            event_type = %envelope.event_type,
            aggregate_id = %envelope.aggregate_id,
            sequence = envelope.sequence);
        self.project(&envelope).instrument(span).await
    }

    async fn project(&self, envelope: &EventEnvelope) -> Disposition {
        match self.projections.apply(envelope).await {
            Ok(outcomes) => {
                tracing::debug!(?outcomes, "event projected");
                Disposition::Ack
            }
            Err(err) if err.is_retryable() => {
                tracing::warn!(error = %err, "projection failed, event will be retried");
                Disposition::Retry
            }
            Err(err) => {
                tracing::warn!(error = %err, "malformed event dead-lettered");
                Disposition::DeadLetter
            }
        }
    }
}

fn nack(requeue: bool) -> BasicNackOptions {
    BasicNackOptions {
        requeue,
        ..BasicNackOptions::default()
    }
}

/// Closing (rather than dropping) hands unacknowledged deliveries back at once.
async fn close(connection: &Connection) {
    if let Err(err) = connection.close(200, "projector session over".into()).await {
        tracing::debug!(error = %err, "broker connection already closed");
    }
}
