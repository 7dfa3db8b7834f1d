//! End-to-end harness: starts the inventory, order and query services in-process, each
//! on port 0, against the real PostgreSQL, RabbitMQ, MongoDB and Redis on loopback.
//!
//! Every [`TestStack`] is isolated: its own databases, its own RabbitMQ vhost (so
//! command queues are not shared with a running demo or another test), its own MongoDB
//! database and Redis key prefix. Nothing is mocked.

pub mod servers;

use std::future::Future;
use std::time::{Duration, Instant};

use cli::client::{CommandClient, SendOptions};
use platform::command_bus::CommandReply;
use platform::config::{BrokerSettings, RelaySettings};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use servers::{ADMIN_DATABASE_URL, MONGODB_URL, REDIS_URL};

/// The whole platform, running for one test.
pub struct TestStack {
    pub id: String,
    pub amqp_url: String,
    pub query_url: String,
    pub inventory_database_url: String,
    pub order_database_url: String,
    pub mongodb_database: String,
    pub redis_key_prefix: String,
    client: CommandClient,
    http: reqwest::Client,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl TestStack {
    /// Creates the isolated resources and starts every service.
    pub async fn start() -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let amqp_url = servers::create_vhost(&format!("e2e_{id}")).await?;
        let inventory_database_url =
            servers::create_database(&format!("e2e_inventory_{id}")).await?;
        let order_database_url = servers::create_database(&format!("e2e_order_{id}")).await?;
        let shutdown = CancellationToken::new();
        let mut stack = Self {
            query_url: String::new(),
            mongodb_database: format!("e2e_{id}"),
            redis_key_prefix: format!("e2e:{id}:"),
            client: CommandClient::connect(&amqp_url).await?,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            tasks: Vec::new(),
            id,
            amqp_url,
            inventory_database_url,
            order_database_url,
            shutdown,
        };
        stack.start_write_side().await?;
        stack.start_query().await?;
        Ok(stack)
    }

    fn broker(&self) -> BrokerSettings {
        BrokerSettings {
            amqp_url: self.amqp_url.clone(),
        }
    }

    fn relay() -> RelaySettings {
        RelaySettings {
            batch_size: 200,
            idle_poll: Duration::from_millis(20),
        }
    }

    async fn start_write_side(&mut self) -> anyhow::Result<()> {
        let inventory = inventory::build(inventory::Settings {
            database_url: self.inventory_database_url.clone(),
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: self.broker(),
            relay: Self::relay(),
        })
        .await?;
        let order = order::build(order::Settings {
            database_url: self.order_database_url.clone(),
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: self.broker(),
            relay: Self::relay(),
        })
        .await?;
        let ports = [inventory.port(), order.port()];
        self.spawn(inventory.run_until(self.shutdown.clone().cancelled_owned()));
        self.spawn(order.run_until(self.shutdown.clone().cancelled_owned()));
        // Commands are published as mandatory: wait until each service consumes its queue.
        for port in ports {
            let url = format!("http://127.0.0.1:{port}/health");
            self.eventually("write side healthy", || async {
                let status = self.http.get(&url).send().await?.status();
                anyhow::ensure!(status.is_success(), "health {status}");
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn start_query(&mut self) -> anyhow::Result<()> {
        let query = query::build(query::Settings {
            http_addr: "127.0.0.1:0".into(),
            mongodb_url: MONGODB_URL.into(),
            mongodb_database: self.mongodb_database.clone(),
            redis_url: REDIS_URL.into(),
            redis_key_prefix: self.redis_key_prefix.clone(),
            prefetch: 64,
            broker: self.broker(),
        })
        .await?;
        self.query_url = format!("http://127.0.0.1:{}", query.port());
        self.spawn(query.run_until(self.shutdown.clone().cancelled_owned()));
        // The projection queue must exist before the first event is published, or the
        // exchange drops it: wait until the query service reports healthy.
        self.eventually("query service healthy", || async {
            let (status, _) = self.get("/health").await?;
            anyhow::ensure!(status == 200, "health {status}");
            Ok(())
        })
        .await
    }

    fn spawn<E: std::fmt::Debug>(
        &mut self,
        service: impl Future<Output = Result<(), E>> + Send + 'static,
    ) {
        self.tasks.push(tokio::spawn(async move {
            if let Err(err) = service.await {
                eprintln!("service stopped with an error: {err:?}");
            }
        }));
    }

    /// Sends a command and waits for its reply.
    pub async fn send(&self, routing_key: &str, body: Value) -> anyhow::Result<CommandReply> {
        self.send_with(
            routing_key,
            body.to_string().as_bytes(),
            SendOptions::default(),
        )
        .await
    }

    /// Sends raw bytes with explicit options (command id, ...).
    pub async fn send_with(
        &self,
        routing_key: &str,
        body: &[u8],
        options: SendOptions,
    ) -> anyhow::Result<CommandReply> {
        Ok(self.client.send(routing_key, body, options).await?)
    }

    /// `GET` on the query API: status and JSON body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(format!("{}{path}", self.query_url))
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Polls `check` until it passes or 10 s went by; the last error explains a failure.
    pub async fn eventually<F, Fut, T>(&self, what: &str, check: F) -> anyhow::Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let started = Instant::now();
        loop {
            match check().await {
                Ok(value) => return Ok(value),
                Err(err) if started.elapsed() > Duration::from_secs(10) => {
                    anyhow::bail!("{what}: still failing after 10 s: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// Stops every service and removes the test's resources.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        servers::drop_database(&format!("e2e_inventory_{}", self.id)).await?;
        servers::drop_database(&format!("e2e_order_{}", self.id)).await?;
        servers::drop_mongodb_database(&self.mongodb_database).await?;
        servers::delete_vhost(&format!("e2e_{}", self.id)).await
    }
}
