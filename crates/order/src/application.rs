//! Executes order commands through cqrs-es, and maps outcomes to command-bus replies.

use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
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

/// Decodes a schema-valid body into the command named by the routing key.
pub fn decode(name: &str, body: Value) -> Option<Result<OrderCommand, serde_json::Error>> {
    if !SCHEMAS.iter().any(|(known, _)| *known == name) {
        return None;
    }
    // The command enum is externally tagged: `{"PlaceOrder": {...}}`.
    Some(serde_json::from_value(serde_json::json!({ name: body })))
}

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
        let rejected =
            |aggregate_id: Option<String>, code: &str, message: String| Outcome::Rejected {
                aggregate_id,
                code: code.into(),
                message,
            };
        let decoded = match decode(&command.name, command.body) {
            None => {
                return Ok(rejected(
                    None,
                    "unknown_command",
                    format!("order has no command {}", command.name),
                ))
            }
            Some(Err(err)) => return Ok(rejected(None, "invalid_body", err.to_string())),
            Some(Ok(decoded)) => decoded,
        };
        let aggregate_id = order_id(&decoded).to_string();
        match Orders::execute(self, decoded, command.context.to_metadata()).await {
            Ok(()) => Ok(Outcome::Accepted { aggregate_id }),
            Err(AggregateError::UserError(rule)) => {
                Ok(rejected(Some(aggregate_id), rule.code(), rule.to_string()))
            }
            Err(other) => Err(Unavailable(other.to_string())),
        }
    }
}
