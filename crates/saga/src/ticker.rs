//! The saga's clock: every tick it finds the sagas whose deadline has passed and gives
//! each a [`Input::DeadlinePassed`], which resends a step that got no reply or gives up
//! a payment the provider did not answer in time. Deadlines live in the saga rows, so
//! a restarted saga process finds them again.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::domain::Input;
use crate::engine::{Cause, Engine};

pub struct Ticker {
    pool: PgPool,
    engine: Engine,
    every: Duration,
}

impl Ticker {
    pub fn new(pool: PgPool, engine: Engine, every: Duration) -> Self {
        Self {
            pool,
            engine,
            every,
        }
    }

    /// Ticks until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
            if let Err(err) = self.tick().await {
                tracing::warn!(error = %err, "saga deadlines not checked");
            }
        }
    }

    async fn tick(&self) -> Result<(), crate::engine::EngineError> {
        let now = Utc::now();
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT order_id FROM sagas WHERE deadline <= $1 ORDER BY deadline LIMIT 100",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        for order_id in due {
            let cause = Cause {
                kind: "deadline",
                id: format!("deadline:{order_id}:{}", now.timestamp_millis()),
                event_id: None,
                step: None,
            };
            // One unreadable saga must not hold up the others' deadlines.
            if let Err(err) = self
                .engine
                .handle(&order_id, Input::DeadlinePassed, cause)
                .await
            {
                tracing::warn!(%order_id, error = %err, "deadline not applied");
            }
        }
        Ok(())
    }
}
