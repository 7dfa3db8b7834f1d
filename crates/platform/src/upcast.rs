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

use std::borrow::Cow;

use serde_json::Value;

use crate::envelope::EventEnvelope;
use crate::payload::Payload;

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
    pub fn upcast<P: Payload>(&self, mut envelope: EventEnvelope<P>) -> EventEnvelope<P> {
        while let Some(step) = self.next_step(&envelope) {
            envelope.payload = P::from_value((step.upcast)(envelope.payload.to_value()));
            envelope.event_version = step.to.to_string();
        }
        envelope
    }

    /// [`Upcasters::upcast`], copying `envelope` only when an upcaster changes it: most
    /// events are in their latest version, and a replay decodes every one.
    pub fn upcast_ref<'a, P: Payload>(
        &self,
        envelope: &'a EventEnvelope<P>,
    ) -> Cow<'a, EventEnvelope<P>> {
        match self.next_step(envelope) {
            None => Cow::Borrowed(envelope),
            Some(_) => Cow::Owned(self.upcast(envelope.clone())),
        }
    }

    fn next_step<P>(&self, envelope: &EventEnvelope<P>) -> Option<&Upcaster> {
        self.0.iter().find(|u| {
            u.service == envelope.service
                && u.event_type == envelope.event_type
                && u.from == envelope.event_version
        })
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
    use crate::payload::RawPayload;

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

    #[test]
    fn a_payload_kept_as_text_is_upcast_too_and_copied_only_then() {
        let old = placed("1", json!({"order_id": "o1"})).map_payload(RawPayload::from_value);
        let upcasters = Upcasters::contract();
        let new = upcasters.upcast_ref(&old);
        assert!(matches!(new, Cow::Owned(_)));
        assert_eq!(new.event_version, "2");
        assert_eq!(
            new.payload.to_value(),
            json!({"order_id": "o1", "card_token": ""})
        );
        let current = new.into_owned();
        assert!(matches!(upcasters.upcast_ref(&current), Cow::Borrowed(_)));
    }
}
