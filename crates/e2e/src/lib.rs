//! End-to-end harness: starts the inventory, order, user, notification and query services
//! in-process, each on port 0, against the real PostgreSQL, RabbitMQ, MongoDB and Redis on
//! loopback.
//!
//! Every [`TestStack`] is isolated: its own databases, its own RabbitMQ vhost (so
//! command queues are not shared with a running demo or another test), its own MongoDB
//! database and Redis key prefix. Nothing is mocked.

pub mod analytics;
pub mod invariants;
pub mod payments;
pub mod private;
mod raw;
pub mod saga;
pub mod servers;
mod tap;
pub mod views;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use cli::client::{CommandClient, SendOptions};
use platform::command_bus::CommandReply;
use platform::config::{BrokerSettings, RelaySettings};
use platform::projection::RunnerSettings;
use platform::service::ServiceSettings;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use servers::{Servers, ADMIN_DATABASE_URL, MONGODB_URL, REDIS_URL};
pub use tap::EventTap;

/// The whole platform, running for one test.
pub struct TestStack {
    pub id: String,
    pub amqp_url: String,
    pub query_url: String,
    pub inventory_database_url: String,
    pub order_database_url: String,
    pub user_database_url: String,
    pub notification_database_url: String,
    /// Where the notification service writes what it sends, one JSON line each.
    pub notification_outbox_file: PathBuf,
    pub mongodb_database: String,
    /// Set by [`Self::start_payments`].
    payment_database: Option<String>,
    /// Set by [`Self::saga_database`].
    saga_database: Option<String>,
    /// The saga's HTTP API, once [`Self::start_saga`] started it.
    pub saga_url: String,
    /// Set by [`Self::start_analytics`], with the service's API.
    analytics_database: Option<String>,
    pub analytics_url: String,
    nats: Option<platform::nats::NatsSettings>,
    pub redis_key_prefix: String,
    /// The broker, NATS and Redis this stack runs against.
    pub servers: Servers,
    /// Each started write-side service and the base URL of its feed (`GET /events`).
    pub feed_urls: Vec<(String, String)>,
    /// The feeds the query service's runners read: a service started after it (payment,
    /// by [`Self::start_saga`]) is added there too, so its views fill without a restart.
    query_feeds: Option<platform::projection::Feeds>,
    /// How long the relays and the saga's dispatcher wait when idle before they look
    /// again (20 ms unless [`Self::start_with_outbox_poll`] says otherwise).
    pub outbox_poll: Duration,
    client: CommandClient,
    http: reqwest::Client,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl TestStack {
    /// Creates the isolated resources and starts every service, on the shared servers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Servers::default()).await
    }

    /// Like [`Self::start`], against `servers`.
    pub async fn start_with(servers: Servers) -> anyhow::Result<Self> {
        Self::start_with_outbox_poll(servers, Duration::from_millis(20)).await
    }

    /// Like [`Self::start_with`], the relays and the saga's dispatcher polling every
    /// `poll` when idle: a long one leaves them to the wake-ups of the commits.
    pub async fn start_with_outbox_poll(servers: Servers, poll: Duration) -> anyhow::Result<Self> {
        Self::init_logs();
        let mut stack = Self::prepare(servers).await?;
        stack.outbox_poll = poll;
        stack.start_services(&[]).await?;
        Ok(stack)
    }

    /// Like [`Self::start`], without the write sides named in `apart` (of inventory,
    /// order and user): the caller runs them (as processes of their own, say) and adds
    /// their feeds ([`Self::add_feed`]).
    pub async fn start_apart(apart: &[&str]) -> anyhow::Result<Self> {
        Self::init_logs();
        let mut stack = Self::prepare(Servers::default()).await?;
        stack.start_services(apart).await?;
        Ok(stack)
    }

    /// Every service in this process but the write sides named in `apart`.
    async fn start_services(&mut self, apart: &[&str]) -> anyhow::Result<()> {
        self.start_write_side(apart).await?;
        self.start_notification().await?;
        self.start_query().await
    }

    /// Logs of the services running in this test process, filtered by `RUST_LOG`
    /// (`scripts/test.sh` sets `warn`), captured by the test runner and shown when a
    /// test fails: what a service warned of is the first clue to why.
    fn init_logs() {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }

    /// Creates the isolated resources, starting no service.
    pub async fn prepare(servers: Servers) -> anyhow::Result<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let amqp_url = servers.create_vhost(&format!("e2e_{id}")).await?;
        let inventory_database_url =
            servers::create_database(&format!("e2e_inventory_{id}")).await?;
        let order_database_url = servers::create_database(&format!("e2e_order_{id}")).await?;
        let user_database_url = servers::create_database(&format!("e2e_user_{id}")).await?;
        let notification_database_url =
            servers::create_database(&format!("e2e_notification_{id}")).await?;
        let notification_outbox_file = std::env::temp_dir()
            .join(format!("e2e_{id}"))
            .join("notifications.jsonl");
        let shutdown = CancellationToken::new();
        Ok(Self {
            query_url: String::new(),
            mongodb_database: format!("e2e_{id}"),
            redis_key_prefix: format!("e2e:{id}:"),
            client: CommandClient::connect(&amqp_url).await?,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            tasks: Vec::new(),
            feed_urls: Vec::new(),
            query_feeds: None,
            outbox_poll: Duration::from_millis(20),
            payment_database: None,
            saga_database: None,
            saga_url: String::new(),
            analytics_database: None,
            analytics_url: String::new(),
            nats: None,
            id,
            amqp_url,
            inventory_database_url,
            order_database_url,
            user_database_url,
            notification_database_url,
            notification_outbox_file,
            servers,
            shutdown,
        })
    }

    /// Records the feed of `service`, served on `port`.
    pub fn add_feed(&mut self, service: &str, port: u16) {
        let url = format!("http://127.0.0.1:{port}");
        if let Some(feeds) = &self.query_feeds {
            feeds.insert(service, &url);
        }
        self.feed_urls.push((service.to_string(), url));
    }

    /// Per service: how many events its feed shows, and how many rows its store holds.
    /// Unchanged over a while and equal, nothing is on its way: no late answer (a
    /// provider's) still to come, and no committed event hidden from the feed behind a
    /// transaction held open elsewhere in the cluster (the feed shows events below the
    /// cluster's xmin horizon only).
    pub async fn store_counts(&self) -> anyhow::Result<views::StoreCounts> {
        let mut counts = Vec::new();
        for (service, url) in &self.feed_urls {
            let feed = platform::feed::FeedClient::new(url);
            let shown = feed.count(Default::default()).await?;
            let stored = match self.store_database_url(service) {
                Some(database) => {
                    let pool = sqlx::PgPool::connect(&database).await?;
                    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
                        .fetch_one(&pool)
                        .await?;
                    pool.close().await;
                    rows
                }
                None => shown,
            };
            counts.push((service.clone(), shown, stored));
        }
        Ok(counts)
    }

    /// The database of `service`'s event store in this stack, once it has one.
    fn store_database_url(&self, service: &str) -> Option<String> {
        match service {
            "inventory" => Some(self.inventory_database_url.clone()),
            "order" => Some(self.order_database_url.clone()),
            "user" => Some(self.user_database_url.clone()),
            "notification" => Some(self.notification_database_url.clone()),
            "payment" => self
                .payment_database
                .as_ref()
                .map(|name| format!("postgres://postgres@127.0.0.1:5432/{name}")),
            _ => None,
        }
    }

    /// The feeds as `FEED_URLS` spells them: `service=url,...`.
    pub fn feed_urls_setting(&self) -> String {
        let pairs: Vec<String> = self
            .feed_urls
            .iter()
            .map(|(s, u)| format!("{s}={u}"))
            .collect();
        pairs.join(",")
    }

    fn broker(&self) -> BrokerSettings {
        BrokerSettings {
            amqp_url: self.amqp_url.clone(),
        }
    }

    /// A write-side service's settings for this stack: its own database, port 0.
    fn service_settings(&self, database_url: &str) -> ServiceSettings {
        ServiceSettings {
            access: platform::access::AccessSettings::default(),
            database_url: database_url.to_string(),
            pool_size: 5,
            http_addr: "127.0.0.1:0".into(),
            broker: self.broker(),
            relay: RelaySettings {
                batch_size: 200,
                idle_poll: self.outbox_poll,
            },
        }
    }

    /// The write sides in this process, but those named in `apart`.
    async fn start_write_side(&mut self, apart: &[&str]) -> anyhow::Result<()> {
        let mut started = Vec::new();
        if !apart.contains(&"inventory") {
            let service =
                inventory::build(self.service_settings(&self.inventory_database_url)).await?;
            started.push(("inventory", service.port()));
            let run = service.run_until(self.shutdown.clone().cancelled_owned());
            self.spawn(run);
        }
        if !apart.contains(&"order") {
            let service = order::build(self.service_settings(&self.order_database_url)).await?;
            started.push(("order", service.port()));
            let run = service.run_until(self.shutdown.clone().cancelled_owned());
            self.spawn(run);
        }
        if !apart.contains(&"user") {
            let service = user::build(self.service_settings(&self.user_database_url)).await?;
            started.push(("user", service.port()));
            let run = service.run_until(self.shutdown.clone().cancelled_owned());
            self.spawn(run);
        }
        for (service, port) in started {
            self.add_feed(service, port);
            self.healthy(port).await?;
        }
        Ok(())
    }

    /// More inventory services on the same database and vhost: competing consumers of
    /// `inventory.commands`, so commands on one product race each other for real.
    pub async fn start_inventory_replicas(&mut self, count: usize) -> anyhow::Result<()> {
        for _ in 0..count {
            let replica =
                inventory::build(self.service_settings(&self.inventory_database_url)).await?;
            let port = replica.port();
            self.spawn(replica.run_until(self.shutdown.clone().cancelled_owned()));
            self.healthy(port).await?;
        }
        Ok(())
    }

    /// The notification service, delivering to [`Self::notification_outbox_file`].
    async fn start_notification(&mut self) -> anyhow::Result<()> {
        let dispatcher = notification::DispatcherSettings {
            sender: notification::SenderKind::File(self.notification_outbox_file.clone()),
            max_attempts: 5,
            retry_backoff: Duration::from_millis(100),
            batch_size: 200,
            idle_poll: Duration::from_millis(20),
        };
        let settings = notification::Settings {
            service: self.service_settings(&self.notification_database_url),
            dispatcher,
        };
        let service = notification::build(settings).await?;
        let port = service.port();
        self.add_feed("notification", port);
        self.spawn(service.run_until(self.shutdown.clone().cancelled_owned()));
        self.healthy(port).await
    }

    /// Waits for a write-side service's `/health`: commands are published as mandatory,
    /// so its command queue must be consumed before the first one is sent.
    pub async fn healthy(&self, port: u16) -> anyhow::Result<()> {
        let url = format!("http://127.0.0.1:{port}/health");
        self.eventually(&format!("service on port {port} healthy"), || async {
            let status = self.http.get(&url).send().await?.status();
            anyhow::ensure!(status.is_success(), "health {status}");
            Ok(())
        })
        .await
    }

    /// The query service's settings for this stack.
    fn query_settings(&self) -> query::Settings {
        query::Settings {
            access: platform::access::AccessSettings::default(),
            http_addr: "127.0.0.1:0".into(),
            mongodb_url: MONGODB_URL.into(),
            mongodb_database: self.mongodb_database.clone(),
            redis_url: self.servers.redis_url.clone(),
            redis_key_prefix: self.redis_key_prefix.clone(),
            prefetch: 64,
            broker: self.broker(),
            feed_urls: self.feed_urls_setting(),
            runner: RunnerSettings {
                poll: Duration::from_millis(200),
                drop_grace: Duration::from_millis(500),
                ..RunnerSettings::default()
            },
        }
    }

    async fn start_query(&mut self) -> anyhow::Result<()> {
        let query = query::build(self.query_settings()).await?;
        self.query_url = format!("http://127.0.0.1:{}", query.port());
        self.query_feeds = Some(query.feeds());
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
        self.get_url(&format!("{}{path}", self.query_url)).await
    }

    /// `GET` on any of the stack's HTTP APIs: status and JSON body (null when none).
    pub async fn get_url(&self, url: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.http.get(url).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Polls `check` until it passes or 30 s went by; the last error explains a failure.
    /// It returns as soon as the check passes: the bound only matters to a failing
    /// test, and a loaded 2-core machine (a restarted debug binary, a read model fed
    /// through the slow MongoDB stand-in) needed more than 10 s.
    pub async fn eventually<F, Fut, T>(&self, what: &str, check: F) -> anyhow::Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        self.eventually_within(what, Duration::from_secs(30), check)
            .await
    }

    /// Polls `check` until it passes or `limit` went by.
    pub async fn eventually_within<F, Fut, T>(
        &self,
        what: &str,
        limit: Duration,
        check: F,
    ) -> anyhow::Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = anyhow::Result<T>>,
    {
        let started = Instant::now();
        loop {
            match check().await {
                Ok(value) => return Ok(value),
                Err(err) if started.elapsed() > limit => {
                    anyhow::bail!("{what}: still failing after {limit:?}: {err}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        }
    }

    /// Stops every service and removes the test's resources.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.stop_payments().await?;
        if let Some(database) = self.saga_database.take() {
            servers::drop_database(&database).await?;
        }
        if let Some(database) = self.analytics_database.take() {
            servers::drop_database(&database).await?;
        }
        servers::drop_database(&format!("e2e_inventory_{}", self.id)).await?;
        servers::drop_database(&format!("e2e_order_{}", self.id)).await?;
        servers::drop_database(&format!("e2e_user_{}", self.id)).await?;
        servers::drop_database(&format!("e2e_notification_{}", self.id)).await?;
        if let Some(outbox) = self.notification_outbox_file.parent() {
            // Absent when nothing was sent; a leftover in the temp dir harms nothing.
            let _ = std::fs::remove_dir_all(outbox);
        }
        servers::drop_mongodb_database(&self.mongodb_database).await?;
        self.servers.delete_vhost(&format!("e2e_{}", self.id)).await
    }
}
