//! Shared helpers for the integration tests: a simulator with hand-written
//! data, an in-process exporter pointed at it, and a strict /metrics parser.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gong_exporter::Exporter;
use gong_exporter::clock::Clock;
use gong_exporter::collectors::scorecards::PrivateReviews;
use gong_exporter::collectors::{CollectorName, Enabled};
use gong_exporter::config::{Config, Source};
use gong_exporter::gong::{ClientOptions, Credentials};
use gong_exporter::poller::PollerSettings;
use gong_exporter::poller::Schedule;
use gong_exporter::secret::Secret;
use gong_exporter::simulator::dataset::{
    DayActivity, FixtureDataset, SimAnswer, SimQuestion, SimScorecard, SimScorecardSettings, SimUser, field_index,
};
use gong_exporter::simulator::{RunningSimulator, Simulator, SimulatorOptions};
use gong_exporter::windows::{Window, company_date, parse_time_zone};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use openmetrics_parser::{MetricNumber, OpenMetricsValue};

pub mod grafana;
pub mod prometheus;

pub const ZONE: &str = "Asia/Tokyo";

pub const VP: u64 = 12_345_678_901_234_567_890;
pub const REP_A: u64 = 9_007_199_254_740_993;
pub const REP_B: u64 = 9_007_199_254_740_995;
pub const GONE: u64 = 9_007_199_254_740_997;
pub const IDLE: u64 = 18_000_000_000_000_000_001;
pub const SCORECARD_1: u64 = 6_843_152_929_075_440_037;
pub const SCORECARD_1_NAME: &str = "Discovery \"MEDDICC\" \\ Call — é";
pub const SCORECARD_2: u64 = 7_000_000_000_000_000_003;

/// The company's calendar at test time.
pub struct Calendar {
    pub tz: TimeZone,
    pub today: Date,
}

impl Calendar {
    pub fn now() -> Self {
        let tz = parse_time_zone(ZONE).unwrap();
        let today = company_date(Timestamp::now(), &tz);
        Self { tz, today }
    }

    pub fn days_ago(&self, n: i64) -> Date {
        self.today.checked_sub(n.days()).unwrap()
    }

    pub fn at(&self, day: Date, hour: i8, minute: i8) -> Timestamp {
        day.to_datetime(Time::constant(hour, minute, 0, 0)).to_zoned(self.tz.clone()).unwrap().timestamp()
    }
}

fn user(
    id: u64,
    email: &str,
    first: &str,
    last: &str,
    manager: Option<u64>,
    title: Option<&str>,
    active: bool,
) -> SimUser {
    SimUser {
        id,
        email: email.to_owned(),
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        title: title.map(str::to_owned),
        manager_id: manager,
        active,
    }
}

fn activity(fields: &[(&str, u32)]) -> DayActivity {
    let mut a = DayActivity::default();
    for (name, count) in fields {
        match field_index(name) {
            Some(i) => a.counts[i] = *count,
            None => a.extra.push(((*name).to_owned(), *count)),
        }
    }
    a
}

fn answers(list: &[(u64, bool, Option<u32>, bool)]) -> Vec<SimAnswer> {
    list.iter()
        .map(|&(question_id, is_overall, score, not_applicable)| SimAnswer {
            question_id,
            is_overall,
            score,
            not_applicable,
        })
        .collect()
}

/// Five users, activity on days 1, 3 and 10 ago, interaction for 1d and 7d,
/// three scorecards. Expected values are spelled out in the tests.
pub fn fixture(cal: &Calendar) -> FixtureDataset {
    let users = vec![
        user(VP, "vp@example.com", "Åsa", "O'Brien", None, Some("VP Sales"), true),
        user(REP_A, "rep.a@example.com", "José", "Müller", Some(VP), Some("Account Executive"), true),
        user(REP_B, "rep.b@example.com", "Zoë", "Nguyễn", Some(VP), None, true),
        user(GONE, "gone@example.com", "Old", "Timer", Some(VP), Some("SDR"), false),
        user(IDLE, "idle@example.com", "New", "Hire", Some(VP), Some("SDR"), true),
    ];
    let (d1, d3, d10) = (cal.days_ago(1), cal.days_ago(3), cal.days_ago(10));
    let mut data = FixtureDataset { users, time_zone: Some(cal.tz.clone()), ..Default::default() };
    data.activity.insert((1, d1), activity(&[("callsAsHost", 3), ("othersCallsListenedTo", 2)]));
    data.activity.insert((1, d3), activity(&[("callsAsHost", 4)]));
    data.activity.insert((1, d10), activity(&[("callsAsHost", 10)]));
    data.activity.insert((2, d1), activity(&[("callsGaveFeedback", 5), ("callsBrandNew", 7)]));
    data.activity.insert((0, d3), activity(&[("callsCommentsGiven", 6)]));

    let today = cal.today;
    data.interaction.insert(
        (1, d1, today),
        vec![("Talk Ratio".into(), 0.42), ("Longest Monologue".into(), 101.0), ("Filler Words".into(), 3.5)],
    );
    data.interaction.insert((1, cal.days_ago(7), today), vec![("Talk Ratio".into(), 0.5), ("Patience".into(), 1.25)]);

    // Scorecard 1's questions on Gong's recorded 1-5 range, scorecard 2's
    // on the reference's 0-50; question 113 is a select question (no range).
    let question = |question_id, text: &str, is_overall, range| SimQuestion {
        question_id,
        text: text.to_owned(),
        is_overall,
        range,
    };
    data.scorecard_settings = vec![
        SimScorecardSettings {
            scorecard_id: SCORECARD_1,
            scorecard_name: SCORECARD_1_NAME.into(),
            questions: vec![
                question(111, "Overall, how did the call go?", true, Some((1, 5))),
                question(112, "Did the rep confirm the \"decision process\"?", false, Some((1, 5))),
                question(113, "Next step agreed?", false, None),
            ],
        },
        SimScorecardSettings {
            scorecard_id: SCORECARD_2,
            scorecard_name: "Other".into(),
            questions: vec![question(211, "Overall (0-50)", true, Some((0, 50)))],
        },
    ];
    data.scorecards = vec![
        SimScorecard {
            answered_scorecard_id: 1,
            scorecard_id: SCORECARD_1,
            scorecard_name: SCORECARD_1_NAME.into(),
            call_id: 7_782_342_274_025_938_001,
            call_start: cal.at(d1, 9, 0),
            reviewed_user_id: REP_A,
            reviewer_user_id: Some(VP),
            review_time: cal.at(d1, 10, 0),
            answers: answers(&[(111, true, Some(4), false), (112, false, Some(2), false), (113, false, None, true)]),
            visibility: Some("PUBLIC"),
        },
        // 00:30 in Tokyo is the previous day in UTC: windows must use the
        // company's calendar.
        SimScorecard {
            answered_scorecard_id: 2,
            scorecard_id: SCORECARD_1,
            scorecard_name: SCORECARD_1_NAME.into(),
            call_id: 7_782_342_274_025_938_002,
            call_start: cal.at(d3, 0, 10),
            reviewed_user_id: REP_A,
            reviewer_user_id: None,
            review_time: cal.at(d3, 0, 30),
            answers: answers(&[(111, true, Some(2), false), (112, false, Some(5), false)]),
            visibility: Some("PUBLIC"),
        },
        SimScorecard {
            answered_scorecard_id: 3,
            scorecard_id: SCORECARD_2,
            scorecard_name: "Other".into(),
            call_id: 7_782_342_274_025_938_003,
            call_start: cal.at(d10, 14, 0),
            reviewed_user_id: REP_B,
            reviewer_user_id: Some(VP),
            review_time: cal.at(d10, 15, 0),
            answers: answers(&[(211, true, Some(3), false)]),
            visibility: Some("PUBLIC"),
        },
    ];
    data
}

/// Starts a simulator on loopback.
pub async fn start_simulator(data: FixtureDataset, page_size: usize, rate_limit: f64) -> RunningSimulator {
    start_simulator_with_clock(data, page_size, rate_limit, Clock::system()).await
}

/// Starts a simulator on loopback whose "today" follows `clock`.
pub async fn start_simulator_with_clock(
    data: FixtureDataset,
    page_size: usize,
    rate_limit: f64,
    clock: Clock,
) -> RunningSimulator {
    let mut options = SimulatorOptions::new(ZONE);
    options.page_size = page_size;
    options.rate_limit = rate_limit;
    options.clock = clock;
    let sim = Simulator::new(Arc::new(data), options).unwrap();
    gong_exporter::simulator::spawn(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

/// Exporter config for a simulator: demo credentials, loopback port 0.
pub fn config_for(sim: &RunningSimulator) -> Config {
    config_for_url(&sim.base_url())
}

/// [`config_for`] with the company's zone configured and the coaching
/// collector off: the regular endpoints alone.
pub fn regular_config(sim: &RunningSimulator, cal: &Calendar) -> Config {
    let mut config = config_for(sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.collectors.set(CollectorName::Coaching, false);
    config
}

/// Client options for a simulator at `url`: demo credentials, unthrottled,
/// short timeouts and backoff.
pub fn client_for(url: &str) -> ClientOptions {
    ClientOptions {
        base_url: url.parse().unwrap(),
        credentials: Credentials::Basic { access_key: "demo".into(), secret: Secret::new("demo") },
        rate_limit: 1000.0,
        timeout: Duration::from_secs(5),
        max_retries: 2,
        max_response_bytes: 64 << 20,
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_secs(60),
    }
}

fn config_for_url(url: &str) -> Config {
    Config {
        source: Source::Gong,
        client: client_for(url),
        poller: PollerSettings {
            windows: ["1d", "7d", "28d"].iter().map(|w| w.parse::<Window>().unwrap()).collect(),
            // Tests cycle every few hundred milliseconds; the budget is
            // tested on its own.
            daily_limit: u32::MAX,
            budget_share: 1.0,
            time_zone: None,
            poll_interval: Duration::from_secs(3600),
            // Most tests poll every few hundred milliseconds and expect
            // every cycle to fetch everything; the settling schedule has
            // its own tests (tests/it/settling.rs).
            schedule: Schedule::Fixed,
            settle_for: Duration::from_secs(12 * 3600),
            settle_interval: Duration::from_secs(2 * 3600 + 45 * 60),
            include_user_email: true,
            clock: Clock::system(),
            collectors: Enabled::default(),
            private_reviews: PrivateReviews::Withhold,
        },
        listen_addresses: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        max_connections: 512,
        idle_timeout: Duration::from_secs(30),
        telemetry_path: "/metrics".into(),
        web_config: None,
        web_config_check: Duration::from_millis(100),
        storage_path: None,
        counters_start_date: None,
        process_metrics: true,
    }
}

/// Exporter config for `--demo` with `users` simulated users, unthrottled,
/// on a free loopback port.
pub fn demo_config(users: u32) -> Config {
    let mut config = Config::demo(users);
    config.client.rate_limit = 1000.0;
    config.listen_addresses = vec![SocketAddr::from(([127, 0, 0, 1], 0))];
    config
}

/// [`demo_config`] with the windows `1d,7d,28d`, for the tests that compare
/// windows with each other or with the counters.
pub fn demo_config_three_windows(users: u32) -> Config {
    let mut config = demo_config(users);
    config.poller.windows = ["1d", "7d", "28d"].iter().map(|w| w.parse::<Window>().unwrap()).collect();
    config
}

/// The tests that run Prometheus (a minute of both cores, with promtool)
/// hold this shared; the tests that time Gong's traffic against tight
/// bounds (3 requests in any second, a recovery within 3 s) hold it alone,
/// so that the two never share the machine. Each kind ran in binaries of
/// its own when every file was one. Other tests ignore it.
static HEAVY_OR_TIMED: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// Held by a test that runs Prometheus, for as long as it runs.
pub async fn heavy() -> tokio::sync::RwLockReadGuard<'static, ()> {
    HEAVY_OR_TIMED.read().await
}

/// Held by a test whose assertions are timings, for as long as it runs.
pub async fn timed() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    HEAVY_OR_TIMED.write().await
}

/// An in-process exporter that stops when dropped: a failing assertion
/// unwinds through the test and leaves no poller polling and no port
/// listening for the tests that run after it in this process. Derefs to
/// [`Exporter`]; [`ExporterGuard::shutdown`] stops it as the product does.
pub struct ExporterGuard(Option<Exporter>);

/// Starts an exporter (`gong_exporter::start`) under an [`ExporterGuard`].
pub async fn start_exporter(config: Config) -> ExporterGuard {
    ExporterGuard(Some(gong_exporter::start(config).await.unwrap()))
}

impl ExporterGuard {
    /// Stops polling and lets in-flight scrapes finish.
    pub async fn shutdown(mut self) {
        if let Some(exporter) = self.0.take() {
            exporter.shutdown().await;
        }
    }
}

impl std::ops::Deref for ExporterGuard {
    type Target = Exporter;
    fn deref(&self) -> &Exporter {
        self.0.as_ref().expect("an exporter until shut down")
    }
}

impl Drop for ExporterGuard {
    /// `shutdown` polled once, here: it aborts the poller and tells every
    /// server to stop before its first await. What it then waits for (the
    /// servers' in-flight requests) goes on as a task of the test's runtime,
    /// which drops it, and every task left, as it ends.
    fn drop(&mut self) {
        let Some(exporter) = self.0.take() else { return };
        // `shutdown` sets timers: it needs the runtime the exporter runs on.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let mut stopping = Box::pin(exporter.shutdown());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        if stopping.as_mut().poll(&mut cx).is_pending() {
            runtime.spawn(stopping);
        }
    }
}

pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Waits until `/-/ready` answers 200.
pub async fn wait_ready(addr: SocketAddr) {
    for _ in 0..400 {
        if http_get(addr, "/-/ready").await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("exporter at {addr} not ready after 20 s");
}

/// Polls `/metrics` until `check` accepts it.
pub async fn wait_for_metrics(addr: SocketAddr, what: &str, check: impl Fn(&Metrics) -> bool) -> Metrics {
    for _ in 0..400 {
        let m = scrape(addr).await;
        if check(&m) {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}; last scrape:\n{}", scrape(addr).await.text);
}

/// One sample.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A strictly parsed `/metrics` answer.
#[derive(Debug)]
pub struct Metrics {
    pub text: String,
    pub series: Vec<Series>,
    /// Family name to OpenMetrics type, as declared.
    pub types: BTreeMap<String, String>,
}

impl Metrics {
    /// Strictly parses OpenMetrics text; panics with the parser's reason.
    pub fn parse(text: String) -> Self {
        let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&text)
            .unwrap_or_else(|e| panic!("not valid OpenMetrics: {e:?}\n{text}"));
        let mut series = Vec::new();
        let mut types = BTreeMap::new();
        for (name, family) in &exposition.families {
            let kind = format!("{:?}", family.family_type).to_lowercase();
            // Counter samples carry `_total`; the family name does not.
            let sample_name = if kind == "counter" { format!("{name}_total") } else { name.clone() };
            types.insert(name.clone(), kind);
            for sample in family.iter_samples() {
                let labels: BTreeMap<String, String> =
                    sample.get_labelset().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let value = match &sample.value {
                    OpenMetricsValue::Gauge(n) | OpenMetricsValue::Unknown(n) => number(n),
                    OpenMetricsValue::Counter(c) => number(&c.value),
                    OpenMetricsValue::Histogram(h) => h.count.map_or(f64::NAN, |c| c as f64),
                    other => panic!("unexpected value {other:?} in {name}"),
                };
                series.push(Series { name: sample_name.clone(), labels, value });
            }
        }
        Self { text, series, types }
    }

    /// Samples of `name` whose labels include every `(key, value)` given.
    pub fn matching(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Series> {
        self.series
            .iter()
            .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
            .collect()
    }

    /// The one sample of `name` with these labels; panics if none or several.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found = self.matching(name, labels);
        assert_eq!(found.len(), 1, "{name}{labels:?}: expected one series, found {found:?}");
        found[0].value
    }

    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found = self.matching(name, labels);
        assert!(found.len() <= 1, "{name}{labels:?}: several series {found:?}");
        found.first().map(|s| s.value)
    }
}

fn number(n: &MetricNumber) -> f64 {
    n.as_f64()
}

pub async fn scrape(addr: SocketAddr) -> Metrics {
    // As Prometheus asks: OpenMetrics first.
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .header("accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    Metrics::parse(response.text().await.unwrap())
}

/// A tool the test needs (`prometheus`, `promtool`), or `$env_var` naming
/// it. Missing: a panic where tools are required (CI, `scripts/test`),
/// else `None` and a SKIPPED line.
pub fn tool(name: &str, env_var: &str) -> Option<String> {
    let bin = std::env::var(env_var).unwrap_or_else(|_| name.to_owned());
    let found = std::process::Command::new(&bin)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok();
    if found {
        return Some(bin);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("GONG_EXPORTER_REQUIRE_TOOLS").is_some() {
        panic!("{name} is not installed: scripts/install-test-tools installs it as root (or set {env_var})");
    }
    eprintln!("SKIPPED: {name} not on PATH; scripts/test installs-and-requires it");
    None
}

/// Requests the simulator received for `path`.
pub fn requests_to(sim: &RunningSimulator, path: &str) -> Vec<gong_exporter::simulator::RecordedRequest> {
    sim.simulator.requests().into_iter().filter(|r| r.path == path).collect()
}

/// Lets a few cycles of a 300 ms `--poll.interval` pass.
pub async fn a_few_cycles() {
    tokio::time::sleep(Duration::from_millis(1200)).await;
}

/// Waits up to 5 s for `done`.
pub async fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
