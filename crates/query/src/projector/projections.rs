//! The query service's read models as projections of the platform runtime: each
//! [`View`] is one [`platform::projection::Projection`] with its own checkpoints and
//! versions. [`Projections`] holds the stores and applies an event to one view (or, for
//! tests, to all of them).

use mongodb::bson::Document;
use platform::envelope::EventEnvelope;
use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Projection};

use super::events::{decode, DecodeError, ProjectedEvent};
use super::indexes;
use super::mongo;
use super::redis::StockLevels;
use crate::store::{ReadStore, ORDER_DETAILS, PRODUCT_LIST, STOCK_LEVELS, USER_PROFILE};

/// What an event did to one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The view already reflects this event (or a later one): nothing changed.
    AlreadyApplied,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// The event can never be applied.
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

impl From<ProjectionError> for ApplyError {
    fn from(err: ProjectionError) -> Self {
        match err {
            ProjectionError::Malformed(_) => ApplyError::Refused(err.to_string()),
            other => ApplyError::Unavailable(other.to_string()),
        }
    }
}

/// The read models of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    ProductList,
    StockLevels,
    OrderDetails,
    UserProfile,
}

impl View {
    pub const ALL: [View; 4] = [
        View::ProductList,
        View::StockLevels,
        View::OrderDetails,
        View::UserProfile,
    ];

    pub fn name(self) -> &'static str {
        match self {
            View::ProductList => PRODUCT_LIST,
            View::StockLevels => STOCK_LEVELS,
            View::OrderDetails => ORDER_DETAILS,
            View::UserProfile => USER_PROFILE,
        }
    }

    pub fn sources(self) -> &'static [&'static str] {
        match self {
            View::ProductList | View::StockLevels => &["inventory"],
            View::OrderDetails => &["order"],
            View::UserProfile => &["user"],
        }
    }
}

/// The stores the views live in.
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

    /// Applies `envelope` to `version` of every view it concerns; for tests and tools.
    pub async fn apply(
        &self,
        version: u32,
        envelope: &EventEnvelope,
    ) -> Result<Vec<Outcome>, ProjectionError> {
        let mut outcomes = Vec::new();
        for view in View::ALL {
            if view.sources().contains(&envelope.service.as_str()) {
                outcomes.extend(self.apply_view(view, version, envelope).await?);
            }
        }
        Ok(outcomes)
    }

    /// Applies `envelope` to `version` of `view`; `None` when the view takes no such
    /// event.
    pub async fn apply_view(
        &self,
        view: View,
        version: u32,
        envelope: &EventEnvelope,
    ) -> Result<Option<Outcome>, ProjectionError> {
        let store = &self.store;
        let outcome = match (view, decode(envelope)?) {
            (View::ProductList, ProjectedEvent::Product(event)) => {
                let products = store.collection::<Document>(PRODUCT_LIST, version);
                mongo::apply_product(&products, envelope, &event).await?
            }
            (View::StockLevels, ProjectedEvent::Product(event)) => {
                let key = store.stock_key(version, event.sku());
                let redis = &store.redis;
                self.stock_levels
                    .apply(redis, &key, envelope, &event)
                    .await?
            }
            (View::OrderDetails, ProjectedEvent::Order(event)) => {
                let orders = store.collection::<Document>(ORDER_DETAILS, version);
                mongo::apply_order(&orders, envelope, &event).await?
            }
            (View::UserProfile, ProjectedEvent::User(event)) => {
                let users = store.collection::<Document>(USER_PROFILE, version);
                mongo::apply_user(&users, envelope, &event).await?
            }
            _ => return Ok(None),
        };
        Ok(Some(outcome))
    }

    /// Removes `version` of `view`; a version newer than the current one is about to
    /// be rebuilt, so its indexes are created at once, before its first document.
    pub async fn reset_view(&self, view: View, version: u32) -> Result<(), ProjectionError> {
        if view == View::StockLevels {
            let pattern = self.store.stock_pattern(version);
            super::redis::delete_matching(&self.store.redis, &pattern).await?;
            return Ok(());
        }
        let collection = self.store.collection::<Document>(view.name(), version);
        collection.drop().await?;
        if version > self.store.current_version(view.name()).await? {
            indexes::ensure_for(&self.store.db, view.name(), version).await?;
        }
        Ok(())
    }
}

/// One view, as a projection of the runtime.
#[derive(Clone)]
pub struct ViewProjection {
    pub view: View,
    pub projections: Projections,
}

impl Projection for ViewProjection {
    fn name(&self) -> &'static str {
        self.view.name()
    }

    fn sources(&self) -> &'static [&'static str] {
        self.view.sources()
    }

    async fn apply(&self, version: u32, event: &FeedEvent) -> Result<(), ApplyError> {
        let outcome = self
            .projections
            .apply_view(self.view, version, &event.event)
            .await?;
        if outcome == Some(Outcome::AlreadyApplied) {
            tracing::debug!(view = self.view.name(), event_id = %event.event.event_id,
                "event already in the view");
        }
        Ok(())
    }

    async fn drop_version(&self, version: u32) -> Result<(), ApplyError> {
        Ok(self.projections.reset_view(self.view, version).await?)
    }
}
