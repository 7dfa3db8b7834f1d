//! Executes payment commands through cqrs-es, and maps outcomes to command-bus
//! replies. The same type serves the provider-answer consumer, which records each
//! webhook as a `RecordProviderAnswer` command.

use std::collections::HashMap;

use cqrs_es::AggregateError;
use platform::aggregates::Aggregates;
use platform::append::{Appender, DEFAULT_FLUSHERS};
use platform::command_bus::{CommandHandler, IncomingCommand, Outcome, Unavailable};
use platform::cqrs::{decode_tagged, outcome, ExecutionError};
use sqlx::PgPool;

use crate::domain::{AuthorizationPolicy, Payment, PaymentCommand, PaymentError};

/// Every command the broker may carry, with its JSON Schema, for the command bus.
/// `RecordProviderAnswer` is absent on purpose: only provider webhooks issue it.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "AuthorizePayment",
        include_str!("../../../schemas/commands/payment/AuthorizePayment.v1.json"),
    ),
    (
        "CapturePayment",
        include_str!("../../../schemas/commands/payment/CapturePayment.v1.json"),
    ),
    (
        "RefundPayment",
        include_str!("../../../schemas/commands/payment/RefundPayment.v1.json"),
    ),
    (
        "VoidPayment",
        include_str!("../../../schemas/commands/payment/VoidPayment.v1.json"),
    ),
];

fn payment_id(command: &PaymentCommand) -> &str {
    match command {
        PaymentCommand::AuthorizePayment { payment_id, .. }
        | PaymentCommand::CapturePayment { payment_id }
        | PaymentCommand::RefundPayment { payment_id, .. }
        | PaymentCommand::VoidPayment { payment_id }
        | PaymentCommand::RecordProviderAnswer { payment_id, .. } => payment_id,
    }
}

pub struct Payments {
    payments: Aggregates<Payment>,
}

impl Payments {
    pub fn new(pool: PgPool, policy: AuthorizationPolicy) -> Self {
        let appender = Appender::new(pool.clone(), DEFAULT_FLUSHERS);
        Self {
            payments: Aggregates::new(&pool, &appender, policy),
        }
    }

    /// Executes one command; `metadata` (command, correlation and causation ids) is
    /// stored with every event it appends.
    pub async fn execute(
        &self,
        command: PaymentCommand,
        metadata: HashMap<String, String>,
    ) -> Result<(), AggregateError<PaymentError>> {
        let id = payment_id(&command).to_string();
        self.payments.execute(&id, command, metadata).await
    }
}

impl CommandHandler for Payments {
    async fn execute(&self, command: IncomingCommand) -> Result<Outcome, Unavailable> {
        let decoded = match decode_tagged(SCHEMAS, &command.name, command.body) {
            Ok(decoded) => decoded,
            Err(rejection) => return Ok(rejection),
        };
        let aggregate_id = payment_id(&decoded).to_string();
        let result = Payments::execute(self, decoded, command.context.to_metadata()).await;
        outcome(aggregate_id, result.map_err(ExecutionError::from))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_broker_body_decodes_into_its_command() {
        let body = json!({"payment_id": "p1", "order_id": "o1", "customer_id": "c1",
            "amount_cents": 1299, "card_token": "tok_ok"});
        let decoded: Result<PaymentCommand, _> = decode_tagged(SCHEMAS, "AuthorizePayment", body);
        assert_eq!(
            decoded.map(|c| payment_id(&c).to_string()),
            Ok("p1".to_string())
        );
    }

    #[test]
    fn a_provider_answer_cannot_come_from_the_broker() {
        let body = json!({"payment_id": "p1", "attempt": 1, "status": "approved",
            "provider_ref": "ref-1", "reason": null});
        let decoded: Result<PaymentCommand, _> =
            decode_tagged(SCHEMAS, "RecordProviderAnswer", body);
        assert!(
            matches!(decoded, Err(Outcome::Rejected { code, .. }) if code == "unknown_command")
        );
    }
}
