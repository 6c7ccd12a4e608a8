//! The settling schedule (`--poll.schedule=settling`, the default).
//!
//! Every window ends at the start of today, so between two company
//! midnights only late data changes them: calls Gong processes hours after
//! they ended, reviews indexed late. The cycle after midnight fetches
//! everything; then each part that can still change (yesterday's activity,
//! yesterday's reviews, the interaction windows) is re-polled on its own
//! schedule ([`Settle`], whose state and decisions live in [`super::settle`])
//! until `--poll.settle-for` after midnight.
//! Activity and review windows are built from kept days ([`DayStore`]), so a
//! re-poll fetches one day, not every window; interaction stats are ratios
//! over a whole window and are fetched whole. Users are fetched once a day,
//! and again when a stats answer names a user the last list did not have.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::cycle::{EndpointRun, WindowedRun, fail_request, fetch_windowed, keep_users, keep_windows, log_skipped};
use super::keeping::{DayKeeper, KeptAnswer};
use super::reconcile::{ReconcileInputs, Reconciler};
use super::settle::{Fetch, NextCycle, Settle, SettlingPart, Timing};
use super::{Poller, log_failure};
use crate::collectors::activity::{self, ACTIVITY_FIELDS, ActivityTable, UserDailyActivity};
use crate::collectors::replace_window;
use crate::collectors::scorecards::{self, AnsweredScorecard, ScorecardTable};
use crate::collectors::users::{self, GongUser, UserTable};
use crate::collectors::{CollectorName, windowed_on};
use crate::days::{DayStore, PartKind};
use crate::endpoint::Endpoint;
use crate::gong::models::GongId;
use crate::gong::{Fetched, GongError};
use crate::published::PlannedCycle;
use crate::self_metrics::{PollOutcome, SelfMetrics};
use crate::windows::{Window, WindowBounds, all_window_bounds, company_date, next_company_midnight};

/// Keeps a dated part's answer with `keep` (which says whether the answer
/// changed) and notes what it cost; what the fetch came to, for the
/// schedule.
fn keep_part<T>(
    settle: &mut Settle,
    part: SettlingPart,
    endpoint: Endpoint,
    result: Result<Fetched<T>, GongError>,
    metrics: &SelfMetrics,
    keep: impl FnOnce(Fetched<T>) -> KeptAnswer,
) -> (PollOutcome, Fetch) {
    let mut outcome = PollOutcome::success();
    let fetch = match result {
        Ok(fetched) => {
            log_skipped(endpoint, fetched.skipped, fetched.skipped_request_id.as_deref());
            settle.set_cost(part, u64::from(fetched.pages.max(1)));
            outcome.records.push((Some(Window::ONE_DAY), fetched.items.len()));
            let KeptAnswer { changed, unsaved } = keep(fetched);
            if let Some(error) = unsaved {
                // The poll worked: the days are in memory and serve the
                // windows. Asking Gong again would not mend the disk.
                tracing::error!(
                    %error,
                    "cannot write the fetched days under --storage.path; they are kept in memory and written again each cycle, without asking Gong again"
                );
                metrics.storage_error(crate::ledger::failed_file(&error));
            }
            Fetch::Answered { changed }
        }
        Err(error) => {
            log_failure(endpoint, None, &error);
            fail_request(&mut outcome, &error);
            Fetch::Failed
        }
    };
    (outcome, fetch)
}

/// A date range to fetch, and the fetch.
type Ranged<T> = Option<((Date, Date), Result<Fetched<T>, GongError>)>;

impl Poller {
    /// One settling cycle: fetch the parts that are due, keep their days,
    /// rebuild windows from kept days, publish. Returns when the next cycle
    /// is due.
    pub(super) async fn run_settling_cycle(&mut self, deadline: Instant) -> Timestamp {
        if self.zone.zone().is_none() {
            self.probe_time_zone(deadline).await;
        }
        let Some(tz) = self.zone.zone().cloned() else {
            // Without the company's zone days cannot be told apart: fetch
            // every window whole (in UTC-12 dates) until Gong names it.
            self.run_cycle(deadline).await;
            return self.settings.clock.now() + self.settings.poll_interval;
        };
        let now = self.settings.clock.now();
        let today = company_date(now, &tz);
        self.settle.roll(today);
        self.plan.start_cycle(today);
        let bounds = all_window_bounds(&self.settings.windows, now, &tz);
        let first = bounds.iter().map(|b| b.from).min().unwrap_or(today);
        self.days.forget_before(first);
        let timing = Timing {
            now,
            interval: self.settings.settle_interval,
            retry: self.settings.poll_interval,
            settled_at: self.settle.settled_at(today, &tz),
        };
        if let Err(error) = self.days.save_unsaved() {
            tracing::warn!(%error, unsaved_days = self.days.unsaved(), "kept days still cannot be written under --storage.path; they stay in memory");
            self.shared.self_metrics.storage_error(crate::ledger::failed_file(&error));
        }
        let sent_before = self.client.requests_sent();
        let once_a_day = super::OnceADay::before(&self.client);
        let fetched = self.fetch_due(&bounds, first, today, &tz, &timing, deadline).await;
        let mut what = fetched.describe();
        let mut outcomes = self.keep_and_build(fetched, &bounds, &tz, &timing, deadline).await;
        if let Some(outcome) = self.check_windows(&bounds, &timing, deadline).await {
            what.push_str(", activity windows checked against Gong's aggregate");
            outcomes.push((Endpoint::ActivityAggregate, outcome));
        }
        self.reconcile.correct(today, &mut self.snapshot.activity);
        let counting = self.update_ledger(None, deadline).await;
        self.publish_cycle(outcomes, counting, &bounds, &tz, deadline).await;
        let cost = self.client.requests_sent() - sent_before;
        self.plan.cycle_done(now, once_a_day.describe(&self.client, what), cost);
        self.next_settling_cycle(now, &tz)
    }

    /// Sends the queries of every part due at `timing.now`.
    async fn fetch_due(
        &mut self,
        bounds: &[WindowBounds],
        first: Date,
        today: Date,
        tz: &TimeZone,
        timing: &Timing,
        deadline: Instant,
    ) -> DueFetches {
        let users_known = self.snapshot.users.is_some();
        let due = self.settle.due_queries(&self.days, first, today, tz, timing, users_known);
        let client = Arc::clone(&self.client);
        let activity = async {
            match due.activity {
                Some((a, b)) => Some(((a, b), activity::day_by_day(&client, a, b, tz, deadline).await)),
                None => None,
            }
        };
        let private = self.settings.private_reviews;
        let reviews = async {
            match due.reviews {
                Some((a, b)) => Some(((a, b), scorecards::fetch(&client, a, b, private, deadline).await)),
                None => None,
            }
        };
        let due_windowed = windowed_on(&self.settings.collectors).filter(|c| due.windowed.contains(&c.name));
        let windowed = fetch_windowed(&client, due_windowed, bounds, deadline);
        let users =
            async { if due.users { Some(EndpointRun::once(users::fetch(&client, deadline)).await) } else { None } };
        let (activity, reviews, windowed, users) = tokio::join!(activity, reviews, windowed, users);
        DueFetches { activity, reviews, windowed, users, reread: due.reread }
    }

    /// Keeps what arrived, schedules each part again, and rebuilds the
    /// windows from kept days. Returns each endpoint's outcome.
    async fn keep_and_build(
        &mut self,
        fetched: DueFetches,
        bounds: &[WindowBounds],
        tz: &TimeZone,
        timing: &Timing,
        deadline: Instant,
    ) -> Vec<(Endpoint, PollOutcome)> {
        let DueFetches { activity, reviews, windowed, users, reread } = fetched;
        // A part with nothing to fetch (its days kept as final before a
        // restart) is settled for today.
        for (part, range) in
            [(CollectorName::Activity, activity.is_some()), (CollectorName::Scorecards, reviews.is_some())]
        {
            if !range {
                self.settle.nothing_to_fetch(part);
            }
        }
        let today = self.settle.day().expect("rolled");
        let yesterday = today.yesterday().unwrap_or(today);
        let mut outcomes = Vec::new();
        let mut fetches = Vec::new();

        if let Some(run) = users {
            let outcome = keep_users(&mut self.snapshot, run);
            if outcome.ok {
                self.settle.users_listed(today);
            }
            outcomes.push((Endpoint::Users, outcome));
        }

        let mut keeper = DayKeeper {
            store: &mut self.days,
            counting: &mut self.counting,
            metrics: &self.shared.self_metrics,
            tz,
            now: timing.now,
            yesterday,
        };
        if let Some(((from, to), result)) = activity {
            // The re-read's pages (8 days of users) are not what a re-poll
            // of yesterday costs: the plan keeps the last re-poll's.
            let repoll_cost = self.settle.cost(CollectorName::Activity);
            let (outcome, fetch) = keep_part(
                &mut self.settle,
                CollectorName::Activity,
                Endpoint::ActivityDayByDay,
                result,
                &self.shared.self_metrics,
                |fetched| keeper.activity(fetched, from, to),
            );
            if reread && let Some(cost) = repoll_cost {
                self.settle.set_cost(CollectorName::Activity, cost);
            }
            fetches.push((CollectorName::Activity, fetch));
            outcomes.push((Endpoint::ActivityDayByDay, outcome));
        }
        if let Some(((from, to), result)) = reviews {
            let (outcome, fetch) = keep_part(
                &mut self.settle,
                CollectorName::Scorecards,
                Endpoint::Scorecards,
                result,
                &self.shared.self_metrics,
                |fetched| keeper.reviews(fetched, from, to),
            );
            fetches.push((CollectorName::Scorecards, fetch));
            outcomes.push((Endpoint::Scorecards, outcome));
        }

        for (collector, run) in windowed {
            let (part, endpoint) = (collector.name, collector.stats.endpoint());
            let zone = run.first_zone();
            let pages: u64 = run.results.iter().map(|(_, r)| r.as_ref().map_or(1, |f| u64::from(f.pages.max(1)))).sum();
            let (snapshot, settle) = (&mut self.snapshot, &mut self.settle);
            let mut changed = false;
            let outcome = run.settle(endpoint, |_, answers| {
                keep_windows(snapshot, collector.stats, answers, |window, hash| {
                    changed |= settle.window_changed(part, window, hash);
                })
            });
            self.settle.set_cost(part, pages);
            let fetch = if outcome.ok { Fetch::Answered { changed } } else { Fetch::Failed };
            fetches.push((part, fetch));
            outcomes.push((endpoint, outcome));
            if let Some(name) = zone {
                self.check_reported_zone(&name, endpoint);
            }
        }

        self.settle.cycle_fetched(fetches, timing);
        self.refetch_users_for_unknown(today, yesterday, deadline, &mut outcomes).await;
        self.build_windows(bounds, tz);
        outcomes
    }

    /// Fetches the users again, once a day, when yesterday's activity or an
    /// interaction answer names a user the last list did not have.
    async fn refetch_users_for_unknown(
        &mut self,
        today: Date,
        yesterday: Date,
        deadline: Instant,
        outcomes: &mut Vec<(Endpoint, PollOutcome)>,
    ) {
        if !self.settle.users_refetch_due(today) {
            return;
        }
        let Some(users) = self.snapshot.users.clone() else { return };
        let known: HashSet<GongId> = users.users.iter().map(|u| u.id).collect();
        let in_activity = self.days.day(yesterday).and_then(|d| d.activity.as_ref()).map(|p| &p.data);
        let unknown = in_activity
            .into_iter()
            .flat_map(|a| a.keys().copied())
            .chain(self.snapshot.windowed.values().flat_map(|t| t.user_ids()));
        let Some(stranger) = unknown.into_iter().find(|id| !known.contains(id)) else { return };
        tracing::info!(user_id = %stranger, "a stats answer names a user the user list does not have; fetching the users again");
        self.settle.users_refetched(today);
        let run = EndpointRun::once(users::fetch(&self.client, deadline)).await;
        outcomes.push((Endpoint::Users, keep_users(&mut self.snapshot, run)));
    }

    /// Rebuilds the activity and scorecard windows from kept days; a window
    /// whose days are not all kept (a fetch failed) keeps its last table.
    fn build_windows(&mut self, bounds: &[WindowBounds], tz: &TimeZone) {
        for b in bounds {
            if self.days.covers(PartKind::Activity, b.from, b.to) {
                let table = activity_window(&self.days, b, self.snapshot.users.as_deref());
                replace_window(&mut self.snapshot.activity, table);
            }
        }
        let (from, to) = (bounds.iter().map(|b| b.from).min(), bounds.iter().map(|b| b.to).max());
        if let (Some(from), Some(to)) = (from, to)
            && self.days.covers(PartKind::Scorecards, from, to)
        {
            self.snapshot.scorecards = Some(Arc::new(ScorecardTable::build(self.days.reviews(from, to), bounds, tz)));
        }
    }

    /// Once a day, from the settle point on (yesterday's activity is what
    /// the windows keep for the rest of the day) and once every window is
    /// built from kept days, checks the windows against Gong's aggregate
    /// ([`Reconciler`]). `None` when no check ran.
    async fn check_windows(
        &mut self,
        bounds: &[WindowBounds],
        timing: &Timing,
        deadline: Instant,
    ) -> Option<PollOutcome> {
        let today = self.settle.day()?;
        let all_built = bounds.iter().all(|b| self.days.covers(PartKind::Activity, b.from, b.to));
        if !self.reconcile.due(today) || timing.now < timing.settled_at || !all_built {
            return None;
        }
        let cost = self.check_cost(bounds.len());
        let remaining = self.budget.remaining(self.client.requests_sent());
        if cost > remaining {
            tracing::warn!(
                cost,
                remaining,
                "daily budget: no room to check the activity windows against Gong's aggregate today"
            );
            self.reconcile.skip(today);
            return None;
        }
        let input = ReconcileInputs { client: &self.client, bounds, built: &self.snapshot.activity, today, deadline };
        Some(self.reconcile.check(input).await)
    }

    /// When today's check of the activity windows against Gong's is due (the
    /// settle point, or now when it passed), if it is still to come today:
    /// a settle point past midnight (`--poll.settle-for` of a day or more)
    /// has no check.
    pub(super) fn check_planned_at(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let today = self.settle.day()?;
        let at = self.settle.settled_at(today, tz);
        let due = self.reconcile.due(today) && self.settings.collectors.contains(CollectorName::Activity);
        (due && at < next_company_midnight(now, tz)).then_some(at)
    }

    /// Requests one check of `windows` windows costs, at today's user count.
    pub(super) fn check_cost(&self, windows: usize) -> u64 {
        let users = self.snapshot.users.as_ref().map_or(0, |t| t.users.iter().filter(|u| u.active).count());
        Reconciler::cost(windows, users)
    }

    /// [`Settle::next_cycle`], with its plan published and a re-poll the
    /// budget cannot pay for logged.
    fn next_settling_cycle(&mut self, started: Timestamp, tz: &TimeZone) -> Timestamp {
        let sent = self.client.requests_sent();
        let remaining = self.budget.remaining(sent);
        let now = self.settings.clock.now();
        let NextCycle { mut at, mut planned, over_budget } = self.settle.next_cycle(started, now, tz, remaining);
        if self.settle.day().is_none() {
            // Reset mid-cycle (the company's zone changed): every window's
            // days are fetched again a --poll.interval on, not at midnight.
            at = at.min(now + self.settings.poll_interval);
        }
        if let Some(check_at) = self.check_planned_at(now, tz) {
            // A check that failed part way is asked again a --poll.interval on.
            at = at.min(check_at.max(now + self.settings.poll_interval));
            let what = "activity windows checked against Gong's aggregate".to_owned();
            let requests = self.check_cost(self.settings.windows.len());
            plan_at(&mut planned, PlannedCycle { at: check_at.max(now), what, requests });
        }
        let metrics = &self.shared.self_metrics;
        metrics.set_planned_today(self.budget.used(sent) + planned.iter().map(|p| p.requests).sum::<u64>());
        if let Some(next_cost) = over_budget {
            tracing::warn!(
                next_cost,
                remaining,
                "daily budget: the next re-poll does not fit in what is left of today's share; next cycle shortly after midnight (company time)"
            );
        }
        self.plan.set_future(planned);
        self.shared.set_plan(self.plan.clone());
        metrics.set_next_cycle(at.as_millisecond() as f64 / 1000.0);
        at
    }
}

/// Adds `cycle` to the plan, into the cycle planned at the same time if any.
fn plan_at(planned: &mut Vec<PlannedCycle>, cycle: PlannedCycle) {
    match planned.iter_mut().find(|p| p.at == cycle.at) {
        Some(same) => {
            same.what = format!("{}, {}", same.what, cycle.what);
            same.requests += cycle.requests;
        }
        None => {
            planned.push(cycle);
            planned.sort_by_key(|p| p.at);
        }
    }
}

/// What a settling cycle fetched.
struct DueFetches {
    activity: Ranged<UserDailyActivity>,
    reviews: Ranged<AnsweredScorecard>,
    windowed: Vec<WindowedRun>,
    users: Option<EndpointRun<GongUser>>,
    /// The activity range includes today's re-read of the last days.
    reread: bool,
}

impl DueFetches {
    /// One line for the plan: what this cycle fetched.
    fn describe(&self) -> String {
        let mut what = Vec::new();
        let days = |(a, b): (Date, Date)| {
            let n = (b - a).get_days();
            if n == 1 { format!("{a}") } else { format!("{n} days from {a}") }
        };
        if let Some((range, _)) = &self.activity {
            let reread = if self.reread { " (the last days re-read)" } else { "" };
            what.push(format!("activity {}{reread}", days(*range)));
        }
        if let Some((range, _)) = &self.reviews {
            what.push(format!("scorecards {}", days(*range)));
        }
        for (collector, _) in &self.windowed {
            what.push(collector.name.as_str().to_owned());
        }
        if self.users.is_some() {
            what.push("users".to_owned());
        }
        if what.is_empty() { "nothing due".to_owned() } else { what.join(", ") }
    }
}

/// A window of activity from kept days: each call once, however many
/// days list it. Like Gong's aggregate answer, every active user is listed
/// (zeros when idle), unless nobody did anything in the window.
fn activity_window(days: &DayStore, b: &WindowBounds, users: Option<&UserTable>) -> ActivityTable {
    let mut sum = days.activity_window(b.from, b.to);
    if !sum.is_empty() {
        for user in users.iter().flat_map(|t| t.users.iter()).filter(|u| u.active) {
            sum.entry(user.id).or_insert_with(|| ACTIVITY_FIELDS.iter().map(|f| (*f, 0)).collect());
        }
    }
    let email_of: BTreeMap<GongId, &str> =
        users.iter().flat_map(|t| t.users.iter()).map(|u| (u.id, u.email.as_str())).collect();
    let rows = sum
        .iter()
        .map(|(id, counts)| {
            let email = days.email(*id).or_else(|| email_of.get(id).copied()).unwrap_or_default();
            (*id, email, counts.iter().map(|(name, count)| (*name, *count as f64)).collect())
        })
        .collect();
    ActivityTable::from_counts(b.window, rows)
}
