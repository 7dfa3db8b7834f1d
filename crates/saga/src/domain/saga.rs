//! The fulfilment saga of one order, and its decisions: pure functions from the saga's
//! state and one input (a command's reply, a payment event, a passed deadline) to the
//! next state and the one command to send next.
//!
//! Forward: reserve stock → authorize payment → capture payment → confirm order →
//! commit reservation → notify (completed). One command is outstanding at a time.
//!
//! Capture comes before confirm and commit because it is the step that can be undone
//! (by a refund) whichever later step fails; a confirmed order can be cancelled as a
//! compensation; a committed reservation cannot be released, so committing is last,
//! and its failure needs no stock undone. A failure undoes the forward steps done so
//! far in reverse order, then cancels the order and notifies the customer:
//! - stock rejected → cancel, notify;
//! - payment declined → release, cancel, notify;
//! - payment unanswered by its deadline → void, release, cancel, notify;
//! - capture, confirm or commit refused → undo what was done, newest first.
//!
//! A compensation that is refused (voiding a payment the provider declined, say) is
//! noted and the next one runs: compensations must all be attempted. A step with no
//! reply by its deadline is resent under the same command id, with a growing wait.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Step;

/// What the saga needs to know of the order, from `OrderPlaced`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFacts {
    pub order_id: String,
    pub customer_id: String,
    pub card_token: String,
    pub lines: Vec<StockLine>,
    pub total_cents: i64,
}

impl OrderFacts {
    /// One payment per order, named after it.
    pub fn payment_id(&self) -> &str {
        &self.order_id
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub sku: String,
    pub quantity: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Compensating,
    Completed,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Compensating => "compensating",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled)
    }
}

/// How long the saga waits: for a reply before resending, and for the provider's answer
/// before giving the payment up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub step_timeout: Duration,
    pub payment_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saga {
    pub order: OrderFacts,
    pub correlation_id: String,
    pub status: Status,
    /// The step whose command is outstanding.
    pub current: Option<Step>,
    /// How many times the current step's command was sent.
    pub attempt: u32,
    pub deadline: Option<DateTime<Utc>>,
    /// Forward steps that took effect, oldest first: what a failure must undo.
    pub done: Vec<Step>,
    /// Steps still to run after the current one.
    pub plan: Vec<Step>,
    /// Why the saga compensates.
    pub failure: Option<String>,
}

/// One input to a running saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The reply to a step's command.
    Replied {
        step: Step,
        accepted: bool,
        code: Option<String>,
    },
    PaymentAuthorized,
    PaymentDeclined {
        reason: String,
    },
    /// The ticker found the saga's deadline passed.
    DeadlinePassed,
}

/// The saga after an input, the command to send (if any), and a line for its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub saga: Saga,
    pub send: Option<Step>,
    pub note: String,
}

/// Starts the saga of a placed order: reserve its stock first. An order of no value
/// takes no payment.
pub fn start(
    order: OrderFacts,
    correlation_id: String,
    timing: &Timing,
    now: DateTime<Utc>,
) -> Decision {
    let mut plan = vec![Step::Reserve];
    if order.total_cents > 0 {
        plan.extend([Step::Authorize, Step::Capture]);
    }
    plan.extend([Step::Confirm, Step::Commit, Step::NotifyConfirmed]);
    let saga = Saga {
        order,
        correlation_id,
        status: Status::Running,
        current: None,
        attempt: 0,
        deadline: None,
        done: Vec::new(),
        plan,
        failure: None,
    };
    advance(saga, timing, now, "order placed".into())
}

/// Decides what an input changes; `None` when it changes nothing: a duplicate, a
/// reply to a step already past, an event the current step is not waiting for.
pub fn decide(saga: &Saga, input: Input, timing: &Timing, now: DateTime<Utc>) -> Option<Decision> {
    if saga.status.is_terminal() {
        return None;
    }
    let awaiting_payment = saga.status == Status::Running && saga.current == Some(Step::Authorize);
    match input {
        Input::Replied { step, .. } if saga.current != Some(step) => None,
        Input::Replied {
            step,
            accepted,
            code,
        } => Some(replied(saga, step, accepted, code, timing, now)),
        Input::PaymentAuthorized if awaiting_payment => Some(step_done(
            saga.clone(),
            Step::Authorize,
            timing,
            now,
            "payment authorized",
        )),
        Input::PaymentDeclined { reason } if awaiting_payment => Some(fail(
            saga.clone(),
            format!("payment declined: {reason}"),
            false,
            timing,
            now,
        )),
        Input::PaymentAuthorized | Input::PaymentDeclined { .. } => None,
        Input::DeadlinePassed if saga.deadline.is_none_or(|due| due > now) => None,
        Input::DeadlinePassed if awaiting_payment => {
            let reason = "payment not answered in time".to_string();
            Some(fail(saga.clone(), reason, true, timing, now))
        }
        Input::DeadlinePassed => Some(resend(saga.clone(), timing, now)),
    }
}

fn replied(
    saga: &Saga,
    step: Step,
    accepted: bool,
    code: Option<String>,
    timing: &Timing,
    now: DateTime<Utc>,
) -> Decision {
    let saga = saga.clone();
    let code = code.unwrap_or_else(|| "rejected".into());
    match (saga.status, step, accepted) {
        // The authorization is asked for; its answer comes as an event.
        (Status::Running, Step::Authorize, true) => Decision {
            note: "payment authorization requested".into(),
            send: None,
            saga,
        },
        (Status::Running, Step::NotifyConfirmed, false) => {
            let note = format!("customer not notified ({code}); the order stands");
            advance(saga, timing, now, note)
        }
        (Status::Running, _, true) => {
            step_done(saga, step, timing, now, &format!("{} done", step.name()))
        }
        (Status::Running, _, false) => fail(
            saga,
            format!("{} refused: {code}", step.name()),
            false,
            timing,
            now,
        ),
        (_, _, true) => advance(saga, timing, now, format!("{} done", step.name())),
        (_, _, false) => {
            let note = format!("{} refused ({code}); compensation goes on", step.name());
            advance(saga, timing, now, note)
        }
    }
}

fn step_done(
    mut saga: Saga,
    step: Step,
    timing: &Timing,
    now: DateTime<Utc>,
    note: &str,
) -> Decision {
    saga.done.push(step);
    advance(saga, timing, now, note.to_string())
}

/// Sends the next planned step, or ends the saga when none is left.
fn advance(mut saga: Saga, timing: &Timing, now: DateTime<Utc>, note: String) -> Decision {
    if saga.plan.is_empty() {
        saga.status = match saga.status {
            Status::Running => Status::Completed,
            _ => Status::Cancelled,
        };
        saga.current = None;
        saga.deadline = None;
        let note = format!("{note}; saga {}", saga.status.as_str());
        return Decision {
            saga,
            send: None,
            note,
        };
    }
    let next = saga.plan.remove(0);
    let wait = match next {
        Step::Authorize => timing.payment_timeout,
        _ => timing.step_timeout,
    };
    saga.current = Some(next);
    saga.attempt = 1;
    saga.deadline = Some(now + wait);
    Decision {
        saga,
        send: Some(next),
        note,
    }
}

/// Gives the order up: undoes what was done, newest first, then cancels and notifies.
/// `void_hold` voids the payment still being decided, whose hold the provider may
/// place after the saga stopped waiting.
fn fail(
    mut saga: Saga,
    reason: String,
    void_hold: bool,
    timing: &Timing,
    now: DateTime<Utc>,
) -> Decision {
    saga.status = Status::Compensating;
    saga.plan = compensation(&saga.done, void_hold);
    let note = format!("{reason}; compensating");
    saga.failure = Some(reason);
    advance(saga, timing, now, note)
}

/// The compensation of the forward steps `done`.
pub fn compensation(done: &[Step], void_hold: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if void_hold {
        steps.push(Step::Void);
    }
    for step in done.iter().rev() {
        match step {
            Step::Confirm => steps.push(Step::Cancel),
            Step::Capture => steps.push(Step::Refund),
            // A captured payment is refunded, not voided.
            Step::Authorize if !done.contains(&Step::Capture) => steps.push(Step::Void),
            Step::Reserve => steps.push(Step::Release),
            _ => {}
        }
    }
    if !steps.contains(&Step::Cancel) {
        steps.push(Step::Cancel);
    }
    steps.push(Step::NotifyCancelled);
    steps
}

/// Sends the current step again under the same command id: its reply was lost, or its
/// service is down. Each resend waits twice as long, up to 16 step timeouts.
fn resend(mut saga: Saga, timing: &Timing, now: DateTime<Utc>) -> Decision {
    let step = saga.current;
    saga.attempt = saga.attempt.saturating_add(1);
    let factor = 2u32.saturating_pow(saga.attempt.saturating_sub(1)).min(16);
    saga.deadline = Some(now + timing.step_timeout * factor);
    let note = format!("no reply in time, sending again (attempt {})", saga.attempt);
    Decision {
        saga,
        send: step,
        note,
    }
}

#[cfg(test)]
#[path = "saga_tests.rs"]
mod tests;
