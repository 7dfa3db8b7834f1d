//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/order/`.

use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;

use crate::domain::{OrderEvent, OrderLine};

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    (
        "OrderPlaced",
        include_str!("../../../schemas/events/order/OrderPlaced.v1.json"),
    ),
    (
        "OrderConfirmed",
        include_str!("../../../schemas/events/order/OrderConfirmed.v1.json"),
    ),
    (
        "OrderCancelled",
        include_str!("../../../schemas/events/order/OrderCancelled.v1.json"),
    ),
];

#[test]
fn every_event_matches_its_published_schema() {
    let registry = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let line = OrderLine {
        sku: "MUG-1".into(),
        quantity: 2,
        unit_price_cents: 150,
    };
    let events = [
        OrderEvent::OrderPlaced {
            order_id: "o1".into(),
            customer_id: "c1".into(),
            card_token: "tok_ok".into(),
            lines: vec![line],
            total_cents: 300,
        },
        OrderEvent::OrderConfirmed {
            order_id: "o1".into(),
        },
        OrderEvent::OrderCancelled {
            order_id: "o1".into(),
            reason: "out of stock".into(),
        },
    ];
    for event in &events {
        if let Err(err) = registry.validate_event(event) {
            panic!("{} does not match its schema: {err}", event.event_type());
        }
    }
}
