//! The cubes (`monthly_sales_cube`, `customer_ltv_analysis`, `product_sales_cube`):
//! materialized views over the facts, refreshed by a background task when facts
//! changed. `sql/cubes.sql` says why views rather than tables kept by deltas.
//!
//! The queries read the cubes, so they trail the facts by at most one refresh period
//! (`ANALYTICS_REFRESH_MS`) plus the refresh itself; `analytics_cube_refresh_seconds`
//! shows how long that takes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Executor, PgPool};
use tokio_util::sync::CancellationToken;

use super::schema::schema_name;
use super::PROJECTION;

const CUBES: &[&str] = &[
    "monthly_sales_cube",
    "customer_ltv_analysis",
    "product_sales_cube",
];

/// Recomputes every cube of `version` from its facts. Readers keep the previous
/// contents until each view's refresh commits.
pub async fn refresh(pool: &PgPool, version: u32) -> Result<(), sqlx::Error> {
    let started = Instant::now();
    let schema = schema_name(version);
    for cube in CUBES {
        let sql = format!("REFRESH MATERIALIZED VIEW CONCURRENTLY {schema}.{cube}");
        pool.execute(sql.as_str()).await?;
    }
    metrics::histogram!("analytics_cube_refresh_seconds").record(started.elapsed().as_secs_f64());
    Ok(())
}

/// Refreshes the current version's cubes whenever facts changed, at most once per
/// `period`.
pub struct Refresher {
    pool: PgPool,
    changed: Arc<AtomicBool>,
    period: Duration,
}

impl Refresher {
    pub fn new(pool: PgPool, changed: Arc<AtomicBool>, period: Duration) -> Self {
        Self {
            pool,
            changed,
            period,
        }
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.period) => {}
            }
            if self.changed.swap(false, Ordering::Relaxed) {
                if let Err(err) = self.refresh_current().await {
                    // Raised again, so the next period tries again.
                    self.changed.store(true, Ordering::Relaxed);
                    tracing::warn!(error = %err, "cube refresh failed, will retry");
                }
            }
        }
    }

    async fn refresh_current(&self) -> Result<(), sqlx::Error> {
        let version = crate::book::current_version(&self.pool, PROJECTION).await?;
        refresh(&self.pool, version).await
    }
}
