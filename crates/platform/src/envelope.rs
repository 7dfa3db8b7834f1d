//! The JSON envelope in which every event leaves its store, and the metadata that
//! travels with commands and events (correlation, causation, command id).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Metadata key: the id shared by every message of one business flow.
pub const CORRELATION_ID: &str = "correlation_id";
/// Metadata key: the id of the message that caused this one.
pub const CAUSATION_ID: &str = "causation_id";
/// Metadata key: the id of the command whose execution appended the event.
pub const COMMAND_ID: &str = "command_id";

/// An event as published on the `events` exchange. The payload is a tree by default;
/// the feeds carry it as text ([`crate::payload`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope<P = serde_json::Value> {
    pub event_id: Uuid,
    pub service: String,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub global_position: i64,
    pub event_type: String,
    pub event_version: String,
    pub occurred_at: DateTime<Utc>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub payload: P,
}

impl<P> EventEnvelope<P> {
    /// The routing key on the `events` exchange: `<service>.<AggregateType>.<EventType>`.
    pub fn routing_key(&self) -> String {
        format!(
            "{}.{}.{}",
            self.service, self.aggregate_type, self.event_type
        )
    }

    /// The same envelope with its payload in another form.
    pub fn map_payload<Q>(self, into: impl FnOnce(P) -> Q) -> EventEnvelope<Q> {
        EventEnvelope {
            event_id: self.event_id,
            service: self.service,
            aggregate_type: self.aggregate_type,
            aggregate_id: self.aggregate_id,
            sequence: self.sequence,
            global_position: self.global_position,
            event_type: self.event_type,
            event_version: self.event_version,
            occurred_at: self.occurred_at,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            payload: into(self.payload),
        }
    }
}

/// Correlation data carried from a command into the events it produces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageContext {
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: String,
}

impl MessageContext {
    /// The cqrs-es metadata map stored beside each event.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            (COMMAND_ID.to_string(), self.command_id.clone()),
            (CORRELATION_ID.to_string(), self.correlation_id.clone()),
            (CAUSATION_ID.to_string(), self.causation_id.clone()),
        ])
    }
}
