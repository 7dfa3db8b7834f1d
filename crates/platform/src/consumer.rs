//! A durable-queue consumer: the session loop every RabbitMQ consumer of the platform
//! shares (the command bus, the projectors, the services' event handlers).
//!
//! Deliveries are handled one at a time, in queue order, and settled by the handler's
//! [`Disposition`]: acknowledged, dead-lettered (to `<queue>.dlq`), or handed back for a
//! retry. A retry ends the session: closing the connection requeues the deliveries
//! prefetched behind the failed one in their original order, so none is handled before
//! it. Broker failures reconnect with a pause; only the shutdown future stops the loop,
//! and it is observed between deliveries, so a delivery is never left half-handled.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

use crate::broker;

/// How a handled delivery is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Handled (or already handled before): acknowledge.
    Ack,
    /// It can never be handled (malformed, say): dead-letter it for an operator.
    DeadLetter,
    /// A dependency failed: hand it back and try again after a pause.
    Retry,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::DeadLetter => "dead_letter",
            Self::Retry => "retry",
        }
    }
}

/// What a consumer does with each delivery. The channel is the session's, for replies.
pub trait DeliveryHandler: Send + Sync {
    fn handle(
        &self,
        channel: &Channel,
        delivery: &Delivery,
    ) -> impl Future<Output = Disposition> + Send;
}

/// The queue a consumer reads, declared (idempotently) at every session start.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub queue: String,
    pub exchange: String,
    pub bindings: Vec<String>,
    pub prefetch: u16,
}

impl Subscription {
    pub fn new(queue: &str, exchange: &str, bindings: &[&str]) -> Self {
        Self {
            queue: queue.to_string(),
            exchange: exchange.to_string(),
            bindings: bindings.iter().map(|b| (*b).to_string()).collect(),
            prefetch: 32,
        }
    }

    pub fn prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }
}

/// Why a session ended without a broker error.
enum Stopped {
    Shutdown,
    StreamEnded,
    /// The watchdog found the connection or the channel down.
    SessionLost,
    Retrying,
}

/// A consumer of one queue.
pub struct QueueConsumer<H> {
    subscription: Subscription,
    handler: H,
    connected: Arc<AtomicBool>,
    retry_pause: Duration,
}

impl<H: DeliveryHandler> QueueConsumer<H> {
    pub fn new(subscription: Subscription, handler: H) -> Self {
        Self {
            subscription,
            handler,
            connected: Arc::default(),
            retry_pause: Duration::from_millis(500),
        }
    }

    /// Reports the session state into `flag` (one its owner created before running).
    pub fn reporting_to(mut self, flag: Arc<AtomicBool>) -> Self {
        self.connected = flag;
        self
    }

    /// True while a consuming session is open (for `/health`).
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Consumes until `shutdown` resolves, reconnecting after broker failures.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let queue = self.subscription.queue.clone();
        loop {
            let session = self.session(&amqp_url, &mut shutdown).await;
            self.connected.store(false, Ordering::Relaxed);
            match session {
                Ok(Stopped::Shutdown) => return,
                Ok(Stopped::Retrying) => continue,
                Ok(Stopped::StreamEnded) => {
                    tracing::warn!(%queue, "delivery stream ended, reconnecting")
                }
                Ok(Stopped::SessionLost) => {
                    tracing::warn!(%queue, "broker session lost, reconnecting")
                }
                Err(err) => {
                    tracing::error!(%queue, error = %err, "consumer lost the broker, reconnecting")
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn session(
        &self,
        amqp_url: &str,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Stopped, lapin::Error> {
        let queue = &self.subscription.queue;
        // Connecting retries with back-off for seconds: shutdown must not wait for it.
        let connection = tokio::select! {
            () = &mut *shutdown => return Ok(Stopped::Shutdown),
            connection = broker::connect(amqp_url, queue, 5) => connection?,
        };
        let (channel, mut deliveries) =
            broker::bounded("subscribing", self.subscribe(&connection)).await?;
        self.connected.store(true, Ordering::Relaxed);
        tracing::info!(%queue, "consuming");
        let mut watchdog = tokio::time::interval(broker::WATCHDOG_PERIOD);
        let stopped = loop {
            let delivery = tokio::select! {
                () = &mut *shutdown => break Stopped::Shutdown,
                _ = watchdog.tick() => {
                    if broker::session_alive(&connection, &channel) {
                        continue;
                    }
                    break Stopped::SessionLost;
                }
                next = deliveries.next() => match next {
                    Some(delivery) => delivery?,
                    None => break Stopped::StreamEnded,
                },
            };
            let disposition = self.handler.handle(&channel, &delivery).await;
            metrics::counter!("consumer_deliveries_total", "queue" => queue.clone(),
                "disposition" => disposition.as_str())
            .increment(1);
            match settle(delivery, disposition, self.retry_pause).await {
                Ok(true) => {}
                Ok(false) => break Stopped::Retrying,
                Err(err) => {
                    tracing::warn!(%queue, error = %err,
                        "could not settle delivery; the broker will redeliver it");
                    break Stopped::SessionLost;
                }
            }
        };
        // Closing (rather than dropping) hands unacknowledged deliveries back at once.
        broker::close(&connection, "session over").await;
        Ok(stopped)
    }

    async fn subscribe(
        &self,
        connection: &Connection,
    ) -> Result<(Channel, lapin::Consumer), lapin::Error> {
        let spec = &self.subscription;
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        let bindings: Vec<&str> = spec.bindings.iter().map(String::as_str).collect();
        broker::declare_queue_with_dlq(&channel, &spec.queue, &spec.exchange, &bindings).await?;
        channel
            .basic_qos(spec.prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                spec.queue.as_str().into(),
                spec.queue.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((channel, consumer))
    }
}

/// Settles a delivery as `disposition` says, pausing `retry_pause` before handing one
/// back; `Ok(false)` when it was handed back for a retry. An error (the broker gone, or
/// silent past [`broker::SETUP_TIMEOUT`]: lapin may never resolve an ack whose
/// connection died under it) must end the session; the broker hands the delivery back
/// when the connection goes.
pub async fn settle(
    delivery: Delivery,
    disposition: Disposition,
    retry_pause: Duration,
) -> Result<bool, lapin::Error> {
    let nack = |requeue| BasicNackOptions {
        requeue,
        ..BasicNackOptions::default()
    };
    match disposition {
        Disposition::Ack => {
            broker::bounded("acknowledging", delivery.ack(BasicAckOptions::default())).await
        }
        Disposition::DeadLetter => {
            broker::bounded("dead-lettering", delivery.nack(nack(false))).await
        }
        Disposition::Retry => {
            tokio::time::sleep(retry_pause).await;
            broker::bounded("handing back", delivery.nack(nack(true))).await
        }
    }?;
    Ok(disposition != Disposition::Retry)
}
