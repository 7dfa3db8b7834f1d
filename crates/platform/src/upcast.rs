//! Schema evolution of the wire contract: an [`Upcaster`] turns one version of an
//! event's payload into the next, so events stored before a change replay into the
//! current model. Consumers upcast every envelope before decoding it; a chain of
//! upcasters takes a payload through several versions.
//!
//! The events in a store are never rewritten: a store keeps what was decided, in the
//! words of its time. The contract's schemas stay side by side
//! (`schemas/events/<service>/<Event>.v<N>.json`).
//!
//! The contract's evolutions so far, all in [`Upcasters::contract`]:
//! - `order.OrderPlaced` 1 → 2: `card_token` added. An order placed before payment
//!   methods existed has none: it gets `""`, which no provider accepts, so its saga
//!   cancels it rather than charging an unknown card.

use serde_json::Value;

use crate::envelope::EventEnvelope;

/// One step of one event type's evolution.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    pub service: &'static str,
    pub event_type: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub upcast: fn(Value) -> Value,
}

/// The upcasters a consumer applies.
#[derive(Debug, Clone)]
pub struct Upcasters(Vec<Upcaster>);

impl Default for Upcasters {
    fn default() -> Self {
        Self::contract()
    }
}

impl Upcasters {
    /// Every evolution of the published contract.
    pub fn contract() -> Self {
        Self(vec![Upcaster {
            service: "order",
            event_type: "OrderPlaced",
            from: "1",
            to: "2",
            upcast: order_placed_v1_to_v2,
        }])
    }

    /// The latest version of `event_type` of `service` that the upcasters know; `None`
    /// for an event type that never evolved.
    pub fn latest(&self, service: &str, event_type: &str) -> Option<&'static str> {
        self.0
            .iter()
            .filter(|u| u.service == service && u.event_type == event_type)
            .map(|u| u.to)
            .max_by_key(|to| to.parse::<u32>().unwrap_or(0))
    }

    /// `envelope` in the latest version its upcasters reach.
    pub fn upcast(&self, mut envelope: EventEnvelope) -> EventEnvelope {
        while let Some(step) = self.0.iter().find(|u| {
            u.service == envelope.service
                && u.event_type == envelope.event_type
                && u.from == envelope.event_version
        }) {
            envelope.payload = (step.upcast)(envelope.payload);
            envelope.event_version = step.to.to_string();
        }
        envelope
    }
}

fn order_placed_v1_to_v2(mut payload: Value) -> Value {
    if let Value::Object(fields) = &mut payload {
        fields
            .entry("card_token")
            .or_insert_with(|| Value::String(String::new()));
    }
    payload
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn placed(version: &str, payload: Value) -> EventEnvelope {
        EventEnvelope {
            event_id: uuid::Uuid::new_v4(),
            service: "order".into(),
            aggregate_type: "Order".into(),
            aggregate_id: "o1".into(),
            sequence: 1,
            global_position: 1,
            event_type: "OrderPlaced".into(),
            event_version: version.into(),
            occurred_at: Utc::now(),
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }

    #[test]
    fn a_version_1_order_placed_is_upcast_to_version_2_without_a_card() {
        let old = placed("1", json!({"order_id": "o1", "total_cents": 5}));
        let new = Upcasters::contract().upcast(old);
        assert_eq!(new.event_version, "2");
        assert_eq!(new.payload["card_token"], "");
        assert_eq!(new.payload["total_cents"], 5);
    }

    #[test]
    fn a_current_event_is_left_as_it_is() {
        let current = placed("2", json!({"order_id": "o1", "card_token": "tok_ok"}));
        assert_eq!(Upcasters::contract().upcast(current.clone()), current);
        assert_eq!(
            Upcasters::contract().latest("order", "OrderPlaced"),
            Some("2")
        );
        assert_eq!(
            Upcasters::contract().latest("order", "OrderConfirmed"),
            None
        );
    }
}
