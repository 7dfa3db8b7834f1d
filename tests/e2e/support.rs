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

/// Registers `customer_id` as a user (`user.RegisterUser`) and waits until the order
/// service, which learns of customers from the user service's events, holds them as
/// active: only then is an order for them accepted.
pub async fn registered_customer(stack: &TestStack, customer_id: &str) -> anyhow::Result<()> {
    let register = json!({"user_id": customer_id,
        "email": format!("{customer_id}@example.com"), "name": format!("Customer {customer_id}")});
    assert_accepted(&stack.send("user.RegisterUser", register).await?);
    customer_becomes(stack, customer_id, true).await
}

/// Waits until the order service's `customers` read model holds `customer_id` as
/// `active` (or not): read from its database, so no order need be placed to tell.
pub async fn customer_becomes(
    stack: &TestStack,
    customer_id: &str,
    active: bool,
) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(&stack.order_database_url).await?;
    let waited = stack
        .eventually(
            &format!("customer {customer_id} active: {active}"),
            || async {
                let row: Option<bool> =
                    sqlx::query_scalar("SELECT active FROM customers WHERE customer_id = $1")
                        .bind(customer_id)
                        .fetch_optional(&pool)
                        .await?;
                anyhow::ensure!(row == Some(active), "customers row: {row:?}");
                Ok(())
            },
        )
        .await;
    pool.close().await;
    waited
}

/// The `order.PlaceOrder` body, paid with the card the provider simulator approves.
pub fn place_order(order_id: &str, customer_id: &str, lines: Value) -> Value {
    json!({"order_id": order_id, "customer_id": customer_id, "card_token": "tok_ok",
        "lines": lines})
}

fn field(body: &Value, name: &str) -> u64 {
    body[name].as_u64().unwrap_or(u64::MAX)
}
