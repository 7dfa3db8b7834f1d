//! The query service's read models as projections of the platform runtime: each
//! [`View`] is one [`platform::projection::Projection`] with its own checkpoints and
//! versions. [`Projections`] holds the stores, decodes an event and hands it to the
//! views that take it (to one, for a runner; to all, for tests).

use mongodb::bson::Document;
use platform::envelope::EventEnvelope;
use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Projection};
use platform::store::Cursor;

use super::events::{
    decode, DecodeError, NotificationEvent, OrderEvent, ProductEvent, ProjectedEvent, UserEvent,
};
use super::guard::{either, Applying};
use super::redis::StockLevels;
use super::redis_orders::ScriptCall;
use super::view::View;
use super::{activity, categories, indexes, mongo, notifications, payments, redis_orders, users};
use crate::store::{ReadStore, PRODUCT_LIST, STOCK_LEVELS, USER_PROFILE};

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
    /// Its `global_position` stands for its place in its feed, so the events of one
    /// source must be applied in that order (as a runner applies a feed).
    pub async fn apply(
        &self,
        version: u32,
        envelope: &EventEnvelope,
    ) -> Result<Vec<Outcome>, ProjectionError> {
        let cursor = Cursor {
            tx_id: 0,
            position: envelope.global_position,
        };
        let mut outcomes = Vec::new();
        for view in View::ALL {
            if view.sources().contains(&envelope.service.as_str()) {
                outcomes.extend(self.apply_view(view, version, envelope, cursor).await?);
            }
        }
        Ok(outcomes)
    }

    /// Applies `envelope`, found at `cursor` in its feed, to `version` of `view`;
    /// `None` when the view takes no such event.
    pub async fn apply_view(
        &self,
        view: View,
        version: u32,
        envelope: &EventEnvelope,
        cursor: Cursor,
    ) -> Result<Option<Outcome>, ProjectionError> {
        let event = Applying {
            store: &self.store,
            version,
            envelope,
            cursor,
        };
        match decode(envelope)? {
            ProjectedEvent::Product(product) => self.product_view(view, &event, &product).await,
            ProjectedEvent::Order(order) => self.order_view(view, &event, &order).await,
            ProjectedEvent::User(user) => user_view(view, &event, &user).await,
            ProjectedEvent::Payment(payment) => match view {
                View::PaymentInfo => Ok(Some(payments::apply(&event, &payment).await?)),
                _ => Ok(None),
            },
            ProjectedEvent::Notification(sent) => notification_view(view, &event, &sent).await,
            ProjectedEvent::Ignored => Ok(None),
        }
    }

    async fn product_view(
        &self,
        view: View,
        event: &Applying<'_>,
        product: &ProductEvent,
    ) -> Result<Option<Outcome>, ProjectionError> {
        let outcome = match view {
            View::ProductList => {
                let products = event.collection(PRODUCT_LIST);
                mongo::apply_product(&products, event.envelope, product).await?
            }
            View::StockLevels => self.stock(event, product).await?,
            View::CategoryTree => categories::apply(event, product).await?,
            _ => return Ok(None),
        };
        Ok(Some(outcome))
    }

    /// The Redis hash, then its MongoDB mirror: each versioned by the product's
    /// sequence, so a crash between the two is mended by the page applied again.
    async fn stock(
        &self,
        event: &Applying<'_>,
        product: &ProductEvent,
    ) -> Result<Outcome, ProjectionError> {
        let key = self.store.stock_key(event.version, product.sku());
        let redis = &self.store.redis;
        let hash = self
            .stock_levels
            .apply(redis, &key, event.envelope, product)
            .await?;
        let mirror = event.collection(STOCK_LEVELS);
        let document = mongo::apply_stock_mirror(&mirror, event.envelope, product).await?;
        Ok(either([hash, document]))
    }

    async fn order_view(
        &self,
        view: View,
        event: &Applying<'_>,
        order: &OrderEvent,
    ) -> Result<Option<Outcome>, ProjectionError> {
        let (store, version, envelope) = (&self.store, event.version, event.envelope);
        let outcome = match view {
            View::OrderDetails | View::OrderHistory => {
                let orders = event.collection(view.name());
                mongo::apply_order(&orders, envelope, order).await?
            }
            View::OrderStatus | View::BestSellers | View::RecentOrders => {
                let Some(call) = self.order_call(view, version, envelope, order) else {
                    return Ok(None);
                };
                call.run(&store.redis).await?
            }
            View::UserSummary => users::apply_order(event, order).await?,
            View::UserActivity => activity::apply_order(event, order).await?,
            _ => return Ok(None),
        };
        Ok(Some(outcome))
    }

    /// The script call of a view kept in Redis alone for `order`; `None` when the view
    /// takes no such event, or is not one of them.
    fn order_call(
        &self,
        view: View,
        version: u32,
        envelope: &EventEnvelope,
        order: &OrderEvent,
    ) -> Option<ScriptCall> {
        let (store, order_id) = (&self.store, order.order_id());
        match (view, order) {
            (View::OrderStatus, _) => {
                let key = store.order_status_key(version, order_id);
                Some(redis_orders::status_call(&key, envelope, order))
            }
            (View::BestSellers, _) => {
                let ranking = store.best_sellers_key(version);
                let memo = store.best_sellers_order_key(version, order_id);
                Some(redis_orders::best_sellers_call(
                    (&ranking, &memo),
                    envelope,
                    order,
                ))
            }
            (View::RecentOrders, OrderEvent::OrderPlaced(placed)) => {
                let key = store.recent_orders_key(version, &placed.customer_id);
                redis_orders::recent_call(&key, envelope, order)
            }
            _ => None,
        }
    }

    /// Applies a page to a view kept in Redis alone, in one pipeline (a replay then
    /// costs a round trip per page); `Ok(false)` for the other views.
    pub async fn apply_redis_page(
        &self,
        view: View,
        version: u32,
        events: &[FeedEvent],
    ) -> Result<bool, ProjectionError> {
        if !matches!(
            view,
            View::OrderStatus | View::BestSellers | View::RecentOrders
        ) {
            return Ok(false);
        }
        let mut calls = Vec::with_capacity(events.len());
        for event in events {
            if let ProjectedEvent::Order(order) = decode(&event.event)? {
                calls.extend(self.order_call(view, version, &event.event, &order));
            }
        }
        if !calls.is_empty() {
            redis_orders::run_pipelined(&self.store.redis, &calls).await?;
        }
        Ok(true)
    }

    /// Removes `version` of `view`: its collections and its Redis keys. A version newer
    /// than the current one is about to be rebuilt, so its indexes are created at once,
    /// before its first document.
    pub async fn reset_view(&self, view: View, version: u32) -> Result<(), ProjectionError> {
        if view.in_redis() {
            let pattern = self.store.view_pattern(version, view.name());
            super::redis::delete_matching(&self.store.redis, &pattern).await?;
        }
        if view.collections().is_empty() {
            return Ok(());
        }
        let rebuilding = version > self.store.current_version(view.name()).await?;
        for name in view.collections() {
            self.store
                .collection::<Document>(name, version)
                .drop()
                .await?;
            if rebuilding {
                indexes::ensure_for(&self.store.db, name, version).await?;
            }
        }
        Ok(())
    }
}

async fn user_view(
    view: View,
    event: &Applying<'_>,
    user: &UserEvent,
) -> Result<Option<Outcome>, ProjectionError> {
    let outcome = match view {
        View::UserProfile => {
            let users = event.collection(USER_PROFILE);
            mongo::apply_user(&users, event.envelope, user).await?
        }
        View::UserSummary => users::apply_user(event, user).await?,
        View::UserActivity => activity::apply_user(event, user).await?,
        _ => return Ok(None),
    };
    Ok(Some(outcome))
}

async fn notification_view(
    view: View,
    event: &Applying<'_>,
    notification: &NotificationEvent,
) -> Result<Option<Outcome>, ProjectionError> {
    let outcome = match view {
        View::DeliveryStatus => notifications::apply_delivery(event, notification).await?,
        View::TemplateUsage => notifications::TEMPLATES.apply(event, notification).await?,
        View::ChannelPerformance => notifications::CHANNELS.apply(event, notification).await?,
        _ => return Ok(None),
    };
    Ok(Some(outcome))
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
            .apply_view(self.view, version, &event.event, event.cursor)
            .await?;
        if outcome == Some(Outcome::AlreadyApplied) {
            tracing::debug!(view = self.view.name(), event_id = %event.event.event_id,
                "event already in the view");
        }
        Ok(())
    }

    async fn apply_batch(&self, version: u32, events: &[FeedEvent]) -> Result<bool, ApplyError> {
        Ok(self
            .projections
            .apply_redis_page(self.view, version, events)
            .await?)
    }

    async fn drop_version(&self, version: u32) -> Result<(), ApplyError> {
        Ok(self.projections.reset_view(self.view, version).await?)
    }
}
