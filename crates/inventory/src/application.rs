//! Executes inventory commands against the event store.
//!
//! Product commands go through cqrs-es ([`platform::aggregates`]: load from memory or
//! the store, `handle`, group-committed append with optimistic concurrency).
//! Reservation commands span an order's reservation and its products: every aggregate
//! is loaded from the store, a pure decision is taken, and all events are appended in
//! one statement. A concurrency conflict re-runs the decision on fresh state.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::EventStore;
use platform::aggregates::{Aggregates, MAX_ATTEMPTS};
use platform::append::{Appender, DEFAULT_FLUSHERS};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome};
use platform::store::{self, StoreError};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::commands::InventoryCommand;
use crate::domain::reservation::{self, Decision};
use crate::domain::{InventoryError, Product, ProductCommand, Reservation};

/// Why a command did not take effect.
pub type ExecutionError = platform::cqrs::ExecutionError<InventoryError>;

pub struct Inventory {
    appender: Appender,
    products: Aggregates<Product>,
    reservations: PersistedEventStore<PostgresEventRepository, Reservation>,
}

impl Inventory {
    pub fn new(pool: PgPool) -> Self {
        let appender = Appender::new(pool.clone(), DEFAULT_FLUSHERS);
        Self {
            products: Aggregates::new(&pool, &appender, ()),
            reservations: PersistedEventStore::new_event_store(PostgresEventRepository::new(
                pool.clone(),
            )),
            appender,
        }
    }

    /// Executes one command; `metadata` (command, correlation and causation ids) is
    /// stored with every event it appends.
    pub async fn execute(
        &self,
        command: InventoryCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), ExecutionError> {
        match command {
            InventoryCommand::AddProduct(c) => {
                let command = ProductCommand::AddProduct {
                    sku: c.sku.clone(),
                    name: c.name,
                    category: c.category,
                    price_cents: c.price_cents,
                };
                self.execute_product(&c.sku, command, metadata).await
            }
            InventoryCommand::AddStock(c) => {
                let command = ProductCommand::AddStock {
                    sku: c.sku.clone(),
                    quantity: c.quantity,
                };
                self.execute_product(&c.sku, command, metadata).await
            }
            InventoryCommand::UpdateProduct(c) => {
                let command = ProductCommand::UpdateProduct {
                    sku: c.sku.clone(),
                    price_cents: c.price_cents,
                    category: c.category,
                };
                self.execute_product(&c.sku, command, metadata).await
            }
            InventoryCommand::ReserveStock(c) => {
                let skus = c.lines.iter().map(|l| l.sku.clone()).collect();
                self.decide_reservation(&c.order_id, skus, metadata, |r, p| {
                    reservation::reserve(r, p, &c.order_id, c.lines.clone())
                })
                .await
            }
            InventoryCommand::ReleaseStock(c) => {
                self.decide_reservation(&c.order_id, BTreeSet::new(), metadata, |r, p| {
                    reservation::release(r, p, &c.order_id)
                })
                .await
            }
            InventoryCommand::CommitReservation(c) => {
                self.decide_reservation(&c.order_id, BTreeSet::new(), metadata, |r, p| {
                    reservation::commit(r, p, &c.order_id)
                })
                .await
            }
        }
    }

    async fn execute_product(
        &self,
        sku: &str,
        command: ProductCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), ExecutionError> {
        Ok(self.products.execute(sku, command, metadata).await?)
    }

    /// Loads the reservation and every product it involves (`skus` plus those it already
    /// holds), decides, and appends all resulting events atomically.
    async fn decide_reservation(
        &self,
        order_id: &str,
        skus: BTreeSet<String>,
        metadata: HashMap<String, String>,
        decide: impl Fn(&Reservation, &BTreeMap<String, Product>) -> Result<Decision, InventoryError>,
    ) -> Result<(), ExecutionError> {
        for _ in 0..MAX_ATTEMPTS {
            let held = self.reservations.load_aggregate(order_id).await?;
            let mut involved = skus.clone();
            involved.extend(held.aggregate.lines.iter().map(|l| l.sku.clone()));
            let mut products = BTreeMap::new();
            let mut sequences = BTreeMap::new();
            for sku in involved {
                let (product, sequence) = self.products.load(&sku).await?;
                sequences.insert(sku.clone(), sequence);
                products.insert(sku, product);
            }
            let decision = decide(&held.aggregate, &products).map_err(ExecutionError::Rule)?;
            if decision.reservation.is_empty() && decision.products.is_empty() {
                return Ok(());
            }
            // The reservation comes first: the reply names the first aggregate appended.
            let mut appends = vec![store::serialize_events::<Reservation>(
                order_id,
                held.current_sequence,
                &decision.reservation,
                &metadata,
            )?];
            for (sku, events) in &decision.products {
                let after = sequences.get(sku).copied().unwrap_or(0);
                appends.push(store::serialize_events::<Product>(
                    sku, after, events, &metadata,
                )?);
            }
            let appended = self.appender.append_all(&appends).await;
            for sku in decision.products.keys() {
                self.products.forget(sku);
            }
            match appended {
                Err(StoreError::Conflict) => continue,
                other => return other.map_err(ExecutionError::from),
            }
        }
        Err(ExecutionError::Conflict)
    }
}

impl CommandHandler for Inventory {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded: InventoryCommand =
            match decode_tagged(crate::commands::SCHEMAS, &command.name, command.body) {
                Ok(decoded) => decoded,
                Err(rejection) => return Ok(rejection),
            };
        let aggregate_id = decoded.aggregate_id().to_string();
        let result = Inventory::execute(self, decoded, command.context.to_metadata()).await;
        outcome(aggregate_id, result)
    }
}
