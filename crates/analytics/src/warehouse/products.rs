//! The product dimension's writes: type 2 history (decided by [`crate::scd`]) and the
//! re-keying of sales to the product row valid when they were sold.
//!
//! A sale may be applied before its product's `ProductAdded` or a later price change
//! (they come from another feed), so whenever a sku's rows change its sales are keyed
//! again; a sale applied after the change is keyed right away (`product_key_at`).

use sqlx::{PgConnection, Row};

use super::write::{Applying, WriteError};
use crate::events::{ProductAdded, ProductUpdated};
use crate::scd::{self, Change, CurrentRow, Terms};

async fn current_product(
    db: &mut PgConnection,
    on: Applying<'_>,
    sku: &str,
) -> Result<Option<(CurrentRow, String)>, WriteError> {
    let sql = format!(
        "SELECT product_key, price_cents, category, valid_from, name \
         FROM {}.product_dimension WHERE sku = $1 AND is_current FOR UPDATE",
        on.schema
    );
    let Some(row) = sqlx::query(&sql).bind(sku).fetch_optional(&mut *db).await? else {
        return Ok(None);
    };
    let current = CurrentRow {
        product_key: row.try_get("product_key")?,
        price_cents: row.try_get("price_cents")?,
        category: row.try_get("category")?,
        valid_from: row.try_get("valid_from")?,
    };
    Ok(Some((current, row.try_get("name")?)))
}

async fn open_product_row(
    db: &mut PgConnection,
    on: Applying<'_>,
    sku: &str,
    name: &str,
    terms: &Terms,
) -> Result<(), WriteError> {
    let sql = format!(
        "INSERT INTO {}.product_dimension \
         (sku, name, category, price_cents, valid_from, valid_to, is_current) \
         VALUES ($1, $2, $3, $4, $5, NULL, true)",
        on.schema
    );
    sqlx::query(&sql)
        .bind(sku)
        .bind(name)
        .bind(&terms.category)
        .bind(terms.price_cents)
        .bind(on.at)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// Keys the sales of `sku` to the product row valid when each was sold: run whenever
/// the sku's rows change, since its sales may have arrived first (another feed).
async fn rekey_sales(db: &mut PgConnection, on: Applying<'_>, sku: &str) -> Result<(), WriteError> {
    let sql = format!(
        "UPDATE {s}.sales_fact SET product_key = {s}.product_key_at(sku, sold_at) \
         WHERE sku = $1 AND product_key IS DISTINCT FROM {s}.product_key_at(sku, sold_at)",
        s = on.schema
    );
    sqlx::query(&sql).bind(sku).execute(&mut *db).await?;
    Ok(())
}

pub async fn added(
    db: &mut PgConnection,
    on: Applying<'_>,
    added: &ProductAdded,
) -> Result<(), WriteError> {
    let current = current_product(db, on, &added.sku).await?;
    if scd::on_added(current.as_ref().map(|(row, _)| row), on.at) == Change::Unchanged {
        return Ok(());
    }
    let terms = Terms {
        price_cents: added.price_cents,
        category: added.category.clone(),
    };
    open_product_row(db, on, &added.sku, &added.name, &terms).await?;
    rekey_sales(db, on, &added.sku).await
}

pub async fn updated(
    db: &mut PgConnection,
    on: Applying<'_>,
    updated: &ProductUpdated,
) -> Result<(), WriteError> {
    let current = current_product(db, on, &updated.sku).await?;
    let terms = Terms {
        price_cents: updated.price_cents,
        category: updated.category.clone(),
    };
    let change = scd::on_updated(
        &updated.sku,
        current.as_ref().map(|(row, _)| row),
        &terms,
        on.at,
    )
    .map_err(|err| WriteError::Refused(err.to_string()))?;
    let name = current.map(|(_, name)| name).unwrap_or_default();
    if apply_change(db, on, &updated.sku, &name, &terms, change).await? {
        rekey_sales(db, on, &updated.sku).await?;
    }
    Ok(())
}

/// Writes an update's decision; `true` when the sku's rows changed.
async fn apply_change(
    db: &mut PgConnection,
    on: Applying<'_>,
    sku: &str,
    name: &str,
    terms: &Terms,
    change: Change,
) -> Result<bool, WriteError> {
    match change {
        Change::Unchanged | Change::Open { .. } => return Ok(false),
        Change::Correct { product_key } => {
            let sql = format!(
                "UPDATE {}.product_dimension SET price_cents = $2, category = $3 \
                 WHERE product_key = $1",
                on.schema
            );
            let query = sqlx::query(&sql).bind(product_key).bind(terms.price_cents);
            query.bind(&terms.category).execute(&mut *db).await?;
        }
        Change::NewVersion { product_key, at } => {
            let sql = format!(
                "UPDATE {}.product_dimension SET valid_to = $2, is_current = false \
                 WHERE product_key = $1",
                on.schema
            );
            let query = sqlx::query(&sql).bind(product_key).bind(at);
            query.execute(&mut *db).await?;
            open_product_row(db, on, sku, name, terms).await?;
        }
    }
    Ok(true)
}
