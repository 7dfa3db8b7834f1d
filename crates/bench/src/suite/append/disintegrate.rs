//! The disintegrate peer: disintegrate with disintegrate-postgres, as their README sets
//! them up — `PgEventStore::try_new` (which creates its own schema) with JSON serde, a
//! `decision_maker` without snapshots, a `StockAdded { #[id] sku, quantity }` event, a
//! `Stock` state query by sku, and an `AddStock` decision that loads it, checks the
//! total cannot overflow and emits one event.

use std::sync::Arc;

use disintegrate::serde::json::Json;
use disintegrate::{Decision, Event, NoSnapshot, StateMutate, StateQuery};
use disintegrate_postgres::{PgDecisionMaker, PgEventStore};
use serde::{Deserialize, Serialize};
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

pub struct Disintegrate {
    decisions: PgDecisionMaker<DomainEvent, Json<DomainEvent>, NoSnapshot>,
    stream_length: u64,
}

impl Implementation for Disintegrate {
    const NAME: &'static str = "disintegrate + disintegrate-postgres";
    const KEY: &'static str = "disintegrate";

    async fn prepare(pool: &PgPool, stream_length: u64) -> Result<Arc<Self>, SuiteError> {
        let store = PgEventStore::try_new(pool.clone(), Json::<DomainEvent>::default())
            .await
            .map_err(|err| SuiteError::Append(Self::KEY, err.to_string()))?;
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
        self.decisions
            .make(decision)
            .await
            .map(|_| ())
            .map_err(|err| SuiteError::Append(Self::KEY, err.to_string()))
    }
}
