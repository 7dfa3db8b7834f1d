//! The inventory service: products, stock, and all-or-nothing reservations.
//!
//! Layout:
//! - [`domain`]: pure aggregates and decisions (no I/O), with given/when/then tests.
//! - [`commands`]: the broker commands and their JSON Schemas.
//! - [`application`]: executes commands against the event store.
//!
//! [`build`] wires them to the platform: migrations, the command bus, the outbox relay
//! and the HTTP server; `main` only adds signals and logging.

pub mod application;
pub mod commands;
pub mod domain;

use platform::service::{build_write_side, ServiceSettings, StartupError, WriteSide};

pub use application::Inventory;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "inventory";

/// The service's settings: `INVENTORY_DATABASE_URL`, `HTTP_ADDR` (default port 8081), ...
pub type Settings = ServiceSettings;

/// Reads the settings from the environment, with local defaults.
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    ServiceSettings::from_env(SERVICE, 8081)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

/// The service, connected and migrated, ready to run.
pub type Application = WriteSide<Inventory>;

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    build_write_side(
        SERVICE,
        settings,
        &MIGRATOR,
        commands::SCHEMAS,
        Inventory::new,
    )
    .await
}

#[cfg(test)]
mod contract_tests;
