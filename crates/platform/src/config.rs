//! Typed settings from environment variables, each with a local default.
//!
//! Every service reads its own variables (`INVENTORY_DATABASE_URL`, `AMQP_URL`, ...)
//! through these helpers so that a missing variable means "local development" and a
//! malformed one stops start-up with a message naming the variable.

use std::str::FromStr;
use std::time::Duration;

/// A variable was present but could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

/// Reads `name`, or returns `default` when it is unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => default.to_string(),
    }
}

/// Reads and parses `name`, or returns `default` when it is unset or empty.
pub fn parse_env<T>(name: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|err: T::Err| ConfigError {
                name: name.to_string(),
                reason: err.to_string(),
            })
        }
        _ => Ok(default),
    }
}

/// Reads a duration given in milliseconds.
pub fn duration_ms_env(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    let millis = parse_env(name, default.as_millis() as u64)?;
    Ok(Duration::from_millis(millis))
}

/// Settings of the RabbitMQ connection shared by every service.
#[derive(Clone)]
pub struct BrokerSettings {
    /// Contains credentials: never log it, see the `Debug` impl.
    pub amqp_url: String,
}

impl BrokerSettings {
    pub fn from_env() -> Self {
        Self {
            amqp_url: env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f"),
        }
    }
}

impl std::fmt::Debug for BrokerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerSettings")
            .field("amqp_url", &redact_url(&self.amqp_url))
            .finish()
    }
}

/// Settings of the outbox relay of one service.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// How many events one read takes from the store.
    pub batch_size: i64,
    /// How long the relay sleeps when it found nothing to publish.
    pub idle_poll: Duration,
}

impl RelaySettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            batch_size: parse_env("RELAY_BATCH_SIZE", 500)?,
            idle_poll: duration_ms_env("RELAY_IDLE_POLL_MS", Duration::from_millis(50))?,
        })
    }
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            idle_poll: Duration::from_millis(50),
        }
    }
}

/// Replaces the password of a URL (`scheme://user:secret@host`) so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_url_is_redacted() {
        assert_eq!(
            redact_url("amqp://guest:secret@localhost:5672/%2f"),
            "amqp://guest:***@localhost:5672/%2f"
        );
    }

    #[test]
    fn a_url_without_password_is_unchanged() {
        let url = "postgres://inventory_svc@127.0.0.1:5432/inventory_svc";
        assert_eq!(redact_url(url), url);
    }

    #[test]
    fn a_malformed_number_names_its_variable() {
        std::env::set_var("PLATFORM_TEST_BAD_NUMBER", "ten");
        let err = parse_env::<u32>("PLATFORM_TEST_BAD_NUMBER", 1).expect_err("ten is not a number");
        assert_eq!(err.name, "PLATFORM_TEST_BAD_NUMBER");
    }
}
