//! The fulfilment invariants, read from the services' own event stores: every order
//! ends whole (confirmed, stock committed, payment captured) or undone (cancelled,
//! stock released or never reserved, no payment captured), with no effect applied
//! twice.

use sqlx::PgPool;

use crate::TestStack;

/// How one order ended, in each store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// The order's event types, oldest first.
    pub order: Vec<String>,
    /// The reservation's event types.
    pub reservation: Vec<String>,
    /// The payment's event types.
    pub payment: Vec<String>,
}

impl Ending {
    fn count(events: &[String], event_type: &str) -> usize {
        events.iter().filter(|e| *e == event_type).count()
    }

    fn last(events: &[String]) -> Option<&str> {
        events.last().map(String::as_str)
    }

    /// Money taken and kept.
    pub fn captured(&self) -> bool {
        Self::count(&self.payment, "PaymentCaptured")
            > Self::count(&self.payment, "PaymentRefunded")
    }

    /// Confirmed, committed, captured.
    pub fn completed(&self) -> bool {
        Self::last(&self.order) == Some("OrderConfirmed")
            && Self::last(&self.reservation) == Some("ReservationCommitted")
            && self.captured()
    }

    /// Cancelled, stock back (or never taken), no money kept.
    pub fn undone(&self) -> bool {
        Self::last(&self.order) == Some("OrderCancelled")
            && matches!(Self::last(&self.reservation), None | Some("StockReleased"))
            && !self.captured()
    }

    /// No effect was applied twice.
    pub fn applied_once(&self) -> bool {
        ["PaymentCaptured", "PaymentRefunded", "PaymentVoided"]
            .iter()
            .all(|e| Self::count(&self.payment, e) <= 1)
            && ["StockReserved", "StockReleased", "ReservationCommitted"]
                .iter()
                .all(|e| Self::count(&self.reservation, e) <= 1)
            && ["OrderConfirmed", "OrderCancelled"]
                .iter()
                .all(|e| Self::count(&self.order, e) <= 1)
    }
}

async fn event_types(url: &str, aggregate_type: &str, id: &str) -> anyhow::Result<Vec<String>> {
    let pool = PgPool::connect(url).await?;
    let types = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
         ORDER BY sequence",
    )
    .bind(aggregate_type)
    .bind(id)
    .fetch_all(&pool)
    .await;
    pool.close().await;
    Ok(types?)
}

impl TestStack {
    /// How `order_id` ended in the order, inventory and payment stores.
    pub async fn ending(&mut self, order_id: &str) -> anyhow::Result<Ending> {
        let payment_url = self.payment_database().await?;
        Ok(Ending {
            order: event_types(&self.order_database_url, "Order", order_id).await?,
            reservation: event_types(&self.inventory_database_url, "Reservation", order_id).await?,
            payment: event_types(&payment_url, "Payment", order_id).await?,
        })
    }

    /// Asserts that `order_id` ended whole or undone, each effect once; returns whether
    /// it completed.
    pub async fn assert_whole_or_undone(&mut self, order_id: &str) -> anyhow::Result<bool> {
        let ending = self.ending(order_id).await?;
        anyhow::ensure!(
            ending.completed() != ending.undone(),
            "order {order_id} is neither completed nor undone: {ending:?}"
        );
        anyhow::ensure!(
            ending.applied_once(),
            "order {order_id}: an effect applied twice: {ending:?}"
        );
        Ok(ending.completed())
    }
}
