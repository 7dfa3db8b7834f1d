//! Progress bars (on stderr, so the table on stdout stays clean), timing a rebuild
//! while showing its progress, and giving up on Ctrl-C so the caller still cleans up.

use std::future::Future;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use platform::projection::{Bookkeeping, Projection, Runner};

use crate::BenchError;

/// A bar counting `total` things, labelled `label`.
pub fn counter(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total.max(1));
    let style = ProgressStyle::with_template(
        "{prefix:<28} [{bar:30}] {pos:>8}/{len:<8} {per_sec:>12}  eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label.to_string());
    bar
}

/// What a replay did, and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub events: u64,
    pub elapsed: Duration,
}

/// Runs [`Runner::rebuild`] (from the beginning of every feed to a promoted version)
/// and times it, following its progress on a bar.
pub async fn rebuild<P: Projection, B: Bookkeeping>(
    runner: &Runner<P, B>,
    label: &str,
) -> Result<Timed, BenchError> {
    let together = rebuild_together(std::slice::from_ref(runner), label).await?;
    Ok(Timed {
        events: together.events.iter().sum(),
        elapsed: together.elapsed,
    })
}

/// What rebuilds run together did: the events each read, and how long all took.
#[derive(Debug, Clone)]
pub struct Together {
    pub events: Vec<u64>,
    pub elapsed: Duration,
}

/// Runs the runners' rebuilds at once, as `commerce replay` does (so rebuilds reading
/// the same feed share its pages), and times them, following their sum on one bar.
pub async fn rebuild_together<P: Projection, B: Bookkeeping>(
    runners: &[Runner<P, B>],
    label: &str,
) -> Result<Together, BenchError> {
    let bar = counter(&format!("replay {label}"), 1);
    let started = Instant::now();
    let rebuilds = futures::future::try_join_all(runners.iter().map(|r| r.rebuild()));
    let work = interruptible(async { Ok(rebuilds.await?) });
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = tick.tick() => show(&bar, sum(runners)),
        }
    };
    let elapsed = started.elapsed();
    show(&bar, sum(runners));
    bar.finish();
    result.map(|_versions| Together {
        events: runners.iter().map(|r| r.progress.report().done).collect(),
        elapsed,
    })
}

/// The runners' rebuilds as one: `(total, done)`.
fn sum<P: Projection, B: Bookkeeping>(runners: &[Runner<P, B>]) -> (u64, u64) {
    runners
        .iter()
        .map(|r| r.progress.report())
        .fold((0, 0), |(total, done), r| (total + r.total, done + r.done))
}

fn show(bar: &ProgressBar, (total, done): (u64, u64)) {
    bar.set_length(total.max(1));
    bar.set_position(done);
}

/// `work`, unless Ctrl-C comes first.
pub async fn interruptible<T>(
    work: impl Future<Output = Result<T, BenchError>>,
) -> Result<T, BenchError> {
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => Err(BenchError::Interrupted),
    }
}
