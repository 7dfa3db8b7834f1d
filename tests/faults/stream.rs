//! The steady stream of orders a fault is injected under, and the checks afterwards.

use std::time::{Duration, Instant};

use cli::args::ReplayArgs;
use cli::client::{CommandClient, SendOptions};
use e2e::views::Snapshot;
use e2e::{Servers, TestStack};
use platform::command_bus::{CommandReply, ReplyStatus};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::support::{product_in_stock, registered_customer, sku, stock_becomes};

/// The units the stream's product starts with: enough for every order that asks less.
pub const STOCK: u64 = 1_000;

/// An order for more than [`STOCK`]: always compensated after the reservation fails.
const TOO_MANY: u64 = 5_000;

/// The mix the stream cycles through: card and quantity.
const MIX: [(&str, u64); 6] = [
    ("tok_ok", 1),
    ("tok_decline", 1),
    ("tok_flaky", 2),
    ("tok_ok", 3),
    ("tok_timeout", 1),
    ("tok_ok", TOO_MANY),
];

/// A stack with the saga and the analytics service, one registered customer and one
/// product in stock.
pub struct Fixture {
    pub stack: TestStack,
    pub customer: String,
    pub sku: String,
}

impl Fixture {
    pub async fn start(servers: Servers) -> anyhow::Result<Self> {
        let mut stack = TestStack::start_with(servers).await?;
        stack.start_saga().await?;
        stack.start_analytics().await?;
        let customer = format!("fault-{}", stack.id);
        registered_customer(&stack, &customer).await?;
        let sku = sku(&stack, "FAULT");
        product_in_stock(&stack, &sku, 500, STOCK).await?;
        Ok(Self {
            stack,
            customer,
            sku,
        })
    }

    /// Places `count` orders, one every `every`, in the background; the task returns
    /// each accepted order with its quantity.
    pub fn stream(&self, count: usize, every: Duration) -> JoinHandle<anyhow::Result<Orders>> {
        let (url, run) = (self.stack.amqp_url.clone(), self.stack.id.clone());
        let (customer, sku) = (self.customer.clone(), self.sku.clone());
        tokio::spawn(async move {
            let mut sender = Sender::new(&url);
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut orders = Vec::new();
            for i in 0..count {
                ticks.tick().await;
                let (card, quantity) = MIX[i % MIX.len()];
                let order_id = format!("stream-{i}-{run}");
                let body = json!({"order_id": order_id, "customer_id": customer, "card_token": card,
                    "lines": [{"sku": sku, "quantity": quantity, "unit_price_cents": 500}]});
                let reply = sender.send("order.PlaceOrder", &body, &order_id).await?;
                anyhow::ensure!(reply.status == ReplyStatus::Accepted, "{reply:?}");
                orders.push((order_id, quantity));
            }
            Ok(orders)
        })
    }
}

/// Each placed order and its quantity.
pub type Orders = Vec<(String, u64)>;

/// A command client that survives the broker: a send that fails is sent again under the
/// same command id (the bus answers a repeat with the recorded reply) on a new
/// connection, for up to a minute.
pub struct Sender {
    url: String,
    client: Option<CommandClient>,
}

impl Sender {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            client: None,
        }
    }

    pub async fn send(
        &mut self,
        routing_key: &str,
        body: &Value,
        command_id: &str,
    ) -> anyhow::Result<CommandReply> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.try_send(routing_key, body, command_id).await {
                Ok(reply) => return Ok(reply),
                Err(err) if Instant::now() > deadline => {
                    anyhow::bail!("{routing_key} {command_id}: {err}")
                }
                Err(_) => {
                    self.client = None;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    async fn try_send(
        &mut self,
        routing_key: &str,
        body: &Value,
        command_id: &str,
    ) -> anyhow::Result<CommandReply> {
        let client = match self.client.take() {
            Some(client) => client,
            None => CommandClient::connect(&self.url).await?,
        };
        let options = SendOptions::default()
            .command_id(command_id)
            .timeout(Duration::from_secs(5));
        let reply = client
            .send(routing_key, body.to_string().as_bytes(), options)
            .await?;
        self.client = Some(client);
        Ok(reply)
    }
}

/// Waits for every order's saga; returns how many completed and the units they sold,
/// after checking each ended whole or undone with no effect applied twice.
pub async fn every_order_ends(
    stack: &mut TestStack,
    orders: &Orders,
) -> anyhow::Result<(usize, u64)> {
    let (mut completed, mut sold) = (0, 0);
    for (order_id, quantity) in orders {
        stack.saga_finished(order_id).await?;
        if stack.assert_whole_or_undone(order_id).await? {
            completed += 1;
            sold += quantity;
        }
    }
    Ok((completed, sold))
}

/// The invariants after a fault: every order whole or undone, each effect once, the
/// stock conserved, every read model equal to a rebuild. Prints the counts.
pub async fn check(
    name: &str,
    fixture: &mut Fixture,
    orders: &Orders,
    faults: usize,
) -> anyhow::Result<()> {
    let (completed, sold) = every_order_ends(&mut fixture.stack, orders).await?;
    stock_becomes(&fixture.stack, &fixture.sku, STOCK - sold, 0, sold).await?;
    crate::stream::read_models_equal_a_rebuild(&fixture.stack).await?;
    println!(
        "faults: {name}: {} orders ({completed} completed, {} compensated), {faults} faults injected",
        orders.len(),
        orders.len() - completed
    );
    anyhow::ensure!(
        completed > 0 && completed < orders.len(),
        "{name}: both endings expected, got {completed} of {} completed",
        orders.len()
    );
    Ok(())
}

/// The version every projection of the query service serves (they move together).
async fn live_version(stack: &TestStack) -> anyhow::Result<u32> {
    let (_, projections) = stack.get("/projections").await?;
    let mut versions: Vec<u64> = projections
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["version"].as_u64())
        .collect();
    versions.dedup();
    match versions[..] {
        [version] => Ok(u32::try_from(version)?),
        _ => anyhow::bail!("projections at different versions: {projections}"),
    }
}

/// Rebuilds every projection of the query service and the analytics service from the
/// event stores (the `commerce replay` library), swapping each to a new version.
pub async fn rebuild(stack: &TestStack) -> anyhow::Result<()> {
    let args = ReplayArgs {
        api_key: None,
        projections: Vec::new(),
        urls: vec![stack.query_url.clone(), stack.analytics_url.clone()],
        timeout_secs: 60,
    };
    let exit = cli::replay::run(&args).await?;
    anyhow::ensure!(exit == cli::replay::EXIT_SUCCESS, "replay exited {exit}");
    Ok(())
}

/// How many times the live views are snapshot and rebuilt before the stores are
/// declared never still: each round costs a rebuild of every view.
const ROUNDS: usize = 3;

/// Every view of the query service, document by document and key by key, and the
/// star schema, row by row, equal what a rebuild from the event stores makes of them. First the payment gateway must be
/// drained (a provider's answer JetStream redelivers after its ack wait would append
/// `LateApprovalVoided` later still); then the round is done again whenever the stores
/// took an event between the live snapshot and the rebuilt one, so the two views always
/// come from the same store contents.
pub async fn read_models_equal_a_rebuild(stack: &TestStack) -> anyhow::Result<()> {
    let draining = Instant::now();
    stack
        .payment_gateway_drained(Duration::from_secs(90))
        .await?;
    if draining.elapsed() > Duration::from_secs(1) {
        println!(
            "faults: the payment gateway drained after {:?}",
            draining.elapsed()
        );
    }
    for round in 1..=ROUNDS {
        let version = live_version(stack).await?;
        let (before, live) = stack.settled_views(version).await?;
        anyhow::ensure!(
            live.values().any(|docs| !docs.is_empty()),
            "the live views are empty"
        );
        anyhow::ensure!(
            live.get("olap:sales_fact")
                .is_some_and(|rows| !rows.is_empty()),
            "the live star schema has no sales"
        );
        rebuild(stack).await?;
        let (after, rebuilt) = stack.settled_views(version + 1).await?;
        if after == before {
            return views_equal(&live, &rebuilt);
        }
        println!("faults: round {round}: the stores took events during the rebuild ({before:?} then {after:?}), snapshot and rebuild again");
    }
    anyhow::bail!("the event stores were still taking events after {ROUNDS} rebuilds")
}

/// `live` equals `rebuilt`, or the error names each differing view with its first
/// differing document and that document's rebuilt counterpart.
fn views_equal(live: &Snapshot, rebuilt: &Snapshot) -> anyhow::Result<()> {
    let differing: Vec<String> = live
        .iter()
        .filter(|(name, docs)| rebuilt.get(*name) != Some(docs))
        .map(|(name, docs)| {
            let theirs = rebuilt.get(name).cloned().unwrap_or_default();
            let first = docs.iter().find(|d| !theirs.contains(d));
            let id = first.and_then(|d| d.get("_id"));
            let counterpart = theirs.iter().find(|d| d.get("_id") == id);
            let extra = theirs.iter().find(|d| !docs.contains(d));
            let len = (docs.len(), theirs.len());
            format!("{name}: {len:?} live/rebuilt; first live only: {first:?}; rebuilt: {counterpart:?}; first rebuilt only: {extra:?}")
        })
        .collect();
    anyhow::ensure!(
        differing.is_empty(),
        "read models differ from a rebuild: {differing:#?}"
    );
    Ok(())
}
