//! The star schema's facts and cubes against real feeds and a real database: monthly
//! revenue by category, refunds reversing their sale, cancelled orders (also after
//! confirmation) never counted, sales joined to the product row valid when sold,
//! customer LTV, user activity, and the top products page by page. Every expected
//! value is computed here from the events appended, not read back from the schema.

mod support;

use analytics::calendar::Month;
use analytics::queries::{self, MonthlySalesRow};
use serde_json::Value;
use support::{at, bench, Bench};

fn row(month: &str, category: Option<&str>, sums: (i64, i64, i64, i64)) -> MonthlySalesRow {
    let (orders, units, revenue_cents, refunded_cents) = sums;
    MonthlySalesRow {
        month: month.into(),
        category: category.map(Into::into),
        orders,
        units,
        revenue_cents,
        refunded_cents,
        net_cents: revenue_cents - refunded_cents,
    }
}

async fn monthly(bench: &Bench, category: Option<&str>) -> anyhow::Result<Vec<MonthlySalesRow>> {
    Ok(queries::monthly_sales(&bench.pool, None, None, category).await?)
}

/// Two products, one customer; January: one sale of both; February: one sale of the
/// first, one order never confirmed, one confirmed then cancelled.
async fn january_and_february(bench: &mut Bench) -> anyhow::Result<()> {
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench
        .product("HOSE", "garden", 1000, at("2026-01-01T00:00:00Z"))
        .await?;
    bench.register("ann", at("2026-01-02T00:00:00Z")).await?;
    let jan = at("2026-01-20T10:00:00Z");
    bench
        .sale("o1", "ann", &[("MUG", 2, 500), ("HOSE", 1, 1000)], jan)
        .await?;
    let feb = at("2026-02-03T10:00:00Z");
    bench.sale("o2", "ann", &[("MUG", 1, 450)], feb).await?;
    bench.place("o3", "ann", &[("MUG", 5, 500)], feb).await?;
    bench.sale("o4", "ann", &[("HOSE", 3, 1000)], feb).await?;
    bench.cancel("o4", at("2026-02-03T10:00:05Z")).await?;
    bench.catch_up().await
}

#[tokio::test]
async fn monthly_revenue_counts_confirmed_orders_by_month_and_category() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    january_and_february(&mut bench).await?;
    let (jan_revenue, feb_revenue) = (2 * 500 + 1000, 450);
    assert_eq!(
        monthly(&bench, None).await?,
        [
            row("2026-01", None, (1, 3, jan_revenue, 0)),
            row("2026-02", None, (1, 1, feb_revenue, 0))
        ]
    );
    assert_eq!(
        monthly(&bench, Some("kitchen")).await?,
        [
            row("2026-01", Some("kitchen"), (1, 2, 1000, 0)),
            row("2026-02", Some("kitchen"), (1, 1, 450, 0))
        ]
    );
    let garden = monthly(&bench, Some("garden")).await?;
    assert_eq!(
        garden,
        [row("2026-01", Some("garden"), (1, 1, 1000, 0))],
        "o4 was cancelled"
    );
    let (status, body) = bench
        .get("/analytics/sales/monthly?from=2026-02&to=2026-02")
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["rows"][0]["revenue_cents"], feb_revenue);
    let only_feb = queries::monthly_sales(&bench.pool, "2026-02".parse::<Month>().ok(), None, None);
    assert_eq!(only_feb.await?.len(), 1);
    bench.stop().await
}

#[tokio::test]
async fn bad_months_are_refused_with_a_reason() -> anyhow::Result<()> {
    let bench = bench().await?;
    for query in ["from=2026-13", "to=26-01", "from=2026-03&to=2026-02"] {
        let (status, body) = bench
            .get(&format!("/analytics/sales/monthly?{query}"))
            .await?;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{body}"
        );
    }
    bench.stop().await
}

#[tokio::test]
async fn a_refund_reverses_its_sale_and_a_cancelled_order_s_refund_counts_nothing(
) -> anyhow::Result<()> {
    let mut bench = bench().await?;
    bench
        .product("MUG", "kitchen", 500, at("2026-03-01T00:00:00Z"))
        .await?;
    bench
        .product("HOSE", "garden", 1000, at("2026-03-01T00:00:00Z"))
        .await?;
    // The refund is applied before its sale: the payment feed is ahead.
    bench.refund("o1", 700, at("2026-04-02T09:00:00Z")).await?;
    bench.catch_up().await?;
    let march = at("2026-03-15T12:00:00Z");
    bench
        .sale("o1", "bob", &[("MUG", 2, 500), ("HOSE", 1, 1000)], march)
        .await?;
    // A compensation: confirmed, cancelled, refunded in full; it was never a sale.
    bench.sale("o2", "bob", &[("HOSE", 1, 1000)], march).await?;
    bench
        .cancel("o2", march + chrono::Duration::seconds(5))
        .await?;
    bench
        .refund("o2", 1000, march + chrono::Duration::seconds(6))
        .await?;
    bench.catch_up().await?;
    // 700 of 2000 spread by amount: MUG lines 1000 → 350, HOSE 1000 → 350.
    assert_eq!(
        monthly(&bench, None).await?,
        [row("2026-03", None, (1, 3, 2000, 700))]
    );
    assert_eq!(
        monthly(&bench, Some("garden")).await?,
        [row("2026-03", Some("garden"), (1, 1, 1000, 350))]
    );
    let ltv = queries::customer_ltv(&bench.pool, "bob").await?;
    let ltv = ltv.ok_or_else(|| anyhow::anyhow!("bob unknown"))?;
    assert_eq!(
        (
            ltv.orders,
            ltv.revenue_cents,
            ltv.refunded_cents,
            ltv.net_cents
        ),
        (1, 2000, 700, 1300)
    );
    bench.stop().await
}

#[tokio::test]
async fn a_sale_joins_the_product_row_valid_when_it_was_sold() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench.catch_up().await?;
    bench
        .sale("o1", "cat", &[("MUG", 1, 500)], at("2026-01-10T00:00:00Z"))
        .await?;
    bench
        .sale("o2", "cat", &[("MUG", 2, 700)], at("2026-02-10T00:00:00Z"))
        .await?;
    // The sales are applied first; the price and category change after, from the
    // inventory feed, and must re-key the February sale only.
    bench.catch_up().await?;
    bench
        .update_product("MUG", "gifts", 700, at("2026-02-01T00:00:00Z"))
        .await?;
    bench
        .update_product("MUG", "gifts", 700, at("2026-02-05T00:00:00Z"))
        .await?;
    bench.catch_up().await?;
    let rows: Vec<(String, i64, bool, bool)> = sqlx::query_as(
        "SELECT category, price_cents, valid_to IS NULL, is_current \
         FROM olap_v1.product_dimension WHERE sku = 'MUG' ORDER BY valid_from",
    )
    .fetch_all(&bench.pool)
    .await?;
    let expected = [
        ("kitchen".to_string(), 500, false, false),
        ("gifts".to_string(), 700, true, true),
    ];
    assert_eq!(rows, expected, "a repeated update opens no row");
    assert_eq!(
        monthly(&bench, Some("kitchen")).await?,
        [row("2026-01", Some("kitchen"), (1, 1, 500, 0))]
    );
    assert_eq!(
        monthly(&bench, Some("gifts")).await?,
        [row("2026-02", Some("gifts"), (1, 2, 1400, 0))]
    );
    bench.stop().await
}

#[tokio::test]
async fn customer_ltv_sums_the_sales_that_stand_and_knows_every_customer() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    bench
        .product("MUG", "kitchen", 500, at("2026-01-01T00:00:00Z"))
        .await?;
    bench.register("dan", at("2026-01-01T00:00:00Z")).await?;
    bench.register("eve", at("2026-01-01T00:00:00Z")).await?;
    bench.rename("dan", at("2026-01-02T00:00:00Z")).await?;
    bench
        .sale("o1", "dan", &[("MUG", 1, 500)], at("2026-01-05T08:00:00Z"))
        .await?;
    bench
        .sale("o2", "dan", &[("MUG", 3, 500)], at("2026-03-07T08:00:00Z"))
        .await?;
    bench
        .sale("o3", "dan", &[("MUG", 9, 500)], at("2026-04-01T08:00:00Z"))
        .await?;
    bench.cancel("o3", at("2026-04-01T08:00:09Z")).await?;
    bench.refund("o2", 500, at("2026-03-09T00:00:00Z")).await?;
    bench.deactivate("dan", at("2026-05-01T00:00:00Z")).await?;
    bench.catch_up().await?;
    let (status, dan) = bench.get("/analytics/customers/dan/ltv").await?;
    assert_eq!(status, 200, "{dan}");
    let expected = serde_json::json!({"customer_id": "dan", "orders": 2, "revenue_cents": 2000,
        "refunded_cents": 500, "net_cents": 1500, "first_order_date": "2026-01-05",
        "last_order_date": "2026-03-07"});
    assert_eq!(dan, expected);
    let (status, eve) = bench.get("/analytics/customers/eve/ltv").await?;
    assert_eq!(
        (status, &eve["orders"], &eve["first_order_date"]),
        (200, &Value::from(0), &Value::Null)
    );
    let (status, body) = bench.get("/analytics/customers/nobody/ltv").await?;
    assert_eq!(status, 404, "{body}");
    let activities: Vec<(String, i64)> = sqlx::query_as(
        "SELECT a.activity, count(*) FROM olap_v1.user_activity_fact a \
         JOIN olap_v1.customer_dimension c USING (customer_key) \
         WHERE c.customer_id = 'dan' GROUP BY a.activity ORDER BY a.activity",
    )
    .fetch_all(&bench.pool)
    .await?;
    let counts = [
        ("deactivated", 1),
        ("order_placed", 3),
        ("profile_updated", 1),
        ("registered", 1),
    ];
    let counts: Vec<(String, i64)> = counts.iter().map(|(a, n)| (a.to_string(), *n)).collect();
    assert_eq!(activities, counts);
    bench.stop().await
}

#[tokio::test]
async fn top_products_come_by_net_revenue_a_page_at_a_time() -> anyhow::Result<()> {
    let mut bench = bench().await?;
    let day = at("2026-06-01T00:00:00Z");
    // Net revenue: P5 2500, P4 2000, P3 1500 (and 2 units), P2 1500 (3 units), P1 500.
    let sales = [
        ("P1", 1, 500),
        ("P2", 3, 500),
        ("P3", 1, 1500),
        ("P4", 2, 1000),
        ("P5", 5, 500),
    ];
    for (i, (sku, quantity, price)) in sales.iter().enumerate() {
        let category = if i % 2 == 0 { "odd" } else { "even" };
        bench.product(sku, category, *price, day).await?;
        bench
            .sale(&format!("o{i}"), "fay", &[(sku, *quantity, *price)], day)
            .await?;
    }
    bench.sale("o9", "fay", &[("P3", 1, 0)], day).await?;
    bench.catch_up().await?;
    let page = |offset: i64| format!("/analytics/products/top?limit=2&offset={offset}");
    let skus = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["sku"].as_str().map(String::from))
            .collect()
    };
    let (_, first) = bench.get(&page(0)).await?;
    let (_, second) = bench.get(&page(2)).await?;
    let (_, last) = bench.get(&page(4)).await?;
    assert_eq!(
        [skus(&first), skus(&second), skus(&last)].concat(),
        ["P5", "P4", "P2", "P3", "P1"]
    );
    assert_eq!(
        (&first["total"], &first["limit"], &last["offset"]),
        (&Value::from(5), &Value::from(2), &Value::from(4))
    );
    assert_eq!(
        (&first["items"][0]["name"], &first["items"][0]["units"]),
        (&Value::from("Product P5"), &Value::from(5))
    );
    let (_, odd) = bench.get("/analytics/products/top?category=odd").await?;
    assert_eq!(skus(&odd), ["P5", "P3", "P1"]);
    for query in ["limit=0", "limit=101", "limit=ten", "offset=-1", "offset=x"] {
        let (status, body) = bench
            .get(&format!("/analytics/products/top?{query}"))
            .await?;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{body}"
        );
    }
    bench.stop().await
}
