//! Executes order commands through cqrs-es, and maps outcomes to command-bus replies.
//!
//! Before a `PlaceOrder` is decided, the customer's standing is looked up in the
//! service's own `customers` read model ([`crate::customers`]) and handed to the pure
//! decision with the command; a failed lookup is an unavailable dependency (the bus
//! retries the command), never a rejection.

use std::collections::HashMap;

use cqrs_es::AggregateError;
use platform::aggregates::Aggregates;
use platform::append::{Appender, DEFAULT_FLUSHERS};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome, ExecutionError};
use sqlx::PgPool;

use crate::customers::table;
use crate::domain::{Order, OrderCommand, Placement};

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
        OrderCommand::PlaceOrder(Placement { order_id, .. })
        | OrderCommand::ConfirmOrder { order_id }
        | OrderCommand::CancelOrder { order_id, .. } => order_id,
    }
}

pub struct Orders {
    orders: Aggregates<Order>,
    pool: PgPool,
}

impl Orders {
    pub fn new(pool: PgPool) -> Self {
        let appender = Appender::new(pool.clone(), DEFAULT_FLUSHERS);
        Self {
            orders: Aggregates::new(&pool, &appender, ()),
            pool,
        }
    }

    /// Fills in what the decision needs from outside the aggregate: for `PlaceOrder`,
    /// the customer's standing as the read model has it now. The read model is
    /// eventually consistent, and the decision is taken on what it holds.
    pub async fn prepare(&self, command: OrderCommand) -> Result<OrderCommand, sqlx::Error> {
        match command {
            OrderCommand::PlaceOrder(mut placement) => {
                placement.customer = table::standing(&self.pool, &placement.customer_id).await?;
                Ok(OrderCommand::PlaceOrder(placement))
            }
            other => Ok(other),
        }
    }

    /// Executes a command as it is. A `PlaceOrder` that did not go through
    /// [`Self::prepare`] carries the default standing, unknown, and is refused.
    pub async fn execute(
        &self,
        command: OrderCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<crate::domain::OrderError>> {
        let id = order_id(&command).to_string();
        self.orders.execute(&id, command, metadata).await
    }
}

impl CommandHandler for Orders {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded = match decode_tagged(SCHEMAS, &command.name, command.body) {
            Ok(decoded) => decoded,
            Err(rejection) => return Ok(rejection),
        };
        let aggregate_id = order_id(&decoded).to_string();
        let prepared = self
            .prepare(decoded)
            .await
            .map_err(|err| Unavailable(format!("customer lookup failed: {err}")))?;
        let result = Orders::execute(self, prepared, command.context.to_metadata()).await;
        outcome(aggregate_id, result.map_err(ExecutionError::from))
    }
}
