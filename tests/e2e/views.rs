//! Every read model of the query service end to end: products added and moved between
//! categories, customers registered, orders placed over the broker and fulfilled (or
//! not) by the saga through inventory, payment (provider over NATS) and notification
//! ([`shop`]); then each view's endpoint is checked against values the test computes
//! from the orders it placed and how their sagas ended.

mod shop;

use std::collections::BTreeMap;
use std::time::Duration;

use e2e::TestStack;
use serde_json::{json, Value};

use shop::{fulfil, sold, Ends, Order, Product};

/// GETs `path` on the query service until it answers 200 and `check` holds; the body.
async fn served(
    stack: &TestStack,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let what = format!("GET {path}");
    stack
        .eventually_within(&what, Duration::from_secs(30), || async {
            let (status, body) = stack.get(path).await?;
            anyhow::ensure!(status == 200 && check(&body), "{status} {body}");
            Ok(body)
        })
        .await
}

fn strings(list: &Value, field: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str().map(String::from))
        .collect()
}

#[tokio::test]
async fn every_view_shows_what_the_fulfilled_orders_did() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_saga().await?;
    let (products, orders) = shop::shop(&stack).await?;
    fulfil(&stack, &products, &orders).await?;
    let sold = sold(&products, &orders);

    catalog(&stack, &products, &sold).await?;
    order_views(&stack, &products, &orders, &sold).await?;
    payments(&stack, &products, &orders).await?;
    notifications(&stack, &orders).await?;
    users(&stack, &products, &orders).await?;
    let (_, projections) = stack.get("/projections").await?;
    assert_eq!(
        projections.as_array().map(Vec::len),
        Some(15),
        "{projections}"
    );
    let (status, document) = stack.get("/openapi.json").await?;
    assert_eq!(status, 200);
    assert!(document["paths"]["/rankings/best-sellers"].is_object());
    stack.stop().await
}

/// Stock (Redis and MongoDB), the moved product, and the categories.
async fn catalog(stack: &TestStack, products: &[Product], sold: &[i64]) -> anyhow::Result<()> {
    for (product, sold) in products.iter().zip(sold) {
        let levels = json!({"available": product.stock - sold, "reserved": 0, "sold": sold});
        let same = |body: &Value| {
            ["available", "reserved", "sold"]
                .iter()
                .all(|f| body[f] == levels[f])
        };
        served(stack, &format!("/stock/{}", product.sku), same).await?;
        served(stack, &format!("/stock-levels/{}", product.sku), same).await?;
    }
    let moved = served(stack, &format!("/products/{}", products[1].sku), |b| {
        b["category"] == "mugs"
    })
    .await?;
    assert_eq!(moved["price_cents"], products[1].price_cents);
    for category in ["mugs", "pans"] {
        let members: Vec<usize> = (0..products.len())
            .filter(|p| products[*p].category == category)
            .collect();
        let mut skus: Vec<&str> = members.iter().map(|p| products[*p].sku.as_str()).collect();
        skus.sort_unstable();
        let units: i64 = members.iter().map(|p| products[*p].stock - sold[*p]).sum();
        let expected = json!({"name": category, "parent": null, "products": members.len(),
            "skus": skus, "units_available": units});
        served(stack, &format!("/categories/{category}"), |body| {
            *body == expected
        })
        .await?;
    }
    let listed = served(stack, "/categories", |b| {
        b["items"].as_array().map(Vec::len) == Some(2)
    })
    .await?;
    assert_eq!(strings(&listed, "name"), ["mugs", "pans"]);
    let low = served(stack, "/stock-levels?max_available=1", |b| {
        !strings(b, "sku").is_empty()
    })
    .await?;
    assert_eq!(
        strings(&low, "sku"),
        [products[2].sku.clone()],
        "only the pan is short"
    );
    Ok(())
}

/// Order details and status, each customer's history and recent orders, the ranking.
async fn order_views(
    stack: &TestStack,
    products: &[Product],
    orders: &[Order],
    sold: &[i64],
) -> anyhow::Result<()> {
    for order in orders {
        let status = if order.completes {
            "confirmed"
        } else {
            "cancelled"
        };
        served(stack, &format!("/orders/{}/status", order.id), |b| {
            b["status"] == status
        })
        .await?;
        let details = served(stack, &format!("/orders/{}", order.id), |b| {
            b["status"] == status
        })
        .await?;
        assert_eq!(details["total_cents"], order.total(products));
    }
    let mut by_customer: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for order in orders {
        by_customer
            .entry(&order.customer)
            .or_default()
            .insert(0, order.id.clone());
    }
    for (customer, newest_first) in &by_customer {
        let history = served(stack, &format!("/customers/{customer}/orders"), |b| {
            strings(b, "order_id") == *newest_first
        })
        .await?;
        assert_eq!(
            history["items"].as_array().map(Vec::len),
            Some(newest_first.len())
        );
        served(
            stack,
            &format!("/customers/{customer}/recent-orders"),
            |b| strings(b, "order_id") == *newest_first,
        )
        .await?;
        let confirmed: Vec<String> = newest_first
            .iter()
            .filter(|id| orders.iter().any(|o| &o.id == *id && o.completes))
            .cloned()
            .collect();
        let path = format!("/customers/{customer}/orders?status=confirmed");
        served(stack, &path, |b| strings(b, "order_id") == confirmed).await?;
    }
    let mut ranking: Vec<(String, i64)> = products
        .iter()
        .zip(sold)
        .filter(|(_, units)| **units > 0)
        .map(|(p, units)| (p.sku.clone(), *units))
        .collect();
    ranking.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let expected: Vec<Value> = ranking
        .iter()
        .enumerate()
        .map(|(i, (sku, units))| json!({"rank": i + 1, "sku": sku, "units_sold": units}))
        .collect();
    served(stack, "/rankings/best-sellers", |b| {
        b["items"] == json!(expected)
    })
    .await?;
    Ok(())
}

/// Each order's payment: captured, declined, or none (refused before the payment).
async fn payments(stack: &TestStack, products: &[Product], orders: &[Order]) -> anyhow::Result<()> {
    for order in orders {
        let path = format!("/payments/{}", order.id);
        if order.ends == Ends::OutOfStock {
            let (status, _) = stack.get(&path).await?;
            assert_eq!(status, 404, "{}: out of stock, never charged", order.id);
            continue;
        }
        let status = if order.completes {
            "captured"
        } else {
            "declined"
        };
        let payment = served(stack, &path, |b| b["status"] == status).await?;
        assert_eq!(
            payment["amount_cents"],
            order.total(products),
            "{}",
            order.id
        );
        let attempts = if order.card == "tok_flaky" { 2 } else { 1 };
        assert_eq!(payment["attempts"], attempts, "{}", order.id);
        if order.completes {
            assert!(payment["provider_ref"].is_string(), "{payment}");
        } else {
            assert_eq!(payment["reason"], "card declined");
        }
    }
    Ok(())
}

/// One notice per order, sent by email: per notification, per template, per channel.
async fn notifications(stack: &TestStack, orders: &[Order]) -> anyhow::Result<()> {
    for order in orders {
        let (step, template) = if order.completes {
            ("notify_confirmed", "order_confirmed")
        } else {
            ("notify_cancelled", "order_cancelled")
        };
        let path = format!("/notifications/saga:{}:{step}", order.id);
        let notice = served(stack, &path, |b| b["status"] == "sent").await?;
        assert_eq!(
            (notice["template"].clone(), notice["channel"].clone()),
            (json!(template), json!("email"))
        );
        assert_eq!(notice["customer_id"], json!(order.customer));
    }
    let completed = orders.iter().filter(|o| o.completes).count();
    let cancelled = orders.len() - completed;
    let templates = json!([
        {"template": "order_cancelled", "requested": cancelled, "sent": cancelled, "failed": 0, "abandoned": 0},
        {"template": "order_confirmed", "requested": completed, "sent": completed, "failed": 0, "abandoned": 0},
    ]);
    served(stack, "/templates", |b| b["items"] == templates).await?;
    let email = json!({"channel": "email", "requested": orders.len(), "sent": orders.len(),
        "failed": 0, "abandoned": 0, "success_rate": 1.0});
    served(stack, "/channels", |b| b["items"] == json!([email])).await?;
    Ok(())
}

/// Each customer's summary and activity.
async fn users(stack: &TestStack, products: &[Product], orders: &[Order]) -> anyhow::Result<()> {
    let customers: std::collections::BTreeSet<&str> =
        orders.iter().map(|o| o.customer.as_str()).collect();
    for customer in customers {
        let theirs: Vec<&Order> = orders.iter().filter(|o| o.customer == customer).collect();
        let completed: Vec<&&Order> = theirs.iter().filter(|o| o.completes).collect();
        let spent: i64 = completed.iter().map(|o| o.total(products)).sum();
        let expected = json!({"orders_placed": theirs.len(), "orders_confirmed": completed.len(),
            "orders_cancelled": theirs.len() - completed.len(), "total_spent_cents": spent,
            "email": format!("{customer}@example.com"), "active": true});
        let keys = [
            "orders_placed",
            "orders_confirmed",
            "orders_cancelled",
            "total_spent_cents",
            "email",
            "active",
        ];
        served(stack, &format!("/users/{customer}/summary"), |b| {
            keys.iter().all(|k| b[k] == expected[k])
        })
        .await?;

        let entries = 1 + 2 * theirs.len();
        let activity = served(stack, &format!("/users/{customer}/activity"), |b| {
            b["items"].as_array().map(Vec::len) == Some(entries)
        })
        .await?;
        let mut kinds = strings(&activity, "kind");
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("user_registered"),
            "oldest last"
        );
        kinds.sort();
        let mut expected_kinds = vec!["user_registered".to_string()];
        for order in &theirs {
            expected_kinds.push("order_placed".into());
            expected_kinds.push(
                if order.completes {
                    "order_confirmed"
                } else {
                    "order_cancelled"
                }
                .into(),
            );
        }
        expected_kinds.sort();
        assert_eq!(kinds, expected_kinds, "{customer}");
        let times: Vec<String> = strings(&activity, "at")
            .iter()
            .map(|at| sortable(at))
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {times:?}"
        );
    }
    Ok(())
}

/// An RFC 3339 time of the API (UTC, milliseconds or whole seconds) as text that sorts
/// as the time does: a whole second gets its `.000`.
fn sortable(at: &str) -> String {
    match at.strip_suffix('Z') {
        Some(whole) if !whole.contains('.') => format!("{whole}.000Z"),
        _ => at.to_string(),
    }
}
