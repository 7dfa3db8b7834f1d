//! The inventory service: products, stock, and all-or-nothing reservations.
//!
//! Layout:
//! - [`domain`]: pure aggregates and decisions (no I/O), with given/when/then tests.
//! - [`commands`]: the broker commands and their JSON Schemas.
//! - [`application`]: executes commands against the event store.
//! - [`settings`]: configuration from the environment.
//!
//! [`build`] wires them to the platform: migrations, the command bus, the outbox relay
//! and the HTTP server; `main` only adds signals and logging.

pub mod application;
pub mod commands;
pub mod domain;
pub mod settings;

use std::sync::Arc;

use axum::Router;
use platform::command_bus::CommandBus;
use platform::http::{operational_routes, Health};
use platform::relay::Relay;
use platform::schema::{SchemaError, SchemaRegistry};
use platform::service::{connect_postgres, WriteSide};
use sqlx::PgPool;

pub use application::Inventory;
pub use settings::Settings;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "inventory";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach the inventory database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the inventory database: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(#[from] std::io::Error),
}

/// The service, connected and migrated, ready to run.
pub type Application = WriteSide<Inventory>;

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let pool = connect_postgres(&settings.database_url, settings.pool_size).await?;
    MIGRATOR.run(&pool).await?;
    let schemas = Arc::new(SchemaRegistry::compile(commands::SCHEMAS)?);
    let handler = Arc::new(Inventory::new(pool.clone()));
    let listener = tokio::net::TcpListener::bind(&settings.http_addr).await?;
    Ok(WriteSide {
        listener,
        router: app(pool.clone()),
        relay: Relay::new(pool.clone(), SERVICE, settings.relay),
        bus: CommandBus::new(SERVICE, pool, schemas, handler),
        amqp_url: settings.broker.amqp_url,
    })
}

/// The HTTP routes of the service: health (database) and metrics.
pub fn app(pool: PgPool) -> Router {
    operational_routes(Health::default().with_postgres("postgres", pool))
}

#[cfg(test)]
mod contract_tests;
