//! The process's own figures for `/metrics`, under the names every Prometheus client library
//! uses (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …), read from Linux's
//! `/proc/self`. Elsewhere, or when a file cannot be read, the figure is left out.

use crate::server::metrics::single;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
const TICKS: f64 = 100.0;

/// Writes the process metrics that can be read.
pub(super) fn write(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let field = |n: usize| fields.get(n).and_then(|f| f.parse::<u64>().ok());
    // man 5 proc: utime is field 14, stime 15, starttime 22, vsize 23 (counting from 1; the
    // slice starts at field 3).
    if let (Some(utime), Some(stime)) = (field(11), field(12)) {
        let cpu = (utime + stime) as f64 / TICKS;
        single(
            out,
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds.",
            "counter",
            cpu,
        );
    }
    if let Some(vsize) = field(20) {
        single(
            out,
            "process_virtual_memory_bytes",
            "Virtual memory size, in bytes.",
            "gauge",
            vsize,
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    if let Some(kb) = rss_kb {
        single(
            out,
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
            "gauge",
            kb * 1024,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        single(
            out,
            "process_open_fds",
            "Open file descriptors.",
            "gauge",
            fds.count(),
        );
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(max) = max_fds {
        single(
            out,
            "process_max_fds",
            "Most file descriptors the process may open.",
            "gauge",
            max,
        );
    }
    let boot = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(boot), Some(start)) = (boot, field(19)) {
        let started = boot as f64 + start as f64 / TICKS;
        single(
            out,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            "gauge",
            started,
        );
    }
}
