//! The bookkeeping of the views kept in Redis alone (`order_status`, `best_sellers`,
//! `recent_orders`), in Redis beside them:
//! - `<prefix>books:checkpoints:<projection>:v<version>`: a hash, one field per source,
//!   `"<tx_id>:<position>"`, the cursor of the last event applied;
//! - `<prefix>books:versions`: a hash, one field per view, the version queries read;
//!   promoting a version is one `HSET`, so the swap is atomic.
//!
//! Why not MongoDB, as for the other views: a view and the record of how far it got
//! then live and die together. When Redis loses its data (a flush, a restart without
//! persistence) the checkpoints go with the keys, and the next pass rebuilds the view
//! from the feeds' beginning on its own; checkpoints kept elsewhere would go on saying
//! the view is complete. (A loss in the middle of a pass is not seen by that pass, which
//! saves its next checkpoint over the pages lost: `commerce replay` mends that.) And a
//! rebuild or a catch-up costs no MongoDB write per page.
//! Parked events go to MongoDB with everyone else's, where an operator looks.

use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Bookkeeping};
use platform::store::Cursor;

use super::book::MongoBook;
use crate::store::ReadStore;

/// [`Bookkeeping`] in the read store's Redis.
#[derive(Clone)]
pub struct RedisBook {
    store: ReadStore,
    parked: MongoBook,
}

fn unavailable(err: redis::RedisError) -> ApplyError {
    ApplyError::Unavailable(err.to_string())
}

/// `"<tx_id>:<position>"`, the form a checkpoint is kept in.
fn encode(cursor: Cursor) -> String {
    format!("{}:{}", cursor.tx_id, cursor.position)
}

fn decode(value: &str) -> Result<Cursor, ApplyError> {
    let parsed = value
        .split_once(':')
        .and_then(|(tx, position)| Some((tx.parse().ok()?, position.parse().ok()?)));
    let (tx_id, position) = parsed
        .ok_or_else(|| ApplyError::Unavailable(format!("unreadable checkpoint {value:?}")))?;
    Ok(Cursor { tx_id, position })
}

impl RedisBook {
    pub fn new(store: ReadStore) -> Self {
        Self {
            parked: MongoBook::new(store.clone()),
            store,
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, ApplyError> {
        let mut redis = self.store.redis.clone();
        command.query_async(&mut redis).await.map_err(unavailable)
    }
}

impl Bookkeeping for RedisBook {
    async fn checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
    ) -> Result<Cursor, ApplyError> {
        let mut command = redis::cmd("HGET");
        command
            .arg(self.store.checkpoints_key(projection, version))
            .arg(source);
        let found: Option<String> = self.query(&command).await?;
        found.map_or(Ok(Cursor::default()), |value| decode(&value))
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> Result<(), ApplyError> {
        let mut command = redis::cmd("HSET");
        command
            .arg(self.store.checkpoints_key(projection, version))
            .arg(source)
            .arg(encode(cursor));
        self.query::<i64>(&command).await.map(|_| ())
    }

    async fn clear_checkpoints(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.store.checkpoints_key(projection, version));
        self.query::<i64>(&command).await.map(|_| ())
    }

    async fn park(
        &self,
        projection: &str,
        version: u32,
        event: &FeedEvent,
        error: &str,
    ) -> Result<(), ApplyError> {
        self.parked.park(projection, version, event, error).await
    }

    async fn current_version(&self, projection: &str) -> Result<u32, ApplyError> {
        self.store
            .redis_version(projection)
            .await
            .map_err(unavailable)
    }

    async fn promote(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        let mut command = redis::cmd("HSET");
        command
            .arg(self.store.versions_key())
            .arg(projection)
            .arg(version);
        self.query::<i64>(&command).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_as_it_was_saved() {
        let cursor = Cursor {
            tx_id: 7_000_000_123,
            position: 42,
        };
        assert_eq!(decode(&encode(cursor)).ok(), Some(cursor));
    }

    #[test]
    fn an_unreadable_checkpoint_makes_the_store_unavailable_not_zero() {
        for value in ["", "12", "a:1", "1:b"] {
            assert!(matches!(decode(value), Err(ApplyError::Unavailable(_))));
        }
    }
}
