//! The projections' bookkeeping. [`ViewBook`] keeps each view's books where the view
//! lives: in Redis for the views kept in Redis alone ([`super::redis_book`]), else in
//! MongoDB ([`MongoBook`]), beside the views it describes:
//! - `projection_checkpoints`: `{_id: "<projection>/v<version>/<source>", tx_id, position}`,
//!   the cursor of the last event of that source applied to that version;
//! - `projection_versions`: `{_id: "<projection>", current}`, the version queries read;
//!   promoting a version is this one document's update, so the swap is atomic;
//! - `parked_events`: events a projection gave up on, with their error, for an operator.

use mongodb::bson::{doc, DateTime, Document};
use mongodb::Collection;
use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Bookkeeping};
use platform::store::Cursor;

use super::redis_book::RedisBook;
use super::view::View;
use crate::store::{ReadStore, CHECKPOINTS, PARKED, VERSIONS};

/// The bookkeeping of every view of the service, each in its own store.
#[derive(Clone)]
pub struct ViewBook {
    mongo: MongoBook,
    redis: RedisBook,
}

impl ViewBook {
    pub fn new(store: ReadStore) -> Self {
        Self {
            mongo: MongoBook::new(store.clone()),
            redis: RedisBook::new(store),
        }
    }
}

/// Whether `projection` keeps its books in Redis.
fn in_redis(projection: &str) -> bool {
    View::named(projection).is_some_and(View::in_redis_alone)
}

impl Bookkeeping for ViewBook {
    async fn checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
    ) -> Result<Cursor, ApplyError> {
        match in_redis(projection) {
            true => self.redis.checkpoint(projection, version, source).await,
            false => self.mongo.checkpoint(projection, version, source).await,
        }
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> Result<(), ApplyError> {
        match in_redis(projection) {
            true => {
                self.redis
                    .save_checkpoint(projection, version, source, cursor)
                    .await
            }
            false => {
                self.mongo
                    .save_checkpoint(projection, version, source, cursor)
                    .await
            }
        }
    }

    async fn clear_checkpoints(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        match in_redis(projection) {
            true => self.redis.clear_checkpoints(projection, version).await,
            false => self.mongo.clear_checkpoints(projection, version).await,
        }
    }

    async fn park(
        &self,
        projection: &str,
        version: u32,
        event: &FeedEvent,
        error: &str,
    ) -> Result<(), ApplyError> {
        self.mongo.park(projection, version, event, error).await
    }

    async fn current_version(&self, projection: &str) -> Result<u32, ApplyError> {
        match in_redis(projection) {
            true => self.redis.current_version(projection).await,
            false => self.mongo.current_version(projection).await,
        }
    }

    async fn promote(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        match in_redis(projection) {
            true => self.redis.promote(projection, version).await,
            false => self.mongo.promote(projection, version).await,
        }
    }
}

/// [`Bookkeeping`] in the read store's MongoDB database.
#[derive(Clone)]
pub struct MongoBook {
    store: ReadStore,
}

pub(crate) fn unavailable(err: mongodb::error::Error) -> ApplyError {
    ApplyError::Unavailable(err.to_string())
}

fn checkpoint_id(projection: &str, version: u32, source: &str) -> String {
    format!("{projection}/v{version}/{source}")
}

impl MongoBook {
    pub fn new(store: ReadStore) -> Self {
        Self { store }
    }

    fn collection(&self, name: &str) -> Collection<Document> {
        self.store.db.collection(name)
    }
}

impl Bookkeeping for MongoBook {
    async fn checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
    ) -> Result<Cursor, ApplyError> {
        let id = checkpoint_id(projection, version, source);
        let found = self
            .collection(CHECKPOINTS)
            .find_one(doc! {"_id": id})
            .await
            .map_err(unavailable)?;
        Ok(found.map_or(Cursor::default(), |d| Cursor {
            tx_id: d.get_i64("tx_id").unwrap_or(0),
            position: d.get_i64("position").unwrap_or(0),
        }))
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> Result<(), ApplyError> {
        let id = checkpoint_id(projection, version, source);
        let set = doc! {"$set": {
            "projection": projection, "version": i64::from(version), "source": source,
            "tx_id": cursor.tx_id, "position": cursor.position, "updated_at": DateTime::now(),
        }};
        self.collection(CHECKPOINTS)
            .update_one(doc! {"_id": id}, set)
            .upsert(true)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn clear_checkpoints(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        let filter = doc! {"projection": projection, "version": i64::from(version)};
        self.collection(CHECKPOINTS)
            .delete_many(filter)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn park(
        &self,
        projection: &str,
        version: u32,
        event: &FeedEvent,
        error: &str,
    ) -> Result<(), ApplyError> {
        let event_json = serde_json::to_string(&event.event).unwrap_or_default();
        let parked = doc! {
            "projection": projection, "version": i64::from(version),
            "event_id": event.event.event_id.to_string(), "event_type": &event.event.event_type,
            "event": event_json, "error": error, "parked_at": DateTime::now(),
        };
        self.collection(PARKED)
            .insert_one(parked)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn current_version(&self, projection: &str) -> Result<u32, ApplyError> {
        self.store
            .current_version(projection)
            .await
            .map_err(unavailable)
    }

    async fn promote(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        let set = doc! {"$set": {"current": i64::from(version), "promoted_at": DateTime::now()}};
        self.collection(VERSIONS)
            .update_one(doc! {"_id": projection}, set)
            .upsert(true)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
