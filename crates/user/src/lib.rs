//! The user service: registering users with a unique email address, updating their
//! profile, deactivating them.
//!
//! Layout:
//! - [`domain`]: the pure user and email-claim aggregates and their decisions, with
//!   given/when/then tests.
//! - [`application`]: the broker commands, their schemas, and their execution; a
//!   registration spans the user and the claim on its email address, appended atomically.
//!
//! [`build`] wires them to the platform: migrations, the command bus, the outbox relay
//! and the HTTP server; `main` only adds signals and logging.

pub mod application;
pub mod domain;

use platform::service::{build_write_side, ServiceSettings, StartupError, WriteSide};

pub use application::Users;

/// The name of this service on the broker and in routing keys.
pub const SERVICE: &str = "user";

/// The service's settings: `USER_DATABASE_URL`, `HTTP_ADDR` (default port 8083), ...
pub type Settings = ServiceSettings;

/// Reads the settings from the environment, with local defaults.
pub fn settings_from_env() -> Result<Settings, platform::config::ConfigError> {
    ServiceSettings::from_env(SERVICE, 8083)
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/user");

/// The service, connected and migrated, ready to run.
pub type Application = WriteSide<Users>;

/// Connects to the database, applies migrations and binds the HTTP listener.
pub async fn build(settings: Settings) -> Result<Application, StartupError> {
    build_write_side(
        SERVICE,
        settings,
        &MIGRATOR,
        application::SCHEMAS,
        Users::new,
    )
    .await
}

#[cfg(test)]
mod contract_tests;
