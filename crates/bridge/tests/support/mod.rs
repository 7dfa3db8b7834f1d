//! A test bench on the real servers: its own RabbitMQ vhost, its own JetStream stream
//! and subject prefix, the bridge and the provider run in-process on port 0, and a
//! temporary queue catching what comes back on `provider.#`.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use futures::StreamExt;
use lapin::options::BasicAckOptions;
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
use platform::broker::{self, EVENTS_EXCHANGE};
use platform::config::BrokerSettings;
use platform::envelope::EventEnvelope;
use platform::nats::NatsSettings;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub const NATS_URL: &str = "nats://127.0.0.1:4222";

/// A service running in the test's runtime, stopped through its shutdown future.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub struct Bench {
    pub id: String,
    pub amqp_url: String,
    pub nats: NatsSettings,
    pub js: jetstream::Context,
    connection: Connection,
    /// A confirm-mode channel for publishing requests.
    pub channel: Channel,
    /// Consumes a temporary queue bound to `provider.#` on `events`.
    pub answers: Consumer,
}

async fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await?;
    anyhow::ensure!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

impl Bench {
    pub async fn new() -> anyhow::Result<Self> {
        Self::on_nats(NATS_URL).await
    }

    /// A bench whose services talk to the NATS server at `nats_url`.
    pub async fn on_nats(nats_url: &str) -> anyhow::Result<Self> {
        let id = Uuid::new_v4().simple().to_string()[..12].to_string();
        let vhost = format!("bridge_{id}");
        rabbitmqctl(&["add_vhost", &vhost]).await?;
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]).await?;
        let amqp_url = format!("amqp://guest:guest@127.0.0.1:5672/{vhost}");
        let nats = NatsSettings {
            url: nats_url.to_string(),
            stream: format!("TEST_{id}"),
            subject_prefix: format!("test_{id}"),
        };
        let client = async_nats::connect(nats_url).await?;
        let connection = Connection::connect(&amqp_url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let answers = answer_queue(&connection).await?;
        Ok(Self {
            id,
            amqp_url,
            nats,
            js: jetstream::new(client),
            connection,
            channel,
            answers,
        })
    }

    pub fn bridge_settings(&self) -> bridge::Settings {
        bridge::Settings {
            access: platform::access::AccessSettings::default(),
            http_addr: "127.0.0.1:0".into(),
            to_nats_keys: bridge::settings::split_keys(bridge::settings::DEFAULT_TO_NATS_KEYS),
            nats: self.nats.clone(),
            broker: BrokerSettings {
                amqp_url: self.amqp_url.clone(),
            },
        }
    }

    /// Starts the bridge and waits until `/health` says both brokers are reached.
    pub async fn start_bridge(&self) -> anyhow::Result<Running> {
        let application = bridge::build(self.bridge_settings()).await?;
        let port = application.port();
        let running = spawn(|stop| async move {
            let _ = application.run_until(stop).await;
        });
        wait_healthy(port).await?;
        Ok(running)
    }

    /// Starts the provider answering after `delay_ms`, and waits until it is healthy.
    pub async fn start_provider(&self, delay_ms: u64) -> anyhow::Result<Running> {
        let settings = provider::Settings {
            access: platform::access::AccessSettings::default(),
            http_addr: "127.0.0.1:0".into(),
            delay: Duration::from_millis(delay_ms),
            concurrency: 8,
            nats: self.nats.clone(),
        };
        let application = provider::build(settings).await?;
        let port = application.port();
        let running = spawn(|stop| async move {
            let _ = application.run_until(stop).await;
        });
        wait_healthy(port).await?;
        Ok(running)
    }

    /// Publishes a request envelope on `events` under its routing key, with a confirm.
    pub async fn publish(&self, envelope: &EventEnvelope) -> anyhow::Result<()> {
        platform::relay::publish_confirmed(&self.channel, std::slice::from_ref(envelope)).await?;
        Ok(())
    }

    /// The next event on `provider.#`, if one arrives within `wait`.
    pub async fn next_answer(&mut self, wait: Duration) -> anyhow::Result<Option<EventEnvelope>> {
        let Ok(next) = tokio::time::timeout(wait, self.answers.next()).await else {
            return Ok(None);
        };
        let delivery = next.context("answer queue closed")??;
        delivery.ack(BasicAckOptions::default()).await?;
        anyhow::ensure!(delivery.routing_key.as_str() == "provider.Webhook.AuthorizationAnswered");
        Ok(Some(serde_json::from_slice(&delivery.data)?))
    }

    /// Removes the stream and the vhost.
    pub async fn teardown(self) -> anyhow::Result<()> {
        let _ = self.connection.close(200, "test over".into()).await;
        self.js.delete_stream(&self.nats.stream).await?;
        rabbitmqctl(&["delete_vhost", &format!("bridge_{}", self.id)]).await
    }
}

fn spawn<F, Fut>(run: F) -> Running
where
    F: FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(Box::pin(async move {
        let _ = stopped.await;
    })));
    Running { stop, task }
}

async fn answer_queue(connection: &Connection) -> anyhow::Result<Consumer> {
    let channel = connection.create_channel().await?;
    let name = platform::broker::private_queue(&channel, EVENTS_EXCHANGE, &["provider.#"]).await?;
    let consumer = channel
        .basic_consume(
            name.as_str().into(),
            "test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(consumer)
}

async fn wait_healthy(port: u16) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://127.0.0.1:{port}/health");
    for _ in 0..100 {
        if let Ok(response) = client.get(&url).send().await {
            if response.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("{url} did not become healthy")
}

/// A payment authorization request as the payment service emits it.
pub fn request(payment_id: &str, card_token: &str, attempt: u32) -> EventEnvelope {
    let event_type = if attempt <= 1 {
        "PaymentAuthorizationRequested"
    } else {
        "PaymentAuthorizationRetried"
    };
    EventEnvelope {
        event_id: Uuid::new_v4(),
        service: "payment".into(),
        aggregate_type: "Payment".into(),
        aggregate_id: payment_id.into(),
        sequence: i64::from(attempt),
        global_position: 1,
        event_type: event_type.into(),
        event_version: "1".into(),
        occurred_at: chrono::Utc::now(),
        correlation_id: Some(format!("corr-{payment_id}")),
        causation_id: None,
        payload: json!({"payment_id": payment_id, "order_id": format!("order-{payment_id}"),
            "customer_id": "cust-1", "amount_cents": 1299, "card_token": card_token,
            "attempt": attempt}),
    }
}
