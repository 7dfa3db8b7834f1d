//! A bench for the star schema against real PostgreSQL: a throwaway event store per
//! source (migrated like the real one, served as its feed over HTTP on port 0), a
//! throwaway analytics database, and the projection runner between them.
//!
//! Events are appended with `platform::store::append_atomically`, then stamped with
//! the instant the test wants them to have happened (`recorded_at`, which the feed
//! serves as `occurred_at`), so months and product history can be laid out at will.

#![allow(dead_code)]

mod events;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use analytics::book::PgBook;
use analytics::warehouse::{cubes, Warehouse};
use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use platform::projection::{Feeds, Runner, RunnerSettings};
use platform::store::{append_atomically, AggregateAppend};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static ANALYTICS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/analytics");
static INVENTORY: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/inventory");
static ORDER: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/order");
static USER: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/user");
static PAYMENT: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/payment");

async fn fresh_database(prefix: &str) -> anyhow::Result<(PgPool, String)> {
    let name = format!("{prefix}_{}", Uuid::new_v4().simple());
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    admin.close().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&format!("postgres://postgres@127.0.0.1:5432/{name}"))
        .await?;
    Ok((pool, name))
}

async fn drop_database(pool: PgPool, name: &str) -> anyhow::Result<()> {
    pool.close().await;
    let admin = PgPool::connect(ADMIN_URL).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}

/// One source service: its store and the server of its feed.
struct Source {
    pool: PgPool,
    database: String,
    server: tokio::task::JoinHandle<()>,
}

async fn source(
    service: &str,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<(Source, String)> {
    let (pool, database) = fresh_database(&format!("analytics_test_{service}")).await?;
    migrator.run(&pool).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = platform::feed::routes(service, pool.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((
        Source {
            pool,
            database,
            server,
        },
        url,
    ))
}

pub struct Bench {
    sources: HashMap<&'static str, Source>,
    pub pool: PgPool,
    database: String,
    pub warehouse: Warehouse,
    pub book: Arc<PgBook>,
    pub runner: Runner<Warehouse, PgBook>,
    sequences: HashMap<(String, String), usize>,
    appended: u64,
    read: u64,
    /// The analytics API on port 0.
    pub api_url: String,
    api: tokio::task::JoinHandle<()>,
}

pub async fn bench() -> anyhow::Result<Bench> {
    let mut sources = HashMap::new();
    let mut urls = Vec::new();
    for (service, migrator) in [
        ("inventory", &INVENTORY),
        ("order", &ORDER),
        ("user", &USER),
        ("payment", &PAYMENT),
    ] {
        let (source, url) = source(service, migrator).await?;
        sources.insert(service, source);
        urls.push((service, url));
    }
    let (pool, database) = fresh_database("analytics_test").await?;
    ANALYTICS.run(&pool).await?;
    let warehouse = Warehouse::new(pool.clone());
    warehouse.ensure(1).await?;
    let prepared = warehouse.clone();
    let book = Arc::new(
        PgBook::new(pool.clone()).before_promote(Arc::new(move |version| {
            let warehouse = prepared.clone();
            Box::pin(async move { warehouse.prepare(version).await })
        })),
    );
    let settings = RunnerSettings {
        page: 3,
        attempts: 2,
        retry_pause: Duration::from_millis(1),
        // Long enough for a query that resolved the old version to finish reading it.
        drop_grace: Duration::from_millis(300),
        ..RunnerSettings::default()
    };
    let feeds = Feeds::new(urls.iter().map(|(s, u)| (*s, u.as_str())));
    let runner = Runner::new(warehouse.clone(), book.clone(), feeds, settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api_url = format!("http://{}", listener.local_addr()?);
    let router = analytics::api::routes(pool.clone());
    let api = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(Bench {
        sources,
        pool,
        database,
        warehouse,
        book,
        runner,
        sequences: HashMap::new(),
        appended: 0,
        read: 0,
        api_url,
        api,
    })
}

/// An instant given as `2026-01-10T10:00:00Z`.
pub fn at(text: &str) -> DateTime<Utc> {
    text.parse()
        .unwrap_or_else(|_| panic!("{text} is not an instant"))
}

impl Bench {
    /// Appends one event to `service`'s store, happened at `when`.
    pub async fn append(
        &mut self,
        service: &'static str,
        (aggregate_type, aggregate_id): (&str, &str),
        event_type: &str,
        payload: Value,
        when: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let key = (aggregate_type.to_string(), aggregate_id.to_string());
        let sequence = self.sequences.entry(key).or_default();
        *sequence += 1;
        let event = SerializedEvent::new(
            aggregate_id.into(),
            *sequence,
            aggregate_type.into(),
            event_type.into(),
            "1".into(),
            json!({ event_type: payload }),
            json!({}),
        );
        let store = &self.sources[service].pool;
        let append = AggregateAppend {
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
            events: vec![event],
        };
        append_atomically(store, &[append]).await?;
        sqlx::query(
            "UPDATE events SET recorded_at = $1 \
             WHERE aggregate_type = $2 AND aggregate_id = $3 AND sequence = $4",
        )
        .bind(when)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(*sequence as i64)
        .execute(store)
        .await?;
        self.appended += 1;
        Ok(())
    }

    /// Runs passes until every event appended so far was read, then refreshes the
    /// cubes: a transaction open elsewhere in the cluster (another test's) holds the
    /// feeds' horizon back for a moment.
    pub async fn catch_up(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.read < self.appended {
            anyhow::ensure!(
                Instant::now() < deadline,
                "read {} of {}",
                self.read,
                self.appended
            );
            self.read += self.runner.pass().await?;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.refresh().await
    }

    /// Forgets what was read, as the runner does after its checkpoints are cleared.
    pub fn rewind(&mut self) {
        self.read = 0;
    }

    pub async fn refresh(&self) -> anyhow::Result<()> {
        let version = self.runner.current_version().await?;
        cubes::refresh(&self.pool, version).await?;
        self.warehouse.changed().store(false, Ordering::Relaxed);
        Ok(())
    }

    /// `GET` on the analytics API: status and JSON body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = reqwest::get(format!("{}{path}", self.api_url)).await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.api.abort();
        for (_, source) in self.sources {
            source.server.abort();
            drop_database(source.pool, &source.database).await?;
        }
        drop_database(self.pool, &self.database).await?;
        Ok(())
    }
}
