//! Commands racing on one aggregate: three inventory services consume the same command
//! queue while four publishers send stock additions and reservations for one product.
//! Each command must be applied exactly once (the optimistic-concurrency conflicts
//! retried, none lost, none doubled): the product's stream holds one event per command
//! and its levels in the read model add up to what was accepted. (No payment service
//! runs here, so the all-views rebuild of the other fault tests has a feed missing.)

use e2e::TestStack;
use platform::command_bus::ReplyStatus;
use serde_json::json;
use sqlx::PgPool;

use crate::stream::Sender;
use crate::support::{product_in_stock, sku, stock_becomes};

const PUBLISHERS: usize = 4;
const COMMANDS_EACH: usize = 30;
const INITIAL: u64 = 100;

/// One publisher's commands, odd ones adding `i % 3 + 1` units, even ones reserving
/// one unit for an order of its own; returns the units added and reserved.
async fn publish(url: String, sku: String, publisher: usize) -> anyhow::Result<(u64, u64)> {
    let mut sender = Sender::new(&url);
    let (mut added, mut reserved) = (0, 0);
    for i in 0..COMMANDS_EACH {
        let id = format!("race-{publisher}-{i}-{sku}");
        let (routing_key, body) = if i % 2 == 1 {
            let quantity = (i % 3 + 1) as u64;
            added += quantity;
            (
                "inventory.AddStock",
                json!({"sku": sku, "quantity": quantity}),
            )
        } else {
            reserved += 1;
            let lines = json!([{"sku": sku, "quantity": 1}]);
            (
                "inventory.ReserveStock",
                json!({"order_id": id, "lines": lines}),
            )
        };
        let reply = sender.send(routing_key, &body, &id).await?;
        anyhow::ensure!(reply.status == ReplyStatus::Accepted, "{id}: {reply:?}");
    }
    Ok((added, reserved))
}

/// How many events the product's stream holds, of each of `types`.
async fn product_events(stack: &TestStack, sku: &str) -> anyhow::Result<(i64, i64)> {
    let pool = PgPool::connect(&stack.inventory_database_url).await?;
    let counts = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE event_type = 'StockAdded'), \
         count(*) FILTER (WHERE event_type = 'StockAllocated') \
         FROM events WHERE aggregate_id = $1",
    )
    .bind(sku)
    .fetch_one(&pool)
    .await;
    pool.close().await;
    Ok(counts?)
}

/// The `command_conflicts_total` counters the inventory service exposes, summed.
async fn conflicts(stack: &TestStack) -> anyhow::Result<u64> {
    let Some((_, url)) = stack.feed_urls.iter().find(|(s, _)| s == "inventory") else {
        anyhow::bail!("no inventory service");
    };
    let text = reqwest::get(format!("{url}/metrics")).await?.text().await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("command_conflicts_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64)
}

#[tokio::test]
async fn concurrent_commands_on_one_product_are_each_applied_exactly_once() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.start_inventory_replicas(2).await?;
    let sku = sku(&stack, "RACE");
    product_in_stock(&stack, &sku, 500, INITIAL).await?;
    let before = conflicts(&stack).await?;
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| tokio::spawn(publish(stack.amqp_url.clone(), sku.clone(), p)))
        .collect();
    let (mut added, mut reserved) = (0, 0);
    for publisher in publishers {
        let (a, r) = publisher.await??;
        added += a;
        reserved += r;
    }
    stock_becomes(&stack, &sku, INITIAL + added - reserved, reserved, 0).await?;
    let (stock_added, allocated) = product_events(&stack, &sku).await?;
    let commands = PUBLISHERS * COMMANDS_EACH;
    assert_eq!(
        stock_added as usize,
        1 + commands / 2,
        "one StockAdded per AddStock"
    );
    assert_eq!(
        allocated as usize,
        commands / 2,
        "one StockAllocated per ReserveStock"
    );
    let retried = conflicts(&stack).await?.saturating_sub(before);
    println!(
        "faults: concurrent commands: {commands} commands on one product from {PUBLISHERS} \
         publishers to 3 consumers, {retried} conflicts retried (counted in this process)"
    );
    anyhow::ensure!(retried > 0, "no conflict happened: the race was not run");
    stack.stop().await
}
