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

/// An event as published on the `events` exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
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
    pub payload: serde_json::Value,
}

impl EventEnvelope {
    /// The routing key on the `events` exchange: `<service>.<AggregateType>.<EventType>`.
    pub fn routing_key(&self) -> String {
        format!(
            "{}.{}.{}",
            self.service, self.aggregate_type, self.event_type
        )
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

/// cqrs-es stores an event enum externally tagged (`{"StockAdded": {...}}`); the wire
/// contract carries only the inner object, since `event_type` already names the variant.
pub fn unwrap_payload(event_type: &str, payload: serde_json::Value) -> serde_json::Value {
    match payload {
        serde_json::Value::Object(mut map) if map.len() == 1 && map.contains_key(event_type) => {
            map.remove(event_type).unwrap_or(serde_json::Value::Null)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_externally_tagged_payload_is_unwrapped() {
        let stored = json!({"StockAdded": {"sku": "A", "quantity": 3}});
        assert_eq!(
            unwrap_payload("StockAdded", stored),
            json!({"sku": "A", "quantity": 3})
        );
    }

    #[test]
    fn a_payload_of_another_shape_is_kept() {
        let stored = json!({"sku": "A"});
        assert_eq!(unwrap_payload("StockAdded", stored.clone()), stored);
    }
}
