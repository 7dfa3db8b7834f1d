//! The order service's settings, from environment variables with local defaults.

use platform::config::{env_or, parse_env, BrokerSettings, ConfigError, RelaySettings};

#[derive(Clone)]
pub struct Settings {
    /// `ORDER_DATABASE_URL`: this service's own database, reachable only by its role.
    pub database_url: String,
    /// `ORDER_DB_POOL_SIZE`.
    pub pool_size: u32,
    /// `HTTP_ADDR`: health and metrics.
    pub http_addr: String,
    pub broker: BrokerSettings,
    pub relay: RelaySettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: env_or(
                "ORDER_DATABASE_URL",
                "postgres://order_svc@127.0.0.1:5432/order_svc",
            ),
            pool_size: parse_env("ORDER_DB_POOL_SIZE", 10)?,
            http_addr: env_or("HTTP_ADDR", "127.0.0.1:8082"),
            broker: BrokerSettings::from_env(),
            relay: RelaySettings::from_env()?,
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &platform::config::redact_url(&self.database_url),
            )
            .field("pool_size", &self.pool_size)
            .field("http_addr", &self.http_addr)
            .field("broker", &self.broker)
            .field("relay", &self.relay)
            .finish()
    }
}
