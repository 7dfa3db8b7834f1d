//! The MongoDB views with one document per aggregate: `product_list` and the
//! `stock_levels` mirror (per sku), `order_details` and `order_history` (per order), and
//! `user_profile` (per user), each written into the collection of one version of the
//! view.
//!
//! Every document carries `version`, the sequence of the last event of its aggregate
//! applied to it. Each write is filtered on `version < sequence`, which makes it
//! idempotent: a redelivered (or older) event matches nothing. Where the event may
//! create the document, the write upserts; an upsert whose filter failed only because
//! the document is already newer collides on `_id`, and that duplicate-key error is
//! how "already applied" shows up.

use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::Collection;

use super::events::FeedEnvelope;
use super::events::{OrderEvent, OrderPlaced, ProductEvent, UserEvent, UserRegistered};
use super::Outcome;

const DUPLICATE_KEY: i32 = 11000;

/// Applies a product event to `product_list`. Every product event upserts, so stock
/// counters survive even if they were to arrive before the product's description.
pub async fn apply_product(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    event: &ProductEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let update = product_update(envelope, event);
    versioned_write(collection, envelope, update, true).await
}

fn product_update(envelope: &FeedEnvelope, event: &ProductEvent) -> Document {
    let mut set = doc! {
        "sku": event.sku(),
        "version": envelope.sequence,
        "updated_at": occurred_at(envelope),
    };
    match event {
        ProductEvent::ProductAdded(added) => {
            set.insert("name", &added.name);
            set.insert("category", &added.category);
            set.insert("price_cents", added.price_cents);
        }
        ProductEvent::ProductUpdated(updated) => {
            set.insert("category", &updated.category);
            set.insert("price_cents", updated.price_cents);
        }
        _ => {}
    }
    doc! {"$set": set, "$inc": stock_inc(event)}
}

/// The counters' moves; zeros still create the fields, so a new product reads "0".
fn stock_inc(event: &ProductEvent) -> Document {
    let delta = event.stock_delta();
    doc! {"available": delta.available, "reserved": delta.reserved, "sold": delta.sold}
}

/// Applies a product event to the MongoDB mirror of `stock_levels`: the same counters
/// as the Redis hash, per sku, for queries Redis cannot answer (the lowest stocks).
pub async fn apply_stock_mirror(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    event: &ProductEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let set = doc! {
        "sku": event.sku(),
        "version": envelope.sequence,
        "updated_at": occurred_at(envelope),
    };
    let update = doc! {"$set": set, "$inc": stock_inc(event)};
    versioned_write(collection, envelope, update, true).await
}

/// Applies an order event to `order_details` or `order_history` (the same document,
/// read by id or by customer). Only `OrderPlaced` creates the document:
/// a status change for an order never placed has nothing meaningful to update.
pub async fn apply_order(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    event: &OrderEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let (set, upsert) = match event {
        OrderEvent::OrderPlaced(placed) => (placed_fields(envelope, placed), true),
        OrderEvent::OrderConfirmed(_) => (doc! {"status": "confirmed"}, false),
        OrderEvent::OrderCancelled(cancelled) => {
            let fields = doc! {"status": "cancelled", "cancel_reason": &cancelled.reason};
            (fields, false)
        }
    };
    set_versioned(collection, envelope, set, upsert).await
}

/// Applies a user event to `user_profile`. Only `UserRegistered` creates the document,
/// as `OrderPlaced` does for orders.
pub async fn apply_user(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    event: &UserEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let (set, upsert) = match event {
        UserEvent::UserRegistered(registered) => (registered_fields(envelope, registered), true),
        UserEvent::ProfileUpdated(updated) => (doc! {"name": &updated.name}, false),
        UserEvent::UserDeactivated(_) => (doc! {"active": false}, false),
    };
    set_versioned(collection, envelope, set, upsert).await
}

fn registered_fields(envelope: &FeedEnvelope, registered: &UserRegistered) -> Document {
    doc! {
        "user_id": &registered.user_id,
        "email": &registered.email,
        "name": &registered.name,
        "active": true,
        "registered_at": occurred_at(envelope),
    }
}

/// `$set`s `set` plus `version` and `updated_at`; a write that may not create the
/// document and matches nothing is checked for a missing document.
pub(crate) async fn set_versioned(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    mut set: Document,
    upsert: bool,
) -> Result<Outcome, mongodb::error::Error> {
    set.insert("version", envelope.sequence);
    set.insert("updated_at", occurred_at(envelope));
    let outcome = versioned_write(collection, envelope, doc! {"$set": set}, upsert).await?;
    if outcome == Outcome::AlreadyApplied && !upsert {
        warn_if_missing(collection, envelope).await?;
    }
    Ok(outcome)
}

fn placed_fields(envelope: &FeedEnvelope, placed: &OrderPlaced) -> Document {
    let lines: Vec<Document> = placed
        .lines
        .iter()
        .map(|line| {
            doc! {
                "sku": &line.sku,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
        })
        .collect();
    doc! {
        "order_id": &placed.order_id,
        "customer_id": &placed.customer_id,
        "lines": lines,
        "total_cents": placed.total_cents,
        "status": "placed",
        "cancel_reason": Bson::Null,
        "placed_at": occurred_at(envelope),
    }
}

/// Matching nothing is normally a replay; for a change to an existing order or user it
/// may also mean the document was never projected (its creating event dead-lettered),
/// which an operator should hear about.
async fn warn_if_missing(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
) -> Result<(), mongodb::error::Error> {
    let found = collection
        .find_one(doc! {"_id": &envelope.aggregate_id})
        .await?;
    if found.is_none() {
        tracing::warn!(aggregate_type = %envelope.aggregate_type,
            aggregate_id = %envelope.aggregate_id, event_type = %envelope.event_type,
            "change to a document that was never projected; skipped");
    }
    Ok(())
}

pub(crate) async fn versioned_write(
    collection: &Collection<Document>,
    envelope: &FeedEnvelope,
    update: Document,
    upsert: bool,
) -> Result<Outcome, mongodb::error::Error> {
    let filter = doc! {"_id": &envelope.aggregate_id, "version": {"$lt": envelope.sequence}};
    match collection.update_one(filter, update).upsert(upsert).await {
        Ok(result) if result.matched_count > 0 || result.upserted_id.is_some() => {
            Ok(Outcome::Applied)
        }
        Ok(_) => Ok(Outcome::AlreadyApplied),
        Err(err) if is_duplicate_key(&err) => Ok(Outcome::AlreadyApplied),
        Err(err) => Err(err),
    }
}

/// True for MongoDB's duplicate-key error, whichever way the server reports it.
pub fn is_duplicate_key(err: &mongodb::error::Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(error)) => error.code == DUPLICATE_KEY,
        ErrorKind::Command(error) => error.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// The document's times are the event's, not the projector's clock, so rebuilding a
/// read model from the same events gives the same documents.
pub fn occurred_at(envelope: &FeedEnvelope) -> DateTime {
    DateTime::from_millis(envelope.occurred_at.timestamp_millis())
}
