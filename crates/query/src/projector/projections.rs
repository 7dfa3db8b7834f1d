//! The query service's read models as projections of the platform runtime: each
//! [`View`] is one [`platform::projection::Projection`] with its own checkpoints and
//! versions. [`Projections`] holds the stores, decodes an event and hands it to the
//! views that take it (to one, for a runner; to all, for tests).

use std::collections::HashMap;

use mongodb::bson::Document;
use platform::envelope::EventEnvelope;
use platform::feed::FeedEvent;
use platform::payload::{Payload, RawPayload};
use platform::projection::{ApplyError, Projection};
use platform::store::Cursor;

use super::events::FeedEnvelope;
use super::events::{
    decode, DecodeError, NotificationEvent, OrderEvent, ProductEvent, ProjectedEvent, UserEvent,
};
use super::guard::{either, Applying};
use super::redis::StockLevels;
use super::redis_orders::{OrderSummary, ScriptCall, ORDERS_PER_CALL};
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
    /// source must be applied in that order (as a runner applies a feed). Its payload
    /// goes in as text, as a feed sends it.
    pub async fn apply(
        &self,
        version: u32,
        envelope: &EventEnvelope,
    ) -> Result<Vec<Outcome>, ProjectionError> {
        let envelope = &envelope.clone().map_payload(RawPayload::from_value);
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
        envelope: &FeedEnvelope,
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
                let summary = OrderSummary::of(envelope, order);
                let calls = self.order_calls(view, version, &[summary]);
                let Some(call) = calls.first() else {
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

    /// The script calls of a view kept in Redis alone for `orders` (summaries of
    /// distinct orders), [`ORDERS_PER_CALL`] orders or customers a call; none for the
    /// other views.
    fn order_calls(
        &self,
        view: View,
        version: u32,
        orders: &[OrderSummary<'_>],
    ) -> Vec<ScriptCall> {
        let store = &self.store;
        let keyed = |key: &dyn Fn(&str) -> String| -> Vec<(String, &OrderSummary<'_>)> {
            orders.iter().map(|o| (key(o.order_id), o)).collect()
        };
        match view {
            View::OrderStatus => keyed(&|id| store.order_status_key(version, id))
                .chunks(ORDERS_PER_CALL)
                .map(redis_orders::status_call)
                .collect(),
            View::BestSellers => {
                let ranking = store.best_sellers_key(version);
                keyed(&|id| store.best_sellers_order_key(version, id))
                    .chunks(ORDERS_PER_CALL)
                    .map(|chunk| redis_orders::best_sellers_call(&ranking, chunk))
                    .collect()
            }
            View::RecentOrders => self
                .recent_orders_by_customer(version, orders)
                .chunks(ORDERS_PER_CALL)
                .map(redis_orders::recent_call)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The orders placed among `orders`, by the `recent_orders` key of their customer.
    fn recent_orders_by_customer<'o>(
        &self,
        version: u32,
        orders: &'o [OrderSummary<'_>],
    ) -> Vec<(String, Vec<(&'o str, i64)>)> {
        let mut by_customer: Vec<(&str, Vec<(&str, i64)>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for order in orders {
            let Some((placed, placed_at)) = order.placed else {
                continue;
            };
            let customer = placed.customer_id.as_str();
            let at = *index.entry(customer).or_insert_with(|| {
                by_customer.push((customer, Vec::new()));
                by_customer.len() - 1
            });
            by_customer[at]
                .1
                .push((placed.order_id.as_str(), placed_at));
        }
        by_customer
            .into_iter()
            .map(|(customer, placed)| (self.store.recent_orders_key(version, customer), placed))
            .collect()
    }

    /// Applies a page to a view kept in Redis alone, in one pipeline of calls that each
    /// take up to [`ORDERS_PER_CALL`] of the orders (or customers) it concerns, one step
    /// per order however many of its events the page holds: a replay then costs a round
    /// trip per page and a few script calls. `Ok(false)` for
    /// the other views.
    pub async fn apply_redis_page(
        &self,
        view: View,
        version: u32,
        events: &[FeedEvent],
    ) -> Result<bool, ProjectionError> {
        if !view.in_redis_alone() {
            return Ok(false);
        }
        let mut orders = Vec::with_capacity(events.len());
        for event in events {
            if let ProjectedEvent::Order(order) = decode(&event.event)? {
                orders.push((&event.event, order));
            }
        }
        let summaries = redis_orders::summarize(orders.iter().map(|(e, o)| (*e, o)));
        let calls = self.order_calls(view, version, &summaries);
        if !calls.is_empty() {
            redis_orders::run_pipelined(&self.store.redis, calls).await?;
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
