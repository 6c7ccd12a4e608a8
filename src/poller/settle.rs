//! The settling schedule's state for one company day: which part
//! (activity, reviews, interaction, users) is due when, what each cost,
//! and when the next cycle runs. Pure decisions from the clock, the kept
//! days and what each fetch came to; no request is sent from here, so
//! every case is tested without a server. The poller's `settling` module
//! runs the cycles it asks for.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::AFTER_MIDNIGHT;
use super::schedule::{PartSchedule, after_fetch};
use crate::collectors::CollectorName;
use crate::days::{DayStore, PartKind};
use crate::published::PlannedCycle;
use crate::windows::{Window, company_date, next_company_midnight, start_of_day};

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
    /// The hash of each windowed collector's last answer per window today.
    window_hashes: BTreeMap<(SettlingPart, Window), u64>,
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
            window_hashes: BTreeMap::new(),
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

    /// The company day the schedules belong to; `None` until the first
    /// cycle, and again after a [`Settle::reset`].
    pub(super) fn day(&self) -> Option<Date> {
        self.day
    }

    /// `part` had nothing to fetch (its days kept as final before a
    /// restart): settled for today, unless it was fetched already.
    pub(super) fn nothing_to_fetch(&mut self, part: SettlingPart) {
        self.parts.entry(part).or_insert(PartSchedule { gap: self.settings.interval, next: None });
    }

    /// Requests `part` cost when last fetched.
    pub(super) fn cost(&self, part: SettlingPart) -> Option<u64> {
        self.costs.get(&part).copied()
    }

    /// Notes what fetching `part` cost, the plan's estimate of its next
    /// re-poll.
    pub(super) fn set_cost(&mut self, part: SettlingPart, requests: u64) {
        self.costs.insert(part, requests);
    }

    /// Notes the hash of `part`'s answer for `window`; whether it differs
    /// from the last one today.
    pub(super) fn window_changed(&mut self, part: SettlingPart, window: Window, hash: u64) -> bool {
        self.window_hashes.insert((part, window), hash) != Some(hash)
    }

    /// The users were listed on `today`.
    pub(super) fn users_listed(&mut self, today: Date) {
        self.users_day = Some(today);
    }

    /// Whether the users may be listed again on `today` for a user an
    /// answer names and the list lacks: once a day, after the day's list.
    pub(super) fn users_refetch_due(&self, today: Date) -> bool {
        self.users_refetched != Some(today) && self.users_day == Some(today)
    }

    /// The users were listed again on `today` for an unknown user.
    pub(super) fn users_refetched(&mut self, today: Date) {
        self.users_refetched = Some(today);
    }

    /// A new company day: every part and the users are due.
    pub(super) fn roll(&mut self, today: Date) {
        if self.day != Some(today) {
            self.day = Some(today);
            self.parts.clear();
            self.window_hashes.clear();
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
            windowed: crate::collectors::REGISTRY
                .iter()
                .filter(|r| r.windowed.is_some() && !self.off.contains(&r.name) && self.due(r.name, timing.now))
                .map(|r| r.name)
                .collect(),
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
    pub(super) fn cycle_fetched(&mut self, fetches: Vec<(SettlingPart, Fetch)>, timing: &Timing) {
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
pub(super) enum Fetch {
    Answered { changed: bool },
    Failed,
}

/// The clock readings a cycle schedules by.
pub(super) struct Timing {
    pub now: Timestamp,
    /// `--poll.settle-interval`.
    pub interval: Duration,
    /// `--poll.interval`: when a failed fetch is tried again.
    pub retry: Duration,
    /// Yesterday's end plus `--poll.settle-for`.
    pub settled_at: Timestamp,
}

/// What a settling cycle asks Gong for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DueQueries {
    /// Day-by-day activity for these company days.
    pub activity: Option<(Date, Date)>,
    /// `activity` includes today's re-read of the last days.
    pub reread: bool,
    /// Answered scorecards reviewed on these days.
    pub reviews: Option<(Date, Date)>,
    /// The windowed collectors due: every window, whole.
    pub windowed: Vec<SettlingPart>,
    pub users: bool,
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

    /// The users are listed again for a stranger at most once a company
    /// day, and only after that day's list; an interaction answer changed
    /// only when its hash differs from the day's last.
    #[test]
    fn the_users_are_listed_again_once_a_day_and_interaction_changes_by_hash() {
        use jiff::civil::date;
        let mut settle = Settle::new(SettleSettings { settle_for: 12 * HOUR, interval: HOUR, floor: HOUR });
        let (today, tomorrow) = (date(2026, 12, 6), date(2026, 12, 7));
        assert!(!settle.users_refetch_due(today), "not before the day's list");
        settle.users_listed(today);
        assert!(settle.users_refetch_due(today));
        settle.users_refetched(today);
        assert!(!settle.users_refetch_due(today), "once a day");
        assert!(!settle.users_refetch_due(tomorrow), "a new day waits for its list");
        settle.users_listed(tomorrow);
        assert!(settle.users_refetch_due(tomorrow));

        let interaction = CollectorName::Interaction;
        assert!(settle.window_changed(interaction, Window::ONE_DAY, 7), "the day's first answer");
        assert!(!settle.window_changed(interaction, Window::ONE_DAY, 7));
        assert!(settle.window_changed(interaction, Window::ONE_DAY, 8));
        settle.roll(tomorrow);
        assert!(settle.window_changed(interaction, Window::ONE_DAY, 8), "a new day forgets the hashes");
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
        assert!(
            q.windowed == [CollectorName::Interaction] && q.users,
            "the day's first cycle fetches interaction and the users"
        );

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
