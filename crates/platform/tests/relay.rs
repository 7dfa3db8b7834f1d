//! The outbox relay against real PostgreSQL and RabbitMQ: many concurrent writers,
//! transactions held open while later ones commit, aborted transactions; every
//! committed event must be published exactly once, in checkpoint order, none skipped.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use platform::config::RelaySettings;
use platform::envelope::EventEnvelope;
use platform::relay::Relay;
use rand::Rng;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

mod support;
use support::{drop_store, fresh_store};

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    aggregate: &str,
    sequence: i64,
) -> anyhow::Result<Uuid> {
    let row = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('Test', $1, $2, 'Happened', '1', '{\"Happened\": {}}', '{}') RETURNING event_id",
    )
    .bind(aggregate)
    .bind(sequence)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("event_id")?)
}

/// One writer: `transactions` transactions of 1-3 events each, some held open for a
/// while before committing, some rolled back. Returns the ids it committed.
async fn writer(pool: PgPool, writer: usize, transactions: usize) -> anyhow::Result<Vec<Uuid>> {
    let mut committed = Vec::new();
    let aggregate = format!("writer-{writer}");
    let mut sequence = 0;
    for _ in 0..transactions {
        let (events, hold_ms, abort) = {
            let mut rng = rand::rng();
            (
                rng.random_range(1..=3),
                rng.random_range(0..40u64),
                rng.random_bool(0.1),
            )
        };
        let mut tx = pool.begin().await?;
        let mut ids = Vec::new();
        for _ in 0..events {
            sequence += 1;
            ids.push(insert_event(&mut tx, &aggregate, sequence).await?);
        }
        tokio::time::sleep(Duration::from_millis(hold_ms)).await;
        if abort {
            tx.rollback().await?;
            sequence -= events;
        } else {
            tx.commit().await?;
            committed.extend(ids);
        }
    }
    Ok(committed)
}

/// Inserts one event, then holds its transaction open while others commit. Returns its
/// id and how many events with a higher position were already visible when it committed:
/// a reader with a position-only cursor could have passed all of those and skipped it.
async fn long_transaction(pool: PgPool, hold: Duration) -> anyhow::Result<(Uuid, i64)> {
    let mut tx = pool.begin().await?;
    let id = insert_event(&mut tx, "long-runner", 1).await?;
    let position: i64 =
        sqlx::query_scalar("SELECT global_position FROM events WHERE event_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    tokio::time::sleep(hold).await;
    // Asked outside the transaction: what other readers can already see.
    let overtaken: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE global_position > $1")
            .bind(position)
            .fetch_one(&pool)
            .await?;
    tx.commit().await?;
    Ok((id, overtaken))
}

/// Binds a fresh queue to the service's events and forwards every envelope received.
async fn subscribe(
    service: &str,
) -> anyhow::Result<tokio::sync::mpsc::UnboundedReceiver<EventEnvelope>> {
    let connection = lapin::Connection::connect(AMQP_URL, Default::default()).await?;
    let channel = connection.create_channel().await?;
    platform::broker::declare_exchanges(&channel).await?;
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await?;
    let binding = format!("{service}.#");
    channel
        .queue_bind(
            queue.name().clone(),
            "events".into(),
            binding.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "relay-test".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _keep = connection;
        while let Some(Ok(delivery)) = consumer.next().await {
            if let Ok(envelope) = serde_json::from_slice(&delivery.data) {
                let _ = sender.send(envelope);
            }
            let _ = delivery.ack(BasicAckOptions::default()).await;
        }
    });
    Ok(receiver)
}

/// Receives until `expected` events arrived (or 30 s passed), then a little longer so
/// that a duplicate would show up too.
async fn receive(
    receiver: &mut tokio::sync::mpsc::UnboundedReceiver<EventEnvelope>,
    expected: usize,
) -> Vec<EventEnvelope> {
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while received.len() < expected {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(envelope)) => received.push(envelope),
            _ => break,
        }
    }
    while let Ok(Some(envelope)) =
        tokio::time::timeout(Duration::from_millis(500), receiver.recv()).await
    {
        received.push(envelope);
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_event_is_published_once_in_commit_order() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let service = format!("relaytest{}", &Uuid::new_v4().simple().to_string()[..8]);
    let settings = RelaySettings {
        batch_size: 7,
        idle_poll: Duration::from_millis(5),
    };
    let relay = Relay::new(pool.clone(), service.clone(), settings);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The queue must be bound before the relay publishes anything.
    let mut events = subscribe(&service).await?;
    let relay_task = tokio::spawn(relay.run(AMQP_URL.to_string(), async {
        let _ = stopped.await;
    }));

    let long = tokio::spawn(long_transaction(pool.clone(), Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let writers: Vec<_> = (0..16)
        .map(|w| tokio::spawn(writer(pool.clone(), w, 25)))
        .collect();
    let mut committed = HashSet::new();
    for handle in writers {
        committed.extend(handle.await??);
    }
    let (long_id, overtaken) = long.await??;
    committed.insert(long_id);

    let received = receive(&mut events, committed.len()).await;
    let _ = stop.send(());
    relay_task.await?;

    let received_ids: Vec<Uuid> = received.iter().map(|e| e.event_id).collect();
    let distinct: HashSet<Uuid> = received_ids.iter().copied().collect();
    assert_eq!(
        received_ids.len(),
        distinct.len(),
        "an event was published twice"
    );
    assert_eq!(
        distinct, committed,
        "published events differ from committed events"
    );

    let order = commit_order(&pool).await?;
    let keys: Vec<(i64, i64)> = received_ids.iter().map(|id| order[id]).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "events were not published in (tx_id, position) order"
    );

    // The hazard was real: events with higher positions were visible before the long
    // transaction committed, so a position-only cursor would have skipped its event.
    assert!(
        overtaken > 0,
        "no event overtook the long transaction; the test did not exercise late commits"
    );

    drop_store(pool, &name).await
}

async fn commit_order(pool: &PgPool) -> anyhow::Result<HashMap<Uuid, (i64, i64)>> {
    let rows =
        sqlx::query("SELECT event_id, tx_id::text::bigint AS tx, global_position FROM events")
            .fetch_all(pool)
            .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("event_id")?,
                (r.try_get("tx")?, r.try_get("global_position")?),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_relays_on_one_store_only_the_leader_publishes() -> anyhow::Result<()> {
    let (pool, name) = fresh_store().await?;
    let service = format!("relaytest{}", &Uuid::new_v4().simple().to_string()[..8]);
    let mut events = subscribe(&service).await?;
    let settings = RelaySettings {
        batch_size: 3,
        idle_poll: Duration::from_millis(5),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relays: Vec<_> = (0..2)
        .map(|_| {
            let relay = Relay::new(pool.clone(), service.clone(), settings.clone());
            let mut stopped = stopped.clone();
            tokio::spawn(relay.run(AMQP_URL.to_string(), async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }))
        })
        .collect();
    let committed: HashSet<Uuid> = writer(pool.clone(), 0, 40).await?.into_iter().collect();
    let received = receive(&mut events, committed.len()).await;
    stop.send(true)?;
    for relay in relays {
        relay.await?;
    }
    let ids: Vec<Uuid> = received.iter().map(|e| e.event_id).collect();
    assert_eq!(
        ids.len(),
        committed.len(),
        "each event published once, not once per relay"
    );
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), committed);
    drop_store(pool, &name).await
}

/// A relay on a fresh store that polls only every two minutes, already idle, and a
/// subscription to what it publishes.
struct IdleRelay {
    pool: PgPool,
    name: String,
    wake: platform::wake::Wake,
    events: tokio::sync::mpsc::UnboundedReceiver<EventEnvelope>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl IdleRelay {
    async fn start() -> anyhow::Result<Self> {
        let (pool, name) = fresh_store().await?;
        let service = format!("relaytest{}", &Uuid::new_v4().simple().to_string()[..8]);
        let events = subscribe(&service).await?;
        let settings = RelaySettings {
            batch_size: 10,
            idle_poll: Duration::from_secs(120),
        };
        let relay = Relay::new(pool.clone(), service, settings);
        let wake = relay.wake();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(relay.run(AMQP_URL.to_string(), async {
            let _ = stopped.await;
        }));
        // Long enough for the relay to find the store empty and start its long wait.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(Self {
            pool,
            name,
            wake,
            events,
            stop,
            task,
        })
    }

    /// Commits one event; returns its id.
    async fn commit_one(&self, aggregate: &str) -> anyhow::Result<Uuid> {
        let mut tx = self.pool.begin().await?;
        let id = insert_event(&mut tx, aggregate, 1).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Asserts that `id` is published well before the relay's next poll, then stops.
    async fn published_soon(mut self, id: Uuid) -> anyhow::Result<()> {
        let published = tokio::time::timeout(Duration::from_secs(20), self.events.recv()).await;
        let _ = self.stop.send(());
        self.task.await?;
        let envelope = published
            .map_err(|_| anyhow::anyhow!("not published: the relay waited for its poll"))?
            .ok_or_else(|| anyhow::anyhow!("subscription ended"))?;
        assert_eq!(envelope.event_id, id);
        drop_store(self.pool, &self.name).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_relay_woken_after_a_commit_publishes_before_its_next_poll() -> anyhow::Result<()> {
    let relay = IdleRelay::start().await?;
    let id = relay.commit_one("woken").await?;
    relay.wake.signal();
    relay.published_soon(id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_held_back_by_an_older_open_transaction_is_published_once_it_ends(
) -> anyhow::Result<()> {
    let relay = IdleRelay::start().await?;
    // An older transaction with an id: the event's commit stays above the snapshot's xmin.
    let mut older = relay.pool.begin().await?;
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *older)
        .await?;
    let id = relay.commit_one("held-back").await?;
    relay.wake.signal();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    older.rollback().await?;
    relay.published_soon(id).await
}
