//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/notification/`.

use chrono::{TimeZone, Utc};
use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;
use serde_json::json;

use crate::domain::{Channel, NotificationEvent};

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    (
        "NotificationRequested",
        include_str!("../../../schemas/events/notification/NotificationRequested.v1.json"),
    ),
    (
        "NotificationSent",
        include_str!("../../../schemas/events/notification/NotificationSent.v1.json"),
    ),
    (
        "NotificationFailed",
        include_str!("../../../schemas/events/notification/NotificationFailed.v1.json"),
    ),
    (
        "NotificationAbandoned",
        include_str!("../../../schemas/events/notification/NotificationAbandoned.v1.json"),
    ),
];

#[test]
fn every_event_matches_its_published_schema() {
    let registry = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let delivered_at = Utc
        .with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("a valid instant");
    let events = [
        NotificationEvent::NotificationRequested {
            notification_id: "n1".into(),
            customer_id: "c1".into(),
            channel: Channel::Email,
            template: "order_confirmed".into(),
            data: json!({"order_id": "o1", "total_cents": 300}),
        },
        NotificationEvent::NotificationSent {
            notification_id: "n1".into(),
            channel: Channel::Sms,
            delivered_at,
        },
        NotificationEvent::NotificationFailed {
            notification_id: "n1".into(),
            channel: Channel::Email,
            attempt: 1,
            reason: "mailbox unavailable".into(),
        },
        NotificationEvent::NotificationAbandoned {
            notification_id: "n1".into(),
            attempts: 5,
        },
    ];
    for event in &events {
        if let Err(err) = registry.validate_event(event) {
            panic!("{} does not match its schema: {err}", event.event_type());
        }
    }
}
