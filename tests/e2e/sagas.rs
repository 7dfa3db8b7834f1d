//! The order fulfilment saga end to end: orders placed over the broker, the saga driving
//! inventory, payment (through the bridge, NATS and the provider simulator), order and
//! notification, and every order ending whole or undone, checked in the services' own
//! stores. Also: duplicates and malformed input (processes killed mid-batch: `kills.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::TestStack;
use lapin::BasicProperties;
use serde_json::{json, Value};

use crate::support::{assert_accepted, product_in_stock, registered_customer, sku, stock_becomes};

/// An order of `quantity` units of `sku` at 500 cents, paid with `card_token`.
fn order(order_id: &str, customer_id: &str, sku: &str, quantity: u64, card_token: &str) -> Value {
    json!({"order_id": order_id, "customer_id": customer_id, "card_token": card_token,
        "lines": [{"sku": sku, "quantity": quantity, "unit_price_cents": 500}]})
}

/// A stack with the whole write side, the payment side and the saga, one customer and
/// one product with `stock` units.
async fn fulfilment_stack(stock: u64) -> anyhow::Result<(TestStack, String, String)> {
    let mut stack = TestStack::start().await?;
    stack.start_saga().await?;
    let (customer, sku) = customer_and_product(&stack, stock).await?;
    Ok((stack, customer, sku))
}

pub async fn customer_and_product(
    stack: &TestStack,
    stock: u64,
) -> anyhow::Result<(String, String)> {
    let customer = format!("cust-{}", stack.id);
    registered_customer(stack, &customer).await?;
    let sku = sku(stack, "SAGA");
    product_in_stock(stack, &sku, 500, stock).await?;
    Ok((customer, sku))
}

async fn place(stack: &TestStack, body: Value) -> anyhow::Result<()> {
    assert_accepted(&stack.send("order.PlaceOrder", body).await?);
    Ok(())
}

/// The four card behaviours, by order index.
const CARDS: [&str; 4] = ["tok_ok", "tok_decline", "tok_timeout", "tok_flaky"];

/// Waits for every saga, checks each order ended whole or undone, and that the stock
/// adds up; returns the units sold.
pub async fn all_finish_whole(
    stack: &mut TestStack,
    orders: &[(String, u64)],
    sku: &str,
    added: u64,
) -> anyhow::Result<u64> {
    let mut sold = 0;
    for (order_id, quantity) in orders {
        stack.saga_finished(order_id).await?;
        if stack.assert_whole_or_undone(order_id).await? {
            sold += quantity;
        }
    }
    stock_becomes(stack, sku, added - sold, 0, sold).await?;
    Ok(sold)
}

#[tokio::test]
async fn every_path_ends_whole_or_undone_and_the_stock_adds_up() -> anyhow::Result<()> {
    let (mut stack, customer, sku) = fulfilment_stack(10).await?;
    let run = stack.id.clone();
    let id = |name: &str| format!("{name}-{run}");
    let cases = [
        ("completed", 2, "tok_ok", "completed"),
        ("flaky", 1, "tok_flaky", "completed"),
        ("out-of-stock", 50, "tok_ok", "cancelled"),
        ("declined", 1, "tok_decline", "cancelled"),
        ("timed-out", 1, "tok_timeout", "cancelled"),
    ];
    for (name, quantity, card, _) in cases {
        place(&stack, order(&id(name), &customer, &sku, quantity, card)).await?;
    }
    let mut views = BTreeMap::new();
    for (name, _, _, expected) in cases {
        let view = stack.saga_finished(&id(name)).await?;
        assert_eq!(view["status"], expected, "{name}: {view}");
        let completed = stack.assert_whole_or_undone(&id(name)).await?;
        assert_eq!(completed, expected == "completed", "{name}");
        views.insert(name, view);
    }
    stock_becomes(&stack, &sku, 7, 0, 3).await?;
    let steps = |name: &str| -> Vec<String> {
        views[name]["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["kind"] == "command")
            .filter_map(|e| e["step"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        steps("completed"),
        [
            "reserve",
            "authorize",
            "capture",
            "confirm",
            "commit",
            "notify_confirmed"
        ]
    );
    assert_eq!(
        steps("out-of-stock"),
        ["reserve", "cancel", "notify_cancelled"]
    );
    assert_eq!(
        steps("declined"),
        [
            "reserve",
            "authorize",
            "release",
            "cancel",
            "notify_cancelled"
        ]
    );
    assert_eq!(
        steps("timed-out"),
        [
            "reserve",
            "authorize",
            "void",
            "release",
            "cancel",
            "notify_cancelled"
        ]
    );
    assert_eq!(
        views["timed-out"]["failure"],
        "payment not answered in time"
    );
    assert_eq!(
        views["declined"]["failure"],
        "payment declined: card declined"
    );
    stack.stop().await
}

/// Relays and the saga's dispatcher that poll only once a minute: every hop of the
/// saga must leave on the wake-up of the commit before it, or a step times out (5 s)
/// and the order is cancelled.
#[tokio::test]
async fn an_order_completes_on_commit_wake_ups_without_waiting_for_a_poll() -> anyhow::Result<()> {
    let poll = Duration::from_secs(60);
    let mut stack = TestStack::start_with_outbox_poll(e2e::Servers::default(), poll).await?;
    stack.start_saga().await?;
    let (customer, sku) = customer_and_product(&stack, 5).await?;
    let order_id = format!("woken-{}", stack.id);
    place(&stack, order(&order_id, &customer, &sku, 2, "tok_ok")).await?;
    let view = stack.saga_finished(&order_id).await?;
    assert_eq!(view["status"], "completed", "{view}");
    assert!(stack.assert_whole_or_undone(&order_id).await?);
    stack.stop().await
}

#[tokio::test]
async fn every_message_of_an_order_carries_its_correlation_id() -> anyhow::Result<()> {
    let (mut stack, customer, sku) = fulfilment_stack(5).await?;
    let order_id = format!("corr-{}", stack.id);
    let correlation = format!("flow-{}", stack.id);
    let body = order(&order_id, &customer, &sku, 1, "tok_ok").to_string();
    let options = cli::client::SendOptions::default().correlation_id(&correlation);
    assert_accepted(
        &stack
            .send_with("order.PlaceOrder", body.as_bytes(), options)
            .await?,
    );
    let view = stack.saga_finished(&order_id).await?;
    assert_eq!(view["correlation_id"], correlation.as_str());
    let payment_url = stack.payment_database().await?;
    for url in [
        &stack.inventory_database_url,
        &stack.order_database_url,
        &payment_url,
        &stack.notification_database_url,
    ] {
        let pool = sqlx::PgPool::connect(url).await?;
        let stray: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT event_type, metadata->>'correlation_id', metadata->>'causation_id' FROM events \
             WHERE payload::text LIKE '%' || $1 || '%' \
             AND (metadata->>'correlation_id' IS DISTINCT FROM $2 OR metadata->>'causation_id' IS NULL)",
        )
        .bind(&order_id)
        .bind(&correlation)
        .fetch_all(&pool)
        .await?;
        pool.close().await;
        assert!(
            stray.is_empty(),
            "events of {order_id} outside its flow: {stray:?}"
        );
    }
    stack.stop().await
}

#[tokio::test]
async fn a_redelivered_event_a_repeated_reply_and_a_resent_command_change_nothing(
) -> anyhow::Result<()> {
    let (mut stack, customer, sku) = fulfilment_stack(5).await?;
    let tap = e2e::EventTap::bind(&stack, "order.Order.OrderPlaced").await?;
    let order_id = format!("dup-{}", stack.id);
    place(&stack, order(&order_id, &customer, &sku, 2, "tok_ok")).await?;
    let placed = tap.wait_for("order.Order.OrderPlaced", &order_id).await?;
    let before = stack.saga_finished(&order_id).await?;

    // The same event again, and a copy of it under another event id.
    let again = serde_json::to_vec(&placed)?;
    stack
        .publish_raw(
            "events",
            "order.Order.OrderPlaced",
            &again,
            BasicProperties::default(),
        )
        .await?;
    let mut copy = placed.clone();
    copy.event_id = uuid::Uuid::new_v4();
    let copy = serde_json::to_vec(&copy)?;
    stack
        .publish_raw(
            "events",
            "order.Order.OrderPlaced",
            &copy,
            BasicProperties::default(),
        )
        .await?;
    // A repeated reply, and the saga's own reserve command sent again under its id.
    let reply = json!({"command_id": format!("saga:{order_id}:reserve"), "status": "accepted",
        "aggregate_id": order_id, "version": 1, "events": ["StockReserved"], "error": null});
    stack
        .publish_raw(
            "",
            "saga.replies",
            reply.to_string().as_bytes(),
            BasicProperties::default(),
        )
        .await?;
    let resend = cli::client::SendOptions::default().command_id(format!("saga:{order_id}:reserve"));
    let body = json!({"order_id": order_id, "lines": [{"sku": sku, "quantity": 2}]}).to_string();
    let answer = stack
        .send_with("inventory.ReserveStock", body.as_bytes(), resend)
        .await?;
    assert_eq!(
        answer.events,
        ["StockReserved", "StockAllocated"],
        "the first reply, recorded, and nothing allocated again"
    );

    // A later order goes through, so the duplicates above were all consumed by then.
    let later = format!("later-{}", stack.id);
    place(&stack, order(&later, &customer, &sku, 1, "tok_ok")).await?;
    stack.saga_finished(&later).await?;
    let after = stack.saga_finished(&order_id).await?;
    assert_eq!(
        after["timeline"], before["timeline"],
        "the duplicates changed the saga"
    );
    assert!(stack.assert_whole_or_undone(&order_id).await?);
    stock_becomes(&stack, &sku, 2, 0, 3).await?;
    stack.stop().await
}

#[tokio::test]
async fn malformed_messages_on_the_saga_queues_are_dead_lettered() -> anyhow::Result<()> {
    let (mut stack, customer, sku) = fulfilment_stack(5).await?;
    let plain = BasicProperties::default;
    stack
        .publish_raw("events", "order.Order.OrderPlaced", b"{not json", plain())
        .await?;
    let no_lines = json!({"event_id": uuid::Uuid::new_v4(), "service": "order", "aggregate_type": "Order",
        "aggregate_id": "x", "sequence": 1, "global_position": 1, "event_type": "OrderPlaced",
        "event_version": "1", "occurred_at": "2026-01-01T00:00:00Z", "correlation_id": null,
        "causation_id": null, "payload": {"order_id": "x"}});
    stack
        .publish_raw(
            "events",
            "order.Order.OrderPlaced",
            no_lines.to_string().as_bytes(),
            plain(),
        )
        .await?;
    stack
        .publish_raw("", "saga.replies", b"[]", plain())
        .await?;
    let foreign = json!({"command_id": "cli-1", "status": "accepted", "aggregate_id": null,
        "version": null, "events": [], "error": null});
    stack
        .publish_raw("", "saga.replies", foreign.to_string().as_bytes(), plain())
        .await?;
    let orphan = json!({"command_id": "saga:nobody:reserve", "status": "accepted", "aggregate_id": null,
        "version": null, "events": [], "error": null});
    stack
        .publish_raw("", "saga.replies", orphan.to_string().as_bytes(), plain())
        .await?;

    assert_eq!(stack.take("saga.events.dlq", 2).await?.len(), 2);
    assert_eq!(stack.take("saga.replies.dlq", 3).await?.len(), 3);
    // The saga goes on.
    let order_id = format!("after-garbage-{}", stack.id);
    place(&stack, order(&order_id, &customer, &sku, 1, "tok_ok")).await?;
    assert_eq!(stack.saga_finished(&order_id).await?["status"], "completed");
    assert!(stack.assert_whole_or_undone(&order_id).await?);
    stack.stop().await
}

/// Places `count` orders of 1-3 units, cycling through the card behaviours.
pub async fn place_batch(
    stack: &TestStack,
    customer: &str,
    sku: &str,
    count: usize,
) -> anyhow::Result<Vec<(String, u64)>> {
    let mut orders = Vec::new();
    for i in 0..count {
        let order_id = format!("batch-{i}-{}", stack.id);
        let quantity = (i % 3) as u64 + 1;
        place(
            stack,
            order(&order_id, customer, sku, quantity, CARDS[i % CARDS.len()]),
        )
        .await?;
        orders.push((order_id, quantity));
    }
    Ok(orders)
}

#[tokio::test]
async fn garbage_on_every_queue_is_dead_lettered_and_every_consumer_goes_on() -> anyhow::Result<()>
{
    let (mut stack, customer, sku) = fulfilment_stack(5).await?;
    let queues = [
        "inventory.commands",
        "order.commands",
        "user.commands",
        "payment.commands",
        "notification.commands",
        "order.customers",
        "payment.provider-answers",
        "bridge.to-nats",
        "query.projections",
        "saga.events",
        "saga.replies",
    ];
    for queue in queues {
        // The default exchange routes by queue name: the bytes reach the consumer as is.
        stack
            .publish_raw("", queue, b"\x00garbage{", BasicProperties::default())
            .await?;
    }
    for queue in queues {
        let dead = stack.take(&format!("{queue}.dlq"), 1).await?;
        assert_eq!(dead, [b"\x00garbage{".to_vec()], "{queue}");
    }
    let order_id = format!("after-all-garbage-{}", stack.id);
    place(&stack, order(&order_id, &customer, &sku, 1, "tok_ok")).await?;
    assert_eq!(stack.saga_finished(&order_id).await?["status"], "completed");
    assert!(stack.assert_whole_or_undone(&order_id).await?);
    stack.stop().await
}
