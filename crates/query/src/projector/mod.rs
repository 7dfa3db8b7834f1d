//! The projector: consumes the `query.projections` queue (bound to `inventory.#`,
//! `order.#` and `user.#` on the `events` exchange) through [`platform::consumer`], one delivery at a
//! time and in order, and feeds each to [`Projections`].
//!
//! Settlement: applied or ignored → ack; undecodable → dead-lettered to
//! `query.projections.dlq`; store failure → retried, keeping queue order (the consumer
//! ends its session so the deliveries prefetched behind are requeued in order; applying
//! them first would make the version check skip the failed one for good).

pub mod checkpoint;
pub mod events;
pub mod indexes;
pub mod mongo;
pub mod projections;
pub mod redis;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use lapin::message::Delivery;
use lapin::Channel;
use platform::broker::EVENTS_EXCHANGE;
use platform::consumer::{DeliveryHandler, Disposition, QueueConsumer, Subscription};
use platform::envelope::EventEnvelope;
use tracing::Instrument;

pub use projections::{Outcome, ProjectionError, ProjectionOutcome, Projections};

/// The queue of this projector, and the routing keys it takes from `events`.
pub const QUEUE: &str = "query.projections";
const BINDINGS: [&str; 3] = ["inventory.#", "order.#", "user.#"];

/// Whether the projector currently holds a consuming broker session (for `/health`).
#[derive(Clone, Debug, Default)]
pub struct BrokerStatus(Arc<AtomicBool>);

impl BrokerStatus {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
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
        let subscription =
            Subscription::new(QUEUE, EVENTS_EXCHANGE, &BINDINGS).prefetch(self.prefetch);
        let connected = self.status.0.clone();
        QueueConsumer::new(subscription, self)
            .reporting_to(connected)
            .run(amqp_url, shutdown)
            .await;
    }
}

impl DeliveryHandler for Projector {
    async fn handle(&self, _channel: &Channel, delivery: &Delivery) -> Disposition {
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
}

impl Projector {
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
