//! The figures of a run: one measurement per projection (each query view, the OLAP
//! schema), summed per store into the table the bench prints.

use std::fmt;
use std::time::Duration;

/// Where a projection writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Backend {
    MongoDb,
    Redis,
    /// One view writing both: its bulk write goes to both servers, one after the other.
    MongoDbAndRedis,
    Olap,
    /// The view wrote nothing but its bookkeeping (no event concerned it).
    Nothing,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::MongoDb => "MongoDB",
            Backend::Redis => "Redis",
            Backend::MongoDbAndRedis => "MongoDB + Redis",
            Backend::Olap => "OLAP (PostgreSQL)",
            Backend::Nothing => "nothing written",
        }
    }
}

/// One projection's replay, and the bulk write it is compared with.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The projection's name.
    pub unit: String,
    pub backend: Backend,
    /// Events the replay read from the feeds (and applied, or passed over as not
    /// concerning the projection).
    pub events: u64,
    pub replay: Duration,
    /// Documents, commands or rows the bulk write sent (as many as `events`).
    pub bulk_writes: u64,
    pub bulk: Duration,
}

/// `count` per second, if anything was timed.
pub fn rate(count: u64, elapsed: Duration) -> Option<f64> {
    let seconds = elapsed.as_secs_f64();
    (count > 0 && seconds > 0.0).then(|| count as f64 / seconds)
}

/// What the table says of one store: its projections' sums.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub backend: Backend,
    pub events: u64,
    pub replay: Duration,
    pub bulk_writes: u64,
    pub bulk: Duration,
}

impl Row {
    pub fn replay_rate(&self) -> Option<f64> {
        rate(self.events, self.replay)
    }

    pub fn bulk_rate(&self) -> Option<f64> {
        rate(self.bulk_writes, self.bulk)
    }

    pub fn ratio(&self) -> Option<f64> {
        Some(self.replay_rate()? / self.bulk_rate()?)
    }
}

/// The measurements summed per store, in the order of [`Backend`].
pub fn rows(measurements: &[Measurement]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for m in measurements {
        let row = match rows.iter_mut().find(|r| r.backend == m.backend) {
            Some(row) => row,
            None => {
                rows.push(Row {
                    backend: m.backend,
                    events: 0,
                    replay: Duration::ZERO,
                    bulk_writes: 0,
                    bulk: Duration::ZERO,
                });
                let last = rows.len() - 1;
                &mut rows[last]
            }
        };
        row.events += m.events;
        row.replay += m.replay;
        row.bulk_writes += m.bulk_writes;
        row.bulk += m.bulk;
    }
    rows.sort_by_key(|r| r.backend);
    rows
}

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.0}"))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

/// A run's results: the table per store, then each projection.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was generated, one line per store: `(service, events)`.
    pub stores: Vec<(&'static str, u64)>,
    pub page: i64,
    pub batch: u64,
    pub measurements: Vec<Measurement>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stores: Vec<String> = self
            .stores
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        writeln!(f, "event stores: {}", stores.join(", "))?;
        writeln!(
            f,
            "feed page {}, bulk batch {}, {} cores\n",
            self.page,
            self.batch,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )?;
        self.store_table(f)?;
        writeln!(f)?;
        self.projection_table(f)
    }
}

/// Only the per-store table of a [`Report`], for `commerce-bench`'s replay section.
#[derive(Debug, Clone, Copy)]
pub struct StoreTable<'a>(pub &'a Report);

impl fmt::Display for StoreTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.store_table(f)
    }
}

impl Report {
    fn store_table(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| store | events replayed | replay events/s | bulk writes/s | replay/bulk |"
        )?;
        writeln!(f, "|---|---:|---:|---:|---:|")?;
        for row in rows(&self.measurements) {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} |",
                row.backend.label(),
                row.events,
                figure(row.replay_rate()),
                figure(row.bulk_rate()),
                ratio(row.ratio())
            )?;
        }
        Ok(())
    }

    fn projection_table(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "| projection | store | events | replay s | replay events/s | bulk s | bulk writes/s |"
        )?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|")?;
        for m in &self.measurements {
            writeln!(
                f,
                "| {} | {} | {} | {:.2} | {} | {:.2} | {} |",
                m.unit,
                m.backend.label(),
                m.events,
                m.replay.as_secs_f64(),
                figure(rate(m.events, m.replay)),
                m.bulk.as_secs_f64(),
                figure(rate(m.bulk_writes, m.bulk))
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(backend: Backend, events: u64, replay_ms: u64, bulk_ms: u64) -> Measurement {
        Measurement {
            unit: "view".into(),
            backend,
            events,
            replay: Duration::from_millis(replay_ms),
            bulk_writes: events,
            bulk: Duration::from_millis(bulk_ms),
        }
    }

    #[test]
    fn views_are_summed_per_store_and_compared_with_the_bulk_write() {
        let rows = rows(&[
            measured(Backend::Olap, 100, 1_000, 10),
            measured(Backend::MongoDb, 100, 1_000, 100),
            measured(Backend::Redis, 50, 100, 10),
            measured(Backend::MongoDb, 300, 1_000, 100),
        ]);
        let stores: Vec<Backend> = rows.iter().map(|r| r.backend).collect();
        assert_eq!(stores, [Backend::MongoDb, Backend::Redis, Backend::Olap]);
        assert_eq!(rows[0].events, 400);
        assert_eq!(rows[0].replay_rate(), Some(200.0));
        assert_eq!(rows[0].bulk_rate(), Some(2_000.0));
        assert_eq!(rows[0].ratio(), Some(0.1));
    }

    #[test]
    fn nothing_timed_has_no_rate() {
        let row = &rows(&[measured(Backend::Nothing, 10, 5, 0)])[0];
        assert_eq!(row.bulk_rate(), None);
        assert_eq!(row.ratio(), None);
    }
}
