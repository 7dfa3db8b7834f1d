//! The page's writes to the conformed dimensions: the days its facts fall on, and the
//! customers it names (inferred members for new ids, then its user events' changes).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::page::CustomerChange;
use crate::calendar::Day;

/// Adds the days missing from `time_dimension`.
pub async fn days(
    db: &mut PgConnection,
    schema: &str,
    days: &BTreeMap<i32, Day>,
) -> Result<(), sqlx::Error> {
    if days.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Day) -> i16| days.values().map(f).collect::<Vec<_>>();
    let keys: Vec<i32> = days.keys().copied().collect();
    let dates: Vec<NaiveDate> = days.values().map(|d| d.date).collect();
    let years: Vec<i32> = days.values().map(|d| d.year).collect();
    let sql = format!(
        "INSERT INTO {schema}.time_dimension (date_key, date, day, month, quarter, year) \
         SELECT * FROM unnest($1::integer[], $2::date[], $3::smallint[], $4::smallint[], \
         $5::smallint[], $6::integer[]) ON CONFLICT (date_key) DO NOTHING"
    );
    sqlx::query(&sql)
        .bind(keys)
        .bind(dates)
        .bind(column(|d| d.day))
        .bind(column(|d| d.month))
        .bind(column(|d| d.quarter))
        .bind(years)
        .execute(db)
        .await?;
    Ok(())
}

/// Adds the customers not known yet, as inferred members (id only). In the order
/// first named, so keys are given as the facts came.
pub async fn customers(
    db: &mut PgConnection,
    schema: &str,
    ids: &[&str],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO {schema}.customer_dimension (customer_id) \
         SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS c(id, n) ORDER BY n \
         ON CONFLICT (customer_id) DO NOTHING"
    );
    sqlx::query(&sql).bind(ids).execute(db).await?;
    Ok(())
}

/// Writes the folded user events on their customers' rows: a `NULL` keeps a column.
pub async fn changes(
    db: &mut PgConnection,
    schema: &str,
    changes: &BTreeMap<&str, CustomerChange>,
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = changes.keys().copied().collect();
    let text = |f: fn(&CustomerChange) -> Option<&str>| changes.values().map(f).collect::<Vec<_>>();
    let instant = |f: fn(&CustomerChange) -> Option<DateTime<Utc>>| {
        changes.values().map(f).collect::<Vec<_>>()
    };
    let sql = format!(
        "UPDATE {schema}.customer_dimension c SET \
         email = coalesce(u.email, c.email), name = coalesce(u.name, c.name), \
         registered_at = coalesce(u.registered_at, c.registered_at), \
         inferred = c.inferred AND u.registered_at IS NULL, \
         deactivated_at = coalesce(u.deactivated_at, c.deactivated_at), \
         is_active = c.is_active AND u.deactivated_at IS NULL, updated_at = u.updated_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], \
         $5::timestamptz[], $6::timestamptz[]) \
         AS u(customer_id, email, name, registered_at, deactivated_at, updated_at) \
         WHERE c.customer_id = u.customer_id"
    );
    sqlx::query(&sql)
        .bind(ids)
        .bind(text(|c| c.email.as_deref()))
        .bind(text(|c| c.name.as_deref()))
        .bind(instant(|c| c.registered_at))
        .bind(instant(|c| c.deactivated_at))
        .bind(instant(|c| Some(c.updated_at)))
        .execute(db)
        .await?;
    Ok(())
}
