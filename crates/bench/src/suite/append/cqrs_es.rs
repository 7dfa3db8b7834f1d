//! The cqrs-es peer: cqrs-es with postgres-es used bare, as their documentation sets
//! them up — `postgres_es::postgres_cqrs` over an `events` table created with
//! postgres-es's own `db/init.sql` schema (no extra columns or indexes), and a minimal
//! stock-counter aggregate: `AddStock` loads the aggregate, checks the total cannot
//! overflow, and appends one `StockAdded { sku, quantity }`. No metadata.

use std::sync::Arc;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use postgres_es::PostgresCqrs;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{sku, Implementation};
use crate::suite::latency::Workload;
use crate::suite::SuiteError;

/// postgres-es 0.5's `db/init.sql`, its event and snapshot tables.
const SCHEMA: [&str; 2] = [
    "CREATE TABLE events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
     sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, \
     event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL, \
     PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    "CREATE TABLE snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
     last_sequence bigint CHECK (last_sequence >= 0) NOT NULL, \
     current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL, \
     PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))",
];

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Stock {
    total: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StockEvent {
    StockAdded { sku: String, quantity: u64 },
}

impl DomainEvent for StockEvent {
    fn event_type(&self) -> String {
        "StockAdded".into()
    }

    fn event_version(&self) -> String {
        "1.0".into()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the stock would overflow")]
pub struct Overflow;

#[derive(Debug)]
pub struct AddStockCommand {
    sku: String,
    quantity: u64,
}

impl Aggregate for Stock {
    const TYPE: &'static str = "Stock";
    type Command = AddStockCommand;
    type Event = StockEvent;
    type Error = Overflow;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        self.total.checked_add(command.quantity).ok_or(Overflow)?;
        let event = StockEvent::StockAdded {
            sku: command.sku,
            quantity: command.quantity,
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let StockEvent::StockAdded { quantity, .. } = event;
        self.total = self.total.saturating_add(quantity);
    }
}

pub struct CqrsEs {
    cqrs: PostgresCqrs<Stock>,
    stream_length: u64,
}

impl Implementation for CqrsEs {
    const NAME: &'static str = "cqrs-es + postgres-es (bare)";
    const KEY: &'static str = "cqrs_es";

    async fn prepare(pool: &PgPool, stream_length: u64) -> Result<Arc<Self>, SuiteError> {
        for statement in SCHEMA {
            sqlx::query(statement).execute(pool).await?;
        }
        Ok(Arc::new(Self {
            cqrs: postgres_es::postgres_cqrs(pool.clone(), vec![], ()),
            stream_length,
        }))
    }
}

impl Workload for CqrsEs {
    async fn run(&self, writer: usize, op: u64) -> Result<(), SuiteError> {
        let sku = sku(writer, op, self.stream_length);
        let command = AddStockCommand {
            sku: sku.clone(),
            quantity: 1,
        };
        self.cqrs
            .execute(&sku, command)
            .await
            .map_err(|err| SuiteError::Append(Self::KEY, err.to_string()))
    }
}
