//! Decoding the user service's events into the one thing the order service keeps of
//! them: whether a customer is active, as of which sequence of their `User` aggregate.
//!
//! The events arrive as [`EventEnvelope`]s (`aggregate_id` = user id, `sequence` = the
//! aggregate's sequence): `user.User.UserRegistered` makes a customer active,
//! `user.User.UserDeactivated` inactive. Anything else is refused, to be dead-lettered.

use platform::envelope::EventEnvelope;
use platform::payload::Payload;
use serde::Deserialize;

const USER_SERVICE: &str = "user";
const USER_AGGREGATE: &str = "User";
const REGISTERED: &str = "UserRegistered";
const DEACTIVATED: &str = "UserDeactivated";

/// A customer's standing as one user event sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChange {
    pub customer_id: String,
    pub active: bool,
    /// The event's sequence in the user's aggregate: a change applies only over an
    /// older one, so redelivered and out-of-order events change nothing.
    pub sequence: i64,
}

/// Why a delivery is not a user event this service can apply; it is dead-lettered.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("not an event envelope: {0}")]
    Envelope(serde_json::Error),
    #[error("not a user event: {service}.{aggregate_type}.{event_type}")]
    UnknownEvent {
        service: String,
        aggregate_type: String,
        event_type: String,
    },
    #[error("payload without a user id: {0}")]
    Payload(serde_json::Error),
    #[error("the event is for user {payload:?} but travels as aggregate {envelope:?}")]
    UserMismatch { payload: String, envelope: String },
}

/// The only field read from either payload; the rest is ignored (a tolerant reader).
#[derive(Debug, Deserialize)]
struct UserRef {
    user_id: String,
}

/// Decodes one delivery body into the change it makes.
pub fn decode(data: &[u8]) -> Result<CustomerChange, ChangeError> {
    let envelope: EventEnvelope = serde_json::from_slice(data).map_err(ChangeError::Envelope)?;
    let active = activity(&envelope)?;
    let payload = envelope.payload.untagged(&envelope.event_type);
    let user: UserRef = serde_json::from_value(payload).map_err(ChangeError::Payload)?;
    if user.user_id != envelope.aggregate_id {
        return Err(ChangeError::UserMismatch {
            payload: user.user_id,
            envelope: envelope.aggregate_id,
        });
    }
    Ok(CustomerChange {
        customer_id: user.user_id,
        active,
        sequence: envelope.sequence,
    })
}

/// Whether the event leaves its user active.
fn activity(envelope: &EventEnvelope) -> Result<bool, ChangeError> {
    let from_users = envelope.service == USER_SERVICE && envelope.aggregate_type == USER_AGGREGATE;
    match envelope.event_type.as_str() {
        REGISTERED if from_users => Ok(true),
        DEACTIVATED if from_users => Ok(false),
        _ => Err(ChangeError::UnknownEvent {
            service: envelope.service.clone(),
            aggregate_type: envelope.aggregate_type.clone(),
            event_type: envelope.event_type.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn envelope(service: &str, event_type: &str, sequence: i64, payload: Value) -> Vec<u8> {
        let envelope = json!({"event_id": "0191e4a4-6a9a-7c3b-9d7e-1f2a3b4c5d6e",
            "service": service, "aggregate_type": "User", "aggregate_id": "ann",
            "sequence": sequence, "global_position": 7, "event_type": event_type,
            "event_version": "1", "occurred_at": "2026-01-02T03:04:05Z",
            "correlation_id": "flow-1", "causation_id": null, "payload": payload});
        serde_json::to_vec(&envelope).expect("serializable")
    }

    fn registered() -> Value {
        json!({"user_id": "ann", "email": "ann@example.com", "name": "Ann"})
    }

    #[test]
    fn a_registration_makes_the_customer_active_as_of_its_sequence() {
        let change = decode(&envelope("user", REGISTERED, 1, registered())).expect("decodes");
        let expected = CustomerChange {
            customer_id: "ann".into(),
            active: true,
            sequence: 1,
        };
        assert_eq!(change, expected);
    }

    #[test]
    fn a_deactivation_makes_the_customer_inactive() {
        let body = envelope("user", DEACTIVATED, 3, json!({"user_id": "ann"}));
        let change = decode(&body).expect("decodes");
        assert!(!change.active);
        assert_eq!(change.sequence, 3);
    }

    #[test]
    fn a_body_that_is_no_envelope_is_refused() {
        assert!(matches!(decode(b"{nope"), Err(ChangeError::Envelope(_))));
    }

    #[test]
    fn another_event_is_refused() {
        let profile = json!({"user_id": "ann", "name": "Ann Lee"});
        let decoded = decode(&envelope("user", "ProfileUpdated", 2, profile));
        assert!(matches!(decoded, Err(ChangeError::UnknownEvent { .. })));
    }

    #[test]
    fn an_event_of_another_service_is_refused() {
        let decoded = decode(&envelope("payment", REGISTERED, 1, registered()));
        assert!(matches!(decoded, Err(ChangeError::UnknownEvent { .. })));
    }

    #[test]
    fn a_payload_without_a_user_id_is_refused() {
        let decoded = decode(&envelope("user", DEACTIVATED, 2, json!({})));
        assert!(matches!(decoded, Err(ChangeError::Payload(_))));
    }

    #[test]
    fn an_event_for_another_user_than_its_envelope_is_refused() {
        let decoded = decode(&envelope("user", DEACTIVATED, 2, json!({"user_id": "bob"})));
        assert!(matches!(decoded, Err(ChangeError::UserMismatch { .. })));
    }
}
