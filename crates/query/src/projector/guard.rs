//! What makes the views idempotent when a document sums up many aggregates.
//!
//! A per-aggregate document (an order, a payment) keeps the sequence of the last event of
//! its aggregate it took (`version < sequence`, see [`super::mongo`]). A document that
//! adds up events of many aggregates (a category, a template, a user's counters) cannot:
//! its events have unrelated sequences. It keeps instead, per source feed, the position
//! of the last event of that feed it took (`cursors.<source>`), and each change is one
//! update filtered on that position being older ([`apply_once`]): the check and the change
//! are one atomic write. It works because a runner applies each feed in commit order,
//! and a page applied again after a crash is the same events in the same order.
//!
//! Such a view also needs to remember something of each aggregate it adds up (which
//! template a notification used, what an order counted before it was cancelled): its
//! memo, a collection of its own, one document per aggregate, versioned by sequence like
//! any per-aggregate document. The memo is written last: once it holds an event, every
//! write of that event is done ([`Memo::done`]), and until then each write is guarded.

use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;
use platform::store::Cursor;
use serde::de::DeserializeOwned;

use super::events::FeedEnvelope;
use super::mongo::{is_duplicate_key, occurred_at, set_versioned};
use super::Outcome;
use crate::store::ReadStore;

/// One event on its way into one version of one view.
#[derive(Clone, Copy)]
pub struct Applying<'a> {
    pub store: &'a ReadStore,
    pub version: u32,
    pub envelope: &'a FeedEnvelope,
    /// Where the event lies in its service's feed.
    pub cursor: Cursor,
}

impl Applying<'_> {
    /// `version` of the MongoDB collection `name`.
    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.store.collection(name, self.version)
    }

    /// The event's source service.
    pub fn source(&self) -> &str {
        &self.envelope.service
    }

    pub fn sequence(&self) -> i64 {
        self.envelope.sequence
    }

    /// When the event happened, as BSON.
    pub fn at(&self) -> mongodb::bson::DateTime {
        occurred_at(self.envelope)
    }
}

/// A feed position as a string that sorts as the cursor does (`tx_id`, then position):
/// one comparable value, so the guard is one plain filter.
pub fn cursor_key(cursor: Cursor) -> String {
    format!("{:020}/{:020}", cursor.tx_id.max(0), cursor.position.max(0))
}

/// Applies `update` to the document `id` of `collection` unless it already took an
/// event of the same feed at or after this one; records the event's position in the
/// same write. With `upsert`, a missing document is created.
pub async fn apply_once(
    collection: &Collection<Document>,
    id: &str,
    event: &Applying<'_>,
    mut update: Document,
    upsert: bool,
) -> Result<Outcome, mongodb::error::Error> {
    let field = format!("cursors.{}", event.source());
    let key = cursor_key(event.cursor);
    // `$not: {$gte}` also matches a document that never took an event of this feed.
    let filter = doc! {"_id": id, &field: {"$not": {"$gte": &key}}};
    set_field(&mut update, &field, Bson::String(key));
    let mut max = doc! {"updated_at": event.at()};
    if let Ok(given) = update.get_document("$max") {
        max.extend(given.clone());
    }
    update.insert("$max", max);
    match collection.update_one(filter, update).upsert(upsert).await {
        Ok(done) if done.matched_count > 0 || done.upserted_id.is_some() => Ok(Outcome::Applied),
        Ok(_) => Ok(Outcome::AlreadyApplied),
        // The document exists but took this event already: the upsert's insert collides.
        Err(err) if is_duplicate_key(&err) => Ok(Outcome::AlreadyApplied),
        Err(err) => Err(err),
    }
}

/// Adds `field: value` to the update's `$set`.
fn set_field(update: &mut Document, field: &str, value: Bson) {
    match update.get_document_mut("$set") {
        Ok(set) => {
            set.insert(field, value);
        }
        Err(_) => {
            update.insert("$set", doc! {field: value});
        }
    }
}

/// A view's memo collection: one document per aggregate (`_id` the aggregate id).
pub struct Memo {
    collection: Collection<Document>,
}

impl Memo {
    pub fn of(event: &Applying<'_>, name: &str) -> Self {
        Self {
            collection: event.collection(name),
        }
    }

    /// What the memo holds about `id`, read as `T`; `None` when nothing (or nothing
    /// readable: a memo of an older shape is as good as none, and logged).
    pub async fn get<T: DeserializeOwned>(
        &self,
        id: &str,
    ) -> Result<Option<(T, i64)>, mongodb::error::Error> {
        let Some(found) = self.collection.find_one(doc! {"_id": id}).await? else {
            return Ok(None);
        };
        let version = found.get_i64("version").unwrap_or(0);
        match mongodb::bson::from_document::<T>(found) {
            Ok(memo) => Ok(Some((memo, version))),
            Err(err) => {
                tracing::warn!(%id, error = %err, "unreadable memo ignored");
                Ok(None)
            }
        }
    }

    /// Whether the memo already took `event`, and so did every write of it.
    pub fn done(version: i64, event: &Applying<'_>) -> bool {
        version >= event.sequence()
    }

    /// Records `fields` about the event's aggregate as of the event's sequence: the
    /// last write of an event.
    pub async fn save(
        &self,
        event: &Applying<'_>,
        fields: Document,
    ) -> Result<Outcome, mongodb::error::Error> {
        set_versioned(&self.collection, event.envelope, fields, true).await
    }

    /// Records `fields` about `id` once, never changing them (a notification's template).
    pub async fn remember(&self, id: &str, fields: Document) -> Result<(), mongodb::error::Error> {
        let update = doc! {"$setOnInsert": fields};
        self.collection
            .update_one(doc! {"_id": id}, update)
            .upsert(true)
            .await
            .map(|_| ())
    }
}

/// The combined outcome of an event's writes: applied if any of them changed something.
pub fn either(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
    if outcomes.into_iter().any(|o| o == Outcome::Applied) {
        Outcome::Applied
    } else {
        Outcome::AlreadyApplied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_keys_sort_as_cursors_do() {
        let cursors = [(1, 900), (2, 3), (2, 40), (10, 1), (741, 2)];
        let keys: Vec<String> = cursors
            .iter()
            .map(|&(tx_id, position)| cursor_key(Cursor { tx_id, position }))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn a_set_is_added_to_or_merged_into() {
        let mut update = doc! {"$inc": {"sent": 1}};
        set_field(&mut update, "cursors.order", Bson::String("k".into()));
        assert_eq!(
            update,
            doc! {"$inc": {"sent": 1}, "$set": {"cursors.order": "k"}}
        );
        set_field(&mut update, "name", Bson::String("n".into()));
        assert_eq!(
            update.get_document("$set").map(Document::len),
            Ok(2),
            "{update}"
        );
    }
}
