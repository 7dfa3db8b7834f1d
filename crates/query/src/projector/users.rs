//! The MongoDB view `user_summary`: one document per user (`_id` the user id) with the
//! profile (`name`, `email`, `active`, `registered_at`) from the user feed, and the
//! order counters from the order feed: `orders_placed` (every order), `orders_confirmed`
//! (confirmed and still standing), `orders_cancelled` (cancelled, also after their
//! confirmation) and `total_spent_cents` (the total of the standing confirmed ones).
//!
//! The two feeds are read one after the other, so an order may be applied before the
//! registration of its customer, or the other way round: the profile fields and the
//! counters never touch each other, so the document ends the same. The profile is
//! versioned by the user's sequence (`profile_version`); the counters are guarded by
//! the order feed's position, and the memo (`user_summary_orders`) remembers what each
//! order counts for (its customer, total and status), since `OrderConfirmed` and
//! `OrderCancelled` carry only the order id.

use mongodb::bson::{doc, Document};
use serde::Deserialize;

use super::events::{OrderEvent, UserEvent};
use super::guard::{apply_once, either, Applying, Memo};
use super::mongo::is_duplicate_key;
use super::Outcome;
use crate::store::{USER_SUMMARY, USER_SUMMARY_ORDERS};

/// What the memo remembers of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct OrderMemo {
    pub customer_id: String,
    pub total_cents: i64,
    /// Empty before the order was placed.
    #[serde(default)]
    pub status: String,
}

/// What one order adds to its customer's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contribution {
    pub placed: i64,
    pub confirmed: i64,
    pub cancelled: i64,
    pub spent_cents: i64,
}

impl OrderMemo {
    /// The counters this order accounts for in its status.
    pub fn contribution(&self) -> Contribution {
        let is = |status: &str| i64::from(self.status == status);
        Contribution {
            placed: i64::from(!self.status.is_empty()),
            confirmed: is("confirmed"),
            cancelled: is("cancelled"),
            spent_cents: is("confirmed") * self.total_cents,
        }
    }

    /// The memo once `event` is applied; `None` for a change to an order never placed
    /// (its `OrderPlaced` was parked): there is no customer to count it for.
    pub fn after(&self, event: &OrderEvent) -> Option<OrderMemo> {
        let mut next = match event {
            OrderEvent::OrderPlaced(placed) => OrderMemo {
                customer_id: placed.customer_id.clone(),
                total_cents: placed.total_cents,
                status: String::new(),
            },
            _ if self.status.is_empty() => return None,
            _ => self.clone(),
        };
        next.status = event.status().to_string();
        Some(next)
    }
}

impl Contribution {
    /// `self - before`, as `$inc` counters.
    pub fn minus(self, before: Contribution) -> Document {
        doc! {
            "orders_placed": self.placed - before.placed,
            "orders_confirmed": self.confirmed - before.confirmed,
            "orders_cancelled": self.cancelled - before.cancelled,
            "total_spent_cents": self.spent_cents - before.spent_cents,
        }
    }
}

/// Applies a user event to the profile fields of `user_summary`.
pub async fn apply_user(
    event: &Applying<'_>,
    user: &UserEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let mut set = match user {
        UserEvent::UserRegistered(registered) => doc! {
            "email": &registered.email, "name": &registered.name, "active": true,
            "registered_at": event.at(),
        },
        UserEvent::ProfileUpdated(updated) => doc! {"name": &updated.name},
        UserEvent::UserDeactivated(_) => doc! {"active": false},
    };
    set.insert("user_id", user.user_id());
    set.insert("profile_version", event.sequence());
    let zero = Contribution::default().minus(Contribution::default());
    let update = doc! {"$set": set, "$setOnInsert": zero, "$max": {"updated_at": event.at()}};
    // `$not: {$gte}` also matches a summary the order feed created, with no profile yet.
    let filter =
        doc! {"_id": user.user_id(), "profile_version": {"$not": {"$gte": event.sequence()}}};
    let summaries = event.collection(USER_SUMMARY);
    match summaries.update_one(filter, update).upsert(true).await {
        Ok(_) => Ok(Outcome::Applied),
        Err(err) if is_duplicate_key(&err) => Ok(Outcome::AlreadyApplied),
        Err(err) => Err(err),
    }
}

/// Applies an order event to the counters of its customer's `user_summary`.
pub async fn apply_order(
    event: &Applying<'_>,
    order: &OrderEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let memo = Memo::of(event, USER_SUMMARY_ORDERS);
    let (before, version) = memo
        .get::<OrderMemo>(order.order_id())
        .await?
        .unwrap_or_default();
    if Memo::done(version, event) {
        return Ok(Outcome::AlreadyApplied);
    }
    let Some(after) = before.after(order) else {
        tracing::warn!(
            order_id = order.order_id(),
            "change to an order never placed; skipped"
        );
        return Ok(Outcome::AlreadyApplied);
    };
    let inc = after.contribution().minus(before.contribution());
    let update = doc! {"$inc": inc, "$set": {"user_id": &after.customer_id}};
    let summaries = event.collection(USER_SUMMARY);
    let counted = apply_once(&summaries, &after.customer_id, event, update, true).await?;
    let fields = doc! {
        "customer_id": &after.customer_id, "total_cents": after.total_cents, "status": &after.status,
    };
    let remembered = memo.save(event, fields).await?;
    Ok(either([counted, remembered]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projector::events::{OrderCancelled, OrderConfirmed, OrderPlaced};

    fn placed() -> OrderEvent {
        OrderEvent::OrderPlaced(OrderPlaced {
            order_id: "o".into(),
            customer_id: "c".into(),
            lines: Vec::new(),
            total_cents: 700,
        })
    }

    fn cancelled() -> OrderEvent {
        OrderEvent::OrderCancelled(OrderCancelled {
            order_id: "o".into(),
            reason: "r".into(),
        })
    }

    #[test]
    fn a_cancellation_after_confirmation_takes_the_money_back() {
        let confirmed = OrderEvent::OrderConfirmed(OrderConfirmed {
            order_id: "o".into(),
        });
        let new = OrderMemo::default();
        let was_placed = new.after(&placed()).expect("placed");
        let was_confirmed = was_placed.after(&confirmed).expect("confirmed");
        assert_eq!(
            was_confirmed
                .contribution()
                .minus(was_placed.contribution()),
            doc! {"orders_placed": 0_i64, "orders_confirmed": 1_i64, "orders_cancelled": 0_i64,
            "total_spent_cents": 700_i64}
        );
        let was_cancelled = was_confirmed.after(&cancelled()).expect("cancelled");
        assert_eq!(
            was_cancelled
                .contribution()
                .minus(was_confirmed.contribution()),
            doc! {"orders_placed": 0_i64, "orders_confirmed": -1_i64, "orders_cancelled": 1_i64,
            "total_spent_cents": -700_i64}
        );
    }

    #[test]
    fn a_change_to_an_order_never_placed_counts_nothing() {
        assert_eq!(OrderMemo::default().after(&cancelled()), None);
    }
}
