//! Small helpers shared by the end-to-end tests.

use e2e::TestStack;
use platform::command_bus::{CommandReply, ReplyStatus};
use serde_json::{json, Value};

/// A sku unique to one test run, so tests never see each other's products.
pub fn sku(stack: &TestStack, name: &str) -> String {
    format!("{name}-{}", &stack.id[..6])
}

pub fn assert_accepted(reply: &CommandReply) {
    assert_eq!(
        reply.status,
        ReplyStatus::Accepted,
        "expected acceptance, got {reply:?}"
    );
}

pub fn assert_rejected(reply: &CommandReply, code: &str) {
    assert_eq!(
        reply.status,
        ReplyStatus::Rejected,
        "expected rejection, got {reply:?}"
    );
    let error = reply.error.as_ref().map(|e| e.code.as_str());
    assert_eq!(error, Some(code), "unexpected rejection: {reply:?}");
}

/// Adds a product with `quantity` units in stock.
pub async fn product_in_stock(
    stack: &TestStack,
    sku: &str,
    price_cents: i64,
    quantity: u64,
) -> anyhow::Result<()> {
    let added = stack
        .send("inventory.AddProduct", json!({"sku": sku, "name": format!("Product {sku}"), "category": "test", "price_cents": price_cents}))
        .await?;
    assert_accepted(&added);
    let stocked = stack
        .send(
            "inventory.AddStock",
            json!({"sku": sku, "quantity": quantity}),
        )
        .await?;
    assert_accepted(&stocked);
    Ok(())
}

/// Waits until `GET /stock/{sku}` shows these levels.
pub async fn stock_becomes(
    stack: &TestStack,
    sku: &str,
    available: u64,
    reserved: u64,
    sold: u64,
) -> anyhow::Result<()> {
    let expected = (available, reserved, sold);
    stack
        .eventually(&format!("stock of {sku} becomes {expected:?}"), || async {
            let (status, body) = stack.get(&format!("/stock/{sku}")).await?;
            let levels = (
                field(&body, "available"),
                field(&body, "reserved"),
                field(&body, "sold"),
            );
            anyhow::ensure!(
                status == 200 && levels == expected,
                "status {status}, levels {levels:?}"
            );
            Ok(())
        })
        .await
}

/// Waits until `GET /orders/{order_id}` shows `status`; returns the document.
pub async fn order_becomes(
    stack: &TestStack,
    order_id: &str,
    status: &str,
) -> anyhow::Result<Value> {
    stack
        .eventually(&format!("order {order_id} becomes {status}"), || async {
            let (code, body) = stack.get(&format!("/orders/{order_id}")).await?;
            anyhow::ensure!(
                code == 200 && body["status"] == status,
                "status {code}, body {body}"
            );
            Ok(body)
        })
        .await
}

fn field(body: &Value, name: &str) -> u64 {
    body[name].as_u64().unwrap_or(u64::MAX)
}
