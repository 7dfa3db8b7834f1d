//! The order service: placing, confirming and cancelling orders.
//!
//! Layout:
//! - [`domain`]: the pure order aggregate and its decisions, with given/when/then tests.
//! - [`application`]: the broker commands, their schemas, and their execution.
//! - [`settings`]: configuration from the environment.

pub mod application;
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

pub use application::Orders;
pub use settings::Settings;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "order";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot reach the order database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot migrate the order database: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot bind the HTTP address: {0}")]
    Bind(#[from] std::io::Error),
}

/// The service, connected and migrated, ready to run.
pub type Application = WriteSide<Orders>;

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    let pool = connect_postgres(&settings.database_url, settings.pool_size).await?;
    MIGRATOR.run(&pool).await?;
    let schemas = Arc::new(SchemaRegistry::compile(application::SCHEMAS)?);
    let handler = Arc::new(Orders::new(pool.clone()));
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
