//! Crafted envelopes, one builder per event the tests apply. Each envelope takes the
//! next global position, which stands for its place in its feed: apply a source's
//! events in the order they were built.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use platform::envelope::EventEnvelope;
use serde_json::{json, Value};
use uuid::Uuid;

static GLOBAL_POSITION: AtomicI64 = AtomicI64::new(1);

pub fn envelope(
    service: &str,
    aggregate: &str,
    id: &str,
    sequence: i64,
    event_type: &str,
    payload: Value,
) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::new_v4(),
        service: service.to_string(),
        aggregate_type: aggregate.to_string(),
        aggregate_id: id.to_string(),
        sequence,
        global_position: GLOBAL_POSITION.fetch_add(1, Ordering::Relaxed),
        event_type: event_type.to_string(),
        event_version: "1".to_string(),
        occurred_at: Utc::now(),
        correlation_id: Some("test-correlation".to_string()),
        causation_id: None,
        payload,
    }
}

pub fn product_added(sku: &str, category: &str) -> EventEnvelope {
    let payload = json!({"sku": sku, "name": format!("Product {sku}"), "category": category, "price_cents": 1250});
    envelope("inventory", "Product", sku, 1, "ProductAdded", payload)
}

pub fn stock_event(sku: &str, sequence: i64, event_type: &str, quantity: u64) -> EventEnvelope {
    let payload = json!({"sku": sku, "order_id": "o-1", "quantity": quantity});
    envelope("inventory", "Product", sku, sequence, event_type, payload)
}

pub fn order_placed(order_id: &str) -> EventEnvelope {
    let payload = json!({"order_id": order_id, "customer_id": "c-7", "total_cents": 2700,
        "lines": [{"sku": "A-1", "quantity": 2, "unit_price_cents": 1250},
                  {"sku": "B-2", "quantity": 1, "unit_price_cents": 200}]});
    envelope("order", "Order", order_id, 1, "OrderPlaced", payload)
}

/// An `OrderPlaced` of `customer_id`, placed at `placed_at`.
pub fn order_placed_at(
    order_id: &str,
    customer_id: &str,
    placed_at: DateTime<Utc>,
) -> EventEnvelope {
    let payload = json!({"order_id": order_id, "customer_id": customer_id, "total_cents": 100,
        "lines": [{"sku": "A-1", "quantity": 1, "unit_price_cents": 100}]});
    let mut placed = envelope("order", "Order", order_id, 1, "OrderPlaced", payload);
    placed.occurred_at = placed_at;
    placed
}

/// An event of the user `User` aggregate `user_id`.
pub fn user_event(user_id: &str, sequence: i64, event_type: &str, payload: Value) -> EventEnvelope {
    envelope("user", "User", user_id, sequence, event_type, payload)
}

/// A `ProductAdded` of `sku` in `category` at 1000 cents.
pub fn product_in(sku: &str, category: &str) -> EventEnvelope {
    let payload = json!({"sku": sku, "name": format!("Product {sku}"), "category": category,
        "price_cents": 1000});
    envelope("inventory", "Product", sku, 1, "ProductAdded", payload)
}

/// A `ProductUpdated` of `sku`: `category` and `price_cents` from then on.
pub fn product_updated(
    sku: &str,
    sequence: i64,
    category: &str,
    price_cents: i64,
) -> EventEnvelope {
    let payload = json!({"sku": sku, "category": category, "price_cents": price_cents});
    envelope(
        "inventory",
        "Product",
        sku,
        sequence,
        "ProductUpdated",
        payload,
    )
}

/// An `OrderPlaced` of `customer_id` with `lines` of `(sku, quantity, unit price)`.
pub fn order_of(order_id: &str, customer_id: &str, lines: &[(&str, u64, i64)]) -> EventEnvelope {
    let total: i64 = lines.iter().map(|(_, q, p)| *q as i64 * p).sum();
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity, price)| json!({"sku": sku, "quantity": quantity, "unit_price_cents": price}))
        .collect();
    let payload = json!({"order_id": order_id, "customer_id": customer_id, "card_token": "tok_ok",
        "lines": lines, "total_cents": total});
    let mut placed = envelope("order", "Order", order_id, 1, "OrderPlaced", payload);
    placed.event_version = "2".to_string();
    placed
}

pub fn order_confirmed(order_id: &str, sequence: i64) -> EventEnvelope {
    let payload = json!({"order_id": order_id});
    envelope(
        "order",
        "Order",
        order_id,
        sequence,
        "OrderConfirmed",
        payload,
    )
}

pub fn order_cancelled(order_id: &str, sequence: i64, reason: &str) -> EventEnvelope {
    let payload = json!({"order_id": order_id, "reason": reason});
    envelope(
        "order",
        "Order",
        order_id,
        sequence,
        "OrderCancelled",
        payload,
    )
}

/// An event of the payment `payment_id`.
pub fn payment_event(
    payment_id: &str,
    sequence: i64,
    event_type: &str,
    payload: Value,
) -> EventEnvelope {
    envelope(
        "payment", "Payment", payment_id, sequence, event_type, payload,
    )
}

/// An event of the notification `notification_id`.
pub fn notification_event(
    notification_id: &str,
    sequence: i64,
    event_type: &str,
    payload: Value,
) -> EventEnvelope {
    envelope(
        "notification",
        "Notification",
        notification_id,
        sequence,
        event_type,
        payload,
    )
}

/// A `NotificationRequested` on `channel` with `template`.
pub fn notification_requested(
    notification_id: &str,
    channel: &str,
    template: &str,
) -> EventEnvelope {
    let payload = json!({"notification_id": notification_id, "customer_id": "c-1",
        "channel": channel, "template": template, "data": {"order_id": "o-1"}});
    notification_event(notification_id, 1, "NotificationRequested", payload)
}
