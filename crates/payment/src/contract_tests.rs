//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/payment/`.

use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;

use crate::domain::PaymentEvent;

macro_rules! event_schema {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                "../../../schemas/events/payment/",
                $name,
                ".v1.json"
            )),
        )
    };
}

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    event_schema!("PaymentAuthorizationRequested"),
    event_schema!("PaymentAuthorizationRetried"),
    event_schema!("PaymentAuthorized"),
    event_schema!("PaymentDeclined"),
    event_schema!("PaymentCaptured"),
    event_schema!("PaymentVoided"),
    event_schema!("PaymentRefunded"),
    event_schema!("LateApprovalVoided"),
];

fn every_event() -> Vec<PaymentEvent> {
    let (payment_id, order_id) = (String::from("p1"), String::from("o1"));
    vec![
        PaymentEvent::PaymentAuthorizationRequested {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            customer_id: "c1".into(),
            amount_cents: 1299,
            card_token: "tok_ok".into(),
            attempt: 1,
        },
        PaymentEvent::PaymentAuthorizationRetried {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            customer_id: "c1".into(),
            amount_cents: 1299,
            card_token: "tok_flaky".into(),
            attempt: 2,
        },
        PaymentEvent::PaymentAuthorized {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            amount_cents: 1299,
            provider_ref: "ref-1".into(),
        },
        PaymentEvent::PaymentDeclined {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            reason: "insufficient funds".into(),
        },
        PaymentEvent::PaymentCaptured {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
            amount_cents: 1299,
        },
        PaymentEvent::PaymentVoided {
            payment_id: payment_id.clone(),
            order_id: order_id.clone(),
        },
        PaymentEvent::PaymentRefunded {
            payment_id: payment_id.clone(),
            order_id,
            amount_cents: 1299,
            reason: "returned".into(),
        },
        PaymentEvent::LateApprovalVoided {
            payment_id,
            provider_ref: "ref-2".into(),
        },
    ]
}

#[test]
fn every_event_matches_its_published_schema() {
    let registry = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let events = every_event();
    assert_eq!(events.len(), EVENT_SCHEMAS.len(), "one example per schema");
    for event in &events {
        if let Err(err) = registry.validate_event(event) {
            panic!("{} does not match its schema: {err}", event.event_type());
        }
    }
}
