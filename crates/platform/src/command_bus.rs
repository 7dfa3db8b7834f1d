//! The command consumer of a service.
//!
//! Commands arrive on the `commands` exchange under `<service>.<CommandName>` with the
//! command id as AMQP `message_id`. Each one is decoded (at most
//! [`MAX_COMMAND_BYTES`], JSON and UTF-8, see [`decode`]), validated against its JSON
//! Schema, de-duplicated, executed by the service's [`CommandHandler`] and answered on
//! `reply_to` (when given). Bad input is answered with a `rejected` reply; a rejection
//! nobody can hear (no `reply_to`) is dead-lettered so an operator can see it; an
//! infrastructure failure is retried. Nothing a sender does can crash the consumer.

mod decode;
mod reply;

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use lapin::message::Delivery;
use lapin::Channel;
use serde_json::Value;
use sqlx::PgPool;
use tracing::Instrument;

pub use decode::{
    command_name, decode, DecodeError, Decoded, RawCommand, JSON_CONTENT_TYPE, MAX_COMMAND_BYTES,
};
pub use reply::{CommandReply, ReplyError, ReplyStatus};

use crate::broker::{self, COMMANDS_EXCHANGE};
use crate::consumer::{
    DeliveryHandler, Disposition as ConsumerDisposition, QueueConsumer, Subscription,
};
use crate::envelope::MessageContext;
use crate::schema::SchemaRegistry;
use crate::store;
use crate::wake::Wake;

/// A decoded, schema-valid command.
#[derive(Debug, Clone)]
pub struct IncomingCommand {
    pub name: String,
    pub context: MessageContext,
    pub body: Value,
}

/// The business answer of a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted {
        aggregate_id: String,
    },
    Rejected {
        aggregate_id: Option<String>,
        code: String,
        message: String,
    },
}

/// The handler could not reach its infrastructure: the command is retried later.
#[derive(Debug, thiserror::Error)]
#[error("command handler unavailable: {0}")]
pub struct Unavailable(pub String);

/// What a service plugs into the bus.
pub trait CommandHandler: Send + Sync + 'static {
    fn execute(
        &self,
        command: IncomingCommand,
    ) -> impl Future<Output = Result<Outcome, Unavailable>> + Send;
}

/// What happens to a delivery once it is evaluated.
enum Disposition {
    Answer(CommandReply),
    Retry(String),
}

/// The command consumer of one service.
pub struct CommandBus<H> {
    service: String,
    /// Whether a consuming broker session is open, for `/health`.
    connected: Arc<AtomicBool>,
    pool: PgPool,
    schemas: Arc<SchemaRegistry>,
    handler: Arc<H>,
    /// Signalled after each accepted command: its events are committed.
    committed: Vec<Wake>,
}

impl<H: CommandHandler> CommandBus<H> {
    pub fn new(service: &str, pool: PgPool, schemas: Arc<SchemaRegistry>, handler: Arc<H>) -> Self {
        Self {
            service: service.to_string(),
            connected: Arc::default(),
            pool,
            schemas,
            handler,
            committed: Vec::new(),
        }
    }

    /// Signals `wake` (the relay's, a dispatcher's) after every accepted command, as
    /// well as those it signalled already.
    pub fn signalling(mut self, wake: Wake) -> Self {
        self.committed.push(wake);
        self
    }

    /// A flag that is true while the bus holds a consuming broker session.
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// The queue this service consumes its commands from.
    pub fn queue(&self) -> String {
        format!("{}.commands", self.service)
    }

    /// Consumes until `shutdown` resolves, reconnecting after broker failures (see
    /// [`crate::consumer`]): a command being processed when shutdown comes is finished
    /// first, and a retried command keeps its place in the queue.
    pub async fn run(self, amqp_url: String, shutdown: impl Future<Output = ()>) {
        let binding = format!("{}.*", self.service);
        let subscription =
            Subscription::new(&self.queue(), COMMANDS_EXCHANGE, &[&binding]).prefetch(16);
        let connected = self.connected.clone();
        QueueConsumer::new(subscription, self)
            .reporting_to(connected)
            .run(amqp_url, shutdown)
            .await;
    }

    async fn evaluate(&self, delivery: &Delivery) -> Disposition {
        let props = &delivery.properties;
        let Some(command_id) = props
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            .filter(|id| !id.is_empty())
        else {
            return Disposition::Answer(CommandReply::rejected(
                "",
                None,
                "missing_command_id",
                "the AMQP message_id must carry the command id",
            ));
        };
        let correlation_id = broker::header_string(props.headers().as_ref(), "correlation_id")
            .or_else(|| props.correlation_id().as_ref().map(|c| c.to_string()))
            .unwrap_or_else(|| command_id.clone());
        let span =
            tracing::info_span!("command", service = %self.service, %command_id, %correlation_id);
        let context = MessageContext {
            causation_id: command_id.clone(),
            command_id,
            correlation_id,
        };
        match self
            .evaluate_exclusively(delivery, context)
            .instrument(span)
            .await
        {
            Ok(disposition) => disposition,
            Err(err) => Disposition::Retry(err.to_string()),
        }
    }

    /// Holds a transaction-scoped advisory lock on the command id, so two instances
    /// (or a redelivery racing a slow first attempt) never execute the same command
    /// twice; the reply is recorded inside that same transaction.
    async fn evaluate_exclusively(
        &self,
        delivery: &Delivery,
        context: MessageContext,
    ) -> Result<Disposition, store::StoreError> {
        let mut lock = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&context.command_id)
            .execute(&mut *lock)
            .await?;
        if let Some(reply) = reply::recorded(&mut lock, &context.command_id).await? {
            return Ok(Disposition::Answer(reply));
        }
        let routing_key = delivery.routing_key.to_string();
        let raw = RawCommand {
            routing_key: &routing_key,
            content_type: delivery
                .properties
                .content_type()
                .as_ref()
                .map(|c| c.as_str()),
            body: &delivery.data,
        };
        let reply = match self.decide(raw, context).await? {
            Ok(reply) => reply,
            Err(unavailable) => return Ok(Disposition::Retry(unavailable.0)),
        };
        reply::record(&mut lock, &reply, command_name(&routing_key, &self.service)).await?;
        lock.commit().await?;
        Ok(Disposition::Answer(reply))
    }

    async fn decide(
        &self,
        raw: RawCommand<'_>,
        context: MessageContext,
    ) -> Result<Result<CommandReply, Unavailable>, store::StoreError> {
        let command_id = context.command_id.clone();
        let Decoded { name, body } = match decode(&self.schemas, &self.service, raw) {
            Ok(decoded) => decoded,
            Err(err) => {
                tracing::info!(code = err.code(), error = %err, "command refused undecoded");
                let reply = CommandReply::rejected(&command_id, None, err.code(), &err.to_string());
                return Ok(Ok(reply));
            }
        };
        let already = store::command_events(&self.pool, &command_id).await?;
        if let Some((aggregate_id, _, _)) = already.first() {
            return Ok(Ok(CommandReply::accepted(
                &command_id,
                aggregate_id,
                &already,
            )));
        }
        let command = IncomingCommand {
            name,
            context,
            body,
        };
        match self.handler.execute(command).await {
            Ok(Outcome::Accepted { aggregate_id }) => {
                self.committed.iter().for_each(Wake::signal);
                let events = store::command_events(&self.pool, &command_id).await?;
                Ok(Ok(CommandReply::accepted(
                    &command_id,
                    &aggregate_id,
                    &events,
                )))
            }
            Ok(Outcome::Rejected {
                aggregate_id,
                code,
                message,
            }) => Ok(Ok(CommandReply::rejected(
                &command_id,
                aggregate_id.as_deref(),
                &code,
                &message,
            ))),
            Err(unavailable) => Ok(Err(unavailable)),
        }
    }
}

impl<H: CommandHandler> DeliveryHandler for CommandBus<H> {
    /// Answers the command and settles it: acknowledged once answered, dead-lettered
    /// when it is a rejection nobody can hear, handed back when a dependency failed.
    async fn handle(&self, channel: &Channel, delivery: &Delivery) -> ConsumerDisposition {
        match self.evaluate(delivery).await {
            Disposition::Answer(reply) => {
                metrics::counter!("commands_total", "service" => self.service.clone(),
                    "status" => reply.status.as_str())
                .increment(1);
                let answered = reply::send(channel, delivery, &reply).await;
                if reply.status == ReplyStatus::Rejected && !answered {
                    tracing::warn!(command_id = %reply.command_id, "unanswerable rejection dead-lettered");
                    ConsumerDisposition::DeadLetter
                } else {
                    ConsumerDisposition::Ack
                }
            }
            Disposition::Retry(reason) => {
                tracing::warn!(reason, "command will be retried");
                ConsumerDisposition::Retry
            }
        }
    }
}
