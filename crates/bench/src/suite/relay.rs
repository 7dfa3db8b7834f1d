//! The outbox relay: events per second from the store to the broker, published and
//! confirmed, through `platform::relay::Relay::publish_next_batch` (what the relay's
//! loop runs: load the checkpoint, read the next batch in commit-safe order, publish
//! it with pipelined confirms, save the checkpoint).
//!
//! A fresh inventory store (the service's migrations) is preloaded with N `StockAdded`
//! events through `platform::store::append_atomically` (100 per product, 500 per
//! transaction), and the bench waits until the commit horizon shows all of them (a
//! transaction open elsewhere on the server holds it back). Then the relay publishes
//! them all, timed from its first batch to the last confirm, to the `events` exchange of
//! a fresh vhost whose durable queue takes every key; the queue's depth afterwards is
//! checked against N. Compared with the pipelined RabbitMQ ceiling of the same batch.

use std::time::{Duration, Instant};

use inventory::domain::{Product, ProductEvent};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use platform::config::RelaySettings;
use platform::relay::Relay;
use platform::store::{self, Cursor};
use sqlx::PgPool;

use super::ceilings::broker_sink;
use super::latency::Cell;
use super::scratch::Scratch;
use super::{Options, SuiteError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");

const PER_PRODUCT: u64 = 100;
const PER_TRANSACTION: u64 = 500;
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct RelayFigures {
    /// Events in the store, all published.
    pub events: u64,
    pub batch: i64,
    /// Operations are events; latencies are whole batches (read, publish, confirm,
    /// checkpoint).
    pub cell: Cell,
    /// Messages in the queue afterwards: at least `events`.
    pub queued: u64,
}

pub async fn measure(options: &Options, scratch: &Scratch) -> Result<RelayFigures, SuiteError> {
    let (pool, database) = scratch.database("relay", 4).await?;
    let measured = async {
        MIGRATOR.run(&pool).await?;
        preload(&pool, options.relay_events).await?;
        settle(&pool, options.relay_events).await?;
        let (url, vhost) = scratch.vhost("relay").await?;
        let relayed = relay_all(&pool, &url, options).await;
        scratch.drop_vhost(&vhost).await?;
        relayed
    }
    .await;
    scratch.drop_database(pool, &database).await?;
    measured
}

async fn preload(pool: &PgPool, events: u64) -> Result<(), SuiteError> {
    let metadata = std::collections::HashMap::from([(
        platform::envelope::COMMAND_ID.to_string(),
        "bench".to_string(),
    )]);
    let mut written = 0;
    while written < events {
        let mut appends = Vec::new();
        let end = (written + PER_TRANSACTION).min(events);
        let mut n = written;
        while n < end {
            let product = n / PER_PRODUCT;
            let first = n % PER_PRODUCT;
            let count = (PER_PRODUCT - first).min(end - n);
            let sku = format!("p{product}");
            let stock: Vec<ProductEvent> = (0..count)
                .map(|_| ProductEvent::StockAdded {
                    sku: sku.clone(),
                    quantity: 1,
                })
                .collect();
            appends.push(store::serialize_events::<Product>(
                &sku,
                first as usize,
                &stock,
                &metadata,
            )?);
            n += count;
        }
        store::append_atomically(pool, &appends).await?;
        written = end;
    }
    Ok(())
}

async fn settle(pool: &PgPool, events: u64) -> Result<(), SuiteError> {
    let started = Instant::now();
    loop {
        let seen = store::count_committed_after(pool, Cursor::default()).await?;
        if seen >= events as i64 {
            return Ok(());
        }
        if started.elapsed() > SETTLE_TIMEOUT {
            return Err(SuiteError::Unsettled {
                expected: events,
                seen,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn relay_all(
    pool: &PgPool,
    url: &str,
    options: &Options,
) -> Result<RelayFigures, SuiteError> {
    let (connection, sink) = broker_sink(url).await?;
    let settings = RelaySettings {
        batch_size: options.relay_batch,
        ..RelaySettings::default()
    };
    let relay = Relay::new(pool.clone(), inventory::SERVICE, settings);
    let channel = relay.open_channel(&connection).await?;
    let mut batches = Vec::new();
    let mut published = 0u64;
    let started = Instant::now();
    while published < options.relay_events {
        let began = Instant::now();
        let count = relay.publish_next_batch(&channel).await?;
        if count == 0 {
            return Err(SuiteError::Unsettled {
                expected: options.relay_events,
                seen: published as i64,
            });
        }
        batches.push(began.elapsed());
        published += count as u64;
    }
    let elapsed = started.elapsed();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let queue = sink
        .queue_declare("bench".into(), passive, FieldTable::default())
        .await?;
    let _ = connection.close(200, "done".into()).await;
    let batch_cell = Cell::from_latencies(batches, elapsed);
    Ok(RelayFigures {
        events: published,
        batch: options.relay_batch,
        cell: Cell {
            operations: published,
            ..batch_cell
        },
        queued: u64::from(queue.message_count()),
    })
}
