//! The notification views against the real MongoDB: `delivery_status` per notification,
//! `template_usage` and `channel_performance` counting across notifications (with the
//! success rate derived when read); their routes; idempotence.

mod support;

use platform::envelope::EventEnvelope;
use serde_json::{json, Value};

use support::{assert_same, get, notification_event, notification_requested, Fixture};

fn failed(id: &str, sequence: i64, channel: &str, attempt: u64, reason: &str) -> EventEnvelope {
    let payload = json!({"notification_id": id, "channel": channel, "attempt": attempt,
        "reason": reason});
    notification_event(id, sequence, "NotificationFailed", payload)
}

fn sent(id: &str, sequence: i64, channel: &str) -> EventEnvelope {
    let payload = json!({"notification_id": id, "channel": channel,
        "delivered_at": "2026-03-01T10:00:00Z"});
    notification_event(id, sequence, "NotificationSent", payload)
}

/// n1 sent at once; n2 sent at its third attempt; n3 abandoned after one; n4 pending.
fn notifications() -> Vec<EventEnvelope> {
    vec![
        notification_requested("n1", "email", "order_confirmed"),
        sent("n1", 2, "email"),
        notification_requested("n2", "email", "order_cancelled"),
        failed("n2", 2, "email", 1, "smtp timeout"),
        failed("n2", 3, "email", 2, "smtp refused"),
        sent("n2", 4, "email"),
        notification_requested("n3", "sms", "order_confirmed"),
        failed("n3", 2, "sms", 1, "no such number"),
        notification_event(
            "n3",
            3,
            "NotificationAbandoned",
            json!({"notification_id": "n3", "attempts": 1}),
        ),
        notification_requested("n4", "sms", "order_confirmed"),
    ]
}

fn counts(item: &Value) -> [i64; 4] {
    ["requested", "sent", "failed", "abandoned"].map(|f| item[f].as_i64().unwrap_or(-1))
}

#[tokio::test]
async fn deliveries_templates_and_channels_add_up_and_replays_change_nothing() {
    let fx = Fixture::new().await;
    let events = notifications();
    fx.apply_all(&events).await;
    let base = fx.serve().await;

    let (status, n2) = get(&base, "/notifications/n2").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            n2["status"].clone(),
            n2["attempts"].clone(),
            n2["last_error"].clone()
        ),
        (json!("sent"), json!(3), json!("smtp refused"))
    );
    assert_eq!(n2["delivered_at"], "2026-03-01T10:00:00Z");
    let (_, n3) = get(&base, "/notifications/n3").await;
    assert_eq!(
        (
            n3["status"].clone(),
            n3["attempts"].clone(),
            n3["template"].clone()
        ),
        (json!("abandoned"), json!(1), json!("order_confirmed"))
    );
    let (_, n4) = get(&base, "/notifications/n4").await;
    assert_eq!(
        (n4["status"].clone(), n4["delivered_at"].clone()),
        (json!("requested"), json!(null))
    );

    let (status, templates) = get(&base, "/templates").await;
    assert_eq!(status, 200);
    let by_name: Vec<(String, [i64; 4])> = templates["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["template"].as_str().unwrap_or("").to_string(), counts(t)))
        .collect();
    assert_eq!(
        by_name,
        [
            ("order_cancelled".into(), [1, 1, 2, 0]),
            ("order_confirmed".into(), [3, 1, 1, 1])
        ]
    );
    let (_, confirmed) = get(&base, "/templates/order_confirmed").await;
    assert_eq!(counts(&confirmed), [3, 1, 1, 1]);

    let (_, channels) = get(&base, "/channels").await;
    let rated: Vec<(String, [i64; 4], Value)> = channels["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["channel"].as_str().unwrap_or("").to_string(),
                counts(c),
                c["success_rate"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rated,
        [
            ("email".into(), [2, 2, 2, 0], json!(1.0)),
            ("sms".into(), [2, 0, 1, 1], json!(0.0))
        ]
    );
    let (_, sms) = get(&base, "/channels/sms?").await;
    assert_eq!(sms["success_rate"], json!(0.0));

    for (path, expected) in [
        ("/notifications/none", 404),
        ("/templates/none", 404),
        ("/channels/pigeon", 404),
        ("/templates?limit=0", 400),
        ("/channels?offset=-1", 400),
    ] {
        let (status, body) = get(&base, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}"
        );
    }

    let before = fx.snapshot(1).await;
    fx.apply_all(&events).await;
    assert_same(&fx.snapshot(1).await, &before, "applied twice");
    fx.drop_all().await;
}

#[tokio::test]
async fn an_event_of_a_notification_never_requested_counts_nothing() {
    let fx = Fixture::new().await;
    fx.apply(&sent("ghost", 2, "email")).await;
    assert!(fx.documents("channel_performance", 1).await.is_empty());
    assert!(fx.documents("delivery_status", 1).await.is_empty());
    fx.drop_all().await;
}
