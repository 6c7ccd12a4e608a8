//! The background poller: one cycle at start, then every `--poll.interval`
//! and shortly after each company midnight. Each cycle fetches every
//! endpoint, replaces only the parts whose pages all arrived, and publishes
//! one new encoded snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Bytes;
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use crate::budget::{DailyBudget, Pace};
use crate::clock::Clock;
use crate::counters::{CounterKind, Counters, StorageError, chunks};
use crate::gong::models::{AnsweredScorecard, GongId, GongUser, PersonInteraction, UserAggregateActivity};
use crate::gong::{Endpoint, Fetched, GongClient, GongError};
use crate::metrics::encode_snapshot;
use crate::snapshot::{
    ActivityTable, CoachingAnswer, CoachingTable, DataSnapshot, InteractionTable, ScorecardTable, UserTable,
    replace_window,
};
use crate::telemetry::{CollectorLabels, CounterLabels, EndpointLabels, RecordLabels, Telemetry, WindowLabels};
use crate::windows::{
    Window, WindowBounds, all_window_bounds, company_date, iso_instant, next_company_midnight, parse_time_zone,
    start_of_day, window_bounds, zone_behind_all,
};

/// Gong finalises a day's stats shortly after it ends; polling a few minutes
/// past midnight moves "yesterday" over without waiting for the next hourly
/// cycle.
pub const AFTER_MIDNIGHT: Duration = Duration::from_secs(120);

/// Days per day-by-day or scorecards query when counters catch up: a page
/// of 100 users x 31 days stays small, and a failure loses at most a month.
const CATCH_UP_CHUNK_DAYS: i64 = 31;

/// Coaching requests that must all answer 404, with none answering data,
/// before the collector concludes the plan lacks coaching: one manager
/// without data must not turn it off.
const COACHING_PROBES: usize = 5;

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
        let data_gzip = Bytes::from(crate::server::gzip(text.as_bytes()));
        Self { data: Bytes::from(text), data_gzip, series: snapshot.series_count(), snapshot }
    }
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
    pub telemetry: Arc<Telemetry>,
    /// Set once the first cycle has finished, whatever its outcome.
    pub ready: AtomicBool,
    pub status: std::sync::Mutex<BTreeMap<Endpoint, EndpointStatus>>,
}

impl Shared {
    /// Empty state: nothing published, not ready.
    pub fn new(telemetry: Arc<Telemetry>) -> Arc<Self> {
        Arc::new(Self {
            exposition: ArcSwap::from_pointee(Exposition::default()),
            telemetry,
            ready: AtomicBool::new(false),
            status: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// Whether the first cycle has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// What the poller needs from the configuration.
#[derive(Debug, Clone)]
pub struct PollerSettings {
    pub windows: Vec<Window>,
    /// Gong's daily quota and this exporter's share of it.
    pub daily_limit: u32,
    pub budget_share: f64,
    /// Configured zone; `None` means learn it from Gong's `timeZone`.
    pub time_zone: Option<TimeZone>,
    pub poll_interval: Duration,
    pub include_user_email: bool,
    /// Where company dates come from.
    pub clock: Clock,
    /// `--collector.coaching`.
    pub coaching: bool,
}

/// Polls Gong and publishes snapshots into [`Shared`].
#[derive(Debug)]
pub struct Poller {
    client: Arc<GongClient>,
    settings: PollerSettings,
    shared: Arc<Shared>,
    snapshot: DataSnapshot,
    /// Company zone: configured, or learned from Gong and cached.
    time_zone: Option<TimeZone>,
    warned_zone_mismatch: bool,
    budget: DailyBudget,
    counters: Counters,
    /// Company day the coaching collector last ran to completion (or was
    /// skipped for the budget): it runs once a day.
    coaching_done: Option<Date>,
    /// Company day Gong refused coaching (plan or scope): off until the next.
    coaching_off: Option<Date>,
}

/// Results of one cycle, before they are folded into the snapshot.
struct CycleResults {
    bounds: Vec<WindowBounds>,
    time_zone: TimeZone,
    activity: EndpointRun<UserAggregateActivity>,
    interaction: EndpointRun<PersonInteraction>,
    scorecards: EndpointRun<AnsweredScorecard>,
    users: EndpointRun<GongUser>,
}

/// A query's window (`None` for unwindowed endpoints) and outcome.
type QueryResult<T> = (Option<WindowBounds>, Result<Fetched<T>, GongError>);

/// One endpoint's queries in a cycle: per window (or one, unwindowed).
struct EndpointRun<T> {
    results: Vec<QueryResult<T>>,
    elapsed: Duration,
}

/// What an endpoint's cycle came to, for its metrics and status.
struct Outcome {
    /// Every query's every page arrived.
    ok: bool,
    /// Gong's Retry-After made the endpoint give up the cycle.
    abandoned: bool,
    error: Option<String>,
    /// `(window, records)` of the queries that completed.
    records: Vec<(String, usize)>,
    elapsed: Duration,
}

impl Outcome {
    /// Nothing failed (yet).
    fn success() -> Self {
        Self { ok: true, abandoned: false, error: None, records: Vec::new(), elapsed: Duration::ZERO }
    }

    /// Marks the endpoint failed; the first error is the one shown.
    fn fail(&mut self, error: &dyn std::fmt::Display) {
        self.ok = false;
        self.error.get_or_insert_with(|| error.to_string());
    }

    /// Marks the endpoint failed by a request to Gong.
    fn fail_request(&mut self, error: &GongError) {
        self.abandoned |= matches!(error, GongError::RetryAfterTooLong { .. });
        self.fail(error);
    }
}

impl<T> EndpointRun<T> {
    /// Hands each complete query's items (with its window label, empty for
    /// unwindowed endpoints) to `publish`, which returns record counts; logs
    /// each failed query, whose part keeps its last good data.
    fn settle(self, endpoint: Endpoint, mut publish: impl FnMut(String, Vec<T>) -> Vec<(String, usize)>) -> Outcome {
        let mut outcome = Outcome { elapsed: self.elapsed, ..Outcome::success() };
        for (bounds, result) in self.results {
            let window = bounds.map(|b| b.window.label()).unwrap_or_default();
            match result {
                Ok(fetched) => outcome.records.extend(publish(window, fetched.items)),
                Err(error) => {
                    log_failure(endpoint, &window, &error);
                    outcome.fail_request(&error);
                }
            }
        }
        outcome
    }
}

impl Poller {
    /// A poller that has published nothing yet.
    pub fn new(client: Arc<GongClient>, settings: PollerSettings, shared: Arc<Shared>, counters: Counters) -> Self {
        let time_zone = settings.time_zone.clone();
        let budget = DailyBudget::new(settings.daily_limit, settings.budget_share);
        Self {
            client,
            settings,
            shared,
            snapshot: DataSnapshot::default(),
            time_zone,
            warned_zone_mismatch: false,
            budget,
            counters,
            coaching_done: None,
            coaching_off: None,
        }
    }

    /// Runs cycles until the task is dropped. Cancel-safe: dropping it
    /// mid-cycle abandons in-flight requests and publishes nothing partial.
    pub async fn run(mut self) {
        let interval = self.settings.poll_interval;
        let telemetry = Arc::clone(&self.shared.telemetry);
        telemetry.requests_allowance.set(self.budget.allowance() as i64);
        let mut last_pace = Pace::Interval;
        loop {
            let started = Instant::now();
            let sent_before = self.client.requests_sent();
            self.budget.roll(self.company_today(), sent_before);
            // A Retry-After reaching past the next cycle abandons this one.
            let deadline = (started + interval).min(self.next_midnight_poll());
            self.run_cycle(deadline).await;
            self.shared.ready.store(true, Ordering::Release);

            let sent = self.client.requests_sent();
            let cost = sent - sent_before;
            telemetry.requests_today.set(self.budget.used(sent) as i64);
            if self.budget.should_warn(sent) {
                tracing::warn!(
                    used = self.budget.used(sent),
                    allowance = self.budget.allowance(),
                    "80% of today's Gong request budget used (--gong.daily-limit x --gong.budget-share); cycles will be spaced further apart"
                );
            }

            let now = Instant::now();
            let mut next_regular = started + interval;
            while next_regular <= now {
                next_regular += interval;
                telemetry.cycles_skipped.inc();
                tracing::warn!(took = ?now - started, ?interval, "poll cycle outlasted --poll.interval; skipping the cycle that was due");
            }
            let midnight = self.next_midnight_poll();
            let pace = self.budget.pace(sent, cost, interval, midnight.saturating_duration_since(now));
            if pace != last_pace {
                log_pace(pace, cost, self.budget.allowance());
                last_pace = pace;
            }
            let next = match pace {
                Pace::Interval => next_regular,
                Pace::Stretched(gap) => next_regular.max(now + gap),
                Pace::UntilMidnight => midnight,
            }
            .min(midnight);
            let next_unix = Timestamp::now().as_millisecond() as f64 / 1000.0
                + next.saturating_duration_since(Instant::now()).as_secs_f64();
            telemetry.next_cycle.set(next_unix);
            tokio::time::sleep_until(next).await;
        }
    }

    fn company_today(&self) -> jiff::civil::Date {
        company_date(self.settings.clock.now(), self.time_zone.as_ref().unwrap_or(&TimeZone::UTC))
    }

    fn next_midnight_poll(&self) -> Instant {
        let tz = self.time_zone.clone().unwrap_or(TimeZone::UTC);
        let now = self.settings.clock.now();
        let midnight = next_company_midnight(now, &tz);
        let wait = Duration::try_from(midnight.duration_since(now)).unwrap_or_default();
        Instant::now() + wait + AFTER_MIDNIGHT
    }

    /// One cycle: fetch, fold in what completed, publish.
    pub async fn run_cycle(&mut self, deadline: Instant) {
        let results = self.fetch_all(deadline).await;
        let counters = self.update_counters(&results, deadline).await;
        let (bounds, time_zone) = (results.bounds.clone(), results.time_zone.clone());
        let mut outcomes = self.apply(results);
        outcomes.extend(counters.map(|outcome| (Endpoint::ActivityDayByDay, outcome)));
        if self.counters.next_day(CounterKind::Activity).is_some() {
            self.snapshot.counters = Some(self.counters.totals());
        }
        self.publish().await;
        // After publishing, so that a success never shows before its data.
        for (endpoint, outcome) in outcomes {
            self.record(endpoint, outcome);
        }
        // Ready once the regular endpoints are in: the once-a-day coaching
        // collector can take minutes in a large company and publishes on
        // its own.
        self.shared.ready.store(true, Ordering::Release);
        let had_coaching = self.snapshot.coaching.is_some();
        let coaching = self.update_coaching(&bounds, &time_zone, deadline).await;
        // Also when Gong refused coaching and its series were dropped.
        if coaching.is_some() || (had_coaching && self.snapshot.coaching.is_none()) {
            self.publish().await;
        }
        if let Some(outcome) = coaching {
            self.record(Endpoint::Coaching, outcome);
        }
    }

    /// Encodes the snapshot and makes it what `/metrics` serves.
    async fn publish(&self) {
        let snapshot = Arc::new(self.snapshot.clone());
        let include_email = self.settings.include_user_email;
        let started = Instant::now();
        // Encoding and compressing 650,000 series takes about a second: off
        // the async workers, so scrapes and health checks stay responsive.
        let exposition = tokio::task::spawn_blocking(move || Exposition::build(snapshot, include_email))
            .await
            .expect("encoding a snapshot does not panic");
        let (series, bytes, gzip_bytes) = (exposition.series, exposition.data.len(), exposition.data_gzip.len());
        self.shared.exposition.store(Arc::new(exposition));
        tracing::info!(
            series,
            bytes,
            gzip_bytes,
            encode_seconds = started.elapsed().as_secs_f64(),
            requests_total = self.client.requests_sent(),
            "poll cycle published"
        );
    }

    async fn fetch_all(&mut self, deadline: Instant) -> CycleResults {
        let client = Arc::clone(&self.client);
        if self.time_zone.is_none() {
            self.probe_time_zone(deadline).await;
        }
        let now = self.settings.clock.now();
        // Until the zone is known, UTC-12's dates: never after the company's
        // today, which Gong would reject with a 400.
        let time_zone = self.time_zone.clone().unwrap_or_else(zone_behind_all);
        let bounds = all_window_bounds(&self.settings.windows, now, &time_zone);

        let activity = async {
            let started = Instant::now();
            let mut results = Vec::new();
            for b in &bounds {
                results.push((Some(b.clone()), client.aggregate_activity(b.from, b.to, deadline).await));
            }
            EndpointRun { results, elapsed: started.elapsed() }
        };
        let interaction = async {
            let started = Instant::now();
            let mut results = Vec::new();
            for b in &bounds {
                results.push((Some(b.clone()), client.interaction(b.from, b.to, deadline).await));
            }
            EndpointRun { results, elapsed: started.elapsed() }
        };
        let scorecards = async {
            let started = Instant::now();
            let largest = bounds.iter().max_by_key(|b| b.window.days()).expect("at least one window");
            let result = client.answered_scorecards(largest.from, largest.to, deadline).await;
            EndpointRun { results: vec![(None, result)], elapsed: started.elapsed() }
        };
        let users = async {
            let started = Instant::now();
            EndpointRun { results: vec![(None, client.users(deadline).await)], elapsed: started.elapsed() }
        };
        let (activity, interaction, scorecards, users) = tokio::join!(activity, interaction, scorecards, users);
        let reported = activity
            .results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok()?.time_zone.clone())
            .chain(interaction.results.iter().filter_map(|(_, r)| r.as_ref().ok()?.time_zone.clone()))
            .next();
        if let Some(name) = reported {
            self.check_reported_zone(&name);
        }
        CycleResults { bounds, time_zone, activity, interaction, scorecards, users }
    }

    /// Adds the company days completed since the last count to the
    /// cumulative counters: activity from day-by-day, reviews from the
    /// cycle's answered scorecards (or their own query for days before the
    /// largest window). Each piece is committed to storage before the next
    /// is fetched, so a long catch-up keeps what it got. `None` until the
    /// company's zone is known: without it days cannot be told apart.
    async fn update_counters(&mut self, cycle: &CycleResults, deadline: Instant) -> Option<Outcome> {
        let tz = self.time_zone.clone()?;
        let today = company_date(self.settings.clock.now(), &tz);
        let started = Instant::now();
        let mut outcome = Outcome::success();
        let activity = self.count_activity(today, &tz, deadline, &mut outcome).await;
        let reviews = self.count_reviews(cycle, today, &tz, deadline).await;
        if let Err(error) = activity.and(reviews) {
            tracing::error!(%error, "cannot keep the counter state");
            outcome.fail(&error);
        }
        let t = &self.shared.telemetry;
        for kind in [CounterKind::Activity, CounterKind::Scorecards] {
            if let Some(next) = self.counters.next_day(kind) {
                t.counted_until
                    .get_or_create(&CounterLabels { counters: kind.as_str() })
                    .set(start_of_day(next, &tz).as_second());
            }
        }
        outcome.elapsed = started.elapsed();
        Some(outcome)
    }

    /// Adds the days of activity due, a chunk at a time. Gong's failures go
    /// into `outcome`; a storage failure is returned.
    async fn count_activity(
        &mut self,
        today: Date,
        tz: &TimeZone,
        deadline: Instant,
        outcome: &mut Outcome,
    ) -> Result<(), StorageError> {
        let Some((from, to)) = self.counters.due(CounterKind::Activity, today)? else {
            return Ok(());
        };
        let mut listed = 0;
        for (a, b) in chunks(from, to, CATCH_UP_CHUNK_DAYS) {
            if self.budget_spent() {
                tracing::info!(next_day = %a, "daily budget spent: counters catch up from here at a later cycle");
                break;
            }
            let users = match self.client.day_by_day(a, b, deadline).await {
                Ok(fetched) => fetched.items,
                Err(error) => {
                    log_failure(Endpoint::ActivityDayByDay, "", &error);
                    outcome.fail_request(&error);
                    break;
                }
            };
            listed += users.len();
            self.counters.commit(CounterKind::Activity, a, b, |t| t.add_activity(&users, a, b, tz))?;
            tracing::info!(from = %a, to = %b, users = users.len(), "activity counters: days added");
        }
        outcome.records.push((String::new(), listed));
        Ok(())
    }

    /// Adds the days of reviews due, from the cycle's own scorecards answer
    /// where it covers them (no extra request), else from their own query.
    /// A failed query is logged (the scorecards endpoint's own metrics show
    /// Gong's trouble) and tried again next cycle.
    async fn count_reviews(
        &mut self,
        cycle: &CycleResults,
        today: Date,
        tz: &TimeZone,
        deadline: Instant,
    ) -> Result<(), StorageError> {
        let Some((from, to)) = self.counters.due(CounterKind::Scorecards, today)? else {
            return Ok(());
        };
        // The cycle fetched the largest window ending today.
        let covered =
            cycle.bounds.iter().max_by_key(|b| b.window.days()).filter(|b| b.to == today && cycle.time_zone == *tz);
        let cycle_reviews = cycle.scorecards.results.first().map(|(_, r)| r.as_ref());
        for (a, b) in chunks(from, to, CATCH_UP_CHUNK_DAYS) {
            let owned;
            let records: &[AnsweredScorecard] = match (covered, cycle_reviews) {
                (Some(w), Some(Ok(fetched))) if w.from <= a && b <= w.to => &fetched.items,
                // Already logged and counted for the scorecards endpoint.
                (Some(w), Some(Err(_))) if w.from <= a && b <= w.to => break,
                _ if self.budget_spent() => break,
                _ => match self.client.answered_scorecards(a, b, deadline).await {
                    Ok(fetched) => {
                        owned = fetched.items;
                        &owned
                    }
                    Err(error) => {
                        log_failure(Endpoint::Scorecards, "", &error);
                        break;
                    }
                },
            };
            self.counters.commit(CounterKind::Scorecards, a, b, |t| t.add_reviews(records, a, b, tz))?;
        }
        Ok(())
    }

    /// The coaching collector: once a company day (and at start), one
    /// `GET /v2/coaching` per workspace, manager and window. Gong refusing it
    /// (403, or 404 on every one of the first requests: the plan lacks
    /// coaching) turns it off until the next company day. `None` when it did
    /// not run this cycle.
    async fn update_coaching(
        &mut self,
        bounds: &[WindowBounds],
        cycle_zone: &TimeZone,
        deadline: Instant,
    ) -> Option<Outcome> {
        let enabled =
            self.shared.telemetry.collector_enabled.get_or_create_owned(&CollectorLabels { collector: "coaching" });
        if !self.settings.coaching {
            enabled.set(0);
            return None;
        }
        let tz = self.time_zone.clone().filter(|tz| tz == cycle_zone)?;
        let today = company_date(self.settings.clock.now(), &tz);
        if self.coaching_off == Some(today) {
            return None;
        }
        enabled.set(1);
        if self.coaching_done == Some(today) {
            return None;
        }
        // This cycle's users when they arrived, else the last good ones.
        let users = Arc::clone(self.snapshot.users.as_ref()?);
        let active: std::collections::HashSet<GongId> = users.users.iter().filter(|u| u.active).map(|u| u.id).collect();
        let mut managers: Vec<GongId> = users.users.iter().filter_map(|u| u.manager_id).collect();
        managers.sort_unstable();
        managers.dedup();
        // Managers are users others report to; inactive ones coach nobody.
        managers.retain(|m| active.contains(m));

        let started = Instant::now();
        let mut outcome = Outcome::success();
        let workspaces = match self.client.workspaces(deadline).await {
            Ok(fetched) if fetched.pages == 0 => return self.coaching_refused(today, "404 on /v2/workspaces"),
            Ok(fetched) => fetched.items,
            Err(GongError::Forbidden { .. }) => return self.coaching_refused(today, "403 on /v2/workspaces"),
            Err(error) => {
                log_failure(Endpoint::Coaching, "", &error);
                outcome.fail_request(&error);
                outcome.elapsed = started.elapsed();
                return Some(outcome);
            }
        };
        let total = workspaces.len() * managers.len() * bounds.len();
        let left = self.budget.remaining(self.client.requests_sent());
        if total as u64 > left {
            let reason = format!(
                "coaching needs {total} requests ({} workspaces x {} managers x {} windows) but only {left} are left of the budget share for today: skipped until tomorrow; raise --gong.budget-share, narrow --stats.windows, or set --collector.coaching=false",
                workspaces.len(),
                managers.len(),
                bounds.len()
            );
            tracing::warn!("{reason}");
            self.coaching_done = Some(today);
            outcome.fail(&reason);
            outcome.elapsed = started.elapsed();
            return Some(outcome);
        }

        let probes = total.min(COACHING_PROBES);
        // Each window as Gong's coaching endpoint takes it, formatted once.
        let periods: Vec<(String, String, String)> =
            bounds.iter().map(|b| (b.window.label(), iso_instant(b.start, &tz), iso_instant(b.end, &tz))).collect();
        let asks: Vec<(GongId, GongId, &(String, String, String))> = workspaces
            .iter()
            .flat_map(|w| managers.iter().map(move |m| (w.id, *m)))
            .flat_map(|(w, m)| periods.iter().map(move |p| (w, m, p)))
            .collect();
        let mut not_found = 0;
        let mut answers = Vec::new();
        for (workspace_id, manager, (window, from, to)) in asks {
            match self.client.coaching(workspace_id, manager, from, to, deadline).await {
                Ok(Some(data)) => answers.push(CoachingAnswer { window: window.clone(), workspace_id, data }),
                Ok(None) => {
                    not_found += 1;
                    if answers.is_empty() && not_found >= probes {
                        return self.coaching_refused(today, "404 on /v2/coaching");
                    }
                }
                Err(GongError::Forbidden { .. }) => return self.coaching_refused(today, "403 on /v2/coaching"),
                Err(error) => {
                    log_failure(Endpoint::Coaching, window, &error);
                    outcome.fail_request(&error);
                    break;
                }
            }
        }
        outcome.elapsed = started.elapsed();
        if !outcome.ok {
            return Some(outcome);
        }
        let table = CoachingTable::build(answers, Some(&users));
        for b in bounds {
            let window = b.window.label();
            let rows = table.rows.iter().filter(|r| r.window == window).count();
            outcome.records.push((window, rows));
        }
        self.snapshot.coaching = Some(Arc::new(table));
        self.coaching_done = Some(today);
        Some(outcome)
    }

    /// Gong will not serve coaching to this account: off for the rest of
    /// the company day, its series gone rather than stale.
    fn coaching_refused(&mut self, today: Date, reason: &str) -> Option<Outcome> {
        tracing::warn!(
            reason,
            "Gong's coaching endpoint is not available to this account (plan without coaching, or a key without api:coaching:read): the coaching collector is off until tomorrow (company time); other endpoints are unaffected"
        );
        self.coaching_off = Some(today);
        self.snapshot.coaching = None;
        let t = &self.shared.telemetry;
        t.collector_enabled.get_or_create(&CollectorLabels { collector: "coaching" }).set(0);
        let labels = EndpointLabels { endpoint: Endpoint::Coaching };
        t.poll_success.remove(&labels);
        t.last_success.remove(&labels);
        t.poll_duration.remove(&labels);
        let mut status = self.shared.status.lock().expect("status lock");
        let entry = status.entry(Endpoint::Coaching).or_default();
        entry.last_attempt = Some(Timestamp::now());
        entry.ok = false;
        entry.error = Some(format!("off until tomorrow: Gong refused coaching ({reason})"));
        None
    }

    /// Whether this exporter has sent its whole share of today's requests.
    fn budget_spent(&self) -> bool {
        self.budget.remaining(self.client.requests_sent()) == 0
    }

    /// Learns the company's zone with one request: the first page of the
    /// largest window, the period likeliest to hold records. Retried each
    /// cycle until Gong names a zone.
    async fn probe_time_zone(&mut self, deadline: Instant) {
        let largest = self.settings.windows.iter().max().expect("at least one window");
        let probe = zone_behind_all();
        let b = window_bounds(largest, company_date(self.settings.clock.now(), &probe), &probe);
        match self.client.company_time_zone(b.from, b.to, deadline).await {
            Ok(Some(name)) => match parse_time_zone(&name) {
                Ok(tz) => {
                    tracing::info!(zone = %name, "company time zone learned from Gong");
                    self.time_zone = Some(tz);
                }
                Err(error) => {
                    tracing::warn!(zone = %name, %error, "Gong reported a time zone this build does not know; set --gong.timezone")
                }
            },
            Ok(None) => tracing::warn!(
                "Gong has no activity in the last {largest} to learn the company's time zone from; using UTC-12 dates until it does (set --gong.timezone to avoid this)"
            ),
            Err(error) => tracing::warn!(%error, "cannot learn the company's time zone this cycle"),
        }
    }

    /// Warns once when Gong's zone differs from the one windows use. A
    /// learned zone follows Gong (the company changed its setting); a
    /// configured one wins, as the operator asked.
    fn check_reported_zone(&mut self, name: &str) {
        let Ok(reported) = parse_time_zone(name) else {
            return;
        };
        let Some(current) = &self.time_zone else {
            return;
        };
        if current.iana_name() == reported.iana_name() || current == &reported {
            return;
        }
        if self.settings.time_zone.is_some() {
            if !self.warned_zone_mismatch {
                self.warned_zone_mismatch = true;
                tracing::warn!(
                    configured = current.iana_name().unwrap_or("?"),
                    gong = name,
                    "--gong.timezone differs from the company time zone Gong reports; windows follow --gong.timezone"
                );
            }
        } else {
            tracing::warn!(
                old = current.iana_name().unwrap_or("?"),
                new = name,
                "Gong reports a new company time zone; next cycle uses it"
            );
            self.time_zone = Some(reported);
        }
    }

    /// Folds completed parts into the snapshot; returns each endpoint's
    /// outcome, to be recorded once the snapshot is published.
    fn apply(&mut self, cycle: CycleResults) -> Vec<(Endpoint, Outcome)> {
        let CycleResults { bounds, time_zone, activity, interaction, scorecards, users } = cycle;
        let t = Arc::clone(&self.shared.telemetry);
        for b in &bounds {
            let labels = WindowLabels { window: b.window.label() };
            t.window_start.get_or_create(&labels).set(b.start.as_second());
            t.window_end.get_or_create(&labels).set(b.end.as_second());
        }
        let order: Vec<String> = bounds.iter().map(|b| b.window.label()).collect();
        let snapshot = &mut self.snapshot;

        let outcome = activity.settle(Endpoint::ActivityAggregate, |window, items| {
            let records = vec![(window.clone(), items.len())];
            replace_window(&mut snapshot.activity, ActivityTable::build(window, items), &order);
            records
        });
        let mut outcomes = vec![(Endpoint::ActivityAggregate, outcome)];

        let snapshot = &mut self.snapshot;
        let outcome = interaction.settle(Endpoint::Interaction, |window, items| {
            let records = vec![(window.clone(), items.len())];
            replace_window(&mut snapshot.interaction, InteractionTable::build(window, items), &order);
            records
        });
        outcomes.push((Endpoint::Interaction, outcome));

        let snapshot = &mut self.snapshot;
        let outcome = scorecards.settle(Endpoint::Scorecards, |_, items| {
            let table = ScorecardTable::build(&items, &bounds, &time_zone);
            let records =
                table.windows.iter().map(|w| (w.window.clone(), w.reviews.values().sum::<u64>() as usize)).collect();
            snapshot.scorecards = Some(Arc::new(table));
            records
        });
        outcomes.push((Endpoint::Scorecards, outcome));

        let snapshot = &mut self.snapshot;
        let outcome = users.settle(Endpoint::Users, |window, items| {
            let table = UserTable::build(items);
            let records = vec![(window, table.users.len())];
            snapshot.users = Some(Arc::new(table));
            records
        });
        outcomes.push((Endpoint::Users, outcome));
        outcomes
    }

    fn record(&self, endpoint: Endpoint, outcome: Outcome) {
        let t = &self.shared.telemetry;
        let labels = EndpointLabels { endpoint };
        let now = Timestamp::now();
        if outcome.abandoned {
            t.cycles_abandoned.get_or_create(&labels).inc();
        }
        t.poll_success.get_or_create(&labels).set(i64::from(outcome.ok));
        t.poll_duration.get_or_create(&labels).set(outcome.elapsed.as_secs_f64());
        if outcome.ok {
            t.last_success.get_or_create(&labels).set(now.as_millisecond() as f64 / 1000.0);
        }
        let total: usize = outcome.records.iter().map(|(_, n)| n).sum();
        for (window, count) in outcome.records {
            t.records.get_or_create(&RecordLabels { endpoint, window }).set(count as i64);
        }
        let mut status = self.shared.status.lock().expect("status lock");
        let entry = status.entry(endpoint).or_default();
        entry.last_attempt = Some(now);
        entry.ok = outcome.ok;
        entry.error = outcome.error;
        if outcome.ok {
            entry.last_success = Some(now);
            entry.records = total;
        }
    }
}

fn log_pace(pace: Pace, cost: u64, allowance: u64) {
    match pace {
        Pace::Interval => {
            tracing::info!(cycle_cost = cost, allowance, "daily budget allows polling every --poll.interval")
        }
        Pace::Stretched(gap) => tracing::warn!(
            cycle_cost = cost,
            allowance,
            every = %humantime::format_duration(Duration::from_secs(gap.as_secs())),
            "daily budget: spacing cycles further apart than --poll.interval"
        ),
        Pace::UntilMidnight => tracing::warn!(
            cycle_cost = cost,
            allowance,
            "daily budget spent for today: next cycle shortly after midnight (company time)"
        ),
    }
}

fn log_failure(endpoint: Endpoint, window: &str, error: &GongError) {
    if error.is_auth() {
        tracing::error!(%endpoint, window, error = %error, "Gong refused the request; keeping the last good data");
    } else {
        tracing::warn!(%endpoint, window, error = %error, "endpoint failed this cycle; keeping the last good data");
    }
}
