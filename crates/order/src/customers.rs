//! The customer feed: the order service's own read model of customers, kept from the
//! user service's events so that placing an order needs no call to another service.
//!
//! It reads `user.User.UserRegistered` and `user.User.UserDeactivated` from the
//! `events` exchange through the durable queue `order.customers`, and keeps one row
//! per customer in `customers` ([`table`]): active or not, as of which sequence of the
//! user's aggregate. Delivery is at-least-once and, across redeliveries, in no
//! particular order; a change is applied only over an older sequence, so a redelivered
//! or stale event changes nothing.
//!
//! Settlement (through [`platform::consumer`]): applied or already applied → ack;
//! undecodable → dead-lettered to `order.customers.dlq` with a warning; database
//! failure → retried.

pub mod change;
pub mod table;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lapin::message::Delivery;
use lapin::Channel;
use platform::broker::EVENTS_EXCHANGE;
use platform::consumer::{DeliveryHandler, Disposition, QueueConsumer, Subscription};
use sqlx::PgPool;

pub use change::CustomerChange;

/// The queue of this consumer, and the routing keys it takes from `events`.
pub const QUEUE: &str = "order.customers";
pub const BINDINGS: [&str; 2] = ["user.User.UserRegistered", "user.User.UserDeactivated"];

/// Deliveries fetched ahead: each is one small upsert, so a few in flight keep the
/// feed moving without holding many back from a replica that would take them.
const PREFETCH: u16 = 16;

/// The consumer of user events.
pub struct CustomerFeed {
    pool: PgPool,
    connected: Arc<AtomicBool>,
}

impl CustomerFeed {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            connected: Arc::default(),
        }
    }

    /// True while the feed's broker session is open (for `/health`).
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Consumes until `shutdown` resolves, reconnecting after broker failures.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        let subscription = Subscription::new(QUEUE, EVENTS_EXCHANGE, &BINDINGS).prefetch(PREFETCH);
        let flag = self.connected.clone();
        QueueConsumer::new(subscription, self)
            .reporting_to(flag)
            .run(amqp_url, shutdown)
            .await;
    }
}

impl DeliveryHandler for CustomerFeed {
    async fn handle(&self, _channel: &Channel, delivery: &Delivery) -> Disposition {
        let disposition = self.evaluate(delivery).await;
        metrics::counter!("customer_events_total", "outcome" => disposition.as_str()).increment(1);
        disposition
    }
}

impl CustomerFeed {
    async fn evaluate(&self, delivery: &Delivery) -> Disposition {
        let change = match change::decode(&delivery.data) {
            Ok(change) => change,
            Err(err) => {
                tracing::warn!(routing_key = %delivery.routing_key, error = %err,
                    "undecodable user event dead-lettered");
                return Disposition::DeadLetter;
            }
        };
        match table::apply(&self.pool, &change).await {
            Ok(changed) => {
                tracing::debug!(customer_id = %change.customer_id, active = change.active,
                    sequence = change.sequence, changed, "customer event applied");
                Disposition::Ack
            }
            Err(err) => {
                tracing::warn!(customer_id = %change.customer_id, error = %err,
                    "customers table unavailable, user event will be retried");
                Disposition::Retry
            }
        }
    }
}
