//! Given/when/then tests of the payment aggregate, one per rule.

use cqrs_es::test::TestFramework;

use super::*;

type PaymentTest = TestFramework<Payment>;

/// Three attempts, the default, so the last one is reached in a short test.
const POLICY: AuthorizationPolicy = AuthorizationPolicy { max_attempts: 3 };

fn authorize(amount_cents: i64) -> PaymentCommand {
    PaymentCommand::AuthorizePayment {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        customer_id: "c1".into(),
        amount_cents,
        card_token: "tok_flaky".into(),
    }
}

fn requested() -> PaymentEvent {
    PaymentEvent::PaymentAuthorizationRequested {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        customer_id: "c1".into(),
        amount_cents: 1299,
        card_token: "tok_flaky".into(),
        attempt: 1,
    }
}

fn retried(attempt: u32) -> PaymentEvent {
    PaymentEvent::PaymentAuthorizationRetried {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        customer_id: "c1".into(),
        amount_cents: 1299,
        card_token: "tok_flaky".into(),
        attempt,
    }
}

fn answer(attempt: u32, status: AnswerStatus, provider_ref: Option<&str>) -> PaymentCommand {
    PaymentCommand::RecordProviderAnswer {
        payment_id: "p1".into(),
        attempt,
        status,
        provider_ref: provider_ref.map(String::from),
        reason: None,
    }
}

fn approved(attempt: u32, provider_ref: &str) -> PaymentCommand {
    answer(attempt, AnswerStatus::Approved, Some(provider_ref))
}

fn failed(attempt: u32) -> PaymentCommand {
    answer(attempt, AnswerStatus::Failed, None)
}

fn authorized() -> PaymentEvent {
    PaymentEvent::PaymentAuthorized {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        amount_cents: 1299,
        provider_ref: "ref-1".into(),
    }
}

fn declined(reason: &str) -> PaymentEvent {
    PaymentEvent::PaymentDeclined {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        reason: reason.into(),
    }
}

fn captured() -> PaymentEvent {
    PaymentEvent::PaymentCaptured {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        amount_cents: 1299,
    }
}

fn voided() -> PaymentEvent {
    PaymentEvent::PaymentVoided {
        payment_id: "p1".into(),
        order_id: "o1".into(),
    }
}

fn refunded() -> PaymentEvent {
    PaymentEvent::PaymentRefunded {
        payment_id: "p1".into(),
        order_id: "o1".into(),
        amount_cents: 1299,
        reason: "returned".into(),
    }
}

fn capture() -> PaymentCommand {
    PaymentCommand::CapturePayment {
        payment_id: "p1".into(),
    }
}

fn void() -> PaymentCommand {
    PaymentCommand::VoidPayment {
        payment_id: "p1".into(),
    }
}

fn refund(reason: &str) -> PaymentCommand {
    PaymentCommand::RefundPayment {
        payment_id: "p1".into(),
        reason: reason.into(),
    }
}

fn late_approval(provider_ref: &str) -> PaymentEvent {
    PaymentEvent::LateApprovalVoided {
        payment_id: "p1".into(),
        provider_ref: provider_ref.into(),
    }
}

#[test]
fn an_authorization_is_requested_as_the_first_attempt() {
    PaymentTest::with(POLICY)
        .given_no_previous_events()
        .when(authorize(1299))
        .then_expect_events(vec![requested()]);
}

#[test]
fn a_payment_cannot_be_requested_twice() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(authorize(1299))
        .then_expect_error(PaymentError::AlreadyRequested("p1".into()));
}

#[test]
fn an_amount_below_one_cent_is_refused() {
    PaymentTest::with(POLICY)
        .given_no_previous_events()
        .when(authorize(0))
        .then_expect_error(PaymentError::InvalidAmount);
}

#[test]
fn an_answer_for_a_payment_never_requested_is_refused() {
    PaymentTest::with(POLICY)
        .given_no_previous_events()
        .when(approved(1, "ref-1"))
        .then_expect_error(PaymentError::UnknownPayment("p1".into()));
}

#[test]
fn an_approval_authorizes_the_payment_with_the_provider_reference() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(approved(1, "ref-1"))
        .then_expect_events(vec![authorized()]);
}

#[test]
fn an_approval_needs_the_provider_reference() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(answer(1, AnswerStatus::Approved, Some(" ")))
        .then_expect_error(PaymentError::MissingProviderRef);
}

#[test]
fn a_decline_declines_the_payment_with_the_provider_reason() {
    let decline = PaymentCommand::RecordProviderAnswer {
        payment_id: "p1".into(),
        attempt: 1,
        status: AnswerStatus::Declined,
        provider_ref: None,
        reason: Some("insufficient funds".into()),
    };
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(decline)
        .then_expect_events(vec![declined("insufficient funds")]);
}

#[test]
fn a_transient_failure_asks_the_provider_again_with_the_next_attempt() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(failed(1))
        .then_expect_events(vec![retried(2)]);
}

#[test]
fn a_retried_authorization_can_still_be_approved() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), retried(2)])
        .when(approved(2, "ref-1"))
        .then_expect_events(vec![authorized()]);
}

#[test]
fn the_last_allowed_failure_declines_the_payment_as_provider_unavailable() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), retried(2), retried(3)])
        .when(failed(3))
        .then_expect_events(vec![declined(PROVIDER_UNAVAILABLE)]);
}

#[test]
fn an_answer_to_a_stale_attempt_changes_nothing() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), retried(2)])
        .when(failed(1))
        .then_expect_events(vec![]);
}

#[test]
fn an_answer_after_the_payment_was_decided_changes_nothing() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), declined("insufficient funds")])
        .when(approved(1, "ref-1"))
        .then_expect_events(vec![]);
}

#[test]
fn an_approval_after_a_void_is_recorded_so_its_hold_is_released() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), voided()])
        .when(approved(1, "ref-9"))
        .then_expect_events(vec![late_approval("ref-9")]);
}

#[test]
fn a_late_approval_is_recorded_for_release_once() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), voided(), late_approval("ref-9")])
        .when(approved(1, "ref-9"))
        .then_expect_events(vec![]);
}

#[test]
fn the_approval_a_void_already_released_is_not_released_again() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), voided()])
        .when(approved(1, "ref-1"))
        .then_expect_events(vec![]);
}

#[test]
fn an_authorized_payment_is_captured() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized()])
        .when(capture())
        .then_expect_events(vec![captured()]);
}

#[test]
fn capturing_twice_changes_nothing() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), captured()])
        .when(capture())
        .then_expect_events(vec![]);
}

#[test]
fn a_payment_that_is_not_authorized_cannot_be_captured() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(capture())
        .then_expect_error(PaymentError::NotAuthorized("p1".into()));
}

#[test]
fn a_requested_payment_is_voided() {
    PaymentTest::with(POLICY)
        .given(vec![requested()])
        .when(void())
        .then_expect_events(vec![voided()]);
}

#[test]
fn an_authorized_payment_is_voided() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized()])
        .when(void())
        .then_expect_events(vec![voided()]);
}

#[test]
fn voiding_twice_changes_nothing() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), voided()])
        .when(void())
        .then_expect_events(vec![]);
}

#[test]
fn a_captured_payment_cannot_be_voided() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), captured()])
        .when(void())
        .then_expect_error(PaymentError::AlreadyCaptured("p1".into()));
}

#[test]
fn a_declined_payment_has_nothing_to_void() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), declined("insufficient funds")])
        .when(void())
        .then_expect_error(PaymentError::Declined("p1".into()));
}

#[test]
fn a_captured_payment_is_refunded_with_its_reason() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), captured()])
        .when(refund("returned"))
        .then_expect_events(vec![refunded()]);
}

#[test]
fn refunding_twice_changes_nothing() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), captured(), refunded()])
        .when(refund("returned"))
        .then_expect_events(vec![]);
}

#[test]
fn a_payment_that_is_not_captured_cannot_be_refunded() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized()])
        .when(refund("returned"))
        .then_expect_error(PaymentError::NotCaptured("p1".into()));
}

#[test]
fn a_refund_needs_a_reason() {
    PaymentTest::with(POLICY)
        .given(vec![requested(), authorized(), captured()])
        .when(refund(" "))
        .then_expect_error(PaymentError::MissingReason);
}
