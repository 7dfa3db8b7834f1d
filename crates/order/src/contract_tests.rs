//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/order/`.

use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;

use crate::domain::{OrderEvent, OrderLine};

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    (
        "OrderPlaced",
        include_str!("../../../schemas/events/order/OrderPlaced.v2.json"),
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

#[test]
fn a_version_1_order_placed_upcast_matches_version_2() {
    let v1 = SchemaRegistry::compile(&[(
        "OrderPlaced",
        include_str!("../../../schemas/events/order/OrderPlaced.v1.json"),
    )])
    .expect("v1 schema compiles");
    let v2 = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let payload = serde_json::json!({"order_id": "o1", "customer_id": "c1", "total_cents": 300,
        "lines": [{"sku": "MUG-1", "quantity": 2, "unit_price_cents": 150}]});
    v1.validate("OrderPlaced", &payload)
        .expect("a valid v1 payload");
    let envelope = platform::envelope::EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        service: "order".into(),
        aggregate_type: "Order".into(),
        aggregate_id: "o1".into(),
        sequence: 1,
        global_position: 1,
        event_type: "OrderPlaced".into(),
        event_version: "1".into(),
        occurred_at: chrono::Utc::now(),
        correlation_id: None,
        causation_id: None,
        payload,
    };
    let upcast = platform::upcast::Upcasters::contract().upcast(envelope);
    assert_eq!(upcast.event_version, "2");
    v2.validate("OrderPlaced", &upcast.payload)
        .expect("the upcast payload is a valid v2");
}
