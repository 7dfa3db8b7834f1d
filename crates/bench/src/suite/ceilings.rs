//! The servers' plain write rates: what the platform's figures are compared with.
//!
//! - **PostgreSQL**: N tasks, each on its own pooled connection (pool size N, filled
//!   before timing), looping `BEGIN; INSERT one row; COMMIT` into a fresh database's
//!   table with a bigserial key and a JSON payload the size of an event; durability as
//!   the server has it (`synchronous_commit` is printed with the table).
//! - **RabbitMQ**: persistent messages the size and shape of a relayed event, to the
//!   `events` exchange of a fresh vhost whose durable queue takes every key, on a
//!   channel in confirm mode. *one by one*: publish, await its confirm. *pipelined*:
//!   publish a batch (the relay's batch size), then await all its confirms — the way
//!   the relay publishes.
//! - **Redis**: one connection looping `SET` (keys of this run, which expire).
//! - **MongoDB**: one client looping `insert_one` into a fresh database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use sqlx::PgPool;

use super::latency::{drive, Cell, Workload};
use super::scratch::Scratch;
use super::{Options, SuiteError};

/// The servers' rates.
#[derive(Debug, Clone)]
pub struct Ceilings {
    pub synchronous_commit: String,
    /// Commits per second, per writer count.
    pub postgres: Vec<(usize, Cell)>,
    pub rabbit_one_by_one: Cell,
    pub rabbit_pipelined: Cell,
    pub pipeline_batch: i64,
    pub redis: Cell,
    pub mongo: Cell,
}

impl Ceilings {
    /// The PostgreSQL ceiling at `writers`.
    pub fn postgres_at(&self, writers: usize) -> Option<&Cell> {
        self.postgres
            .iter()
            .find(|(w, _)| *w == writers)
            .map(|(_, c)| c)
    }
}

pub async fn measure(options: &Options, scratch: &Scratch) -> Result<Ceilings, SuiteError> {
    let mut postgres = Vec::new();
    let mut synchronous_commit = String::new();
    for writers in options.writer_counts() {
        let (cell, setting) = postgres_ceiling(options, scratch, writers).await?;
        synchronous_commit = setting;
        postgres.push((writers, cell));
    }
    let (url, vhost) = scratch.vhost("ceiling").await?;
    let rabbit = rabbit_cells(&url, options.relay_batch, options.cell()).await;
    scratch.drop_vhost(&vhost).await?;
    let (rabbit_one_by_one, rabbit_pipelined) = rabbit?;
    Ok(Ceilings {
        synchronous_commit,
        postgres,
        rabbit_one_by_one,
        rabbit_pipelined,
        pipeline_batch: options.relay_batch,
        redis: redis_cell(options, scratch).await?,
        mongo: mongo_cell(options, scratch).await?,
    })
}

/// The PostgreSQL commit ceiling at `writers`, in a database of its own, and the
/// server's `synchronous_commit`.
pub async fn postgres_ceiling(
    options: &Options,
    scratch: &Scratch,
    writers: usize,
) -> Result<(Cell, String), SuiteError> {
    let (pool, name) = scratch
        .database(&format!("ceiling_pg_{writers}"), writers as u32)
        .await?;
    let measured = postgres_cell(&pool, writers, options.cell()).await;
    let synchronous_commit = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&pool)
        .await
        .unwrap_or_default();
    scratch.drop_database(pool, &name).await?;
    Ok((measured?, synchronous_commit))
}

/// Opens `size` connections of `pool` at once, so no timed operation pays a connect.
pub async fn fill_pool(pool: &PgPool, size: usize) -> Result<(), SuiteError> {
    let held = futures::future::try_join_all((0..size).map(|_| pool.acquire())).await?;
    drop(held);
    Ok(())
}

struct Commits(PgPool);

impl Workload for Commits {
    async fn run(&self, writer: usize, op: u64) -> Result<(), SuiteError> {
        let mut tx = self.0.begin().await?;
        sqlx::query("INSERT INTO ceiling (writer, payload) VALUES ($1, $2)")
            .bind(writer as i32)
            .bind(serde_json::json!({"StockAdded": {"sku": format!("w{writer}"), "quantity": op}}))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn postgres_cell(
    pool: &PgPool,
    writers: usize,
    duration: Duration,
) -> Result<Cell, SuiteError> {
    sqlx::query(
        "CREATE TABLE ceiling (id bigserial PRIMARY KEY, writer int NOT NULL, payload json NOT NULL)",
    )
    .execute(pool)
    .await?;
    fill_pool(pool, writers).await?;
    drive(Arc::new(Commits(pool.clone())), writers, duration).await
}

/// A channel in confirm mode on `url`, whose `events` exchange routes every key to a
/// durable queue, as the consumers' queues take the relayed events.
pub async fn broker_sink(url: &str) -> Result<(Connection, Channel), SuiteError> {
    let connection = platform::broker::connect(url, "commerce-bench", 3).await?;
    let channel = connection.create_channel().await?;
    platform::broker::declare_exchanges(&channel).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare("bench".into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            "bench".into(),
            platform::broker::EVENTS_EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((connection, channel))
}

/// A relayed event's body and properties, as the relay would send a `StockAdded`.
fn sample_message() -> Result<(Vec<u8>, BasicProperties), SuiteError> {
    let envelope = platform::envelope::EventEnvelope {
        event_id: uuid::Uuid::new_v4(),
        service: "inventory".into(),
        aggregate_type: "Product".into(),
        aggregate_id: "w0-s0".into(),
        sequence: 2,
        global_position: 2,
        payload: serde_json::json!({"sku": "w0-s0", "quantity": 1}),
        event_type: "StockAdded".into(),
        event_version: "1.0".into(),
        occurred_at: chrono::Utc::now(),
        correlation_id: Some(uuid::Uuid::new_v4().to_string()),
        causation_id: Some(uuid::Uuid::new_v4().to_string()),
    };
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.event_id.to_string().as_str().into())
        .with_type(envelope.event_type.as_str().into());
    Ok((serde_json::to_vec(&envelope)?, properties))
}

async fn publish(
    channel: &Channel,
    body: &[u8],
    properties: &BasicProperties,
) -> Result<lapin::PublisherConfirm, SuiteError> {
    Ok(channel
        .basic_publish(
            platform::broker::EVENTS_EXCHANGE.into(),
            "inventory.Product.StockAdded".into(),
            BasicPublishOptions::default(),
            body,
            properties.clone(),
        )
        .await?)
}

async fn rabbit_cells(
    url: &str,
    batch: i64,
    duration: Duration,
) -> Result<(Cell, Cell), SuiteError> {
    let (connection, channel) = broker_sink(url).await?;
    let (body, properties) = sample_message()?;
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let began = Instant::now();
        if !publish(&channel, &body, &properties).await?.await?.is_ack() {
            return Err(SuiteError::Nacked);
        }
        latencies.push(began.elapsed());
    }
    let one_by_one = Cell::from_latencies(latencies, started.elapsed());
    let mut batches = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let began = Instant::now();
        let mut pending = Vec::with_capacity(batch as usize);
        for _ in 0..batch {
            pending.push(publish(&channel, &body, &properties).await?);
        }
        for confirm in pending {
            if !confirm.await?.is_ack() {
                return Err(SuiteError::Nacked);
            }
        }
        batches.push(began.elapsed());
    }
    let elapsed = started.elapsed();
    let batch_cell = Cell::from_latencies(batches, elapsed);
    let pipelined = Cell {
        operations: batch_cell.operations * batch as u64,
        ..batch_cell
    };
    let _ = connection.close(200, "done".into()).await;
    Ok((one_by_one, pipelined))
}

async fn redis_cell(options: &Options, scratch: &Scratch) -> Result<Cell, SuiteError> {
    let client = redis::Client::open(options.redis_url.as_str())?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    let prefix = format!("{}:ceiling:", scratch.name("redis"));
    let keys = 1_000u64;
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut op = 0u64;
    while started.elapsed() < options.cell() {
        let began = Instant::now();
        redis::cmd("SET")
            .arg(format!("{prefix}{}", op % keys))
            .arg(r#"{"sku":"w0-s0","quantity":1}"#)
            .arg("EX")
            .arg(600)
            .exec_async(&mut connection)
            .await?;
        latencies.push(began.elapsed());
        op += 1;
    }
    let cell = Cell::from_latencies(latencies, started.elapsed());
    let written: Vec<String> = (0..keys.min(op)).map(|k| format!("{prefix}{k}")).collect();
    for chunk in written.chunks(500) {
        redis::cmd("DEL")
            .arg(chunk)
            .exec_async(&mut connection)
            .await?;
    }
    Ok(cell)
}

async fn mongo_cell(options: &Options, scratch: &Scratch) -> Result<Cell, SuiteError> {
    let client = mongodb::Client::with_uri_str(&options.mongodb_url).await?;
    let name = scratch.mongo_database("ceiling");
    let collection = client
        .database(&name)
        .collection::<mongodb::bson::Document>("ceiling");
    let mut latencies = Vec::new();
    let started = Instant::now();
    let mut op = 0i64;
    let outcome = async {
        while started.elapsed() < options.cell() {
            let began = Instant::now();
            collection
                .insert_one(mongodb::bson::doc! {"sku": "w0-s0", "quantity": 1, "op": op})
                .await?;
            latencies.push(began.elapsed());
            op += 1;
        }
        Ok::<_, SuiteError>(())
    }
    .await;
    let cell = Cell::from_latencies(latencies, started.elapsed());
    scratch.drop_mongo(&client, &name).await?;
    outcome.map(|()| cell)
}
