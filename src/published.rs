//! The published state: what the poller hands to the HTTP server. The
//! poller is its only writer and the server its only reader; both depend on
//! this module and not on each other. The data part of `/metrics` is
//! encoded and compressed here once per publish, so a scrape copies nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use axum::body::Bytes;
use jiff::Timestamp;

use crate::encoding::encode_snapshot;
use crate::endpoint::Endpoint;
use crate::self_metrics::{PollOutcome, SelfMetrics};
use crate::snapshot::DataSnapshot;

/// The encoded data part of `/metrics`, replaced whole on each publish.
#[derive(Debug, Default)]
pub struct Exposition {
    /// OpenMetrics families without `# EOF`.
    pub data: Bytes,
    /// `data` as one gzip member, compressed once per publish.
    pub data_gzip: Bytes,
    /// Per-user and per-scorecard series in `data`.
    pub series: usize,
    /// The snapshot `data` encodes (shared with the poller, not a copy).
    pub snapshot: Arc<DataSnapshot>,
}

impl Exposition {
    /// Encodes and compresses `snapshot`. CPU-bound (about a second at
    /// 10,000 users): call it off the async workers.
    pub fn build(snapshot: Arc<DataSnapshot>, include_email: bool) -> Self {
        let text = encode_snapshot(Arc::clone(&snapshot), include_email);
        let data_gzip = Bytes::from(gzip(text.as_bytes()));
        Self { data: Bytes::from(text), data_gzip, series: snapshot.series_count(), snapshot }
    }
}

/// One gzip member of `data`. Level 1: at 10,000 users the exposition is
/// ~95 MB of very repetitive text, which compresses ~10x even at the
/// fastest level, and a publish should not take seconds.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 8), flate2::Compression::fast());
    encoder.write_all(data).expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Outcome of an endpoint in the last cycle, for the landing page.
#[derive(Debug, Clone, Default)]
pub struct EndpointStatus {
    pub last_attempt: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub ok: bool,
    pub records: usize,
    pub error: Option<String>,
}

/// State the poller publishes and the server reads.
#[derive(Debug)]
pub struct Shared {
    pub exposition: ArcSwap<Exposition>,
    pub self_metrics: Arc<SelfMetrics>,
    /// Set once the first cycle has finished, whatever its outcome.
    ready: AtomicBool,
    status: std::sync::Mutex<BTreeMap<Endpoint, EndpointStatus>>,
    /// The company's zone and where it came from, for the landing page.
    time_zone: std::sync::Mutex<Option<String>>,
    /// `--demo`: every number comes from the built-in simulator.
    demo: AtomicBool,
}

impl Shared {
    /// Empty state: nothing published, not ready.
    pub fn new(self_metrics: Arc<SelfMetrics>) -> Arc<Self> {
        Arc::new(Self {
            exposition: ArcSwap::from_pointee(Exposition::default()),
            self_metrics,
            ready: AtomicBool::new(false),
            status: std::sync::Mutex::new(BTreeMap::new()),
            time_zone: std::sync::Mutex::new(None),
            demo: AtomicBool::new(false),
        })
    }

    /// Whether the first cycle has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the data as simulated (`--demo`), on the landing page and in
    /// `gong_exporter_demo`.
    pub fn set_demo(&self) {
        self.demo.store(true, Ordering::Release);
        self.self_metrics.set_demo(true);
    }

    /// Whether the data is simulated.
    pub fn is_demo(&self) -> bool {
        self.demo.load(Ordering::Acquire)
    }

    /// The first cycle has finished: `/-/ready` answers 200 from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// Each endpoint's last outcome, for the landing page.
    pub fn status(&self) -> BTreeMap<Endpoint, EndpointStatus> {
        self.status.lock().expect("status lock").clone()
    }

    /// The company's zone and where it came from (e.g. "US/Pacific, learned
    /// from Gong's interaction answer").
    pub fn set_time_zone(&self, described: String) {
        *self.time_zone.lock().expect("zone lock") = Some(described);
    }

    /// What [`Shared::set_time_zone`] said last; `None` while unknown.
    pub fn time_zone(&self) -> Option<String> {
        self.time_zone.lock().expect("zone lock").clone()
    }

    /// Records what an endpoint's cycle came to, in the self-metrics and on
    /// the landing page. Call it after publishing the cycle's data, so that
    /// a success never shows before its data.
    pub fn record(&self, endpoint: Endpoint, outcome: PollOutcome) {
        let now = Timestamp::now();
        self.self_metrics.record_poll(endpoint, &outcome, now);
        let total: usize = outcome.records.iter().map(|(_, n)| n).sum();
        let mut status = self.status.lock().expect("status lock");
        let entry = status.entry(endpoint).or_default();
        entry.last_attempt = Some(now);
        entry.ok = outcome.ok;
        entry.error = outcome.error;
        if outcome.ok {
            entry.last_success = Some(now);
            entry.records = total;
        }
    }

    /// Gong refused a plan-gated collector: off, with `why` on the landing
    /// page, and no poll series that would look like a failing poll.
    pub fn collector_off(&self, collector: &'static str, endpoint: Endpoint, why: String) {
        self.self_metrics.set_collector_enabled(collector, endpoint, false);
        let mut status = self.status.lock().expect("status lock");
        let entry = status.entry(endpoint).or_default();
        entry.last_attempt = Some(Timestamp::now());
        entry.ok = false;
        entry.error = Some(why);
    }
}
