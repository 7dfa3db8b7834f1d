//! A payment service running against the real servers, isolated per test: its own
//! PostgreSQL database (created as superuser `postgres`, trust authentication on
//! loopback) and its own RabbitMQ vhost, both removed by [`Harness::stop`].

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use chrono::Utc;
use cli::client::{ClientError, CommandClient, SendOptions};
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use payment::domain::AuthorizationPolicy;
use payment::provider_answers::{BINDINGS, QUEUE};
use payment::Settings;
use platform::broker::{self, EVENTS_EXCHANGE};
use platform::command_bus::ReplyStatus;
use platform::config::{BrokerSettings, RelaySettings};
use platform::envelope::EventEnvelope;
use platform::service::ServiceSettings;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const WEBHOOK_KEY: &str = "provider.Webhook.AuthorizationAnswered";
/// How long a test waits for the service to do something.
const PATIENCE: Duration = Duration::from_secs(15);

/// A running payment service, with a client and a broker channel of the test's own.
pub struct Harness {
    name: String,
    pub pool: PgPool,
    client: CommandClient,
    connection: Connection,
    pub channel: Channel,
    stop: oneshot::Sender<()>,
    running: JoinHandle<std::io::Result<()>>,
}

fn rabbitmqctl(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("rabbitmqctl").args(args).output()?;
    ensure!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {output:?}"
    );
    Ok(())
}

async fn admin(sql: &str) -> anyhow::Result<()> {
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(sql).execute(&admin).await?;
    admin.close().await;
    Ok(())
}

/// The service's settings for database and vhost `name`, HTTP on any free port.
fn settings(name: &str) -> Settings {
    Settings {
        service: ServiceSettings {
            access: platform::access::AccessSettings::default(),
            database_url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: BrokerSettings {
                amqp_url: format!("amqp://guest:guest@127.0.0.1:5672/{name}"),
            },
            relay: RelaySettings::default(),
        },
        policy: AuthorizationPolicy::default(),
    }
}

/// The test's own channel, with publisher confirms, after declaring the topology.
async fn open_channel(amqp_url: &str) -> anyhow::Result<(Connection, Channel)> {
    let connection = broker::connect(amqp_url, "payment-test", 5).await?;
    let channel = connection.create_channel().await?;
    broker::declare_exchanges(&channel).await?;
    broker::declare_queue_with_dlq(&channel, QUEUE, EVENTS_EXCHANGE, &BINDINGS).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((connection, channel))
}

impl Harness {
    /// Creates the database and vhost, builds and starts the service, and declares the
    /// webhook queue, so webhooks published before the consumer starts wait for it.
    pub async fn start() -> anyhow::Result<Self> {
        let name = format!("payment_test_{}", Uuid::new_v4().simple());
        admin(&format!("CREATE DATABASE {name}")).await?;
        rabbitmqctl(&["add_vhost", &name])?;
        rabbitmqctl(&["set_permissions", "-p", &name, "guest", ".*", ".*", ".*"])?;
        let settings = settings(&name);
        let (database_url, amqp_url) = (
            settings.service.database_url.clone(),
            settings.service.broker.amqp_url.clone(),
        );
        let application = payment::build(settings).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(application.run_until(async {
            let _ = stopped.await;
        }));
        let (connection, channel) = open_channel(&amqp_url).await?;
        Ok(Self {
            pool: PgPool::connect(&database_url).await?,
            client: CommandClient::connect(&amqp_url).await?,
            name,
            connection,
            channel,
            stop,
            running,
        })
    }

    /// Stops the service and removes the database and the vhost.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.running).await???;
        self.client.close().await;
        self.connection.close(200, "bye".into()).await?;
        self.pool.close().await;
        admin(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .await?;
        rabbitmqctl(&["delete_vhost", &self.name])
    }

    /// Sends `AuthorizePayment` and expects it accepted; waits for the command queue,
    /// which the service declares once its bus is connected.
    pub async fn authorize(&self, payment_id: &str, card_token: &str) -> anyhow::Result<()> {
        let body = json!({"payment_id": payment_id, "order_id": format!("o-{payment_id}"),
            "customer_id": "c1", "amount_cents": 1299, "card_token": card_token});
        let started = Instant::now();
        loop {
            let options = SendOptions::default().correlation_id(format!("flow-{payment_id}"));
            match self
                .client
                .send_json("payment.AuthorizePayment", &body, options)
                .await
            {
                Ok(reply) => {
                    ensure!(reply.status == ReplyStatus::Accepted, "{reply:?}");
                    return Ok(());
                }
                Err(ClientError::Unroutable { .. }) if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Publishes `body` to `events` as the bridge does, with publisher confirms.
    pub async fn publish(&self, body: &[u8]) -> anyhow::Result<()> {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        let confirm = self
            .channel
            .basic_publish(
                EVENTS_EXCHANGE.into(),
                WEBHOOK_KEY.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?
            .await?;
        ensure!(matches!(confirm, Confirmation::Ack(_)), "{confirm:?}");
        Ok(())
    }

    /// The event types of a payment, in order.
    pub async fn event_types(&self, payment_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence",
        )
        .bind(payment_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Waits until the payment's last event is `event_type`; returns all its types.
    pub async fn wait_for(
        &self,
        payment_id: &str,
        event_type: &str,
    ) -> anyhow::Result<Vec<String>> {
        let started = Instant::now();
        loop {
            let types = self.event_types(payment_id).await?;
            if types.last().map(String::as_str) == Some(event_type) {
                return Ok(types);
            }
            if started.elapsed() > PATIENCE {
                bail!("no {event_type} for {payment_id}, only {types:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for one message on `queue` and takes it.
    pub async fn take(&self, queue: &str) -> anyhow::Result<Vec<u8>> {
        let started = Instant::now();
        loop {
            let options = BasicGetOptions { no_ack: true };
            if let Some(message) = self.channel.basic_get(queue.into(), options).await? {
                return Ok(message.delivery.data);
            }
            if started.elapsed() > PATIENCE {
                bail!("nothing arrived on {queue}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A provider webhook answering `attempt` of `payment_id`, enveloped as the bridge does.
pub fn webhook(
    event_id: Uuid,
    payment_id: &str,
    attempt: u32,
    status: &str,
    provider_ref: Option<&str>,
) -> anyhow::Result<Vec<u8>> {
    let payload: Value = json!({"webhook_id": event_id.to_string(), "payment_id": payment_id,
        "attempt": attempt, "status": status, "provider_ref": provider_ref,
        "reason": (status != "approved").then_some("provider says so"),
        "occurred_at": Utc::now()});
    let envelope = EventEnvelope {
        event_id,
        service: "provider".into(),
        aggregate_type: "Webhook".into(),
        aggregate_id: payment_id.into(),
        sequence: 1,
        global_position: 0,
        event_type: "AuthorizationAnswered".into(),
        event_version: "1".into(),
        occurred_at: Utc::now(),
        correlation_id: Some(format!("flow-{payment_id}")),
        causation_id: None,
        payload,
    };
    serde_json::to_vec(&envelope).context("serializing the envelope")
}
