//! `CommandClient` against a real RabbitMQ and a fake service that answers commands out
//! of order. Uses the broker at `AMQP_URL` (default: local RabbitMQ), with fresh names.

use std::sync::Arc;
use std::time::Duration;

use cli::client::{ClientError, CommandClient, SendOptions};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use platform::broker::COMMANDS_EXCHANGE;
use platform::command_bus::CommandReply;

fn amqp_url() -> String {
    platform::config::BrokerSettings::from_env().amqp_url
}

/// A fresh service name, so parallel runs never share queues.
fn service() -> String {
    format!("clitest{}", uuid::Uuid::new_v4().simple())
}

/// Declares an exclusive queue bound to `<service>.*` and returns a channel on it.
async fn bind_service(service: &str) -> Result<(lapin::Connection, Channel, String), lapin::Error> {
    let connection = platform::broker::connect(&amqp_url(), "clitest-service", 1).await?;
    let channel = connection.create_channel().await?;
    platform::broker::declare_exchanges(&channel).await?;
    let key = format!("{service}.*");
    let name = platform::broker::private_queue(&channel, COMMANDS_EXCHANGE, &[&key]).await?;
    Ok((connection, channel, name))
}

/// Takes `count` commands, then answers them in reverse order.
async fn answer_in_reverse(
    channel: Channel,
    queue: String,
    count: usize,
) -> Result<(), lapin::Error> {
    let options = BasicConsumeOptions {
        no_ack: true,
        ..Default::default()
    };
    let mut consumer = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            options,
            FieldTable::default(),
        )
        .await?;
    let mut received = Vec::new();
    while received.len() < count {
        match consumer.next().await {
            Some(delivery) => received.push(delivery?),
            None => return Ok(()),
        }
    }
    for delivery in received.into_iter().rev() {
        answer(&channel, &delivery).await?;
    }
    Ok(())
}

/// Replies like a service would; the reply's `aggregate_id` echoes the command body,
/// so a test can tell whose reply it got.
async fn answer(channel: &Channel, delivery: &Delivery) -> Result<(), lapin::Error> {
    let props = &delivery.properties;
    let command_id = props
        .message_id()
        .as_ref()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let echo = String::from_utf8_lossy(&delivery.data).to_string();
    let reply = CommandReply::rejected(&command_id, Some(&echo), "fake", "answered by the test");
    let body = serde_json::to_vec(&reply).unwrap_or_default();
    let mut properties = BasicProperties::default();
    if let Some(correlation) = props.correlation_id() {
        properties = properties.with_correlation_id(correlation.clone());
    }
    let reply_to = props
        .reply_to()
        .as_ref()
        .map(|q| q.to_string())
        .unwrap_or_default();
    channel
        .basic_publish(
            "".into(),
            reply_to.as_str().into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await?;
    Ok(())
}

/// Half the sends share one correlation id, and the last two reuse one command id.
fn options_for(n: usize, count: usize) -> SendOptions {
    let mut options = SendOptions::default().timeout(Duration::from_secs(10));
    if n.is_multiple_of(2) {
        options = options.correlation_id("shared-flow");
    }
    if n >= count - 2 {
        options = options.command_id("same-command");
    }
    options
}

#[tokio::test]
async fn concurrent_sends_each_get_their_own_reply() -> Result<(), Box<dyn std::error::Error>> {
    let service = service();
    let (_service_connection, channel, queue) = bind_service(&service).await?;
    let client = Arc::new(CommandClient::connect(&amqp_url()).await?);
    let count = 24;
    let responder = tokio::spawn(answer_in_reverse(channel, queue, count));
    // Spawned, so the send future is proven `Send` for tests that run sends on tasks.
    let sends = (0..count).map(|n| {
        let client = Arc::clone(&client);
        let routing_key = format!("{service}.Echo");
        let body = n.to_string();
        tokio::spawn(async move {
            client
                .send(&routing_key, body.as_bytes(), options_for(n, count))
                .await
        })
    });
    for (n, reply) in futures::future::join_all(sends)
        .await
        .into_iter()
        .enumerate()
    {
        let reply = reply??;
        if n < count - 2 {
            assert_eq!(
                reply.aggregate_id,
                Some(n.to_string()),
                "send {n} got another's reply"
            );
        } else {
            // Same command id: the service answers both alike, so either reply will do.
            assert_eq!(reply.command_id, "same-command");
        }
    }
    responder.await??;
    Ok(())
}

#[tokio::test]
async fn a_command_nobody_listens_for_is_unroutable() -> Result<(), Box<dyn std::error::Error>> {
    let client = CommandClient::connect(&amqp_url()).await?;
    let result = client
        .send(
            &format!("{}.Nothing", service()),
            b"{}",
            SendOptions::default(),
        )
        .await;
    assert!(
        matches!(result, Err(ClientError::Unroutable { .. })),
        "{result:?}"
    );
    // The client is still usable after a returned message.
    let again = client
        .publish(
            &format!("{}.Nothing", service()),
            b"{}",
            SendOptions::default(),
        )
        .await;
    assert!(
        matches!(again, Err(ClientError::Unroutable { .. })),
        "{again:?}"
    );
    client.close().await;
    Ok(())
}

#[tokio::test]
async fn an_unanswered_command_times_out() -> Result<(), Box<dyn std::error::Error>> {
    let service = service();
    let (_connection, _channel, _queue) = bind_service(&service).await?;
    let client = CommandClient::connect(&amqp_url()).await?;
    let options = SendOptions::default()
        .command_id("late")
        .timeout(Duration::from_millis(300));
    let result = client
        .send(&format!("{service}.Silence"), b"{}", options)
        .await;
    assert!(
        matches!(&result, Err(ClientError::Timeout { command_id, .. }) if command_id == "late"),
        "{result:?}"
    );
    Ok(())
}
