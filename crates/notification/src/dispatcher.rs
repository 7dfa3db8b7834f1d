//! The dispatcher: delivers requested notifications as an eventual handler of the
//! service's own event store, never as a dual write beside the command.
//!
//! It follows the store in commit order with [`platform::store::read_committed_after`]
//! (gap-safe: a late commit is never skipped) from a checkpoint of its own, advanced
//! after each event is handled:
//! - `NotificationRequested`: the notification is handed to the [`Sender`] and the
//!   outcome recorded by executing `RecordDelivery` through cqrs-es, which appends
//!   `NotificationSent`, or `NotificationFailed` (and `NotificationAbandoned` on the
//!   last allowed attempt).
//! - `NotificationFailed`: a retry is scheduled in `notification_retry` after an
//!   exponential backoff, in the same transaction as the checkpoint.
//! - `NotificationSent`, `NotificationAbandoned`: any scheduled retry is dropped.
//!
//! Between batches, the retries that are due are attempted the same way.
//!
//! # At-least-once
//!
//! A crash after a send and before its outcome is recorded sends the notification again
//! on restart; the sender gets the `notification_id` as idempotency key for that. Every
//! other replay sends nothing: before each send the notification is loaded, and skipped
//! unless it still waits for exactly that attempt. Shutdown is observed only between
//! notifications, so a send is never cut off from its record. With several replicas of
//! the service, one dispatcher leads (a PostgreSQL advisory lock) and the others stand
//! by, so a notification is not sent by two of them at once.

mod schedule;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use cqrs_es::AggregateError;
use platform::envelope::{MessageContext, CORRELATION_ID};
use platform::store::{self, Cursor, StoreError, StoredEvent};
use platform::wake::Wake;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::application::Notifications;
use crate::domain::{
    DeliveryOutcome, DeliveryPolicy, Notification, NotificationCommand, NotificationError,
    NotificationEvent, NotificationStatus,
};
use crate::sender::{Outgoing, SendError, Sender};
use crate::settings::DispatcherSettings;
use schedule::Retry;

/// The longest wait between two attempts, however many failed.
const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// A channel that does not answer within this time failed; it may still deliver, which
/// the retry then repeats (at-least-once, de-duplicated by the idempotency key).
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Failure reasons are stored in events: long provider messages are cut.
const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dispatcher database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("notification {notification_id}: {reason}")]
    Aggregate {
        notification_id: String,
        reason: String,
    },
}

fn aggregate_error(notification_id: &str, err: AggregateError<NotificationError>) -> DispatchError {
    DispatchError::Aggregate {
        notification_id: notification_id.to_string(),
        reason: err.to_string(),
    }
}

/// What caused a delivery, carried into the metadata of its recorded outcome.
struct Trace {
    correlation_id: Option<String>,
    causation_id: String,
}

impl Trace {
    fn of_event(event: &StoredEvent) -> Self {
        Self {
            correlation_id: event.metadata.get(CORRELATION_ID).cloned(),
            causation_id: event.event_id.to_string(),
        }
    }

    fn of_retry(retry: &Retry) -> Self {
        Self {
            correlation_id: retry.correlation_id.clone(),
            causation_id: retry.causation_id.clone(),
        }
    }

    fn metadata(&self, notification_id: &str, attempt: u32) -> HashMap<String, String> {
        MessageContext {
            command_id: format!("dispatch:{notification_id}:{attempt}"),
            correlation_id: self
                .correlation_id
                .clone()
                .unwrap_or_else(|| self.causation_id.clone()),
            causation_id: self.causation_id.clone(),
        }
        .to_metadata()
    }
}

/// The delivery loop of one service's store.
pub struct Dispatcher<S> {
    pool: PgPool,
    notifications: Notifications,
    sender: S,
    settings: DispatcherSettings,
    /// Signalled by the command bus when a notification is requested.
    requested: Wake,
    /// The relay's, signalled once a delivery is recorded.
    recorded: Wake,
}

impl<S: Sender> Dispatcher<S> {
    pub fn new(pool: PgPool, sender: S, settings: DispatcherSettings) -> Self {
        let policy = DeliveryPolicy {
            max_attempts: settings.max_attempts,
        };
        Self {
            notifications: Notifications::new(pool.clone(), policy),
            pool,
            sender,
            settings,
            requested: Wake::default(),
            recorded: Wake::default(),
        }
    }

    /// What the command bus signals after a command, so an idle dispatcher delivers a
    /// new request at once rather than at its next poll ([`platform::wake`]).
    pub fn wake(&self) -> Wake {
        self.requested.clone()
    }

    /// Signals `relay` after each recorded delivery, so its event leaves at once.
    pub fn signalling(mut self, relay: Wake) -> Self {
        self.recorded = relay;
        self
    }

    /// Runs until `shutdown` is cancelled, restarting from the checkpoint after any
    /// database failure.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.dispatch(&shutdown).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::error!(error = %err, "dispatcher failed, restarting");
                    metrics::counter!("dispatcher_failures_total").increment(1);
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn dispatch(&self, shutdown: &CancellationToken) -> Result<(), DispatchError> {
        let Some(_leadership) = schedule::lead(&self.pool, shutdown).await? else {
            return Ok(());
        };
        let mut cursor = schedule::load_checkpoint(&self.pool).await?;
        while !shutdown.is_cancelled() {
            let followed = self.follow(&mut cursor, shutdown).await?;
            let retried = self.retry_due(shutdown).await?;
            if followed + retried == 0 {
                let poll = self.settings.idle_poll;
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    idled = self.requested.idle_following(&self.pool, cursor, poll) => idled?,
                }
            }
        }
        Ok(())
    }

    /// Handles the next batch of events after `cursor`; returns how many it handled.
    async fn follow(
        &self,
        cursor: &mut Cursor,
        shutdown: &CancellationToken,
    ) -> Result<usize, DispatchError> {
        let batch =
            store::read_committed_after(&self.pool, *cursor, self.settings.batch_size).await?;
        let mut handled = 0;
        for event in &batch {
            if shutdown.is_cancelled() {
                break;
            }
            self.handle(event).await?;
            *cursor = event.cursor;
            handled += 1;
        }
        Ok(handled)
    }

    /// Delivers a requested notification and keeps the retries in step with the
    /// outcomes, then advances the checkpoint past `event`.
    async fn handle(&self, event: &StoredEvent) -> Result<(), DispatchError> {
        let decoded = decode_event(event);
        if let Some(NotificationEvent::NotificationRequested {
            notification_id, ..
        }) = &decoded
        {
            self.deliver(notification_id, 0, &Trace::of_event(event))
                .await?;
        }
        let mut tx = self.pool.begin().await?;
        if let Some(decoded) = &decoded {
            self.reschedule(&mut tx, event, decoded).await?;
        }
        schedule::save_checkpoint(&mut tx, event.cursor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A failure with attempts left schedules the next attempt; sent or abandoned
    /// drops whatever was scheduled.
    async fn reschedule(
        &self,
        db: &mut PgConnection,
        event: &StoredEvent,
        decoded: &NotificationEvent,
    ) -> Result<(), sqlx::Error> {
        match decoded {
            NotificationEvent::NotificationFailed {
                notification_id,
                attempt,
                ..
            } if *attempt < self.settings.max_attempts => {
                let retry = Retry {
                    notification_id: notification_id.clone(),
                    attempt: *attempt,
                    due_at: due_at(event.recorded_at, self.settings.retry_backoff, *attempt),
                    correlation_id: event.metadata.get(CORRELATION_ID).cloned(),
                    causation_id: event.event_id.to_string(),
                };
                schedule::schedule_retry(db, &retry).await
            }
            NotificationEvent::NotificationSent {
                notification_id, ..
            }
            | NotificationEvent::NotificationAbandoned {
                notification_id, ..
            } => schedule::clear_retry(db, notification_id).await,
            _ => Ok(()),
        }
    }

    /// Attempts every retry that is due; returns how many it attempted.
    async fn retry_due(&self, shutdown: &CancellationToken) -> Result<usize, DispatchError> {
        let due = schedule::due_retries(&self.pool, self.settings.batch_size).await?;
        let mut retried = 0;
        for retry in &due {
            if shutdown.is_cancelled() {
                break;
            }
            self.deliver(
                &retry.notification_id,
                retry.attempt,
                &Trace::of_retry(retry),
            )
            .await?;
            // The failure this attempt may have recorded schedules the next one when
            // the store is followed; this schedule is spent either way.
            schedule::clear_attempted(&self.pool, retry).await?;
            retried += 1;
        }
        Ok(retried)
    }

    /// Sends `notification_id` if it still waits for the attempt after `failures`, and
    /// records the outcome.
    async fn deliver(
        &self,
        notification_id: &str,
        failures: u32,
        trace: &Trace,
    ) -> Result<(), DispatchError> {
        let notification = self
            .notifications
            .load(notification_id)
            .await
            .map_err(|e| aggregate_error(notification_id, e))?;
        let Some(outgoing) = pending_delivery(&notification, failures) else {
            tracing::debug!(notification_id, failures, "no longer waiting, not sent");
            return Ok(());
        };
        let outcome = self.attempt(&outgoing).await;
        let command = NotificationCommand::RecordDelivery {
            notification_id: notification_id.to_string(),
            outcome,
        };
        let metadata = trace.metadata(notification_id, outgoing.attempt);
        self.notifications
            .execute(command, metadata)
            .await
            .map_err(|e| aggregate_error(notification_id, e))?;
        self.recorded.signal();
        Ok(())
    }

    async fn attempt(&self, outgoing: &Outgoing) -> DeliveryOutcome {
        let channel = outgoing.channel.as_str();
        let sent = tokio::time::timeout(SEND_TIMEOUT, self.sender.send(outgoing)).await;
        match sent.unwrap_or(Err(SendError::TimedOut(SEND_TIMEOUT))) {
            Ok(()) => {
                metrics::counter!("notifications_sent_total", "channel" => channel).increment(1);
                DeliveryOutcome::Delivered {
                    delivered_at: Utc::now(),
                }
            }
            Err(err) => {
                tracing::warn!(notification_id = %outgoing.notification_id,
                    attempt = outgoing.attempt, error = %err, "notification not sent");
                metrics::counter!("notification_send_failures_total", "channel" => channel)
                    .increment(1);
                DeliveryOutcome::Failed {
                    reason: failure_reason(&err.to_string()),
                }
            }
        }
    }
}

/// The events of the store are this service's own; one that does not decode was not
/// written by a notification and is passed over rather than blocking the dispatcher.
fn decode_event(event: &StoredEvent) -> Option<NotificationEvent> {
    if event.aggregate_type != <Notification as cqrs_es::Aggregate>::TYPE {
        return None;
    }
    match serde_json::from_value(event.payload.clone()) {
        Ok(decoded) => Some(decoded),
        Err(err) => {
            tracing::warn!(event_id = %event.event_id, error = %err, "undecodable event skipped");
            None
        }
    }
}

/// The delivery to make if `notification` still waits for the attempt after
/// `failures`; `None` once it was sent, abandoned, or that attempt was already made.
pub fn pending_delivery(notification: &Notification, failures: u32) -> Option<Outgoing> {
    let waiting = matches!(
        notification.status,
        NotificationStatus::Requested | NotificationStatus::Failing
    ) && notification.failures == failures;
    let request = notification.request.as_ref().filter(|_| waiting)?;
    Some(Outgoing::new(request, failures.saturating_add(1)))
}

/// The wait after failed attempt number `attempt` (from 1): `base`, doubled after each
/// further failure, at most [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    base.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

fn due_at(failed_at: DateTime<Utc>, base: Duration, attempt: u32) -> DateTime<Utc> {
    let wait = TimeDelta::from_std(backoff(base, attempt)).unwrap_or(TimeDelta::zero());
    failed_at.checked_add_signed(wait).unwrap_or(failed_at)
}

/// A non-empty reason of bounded length, as the `NotificationFailed` schema wants.
fn failure_reason(error: &str) -> String {
    let reason: String = error.trim().chars().take(MAX_REASON_CHARS).collect();
    if reason.is_empty() {
        "unspecified failure".to_string()
    } else {
        reason
    }
}

#[cfg(test)]
mod tests;
