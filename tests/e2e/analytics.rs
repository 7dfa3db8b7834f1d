//! The analytics service end to end: customers registered and orders placed over the
//! broker, fulfilled (or cancelled) by the saga through every service, and the star
//! schema read from the services' feeds: completed orders count as sales, declined
//! ones do not, a category change applies to sales from then on, and the three
//! analytics endpoints agree with what the test computes from the orders it placed.

use std::collections::BTreeMap;

use e2e::TestStack;
use serde_json::{json, Value};

use crate::support::{assert_accepted, registered_customer, sku};

/// An order paid with `card_token`: `(sku, quantity, unit_price_cents)` lines.
fn order(order_id: &str, customer: &str, lines: &[(&str, u64, i64)], card_token: &str) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity, price)| json!({"sku": sku, "quantity": quantity, "unit_price_cents": price}))
        .collect();
    json!({"order_id": order_id, "customer_id": customer, "card_token": card_token, "lines": lines})
}

async fn product(
    stack: &TestStack,
    sku: &str,
    category: &str,
    price_cents: i64,
) -> anyhow::Result<()> {
    let body = json!({"sku": sku, "name": format!("Product {sku}"), "category": category,
        "price_cents": price_cents});
    assert_accepted(&stack.send("inventory.AddProduct", body).await?);
    let stock = json!({"sku": sku, "quantity": 20});
    assert_accepted(&stack.send("inventory.AddStock", stock).await?);
    Ok(())
}

/// Places the order and waits for its saga to end with `status`.
async fn fulfil(stack: &TestStack, body: Value, status: &str) -> anyhow::Result<()> {
    let order_id = body["order_id"].as_str().unwrap_or_default().to_string();
    assert_accepted(&stack.send("order.PlaceOrder", body).await?);
    let saga = stack.saga_finished(&order_id).await?;
    assert_eq!(saga["status"], status, "{order_id}: {saga}");
    Ok(())
}

/// Sums a measure over every row of a monthly answer (the test may straddle months).
fn total(body: &Value, measure: &str) -> i64 {
    let rows = body["rows"].as_array().into_iter().flatten();
    rows.map(|row| row[measure].as_i64().unwrap_or(0)).sum()
}

/// Waits until `path` answers 200 and `check` passes; returns the body.
async fn analytics_shows(
    stack: &TestStack,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    stack
        .eventually_within(
            &format!("GET {path}"),
            std::time::Duration::from_secs(30),
            || async {
                let (status, body) = stack.analytics(path).await?;
                anyhow::ensure!(
                    status == 200 && check(&body),
                    "status {status}, body {body}"
                );
                Ok(body)
            },
        )
        .await
}

#[tokio::test]
async fn completed_orders_are_sales_by_month_customer_and_product_and_declined_ones_are_not(
) -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_saga().await?;
    stack.start_analytics().await?;
    let (ann, bob) = (format!("ann-{}", stack.id), format!("bob-{}", stack.id));
    registered_customer(&stack, &ann).await?;
    registered_customer(&stack, &bob).await?;
    let (mug, hose) = (sku(&stack, "MUG"), sku(&stack, "HOSE"));
    product(&stack, &mug, "kitchen", 500).await?;
    product(&stack, &hose, "garden", 1000).await?;
    let id = |name: &str| format!("{name}-{}", stack.id);

    fulfil(
        &stack,
        order(&id("a1"), &ann, &[(&mug, 2, 500)], "tok_ok"),
        "completed",
    )
    .await?;
    fulfil(
        &stack,
        order(&id("a2"), &ann, &[(&hose, 4, 1000)], "tok_decline"),
        "cancelled",
    )
    .await?;
    let recategorized = json!({"sku": mug, "category": "gifts"});
    assert_accepted(&stack.send("inventory.UpdateProduct", recategorized).await?);
    let b1 = order(
        &id("b1"),
        &bob,
        &[(&hose, 1, 1000), (&mug, 1, 500)],
        "tok_ok",
    );
    fulfil(&stack, b1, "completed").await?;

    // Sales that stand: a1 (1000) and b1 (1500); a2 was declined and cancelled.
    let (orders, units, revenue) = (2, 4, 2500);
    let monthly = analytics_shows(&stack, "/analytics/sales/monthly", |body| {
        total(body, "orders") == orders && total(body, "revenue_cents") == revenue
    })
    .await?;
    assert_eq!(
        (total(&monthly, "units"), total(&monthly, "net_cents")),
        (units, revenue)
    );
    assert_eq!(total(&monthly, "refunded_cents"), 0);
    // The mug was kitchen when a1 was placed and gifts when b1 was.
    let expected = BTreeMap::from([("kitchen", 1000), ("gifts", 500), ("garden", 1000)]);
    for (category, revenue) in expected {
        let path = format!("/analytics/sales/monthly?category={category}");
        let body = analytics_shows(&stack, &path, |b| total(b, "revenue_cents") == revenue).await?;
        assert_eq!(total(&body, "orders"), 1, "{category}: {body}");
    }

    let (_, ann_ltv) = stack
        .analytics(&format!("/analytics/customers/{ann}/ltv"))
        .await?;
    assert_eq!(
        (&ann_ltv["orders"], &ann_ltv["revenue_cents"]),
        (&json!(1), &json!(1000)),
        "{ann_ltv}"
    );
    let (_, bob_ltv) = stack
        .analytics(&format!("/analytics/customers/{bob}/ltv"))
        .await?;
    assert_eq!(
        (&bob_ltv["orders"], &bob_ltv["net_cents"]),
        (&json!(1), &json!(1500)),
        "{bob_ltv}"
    );
    assert!(bob_ltv["first_order_date"].is_string(), "{bob_ltv}");
    let (status, _) = stack
        .analytics("/analytics/customers/nobody-at-all/ltv")
        .await?;
    assert_eq!(status, 404);

    let (status, top) = stack.analytics("/analytics/products/top?limit=1").await?;
    assert_eq!(status, 200, "{top}");
    let first = &top["items"][0];
    assert_eq!(
        (&first["sku"], &first["units"], &first["revenue_cents"]),
        (&json!(mug), &json!(3), &json!(1500))
    );
    assert_eq!(top["total"], 2, "{top}");
    let (_, second) = stack
        .analytics("/analytics/products/top?limit=1&offset=1")
        .await?;
    assert_eq!(
        (&second["items"][0]["sku"], &second["items"][0]["units"]),
        (&json!(hose), &json!(1))
    );

    let (status, doc) = stack.analytics("/openapi.json").await?;
    assert_eq!(status, 200);
    assert!(doc["paths"]["/analytics/products/top"].is_object(), "{doc}");
    let (status, olap) = stack.analytics("/projections/olap").await?;
    assert_eq!((status, &olap["version"]), (200, &json!(1)), "{olap}");
    stack.stop().await
}
