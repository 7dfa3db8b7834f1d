//! RabbitMQ connection and topology.
//!
//! Exchanges (all durable topic exchanges):
//! - `events`: every domain event, routing key `<service>.<AggregateType>.<EventType>`.
//! - `commands`: every command, routing key `<service>.<CommandName>`.
//! - `dead-letter`: messages a consumer could not even answer; each consumer queue
//!   dead-letters into `<queue>.dlq` under routing key `<queue>`.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

pub const EVENTS_EXCHANGE: &str = "events";
pub const COMMANDS_EXCHANGE: &str = "commands";
pub const DEAD_LETTER_EXCHANGE: &str = "dead-letter";

/// How long one connection attempt, one session's set-up, or one settlement or reply
/// in a running session may take. A broker whose node is stopping or starting
/// (`rabbitmqctl stop_app` / `start_app`) can accept the TCP connection and never
/// answer the AMQP handshake, and lapin may never resolve an ack or a publish whose
/// connection died under it: without a bound, the session waits forever and its
/// consumer never comes back.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs one broker step (connecting, declaring, subscribing, settling a delivery,
/// sending a reply) within [`SETUP_TIMEOUT`]; a step that takes longer fails like a
/// lost connection, to be retried.
pub async fn bounded<T, E: From<lapin::Error>>(
    step: &str,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tokio::time::timeout(SETUP_TIMEOUT, future).await {
        Ok(result) => result,
        Err(_) => Err(E::from(lapin::Error::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{step}: the broker did not answer within {SETUP_TIMEOUT:?}"),
        )))),
    }
}

/// How often a consuming session checks that its connection and channel are still up.
pub const WATCHDOG_PERIOD: Duration = Duration::from_secs(1);

/// Whether a session's connection and channel are both still open. A consumer's
/// delivery stream is not always woken when its connection dies (seen after
/// `rabbitmqctl stop_app`: one consumer of a dozen waited forever): sessions check this
/// every [`WATCHDOG_PERIOD`] instead of trusting the stream alone.
pub fn session_alive(connection: &Connection, channel: &Channel) -> bool {
    connection.status().connected() && channel.status().connected()
}

/// Closes `connection` (handing its unacknowledged deliveries back at once), within
/// [`SETUP_TIMEOUT`]: a connection the broker already dropped may never answer the
/// close, and a session that waits for it never reconnects.
pub async fn close(connection: &Connection, reason: &str) {
    match tokio::time::timeout(SETUP_TIMEOUT, connection.close(200, reason.into())).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(error = %err, "broker connection already closed"),
        Err(_) => tracing::warn!("broker connection did not answer the close; dropped"),
    }
}

/// Connects, retrying with back-off until `attempts` are used up, so a service that
/// starts before its broker waits for it instead of crashing.
pub async fn connect(url: &str, name: &str, attempts: u32) -> Result<Connection, lapin::Error> {
    let mut delay = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        match bounded("connecting", Connection::connect(url, properties)).await {
            Ok(connection) => return Ok(connection),
            Err(err) if attempt < attempts => {
                tracing::warn!(error = %err, attempt, "broker not reachable, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Declares the three exchanges. Declaring is idempotent, so every process does it.
pub async fn declare_exchanges(channel: &Channel) -> Result<(), lapin::Error> {
    for name in [EVENTS_EXCHANGE, COMMANDS_EXCHANGE, DEAD_LETTER_EXCHANGE] {
        channel
            .exchange_declare(
                name.into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Declares a server-named queue that only this connection may read and that goes
/// with it, bound to `exchange` under each of `bindings`; returns its name. A watcher
/// (a test, the bench's tracker) sees through it what passes the exchange from then on;
/// without bindings it is a reply queue (`reply_to`).
pub async fn private_queue(
    channel: &Channel,
    exchange: &str,
    bindings: &[&str],
) -> Result<String, lapin::Error> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await?;
    for binding in bindings {
        let (options, arguments) = (QueueBindOptions::default(), FieldTable::default());
        let (name, exchange) = (queue.name().clone(), exchange.into());
        channel
            .queue_bind(name, exchange, (*binding).into(), options, arguments)
            .await?;
    }
    Ok(queue.name().to_string())
}

/// Declares a durable queue bound to `exchange` under each of `bindings`, whose
/// rejected messages go to its own dead-letter queue `<queue>.dlq`.
pub async fn declare_queue_with_dlq(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    bindings: &[&str],
) -> Result<(), lapin::Error> {
    let dlq = format!("{queue}.dlq");
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(dlq.as_str().into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            DEAD_LETTER_EXCHANGE.into(),
            queue.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(DEAD_LETTER_EXCHANGE.into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(queue.into()),
    );
    channel
        .queue_declare(queue.into(), durable, arguments)
        .await?;
    for binding in bindings {
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                (*binding).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Reads a string header of a message.
pub fn header_string(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    let value = headers?.inner().get(&ShortString::from(name))?;
    match value {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}
