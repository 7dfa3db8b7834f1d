//! A page applied set-based ([`Projection::apply_batch`]) against real PostgreSQL: it
//! leaves the rows applying its events one at a time leaves (the same events go as one
//! batch into version 1 and one by one into version 2, and the tables are compared by
//! natural keys), a page applied again changes nothing, an order's events folded in
//! one page leave its sales right, and a page with a bad event is refused whole while
//! the runner parks only that event.

mod support;

use analytics::warehouse::{schema::schema_name, PROJECTION};
use chrono::{DateTime, Duration, Utc};
use platform::envelope::EventEnvelope;
use platform::feed::FeedEvent;
use platform::projection::{ApplyError, Projection};
use platform::store::Cursor;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{at, bench, Bench};
use uuid::Uuid;

/// An event of `service` as its feed serves it, happened at `when`.
fn event(
    service: &str,
    aggregate: &str,
    event_type: &str,
    payload: Value,
    when: &str,
) -> FeedEvent {
    let (aggregate_type, aggregate_id) = aggregate.split_once('/').unwrap_or((aggregate, "a"));
    let cursor = Cursor {
        tx_id: 1,
        position: 1,
    };
    let envelope = EventEnvelope {
        event_id: Uuid::new_v4(),
        service: service.into(),
        aggregate_type: aggregate_type.into(),
        aggregate_id: aggregate_id.into(),
        sequence: 1,
        global_position: 1,
        event_type: event_type.into(),
        event_version: "1".into(),
        occurred_at: at(when),
        correlation_id: None,
        causation_id: None,
        payload,
    };
    FeedEvent::from_envelope(cursor, envelope)
}

fn place(order: &str, customer: &str, lines: &[(&str, i64, i64)], when: &str) -> FeedEvent {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, q, p)| json!({"sku": sku, "quantity": q, "unit_price_cents": p}))
        .collect();
    let payload = json!({"order_id": order, "customer_id": customer, "lines": lines});
    event(
        "order",
        &format!("Order/{order}"),
        "OrderPlaced",
        payload,
        when,
    )
}

fn order_event(event_type: &str, order: &str, when: &str) -> FeedEvent {
    let payload = json!({"order_id": order});
    event(
        "order",
        &format!("Order/{order}"),
        event_type,
        payload,
        when,
    )
}

fn user_event(event_type: &str, user: &str, name: &str, when: &str) -> FeedEvent {
    let payload = json!({"user_id": user, "name": name, "email": format!("{user}@example.com")});
    event("user", &format!("User/{user}"), event_type, payload, when)
}

fn refund(order: &str, cents: i64, when: &str) -> FeedEvent {
    let payload = json!({"payment_id": order, "order_id": order, "amount_cents": cents});
    event(
        "payment",
        &format!("Payment/{order}"),
        "PaymentRefunded",
        payload,
        when,
    )
}

fn product_updated(sku: &str, cents: i64, category: &str, when: &str) -> FeedEvent {
    let payload = json!({"sku": sku, "price_cents": cents, "category": category});
    let aggregate = format!("Product/{sku}");
    event("inventory", &aggregate, "ProductUpdated", payload, when)
}

fn products() -> Vec<FeedEvent> {
    let added = |sku: &str, cents: i64| {
        let payload = json!({"sku": sku, "name": sku, "category": "kitchen", "price_cents": cents});
        event(
            "inventory",
            &format!("Product/{sku}"),
            "ProductAdded",
            payload,
            "2026-01-01T00:00:00Z",
        )
    };
    vec![added("MUG", 500), added("HOSE", 1000)]
}

/// Every table of a version by natural keys (surrogate keys left out), one JSON text
/// per row, sorted; and the version's claimed events.
async fn tables(pool: &PgPool, version: u32) -> anyhow::Result<Vec<Vec<String>>> {
    let s = schema_name(version);
    let queries = [
        format!("SELECT * FROM {s}.time_dimension"),
        format!(
            "SELECT customer_id, email, name, registered_at, deactivated_at, is_active, \
                 inferred, updated_at FROM {s}.customer_dimension"
        ),
        format!(
            "SELECT sku, name, category, price_cents, valid_from, valid_to, is_current \
                 FROM {s}.product_dimension"
        ),
        format!("SELECT * FROM {s}.order_stage"),
        format!(
            "SELECT f.order_id, f.line_no, f.date_key, c.customer_id, p.valid_from, f.sku, \
                 f.sold_at, f.quantity, f.unit_price_cents, f.amount_cents FROM {s}.sales_fact f \
                 JOIN {s}.customer_dimension c USING (customer_key) \
                 LEFT JOIN {s}.product_dimension p USING (product_key)"
        ),
        format!("SELECT * FROM {s}.refund_fact"),
        format!(
            "SELECT a.event_id, c.customer_id, a.activity, a.date_key, a.occurred_at \
                 FROM {s}.user_activity_fact a JOIN {s}.customer_dimension c USING (customer_key)"
        ),
        format!(
            "SELECT event_id FROM applied_events WHERE projection = '{PROJECTION}' \
                 AND version = {version}"
        ),
    ];
    let mut tables = Vec::new();
    for query in queries {
        let sql = format!("SELECT row_to_json(t)::text FROM ({query}) t ORDER BY 1");
        tables.push(sqlx::query_scalar(&sql).fetch_all(pool).await?);
    }
    Ok(tables)
}

/// Applies each page as one batch into version 1 and event by event into version 2.
async fn both_ways(bench: &Bench, pages: &[Vec<FeedEvent>]) -> anyhow::Result<()> {
    for page in pages {
        assert!(bench.warehouse.apply_batch(1, page).await?);
        for event in page {
            bench.warehouse.apply(2, event).await?;
        }
    }
    Ok(())
}

/// The rows of version 1 without the inbox's, as the applied event ids differ in
/// version only; in both versions, every fact's keys name a dimension row.
async fn assert_same_rows(bench: &Bench) -> anyhow::Result<Vec<Vec<String>>> {
    let (batched, one_by_one) = (tables(&bench.pool, 1).await?, tables(&bench.pool, 2).await?);
    assert_eq!(batched, one_by_one);
    for version in [1, 2] {
        assert_eq!(unresolved_keys(&bench.pool, version).await?, 0);
    }
    Ok(batched)
}

/// Facts whose keys name no dimension row (the schema declares no foreign keys: the
/// writes select the keys from the dimensions, and this checks they do).
async fn unresolved_keys(pool: &PgPool, version: u32) -> anyhow::Result<i64> {
    let s = schema_name(version);
    let sql = format!(
        "SELECT (SELECT count(*) FROM {s}.sales_fact f \
                 WHERE NOT EXISTS (SELECT 1 FROM {s}.time_dimension t WHERE t.date_key = f.date_key) \
                    OR NOT EXISTS (SELECT 1 FROM {s}.customer_dimension c \
                                   WHERE c.customer_key = f.customer_key) \
                    OR (f.product_key IS NOT NULL AND NOT EXISTS \
                        (SELECT 1 FROM {s}.product_dimension p WHERE p.product_key = f.product_key))) \
              + (SELECT count(*) FROM {s}.refund_fact f WHERE NOT EXISTS \
                 (SELECT 1 FROM {s}.time_dimension t WHERE t.date_key = f.date_key)) \
              + (SELECT count(*) FROM {s}.user_activity_fact f \
                 WHERE NOT EXISTS (SELECT 1 FROM {s}.time_dimension t WHERE t.date_key = f.date_key) \
                    OR NOT EXISTS (SELECT 1 FROM {s}.customer_dimension c \
                                   WHERE c.customer_key = f.customer_key))"
    );
    Ok(sqlx::query_scalar(&sql).fetch_one(pool).await?)
}

fn an_order_page() -> Vec<FeedEvent> {
    vec![
        place(
            "o1",
            "ann",
            &[("MUG", 2, 500), ("HOSE", 1, 1000)],
            "2026-01-20T10:00:00Z",
        ),
        order_event("OrderConfirmed", "o1", "2026-01-20T10:00:01Z"),
        place("o2", "bob", &[("MUG", 1, 500)], "2026-01-21T10:00:00Z"),
        order_event("OrderConfirmed", "o2", "2026-01-21T10:00:01Z"),
        place("o3", "ann", &[("HOSE", 4, 1000)], "2026-02-02T10:00:00Z"),
    ]
}

#[tokio::test]
async fn a_page_applied_twice_or_after_part_of_it_leaves_the_rows_of_applying_it_once(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    let orders = an_order_page();
    let refunds = vec![
        refund("o1", 700, "2026-01-25T00:00:00Z"),
        refund("o2", 100, "2026-02-01T00:00:00Z"),
    ];
    // Version 1 had the first part of each page applied before a crash.
    bench.warehouse.apply_batch(1, &orders[..2]).await?;
    bench.warehouse.apply_batch(1, &refunds[..1]).await?;
    let pages = [products(), orders, refunds];
    both_ways(&bench, &pages).await?;
    let once = assert_same_rows(&bench).await?;
    let sales: i64 = sqlx::query_scalar("SELECT sum(amount_cents)::bigint FROM olap_v1.sales_fact")
        .fetch_one(&bench.pool)
        .await?;
    assert_eq!(sales, 2 * 500 + 1000 + 500);
    for page in &pages {
        assert!(bench.warehouse.apply_batch(1, page).await?);
    }
    assert_eq!(
        tables(&bench.pool, 1).await?,
        once,
        "a page applied again writes nothing"
    );
    bench.stop().await
}

#[tokio::test]
async fn an_order_placed_confirmed_and_cancelled_in_one_page_is_no_sale_and_a_confirmed_one_is(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    let page = vec![
        place(
            "o1",
            "ann",
            &[("MUG", 2, 500), ("HOSE", 1, 1000)],
            "2026-03-01T10:00:00Z",
        ),
        order_event("OrderConfirmed", "o1", "2026-03-01T10:00:01Z"),
        order_event("OrderCancelled", "o1", "2026-03-01T10:00:02Z"),
        place(
            "o2",
            "bob",
            &[("MUG", 3, 500), ("HOSE", 1, 900)],
            "2026-03-02T10:00:00Z",
        ),
        order_event("OrderConfirmed", "o2", "2026-03-02T10:00:01Z"),
        // Cancelled before it is confirmed, in the same page: never a sale either.
        place("o3", "bob", &[("MUG", 1, 500)], "2026-03-03T10:00:00Z"),
        order_event("OrderCancelled", "o3", "2026-03-03T10:00:01Z"),
        order_event("OrderConfirmed", "o3", "2026-03-03T10:00:02Z"),
    ];
    // o4 was confirmed in an earlier page and is cancelled in this one.
    let earlier = vec![
        place("o4", "cat", &[("HOSE", 1, 1000)], "2026-02-01T10:00:00Z"),
        order_event("OrderConfirmed", "o4", "2026-02-01T10:00:01Z"),
    ];
    let mut page = page;
    page.push(order_event("OrderCancelled", "o4", "2026-03-04T00:00:00Z"));
    both_ways(&bench, &[products(), earlier, page]).await?;
    assert_same_rows(&bench).await?;
    let sales: Vec<(String, i32, i64)> = sqlx::query_as(
        "SELECT order_id, line_no, amount_cents FROM olap_v1.sales_fact ORDER BY 1, 2",
    )
    .fetch_all(&bench.pool)
    .await?;
    let expected = [("o2".to_string(), 1, 1500), ("o2".to_string(), 2, 900)];
    assert_eq!(sales, expected);
    bench.stop().await
}

#[tokio::test]
async fn a_page_confirming_an_order_never_placed_is_refused_whole_and_only_that_event_is_parked(
) -> anyhow::Result<()> {
    let mut bench = bench().await?;
    let page = vec![
        place("o1", "ann", &[("MUG", 1, 500)], "2026-01-03T00:00:00Z"),
        order_event("OrderConfirmed", "ghost", "2026-01-03T00:00:01Z"),
        order_event("OrderConfirmed", "o1", "2026-01-03T00:00:02Z"),
    ];
    match bench.warehouse.apply_batch(1, &page).await {
        Err(ApplyError::Refused(reason)) => {
            assert!(reason.contains("ghost was never placed"), "{reason}")
        }
        other => anyhow::bail!("expected a refusal, got {other:?}"),
    }
    let written: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM applied_events) + (SELECT count(*) FROM olap_v1.order_stage)",
    )
    .fetch_one(&bench.pool)
    .await?;
    assert_eq!(written, 0, "the refused page rolled back whole");
    // Through the runner, whose pages hold three events: the same page from the feed.
    let when = at("2026-01-03T00:00:00Z");
    bench.product("MUG", "kitchen", 500, when).await?;
    bench.place("o1", "ann", &[("MUG", 1, 500)], when).await?;
    bench.confirm("ghost", when + Duration::seconds(1)).await?;
    bench.confirm("o1", when + Duration::seconds(2)).await?;
    bench.catch_up().await?;
    let parked: Vec<(String,)> =
        sqlx::query_as("SELECT error FROM parked_events WHERE projection = 'olap' AND version = 1")
            .fetch_all(&bench.pool)
            .await?;
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(
        parked[0].0.contains("ghost was never placed"),
        "{}",
        parked[0].0
    );
    let sales: Vec<(String, i64)> =
        sqlx::query_as("SELECT order_id, amount_cents FROM olap_v1.sales_fact")
            .fetch_all(&bench.pool)
            .await?;
    assert_eq!(sales, [("o1".to_string(), 500)]);
    bench.stop().await
}

#[tokio::test]
async fn a_customer_s_user_events_in_one_page_leave_the_row_applying_them_one_by_one_leaves(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    // ann is first known from an order (inferred), then registers in the user feed.
    let orders = vec![place(
        "o1",
        "ann",
        &[("MUG", 1, 500)],
        "2026-01-01T00:00:00Z",
    )];
    let users = vec![
        user_event("UserRegistered", "ann", "Ann", "2026-01-02T00:00:00Z"),
        user_event("ProfileUpdated", "ann", "Anne", "2026-01-03T00:00:00Z"),
        user_event("UserRegistered", "bob", "Bob", "2026-01-03T00:00:00Z"),
        event(
            "user",
            "User/ann",
            "UserDeactivated",
            json!({"user_id": "ann"}),
            "2026-01-04T00:00:00Z",
        ),
        user_event("ProfileUpdated", "ann", "Annie", "2026-01-05T00:00:00Z"),
        user_event("ProfileUpdated", "bob", "Robert", "2026-01-06T00:00:00Z"),
    ];
    both_ways(&bench, &[orders, users]).await?;
    assert_same_rows(&bench).await?;
    type Row = (
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        bool,
        bool,
        Option<DateTime<Utc>>,
    );
    let ann: Row = sqlx::query_as(
        "SELECT email, name, deactivated_at, is_active, inferred, updated_at \
         FROM olap_v1.customer_dimension WHERE customer_id = 'ann'",
    )
    .fetch_one(&bench.pool)
    .await?;
    let expected: Row = (
        "ann@example.com".into(),
        Some("Annie".into()),
        Some(at("2026-01-04T00:00:00Z")),
        false,
        false,
        Some(at("2026-01-05T00:00:00Z")),
    );
    assert_eq!(ann, expected);
    bench.stop().await
}

#[tokio::test]
async fn a_page_of_product_changes_leaves_the_rows_applying_them_one_by_one_leaves_and_rekeys_sales(
) -> anyhow::Result<()> {
    let bench = bench().await?;
    // Sales read from the order feed before the product changes that price them.
    let sales = vec![
        place("o1", "ann", &[("MUG", 1, 500)], "2026-01-10T00:00:00Z"),
        order_event("OrderConfirmed", "o1", "2026-01-10T00:00:01Z"),
        place("o2", "bob", &[("MUG", 1, 600)], "2026-02-10T00:00:00Z"),
        order_event("OrderConfirmed", "o2", "2026-02-10T00:00:01Z"),
        place("o3", "bob", &[("HOSE", 1, 1000)], "2026-03-10T00:00:00Z"),
        order_event("OrderConfirmed", "o3", "2026-03-10T00:00:01Z"),
    ];
    let mut changes = products();
    changes.extend([
        product_updated("MUG", 600, "kitchen", "2026-02-01T00:00:00Z"),
        // Stamped at the start of the row it follows: corrects that row.
        product_updated("MUG", 650, "kitchen", "2026-02-01T00:00:00Z"),
        product_updated("MUG", 650, "kitchen", "2026-02-15T00:00:00Z"),
        product_updated("MUG", 700, "gifts", "2026-03-01T00:00:00Z"),
        product_updated("HOSE", 1100, "garden", "2026-01-05T00:00:00Z"),
    ]);
    // A page that finds the rows of the one before it.
    let later = vec![
        product_updated("MUG", 800, "gifts", "2026-04-01T00:00:00Z"),
        product_updated("HOSE", 1200, "garden", "2026-04-01T00:00:00Z"),
    ];
    both_ways(&bench, &[sales, changes, later]).await?;
    assert_same_rows(&bench).await?;
    let rows: Vec<(String, i64, String, bool)> = sqlx::query_as(
        "SELECT sku, price_cents, category, is_current FROM olap_v1.product_dimension \
         ORDER BY sku, valid_from",
    )
    .fetch_all(&bench.pool)
    .await?;
    let row =
        |sku: &str, cents, category: &str, current| (sku.into(), cents, category.into(), current);
    let expected = [
        row("HOSE", 1000, "kitchen", false),
        row("HOSE", 1100, "garden", false),
        row("HOSE", 1200, "garden", true),
        row("MUG", 500, "kitchen", false),
        row("MUG", 650, "kitchen", false),
        row("MUG", 700, "gifts", false),
        row("MUG", 800, "gifts", true),
    ];
    assert_eq!(rows, expected);
    let priced: Vec<(String, i64)> = sqlx::query_as(
        "SELECT f.order_id, p.price_cents FROM olap_v1.sales_fact f \
         JOIN olap_v1.product_dimension p USING (product_key) ORDER BY 1",
    )
    .fetch_all(&bench.pool)
    .await?;
    let expected = [
        ("o1".to_string(), 500),
        ("o2".to_string(), 650),
        ("o3".to_string(), 1100),
    ];
    assert_eq!(priced, expected);
    bench.stop().await
}
