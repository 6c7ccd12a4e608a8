//! The settling schedule (`--poll.schedule=settling`, the default).
//!
//! Every window ends at the start of today, so between two company
//! midnights only late data changes them: calls Gong processes hours after
//! they ended, reviews indexed late. The cycle after midnight fetches
//! everything; then each part that can still change (yesterday's activity,
//! yesterday's reviews, the interaction windows) is re-polled on its own
//! schedule ([`after_fetch`]) until `--poll.settle-for` after midnight.
//! Activity and review windows are built from kept days ([`DayStore`]), so a
//! re-poll fetches one day, not every window; interaction stats are ratios
//! over a whole window and are fetched whole. Users are fetched once a day,
//! and again when a stats answer names a user the last list did not have.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::cycle::{EndpointRun, fail_request, keep_interaction, keep_users, log_skipped};
use super::keeping::{DayKeeper, KeptAnswer};
use super::reconcile::{ReconcileInputs, Reconciler};
use super::schedule::{PartSchedule, after_fetch};
use super::{AFTER_MIDNIGHT, Poller, log_failure};
use crate::collectors::CollectorName;
use crate::collectors::activity::{self, ACTIVITY_FIELDS, ActivityTable, UserDailyActivity};
use crate::collectors::interaction::{self, PersonInteraction};
use crate::collectors::replace_window;
use crate::collectors::scorecards::{self, AnsweredScorecard, ScorecardTable};
use crate::collectors::users::{self, GongUser, UserTable};
use crate::days::{DayStore, PartKind};
use crate::endpoint::Endpoint;
use crate::gong::models::GongId;
use crate::gong::{Fetched, GongError};
use crate::published::PlannedCycle;
use crate::self_metrics::{PollOutcome, SelfMetrics};
use crate::windows::{Window, WindowBounds, all_window_bounds, company_date, next_company_midnight, start_of_day};

/// Parts due within this long of a cycle are fetched with it rather than
/// in a cycle of their own a few minutes later.
const COALESCE: Duration = Duration::from_secs(15 * 60);

/// The parts the settling schedule re-polls: the collectors whose
/// registration names a re-poll ([`crate::collectors::repolled`]).
pub type SettlingPart = CollectorName;

/// What the plan calls a part's re-poll.
fn describe(part: SettlingPart) -> &'static str {
    part.registration().repoll.unwrap_or(part.as_str())
}

/// The settling schedule's flags: how long yesterday may change and how
/// often it is re-polled meanwhile.
#[derive(Debug, Clone, Copy)]
pub(super) struct SettleSettings {
    /// `--poll.settle-for`: yesterday is final this long after midnight.
    pub settle_for: Duration,
    /// `--poll.settle-interval`: the first gap between re-polls.
    pub interval: Duration,
    /// `--poll.interval`: the shortest gap between cycles, and the wait
    /// before a failed fetch is tried again.
    pub floor: Duration,
}

/// The settling schedule's state for the current company day, and the
/// plan and next cycle that follow from it.
#[derive(Debug)]
pub(super) struct Settle {
    settings: SettleSettings,
    /// The company day the part schedules belong to.
    day: Option<Date>,
    /// `None`: not fetched yet this company day (due now).
    parts: BTreeMap<SettlingPart, PartSchedule>,
    /// Requests each part cost when last fetched (the plan's estimate).
    costs: BTreeMap<SettlingPart, u64>,
    interaction_hashes: BTreeMap<Window, u64>,
    users_day: Option<Date>,
    /// The day users were fetched again for an unknown user ID (once a day).
    users_refetched: Option<Date>,
    /// Parts whose collector is switched off: never fetched nor planned.
    off: BTreeSet<SettlingPart>,
}

/// Days before yesterday read again once a day, in the first cycle after
/// company midnight: Gong keeps changing days for longer than a settle
/// period (PostHog's Gong source re-reads the last 7 days of day-by-day "as
/// Gong finishes processing its calls"). Yesterday is fetched then anyway,
/// so the re-read widens that one query rather than adding one.
pub const REREAD_DAYS: i64 = 7;

/// When the next settling cycle runs, and the plan behind it.
#[derive(Debug)]
pub(super) struct NextCycle {
    pub at: Timestamp,
    /// The re-polls still planned today.
    pub planned: Vec<PlannedCycle>,
    /// The next re-poll was due before midnight but costs more than the
    /// budget leaves (its cost): moved to after midnight.
    pub over_budget: Option<u64>,
}

impl Settle {
    pub(super) fn new(settings: SettleSettings) -> Self {
        Self {
            settings,
            day: None,
            parts: BTreeMap::new(),
            costs: BTreeMap::new(),
            interaction_hashes: BTreeMap::new(),
            users_day: None,
            users_refetched: None,
            off: BTreeSet::new(),
        }
    }

    /// The same schedule without the parts of collectors switched off.
    pub(super) fn without(mut self, off: impl IntoIterator<Item = SettlingPart>) -> Self {
        self.off.extend(off);
        self
    }

    /// The parts re-polled while yesterday settles, off ones left out.
    fn repolled(&self) -> impl Iterator<Item = SettlingPart> + '_ {
        crate::collectors::repolled().filter(|p| !self.off.contains(p))
    }

    /// Forgets the day's schedules: every part is due at the next cycle.
    pub(super) fn reset(&mut self) {
        let off = std::mem::take(&mut self.off);
        *self = Self::new(self.settings).without(off);
    }

    /// When yesterday has settled: the start of `today` plus
    /// `--poll.settle-for`.
    pub(super) fn settled_at(&self, today: Date, tz: &TimeZone) -> Timestamp {
        let settle_for = jiff::SignedDuration::try_from(self.settings.settle_for).unwrap_or(jiff::SignedDuration::MAX);
        start_of_day(today, tz).checked_add(settle_for).unwrap_or(Timestamp::MAX)
    }

    /// The re-polls still planned today, as if every answer changed (the
    /// most they can cost), with each part's last cost.
    pub(super) fn plan_rest_of_day(&self, now: Timestamp, tz: &TimeZone) -> Vec<PlannedCycle> {
        let settled_at = self.settled_at(company_date(now, tz), tz);
        let mut at: BTreeMap<Timestamp, (Vec<&'static str>, u64)> = BTreeMap::new();
        for part in self.repolled() {
            let cost = self.costs.get(&part).copied().unwrap_or(0);
            let mut state = self.parts.get(&part).copied();
            while let Some(t) = state.and_then(|s| s.next) {
                let entry = at.entry(t).or_default();
                entry.0.push(describe(part));
                entry.1 += cost;
                state = Some(after_fetch(state, t, true, self.settings.interval, settled_at));
            }
        }
        at.into_iter().map(|(at, (what, requests))| PlannedCycle { at, what: what.join(", "), requests }).collect()
    }

    /// When the next cycle runs: the earliest re-poll due, or the moment
    /// yesterday settles if that comes first (the counters add yesterday
    /// then; with nothing due that cycle sends no request), never sooner
    /// than `--poll.interval` after the cycle that `started`; else the cycle
    /// after the next company midnight. The daily budget stays the safety
    /// net: a re-poll `remaining` cannot pay for waits for midnight.
    pub(super) fn next_cycle(&self, started: Timestamp, now: Timestamp, tz: &TimeZone, remaining: u64) -> NextCycle {
        // The midnight after the cycle's start: one that passed while the
        // cycle ran is due at once, not skipped for the next.
        let midnight = next_company_midnight(started, tz) + AFTER_MIDNIGHT;
        let floor = started + self.settings.floor;
        let planned = self.plan_rest_of_day(now, tz);
        let settles = Some(self.settled_at(company_date(started, tz), tz)).filter(|at| started < *at);
        let next = match [self.next_due(), settles].into_iter().flatten().min() {
            Some(due) => due.max(floor).min(midnight),
            None => midnight,
        };
        let next_cost = planned.first().map_or(0, |p| p.requests);
        if next < midnight && next_cost > remaining {
            return NextCycle { at: midnight, planned, over_budget: Some(next_cost) };
        }
        NextCycle { at: next, planned, over_budget: None }
    }

    /// A new company day: every part and the users are due.
    fn roll(&mut self, today: Date) {
        if self.day != Some(today) {
            self.day = Some(today);
            self.parts.clear();
            self.interaction_hashes.clear();
        }
    }

    /// What to ask Gong at `timing.now`, from the schedule and the kept
    /// days alone (no request). A due part fetches yesterday and any day of
    /// the windows not kept (a fresh start, a failed fetch): one query from
    /// the earliest. Yesterday kept from a fetch after it settled (before a
    /// restart with --storage.path) is final. Today's re-read of the 7 days
    /// before yesterday is due while the day before yesterday was last
    /// fetched before today began (kept days carry when they were fetched,
    /// so a restart does not read them again); it widens the activity query.
    pub(super) fn due_queries(
        &self,
        days: &DayStore,
        first: Date,
        today: Date,
        tz: &TimeZone,
        timing: &Timing,
        users_known: bool,
    ) -> DueQueries {
        let yesterday = today.yesterday().unwrap_or(today);
        let range = |kind: PartKind, part: SettlingPart| -> Option<(Date, Date)> {
            if self.off.contains(&part) {
                return None;
            }
            let final_kept = days.fetched_at(yesterday, kind).is_some_and(|at| at >= timing.settled_at);
            let due = self.due(part, timing.now) && !final_kept;
            let missing = days.missing(kind, first, today);
            let from = match (due, missing.first()) {
                (true, Some(m)) => Some((*m).min(yesterday)),
                (true, None) => Some(yesterday),
                (false, Some(m)) => Some(*m),
                (false, None) => None,
            };
            from.filter(|f| *f < today).map(|f| (f, today))
        };
        let before_yesterday = yesterday.yesterday().unwrap_or(yesterday);
        let reread = (!self.off.contains(&CollectorName::Activity))
            .then(|| days.fetched_at(before_yesterday, PartKind::Activity))
            .flatten()
            .is_some_and(|at| at < start_of_day(today, tz))
            .then(|| today.checked_sub(jiff::Span::new().days(REREAD_DAYS + 1)).unwrap_or(today).max(first))
            .filter(|from| *from < yesterday);
        let activity = match (range(PartKind::Activity, CollectorName::Activity), reread) {
            (Some((from, to)), Some(back)) => Some((from.min(back), to)),
            (None, Some(back)) => Some((back, today)),
            (range, None) => range,
        };
        DueQueries {
            activity,
            reread: reread.is_some(),
            reviews: range(PartKind::Scorecards, CollectorName::Scorecards),
            interaction: !self.off.contains(&CollectorName::Interaction)
                && self.due(CollectorName::Interaction, timing.now),
            users: self.users_day != Some(today) || !users_known,
        }
    }

    fn due(&self, part: SettlingPart, now: Timestamp) -> bool {
        match self.parts.get(&part) {
            None => true,
            Some(schedule) => schedule.next.is_some_and(|next| next <= now + COALESCE),
        }
    }

    /// The earliest time any part is due; `None` when all have settled.
    pub fn next_due(&self) -> Option<Timestamp> {
        if self.repolled().any(|p| !self.parts.contains_key(&p)) {
            return Some(Timestamp::UNIX_EPOCH);
        }
        self.parts.values().filter_map(|s| s.next).min()
    }

    /// Schedules the parts fetched in one cycle. Late calls move activity
    /// and interaction together: one unchanged answer among changing ones is
    /// no sign that yesterday has settled, so a gap widens only when nothing
    /// fetched in the cycle changed.
    fn cycle_fetched(&mut self, fetches: Vec<(SettlingPart, Fetch)>, timing: &Timing) {
        let any_changed = fetches.iter().any(|(_, f)| matches!(f, Fetch::Answered { changed: true }));
        for (part, fetch) in fetches {
            let fetch = match fetch {
                Fetch::Answered { .. } => Fetch::Answered { changed: any_changed },
                Fetch::Failed => Fetch::Failed,
            };
            self.fetched(part, fetch, timing);
        }
    }

    /// The schedule of a fetched part: `changed` picks the next gap, a
    /// failure retries after `retry`.
    fn fetched(&mut self, part: SettlingPart, outcome: Fetch, settings: &Timing) {
        let previous = self.parts.get(&part).copied();
        let schedule = match outcome {
            Fetch::Answered { changed } => {
                after_fetch(previous, settings.now, changed, settings.interval, settings.settled_at)
            }
            Fetch::Failed => PartSchedule {
                gap: previous.map_or(settings.interval, |p| p.gap),
                next: Some(settings.now + settings.retry),
            },
        };
        self.parts.insert(part, schedule);
    }
}

/// What a part's fetch came to.
#[derive(Debug, Clone, Copy)]
enum Fetch {
    Answered { changed: bool },
    Failed,
}

/// The clock readings a cycle schedules by.
pub(super) struct Timing {
    now: Timestamp,
    interval: Duration,
    retry: Duration,
    /// Yesterday's end plus `--poll.settle-for`.
    settled_at: Timestamp,
}

/// Keeps a dated part's answer with `keep` (which says whether the answer
/// changed) and notes what it cost; what the fetch came to, for the
/// schedule.
fn keep_part<T>(
    costs: &mut BTreeMap<SettlingPart, u64>,
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
            costs.insert(part, u64::from(fetched.pages.max(1)));
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
        let interaction = async {
            if due.interaction {
                Some(EndpointRun::per_window(bounds, |b| interaction::fetch(&client, b.from, b.to, deadline)).await)
            } else {
                None
            }
        };
        let users =
            async { if due.users { Some(EndpointRun::once(users::fetch(&client, deadline)).await) } else { None } };
        let (activity, reviews, interaction, users) = tokio::join!(activity, reviews, interaction, users);
        DueFetches { activity, reviews, interaction, users, reread: due.reread }
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
        let DueFetches { activity, reviews, interaction, users, reread } = fetched;
        // A part with nothing to fetch (its days kept as final before a
        // restart) is settled for today.
        for (part, range) in
            [(CollectorName::Activity, activity.is_some()), (CollectorName::Scorecards, reviews.is_some())]
        {
            if !range {
                self.settle.parts.entry(part).or_insert(PartSchedule { gap: timing.interval, next: None });
            }
        }
        let today = self.settle.day.expect("rolled");
        let yesterday = today.yesterday().unwrap_or(today);
        let mut outcomes = Vec::new();
        let mut fetches = Vec::new();

        if let Some(run) = users {
            let outcome = keep_users(&mut self.snapshot, run);
            if outcome.ok {
                self.settle.users_day = Some(today);
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
            let repoll_cost = self.settle.costs.get(&CollectorName::Activity).copied();
            let (outcome, fetch) = keep_part(
                &mut self.settle.costs,
                CollectorName::Activity,
                Endpoint::ActivityDayByDay,
                result,
                &self.shared.self_metrics,
                |fetched| keeper.activity(fetched, from, to),
            );
            if reread && let Some(cost) = repoll_cost {
                self.settle.costs.insert(CollectorName::Activity, cost);
            }
            fetches.push((CollectorName::Activity, fetch));
            outcomes.push((Endpoint::ActivityDayByDay, outcome));
        }
        if let Some(((from, to), result)) = reviews {
            let (outcome, fetch) = keep_part(
                &mut self.settle.costs,
                CollectorName::Scorecards,
                Endpoint::Scorecards,
                result,
                &self.shared.self_metrics,
                |fetched| keeper.reviews(fetched, from, to),
            );
            fetches.push((CollectorName::Scorecards, fetch));
            outcomes.push((Endpoint::Scorecards, outcome));
        }

        if let Some(run) = interaction {
            let zone = run.results.iter().find_map(|(_, r)| r.as_ref().ok()?.time_zone.clone());
            let pages: u64 = run.results.iter().map(|(_, r)| r.as_ref().map_or(1, |f| u64::from(f.pages.max(1)))).sum();
            let (snapshot, hashes) = (&mut self.snapshot, &mut self.settle.interaction_hashes);
            let mut changed = false;
            let outcome = run.settle(Endpoint::Interaction, |window, items| {
                let hash = interaction_hash(&items);
                let (records, window) = keep_interaction(snapshot, window, items);
                changed |= hashes.insert(window, hash) != Some(hash);
                records
            });
            self.settle.costs.insert(CollectorName::Interaction, pages);
            let fetch = if outcome.ok { Fetch::Answered { changed } } else { Fetch::Failed };
            fetches.push((CollectorName::Interaction, fetch));
            outcomes.push((Endpoint::Interaction, outcome));
            if let Some(name) = zone {
                self.check_reported_zone(&name, Endpoint::Interaction);
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
        if self.settle.users_refetched == Some(today) || self.settle.users_day != Some(today) {
            return;
        }
        let Some(users) = self.snapshot.users.clone() else { return };
        let known: HashSet<GongId> = users.users.iter().map(|u| u.id).collect();
        let in_activity = self.days.day(yesterday).and_then(|d| d.activity.as_ref()).map(|p| &p.data);
        let unknown = in_activity
            .into_iter()
            .flat_map(|a| a.keys())
            .chain(self.snapshot.interaction.iter().flat_map(|t| t.rows.iter().map(|r| &r.user_id)));
        let Some(stranger) = unknown.copied().find(|id| !known.contains(id)) else { return };
        tracing::info!(user_id = %stranger, "a stats answer names a user the user list does not have; fetching the users again");
        self.settle.users_refetched = Some(today);
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
        let today = self.settle.day?;
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
        let today = self.settle.day?;
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
        if self.settle.day.is_none() {
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

/// What a settling cycle asks Gong for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DueQueries {
    /// Day-by-day activity for these company days.
    activity: Option<(Date, Date)>,
    /// `activity` includes today's re-read of the last days.
    reread: bool,
    /// Answered scorecards reviewed on these days.
    reviews: Option<(Date, Date)>,
    /// Every interaction window, whole.
    interaction: bool,
    users: bool,
}

/// What a settling cycle fetched.
struct DueFetches {
    activity: Ranged<UserDailyActivity>,
    reviews: Ranged<AnsweredScorecard>,
    interaction: Option<EndpointRun<PersonInteraction>>,
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
        if self.interaction.is_some() {
            what.push("interaction".to_owned());
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

/// A hash of an interaction answer, to tell a changed answer from the same.
fn interaction_hash(people: &[PersonInteraction]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for person in people {
        person.user_id.hash(&mut hasher);
        for stat in &person.person_interaction_stats {
            stat.name.hash(&mut hasher);
            stat.value.map(f64::to_bits).hash(&mut hasher);
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn timing(hours: i64) -> Timing {
        Timing {
            now: Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(hours),
            interval: HOUR,
            retry: Duration::from_secs(60),
            settled_at: Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(12),
        }
    }

    #[test]
    fn an_unchanged_part_keeps_the_short_gap_while_another_part_still_changes() {
        let mut settle = Settle::new(SettleSettings { settle_for: 12 * HOUR, interval: HOUR, floor: HOUR });
        let all = |changed: [bool; 3]| {
            crate::collectors::repolled().zip(changed.map(|c| Fetch::Answered { changed: c })).collect()
        };
        settle.cycle_fetched(all([true, true, true]), &timing(0));
        // Reviews stopped changing, activity did not: reviews stay on the
        // one-hour gap, so a review arriving late is still seen within it.
        settle.cycle_fetched(all([true, false, true]), &timing(1));
        assert!(settle.parts.values().all(|p| p.gap == HOUR), "{:?}", settle.parts);
        // Nothing changed: every gap doubles.
        settle.cycle_fetched(all([false, false, false]), &timing(2));
        assert!(settle.parts.values().all(|p| p.gap == 2 * HOUR), "{:?}", settle.parts);
        // A failure retries soon and keeps its gap.
        settle.cycle_fetched(vec![(CollectorName::Scorecards, Fetch::Failed)], &timing(4));
        let reviews = settle.parts[&CollectorName::Scorecards];
        assert_eq!((reviews.gap, reviews.next), (2 * HOUR, Some(timing(4).now + jiff::SignedDuration::from_secs(60))));
    }

    #[test]
    fn the_next_cycle_is_the_earliest_repoll_unless_the_budget_cannot_pay_for_it() {
        let mut settle = Settle::new(SettleSettings { settle_for: 12 * HOUR, interval: HOUR, floor: HOUR });
        let all = crate::collectors::repolled().map(|p| (p, Fetch::Answered { changed: true })).collect();
        settle.cycle_fetched(all, &timing(0));
        settle.costs.insert(CollectorName::Activity, 3);
        let (start, tz) = (timing(0).now, TimeZone::UTC);
        let next = settle.next_cycle(start, start, &tz, 100);
        assert_eq!((next.at, next.over_budget), (timing(1).now, None));
        assert_eq!(next.planned.first().map(|p| (p.at, p.requests)), Some((timing(1).now, 3)));
        assert!(next.planned.iter().all(|p| p.at <= timing(12).now), "no re-poll after yesterday settles");

        // Every part settled early (nothing changed): the next cycle is the
        // moment yesterday settles, when the counters add it.
        let mut quiet = Settle::new(SettleSettings { settle_for: 12 * HOUR, interval: HOUR, floor: HOUR });
        let unchanged = crate::collectors::repolled().map(|p| (p, PartSchedule { gap: 8 * HOUR, next: None }));
        quiet.parts.extend(unchanged);
        assert_eq!(quiet.next_cycle(timing(9).now, timing(9).now, &tz, 100).at, timing(12).now);
        let after = quiet.next_cycle(timing(12).now, timing(12).now, &tz, 100).at;
        assert_eq!(after, timing(24).now + jiff::SignedDuration::try_from(AFTER_MIDNIGHT).unwrap(), "then midnight");

        let broke = settle.next_cycle(start, start, &tz, 2);
        let midnight = timing(24).now + jiff::SignedDuration::try_from(AFTER_MIDNIGHT).unwrap();
        assert_eq!((broke.at, broke.over_budget), (midnight, Some(3)), "waits for midnight, and says why");
    }

    /// What a cycle asks for comes from the schedule and the kept days
    /// alone: the first cycle of a day widens yesterday's activity query to
    /// the 7 days before it; once those were fetched today (this run or
    /// before a restart) they are not read again; yesterday fetched after
    /// it settled is final; a day not kept is fetched from.
    #[test]
    fn the_first_cycle_of_a_day_reads_the_last_days_again_and_no_later_one() {
        use jiff::civil::date;
        let tz = TimeZone::UTC;
        let (first, today) = (date(2026, 11, 12), date(2026, 12, 10));
        let yesterday = today.yesterday().unwrap();
        let midnight = start_of_day(today, &tz);
        let at = |minutes: i64| midnight + jiff::SignedDuration::from_mins(minutes);
        let timing = |minutes: i64| Timing { now: at(minutes), interval: HOUR, retry: HOUR, settled_at: at(12 * 60) };
        let keep_all = |days: &mut DayStore, from: Date, fetched: Timestamp| {
            for day in crate::days::days_of(from, today) {
                days.keep_activity(day, fetched, BTreeMap::new(), &BTreeMap::new()).unwrap();
                days.keep_reviews(day, fetched, Vec::new()).unwrap();
            }
        };
        let settle = Settle::new(SettleSettings { settle_for: 12 * HOUR, interval: HOUR, floor: HOUR });
        let mut days = DayStore::in_memory();
        keep_all(&mut days, first, at(-12 * 60));

        let q = settle.due_queries(&days, first, today, &tz, &timing(10), true);
        let back = date(2026, 12, 2);
        assert_eq!((q.activity, q.reread), (Some((back, today)), true), "yesterday and the 7 days before");
        assert_eq!(q.reviews, Some((yesterday, today)), "reviews are not read again");
        assert!(q.interaction && q.users, "the day's first cycle fetches interaction and the users");

        keep_all(&mut days, back, at(10));
        let q = settle.due_queries(&days, first, today, &tz, &timing(180), true);
        assert_eq!((q.activity, q.reread), (Some((yesterday, today)), false), "read again once a day");

        keep_all(&mut days, yesterday, at(12 * 60 + 5));
        let q = settle.due_queries(&days, first, today, &tz, &timing(13 * 60), true);
        assert_eq!((q.activity, q.reviews), (None, None), "yesterday is final");

        let mut missing = DayStore::in_memory();
        for day in crate::days::days_of(first, today).filter(|d| *d != date(2026, 11, 20)) {
            missing.keep_activity(day, at(10), BTreeMap::new(), &BTreeMap::new()).unwrap();
        }
        let q = settle.due_queries(&missing, first, today, &tz, &timing(13 * 60), false);
        assert_eq!(q.activity, Some((date(2026, 11, 20), today)), "from the day not kept");
    }
}
