//! Commands over the broker: any AMQP client can send them, each command id takes
//! effect once, and every kind of bad input gets a clear answer or a dead letter.

use std::time::Instant;

use cli::client::SendOptions;
use e2e::TestStack;
use lapin::BasicProperties;
use platform::command_bus::MAX_COMMAND_BYTES;
use serde_json::json;

use crate::support::{assert_accepted, assert_rejected, product_in_stock, sku, stock_becomes};

/// Publishes like any AMQP client would: no library of ours, no reply queue.
async fn publish_plain(
    stack: &TestStack,
    routing_key: &str,
    body: &[u8],
    message_id: Option<&str>,
) -> anyhow::Result<()> {
    let mut properties = BasicProperties::default().with_content_type("application/json".into());
    if let Some(id) = message_id {
        properties = properties.with_message_id(id.into());
    }
    stack
        .publish_raw("commands", routing_key, body, properties)
        .await
}

#[tokio::test]
async fn a_product_sent_by_a_plain_amqp_client_shows_up_over_http() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "PLAIN");
    let started = Instant::now();
    let product =
        json!({"sku": sku, "name": "Plain mug", "category": "kitchen", "price_cents": 1250});
    publish_plain(
        &stack,
        "inventory.AddProduct",
        product.to_string().as_bytes(),
        Some("cmd-add-product"),
    )
    .await?;
    let stock = json!({"sku": sku, "quantity": 7});
    publish_plain(
        &stack,
        "inventory.AddStock",
        stock.to_string().as_bytes(),
        Some("cmd-add-stock"),
    )
    .await?;

    stock_becomes(&stack, &sku, 7, 0, 0).await?;
    let (status, body) = stack
        .eventually("product listed", || async {
            let (status, body) = stack.get(&format!("/products/{sku}")).await?;
            anyhow::ensure!(
                status == 200 && body["available"] == 7,
                "status {status}: {body}"
            );
            Ok((status, body))
        })
        .await?;
    println!("visible over HTTP {:?} after publishing", started.elapsed());
    assert_eq!(status, 200);
    assert_eq!(
        (body["name"].as_str(), body["price_cents"].as_i64()),
        (Some("Plain mug"), Some(1250))
    );
    stack.stop().await
}

#[tokio::test]
async fn the_same_command_id_is_applied_once_and_answered_the_same() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "ONCE");
    product_in_stock(&stack, &sku, 100, 5).await?;
    let body = json!({"sku": sku, "quantity": 3}).to_string();
    let first = stack
        .send_with(
            "inventory.AddStock",
            body.as_bytes(),
            SendOptions::default().command_id("restock-1"),
        )
        .await?;
    let second = stack
        .send_with(
            "inventory.AddStock",
            body.as_bytes(),
            SendOptions::default().command_id("restock-1"),
        )
        .await?;
    assert_accepted(&first);
    assert_eq!(first, second, "a resent command must get the same reply");
    assert_eq!(first.events, vec!["StockAdded".to_string()]);
    assert_eq!(
        first.version,
        Some(3),
        "ProductAdded, StockAdded, StockAdded"
    );
    stock_becomes(&stack, &sku, 8, 0, 0).await?;
    stack.stop().await
}

#[tokio::test]
async fn bad_commands_are_rejected_with_a_clear_code() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "BAD");
    product_in_stock(&stack, &sku, 100, 1).await?;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "inventory.AddStock",
            b"{not json".to_vec(),
            "malformed_json",
        ),
        (
            "inventory.AddStock",
            vec![0xff, 0xfe, 0x00],
            "malformed_json",
        ),
        (
            "inventory.ShipEverything",
            b"{}".to_vec(),
            "unknown_command",
        ),
        (
            "inventory.AddStock",
            json!({"sku": sku, "quantity": 0}).to_string().into_bytes(),
            "schema_violation",
        ),
        (
            "inventory.AddStock",
            json!({"sku": sku}).to_string().into_bytes(),
            "schema_violation",
        ),
        (
            "inventory.AddStock",
            json!({"sku": "NO-SUCH-SKU", "quantity": 1})
                .to_string()
                .into_bytes(),
            "unknown_product",
        ),
        (
            "inventory.AddProduct",
            json!({"sku": sku, "name": "x", "category": "y", "price_cents": 1})
                .to_string()
                .into_bytes(),
            "product_already_exists",
        ),
        (
            "inventory.ReserveStock",
            json!({"order_id": "o-bad", "lines": [{"sku": sku, "quantity": 2}]})
                .to_string()
                .into_bytes(),
            "insufficient_stock",
        ),
        (
            "order.ConfirmOrder",
            json!({"order_id": "never-placed"}).to_string().into_bytes(),
            "unknown_order",
        ),
    ];
    for (routing_key, body, code) in cases {
        let reply = stack
            .send_with(routing_key, &body, SendOptions::default())
            .await?;
        assert_rejected(&reply, code);
        assert!(
            reply.error.as_ref().is_some_and(|e| !e.message.is_empty()),
            "a rejection explains itself"
        );
    }
    // Nothing above changed the stock, and the consumer is still serving.
    let reply = stack
        .send("inventory.AddStock", json!({"sku": sku, "quantity": 1}))
        .await?;
    assert_accepted(&reply);
    stock_becomes(&stack, &sku, 2, 0, 0).await?;
    stack.stop().await
}

#[tokio::test]
async fn a_bad_command_nobody_can_be_told_about_is_dead_lettered() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    publish_plain(
        &stack,
        "inventory.AddStock",
        b"{broken",
        Some("unanswerable-1"),
    )
    .await?;
    publish_plain(
        &stack,
        "inventory.AddStock",
        br#"{"sku":"X","quantity":1}"#,
        None,
    )
    .await?;
    let dead = stack.take("inventory.commands.dlq", 2).await?;
    assert!(
        dead.contains(&b"{broken".to_vec()),
        "malformed message not dead-lettered: {dead:?}"
    );
    assert_eq!(
        dead.len(),
        2,
        "the message without a command id is dead-lettered too"
    );
    // The consumer survived both.
    let sku = sku(&stack, "ALIVE");
    product_in_stock(&stack, &sku, 1, 1).await?;
    stack.stop().await
}

/// An AddStock body of `MAX_COMMAND_BYTES + 1` bytes: valid JSON, refused for its size.
fn oversized_add_stock(sku: &str) -> Vec<u8> {
    let mut body = json!({"sku": sku, "quantity": 1}).to_string().into_bytes();
    body.pop();
    body.resize(MAX_COMMAND_BYTES, b' ');
    body.push(b'}');
    body
}

fn with_content_type(content_type: &str, id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(content_type.into())
        .with_message_id(id.into())
}

#[tokio::test]
async fn oversized_mistyped_non_utf8_and_misaddressed_commands_are_refused_and_the_bus_goes_on(
) -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "GATE");
    product_in_stock(&stack, &sku, 100, 1).await?;
    let valid = json!({"sku": sku, "quantity": 1}).to_string().into_bytes();
    let mut not_utf8 = br#"{"sku":""#.to_vec();
    not_utf8.extend([0xff, 0xfe]);
    not_utf8.extend(br#"","quantity":1}"#);
    // The queue's own name, through the default exchange: a routing key no binding gives.
    let cases: Vec<(&str, &str, Vec<u8>, &str, &str)> = vec![
        (
            "commands",
            "inventory.AddStock",
            oversized_add_stock(&sku),
            "application/json",
            "message_too_large",
        ),
        (
            "commands",
            "inventory.AddStock",
            valid.clone(),
            "text/plain",
            "unsupported_content_type",
        ),
        (
            "commands",
            "inventory.AddStock",
            not_utf8,
            "application/json",
            "malformed_json",
        ),
        (
            "",
            "inventory.commands",
            valid.clone(),
            "application/json",
            "unknown_command",
        ),
    ];
    for (n, (exchange, key, body, content_type, code)) in cases.into_iter().enumerate() {
        let properties = with_content_type(content_type, &format!("gate-{n}"));
        let reply = stack
            .publish_for_reply(exchange, key, &body, properties)
            .await?;
        assert_rejected(&reply, code);
        assert!(
            reply.error.as_ref().is_some_and(|e| !e.message.is_empty()),
            "a rejection explains itself: {reply:?}"
        );
    }
    let reply = stack
        .send("inventory.AddStock", json!({"sku": sku, "quantity": 1}))
        .await?;
    assert_accepted(&reply);
    stock_becomes(&stack, &sku, 2, 0, 0).await?;
    stack.stop().await
}

#[tokio::test]
async fn an_oversized_or_mistyped_command_nobody_can_be_told_about_is_dead_lettered(
) -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let sku = sku(&stack, "GATE-DLQ");
    let oversized = oversized_add_stock(&sku);
    let properties = with_content_type("application/json", "gate-dlq-1");
    stack
        .publish_raw("commands", "inventory.AddStock", &oversized, properties)
        .await?;
    let mistyped = json!({"sku": sku, "quantity": 1}).to_string().into_bytes();
    let properties = with_content_type("application/xml", "gate-dlq-2");
    stack
        .publish_raw("commands", "inventory.AddStock", &mistyped, properties)
        .await?;
    let dead = stack.take("inventory.commands.dlq", 2).await?;
    assert_eq!(dead.len(), 2, "both dead-lettered");
    assert!(dead.contains(&oversized) && dead.contains(&mistyped));
    // The consumer survived both.
    product_in_stock(&stack, &sku, 1, 1).await?;
    stack.stop().await
}
