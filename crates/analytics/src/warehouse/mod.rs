//! The OLAP star schema as a projection of the four write-side feeds.
//!
//! - [`schema`]: one PostgreSQL schema per projection version (`olap_v<n>`).
//! - [`write`]: what a page of events writes into it, set-based; [`products`]: the
//!   product history (a page's product events folded, then written set-based too).
//! - [`cubes`]: the materialized cubes and their refresher.
//!
//! # Versions
//!
//! The whole star schema is one projection, `olap`, so a rebuild replaces facts,
//! dimensions and cubes together and they always agree. Each version lives in its own
//! schema, created on first use and dropped whole (`DROP SCHEMA … CASCADE`) when it
//! is replaced: the tables keep their plain names, the SQL of a version is the same
//! text with another schema name, and dropping leaves nothing behind. Queries look up
//! the current version (`projection_versions`) on every request, so they read the old
//! schema until the swap and the new one after it, never a half-built one.
//!
//! # Exactly once
//!
//! A page of events is applied in one transaction ([`Projection::apply_batch`]) that
//! first claims all of them in `applied_events` with one statement (`(olap, version,
//! event_id)`, `ON CONFLICT DO NOTHING RETURNING event_id`), then writes the effect of
//! only those claimed now: a page applied again after a crash (before its checkpoint
//! was saved) finds its events claimed and writes nothing; a page partly applied
//! before writes only its new events. The writes are set-based ([`write`]): a constant
//! number of statements per page, each taking the page's values as arrays, folded so
//! the rows are those the events applied one by one would leave. One commit and a
//! handful of round trips per page, not per event, is what makes a replay fast.
//!
//! If any event of a page fails (an order confirmed but never placed, a value that
//! does not fit), the page rolls back whole and the runner applies it again event by
//! event ([`Projection::apply`], the same path with a page of one), so only the
//! failing event is retried and parked.
//!
//! # Order between feeds
//!
//! The runner reads each feed in its commit order, but the feeds one after the other:
//! an order's refund may be applied before its sale, its sale before its product's
//! price change. Every table is therefore written from one feed only, and what links
//! two feeds is resolved when both sides are present (see `sql/star_schema.sql`), so
//! the result does not depend on which feed came first.

pub mod cubes;
pub mod products;
pub mod schema;
pub mod write;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Projection};
use sqlx::PgPool;
use uuid::Uuid;

use crate::events::{self, Fact};
use schema::{schema_name, Schemas};
use write::page::Claimed;
use write::WriteError;

/// The projection's name in the bookkeeping and on `/projections`.
pub const PROJECTION: &str = "olap";

/// The services whose feeds the star schema reads.
pub const SOURCES: &[&str] = &["inventory", "order", "user", "payment"];

/// The star schema, in versions, in the analytics database.
#[derive(Clone)]
pub struct Warehouse {
    pool: PgPool,
    schemas: Arc<Schemas>,
    /// Set when facts changed, for the cube refresher.
    changed: Arc<AtomicBool>,
}

impl Warehouse {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            schemas: Arc::default(),
            // The cubes may be behind facts written before a restart.
            changed: Arc::new(AtomicBool::new(true)),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Raised whenever an event changed the facts; the refresher lowers it.
    pub fn changed(&self) -> Arc<AtomicBool> {
        self.changed.clone()
    }

    /// Creates `version`'s schema if it does not exist yet.
    pub async fn ensure(&self, version: u32) -> Result<(), sqlx::Error> {
        self.schemas.ensure(&self.pool, version).await
    }

    /// Makes `version` ready to be read: its schema exists and its cubes are fresh.
    pub async fn prepare(&self, version: u32) -> Result<(), ApplyError> {
        self.ensure(version)
            .await
            .map_err(|e| self.classify(version, e))?;
        cubes::refresh(&self.pool, version)
            .await
            .map_err(|e| self.classify(version, e))
    }

    /// Claims the facts' events and writes those claimed now, in one transaction; an
    /// event claimed before is passed over.
    async fn apply_facts(
        &self,
        version: u32,
        facts: &[(&FeedEvent, Fact)],
    ) -> Result<(), WriteError> {
        let schema = schema_name(version);
        let mut tx = self.pool.begin().await?;
        let ids: Vec<Uuid> = facts.iter().map(|(e, _)| e.event.event_id).collect();
        let mut claimed = claim(&mut tx, version, &ids).await?;
        // Kept in page order; an event twice in the page is written once.
        let facts: Vec<Claimed<'_>> = facts
            .iter()
            .filter(|(event, _)| claimed.remove(&event.event.event_id))
            .map(|(event, fact)| Claimed {
                event_id: event.event.event_id,
                at: event.event.occurred_at,
                fact,
            })
            .collect();
        write::write_page(&mut tx, &schema, &facts).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes `facts` into `version`, classifying what fails.
    async fn write_facts(
        &self,
        version: u32,
        facts: &[(&FeedEvent, Fact)],
    ) -> Result<(), ApplyError> {
        if facts.is_empty() {
            return Ok(());
        }
        self.ensure(version)
            .await
            .map_err(|e| self.classify(version, e))?;
        match self.apply_facts(version, facts).await {
            Ok(()) => {
                self.changed.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(WriteError::Refused(reason)) => Err(ApplyError::Refused(reason)),
            Err(WriteError::Sql(err)) => Err(self.classify(version, err)),
        }
    }

    /// Splits database errors: bad data is refused (parked after retries), anything
    /// else makes the store unavailable (the pass stops and is retried).
    fn classify(&self, version: u32, err: sqlx::Error) -> ApplyError {
        let code = match &err {
            sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
            _ => None,
        };
        match code.as_deref() {
            // Data exceptions and integrity violations: the event does not fit.
            Some(c) if c.starts_with("22") || c.starts_with("23") => {
                ApplyError::Refused(err.to_string())
            }
            // Undefined schema or table: dropped under us; check again next time.
            Some("3F000" | "42P01") => {
                self.schemas.forget(version);
                ApplyError::Unavailable(err.to_string())
            }
            _ => ApplyError::Unavailable(err.to_string()),
        }
    }
}

/// The facts of `events`, in order (events the schema takes nothing from left out); an
/// event that cannot be decoded refuses them all.
fn decode_all(events: &[FeedEvent]) -> Result<Vec<(&FeedEvent, Fact)>, ApplyError> {
    let mut facts = Vec::with_capacity(events.len());
    for event in events {
        match events::decode(&event.event) {
            Ok(Some(fact)) => facts.push((event, fact)),
            Ok(None) => {}
            Err(err) => return Err(ApplyError::Refused(err.to_string())),
        }
    }
    Ok(facts)
}

/// Claims the events for `version` in the inbox, in one statement; the ids claimed
/// now, leaving out those applied before.
async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    version: u32,
    event_ids: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let claimed: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO applied_events (projection, version, event_id) \
         SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(PROJECTION)
    .bind(version as i32)
    .bind(event_ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(claimed.into_iter().collect())
}

impl Projection for Warehouse {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn sources(&self) -> &'static [&'static str] {
        SOURCES
    }

    async fn apply(&self, version: u32, event: &FeedEvent) -> Result<(), ApplyError> {
        self.write_facts(version, &decode_all(std::slice::from_ref(event))?)
            .await
    }

    async fn apply_batch(&self, version: u32, events: &[FeedEvent]) -> Result<bool, ApplyError> {
        self.write_facts(version, &decode_all(events)?).await?;
        Ok(true)
    }

    async fn drop_version(&self, version: u32) -> Result<(), ApplyError> {
        let unavailable = |e: sqlx::Error| ApplyError::Unavailable(e.to_string());
        self.schemas
            .remove(&self.pool, version)
            .await
            .map_err(unavailable)?;
        sqlx::query("DELETE FROM applied_events WHERE projection = $1 AND version = $2")
            .bind(PROJECTION)
            .bind(version as i32)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
