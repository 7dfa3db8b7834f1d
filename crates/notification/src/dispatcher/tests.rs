//! The dispatcher's pure parts: which attempt is due, and how long to wait for it.

use std::time::Duration;

use serde_json::json;

use super::{backoff, failure_reason, pending_delivery, MAX_BACKOFF};
use crate::domain::{Channel, Notification, NotificationRequest, NotificationStatus};

fn notification(status: NotificationStatus, failures: u32) -> Notification {
    Notification {
        status,
        request: Some(NotificationRequest {
            notification_id: "n1".into(),
            customer_id: "c1".into(),
            channel: Channel::Email,
            template: "order_confirmed".into(),
            data: json!({}),
        }),
        failures,
    }
}

#[test]
fn a_requested_notification_is_due_for_its_first_attempt() {
    let outgoing = pending_delivery(&notification(NotificationStatus::Requested, 0), 0);
    assert_eq!(
        outgoing.map(|o| (o.notification_id, o.attempt)),
        Some(("n1".into(), 1))
    );
}

#[test]
fn a_failing_notification_is_due_for_the_attempt_after_its_failures() {
    let outgoing = pending_delivery(&notification(NotificationStatus::Failing, 2), 2);
    assert_eq!(outgoing.map(|o| o.attempt), Some(3));
}

#[test]
fn an_attempt_already_made_is_not_made_again() {
    assert!(pending_delivery(&notification(NotificationStatus::Failing, 2), 1).is_none());
    assert!(pending_delivery(&notification(NotificationStatus::Failing, 1), 0).is_none());
}

#[test]
fn a_sent_or_abandoned_notification_is_never_sent_again() {
    assert!(pending_delivery(&notification(NotificationStatus::Sent, 0), 0).is_none());
    assert!(pending_delivery(&notification(NotificationStatus::Abandoned, 5), 5).is_none());
}

#[test]
fn a_notification_never_requested_is_not_sent() {
    assert!(pending_delivery(&Notification::default(), 0).is_none());
}

#[test]
fn the_backoff_doubles_after_each_failure_up_to_a_limit() {
    let base = Duration::from_millis(100);
    assert_eq!(backoff(base, 1), base);
    assert_eq!(backoff(base, 2), Duration::from_millis(200));
    assert_eq!(backoff(base, 4), Duration::from_millis(800));
    assert_eq!(backoff(base, u32::MAX), MAX_BACKOFF);
}

#[test]
fn a_failure_reason_is_never_empty_and_never_long() {
    assert_eq!(failure_reason("  "), "unspecified failure");
    assert_eq!(failure_reason(&"x".repeat(2000)).len(), 500);
}
