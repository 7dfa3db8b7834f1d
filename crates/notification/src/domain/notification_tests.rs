//! Given/when/then tests of the notification aggregate, one per rule.

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use serde_json::json;

use super::*;

type NotificationTest = TestFramework<Notification>;

/// Three attempts, so abandoning is reached in a short test.
const POLICY: DeliveryPolicy = DeliveryPolicy { max_attempts: 3 };

fn send(channel: &str, template: &str) -> NotificationCommand {
    NotificationCommand::SendNotification {
        notification_id: "n1".into(),
        customer_id: "c1".into(),
        channel: channel.into(),
        template: template.into(),
        data: json!({"order_id": "o1"}),
    }
}

fn requested() -> NotificationEvent {
    NotificationEvent::NotificationRequested {
        notification_id: "n1".into(),
        customer_id: "c1".into(),
        channel: Channel::Email,
        template: "order_confirmed".into(),
        data: json!({"order_id": "o1"}),
    }
}

fn delivered_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("a valid instant")
}

fn delivered() -> NotificationCommand {
    NotificationCommand::RecordDelivery {
        notification_id: "n1".into(),
        outcome: DeliveryOutcome::Delivered {
            delivered_at: delivered_at(),
        },
    }
}

fn sent() -> NotificationEvent {
    NotificationEvent::NotificationSent {
        notification_id: "n1".into(),
        channel: Channel::Email,
        delivered_at: delivered_at(),
    }
}

fn failed_delivery() -> NotificationCommand {
    NotificationCommand::RecordDelivery {
        notification_id: "n1".into(),
        outcome: DeliveryOutcome::Failed {
            reason: "mailbox unavailable".into(),
        },
    }
}

fn failed(attempt: u32) -> NotificationEvent {
    NotificationEvent::NotificationFailed {
        notification_id: "n1".into(),
        channel: Channel::Email,
        attempt,
        reason: "mailbox unavailable".into(),
    }
}

#[test]
fn a_notification_is_requested_with_its_template_and_data() {
    NotificationTest::with(POLICY)
        .given_no_previous_events()
        .when(send("email", "order_confirmed"))
        .then_expect_events(vec![requested()]);
}

#[test]
fn a_notification_cannot_be_requested_twice() {
    NotificationTest::with(POLICY)
        .given(vec![requested()])
        .when(send("email", "order_confirmed"))
        .then_expect_error(NotificationError::AlreadyRequested("n1".into()));
}

#[test]
fn a_notification_goes_by_email_or_sms_only() {
    NotificationTest::with(POLICY)
        .given_no_previous_events()
        .when(send("pigeon", "order_confirmed"))
        .then_expect_error(NotificationError::UnsupportedChannel("pigeon".into()));
}

#[test]
fn a_notification_needs_a_template() {
    NotificationTest::with(POLICY)
        .given_no_previous_events()
        .when(send("sms", " "))
        .then_expect_error(NotificationError::MissingTemplate);
}

#[test]
fn a_requested_notification_is_recorded_as_sent_on_its_channel() {
    NotificationTest::with(POLICY)
        .given(vec![requested()])
        .when(delivered())
        .then_expect_events(vec![sent()]);
}

#[test]
fn a_notification_is_recorded_as_sent_once() {
    NotificationTest::with(POLICY)
        .given(vec![requested(), sent()])
        .when(delivered())
        .then_expect_events(vec![]);
}

#[test]
fn a_delivery_of_an_unknown_notification_is_refused() {
    NotificationTest::with(POLICY)
        .given_no_previous_events()
        .when(delivered())
        .then_expect_error(NotificationError::UnknownNotification("n1".into()));
}

#[test]
fn each_failed_attempt_is_counted() {
    NotificationTest::with(POLICY)
        .given(vec![requested(), failed(1)])
        .when(failed_delivery())
        .then_expect_events(vec![failed(2)]);
}

#[test]
fn a_notification_that_failed_before_can_still_be_sent() {
    NotificationTest::with(POLICY)
        .given(vec![requested(), failed(1)])
        .when(delivered())
        .then_expect_events(vec![sent()]);
}

#[test]
fn the_last_allowed_failure_abandons_the_notification() {
    NotificationTest::with(POLICY)
        .given(vec![requested(), failed(1), failed(2)])
        .when(failed_delivery())
        .then_expect_events(vec![
            failed(3),
            NotificationEvent::NotificationAbandoned {
                notification_id: "n1".into(),
                attempts: 3,
            },
        ]);
}

#[test]
fn an_abandoned_notification_records_nothing_more() {
    let abandoned = NotificationEvent::NotificationAbandoned {
        notification_id: "n1".into(),
        attempts: 3,
    };
    NotificationTest::with(POLICY)
        .given(vec![
            requested(),
            failed(1),
            failed(2),
            failed(3),
            abandoned,
        ])
        .when(delivered())
        .then_expect_events(vec![]);
}

#[test]
fn a_failure_reported_after_the_notification_was_sent_changes_nothing() {
    NotificationTest::with(POLICY)
        .given(vec![requested(), sent()])
        .when(failed_delivery())
        .then_expect_events(vec![]);
}
