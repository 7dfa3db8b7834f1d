//! The end-to-end report as markdown: a table of the phases (offered load, completed
//! orders/s, latency percentiles, orders that did not complete), the CPU each service
//! used in each phase, and each service's peak resident memory. Pure formatting.

use std::fmt;
use std::time::Duration;

use super::stats::{Latency, Offered, PhaseStats};

/// What one run measured.
#[derive(Debug, Clone)]
pub struct E2eReport {
    /// From starting the processes to every `/health` answering.
    pub boot: Duration,
    pub poll_interval: Duration,
    pub completion_timeout: Duration,
    pub provider_delay: Duration,
    /// The environment overrides given to every service.
    pub service_env: Vec<(String, String)>,
    pub phases: Vec<PhaseReport>,
    /// Each service's peak resident set (`VmHWM`) in bytes, read at the end.
    pub memory: Vec<(&'static str, Option<u64>)>,
    /// The bench process's own peak.
    pub harness_peak: Option<u64>,
    /// Each service's warning and error lines logged during the run.
    pub log_lines: Vec<(&'static str, usize, usize)>,
}

/// One phase and the CPU each process used during it.
#[derive(Debug, Clone)]
pub struct PhaseReport {
    pub stats: PhaseStats,
    pub usage: Vec<ServiceUsage>,
    /// The latency split at the order's events ([`super::breakdown`]).
    pub segments: Vec<(&'static str, Latency)>,
}

impl PhaseReport {
    pub fn new(
        stats: PhaseStats,
        usage: Vec<ServiceUsage>,
        segments: Vec<(&'static str, Latency)>,
    ) -> Self {
        Self {
            stats,
            usage,
            segments,
        }
    }
}

/// CPU time one process used over a phase of `wall` duration.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceUsage {
    pub name: &'static str,
    pub cpu_seconds: Option<f64>,
    pub wall: Duration,
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "–".into(),
        |d| format!("{:.0}", d.as_secs_f64() * 1000.0),
    )
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "–".into(), |b| format!("{:.1}", b as f64 / 1048576.0))
}

fn offered(offered: Offered) -> String {
    match offered {
        Offered::Rate(rate) => format!("{rate:.1} orders/s (open loop)"),
        Offered::Concurrency(n) => format!("{n} in flight (closed loop)"),
    }
}

/// `KEY=value`, the value hidden when it may hold a credential.
fn setting(key: &str, value: &str) -> String {
    let upper = key.to_uppercase();
    let secret = ["URL", "KEY", "SECRET", "PASSWORD", "TOKEN"]
        .iter()
        .any(|word| upper.contains(word));
    if secret {
        format!("`{key}=…`")
    } else {
        format!("`{key}={value}`")
    }
}

impl fmt::Display for E2eReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "## End to end: `order.PlaceOrder` published → order `confirmed` over HTTP\n"
        )?;
        writeln!(f, "| phase | offered | published/s | completed orders/s | confirmed | not completed | p50 ms | p99 ms | max ms |")?;
        writeln!(f, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
        for phase in &self.phases {
            let s = &phase.stats;
            let not_completed = if s.incomplete() == 0 {
                "0".to_string()
            } else {
                format!(
                    "{} ({} refused, {} cancelled, {} timed out)",
                    s.incomplete(),
                    s.refused,
                    s.cancelled,
                    s.timed_out
                )
            };
            writeln!(
                f,
                "| {} | {} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
                s.name,
                offered(s.offered),
                s.published_per_second(),
                s.completed_per_second(),
                s.confirmed,
                not_completed,
                ms(s.latency.percentile(50.0)),
                ms(s.latency.percentile(99.0)),
                ms(s.latency.max()),
            )?;
        }
        let requests: u64 = self.phases.iter().map(|p| p.stats.status_requests).sum();
        let rounds: Vec<String> = self
            .phases
            .iter()
            .map(|p| format!("{} {} ms", p.stats.label(), p.stats.mean_round.as_millis()))
            .collect();
        writeln!(
            f,
            "\nLatency runs from just before the publish to the first `GET /orders/{{id}}/status` \
             (the query service's Redis view) that shows `confirmed`. An order is polled \
             every {} ms once its `OrderConfirmed` or `OrderCancelled` crossed the bus (the \
             harness listens on the `events` exchange, so its polling does not grow with the \
             backlog; {requests} status requests in all), so each figure may be up to one poll \
             interval plus one round late (a round, every such order asked once, took on \
             average {}). The simulated gateway's delay (`PROVIDER_DELAY_MS` = {} ms) \
             is part of every order's latency. An order not finished {} s after its publish \
             counts as timed out. Completed orders/s: confirmed orders over the time from the \
             phase's first publish to its last order seen finished. Services healthy {:.1} s \
             after start.",
            self.poll_interval.as_millis(),
            rounds.join(", "),
            self.provider_delay.as_millis(),
            self.completion_timeout.as_secs(),
            self.boot.as_secs_f64(),
        )?;
        if !self.service_env.is_empty() {
            let overrides: Vec<String> = self
                .service_env
                .iter()
                .map(|(k, v)| setting(k, v))
                .collect();
            writeln!(f, "Service settings overridden: {}.", overrides.join(", "))?;
        }
        self.fmt_segments(f)?;
        self.fmt_cpu(f)?;
        writeln!(f, "\n### Peak memory (`VmHWM`, read after the load)\n")?;
        writeln!(f, "| service | peak RSS MiB | log warnings | log errors |")?;
        writeln!(f, "|---|---:|---:|---:|")?;
        for (name, bytes) in &self.memory {
            let (warnings, errors) = self
                .log_lines
                .iter()
                .find(|(n, _, _)| n == name)
                .map_or(("–".into(), "–".into()), |(_, w, e)| {
                    (w.to_string(), e.to_string())
                });
            writeln!(f, "| {name} | {} | {warnings} | {errors} |", mib(*bytes))?;
        }
        writeln!(f, "| (bench harness) | {} | | |", mib(self.harness_peak))
    }
}

impl E2eReport {
    fn fmt_segments(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n### Where the latency went (ms, p50 / p99 of each segment)\n"
        )?;
        writeln!(
            f,
            "accept: publish → `OrderPlaced` recorded; saga: → `OrderConfirmed` recorded \
             (reserve, authorize with the provider's delay, capture, confirm); read side: → \
             seen over HTTP (relay, projection, poll resolution).\n"
        )?;
        let mut header = "| segment |".to_string();
        let mut rule = "|---|".to_string();
        for phase in &self.phases {
            header.push_str(&format!(" {} |", phase.stats.label()));
            rule.push_str("---:|");
        }
        writeln!(f, "{header}\n{rule}")?;
        for segment in super::breakdown::SEGMENTS {
            let mut row = format!("| {segment} |");
            for phase in &self.phases {
                let latency = phase.segments.iter().find(|(n, _)| *n == segment);
                let cell = latency.map_or_else(
                    || "–".to_string(),
                    |(_, l)| format!("{} / {}", ms(l.percentile(50.0)), ms(l.percentile(99.0))),
                );
                row.push_str(&format!(" {cell} |"));
            }
            writeln!(f, "{row}")?;
        }
        Ok(())
    }

    fn fmt_cpu(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n### CPU per phase (seconds of CPU; ms of CPU per confirmed order)\n"
        )?;
        let mut header = "| service |".to_string();
        let mut rule = "|---|".to_string();
        for phase in &self.phases {
            let wall = phase.usage.first().map_or(0.0, |u| u.wall.as_secs_f64());
            header.push_str(&format!(
                " {} ({wall:.0} s) CPU s | ms/order |",
                phase.stats.label()
            ));
            rule.push_str("---:|---:|");
        }
        writeln!(f, "{header}\n{rule}")?;
        let names: Vec<&str> = self
            .phases
            .first()
            .map(|p| p.usage.iter().map(|u| u.name).collect())
            .unwrap_or_default();
        for name in names {
            let mut row = format!("| {name} |");
            for phase in &self.phases {
                let cpu = phase
                    .usage
                    .iter()
                    .find(|u| u.name == name)
                    .and_then(|u| u.cpu_seconds);
                let per_order = cpu
                    .filter(|_| phase.stats.confirmed > 0)
                    .map(|c| c * 1000.0 / phase.stats.confirmed as f64);
                let cell = |v: Option<f64>, digits: usize| {
                    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
                };
                row.push_str(&format!(" {} | {} |", cell(cpu, 1), cell(per_order, 2)));
            }
            writeln!(f, "{row}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &'static str, offered: Offered, timed_out: u64) -> PhaseReport {
        let stats = PhaseStats {
            name,
            offered,
            placed: 4,
            refused: 0,
            confirmed: 4 - timed_out,
            cancelled: 0,
            timed_out,
            publish_span: Duration::from_secs(1),
            span: Duration::from_secs(2),
            latency: Latency::new(
                [300, 400, 500, 900]
                    .iter()
                    .take(4 - timed_out as usize)
                    .map(|v| Duration::from_millis(*v))
                    .collect(),
            ),
            status_requests: 10,
            mean_round: Duration::from_millis(30),
            samples: Vec::new(),
        };
        let usage = vec![ServiceUsage {
            name: "saga",
            cpu_seconds: Some(0.5),
            wall: Duration::from_secs(3),
        }];
        let segments = vec![("saga", Latency::new(vec![Duration::from_millis(250)]))];
        PhaseReport::new(stats, usage, segments)
    }

    fn report() -> E2eReport {
        E2eReport {
            boot: Duration::from_millis(4200),
            poll_interval: Duration::from_millis(20),
            completion_timeout: Duration::from_secs(30),
            provider_delay: Duration::from_millis(200),
            service_env: vec![
                ("RELAY_IDLE_POLL_MS".into(), "10".into()),
                ("AMQP_URL".into(), "amqp://guest:guest@x".into()),
            ],
            phases: vec![
                phase("steady", Offered::Rate(2.0), 0),
                phase("saturation", Offered::Concurrency(8), 1),
            ],
            memory: vec![("saga", Some(50 * 1048576)), ("query", None)],
            harness_peak: Some(10 * 1048576),
            log_lines: vec![("saga", 2, 0)],
        }
    }

    #[test]
    fn phases_are_a_markdown_table() {
        let text = report().to_string();
        assert!(text.contains(
            "| steady | 2.0 orders/s (open loop) | 4.0 | 2.0 | 4 | 0 | 400 | 900 | 900 |"
        ));
        assert!(text.contains(
            "| saturation | 8 in flight (closed loop) | 4.0 | 1.5 | 3 | 1 (0 refused, 0 cancelled, 1 timed out) | 400 | 500 | 500 |"
        ));
        assert!(text.contains("20 status requests in all"));
        assert!(text.contains("polled every 20 ms once its `OrderConfirmed`"));
        assert!(text.contains("took on average steady 30 ms, saturation 8 30 ms)"));
    }

    #[test]
    fn cpu_and_memory_tables() {
        let text = report().to_string();
        assert!(text.contains(
            "| service | steady (3 s) CPU s | ms/order | saturation 8 (3 s) CPU s | ms/order |"
        ));
        assert!(text.contains("| saga | 0.5 | 125.00 | 0.5 | 166.67 |"));
        assert!(text.contains("| saga | 50.0 | 2 | 0 |"));
        assert!(text.contains("| query | – | – | – |"));
        assert!(text.contains("| saga | 250 / 250 | 250 / 250 |"));
        assert!(text.contains("| accept | – | – |"));
        assert!(text.contains("| (bench harness) | 10.0 | | |"));
    }

    #[test]
    fn credentials_never_printed() {
        let text = report().to_string();
        assert!(text.contains("`RELAY_IDLE_POLL_MS=10`"));
        assert!(text.contains("`AMQP_URL=…`"));
        assert!(!text.contains("guest"));
    }
}
