//! The reply to a command, its record in `command_log`, and its delivery on `reply_to`.

use lapin::message::Delivery;
use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Channel};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, Row, Transaction};

use crate::store::CommandEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    Accepted,
    Rejected,
}

impl ReplyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyError {
    pub code: String,
    pub message: String,
}

/// The answer to one command id; the same id always gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    pub command_id: String,
    pub status: ReplyStatus,
    pub aggregate_id: Option<String>,
    pub version: Option<i64>,
    pub events: Vec<String>,
    pub error: Option<ReplyError>,
}

impl CommandReply {
    /// An acceptance listing the events the command appended; the version is the
    /// aggregate's sequence after them.
    pub fn accepted(command_id: &str, aggregate_id: &str, events: &[CommandEvent]) -> Self {
        let version = events
            .iter()
            .filter(|(id, _, _)| id == aggregate_id)
            .map(|(_, sequence, _)| *sequence)
            .max();
        Self {
            command_id: command_id.to_string(),
            status: ReplyStatus::Accepted,
            aggregate_id: Some(aggregate_id.to_string()),
            version,
            events: events
                .iter()
                .map(|(_, _, event_type)| event_type.clone())
                .collect(),
            error: None,
        }
    }

    pub fn rejected(
        command_id: &str,
        aggregate_id: Option<&str>,
        code: &str,
        message: &str,
    ) -> Self {
        Self {
            command_id: command_id.to_string(),
            status: ReplyStatus::Rejected,
            aggregate_id: aggregate_id.map(str::to_string),
            version: None,
            events: Vec::new(),
            error: Some(ReplyError {
                code: code.to_string(),
                message: message.to_string(),
            }),
        }
    }
}

/// The reply already given to `command_id`, if any.
pub(super) async fn recorded(
    tx: &mut Transaction<'_, Postgres>,
    command_id: &str,
) -> Result<Option<CommandReply>, sqlx::Error> {
    let row = sqlx::query("SELECT reply FROM command_log WHERE command_id = $1")
        .bind(command_id)
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let reply: serde_json::Value = row.try_get("reply")?;
    Ok(serde_json::from_value(reply).ok())
}

/// Records a final reply. Replies to messages without a command id are not recorded:
/// there is no id to find them by.
pub(super) async fn record(
    tx: &mut Transaction<'_, Postgres>,
    reply: &CommandReply,
    command: &str,
) -> Result<(), sqlx::Error> {
    if reply.command_id.is_empty() {
        return Ok(());
    }
    let json = serde_json::to_value(reply).unwrap_or_default();
    sqlx::query(
        "INSERT INTO command_log (command_id, command, reply) VALUES ($1, $2, $3) \
         ON CONFLICT (command_id) DO NOTHING",
    )
    .bind(&reply.command_id)
    .bind(command)
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sends `reply` to the delivery's `reply_to` queue; returns whether anyone was there
/// to answer. A lost reply is harmless: resending the command id gets the same one.
pub(super) async fn send(channel: &Channel, delivery: &Delivery, reply: &CommandReply) -> bool {
    let Some(reply_to) = delivery.properties.reply_to().as_ref() else {
        return false;
    };
    let correlation = delivery
        .properties
        .correlation_id()
        .clone()
        .unwrap_or_else(|| reply.command_id.as_str().into());
    let body = match serde_json::to_vec(reply) {
        Ok(body) => body,
        Err(_) => return false,
    };
    // Persistent: a durable reply queue (a saga's) keeps it across a broker restart.
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_correlation_id(correlation)
        .with_delivery_mode(2);
    // Bounded: lapin may never resolve a publish whose connection died under it, and
    // the consumer would wait on it for good instead of reconnecting.
    let publish = channel.basic_publish(
        "".into(),
        reply_to.as_str().into(),
        BasicPublishOptions::default(),
        &body,
        properties,
    );
    let published = crate::broker::bounded("sending the reply", publish).await;
    if let Err(err) = &published {
        tracing::warn!(error = %err, "reply could not be sent");
    }
    published.is_ok()
}
