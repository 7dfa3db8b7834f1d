//! The dispatcher against a real PostgreSQL store, with senders that fail on purpose:
//! failures are retried with a backoff until sent or abandoned, a dispatcher that
//! starts over from the beginning of the store sends nothing twice, and of two
//! replicas only one sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notification::domain::{DeliveryPolicy, NotificationCommand};
use notification::{Dispatcher, DispatcherSettings, Notifications, Outgoing, SendError, Sender};
use notification::{SenderKind, SERVICE};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/notification");

/// Fails its first `failures` calls, then succeeds; remembers each attempt number.
#[derive(Clone, Default)]
struct FlakySender {
    failures: usize,
    attempts: Arc<Mutex<Vec<u32>>>,
}

impl FlakySender {
    fn attempts(&self) -> Vec<u32> {
        self.attempts.lock().expect("not poisoned").clone()
    }
}

impl Sender for FlakySender {
    async fn send(&self, notification: &Outgoing) -> Result<(), SendError> {
        let mut attempts = self.attempts.lock().expect("not poisoned");
        attempts.push(notification.attempt);
        if attempts.len() <= self.failures {
            return Err(SendError::Refused("gateway down".into()));
        }
        Ok(())
    }
}

/// A migrated database of its own, dropped by [`drop_store`].
async fn fresh_store() -> anyhow::Result<(PgPool, String)> {
    let name = format!("{SERVICE}_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let pool = PgPool::connect(&format!("postgres://postgres@127.0.0.1:5432/{name}")).await?;
    MIGRATOR.run(&pool).await?;
    Ok((pool, name))
}

async fn drop_store(pool: PgPool, name: &str) -> anyhow::Result<()> {
    pool.close().await;
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    Ok(())
}

fn settings(max_attempts: u32) -> DispatcherSettings {
    DispatcherSettings {
        sender: SenderKind::Log,
        max_attempts,
        retry_backoff: Duration::from_millis(20),
        batch_size: 100,
        idle_poll: Duration::from_millis(10),
    }
}

async fn request(pool: &PgPool, notification_id: &str) -> anyhow::Result<()> {
    let command = NotificationCommand::SendNotification {
        notification_id: notification_id.into(),
        customer_id: "c1".into(),
        channel: "email".into(),
        template: "order_confirmed".into(),
        data: json!({"order_id": "o1"}),
    };
    Notifications::new(pool.clone(), DeliveryPolicy::default())
        .execute(command, HashMap::new())
        .await?;
    Ok(())
}

async fn event_types(pool: &PgPool, notification_id: &str) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY sequence",
    )
    .bind(notification_id)
    .fetch_all(pool)
    .await?)
}

/// Runs a dispatcher until the notification's events end with `last`, or 10 s passed.
async fn dispatch_until(
    pool: &PgPool,
    sender: FlakySender,
    max_attempts: u32,
    last: &str,
) -> anyhow::Result<Vec<String>> {
    let stop = CancellationToken::new();
    let dispatcher = Dispatcher::new(pool.clone(), sender, settings(max_attempts));
    let running = tokio::spawn(dispatcher.run(stop.clone()));
    let started = Instant::now();
    let mut events = event_types(pool, "n1").await?;
    while events.last().map(String::as_str) != Some(last) && started.elapsed().as_secs() < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        events = event_types(pool, "n1").await?;
    }
    // Long enough for a wrong extra retry (20-80 ms backoff) to show up.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    running.await?;
    event_types(pool, "n1").await
}

#[tokio::test]
async fn failed_deliveries_are_retried_until_the_notification_is_sent() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    request(&pool, "n1").await?;
    let sender = FlakySender {
        failures: 2,
        ..FlakySender::default()
    };
    let events = dispatch_until(&pool, sender.clone(), 5, "NotificationSent").await?;
    assert_eq!(
        events,
        [
            "NotificationRequested",
            "NotificationFailed",
            "NotificationFailed",
            "NotificationSent"
        ]
    );
    assert_eq!(sender.attempts(), [1, 2, 3]);

    // From the very start of the store again: everything is replayed, nothing resent.
    sqlx::query("DELETE FROM outbox_checkpoint")
        .execute(&pool)
        .await?;
    let replay = FlakySender::default();
    let again = dispatch_until(&pool, replay.clone(), 5, "NotificationSent").await?;
    assert_eq!(again, events);
    assert!(
        replay.attempts().is_empty(),
        "resent: {:?}",
        replay.attempts()
    );
    drop_store(pool, &name).await
}

#[tokio::test]
async fn a_notification_is_abandoned_after_its_last_allowed_attempt() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    request(&pool, "n1").await?;
    let sender = FlakySender {
        failures: usize::MAX,
        ..FlakySender::default()
    };
    let events = dispatch_until(&pool, sender.clone(), 3, "NotificationAbandoned").await?;
    assert_eq!(
        events,
        [
            "NotificationRequested",
            "NotificationFailed",
            "NotificationFailed",
            "NotificationFailed",
            "NotificationAbandoned"
        ]
    );
    assert_eq!(sender.attempts(), [1, 2, 3], "no attempt after abandoning");
    let retries: i64 = sqlx::query_scalar("SELECT count(*) FROM notification_retry")
        .fetch_one(&pool)
        .await?;
    assert_eq!(retries, 0, "nothing left scheduled");
    drop_store(pool, &name).await
}

#[tokio::test]
async fn of_two_dispatchers_on_one_store_only_one_sends() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    for n in 0..10 {
        request(&pool, &format!("n{n}")).await?;
    }
    let sender = FlakySender::default();
    let stop = CancellationToken::new();
    let replicas: Vec<_> = (0..2)
        .map(|_| {
            let dispatcher = Dispatcher::new(pool.clone(), sender.clone(), settings(5));
            tokio::spawn(dispatcher.run(stop.clone()))
        })
        .collect();
    let sent = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE event_type = 'NotificationSent'",
        )
        .fetch_one(&pool)
        .await
    };
    let started = Instant::now();
    while sent().await? < 10 && started.elapsed().as_secs() < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    for replica in replicas {
        replica.await?;
    }
    assert_eq!(sent().await?, 10);
    assert_eq!(sender.attempts().len(), 10, "each notification sent once");
    drop_store(pool, &name).await
}

#[tokio::test]
async fn an_idle_dispatcher_woken_by_a_request_delivers_it_before_its_next_poll(
) -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let settings = DispatcherSettings {
        idle_poll: Duration::from_secs(120),
        ..settings(5)
    };
    let dispatcher = Dispatcher::new(pool.clone(), FlakySender::default(), settings);
    let wake = dispatcher.wake();
    let stop = CancellationToken::new();
    let running = tokio::spawn(dispatcher.run(stop.clone()));
    // Long enough for the dispatcher to find nothing and start its two-minute wait.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    request(&pool, "n1").await?;
    wake.signal();
    let started = Instant::now();
    let mut events = event_types(&pool, "n1").await?;
    while events.last().map(String::as_str) != Some("NotificationSent")
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        events = event_types(&pool, "n1").await?;
    }
    stop.cancel();
    running.await?;
    assert_eq!(events, ["NotificationRequested", "NotificationSent"]);
    drop_store(pool, &name).await
}
