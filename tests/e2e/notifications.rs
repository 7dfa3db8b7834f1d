//! Notifications end to end: a command over the broker is delivered once by the
//! dispatcher (a line in the stack's outbox file) and announced as
//! `notification.Notification.NotificationSent` on the `events` exchange.

use cli::client::SendOptions;
use e2e::{EventTap, TestStack};
use serde_json::{json, Value};

use crate::support::{assert_accepted, assert_rejected};

fn request(notification_id: &str, channel: &str) -> Value {
    json!({"notification_id": notification_id, "customer_id": "c-1", "channel": channel,
        "template": "order_confirmed", "data": {"order_id": "o-1", "total_cents": 3897}})
}

/// The lines of the stack's outbox file written for `notification_id`.
fn lines_for(stack: &TestStack, notification_id: &str) -> anyhow::Result<Vec<Value>> {
    let text = match std::fs::read_to_string(&stack.notification_outbox_file) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err.into()),
    };
    let mut lines = Vec::new();
    for line in text.lines() {
        let line: Value = serde_json::from_str(line)?;
        if line["notification_id"] == notification_id {
            lines.push(line);
        }
    }
    Ok(lines)
}

#[tokio::test]
async fn a_requested_notification_is_written_once_and_announced_as_sent() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tap = EventTap::bind(&stack, "notification.#").await?;
    let id = format!("welcome-{}", stack.id);
    let reply = stack
        .send("notification.SendNotification", request(&id, "email"))
        .await?;
    assert_accepted(&reply);
    assert_eq!(reply.events, vec!["NotificationRequested".to_string()]);

    let sent = tap
        .wait_for("notification.Notification.NotificationSent", &id)
        .await?;
    assert_eq!(sent.payload["channel"], "email");
    assert!(sent.payload["delivered_at"].is_string(), "{sent:?}");
    // The line is written before the outcome is recorded, so it is there already.
    let lines = lines_for(&stack, &id)?;
    assert_eq!(lines.len(), 1, "one line per notification: {lines:?}");
    assert_eq!(
        (&lines[0]["template"], &lines[0]["attempt"]),
        (&json!("order_confirmed"), &json!(1))
    );
    assert_eq!(lines[0]["data"]["total_cents"], 3897);
    stack.stop().await
}

#[tokio::test]
async fn a_command_sent_twice_writes_one_line() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let tap = EventTap::bind(&stack, "notification.#").await?;
    let id = format!("twice-{}", stack.id);
    let body = request(&id, "sms").to_string();
    let send = |command_id: &'static str| {
        let options = SendOptions::default().command_id(command_id);
        stack.send_with("notification.SendNotification", body.as_bytes(), options)
    };
    let first = send("notify-once").await?;
    let second = send("notify-once").await?;
    assert_accepted(&first);
    assert_eq!(first, second, "a resent command must get the same reply");
    // Another command for the same notification is a business rule, not a duplicate.
    assert_rejected(&send("notify-again").await?, "already_requested");

    tap.wait_for("notification.Notification.NotificationSent", &id)
        .await?;
    assert_eq!(lines_for(&stack, &id)?.len(), 1);
    stack.stop().await
}

#[tokio::test]
async fn a_notification_on_an_unknown_channel_is_rejected() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let id = format!("pigeon-{}", stack.id);
    let reply = stack
        .send("notification.SendNotification", request(&id, "pigeon"))
        .await?;
    assert_rejected(&reply, "schema_violation");
    assert!(
        reply
            .error
            .as_ref()
            .is_some_and(|e| e.message.contains("/channel")),
        "the violation names the field: {reply:?}"
    );
    assert!(lines_for(&stack, &id)?.is_empty());
    stack.stop().await
}
