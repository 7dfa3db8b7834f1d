//! The tables of a `commerce-bench` run, one per section that ran, under the machine
//! line.

use std::fmt;

use super::append::AppendSection;
use super::ceilings::Ceilings;
use super::latency::Cell;
use super::machine::Machine;
use super::relay::RelayFigures;
use super::table::{millis, per_second, ratio, Table};
use super::Options;

#[derive(Debug, Clone)]
pub struct SuiteReport {
    /// Ends the name of everything the run created.
    pub run_id: String,
    pub machine: Machine,
    pub options: Options,
    pub ceilings: Option<Ceilings>,
    pub append: Option<AppendSection>,
    pub relay: Option<RelayFigures>,
    /// One report per history replayed (see [`super::replay`]).
    pub replay: Option<Vec<crate::Report>>,
}

fn figures(cell: &Cell) -> [String; 3] {
    [per_second(cell.rate()), millis(cell.p50), millis(cell.p99)]
}

impl SuiteReport {
    pub fn ceilings_table(&self, ceilings: &Ceilings) -> Table {
        let mut table =
            Table::new(
                "Ceilings: plain writes",
                vec![
                    "server",
                    "operation",
                    "writers",
                    "writes/s",
                    "p50 ms",
                    "p99 ms",
                ],
            )
            .note(format!(
            "PostgreSQL: BEGIN; INSERT one row; COMMIT per operation, synchronous_commit = {}. \
             RabbitMQ: persistent messages shaped like relayed events into a durable queue; \
             pipelined latencies are per batch of {}.",
            if ceilings.synchronous_commit.is_empty() { "?" } else { &ceilings.synchronous_commit },
            ceilings.pipeline_batch
        ));
        let mut row = |server: &str, operation: String, writers: usize, cell: &Cell| {
            let [rate, p50, p99] = figures(cell);
            table.row(vec![
                server.into(),
                operation,
                writers.to_string(),
                rate,
                p50,
                p99,
            ]);
        };
        for (writers, cell) in &ceilings.postgres {
            row("PostgreSQL", "commit (1-row insert)".into(), *writers, cell);
        }
        row(
            "RabbitMQ",
            "publish, await confirm".into(),
            1,
            &ceilings.rabbit_one_by_one,
        );
        let pipelined = format!("publish {}, await confirms", ceilings.pipeline_batch);
        row("RabbitMQ", pipelined, 1, &ceilings.rabbit_pipelined);
        row("Redis", "SET".into(), 1, &ceilings.redis);
        row("MongoDB", "insert_one".into(), 1, &ceilings.mongo);
        table
    }

    pub fn append_table(&self, section: &AppendSection) -> Table {
        let mut table = Table::new(
            "Event append: load + handle + append, one event per command",
            vec![
                "writers",
                "implementation",
                "events/s",
                "p50 ms",
                "p99 ms",
                "PG commits/s (same N, just before)",
                "÷ PG commit ceiling",
            ],
        )
        .note(format!(
            "Each writer on its own aggregates, a fresh one every {} commands; pool of `writers` \
             connections; one database per cell.",
            self.options.stream_length
        ));
        for row in &section.rows {
            let ceiling = section.ceiling_at(row.writers).and_then(Cell::rate);
            let [rate, p50, p99] = figures(&row.cell);
            table.row(vec![
                row.writers.to_string(),
                row.implementation.into(),
                rate,
                p50,
                p99,
                per_second(ceiling),
                ratio(row.cell.rate(), ceiling),
            ]);
        }
        table
    }

    pub fn relay_table(&self, relay: &RelayFigures) -> Table {
        let mut table = Table::new(
            "Relay: store → broker, published and confirmed",
            vec![
                "events",
                "batch",
                "events/s",
                "batch p50 ms",
                "batch p99 ms",
                "÷ RabbitMQ pipelined",
                "÷ RabbitMQ one by one",
                "in queue",
            ],
        )
        .note(
            "Relay::publish_next_batch until the preloaded store is published; compared with the \
             ceiling publishing the same batch size with pipelined confirms.",
        );
        let ceiling =
            |pick: fn(&Ceilings) -> &Cell| self.ceilings.as_ref().map(pick).and_then(Cell::rate);
        let [rate, p50, p99] = figures(&relay.cell);
        table.row(vec![
            relay.events.to_string(),
            relay.batch.to_string(),
            rate,
            p50,
            p99,
            ratio(relay.cell.rate(), ceiling(|c| &c.rabbit_pipelined)),
            ratio(relay.cell.rate(), ceiling(|c| &c.rabbit_one_by_one)),
            relay.queued.to_string(),
        ]);
        table
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.machine)?;
        writeln!(
            f,
            "cell duration {:.1} s\n",
            self.options.cell().as_secs_f64()
        )?;
        if let Some(ceilings) = &self.ceilings {
            writeln!(f, "{}", self.ceilings_table(ceilings))?;
        }
        if let Some(section) = &self.append {
            writeln!(f, "{}", self.append_table(section))?;
        }
        if let Some(relay) = &self.relay {
            writeln!(f, "{}", self.relay_table(relay))?;
        }
        if let Some(replays) = &self.replay {
            writeln!(f, "### Replay: rebuilding each read model\n")?;
            for replay in replays {
                let stores: Vec<String> = replay
                    .stores
                    .iter()
                    .map(|(s, n)| format!("{s} {n}"))
                    .collect();
                let rebuilt: Vec<&str> = replay
                    .measurements
                    .iter()
                    .map(|m| m.unit.as_str())
                    .collect();
                writeln!(
                    f,
                    "history: {}; rebuilt: {}\n",
                    stores.join(", "),
                    rebuilt.join(", ")
                )?;
            }
            if let Some(first) = replays.first() {
                let measurements = replays.iter().flat_map(|r| r.measurements.clone());
                let merged = crate::Report {
                    measurements: measurements.collect(),
                    ..first.clone()
                };
                write!(f, "{}", crate::report::StoreTable(&merged))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::suite::append::AppendRow;

    fn cell(operations: u64, millis: u64) -> Cell {
        Cell {
            operations,
            elapsed: Duration::from_secs(1),
            p50: Some(Duration::from_millis(millis)),
            p99: Some(Duration::from_millis(millis * 2)),
        }
    }

    fn report() -> SuiteReport {
        let options = Options::parse_from(["commerce-bench", "--writers", "8"]);
        SuiteReport {
            run_id: "test".into(),
            machine: Machine {
                cores: 2,
                memory_kib: None,
                cpu: None,
            },
            options,
            ceilings: Some(Ceilings {
                synchronous_commit: "on".into(),
                postgres: vec![(8, cell(1_000, 8))],
                rabbit_one_by_one: cell(500, 2),
                rabbit_pipelined: cell(4_000, 100),
                pipeline_batch: 500,
                redis: cell(10_000, 0),
                mongo: cell(300, 3),
            }),
            append: Some(AppendSection {
                ceilings: vec![(8, cell(1_000, 8))],
                rows: vec![
                    AppendRow {
                        implementation: "ours",
                        writers: 8,
                        cell: cell(850, 9),
                    },
                    AppendRow {
                        implementation: "peer",
                        writers: 1,
                        cell: cell(100, 9),
                    },
                ],
            }),
            relay: Some(RelayFigures {
                events: 10_000,
                batch: 500,
                cell: cell(2_000, 250),
                queued: 10_000,
            }),
            replay: None,
        }
    }

    #[test]
    fn appends_are_compared_with_the_ceiling_at_the_same_concurrency() {
        let report = report();
        let section = report.append.clone().unwrap_or_default();
        let table = report.append_table(&section);
        assert_eq!(
            table.rows[0],
            ["8", "ours", "850", "9.00", "18.00", "1000", "0.85"]
        );
        // No ceiling measured at 1 writer: no ratio.
        assert_eq!(table.rows[1][5..], ["-", "-"]);
    }

    #[test]
    fn the_relay_is_compared_with_both_publish_styles() {
        let report = report();
        let relay = report.relay.clone().expect("set above");
        let row = &report.relay_table(&relay).rows[0];
        assert_eq!(row[5], "0.50");
        assert_eq!(row[6], "4.00");
    }

    #[test]
    fn every_section_run_is_printed_under_the_machine_line() {
        let printed = report().to_string();
        assert!(printed.starts_with("machine: 2 cores"));
        assert!(printed.contains("### Ceilings"));
        assert!(
            printed.contains("| PostgreSQL | commit (1-row insert) | 8 | 1000 | 8.00 | 16.00 |")
        );
        assert!(printed.contains("### Event append"));
        assert!(printed.contains("### Relay"));
        assert!(!printed.contains("### Replay"));
    }
}
