//! The saga's inputs from the broker, each read from a durable queue, one delivery at a
//! time and in order, through [`platform::consumer`]:
//! - `saga.events`: `OrderPlaced` (starts a saga), `PaymentAuthorized` and
//!   `PaymentDeclined` (the provider's answer, as the payment service recorded it);
//! - `saga.replies`: the replies to the saga's commands, which name their step in their
//!   command id (`saga:<order_id>:<step>`).
//!
//! Settlement: applied, duplicate or ignored → ack; undecodable, or a reply naming no
//! saga → dead-lettered to `<queue>.dlq` with a warning; store failure → retried.

use lapin::message::Delivery;
use lapin::Channel;
use platform::broker::EVENTS_EXCHANGE;
use platform::command_bus::{CommandReply, ReplyStatus};
use platform::consumer::{DeliveryHandler, Disposition, Subscription};
use platform::envelope::EventEnvelope;
use platform::upcast::Upcasters;
use serde::Deserialize;

use crate::domain::{Input, OrderFacts, Step};
use crate::engine::{Cause, Engine, EngineError, Handled};

pub const EVENTS_QUEUE: &str = "saga.events";
pub const EVENT_BINDINGS: [&str; 3] = [
    "order.Order.OrderPlaced",
    "payment.Payment.PaymentAuthorized",
    "payment.Payment.PaymentDeclined",
];
/// Where the target services answer the saga's commands (the default exchange routes
/// by queue name, so the queue needs no binding).
pub const REPLIES_QUEUE: &str = "saga.replies";

pub fn events_subscription() -> Subscription {
    Subscription::new(EVENTS_QUEUE, EVENTS_EXCHANGE, &EVENT_BINDINGS).prefetch(16)
}

pub fn replies_subscription() -> Subscription {
    Subscription::new(REPLIES_QUEUE, EVENTS_EXCHANGE, &[]).prefetch(16)
}

/// An input that can never be taken: dead-lettered, with the reason logged.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Undecodable(String);

/// The consumer of `saga.events`.
pub struct Events {
    engine: Engine,
}

impl Events {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    async fn take(&self, data: &[u8]) -> Result<Result<Handled, EngineError>, Undecodable> {
        let envelope: EventEnvelope =
            serde_json::from_slice(data).map_err(|e| Undecodable(e.to_string()))?;
        // An order placed before card tokens existed decodes with an empty one.
        let envelope = Upcasters::contract().upcast(envelope);
        let cause = Cause {
            kind: "event",
            id: envelope.event_id.to_string(),
            event_id: Some(envelope.event_id),
            step: None,
        };
        let payload = envelope.payload.clone();
        let parse = |e: serde_json::Error| Undecodable(format!("{}: {e}", envelope.event_type));
        match envelope.event_type.as_str() {
            "OrderPlaced" => {
                let order: OrderFacts = serde_json::from_value(payload).map_err(parse)?;
                let correlation_id = envelope
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| order.order_id.clone());
                Ok(self.engine.start(order, correlation_id, cause).await)
            }
            "PaymentAuthorized" => {
                let answer: PaymentAnswer = serde_json::from_value(payload).map_err(parse)?;
                Ok(self
                    .engine
                    .handle(&answer.order_id, Input::PaymentAuthorized, cause)
                    .await)
            }
            "PaymentDeclined" => {
                let answer: PaymentAnswer = serde_json::from_value(payload).map_err(parse)?;
                let reason = answer.reason.unwrap_or_else(|| "declined".into());
                let input = Input::PaymentDeclined { reason };
                Ok(self.engine.handle(&answer.order_id, input, cause).await)
            }
            other => Err(Undecodable(format!("no saga input is a {other}"))),
        }
    }
}

#[derive(Deserialize)]
struct PaymentAnswer {
    order_id: String,
    reason: Option<String>,
}

impl DeliveryHandler for Events {
    async fn handle(&self, _channel: &Channel, delivery: &Delivery) -> Disposition {
        // A payment of no saga (asked for directly) is not the saga's business: ack.
        settle(
            EVENTS_QUEUE,
            delivery,
            self.take(&delivery.data).await,
            Disposition::Ack,
        )
    }
}

/// The consumer of `saga.replies`.
pub struct Replies {
    engine: Engine,
}

impl Replies {
    pub fn new(engine: Engine) -> Self {
        Self { engine }
    }

    async fn take(&self, data: &[u8]) -> Result<Result<Handled, EngineError>, Undecodable> {
        let reply: CommandReply =
            serde_json::from_slice(data).map_err(|e| Undecodable(e.to_string()))?;
        let (order_id, step) = Step::parse_command_id(&reply.command_id)
            .ok_or_else(|| Undecodable(format!("{:?} is no saga command id", reply.command_id)))?;
        let input = Input::Replied {
            step,
            accepted: reply.status == ReplyStatus::Accepted,
            code: reply.error.map(|e| e.code),
        };
        let cause = Cause {
            kind: "reply",
            id: reply.command_id.clone(),
            event_id: None,
            step: Some(step),
        };
        Ok(self.engine.handle(order_id, input, cause).await)
    }
}

impl DeliveryHandler for Replies {
    async fn handle(&self, _channel: &Channel, delivery: &Delivery) -> Disposition {
        // Every saga command is sent by a saga: a reply naming none is an operator's.
        let taken = self.take(&delivery.data).await;
        settle(REPLIES_QUEUE, delivery, taken, Disposition::DeadLetter)
    }
}

/// The disposition of a taken input; `unknown` is that of an input naming no saga.
fn settle(
    queue: &'static str,
    delivery: &Delivery,
    taken: Result<Result<Handled, EngineError>, Undecodable>,
    unknown: Disposition,
) -> Disposition {
    match taken {
        Ok(Ok(Handled::UnknownSaga)) => {
            if unknown == Disposition::DeadLetter {
                tracing::warn!(queue, "input for no saga dead-lettered");
            }
            unknown
        }
        Ok(Ok(handled)) => {
            metrics::counter!("saga_inputs_total", "queue" => queue, "outcome" => handled.as_str())
                .increment(1);
            Disposition::Ack
        }
        Ok(Err(EngineError::Store(err))) => {
            tracing::warn!(queue, error = %err, "saga store unavailable, input will be retried");
            Disposition::Retry
        }
        Ok(Err(err)) => {
            tracing::error!(queue, error = %err, "input dead-lettered");
            Disposition::DeadLetter
        }
        Err(err) => {
            tracing::warn!(queue, routing_key = %delivery.routing_key, error = %err,
                "undecodable input dead-lettered");
            Disposition::DeadLetter
        }
    }
}
