//! The bus's word that an order ended: the tracker listens on the `events` exchange for
//! `OrderConfirmed` and `OrderCancelled`, and polls the query service only for orders
//! whose end is recorded. Polling every pending order instead makes the harness's load
//! grow with the backlog (hundreds of status requests per round once the services fall
//! behind), which takes CPU from the services it measures. The latency is still taken
//! from the HTTP answer, so it includes the read side's lag.

use futures::StreamExt;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use platform::broker::{self, EVENTS_EXCHANGE};
use tokio::sync::mpsc;

/// The routing keys of an order's end.
const ENDS: [&str; 2] = ["order.Order.OrderConfirmed", "order.Order.OrderCancelled"];

/// Order ids as their end crosses the bus; the receiver closes if the connection is lost
/// (the tracker then polls every pending order again).
pub async fn listen(amqp_url: &str) -> Result<mpsc::UnboundedReceiver<String>, lapin::Error> {
    let connection = broker::connect(amqp_url, "e2e-bench-ends", 3).await?;
    let channel = connection.create_channel().await?;
    broker::declare_exchanges(&channel).await?;
    let queue = broker::private_queue(&channel, EVENTS_EXCHANGE, &ENDS).await?;
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            "ends".into(),
            no_ack,
            FieldTable::default(),
        )
        .await?;
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sender.closed() => break,
                delivery = deliveries.next() => match delivery {
                    Some(Ok(delivery)) => {
                        if let Some(order_id) = order_id(&delivery.data) {
                            let _ = sender.send(order_id);
                        }
                    }
                    _ => break,
                },
            }
        }
        broker::close(&connection, "tracker done").await;
    });
    Ok(receiver)
}

/// The order an event envelope is about (its aggregate id).
fn order_id(body: &[u8]) -> Option<String> {
    let envelope: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(envelope["aggregate_id"].as_str()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_names_its_order_and_anything_else_names_none() {
        let body = br#"{"aggregate_type": "Order", "aggregate_id": "o-7", "payload": {}}"#;
        assert_eq!(order_id(body).as_deref(), Some("o-7"));
        assert_eq!(order_id(b"not json"), None);
        assert_eq!(order_id(br#"{"aggregate_id": 7}"#), None);
    }
}
