//! The product dimension's writes: a page's product events, folded into the type 2
//! rows they leave ([`write::products`], decided by [`crate::scd`]), written in a
//! constant number of statements, and the re-keying of the sales of the skus whose
//! rows changed.
//!
//! A sale may be applied before its product's `ProductAdded` or a later price change
//! (they come from another feed), so whenever a sku's rows change its sales are keyed
//! again; a sale applied after the change is keyed right away (`product_row_at`, in
//! `sql/star_schema.sql`).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::write::page::Claimed;
use super::write::products::{ProductRow, ProductRows};
use super::write::WriteError;
use crate::events::Fact;
use crate::scd::Terms;

/// Writes the product events of a page (in page order) into `schema`.
pub async fn write(
    db: &mut PgConnection,
    schema: &str,
    events: &[Claimed<'_>],
) -> Result<(), WriteError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut rows = ProductRows::new(current_rows(db, schema, &skus(events)).await?);
    for event in events {
        match event.fact {
            Fact::ProductAdded(added) => rows.added(added, event.at),
            Fact::ProductUpdated(updated) => rows
                .updated(updated, event.at)
                .map_err(|err| WriteError::Refused(err.to_string()))?,
            _ => {}
        }
    }
    update_stored(db, schema, &rows).await?;
    insert_opened(db, schema, &rows).await?;
    rekey_sales(db, schema, &rows.touched_skus()).await
}

fn skus<'a>(events: &[Claimed<'a>]) -> Vec<&'a str> {
    let mut skus: Vec<&str> = events
        .iter()
        .filter_map(|event| match event.fact {
            Fact::ProductAdded(added) => Some(added.sku.as_str()),
            Fact::ProductUpdated(updated) => Some(updated.sku.as_str()),
            _ => None,
        })
        .collect();
    skus.sort_unstable();
    skus.dedup();
    skus
}

/// The current rows of `skus`, locked until the page commits.
async fn current_rows(
    db: &mut PgConnection,
    schema: &str,
    skus: &[&str],
) -> Result<Vec<ProductRow>, WriteError> {
    let sql = format!(
        "SELECT product_key, sku, name, price_cents, category, valid_from \
         FROM {schema}.product_dimension WHERE sku = ANY($1) AND is_current FOR UPDATE"
    );
    let rows = sqlx::query(&sql).bind(skus).fetch_all(&mut *db).await?;
    Ok(rows.iter().map(stored_row).collect::<Result<_, _>>()?)
}

fn stored_row(row: &PgRow) -> Result<ProductRow, sqlx::Error> {
    Ok(ProductRow {
        product_key: Some(row.try_get("product_key")?),
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        terms: Terms {
            price_cents: row.try_get("price_cents")?,
            category: row.try_get("category")?,
        },
        valid_from: row.try_get("valid_from")?,
        valid_to: None,
    })
}

/// The stored rows the page corrected or closed. First, so a closed row is no longer
/// current when its successor is inserted (one current row per sku, by index).
async fn update_stored(
    db: &mut PgConnection,
    schema: &str,
    rows: &ProductRows,
) -> Result<(), WriteError> {
    let changed: Vec<&ProductRow> = rows.changed().collect();
    if changed.is_empty() {
        return Ok(());
    }
    let (prices, categories, valid_to) = columns(&changed);
    let keys: Vec<Option<i64>> = changed.iter().map(|row| row.product_key).collect();
    let sql = format!(
        "UPDATE {schema}.product_dimension d SET price_cents = c.price_cents, \
         category = c.category, valid_to = c.valid_to, is_current = c.valid_to IS NULL \
         FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::timestamptz[]) \
         AS c(product_key, price_cents, category, valid_to) \
         WHERE d.product_key = c.product_key"
    );
    let query = sqlx::query(&sql).bind(keys).bind(prices).bind(categories);
    query.bind(valid_to).execute(&mut *db).await?;
    Ok(())
}

/// The rows the page opened, in the order it opened them.
async fn insert_opened(
    db: &mut PgConnection,
    schema: &str,
    rows: &ProductRows,
) -> Result<(), WriteError> {
    let opened: Vec<&ProductRow> = rows.opened().collect();
    if opened.is_empty() {
        return Ok(());
    }
    let (prices, categories, valid_to) = columns(&opened);
    let skus: Vec<&str> = opened.iter().map(|row| row.sku.as_str()).collect();
    let names: Vec<&str> = opened.iter().map(|row| row.name.as_str()).collect();
    let valid_from: Vec<DateTime<Utc>> = opened.iter().map(|row| row.valid_from).collect();
    let sql = format!(
        "INSERT INTO {schema}.product_dimension \
         (sku, name, category, price_cents, valid_from, valid_to, is_current) \
         SELECT sku, name, category, price_cents, valid_from, valid_to, valid_to IS NULL \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], \
                     $6::timestamptz[]) WITH ORDINALITY \
         AS r(sku, name, category, price_cents, valid_from, valid_to, n) ORDER BY n"
    );
    let query = sqlx::query(&sql).bind(skus).bind(names).bind(categories);
    let query = query.bind(prices).bind(valid_from).bind(valid_to);
    query.execute(&mut *db).await?;
    Ok(())
}

type Columns<'a> = (Vec<i64>, Vec<&'a str>, Vec<Option<DateTime<Utc>>>);

/// The prices, categories and ends of `rows`.
fn columns<'a>(rows: &[&'a ProductRow]) -> Columns<'a> {
    let prices = rows.iter().map(|row| row.terms.price_cents).collect();
    let categories = rows.iter().map(|row| row.terms.category.as_str()).collect();
    let valid_to = rows.iter().map(|row| row.valid_to).collect();
    (prices, categories, valid_to)
}

/// Keys the sales of `skus` to the product row valid when each was sold: run whenever
/// a sku's rows change, since its sales may have arrived first (another feed).
async fn rekey_sales(db: &mut PgConnection, schema: &str, skus: &[&str]) -> Result<(), WriteError> {
    if skus.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE {schema}.sales_fact SET product_key = {schema}.product_key_at(sku, sold_at) \
         WHERE sku = ANY($1) AND product_key IS DISTINCT FROM {schema}.product_key_at(sku, sold_at)"
    );
    sqlx::query(&sql).bind(skus).execute(&mut *db).await?;
    Ok(())
}
