//! The coaching collector: once a company day (and at start), one
//! `GET /v2/coaching` per workspace, manager and window, managers top down,
//! leaving out a manager an earlier answer for the same workspace and
//! window held (one answer may list the managers below). Gong refusing it
//! (403, or 404 on every one of the first requests: the plan lacks
//! coaching) turns it off until the next company day.
//!
//! The request plan and the day state are plain data ([`plan`],
//! [`CoachingState`]), tested without a Gong; the poller only sends what the
//! plan lists.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::budget::DailyBudget;
use super::cycle::fail_request;
use super::log_failure;
use crate::collectors::coaching::{
    self as collector, CallIds, CoachingAnswer, CoachingTable, CoachingUser, ManagerCoaching, ReportCoaching,
};
use crate::collectors::users::UserTable;
use crate::days::{DayStore, KeptCoaching, PartKind};
use crate::endpoint::Endpoint;
use crate::gong::models::GongId;
use crate::gong::{GongClient, GongError};
use crate::self_metrics::PollOutcome;
use crate::windows::{Window, WindowBounds, iso_instant};

/// Why the collector is off for the day after a 403 that named no scope:
/// a plan without coaching answers so as well as a revoked key.
const FORBIDDEN: &str = "403 on /v2/{path} without a scope named: a plan without coaching, a revoked key, or a request from outside its trusted IPs";

/// Coaching requests that must all answer 404, with none answering data,
/// before the collector concludes the plan lacks coaching: one manager
/// without data must not turn it off.
const COACHING_PROBES: usize = 5;

/// Where the collector stands on a company day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CoachingState {
    /// Not run yet on the current company day.
    Due,
    /// Ran to completion, or was skipped for the budget, on this day.
    Done(Date),
    /// Gong refused coaching (plan or scope) on this day: off until the next.
    Refused(Date),
}

impl CoachingState {
    /// The state on `today`: a new company day makes the collector due again.
    pub(super) fn on(self, today: Date) -> Self {
        match self {
            Self::Done(day) | Self::Refused(day) if day != today => Self::Due,
            state => state,
        }
    }
}

/// What a coaching request covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Span {
    /// Yesterday alone, kept so that windows are built from kept days.
    Day,
    /// A whole window, asked for as one period.
    Window(Window),
}

/// A window as Gong's coaching endpoint takes it: ISO-8601 instants in the
/// company's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Period {
    pub span: Span,
    pub from: String,
    pub to: String,
}

impl Period {
    pub(super) fn of(bounds: &WindowBounds, tz: &TimeZone) -> Self {
        let (from, to) = (iso_instant(bounds.start, tz), iso_instant(bounds.end, tz));
        Self { span: Span::Window(bounds.window), from, to }
    }
}

/// One planned `GET /v2/coaching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CoachingRequest<'a> {
    pub workspace: GongId,
    pub manager: GongId,
    pub period: &'a Period,
}

/// The window of a span, for logs and record counts; the kept day has none.
fn window_of(span: Span) -> Option<Window> {
    match span {
        Span::Day => None,
        Span::Window(window) => Some(window),
    }
}

/// Managers are active users someone reports to; inactive ones coach
/// nobody. Each once, top down (those nobody above manages first, then by
/// how far below the top they are, then by ID): an answer for a manager may
/// hold the managers below, whose own requests are then not sent.
pub(super) fn managers(users: &UserTable) -> Vec<GongId> {
    let active: HashSet<GongId> = users.users.iter().filter(|u| u.active).map(|u| u.id).collect();
    let manager_of: BTreeMap<GongId, GongId> = users.users.iter().filter_map(|u| Some((u.id, u.manager_id?))).collect();
    // Steps up to the top, bounded by the company's size (a loop in the
    // hierarchy must not hang).
    let depth = |mut id: GongId| {
        let mut steps = 0;
        while let Some(&above) = manager_of.get(&id)
            && steps < manager_of.len()
        {
            id = above;
            steps += 1;
        }
        steps
    };
    let mut managers: Vec<GongId> = users.users.iter().filter_map(|u| u.manager_id).collect();
    managers.sort_unstable();
    managers.dedup();
    managers.retain(|m| active.contains(m));
    managers.sort_by_cached_key(|&m| (depth(m), m));
    managers
}

/// What a coaching run asks for and builds.
struct CoachingPeriods<'b> {
    /// Periods to ask Gong for.
    periods: Vec<Period>,
    /// Windows built from kept days.
    union_windows: Vec<&'b WindowBounds>,
    /// Whether yesterday is fetched as a day and kept.
    keep_yesterday: bool,
}

/// Every request of a day: workspace x manager x window, in that order.
pub(super) fn plan<'a>(workspaces: &[GongId], managers: &[GongId], periods: &'a [Period]) -> Vec<CoachingRequest<'a>> {
    let mut requests = Vec::with_capacity(workspaces.len() * managers.len() * periods.len());
    for &workspace in workspaces {
        for &manager in managers {
            requests.extend(periods.iter().map(|period| CoachingRequest { workspace, manager, period }));
        }
    }
    requests
}

/// The coaching collector's day: whether it ran, and one run when due. It
/// owns only its state; the poller hands it what it reads
/// ([`CoachingInputs`]) and applies what it returns ([`CoachingRun`]).
#[derive(Debug)]
pub(super) struct CoachingCollector {
    state: CoachingState,
    /// Requests the last run that completed sent: fewer than its plan when
    /// answers held managers below the one asked. After a run the budget
    /// stopped, one more than it sent: tried again on a day that leaves
    /// more, learning its cost as it goes.
    last_sent: Option<u64>,
}

/// What one run reads, and the kept days it writes yesterday into.
pub(super) struct CoachingInputs<'a> {
    pub client: &'a GongClient,
    /// This cycle's users when they arrived, else the last good ones.
    pub users: &'a UserTable,
    pub bounds: &'a [WindowBounds],
    pub tz: &'a TimeZone,
    pub today: Date,
    pub now: Timestamp,
    /// The settling schedule: yesterday is kept as a day and windows are
    /// built from kept days.
    pub from_kept_days: bool,
    pub days: &'a mut DayStore,
    /// Today's share of the quota, read after the workspaces request (which
    /// it pays for too), and how much of it today's planned re-polls need
    /// first.
    pub budget: &'a DailyBudget,
    pub reserved: u64,
    pub deadline: Instant,
}

/// What a run came to.
#[derive(Debug)]
pub(super) enum CoachingRun {
    /// Gong will not serve coaching to this account (why): off for the
    /// rest of the company day, its series gone rather than stale.
    Refused(String),
    /// More requests than the budget leaves: skipped until tomorrow.
    LeftOut { outcome: PollOutcome, requests: usize },
    /// Asked; the new table when every request answered and was kept.
    Ran { outcome: PollOutcome, table: Option<CoachingTable> },
}

impl CoachingCollector {
    pub(super) fn new() -> Self {
        Self { state: CoachingState::Due, last_sent: None }
    }

    /// Where the collector stands on `today`: a new company day makes it
    /// due again.
    pub(super) fn state_on(&mut self, today: Date) -> CoachingState {
        self.state = self.state.on(today);
        self.state
    }

    /// Runs today's requests: the workspaces, then workspace x manager x
    /// period, within what the budget leaves after the re-polls.
    pub(super) async fn run(&mut self, input: CoachingInputs<'_>) -> CoachingRun {
        let CoachingInputs { client, users, bounds, tz, today, now, deadline, .. } = input;
        let managers = managers(users);
        let started = Instant::now();
        let mut outcome = PollOutcome::success();
        let workspaces = match self.workspaces(client, today, deadline).await {
            Ok(workspaces) => workspaces,
            Err(Ok(refused)) => return refused,
            Err(Err(error)) => {
                fail_request(&mut outcome, &error);
                outcome.elapsed = started.elapsed();
                return CoachingRun::Ran { outcome, table: None };
            }
        };
        let yesterday = today.yesterday().unwrap_or(today);
        let CoachingPeriods { periods, union_windows, keep_yesterday } =
            coaching_periods(bounds, today, tz, input.from_kept_days, input.days);
        let requests = plan(&workspaces, &managers, &periods);
        let planned = requests.len();
        // Yesterday's stats come first: coaching may only use what today's
        // planned re-polls leave of the budget share.
        let reserved = input.reserved;
        let left = input.budget.remaining(client.requests_sent()).saturating_sub(reserved);
        let sizes = [workspaces.len(), managers.len(), periods.len()];
        let left_out = |collector: &mut Self, mut outcome: PollOutcome| {
            let reason = budget_reason(planned, sizes, left, reserved, collector.last_sent);
            tracing::warn!("{reason}");
            collector.state = CoachingState::Done(today);
            outcome.fail(&reason, false);
            outcome.elapsed = started.elapsed();
            CoachingRun::LeftOut { outcome, requests: planned }
        };
        // A run costs what the last complete one sent (answers holding the
        // managers below cut it far under the plan). Before one completed
        // the cost is unknown: the run goes on while the budget lasts and
        // is left out where it ends, then plans the whole plan until one
        // completes (a restart tries again).
        if self.last_sent.is_some_and(|sent| sent > left) {
            return left_out(self, outcome);
        }

        let probes = requests.len().min(COACHING_PROBES);
        let mut not_found = 0;
        let mut answers = Vec::new();
        let mut day = Vec::new();
        let planned_managers: HashSet<GongId> = managers.iter().copied().collect();
        // (workspace, manager, span) an answer already held.
        let mut held: HashSet<(GongId, GongId, Span)> = HashSet::new();
        let mut not_asked = 0;
        // Requests, not fetches: one fetch may page, retry or renew.
        let base = client.requests_sent();
        let sent = || client.requests_sent().saturating_sub(base);
        for request in requests {
            let CoachingRequest { workspace, manager, period } = request;
            if held.contains(&(workspace, manager, period.span)) {
                not_asked += 1;
                continue;
            }
            if sent() >= left {
                self.last_sent = Some(sent() + 1);
                return left_out(self, outcome);
            }
            let mut fetched = collector::fetch(client, workspace, manager, &period.from, &period.to, deadline).await;
            if let Ok(Some(data)) = &mut fetched {
                // Managers the plan does not ask for (inactive ones) stay
                // out, as when each answer holds the manager asked alone.
                data.retain(|d| d.manager.as_ref().is_none_or(|m| planned_managers.contains(&m.id)));
                held.extend(data.iter().filter_map(|d| Some((workspace, d.manager.as_ref()?.id, period.span))));
            }
            match fetched {
                // The day period is kept.
                Ok(Some(data)) if period.span == Span::Day => {
                    day.push(KeptCoaching { workspace_id: workspace, manager_id: manager, data })
                }
                Ok(Some(data)) => {
                    let Span::Window(window) = period.span else { unreachable!("the day period is kept") };
                    answers.push(CoachingAnswer { window, workspace_id: workspace, data })
                }
                Ok(None) => {
                    not_found += 1;
                    if answers.is_empty() && day.is_empty() && not_found >= probes {
                        return self.refused(today, "404 on /v2/coaching".to_owned());
                    }
                }
                Err(GongError::MissingScope { status, .. }) => {
                    return self.refused(today, format!("{status} on /v2/coaching: the key lacks its scope"));
                }
                Err(GongError::Forbidden { .. }) => {
                    return self.refused(today, FORBIDDEN.replace("{path}", "coaching"));
                }
                Err(error) => {
                    log_failure(Endpoint::Coaching, window_of(period.span), &error);
                    fail_request(&mut outcome, &error);
                    break;
                }
            }
        }
        outcome.elapsed = started.elapsed();
        tracing::debug!(not_asked, "coaching requests not sent: an earlier answer held their managers' data");
        if !outcome.ok {
            return CoachingRun::Ran { outcome, table: None };
        }
        self.last_sent = Some(sent());
        if keep_yesterday && let Err(error) = input.days.keep_coaching(yesterday, now, day) {
            tracing::error!(%error, "cannot keep yesterday's coaching; it is fetched again");
            outcome.fail(&error, false);
            return CoachingRun::Ran { outcome, table: None };
        }
        for b in union_windows {
            answers.extend(union_of_days(b.window, input.days.coaching(b.from, b.to)));
        }
        let table = CoachingTable::build(answers, Some(users));
        for b in bounds {
            let rows = table.rows.iter().filter(|r| r.window == b.window).count();
            outcome.records.push((Some(b.window), rows));
        }
        self.state = CoachingState::Done(today);
        CoachingRun::Ran { outcome, table: Some(table) }
    }

    /// The workspaces to ask in; `Err(Ok)` when Gong refuses coaching,
    /// `Err(Err)` when the request failed (logged).
    async fn workspaces(
        &mut self,
        client: &GongClient,
        today: Date,
        deadline: Instant,
    ) -> Result<Vec<GongId>, Result<CoachingRun, GongError>> {
        match collector::workspaces(client, deadline).await {
            Ok(fetched) if fetched.pages == 0 => Err(Ok(self.refused(today, "404 on /v2/workspaces".to_owned()))),
            Ok(fetched) => Ok(fetched.items.iter().map(|w| w.id).collect()),
            Err(GongError::MissingScope { status, .. }) => {
                Err(Ok(self.refused(today, format!("{status} on /v2/workspaces: the key lacks its scope"))))
            }
            Err(GongError::Forbidden { .. }) => Err(Ok(self.refused(today, FORBIDDEN.replace("{path}", "workspaces")))),
            Err(error) => {
                log_failure(Endpoint::Coaching, None, &error);
                Err(Err(error))
            }
        }
    }

    /// Gong will not serve coaching to this account: off for the rest of
    /// the company day.
    fn refused(&mut self, today: Date, reason: String) -> CoachingRun {
        tracing::warn!(
            reason,
            "Gong's coaching endpoint is not available to this account (plan without coaching, or a key without api:coaching:read): the coaching collector is off until tomorrow (company time); other endpoints are unaffected"
        );
        self.state = CoachingState::Refused(today);
        CoachingRun::Refused(reason)
    }
}

/// Why a run is left out: its plan (`sizes`: workspaces, managers,
/// periods) and what the last complete run sent, against what is left.
fn budget_reason(planned: usize, sizes: [usize; 3], left: u64, reserved: u64, last_sent: Option<u64>) -> String {
    let [workspaces, managers, periods] = sizes;
    let sent = last_sent.map(|n| format!("; the last run sent {n}")).unwrap_or_default();
    format!(
        "coaching needs up to {planned} requests ({workspaces} workspaces x {managers} managers x {periods} periods{sent}) but only {left} are left of the budget share for today after the planned re-polls ({reserved}): skipped until tomorrow; raise --gong.budget-share, narrow --stats.windows, or set --collector.coaching=false"
    )
}

/// What to ask Gong for. Settling: yesterday as a day (kept), windows whose
/// days are all kept as their union, only the others whole (the first days
/// after a start without storage). Fixed: every window whole.
fn coaching_periods<'b>(
    bounds: &'b [WindowBounds],
    today: Date,
    tz: &TimeZone,
    settling: bool,
    days: &DayStore,
) -> CoachingPeriods<'b> {
    let yesterday = today.yesterday().unwrap_or(today);
    let keep_yesterday = settling && !days.covers(PartKind::Coaching, yesterday, today);
    let from_kept = |b: &WindowBounds| {
        settling && days.missing(PartKind::Coaching, b.from, b.to).iter().all(|d| keep_yesterday && *d == yesterday)
    };
    let union_windows = bounds.iter().filter(|b| from_kept(b)).collect();
    let mut periods: Vec<Period> = bounds.iter().filter(|b| !from_kept(b)).map(|b| Period::of(b, tz)).collect();
    if keep_yesterday {
        let day = crate::windows::window_bounds(&Window::ONE_DAY, today, tz);
        periods.push(Period { span: Span::Day, ..Period::of(&day, tz) });
    }
    CoachingPeriods { periods, union_windows, keep_yesterday }
}

/// A window's coaching as the union of its kept days: per workspace,
/// manager, report and metric, every call ID once (a call listened to on
/// two days is one call of the window).
pub(super) fn union_of_days<'a>(window: Window, days: impl Iterator<Item = &'a KeptCoaching>) -> Vec<CoachingAnswer> {
    type Reports = BTreeMap<GongId, (CoachingUser, BTreeMap<String, BTreeSet<u64>>)>;
    let mut merged: BTreeMap<(GongId, GongId), (Option<CoachingUser>, Reports)> = BTreeMap::new();
    for kept in days {
        for data in &kept.data {
            // An answer may hold managers below the one asked: each item
            // is its own manager's.
            let manager = data.manager.as_ref().map_or(kept.manager_id, |m| m.id);
            let entry = merged.entry((kept.workspace_id, manager)).or_default();
            if entry.0.is_none() {
                entry.0.clone_from(&data.manager);
            }
            for report in &data.direct_reports_metrics {
                let Some(person) = &report.report else { continue };
                let (_, metrics) = entry.1.entry(person.id).or_insert_with(|| (person.clone(), BTreeMap::new()));
                for (name, ids) in &report.metrics {
                    if let Some(ids) = &ids.0 {
                        metrics.entry(name.clone()).or_default().extend(ids.iter().copied());
                    }
                }
            }
        }
    }
    merged
        .into_iter()
        .map(|((workspace_id, _), (manager, reports))| CoachingAnswer {
            window,
            workspace_id,
            data: vec![ManagerCoaching {
                manager,
                direct_reports_metrics: reports
                    .into_values()
                    .map(|(person, metrics)| ReportCoaching {
                        report: Some(person),
                        metrics: metrics
                            .into_iter()
                            .map(|(name, ids)| (name, CallIds(Some(ids.into_iter().collect()))))
                            .collect(),
                    })
                    .collect(),
            }],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::users::UserInfo;
    use jiff::civil::date;

    fn user(id: u64, manager: Option<u64>, active: bool) -> UserInfo {
        UserInfo {
            id: GongId(id),
            email: String::new(),
            name: String::new(),
            manager_id: manager.map(GongId),
            title: String::new(),
            active,
        }
    }

    fn period(days: u32) -> Period {
        let window = Window::from_days(days).unwrap();
        Period { span: Span::Window(window), from: format!("{window}-from"), to: format!("{window}-to") }
    }

    #[test]
    fn managers_are_active_users_someone_reports_to_each_once() {
        let users = UserTable {
            users: vec![
                user(1, None, true),
                user(2, Some(1), true),
                user(3, Some(1), true),
                // Reports to an inactive manager, who coaches nobody.
                user(4, Some(5), true),
                user(5, None, false),
                // Reports to someone Gong does not list.
                user(6, Some(99), true),
                user(7, Some(2), false),
            ],
        };
        assert_eq!(managers(&users), [GongId(1), GongId(2)]);
    }

    #[test]
    fn the_plan_is_every_workspace_manager_and_window_once() {
        let periods = [period(1), period(7), period(28)];
        let requests = plan(&[GongId(10), GongId(20)], &[GongId(1), GongId(2)], &periods);
        assert_eq!(requests.len(), 2 * 2 * 3);
        let distinct: HashSet<(GongId, GongId, Span)> =
            requests.iter().map(|r| (r.workspace, r.manager, r.period.span)).collect();
        assert_eq!(distinct.len(), requests.len());
        assert_eq!(
            (requests[0].workspace, requests[0].manager, requests[0].period.span),
            (GongId(10), GongId(1), Span::Window(Window::ONE_DAY))
        );
        assert_eq!(requests[3].manager, GongId(2), "windows of one manager are asked together");
        assert!(plan(&[], &[GongId(1)], &periods).is_empty());
        assert!(plan(&[GongId(10)], &[], &periods).is_empty());
    }

    #[test]
    fn a_window_is_the_union_of_its_days_call_ids() {
        let person = |id| CoachingUser { id: GongId(id), email_address: format!("{id}@x.io") };
        let day = |ids: &[u64]| KeptCoaching {
            workspace_id: GongId(10),
            manager_id: GongId(1),
            data: vec![ManagerCoaching {
                manager: Some(person(1)),
                direct_reports_metrics: vec![ReportCoaching {
                    report: Some(person(2)),
                    metrics: BTreeMap::from([("callsListenedTo".to_owned(), CallIds(Some(ids.to_vec())))]),
                }],
            }],
        };
        let days = [day(&[7, 8]), day(&[8, 9]), day(&[])];
        let answers = union_of_days(Window::from_days(7).unwrap(), days.iter());
        assert_eq!(answers.len(), 1);
        let metrics = &answers[0].data[0].direct_reports_metrics[0].metrics;
        assert_eq!(metrics["callsListenedTo"].count(), Some(3), "call 8 on two days is one call");
    }

    /// An answer asked for manager 1 may hold manager 3, below: its
    /// reports stay manager 3's in the window (they were merged into
    /// manager 1's when the union was keyed by the manager asked).
    #[test]
    fn a_kept_answer_holding_a_manager_below_keeps_each_managers_reports_apart() {
        let person = |id| CoachingUser { id: GongId(id), email_address: format!("{id}@x.io") };
        let item = |manager, report, ids: &[u64]| ManagerCoaching {
            manager: Some(person(manager)),
            direct_reports_metrics: vec![ReportCoaching {
                report: Some(person(report)),
                metrics: BTreeMap::from([("callsListenedTo".to_owned(), CallIds(Some(ids.to_vec())))]),
            }],
        };
        let day = |ids: &[u64]| KeptCoaching {
            workspace_id: GongId(10),
            manager_id: GongId(1),
            data: vec![item(1, 3, ids), item(3, 4, ids)],
        };
        let days = [day(&[7]), day(&[8])];
        let answers = union_of_days(Window::from_days(7).unwrap(), days.iter());
        let mut managers: Vec<(u64, Vec<u64>)> = answers
            .iter()
            .flat_map(|a| &a.data)
            .map(|d| {
                let reports = d.direct_reports_metrics.iter().map(|r| r.report.as_ref().unwrap().id.0).collect();
                (d.manager.as_ref().unwrap().id.0, reports)
            })
            .collect();
        managers.sort();
        assert_eq!(managers, [(1, vec![3]), (3, vec![4])]);
    }

    #[test]
    fn managers_are_asked_top_down() {
        let users = UserTable {
            users: vec![
                user(50, None, true),
                // 2 is below 40, which is below the top (50): asked last
                // though its ID is smallest.
                user(2, Some(40), true),
                user(40, Some(50), true),
                user(7, Some(2), true),
            ],
        };
        assert_eq!(managers(&users), [GongId(50), GongId(40), GongId(2)]);
    }

    #[test]
    fn a_new_company_day_makes_the_collector_due_again() {
        let (monday, tuesday) = (date(2024, 6, 3), date(2024, 6, 4));
        assert_eq!(CoachingState::Due.on(monday), CoachingState::Due);
        assert_eq!(CoachingState::Done(monday).on(monday), CoachingState::Done(monday));
        assert_eq!(CoachingState::Refused(monday).on(monday), CoachingState::Refused(monday));
        assert_eq!(CoachingState::Done(monday).on(tuesday), CoachingState::Due);
        assert_eq!(CoachingState::Refused(monday).on(tuesday), CoachingState::Due);
    }

    /// The collector run on its own against the simulator: a day the
    /// budget cannot carry is left out (and not tried again today); a run
    /// with room builds the table and keeps yesterday under settling.
    #[tokio::test]
    async fn a_run_the_budget_cannot_carry_is_left_out_and_one_with_room_builds_the_table() {
        use std::sync::Arc;

        use crate::simulator::dataset::GeneratedDataset;
        use crate::simulator::{Simulator, SimulatorOptions, spawn};
        use crate::windows::company_date;

        let tz = TimeZone::get("US/Pacific").unwrap();
        let simulator =
            Simulator::new(Arc::new(GeneratedDataset::new(40, tz.clone())), SimulatorOptions::new("US/Pacific"))
                .unwrap();
        let running = spawn(simulator, "127.0.0.1:0".parse().unwrap()).await.unwrap();
        let mut options = crate::config::Config::demo(5).client;
        options.base_url = running.base_url().parse().unwrap();
        let client = GongClient::new(options, Arc::new(crate::self_metrics::SelfMetrics::new())).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        let users = UserTable::build(crate::collectors::users::fetch(&client, deadline).await.unwrap().items);
        let now = Timestamp::now();
        let today = company_date(now, &tz);
        let windows = [Window::ONE_DAY, Window::from_days(7).unwrap()];
        let bounds = crate::windows::all_window_bounds(&windows, now, &tz);
        let mut days = DayStore::in_memory();
        macro_rules! input {
            ($budget:expr) => {
                CoachingInputs {
                    client: &client,
                    users: &users,
                    bounds: &bounds,
                    tz: &tz,
                    today,
                    now,
                    from_kept_days: true,
                    days: &mut days,
                    budget: $budget,
                    reserved: 0,
                    deadline,
                }
            };
        }

        let budget_of = |allowance: u64| {
            let mut budget = DailyBudget::new(u32::try_from(allowance).unwrap(), 1.0);
            budget.roll(today, client.requests_sent());
            budget
        };
        // The workspaces request takes the one request the budget allows.
        let mut short = CoachingCollector::new();
        let before = client.requests_sent();
        let planned = match short.run(input!(&budget_of(1))).await {
            CoachingRun::LeftOut { outcome, requests } => {
                assert!(requests > 1 && !outcome.ok, "{requests}");
                requests
            }
            other => panic!("expected LeftOut, got {other:?}"),
        };
        assert_eq!(client.requests_sent() - before, 1, "nothing sent past the budget");
        assert_eq!(short.state_on(today), CoachingState::Done(today), "not tried again today");

        // The simulator's answers hold every manager below the one asked:
        // the run sends the top manager's periods alone, far under the plan.
        let mut roomy = CoachingCollector::new();
        let before = client.requests_sent();
        match roomy.run(input!(&budget_of(10_000))).await {
            CoachingRun::Ran { outcome, table: Some(table) } => {
                assert!(outcome.ok, "{:?}", outcome.error);
                assert!(!table.rows.is_empty());
            }
            other => panic!("expected a table, got {other:?}"),
        }
        let sent = (client.requests_sent() - before) as usize;
        assert!(sent < planned / 2, "{sent} of {planned} planned");
        assert_eq!(roomy.state_on(today), CoachingState::Done(today));
        assert!(days.covers(PartKind::Coaching, today.yesterday().unwrap(), today), "yesterday is kept");

        // Yesterday is kept now: a first run sends the workspaces and the
        // top manager's 7d. With exactly that left it completes though its
        // plan is larger; one request short, it stops there and the next
        // day plans the whole plan.
        let mut exact = CoachingCollector::new();
        let before = client.requests_sent();
        assert!(matches!(exact.run(input!(&budget_of(10_000))).await, CoachingRun::Ran { table: Some(_), .. }));
        let needed = client.requests_sent() - before;
        assert!(matches!(exact.run(input!(&budget_of(needed))).await, CoachingRun::Ran { table: Some(_), .. }));
        let mut tight = CoachingCollector::new();
        let before = client.requests_sent();
        let run = tight.run(input!(&budget_of(needed - 1))).await;
        assert!(matches!(run, CoachingRun::LeftOut { .. }), "{run:?}");
        assert_eq!(client.requests_sent() - before, needed - 1, "the budget is never passed");
        // The workspaces request is not the run's: it could send none of its
        // own, so at least one.
        assert_eq!(tight.last_sent, Some(needed - 1), "a lower bound: one more than it could send");
    }
}
