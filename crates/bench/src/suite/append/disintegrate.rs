//! The disintegrate peer: disintegrate with disintegrate-postgres, as their README sets
//! them up — `PgEventStore::try_new` (which creates its own schema) with JSON serde, a
//! `decision_maker` without snapshots, a `StockAdded { #[id] sku, quantity }` event, a
//! `Stock` state query by sku, and an `AddStock` decision that loads it, checks the
//! total cannot overflow and emits one event.
//!
//! A command that loses a race (disintegrate appends in SERIALIZABLE transactions,
//! whose predicate locks also fail writers of different skus) is made again, up to 100
//! times, as our command path retries its conflicts.
//!
//! One adjustment: disintegrate-postgres 4.0.1's `event_store_begin_epoch()` writes
//! `0xFFFFFFFF`, a literal PostgreSQL reads only from version 16 on. On an older server
//! its schema is created over a connection with `check_function_bodies = off` (so the
//! function is accepted unparsed), then that function is redefined with the same value
//! in decimal; everything else is as `PgEventStore::try_new` makes it.

use std::sync::Arc;

use disintegrate::serde::json::Json;
use disintegrate::{Decision, Event, NoSnapshot, StateMutate, StateQuery};
use disintegrate_postgres::{PgDecisionMaker, PgEventStore};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use super::{sku, Implementation};
use crate::suite::latency::Workload;
use crate::suite::SuiteError;

#[derive(Debug, Clone, PartialEq, Eq, Event, Serialize, Deserialize)]
#[stream(StockEvent, [StockAdded])]
pub enum DomainEvent {
    StockAdded {
        #[id]
        sku: String,
        quantity: u64,
    },
}

#[derive(Debug, Default, Clone, StateQuery, Serialize, Deserialize)]
#[state_query(StockEvent)]
pub struct Stock {
    #[id]
    sku: String,
    total: u64,
}

impl StateMutate for Stock {
    fn mutate(&mut self, event: Self::Event) {
        let StockEvent::StockAdded { quantity, .. } = event;
        self.total = self.total.saturating_add(quantity);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the stock would overflow")]
pub struct Overflow;

/// Attempts per command: disintegrate's SERIALIZABLE appends conflict even between
/// writers of different skus (predicate locks), so they are retried like ours.
const MAX_ATTEMPTS: usize = 100;

#[derive(Clone)]
pub struct AddStock {
    sku: String,
    quantity: u64,
}

impl Decision for AddStock {
    type Event = DomainEvent;
    type StateQuery = Stock;
    type Error = Overflow;

    fn state_query(&self) -> Self::StateQuery {
        Stock {
            sku: self.sku.clone(),
            total: 0,
        }
    }

    fn process(&self, state: &Self::StateQuery) -> Result<Vec<Self::Event>, Self::Error> {
        state.total.checked_add(self.quantity).ok_or(Overflow)?;
        Ok(vec![DomainEvent::StockAdded {
            sku: self.sku.clone(),
            quantity: self.quantity,
        }])
    }
}

/// disintegrate-postgres 4.0.1's `fn_event_store_begin_epoch.sql`, `0xFFFFFFFF` in decimal.
const BEGIN_EPOCH_BEFORE_16: &str = "CREATE OR REPLACE FUNCTION event_store_begin_epoch()
RETURNS void AS $$
DECLARE
    id BIGINT;
    db_id INT;
BEGIN
    SELECT last_value INTO id FROM seq_event_event_id;
    SELECT oid INTO db_id FROM pg_database WHERE datname = current_database();

    PERFORM pg_try_advisory_xact_lock_shared(db_id, 0);
    PERFORM pg_try_advisory_xact_lock_shared(1, (id & 4294967295)::bit(32)::integer);
    PERFORM pg_try_advisory_xact_lock_shared(2, (id >> 32)::bit(32)::integer);
END;
$$ LANGUAGE plpgsql";

pub struct Disintegrate {
    decisions: PgDecisionMaker<DomainEvent, Json<DomainEvent>, NoSnapshot>,
    stream_length: u64,
}

impl Implementation for Disintegrate {
    const NAME: &'static str = "disintegrate + disintegrate-postgres";
    const KEY: &'static str = "disintegrate";

    async fn prepare(pool: &PgPool, stream_length: u64) -> Result<Arc<Self>, SuiteError> {
        let serde = Json::<DomainEvent>::default();
        let failed =
            |err: disintegrate_postgres::Error| SuiteError::Append(Self::KEY, err.to_string());
        let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
            .fetch_one(pool)
            .await?;
        let store = if version < 160_000 {
            let unchecked = (*pool.connect_options())
                .clone()
                .options([("check_function_bodies", "off")]);
            let setup = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(unchecked)
                .await?;
            let created = PgEventStore::try_new(setup.clone(), serde.clone()).await;
            setup.close().await;
            created.map_err(failed)?;
            sqlx::query(BEGIN_EPOCH_BEFORE_16).execute(pool).await?;
            PgEventStore::new_uninitialized(pool.clone(), serde)
        } else {
            PgEventStore::try_new(pool.clone(), serde)
                .await
                .map_err(failed)?
        };
        Ok(Arc::new(Self {
            decisions: disintegrate_postgres::decision_maker(store, NoSnapshot),
            stream_length,
        }))
    }
}

impl Workload for Disintegrate {
    async fn run(&self, writer: usize, op: u64) -> Result<(), SuiteError> {
        let decision = AddStock {
            sku: sku(writer, op, self.stream_length),
            quantity: 1,
        };
        let mut attempt = 1;
        loop {
            match self.decisions.make(decision.clone()).await {
                Ok(_) => return Ok(()),
                Err(err) if attempt < MAX_ATTEMPTS && is_conflict(&err) => attempt += 1,
                Err(err) => return Err(SuiteError::Append(Self::KEY, err.to_string())),
            }
        }
    }
}

/// A write that lost to another (disintegrate's concurrency error, or a serialization
/// failure of its SERIALIZABLE transaction): made again on fresh state, as our command
/// path re-decides a lost optimistic-concurrency race.
fn is_conflict(err: &disintegrate::DecisionError<Overflow>) -> bool {
    use disintegrate::DecisionError as Decision;
    let source = match err {
        Decision::EventStore(source) | Decision::StateStore(source) => source,
        Decision::Domain(_) => return false,
    };
    match source.downcast_ref::<disintegrate_postgres::Error>() {
        Some(disintegrate_postgres::Error::Concurrency) => true,
        Some(disintegrate_postgres::Error::Database(sqlx::Error::Database(db))) => {
            db.code().as_deref() == Some("40001")
        }
        _ => false,
    }
}
