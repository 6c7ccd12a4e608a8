//! The exporter's own metrics (`gong_exporter_*`), updated live by the client
//! and the poller and encoded on each scrape (a few dozen series).

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::gong::Endpoint;

impl EncodeLabelValue for Endpoint {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

/// `{endpoint}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: Endpoint,
}

/// `{endpoint, code}`: HTTP status, or `timeout` / `connect` when none came.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: Endpoint,
    pub code: String,
}

/// `{endpoint, reason}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    pub endpoint: Endpoint,
    pub reason: &'static str,
}

/// `{endpoint, window}`; `window` is empty for endpoints without one (users).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordLabels {
    pub endpoint: Endpoint,
    pub window: String,
}

/// `{counters}`: `activity` or `scorecards`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CounterLabels {
    pub counters: &'static str,
}

/// `{collector}`: a collector that can be off (`coaching`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CollectorLabels {
    pub collector: &'static str,
}

/// `{window}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WindowLabels {
    pub window: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every `reason` of `gong_exporter_api_retries_total`.
pub const RETRY_REASONS: [&str; 5] = ["rate_limited", "server_error", "timeout", "connect", "decode"];

fn request_duration_histogram() -> Histogram {
    Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
}

/// Live self-metrics shared by the client, the poller and the server.
#[derive(Debug)]
pub struct Telemetry {
    registry: Registry,
    pub api_requests: Family<RequestLabels, Counter>,
    pub api_request_duration: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    pub api_retries: Family<RetryLabels, Counter>,
    pub poll_success: Family<EndpointLabels, Gauge>,
    pub last_success: Family<EndpointLabels, FloatGauge>,
    pub poll_duration: Family<EndpointLabels, FloatGauge>,
    pub records: Family<RecordLabels, Gauge>,
    pub window_start: Family<WindowLabels, Gauge>,
    pub window_end: Family<WindowLabels, Gauge>,
    pub cycles_skipped: Counter,
    pub cycles_abandoned: Family<EndpointLabels, Counter>,
    pub requests_today: Gauge,
    pub requests_allowance: Gauge,
    pub next_cycle: FloatGauge,
    pub counted_until: Family<CounterLabels, Gauge>,
    pub collector_enabled: Family<CollectorLabels, Gauge>,
}

/// prometheus-client appends the final period to HELP texts it registers.
const BACKGROUND: &str = "Updated by the background poller, not on scrape";

impl Telemetry {
    /// Registers every self-metric family.
    pub fn new() -> Self {
        let t = Self {
            registry: Registry::default(),
            api_requests: Family::default(),
            api_request_duration: Family::new_with_constructor(request_duration_histogram),
            api_retries: Family::default(),
            poll_success: Family::default(),
            last_success: Family::default(),
            poll_duration: Family::default(),
            records: Family::default(),
            window_start: Family::default(),
            window_end: Family::default(),
            cycles_skipped: Counter::default(),
            cycles_abandoned: Family::default(),
            requests_today: Gauge::default(),
            requests_allowance: Gauge::default(),
            next_cycle: FloatGauge::default(),
            counted_until: Family::default(),
            collector_enabled: Family::default(),
        };
        let mut registry = Registry::default();
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
            t.api_requests.clone(),
        );
        // No `# UNIT` line here: some strict OpenMetrics readers reject units
        // on histograms; the name still ends in `_seconds`.
        registry.register(
            "gong_exporter_api_request_duration_seconds",
            "Time per request to the Gong API, including the response body",
            t.api_request_duration.clone(),
        );
        registry.register(
            "gong_exporter_api_retries",
            "Requests to the Gong API retried, by endpoint and reason",
            t.api_retries.clone(),
        );
        registry.register(
            "gong_exporter_poll_success",
            format!("1 if the last cycle fetched every page of the endpoint, else 0; {BACKGROUND}"),
            t.poll_success.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_last_success_timestamp",
            format!("Unix time the endpoint's data was last fetched completely; {BACKGROUND}"),
            Unit::Seconds,
            t.last_success.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_poll_duration",
            format!("Time the endpoint took in the last cycle, all windows and pages; {BACKGROUND}"),
            Unit::Seconds,
            t.poll_duration.clone(),
        );
        registry.register(
            "gong_exporter_records",
            format!("Records in the endpoint's last complete answer, per window; {BACKGROUND}"),
            t.records.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_window_start_timestamp",
            "Unix time the window starts (midnight in the company's time zone, inclusive)",
            Unit::Seconds,
            t.window_start.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_window_end_timestamp",
            "Unix time the window ends (midnight starting today in the company's time zone, exclusive)",
            Unit::Seconds,
            t.window_end.clone(),
        );
        registry.register(
            "gong_exporter_cycles_skipped",
            "Poll cycles not started because the previous one was still running when they were due",
            t.cycles_skipped.clone(),
        );
        registry.register(
            "gong_exporter_cycles_abandoned",
            "Cycles in which an endpoint gave up because Gong's Retry-After outlasted the time before the next cycle (daily quota spent)",
            t.cycles_abandoned.clone(),
        );
        registry.register(
            "gong_exporter_api_requests_today",
            "Requests sent to Gong since midnight in the company's time zone, retries included",
            t.requests_today.clone(),
        );
        registry.register(
            "gong_exporter_api_requests_daily_budget",
            "Requests per day this exporter allows itself: --gong.daily-limit times --gong.budget-share",
            t.requests_allowance.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_next_cycle_timestamp",
            "Unix time the next poll cycle is due (later than --poll.interval when the daily budget requires)",
            Unit::Seconds,
            t.next_cycle.clone(),
        );
        registry.register_with_unit(
            "gong_exporter_counted_until_timestamp",
            "Start of the first company day not yet added to the cumulative counters; every earlier day is counted",
            Unit::Seconds,
            t.counted_until.clone(),
        );
        registry.register(
            "gong_exporter_collector_enabled",
            "1 if the collector runs, 0 if turned off by flag or, for the day, because Gong refused it (plan or scope)",
            t.collector_enabled.clone(),
        );
        // Series that only move on trouble exist from the start at 0, so
        // `increase()` and alert rules see the first retry.
        for endpoint in Endpoint::ALL {
            for reason in RETRY_REASONS {
                drop(t.api_retries.get_or_create(&RetryLabels { endpoint, reason }));
            }
            drop(t.cycles_abandoned.get_or_create(&EndpointLabels { endpoint }));
            // The codes alert rules watch; others appear when first seen.
            for code in ["401", "403", "429"] {
                drop(t.api_requests.get_or_create(&RequestLabels { endpoint, code: code.to_owned() }));
            }
        }
        Self { registry, ..t }
    }

    /// Appends the self-metrics in OpenMetrics text, without `# EOF`.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_client::encoding::text::encode_registry(out, &self.registry)
    }

    /// Convenience for a request outcome.
    pub fn count_request(&self, endpoint: Endpoint, code: impl Into<String>) {
        self.api_requests.get_or_create(&RequestLabels { endpoint, code: code.into() }).inc();
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}
