//! Events delivered out of order across aggregates, the originals themselves (not
//! copies): for the length of the stream, every service queue bound to the `events`
//! exchange is taken off it, and a reorderer stands in between. It takes what each
//! queue would have had from a holding queue of its own (bound with the same keys),
//! holds a few events, and hands them on to the queue (through the default exchange)
//! with the aggregates' turns reversed: an event of one aggregate arrives before an
//! earlier event of another, while each aggregate's own events keep their order, as
//! one queue fed by one relay keeps it. An event handed on is confirmed by the broker
//! before its held copy is acked, so the detour loses nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::{Servers, TestStack};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::Channel;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stream::{check, every_order_ends, Fixture};

const EVENTS: &str = "events";
/// Events held per queue before they are handed on, newest aggregate first.
const HOLD: usize = 6;
/// A queue quiet this long hands on what it holds.
const IDLE: Duration = Duration::from_millis(250);
const ORDERS: usize = 12;
const EVERY: Duration = Duration::from_millis(320);

/// The detour of every service queue's events through a reorderer.
struct Reorderer {
    /// Every channel's: open until the last event is handed on.
    connection: lapin::Connection,
    servers: Servers,
    vhost: String,
    channel: Channel,
    /// `(service queue, routing key)`.
    bindings: Vec<(String, String)>,
    overtaken: Arc<AtomicUsize>,
    /// Cancelled once the holding queues are off the exchange: they end when empty.
    finishing: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<usize>>>,
}

fn holding(queue: &str) -> String {
    format!("fault.reorder.{queue}")
}

impl Reorderer {
    /// Binds each holding queue before taking its service queue off the exchange, so
    /// no event published meanwhile misses both (one reaching both is a duplicate the
    /// consumers already drop).
    async fn start(stack: &TestStack) -> anyhow::Result<Self> {
        let vhost = format!("e2e_{}", stack.id);
        let bindings = stack.servers.queue_bindings(&vhost, EVENTS).await?;
        anyhow::ensure!(!bindings.is_empty(), "no service queue on {EVENTS}");
        let connection = lapin::Connection::connect(&stack.amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        let mut by_queue: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (queue, key) in &bindings {
            by_queue.entry(queue).or_default().push(key);
        }
        let overtaken = Arc::new(AtomicUsize::new(0));
        let finishing = CancellationToken::new();
        let mut tasks = Vec::new();
        for (queue, keys) in by_queue {
            let held = holding(queue);
            let options = QueueDeclareOptions::default();
            channel
                .queue_declare(held.as_str().into(), options, FieldTable::default())
                .await?;
            for key in &keys {
                bind(&channel, &held, key).await?;
                unbind(&channel, queue, key).await?;
            }
            let hand_on =
                HandOn::new(&connection, queue, overtaken.clone(), finishing.clone()).await?;
            tasks.push(tokio::spawn(hand_on.run()));
        }
        Ok(Self {
            connection,
            servers: stack.servers.clone(),
            vhost,
            channel,
            bindings,
            overtaken,
            finishing,
            tasks,
        })
    }

    /// Puts the service queues back on the exchange, takes the holding queues off it,
    /// and waits until what they held was handed on. Returns the events that went
    /// through and how many of them were overtaken by a later one.
    async fn finish(self) -> anyhow::Result<(usize, usize)> {
        for (queue, key) in &self.bindings {
            bind(&self.channel, queue, key).await?;
        }
        for (queue, key) in &self.bindings {
            unbind(&self.channel, &holding(queue), key).await?;
        }
        self.finishing.cancel();
        let mut moved = 0;
        for task in self.tasks {
            moved += task.await??;
        }
        let restored = self.servers.queue_bindings(&self.vhost, EVENTS).await?;
        anyhow::ensure!(
            restored.len() >= self.bindings.len(),
            "bindings not restored"
        );
        platform::broker::close(&self.connection, "reordering done").await;
        Ok((moved, self.overtaken.load(Ordering::SeqCst)))
    }
}

async fn bind(channel: &Channel, queue: &str, key: &str) -> anyhow::Result<()> {
    let options = QueueBindOptions::default();
    channel
        .queue_bind(
            queue.into(),
            EVENTS.into(),
            key.into(),
            options,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

async fn unbind(channel: &Channel, queue: &str, key: &str) -> anyhow::Result<()> {
    channel
        .queue_unbind(
            queue.into(),
            EVENTS.into(),
            key.into(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// One service queue's reorderer: from its holding queue to it.
struct HandOn {
    channel: Channel,
    consumer: lapin::Consumer,
    queue: String,
    overtaken: Arc<AtomicUsize>,
    finishing: CancellationToken,
}

impl HandOn {
    async fn new(
        connection: &lapin::Connection,
        queue: &str,
        overtaken: Arc<AtomicUsize>,
        finishing: CancellationToken,
    ) -> anyhow::Result<Self> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                holding(queue).as_str().into(),
                "reorderer".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Self {
            channel,
            consumer,
            queue: queue.to_string(),
            overtaken,
            finishing,
        })
    }

    /// Hands on until the holding queue, taken off the exchange, is quiet for [`IDLE`]
    /// and empty.
    async fn run(mut self) -> anyhow::Result<usize> {
        let (mut held, mut moved) = (Vec::new(), 0);
        loop {
            match tokio::time::timeout(IDLE, self.consumer.next()).await {
                Err(_quiet) if held.is_empty() && self.drained().await? => return Ok(moved),
                Err(_quiet) => moved += self.flush(&mut held).await?,
                Ok(None) => anyhow::bail!("the reorderer of {} stopped", self.queue),
                Ok(Some(delivery)) => {
                    held.push(delivery?);
                    if held.len() >= HOLD {
                        moved += self.flush(&mut held).await?;
                    }
                }
            }
        }
    }

    /// Whether the holding queue is off the exchange and empty.
    async fn drained(&self) -> anyhow::Result<bool> {
        if !self.finishing.is_cancelled() {
            return Ok(false);
        }
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let name = holding(&self.queue);
        let state = self
            .channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await?;
        Ok(state.message_count() == 0)
    }

    async fn flush(&self, held: &mut Vec<Delivery>) -> anyhow::Result<usize> {
        let (order, overtaken) = reordered(std::mem::take(held), aggregate_of);
        self.overtaken.fetch_add(overtaken, Ordering::SeqCst);
        let count = order.len();
        for delivery in order {
            let confirm = self
                .channel
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    delivery.properties.clone(),
                )
                .await?;
            anyhow::ensure!(confirm.await?.is_ack(), "{} refused an event", self.queue);
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Ok(count)
    }
}

/// The aggregate an event belongs to, from its envelope.
fn aggregate_of(delivery: &Delivery) -> String {
    let envelope: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap_or_default();
    format!(
        "{}/{}",
        envelope["aggregate_type"].as_str().unwrap_or(""),
        envelope["aggregate_id"].as_str().unwrap_or("")
    )
}

/// `items` with the aggregates' turns reversed (the aggregate seen last goes first),
/// each aggregate's own items in their order; and how many items were overtaken (now
/// come after one that was behind them).
fn reordered<T>(items: Vec<T>, aggregate: impl Fn(&T) -> String) -> (Vec<T>, usize) {
    let mut turns: Vec<Vec<(usize, T)>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (at, item) in items.into_iter().enumerate() {
        let turn = *index.entry(aggregate(&item)).or_insert_with(|| {
            turns.push(Vec::new());
            turns.len() - 1
        });
        turns[turn].push((at, item));
    }
    let (mut order, mut overtaken, mut furthest) = (Vec::new(), 0, None);
    for (at, item) in turns.into_iter().rev().flatten() {
        if furthest.is_some_and(|f| at < f) {
            overtaken += 1;
        }
        furthest = furthest.max(Some(at));
        order.push(item);
    }
    (order, overtaken)
}

#[tokio::test]
async fn events_delivered_out_of_order_across_aggregates_end_every_order() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(Servers::default()).await?;
    let reorderer = Reorderer::start(&fixture.stack).await?;
    let orders = fixture.stream(ORDERS, EVERY).await??;
    every_order_ends(&mut fixture.stack, &orders).await?;
    let (moved, overtaken) = reorderer.finish().await?;
    println!("faults: reordered {moved} events, {overtaken} of them overtaken by a later one");
    anyhow::ensure!(overtaken > ORDERS, "only {overtaken} events overtaken");
    let name = "events out of order across aggregates";
    check(name, &mut fixture, &orders, overtaken).await?;
    fixture.stack.stop().await
}

#[test]
fn aggregates_swap_turns_but_each_keeps_its_own_order() {
    let items = ["a1", "b1", "a2", "c1", "b2"];
    let (order, overtaken) = reordered(items.to_vec(), |item| item[..1].to_string());
    assert_eq!(order, ["c1", "b1", "b2", "a1", "a2"]);
    assert_eq!(overtaken, 3);
}
