//! The hash of one chain link: SHA-256 over the previous link's hash and a canonical
//! encoding of the event.
//!
//! Every field is length-prefixed (8 bytes, big-endian) so no two different events
//! encode to the same bytes, whatever their contents. JSON is written canonically
//! (object keys sorted, no whitespace) by this module rather than by `serde_json`'s
//! serializer: with its `preserve_order` feature (on in this workspace, off in a build
//! of some crates alone) a map keeps the order of the stored text, so two binaries of
//! the same code could otherwise hash one event differently. The cost is that a rewrite
//! which only reorders keys or changes whitespace in the `json` column is not seen: it
//! does not change what the event says.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::store::StoredEvent;

/// The `prev` of the first link.
pub const GENESIS: [u8; 32] = [0; 32];

/// Names the encoding, so a future change of it cannot collide with this one.
const DOMAIN: &[u8] = b"commerce/event-chain/v1";

/// The hash of `event` chained to `prev` (the previous link's hash, or [`GENESIS`]).
pub fn event_hash(prev: &[u8; 32], event: &StoredEvent) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    let metadata: Map<String, Value> = event
        .metadata
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    let payload = canonical_json(&event.payload);
    let metadata = canonical_json(&Value::Object(metadata));
    let sequence = event.sequence.to_be_bytes();
    let recorded_at = event.recorded_at.timestamp_micros().to_be_bytes();
    let fields: [&[u8]; 10] = [
        DOMAIN,
        event.event_id.as_bytes(),
        event.aggregate_type.as_bytes(),
        event.aggregate_id.as_bytes(),
        &sequence,
        event.event_type.as_bytes(),
        event.event_version.as_bytes(),
        payload.as_bytes(),
        metadata.as_bytes(),
        &recorded_at,
    ];
    for field in fields {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hasher.finalize().into()
}

/// `value` as JSON text with object keys sorted and no insignificant whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::{TimeZone, Utc};
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::store::Cursor;

    fn event() -> StoredEvent {
        StoredEvent {
            event_id: Uuid::from_u128(7),
            aggregate_type: "Product".into(),
            aggregate_id: "p-1".into(),
            sequence: 3,
            event_type: "StockAdded".into(),
            event_version: "1".into(),
            payload: json!({"StockAdded": {"quantity": 5, "note": "a"}}),
            metadata: HashMap::from([("command_id".into(), "c-1".into())]),
            cursor: Cursor::default(),
            recorded_at: Utc
                .timestamp_micros(1_700_000_000_123_456)
                .single()
                .unwrap_or_default(),
        }
    }

    #[test]
    fn changing_any_field_changes_the_hash() {
        let original = event_hash(&GENESIS, &event());
        let changes: [fn(&mut StoredEvent); 9] = [
            |e| e.event_id = Uuid::from_u128(8),
            |e| e.aggregate_type = "Order".into(),
            |e| e.aggregate_id = "p-2".into(),
            |e| e.sequence = 4,
            |e| e.event_type = "StockRemoved".into(),
            |e| e.event_version = "2".into(),
            |e| e.payload = json!({"StockAdded": {"quantity": 6, "note": "a"}}),
            |e| {
                e.metadata.insert("command_id".into(), "c-2".into());
            },
            |e| e.recorded_at += chrono::Duration::microseconds(1),
        ];
        for (index, change) in changes.iter().enumerate() {
            let mut altered = event();
            change(&mut altered);
            assert_ne!(event_hash(&GENESIS, &altered), original, "change {index}");
        }
    }

    #[test]
    fn the_hash_depends_on_the_previous_link() {
        let event = event();
        let first = event_hash(&GENESIS, &event);
        assert_ne!(event_hash(&first, &event), first);
        assert_eq!(event_hash(&GENESIS, &event), first, "deterministic");
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = event();
        let mut b = event();
        (a.aggregate_type, a.aggregate_id) = ("Pro".into(), "ductp-1".into());
        (b.aggregate_type, b.aggregate_id) = ("Product".into(), "p-1".into());
        assert_ne!(event_hash(&GENESIS, &a), event_hash(&GENESIS, &b));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value: Value = serde_json::from_str(r#"{"b": [{"y": 1, "x": "\"q\""}], "a": null}"#)
            .unwrap_or_default();
        assert_eq!(
            canonical_json(&value),
            r#"{"a":null,"b":[{"x":"\"q\"","y":1}]}"#
        );
    }
}
