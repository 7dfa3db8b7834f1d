//! Progress bars (on stderr, so the table on stdout stays clean), timing a rebuild
//! while showing its progress, and giving up on Ctrl-C so the caller still cleans up.

use std::future::Future;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use platform::projection::{Bookkeeping, ProgressReport, Projection, Runner};

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
    let bar = counter(&format!("replay {label}"), 1);
    let started = Instant::now();
    let work = interruptible(async { Ok(runner.rebuild().await?) });
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = tick.tick() => show(&bar, &runner.progress.report()),
        }
    };
    let elapsed = started.elapsed();
    let report = runner.progress.report();
    show(&bar, &report);
    bar.finish();
    result.map(|_version| Timed {
        events: report.done,
        elapsed,
    })
}

fn show(bar: &ProgressBar, report: &ProgressReport) {
    bar.set_length(report.total.max(1));
    bar.set_position(report.done);
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
