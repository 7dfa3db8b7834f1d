//! The provider-answer consumer: reads the provider's webhooks, which the NATS bridge
//! publishes to the `events` exchange under `provider.Webhook.<Type>`, from the durable
//! queue `payment.provider-answers`, one delivery at a time and in order, and records
//! each as a `RecordProviderAnswer` command through cqrs-es.
//!
//! Delivery is at-least-once. A redelivered webhook is recognised by its command id
//! (`webhook:<event_id>`), which is stored with the events in the same transaction;
//! one that appended nothing the first time (a stale answer, say) appends nothing again
//! since the aggregate's rules make it a no-op.
//!
//! Settlement (through [`platform::consumer`], which keeps queue order on retries):
//! recorded or already recorded → ack; undecodable, or refused by a business rule (an
//! answer for a payment never requested) → dead-lettered to
//! `payment.provider-answers.dlq` with a warning; store failure → retried.

pub mod webhook;

use std::future::Future;

use lapin::message::Delivery;
use lapin::Channel;
use platform::broker::EVENTS_EXCHANGE;
use platform::consumer::{DeliveryHandler, Disposition, QueueConsumer, Subscription};
use platform::cqrs::{BusinessRule, ExecutionError};
use platform::store;
use platform::wake::Wake;
use sqlx::PgPool;
use tracing::Instrument;

use crate::application::Payments;
use webhook::Answer;

/// The queue of this consumer, and the routing keys it takes from `events`.
pub const QUEUE: &str = "payment.provider-answers";
pub const BINDINGS: [&str; 1] = ["provider.Webhook.#"];

/// The consumer of provider answers.
pub struct ProviderAnswers {
    pool: PgPool,
    payments: Payments,
    /// The relay's wake-up, signalled after an answer is recorded.
    recorded: Wake,
}

impl ProviderAnswers {
    pub fn new(pool: PgPool, payments: Payments, recorded: Wake) -> Self {
        Self {
            pool,
            payments,
            recorded,
        }
    }

    /// Consumes until `shutdown` resolves, reconnecting after broker failures; one
    /// unacknowledged delivery at a time, so answers are recorded in arrival order.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        let subscription = Subscription::new(QUEUE, EVENTS_EXCHANGE, &BINDINGS).prefetch(1);
        QueueConsumer::new(subscription, self)
            .run(amqp_url, shutdown)
            .await;
    }
}

impl DeliveryHandler for ProviderAnswers {
    async fn handle(&self, _channel: &Channel, delivery: &Delivery) -> Disposition {
        let disposition = self.evaluate(delivery).await;
        metrics::counter!("provider_answers_total", "outcome" => disposition.as_str()).increment(1);
        disposition
    }
}

impl ProviderAnswers {
    async fn evaluate(&self, delivery: &Delivery) -> Disposition {
        let answer = match webhook::decode(&delivery.data) {
            Ok(answer) => answer,
            Err(err) => {
                tracing::warn!(routing_key = %delivery.routing_key, error = %err,
                    "undecodable provider webhook dead-lettered");
                return Disposition::DeadLetter;
            }
        };
        let span = tracing::info_span!("provider_answer",
            command_id = %answer.command_id,
            correlation_id = %answer.context.correlation_id);
        self.record(answer).instrument(span).await
    }

    /// Executes the answer unless an earlier delivery of the same webhook already
    /// appended events.
    async fn record(&self, answer: Answer) -> Disposition {
        match store::command_events(&self.pool, &answer.command_id).await {
            Ok(events) if !events.is_empty() => {
                tracing::debug!("webhook already recorded");
                return Disposition::Ack;
            }
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "event store unavailable, webhook will be retried");
                return Disposition::Retry;
            }
        }
        let metadata = answer.metadata();
        let result = self.payments.execute(answer.command, metadata).await;
        match result.map_err(ExecutionError::from) {
            Ok(()) => {
                self.recorded.signal();
                Disposition::Ack
            }
            Err(ExecutionError::Rule(rule)) => {
                tracing::warn!(code = rule.code(), error = %rule,
                    "provider answer refused, dead-lettered");
                Disposition::DeadLetter
            }
            Err(err) => {
                tracing::warn!(error = %err, "provider answer not recorded, will be retried");
                Disposition::Retry
            }
        }
    }
}
