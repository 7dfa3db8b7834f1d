//! The services as child processes: each started from its release binary with its own
//! environment, stderr to a log file of its own, waited for on `/health`; stopped with
//! SIGTERM then SIGKILL at the end, and by the guard's `Drop` after an error or a
//! panic. Also reads what the kernel keeps of each child: its peak resident set
//! (`VmHWM`) and the CPU time it used.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::E2eError;

/// How long a service may take to answer `/health` (it migrates its database first).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a service may take to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One service to start.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The name shown in the report (`order`, `saga`, ...).
    pub name: &'static str,
    /// The binary's file name in the binaries directory.
    pub binary: &'static str,
    pub port: u16,
    pub env: Vec<(String, String)>,
}

/// A started service.
#[derive(Debug)]
pub struct Running {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the service wrote to stderr.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

/// Every started service; dropping it stops them all.
#[derive(Debug, Default)]
pub struct Services {
    running: Vec<Running>,
}

impl Services {
    /// Starts `spec` from `binaries`, its stderr to `<logs>/<name>.log`.
    pub fn start(
        &mut self,
        binaries: &Path,
        logs: &Path,
        spec: &ServiceSpec,
    ) -> Result<(), E2eError> {
        let binary = binaries.join(spec.binary);
        if !binary.is_file() {
            return Err(E2eError::MissingBinary(binary));
        }
        let log = logs.join(format!("{}.log", spec.name));
        let stderr = std::fs::File::create(&log)
            .map_err(|source| E2eError::io(format!("create {}", log.display()), source))?;
        let child = Command::new(&binary)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| E2eError::io(format!("start {}", binary.display()), source))?;
        self.running.push(Running {
            name: spec.name,
            port: spec.port,
            child,
            log,
        });
        Ok(())
    }

    /// Each service's count of warning and error lines in its log so far.
    pub fn log_counts(&self) -> Vec<(&'static str, usize, usize)> {
        self.running
            .iter()
            .map(|s| {
                let text = std::fs::read_to_string(&s.log).unwrap_or_default();
                let (warnings, errors) = count_levels(&text);
                (s.name, warnings, errors)
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Running> {
        self.running.iter()
    }

    /// Waits until every service answers `/health` with a success, failing fast when
    /// one exits.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client) -> Result<(), E2eError> {
        let started = Instant::now();
        for index in 0..self.running.len() {
            loop {
                self.check_alive()?;
                let service = &self.running[index];
                let url = format!("http://127.0.0.1:{}/health", service.port);
                let healthy = match http.get(&url).send().await {
                    Ok(response) => response.status().is_success(),
                    Err(_) => false,
                };
                if healthy {
                    break;
                }
                if started.elapsed() > HEALTH_TIMEOUT {
                    return Err(E2eError::Unhealthy {
                        service: service.name,
                        log_tail: service.log_tail(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Fails when a service has exited.
    pub fn check_alive(&mut self) -> Result<(), E2eError> {
        for service in &mut self.running {
            if let Ok(Some(status)) = service.child.try_wait() {
                return Err(E2eError::Exited {
                    service: service.name,
                    status: status.to_string(),
                    log_tail: log_tail(&service.log),
                });
            }
        }
        Ok(())
    }

    /// SIGTERM to all, then SIGKILL to those still running after the grace period.
    pub fn stop(&mut self) {
        for service in &mut self.running {
            if matches!(service.child.try_wait(), Ok(None)) {
                let _ = Command::new("kill")
                    .args(["-TERM", &service.child.id().to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        for mut service in self.running.drain(..) {
            loop {
                match service.child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    _ => {
                        tracing::warn!(service = service.name, "no exit after SIGTERM: killed");
                        let _ = service.child.kill();
                        let _ = service.child.wait();
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Lines logged at WARN and at ERROR (the services' human-readable format).
fn count_levels(text: &str) -> (usize, usize) {
    let count = |level: &str| text.lines().filter(|l| l.contains(level)).count();
    (count(" WARN"), count("ERROR"))
}

/// The last 20 lines of a log file.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// The peak resident set of a process (`VmHWM` in `/proc/<pid>/status`), in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_kib_field(&status, "VmHWM:").map(|kib| kib * 1024)
}

fn parse_kib_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// User plus system CPU time of a process so far, in clock ticks (`/proc/<pid>/stat`).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat)
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's usual value, if unknown).
pub fn ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_warning_and_error_lines() {
        let log = "2026 \u{1b}[33m WARN\u{1b}[0m relay: x\n2026 \u{1b}[31mERROR\u{1b}[0m y\nok\n";
        assert_eq!(count_levels(log), (1, 1));
    }

    #[test]
    fn reads_the_peak_resident_set() {
        let status = "Name:\tsaga\nVmPeak:\t  300000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 40000 kB\n";
        assert_eq!(parse_kib_field(status, "VmHWM:"), Some(51200));
        assert_eq!(parse_kib_field(status, "VmSwap:"), None);
    }

    #[test]
    fn reads_cpu_ticks_past_a_name_with_spaces() {
        let stat = "1234 (query service) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 8 0";
        assert_eq!(parse_cpu_ticks(stat), Some(175));
        assert_eq!(parse_cpu_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn our_own_process_has_a_peak() {
        assert!(peak_rss(std::process::id()).is_some_and(|b| b > 0));
        assert!(cpu_ticks(std::process::id()).is_some());
    }
}
