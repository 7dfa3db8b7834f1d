//! Property tests of the payment aggregate: arbitrary sequences of authorizations
//! (zero, negative and huge amounts), captures, voids, refunds and provider answers
//! (stale, repeated, without a reference) run in memory through `handle`/`apply`, with
//! the money rules checked over the whole history.

use platform::cqrs::handle_in_memory;
use proptest::prelude::*;

use super::{
    AnswerStatus, AuthorizationPolicy, Payment, PaymentCommand, PaymentEvent, PaymentStatus,
};

const ID: &str = "p1";

fn command() -> impl Strategy<Value = PaymentCommand> {
    let amount =
        prop_oneof![4 => 1i64..100_000, 1 => Just(0i64), 1 => Just(-5i64), 1 => Just(i64::MAX)];
    let authorize = amount.prop_map(|amount_cents| PaymentCommand::AuthorizePayment {
        payment_id: ID.into(),
        order_id: "o1".into(),
        customer_id: "c1".into(),
        amount_cents,
        card_token: "tok_ok".into(),
    });
    let reason = prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("r".to_string())
    ];
    let status = prop_oneof![
        3 => Just(AnswerStatus::Approved),
        1 => Just(AnswerStatus::Declined),
        1 => Just(AnswerStatus::Failed)
    ];
    // Mostly a usable reference, so approvals (and what follows them) are common.
    let reference = prop_oneof![
        4 => Just(Some("ref-1")),
        1 => Just(Some("ref-2")),
        1 => Just(Some("")),
        1 => Just(None),
    ];
    let answer = (
        0u32..5,
        status,
        reference,
        proptest::option::of(reason.clone()),
    )
        .prop_map(|(attempt, status, provider_ref, reason)| {
            PaymentCommand::RecordProviderAnswer {
                payment_id: ID.into(),
                attempt,
                status,
                provider_ref: provider_ref.map(String::from),
                reason,
            }
        });
    prop_oneof![
        1 => authorize,
        2 => Just(PaymentCommand::CapturePayment { payment_id: ID.into() }),
        1 => Just(PaymentCommand::VoidPayment { payment_id: ID.into() }),
        2 => reason.prop_map(|reason| PaymentCommand::RefundPayment { payment_id: ID.into(), reason }),
        3 => answer,
    ]
}

/// What the whole history did with money so far.
#[derive(Debug, Default)]
struct Ledger {
    authorized: Option<i64>,
    captured: Vec<i64>,
    refunded: Vec<i64>,
    ended_without_money: bool,
}

impl Ledger {
    /// Checks one event against the state it was decided on, then records it.
    fn record(&mut self, before: PaymentStatus, event: &PaymentEvent) {
        match event {
            PaymentEvent::PaymentAuthorized { amount_cents, .. } => {
                assert!(
                    !self.ended_without_money,
                    "authorized after a void or decline"
                );
                assert_eq!(
                    self.authorized.replace(*amount_cents),
                    None,
                    "authorized twice"
                );
            }
            PaymentEvent::PaymentCaptured { amount_cents, .. } => {
                assert_eq!(before, PaymentStatus::Authorized);
                assert!(
                    !self.ended_without_money,
                    "captured after a void or decline"
                );
                assert!(
                    Some(*amount_cents) <= self.authorized,
                    "captured more than authorized"
                );
                self.captured.push(*amount_cents);
            }
            PaymentEvent::PaymentRefunded { amount_cents, .. } => {
                assert_eq!(before, PaymentStatus::Captured);
                assert_eq!(
                    self.captured.as_slice(),
                    [*amount_cents],
                    "refund of no capture"
                );
                self.refunded.push(*amount_cents);
            }
            PaymentEvent::PaymentVoided { .. } | PaymentEvent::PaymentDeclined { .. } => {
                assert!(
                    self.captured.is_empty(),
                    "money taken, then voided or declined"
                );
                self.ended_without_money = true;
            }
            _ => {}
        }
        assert!(
            self.captured.len() <= 1 && self.refunded.len() <= 1,
            "{self:?}"
        );
    }
}

/// The documented lifecycle: requested (retried) -> authorized | declined | voided,
/// authorized -> captured | voided, captured -> refunded.
fn allowed(from: PaymentStatus, to: PaymentStatus) -> bool {
    use PaymentStatus::*;
    from == to
        || matches!(
            (from, to),
            (New, Requested)
                | (Requested, Authorized | Declined | Voided)
                | (Authorized, Captured | Voided)
                | (Captured, Refunded)
        )
}

fn step(
    payment: &Payment,
    ledger: &mut Ledger,
    command: PaymentCommand,
    policy: &AuthorizationPolicy,
) -> Payment {
    let (after, result) = handle_in_memory(payment, command, policy);
    match result {
        Ok(events) => {
            let mut status = payment.status;
            let mut replay = payment.clone();
            for event in &events {
                ledger.record(status, event);
                cqrs_es::Aggregate::apply(&mut replay, event.clone());
                assert!(
                    allowed(status, replay.status),
                    "{status:?} -> {:?}",
                    replay.status
                );
                status = replay.status;
            }
            assert_eq!(replay, after, "handle and apply disagree");
            after
        }
        Err(_) => {
            assert_eq!(&after, payment, "a rejected command changed the payment");
            after
        }
    }
}

proptest! {
    // Captures and refunds need an approval first: more cases, so many reach them.
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn money_is_captured_once_within_the_authorization_and_refunded_at_most_once(
        max_attempts in 0u32..5,
        authorized_first in any::<bool>(),
        commands in prop::collection::vec(command(), 0..30),
    ) {
        let policy = AuthorizationPolicy { max_attempts };
        let (mut payment, mut ledger) = (Payment::default(), Ledger::default());
        let first = authorized_first.then(|| PaymentCommand::AuthorizePayment {
            payment_id: ID.into(),
            order_id: "o1".into(),
            customer_id: "c1".into(),
            amount_cents: 1299,
            card_token: "tok_ok".into(),
        });
        for command in first.into_iter().chain(commands) {
            payment = step(&payment, &mut ledger, command, &policy);
        }
        if payment.status == PaymentStatus::Refunded {
            prop_assert_eq!(&ledger.refunded, &ledger.captured);
        }
    }
}
