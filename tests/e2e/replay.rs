//! Zero-downtime replay: every projection of the query service is rebuilt from the
//! event stores (through `commerce replay`'s library) while queries run in a loop; no
//! query fails or sees an empty view during the swaps, and each rebuilt version equals
//! the live one it replaced, document by document and hash by hash.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cli::args::ReplayArgs;
use e2e::TestStack;
use query::projector::View;
use serde_json::json;

use crate::support::{
    assert_accepted, order_becomes, place_order, product_in_stock, registered_customer, sku,
    stock_becomes,
};

/// Confirms the order, has its payment authorized and a notification sent, so every
/// view holds something; waits until the views show all of it.
async fn every_view_fed(stack: &TestStack, order_id: &str, customer: &str) -> anyhow::Result<()> {
    assert_accepted(
        &stack
            .send("order.ConfirmOrder", json!({"order_id": order_id}))
            .await?,
    );
    let authorize = json!({"payment_id": order_id, "order_id": order_id, "customer_id": customer,
        "amount_cents": 500, "card_token": "tok_ok"});
    assert_accepted(&stack.send("payment.AuthorizePayment", authorize).await?);
    let notice = json!({"notification_id": format!("welcome-{customer}"), "customer_id": customer,
        "channel": "email", "template": "welcome", "data": {}});
    assert_accepted(&stack.send("notification.SendNotification", notice).await?);
    order_becomes(stack, order_id, "confirmed").await?;
    for (path, field, value) in [
        (format!("/payments/{order_id}"), "status", "authorized"),
        (
            format!("/notifications/welcome-{customer}"),
            "status",
            "sent",
        ),
        (format!("/orders/{order_id}/status"), "status", "confirmed"),
        (
            format!("/users/{customer}/summary"),
            "orders_confirmed",
            "1",
        ),
    ] {
        stack
            .eventually(&format!("{path} shows {field} {value}"), || async {
                let (status, body) = stack.get(&path).await?;
                let shown = body[field]
                    .as_str()
                    .map_or(body[field].to_string(), String::from);
                anyhow::ensure!(status == 200 && shown == value, "{status} {body}");
                Ok(())
            })
            .await?;
    }
    Ok(())
}

/// GETs each of `urls` over and over until `stop`; returns how many it sent and the
/// ones that failed or answered an empty list (`items` or `rows`).
async fn query_loop(
    stack: Arc<TestStack>,
    urls: Vec<String>,
    stop: Arc<AtomicBool>,
) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut count = 0;
    let non_empty = |list: &serde_json::Value| list.as_array().is_none_or(|l| !l.is_empty());
    while !stop.load(Ordering::SeqCst) {
        for url in &urls {
            count += 1;
            match stack.get_url(url).await {
                Ok((200, body)) if non_empty(&body["items"]) && non_empty(&body["rows"]) => {}
                Ok((status, body)) => failures.push(format!("{url}: {status} {body}")),
                Err(err) => failures.push(format!("{url}: {err}")),
            }
        }
    }
    (count, failures)
}

#[tokio::test]
async fn every_projection_is_rebuilt_under_queries_and_equals_the_live_one() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    // The payment service (no saga: the steps are sent by hand), for `payment_info`.
    stack.start_payments().await?;
    let customer = format!("replay-{}", stack.id);
    registered_customer(&stack, &customer).await?;
    let skus: Vec<String> = (0..4).map(|i| sku(&stack, &format!("R{i}"))).collect();
    for sku in &skus {
        product_in_stock(&stack, sku, 250, 20).await?;
    }
    let order_id = format!("replay-order-{}", stack.id);
    let lines = json!([{"sku": skus[0], "quantity": 2, "unit_price_cents": 250}]);
    assert_accepted(
        &stack
            .send("order.PlaceOrder", place_order(&order_id, &customer, lines))
            .await?,
    );
    let reserve = json!({"order_id": order_id, "lines": [{"sku": skus[0], "quantity": 2}]});
    assert_accepted(&stack.send("inventory.ReserveStock", reserve).await?);
    every_view_fed(&stack, &order_id, &customer).await?;
    stock_becomes(&stack, &skus[0], 18, 2, 0).await?;
    let live = stack.settled_view_snapshot(1).await?;
    assert!(
        live.values().all(|docs| !docs.is_empty()),
        "every view has documents: {live:?}"
    );

    let stack = Arc::new(stack);
    let stop = Arc::new(AtomicBool::new(false));
    let paths = [
        "/products?limit=500".to_string(),
        format!("/stock/{}", skus[0]),
        format!("/orders/{order_id}"),
        format!("/users/{customer}"),
        format!("/users/{customer}/activity"),
        "/categories".to_string(),
        "/rankings/best-sellers".to_string(),
        format!("/payments/{order_id}"),
        "/channels".to_string(),
    ];
    let urls = paths
        .iter()
        .map(|p| format!("{}{p}", stack.query_url))
        .collect();
    let queries = tokio::spawn(query_loop(stack.clone(), urls, stop.clone()));
    let args = ReplayArgs {
        api_key: None,
        projections: Vec::new(),
        urls: vec![stack.query_url.clone()],
        timeout_secs: 60,
    };
    let exit = cli::replay::run(&args).await?;
    stop.store(true, Ordering::SeqCst);
    let (count, failures) = queries.await?;
    assert_eq!(exit, cli::replay::EXIT_SUCCESS);
    assert!(
        failures.is_empty(),
        "{} of {count} queries failed: {failures:?}",
        failures.len()
    );
    assert!(count > 0);

    let (_, projections) = stack.get("/projections").await?;
    let versions: Vec<u64> = projections
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["version"].as_u64())
        .collect();
    assert_eq!(versions, [2; View::ALL.len()], "{projections}");
    assert_eq!(
        stack.view_snapshot(2).await?,
        live,
        "the rebuilt views differ from the live ones"
    );
    let dropped = stack.view_snapshot(1).await?;
    assert!(
        dropped.values().all(Vec::is_empty),
        "the old versions are dropped: {dropped:?}"
    );
    Arc::try_unwrap(stack)
        .map_err(|_| anyhow::anyhow!("stack still shared"))?
        .stop()
        .await
}

/// Every table and cube of `olap_v<version>`, each as its rows in a stable order.
async fn olap_snapshot(url: &str, version: u32) -> anyhow::Result<BTreeMap<String, String>> {
    let pool = sqlx::PgPool::connect(url).await?;
    let schema = format!("olap_v{version}");
    let relations: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 \
         UNION SELECT matviewname::text FROM pg_matviews WHERE schemaname = $1",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await?;
    let mut rows = BTreeMap::new();
    for relation in relations {
        let sql = format!(
            "SELECT coalesce(json_agg(r ORDER BY r::text)::text, '[]') FROM {schema}.{relation} r"
        );
        rows.insert(relation, sqlx::query_scalar(&sql).fetch_one(&pool).await?);
    }
    pool.close().await;
    Ok(rows)
}

#[tokio::test]
async fn the_star_schema_is_rebuilt_under_queries_and_equals_the_live_one() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_saga().await?;
    stack.start_analytics().await?;
    let customer = format!("olap-{}", stack.id);
    registered_customer(&stack, &customer).await?;
    let sku = sku(&stack, "OLAP");
    product_in_stock(&stack, &sku, 400, 20).await?;
    for (i, card) in ["tok_ok", "tok_decline", "tok_ok"].iter().enumerate() {
        let order_id = format!("olap-{i}-{}", stack.id);
        let lines = json!([{"sku": sku, "quantity": i + 1, "unit_price_cents": 400}]);
        let mut body = place_order(&order_id, &customer, lines);
        body["card_token"] = json!(card);
        assert_accepted(&stack.send("order.PlaceOrder", body).await?);
        stack.saga_finished(&order_id).await?;
    }
    let ltv = format!("/analytics/customers/{customer}/ltv");
    stack
        .eventually(&format!("GET {ltv} shows two orders"), || async {
            let (status, body) = stack.analytics(&ltv).await?;
            anyhow::ensure!(status == 200 && body["orders"] == 2, "{status} {body}");
            Ok(())
        })
        .await?;
    let url = stack
        .analytics_database_url()
        .ok_or_else(|| anyhow::anyhow!("no analytics database"))?;
    let live = olap_snapshot(&url, 1).await?;
    assert!(
        live.values().any(|rows| rows != "[]"),
        "the star schema has rows: {live:?}"
    );

    let stack = Arc::new(stack);
    let stop = Arc::new(AtomicBool::new(false));
    let paths = [
        "/analytics/sales/monthly".to_string(),
        format!("/analytics/customers/{customer}/ltv"),
        "/analytics/products/top".to_string(),
    ];
    let urls = paths
        .iter()
        .map(|p| format!("{}{p}", stack.analytics_url))
        .collect();
    let queries = tokio::spawn(query_loop(stack.clone(), urls, stop.clone()));
    let args = ReplayArgs {
        api_key: None,
        projections: vec!["olap".into()],
        urls: vec![stack.analytics_url.clone()],
        timeout_secs: 60,
    };
    let exit = cli::replay::run(&args).await?;
    stop.store(true, Ordering::SeqCst);
    let (count, failures) = queries.await?;
    assert_eq!(exit, cli::replay::EXIT_SUCCESS);
    assert!(
        failures.is_empty(),
        "{} of {count} queries failed: {failures:?}",
        failures.len()
    );
    assert_eq!(
        olap_snapshot(&url, 2).await?,
        live,
        "the rebuilt star schema differs from the live one"
    );
    assert!(
        olap_snapshot(&url, 1).await?.is_empty(),
        "the old schema is dropped"
    );
    Arc::try_unwrap(stack)
        .map_err(|_| anyhow::anyhow!("stack still shared"))?
        .stop()
        .await
}
