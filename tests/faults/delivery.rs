//! Delivery faults: every event and every command delivered twice, and every event
//! delivered a second time late, in reversed batches across aggregates. A copier bound
//! to the exchange with `#` republishes each message it sees (marked, so it never
//! copies its own copies): the consumers see each message twice, the copies out of
//! order, and must apply each once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use e2e::Servers;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::{AMQPValue, FieldTable};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stream::{check, Fixture};

/// Every path of the mix twice; spaced so the stream lasts as long as its faults (the
/// cost of a test is the rebuild of every view afterwards, which grows with orders).
const ORDERS: usize = 12;
const EVERY: Duration = Duration::from_millis(320);
/// The header that marks a copy.
const COPY: &str = "x-fault-copy";

/// When the copies go out.
#[derive(Clone, Copy)]
enum Timing {
    /// Right after the original.
    AtOnce,
    /// Held back until `batch` are held (or half a second passed), then published
    /// newest first.
    LateReversed { batch: usize },
}

/// Republishes every message of one exchange a second time.
struct Copier {
    copies: Arc<AtomicUsize>,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Copier {
    /// Binds before returning, so no message published afterwards escapes the copy.
    async fn start(amqp_url: &str, exchange: &str, timing: Timing) -> anyhow::Result<Self> {
        let connection = lapin::Connection::connect(amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        let queue = platform::broker::private_queue(&channel, exchange, &["#"]).await?;
        let consume = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "copier".into(),
                consume,
                FieldTable::default(),
            )
            .await?;
        let (copies, stop) = (Arc::new(AtomicUsize::new(0)), CancellationToken::new());
        let run = Run {
            channel,
            exchange: exchange.to_string(),
            copies: copies.clone(),
        };
        let task = tokio::spawn(run.copy(connection, consumer, timing, stop.clone()));
        Ok(Self { copies, stop, task })
    }

    /// Stops copying (publishing what is held); returns how many copies went out.
    async fn finish(self) -> anyhow::Result<usize> {
        self.stop.cancel();
        self.task.await??;
        Ok(self.copies.load(Ordering::SeqCst))
    }
}

struct Run {
    channel: lapin::Channel,
    exchange: String,
    copies: Arc<AtomicUsize>,
}

impl Run {
    async fn copy(
        self,
        _connection: lapin::Connection,
        mut consumer: lapin::Consumer,
        timing: Timing,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut held: Vec<Delivery> = Vec::new();
        loop {
            let next = tokio::select! {
                _ = stop.cancelled() => break,
                next = tokio::time::timeout(Duration::from_millis(500), consumer.next()) => next,
            };
            let delivery = match next {
                Err(_idle) => {
                    self.publish_reversed(&mut held).await?;
                    continue;
                }
                Ok(None) => anyhow::bail!("the copier's consumer ended"),
                Ok(Some(delivery)) => delivery?,
            };
            if is_copy(&delivery) {
                continue;
            }
            match timing {
                Timing::AtOnce => self.publish(&delivery).await?,
                Timing::LateReversed { batch } => {
                    held.push(delivery);
                    if held.len() >= batch {
                        self.publish_reversed(&mut held).await?;
                    }
                }
            }
        }
        self.publish_reversed(&mut held).await
    }

    async fn publish_reversed(&self, held: &mut Vec<Delivery>) -> anyhow::Result<()> {
        while let Some(delivery) = held.pop() {
            self.publish(&delivery).await?;
        }
        Ok(())
    }

    /// The same body, routing key and properties (command id, reply-to, ...), marked.
    async fn publish(&self, delivery: &Delivery) -> anyhow::Result<()> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(COPY.into(), AMQPValue::Boolean(true));
        let properties = delivery.properties.clone().with_headers(headers);
        self.channel
            .basic_publish(
                self.exchange.as_str().into(),
                delivery.routing_key.clone(),
                BasicPublishOptions::default(),
                &delivery.data,
                properties,
            )
            .await?;
        self.copies.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn is_copy(delivery: &Delivery) -> bool {
    let headers = delivery.properties.headers().as_ref();
    headers.is_some_and(|h| h.inner().contains_key(COPY))
}

#[tokio::test]
async fn every_event_and_command_delivered_twice_is_applied_once() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(Servers::default()).await?;
    let url = fixture.stack.amqp_url.clone();
    let events = Copier::start(&url, "events", Timing::AtOnce).await?;
    let commands = Copier::start(&url, "commands", Timing::AtOnce).await?;
    let orders = fixture.stream(ORDERS, EVERY).await??;
    crate::stream::every_order_ends(&mut fixture.stack, &orders).await?;
    let copies = events.finish().await? + commands.finish().await?;
    anyhow::ensure!(copies > ORDERS * 10, "only {copies} copies");
    check("every message twice", &mut fixture, &orders, copies).await?;
    fixture.stack.stop().await
}

#[tokio::test]
async fn events_delivered_again_late_and_out_of_order_change_nothing() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(Servers::default()).await?;
    let url = fixture.stack.amqp_url.clone();
    let late = Copier::start(&url, "events", Timing::LateReversed { batch: 12 }).await?;
    let orders = fixture.stream(ORDERS, EVERY).await??;
    crate::stream::every_order_ends(&mut fixture.stack, &orders).await?;
    let copies = late.finish().await?;
    anyhow::ensure!(copies > ORDERS * 5, "only {copies} copies");
    check(
        "events again, late and reversed",
        &mut fixture,
        &orders,
        copies,
    )
    .await?;
    fixture.stack.stop().await
}
