//! The settings of the payment service: those of every write-side service, plus the
//! authorization policy, each from an environment variable with a local default.
//!
//! | variable | default |
//! |---|---|
//! | `PAYMENT_DATABASE_URL` | `postgres://payment_svc@127.0.0.1:5432/payment_svc` |
//! | `HTTP_ADDR` | `127.0.0.1:8084` |
//! | `PAYMENT_MAX_ATTEMPTS` | `3`: authorization attempts before transient provider failures decline a payment |

use platform::config::{parse_env, ConfigError};
use platform::service::ServiceSettings;

use crate::domain::AuthorizationPolicy;

/// The default HTTP port of the service (health, metrics).
pub const DEFAULT_HTTP_PORT: u16 = 8084;

/// Everything the service reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `PAYMENT_DATABASE_URL`, `HTTP_ADDR`, `AMQP_URL`, relay settings, ...
    pub service: ServiceSettings,
    pub policy: AuthorizationPolicy,
}

impl Settings {
    /// Reads the settings from the environment, with local defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        let service = ServiceSettings::from_env(crate::SERVICE, DEFAULT_HTTP_PORT)?;
        let max_attempts: u32 = parse_env("PAYMENT_MAX_ATTEMPTS", 3)?;
        if max_attempts == 0 {
            return Err(ConfigError {
                name: "PAYMENT_MAX_ATTEMPTS".into(),
                reason: "at least one attempt is needed".into(),
            });
        }
        Ok(Self {
            service,
            policy: AuthorizationPolicy { max_attempts },
        })
    }
}
