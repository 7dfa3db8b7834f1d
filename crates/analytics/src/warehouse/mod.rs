//! The OLAP star schema as a projection of the four write-side feeds.
//!
//! - [`schema`]: one PostgreSQL schema per projection version (`olap_v<n>`).
//! - [`write`]: what each event writes into it; [`products`]: the product history.
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
//! Each event is applied in a transaction that claims `(olap, version, event_id)` in
//! `applied_events` and writes its effect; a page applied again after a crash (before
//! its checkpoint was saved) finds its events claimed and changes nothing. A whole page
//! goes in one transaction ([`Projection::apply_batch`]): one commit per page instead
//! of one per event is what makes a replay fast. If any event of it fails, the page
//! rolls back whole and the runner applies it again event by event, so only the
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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Projection};
use sqlx::PgPool;

use crate::events::{self, Fact};
use schema::{schema_name, Schemas};
use write::{Applying, WriteError};

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

    /// Applies facts in order and claims their events, in one transaction; an event
    /// claimed before is passed over.
    async fn apply_facts(
        &self,
        version: u32,
        facts: &[(&FeedEvent, Fact)],
    ) -> Result<(), WriteError> {
        let schema = schema_name(version);
        let mut tx = self.pool.begin().await?;
        for (event, fact) in facts {
            if !claim(&mut tx, version, event.event.event_id).await? {
                continue;
            }
            let applying = Applying {
                event_id: event.event.event_id,
                at: event.event.occurred_at,
                schema: &schema,
            };
            write::write(&mut tx, applying, fact).await?;
        }
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

/// Claims the event for `version` in the inbox; `false` when it was applied before.
async fn claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    version: u32,
    event_id: uuid::Uuid,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "INSERT INTO applied_events (projection, version, event_id) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(PROJECTION)
    .bind(version as i32)
    .bind(event_id)
    .execute(&mut **tx)
    .await?;
    Ok(claimed.rows_affected() == 1)
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
