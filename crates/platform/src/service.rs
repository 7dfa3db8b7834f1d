//! Building and running a write-side service: its database (migrated at start-up), its
//! HTTP server (health, metrics), its outbox relay, its chain sealer and its command
//! consumer, side by side until one shutdown future resolves.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::access::{protect, AccessSettings};
use crate::chain::Sealer;
use crate::command_bus::{CommandBus, CommandHandler};
use crate::config::{env_or, parse_env, redact_url, BrokerSettings, ConfigError, RelaySettings};
use crate::http::{operational_routes, Health};
use crate::relay::Relay;
use crate::schema::{SchemaError, SchemaRegistry};

/// The settings of one write-side service, read from variables named after it.
#[derive(Clone)]
pub struct ServiceSettings {
    /// `<SERVICE>_DATABASE_URL`: the service's own database, reachable only by its role.
    pub database_url: String,
    /// `<SERVICE>_DB_POOL_SIZE`.
    pub pool_size: u32,
    /// `HTTP_ADDR`: health and metrics.
    pub http_addr: String,
    pub broker: BrokerSettings,
    pub relay: RelaySettings,
    pub access: AccessSettings,
}

impl ServiceSettings {
    /// Reads the settings of `service`; locally its database is `<service>_svc`, reached
    /// as role `<service>_svc` without a password (trust authentication on loopback).
    pub fn from_env(service: &str, default_http_port: u16) -> Result<Self, ConfigError> {
        let upper = service.to_uppercase();
        let local_database = format!("postgres://{service}_svc@127.0.0.1:5432/{service}_svc");
        Ok(Self {
            database_url: env_or(&format!("{upper}_DATABASE_URL"), &local_database),
            pool_size: parse_env(&format!("{upper}_DB_POOL_SIZE"), 10)?,
            http_addr: env_or("HTTP_ADDR", &format!("127.0.0.1:{default_http_port}")),
            broker: BrokerSettings::from_env(),
            relay: RelaySettings::from_env()?,
            access: AccessSettings::from_env()?,
        })
    }
}

impl std::fmt::Debug for ServiceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSettings")
            .field("database_url", &redact_url(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("http_addr", &self.http_addr)
            .field("broker", &self.broker)
            .field("relay", &self.relay)
            .field("access", &self.access)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(#[from] std::io::Error),
}

/// Connects and migrates the service's database, compiles its command schemas, builds
/// its handler from the pool, and binds its HTTP listener.
pub async fn build_write_side<H: CommandHandler>(
    service: &str,
    settings: ServiceSettings,
    migrator: &Migrator,
    schemas: &[(&str, &str)],
    handler: impl FnOnce(PgPool) -> H,
) -> Result<WriteSide<H>, StartupError> {
    let pool = connect_postgres(&settings.database_url, settings.pool_size).await?;
    migrator.run(&pool).await?;
    let schemas = Arc::new(SchemaRegistry::compile(schemas)?);
    let handler = Arc::new(handler(pool.clone()));
    let listener = TcpListener::bind(&settings.http_addr).await?;
    let sealer = Sealer::new(pool.clone(), service, settings.relay.batch_size);
    let relay = Relay::new(pool.clone(), service, settings.relay);
    let bus = CommandBus::new(service, pool.clone(), schemas, handler).signalling(relay.wake());
    let health = Health::default()
        .with_postgres("postgres", pool.clone())
        .with_flag("rabbitmq", bus.connected());
    Ok(WriteSide {
        service: service.to_string(),
        listener,
        router: write_side_routes(service, &pool, health),
        sealer,
        relay,
        pool,
        bus,
        amqp_url: settings.broker.amqp_url,
        access: settings.access,
    })
}

/// Health, metrics and the store's feed.
fn write_side_routes(service: &str, pool: &PgPool, health: Health) -> Router {
    operational_routes(health).merge(crate::feed::routes(service, pool.clone()))
}

/// Connects to a service's database, waiting for it at start-up (up to ~30 s) so the
/// stack can start in any order.
pub async fn connect_postgres(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let mut attempt = 1;
    loop {
        let result = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        match result {
            Err(sqlx::Error::Io(err)) if attempt < 30 => {
                tracing::warn!(error = %err, attempt, "database not reachable, retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A write-side service ready to run.
pub struct WriteSide<H> {
    service: String,
    pub listener: TcpListener,
    pub router: Router,
    pub relay: Relay,
    /// Seals the store's events into its tamper-evident chain, beside the relay.
    pub sealer: Sealer,
    pub bus: CommandBus<H>,
    pub amqp_url: String,
    pub access: AccessSettings,
    /// The service's database, migrated, for tasks of its own.
    pub pool: PgPool,
}

impl<H: CommandHandler> WriteSide<H> {
    /// The bound HTTP port (useful when bound to port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Replaces the `/health` checks (a service with a consumer of its own adds its
    /// flag); metrics and the feed stay.
    pub fn set_health(&mut self, health: Health) {
        self.router = write_side_routes(&self.service, &self.pool, health);
    }

    /// Runs everything until `shutdown` resolves, then stops accepting work, finishes
    /// what is in flight and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.run_with(shutdown, |_| async {}).await
    }

    /// Like [`Self::run_until`], with one more task of the service's own (a dispatcher,
    /// say) run beside the others: `task` gets the shutdown token, to check between
    /// units of work, and must return soon after it is cancelled.
    pub async fn run_with<F>(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        task: impl FnOnce(CancellationToken) -> F,
    ) -> std::io::Result<()>
    where
        F: Future<Output = ()>,
    {
        let (relay, sealer, bus) = (self.relay, self.sealer, self.bus);
        let (amqp_url, access) = (self.amqp_url, self.access);
        serve_until(
            self.listener,
            self.router,
            &access,
            shutdown,
            |token| async move {
                let relay_run = relay.run(amqp_url.clone(), token.clone().cancelled_owned());
                let sealer_run = sealer.run(token.clone().cancelled_owned());
                let bus_run = bus.run(amqp_url, token.clone().cancelled_owned());
                tokio::join!(relay_run, sealer_run, bus_run, task(token));
            },
        )
        .await
    }
}

/// Serves `router` on `listener`, behind `access` (keys and rate limit, see
/// [`crate::access`]), and runs `workers` beside it until `shutdown` resolves, or the
/// server fails: either way the workers are told to stop (through the token they get)
/// and are waited for, so none is left running without its health endpoint.
pub async fn serve_until<W, F>(
    listener: TcpListener,
    router: Router,
    access: &AccessSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
    workers: W,
) -> std::io::Result<()>
where
    W: FnOnce(CancellationToken) -> F,
    F: Future<Output = ()>,
{
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });
    let http = async {
        let served = axum::serve(listener, protect(router, access))
            .with_graceful_shutdown(token.clone().cancelled_owned())
            .await;
        token.cancel();
        served
    };
    let (served, ()) = tokio::join!(http, workers(token.clone()));
    served
}
