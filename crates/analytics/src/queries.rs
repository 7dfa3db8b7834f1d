//! The reads behind the HTTP API, from the cubes of the current version.
//!
//! Each request looks up the current version first (one indexed row), then reads that
//! version's schema: a rebuild's swap changes which schema the next request reads, and
//! the old one outlives the swap by a grace period for requests already under way.
//!
//! Measures: `revenue_cents` sums the lines of sales that stand (confirmed orders not
//! cancelled, at the line's own price); `refunded_cents` the refunds of those sales
//! (capped at the sale, see `sales_line_refund`); `net_cents` the difference.

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::{PgPool, Row};
use utoipa::ToSchema;

use crate::calendar::Month;
use crate::warehouse::{schema::schema_name, PROJECTION};

/// One month of sales, for all categories or one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MonthlySalesRow {
    /// `YYYY-MM`, the month the orders were placed in.
    #[schema(example = "2026-03")]
    pub month: String,
    /// The category asked for (at the product's category when sold); absent for all.
    pub category: Option<String>,
    /// Orders with at least one line in the row.
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
    pub refunded_cents: i64,
    pub net_cents: i64,
}

/// A customer's lifetime value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CustomerLtv {
    pub customer_id: String,
    /// Sales that stand: confirmed orders not cancelled.
    pub orders: i64,
    pub revenue_cents: i64,
    pub refunded_cents: i64,
    pub net_cents: i64,
    /// The day (UTC) of the first and of the last of those orders; absent without any.
    pub first_order_date: Option<NaiveDate>,
    pub last_order_date: Option<NaiveDate>,
}

/// A product's sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TopProduct {
    pub sku: String,
    /// Absent while the product's `ProductAdded` has not been applied yet.
    pub name: Option<String>,
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
    pub refunded_cents: i64,
    pub net_cents: i64,
}

/// The current version's schema.
async fn current_schema(pool: &PgPool) -> Result<String, sqlx::Error> {
    let version = crate::book::current_version(pool, PROJECTION).await?;
    Ok(schema_name(version))
}

/// Rows from `from` to `to` (inclusive, either open), month by month.
pub async fn monthly_sales(
    pool: &PgPool,
    from: Option<Month>,
    to: Option<Month>,
    category: Option<&str>,
) -> Result<Vec<MonthlySalesRow>, sqlx::Error> {
    let sql = format!(
        "SELECT month_key, category, orders, units, revenue_cents, refunded_cents \
         FROM {}.monthly_sales_cube \
         WHERE ($1::integer IS NULL OR month_key >= $1) AND ($2::integer IS NULL OR month_key <= $2) \
           AND CASE WHEN $3::text IS NULL THEN all_categories \
                    ELSE NOT all_categories AND category = $3 END \
         ORDER BY month_key",
        current_schema(pool).await?
    );
    let rows = sqlx::query(&sql)
        .bind(from.map(Month::key))
        .bind(to.map(Month::key))
        .bind(category)
        .fetch_all(pool)
        .await?;
    rows.iter().map(monthly_row).collect()
}

fn monthly_row(row: &sqlx::postgres::PgRow) -> Result<MonthlySalesRow, sqlx::Error> {
    let (revenue, refunded): (i64, i64) = (
        row.try_get("revenue_cents")?,
        row.try_get("refunded_cents")?,
    );
    let category: String = row.try_get("category")?;
    Ok(MonthlySalesRow {
        month: Month::from_key(row.try_get("month_key")?).to_string(),
        category: category_filter(category),
        orders: row.try_get("orders")?,
        units: row.try_get("units")?,
        revenue_cents: revenue,
        refunded_cents: refunded,
        net_cents: revenue - refunded,
    })
}

/// The cubes spell "all categories" as ''; the API leaves the field out.
fn category_filter(category: String) -> Option<String> {
    Some(category).filter(|c| !c.is_empty())
}

/// A customer's lifetime value; `None` for a customer the schema does not know.
pub async fn customer_ltv(
    pool: &PgPool,
    customer_id: &str,
) -> Result<Option<CustomerLtv>, sqlx::Error> {
    let sql = format!(
        "SELECT customer_id, orders, revenue_cents, refunded_cents, first_order_date, \
         last_order_date FROM {}.customer_ltv_analysis WHERE customer_id = $1",
        current_schema(pool).await?
    );
    let Some(row) = sqlx::query(&sql)
        .bind(customer_id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let (revenue, refunded): (i64, i64) = (
        row.try_get("revenue_cents")?,
        row.try_get("refunded_cents")?,
    );
    Ok(Some(CustomerLtv {
        customer_id: row.try_get("customer_id")?,
        orders: row.try_get("orders")?,
        revenue_cents: revenue,
        refunded_cents: refunded,
        net_cents: revenue - refunded,
        first_order_date: row.try_get("first_order_date")?,
        last_order_date: row.try_get("last_order_date")?,
    }))
}

/// A page of products by net revenue (then units, then sku), and how many there are.
pub async fn top_products(
    pool: &PgPool,
    category: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TopProduct>, i64), sqlx::Error> {
    let schema = current_schema(pool).await?;
    let filter = "CASE WHEN $1::text IS NULL THEN c.all_categories \
                  ELSE NOT c.all_categories AND c.category = $1 END";
    let count = format!("SELECT count(*) FROM {schema}.product_sales_cube c WHERE {filter}");
    let total: i64 = sqlx::query_scalar(&count)
        .bind(category)
        .fetch_one(pool)
        .await?;
    let sql = format!(
        "SELECT c.sku, p.name, c.orders, c.units, c.revenue_cents, c.refunded_cents \
         FROM {schema}.product_sales_cube c \
         LEFT JOIN {schema}.product_dimension p ON p.sku = c.sku AND p.is_current \
         WHERE {filter} \
         ORDER BY c.revenue_cents - c.refunded_cents DESC, c.units DESC, c.sku \
         LIMIT $2 OFFSET $3"
    );
    let rows = sqlx::query(&sql)
        .bind(category)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    let items = rows.iter().map(top_product).collect::<Result<_, _>>()?;
    Ok((items, total))
}

fn top_product(row: &sqlx::postgres::PgRow) -> Result<TopProduct, sqlx::Error> {
    let (revenue, refunded): (i64, i64) = (
        row.try_get("revenue_cents")?,
        row.try_get("refunded_cents")?,
    );
    Ok(TopProduct {
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        orders: row.try_get("orders")?,
        units: row.try_get("units")?,
        revenue_cents: revenue,
        refunded_cents: refunded,
        net_cents: revenue - refunded,
    })
}
