//! Raw broker access for tests that play a misbehaving client: publishing any bytes
//! under any routing key and properties (waiting for the reply, when one is asked for),
//! and reading what a dead-letter queue holds.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;
use platform::command_bus::CommandReply;

use crate::TestStack;

impl TestStack {
    /// Publishes `body` to `exchange` ("" is the default exchange, which routes by queue
    /// name) with `properties`, and waits for the broker's confirm.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> anyhow::Result<()> {
        let connection = lapin::Connection::connect(&self.amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?
            .await?;
        connection.close(200, "published".into()).await?;
        Ok(())
    }

    /// Publishes like [`Self::publish_raw`], with `reply_to` set to a queue of its own,
    /// and returns the reply the command bus sends there (waiting up to 10 s).
    pub async fn publish_for_reply(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> anyhow::Result<CommandReply> {
        let connection = lapin::Connection::connect(&self.amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        let reply_to = platform::broker::private_queue(&channel, "", &[]).await?;
        let properties = properties.with_reply_to(reply_to.as_str().into());
        channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?;
        let reply = next_message(&channel, &reply_to).await;
        connection.close(200, "replied".into()).await?;
        Ok(serde_json::from_slice(&reply?)?)
    }

    /// Takes up to `count` messages from `queue`, waiting up to 10 s for them.
    pub async fn take(&self, queue: &str, count: usize) -> anyhow::Result<Vec<Vec<u8>>> {
        let connection = lapin::Connection::connect(&self.amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        let mut taken = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while taken.len() < count && Instant::now() < deadline {
            let options = BasicGetOptions { no_ack: true };
            match channel.basic_get(queue.into(), options).await? {
                Some(message) => taken.push(message.delivery.data.clone()),
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        connection.close(200, "taken".into()).await?;
        Ok(taken)
    }
}

/// The next message of `queue`, waiting up to 10 s for it.
async fn next_message(channel: &lapin::Channel, queue: &str) -> anyhow::Result<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let options = BasicGetOptions { no_ack: true };
        if let Some(message) = channel.basic_get(queue.into(), options).await? {
            return Ok(message.delivery.data.clone());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("no message on {queue} within 10 s")
}
