//! Given/when/then tests of the saga's decisions: given the inputs so far, when one
//! more arrives, then this command is sent and the saga is in this state.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

const TIMING: Timing = Timing {
    step_timeout: Duration::from_secs(30),
    payment_timeout: Duration::from_secs(10),
};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .unwrap_or_default()
}

fn order(total_cents: i64) -> OrderFacts {
    OrderFacts {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        card_token: "tok_ok".into(),
        lines: vec![StockLine {
            sku: "A".into(),
            quantity: 2,
        }],
        total_cents,
    }
}

fn accepted(step: Step) -> Input {
    Input::Replied {
        step,
        accepted: true,
        code: None,
    }
}

fn refused(step: Step, code: &str) -> Input {
    Input::Replied {
        step,
        accepted: false,
        code: Some(code.into()),
    }
}

/// A saga started for a 300-cent order, then given `inputs` at time 0; the commands
/// it sent, in order, and the saga after the last input.
fn given(inputs: Vec<Input>) -> (Vec<Step>, Saga) {
    let started = start(order(300), "corr".into(), &TIMING, at(0));
    let mut sent: Vec<Step> = started.send.into_iter().collect();
    let mut saga = started.saga;
    for input in inputs {
        if let Some(decision) = decide(&saga, input, &TIMING, at(0)) {
            sent.extend(decision.send);
            saga = decision.saga;
        }
    }
    (sent, saga)
}

fn authorized() -> Vec<Input> {
    vec![
        accepted(Step::Reserve),
        accepted(Step::Authorize),
        Input::PaymentAuthorized,
    ]
}

#[test]
fn a_placed_order_first_reserves_its_stock() {
    let (sent, saga) = given(vec![]);
    assert_eq!(sent, vec![Step::Reserve]);
    assert_eq!(saga.status, Status::Running);
    assert_eq!(saga.deadline, Some(at(30)));
}

#[test]
fn every_step_succeeding_completes_the_saga() {
    let mut inputs = authorized();
    inputs.extend([
        accepted(Step::Capture),
        accepted(Step::Confirm),
        accepted(Step::Commit),
        accepted(Step::NotifyConfirmed),
    ]);
    let (sent, saga) = given(inputs);
    let forward = [Step::Reserve, Step::Authorize, Step::Capture, Step::Confirm];
    assert_eq!(sent[..4], forward);
    assert_eq!(sent[4..], [Step::Commit, Step::NotifyConfirmed]);
    assert_eq!(saga.status, Status::Completed);
    assert_eq!(saga.deadline, None);
}

#[test]
fn rejected_stock_cancels_the_order_and_notifies() {
    let (sent, saga) = given(vec![refused(Step::Reserve, "insufficient_stock")]);
    assert_eq!(sent, vec![Step::Reserve, Step::Cancel]);
    assert_eq!(saga.status, Status::Compensating);
    let (sent, saga) = given(vec![
        refused(Step::Reserve, "insufficient_stock"),
        accepted(Step::Cancel),
        accepted(Step::NotifyCancelled),
    ]);
    assert_eq!(sent[2..], [Step::NotifyCancelled]);
    assert_eq!(saga.status, Status::Cancelled);
    assert_eq!(
        saga.failure.as_deref(),
        Some("reserve refused: insufficient_stock")
    );
}

#[test]
fn a_declined_payment_releases_the_stock_cancels_and_notifies() {
    let (sent, _) = given(vec![
        accepted(Step::Reserve),
        Input::PaymentDeclined {
            reason: "card declined".into(),
        },
        accepted(Step::Release),
        accepted(Step::Cancel),
    ]);
    let compensation = [Step::Release, Step::Cancel, Step::NotifyCancelled];
    assert_eq!(sent[2..], compensation);
}

#[test]
fn an_unanswered_payment_is_voided_then_the_order_undone() {
    let (_, waiting) = given(vec![accepted(Step::Reserve), accepted(Step::Authorize)]);
    assert_eq!(waiting.deadline, Some(at(10)));
    let early = decide(&waiting, Input::DeadlinePassed, &TIMING, at(9));
    assert_eq!(early, None, "the deadline has not passed yet");
    let late = decide(&waiting, Input::DeadlinePassed, &TIMING, at(10));
    let late = late.unwrap_or_else(|| panic!("the deadline passed"));
    assert_eq!(late.send, Some(Step::Void));
    assert_eq!(
        late.saga.plan,
        [Step::Release, Step::Cancel, Step::NotifyCancelled]
    );
}

#[test]
fn a_payment_answer_after_the_timeout_changes_nothing() {
    let (_, waiting) = given(vec![accepted(Step::Reserve), accepted(Step::Authorize)]);
    let voiding = decide(&waiting, Input::DeadlinePassed, &TIMING, at(11))
        .unwrap_or_else(|| panic!("the deadline passed"));
    let late = decide(&voiding.saga, Input::PaymentAuthorized, &TIMING, at(12));
    assert_eq!(late, None);
}

#[test]
fn a_refused_capture_voids_releases_and_cancels() {
    let mut inputs = authorized();
    inputs.push(refused(Step::Capture, "not_authorized"));
    let (sent, saga) = given(inputs);
    assert_eq!(sent.last(), Some(&Step::Void));
    assert_eq!(
        saga.plan,
        [Step::Release, Step::Cancel, Step::NotifyCancelled]
    );
}

#[test]
fn a_refused_commit_undoes_confirm_capture_and_reservation_newest_first() {
    let mut inputs = authorized();
    inputs.extend([
        accepted(Step::Capture),
        accepted(Step::Confirm),
        refused(Step::Commit, "not_reserved"),
    ]);
    let (sent, saga) = given(inputs);
    assert_eq!(sent.last(), Some(&Step::Cancel));
    let rest = [Step::Refund, Step::Release, Step::NotifyCancelled];
    assert_eq!(saga.plan, rest);
}

#[test]
fn a_refused_compensation_is_noted_and_the_next_one_runs() {
    let (_, waiting) = given(vec![accepted(Step::Reserve), accepted(Step::Authorize)]);
    let voiding = decide(&waiting, Input::DeadlinePassed, &TIMING, at(10))
        .unwrap_or_else(|| panic!("the deadline passed"));
    let next = decide(
        &voiding.saga,
        refused(Step::Void, "payment_declined"),
        &TIMING,
        at(11),
    )
    .unwrap_or_else(|| panic!("the void was answered"));
    assert_eq!(next.send, Some(Step::Release));
    assert!(next.note.contains("payment_declined"), "{}", next.note);
}

#[test]
fn a_duplicate_reply_changes_nothing() {
    let (_, saga) = given(vec![accepted(Step::Reserve)]);
    assert_eq!(decide(&saga, accepted(Step::Reserve), &TIMING, at(1)), None);
}

#[test]
fn a_step_without_a_reply_is_sent_again_with_a_longer_wait() {
    let (_, saga) = given(vec![]);
    let again = decide(&saga, Input::DeadlinePassed, &TIMING, at(30))
        .unwrap_or_else(|| panic!("the deadline passed"));
    assert_eq!(again.send, Some(Step::Reserve));
    assert_eq!(again.saga.attempt, 2);
    assert_eq!(again.saga.deadline, Some(at(90)));
}

#[test]
fn a_failed_notice_of_confirmation_leaves_the_order_completed() {
    let mut inputs = authorized();
    inputs.extend([
        accepted(Step::Capture),
        accepted(Step::Confirm),
        accepted(Step::Commit),
        refused(Step::NotifyConfirmed, "invalid_channel"),
    ]);
    let (_, saga) = given(inputs);
    assert_eq!(saga.status, Status::Completed);
}

#[test]
fn an_order_of_no_value_takes_no_payment() {
    let started = start(order(0), "corr".into(), &TIMING, at(0));
    let plan = [Step::Confirm, Step::Commit, Step::NotifyConfirmed];
    assert_eq!(started.saga.plan, plan);
}

#[test]
fn a_finished_saga_takes_no_more_input() {
    let (_, saga) = given(vec![
        refused(Step::Reserve, "insufficient_stock"),
        accepted(Step::Cancel),
        accepted(Step::NotifyCancelled),
    ]);
    assert_eq!(decide(&saga, Input::DeadlinePassed, &TIMING, at(999)), None);
    assert_eq!(
        decide(&saga, Input::PaymentAuthorized, &TIMING, at(1)),
        None
    );
}
