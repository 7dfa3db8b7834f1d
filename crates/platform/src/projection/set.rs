//! The projections of one service, run together: passes for each, wake-ups by source,
//! and the operator's routes to watch and rebuild them.
//!
//! ```text
//! GET  /projections                 → [{name, version, rebuild: {state, total, done, events_per_second, eta_seconds}}]
//! GET  /projections/{name}          → one of those
//! POST /projections/{name}/rebuild  → 202 {name, state}; 409 when a rebuild already runs; 404 unknown
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{Bookkeeping, ProgressReport, Projection, RunError, Runner};
use crate::http::ApiError;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A runner, whatever its projection and store.
pub trait AnyRunner: Send + Sync {
    fn name(&self) -> &'static str;
    fn reads(&self, source: &str) -> bool;
    fn wake(&self);
    fn run(&self, stop: CancellationToken) -> BoxFuture<'_, ()>;
    fn rebuild(&self) -> BoxFuture<'_, Result<u32, RunError>>;
    fn is_rebuilding(&self) -> bool;
    fn version(&self) -> BoxFuture<'_, Result<u32, RunError>>;
    fn report(&self) -> ProgressReport;
}

impl<P: Projection, B: Bookkeeping> AnyRunner for Runner<P, B> {
    fn name(&self) -> &'static str {
        self.projection().name()
    }
    fn reads(&self, source: &str) -> bool {
        Runner::reads(self, source)
    }
    fn wake(&self) {
        Runner::wake(self)
    }
    fn run(&self, stop: CancellationToken) -> BoxFuture<'_, ()> {
        Box::pin(Runner::run(self, stop))
    }
    fn rebuild(&self) -> BoxFuture<'_, Result<u32, RunError>> {
        Box::pin(Runner::rebuild(self))
    }
    fn is_rebuilding(&self) -> bool {
        Runner::is_rebuilding(self)
    }
    fn version(&self) -> BoxFuture<'_, Result<u32, RunError>> {
        Box::pin(Runner::current_version(self))
    }
    fn report(&self) -> ProgressReport {
        self.progress.report()
    }
}

/// Every projection of a service.
#[derive(Clone, Default)]
pub struct ProjectionSet {
    runners: Vec<Arc<dyn AnyRunner>>,
}

#[derive(Debug, Serialize)]
struct Status {
    name: &'static str,
    version: Option<u32>,
    rebuild: ProgressReport,
}

impl ProjectionSet {
    pub fn with(mut self, runner: impl AnyRunner + 'static) -> Self {
        self.runners.push(Arc::new(runner));
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.runners.iter().map(|r| r.name()).collect()
    }

    fn find(&self, name: &str) -> Option<Arc<dyn AnyRunner>> {
        self.runners.iter().find(|r| r.name() == name).cloned()
    }

    /// Wakes the projections that read `source`.
    pub fn wake(&self, source: &str) {
        self.runners
            .iter()
            .filter(|r| r.reads(source))
            .for_each(|r| r.wake());
    }

    /// Runs every projection until `stop` is cancelled.
    pub async fn run(&self, stop: CancellationToken) {
        let runs = self.runners.iter().map(|r| r.run(stop.clone()));
        futures::future::join_all(runs).await;
    }

    /// `/projections` routes.
    pub fn routes(&self) -> Router {
        Router::new()
            .route("/projections", get(list))
            .route("/projections/{name}", get(one))
            .route("/projections/{name}/rebuild", post(rebuild))
            .with_state(self.clone())
    }
}

async fn status(runner: &dyn AnyRunner) -> Status {
    Status {
        name: runner.name(),
        version: runner.version().await.ok(),
        rebuild: runner.report(),
    }
}

async fn list(State(set): State<ProjectionSet>) -> Json<Vec<Status>> {
    let mut all = Vec::new();
    for runner in &set.runners {
        all.push(status(runner.as_ref()).await);
    }
    Json(all)
}

async fn one(
    State(set): State<ProjectionSet>,
    Path(name): Path<String>,
) -> Result<Json<Status>, ApiError> {
    let runner = set
        .find(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no projection {name}")))?;
    Ok(Json(status(runner.as_ref()).await))
}

/// Starts a rebuild in the background; its progress shows on `GET /projections/{name}`.
async fn rebuild(State(set): State<ProjectionSet>, Path(name): Path<String>) -> Response {
    let Some(runner) = set.find(&name) else {
        return ApiError::NotFound(format!("no projection {name}")).into_response();
    };
    if runner.is_rebuilding() {
        let body =
            json!({"error": "conflict", "reason": format!("{name} is already being rebuilt")});
        return (StatusCode::CONFLICT, Json(body)).into_response();
    }
    tokio::spawn(async move {
        match runner.rebuild().await {
            Ok(version) => tracing::info!(projection = runner.name(), version, "rebuild done"),
            Err(err) => tracing::error!(projection = runner.name(), error = %err, "rebuild failed"),
        }
    });
    (
        StatusCode::ACCEPTED,
        Json(json!({"name": name, "state": "rebuilding"})),
    )
        .into_response()
}

/// A broker consumer that turns each delivered event into a wake-up of the projections
/// reading its service. The event itself is read from the feed, in order, so a lost,
/// repeated or reordered delivery changes nothing; an undecodable one is dead-lettered.
pub struct Wakeups(pub ProjectionSet);

impl crate::consumer::DeliveryHandler for Wakeups {
    async fn handle(
        &self,
        _channel: &lapin::Channel,
        delivery: &lapin::message::Delivery,
    ) -> crate::consumer::Disposition {
        match serde_json::from_slice::<crate::envelope::EventEnvelope>(&delivery.data) {
            Ok(event) => {
                self.0.wake(&event.service);
                crate::consumer::Disposition::Ack
            }
            Err(err) => {
                tracing::warn!(routing_key = %delivery.routing_key, error = %err,
                    "undecodable event dead-lettered");
                crate::consumer::Disposition::DeadLetter
            }
        }
    }
}
