//! The projection runtime's bookkeeping in the analytics database (public schema, see
//! `migrations/analytics`): checkpoints per (projection, version, source), parked
//! events, and the current version of each projection.
//!
//! Promotion can be prepared by a hook run just before the version becomes current:
//! the warehouse uses it to create the new version's schema (a rebuild over empty
//! feeds applies nothing, so nothing created it yet) and to refresh its cubes, so the
//! first query after a swap never reads an empty or unpopulated cube.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Bookkeeping};
use platform::store::Cursor;
use sqlx::{PgPool, Row};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Run before `version` of a projection becomes current; an error cancels the swap.
pub type PromoteHook = Arc<dyn Fn(u32) -> BoxFuture<Result<(), ApplyError>> + Send + Sync>;

/// Bookkeeping in PostgreSQL.
#[derive(Clone)]
pub struct PgBook {
    pool: PgPool,
    before_promote: Option<PromoteHook>,
}

impl PgBook {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            before_promote: None,
        }
    }

    pub fn before_promote(mut self, hook: PromoteHook) -> Self {
        self.before_promote = Some(hook);
        self
    }
}

/// A failed bookkeeping query: the store is what is unavailable, never the event.
fn unavailable(err: sqlx::Error) -> ApplyError {
    ApplyError::Unavailable(err.to_string())
}

/// The version queries read: 1 until a rebuild promoted another.
pub async fn current_version(pool: &PgPool, projection: &str) -> Result<u32, sqlx::Error> {
    let current: Option<i32> =
        sqlx::query_scalar("SELECT current FROM projection_versions WHERE projection = $1")
            .bind(projection)
            .fetch_optional(pool)
            .await?;
    Ok(current.and_then(|v| u32::try_from(v).ok()).unwrap_or(1))
}

impl Bookkeeping for PgBook {
    async fn checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
    ) -> Result<Cursor, ApplyError> {
        let row = sqlx::query(
            "SELECT tx_id, position FROM projection_checkpoints \
             WHERE projection = $1 AND version = $2 AND source = $3",
        )
        .bind(projection)
        .bind(version as i32)
        .bind(source)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(Cursor::default());
        };
        Ok(Cursor {
            tx_id: row.try_get("tx_id").map_err(unavailable)?,
            position: row.try_get("position").map_err(unavailable)?,
        })
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        version: u32,
        source: &str,
        cursor: Cursor,
    ) -> Result<(), ApplyError> {
        sqlx::query(
            "INSERT INTO projection_checkpoints (projection, version, source, tx_id, position) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (projection, version, source) DO UPDATE \
             SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()",
        )
        .bind(projection)
        .bind(version as i32)
        .bind(source)
        .bind(cursor.tx_id)
        .bind(cursor.position)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn clear_checkpoints(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        sqlx::query("DELETE FROM projection_checkpoints WHERE projection = $1 AND version = $2")
            .bind(projection)
            .bind(version as i32)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn park(
        &self,
        projection: &str,
        version: u32,
        event: &FeedEvent,
        error: &str,
    ) -> Result<(), ApplyError> {
        let json = serde_json::to_value(event).map_err(|e| ApplyError::Refused(e.to_string()))?;
        sqlx::query(
            "INSERT INTO parked_events (projection, version, event_id, event, error) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (projection, version, event_id) DO UPDATE \
             SET error = excluded.error, parked_at = now()",
        )
        .bind(projection)
        .bind(version as i32)
        .bind(event.event.event_id)
        .bind(json)
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn current_version(&self, projection: &str) -> Result<u32, ApplyError> {
        current_version(&self.pool, projection)
            .await
            .map_err(unavailable)
    }

    async fn promote(&self, projection: &str, version: u32) -> Result<(), ApplyError> {
        if let Some(prepare) = &self.before_promote {
            prepare(version).await?;
        }
        sqlx::query(
            "INSERT INTO projection_versions (projection, current) VALUES ($1, $2) \
             ON CONFLICT (projection) DO UPDATE \
             SET current = excluded.current, promoted_at = now()",
        )
        .bind(projection)
        .bind(version as i32)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}
