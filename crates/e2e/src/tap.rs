//! Watching the `events` exchange of a test stack.

use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use platform::envelope::EventEnvelope;

use crate::TestStack;

/// A temporary queue bound to `events` under `binding`, in the stack's vhost; bound
/// before a command is sent, so no event can pass before it exists.
pub struct EventTap {
    _connection: lapin::Connection,
    channel: lapin::Channel,
    queue: String,
}

impl EventTap {
    pub async fn bind(stack: &TestStack, binding: &str) -> anyhow::Result<Self> {
        let connection = lapin::Connection::connect(&stack.amqp_url, Default::default()).await?;
        let channel = connection.create_channel().await?;
        let queue = platform::broker::private_queue(&channel, "events", &[binding]).await?;
        Ok(Self {
            _connection: connection,
            queue,
            channel,
        })
    }

    /// Reads events until one with `routing_key` about `aggregate_id` arrives (the ones
    /// before it are consumed).
    pub async fn wait_for(
        &self,
        routing_key: &str,
        aggregate_id: &str,
    ) -> anyhow::Result<EventEnvelope> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let options = BasicGetOptions { no_ack: true };
            let Some(message) = self
                .channel
                .basic_get(self.queue.as_str().into(), options)
                .await?
            else {
                tokio::time::sleep(Duration::from_millis(25)).await;
                continue;
            };
            let event: EventEnvelope = serde_json::from_slice(&message.delivery.data)?;
            if event.routing_key() == routing_key && event.aggregate_id == aggregate_id {
                return Ok(event);
            }
        }
        anyhow::bail!("no {routing_key} for {aggregate_id} within 10 s")
    }
}
