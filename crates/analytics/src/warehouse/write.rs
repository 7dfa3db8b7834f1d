//! What each fact writes into a version's schema, inside the transaction that also
//! claims the event in the inbox (see [`super`]).
//!
//! Every write is also safe to repeat on its own (inserts keyed by event or by order
//! line, upserts, deletes), but exactly-once comes from the inbox; the keys are a
//! second line of defence, not the mechanism.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::products;
use crate::calendar::Day;
use crate::events::{Fact, OrderLine, OrderPlaced, PaymentRefunded};

/// The event being applied: its id, when it happened, and the version's schema.
#[derive(Debug, Clone, Copy)]
pub struct Applying<'a> {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub schema: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// The event contradicts what the schema holds: it is parked, not retried forever.
    #[error("{0}")]
    Refused(String),
}

/// Writes one fact.
pub async fn write(db: &mut PgConnection, on: Applying<'_>, fact: &Fact) -> Result<(), WriteError> {
    match fact {
        Fact::ProductAdded(added) => products::added(db, on, added).await,
        Fact::ProductUpdated(updated) => products::updated(db, on, updated).await,
        Fact::OrderPlaced(placed) => order_placed(db, on, placed).await,
        Fact::OrderConfirmed(order) => order_confirmed(db, on, &order.order_id).await,
        Fact::OrderCancelled(order) => order_cancelled(db, on, &order.order_id).await,
        Fact::UserRegistered(user) => {
            let sql = "email = $3, name = $4, registered_at = $2, inferred = false";
            let values = [user.email.as_str(), user.name.as_str()];
            customer_event(db, on, &user.user_id, sql, &values, "registered").await
        }
        Fact::ProfileUpdated(user) => {
            let values = [user.name.as_str()];
            customer_event(
                db,
                on,
                &user.user_id,
                "name = $3",
                &values,
                "profile_updated",
            )
            .await
        }
        Fact::UserDeactivated(user) => {
            let sql = "is_active = false, deactivated_at = $2";
            customer_event(db, on, &user.user_id, sql, &[], "deactivated").await
        }
        Fact::PaymentRefunded(refund) => payment_refunded(db, on, refund).await,
    }
}

/// The `time_dimension` row of the instant's day (added when first needed).
async fn day_key(
    db: &mut PgConnection,
    on: Applying<'_>,
    at: DateTime<Utc>,
) -> Result<i32, WriteError> {
    let day = Day::at(at);
    let sql = format!(
        "INSERT INTO {}.time_dimension (date_key, date, day, month, quarter, year) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (date_key) DO NOTHING",
        on.schema
    );
    sqlx::query(&sql)
        .bind(day.date_key)
        .bind(day.date)
        .bind(day.day)
        .bind(day.month)
        .bind(day.quarter)
        .bind(day.year)
        .execute(&mut *db)
        .await?;
    Ok(day.date_key)
}

/// The customer's key; a customer first seen in an order is inferred (id only).
async fn customer_key(
    db: &mut PgConnection,
    on: Applying<'_>,
    customer_id: &str,
) -> Result<i64, WriteError> {
    // The no-op update makes RETURNING answer for an existing row too.
    let sql = format!(
        "INSERT INTO {}.customer_dimension (customer_id) VALUES ($1) \
         ON CONFLICT (customer_id) DO UPDATE SET customer_id = excluded.customer_id \
         RETURNING customer_key",
        on.schema
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(customer_id)
        .fetch_one(&mut *db)
        .await?)
}

async fn activity(
    db: &mut PgConnection,
    on: Applying<'_>,
    customer_key: i64,
    kind: &str,
) -> Result<(), WriteError> {
    let date_key = day_key(db, on, on.at).await?;
    let sql = format!(
        "INSERT INTO {}.user_activity_fact (event_id, customer_key, activity, date_key, occurred_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
        on.schema
    );
    sqlx::query(&sql)
        .bind(on.event_id)
        .bind(customer_key)
        .bind(kind)
        .bind(date_key)
        .bind(on.at)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// A user event: `set` (with `$1` the customer id, `$2` the event's instant, `$3`..
/// the `values`) updates the customer's row, and the event becomes an activity.
async fn customer_event(
    db: &mut PgConnection,
    on: Applying<'_>,
    customer_id: &str,
    set: &str,
    values: &[&str],
    kind: &str,
) -> Result<(), WriteError> {
    let key = customer_key(db, on, customer_id).await?;
    let sql = format!(
        "UPDATE {}.customer_dimension SET updated_at = $2, {set} WHERE customer_id = $1",
        on.schema
    );
    let mut query = sqlx::query(&sql).bind(customer_id).bind(on.at);
    for value in values {
        query = query.bind(*value);
    }
    query.execute(&mut *db).await?;
    activity(db, on, key, kind).await
}

async fn order_placed(
    db: &mut PgConnection,
    on: Applying<'_>,
    placed: &OrderPlaced,
) -> Result<(), WriteError> {
    let lines =
        serde_json::to_value(&placed.lines).map_err(|e| WriteError::Refused(e.to_string()))?;
    let sql = format!(
        "INSERT INTO {}.order_stage (order_id, customer_id, placed_at, lines) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (order_id) DO NOTHING",
        on.schema
    );
    sqlx::query(&sql)
        .bind(&placed.order_id)
        .bind(&placed.customer_id)
        .bind(on.at)
        .bind(lines)
        .execute(&mut *db)
        .await?;
    let key = customer_key(db, on, &placed.customer_id).await?;
    activity(db, on, key, "order_placed").await
}

/// An order as placed, read back for its confirmation.
struct Staged {
    customer_id: String,
    placed_at: DateTime<Utc>,
    lines: Vec<OrderLine>,
    cancelled: bool,
}

async fn staged(
    db: &mut PgConnection,
    on: Applying<'_>,
    order_id: &str,
) -> Result<Staged, WriteError> {
    let sql = format!(
        "SELECT customer_id, placed_at, lines, cancelled_at IS NOT NULL AS cancelled \
         FROM {}.order_stage WHERE order_id = $1 FOR UPDATE",
        on.schema
    );
    let row = sqlx::query(&sql)
        .bind(order_id)
        .fetch_optional(&mut *db)
        .await?;
    let row =
        row.ok_or_else(|| WriteError::Refused(format!("order {order_id} was never placed")))?;
    let lines = serde_json::from_value(row.try_get("lines")?)
        .map_err(|e| WriteError::Refused(format!("order {order_id} lines unreadable: {e}")))?;
    Ok(Staged {
        customer_id: row.try_get("customer_id")?,
        placed_at: row.try_get("placed_at")?,
        lines,
        cancelled: row.try_get("cancelled")?,
    })
}

/// A confirmed order becomes sales, one per line, unless it was cancelled already.
async fn order_confirmed(
    db: &mut PgConnection,
    on: Applying<'_>,
    order_id: &str,
) -> Result<(), WriteError> {
    let order = staged(db, on, order_id).await?;
    let sql = format!(
        "UPDATE {}.order_stage SET confirmed_at = $2 WHERE order_id = $1",
        on.schema
    );
    sqlx::query(&sql)
        .bind(order_id)
        .bind(on.at)
        .execute(&mut *db)
        .await?;
    if order.cancelled {
        return Ok(());
    }
    insert_sales(db, on, order_id, &order).await
}

/// One sales row per line, keyed to the product row valid when the order was placed.
async fn insert_sales(
    db: &mut PgConnection,
    on: Applying<'_>,
    order_id: &str,
    order: &Staged,
) -> Result<(), WriteError> {
    let date_key = day_key(db, on, order.placed_at).await?;
    let customer_key = customer_key(db, on, &order.customer_id).await?;
    let sql = format!(
        "INSERT INTO {s}.sales_fact (order_id, line_no, date_key, customer_key, product_key, sku, \
         sold_at, quantity, unit_price_cents, amount_cents) \
         VALUES ($1, $2, $3, $4, {s}.product_key_at($5, $6), $5, $6, $7, $8, $9) \
         ON CONFLICT (order_id, line_no) DO NOTHING",
        s = on.schema
    );
    for (index, line) in order.lines.iter().enumerate() {
        sqlx::query(&sql)
            .bind(order_id)
            .bind(index as i32 + 1)
            .bind(date_key)
            .bind(customer_key)
            .bind(&line.sku)
            .bind(order.placed_at)
            .bind(line.quantity)
            .bind(line.unit_price_cents)
            .bind(line.quantity.saturating_mul(line.unit_price_cents))
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// A cancelled order is no sale, even when it was confirmed before (a compensation).
async fn order_cancelled(
    db: &mut PgConnection,
    on: Applying<'_>,
    order_id: &str,
) -> Result<(), WriteError> {
    let sql = format!(
        "UPDATE {}.order_stage SET cancelled_at = $2 WHERE order_id = $1",
        on.schema
    );
    sqlx::query(&sql)
        .bind(order_id)
        .bind(on.at)
        .execute(&mut *db)
        .await?;
    let sql = format!("DELETE FROM {}.sales_fact WHERE order_id = $1", on.schema);
    sqlx::query(&sql).bind(order_id).execute(&mut *db).await?;
    Ok(())
}

async fn payment_refunded(
    db: &mut PgConnection,
    on: Applying<'_>,
    refund: &PaymentRefunded,
) -> Result<(), WriteError> {
    let date_key = day_key(db, on, on.at).await?;
    let sql = format!(
        "INSERT INTO {}.refund_fact \
         (event_id, payment_id, order_id, date_key, refunded_at, amount_cents, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        on.schema
    );
    sqlx::query(&sql)
        .bind(on.event_id)
        .bind(&refund.payment_id)
        .bind(&refund.order_id)
        .bind(date_key)
        .bind(on.at)
        .bind(refund.amount_cents)
        .bind(&refund.reason)
        .execute(&mut *db)
        .await?;
    Ok(())
}
