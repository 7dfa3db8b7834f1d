//! The `events` table of a service, used as its outbox.
//!
//! postgres-es writes the table; migrations add three columns with defaults so its
//! insert is unchanged: `global_position` (a sequence), `tx_id` (the writing
//! transaction's `pg_current_xact_id()`) and `event_id`.
//!
//! # Reading in commit order without skipping late commits
//!
//! A sequence value is drawn when a row is inserted, not when its transaction
//! commits, so position 7 can become visible after position 8 was already read. A
//! cursor on position alone would then skip 7 forever. Instead the reader:
//!
//! 1. only returns rows whose `tx_id` is below `pg_snapshot_xmin(pg_current_snapshot())`.
//!    Every transaction below the snapshot's xmin has finished (committed or aborted),
//!    so no row with such a `tx_id` can appear later; `pg_current_snapshot()` is the
//!    statement's own snapshot, the one the scan sees.
//! 2. orders and resumes by the pair `(tx_id, global_position)`. A transaction may draw
//!    a lower position than another yet get a higher transaction id, so the pair, not
//!    the position, is the commit-safe order: once every transaction below xmin is
//!    final, the set of rows below any pair we have passed is final too.
//!
//! A long-running transaction anywhere in the cluster holds xmin back: events are then
//! published late, never lost.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::envelope::{EventEnvelope, CAUSATION_ID, CORRELATION_ID};
use crate::payload::Payload;

/// A position in a store's commit order.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Cursor {
    /// The writing transaction's id (xid8, which fits an i64 for any real cluster).
    pub tx_id: i64,
    pub position: i64,
}

/// One row of the `events` table, its payload as a tree or as text
/// ([`crate::payload`]).
#[derive(Debug, Clone)]
pub struct StoredEvent<P = Value> {
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: P,
    pub metadata: HashMap<String, String>,
    pub cursor: Cursor,
    pub recorded_at: DateTime<Utc>,
}

impl<P: Payload> StoredEvent<P> {
    /// The wire envelope of this event, as published by `service`.
    pub fn into_envelope(self, service: &str) -> EventEnvelope<P> {
        EventEnvelope {
            event_id: self.event_id,
            service: service.to_string(),
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            global_position: self.cursor.position,
            payload: self.payload.untagged(&self.event_type),
            event_type: self.event_type,
            event_version: self.event_version,
            occurred_at: self.recorded_at,
            correlation_id: self.metadata.get(CORRELATION_ID).cloned(),
            causation_id: self.metadata.get(CAUSATION_ID).cloned(),
        }
    }
}

/// Errors of the store adapter; database codes are mapped here and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to one of the aggregates first (unique violation).
    #[error("optimistic concurrency conflict")]
    Conflict,
    #[error("event store unavailable: {0}")]
    Database(#[from] sqlx::Error),
    #[error("event could not be serialized: {0}")]
    Serialization(#[from] serde_json::Error),
}

impl StoreError {
    pub(crate) fn from_sqlx(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => Self::Conflict,
            _ => Self::Database(err),
        }
    }
}

const SELECT_COLUMNS: &str = "event_id, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata, global_position, tx_id::text::bigint AS tx_id, recorded_at";

/// Reads up to `limit` events committed after `after`, in commit-safe order.
///
/// The `ORDER BY` names the table's columns: bare, `tx_id` would be the output column
/// (the bigint of [`SELECT_COLUMNS`]), which no index orders, and every page would sort
/// the whole backlog after its cursor (a replay or a relay catching up, quadratic).
pub async fn read_committed_after(
    pool: &PgPool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    read_committed_after_as(pool, after, limit).await
}

/// [`read_committed_after`], the payloads in the form `P` (as text for the feed).
pub async fn read_committed_after_as<P: Payload + DeserializeOwned>(
    pool: &PgPool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<StoredEvent<P>>, StoreError> {
    let rows = sqlx::query(&read_committed_after_sql())
        .bind(after.tx_id.to_string())
        .bind(after.position)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(stored_event_from_row).collect()
}

/// The statement of [`read_committed_after`] (`$1` the cursor's `tx_id` as text, `$2` its
/// position, `$3` the limit), public for the test of its plan.
pub fn read_committed_after_sql() -> String {
    format!(
        "SELECT {SELECT_COLUMNS} FROM events \
         WHERE (tx_id, global_position) > ($1::text::xid8, $2) \
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) \
         ORDER BY events.tx_id, events.global_position LIMIT $3"
    )
}

/// How soon a follower of the store with nothing to read looks again while
/// [`held_back_after`] says committed events wait (rather than at its next poll; see
/// [`crate::wake::Wake::idle_following`]).
pub const HELD_BACK_RECHECK: std::time::Duration = std::time::Duration::from_millis(10);

/// Whether events after `after` are committed but not yet below the snapshot's xmin,
/// so [`read_committed_after`] holds them back: a transaction that began before theirs
/// commit is still open, in any database of the cluster (transaction ids are the
/// cluster's). They become readable when it ends, which no commit here signals.
pub async fn held_back_after(pool: &PgPool, after: Cursor) -> Result<bool, StoreError> {
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM events \
         WHERE (tx_id, global_position) > ($1::text::xid8, $2))",
    )
    .bind(after.tx_id.to_string())
    .bind(after.position)
    .fetch_one(pool)
    .await?;
    Ok(held)
}

/// The highest position in the store (0 when it is empty): one step down the
/// position's unique index, whatever the store holds.
pub async fn highest_position(pool: &PgPool) -> Result<i64, StoreError> {
    let highest: Option<i64> = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(highest.unwrap_or(0))
}

/// How many events are committed after `after` (the same horizon as
/// [`read_committed_after`]); as dear as what it counts.
pub async fn count_committed_after(pool: &PgPool, after: Cursor) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM events \
         WHERE (tx_id, global_position) > ($1::text::xid8, $2) \
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot())",
    )
    .bind(after.tx_id.to_string())
    .bind(after.position)
    .fetch_one(pool)
    .await?;
    Ok(count)
}

/// The events at `positions`, in position order; positions with no event are absent.
pub async fn read_at_positions(
    pool: &PgPool,
    positions: &[i64],
) -> Result<Vec<StoredEvent>, StoreError> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM events WHERE global_position = ANY($1) \
         ORDER BY global_position"
    );
    let rows = sqlx::query(&sql).bind(positions).fetch_all(pool).await?;
    rows.iter().map(stored_event_from_row).collect()
}

fn stored_event_from_row<P: DeserializeOwned>(
    row: &sqlx::postgres::PgRow,
) -> Result<StoredEvent<P>, StoreError> {
    // Metadata of another shape (not all strings) is dropped, not an error: it only
    // carries correlation ids.
    let metadata: Option<Json<HashMap<String, String>>> = row.try_get("metadata").ok();
    let Json(payload) = row.try_get("payload")?;
    Ok(StoredEvent {
        event_id: row.try_get("event_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        aggregate_id: row.try_get("aggregate_id")?,
        sequence: row.try_get("sequence")?,
        event_type: row.try_get("event_type")?,
        event_version: row.try_get("event_version")?,
        payload,
        metadata: metadata.map(|Json(map)| map).unwrap_or_default(),
        cursor: Cursor {
            tx_id: row.try_get("tx_id")?,
            position: row.try_get("global_position")?,
        },
        recorded_at: row.try_get("recorded_at")?,
    })
}

/// Events for one aggregate, to be appended after `expected_sequence`.
#[derive(Debug, Clone)]
pub struct AggregateAppend {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub events: Vec<SerializedEvent>,
}

/// Appends the events of several aggregates in one transaction: all or none.
///
/// Used where one business rule spans aggregates (a reservation over several products).
/// Rows are written exactly as postgres-es writes them, so cqrs-es loads them back; the
/// `(aggregate_type, aggregate_id, sequence)` key turns a concurrent append into
/// [`StoreError::Conflict`].
pub async fn append_atomically(
    pool: &PgPool,
    appends: &[AggregateAppend],
) -> Result<(), StoreError> {
    let rows: Vec<&SerializedEvent> = appends.iter().flat_map(|a| &a.events).collect();
    insert_rows(pool, &rows).await
}

/// Writes `rows` (each with its aggregate and sequence) as postgres-es writes them, the
/// columns' defaults filling the rest, in one statement: one implicit transaction, so
/// they commit together or not at all, in their order. A taken key is
/// [`StoreError::Conflict`].
pub(crate) async fn insert_rows(
    pool: &PgPool,
    rows: &[&SerializedEvent],
) -> Result<(), StoreError> {
    let column = |f: fn(&SerializedEvent) -> String| rows.iter().map(|r| f(r)).collect();
    let types: Vec<String> = column(|r| r.aggregate_type.clone());
    let ids: Vec<String> = column(|r| r.aggregate_id.clone());
    let event_types: Vec<String> = column(|r| r.event_type.clone());
    let versions: Vec<String> = column(|r| r.event_version.clone());
    let sequences: Vec<i64> = rows.iter().map(|r| r.sequence as i64).collect();
    let payloads: Vec<&Value> = rows.iter().map(|r| &r.payload).collect();
    let metadata: Vec<&Value> = rows.iter().map(|r| &r.metadata).collect();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata) \
         SELECT t, i, s, e, v, p::json, m::json \
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
                     $6::jsonb[], $7::jsonb[]) WITH ORDINALITY AS r(t, i, s, e, v, p, m, n) \
         ORDER BY n",
    )
    .bind(types)
    .bind(ids)
    .bind(sequences)
    .bind(event_types)
    .bind(versions)
    .bind(payloads)
    .bind(metadata)
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(StoreError::from_sqlx)
}

/// Waits until this process holds the session advisory lock `key` on the store, and
/// returns the connection holding it: one process at a time does the work the key
/// names (relaying, sealing), replicas stand by. The connection is taken out of the
/// pool, so dropping it (on any failure) ends the session and releases the lock for a
/// standby to take over.
pub async fn lead(pool: &PgPool, key: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    let mut connection = pool.acquire().await?.detach();
    loop {
        let leading: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
                .bind(key)
                .fetch_one(&mut connection)
                .await?;
        if leading {
            tracing::info!(key, "leading");
            return Ok(connection);
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// One event a command appended: `(aggregate_id, sequence, event_type)`.
pub type CommandEvent = (String, i64, String);

/// The events a command appended, if any, in append order. Because the command id is
/// written in the same transaction as the events, this is the exact record of whether
/// the command took effect, even if the process died before it could reply.
pub async fn command_events(
    pool: &PgPool,
    command_id: &str,
) -> Result<Vec<CommandEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type FROM events \
         WHERE metadata->>'command_id' = $1 ORDER BY global_position",
    )
    .bind(command_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("aggregate_id")?,
                row.try_get("sequence")?,
                row.try_get("event_type")?,
            ))
        })
        .collect()
}

/// Serializes `events` of one aggregate the way cqrs-es does, numbered after
/// `current_sequence`, ready for [`append_atomically`].
pub fn serialize_events<A: cqrs_es::Aggregate>(
    aggregate_id: &str,
    current_sequence: usize,
    events: &[A::Event],
    metadata: &HashMap<String, String>,
) -> Result<AggregateAppend, StoreError> {
    use cqrs_es::DomainEvent;
    let metadata = serde_json::to_value(metadata)?;
    let mut serialized = Vec::with_capacity(events.len());
    for (offset, event) in events.iter().enumerate() {
        serialized.push(SerializedEvent::new(
            aggregate_id.to_string(),
            current_sequence + offset + 1,
            A::TYPE.to_string(),
            event.event_type(),
            event.event_version(),
            serde_json::to_value(event)?,
            metadata.clone(),
        ));
    }
    Ok(AggregateAppend {
        aggregate_type: A::TYPE.to_string(),
        aggregate_id: aggregate_id.to_string(),
        events: serialized,
    })
}
