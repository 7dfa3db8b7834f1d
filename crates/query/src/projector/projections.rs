//! Applying one event to every projection it concerns, then advancing their
//! checkpoints and metrics. This is the broker-free core of the projector: tests and
//! replays drive it directly with envelopes.

use std::future::Future;

use platform::envelope::EventEnvelope;

use super::checkpoint;
use super::events::{decode, DecodeError, ProductEvent, ProjectedEvent};
use super::mongo;
use super::redis::StockLevels;
use crate::store::{ReadStore, ORDER_DETAILS, PRODUCT_LIST, STOCK_LEVELS, USER_PROFILE};

/// What an event did to one projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The projection already reflects this event (or a later one): nothing changed.
    AlreadyApplied,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::AlreadyApplied => "duplicate",
        }
    }
}

/// One projection's outcome for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectionOutcome {
    pub projection: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event can never be applied: dead-letter it.
    #[error("malformed event: {0}")]
    Malformed(#[from] DecodeError),
    #[error("MongoDB failed: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("Redis failed: {0}")]
    Redis(#[from] redis::RedisError),
}

impl ProjectionError {
    /// Store failures are presumed transient; a malformed event stays malformed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Malformed(_))
    }
}

/// The read models fed by the `inventory`, `order` and `user` event streams.
#[derive(Clone)]
pub struct Projections {
    store: ReadStore,
    stock_levels: StockLevels,
}

impl Projections {
    pub fn new(store: ReadStore) -> Self {
        Self {
            store,
            stock_levels: StockLevels::default(),
        }
    }

    /// Applies `envelope` to each projection it concerns, in a fixed order. On error,
    /// projections already done keep the event; re-applying it later is harmless since
    /// each skips what it has seen. An event no projection takes yields no outcome.
    pub async fn apply(
        &self,
        envelope: &EventEnvelope,
    ) -> Result<Vec<ProjectionOutcome>, ProjectionError> {
        let event = decode(envelope).inspect_err(|_| {
            for projection in targets(envelope) {
                checkpoint::count(projection, "rejected");
            }
        })?;
        let db = &self.store.db;
        match event {
            ProjectedEvent::Product(event) => self.apply_product(envelope, &event).await,
            ProjectedEvent::Order(event) => {
                let orders = mongo::apply_order(db, envelope, &event);
                Ok(vec![self.track(ORDER_DETAILS, envelope, orders).await?])
            }
            ProjectedEvent::User(event) => {
                let users = mongo::apply_user(db, envelope, &event);
                Ok(vec![self.track(USER_PROFILE, envelope, users).await?])
            }
            ProjectedEvent::Ignored => {
                checkpoint::count("none", "ignored");
                Ok(Vec::new())
            }
        }
    }

    /// A product event feeds `product_list`, then `stock_levels`.
    async fn apply_product(
        &self,
        envelope: &EventEnvelope,
        event: &ProductEvent,
    ) -> Result<Vec<ProjectionOutcome>, ProjectionError> {
        let key = self.store.stock_key(event.sku());
        let products = mongo::apply_product(&self.store.db, envelope, event);
        let stock = self
            .stock_levels
            .apply(&self.store.redis, &key, envelope, event);
        Ok(vec![
            self.track(PRODUCT_LIST, envelope, products).await?,
            self.track(STOCK_LEVELS, envelope, stock).await?,
        ])
    }

    /// Runs one projection's write, then records its progress. The checkpoint also
    /// advances on a duplicate: the write may have succeeded before a failed
    /// checkpoint update made the event come back.
    async fn track<E: Into<ProjectionError>>(
        &self,
        projection: &'static str,
        envelope: &EventEnvelope,
        write: impl Future<Output = Result<Outcome, E>>,
    ) -> Result<ProjectionOutcome, ProjectionError> {
        let result = match write.await {
            Ok(outcome) => checkpoint::advance(&self.store.db, projection, envelope)
                .await
                .map(|()| outcome)
                .map_err(ProjectionError::from),
            Err(err) => Err(err.into()),
        };
        let outcome = result.inspect_err(|_| checkpoint::count(projection, "failed"))?;
        checkpoint::count(projection, outcome.label());
        if outcome == Outcome::Applied {
            checkpoint::record_lag(projection, envelope);
        }
        Ok(ProjectionOutcome {
            projection,
            outcome,
        })
    }
}

/// The projections an event of this source would feed, to attribute rejections.
fn targets(envelope: &EventEnvelope) -> &'static [&'static str] {
    match (envelope.service.as_str(), envelope.aggregate_type.as_str()) {
        ("inventory", "Product") => &[PRODUCT_LIST, STOCK_LEVELS],
        ("order", "Order") => &[ORDER_DETAILS],
        ("user", "User") => &[USER_PROFILE],
        _ => &[],
    }
}
