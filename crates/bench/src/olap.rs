//! The analytics service's OLAP projection, replayed into a throwaway database
//! (`bench_analytics_<run>`) set up as the service sets its own up: its migrations
//! (the bookkeeping), the current version's schema, [`PgBook`] preparing a version
//! before it is promoted (schema and cubes), and the [`Warehouse`] run by a [`Runner`].
//! Then the plain bulk write: `COPY` of as many rows as events were replayed into a
//! table shaped like `sales_fact` (its key and indexes, no foreign keys), in the same
//! database.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use analytics::book::PgBook;
use analytics::warehouse::{Warehouse, PROJECTION};
use platform::projection::{Feeds, Runner};
use sqlx::postgres::PgPoolCopyExt;
use sqlx::PgPool;

use crate::bulk::Target;
use crate::history::SaleLine;
use crate::pg::Admin;
use crate::progress::{self, counter, interruptible};
use crate::report::{Backend, Measurement};
use crate::{BenchError, Options};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/analytics");

const BULK_TABLE: &str = "bench_bulk.sales_fact";
const BULK_DDL: &str = "
CREATE SCHEMA bench_bulk;
CREATE TABLE bench_bulk.sales_fact
(
    order_id         text        NOT NULL,
    line_no          integer     NOT NULL,
    date_key         integer     NOT NULL,
    customer_key     bigint      NOT NULL,
    product_key      bigint,
    sku              text        NOT NULL,
    sold_at          timestamptz NOT NULL,
    quantity         bigint      NOT NULL,
    unit_price_cents bigint      NOT NULL,
    amount_cents     bigint      NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX ON bench_bulk.sales_fact (sku, sold_at);
CREATE INDEX ON bench_bulk.sales_fact (customer_key);
";
const BULK_COPY: &str = "COPY bench_bulk.sales_fact (order_id, line_no, date_key, \
    customer_key, product_key, sku, sold_at, quantity, unit_price_cents, amount_cents) \
    FROM STDIN";

/// Replays the star schema, then copies as many sales rows; the database is dropped
/// whatever happens.
pub async fn measure(
    options: &Options,
    admin: &Admin,
    run_id: &str,
    feeds: &Feeds,
    sales: &[SaleLine],
) -> Result<Measurement, BenchError> {
    let database = format!("bench_analytics_{run_id}");
    let pool = admin.create(&database).await?;
    let result = measure_in(options, &pool, feeds, sales).await;
    if let Err(err) = admin.drop(pool, &database).await {
        tracing::warn!(%database, error = %err, "cannot drop database");
    }
    result
}

async fn measure_in(
    options: &Options,
    pool: &PgPool,
    feeds: &Feeds,
    sales: &[SaleLine],
) -> Result<Measurement, BenchError> {
    let runner = runner(options, pool, feeds).await?;
    let replay = progress::rebuild(&runner, PROJECTION).await?;
    let target = Target {
        count: replay.events,
        batch: options.batch,
    };
    let bulk = interruptible(copy_sales(pool, sales, target)).await?;
    Ok(Measurement {
        unit: PROJECTION.to_string(),
        backend: Backend::Olap,
        events: replay.events,
        replay: replay.elapsed,
        bulk_writes: if sales.is_empty() { 0 } else { replay.events },
        bulk,
    })
}

/// The service's runner over a fresh database, as `analytics::build` makes it.
async fn runner(
    options: &Options,
    pool: &PgPool,
    feeds: &Feeds,
) -> Result<Runner<Warehouse, PgBook>, BenchError> {
    MIGRATOR.run(pool).await?;
    let warehouse = Warehouse::new(pool.clone());
    let current = analytics::book::current_version(pool, PROJECTION).await?;
    warehouse.ensure(current).await?;
    let prepared = warehouse.clone();
    let book = PgBook::new(pool.clone()).before_promote(Arc::new(move |version| {
        let warehouse = prepared.clone();
        Box::pin(async move { warehouse.prepare(version).await })
    }));
    let settings = options.runner_settings();
    Ok(Runner::new(
        warehouse,
        Arc::new(book),
        feeds.clone(),
        settings,
    ))
}

/// `target.count` rows modelled on the history's sales, `COPY`ed batch by batch.
async fn copy_sales(
    pool: &PgPool,
    sales: &[SaleLine],
    target: Target,
) -> Result<Duration, BenchError> {
    if sales.is_empty() {
        return Ok(Duration::ZERO);
    }
    sqlx::raw_sql(BULK_DDL).execute(pool).await?;
    let bar = counter(&format!("bulk COPY {BULK_TABLE}"), target.count);
    let started = Instant::now();
    for (start, end) in target.batches() {
        let mut rows = String::new();
        for n in start..end {
            copy_row(&mut rows, &sales[(n % sales.len() as u64) as usize], n);
        }
        let mut copy = pool.copy_in_raw(BULK_COPY).await?;
        copy.send(rows.as_bytes()).await?;
        copy.finish().await?;
        bar.inc(end - start);
    }
    bar.finish();
    Ok(started.elapsed())
}

/// One row in `COPY`'s text format; the `n`-th copy of `sale` (ids and skus carry no
/// tab, newline or backslash).
fn copy_row(rows: &mut String, sale: &SaleLine, n: u64) {
    let date_key = sale.sold_at.format("%Y%m%d");
    let amount = sale.quantity * sale.unit_price_cents;
    let _ = writeln!(
        rows,
        "{}#{n}\t{}\t{date_key}\t{}\t{}\t{}\t{}\t{}\t{}\t{amount}",
        sale.order_id,
        sale.line_no,
        sale.customer_key,
        sale.product_key,
        sale.sku,
        sale.sold_at.to_rfc3339(),
        sale.quantity,
        sale.unit_price_cents,
    );
}
