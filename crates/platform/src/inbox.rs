//! De-duplication of consumed events: delivery is at-least-once, so a consumer records
//! each `event_id` it handled in the same transaction as the handling itself.

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

/// Claims `event_id` for `consumer` inside `tx`. Returns `false` when the event was
/// already handled; the caller then skips it and acknowledges the message. Because the
/// claim commits or rolls back with the handling, an event is handled exactly once.
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}
