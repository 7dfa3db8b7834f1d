//! The projector: keeps every read model of this service current with the platform's
//! projection runtime ([`platform::projection`]).
//!
//! Each [`View`] is a runner of its own, with checkpoints per source service (in
//! [`book::ViewBook`]: MongoDB, or Redis for the views kept there alone). Runners read the services' feeds in commit order; the
//! `query.projections` queue (bound to `inventory.#`, `order.#`, `user.#`, `payment.#`
//! and `notification.#` on the `events` exchange) only wakes them, so a lost or repeated
//! broker message changes nothing. An undecodable message is dead-lettered to
//! `query.projections.dlq`.
//!
//! Modules: [`events`] and [`payloads`] (decoding), [`view`] (the views, their feeds and
//! stores), [`projections`] (dispatch to the views), [`guard`] (idempotence of views that
//! add up many aggregates); the views: [`mongo`] (per-aggregate documents), [`categories`],
//! [`users`], [`activity`], [`payments`], [`notifications`], [`redis`] (stock hashes),
//! [`redis_orders`]; [`book`] and [`redis_book`] (checkpoints, versions, parked events),
//! [`indexes`].

pub mod activity;
pub mod book;
pub mod categories;
pub mod events;
pub mod guard;
pub mod indexes;
pub mod mongo;
pub mod notifications;
pub mod payloads;
pub mod payments;
pub mod projections;
pub mod redis;
pub mod redis_book;
pub mod redis_orders;
pub mod users;
pub mod view;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use platform::broker::EVENTS_EXCHANGE;
use platform::consumer::{QueueConsumer, Subscription};
use platform::projection::{Feeds, ProjectionSet, Runner, RunnerSettings, Wakeups};

pub use book::{MongoBook, ViewBook};
pub use projections::{Outcome, ProjectionError, Projections, ViewProjection};
pub use redis_book::RedisBook;
pub use view::View;

use crate::store::ReadStore;

/// The queue of this projector, and the routing keys it takes from `events`.
pub const QUEUE: &str = "query.projections";
const BINDINGS: [&str; 5] = [
    "inventory.#",
    "order.#",
    "user.#",
    "payment.#",
    "notification.#",
];

/// Whether the projector currently holds a consuming broker session (for `/health`).
#[derive(Clone, Debug, Default)]
pub struct BrokerStatus(Arc<AtomicBool>);

impl BrokerStatus {
    pub fn is_connected(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Every view of the service as a runner of the projection runtime.
pub fn projection_set(store: &ReadStore, feeds: &Feeds, settings: RunnerSettings) -> ProjectionSet {
    let book = Arc::new(ViewBook::new(store.clone()));
    let projections = Projections::new(store.clone());
    View::ALL
        .into_iter()
        .fold(ProjectionSet::default(), |set, view| {
            let projection = ViewProjection {
                view,
                projections: projections.clone(),
            };
            set.with(Runner::new(
                projection,
                book.clone(),
                feeds.clone(),
                settings,
            ))
        })
}

/// Creates the indexes of the current version of every MongoDB collection of a view.
pub async fn ensure_indexes(store: &ReadStore) -> Result<(), mongodb::error::Error> {
    for view in View::ALL
        .into_iter()
        .filter(|v| !v.collections().is_empty())
    {
        let version = store.current_version(view.name()).await?;
        for collection in view.collections() {
            indexes::ensure_for(&store.db, collection, version).await?;
        }
    }
    Ok(())
}

pub struct Projector {
    set: ProjectionSet,
    status: BrokerStatus,
    prefetch: u16,
}

impl Projector {
    pub fn new(set: ProjectionSet, status: BrokerStatus, prefetch: u16) -> Self {
        Self {
            set,
            status,
            prefetch,
        }
    }

    /// Runs the runners and the wake-up consumer until `shutdown` resolves.
    pub async fn run(self, amqp_url: String, shutdown: tokio_util::sync::CancellationToken) {
        let subscription =
            Subscription::new(QUEUE, EVENTS_EXCHANGE, &BINDINGS).prefetch(self.prefetch);
        let wakeups = QueueConsumer::new(subscription, Wakeups(self.set.clone()))
            .reporting_to(self.status.0.clone());
        let stop = shutdown.clone();
        tokio::join!(
            wakeups.run(amqp_url, shutdown.cancelled_owned()),
            self.set.run(stop),
        );
    }
}
