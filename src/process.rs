//! The process metrics every exporter has (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, ...), named as client_golang names them
//! and read from `/proc/self` on each scrape, as its process collector does
//! (the start time, which never changes, once). On other systems, or when
//! `/proc` cannot be read, they are left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// What `/proc/self` says about this process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: f64,
    pub virtual_bytes: f64,
    pub open_fds: f64,
    pub max_fds: Option<f64>,
}

/// `sysconf(_SC_CLK_TCK)` on every Linux Prometheus runs on; reading it
/// would need libc. (The page size differs: 4 KiB on x86_64, up to 64 KiB
/// on arm64, so resident memory comes from `VmRSS`, in kB, instead.)
const TICKS_PER_SECOND: f64 = 100.0;

/// The fields of `/proc/self/stat` after the command name (which may hold
/// spaces and parentheses); `field(n)` is field `n` counted from 1 with pid
/// and comm first.
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect())
}

fn field(fields: &[&str], n: usize) -> Option<f64> {
    fields.get(n - 3).and_then(|v| v.parse::<f64>().ok())
}

impl ProcessStats {
    /// Reads `/proc/self`; `None` where it cannot.
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        Self::parse(&stat, &status, &limits, open_fds)
    }

    /// `/proc/self/stat`, the `VmRSS` row of `/proc/self/status` and the
    /// open files row of `/proc/self/limits`.
    fn parse(stat: &str, status: &str, limits: &str, open_fds: f64) -> Option<Self> {
        let fields = stat_fields(stat)?;
        // utime is field 14, stime 15, vsize 23.
        let field = |n: usize| field(&fields, n);
        let rss_kib: f64 =
            status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
        let max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|soft| soft.parse().ok());
        Some(Self {
            cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
            resident_bytes: rss_kib * 1024.0,
            virtual_bytes: field(23)?,
            open_fds,
            max_fds,
        })
    }
}

/// When the process started, in Unix seconds: `btime` of `/proc/stat` plus
/// `starttime` (field 22) of `/proc/self/stat`.
fn start_time_seconds(stat: &str, proc_stat: &str) -> Option<f64> {
    let boot: f64 = proc_stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(boot + field(&stat_fields(stat)?, 22)? / TICKS_PER_SECOND)
}

/// Encodes [`ProcessStats`] on each scrape.
#[derive(Debug)]
pub struct ProcessCollector {
    /// Read once: it never changes, and `/proc/stat` is long on hosts with
    /// many CPUs.
    start_time_seconds: Option<f64>,
}

impl ProcessCollector {
    /// A collector for this process.
    pub fn new() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let start = read("/proc/self/stat").zip(read("/proc/stat")).and_then(|(s, p)| start_time_seconds(&s, &p));
        Self { start_time_seconds: start }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let Some(stats) = ProcessStats::read() else {
            return Ok(());
        };
        let counter = ConstCounter::new(stats.cpu_seconds);
        counter.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            counter.metric_type(),
        )?)?;
        let gauges = [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", Some(stats.resident_bytes)),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", Some(stats.virtual_bytes)),
            ("process_open_fds", "Number of open file descriptors.", Some(stats.open_fds)),
            ("process_max_fds", "Maximum number of open file descriptors.", stats.max_fds),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                self.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (gong (exporter) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 \
                    12345 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let proc_stat = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        let status = "Name:\tgong-exporter\nVmSize:\t  964506 kB\nVmRSS:\t  131072 kB\nThreads:\t8\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        let stats = ProcessStats::parse(stat, status, limits, 12.0).unwrap();
        assert_eq!(stats.cpu_seconds, 3.0);
        assert_eq!(start_time_seconds(stat, proc_stat), Some(1_700_000_000.0 + 123.45));
        assert_eq!(stats.virtual_bytes, 987_654_321.0);
        // From VmRSS, whatever the page size: stat's 2048 pages are 128 MiB
        // with arm64's 64 KiB pages, not the 8 MiB of 4 KiB ones.
        assert_eq!(stats.resident_bytes, 131_072.0 * 1024.0);
        assert_eq!(stats.max_fds, Some(1_048_576.0));
        assert_eq!(stats.open_fds, 12.0);
        assert_eq!(ProcessStats::parse("garbage", status, limits, 1.0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_sensibly() {
        let stats = ProcessStats::read().expect("/proc/self on Linux");
        assert!(stats.resident_bytes > 1_000_000.0 && stats.open_fds >= 3.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let started = ProcessCollector::new().start_time_seconds.expect("a start time");
        assert!((now - started).abs() < 3600.0, "started {} s ago", now - started);
    }
}
