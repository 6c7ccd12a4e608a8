//! The exporter's own metrics (`gong_exporter_*`), updated live by the client
//! and the poller and encoded on each scrape (a few dozen series). Callers
//! report what happened through methods ([`SelfMetrics::request_finished`],
//! [`SelfMetrics::record_poll`], ...); which families and labels that touches
//! is this module's business alone.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::endpoint::Endpoint;
use crate::windows::Window;

impl EncodeLabelValue for Endpoint {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// `{endpoint}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Endpoint,
}

/// `{endpoint, code}`: HTTP status, or `timeout` / `connect` when none came.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: Endpoint,
    code: String,
}

/// `{endpoint, reason}`: why a request was retried, refused (`credentials`
/// or `scope`), or a record left out of an answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    endpoint: Endpoint,
    reason: &'static str,
}

/// Why a record is left out of an answer (the `reason` label of
/// `gong_exporter_records_skipped_total`): an ID it needs is null, empty or
/// missing; a label value is absurdly long; a count or score is negative
/// or not a number; it came twice in one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    MissingId,
    LabelTooLong,
    InvalidNumber,
    Duplicate,
}

impl SkipReason {
    /// Every reason, in the order logs and tests list them.
    pub const ALL: [Self; 4] = [Self::MissingId, Self::LabelTooLong, Self::InvalidNumber, Self::Duplicate];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingId => "missing_id",
            Self::LabelTooLong => "label_too_long",
            Self::InvalidNumber => "invalid_number",
            Self::Duplicate => "duplicate",
        }
    }
}

/// `{endpoint, window}`; `window` is empty for endpoints without one (users).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    endpoint: Endpoint,
    window: String,
}

/// `{counters}`: `activity` or `scorecards`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CounterLabels {
    counters: &'static str,
}

/// `{collector}`: a collector that can be off (`coaching`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectorLabels {
    collector: &'static str,
}

/// `{window}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WindowLabels {
    window: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChangeLabels {
    change: &'static str,
}

/// `{file}`: what failed to be written under `--storage.path`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StorageLabels {
    file: &'static str,
}

/// Every `file` of `gong_exporter_storage_errors_total`: the kept days,
/// the counters' state and the OAuth refresh token.
pub const STORAGE_FILES: [&str; 3] = ["days", "counters", "oauth"];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every `reason` of `gong_exporter_api_auth_failures_total`.
pub const AUTH_FAILURE_REASONS: [&str; 4] = ["credentials", "scope", "forbidden", "token_refresh"];

/// Every `reason` of `gong_exporter_api_retries_total`.
pub const RETRY_REASONS: [&str; 7] =
    ["rate_limited", "server_error", "timeout", "connect", "decode", "credentials_renewed", "token_refresh"];

fn request_duration_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

/// Live self-metrics shared by the client, the poller and the server.
#[derive(Debug)]
pub struct SelfMetrics {
    registry: Registry,
    api_requests: Family<RequestLabels, Counter>,
    api_request_duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    api_retries: Family<ReasonLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    records_skipped: Family<ReasonLabels, Counter>,
    poll_success: Family<EndpointLabels, Gauge>,
    last_success: Family<EndpointLabels, FloatGauge>,
    poll_duration: Family<EndpointLabels, FloatGauge>,
    records: Family<RecordLabels, Gauge>,
    window_start: Family<WindowLabels, Gauge>,
    window_end: Family<WindowLabels, Gauge>,
    window_mismatches: Family<WindowLabels, Gauge>,
    counted_day_changes: Family<ChangeLabels, Counter>,
    storage_errors: Family<StorageLabels, Counter>,
    cycles_skipped: Counter,
    cycles_abandoned: Family<EndpointLabels, Counter>,
    requests_today: Gauge,
    requests_allowance: Gauge,
    requests_planned: Gauge,
    next_cycle: FloatGauge,
    poller_heartbeat: Gauge,
    poller_restarts: Counter,
    counted_until: Family<CounterLabels, Gauge>,
    collector_enabled: Family<CollectorLabels, Gauge>,
    demo: Gauge,
    time_zone_known: Gauge,
}

/// prometheus-client appends the final period to HELP texts it registers.
const BACKGROUND: &str = "Updated by the background poller, not on scrape";

impl SelfMetrics {
    /// Registers every self-metric family.
    pub fn new() -> Self {
        let t = Self {
            registry: Registry::default(),
            api_requests: Family::default(),
            api_request_duration: Family::new_with_constructor(request_duration_histogram),
            api_retries: Family::default(),
            auth_failures: Family::default(),
            records_skipped: Family::default(),
            poll_success: Family::default(),
            last_success: Family::default(),
            poll_duration: Family::default(),
            records: Family::default(),
            window_start: Family::default(),
            window_end: Family::default(),
            window_mismatches: Family::default(),
            counted_day_changes: Family::default(),
            storage_errors: Family::default(),
            cycles_skipped: Counter::default(),
            cycles_abandoned: Family::default(),
            requests_today: Gauge::default(),
            requests_allowance: Gauge::default(),
            requests_planned: Gauge::default(),
            next_cycle: FloatGauge::default(),
            poller_heartbeat: Gauge::default(),
            poller_restarts: Counter::default(),
            counted_until: Family::default(),
            collector_enabled: Family::default(),
            demo: Gauge::default(),
            time_zone_known: Gauge::default(),
        };
        let mut registry = Registry::default();
        t.register(&mut registry);
        for change in ["grew", "shrank"] {
            drop(t.counted_day_changes.get_or_create(&ChangeLabels { change }));
        }
        for file in STORAGE_FILES {
            drop(t.storage_errors.get_or_create(&StorageLabels { file }));
        }
        // Series that only move on trouble exist from the start at 0, so
        // `increase()` and alert rules see the first retry or skip.
        for endpoint in Endpoint::ALL {
            for reason in RETRY_REASONS {
                drop(t.api_retries.get_or_create(&ReasonLabels { endpoint, reason }));
            }
            drop(t.cycles_abandoned.get_or_create(&EndpointLabels { endpoint }));
            for reason in AUTH_FAILURE_REASONS {
                drop(t.auth_failures.get_or_create(&ReasonLabels { endpoint, reason }));
            }
            for reason in SkipReason::ALL {
                drop(t.records_skipped.get_or_create(&ReasonLabels { endpoint, reason: reason.as_str() }));
            }
            // The codes alert rules watch; others appear when first seen.
            for code in ["401", "403", "429"] {
                drop(t.api_requests.get_or_create(&RequestLabels { endpoint, code: code.to_owned() }));
            }
        }
        Self { registry, ..t }
    }

    /// Registers every family in `registry`, with its HELP text.
    fn register(&self, registry: &mut Registry) {
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info.get_or_create(&BuildLabels { version: crate::VERSION, revision: crate::REVISION }).set(1);
        registry.register(
            "gong_exporter_build_info",
            "Version and git revision of gong-exporter; always 1",
            build_info,
        );
        registry.register(
            "gong_exporter_api_requests",
            "Requests sent to the Gong API, by endpoint and HTTP status (or timeout/connect)",
            self.api_requests.clone(),
        );
        // No `# UNIT` line here: some strict OpenMetrics readers reject units
        // on histograms; the name still ends in `_seconds`.
        registry.register(
            "gong_exporter_api_request_duration_seconds",
            "Time per request to the Gong API, including the response body",
            self.api_request_duration.clone(),
        );
        registry.register(
            "gong_exporter_api_retries",
            "Requests to the Gong API retried, by endpoint and reason",
            self.api_retries.clone(),
        );
        registry.register(
            "gong_exporter_api_auth_failures",
            "Requests Gong refused, by endpoint and reason: credentials (wrong or revoked key, 401) or scope (the key lacks the endpoint's scope: 403, or 401 naming a permission)",
            self.auth_failures.clone(),
        );
        registry.register(
            "gong_exporter_records_skipped",
            "Records left out of Gong's answers, by endpoint and reason: missing_id (a null or empty ID), label_too_long (a label value over 1024 bytes), invalid_number (a count or score negative or not a number), duplicate (the same record again in one query; the last is kept); the rest of the page is kept",
            self.records_skipped.clone(),
        );
        registry.register(
            "gong_exporter_poll_success",
            format!("1 if the last cycle fetched every page of the endpoint, else 0; {BACKGROUND}"),
            self.poll_success.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_last_success_timestamp",
            format!("Unix time the endpoint's data was last fetched completely; {BACKGROUND}"),
            Unit::Seconds,
            self.last_success.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_poll_duration",
            format!("Time the endpoint took in the last cycle, all windows and pages; {BACKGROUND}"),
            Unit::Seconds,
            self.poll_duration.clone(),
        );
        registry.register(
            "gong_exporter_records",
            format!("Records in the endpoint's last complete answer, per window; {BACKGROUND}"),
            self.records.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_window_start_timestamp",
            "Unix time the window starts (midnight in the company's time zone, inclusive)",
            Unit::Seconds,
            self.window_start.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_window_end_timestamp",
            "Unix time the window ends (midnight starting today in the company's time zone, exclusive)",
            Unit::Seconds,
            self.window_end.clone(),
        );
        registry.register(
            "gong_exporter_window_mismatches",
            "Users whose activity built from kept days differed from Gong's aggregate for the window at the last check, once a day after yesterday settled (Gong's numbers are published for them for the rest of that company day)",
            self.window_mismatches.clone(),
        );
        registry.register(
            "gong_exporter_counted_day_changes",
            "Days already in the cumulative counters that Gong changed since, found by the daily re-read of the last 7 days: grew (the difference was added) or shrank (logged; a counter never goes down)",
            self.counted_day_changes.clone(),
        );
        registry.register(
            "gong_exporter_storage_errors",
            "Writes under --storage.path that failed (a full or read-only disk): days are kept in memory and written again each cycle without asking Gong; counters hold until their state is written",
            self.storage_errors.clone(),
        );
        registry.register(
            "gong_exporter_cycles_skipped",
            "Poll cycles not started because the previous one was still running when they were due",
            self.cycles_skipped.clone(),
        );
        registry.register(
        "gong_exporter_cycles_abandoned",
        "Cycles in which an endpoint gave up because Gong's Retry-After outlasted the time before the next cycle (daily quota spent)",
        self.cycles_abandoned.clone(),
    );
        registry.register(
            "gong_exporter_api_requests_today",
            "Requests sent to Gong since midnight in the company's time zone, retries included",
            self.requests_today.clone(),
        );
        registry.register(
            "gong_exporter_api_requests_daily_budget",
            "Requests per day this exporter allows itself: --gong.daily-limit times --gong.budget-share",
            self.requests_allowance.clone(),
        );
        registry.register(
            "gong_exporter_requests_planned_today",
            "Requests sent to Gong so far this company day plus those planned for the rest of it (every re-poll counted as if its answer changed), coaching and counters included",
            self.requests_planned.clone(),
        );
        self.register_state(registry);
    }

    /// The families about the exporter's own state: the poller's liveness,
    /// its schedule, its counters and collectors.
    fn register_state(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "gong_exporter_poller_heartbeat_timestamp",
            "Unix time the background poller last showed it is alive (every 10 s, in a cycle or between cycles); /-/healthy fails once it is 2 minutes old",
            Unit::Seconds,
            self.poller_heartbeat.clone(),
        );
        registry.register(
            "gong_exporter_poller_restarts",
            "Times the background poller stopped unexpectedly (a panic) and was started again",
            self.poller_restarts.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_next_cycle_timestamp",
            "Unix time the next poll cycle is due (later than --poll.interval when the daily budget requires)",
            Unit::Seconds,
            self.next_cycle.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_counted_until_timestamp",
            "Start of the first company day not yet added to the cumulative counters; every earlier day is counted",
            Unit::Seconds,
            self.counted_until.clone(),
        );
        registry.register(
            "gong_exporter_collector_enabled",
            "1 if the collector runs, 0 if turned off by flag or, for the day, because Gong refused it (plan or scope)",
            self.collector_enabled.clone(),
        );
        registry.register(
            "gong_exporter_demo",
            "1 when the exporter runs with --demo: every gong_* series comes from the built-in simulator, not from Gong",
            self.demo.clone(),
        );
        registry.register(
            "gong_exporter_time_zone_known",
            "1 once the company's time zone is known (--gong.timezone, or named in Gong's answers); 0 while requests are dated in UTC-12 and the counters and coaching wait for it",
            self.time_zone_known.clone(),
        );
    }

    /// Adds the `process_*` metrics (unless `--web.disable-exporter-metrics`).
    pub fn register_process_metrics(&mut self) {
        self.registry.register_collector(Box::new(crate::process::ProcessCollector::new()));
    }

    /// Appends the self-metrics in OpenMetrics text, without `# EOF`.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(out, &self.registry)
    }

    /// One request to Gong ended: `code` is the HTTP status, or `timeout`
    /// / `connect` when no answer came.
    pub fn request_finished(&self, endpoint: Endpoint, code: &str, elapsed: Duration) {
        self.api_request_duration.get_or_create(&EndpointLabels { endpoint }).observe(elapsed.as_secs_f64());
        self.api_requests.get_or_create(&RequestLabels { endpoint, code: code.to_owned() }).inc();
    }

    /// A request to Gong is sent again, for `reason` (see [`RETRY_REASONS`]).
    pub fn retried(&self, endpoint: Endpoint, reason: &'static str) {
        self.api_retries.get_or_create(&ReasonLabels { endpoint, reason }).inc();
    }

    /// Gong refused a request: `reason` is one of [`AUTH_FAILURE_REASONS`].
    pub fn auth_failed(&self, endpoint: Endpoint, reason: &'static str) {
        self.auth_failures.get_or_create(&ReasonLabels { endpoint, reason }).inc();
    }

    /// `count` records of one answer were left out, for `reason`.
    pub fn records_skipped(&self, endpoint: Endpoint, reason: SkipReason, count: u64) {
        self.records_skipped.get_or_create(&ReasonLabels { endpoint, reason: reason.as_str() }).inc_by(count);
    }

    /// What an endpoint's cycle came to: success, duration, records per
    /// window, and whether Gong's Retry-After made it give up.
    pub fn record_poll(&self, endpoint: Endpoint, outcome: &PollOutcome, now: jiff::Timestamp) {
        let labels = EndpointLabels { endpoint };
        if outcome.abandoned {
            self.cycles_abandoned.get_or_create(&labels).inc();
        }
        self.poll_success.get_or_create(&labels).set(i64::from(outcome.ok));
        self.poll_duration.get_or_create(&labels).set(outcome.elapsed.as_secs_f64());
        if outcome.ok {
            self.last_success.get_or_create(&labels).set(now.as_millisecond() as f64 / 1000.0);
        }
        for (window, count) in &outcome.records {
            let window = window.map(|w| w.to_string()).unwrap_or_default();
            self.records.get_or_create(&RecordLabels { endpoint, window }).set(*count as i64);
        }
    }

    /// Whether `collector` (served by `endpoints`) runs. Off, its poll
    /// series go away: a collector switched off, or a plan without the
    /// feature, is not a failing poll.
    pub fn set_collector_enabled(&self, collector: &'static str, endpoints: &[Endpoint], enabled: bool) {
        self.collector_enabled.get_or_create(&CollectorLabels { collector }).set(i64::from(enabled));
        if !enabled {
            endpoints.iter().for_each(|&endpoint| self.forget_polls(endpoint));
        }
    }

    /// `endpoint` is not polled: its poll series go away.
    pub fn forget_polls(&self, endpoint: Endpoint) {
        let labels = EndpointLabels { endpoint };
        self.poll_success.remove(&labels);
        self.last_success.remove(&labels);
        self.poll_duration.remove(&labels);
    }

    /// Start and end of a window, as Unix seconds.
    pub fn set_window(&self, window: Window, start: i64, end: i64) {
        let labels = WindowLabels { window: window.label() };
        self.window_start.get_or_create(&labels).set(start);
        self.window_end.get_or_create(&labels).set(end);
    }

    /// A write of `file` (one of [`STORAGE_FILES`]) failed.
    pub fn storage_error(&self, file: &'static str) {
        self.storage_errors.get_or_create(&StorageLabels { file }).inc();
    }

    /// A counted day Gong changed since: `change` is `grew` or `shrank`.
    pub fn count_day_change(&self, change: &'static str) {
        self.counted_day_changes.get_or_create(&ChangeLabels { change }).inc();
    }

    /// Users whose built activity differed from Gong's at the window's check.
    pub fn set_window_mismatches(&self, window: Window, users: usize) {
        self.window_mismatches.get_or_create(&WindowLabels { window: window.label() }).set(users as i64);
    }

    /// Start of the first company day the `counters` ledger has not counted.
    pub fn set_counted_until(&self, counters: &'static str, unix_seconds: i64) {
        self.counted_until.get_or_create(&CounterLabels { counters }).set(unix_seconds);
    }

    /// Today's request allowance and what has been used of it.
    pub fn set_budget(&self, allowance: u64, used_today: u64) {
        self.requests_allowance.set(allowance as i64);
        self.requests_today.set(used_today as i64);
    }

    /// Requests per day this exporter allows itself.
    pub fn budget_allowance(&self) -> u64 {
        u64::try_from(self.requests_allowance.get()).unwrap_or(0)
    }

    /// Requests sent today plus those planned for the rest of the day.
    pub fn set_planned_today(&self, requests: u64) {
        self.requests_planned.set(i64::try_from(requests).unwrap_or(i64::MAX));
    }

    /// Cycles that fell due did not start: the previous one still ran.
    pub fn cycles_skipped(&self, count: u32) {
        self.cycles_skipped.inc_by(u64::from(count));
    }

    /// Whether the data is simulated (`--demo`).
    pub fn set_demo(&self, demo: bool) {
        self.demo.set(i64::from(demo));
    }

    /// Whether the company's time zone is known.
    pub fn set_time_zone_known(&self, known: bool) {
        self.time_zone_known.set(i64::from(known));
    }

    /// The poller is alive at `unix_seconds`.
    pub fn poller_beat(&self, unix_seconds: i64) {
        self.poller_heartbeat.set(unix_seconds);
    }

    /// The poller stopped unexpectedly and is started again.
    pub fn poller_restarted(&self) {
        self.poller_restarts.inc();
    }

    /// When the next cycle is due, as Unix seconds.
    pub fn set_next_cycle(&self, unix_seconds: f64) {
        self.next_cycle.set(unix_seconds);
    }
}

/// What an endpoint's part of a cycle came to, for its self-metrics and
/// the landing page.
#[derive(Debug, Clone, Default)]
pub struct PollOutcome {
    /// Every query's every page arrived.
    pub ok: bool,
    /// Gong's Retry-After made the endpoint give up the cycle.
    pub abandoned: bool,
    /// The first error, shown on the landing page.
    pub error: Option<String>,
    /// `(window, records)` of the queries that completed; `None` for an
    /// endpoint without windows (users).
    pub records: Vec<(Option<Window>, usize)>,
    pub elapsed: Duration,
}

impl PollOutcome {
    /// Nothing failed (yet).
    pub fn success() -> Self {
        Self { ok: true, ..Self::default() }
    }

    /// Marks the endpoint failed; the first error is the one shown.
    /// `abandoned`: the failure was Gong asking to wait past the cycle.
    pub fn fail(&mut self, error: &dyn std::fmt::Display, abandoned: bool) {
        self.ok = false;
        self.abandoned |= abandoned;
        self.error.get_or_insert_with(|| error.to_string());
    }

    /// Another part of the same endpoint's cycle (the settling fetch and
    /// the counters both ask day-by-day): a failure in either is the
    /// endpoint's, the first error is shown, and the records of both count.
    pub fn merge(&mut self, other: PollOutcome) {
        if let Some(error) = &other.error {
            self.fail(error, other.abandoned);
        } else if !other.ok {
            self.ok = false;
        }
        self.records.extend(other.records);
        self.elapsed += other.elapsed;
    }
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_that_move_only_on_trouble_exist_at_zero_from_the_start() {
        let mut text = String::new();
        SelfMetrics::new().encode(&mut text).unwrap();
        for series in [
            r#"gong_exporter_api_retries_total{endpoint="users",reason="rate_limited"} 0"#,
            r#"gong_exporter_api_auth_failures_total{endpoint="scorecards",reason="scope"} 0"#,
            r#"gong_exporter_records_skipped_total{endpoint="activity_day_by_day",reason="missing_id"} 0"#,
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
    }
}
