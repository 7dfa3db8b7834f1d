//! Who may call a service's HTTP API, and how often: API keys and a per-key token
//! bucket in Redis, applied to every route but the open ones (`/health` by default).
//!
//! Keys come only from the environment (`API_KEYS="name:secret,…"`): the name is what
//! logs, metrics and Redis see, the secret never leaves the comparison. Without keys
//! the API is open — local development — and start-up says so in a warning.
//!
//! The bucket lives in Redis so that every replica of a service, and every service,
//! draws on the same allowance for a key; a Lua script refills and takes a token
//! atomically on the server's clock, so replicas with skewed clocks agree. When Redis
//! cannot be reached the request is let through (and counted): the limiter protects
//! the services, it must not become the reason they are down.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use redis::aio::ConnectionManager;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use crate::config::{env_or, parse_env, redact_url, ConfigError};

/// The header a client presents its key in (`Authorization: Bearer <key>` works too).
pub const API_KEY_HEADER: &str = "x-api-key";

/// One accepted key: a name to log, and its secret.
#[derive(Clone)]
pub struct ApiKey {
    pub name: String,
    secret: String,
}

impl ApiKey {
    pub fn new(name: &str, secret: &str) -> Self {
        Self {
            name: name.to_string(),
            secret: secret.to_string(),
        }
    }

    fn matches(&self, presented: &str) -> bool {
        self.secret.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKey({}: ***)", self.name)
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
}

/// The access rules of one service's HTTP API.
#[derive(Clone)]
pub struct AccessSettings {
    /// `API_KEYS`: `name:secret` pairs, comma-separated; none means the API is open.
    pub api_keys: Vec<ApiKey>,
    /// `API_OPEN_PATHS`: paths served without a key, comma-separated.
    pub open_paths: Vec<String>,
    /// `RATE_LIMIT_BURST`, `RATE_LIMIT_PER_SECOND`.
    pub rate_limit: RateLimit,
    /// `RATE_LIMIT_REDIS_URL`: where the buckets are kept.
    pub redis_url: String,
    /// `API_KEY`: the key this process presents to the other services' APIs (feeds).
    pub outgoing_key: Option<String>,
}

impl Default for AccessSettings {
    /// Open: no keys, so nothing is checked or limited.
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            open_paths: vec!["/health".to_string()],
            rate_limit: RateLimit {
                burst: 100,
                per_second: 50.0,
            },
            redis_url: "redis://127.0.0.1:6379".to_string(),
            outgoing_key: None,
        }
    }
}

impl AccessSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let open_paths = env_or("API_OPEN_PATHS", &defaults.open_paths.join(","));
        let outgoing_key = env_or("API_KEY", "");
        let rate_limit = RateLimit {
            burst: parse_env("RATE_LIMIT_BURST", defaults.rate_limit.burst)?,
            per_second: parse_env("RATE_LIMIT_PER_SECOND", defaults.rate_limit.per_second)?,
        };
        if rate_limit.burst == 0 || rate_limit.per_second.is_nan() || rate_limit.per_second <= 0.0 {
            return Err(ConfigError {
                name: "RATE_LIMIT_BURST / RATE_LIMIT_PER_SECOND".to_string(),
                reason: "both must be above zero".to_string(),
            });
        }
        let redis_url = env_or("RATE_LIMIT_REDIS_URL", &defaults.redis_url);
        if let Err(err) = redis::Client::open(redis_url.as_str()) {
            return Err(ConfigError {
                name: "RATE_LIMIT_REDIS_URL".to_string(),
                reason: err.to_string(),
            });
        }
        Ok(Self {
            api_keys: parse_keys(&env_or("API_KEYS", ""))?,
            open_paths: split_list(&open_paths),
            rate_limit,
            redis_url,
            outgoing_key: (!outgoing_key.is_empty()).then_some(outgoing_key),
        })
    }

    /// Whether keys are required at all.
    pub fn enforced(&self) -> bool {
        !self.api_keys.is_empty()
    }
}

impl std::fmt::Debug for AccessSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.api_keys.iter().map(|k| k.name.as_str()).collect();
        f.debug_struct("AccessSettings")
            .field("api_keys", &names)
            .field("open_paths", &self.open_paths)
            .field("rate_limit", &self.rate_limit)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("outgoing_key", &self.outgoing_key.as_ref().map(|_| "***"))
            .finish()
    }
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `name:secret,…`; an entry without a name or a secret stops start-up.
pub fn parse_keys(value: &str) -> Result<Vec<ApiKey>, ConfigError> {
    split_list(value)
        .iter()
        .map(|entry| match entry.split_once(':') {
            Some((name, secret)) if !name.trim().is_empty() && !secret.trim().is_empty() => {
                Ok(ApiKey::new(name.trim(), secret.trim()))
            }
            _ => Err(ConfigError {
                name: "API_KEYS".to_string(),
                reason: "each entry must be name:secret".to_string(),
            }),
        })
        .collect()
}

/// Headers for a client of another service's API: the outgoing key, if any.
pub fn client_headers(key: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        let mut value = value;
        value.set_sensitive(true);
        headers.insert(API_KEY_HEADER, value);
    }
    headers
}

/// `router` behind the key check and the rate limit, when keys are configured.
pub fn protect(router: Router, settings: &AccessSettings) -> Router {
    if !settings.enforced() {
        tracing::warn!("API_KEYS is not set: the HTTP API is open to anyone who can reach it");
        return router;
    }
    let guard = Arc::new(Guard {
        keys: settings.api_keys.clone(),
        open_paths: settings.open_paths.clone(),
        limiter: Limiter {
            redis_url: settings.redis_url.clone(),
            connection: OnceCell::new(),
            script: redis::Script::new(TOKEN_BUCKET),
            limit: settings.rate_limit,
        },
    });
    router.layer(middleware::from_fn_with_state(guard, check))
}

struct Guard {
    keys: Vec<ApiKey>,
    open_paths: Vec<String>,
    limiter: Limiter,
}

impl Guard {
    /// The key presented, if it is one of ours; every key is compared, in constant time.
    fn caller(&self, headers: &HeaderMap) -> Result<&ApiKey, &'static str> {
        let presented = presented_key(headers).ok_or("missing API key")?;
        let mut found = None;
        for key in &self.keys {
            if key.matches(presented) {
                found = Some(key);
            }
        }
        found.ok_or("unknown API key")
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(API_KEY_HEADER) {
        return value.to_str().ok();
    }
    let authorization = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    authorization.strip_prefix("Bearer ")
}

async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if guard.open_paths.iter().any(|p| p == request.uri().path()) {
        return next.run(request).await;
    }
    let key = match guard.caller(request.headers()) {
        Ok(key) => key,
        Err(reason) => {
            metrics::counter!("http_unauthorized_total").increment(1);
            return refusal(StatusCode::UNAUTHORIZED, "unauthorized", reason);
        }
    };
    if let Some(wait) = guard.limiter.take(&key.name).await {
        metrics::counter!("http_rate_limited_total", "key" => key.name.clone()).increment(1);
        let mut response = refusal(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this API key",
        );
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    next.run(request).await
}

fn refusal(status: StatusCode, code: &str, reason: &str) -> Response {
    let mut response = (status, Json(json!({"error": code, "reason": reason}))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
    }
    response
}

/// Refills the bucket for the time since it was last touched (server clock), takes a
/// token if there is one, and returns `{1, 0}` or `{0, milliseconds until a token}`.
/// The key expires once a full bucket would have refilled, so idle keys cost nothing.
const TOKEN_BUCKET: &str = r"
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed, wait = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
";

struct Limiter {
    redis_url: String,
    connection: OnceCell<ConnectionManager>,
    script: redis::Script,
    limit: RateLimit,
}

impl Limiter {
    /// `None` when the request may go on; how long to wait otherwise. Redis failures
    /// let the request through (see the module doc).
    async fn take(&self, key_name: &str) -> Option<std::time::Duration> {
        match self.try_take(key_name).await {
            Ok(wait) => wait,
            Err(err) => {
                tracing::warn!(error = %err, "rate limiter unavailable, request let through");
                metrics::counter!("rate_limiter_errors_total").increment(1);
                None
            }
        }
    }

    async fn try_take(&self, key_name: &str) -> redis::RedisResult<Option<std::time::Duration>> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                ConnectionManager::new(redis::Client::open(self.redis_url.as_str())?).await
            })
            .await?;
        let (allowed, wait_ms): (i64, i64) = self
            .script
            .key(format!("ratelimit:{key_name}"))
            .arg(self.limit.burst)
            .arg(self.limit.per_second)
            .invoke_async(&mut connection.clone())
            .await?;
        Ok((allowed == 0).then(|| std::time::Duration::from_millis(wait_ms.max(1) as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_as_named_secrets() {
        let keys = parse_keys("demo:s3cret, ops:other").expect("valid keys");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].name, "ops");
        assert!(keys[0].matches("s3cret"));
        assert!(!keys[0].matches("s3cre"));
    }

    #[test]
    fn a_key_without_a_name_or_a_secret_stops_start_up() {
        assert!(parse_keys("justasecret").is_err());
        assert!(parse_keys("name:").is_err());
        assert!(parse_keys(":secret").is_err());
        assert!(parse_keys("").expect("no keys").is_empty());
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let settings = AccessSettings {
            api_keys: parse_keys("demo:s3cret").expect("valid"),
            outgoing_key: Some("other-s3cret".to_string()),
            ..AccessSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("demo"));
        assert!(!shown.contains("s3cret"));
    }

    #[test]
    fn a_key_is_found_in_either_header() {
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY_HEADER, HeaderValue::from_static("k1"));
        assert_eq!(presented_key(&headers), Some("k1"));
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k2"));
        assert_eq!(presented_key(&bearer), Some("k2"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
