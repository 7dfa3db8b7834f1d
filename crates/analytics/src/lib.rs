//! The analytics service: an OLAP star schema projected from the event feeds of the
//! inventory, order, user and payment services, and an HTTP API over its cubes. Its
//! own process and database (`analytics_svc`), HTTP on port 8089.
//!
//! Layout:
//! - [`events`]: the events used, decoded from the feeds (a tolerant reader).
//! - [`calendar`]: days, months and quarters of the time dimension.
//! - [`scd`]: the product dimension's type 2 history decisions.
//! - [`warehouse`]: the star schema as a versioned projection: schemas, writes, cubes.
//! - [`book`]: checkpoints, parked events and current versions in PostgreSQL.
//! - [`queries`], [`api`], [`openapi`]: the HTTP API and its OpenAPI document.
//! - [`settings`]: environment variables and defaults.
//!
//! The feeds carry the events; the broker only wakes the runner (queue
//! `analytics.wakeups`), so a lost or repeated message changes nothing.

pub mod api;
pub mod book;
pub mod calendar;
pub mod events;
pub mod openapi;
pub mod queries;
pub mod scd;
pub mod settings;
pub mod warehouse;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use platform::consumer::{QueueConsumer, Subscription};
use platform::http::{operational_routes, Health};
use platform::projection::{ProjectionSet, Runner, Wakeups};
use platform::service::{connect_postgres, serve_until, StartupError};
use tokio::net::TcpListener;

use book::PgBook;
pub use settings::Settings;
use warehouse::cubes::Refresher;
use warehouse::{Warehouse, PROJECTION};

/// The name of this service in logs and metrics.
pub const SERVICE: &str = "analytics";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/analytics");

/// Reads the settings from the environment, with local defaults (HTTP port 8089).
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    Settings::from_env()
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Config(#[from] platform::config::ConfigError),
}

/// The analytics service, connected and migrated, ready to run.
pub struct Application {
    listener: TcpListener,
    warehouse: Warehouse,
    projections: ProjectionSet,
    settings: Settings,
    wakeups_up: Arc<AtomicBool>,
}

/// Connects to the database, applies migrations, creates the current version's
/// schema, and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, BuildError> {
    let feeds = settings.feeds()?;
    let pool = connect_postgres(&settings.database_url, settings.pool_size)
        .await
        .map_err(StartupError::from)?;
    MIGRATOR.run(&pool).await.map_err(StartupError::from)?;
    let warehouse = Warehouse::new(pool.clone());
    let current = book::current_version(&pool, PROJECTION)
        .await
        .map_err(StartupError::from)?;
    warehouse
        .ensure(current)
        .await
        .map_err(StartupError::from)?;
    let prepared = warehouse.clone();
    let book = PgBook::new(pool).before_promote(Arc::new(move |version| {
        let warehouse = prepared.clone();
        Box::pin(async move { warehouse.prepare(version).await })
    }));
    let runner = Runner::new(warehouse.clone(), Arc::new(book), feeds, settings.runner);
    let listener = TcpListener::bind(&settings.http_addr)
        .await
        .map_err(StartupError::from)?;
    Ok(Application {
        listener,
        warehouse,
        projections: ProjectionSet::default().with(runner),
        settings,
        wakeups_up: Arc::default(),
    })
}

/// The queue whose deliveries wake the runner: every event of the four sources.
pub fn wakeups_subscription() -> Subscription {
    Subscription::new(
        "analytics.wakeups",
        "events",
        &["inventory.#", "order.#", "user.#", "payment.#"],
    )
}

impl Application {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The projection runners, for tests and operators.
    pub fn projections(&self) -> &ProjectionSet {
        &self.projections
    }

    /// Runs the runner, the wake-up consumer, the cube refresher and HTTP until
    /// `shutdown` resolves.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let pool = self.warehouse.pool().clone();
        let health = Health::default()
            .with_postgres("postgres", pool.clone())
            .with_flag("rabbitmq", self.wakeups_up.clone());
        let router = api::routes(pool.clone())
            .merge(self.projections.routes())
            .merge(operational_routes(health));
        let wakeups = QueueConsumer::new(wakeups_subscription(), Wakeups(self.projections.clone()))
            .reporting_to(self.wakeups_up);
        let refresher = Refresher::new(pool, self.warehouse.changed(), self.settings.refresh);
        let amqp_url = self.settings.broker.amqp_url;
        let projections = self.projections;
        let access = self.settings.access;
        serve_until(
            self.listener,
            router,
            &access,
            shutdown,
            |stop| async move {
                tokio::join!(
                    projections.run(stop.clone()),
                    wakeups.run(amqp_url, stop.clone().cancelled_owned()),
                    refresher.run(stop),
                );
            },
        )
        .await
    }
}
