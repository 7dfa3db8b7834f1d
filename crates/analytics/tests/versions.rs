//! The star schema as a projection: a rebuild gives the same rows as the live version
//! and drops the old schema; applying every event again changes nothing (the inbox);
//! the feeds read in another order give the same result; an event that contradicts
//! the schema is parked and the rest applied.

mod support;

use analytics::queries::{self, CustomerLtv, MonthlySalesRow, TopProduct};
use analytics::warehouse::PROJECTION;
use platform::projection::{Bookkeeping, Projection};
use support::{at, bench, Bench};

/// A sale line by natural keys: order, line, day, customer, sku, category, price, amount.
type SaleRow = (String, i32, i32, String, String, String, i64, i64);

/// Everything the API can show, and the facts by natural keys (surrogate keys depend
/// on the order rows were first seen in, so they are left out).
#[derive(Debug, PartialEq)]
struct Snapshot {
    monthly: Vec<MonthlySalesRow>,
    kitchen: Vec<MonthlySalesRow>,
    ltv: Vec<Option<CustomerLtv>>,
    top: Vec<TopProduct>,
    sales: Vec<SaleRow>,
    activities: Vec<(String, String, i32)>,
}

async fn snapshot(bench: &Bench) -> anyhow::Result<Snapshot> {
    let schema = format!("olap_v{}", bench.runner.current_version().await?);
    let pool = &bench.pool;
    let mut ltv = Vec::new();
    for customer in ["ann", "bob", "nobody"] {
        ltv.push(queries::customer_ltv(pool, customer).await?);
    }
    let sales_sql = format!(
        "SELECT f.order_id, f.line_no, f.date_key, c.customer_id, f.sku, p.category, p.price_cents, \
         f.amount_cents FROM {schema}.sales_fact f \
         JOIN {schema}.customer_dimension c USING (customer_key) \
         JOIN {schema}.product_dimension p USING (product_key) ORDER BY 1, 2"
    );
    let activities_sql = format!(
        "SELECT c.customer_id, a.activity, a.date_key FROM {schema}.user_activity_fact a \
         JOIN {schema}.customer_dimension c USING (customer_key) ORDER BY 1, 2, 3"
    );
    Ok(Snapshot {
        monthly: queries::monthly_sales(pool, None, None, None).await?,
        kitchen: queries::monthly_sales(pool, None, None, Some("kitchen")).await?,
        ltv,
        top: queries::top_products(pool, None, 100, 0).await?.0,
        sales: sqlx::query_as(&sales_sql).fetch_all(pool).await?,
        activities: sqlx::query_as(&activities_sql).fetch_all(pool).await?,
    })
}

/// A history touching every table, appended in the order the services would write it.
async fn history(bench: &mut Bench) -> anyhow::Result<()> {
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench
        .product("HOSE", "garden", 1000, at("2026-01-01T00:00:00Z"))
        .await?;
    bench.register("ann", at("2026-01-02T00:00:00Z")).await?;
    bench.register("bob", at("2026-01-02T00:00:00Z")).await?;
    bench
        .sale(
            "o1",
            "ann",
            &[("MUG", 2, 500), ("HOSE", 1, 1000)],
            at("2026-01-20T00:00:00Z"),
        )
        .await?;
    bench
        .update_product("MUG", "gifts", 650, at("2026-02-01T00:00:00Z"))
        .await?;
    bench
        .sale("o2", "bob", &[("MUG", 1, 650)], at("2026-02-03T00:00:00Z"))
        .await?;
    bench
        .sale(
            "o3",
            "bob",
            &[("HOSE", 2, 1000)],
            at("2026-02-04T00:00:00Z"),
        )
        .await?;
    bench.cancel("o3", at("2026-02-04T00:00:09Z")).await?;
    bench.refund("o3", 2000, at("2026-02-04T00:00:10Z")).await?;
    bench.refund("o1", 400, at("2026-02-10T00:00:00Z")).await?;
    bench.rename("bob", at("2026-02-11T00:00:00Z")).await?;
    bench.catch_up().await
}

#[tokio::test]
async fn a_rebuild_gives_the_rows_of_the_live_version_and_drops_it() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    history(&mut bench).await?;
    let live = snapshot(&bench).await?;
    assert_eq!(live.monthly.len(), 2, "{live:?}");
    assert_eq!(bench.runner.rebuild().await?, 2);
    assert_eq!(bench.book.current_version(PROJECTION).await?, 2);
    assert_eq!(
        snapshot(&bench).await?,
        live,
        "the rebuilt cubes were refreshed before the swap"
    );
    let old: Option<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = 'olap_v1'")
            .fetch_optional(&bench.pool)
            .await?;
    assert_eq!(old, None, "the old version's schema is dropped");
    // The runner goes on with the new version.
    bench
        .sale("o4", "ann", &[("MUG", 1, 650)], at("2026-02-20T00:00:00Z"))
        .await?;
    bench.catch_up().await?;
    let feb = &snapshot(&bench).await?.monthly[1];
    assert_eq!((feb.orders, feb.revenue_cents), (2, 1300));
    bench.stop().await
}

#[tokio::test]
async fn queries_during_a_rebuild_never_see_an_empty_or_missing_version() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    history(&mut bench).await?;
    let live = queries::monthly_sales(&bench.pool, None, None, None).await?;
    let pool = bench.pool.clone();
    let (done, watching) = (tokio::sync::watch::channel(false), live.clone());
    let (stop, mut stopped) = done;
    let reader = tokio::spawn(async move {
        let mut reads = 0;
        while !*stopped.borrow_and_update() {
            let seen = queries::monthly_sales(&pool, None, None, None).await?;
            anyhow::ensure!(seen == watching, "read {seen:?} during the rebuild");
            reads += 1;
        }
        Ok(reads)
    });
    assert_eq!(bench.runner.rebuild().await?, 2);
    stop.send(true)?;
    let reads = reader.await??;
    assert!(reads > 0);
    assert_eq!(
        queries::monthly_sales(&bench.pool, None, None, None).await?,
        live
    );
    bench.stop().await
}

#[tokio::test]
async fn applying_every_event_again_changes_nothing() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    history(&mut bench).await?;
    let once = snapshot(&bench).await?;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM applied_events")
        .fetch_one(&bench.pool)
        .await?;
    // As after a crash before the checkpoints were saved: every page is read again.
    bench.book.clear_checkpoints(PROJECTION, 1).await?;
    bench.rewind();
    bench.catch_up().await?;
    assert_eq!(snapshot(&bench).await?, once);
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM applied_events")
        .fetch_one(&bench.pool)
        .await?;
    assert_eq!(again, applied);
    bench.stop().await
}

#[tokio::test]
async fn the_feeds_read_in_another_order_give_the_same_rows() -> anyhow::Result<()> {
    let mut in_order = bench().await?;
    history(&mut in_order).await?;
    let expected = snapshot(&in_order).await?;
    in_order.stop().await?;
    // Payments and users first, then orders, the products last.
    let mut reversed = bench().await?;
    reversed
        .refund("o3", 2000, at("2026-02-04T00:00:10Z"))
        .await?;
    reversed
        .refund("o1", 400, at("2026-02-10T00:00:00Z"))
        .await?;
    reversed.catch_up().await?;
    reversed
        .sale(
            "o1",
            "ann",
            &[("MUG", 2, 500), ("HOSE", 1, 1000)],
            at("2026-01-20T00:00:00Z"),
        )
        .await?;
    reversed
        .sale("o2", "bob", &[("MUG", 1, 650)], at("2026-02-03T00:00:00Z"))
        .await?;
    reversed
        .sale(
            "o3",
            "bob",
            &[("HOSE", 2, 1000)],
            at("2026-02-04T00:00:00Z"),
        )
        .await?;
    reversed.cancel("o3", at("2026-02-04T00:00:09Z")).await?;
    reversed.catch_up().await?;
    reversed.register("ann", at("2026-01-02T00:00:00Z")).await?;
    reversed.register("bob", at("2026-01-02T00:00:00Z")).await?;
    reversed.rename("bob", at("2026-02-11T00:00:00Z")).await?;
    reversed.catch_up().await?;
    reversed
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    reversed
        .product("HOSE", "garden", 1000, at("2026-01-01T00:00:00Z"))
        .await?;
    reversed
        .update_product("MUG", "gifts", 650, at("2026-02-01T00:00:00Z"))
        .await?;
    reversed.catch_up().await?;
    assert_eq!(snapshot(&reversed).await?, expected);
    reversed.stop().await
}

#[tokio::test]
async fn an_event_that_contradicts_the_schema_is_parked_and_the_rest_applied() -> anyhow::Result<()>
{
    let mut bench = bench().await?;
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench
        .confirm("never-placed", at("2026-01-02T00:00:00Z"))
        .await?;
    bench
        .sale("o1", "ann", &[("MUG", 1, 500)], at("2026-01-03T00:00:00Z"))
        .await?;
    bench.catch_up().await?;
    let parked: Vec<(String,)> =
        sqlx::query_as("SELECT error FROM parked_events WHERE projection = 'olap' AND version = 1")
            .fetch_all(&bench.pool)
            .await?;
    assert_eq!(parked.len(), 1);
    assert!(parked[0].0.contains("never placed"), "{}", parked[0].0);
    let jan = queries::monthly_sales(&bench.pool, None, None, None).await?;
    assert_eq!(
        jan.iter().map(|r| r.revenue_cents).collect::<Vec<_>>(),
        [500]
    );
    bench.stop().await
}

#[tokio::test]
async fn dropping_a_version_removes_its_schema_and_its_inbox() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench.catch_up().await?;
    bench.warehouse.drop_version(1).await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM applied_events) \
         + (SELECT count(*) FROM pg_namespace WHERE nspname = 'olap_v1')",
    )
    .fetch_one(&bench.pool)
    .await?;
    assert_eq!(left, 0);
    bench.stop().await
}
