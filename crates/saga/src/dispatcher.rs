//! Sends the saga's commands: reads `saga_outbox` rows not yet published, oldest first,
//! publishes each to the `commands` exchange (persistent, mandatory, with publisher
//! confirms, `reply_to` = `saga.replies`, the command id as `message_id`, correlation
//! and causation ids as headers), and marks it published only once the broker has
//! confirmed it. A crash between the confirm and the mark publishes the row again:
//! the target service's command log answers the same command id once.
//!
//! Rows are picked by "not yet published", not by position, so a row whose transaction
//! commits late is never skipped. An unroutable command (its service has not declared
//! its queue yet) stays unpublished and is tried again after a pause.

use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use platform::broker::{self, COMMANDS_EXCHANGE};
use platform::wake::Wake;
use sqlx::{PgPool, Row};
use tokio_util::sync::CancellationToken;

use crate::inputs::REPLIES_QUEUE;

/// One command waiting to be sent.
struct Pending {
    id: i64,
    command_id: String,
    routing_key: String,
    body: serde_json::Value,
    correlation_id: String,
    causation_id: String,
}

#[derive(Debug, thiserror::Error)]
enum DispatchError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("no queue takes {0} yet")]
    Unroutable(String),
    #[error("the broker refused {0}")]
    Nacked(String),
}

pub struct Dispatcher {
    pool: PgPool,
    poll: Duration,
    /// The engine's signal that a command was queued ([`crate::engine::Engine::queued`]).
    queued: Wake,
}

impl Dispatcher {
    pub fn new(pool: PgPool, poll: Duration, queued: Wake) -> Self {
        Self { pool, poll, queued }
    }

    /// Publishes until `stop` is cancelled, reconnecting after failures.
    pub async fn run(self, amqp_url: String, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let session = tokio::select! {
                () = stop.cancelled() => return,
                session = self.session(&amqp_url, &stop) => session,
            };
            if let Err(err) = session {
                tracing::warn!(error = %err, "saga dispatcher paused");
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn session(&self, amqp_url: &str, stop: &CancellationToken) -> Result<(), DispatchError> {
        let connection = broker::connect(amqp_url, "saga-dispatcher", 5).await?;
        let channel = broker::bounded("opening the channel", async {
            let channel = connection.create_channel().await?;
            broker::declare_exchanges(&channel).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(channel)
        })
        .await?;
        while !stop.is_cancelled() {
            let published = self.publish_batch(&channel).await?;
            if published == 0 {
                self.queued.idle(self.poll).await;
            }
        }
        broker::close(&connection, "saga dispatcher stopping").await;
        Ok(())
    }

    /// Publishes the oldest pending rows, one confirmed publish each; returns how many.
    async fn publish_batch(&self, channel: &Channel) -> Result<usize, DispatchError> {
        let rows = sqlx::query(
            "SELECT id, command_id, routing_key, body, correlation_id, causation_id \
             FROM saga_outbox WHERE published_at IS NULL ORDER BY id LIMIT 100",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut published = 0;
        for row in rows {
            let pending = Pending {
                id: row.try_get("id")?,
                command_id: row.try_get("command_id")?,
                routing_key: row.try_get("routing_key")?,
                body: row.try_get("body")?,
                correlation_id: row.try_get("correlation_id")?,
                causation_id: row.try_get("causation_id")?,
            };
            publish(channel, &pending).await?;
            sqlx::query("UPDATE saga_outbox SET published_at = now() WHERE id = $1")
                .bind(pending.id)
                .execute(&self.pool)
                .await?;
            metrics::counter!("saga_commands_sent_total", "command" => pending.routing_key.clone())
                .increment(1);
            published += 1;
        }
        Ok(published)
    }
}

async fn publish(channel: &Channel, pending: &Pending) -> Result<(), DispatchError> {
    let body = serde_json::to_vec(&pending.body).unwrap_or_default();
    let confirm = channel
        .basic_publish(
            COMMANDS_EXCHANGE.into(),
            pending.routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &body,
            properties(pending),
        )
        .await?;
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(DispatchError::Unroutable(pending.routing_key.clone())),
        Confirmation::Nack(_) => Err(DispatchError::Nacked(pending.command_id.clone())),
    }
}

fn properties(pending: &Pending) -> BasicProperties {
    let mut headers = FieldTable::default();
    for (name, value) in [
        ("correlation_id", &pending.correlation_id),
        ("causation_id", &pending.causation_id),
    ] {
        headers.insert(name.into(), AMQPValue::LongString(value.as_str().into()));
    }
    BasicProperties::default()
        .with_message_id(pending.command_id.as_str().into())
        .with_correlation_id(pending.correlation_id.as_str().into())
        .with_reply_to(REPLIES_QUEUE.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_headers(headers)
}
