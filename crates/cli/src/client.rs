//! A request/reply client for the command bus, usable as a library (end-to-end tests)
//! and by the `commerce` binary.
//!
//! A command is published to the durable topic exchange `commands` under
//! `<service>.<Command>`, with the command id as AMQP `message_id`, the correlation id
//! as `correlation_id`, persistent delivery, and publisher confirms. The client owns
//! one exclusive, auto-delete, server-named reply queue; a single consumer task reads
//! it and hands each reply to the send waiting for it, so any number of sends may run
//! concurrently on one client (it is `Send + Sync`: share it behind an `Arc` or `&`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), cli::client::ClientError> {
//! use cli::client::{CommandClient, SendOptions};
//! let client = CommandClient::connect("amqp://guest:guest@127.0.0.1:5672/%2f").await?;
//! let body = br#"{"sku":"A-1","quantity":3}"#;
//! let reply = client.send("inventory.AddStock", body, SendOptions::default()).await?;
//! println!("{:?}", reply.status);
//! client.close().await;
//! # Ok(()) }
//! ```

mod pending;

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel, Connection, Consumer};
use platform::broker::{self, COMMANDS_EXCHANGE};
use platform::command_bus::CommandReply;
use tokio::task::JoinHandle;

use pending::Pending;

/// How long [`CommandClient::connect`] waits for the broker before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default time a send waits for its reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a command got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker could not be reached or refused the connection.
    #[error("cannot connect to the broker: {0}")]
    Connect(String),
    /// A broker operation (declare, publish, consume) failed.
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    /// The options or routing key cannot be used.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// No queue is bound for the routing key: the service never started, or the
    /// command name is routed nowhere.
    #[error("no queue is bound for routing key {routing_key:?} (is the service running?)")]
    Unroutable { routing_key: String },
    /// The broker refused to take responsibility for the message.
    #[error("the broker refused command {command_id} (negative publisher confirm)")]
    Nacked { command_id: String },
    /// The reply did not arrive in time. The command may still be executed later:
    /// resending the same command id is safe and returns the same reply.
    #[error("no reply to command {command_id} within {waited:?} (is the service running?)")]
    Timeout {
        command_id: String,
        waited: Duration,
    },
    /// The connection closed before the reply arrived.
    #[error("the broker connection was lost before a reply arrived")]
    ConnectionLost,
    /// A reply arrived but is not a `CommandReply`.
    #[error("the reply is not a valid command reply: {0}")]
    MalformedReply(String),
}

/// Per-send options. The defaults: a new UUID v4 command id, the command id as
/// correlation id, and a 10 s reply timeout.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The command id (AMQP `message_id`); resending an id returns its first reply.
    pub command_id: Option<String>,
    /// The id of the business flow (AMQP `correlation_id`); defaults to the command id.
    pub correlation_id: Option<String>,
    /// How long to wait for the publish confirm and the reply together.
    pub timeout: Duration,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            command_id: None,
            correlation_id: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl SendOptions {
    /// Sets the command id.
    pub fn command_id(mut self, id: impl Into<String>) -> Self {
        self.command_id = Some(id.into());
        self
    }

    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the reply timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command and correlation ids to use, generating the command id if unset.
    fn ids(&self) -> Result<(String, String), ClientError> {
        let command_id = self
            .command_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let correlation_id = self
            .correlation_id
            .clone()
            .unwrap_or_else(|| command_id.clone());
        if command_id.trim().is_empty() || correlation_id.trim().is_empty() {
            return Err(ClientError::InvalidArgument(
                "command and correlation ids must not be empty".into(),
            ));
        }
        Ok((command_id, correlation_id))
    }
}

/// One broker connection with its reply queue. Dropping it closes the connection.
pub struct CommandClient {
    connection: Connection,
    channel: Channel,
    reply_queue: String,
    pending: Pending,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for CommandClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandClient")
            .field("reply_queue", &self.reply_queue)
            .finish_non_exhaustive()
    }
}

impl CommandClient {
    /// Connects (one attempt, at most [`CONNECT_TIMEOUT`]), declares the exchanges and
    /// the reply queue, and starts reading replies.
    pub async fn connect(url: &str) -> Result<Self, ClientError> {
        let connecting = broker::connect(url, "commerce-cli", 1);
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(err)) => return Err(ClientError::Connect(err.to_string())),
            Err(_) => {
                return Err(ClientError::Connect(format!(
                    "no answer within {CONNECT_TIMEOUT:?}"
                )))
            }
        };
        let channel = connection.create_channel().await?;
        broker::declare_exchanges(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let (reply_queue, consumer) = declare_reply_queue(&channel).await?;
        let pending = Pending::default();
        let reader = tokio::spawn(read_replies(consumer, pending.clone()));
        Ok(Self {
            connection,
            channel,
            reply_queue,
            pending,
            reader,
        })
    }

    /// Publishes `body` under `routing_key` and waits for its reply. The body is sent
    /// as given (it is not parsed), and the routing key is not checked, so tests can
    /// probe the service's handling of bad input. A `rejected` reply is `Ok`.
    pub async fn send(
        &self,
        routing_key: &str,
        body: &[u8],
        options: SendOptions,
    ) -> Result<CommandReply, ClientError> {
        let (command_id, correlation_id) = options.ids()?;
        let mut registration = self.pending.register(&correlation_id, &command_id)?;
        let exchange = async {
            let properties = properties(&command_id, &correlation_id)
                .with_reply_to(self.reply_queue.as_str().into());
            self.publish_confirmed(routing_key, body, properties, &command_id)
                .await?;
            (&mut registration.receiver)
                .await
                .map_err(|_| ClientError::ConnectionLost)?
        };
        match tokio::time::timeout(options.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                command_id,
                waited: options.timeout,
            }),
        }
    }

    /// Serialises `body` and [`send`](Self::send)s it.
    pub async fn send_json(
        &self,
        routing_key: &str,
        body: &serde_json::Value,
        options: SendOptions,
    ) -> Result<CommandReply, ClientError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|err| ClientError::InvalidArgument(err.to_string()))?;
        self.send(routing_key, &bytes, options).await
    }

    /// Publishes without `reply_to` and returns the command id once the broker has
    /// confirmed the message; the service's answer is not awaited (a rejection nobody
    /// hears is dead-lettered by the service).
    pub async fn publish(
        &self,
        routing_key: &str,
        body: &[u8],
        options: SendOptions,
    ) -> Result<String, ClientError> {
        let (command_id, correlation_id) = options.ids()?;
        let publishing = self.publish_confirmed(
            routing_key,
            body,
            properties(&command_id, &correlation_id),
            &command_id,
        );
        match tokio::time::timeout(options.timeout, publishing).await {
            Ok(result) => result.map(|()| command_id),
            Err(_) => Err(ClientError::Timeout {
                command_id,
                waited: options.timeout,
            }),
        }
    }

    /// Closes the connection cleanly. Sends still waiting get [`ClientError::ConnectionLost`].
    pub async fn close(self) {
        self.pending.close();
        if let Err(err) = self.connection.close(200, "bye".into()).await {
            tracing::debug!(error = %err, "closing the broker connection failed");
        }
    }

    async fn publish_confirmed(
        &self,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
        command_id: &str,
    ) -> Result<(), ClientError> {
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let confirm = self
            .channel
            .basic_publish(
                COMMANDS_EXCHANGE.into(),
                routing_key.into(),
                options,
                body,
                properties,
            )
            .await?;
        match confirm.await? {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(ClientError::Unroutable {
                routing_key: routing_key.to_string(),
            }),
            Confirmation::Nack(_) => Err(ClientError::Nacked {
                command_id: command_id.to_string(),
            }),
        }
    }
}

impl Drop for CommandClient {
    fn drop(&mut self) {
        // The reader holds the consumer; stopping it lets the connection close.
        self.reader.abort();
    }
}

/// The AMQP properties of a command (without `reply_to`).
fn properties(command_id: &str, correlation_id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_message_id(command_id.into())
        .with_correlation_id(correlation_id.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
}

/// Declares the exclusive, auto-delete, server-named reply queue and consumes it.
async fn declare_reply_queue(channel: &Channel) -> Result<(String, Consumer), lapin::Error> {
    let name = platform::broker::private_queue(channel, "", &[]).await?;
    let consume = BasicConsumeOptions {
        no_ack: true,
        exclusive: true,
        ..BasicConsumeOptions::default()
    };
    let consumer = channel
        .basic_consume(
            name.as_str().into(),
            "".into(),
            consume,
            FieldTable::default(),
        )
        .await?;
    Ok((name, consumer))
}

/// Reads replies until the consumer ends, then closes the pending map.
async fn read_replies(mut consumer: Consumer, pending: Pending) {
    while let Some(delivery) = consumer.next().await {
        match delivery {
            Ok(delivery) => match delivery.properties.correlation_id() {
                Some(correlation_id) => pending.deliver(correlation_id.as_str(), &delivery.data),
                None => tracing::debug!("reply without correlation id, dropped"),
            },
            Err(err) => {
                tracing::warn!(error = %err, "reply consumer failed");
                break;
            }
        }
    }
    pending.close();
}
