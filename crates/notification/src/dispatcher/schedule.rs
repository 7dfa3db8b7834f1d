//! The dispatcher's own state in the database: its leadership (an advisory lock), its
//! checkpoint (a row of `outbox_checkpoint`, beside the relay's) and
//! `notification_retry`, the deliveries waiting for another attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::store::Cursor;
use sqlx::{PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;

/// The dispatcher's key in `outbox_checkpoint`; the relay's is the service name.
pub const CHECKPOINT_KEY: &str = "dispatcher";

/// The advisory lock held by the dispatcher that leads.
const LEADER_KEY: &str = "notification-dispatcher";

/// Waits until this dispatcher is the only one delivering from its store: with several
/// replicas of the service the others stand by, as their relays do. The lock is held by
/// a connection taken out of the pool, so dropping it (on any failure) ends the session
/// and releases the lock for a standby. `None` when shutdown came first.
pub async fn lead(
    pool: &PgPool,
    shutdown: &CancellationToken,
) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut connection = pool.acquire().await?.detach();
    loop {
        let leading: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(LEADER_KEY)
                .fetch_one(&mut connection)
                .await?;
        if leading {
            tracing::info!("dispatcher is leading");
            return Ok(Some(connection));
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// A failed delivery waiting for its next attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    pub notification_id: String,
    /// Failed attempts so far.
    pub attempt: u32,
    pub due_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    /// The `event_id` of the `NotificationFailed` that scheduled it.
    pub causation_id: String,
}

pub async fn load_checkpoint(pool: &PgPool) -> Result<Cursor, sqlx::Error> {
    let row = sqlx::query(
        "SELECT tx_id::text::bigint AS tx_id, position FROM outbox_checkpoint WHERE relay = $1",
    )
    .bind(CHECKPOINT_KEY)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Cursor {
            tx_id: row.try_get("tx_id")?,
            position: row.try_get("position")?,
        }),
        None => Ok(Cursor::default()),
    }
}

pub async fn save_checkpoint(db: &mut PgConnection, cursor: Cursor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox_checkpoint (relay, tx_id, position) VALUES ($1, $2::text::xid8, $3) \
         ON CONFLICT (relay) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, \
         updated_at = now()",
    )
    .bind(CHECKPOINT_KEY)
    .bind(cursor.tx_id.to_string())
    .bind(cursor.position)
    .execute(db)
    .await?;
    Ok(())
}

/// Schedules `retry`, replacing an older schedule of the same notification but never a
/// newer one (a replayed failure must not move a retry back).
pub async fn schedule_retry(db: &mut PgConnection, retry: &Retry) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notification_retry (notification_id, attempt, due_at, correlation_id, causation_id) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (notification_id) DO UPDATE SET attempt = EXCLUDED.attempt, \
         due_at = EXCLUDED.due_at, correlation_id = EXCLUDED.correlation_id, \
         causation_id = EXCLUDED.causation_id \
         WHERE notification_retry.attempt < EXCLUDED.attempt",
    )
    .bind(&retry.notification_id)
    .bind(i32::try_from(retry.attempt).unwrap_or(i32::MAX))
    .bind(retry.due_at)
    .bind(&retry.correlation_id)
    .bind(&retry.causation_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Drops any retry of a notification that was sent or abandoned.
pub async fn clear_retry(db: &mut PgConnection, notification_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM notification_retry WHERE notification_id = $1")
        .bind(notification_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Drops the retry of `attempt` once it was made; a newer schedule stays.
pub async fn clear_attempted(pool: &PgPool, retry: &Retry) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM notification_retry WHERE notification_id = $1 AND attempt = $2")
        .bind(&retry.notification_id)
        .bind(i32::try_from(retry.attempt).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    Ok(())
}

/// Up to `limit` retries due now, the longest waiting first. "Now" is the database's
/// clock, the one `due_at` was computed from (the failure's `recorded_at`).
pub async fn due_retries(pool: &PgPool, limit: i64) -> Result<Vec<Retry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT notification_id, attempt, due_at, correlation_id, causation_id \
         FROM notification_retry WHERE due_at <= now() ORDER BY due_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let attempt: i32 = row.try_get("attempt")?;
            Ok(Retry {
                notification_id: row.try_get("notification_id")?,
                attempt: u32::try_from(attempt).unwrap_or(0),
                due_at: row.try_get("due_at")?,
                correlation_id: row.try_get("correlation_id")?,
                causation_id: row.try_get("causation_id")?,
            })
        })
        .collect()
}
