//! The provider simulator's settings, from environment variables with local defaults.

use std::time::Duration;

use platform::access::AccessSettings;
use platform::config::{duration_ms_env, env_or, parse_env, ConfigError};
use platform::nats::NatsSettings;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `HTTP_ADDR`: health and metrics.
    pub http_addr: String,
    /// `PROVIDER_DELAY_MS`: the simulated gateway latency before each answer.
    pub delay: Duration,
    /// `PROVIDER_CONCURRENCY`: how many requests are answered at once.
    pub concurrency: usize,
    /// `NATS_URL`, `NATS_STREAM`, `NATS_SUBJECT_PREFIX`.
    pub nats: NatsSettings,
    /// `API_KEYS` and the rate limit of the HTTP API.
    pub access: AccessSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http_addr: env_or("HTTP_ADDR", "127.0.0.1:8086"),
            delay: duration_ms_env("PROVIDER_DELAY_MS", Duration::from_millis(200))?,
            concurrency: parse_env("PROVIDER_CONCURRENCY", 32)?,
            nats: NatsSettings::from_env(),
            access: AccessSettings::from_env()?,
        })
    }
}
