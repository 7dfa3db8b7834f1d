//! The `customers` table (migration `0002_customers.sql`): the order service's own copy
//! of each customer's standing, written by the customer feed and read before every
//! `PlaceOrder`.

use sqlx::PgPool;

use super::change::CustomerChange;
use crate::domain::CustomerStanding;

/// Applies a change unless the row already holds this event or a later one, so a
/// redelivered or stale event changes nothing. Returns whether the row changed.
pub async fn apply(pool: &PgPool, change: &CustomerChange) -> Result<bool, sqlx::Error> {
    // One statement, so two deliveries racing for one customer are ordered by the
    // row lock and the later sequence wins whichever commits first.
    let result = sqlx::query(
        "INSERT INTO customers (customer_id, active, last_sequence, updated_at)
         VALUES ($1, $2, $3, now())
         ON CONFLICT (customer_id) DO UPDATE
           SET active = EXCLUDED.active, last_sequence = EXCLUDED.last_sequence,
               updated_at = now()
           WHERE customers.last_sequence < EXCLUDED.last_sequence",
    )
    .bind(&change.customer_id)
    .bind(change.active)
    .bind(change.sequence)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The customer's standing as this service last heard of it.
pub async fn standing(pool: &PgPool, customer_id: &str) -> Result<CustomerStanding, sqlx::Error> {
    let active: Option<bool> =
        sqlx::query_scalar("SELECT active FROM customers WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(pool)
            .await?;
    Ok(match active {
        None => CustomerStanding::Unknown,
        Some(true) => CustomerStanding::Active,
        Some(false) => CustomerStanding::Deactivated,
    })
}
