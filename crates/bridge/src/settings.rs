//! The bridge's settings, from environment variables with local defaults.

use platform::access::AccessSettings;
use platform::config::{env_or, BrokerSettings, ConfigError};
use platform::nats::NatsSettings;

/// The routing keys forwarded to NATS when `BRIDGE_TO_NATS_KEYS` is unset.
pub const DEFAULT_TO_NATS_KEYS: &str =
    "payment.Payment.PaymentAuthorizationRequested,payment.Payment.PaymentAuthorizationRetried";

#[derive(Debug, Clone)]
pub struct Settings {
    /// `HTTP_ADDR`: health and metrics.
    pub http_addr: String,
    /// `BRIDGE_TO_NATS_KEYS`: comma-separated routing keys of the `events` exchange whose
    /// messages go to the provider's request subject.
    pub to_nats_keys: Vec<String>,
    /// `NATS_URL`, `NATS_STREAM`, `NATS_SUBJECT_PREFIX`.
    pub nats: NatsSettings,
    /// `AMQP_URL`.
    pub broker: BrokerSettings,
    /// `API_KEYS` and the rate limit of the HTTP API.
    pub access: AccessSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            http_addr: env_or("HTTP_ADDR", "127.0.0.1:8087"),
            to_nats_keys: split_keys(&env_or("BRIDGE_TO_NATS_KEYS", DEFAULT_TO_NATS_KEYS)),
            nats: NatsSettings::from_env(),
            broker: BrokerSettings::from_env(),
            access: AccessSettings::from_env()?,
        })
    }
}

/// Splits a comma-separated list, ignoring blanks.
pub fn split_keys(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_are_split_on_commas_ignoring_blanks() {
        assert_eq!(split_keys(" a.b.C , ,d.e.F,"), vec!["a.b.C", "d.e.F"]);
    }

    #[test]
    fn the_default_keys_are_both_authorization_events() {
        let keys = split_keys(DEFAULT_TO_NATS_KEYS);
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|key| key.starts_with("payment.Payment.")));
    }
}
