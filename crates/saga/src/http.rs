//! The saga's HTTP API: `GET /sagas/{order_id}`, the saga's state and its timeline
//! (each input taken, command sent and outcome, with its time), beside `/health` and
//! `/metrics`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{operational_routes, ApiError, Health};
use serde::Serialize;
use sqlx::{PgPool, Row};

use crate::domain::Saga;

#[derive(Debug, Serialize)]
pub struct SagaView {
    pub order_id: String,
    pub status: String,
    pub current_step: Option<String>,
    pub attempt: u32,
    pub deadline: Option<DateTime<Utc>>,
    pub failure: Option<String>,
    pub correlation_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Serialize)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub step: Option<String>,
    pub command_id: Option<String>,
    pub message: String,
    pub detail: serde_json::Value,
}

/// The API with the operational routes merged in.
pub fn app(pool: PgPool, health: Health) -> Router {
    Router::new()
        .route("/sagas/{order_id}", get(saga))
        .with_state(pool)
        .merge(operational_routes(health))
}

async fn saga(
    State(pool): State<PgPool>,
    Path(order_id): Path<String>,
) -> Result<Json<SagaView>, ApiError> {
    let unavailable = |err: sqlx::Error| ApiError::Unavailable(err.to_string());
    let row = sqlx::query("SELECT state, created_at, updated_at FROM sagas WHERE order_id = $1")
        .bind(&order_id)
        .fetch_optional(&pool)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| ApiError::NotFound(format!("no saga for order {order_id}")))?;
    let state: serde_json::Value = row.try_get("state").map_err(unavailable)?;
    let saga: Saga = serde_json::from_value(state)
        .map_err(|err| ApiError::Unavailable(format!("saga {order_id} unreadable: {err}")))?;
    Ok(Json(SagaView {
        status: saga.status.as_str().to_string(),
        current_step: saga.current.map(|step| step.name().to_string()),
        attempt: saga.attempt,
        deadline: saga.deadline,
        failure: saga.failure,
        correlation_id: saga.correlation_id,
        created_at: row.try_get("created_at").map_err(unavailable)?,
        updated_at: row.try_get("updated_at").map_err(unavailable)?,
        timeline: timeline(&pool, &order_id).await.map_err(unavailable)?,
        order_id,
    }))
}

async fn timeline(pool: &PgPool, order_id: &str) -> Result<Vec<TimelineEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT at, kind, step, command_id, message, detail FROM saga_timeline \
         WHERE order_id = $1 ORDER BY id",
    )
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TimelineEntry {
                at: row.try_get("at")?,
                kind: row.try_get("kind")?,
                step: row.try_get("step")?,
                command_id: row.try_get("command_id")?,
                message: row.try_get("message")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}
