//! The order service: placing, confirming and cancelling orders.
//!
//! Layout:
//! - [`domain`]: the pure order aggregate and its decisions, with given/when/then tests.
//! - [`application`]: the broker commands, their schemas, and their execution.

pub mod application;
pub mod domain;

use platform::service::{build_write_side, ServiceSettings, StartupError, WriteSide};

pub use application::Orders;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "order";

/// The service's settings: `ORDER_DATABASE_URL`, `HTTP_ADDR` (default port 8082), ...
pub type Settings = ServiceSettings;

/// Reads the settings from the environment, with local defaults.
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    ServiceSettings::from_env(SERVICE, 8082)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");

/// The service, connected and migrated, ready to run.
pub type Application = WriteSide<Orders>;

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    build_write_side(
        SERVICE,
        settings,
        &MIGRATOR,
        application::SCHEMAS,
        Orders::new,
    )
    .await
}

#[cfg(test)]
mod contract_tests;
