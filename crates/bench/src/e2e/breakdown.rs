//! Where each confirmed order's latency went, from the order service's own event
//! store: `OrderPlaced` and `OrderConfirmed` carry the time they were recorded, so the
//! publish-to-seen latency splits into three segments:
//! - **accept**: publish → `OrderPlaced` recorded (broker, command handling);
//! - **saga**: `OrderPlaced` → `OrderConfirmed` recorded (order relay to the saga,
//!   reserve, authorize through the bridge, NATS and the provider's delay, capture,
//!   confirm: every saga dispatch and relay hop between them);
//! - **read side**: `OrderConfirmed` recorded → seen over HTTP (order relay, the query
//!   service's projection pass, and the poll's own resolution).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use sqlx::Row;

use super::stats::{Latency, OrderSample};
use super::E2eError;

pub const SEGMENTS: [&str; 3] = ["accept", "saga", "read side"];

/// The three segments' latencies over `samples` (orders missing an event are left out).
pub async fn segments(
    order_database_url: &str,
    samples: &[OrderSample],
) -> Result<Vec<(&'static str, Latency)>, E2eError> {
    let pool = sqlx::PgPool::connect(order_database_url)
        .await
        .map_err(|source| E2eError::postgres("connect to the order database", source))?;
    let ids: Vec<String> = samples.iter().map(|s| s.order_id.clone()).collect();
    let rows = sqlx::query(
        "SELECT aggregate_id, event_type, \
                (extract(epoch FROM recorded_at) * 1000000)::bigint AS micros \
         FROM events WHERE aggregate_id = ANY($1) \
           AND event_type IN ('OrderPlaced', 'OrderConfirmed')",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await
    .map_err(|source| E2eError::postgres("read the order events", source))?;
    pool.close().await;
    let mut recorded: HashMap<(String, String), SystemTime> = HashMap::new();
    for row in rows {
        let (Ok(id), Ok(kind), Ok(micros)) = (
            row.try_get::<String, _>("aggregate_id"),
            row.try_get::<String, _>("event_type"),
            row.try_get::<i64, _>("micros"),
        ) else {
            continue;
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64);
        recorded.insert((id, kind), at);
    }
    Ok(split(samples, &recorded))
}

fn split(
    samples: &[OrderSample],
    recorded: &HashMap<(String, String), SystemTime>,
) -> Vec<(&'static str, Latency)> {
    let mut parts: [Vec<Duration>; 3] = Default::default();
    let gap = |from: SystemTime, to: SystemTime| to.duration_since(from).unwrap_or_default();
    for sample in samples {
        let event = |kind: &str| recorded.get(&(sample.order_id.clone(), kind.to_string()));
        let (Some(placed), Some(confirmed)) = (event("OrderPlaced"), event("OrderConfirmed"))
        else {
            continue;
        };
        parts[0].push(gap(sample.published, *placed));
        parts[1].push(gap(*placed, *confirmed));
        parts[2].push(gap(*confirmed, sample.seen));
    }
    SEGMENTS
        .into_iter()
        .zip(parts)
        .map(|(name, part)| (name, Latency::new(part)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_recorded_events() {
        let t = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let samples = vec![
            OrderSample {
                order_id: "a".into(),
                published: t(1000),
                seen: t(1900),
            },
            OrderSample {
                order_id: "missing".into(),
                published: t(0),
                seen: t(5),
            },
        ];
        let mut recorded = HashMap::new();
        recorded.insert(("a".to_string(), "OrderPlaced".to_string()), t(1010));
        recorded.insert(("a".to_string(), "OrderConfirmed".to_string()), t(1600));
        let parts = split(&samples, &recorded);
        let p50 = |i: usize| parts[i].1.percentile(50.0);
        assert_eq!(p50(0), Some(Duration::from_millis(10)));
        assert_eq!(p50(1), Some(Duration::from_millis(590)));
        assert_eq!(p50(2), Some(Duration::from_millis(300)));
        assert_eq!(parts[0].1.count(), 1);
    }
}
