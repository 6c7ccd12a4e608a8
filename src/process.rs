//! The process metrics every exporter has (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, ...), named as client_golang names them
//! and read from `/proc/self` on each scrape, as its process collector does.
//! On other systems, or when `/proc` cannot be read, they are left out.

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
    pub start_time_seconds: f64,
}

/// `sysconf(_SC_CLK_TCK)` and the page size on every Linux Prometheus runs
/// on (x86_64, arm64); reading them would need libc.
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

impl ProcessStats {
    /// Reads `/proc/self`; `None` where it cannot.
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let boot_time = std::fs::read_to_string("/proc/stat").ok()?;
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
        Self::parse(&stat, &boot_time, &limits, open_fds)
    }

    /// The fields of `/proc/self/stat` (after the command name, which may
    /// hold spaces and parentheses), `btime` of `/proc/stat`, and the open
    /// files row of `/proc/self/limits`.
    fn parse(stat: &str, proc_stat: &str, limits: &str, open_fds: f64) -> Option<Self> {
        let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
        // Fields are numbered from 1 with pid and comm first: utime is
        // field 14, stime 15, starttime 22, vsize 23, rss 24.
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        let boot: f64 = proc_stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
        let max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|soft| soft.parse().ok());
        Some(Self {
            cpu_seconds: (field(14)? + field(15)?) / TICKS_PER_SECOND,
            resident_bytes: field(24)? * PAGE_SIZE,
            virtual_bytes: field(23)?,
            open_fds,
            max_fds,
            start_time_seconds: boot + field(22)? / TICKS_PER_SECOND,
        })
    }
}

/// Encodes [`ProcessStats`] on each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

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
                Some(stats.start_time_seconds),
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
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        let stats = ProcessStats::parse(stat, proc_stat, limits, 12.0).unwrap();
        assert_eq!(stats.cpu_seconds, 3.0);
        assert_eq!(stats.start_time_seconds, 1_700_000_000.0 + 123.45);
        assert_eq!(stats.virtual_bytes, 987_654_321.0);
        assert_eq!(stats.resident_bytes, 2048.0 * 4096.0);
        assert_eq!(stats.max_fds, Some(1_048_576.0));
        assert_eq!(stats.open_fds, 12.0);
        assert_eq!(ProcessStats::parse("garbage", proc_stat, limits, 1.0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_sensibly() {
        let stats = ProcessStats::read().expect("/proc/self on Linux");
        assert!(stats.resident_bytes > 1_000_000.0 && stats.open_fds >= 3.0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!((now - stats.start_time_seconds).abs() < 3600.0, "started {} s ago", now - stats.start_time_seconds);
    }
}
