//! Executes notification commands through cqrs-es, and maps outcomes to command-bus
//! replies. The same type serves the dispatcher: it loads a notification and records
//! each delivery outcome as a `RecordDelivery` command.

use std::collections::HashMap;

use cqrs_es::AggregateError;
use platform::aggregates::Aggregates;
use platform::append::{Appender, DEFAULT_FLUSHERS};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome, ExecutionError};
use sqlx::PgPool;

use crate::domain::{DeliveryPolicy, Notification, NotificationCommand, NotificationError};

/// Every command the broker may carry, with its JSON Schema, for the command bus.
/// `RecordDelivery` is absent on purpose: only the dispatcher issues it.
pub const SCHEMAS: &[(&str, &str)] = &[(
    "SendNotification",
    include_str!("../../../schemas/commands/notification/SendNotification.v1.json"),
)];

fn notification_id(command: &NotificationCommand) -> &str {
    match command {
        NotificationCommand::SendNotification {
            notification_id, ..
        }
        | NotificationCommand::RecordDelivery {
            notification_id, ..
        } => notification_id,
    }
}

pub struct Notifications {
    notifications: Aggregates<Notification>,
}

impl Notifications {
    pub fn new(pool: PgPool, policy: DeliveryPolicy) -> Self {
        let appender = Appender::new(pool.clone(), DEFAULT_FLUSHERS);
        Self {
            notifications: Aggregates::new(&pool, &appender, policy),
        }
    }

    /// Executes one command; `metadata` (command, correlation and causation ids) is
    /// stored with every event it appends.
    pub async fn execute(
        &self,
        command: NotificationCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<NotificationError>> {
        let id = notification_id(&command).to_string();
        self.notifications.execute(&id, command, metadata).await
    }

    /// The current state of a notification (the default state if it was never asked for).
    pub async fn load(
        &self,
        notification_id: &str,
    ) -> Result<Notification, AggregateError<NotificationError>> {
        Ok(self.notifications.load(notification_id).await?.0)
    }
}

impl CommandHandler for Notifications {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded = match decode_tagged(SCHEMAS, &command.name, command.body) {
            Ok(decoded) => decoded,
            Err(rejection) => return Ok(rejection),
        };
        let aggregate_id = notification_id(&decoded).to_string();
        let result = Notifications::execute(self, decoded, command.context.to_metadata()).await;
        outcome(aggregate_id, result.map_err(ExecutionError::from))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_broker_body_decodes_into_its_command() {
        let body = json!({"notification_id": "n1", "customer_id": "c1", "channel": "email",
            "template": "order_confirmed", "data": {"order_id": "o1"}});
        let decoded: Result<NotificationCommand, _> =
            decode_tagged(SCHEMAS, "SendNotification", body);
        assert_eq!(
            decoded.map(|c| notification_id(&c).to_string()),
            Ok("n1".to_string())
        );
    }

    #[test]
    fn record_delivery_cannot_come_from_the_broker() {
        let body = json!({"notification_id": "n1", "outcome": {"Failed": {"reason": "x"}}});
        let decoded: Result<NotificationCommand, _> =
            decode_tagged(SCHEMAS, "RecordDelivery", body);
        assert!(
            matches!(decoded, Err(Outcome::Rejected { code, .. }) if code == "unknown_command")
        );
    }
}
