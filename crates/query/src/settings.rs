//! The query service's settings, from environment variables with local defaults.

use platform::config::{env_or, parse_env, redact_url, BrokerSettings, ConfigError};

#[derive(Clone)]
pub struct Settings {
    /// `HTTP_ADDR`: the query API, health and metrics.
    pub http_addr: String,
    /// `MONGODB_URL`: may contain credentials, never logged as is.
    pub mongodb_url: String,
    /// `MONGODB_DATABASE`: the database holding the read models and checkpoints.
    pub mongodb_database: String,
    /// `REDIS_URL`: may contain credentials, never logged as is.
    pub redis_url: String,
    /// `REDIS_KEY_PREFIX`: prepended to every Redis key, so several instances (or tests)
    /// can share one Redis without seeing each other's keys.
    pub redis_key_prefix: String,
    /// `QUERY_PREFETCH`: how many unacknowledged events the broker may push ahead.
    pub prefetch: u16,
    pub broker: BrokerSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http_addr: env_or("HTTP_ADDR", "127.0.0.1:8080"),
            mongodb_url: env_or("MONGODB_URL", "mongodb://127.0.0.1:27017"),
            mongodb_database: env_or("MONGODB_DATABASE", "commerce_read"),
            redis_url: env_or("REDIS_URL", "redis://127.0.0.1:6379"),
            // Not `env_or`: an empty prefix is the meaningful default, not "unset".
            redis_key_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            prefetch: parse_env("QUERY_PREFETCH", 64)?,
            broker: BrokerSettings::from_env(),
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("http_addr", &self.http_addr)
            .field("mongodb_url", &redact_url(&self.mongodb_url))
            .field("mongodb_database", &self.mongodb_database)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("prefetch", &self.prefetch)
            .field("broker", &self.broker)
            .finish()
    }
}
