//! The saga service's settings, each from an environment variable with a local default.
//!
//! | variable | default |
//! |---|---|
//! | `SAGA_DATABASE_URL` | `postgres://saga_svc@127.0.0.1:5432/saga_svc` |
//! | `SAGA_DB_POOL_SIZE` | `10` |
//! | `HTTP_ADDR` | `127.0.0.1:8088` |
//! | `AMQP_URL` | the local RabbitMQ |
//! | `SAGA_STEP_TIMEOUT_MS` | `30000`: a step with no reply by then is sent again |
//! | `SAGA_PAYMENT_TIMEOUT_MS` | `10000`: an authorization unanswered by then is voided |
//! | `SAGA_TICK_MS` | `250`: how often deadlines are checked |
//! | `SAGA_DISPATCH_POLL_MS` | `50`: how often the outbox is polled when idle |

use std::time::Duration;

use platform::access::AccessSettings;
use platform::config::{
    duration_ms_env, env_or, parse_env, redact_url, BrokerSettings, ConfigError,
};

use crate::domain::Timing;

pub const DEFAULT_HTTP_PORT: u16 = 8088;

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub pool_size: u32,
    pub http_addr: String,
    pub broker: BrokerSettings,
    pub timing: Timing,
    pub tick: Duration,
    pub dispatch_poll: Duration,
    /// `API_KEYS` and the rate limit of the HTTP API.
    pub access: AccessSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: env_or(
                "SAGA_DATABASE_URL",
                "postgres://saga_svc@127.0.0.1:5432/saga_svc",
            ),
            pool_size: parse_env("SAGA_DB_POOL_SIZE", 10)?,
            http_addr: env_or("HTTP_ADDR", &format!("127.0.0.1:{DEFAULT_HTTP_PORT}")),
            broker: BrokerSettings::from_env(),
            timing: Timing {
                step_timeout: duration_ms_env("SAGA_STEP_TIMEOUT_MS", Duration::from_secs(30))?,
                payment_timeout: duration_ms_env(
                    "SAGA_PAYMENT_TIMEOUT_MS",
                    Duration::from_secs(10),
                )?,
            },
            tick: duration_ms_env("SAGA_TICK_MS", Duration::from_millis(250))?,
            dispatch_poll: duration_ms_env("SAGA_DISPATCH_POLL_MS", Duration::from_millis(50))?,
            access: AccessSettings::from_env()?,
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("http_addr", &self.http_addr)
            .field("broker", &self.broker)
            .field("timing", &self.timing)
            .field("tick", &self.tick)
            .field("dispatch_poll", &self.dispatch_poll)
            .field("access", &self.access)
            .finish()
    }
}
