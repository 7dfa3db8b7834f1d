//! API keys and the rate limit, through `serve_until` (what every service serves with)
//! against the real Redis: each test uses key names of its own, so buckets never mix.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use platform::access::{parse_keys, AccessSettings, RateLimit};
use platform::http::{operational_routes, Health};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A service answering `GET /orders` behind `access`; its base URL and its stop token.
async fn serve(access: AccessSettings) -> anyhow::Result<(String, CancellationToken)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let router = Router::new()
        .route("/orders", get(|| async { "[]" }))
        .merge(operational_routes(Health::default()));
    let stop = CancellationToken::new();
    let shutdown = stop.clone().cancelled_owned();
    tokio::spawn(async move {
        platform::service::serve_until(listener, router, &access, shutdown, |_| async {}).await
    });
    Ok((base, stop))
}

/// Keys `a-<run>` and `b-<run>` (secrets `secret-a`, `secret-b`), with `limit`.
fn keyed(limit: RateLimit) -> anyhow::Result<AccessSettings> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    Ok(AccessSettings {
        api_keys: parse_keys(&format!("a-{run}:secret-a,b-{run}:secret-b"))?,
        rate_limit: limit,
        ..AccessSettings::default()
    })
}

const GENEROUS: RateLimit = RateLimit {
    burst: 1_000,
    per_second: 1_000.0,
};

async fn get_with(url: &str, header: Option<(&str, &str)>) -> anyhow::Result<reqwest::Response> {
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    Ok(request.send().await?)
}

#[tokio::test]
async fn without_a_valid_key_only_health_is_served() -> anyhow::Result<()> {
    let (base, stop) = serve(keyed(GENEROUS)?).await?;
    let orders = format!("{base}/orders");
    let health = get_with(&format!("{base}/health"), None).await?;
    assert_eq!(health.status(), StatusCode::OK);
    let missing = get_with(&orders, None).await?;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let body: Value = missing.json().await?;
    assert_eq!(body["reason"], "missing API key");
    let wrong = get_with(&orders, Some(("x-api-key", "secret-c"))).await?;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let metrics = get_with(&format!("{base}/metrics"), None).await?;
    assert_eq!(metrics.status(), StatusCode::UNAUTHORIZED);
    let good = get_with(&orders, Some(("x-api-key", "secret-a"))).await?;
    assert_eq!(good.status(), StatusCode::OK);
    let bearer = get_with(&orders, Some(("authorization", "Bearer secret-b"))).await?;
    assert_eq!(bearer.status(), StatusCode::OK);
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn a_key_past_its_burst_gets_429_with_retry_after_and_other_keys_go_on() -> anyhow::Result<()>
{
    let limit = RateLimit {
        burst: 3,
        per_second: 0.5,
    };
    let (base, stop) = serve(keyed(limit)?).await?;
    let orders = format!("{base}/orders");
    for _ in 0..3 {
        let allowed = get_with(&orders, Some(("x-api-key", "secret-a"))).await?;
        assert_eq!(allowed.status(), StatusCode::OK);
    }
    let limited = get_with(&orders, Some(("x-api-key", "secret-a"))).await?;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    // One token at 0.5/s comes back within two seconds.
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");
    let other = get_with(&orders, Some(("x-api-key", "secret-b"))).await?;
    assert_eq!(other.status(), StatusCode::OK);
    let health = get_with(&format!("{base}/health"), None).await?;
    assert_eq!(health.status(), StatusCode::OK);
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn a_limited_key_is_served_again_once_its_bucket_refills() -> anyhow::Result<()> {
    let limit = RateLimit {
        burst: 1,
        per_second: 5.0,
    };
    let (base, stop) = serve(keyed(limit)?).await?;
    let orders = format!("{base}/orders");
    let key = Some(("x-api-key", "secret-a"));
    assert_eq!(get_with(&orders, key).await?.status(), StatusCode::OK);
    assert_eq!(
        get_with(&orders, key).await?.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(get_with(&orders, key).await?.status(), StatusCode::OK);
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn without_keys_configured_the_api_is_open() -> anyhow::Result<()> {
    let (base, stop) = serve(AccessSettings::default()).await?;
    let orders = get_with(&format!("{base}/orders"), None).await?;
    assert_eq!(orders.status(), StatusCode::OK);
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn an_unreachable_limiter_lets_keyed_requests_through() -> anyhow::Result<()> {
    let access = AccessSettings {
        redis_url: "redis://127.0.0.1:1".to_string(),
        ..keyed(GENEROUS)?
    };
    let (base, stop) = serve(access).await?;
    let orders = format!("{base}/orders");
    let good = get_with(&orders, Some(("x-api-key", "secret-a"))).await?;
    assert_eq!(good.status(), StatusCode::OK);
    let missing = get_with(&orders, None).await?;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    stop.cancel();
    Ok(())
}
