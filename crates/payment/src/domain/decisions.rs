//! The decisions of the payment aggregate: each a pure function from the current state
//! and one command to the events to append (none for an accepted no-op) or the rule
//! the command broke.

use super::{
    AnswerStatus, AuthorizationPolicy, AuthorizationRequest, Payment, PaymentCommand, PaymentError,
    PaymentEvent, PaymentStatus, ProviderAnswer, DECLINED_BY_PROVIDER, PROVIDER_UNAVAILABLE,
};

type Decision = Result<Vec<PaymentEvent>, PaymentError>;

/// Routes a command to its decision.
pub(super) fn decide(
    payment: &Payment,
    command: PaymentCommand,
    policy: &AuthorizationPolicy,
) -> Decision {
    match command {
        PaymentCommand::AuthorizePayment {
            payment_id,
            order_id,
            customer_id,
            amount_cents,
            card_token,
        } => {
            let request = AuthorizationRequest {
                order_id,
                customer_id,
                amount_cents,
                card_token,
            };
            authorize(payment, payment_id, request)
        }
        PaymentCommand::CapturePayment { payment_id } => capture(payment, payment_id),
        PaymentCommand::RefundPayment { payment_id, reason } => refund(payment, payment_id, reason),
        PaymentCommand::VoidPayment { payment_id } => void(payment, payment_id),
        PaymentCommand::RecordProviderAnswer {
            payment_id,
            attempt,
            status,
            provider_ref,
            reason,
        } => {
            let answer = ProviderAnswer {
                attempt,
                status,
                provider_ref,
                reason,
            };
            record_answer(payment, payment_id, answer, policy)
        }
    }
}

/// Decides `AuthorizePayment`: asked for once per payment id, for at least one cent.
pub fn authorize(payment: &Payment, payment_id: String, request: AuthorizationRequest) -> Decision {
    if payment.status != PaymentStatus::New {
        return Err(PaymentError::AlreadyRequested(payment_id));
    }
    if request.amount_cents < 1 {
        return Err(PaymentError::InvalidAmount);
    }
    Ok(vec![request.ask(payment_id, 1)])
}

/// Decides `CapturePayment`: only an authorized payment is captured; capturing twice
/// (or a refunded payment) changes nothing.
pub fn capture(payment: &Payment, payment_id: String) -> Decision {
    let request = payment.requested(&payment_id)?;
    match payment.status {
        PaymentStatus::Authorized => Ok(vec![PaymentEvent::PaymentCaptured {
            order_id: request.order_id.clone(),
            amount_cents: request.amount_cents,
            payment_id,
        }]),
        PaymentStatus::Captured | PaymentStatus::Refunded => Ok(vec![]),
        PaymentStatus::New
        | PaymentStatus::Requested
        | PaymentStatus::Declined
        | PaymentStatus::Voided => Err(PaymentError::NotAuthorized(payment_id)),
    }
}

/// Decides `VoidPayment`: a requested or authorized payment is voided; voiding twice
/// changes nothing; taken money is refunded, not voided; a declined payment holds
/// nothing to void.
pub fn void(payment: &Payment, payment_id: String) -> Decision {
    let request = payment.requested(&payment_id)?;
    match payment.status {
        PaymentStatus::Requested | PaymentStatus::Authorized => {
            Ok(vec![PaymentEvent::PaymentVoided {
                order_id: request.order_id.clone(),
                payment_id,
            }])
        }
        PaymentStatus::Voided => Ok(vec![]),
        PaymentStatus::Captured | PaymentStatus::Refunded => {
            Err(PaymentError::AlreadyCaptured(payment_id))
        }
        PaymentStatus::Declined => Err(PaymentError::Declined(payment_id)),
        PaymentStatus::New => Err(PaymentError::UnknownPayment(payment_id)),
    }
}

/// Decides `RefundPayment`: a captured payment is refunded in full, with a reason;
/// refunding twice changes nothing.
pub fn refund(payment: &Payment, payment_id: String, reason: String) -> Decision {
    if reason.trim().is_empty() {
        return Err(PaymentError::MissingReason);
    }
    let request = payment.requested(&payment_id)?;
    match payment.status {
        PaymentStatus::Captured => Ok(vec![PaymentEvent::PaymentRefunded {
            order_id: request.order_id.clone(),
            amount_cents: request.amount_cents,
            payment_id,
            reason,
        }]),
        PaymentStatus::Refunded => Ok(vec![]),
        _ => Err(PaymentError::NotCaptured(payment_id)),
    }
}

/// Decides `RecordProviderAnswer`: an answer to the current attempt of a requested
/// payment decides it (or asks again); any other answer is a no-op, except a late
/// approval of a voided payment, whose hold must be released.
pub fn record_answer(
    payment: &Payment,
    payment_id: String,
    mut answer: ProviderAnswer,
    policy: &AuthorizationPolicy,
) -> Decision {
    let request = payment.requested(&payment_id)?;
    answer.provider_ref = answer.provider_ref.filter(|r| !r.trim().is_empty());
    if answer.status == AnswerStatus::Approved && answer.provider_ref.is_none() {
        return Err(PaymentError::MissingProviderRef);
    }
    match payment.status {
        PaymentStatus::Requested if answer.attempt == payment.attempt => {
            Ok(vec![answered(payment_id, request, answer, policy)])
        }
        PaymentStatus::Voided => Ok(late_approval(payment, payment_id, answer)),
        _ => Ok(vec![]),
    }
}

/// The event of an answer to the current attempt: a failure is retried until the
/// policy's last attempt, whose failure declines the payment.
fn answered(
    payment_id: String,
    request: &AuthorizationRequest,
    answer: ProviderAnswer,
    policy: &AuthorizationPolicy,
) -> PaymentEvent {
    let order_id = request.order_id.clone();
    match answer.status {
        // record_answer refused an approval without a reference already.
        AnswerStatus::Approved => PaymentEvent::PaymentAuthorized {
            payment_id,
            order_id,
            amount_cents: request.amount_cents,
            provider_ref: answer.provider_ref.unwrap_or_default(),
        },
        AnswerStatus::Failed if answer.attempt < policy.max_attempts.max(1) => {
            request.ask(payment_id, answer.attempt.saturating_add(1))
        }
        AnswerStatus::Failed => PaymentEvent::PaymentDeclined {
            payment_id,
            order_id,
            reason: PROVIDER_UNAVAILABLE.to_string(),
        },
        AnswerStatus::Declined => PaymentEvent::PaymentDeclined {
            payment_id,
            order_id,
            reason: answer
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| DECLINED_BY_PROVIDER.to_string()),
        },
    }
}

/// A release of a hold the provider placed after the void: once per provider
/// reference, and not for the authorization the void itself released.
fn late_approval(
    payment: &Payment,
    payment_id: String,
    answer: ProviderAnswer,
) -> Vec<PaymentEvent> {
    match (answer.status, answer.provider_ref) {
        (AnswerStatus::Approved, Some(provider_ref))
            if payment.provider_ref.as_ref() != Some(&provider_ref)
                && !payment.released.contains(&provider_ref) =>
        {
            vec![PaymentEvent::LateApprovalVoided {
                payment_id,
                provider_ref,
            }]
        }
        _ => vec![],
    }
}
