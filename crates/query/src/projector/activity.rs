//! The MongoDB view `user_activity`: one document per user event and per order event
//! of that user (`_id` the event id): `user_id`, `kind` (`user_registered`,
//! `profile_updated`, `user_deactivated`, `order_placed`, `order_confirmed`,
//! `order_cancelled`), `at` (when it happened), `details` (what it said) and, for an
//! order's events, `order_id`.
//!
//! Each event is its own document, inserted once (an upsert that only sets on insert),
//! so applying it again changes nothing and the two feeds may come in any order. Only
//! `OrderPlaced` names the customer: the later events of an order find it on the
//! order's `order_placed` document, which the same (order) feed wrote before them.

use mongodb::bson::{doc, Document};
use mongodb::Collection;

use super::events::{OrderEvent, UserEvent};
use super::guard::Applying;
use super::Outcome;
use crate::store::USER_ACTIVITY;

/// The activity kind of a user event and what it said.
fn user_entry(user: &UserEvent) -> (&'static str, Document) {
    match user {
        UserEvent::UserRegistered(registered) => (
            "user_registered",
            doc! {"email": &registered.email, "name": &registered.name},
        ),
        UserEvent::ProfileUpdated(updated) => ("profile_updated", doc! {"name": &updated.name}),
        UserEvent::UserDeactivated(_) => ("user_deactivated", Document::new()),
    }
}

/// The activity kind of an order event and what it said.
fn order_entry(order: &OrderEvent) -> (&'static str, Document) {
    match order {
        OrderEvent::OrderPlaced(placed) => {
            let units: i64 = placed.lines.iter().map(|line| line.quantity).sum();
            let details = doc! {"order_id": &placed.order_id, "total_cents": placed.total_cents,
            "lines": placed.lines.len() as i64, "units": units};
            ("order_placed", details)
        }
        OrderEvent::OrderConfirmed(confirmed) => {
            ("order_confirmed", doc! {"order_id": &confirmed.order_id})
        }
        OrderEvent::OrderCancelled(cancelled) => (
            "order_cancelled",
            doc! {"order_id": &cancelled.order_id, "reason": &cancelled.reason},
        ),
    }
}

/// Records a user event in its user's activity.
pub async fn apply_user(
    event: &Applying<'_>,
    user: &UserEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let (kind, details) = user_entry(user);
    let entry = doc! {"user_id": user.user_id(), "kind": kind, "details": details};
    insert_once(&event.collection(USER_ACTIVITY), event, entry).await
}

/// Records an order event in its customer's activity.
pub async fn apply_order(
    event: &Applying<'_>,
    order: &OrderEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let activity = event.collection(USER_ACTIVITY);
    let customer = match order {
        OrderEvent::OrderPlaced(placed) => Some(placed.customer_id.clone()),
        _ => customer_of(&activity, order.order_id()).await?,
    };
    let Some(customer) = customer else {
        tracing::warn!(
            order_id = order.order_id(),
            "change to an order never placed; skipped"
        );
        return Ok(Outcome::AlreadyApplied);
    };
    let (kind, details) = order_entry(order);
    let entry = doc! {"user_id": customer, "kind": kind, "order_id": order.order_id(),
    "details": details};
    insert_once(&activity, event, entry).await
}

/// The customer of an order, from its `order_placed` entry (index `order_kind`).
async fn customer_of(
    activity: &Collection<Document>,
    order_id: &str,
) -> Result<Option<String>, mongodb::error::Error> {
    let placed = activity
        .find_one(doc! {"order_id": order_id, "kind": "order_placed"})
        .await?;
    Ok(placed.and_then(|entry| entry.get_str("user_id").ok().map(str::to_string)))
}

/// Inserts the event's entry unless it is there already.
async fn insert_once(
    activity: &Collection<Document>,
    event: &Applying<'_>,
    mut entry: Document,
) -> Result<Outcome, mongodb::error::Error> {
    entry.insert("at", event.at());
    entry.insert("source", event.source());
    entry.insert("sequence", event.sequence());
    let id = event.envelope.event_id.to_string();
    let written = activity
        .update_one(doc! {"_id": &id}, doc! {"$setOnInsert": entry})
        .upsert(true)
        .await?;
    Ok(if written.upserted_id.is_some() {
        Outcome::Applied
    } else {
        Outcome::AlreadyApplied
    })
}
