//! Raw broker access for tests that play a misbehaving client: publishing any bytes
//! under any routing key, and reading what a dead-letter queue holds.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;

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
