//! Property tests of the notification aggregate: arbitrary sequences of requests (on
//! unknown channels, without a template, repeated) and delivery reports (successes and
//! failures, repeated after the end) run in memory through `handle`/`apply`.

use chrono::{DateTime, Utc};
use platform::cqrs::handle_in_memory;
use proptest::prelude::*;
use serde_json::json;

use super::{
    DeliveryOutcome, DeliveryPolicy, Notification, NotificationCommand, NotificationEvent,
    NotificationStatus,
};

fn command() -> impl Strategy<Value = NotificationCommand> {
    let channel = prop_oneof![Just("email"), Just("sms"), Just("pigeon"), Just("")];
    let template = prop_oneof![Just("welcome"), Just(" ")];
    let request =
        (channel, template).prop_map(
            |(channel, template)| NotificationCommand::SendNotification {
                notification_id: "n1".into(),
                customer_id: "c1".into(),
                channel: channel.into(),
                template: template.into(),
                data: json!({}),
            },
        );
    let outcome = prop_oneof![
        Just(DeliveryOutcome::Delivered {
            delivered_at: DateTime::<Utc>::UNIX_EPOCH
        }),
        Just(DeliveryOutcome::Failed {
            reason: "mailbox full".into()
        }),
    ];
    let report = outcome.prop_map(|outcome| NotificationCommand::RecordDelivery {
        notification_id: "n1".into(),
        outcome,
    });
    prop_oneof![1 => request, 3 => report]
}

fn is_final(status: NotificationStatus) -> bool {
    matches!(
        status,
        NotificationStatus::Sent | NotificationStatus::Abandoned
    )
}

/// Checks one handled command against the state it was decided on.
fn check(before: &Notification, after: &Notification, events: &[NotificationEvent], limit: u32) {
    if is_final(before.status) {
        assert!(events.is_empty(), "a final notification moved: {events:?}");
        assert_eq!(after, before);
    }
    assert!(
        after.failures <= limit,
        "{} failures past {limit}",
        after.failures
    );
    let abandoned = events
        .iter()
        .any(|e| matches!(e, NotificationEvent::NotificationAbandoned { .. }));
    assert_eq!(
        abandoned,
        after.failures == limit && before.failures < limit
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn sent_and_abandoned_are_final_and_failures_stop_at_the_limit(
        max_attempts in 0u32..6,
        commands in prop::collection::vec(command(), 0..20),
    ) {
        let policy = DeliveryPolicy { max_attempts };
        let mut notification = Notification::default();
        let mut ended = 0;
        for command in commands {
            let (after, result) = handle_in_memory(&notification, command, &policy);
            match result {
                Ok(events) => check(&notification, &after, &events, max_attempts.max(1)),
                Err(_) => prop_assert_eq!(&after, &notification, "a rejected command changed it"),
            }
            ended += usize::from(is_final(after.status) && !is_final(notification.status));
            notification = after;
        }
        prop_assert!(ended <= 1, "ended {} times", ended);
    }
}
