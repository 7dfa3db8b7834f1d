//! The notification aggregate: `requested -> (failed ->)* sent | abandoned`.
//!
//! `SendNotification` comes from the broker; `RecordDelivery` only from the dispatcher,
//! which reports what the sender answered. Both ends, sent and abandoned, are final: an
//! outcome reported after them changes nothing, so a repeated report is harmless.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::NotificationError;

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    /// Reads a channel name as it appears on the wire; `None` for any other name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// What the dispatcher learnt from the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryOutcome {
    Delivered { delivered_at: DateTime<Utc> },
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationCommand {
    /// The channel stays a string here so that the domain, not the decoder, refuses an
    /// unknown one with its own rule.
    SendNotification {
        notification_id: String,
        customer_id: String,
        channel: String,
        template: String,
        data: Value,
    },
    /// Internal: never decoded from the broker (it has no schema there).
    RecordDelivery {
        notification_id: String,
        outcome: DeliveryOutcome,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationEvent {
    NotificationRequested {
        notification_id: String,
        customer_id: String,
        channel: Channel,
        template: String,
        data: Value,
    },
    NotificationSent {
        notification_id: String,
        channel: Channel,
        delivered_at: DateTime<Utc>,
    },
    NotificationFailed {
        notification_id: String,
        channel: Channel,
        attempt: u32,
        reason: String,
    },
    NotificationAbandoned {
        notification_id: String,
        attempts: u32,
    },
}

impl DomainEvent for NotificationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::NotificationRequested { .. } => "NotificationRequested",
            Self::NotificationSent { .. } => "NotificationSent",
            Self::NotificationFailed { .. } => "NotificationFailed",
            Self::NotificationAbandoned { .. } => "NotificationAbandoned",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1".to_string()
    }
}

/// How many failed attempts make a notification abandoned; the aggregate's service,
/// so the limit is configuration while the decision stays pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    pub max_attempts: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5 }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationStatus {
    #[default]
    New,
    /// Waiting for its first attempt.
    Requested,
    /// The last attempt failed; another one will be made.
    Failing,
    Sent,
    Abandoned,
}

/// What was asked for, kept so the dispatcher can (re)deliver from the aggregate alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRequest {
    pub notification_id: String,
    pub customer_id: String,
    pub channel: Channel,
    pub template: String,
    pub data: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub status: NotificationStatus,
    pub request: Option<NotificationRequest>,
    /// Failed attempts so far.
    pub failures: u32,
}

/// Decides `SendNotification`: once per id, on a known channel, with a template.
pub fn request(
    notification: &Notification,
    notification_id: String,
    customer_id: String,
    channel: &str,
    template: String,
    data: Value,
) -> Result<Vec<NotificationEvent>, NotificationError> {
    if notification.status != NotificationStatus::New {
        return Err(NotificationError::AlreadyRequested(notification_id));
    }
    let channel = Channel::parse(channel)
        .ok_or_else(|| NotificationError::UnsupportedChannel(channel.to_string()))?;
    if template.trim().is_empty() {
        return Err(NotificationError::MissingTemplate);
    }
    Ok(vec![NotificationEvent::NotificationRequested {
        notification_id,
        customer_id,
        channel,
        template,
        data,
    }])
}

/// Decides `RecordDelivery`: the first success is recorded, a failure is counted, and
/// the failure that uses up `policy.max_attempts` abandons the notification. After
/// sent or abandoned any report is a no-op: the dispatcher is at-least-once.
pub fn record_delivery(
    notification: &Notification,
    notification_id: String,
    outcome: DeliveryOutcome,
    policy: &DeliveryPolicy,
) -> Result<Vec<NotificationEvent>, NotificationError> {
    let channel = match (&notification.request, notification.status) {
        (None, _) => return Err(NotificationError::UnknownNotification(notification_id)),
        (_, NotificationStatus::Sent | NotificationStatus::Abandoned) => return Ok(vec![]),
        (Some(request), _) => request.channel,
    };
    match outcome {
        DeliveryOutcome::Delivered { delivered_at } => {
            Ok(vec![NotificationEvent::NotificationSent {
                notification_id,
                channel,
                delivered_at,
            }])
        }
        DeliveryOutcome::Failed { reason } => Ok(failure(
            notification.failures,
            notification_id,
            channel,
            reason,
            policy,
        )),
    }
}

/// The events of one more failed attempt after `failures`: abandoned on the last one.
fn failure(
    failures: u32,
    notification_id: String,
    channel: Channel,
    reason: String,
    policy: &DeliveryPolicy,
) -> Vec<NotificationEvent> {
    let attempt = failures.saturating_add(1);
    let failed = NotificationEvent::NotificationFailed {
        notification_id: notification_id.clone(),
        channel,
        attempt,
        reason,
    };
    if attempt < policy.max_attempts.max(1) {
        return vec![failed];
    }
    let abandoned = NotificationEvent::NotificationAbandoned {
        notification_id,
        attempts: attempt,
    };
    vec![failed, abandoned]
}

impl Aggregate for Notification {
    const TYPE: &'static str = "Notification";
    type Command = NotificationCommand;
    type Event = NotificationEvent;
    type Error = NotificationError;
    type Services = DeliveryPolicy;

    async fn handle(
        &mut self,
        command: Self::Command,
        policy: &DeliveryPolicy,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            NotificationCommand::SendNotification {
                notification_id,
                customer_id,
                channel,
                template,
                data,
            } => request(self, notification_id, customer_id, &channel, template, data)?,
            NotificationCommand::RecordDelivery {
                notification_id,
                outcome,
            } => record_delivery(self, notification_id, outcome, policy)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            NotificationEvent::NotificationRequested {
                notification_id,
                customer_id,
                channel,
                template,
                data,
            } => {
                self.status = NotificationStatus::Requested;
                self.request = Some(NotificationRequest {
                    notification_id,
                    customer_id,
                    channel,
                    template,
                    data,
                });
            }
            NotificationEvent::NotificationSent { .. } => self.status = NotificationStatus::Sent,
            NotificationEvent::NotificationFailed { attempt, .. } => {
                self.status = NotificationStatus::Failing;
                self.failures = attempt;
            }
            NotificationEvent::NotificationAbandoned { .. } => {
                self.status = NotificationStatus::Abandoned;
            }
        }
    }
}

#[cfg(test)]
#[path = "notification_tests.rs"]
mod tests;
