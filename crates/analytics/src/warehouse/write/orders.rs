//! The page's writes from the order feed: placements staged, confirmations and
//! cancellations stamped, and the sales that stand after them.
//!
//! Applied one by one, an order's events leave its sales rows iff it was confirmed and
//! is not cancelled: a cancellation deletes them and a confirmation after it adds
//! none. So a page deletes the sales of the orders it cancels, then adds the sales of
//! the orders it confirms that are not cancelled (by now, in this page or before).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::page::Placed;
use super::WriteError;
use crate::calendar::Day;

/// A confirmed order as staged: whose it is and when it was placed.
#[derive(Debug, Clone)]
pub struct Staged {
    pub order_id: String,
    pub customer_id: String,
    pub placed_at: DateTime<Utc>,
}

impl Staged {
    fn of(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            order_id: row.try_get("order_id")?,
            customer_id: row.try_get("customer_id")?,
            placed_at: row.try_get("placed_at")?,
        })
    }
}

/// Stages the placed orders; an order staged before keeps its first placement.
pub async fn place(
    db: &mut PgConnection,
    schema: &str,
    placed: &[Placed<'_>],
) -> Result<(), sqlx::Error> {
    if placed.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = placed.iter().map(|p| p.order_id).collect();
    let customers: Vec<&str> = placed.iter().map(|p| p.customer_id).collect();
    let at: Vec<DateTime<Utc>> = placed.iter().map(|p| p.at).collect();
    let lines: Vec<&Value> = placed.iter().map(|p| &p.lines).collect();
    // In page order, so the first placement of an order placed twice is the one kept.
    let sql = format!(
        "INSERT INTO {schema}.order_stage (order_id, customer_id, placed_at, lines) \
         SELECT o, c, a, l FROM unnest($1::text[], $2::text[], $3::timestamptz[], \
         $4::jsonb[]) WITH ORDINALITY AS p(o, c, a, l, n) ORDER BY n \
         ON CONFLICT (order_id) DO NOTHING"
    );
    let query = sqlx::query(&sql).bind(ids).bind(customers).bind(at);
    query.bind(lines).execute(db).await?;
    Ok(())
}

/// Stamps the confirmed orders and reads them back; refused when one was never placed.
pub async fn confirm(
    db: &mut PgConnection,
    schema: &str,
    confirmed: &BTreeMap<&str, DateTime<Utc>>,
) -> Result<Vec<Staged>, WriteError> {
    if confirmed.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE {schema}.order_stage s SET confirmed_at = c.at \
         FROM unnest($1::text[], $2::timestamptz[]) AS c(order_id, at) \
         WHERE s.order_id = c.order_id RETURNING s.order_id, s.customer_id, s.placed_at"
    );
    let (ids, at) = columns(confirmed);
    let rows = sqlx::query(&sql).bind(ids).bind(at).fetch_all(db).await?;
    let staged = rows.iter().map(Staged::of).collect::<Result<Vec<_>, _>>()?;
    if let Some(missing) = confirmed
        .keys()
        .find(|id| !staged.iter().any(|s| s.order_id == **id))
    {
        return Err(WriteError::Refused(format!(
            "order {missing} was never placed"
        )));
    }
    Ok(staged)
}

/// Stamps the cancelled orders and deletes their sales (a compensation after a
/// confirmation undoes the sale). A cancellation of an order never placed stamps nothing.
pub async fn cancel(
    db: &mut PgConnection,
    schema: &str,
    cancelled: &BTreeMap<&str, DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    if cancelled.is_empty() {
        return Ok(());
    }
    let (ids, at) = columns(cancelled);
    let sql = format!(
        "UPDATE {schema}.order_stage s SET cancelled_at = c.at \
         FROM unnest($1::text[], $2::timestamptz[]) AS c(order_id, at) \
         WHERE s.order_id = c.order_id"
    );
    sqlx::query(&sql)
        .bind(&ids)
        .bind(at)
        .execute(&mut *db)
        .await?;
    let sql = format!("DELETE FROM {schema}.sales_fact WHERE order_id = ANY($1::text[])");
    sqlx::query(&sql).bind(ids).execute(db).await?;
    Ok(())
}

/// One sales row per line of each confirmed order not cancelled, keyed to the product
/// row valid when it was placed and dated by the day of the placement.
pub async fn sales(
    db: &mut PgConnection,
    schema: &str,
    confirmed: &[Staged],
) -> Result<(), sqlx::Error> {
    if confirmed.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = confirmed.iter().map(|s| s.order_id.as_str()).collect();
    let date_keys: Vec<i32> = confirmed
        .iter()
        .map(|s| Day::at(s.placed_at).date_key)
        .collect();
    // The amount saturates as the per-line product in Rust did, rather than overflow.
    let sql = format!(
        "INSERT INTO {schema}.sales_fact (order_id, line_no, date_key, customer_key, \
         product_key, sku, sold_at, quantity, unit_price_cents, amount_cents) \
         SELECT o.order_id, l.n::integer, c.date_key, d.customer_key, \
         p.product_key, l.line->>'sku', o.placed_at, \
         (l.line->>'quantity')::bigint, (l.line->>'unit_price_cents')::bigint, \
         greatest(least((l.line->>'quantity')::numeric * (l.line->>'unit_price_cents')::numeric, \
         9223372036854775807), -9223372036854775808)::bigint \
         FROM unnest($1::text[], $2::integer[]) AS c(order_id, date_key) \
         JOIN {schema}.order_stage o ON o.order_id = c.order_id AND o.cancelled_at IS NULL \
         JOIN {schema}.customer_dimension d ON d.customer_id = o.customer_id \
         CROSS JOIN LATERAL jsonb_array_elements(o.lines) WITH ORDINALITY AS l(line, n) \
         LEFT JOIN LATERAL {schema}.product_row_at(l.line->>'sku', o.placed_at) p ON true \
         ON CONFLICT (order_id, line_no) DO NOTHING"
    );
    sqlx::query(&sql)
        .bind(ids)
        .bind(date_keys)
        .execute(db)
        .await?;
    Ok(())
}

fn columns<'a>(orders: &BTreeMap<&'a str, DateTime<Utc>>) -> (Vec<&'a str>, Vec<DateTime<Utc>>) {
    orders.iter().map(|(id, at)| (*id, *at)).unzip()
}
