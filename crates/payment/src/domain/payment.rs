//! The payment aggregate:
//! `requested -> (retried ->)* authorized | declined`, `authorized -> captured -> refunded`,
//! and `requested | authorized -> voided`.
//!
//! `RecordProviderAnswer` never comes from the broker: the provider-answer consumer
//! issues it for each webhook. Webhooks arrive at least once and out of order, so an
//! answer for an attempt that is no longer the current one, or for a payment that
//! already left `requested`, is accepted and changes nothing. One exception: an
//! approval after the payment was voided. The void was decided while the provider was
//! still deciding, so the hold it then placed on the card would never be released;
//! `LateApprovalVoided` records that it must be (the event goes out to the provider).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::error::PaymentError;

/// The reason of a payment declined because every allowed attempt failed.
pub const PROVIDER_UNAVAILABLE: &str = "provider unavailable";
/// The reason of a decline for which the provider gave none.
const DECLINED_BY_PROVIDER: &str = "declined by the provider";

/// What the provider answered to one authorization attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerStatus {
    Approved,
    Declined,
    /// A transient provider error: the attempt may be made again.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentCommand {
    AuthorizePayment {
        payment_id: String,
        order_id: String,
        customer_id: String,
        amount_cents: i64,
        card_token: String,
    },
    CapturePayment {
        payment_id: String,
    },
    RefundPayment {
        payment_id: String,
        reason: String,
    },
    VoidPayment {
        payment_id: String,
    },
    /// Internal: never decoded from the broker (it has no schema there).
    RecordProviderAnswer {
        payment_id: String,
        attempt: u32,
        status: AnswerStatus,
        provider_ref: Option<String>,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentEvent {
    PaymentAuthorizationRequested {
        payment_id: String,
        order_id: String,
        customer_id: String,
        amount_cents: i64,
        card_token: String,
        attempt: u32,
    },
    PaymentAuthorizationRetried {
        payment_id: String,
        order_id: String,
        customer_id: String,
        amount_cents: i64,
        card_token: String,
        attempt: u32,
    },
    PaymentAuthorized {
        payment_id: String,
        order_id: String,
        amount_cents: i64,
        provider_ref: String,
    },
    PaymentDeclined {
        payment_id: String,
        order_id: String,
        reason: String,
    },
    PaymentCaptured {
        payment_id: String,
        order_id: String,
        amount_cents: i64,
    },
    PaymentVoided {
        payment_id: String,
        order_id: String,
    },
    PaymentRefunded {
        payment_id: String,
        order_id: String,
        amount_cents: i64,
        reason: String,
    },
    LateApprovalVoided {
        payment_id: String,
        provider_ref: String,
    },
}

impl DomainEvent for PaymentEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PaymentAuthorizationRequested { .. } => "PaymentAuthorizationRequested",
            Self::PaymentAuthorizationRetried { .. } => "PaymentAuthorizationRetried",
            Self::PaymentAuthorized { .. } => "PaymentAuthorized",
            Self::PaymentDeclined { .. } => "PaymentDeclined",
            Self::PaymentCaptured { .. } => "PaymentCaptured",
            Self::PaymentVoided { .. } => "PaymentVoided",
            Self::PaymentRefunded { .. } => "PaymentRefunded",
            Self::LateApprovalVoided { .. } => "LateApprovalVoided",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// How many attempts an authorization gets before transient failures decline it; the
/// aggregate's service, so the limit is configuration while the decision stays pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizationPolicy {
    pub max_attempts: u32,
}

impl Default for AuthorizationPolicy {
    fn default() -> Self {
        Self { max_attempts: 3 }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    #[default]
    New,
    /// Waiting for the provider's answer to the current attempt.
    Requested,
    Authorized,
    Declined,
    Voided,
    Captured,
    Refunded,
}

/// What was asked for, kept so a retry can ask again from the aggregate alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub order_id: String,
    pub customer_id: String,
    pub amount_cents: i64,
    pub card_token: String,
}

impl AuthorizationRequest {
    /// The event asking the provider for `attempt`: the first, or a retry.
    fn ask(&self, payment_id: String, attempt: u32) -> PaymentEvent {
        let (order_id, customer_id) = (self.order_id.clone(), self.customer_id.clone());
        let (amount_cents, card_token) = (self.amount_cents, self.card_token.clone());
        if attempt <= 1 {
            return PaymentEvent::PaymentAuthorizationRequested {
                payment_id,
                order_id,
                customer_id,
                amount_cents,
                card_token,
                attempt,
            };
        }
        PaymentEvent::PaymentAuthorizationRetried {
            payment_id,
            order_id,
            customer_id,
            amount_cents,
            card_token,
            attempt,
        }
    }
}

/// The provider's answer to one attempt, as `RecordProviderAnswer` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderAnswer {
    pub attempt: u32,
    pub status: AnswerStatus,
    pub provider_ref: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub status: PaymentStatus,
    pub request: Option<AuthorizationRequest>,
    /// The current authorization attempt (0 before the first).
    pub attempt: u32,
    /// The provider's reference of the approved authorization.
    pub provider_ref: Option<String>,
    /// Late approvals already recorded for release, so a re-sent one is recorded once.
    pub released: Vec<String>,
}

impl Payment {
    /// What was asked for, or `UnknownPayment` when nothing ever was.
    fn requested(&self, payment_id: &str) -> Result<&AuthorizationRequest, PaymentError> {
        self.request
            .as_ref()
            .ok_or_else(|| PaymentError::UnknownPayment(payment_id.to_string()))
    }
}

#[path = "decisions.rs"]
mod decisions;
pub use decisions::{authorize, capture, record_answer, refund, void};

impl Aggregate for Payment {
    const TYPE: &'static str = "Payment";
    type Command = PaymentCommand;
    type Event = PaymentEvent;
    type Error = PaymentError;
    type Services = AuthorizationPolicy;

    async fn handle(
        &mut self,
        command: Self::Command,
        policy: &AuthorizationPolicy,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = decisions::decide(self, command, policy)?;
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PaymentEvent::PaymentAuthorizationRequested {
                order_id,
                customer_id,
                amount_cents,
                card_token,
                attempt,
                ..
            } => {
                self.status = PaymentStatus::Requested;
                self.attempt = attempt;
                self.request = Some(AuthorizationRequest {
                    order_id,
                    customer_id,
                    amount_cents,
                    card_token,
                });
            }
            PaymentEvent::PaymentAuthorizationRetried { attempt, .. } => self.attempt = attempt,
            PaymentEvent::PaymentAuthorized { provider_ref, .. } => {
                self.status = PaymentStatus::Authorized;
                self.provider_ref = Some(provider_ref);
            }
            PaymentEvent::PaymentDeclined { .. } => self.status = PaymentStatus::Declined,
            PaymentEvent::PaymentCaptured { .. } => self.status = PaymentStatus::Captured,
            PaymentEvent::PaymentVoided { .. } => self.status = PaymentStatus::Voided,
            PaymentEvent::PaymentRefunded { .. } => self.status = PaymentStatus::Refunded,
            PaymentEvent::LateApprovalVoided { provider_ref, .. } => {
                self.released.push(provider_ref);
            }
        }
    }
}

#[cfg(test)]
#[path = "payment_tests.rs"]
mod tests;
