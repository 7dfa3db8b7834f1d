//! Our command path: `inventory::Inventory::execute`, what the command bus calls for
//! each command once decoded — `platform::aggregates`: cqrs-es takes the `Product`
//! aggregate from the service's aggregate cache (or loads it from the inventory store,
//! migrated with the service's migrations: postgres-es's columns plus the outbox's
//! `global_position`, `tx_id`, `event_id` and their indexes), the domain decides, and
//! the event is appended under optimistic concurrency by the service's group commit
//! (`platform::append`), with conflicts retried. Each command carries the metadata the
//! bus gives it (command, correlation and causation ids).
//!
//! A writer's first command on a sku is `AddProduct` (the domain refuses stock for an
//! unknown product), the others `AddStock`: one event per command either way.

use std::sync::Arc;

use inventory::commands::{AddProduct, AddStock, InventoryCommand};
use inventory::Inventory;
use platform::envelope::MessageContext;
use sqlx::PgPool;

use super::{sku, Implementation};
use crate::suite::latency::Workload;
use crate::suite::SuiteError;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

pub struct Ours {
    inventory: Inventory,
    stream_length: u64,
}

impl Implementation for Ours {
    const NAME: &'static str = "ours (inventory command path)";
    const KEY: &'static str = "ours";

    async fn prepare(pool: &PgPool, stream_length: u64) -> Result<Arc<Self>, SuiteError> {
        MIGRATOR.run(pool).await?;
        Ok(Arc::new(Self {
            inventory: Inventory::new(pool.clone()),
            stream_length,
        }))
    }
}

impl Workload for Ours {
    async fn run(&self, writer: usize, op: u64) -> Result<(), SuiteError> {
        let sku = sku(writer, op, self.stream_length);
        let command = if op.is_multiple_of(self.stream_length) {
            InventoryCommand::AddProduct(AddProduct {
                sku,
                name: "Bench product".into(),
                category: "bench".into(),
                price_cents: 1_000,
            })
        } else {
            InventoryCommand::AddStock(AddStock { sku, quantity: 1 })
        };
        let id = uuid::Uuid::new_v4().to_string();
        let context = MessageContext {
            command_id: id.clone(),
            correlation_id: id.clone(),
            causation_id: id,
        };
        self.inventory
            .execute(command, context.to_metadata())
            .await
            .map_err(|err| SuiteError::Append(Self::KEY, err.to_string()))
    }
}
