//! What the simulated gateway answers, as a pure function of the request.
//!
//! The card token drives the answer so that tests and demos can ask for any outcome:
//! `tok_ok` approves, `tok_decline` declines, `tok_timeout` never answers, `tok_flaky`
//! fails its first attempt and approves the later ones; any other token declines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The payload of a `PaymentAuthorizationRequested` / `PaymentAuthorizationRetried` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub payment_id: String,
    pub order_id: String,
    pub customer_id: String,
    pub amount_cents: i64,
    pub card_token: String,
    pub attempt: u32,
}

/// The outcome of one authorization attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Approved,
    Declined,
    Failed,
}

/// The provider's answer, as its webhook body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub webhook_id: Uuid,
    pub payment_id: String,
    pub attempt: u32,
    pub status: Status,
    pub provider_ref: Option<String>,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

/// The answer to a request, before it is dated and addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: Status,
    pub provider_ref: Option<String>,
    pub reason: Option<String>,
}

/// The id of the webhook answering `(payment_id, attempt)`. Deterministic, so a
/// redelivered request yields the same `Nats-Msg-Id` and JetStream drops the copy.
pub fn webhook_id(payment_id: &str, attempt: u32) -> Uuid {
    let namespace = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"urn:commerce:payment-provider:webhook",
    );
    Uuid::new_v5(&namespace, format!("{payment_id}:{attempt}").as_bytes())
}

/// Decides the answer to a request; `None` means the gateway never answers.
pub fn decide(request: &AuthorizationRequest) -> Option<Answer> {
    match request.card_token.as_str() {
        "tok_ok" => Some(approve(request)),
        "tok_decline" => Some(refuse(Status::Declined, "card declined")),
        "tok_timeout" => None,
        "tok_flaky" if request.attempt <= 1 => Some(refuse(Status::Failed, "gateway error")),
        "tok_flaky" => Some(approve(request)),
        _ => Some(refuse(Status::Declined, "unknown card")),
    }
}

fn approve(request: &AuthorizationRequest) -> Answer {
    // Derived from the webhook id, so a redelivery carries the same reference.
    let id = webhook_id(&request.payment_id, request.attempt)
        .simple()
        .to_string();
    Answer {
        status: Status::Approved,
        provider_ref: Some(format!("prv_{}", &id[..12])),
        reason: None,
    }
}

fn refuse(status: Status, reason: &str) -> Answer {
    Answer {
        status,
        provider_ref: None,
        reason: Some(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(card_token: &str, attempt: u32) -> AuthorizationRequest {
        AuthorizationRequest {
            payment_id: "pay-1".into(),
            order_id: "order-1".into(),
            customer_id: "cust-1".into(),
            amount_cents: 1299,
            card_token: card_token.into(),
            attempt,
        }
    }

    fn status_of(card_token: &str, attempt: u32) -> Option<Status> {
        decide(&request(card_token, attempt)).map(|answer| answer.status)
    }

    #[test]
    fn a_good_card_is_approved_with_a_provider_reference() {
        let answer = decide(&request("tok_ok", 1)).expect("an answer");
        assert_eq!(answer.status, Status::Approved);
        let reference = answer.provider_ref.expect("a reference");
        assert!(reference.starts_with("prv_") && reference.len() == 16);
        assert_eq!(answer.reason, None);
    }

    #[test]
    fn a_declining_card_is_declined_with_a_reason() {
        let answer = decide(&request("tok_decline", 1)).expect("an answer");
        assert_eq!(answer.status, Status::Declined);
        assert_eq!(answer.reason.as_deref(), Some("card declined"));
        assert_eq!(answer.provider_ref, None);
    }

    #[test]
    fn a_timing_out_card_gets_no_answer() {
        assert_eq!(status_of("tok_timeout", 1), None);
        assert_eq!(status_of("tok_timeout", 2), None);
    }

    #[test]
    fn a_flaky_card_fails_its_first_attempt_and_is_approved_after() {
        let first = decide(&request("tok_flaky", 1)).expect("an answer");
        assert_eq!(first.status, Status::Failed);
        assert_eq!(first.reason.as_deref(), Some("gateway error"));
        assert_eq!(status_of("tok_flaky", 2), Some(Status::Approved));
        assert_eq!(status_of("tok_flaky", 3), Some(Status::Approved));
    }

    #[test]
    fn an_unknown_card_is_declined_as_unknown() {
        let answer = decide(&request("tok_mystery", 1)).expect("an answer");
        assert_eq!(answer.status, Status::Declined);
        assert_eq!(answer.reason.as_deref(), Some("unknown card"));
    }

    #[test]
    fn the_same_attempt_always_gets_the_same_webhook_id_and_reference() {
        assert_eq!(webhook_id("pay-1", 1), webhook_id("pay-1", 1));
        assert_ne!(webhook_id("pay-1", 1), webhook_id("pay-1", 2));
        assert_ne!(webhook_id("pay-1", 1), webhook_id("pay-2", 1));
        assert_eq!(decide(&request("tok_ok", 1)), decide(&request("tok_ok", 1)));
    }

    #[test]
    fn statuses_are_written_in_lowercase() {
        let json = serde_json::to_value(Status::Approved).expect("serializable");
        assert_eq!(json, "approved");
    }
}
