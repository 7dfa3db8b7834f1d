//! The read side of users and customers end to end: `GET /users/{id}` following a
//! user's registration and deactivation, and `GET /customers/{id}/orders` listing a
//! customer's orders newest first.

use e2e::TestStack;
use serde_json::{json, Value};

use crate::support::{assert_accepted, place_order, registered_customer};

/// Waits until `GET {path}` answers 200 with a body that passes `check`.
async fn read_becomes(
    stack: &TestStack,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    stack
        .eventually(&format!("GET {path}"), || async {
            let (code, body) = stack.get(path).await?;
            anyhow::ensure!(code == 200 && check(&body), "status {code}, body {body}");
            Ok(body)
        })
        .await
}

fn order_ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|o| o["order_id"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn read_side_serves_user_profiles_and_a_customers_orders_newest_first() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    let user_id = format!("reader-{}", stack.id);
    let register =
        json!({"user_id": user_id, "email": format!("{user_id}@example.com"), "name": "Rea Der"});
    assert_accepted(&stack.send("user.RegisterUser", register).await?);
    let path = format!("/users/{user_id}");
    let profile = read_becomes(&stack, &path, |body| body["active"] == true).await?;
    assert_eq!(profile["name"], "Rea Der");
    assert_eq!(profile["email"], format!("{user_id}@example.com"));
    let deactivate = json!({"user_id": user_id});
    assert_accepted(&stack.send("user.DeactivateUser", deactivate).await?);
    read_becomes(&stack, &path, |body| body["active"] == false).await?;

    let customer_id = format!("cust-{}", stack.id);
    registered_customer(&stack, &customer_id).await?;
    let orders = [
        format!("first-{}", stack.id),
        format!("second-{}", stack.id),
    ];
    for order_id in &orders {
        let lines = json!([{"sku": "READ-1", "quantity": 1, "unit_price_cents": 500}]);
        let place = place_order(order_id, &customer_id, lines);
        assert_accepted(&stack.send("order.PlaceOrder", place).await?);
    }
    let listing = format!("/customers/{customer_id}/orders");
    let page = read_becomes(&stack, &listing, |body| order_ids(body).len() == 2).await?;
    assert_eq!(order_ids(&page), [orders[1].as_str(), orders[0].as_str()]);
    stack.stop().await
}
