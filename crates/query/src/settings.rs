//! The query service's settings, from environment variables with local defaults.

use platform::access::AccessSettings;
use platform::config::{
    duration_ms_env, env_or, parse_env, redact_url, BrokerSettings, ConfigError,
};
use platform::projection::{Feeds, RunnerSettings};

/// The feeds of the services whose events this service projects, on their default
/// local ports.
pub const DEFAULT_FEED_URLS: &str = "inventory=http://127.0.0.1:8081,\
    order=http://127.0.0.1:8082,user=http://127.0.0.1:8083,payment=http://127.0.0.1:8084,\
    notification=http://127.0.0.1:8085";

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
    /// `FEED_URLS`: `service=url` pairs, comma-separated: where each source's feed is
    /// (inventory, order, user, payment, notification; a view whose feed is missing
    /// stays empty, and its passes fail with the reason).
    pub feed_urls: String,
    /// `PROJECTION_PAGE`, `PROJECTION_POLL_MS`: feed page size and the longest pause
    /// between two passes when the broker is silent.
    pub runner: RunnerSettings,
    /// `API_KEYS`, the rate limit, and `API_KEY` (what the feeds are read with).
    pub access: AccessSettings,
}

impl Settings {
    /// The feeds named by `feed_urls`.
    pub fn feeds(&self) -> Result<Feeds, ConfigError> {
        Ok(parse_feed_urls(&self.feed_urls)?.with_api_key(self.access.outgoing_key.as_deref()))
    }
}

/// Parses `service=url,service=url`.
pub fn parse_feed_urls(urls: &str) -> Result<Feeds, ConfigError> {
    let mut pairs = Vec::new();
    for pair in urls.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (service, url) = pair.split_once('=').ok_or_else(|| ConfigError {
            name: "FEED_URLS".into(),
            reason: format!("{pair:?} is not service=url"),
        })?;
        pairs.push((service.trim(), url.trim()));
    }
    Ok(Feeds::new(pairs))
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
            feed_urls: env_or("FEED_URLS", DEFAULT_FEED_URLS),
            runner: RunnerSettings {
                page: parse_env("PROJECTION_PAGE", 2000)?,
                poll: duration_ms_env("PROJECTION_POLL_MS", std::time::Duration::from_secs(1))?,
                ..RunnerSettings::default()
            },
            access: AccessSettings::from_env()?,
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
            .field("feed_urls", &self.feed_urls)
            .field("runner", &self.runner)
            .field("access", &self.access)
            .finish()
    }
}
