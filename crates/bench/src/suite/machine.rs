//! The machine line printed above the tables: cores, memory and CPU model, read from
//! `/proc` (Linux); what cannot be read shows as `?`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    pub cores: usize,
    pub memory_kib: Option<u64>,
    pub cpu: Option<String>,
}

impl Machine {
    pub fn detect() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_kib: mem_total_kib(&read("/proc/meminfo")),
            cpu: cpu_model(&read("/proc/cpuinfo")),
        }
    }
}

/// `MemTotal` of `/proc/meminfo`, in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo.lines().find(|l| l.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_string()).filter(|m| !m.is_empty())
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let memory = self.memory_kib.map_or_else(
            || "?".to_string(),
            |kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)),
        );
        write!(
            f,
            "machine: {} cores, {memory} memory, CPU {}",
            self.cores,
            self.cpu.as_deref().unwrap_or("?")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read_for_memory_and_model() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:  1 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(24_576_000));
        assert_eq!(mem_total_kib(""), None);
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC\nprocessor\t: 1\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC"));
        let machine = Machine {
            cores: 2,
            memory_kib: Some(24_576_000),
            cpu: None,
        };
        assert_eq!(
            machine.to_string(),
            "machine: 2 cores, 23.4 GiB memory, CPU ?"
        );
    }
}
