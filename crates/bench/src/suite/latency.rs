//! Timing a closed loop of concurrent writers: each writer runs one operation after
//! another until the cell's time is up, and every operation's latency is kept.
//!
//! The rate is operations over the wall time from the start to the last writer's end
//! (an operation under way at the deadline finishes and counts). Percentiles are by
//! nearest rank over every latency of the cell, all writers together.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::SuiteError;

/// One cell's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub operations: u64,
    pub elapsed: Duration,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

impl Cell {
    /// The figures of `latencies` (in any order), timed over `elapsed`.
    pub fn from_latencies(mut latencies: Vec<Duration>, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        Self {
            operations: latencies.len() as u64,
            elapsed,
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
        }
    }

    /// Operations per second, if anything was timed.
    pub fn rate(&self) -> Option<f64> {
        crate::report::rate(self.operations, self.elapsed)
    }
}

/// The nearest-rank `p`th percentile (0 < p <= 100) of `sorted` (ascending).
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// One writer's work: operation number `op` (0, 1, 2, ... per writer) of `writer`.
pub trait Workload: Send + Sync + 'static {
    fn run(&self, writer: usize, op: u64) -> impl Future<Output = Result<(), SuiteError>> + Send;
}

/// Runs `writers` concurrent writers of `workload` for `duration`; the first error
/// stops the cell and is returned.
pub async fn drive<W: Workload>(
    workload: Arc<W>,
    writers: usize,
    duration: Duration,
) -> Result<Cell, SuiteError> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..writers {
        let workload = Arc::clone(&workload);
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(1_024);
            let mut op = 0;
            while Instant::now() < deadline {
                let began = Instant::now();
                workload.run(writer, op).await?;
                latencies.push(began.elapsed());
                op += 1;
            }
            Ok::<_, SuiteError>(latencies)
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let latencies = joined.map_err(|err| SuiteError::Task(err.to_string()))??;
        all.extend(latencies);
    }
    Ok(Cell::from_latencies(all, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
        assert_eq!(percentile(&[1], 0.0), None);
    }

    #[test]
    fn a_cell_sorts_its_latencies_and_counts_them() {
        let ms = Duration::from_millis;
        let cell = Cell::from_latencies(vec![ms(3), ms(1), ms(2), ms(100)], ms(500));
        assert_eq!(cell.operations, 4);
        assert_eq!(cell.p50, Some(ms(2)));
        assert_eq!(cell.p99, Some(ms(100)));
        assert_eq!(cell.rate(), Some(8.0));
        assert_eq!(Cell::from_latencies(vec![], ms(1)).rate(), None);
    }

    struct Count(std::sync::atomic::AtomicU64);

    impl Workload for Count {
        async fn run(&self, _writer: usize, _op: u64) -> Result<(), SuiteError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_operation_of_every_writer_is_counted() {
        let work = Arc::new(Count(0.into()));
        let cell = drive(Arc::clone(&work), 3, Duration::from_millis(50))
            .await
            .expect("no operation fails");
        assert!(cell.operations >= 3);
        assert_eq!(
            cell.operations,
            work.0.load(std::sync::atomic::Ordering::Relaxed)
        );
        assert!(cell.elapsed >= Duration::from_millis(50));
    }
}
