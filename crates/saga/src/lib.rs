//! The order fulfilment saga: for every placed order it reserves the stock, takes the
//! payment, confirms the order, commits the reservation and notifies the customer, or,
//! when a step fails, undoes the steps done and cancels the order. Its own process and
//! database (`saga_svc`).
//!
//! Layout:
//! - [`domain`]: the pure saga: steps, state, decisions, with given/when/then tests.
//! - [`engine`]: one input applied to one saga in one transaction (state, timeline,
//!   outgoing command in the outbox, inbox claim).
//! - [`inputs`]: the broker consumers of events (`saga.events`) and replies
//!   (`saga.replies`).
//! - [`dispatcher`]: publishes the outbox to the `commands` exchange with confirms.
//! - [`ticker`]: deadlines: resends and payment timeouts.
//! - [`http`]: `GET /sagas/{order_id}`, `/health`, `/metrics`.
//! - [`settings`]: environment variables and defaults.

pub mod dispatcher;
pub mod domain;
pub mod engine;
pub mod http;
pub mod inputs;
pub mod settings;
pub mod ticker;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use platform::consumer::QueueConsumer;
use platform::http::Health;
use platform::service::{connect_postgres, serve_until, StartupError};
use sqlx::PgPool;
use tokio::net::TcpListener;

pub use settings::Settings;

/// The name of this service in logs and metrics.
pub const SERVICE: &str = "saga";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/saga");

/// Reads the settings from the environment, with local defaults (HTTP port 8088).
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    Settings::from_env()
}

/// The saga service, connected and migrated, ready to run.
pub struct Application {
    listener: TcpListener,
    pool: PgPool,
    settings: Settings,
    events_up: Arc<AtomicBool>,
    replies_up: Arc<AtomicBool>,
}

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let pool = connect_postgres(&settings.database_url, settings.pool_size).await?;
    MIGRATOR.run(&pool).await?;
    let listener = TcpListener::bind(&settings.http_addr).await?;
    Ok(Application {
        listener,
        pool,
        settings,
        events_up: Arc::default(),
        replies_up: Arc::default(),
    })
}

impl Application {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Runs the consumers, the dispatcher, the ticker and HTTP until `shutdown`
    /// resolves; an input being applied is finished first.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let health = Health::default()
            .with_postgres("postgres", self.pool.clone())
            .with_flag("rabbitmq_events", self.events_up.clone())
            .with_flag("rabbitmq_replies", self.replies_up.clone());
        let router = http::app(self.pool.clone(), health);
        let engine = engine::Engine::new(self.pool.clone(), self.settings.timing);
        let amqp_url = self.settings.broker.amqp_url.clone();
        let events = QueueConsumer::new(
            inputs::events_subscription(),
            inputs::Events::new(engine.clone()),
        )
        .reporting_to(self.events_up);
        let replies = QueueConsumer::new(
            inputs::replies_subscription(),
            inputs::Replies::new(engine.clone()),
        )
        .reporting_to(self.replies_up);
        let dispatcher = dispatcher::Dispatcher::new(
            self.pool.clone(),
            self.settings.dispatch_poll,
            engine.queued(),
        );
        let ticker = ticker::Ticker::new(self.pool, engine, self.settings.tick);
        let access = self.settings.access.clone();
        serve_until(
            self.listener,
            router,
            &access,
            shutdown,
            |stop| async move {
                tokio::join!(
                    events.run(amqp_url.clone(), stop.clone().cancelled_owned()),
                    replies.run(amqp_url.clone(), stop.clone().cancelled_owned()),
                    dispatcher.run(amqp_url, stop.clone()),
                    ticker.run(stop),
                );
            },
        )
        .await
    }
}
