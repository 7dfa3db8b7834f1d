//! The outbox relay: publishes a service's events from its store to the `events`
//! exchange, in commit-safe order (see [`crate::store`]), with publisher confirms.
//!
//! The checkpoint lives in the same database as the events and advances only after
//! the broker confirmed the whole batch, so a crash re-publishes at most one batch:
//! delivery is at-least-once and consumers de-duplicate by `event_id`.

use std::future::Future;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use sqlx::{PgPool, Row};

use crate::broker::{self, EVENTS_EXCHANGE};
use crate::config::RelaySettings;
use crate::envelope::EventEnvelope;
use crate::store::{self, Cursor, StoreError};
use crate::wake::Wake;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("broker refused event {0}")]
    Nacked(uuid::Uuid),
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("checkpoint error: {0}")]
    Checkpoint(#[from] sqlx::Error),
    #[error("envelope error: {0}")]
    Envelope(#[from] serde_json::Error),
}

/// The relay of one service's store.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    service: String,
    settings: RelaySettings,
    wake: Wake,
}

impl Relay {
    pub fn new(pool: PgPool, service: impl Into<String>, settings: RelaySettings) -> Self {
        Self {
            pool,
            service: service.into(),
            settings,
            wake: Wake::default(),
        }
    }

    /// What the service's command path signals after each commit, so the relay
    /// publishes at once rather than at its next poll ([`crate::wake`]).
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// Runs until `shutdown` resolves, reconnecting to the broker after any failure.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                result = self.connect_and_publish(&amqp_url) => {
                    if let Err(err) = result {
                        tracing::error!(service = %self.service, error = %err, "relay failed, restarting");
                        metrics::counter!("relay_failures_total", "service" => self.service.clone()).increment(1);
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn connect_and_publish(&self, amqp_url: &str) -> Result<(), RelayError> {
        let _leadership = self.lead().await?;
        let name = format!("{}-relay", self.service);
        let connection = broker::connect(amqp_url, &name, 5).await?;
        let channel =
            broker::bounded("opening the channel", self.open_channel(&connection)).await?;
        loop {
            let after = self.load_checkpoint().await?;
            if self.publish_batch_after(&channel, after).await? == 0 {
                let poll = self.settings.idle_poll;
                self.wake.idle_following(&self.pool, after, poll).await?;
            }
        }
    }

    /// Waits until this relay is the only one publishing its service's store
    /// ([`store::lead`]): with several replicas of a service, the others stand by.
    async fn lead(&self) -> Result<sqlx::PgConnection, RelayError> {
        let key = format!("outbox-relay:{}", self.service);
        Ok(store::lead(&self.pool, &key).await?)
    }

    /// A channel in confirm mode, with the exchanges declared.
    pub async fn open_channel(
        &self,
        connection: &lapin::Connection,
    ) -> Result<Channel, RelayError> {
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    /// Publishes the next batch and advances the checkpoint; returns how many events
    /// were published (0 when the store had nothing new).
    pub async fn publish_next_batch(&self, channel: &Channel) -> Result<usize, RelayError> {
        let after = self.load_checkpoint().await?;
        self.publish_batch_after(channel, after).await
    }

    /// [`Self::publish_next_batch`] from `after`, the checkpoint as just loaded.
    async fn publish_batch_after(
        &self,
        channel: &Channel,
        after: Cursor,
    ) -> Result<usize, RelayError> {
        let started = Instant::now();
        let batch =
            store::read_committed_after(&self.pool, after, self.settings.batch_size).await?;
        let Some(last) = batch.last().map(|event| event.cursor) else {
            return Ok(0);
        };
        let count = batch.len();
        let envelopes: Vec<EventEnvelope> = batch
            .into_iter()
            .map(|event| event.into_envelope(&self.service))
            .collect();
        publish_confirmed(channel, &envelopes).await?;
        self.save_checkpoint(last).await?;
        let service = self.service.clone();
        metrics::counter!("relay_published_total", "service" => service.clone())
            .increment(count as u64);
        metrics::histogram!("relay_batch_seconds", "service" => service).record(started.elapsed());
        tracing::debug!(service = %self.service, count, ?last, "relay published batch");
        Ok(count)
    }

    async fn load_checkpoint(&self) -> Result<Cursor, sqlx::Error> {
        let row = sqlx::query(
            "SELECT tx_id::text::bigint AS tx_id, position FROM outbox_checkpoint WHERE relay = $1",
        )
        .bind(&self.service)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Cursor {
                tx_id: row.try_get("tx_id")?,
                position: row.try_get("position")?,
            }),
            None => Ok(Cursor::default()),
        }
    }

    async fn save_checkpoint(&self, cursor: Cursor) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox_checkpoint (relay, tx_id, position) VALUES ($1, $2::text::xid8, $3) \
             ON CONFLICT (relay) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position, \
             updated_at = now()",
        )
        .bind(&self.service)
        .bind(cursor.tx_id.to_string())
        .bind(cursor.position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Publishes every envelope, then waits for all confirms: pipelining the confirms costs
/// one round trip per batch instead of one per event.
pub async fn publish_confirmed(
    channel: &Channel,
    envelopes: &[EventEnvelope],
) -> Result<(), RelayError> {
    let mut pending = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        let body = serde_json::to_vec(envelope)?;
        let confirm = channel
            .basic_publish(
                EVENTS_EXCHANGE.into(),
                envelope.routing_key().as_str().into(),
                BasicPublishOptions::default(),
                &body,
                properties(envelope),
            )
            .await?;
        pending.push((envelope.event_id, confirm));
    }
    for (event_id, confirm) in pending {
        if !confirm.await?.is_ack() {
            return Err(RelayError::Nacked(event_id));
        }
    }
    Ok(())
}

fn properties(envelope: &EventEnvelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut put = |key: &str, value: &str| {
        headers.insert(key.into(), AMQPValue::LongString(value.into()));
    };
    put("service", &envelope.service);
    put("event_version", &envelope.event_version);
    if let Some(causation) = &envelope.causation_id {
        put("causation_id", causation);
    }
    let mut props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.event_id.to_string().as_str().into())
        .with_type(envelope.event_type.as_str().into())
        .with_timestamp(envelope.occurred_at.timestamp().max(0) as u64)
        .with_headers(headers);
    if let Some(correlation) = &envelope.correlation_id {
        props = props.with_correlation_id(correlation.as_str().into());
    }
    props
}
