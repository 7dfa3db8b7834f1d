//! The benchmarks. [`suite`] is `commerce-bench`, the one-run table of the servers'
//! write ceilings beside the platform's append, relay and replay rates; the rest of
//! this crate is `replay-bench`, whose [`run`] the suite's replay section calls.
//!
//! `replay-bench`: how fast each read store is rebuilt from the event stores, next to
//! how fast the same server takes a plain bulk write of as much data, in one run.
//!
//! # What is measured
//!
//! For each store the read side writes, the **replay rate**: events per second of a
//! full rebuild ([`platform::projection::Runner::rebuild`], what `commerce replay` and
//! `POST /projections/{name}/rebuild` run) of its projections from the beginning of
//! every feed to a promoted version. It includes everything a rebuild does in
//! production: reading the feeds over HTTP page by page, decoding (and upcasting) each
//! event, the idempotent writes (a version-checked upsert per event in MongoDB; one
//! pipeline per page of a Lua script call per 100 orders in Redis; one transaction per
//! page in PostgreSQL, its events claimed in the inbox and written by set-based
//! statements),
//! saving the checkpoint after each page (in Redis for the views kept there alone), and
//! the swap (for the OLAP schema: refreshing its cubes). The stores:
//! - **MongoDB** and **Redis**: the query service's views ([`query::projector::View`]),
//!   each replayed into its own database and key prefix, and counted under the store
//!   it wrote to (found by looking at what it left there; a view writing both would be
//!   counted as "MongoDB + Redis"). The views kept in Redis alone are rebuilt together,
//!   a group per feed, as `commerce replay` rebuilds them (sharing the feed's pages:
//!   [`platform::feed::FeedClient::slot`]), and timed as one; the others one by one.
//! - **OLAP**: the analytics service's star schema ([`analytics::warehouse::Warehouse`])
//!   in a database of its own, with its PostgreSQL bookkeeping.
//!
//! An event counts once per projection that reads it, whether it changes that
//! projection or not (`product_list` reads the whole inventory feed, reservations too).
//!
//! Beside it, the **bulk rate**: writes per second of a plain bulk write of as many
//! documents, commands or rows as the replay read events, into the same server right
//! after the replay, shaped like what the replay wrote: MongoDB `insert_many` of copies
//! of the view's documents into a collection with the view's indexes; Redis pipelines
//! of `HSET` (`ZINCRBY` for a sorted set) modelled on the view's keys; PostgreSQL `COPY`
//! of sales rows into a table shaped like `sales_fact`. That is the ceiling the
//! server sets; the ratio says how much of it the replay reaches.
//!
//! # How
//!
//! 1. [`history`]: a synthetic, deterministic history of the inventory, order, user and
//!    payment and notification services (products stocked and repriced, customers registered, orders
//!    through every path of the fulfilment saga).
//! 2. [`sources`]: one throwaway PostgreSQL event store per service, migrated like the
//!    service's, filled through `platform::store::append_atomically`, served as its
//!    feed over HTTP on port 0.
//! 3. [`views`], [`olap`]: the replays and the bulk writes, one store at a time, so
//!    none competes with another for the machine.
//! 4. [`report`]: the table. Every database, collection and key the run created is
//!    removed at the end, after a failure or Ctrl-C too.

pub mod args;
pub mod bulk;
pub mod e2e;
pub mod history;
pub mod olap;
pub mod pg;
pub mod progress;
pub mod report;
pub mod sources;
pub mod suite;
pub mod views;

pub use args::Options;
pub use report::Report;

use history::{History, Service};
use pg::Admin;
use progress::interruptible;
use report::Measurement;
use sources::Stores;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the read store: {0}")]
    ReadStore(#[from] query::QueryError),
    #[error("event store: {0}")]
    Store(#[from] platform::store::StoreError),
    #[error("feed: {0}")]
    Feed(#[from] platform::feed::FeedError),
    #[error("replay: {0}")]
    Replay(#[from] platform::projection::RunError),
    #[error(transparent)]
    Config(#[from] platform::config::ConfigError),
    #[error("feed server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the {service} feed shows {seen} of {expected} events: a transaction open elsewhere holds its horizon back")]
    Unsettled {
        service: &'static str,
        expected: u64,
        seen: i64,
    },
    #[error("interrupted")]
    Interrupted,
}

/// One whole run: generate, fill, replay and bulk-write every store, clean up.
pub async fn run(options: &Options) -> Result<Report, BenchError> {
    let history = history::generate(options.events, options.seed)?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let admin = Admin::new(&options.postgres_url)?;
    let stores = Stores::create(&admin, &run_id).await?;
    let measured = measure(options, &admin, &run_id, &stores, &history).await;
    stores.close().await;
    Ok(Report {
        stores: Service::ALL
            .iter()
            .map(|s| (s.name(), history.events(*s)))
            .collect(),
        page: options.page,
        batch: options.batch,
        measurements: measured?,
    })
}

async fn measure(
    options: &Options,
    admin: &Admin,
    run_id: &str,
    stores: &Stores,
    history: &History,
) -> Result<Vec<Measurement>, BenchError> {
    interruptible(stores.fill(history)).await?;
    interruptible(stores.settle(history)).await?;
    let feeds = stores.feeds();
    let mut measured = views::measure(options, run_id, &feeds).await?;
    if !options.replays(args::Replayed::Olap) {
        return Ok(measured);
    }
    let olap = olap::measure(options, admin, run_id, &feeds, &history.sales).await?;
    let read: u64 = Service::ALL
        .iter()
        .filter(|s| analytics::warehouse::SOURCES.contains(&s.name()))
        .map(|s| history.events(*s))
        .sum();
    if olap.events != read {
        tracing::warn!(
            replayed = olap.events,
            stored = read,
            "the OLAP replay did not read every event of its feeds"
        );
    }
    measured.push(olap);
    Ok(measured)
}
