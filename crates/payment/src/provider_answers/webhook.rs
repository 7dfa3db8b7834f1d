//! The provider's `AuthorizationAnswered` webhook as the bridge publishes it: an
//! [`EventEnvelope`] (routing key `provider.Webhook.AuthorizationAnswered`, `event_id`
//! the webhook id, `aggregate_id` the payment id) whose payload is
//! `{webhook_id, payment_id, attempt, status, provider_ref, reason, occurred_at}`.
//!
//! Decoding turns it into the `RecordProviderAnswer` command and the metadata it is
//! stored with: command id `webhook:<event_id>` (so a redelivery is recognised by
//! `platform::store::command_events`), the envelope's correlation id, and the webhook
//! as causation.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use platform::envelope::{EventEnvelope, MessageContext};
use serde::Deserialize;

use crate::domain::{AnswerStatus, PaymentCommand};

/// The only webhook type this service knows.
pub const AUTHORIZATION_ANSWERED: &str = "AuthorizationAnswered";

/// The payload of an `AuthorizationAnswered` webhook.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthorizationAnswered {
    pub webhook_id: String,
    pub payment_id: String,
    pub attempt: u32,
    pub status: AnswerStatus,
    pub provider_ref: Option<String>,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Why a delivery is not a webhook this service can record; it is dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("not an event envelope: {0}")]
    Envelope(serde_json::Error),
    #[error("unknown webhook type {0:?}")]
    UnknownType(String),
    #[error("not an authorization answer: {0}")]
    Payload(serde_json::Error),
    #[error("the answer is for payment {payload:?} but travels as aggregate {envelope:?}")]
    PaymentMismatch { payload: String, envelope: String },
}

/// A decoded webhook, ready to be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub command_id: String,
    pub command: PaymentCommand,
    pub context: MessageContext,
}

impl Answer {
    /// The cqrs-es metadata stored with the events the answer appends.
    pub fn metadata(&self) -> HashMap<String, String> {
        self.context.to_metadata()
    }
}

/// Decodes one delivery body into the command it asks for.
pub fn decode(data: &[u8]) -> Result<Answer, WebhookError> {
    let envelope: EventEnvelope = serde_json::from_slice(data).map_err(WebhookError::Envelope)?;
    if envelope.event_type != AUTHORIZATION_ANSWERED {
        return Err(WebhookError::UnknownType(envelope.event_type));
    }
    let answer: AuthorizationAnswered =
        serde_json::from_value(envelope.payload).map_err(WebhookError::Payload)?;
    if answer.payment_id != envelope.aggregate_id {
        return Err(WebhookError::PaymentMismatch {
            payload: answer.payment_id,
            envelope: envelope.aggregate_id,
        });
    }
    let event_id = envelope.event_id.to_string();
    let command_id = format!("webhook:{event_id}");
    let context = MessageContext {
        command_id: command_id.clone(),
        // A flow that lost its correlation id goes on under the webhook's own.
        correlation_id: envelope.correlation_id.unwrap_or_else(|| event_id.clone()),
        causation_id: event_id,
    };
    let command = PaymentCommand::RecordProviderAnswer {
        payment_id: answer.payment_id,
        attempt: answer.attempt,
        status: answer.status,
        provider_ref: answer.provider_ref,
        reason: answer.reason,
    };
    Ok(Answer {
        command_id,
        command,
        context,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    const EVENT_ID: &str = "0191e4a4-6a9a-7c3b-9d7e-1f2a3b4c5d6e";

    fn envelope(event_type: &str, payload: Value) -> Vec<u8> {
        let envelope = json!({"event_id": EVENT_ID, "service": "provider",
            "aggregate_type": "Webhook", "aggregate_id": "p1", "sequence": 1,
            "global_position": 0, "event_type": event_type, "event_version": "1",
            "occurred_at": "2026-01-02T03:04:05Z", "correlation_id": "flow-1",
            "causation_id": null, "payload": payload});
        serde_json::to_vec(&envelope).expect("serializable")
    }

    fn approved() -> Value {
        json!({"webhook_id": EVENT_ID, "payment_id": "p1", "attempt": 1,
            "status": "approved", "provider_ref": "ref-1", "reason": null,
            "occurred_at": "2026-01-02T03:04:05Z"})
    }

    #[test]
    fn a_webhook_becomes_a_provider_answer_keyed_by_its_event_id() {
        let answer = decode(&envelope(AUTHORIZATION_ANSWERED, approved())).expect("decodes");
        assert_eq!(answer.command_id, format!("webhook:{EVENT_ID}"));
        assert_eq!(answer.context.correlation_id, "flow-1");
        assert_eq!(answer.context.causation_id, EVENT_ID);
        assert_eq!(
            answer.command,
            PaymentCommand::RecordProviderAnswer {
                payment_id: "p1".into(),
                attempt: 1,
                status: AnswerStatus::Approved,
                provider_ref: Some("ref-1".into()),
                reason: None,
            }
        );
    }

    #[test]
    fn a_body_that_is_no_envelope_is_refused() {
        assert!(matches!(decode(b"{nope"), Err(WebhookError::Envelope(_))));
    }

    #[test]
    fn an_unknown_status_is_refused() {
        let mut payload = approved();
        payload["status"] = json!("maybe");
        let decoded = decode(&envelope(AUTHORIZATION_ANSWERED, payload));
        assert!(matches!(decoded, Err(WebhookError::Payload(_))));
    }

    #[test]
    fn another_webhook_type_is_refused() {
        let decoded = decode(&envelope("RefundAnswered", approved()));
        assert!(matches!(decoded, Err(WebhookError::UnknownType(_))));
    }

    #[test]
    fn an_answer_for_another_payment_than_its_envelope_is_refused() {
        let mut payload = approved();
        payload["payment_id"] = json!("p2");
        let decoded = decode(&envelope(AUTHORIZATION_ANSWERED, payload));
        assert!(matches!(decoded, Err(WebhookError::PaymentMismatch { .. })));
    }
}
