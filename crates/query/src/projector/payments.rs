//! The MongoDB view `payment_info`: one document per payment (`_id` the payment id),
//! found by its order (index `order_requested_at`): `status` (`requested`, `authorized`,
//! `declined`, `captured`, `voided`, `refunded`), `amount_cents`, `provider_ref`,
//! `attempts` (authorization attempts made), `reason` (why it was declined or
//! refunded), `refunded_cents`, and `late_approval_voided` (the provider approved after
//! the void, and that hold was released).
//!
//! Per-aggregate: versioned by the payment's sequence like `order_details`, so an event
//! applied again changes nothing. Only the first authorization request creates it.

use mongodb::bson::{doc, Bson, Document};

use super::events::{AuthorizationRequested, PaymentEvent};
use super::guard::Applying;
use super::mongo::set_versioned;
use super::Outcome;
use crate::store::PAYMENT_INFO;

/// Applies a payment event to `payment_info`.
pub async fn apply(
    event: &Applying<'_>,
    payment: &PaymentEvent,
) -> Result<Outcome, mongodb::error::Error> {
    let payments = event.collection(PAYMENT_INFO);
    let (fields, creates) = match payment {
        PaymentEvent::AuthorizationRequested(requested) => {
            (requested_fields(event, requested), true)
        }
        other => (change_fields(other), false),
    };
    set_versioned(&payments, event.envelope, fields, creates).await
}

/// The whole document, as the first request makes it.
fn requested_fields(event: &Applying<'_>, requested: &AuthorizationRequested) -> Document {
    doc! {
        "payment_id": &requested.payment_id,
        "order_id": &requested.order_id,
        "customer_id": &requested.customer_id,
        "amount_cents": requested.amount_cents,
        "status": "requested",
        "attempts": requested.attempt,
        "provider_ref": Bson::Null,
        "reason": Bson::Null,
        "refunded_cents": 0_i64,
        "late_approval_voided": false,
        "requested_at": event.at(),
    }
}

/// What a later event changes.
fn change_fields(payment: &PaymentEvent) -> Document {
    match payment {
        PaymentEvent::AuthorizationRequested(requested)
        | PaymentEvent::AuthorizationRetried(requested) => {
            doc! {"status": "requested", "attempts": requested.attempt}
        }
        PaymentEvent::Authorized(authorized) => doc! {
            "status": "authorized", "amount_cents": authorized.amount_cents,
            "provider_ref": &authorized.provider_ref,
        },
        PaymentEvent::Declined(declined) => {
            doc! {"status": "declined", "reason": &declined.reason}
        }
        PaymentEvent::Captured(captured) => {
            doc! {"status": "captured", "amount_cents": captured.amount_cents}
        }
        PaymentEvent::Voided(_) => doc! {"status": "voided"},
        PaymentEvent::Refunded(refunded) => doc! {
            "status": "refunded", "refunded_cents": refunded.amount_cents,
            "reason": &refunded.reason,
        },
        // The status stays `voided`: the late approval's hold was released, not kept.
        PaymentEvent::LateApprovalVoided(late) => doc! {
            "late_approval_voided": true, "provider_ref": &late.provider_ref,
        },
    }
}
