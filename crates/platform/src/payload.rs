//! An event's payload as a reader holds it: a parsed tree ([`serde_json::Value`]), or
//! the JSON text as it arrived ([`RawPayload`]).
//!
//! Most readers want the tree: they look into it, hash it, change it. The projections
//! do not: they decode each payload once into a typed event, and a replay does that
//! for every event a store ever held. Building a tree first (in the feed, from the
//! database's JSON; in the reader, from the feed's), then walking it into the typed
//! event, cost more than the writes a replay makes. With [`RawPayload`] the JSON text
//! goes from PostgreSQL to the feed's response and from the response to the typed
//! event as text, checked once on each side, never built into a tree.
//!
//! [`Payload`] is what the envelope's readers (decoding, upcasting, the cqrs-es tag)
//! need from either.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

/// A payload kept as the JSON text it arrived as (valid JSON, checked when read).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawPayload(Box<RawValue>);

impl RawPayload {
    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }
}

/// Equal when the texts are: `{"a":1}` and `{ "a": 1 }` differ, as they do on the wire.
impl PartialEq for RawPayload {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// What readers of an envelope need from its payload, whichever form it is in.
pub trait Payload: Clone {
    /// The payload as a `T`.
    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T>;
    /// The payload as a tree (upcasters work on trees).
    fn to_value(&self) -> Value;
    fn from_value(value: Value) -> Self;
    /// The payload without the cqrs-es enum tag: cqrs-es stores an event enum
    /// externally tagged (`{"StockAdded": {...}}`), and the wire contract carries only
    /// the inner object, since `event_type` already names the variant. A payload of
    /// another shape is kept as it is.
    fn untagged(self, event_type: &str) -> Self;
}

impl Payload for Value {
    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        T::deserialize(self)
    }

    fn to_value(&self) -> Value {
        self.clone()
    }

    fn from_value(value: Value) -> Self {
        value
    }

    fn untagged(self, event_type: &str) -> Self {
        match self {
            Value::Object(mut map) if map.len() == 1 && map.contains_key(event_type) => {
                map.remove(event_type).unwrap_or(Value::Null)
            }
            other => other,
        }
    }
}

impl Payload for RawPayload {
    fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(self.get())
    }

    /// The text is valid JSON (checked when it was read), so parsing it cannot fail;
    /// were it ever to, the tree is `null`, which no decoder accepts.
    fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).unwrap_or(Value::Null)
    }

    /// A tree always serializes (its keys are strings), so the fallback, `null`, is
    /// never taken.
    fn from_value(value: Value) -> Self {
        let text = RawValue::from_string(value.to_string());
        Self(text.unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    /// Reads only the outer object, its values borrowed as text: no tree is built.
    fn untagged(self, event_type: &str) -> Self {
        let inner = match serde_json::from_str::<HashMap<String, &RawValue>>(self.get()) {
            Ok(fields) if fields.len() == 1 => {
                fields.get(event_type).map(|inner| (*inner).to_owned())
            }
            _ => None,
        };
        inner.map_or(self, Self)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn raw(text: &str) -> RawPayload {
        serde_json::from_str(text).expect("valid JSON")
    }

    #[test]
    fn an_externally_tagged_payload_is_untagged_in_either_form() {
        let stored = json!({"StockAdded": {"sku": "A", "quantity": 3}});
        let inner = json!({"sku": "A", "quantity": 3});
        assert_eq!(stored.clone().untagged("StockAdded"), inner);
        let untagged = raw(&stored.to_string()).untagged("StockAdded");
        assert_eq!(untagged.to_value(), inner);
    }

    #[test]
    fn a_tag_written_with_escapes_is_still_a_tag() {
        let text = r#"{"StockAd\u0064ed": {"sku": "A"}}"#;
        assert_eq!(
            raw(text).untagged("StockAdded").to_value(),
            json!({"sku": "A"})
        );
    }

    #[test]
    fn a_payload_of_another_shape_is_kept_in_either_form() {
        for text in [
            r#"{"sku": "A"}"#,
            r#"{"StockAdded": 1, "sku": "A"}"#,
            "[1, 2]",
            "7",
        ] {
            let value: Value = serde_json::from_str(text).expect("valid JSON");
            assert_eq!(value.clone().untagged("StockAdded"), value, "{text}");
            assert_eq!(raw(text).untagged("StockAdded").get(), text, "{text}");
        }
    }

    #[test]
    fn both_forms_decode_to_the_same_typed_payload() {
        #[derive(Debug, PartialEq, Deserialize)]
        struct Added {
            sku: String,
            quantity: i64,
        }
        let text = r#"{"sku": "A", "quantity": 3}"#;
        let value: Value = serde_json::from_str(text).expect("valid JSON");
        let from_value: Added = value.decode().expect("decodes");
        let from_raw: Added = raw(text).decode().expect("decodes");
        assert_eq!(from_value, from_raw);
        assert!(raw(r#"{"sku": 1}"#).decode::<Added>().is_err());
    }

    #[test]
    fn a_raw_payload_goes_to_a_tree_and_back_unchanged() {
        let value = json!({"lines": [{"sku": "A", "quantity": 2}], "note": "é\"x"});
        let back = RawPayload::from_value(value.clone());
        assert_eq!(back.to_value(), value);
        assert_eq!(serde_json::to_value(&back).expect("serializes"), value);
    }
}
