//! Executes order commands through cqrs-es, and maps outcomes to command-bus replies.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome, ExecutionError};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

use crate::domain::{Order, OrderCommand};

/// How often a command is re-decided after losing an optimistic-concurrency race.
const MAX_ATTEMPTS: usize = 5;

/// Every command the service knows, with its JSON Schema, for the command bus.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "PlaceOrder",
        include_str!("../../../schemas/commands/order/PlaceOrder.v1.json"),
    ),
    (
        "ConfirmOrder",
        include_str!("../../../schemas/commands/order/ConfirmOrder.v1.json"),
    ),
    (
        "CancelOrder",
        include_str!("../../../schemas/commands/order/CancelOrder.v1.json"),
    ),
];

fn order_id(command: &OrderCommand) -> &str {
    match command {
        OrderCommand::PlaceOrder { order_id, .. }
        | OrderCommand::ConfirmOrder { order_id }
        | OrderCommand::CancelOrder { order_id, .. } => order_id,
    }
}

pub struct Orders {
    cqrs: CqrsFramework<Order, PersistedEventStore<PostgresEventRepository, Order>>,
}

impl Orders {
    pub fn new(pool: PgPool) -> Self {
        let store = PersistedEventStore::new_event_store(PostgresEventRepository::new(pool));
        Self {
            cqrs: CqrsFramework::new(store, vec![], ()),
        }
    }

    pub async fn execute(
        &self,
        command: OrderCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<crate::domain::OrderError>> {
        let id = order_id(&command).to_string();
        platform::cqrs::execute_with_retry(&self.cqrs, &id, command, metadata, MAX_ATTEMPTS).await
    }
}

impl CommandHandler for Orders {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded = match decode_tagged(SCHEMAS, &command.name, command.body) {
            Ok(decoded) => decoded,
            Err(rejection) => return Ok(rejection),
        };
        let aggregate_id = order_id(&decoded).to_string();
        let result = Orders::execute(self, decoded, command.context.to_metadata()).await;
        outcome(aggregate_id, result.map_err(ExecutionError::from))
    }
}
