//! HTTP pieces every service serves: `GET /health` (each dependency's state),
//! `GET /metrics` (Prometheus text), and the JSON error type of the APIs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Named dependency checks, run on every `GET /health`.
#[derive(Clone, Default)]
pub struct Health {
    checks: Vec<(String, Check)>,
}

impl Health {
    pub fn with_check<F, Fut>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: Check = Arc::new(move || Box::pin(check()));
        self.checks.push((name.to_string(), check));
        self
    }

    /// A PostgreSQL pool answering `SELECT 1`.
    pub fn with_postgres(self, name: &str, pool: sqlx::PgPool) -> Self {
        self.with_check(name, move || {
            let pool = pool.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }

    /// A flag a background task keeps up to date (a broker session, say).
    pub fn with_flag(self, name: &str, up: Arc<std::sync::atomic::AtomicBool>) -> Self {
        self.with_check(name, move || {
            let up = up.load(std::sync::atomic::Ordering::Relaxed);
            async move { up.then_some(()).ok_or_else(|| "not connected".to_string()) }
        })
    }

    async fn report(&self) -> (bool, serde_json::Value) {
        let mut healthy = true;
        let mut report = serde_json::Map::new();
        for (name, check) in &self.checks {
            let state = match tokio::time::timeout(Duration::from_secs(2), check()).await {
                Ok(Ok(())) => json!({"status": "up"}),
                Ok(Err(error)) => json!({"status": "down", "error": error}),
                Err(_) => json!({"status": "down", "error": "timed out"}),
            };
            healthy &= state["status"] == "up";
            report.insert(name.clone(), state);
        }
        (healthy, serde_json::Value::Object(report))
    }
}

/// `/health` and `/metrics`, to merge into a service's router.
pub fn operational_routes(health: Health) -> Router {
    let metrics = crate::telemetry::metrics_handle();
    Router::new()
        .route("/health", get(health_handler).with_state(health))
        .route(
            "/metrics",
            get(move || std::future::ready(metrics.render())),
        )
}

async fn health_handler(State(health): State<Health>) -> Response {
    let (healthy, dependencies) = health.report().await;
    let status = if healthy { "up" } else { "down" };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({"status": status, "dependencies": dependencies})),
    )
        .into_response()
}

/// Errors an HTTP API returns. Internal causes are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("a dependency is unavailable")]
    Unavailable(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unavailable(cause) => {
                tracing::error!(cause, "request failed on a dependency");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
        };
        (
            status,
            Json(json!({"error": code, "reason": self.to_string()})),
        )
            .into_response()
    }
}
