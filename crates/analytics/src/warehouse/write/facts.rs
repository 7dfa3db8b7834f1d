//! The page's event-grain facts: user activities (user events and placements) and
//! refunds, one row per event, keyed by the event so a row is never written twice.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::page::{Activity, Claimed};
use crate::calendar::Day;
use crate::events::PaymentRefunded;

/// One activity row per event, keyed to its customer (already in the dimension).
pub async fn activities(
    db: &mut PgConnection,
    schema: &str,
    activities: &[Activity<'_>],
) -> Result<(), sqlx::Error> {
    if activities.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = activities.iter().map(|a| a.event_id).collect();
    let customers: Vec<&str> = activities.iter().map(|a| a.customer_id).collect();
    let kinds: Vec<&str> = activities.iter().map(|a| a.kind).collect();
    let at: Vec<DateTime<Utc>> = activities.iter().map(|a| a.at).collect();
    let days: Vec<i32> = at.iter().map(|at| Day::at(*at).date_key).collect();
    let sql = format!(
        "INSERT INTO {schema}.user_activity_fact \
         (event_id, customer_key, activity, date_key, occurred_at) \
         SELECT a.event_id, c.customer_key, a.kind, a.date_key, a.at \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::timestamptz[]) \
         AS a(event_id, customer_id, kind, date_key, at) \
         JOIN {schema}.customer_dimension c USING (customer_id) \
         ON CONFLICT (event_id) DO NOTHING"
    );
    let query = sqlx::query(&sql).bind(ids).bind(customers).bind(kinds);
    query.bind(days).bind(at).execute(db).await?;
    Ok(())
}

/// One refund row per event, dated by the refund.
pub async fn refunds(
    db: &mut PgConnection,
    schema: &str,
    refunds: &[(Claimed<'_>, &PaymentRefunded)],
) -> Result<(), sqlx::Error> {
    if refunds.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = refunds.iter().map(|(e, _)| e.event_id).collect();
    let payments: Vec<&str> = refunds.iter().map(|(_, r)| r.payment_id.as_str()).collect();
    let orders: Vec<&str> = refunds.iter().map(|(_, r)| r.order_id.as_str()).collect();
    let days: Vec<i32> = refunds
        .iter()
        .map(|(e, _)| Day::at(e.at).date_key)
        .collect();
    let at: Vec<DateTime<Utc>> = refunds.iter().map(|(e, _)| e.at).collect();
    let amounts: Vec<i64> = refunds.iter().map(|(_, r)| r.amount_cents).collect();
    let reasons: Vec<&str> = refunds.iter().map(|(_, r)| r.reason.as_str()).collect();
    let sql = format!(
        "INSERT INTO {schema}.refund_fact \
         (event_id, payment_id, order_id, date_key, refunded_at, amount_cents, reason) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], \
         $5::timestamptz[], $6::bigint[], $7::text[]) ON CONFLICT (event_id) DO NOTHING"
    );
    let query = sqlx::query(&sql)
        .bind(ids)
        .bind(payments)
        .bind(orders)
        .bind(days);
    let query = query.bind(at).bind(amounts).bind(reasons);
    query.execute(db).await?;
    Ok(())
}
