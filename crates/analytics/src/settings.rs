//! The analytics service's settings, each from an environment variable with a local
//! default.
//!
//! | variable | default |
//! |---|---|
//! | `ANALYTICS_DATABASE_URL` | `postgres://analytics_svc@127.0.0.1:5432/analytics_svc` |
//! | `ANALYTICS_DB_POOL_SIZE` | `10` |
//! | `HTTP_ADDR` | `127.0.0.1:8089` |
//! | `AMQP_URL` | the local RabbitMQ (wake-ups only: the feeds carry the events) |
//! | `FEED_URLS` | `inventory=http://127.0.0.1:8081,order=…:8082,user=…:8083,payment=…:8084` |
//! | `PROJECTION_PAGE`, `PROJECTION_POLL_MS` | `2000`, `1000`: feed page size, longest pause between passes |
//! | `ANALYTICS_REFRESH_MS` | `1000`: how often the cubes are refreshed when facts changed |

use std::time::Duration;

use platform::access::AccessSettings;
use platform::config::{
    duration_ms_env, env_or, parse_env, redact_url, BrokerSettings, ConfigError,
};
use platform::projection::{Feeds, RunnerSettings};

pub const DEFAULT_HTTP_PORT: u16 = 8089;

/// The feeds of the four services the star schema reads, on their local ports.
pub const DEFAULT_FEED_URLS: &str = "inventory=http://127.0.0.1:8081,\
     order=http://127.0.0.1:8082,user=http://127.0.0.1:8083,payment=http://127.0.0.1:8084";

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub pool_size: u32,
    pub http_addr: String,
    pub broker: BrokerSettings,
    /// `service=url` pairs, comma-separated.
    pub feed_urls: String,
    pub runner: RunnerSettings,
    /// How often the cubes are refreshed, when facts changed since the last refresh.
    pub refresh: Duration,
    /// `API_KEYS`, the rate limit, and `API_KEY` (what the feeds are read with).
    pub access: AccessSettings,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let settings = Self {
            database_url: env_or(
                "ANALYTICS_DATABASE_URL",
                "postgres://analytics_svc@127.0.0.1:5432/analytics_svc",
            ),
            pool_size: parse_env("ANALYTICS_DB_POOL_SIZE", 10)?,
            http_addr: env_or("HTTP_ADDR", &format!("127.0.0.1:{DEFAULT_HTTP_PORT}")),
            broker: BrokerSettings::from_env(),
            feed_urls: env_or("FEED_URLS", DEFAULT_FEED_URLS),
            runner: RunnerSettings {
                page: parse_env("PROJECTION_PAGE", 2000)?,
                poll: duration_ms_env("PROJECTION_POLL_MS", Duration::from_secs(1))?,
                ..RunnerSettings::default()
            },
            refresh: duration_ms_env("ANALYTICS_REFRESH_MS", Duration::from_secs(1))?,
            access: AccessSettings::from_env()?,
        };
        settings.feeds()?;
        Ok(settings)
    }

    /// The feeds named by `feed_urls`; every source of the star schema must be there.
    pub fn feeds(&self) -> Result<Feeds, ConfigError> {
        let pairs = parse_feed_urls(&self.feed_urls)?;
        let missing: Vec<&str> = crate::warehouse::SOURCES
            .iter()
            .filter(|source| !pairs.iter().any(|(name, _)| name == *source))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(feed_error(format!("no feed for {}", missing.join(", "))));
        }
        let feeds = Feeds::new(pairs.iter().map(|(s, u)| (s.as_str(), u.as_str())));
        Ok(feeds.with_api_key(self.access.outgoing_key.as_deref()))
    }
}

/// Parses `service=url,service=url` (blanks around names and URLs are dropped).
pub fn parse_feed_urls(urls: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for pair in urls.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (service, url) = pair
            .split_once('=')
            .map(|(s, u)| (s.trim(), u.trim()))
            .filter(|(s, u)| !s.is_empty() && !u.is_empty())
            .ok_or_else(|| feed_error(format!("{pair:?} is not service=url")))?;
        pairs.push((service.to_string(), url.to_string()));
    }
    Ok(pairs)
}

fn feed_error(reason: String) -> ConfigError {
    ConfigError {
        name: "FEED_URLS".into(),
        reason,
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("pool_size", &self.pool_size)
            .field("http_addr", &self.http_addr)
            .field("broker", &self.broker)
            .field("feed_urls", &self.feed_urls)
            .field("runner", &self.runner)
            .field("refresh", &self.refresh)
            .field("access", &self.access)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_feeds(feed_urls: &str) -> Settings {
        Settings {
            database_url: String::new(),
            pool_size: 1,
            http_addr: String::new(),
            broker: BrokerSettings::from_env(),
            feed_urls: feed_urls.into(),
            runner: RunnerSettings::default(),
            refresh: Duration::from_secs(1),
            access: AccessSettings::default(),
        }
    }

    #[test]
    fn feed_urls_are_read_as_service_url_pairs() {
        let pairs = parse_feed_urls(" order = http://o:1 ,user=http://u:2,").expect("pairs");
        assert_eq!(
            pairs,
            [
                ("order".to_string(), "http://o:1".to_string()),
                ("user".to_string(), "http://u:2".to_string())
            ]
        );
    }

    #[test]
    fn a_pair_without_a_url_is_refused_naming_the_variable() {
        let err = parse_feed_urls("order=http://o:1,user").expect_err("user has no url");
        assert_eq!(err.name, "FEED_URLS");
        assert!(parse_feed_urls("order=").is_err());
    }

    #[test]
    fn the_default_feeds_cover_every_source() {
        assert!(with_feeds(DEFAULT_FEED_URLS).feeds().is_ok());
    }

    #[test]
    fn a_missing_source_is_named() {
        let err = with_feeds("inventory=http://i,order=http://o,user=http://u")
            .feeds()
            .expect_err("no payment feed");
        assert!(err.reason.contains("payment"), "{}", err.reason);
    }
}
