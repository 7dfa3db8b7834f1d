//! Applies one input to one saga, atomically: in a single transaction the input is
//! de-duplicated (events, by id, in the inbox), the saga row is locked and decided on,
//! and the new state, its timeline lines and the command to send (in `saga_outbox`)
//! are written. A crash before the commit leaves no trace, so the redelivered input is
//! decided again; a crash after it is harmless, since the input is then a duplicate.

use chrono::Utc;
use platform::wake::Wake;
use serde_json::json;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::domain::{self, Decision, Input, OrderFacts, Saga, Step, Timing};

/// The inbox name of the saga's event consumer.
const CONSUMER: &str = "saga";

/// What caused an input, for de-duplication and for the causation id of the commands
/// it leads to.
#[derive(Debug, Clone)]
pub struct Cause {
    /// `event`, `reply` or `deadline`, for the timeline.
    pub kind: &'static str,
    /// The id of the message (event id, command id of the reply) or of the deadline.
    pub id: String,
    /// An event's id, claimed in the inbox so the event is applied once.
    pub event_id: Option<Uuid>,
    /// The step a reply answers.
    pub step: Option<Step>,
}

/// How an input was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Delivered before (same event id, or a saga already started for the order).
    Duplicate,
    /// Stale or irrelevant to the saga's current step.
    Ignored,
    /// No saga runs for the order.
    UnknownSaga,
}

impl Handled {
    pub fn as_str(self) -> &'static str {
        match self {
            Handled::Applied => "applied",
            Handled::Duplicate => "duplicate",
            Handled::Ignored => "ignored",
            Handled::UnknownSaga => "unknown_saga",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A saga row that does not decode: a bug or a manual edit, never retried.
    #[error("saga state of {order_id} is unreadable: {reason}")]
    CorruptState { order_id: String, reason: String },
    #[error("saga store unavailable: {0}")]
    Store(#[from] sqlx::Error),
}

/// The saga store and the decisions, put together.
#[derive(Clone)]
pub struct Engine {
    pool: PgPool,
    timing: Timing,
    /// The dispatcher's wake-up, signalled after a decision is committed.
    queued: Wake,
}

impl Engine {
    pub fn new(pool: PgPool, timing: Timing) -> Self {
        Self {
            pool,
            timing,
            queued: Wake::default(),
        }
    }

    /// What the engine signals once a decision (and the command it sends) is committed,
    /// for the [`crate::dispatcher::Dispatcher`] to wait on.
    pub fn queued(&self) -> Wake {
        self.queued.clone()
    }

    /// Starts the saga of a placed order, once per order.
    pub async fn start(
        &self,
        order: OrderFacts,
        correlation_id: String,
        cause: Cause,
    ) -> Result<Handled, EngineError> {
        let mut tx = self.pool.begin().await?;
        if !claim(&mut tx, &cause).await? {
            return Ok(Handled::Duplicate);
        }
        let order_id = order.order_id.clone();
        let decision = domain::start(order, correlation_id, &self.timing, Utc::now());
        let created = sqlx::query(
            "INSERT INTO sagas (order_id, state, status, deadline, correlation_id) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(&order_id)
        .bind(state_json(&decision.saga)?)
        .bind(decision.saga.status.as_str())
        .bind(decision.saga.deadline)
        .bind(&decision.saga.correlation_id)
        .execute(&mut *tx)
        .await?;
        if created.rows_affected() == 0 {
            return Ok(Handled::Duplicate);
        }
        record(&mut tx, &decision, &cause).await?;
        tx.commit().await?;
        self.queued.signal();
        Ok(Handled::Applied)
    }

    /// Applies `input` to the saga of `order_id`.
    pub async fn handle(
        &self,
        order_id: &str,
        input: Input,
        cause: Cause,
    ) -> Result<Handled, EngineError> {
        let mut tx = self.pool.begin().await?;
        if !claim(&mut tx, &cause).await? {
            return Ok(Handled::Duplicate);
        }
        let Some(saga) = load_for_update(&mut tx, order_id).await? else {
            return Ok(Handled::UnknownSaga);
        };
        let Some(decision) = domain::decide(&saga, input, &self.timing, Utc::now()) else {
            tx.commit().await?;
            return Ok(Handled::Ignored);
        };
        sqlx::query(
            "UPDATE sagas SET state = $2, status = $3, deadline = $4, \
             version = version + 1, updated_at = now() WHERE order_id = $1",
        )
        .bind(order_id)
        .bind(state_json(&decision.saga)?)
        .bind(decision.saga.status.as_str())
        .bind(decision.saga.deadline)
        .execute(&mut *tx)
        .await?;
        record(&mut tx, &decision, &cause).await?;
        tx.commit().await?;
        self.queued.signal();
        if decision.saga.status.is_terminal() {
            let status = decision.saga.status.as_str();
            metrics::counter!("sagas_finished_total", "status" => status).increment(1);
            tracing::info!(order_id, status, "saga finished");
        }
        Ok(Handled::Applied)
    }
}

async fn claim(tx: &mut Transaction<'_, Postgres>, cause: &Cause) -> Result<bool, sqlx::Error> {
    match cause.event_id {
        Some(event_id) => platform::inbox::claim(tx, CONSUMER, event_id).await,
        None => Ok(true),
    }
}

async fn load_for_update(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
) -> Result<Option<Saga>, EngineError> {
    let row = sqlx::query("SELECT state FROM sagas WHERE order_id = $1 FOR UPDATE")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let state: serde_json::Value = row.try_get("state")?;
    serde_json::from_value(state)
        .map(Some)
        .map_err(|err| EngineError::CorruptState {
            order_id: order_id.to_string(),
            reason: err.to_string(),
        })
}

fn state_json(saga: &Saga) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(saga).map_err(|err| EngineError::CorruptState {
        order_id: saga.order.order_id.clone(),
        reason: err.to_string(),
    })
}

/// Appends the decision's timeline lines and enqueues its command.
async fn record(
    tx: &mut Transaction<'_, Postgres>,
    decision: &Decision,
    cause: &Cause,
) -> Result<(), sqlx::Error> {
    let saga = &decision.saga;
    let order_id = saga.order.order_id.as_str();
    let detail = json!({"cause": cause.id, "status": saga.status.as_str()});
    let step = cause.step.map(Step::name);
    timeline(tx, order_id, cause.kind, step, None, &decision.note, detail).await?;
    let Some(step) = decision.send else {
        return Ok(());
    };
    let command_id = step.command_id(order_id);
    let body = step.body(&saga.order, saga.failure.as_deref());
    sqlx::query(
        "INSERT INTO saga_outbox (command_id, routing_key, body, correlation_id, causation_id) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&command_id)
    .bind(step.routing_key())
    .bind(&body)
    .bind(&saga.correlation_id)
    .bind(&cause.id)
    .execute(&mut **tx)
    .await?;
    let message = format!("{} (attempt {})", step.routing_key(), saga.attempt);
    let detail = json!({"body": body, "causation_id": cause.id});
    timeline(
        tx,
        order_id,
        "command",
        Some(step.name()),
        Some(&command_id),
        &message,
        detail,
    )
    .await
}

async fn timeline(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    kind: &str,
    step: Option<&str>,
    command_id: Option<&str>,
    message: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO saga_timeline (order_id, kind, step, command_id, message, detail) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(order_id)
    .bind(kind)
    .bind(step)
    .bind(command_id)
    .bind(message)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
