//! Latency statistics of one load phase: exact percentiles (nearest rank) over the
//! sorted samples, and the phase's counts and rates. Pure: no I/O, unit-tested.

use std::time::Duration;

/// What one load phase measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseStats {
    /// `steady` or `saturation`.
    pub name: &'static str,
    /// The offered load as configured: orders/s for an open loop, in-flight orders for
    /// a closed loop.
    pub offered: Offered,
    /// Orders published and accepted by the order service.
    pub placed: u64,
    /// Orders published whose placement was refused or not acknowledged.
    pub refused: u64,
    /// Orders seen confirmed over HTTP.
    pub confirmed: u64,
    /// Orders seen cancelled over HTTP (none expected: every card approves).
    pub cancelled: u64,
    /// Orders not seen confirmed or cancelled within the completion timeout.
    pub timed_out: u64,
    /// From the first publish to the last publish.
    pub publish_span: Duration,
    /// From the first publish to the last order seen finished.
    pub span: Duration,
    /// Publish to seen confirmed, one sample per confirmed order.
    pub latency: Latency,
    /// `GET /orders/{id}/status` requests the poller issued.
    pub status_requests: u64,
    /// The mean duration of one poll round (every pending order asked once).
    pub mean_round: Duration,
    /// Each confirmed order: its id, and when it was published and seen confirmed.
    pub samples: Vec<OrderSample>,
}

/// One confirmed order, on the wall clock (to compare with the stores' timestamps).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSample {
    pub order_id: String,
    pub published: std::time::SystemTime,
    pub seen: std::time::SystemTime,
}

/// How the load was offered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Offered {
    /// Open loop: orders published at this rate whatever the system does.
    Rate(f64),
    /// Closed loop: this many customers, each placing its next order when the last one
    /// is seen finished.
    Concurrency(usize),
}

impl PhaseStats {
    /// The name with the closed loop's concurrency: `steady`, `saturation 32`.
    pub fn label(&self) -> String {
        match self.offered {
            Offered::Rate(_) => self.name.to_string(),
            Offered::Concurrency(n) => format!("{} {n}", self.name),
        }
    }

    /// Publish rate actually reached (orders/s over the publish span).
    pub fn published_per_second(&self) -> f64 {
        per_second(self.placed + self.refused, self.publish_span)
    }

    /// Confirmed orders per second, from the first publish to the last completion.
    pub fn completed_per_second(&self) -> f64 {
        per_second(self.confirmed, self.span)
    }

    /// Orders that did not end confirmed: refused, cancelled or timed out.
    pub fn incomplete(&self) -> u64 {
        self.refused + self.cancelled + self.timed_out
    }
}

fn per_second(count: u64, span: Duration) -> f64 {
    let seconds = span.as_secs_f64();
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// Latency samples, sorted once when summarised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    sorted: Vec<Duration>,
}

impl Latency {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    pub fn count(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100): the smallest sample with at least
    /// `p` % of the samples at or below it. `None` without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
            return None;
        }
        let rank = (p / 100.0 * self.sorted.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.sorted.len()) - 1;
        self.sorted.get(index).copied()
    }

    pub fn max(&self) -> Option<Duration> {
        self.sorted.last().copied()
    }

    pub fn min(&self) -> Option<Duration> {
        self.sorted.first().copied()
    }

    pub fn mean(&self) -> Option<Duration> {
        let count = u32::try_from(self.sorted.len()).ok().filter(|c| *c > 0)?;
        Some(self.sorted.iter().sum::<Duration>() / count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Latency {
        Latency::new(values.iter().map(|v| Duration::from_millis(*v)).collect())
    }

    #[test]
    fn nearest_rank_percentiles() {
        let latency = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(latency.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(latency.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(latency.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(latency.percentile(0.1), Some(Duration::from_millis(1)));
        assert_eq!(latency.max(), Some(Duration::from_millis(100)));
        assert_eq!(latency.min(), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_samples_round_up() {
        let latency = ms(&[30, 10, 20]);
        assert_eq!(latency.percentile(50.0), Some(Duration::from_millis(20)));
        assert_eq!(latency.percentile(99.0), Some(Duration::from_millis(30)));
        assert_eq!(latency.mean(), Some(Duration::from_millis(20)));
    }

    #[test]
    fn no_samples_no_percentiles() {
        let latency = ms(&[]);
        assert_eq!(latency.percentile(50.0), None);
        assert_eq!(latency.mean(), None);
        assert_eq!(ms(&[5]).percentile(0.0), None);
    }

    #[test]
    fn rates_over_spans() {
        let stats = PhaseStats {
            name: "steady",
            offered: Offered::Rate(20.0),
            placed: 40,
            refused: 0,
            confirmed: 38,
            cancelled: 1,
            timed_out: 1,
            publish_span: Duration::from_secs(2),
            span: Duration::from_secs(4),
            latency: ms(&[1]),
            status_requests: 0,
            mean_round: Duration::ZERO,
            samples: Vec::new(),
        };
        assert_eq!(stats.published_per_second(), 20.0);
        assert_eq!(stats.completed_per_second(), 9.5);
        assert_eq!(stats.incomplete(), 2);
        let empty = PhaseStats {
            span: Duration::ZERO,
            ..stats
        };
        assert_eq!(empty.completed_per_second(), 0.0);
    }
}
