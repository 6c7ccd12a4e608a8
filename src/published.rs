//! The published state: what the poller hands to the HTTP server. The
//! poller is its only writer and the server its only reader; both depend on
//! this module and not on each other. The data part of `/metrics` is
//! encoded and compressed here once per publish, so a scrape copies nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;

use crate::encoding::{TextConverter, encode_snapshot_gzip};
use crate::endpoint::Endpoint;
use crate::gzip::{GzipHead, GzipWriter};
use crate::self_metrics::{PollOutcome, SelfMetrics};
use crate::snapshot::DataSnapshot;

/// The encoded data part of `/metrics`, replaced whole on each publish.
/// Only compressed: at 10,000 users the text is ~100 MB and its gzip ~10x
/// smaller, Prometheus always asks for gzip, and a client that does not is
/// served by decompressing a piece at a time ([`GzipHead::inflate`]). So
/// no format of the body is ever held uncompressed between scrapes.
#[derive(Debug, Default)]
pub struct Exposition {
    /// OpenMetrics families without `# EOF`, as the open start of a gzip
    /// member; a scrape closes it with [`GzipHead::close`].
    pub data_gzip: GzipHead,
    /// The same in the Prometheus text format 0.0.4: converted on the first
    /// scrape that asks for it, once per publish, straight from
    /// `data_gzip` (Prometheus asks for OpenMetrics, so most exporters
    /// never build it).
    text_gzip: std::sync::OnceLock<GzipHead>,
    /// Per-user and per-scorecard series in the data.
    pub series: usize,
    /// The snapshot the data encodes (shared with the poller, not a copy).
    pub snapshot: Arc<DataSnapshot>,
}

/// Uncompressed bytes converted at a time when building the text format.
const CONVERT_CHUNK: usize = 1 << 20;

impl Exposition {
    /// Encodes and compresses `snapshot`, a batch of lines at a time.
    /// CPU-bound (about a second at 10,000 users): call it off the
    /// async workers.
    pub fn build(snapshot: Arc<DataSnapshot>, include_email: bool) -> Self {
        let data_gzip = encode_snapshot_gzip(Arc::clone(&snapshot), include_email);
        Self::from_parts(data_gzip, snapshot.series_count(), snapshot)
    }

    /// An exposition of already compressed data.
    pub fn from_parts(data_gzip: GzipHead, series: usize, snapshot: Arc<DataSnapshot>) -> Self {
        Self { data_gzip, text_gzip: std::sync::OnceLock::new(), series, snapshot }
    }

    /// Whether [`Exposition::text_gzip`] was built already (no blocking work).
    pub fn has_text(&self) -> bool {
        self.text_gzip.get().is_some()
    }

    /// The data in the 0.0.4 text format, compressed: decompressed,
    /// converted and compressed again a megabyte at a time.
    pub fn text_gzip(&self) -> &GzipHead {
        self.text_gzip.get_or_init(|| {
            let mut inflate = self.data_gzip.inflate();
            let mut converter = TextConverter::default();
            let mut writer = GzipWriter::new(self.data_gzip.bytes.len());
            let mut converted = Vec::with_capacity(CONVERT_CHUNK + CONVERT_CHUNK / 4);
            // Our own compressed bytes: corrupt only through a bug, which
            // the blocking task turns into a 500 for this scrape.
            while let Some(chunk) = inflate.next_chunk(CONVERT_CHUNK).expect("the exposition's gzip decodes") {
                converted.clear();
                converter.push(&chunk, &mut converted);
                writer.write(&converted);
            }
            converted.clear();
            converter.finish(&mut converted);
            writer.write(&converted);
            writer.finish()
        })
    }
}

/// Outcome of an endpoint in the last cycle, for the landing page.
#[derive(Debug, Clone, Default)]
pub struct EndpointStatus {
    pub last_attempt: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub ok: bool,
    /// Records in the last successful poll; `None` while no poll of the
    /// data succeeded (a zone probe's answer is not kept).
    pub records: Option<usize>,
    pub error: Option<String>,
    /// What the endpoint feeds and when this schedule asks it.
    pub role: String,
}

/// One cycle of today's plan: when, what it fetches, what it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedCycle {
    pub at: Timestamp,
    pub what: String,
    /// Requests sent (a cycle that ran) or expected (one to come).
    pub requests: u64,
}

/// Today's polling plan, for the landing page: the cycles that ran this
/// company day, those still to come, and what the budget left out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub day: Option<jiff::civil::Date>,
    pub done: Vec<PlannedCycle>,
    /// Upper estimate: every re-poll as if its answer changed.
    pub future: Vec<PlannedCycle>,
    pub left_out: Vec<String>,
}

impl Plan {
    /// A cycle starts on `today`: a new company day starts a new plan, before
    /// the cycle records anything in it (what it leaves out, what it ran).
    pub fn start_cycle(&mut self, today: jiff::civil::Date) {
        if self.day != Some(today) {
            *self = Self { day: Some(today), ..Self::default() };
        }
    }

    /// Records a cycle that ran.
    pub fn cycle_done(&mut self, at: Timestamp, what: String, requests: u64) {
        self.done.push(PlannedCycle { at, what, requests });
    }

    /// The cycles still planned today.
    pub fn set_future(&mut self, future: Vec<PlannedCycle>) {
        self.future = future;
    }

    /// Something the budget left out today, and why.
    pub fn leave_out(&mut self, what: String) {
        if !self.left_out.contains(&what) {
            self.left_out.push(what);
        }
    }

    /// Requests sent so far in the cycles of today's plan.
    pub fn sent(&self) -> u64 {
        self.done.iter().map(|c| c.requests).sum()
    }
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
    time_zone: std::sync::Mutex<Option<(jiff::tz::TimeZone, String)>>,
    /// `--demo`: every number comes from the built-in simulator.
    demo: AtomicBool,
    plan: std::sync::Mutex<Option<Plan>>,
    /// When this state was made, the origin of `heartbeat`.
    created: std::time::Instant,
    /// Milliseconds after `created` the poller last showed it is alive: a
    /// monotonic clock, so a wall-clock step (NTP, a resumed VM) is no
    /// missed beat.
    heartbeat: AtomicI64,
}

/// How often a live poller beats: in a cycle, and while it waits for the
/// next one.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// A heartbeat older than this means the poller is not running: 12 missed
/// beats, far past any pause of the runtime, and past the first restarts
/// of a poller that keeps failing.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(120);

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
            plan: std::sync::Mutex::new(None),
            created: std::time::Instant::now(),
            heartbeat: AtomicI64::new(0),
        })
    }

    /// The poller is alive now.
    pub fn beat(&self) {
        self.heartbeat.store(self.millis_since_created(), Ordering::Release);
        self.self_metrics.poller_beat(Timestamp::now().as_second());
    }

    /// How long ago the poller last beat.
    pub fn heartbeat_age(&self) -> Duration {
        let age = self.millis_since_created().saturating_sub(self.heartbeat.load(Ordering::Acquire));
        Duration::from_millis(age.max(0).unsigned_abs())
    }

    fn millis_since_created(&self) -> i64 {
        i64::try_from(self.created.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// The poller last beat `age` ago.
    #[cfg(test)]
    pub(crate) fn set_heartbeat_age(&self, age: Duration) {
        let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        self.heartbeat.store(self.millis_since_created().saturating_sub(age), Ordering::Release);
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
    pub fn set_time_zone(&self, zone: jiff::tz::TimeZone, described: String) {
        *self.time_zone.lock().expect("zone lock") = Some((zone, described));
    }

    /// What [`Shared::set_time_zone`] said last; `None` while unknown.
    pub fn time_zone(&self) -> Option<(jiff::tz::TimeZone, String)> {
        self.time_zone.lock().expect("zone lock").clone()
    }

    /// What `endpoint` feeds and when it is asked, for the landing page.
    pub fn set_role(&self, endpoint: Endpoint, role: String) {
        self.status.lock().expect("status lock").entry(endpoint).or_default().role = role;
    }

    /// A request that is not a data poll (the zone probe at start) asked
    /// `endpoint`: the landing page shows the attempt, and the poll metrics
    /// stay about data polls.
    pub fn record_probe(&self, endpoint: Endpoint, result: Result<(), String>) {
        let now = Timestamp::now();
        let mut status = self.status.lock().expect("status lock");
        let entry = status.entry(endpoint).or_default();
        entry.last_attempt = Some(now);
        entry.ok = result.is_ok();
        match result {
            Ok(()) => {
                entry.last_success = Some(now);
                entry.error = None;
            }
            Err(error) => entry.error = Some(error),
        }
    }

    /// Today's polling plan, for the landing page.
    pub fn set_plan(&self, plan: Plan) {
        *self.plan.lock().expect("plan lock") = Some(plan);
    }

    /// What [`Shared::set_plan`] said last.
    pub fn plan(&self) -> Option<Plan> {
        self.plan.lock().expect("plan lock").clone()
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
            entry.records = Some(total);
        }
    }

    /// Gong refused a plan-gated collector: off, with `why` on the landing
    /// page, and no poll series that would look like a failing poll.
    pub fn collector_off(&self, collector: &'static str, endpoints: &[Endpoint], why: String) {
        self.self_metrics.set_collector_enabled(collector, endpoints, false);
        self.say_off(endpoints, why);
    }

    /// Gong refused an optional endpoint of a collector that stays on (the
    /// key lacks its scope): `why` on the landing page, no poll series.
    pub fn endpoint_off(&self, endpoint: Endpoint, why: String) {
        self.self_metrics.forget_polls(endpoint);
        self.say_off(&[endpoint], why);
    }

    fn say_off(&self, endpoints: &[Endpoint], why: String) {
        let mut status = self.status.lock().expect("status lock");
        for &endpoint in endpoints {
            let entry = status.entry(endpoint).or_default();
            entry.last_attempt = Some(Timestamp::now());
            entry.ok = false;
            entry.error = Some(why.clone());
        }
    }
}
