//! The published contract: every event this service emits matches its JSON Schema in
//! `schemas/events/inventory/`, and every command example matches `schemas/commands/`.

use cqrs_es::DomainEvent;
use platform::schema::SchemaRegistry;
use serde_json::json;

use crate::domain::{ProductEvent, ReservationEvent, StockLine};

const EVENT_SCHEMAS: &[(&str, &str)] = &[
    (
        "ProductAdded",
        include_str!("../../../schemas/events/inventory/ProductAdded.v1.json"),
    ),
    (
        "StockAdded",
        include_str!("../../../schemas/events/inventory/StockAdded.v1.json"),
    ),
    (
        "ProductUpdated",
        include_str!("../../../schemas/events/inventory/ProductUpdated.v1.json"),
    ),
    (
        "StockAllocated",
        include_str!("../../../schemas/events/inventory/StockAllocated.v1.json"),
    ),
    (
        "AllocationReleased",
        include_str!("../../../schemas/events/inventory/AllocationReleased.v1.json"),
    ),
    (
        "AllocationCommitted",
        include_str!("../../../schemas/events/inventory/AllocationCommitted.v1.json"),
    ),
    (
        "StockReserved",
        include_str!("../../../schemas/events/inventory/StockReserved.v1.json"),
    ),
    (
        "StockReleased",
        include_str!("../../../schemas/events/inventory/StockReleased.v1.json"),
    ),
    (
        "ReservationCommitted",
        include_str!("../../../schemas/events/inventory/ReservationCommitted.v1.json"),
    ),
];

fn assert_matches_schema<E: DomainEvent>(registry: &SchemaRegistry, event: &E) {
    if let Err(err) = registry.validate_event(event) {
        panic!("{} does not match its schema: {err}", event.event_type());
    }
}

#[test]
fn every_event_matches_its_published_schema() {
    let registry = SchemaRegistry::compile(EVENT_SCHEMAS).expect("event schemas compile");
    let (sku, order_id) = (String::from("MUG-1"), String::from("o1"));
    let product_events = [
        ProductEvent::ProductAdded {
            sku: sku.clone(),
            name: "Mug".into(),
            category: "kitchen".into(),
            price_cents: 1299,
        },
        ProductEvent::StockAdded {
            sku: sku.clone(),
            quantity: 5,
        },
        ProductEvent::ProductUpdated {
            sku: sku.clone(),
            price_cents: 1499,
            category: "gifts".into(),
        },
        ProductEvent::StockAllocated {
            sku: sku.clone(),
            order_id: order_id.clone(),
            quantity: 2,
        },
        ProductEvent::AllocationReleased {
            sku: sku.clone(),
            order_id: order_id.clone(),
            quantity: 2,
        },
        ProductEvent::AllocationCommitted {
            sku: sku.clone(),
            order_id: order_id.clone(),
            quantity: 2,
        },
    ];
    product_events
        .iter()
        .for_each(|e| assert_matches_schema(&registry, e));
    let lines = vec![StockLine { sku, quantity: 2 }];
    let reservation_events = [
        ReservationEvent::StockReserved {
            order_id: order_id.clone(),
            lines: lines.clone(),
        },
        ReservationEvent::StockReleased {
            order_id: order_id.clone(),
            lines: vec![],
        },
        ReservationEvent::ReservationCommitted { order_id, lines },
    ];
    reservation_events
        .iter()
        .for_each(|e| assert_matches_schema(&registry, e));
}

#[test]
fn command_schemas_accept_the_documented_examples_and_refuse_extra_fields() {
    let registry =
        SchemaRegistry::compile(crate::commands::SCHEMAS).expect("command schemas compile");
    let reserve = json!({"order_id": "o1", "lines": [{"sku": "MUG-1", "quantity": 2}]});
    assert!(registry.validate("ReserveStock", &reserve).is_ok());
    let extra = json!({"sku": "MUG-1", "quantity": 2, "warehouse": "north"});
    assert!(registry.validate("AddStock", &extra).is_err());
}

#[test]
fn an_update_needs_a_price_or_a_category_and_nothing_else() {
    let registry =
        SchemaRegistry::compile(crate::commands::SCHEMAS).expect("command schemas compile");
    let price = json!({"sku": "MUG-1", "price_cents": 1499});
    let category = json!({"sku": "MUG-1", "category": "gifts"});
    let both = json!({"sku": "MUG-1", "price_cents": 0, "category": "gifts"});
    for body in [price, category, both] {
        assert!(registry.validate("UpdateProduct", &body).is_ok(), "{body}");
    }
    let neither = json!({"sku": "MUG-1"});
    let extra = json!({"sku": "MUG-1", "price_cents": 1, "name": "Cup"});
    let negative = json!({"sku": "MUG-1", "price_cents": -1});
    for body in [neither, extra, negative] {
        assert!(registry.validate("UpdateProduct", &body).is_err(), "{body}");
    }
}
