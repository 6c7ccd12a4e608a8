//! The background poller: one cycle at start and one shortly after each
//! company midnight, then re-polls of what can still change while
//! yesterday settles (`--poll.schedule=settling`), or every window whole
//! every `--poll.interval` (`fixed`). A cycle replaces only the parts whose
//! pages all arrived, and publishes one new encoded snapshot.
//!
//! The pieces, each in its own file, each owning its state and taking what
//! it reads as explicit inputs, so each is read and unit-tested alone; the
//! poller runs them in order and applies what they return:
//! - [`schedule`]: when the next cycle runs (pure);
//! - [`budget`]: today's share of Gong's quota (pure);
//! - [`zone`]: the company's time zone, learned and followed (`ZoneTracker`);
//! - [`settle`]: the default schedule's state for the day (`Settle`): each
//!   part's re-polls, what a cycle asks Gong for, the day's plan and the
//!   next cycle (pure);
//! - `settling`: the default schedule's cycle: everything after company
//!   midnight, then only what `Settle` says can still change, with windows
//!   built from kept days;
//! - `counting`: completed days added to the cumulative ledger (`Counting`);
//! - `coaching`: the once-a-day coaching collector (`CoachingCollector`);
//! - `reconcile`: once a day, the activity windows built from kept days
//!   checked against Gong's aggregate (`Reconciler`);
//! - `cycle`: the fixed schedule's cycle, every endpoint fetched and folded
//!   into the snapshot.

pub mod budget;
mod coaching;
mod counting;
mod cycle;
mod keeping;
mod reconcile;
pub mod schedule;
pub mod settle;
mod settling;
pub mod zone;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::collectors::CollectorName;
use crate::collectors::daily::{Daily, DailyRun};
use crate::collectors::scorecards::PrivateReviews;
use crate::collectors::{Enabled, REGISTRY};
use crate::days::DayStore;
use crate::endpoint::Endpoint;
use crate::gong::{GongClient, GongError};
use crate::ledger::Ledger;
use crate::published::{Exposition, HEARTBEAT_EVERY, Plan, Shared};
use crate::self_metrics::PollOutcome;
use crate::snapshot::DataSnapshot;
use crate::windows::{Window, WindowBounds, all_window_bounds, company_date, next_company_midnight, zone_behind_all};
use budget::{DailyBudget, Pace};
use coaching::{CoachingCollector, CoachingInputs, CoachingRun, CoachingState};
use counting::{CountInputs, Counting};
use cycle::CycleResults;
pub use cycle::log_skipped;
pub use schedule::Schedule;
use zone::ZoneTracker;

/// Gong finalises a day's stats shortly after it ends; polling a few minutes
/// past midnight moves "yesterday" over without waiting for the next hourly
/// cycle.
pub const AFTER_MIDNIGHT: Duration = Duration::from_secs(120);

/// What the poller needs from the configuration.
#[derive(Debug, Clone)]
pub struct PollerSettings {
    /// Distinct windows, smallest first.
    pub windows: Vec<Window>,
    /// Gong's daily quota and this exporter's share of it.
    pub daily_limit: u32,
    pub budget_share: f64,
    /// Configured zone; `None` means learn it from Gong's `timeZone`.
    pub time_zone: Option<TimeZone>,
    pub poll_interval: Duration,
    /// `--poll.schedule`, `--poll.settle-for`, `--poll.settle-interval`.
    pub schedule: Schedule,
    pub settle_for: Duration,
    pub settle_interval: Duration,
    pub include_user_email: bool,
    /// Where company dates come from (not a flag: tests move it).
    pub clock: Clock,
    /// The collectors that are on (`--[no-]collector.<name>`).
    pub collectors: Enabled,
    /// `--scorecards.include-private`.
    pub private_reviews: PrivateReviews,
}

/// Requests to the endpoints asked once a company day (their registered
/// role names them for the plan), counted as a cycle starts: what the
/// cycle asked of them is named in its row of the plan, whose request count
/// includes them.
struct OnceADay(Vec<(Endpoint, &'static str, u64)>);

impl OnceADay {
    fn before(client: &GongClient) -> Self {
        let roles = REGISTRY.iter().flat_map(|r| r.roles);
        Self(roles.filter_map(|r| Some((r.endpoint, r.once_a_day?, client.requests_sent_to(r.endpoint)))).collect())
    }

    /// `what` the cycle fetched, with the once-a-day endpoints it asked since.
    fn describe(&self, client: &GongClient, mut what: String) -> String {
        for (endpoint, name, before) in &self.0 {
            if client.requests_sent_to(*endpoint) > *before {
                what.push_str(", ");
                what.push_str(name);
            }
        }
        what
    }
}

/// What `endpoint` feeds and when `schedule` asks it, as the landing page
/// says it: its collector's registered role. With `--gong.timezone` unset,
/// the settling schedule's first request to the aggregate learns the zone.
fn endpoint_role(endpoint: Endpoint, schedule: Schedule, collectors: &Enabled, zone_configured: bool) -> String {
    let Some(registration) = crate::collectors::owner(endpoint) else {
        return String::new();
    };
    if !collectors.contains(registration.name) {
        return format!("nothing: the {} collector is off", registration.label);
    }
    let role = registration.roles.iter().find(|r| r.endpoint == endpoint).map_or("", |role| match schedule {
        Schedule::Settling => role.settling,
        Schedule::Fixed => role.fixed,
    });
    match (endpoint, schedule) {
        (Endpoint::ActivityAggregate, Schedule::Settling) if !zone_configured => {
            format!("learns the company's zone at start; {role}")
        }
        _ => role.to_owned(),
    }
}

impl PollerSettings {
    /// The longest window, which scorecards are fetched for.
    pub fn largest_window(&self) -> &Window {
        self.windows.last().expect("validated: at least one window")
    }
}

/// Polls Gong and publishes snapshots into [`Shared`].
#[derive(Debug)]
pub struct Poller {
    client: Arc<GongClient>,
    settings: PollerSettings,
    shared: Arc<Shared>,
    snapshot: DataSnapshot,
    /// Company zone: configured, or learned from Gong and followed.
    zone: ZoneTracker,
    budget: DailyBudget,
    counting: Counting,
    coaching: CoachingCollector,
    /// Kept company days (settling schedule).
    days: DayStore,
    settle: settle::Settle,
    /// Today's check of the built activity windows against Gong's.
    reconcile: reconcile::Reconciler,
    plan: Plan,
    /// The collectors asked once a company day, those that are on.
    daily: Vec<Box<dyn Daily>>,
}

impl Poller {
    /// A poller that has published nothing yet.
    pub fn new(
        client: Arc<GongClient>,
        settings: PollerSettings,
        shared: Arc<Shared>,
        ledger: Ledger,
        days: DayStore,
    ) -> Self {
        let mut days = days;
        // Days kept while --scorecards.include-private was on hold private
        // reviews whole: withheld now, and written again so.
        let changed = match settings.private_reviews {
            PrivateReviews::Withhold => days.withhold_private_reviews(),
            PrivateReviews::Include => days.forget_withheld_reviews(),
        };
        if changed > 0 {
            match settings.private_reviews {
                PrivateReviews::Withhold => tracing::info!(
                    reviews = changed,
                    "kept reviews that are not public are withheld (kept while --scorecards.include-private was on); their days are written again without them"
                ),
                PrivateReviews::Include => tracing::info!(
                    days = changed,
                    "kept days whose reviews were withheld (kept while --scorecards.include-private was off) have their reviews fetched again whole"
                ),
            }
            // Written now, in either schedule (the fixed one never writes
            // kept days again on its own).
            if let Err(error) = days.save_unsaved() {
                tracing::warn!(%error, "kept days still cannot be written under --storage.path; they stay in memory");
                shared.self_metrics.storage_error(crate::ledger::failed_file(&error));
            }
        }
        let zone = ZoneTracker::new(settings.time_zone.clone());
        if let (Some(line), Some(tz)) = (zone.configured_description(), zone.zone()) {
            shared.set_time_zone(tz.clone(), line);
        }
        for endpoint in Endpoint::ALL {
            let configured = settings.time_zone.is_some();
            shared.set_role(endpoint, endpoint_role(endpoint, settings.schedule, &settings.collectors, configured));
        }
        let mut budget = DailyBudget::new(settings.daily_limit, settings.budget_share);
        // A poller started again after a panic: today's count goes on.
        if let Some((day, baseline)) = client.budget_day() {
            budget.resume(day, baseline);
        }
        let off = REGISTRY.iter().map(|r| r.name).filter(|c| !settings.collectors.contains(*c));
        let settle = settle::Settle::new(settle::SettleSettings {
            settle_for: settings.settle_for,
            interval: settings.settle_interval,
            floor: settings.poll_interval,
        })
        .without(off);
        let daily = REGISTRY
            .iter()
            .filter(|r| settings.collectors.contains(r.name))
            .flat_map(|r| r.daily.iter().map(|new| new()))
            .collect();
        Self {
            client,
            settings,
            shared,
            snapshot: DataSnapshot::default(),
            zone,
            budget,
            counting: Counting::new(ledger),
            coaching: CoachingCollector::new(),
            days,
            settle,
            reconcile: reconcile::Reconciler::new(),
            plan: Plan::default(),
            daily,
        }
    }

    /// Runs cycles until the task is dropped. Cancel-safe: dropping it
    /// mid-cycle abandons in-flight requests and publishes nothing partial.
    pub async fn run(mut self) {
        let metrics = Arc::clone(&self.shared.self_metrics);
        metrics.set_budget(self.budget.allowance(), 0);
        metrics.set_time_zone_known(self.zone.zone().is_some());
        for collector in &crate::collectors::REGISTRY {
            let on = self.settings.collectors.contains(collector.name);
            metrics.set_collector_enabled(collector.label, &collector.endpoints(), on);
        }
        let shared = Arc::clone(&self.shared);
        shared.beat();
        let mut last_pace = Pace::Interval;
        loop {
            match self.settings.schedule {
                Schedule::Fixed => {
                    let next = beating(&shared, self.fixed_cycle(&mut last_pace)).await;
                    beating(&shared, tokio::time::sleep_until(next)).await;
                }
                Schedule::Settling => {
                    let next = beating(&shared, self.settling_cycle()).await;
                    beating(&shared, self.sleep_until_clock(next)).await;
                }
            }
        }
    }

    /// Runs one cycle of `--poll.schedule` now and returns when the next
    /// is due, on the poller's clock: what [`Poller::run`] sleeps until,
    /// and what a replay of whole days (`benches/replay.rs`) jumps to.
    pub async fn cycle(&mut self) -> Timestamp {
        match self.settings.schedule {
            Schedule::Fixed => {
                let mut pace = Pace::Interval;
                let next = self.fixed_cycle(&mut pace).await;
                self.settings.clock.now()
                    + jiff::SignedDuration::try_from(next.saturating_duration_since(Instant::now())).unwrap_or_default()
            }
            Schedule::Settling => self.settling_cycle().await,
        }
    }

    /// Requests sent to Gong since start, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    /// Today's plan as the landing page shows it.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Sleeps until the clock reads `at`, in short slices: a clock moved
    /// forward (tests cross a company midnight that way) is noticed.
    async fn sleep_until_clock(&self, at: Timestamp) {
        let slice = self.settings.poll_interval.clamp(Duration::from_millis(50), Duration::from_secs(60));
        loop {
            let left = at.duration_since(self.settings.clock.now());
            let Ok(left) = Duration::try_from(left) else { return };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(slice)).await;
        }
    }

    /// A settling cycle with the budget's bookkeeping around it.
    async fn settling_cycle(&mut self) -> Timestamp {
        let metrics = Arc::clone(&self.shared.self_metrics);
        self.roll_budget(self.company_today());
        let next = self.run_settling_cycle(self.next_midnight_poll()).await;
        let sent = self.client.requests_sent();
        metrics.set_budget(self.budget.allowance(), self.budget.used(sent));
        self.warn_at_80_percent(sent);
        next
    }

    /// Starts today's count when the company day changed, and caps the
    /// client at today's allowance.
    fn roll_budget(&mut self, today: Date) {
        self.budget.roll(today, self.client.requests_sent());
        if let Some((day, baseline)) = self.budget.day() {
            self.client.start_budget_day(day, baseline, self.budget.allowance());
        }
    }

    fn warn_at_80_percent(&mut self, sent: u64) {
        if self.budget.should_warn(sent) {
            tracing::warn!(
                used = self.budget.used(sent),
                allowance = self.budget.allowance(),
                "80% of today's Gong request budget used (--gong.daily-limit x --gong.budget-share); cycles will be spaced further apart"
            );
        }
    }

    /// A fixed-schedule cycle: every window whole, then the next one after
    /// `--poll.interval` (or later, as the budget requires).
    async fn fixed_cycle(&mut self, last_pace: &mut Pace) -> Instant {
        let interval = self.settings.poll_interval;
        let metrics = Arc::clone(&self.shared.self_metrics);
        let started = Instant::now();
        let started_at = self.settings.clock.now();
        let sent_before = self.client.requests_sent();
        let once_a_day = OnceADay::before(&self.client);
        let today = self.company_today();
        self.roll_budget(today);
        self.plan.start_cycle(today);
        // A Retry-After reaching past the next cycle abandons this one.
        let deadline = (started + interval).min(self.next_midnight_poll());
        self.run_cycle(deadline).await;
        self.shared.set_ready();

        let sent = self.client.requests_sent();
        let cost = sent - sent_before;
        metrics.set_budget(self.budget.allowance(), self.budget.used(sent));
        self.warn_at_80_percent(sent);

        let now = Instant::now();
        let midnight = self.next_midnight_poll();
        let pace = self.budget.pace(sent, cost, interval, midnight.saturating_duration_since(now));
        if pace != *last_pace {
            log_pace(pace, cost, self.budget.allowance());
            *last_pace = pace;
        }
        let next = schedule::next_cycle(started, now, interval, pace, midnight);
        if next.skipped > 0 {
            metrics.cycles_skipped(next.skipped);
            tracing::warn!(took = ?now - started, ?interval, skipped = next.skipped, "poll cycle outlasted --poll.interval; skipping the cycles that fell due");
        }
        let until_next = next.at.saturating_duration_since(Instant::now());
        let next_unix = Timestamp::now().as_millisecond() as f64 / 1000.0 + until_next.as_secs_f64();
        metrics.set_next_cycle(next_unix);
        // The plan: the same full cycle every interval until midnight, as
        // far as the budget allows.
        let what = once_a_day.describe(&self.client, "every window whole".to_owned());
        self.plan.cycle_done(started_at, what, cost);
        let gap = match pace {
            Pace::Stretched(gap) => gap,
            _ => interval,
        };
        let future = self.fixed_plan(until_next, gap, cost, sent, midnight);
        metrics.set_planned_today(self.budget.used(sent) + future.iter().map(|c| c.requests).sum::<u64>());
        self.plan.set_future(future);
        self.shared.set_plan(self.plan.clone());
        next.at
    }

    fn company_today(&self) -> Date {
        company_date(self.settings.clock.now(), self.zone.zone().unwrap_or(&TimeZone::UTC))
    }

    fn next_midnight_poll(&self) -> Instant {
        let tz = self.zone.zone().cloned().unwrap_or(TimeZone::UTC);
        let now = self.settings.clock.now();
        let midnight = next_company_midnight(now, &tz);
        let wait = Duration::try_from(midnight.duration_since(now)).unwrap_or_default();
        Instant::now() + wait + AFTER_MIDNIGHT
    }

    /// One fixed cycle: fetch every window whole, fold in what completed,
    /// publish.
    pub async fn run_cycle(&mut self, deadline: Instant) {
        if self.zone.zone().is_none() {
            self.probe_time_zone(deadline).await;
        }
        let now = self.settings.clock.now();
        // Until the zone is known, UTC-12's dates: never after the company's
        // today, which Gong would reject with a 400.
        let time_zone = self.zone.zone().cloned().unwrap_or_else(zone_behind_all);
        let request = cycle::CycleRequest {
            client: &self.client,
            bounds: all_window_bounds(&self.settings.windows, now, &time_zone),
            time_zone,
            collectors: &self.settings.collectors,
            private_reviews: self.settings.private_reviews,
            deadline,
        };
        let results = cycle::fetch(request).await;
        if let Some((name, source)) = results.reported_zone() {
            self.check_reported_zone(&name, source);
        }
        let counting = self.update_ledger(Some(&results), deadline).await;
        let (bounds, time_zone) = (results.bounds.clone(), results.time_zone.clone());
        let outcomes = results.fold_into(&mut self.snapshot);
        self.publish_cycle(outcomes, counting, &bounds, &time_zone, deadline).await;
    }

    /// The end of every cycle, either schedule: the counters' totals and
    /// outcome joined in, one publish, then each endpoint's outcome, the
    /// ready flag and the coaching collector.
    async fn publish_cycle(
        &mut self,
        mut outcomes: Vec<(Endpoint, PollOutcome)>,
        counting: Option<PollOutcome>,
        bounds: &[crate::windows::WindowBounds],
        time_zone: &TimeZone,
        deadline: Instant,
    ) {
        self.report_zone();
        for b in bounds {
            self.shared.self_metrics.set_window(b.window, b.start.as_second(), b.end.as_second());
        }
        // A collector switched off has no poll to report, not a success.
        outcomes.retain(|(endpoint, _)| self.endpoint_on(*endpoint));
        if let Some(counting) = counting {
            // One outcome per endpoint: the counters' must not hide a failed
            // fetch of the same endpoint earlier in the cycle.
            // With the activity collector off, the counters only ask for
            // answered scorecards.
            let endpoint = match self.endpoint_on(Endpoint::ActivityDayByDay) {
                true => Endpoint::ActivityDayByDay,
                false => Endpoint::Scorecards,
            };
            match outcomes.iter_mut().find(|(e, _)| *e == endpoint) {
                Some((_, fetched)) => fetched.merge(counting),
                None => outcomes.push((endpoint, counting)),
            }
        }
        if let Some(totals) = self.counting.totals() {
            self.snapshot.counters = Some(totals);
        }
        outcomes.extend(self.run_daily(time_zone, deadline).await);
        self.publish().await;
        // After publishing, so that a success never shows before its data.
        for (endpoint, outcome) in outcomes {
            self.shared.record(endpoint, outcome);
        }
        for (window, users) in self.reconcile.take_unpublished() {
            self.shared.self_metrics.set_window_mismatches(window, users);
        }
        // Ready once the regular endpoints are in: the once-a-day coaching
        // collector can take minutes in a large company and publishes on
        // its own.
        self.shared.set_ready();
        self.run_coaching(bounds, time_zone, deadline).await;
    }

    /// The collectors asked once a company day ([`Daily`]), in turn; each
    /// returns its endpoint's outcome, unless it was not due or Gong
    /// refused it (left out until tomorrow, said on the landing page; no
    /// failing poll). A failed request keeps the last good part.
    async fn run_daily(&mut self, tz: &TimeZone, deadline: Instant) -> Vec<(Endpoint, PollOutcome)> {
        let today = company_date(self.settings.clock.now(), tz);
        let mut outcomes = Vec::new();
        for collector in &mut self.daily {
            let endpoint = collector.endpoint();
            let started = Instant::now();
            let mut outcome = PollOutcome::success();
            match collector.run(&self.client, today, deadline).await {
                DailyRun::NotDue => continue,
                DailyRun::Fetched { part, records } => {
                    outcome.records.push((None, records));
                    self.snapshot.daily.insert(endpoint, part);
                }
                DailyRun::Refused { error, why } => {
                    tracing::info!(%endpoint, err = %error, "{why}");
                    self.snapshot.daily.remove(&endpoint);
                    self.shared.endpoint_off(endpoint, format!("left out until tomorrow: {error}"));
                    continue;
                }
                DailyRun::Failed(error) => {
                    log_failure(endpoint, None, &error);
                    cycle::fail_request(&mut outcome, &error);
                }
            }
            outcome.elapsed = started.elapsed();
            outcomes.push((endpoint, outcome));
        }
        outcomes
    }

    /// The coaching collector, if due, and its own publish.
    async fn run_coaching(&mut self, bounds: &[crate::windows::WindowBounds], time_zone: &TimeZone, deadline: Instant) {
        let before = self.snapshot.coaching.clone();
        let coaching = self.update_coaching(bounds, time_zone, deadline).await;
        // Only when the coaching series changed (new data, or dropped because
        // Gong refused coaching): a skipped or failed run would encode the
        // same bytes again, and at 10,000 users two expositions of ~130 MB
        // would be alive at once for nothing.
        let changed = match (&before, &self.snapshot.coaching) {
            (Some(old), Some(new)) => !Arc::ptr_eq(old, new),
            (None, None) => false,
            _ => true,
        };
        if changed {
            self.publish().await;
        }
        if let Some(outcome) = coaching {
            self.shared.record(Endpoint::Coaching, outcome);
        }
    }

    /// The fixed schedule's cycles still to come today: every `gap` from
    /// `until_next`, each costing what the last one did, as long as the
    /// budget lasts. At most 96 are listed (a 15-minute interval's day): a
    /// page of a 1-second interval's 86,400 would say no more.
    fn fixed_plan(
        &self,
        until_next: Duration,
        gap: Duration,
        cost: u64,
        sent: u64,
        midnight: Instant,
    ) -> Vec<crate::published::PlannedCycle> {
        let mut future = Vec::new();
        let mut at = until_next;
        let until_midnight = midnight.saturating_duration_since(Instant::now());
        let mut left = self.budget.remaining(sent);
        while at < until_midnight && cost > 0 && left >= cost && future.len() < 96 {
            future.push(crate::published::PlannedCycle {
                at: self.settings.clock.now() + jiff::SignedDuration::try_from(at).unwrap_or_default(),
                what: "every window whole".to_owned(),
                requests: cost,
            });
            left -= cost;
            at += gap;
        }
        future
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
        let (series, bytes, gzip_bytes) =
            (exposition.series, exposition.data_gzip.data_len(), exposition.data_gzip.bytes.len());
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
}

/// The poller's side of each component (the zone tracker, the counting,
/// the coaching collector): what it hands them, and what it does with what
/// they return. The components themselves hold no reference to the poller.
impl Poller {
    /// [`ZoneTracker::probe`], its line shown on the landing page.
    async fn probe_time_zone(&mut self, deadline: Instant) {
        let (now, largest) = (self.settings.clock.now(), *self.settings.largest_window());
        if let Some(probed) = self.zone.probe(&self.client, now, largest, deadline).await {
            self.shared.record_probe(probed.asked, probed.result);
            if let (Some(line), Some(tz)) = (probed.learned, self.zone.zone()) {
                self.shared.set_time_zone(tz.clone(), line);
            }
        }
    }

    /// Once a cycle, at its end: while the zone stays unknown, the log and
    /// `gong_exporter_time_zone_known` say so. No recorded Gong answer
    /// confirms that `timeZone` is always there, and without it requests
    /// stay dated in UTC-12 and the counters and coaching never start.
    fn report_zone(&self) {
        let known = self.zone.zone().is_some();
        self.shared.self_metrics.set_time_zone_known(known);
        if !known {
            tracing::warn!(
                "the company's time zone is not known: no Gong answer has named it and --gong.timezone is unset, so requests are dated in UTC-12 and the cumulative counters and coaching wait; set --gong.timezone (gong_exporter_time_zone_known is 0)"
            );
        }
    }

    /// [`ZoneTracker::reported`], its line shown on the landing page.
    fn check_reported_zone(&mut self, name: &str, source: Endpoint) {
        let before = self.zone.zone().cloned();
        if let Some(line) = self.zone.reported(name, source) {
            if let Some(tz) = self.zone.zone() {
                self.shared.set_time_zone(tz.clone(), line);
            }
            if before.is_some() {
                self.forget_days_of_old_zone();
            }
        }
    }

    /// The company's zone changed: every kept day is a day of the old zone,
    /// and none is a day of the new one. They are dropped as a whole, so the
    /// next cycle fetches every window's days again under the new zone (one
    /// query per endpoint); a kept day is never overwritten by a day of
    /// another zone. The counters go on from their next day.
    fn forget_days_of_old_zone(&mut self) {
        let dropped = self.days.forget_all();
        self.settle.reset();
        self.reconcile = reconcile::Reconciler::new();
        if dropped > 0 {
            tracing::warn!(
                days = dropped,
                "kept days were dated in the old time zone; every window's days are fetched again under the new one"
            );
        }
    }

    /// Whether the collector `endpoint` belongs to is on.
    fn endpoint_on(&self, endpoint: Endpoint) -> bool {
        crate::collectors::owner(endpoint).is_none_or(|r| self.settings.collectors.contains(r.name))
    }

    /// [`Counting::update`] for the days completed by now: under the
    /// settling schedule yesterday may still change until it settles, so it
    /// is counted then, late calls and reviews included (a count is never
    /// taken back). `None` until the company's zone is known: without it
    /// days cannot be told apart.
    async fn update_ledger(&mut self, cycle: Option<&CycleResults>, deadline: Instant) -> Option<PollOutcome> {
        let on = |c| self.settings.collectors.contains(c);
        // Each part of the counters adds what its collector fetches.
        let activity = on(CollectorName::Counters) && on(CollectorName::Activity);
        let reviews = on(CollectorName::Counters) && on(CollectorName::Scorecards);
        if !activity && !reviews {
            return None;
        }
        let tz = self.zone.zone().cloned()?;
        let now = self.settings.clock.now();
        let today = company_date(now, &tz);
        let until = match self.settings.schedule {
            Schedule::Settling if now < self.settle.settled_at(today, &tz) => today.yesterday().unwrap_or(today),
            _ => today,
        };
        let input = CountInputs {
            client: &self.client,
            days: &self.days,
            tz: &tz,
            until,
            cycle,
            budget: &self.budget,
            metrics: &self.shared.self_metrics,
            deadline,
            activity,
            reviews,
            private_reviews: self.settings.private_reviews,
        };
        Some(self.counting.update(input).await)
    }

    /// Runs the coaching collector if it is on and due today, and applies
    /// what it returns. `None` when it did not run this cycle (off, refused
    /// today, done today, or no zone/users yet).
    async fn update_coaching(
        &mut self,
        bounds: &[WindowBounds],
        cycle_zone: &TimeZone,
        deadline: Instant,
    ) -> Option<PollOutcome> {
        let metrics = Arc::clone(&self.shared.self_metrics);
        let registration = CollectorName::Coaching.registration();
        // Off by flag: said once, at start.
        if !self.settings.collectors.contains(CollectorName::Coaching) {
            return None;
        }
        let tz = self.zone.zone().cloned().filter(|tz| tz == cycle_zone)?;
        let now = self.settings.clock.now();
        let today = company_date(now, &tz);
        match self.coaching.state_on(today) {
            CoachingState::Refused(_) => return None,
            CoachingState::Done(_) => {
                metrics.set_collector_enabled(registration.label, &registration.endpoints(), true);
                return None;
            }
            CoachingState::Due => metrics.set_collector_enabled(registration.label, &registration.endpoints(), true),
        }
        let users = Arc::clone(self.snapshot.users.as_ref()?);
        let input = CoachingInputs {
            client: &self.client,
            users: &users,
            bounds,
            tz: &tz,
            today,
            now,
            from_kept_days: self.settings.schedule == Schedule::Settling,
            budget: &self.budget,
            reserved: self.reserved_for_repolls(&tz),
            days: &mut self.days,
            deadline,
        };
        match self.coaching.run(input).await {
            CoachingRun::Refused(reason) => {
                self.snapshot.coaching = None;
                let why = format!("off until tomorrow: Gong refused coaching ({reason})");
                self.shared.collector_off(registration.label, &registration.endpoints(), why);
                None
            }
            CoachingRun::LeftOut { outcome, requests } => {
                self.plan.leave_out(format!("coaching: {requests} requests, more than the budget leaves"));
                Some(outcome)
            }
            CoachingRun::Ran { outcome, table } => {
                if let Some(table) = table {
                    self.snapshot.coaching = Some(Arc::new(table));
                }
                Some(outcome)
            }
        }
    }

    /// Requests today's planned re-polls and the windows' check will need
    /// (settling schedule).
    fn reserved_for_repolls(&self, tz: &TimeZone) -> u64 {
        if self.settings.schedule != Schedule::Settling {
            return 0;
        }
        let now = self.settings.clock.now();
        let check = self.check_planned_at(now, tz).map_or(0, |_| self.check_cost(self.settings.windows.len()));
        self.settle.plan_rest_of_day(now, tz).iter().map(|p| p.requests).sum::<u64>() + check
    }
}

/// Runs `work`, beating every [`HEARTBEAT_EVERY`] while it is pending: the
/// beat shows the poller task is alive and polled, through cycles of many
/// minutes and waits of hours alike.
async fn beating<F: Future>(shared: &Shared, work: F) -> F::Output {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => {
                shared.beat();
                return output;
            }
            () = tokio::time::sleep(HEARTBEAT_EVERY) => shared.beat(),
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

/// Logs a failed query; its part of the snapshot keeps its last good data.
fn log_failure(endpoint: Endpoint, window: Option<Window>, error: &GongError) {
    let window = window.map(|w| w.to_string()).unwrap_or_default();
    if error.is_auth() {
        tracing::error!(%endpoint, window, error = %error, "Gong refused the request; keeping the last good data");
    } else {
        tracing::warn!(%endpoint, window, error = %error, "endpoint failed this cycle; keeping the last good data");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `--gong.timezone` set, the landing page said the aggregate
    /// "learns the company's zone at start", though no request is sent for it.
    #[test]
    fn the_aggregate_learns_the_zone_only_when_none_is_configured() {
        let all = Enabled::default();
        let role = |schedule, configured| endpoint_role(Endpoint::ActivityAggregate, schedule, &all, configured);
        assert!(role(Schedule::Settling, false).starts_with("learns the company's zone at start"));
        let configured = role(Schedule::Settling, true);
        assert!(!configured.contains("zone"), "{configured}");
        assert!(configured.contains("once a day from the settle point"), "{configured}");
        assert!(!role(Schedule::Fixed, true).contains("zone"));
    }

    /// A poller started again after a panic goes on counting the day its
    /// client began, instead of granting itself a new allowance.
    #[test]
    fn a_restarted_poller_resumes_the_days_budget() {
        let config = crate::config::Config::demo(5);
        let metrics = Arc::new(crate::self_metrics::SelfMetrics::new());
        let client = Arc::new(GongClient::new(config.client.clone(), Arc::clone(&metrics)).unwrap());
        let today = jiff::civil::date(2026, 11, 29);
        client.start_budget_day(today, 40, 100);
        let shared = Shared::new(metrics);
        let poller = Poller::new(
            client,
            config.poller.clone(),
            shared,
            Ledger::open(None, None, Timestamp::now()).unwrap(),
            DayStore::open(None, Timestamp::now()).unwrap(),
        );
        assert_eq!(poller.budget.day(), Some((today, 40)));
    }
}
