//! Turning a dated answer (day-by-day activity, answered scorecards) into
//! kept company days.
//!
//! The settling schedule fetches a range of days and builds its windows
//! from what is kept; what a fetch changed decides when the part is polled
//! again. Keeping is apart from fetching and scheduling because it is where
//! the counters meet late data: a day already counted that Gong changed is
//! amended in the counters *before* the kept day is replaced, so a failed
//! write leaves both as they were and the next re-read compares again.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::counting::Counting;
use crate::collectors::activity::{DayCalls, UserDailyActivity};
use crate::collectors::counters::{activity_day, review_day};
use crate::collectors::scorecards::AnsweredScorecard;
use crate::days::{DayActivity, DayStore, hash_of};
use crate::gong::Fetched;
use crate::gong::models::GongId;
use crate::self_metrics::SelfMetrics;
use crate::storage::StorageError;
use crate::windows::days_of;

/// Where fetched days go, and what a kept day's change means for the
/// counters.
pub(super) struct DayKeeper<'a> {
    pub store: &'a mut DayStore,
    pub counting: &'a mut Counting,
    pub metrics: &'a SelfMetrics,
    pub tz: &'a TimeZone,
    /// When the answer was fetched (each kept day's `fetched_at`).
    pub now: Timestamp,
    /// The day still settling: only its change makes the answer "changed".
    pub yesterday: Date,
}

impl DayKeeper<'_> {
    /// Keeps each day of a day-by-day answer for `[from, to)`; whether the
    /// answer counts as changed ([`keep_each_day`]). The answer's call lists
    /// move into the days, each user's freed as it goes: at 10,000 users
    /// the answer and a copy of it as days were once alive together.
    pub fn activity(&mut self, fetched: Fetched<UserDailyActivity>, from: Date, to: Date) -> KeptAnswer {
        let mut by_day: BTreeMap<Date, Vec<(GongId, DayCalls)>> = days_of(from, to).map(|d| (d, Vec::new())).collect();
        let mut emails = BTreeMap::new();
        for user in fetched.items {
            let mut listed = false;
            for (index, entry) in user.user_daily_activity_stats.into_iter().enumerate() {
                let Some(day) = activity_day(&entry, index, from, to, self.tz) else { continue };
                listed = true;
                if !entry.calls.is_idle() {
                    by_day.entry(day).or_default().push((user.user_id, entry.calls));
                }
            }
            if listed {
                emails.insert(user.user_id, user.user_email_address);
            }
        }
        // Built in one go from each day's list: full B-tree nodes, where
        // inserting user by user in ID order leaves them about half full.
        // A user listed twice keeps the last entry, as inserting did.
        let days: BTreeMap<Date, DayActivity> =
            by_day.into_iter().map(|(day, calls)| (day, calls.into_iter().collect())).collect();
        let (store, counting, metrics, now) = (&mut *self.store, &mut *self.counting, self.metrics, self.now);
        keep_each_day(days, from, self.yesterday, |day, activity| {
            if counting.activity_counted(day)
                && let Some(kept) = store.day(day)
                && let Some(before) = kept.activity.as_ref()
                && before.hash != hash_of(&activity)
            {
                let peaks =
                    counting.amend_activity(day, (&before.data, &kept.counted_peaks), &activity, store, metrics)?;
                store.set_counted_peaks(day, peaks);
            }
            store.keep_activity(day, now, activity, &emails)
        })
    }

    /// Keeps each day of an answered-scorecards answer for `[from, to)`, by
    /// review day; whether the answer counts as changed. A review without a
    /// readable time cannot be placed in a day and is left out (logged).
    pub fn reviews(&mut self, fetched: Fetched<AnsweredScorecard>, from: Date, to: Date) -> KeptAnswer {
        // Each day's list sized once, from a first pass over the days:
        // at 10,000 users the lists grown by doubling held twice the
        // answer's records at the first cycle's peak of memory.
        let record_days: Vec<Option<Date>> = fetched.items.iter().map(|r| review_day(r, self.tz)).collect();
        let mut counts: BTreeMap<Date, usize> = days_of(from, to).map(|d| (d, 0)).collect();
        for day in record_days.iter().flatten() {
            if let Some(count) = counts.get_mut(day) {
                *count += 1;
            }
        }
        let mut days: BTreeMap<Date, Vec<_>> = counts.into_iter().map(|(d, n)| (d, Vec::with_capacity(n))).collect();
        let mut undated = 0;
        for (record, day) in fetched.items.into_iter().zip(record_days) {
            match day.and_then(|d| days.get_mut(&d)) {
                Some(day) => day.push(record),
                None => undated += 1,
            }
        }
        if undated > 0 {
            tracing::warn!(undated, "answered scorecards without a readable reviewTime were left out");
        }
        let (store, now) = (&mut *self.store, self.now);
        keep_each_day(days, from, self.yesterday, |day, reviews| store.keep_reviews(day, now, reviews))
    }
}

/// Keeps each of `days` with `keep` (which says whether the kept day
/// changed); whether the answer for `[from, ..)` counts as changed: when
/// yesterday changed, or when it reached further back (days fetched for the
/// first time are new to the windows).
///
/// A day whose write fails is kept in memory all the same (or, when the
/// counters could not be amended, left as it was for the next re-read to
/// compare again), and the other days are still kept: a full disk must not
/// empty the windows nor make the answer count as failed, which would ask
/// Gong again every cycle.
fn keep_each_day<T>(
    days: BTreeMap<Date, T>,
    from: Date,
    yesterday: Date,
    mut keep: impl FnMut(Date, T) -> Result<bool, StorageError>,
) -> KeptAnswer {
    let (mut changed, mut unsaved) = (false, None);
    for (day, kept) in days {
        match keep(day, kept) {
            Ok(day_changed) => changed |= day_changed && day == yesterday,
            Err(error) => {
                changed |= day == yesterday;
                unsaved.get_or_insert(error);
            }
        }
    }
    KeptAnswer { changed: changed || from < yesterday, unsaved }
}

/// What keeping an answer's days came to.
#[derive(Debug)]
pub(super) struct KeptAnswer {
    /// The answer counts as changed (see [`keep_each_day`]).
    pub changed: bool,
    /// The first write that failed: the days are kept in memory.
    pub unsaved: Option<StorageError>,
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::gong::models::GongId;
    use crate::ledger::{CounterKind, Ledger};

    impl KeptAnswer {
        /// Whether the answer changed, every day having been written.
        fn written(self) -> bool {
            assert!(self.unsaved.is_none(), "{:?}", self.unsaved);
            self.changed
        }
    }

    fn fetched<T>(items: Vec<T>) -> Fetched<T> {
        Fetched { items, time_zone: None, pages: 1, skipped: Default::default(), skipped_request_id: None }
    }

    /// One user hosting `calls` on `day` (UTC).
    fn hosting(day: Date, calls: &[u64]) -> Vec<UserDailyActivity> {
        let ids: Vec<String> = calls.iter().map(u64::to_string).collect();
        serde_json::from_value(serde_json::json!([{
            "userId": "7", "userEmailAddress": "rep@example.com",
            "userDailyActivityStats": [{"callsAsHost": ids, "fromDate": format!("{day}T00:00:00Z")}]
        }]))
        .unwrap()
    }

    fn hosted(store: &DayStore, day: Date) -> u64 {
        store
            .activity_window(day, day.tomorrow().unwrap())
            .get(&GongId(7))
            .map_or(0, |fields| fields.iter().find(|(f, _)| *f == "callsAsHost").map_or(0, |(_, n)| *n))
    }

    /// What a [`DayKeeper`] borrows, owned by the test.
    struct Kept {
        store: DayStore,
        counting: Counting,
        metrics: SelfMetrics,
        tz: TimeZone,
    }

    impl Kept {
        fn new(ledger: Ledger, tz: TimeZone) -> Self {
            Self { store: DayStore::in_memory(), counting: Counting::new(ledger), metrics: SelfMetrics::new(), tz }
        }

        fn keeper(&mut self, yesterday: Date) -> DayKeeper<'_> {
            DayKeeper {
                store: &mut self.store,
                counting: &mut self.counting,
                metrics: &self.metrics,
                tz: &self.tz,
                now: Timestamp::now(),
                yesterday,
            }
        }
    }

    /// Yesterday's re-poll counts as changed only when yesterday changed;
    /// a reach further back always does (its days are new to the windows).
    #[test]
    fn an_answer_is_changed_when_yesterday_changed_or_it_reached_back() {
        let (before, yesterday) = (date(2026, 11, 2), date(2026, 11, 3));
        let today = yesterday.tomorrow().unwrap();
        let mut kept = Kept::new(Ledger::open(None, Some(today), Timestamp::now()).unwrap(), TimeZone::UTC);
        let mut keeper = kept.keeper(yesterday);
        assert!(keeper.activity(fetched(hosting(yesterday, &[1])), yesterday, today).written(), "new day");
        assert!(!keeper.activity(fetched(hosting(yesterday, &[1])), yesterday, today).written(), "same answer");
        assert!(keeper.activity(fetched(hosting(yesterday, &[1, 2])), yesterday, today).written(), "a late call");
        assert!(keeper.activity(fetched(hosting(yesterday, &[1, 2])), before, today).written(), "reached back");
        assert_eq!(hosted(&kept.store, yesterday), 2);
        assert_eq!(hosted(&kept.store, before), 0, "kept as a day without activity");
    }

    /// A counted day that grew at Gong adds the difference to the counters
    /// as it is kept; one that shrank leaves them where they are.
    #[test]
    fn a_counted_day_that_changed_amends_the_counters_as_it_is_kept() {
        let day = date(2026, 11, 3);
        let today = day.tomorrow().unwrap();
        let mut ledger = Ledger::open(None, Some(day), Timestamp::now()).unwrap();
        assert_eq!(ledger.due(CounterKind::Activity, today).unwrap(), Some((day, today)));
        ledger
            .commit(CounterKind::Activity, day, today, |t| {
                t.add_counts(GongId(7), "rep@example.com", std::iter::once(("callsAsHost", 1)));
            })
            .unwrap();
        let mut kept = Kept::new(ledger, TimeZone::UTC);
        let mut keeper = kept.keeper(day);
        keeper.activity(fetched(hosting(day, &[1])), day, today).written();
        keeper.activity(fetched(hosting(day, &[1, 2, 3])), day, today).written();
        let counted = |c: &Counting| c.totals().unwrap().activity[&GongId(7)].fields["callsAsHost"];
        assert_eq!(counted(keeper.counting), 3, "two late calls added");
        keeper.activity(fetched(hosting(day, &[1])), day, today).written();
        assert_eq!(counted(keeper.counting), 3, "a counter never goes down");
        assert_eq!(hosted(keeper.store, day), 1, "the kept day is what Gong says now");
    }

    /// Reviews are kept by the company day they were published; one without
    /// a readable time is left out.
    #[test]
    fn reviews_are_kept_by_review_day_and_undated_ones_left_out() {
        let (first, second) = (date(2026, 11, 2), date(2026, 11, 3));
        let ledger = Ledger::open(None, Some(second), Timestamp::now()).unwrap();
        let mut kept = Kept::new(ledger, TimeZone::get("America/New_York").unwrap());
        let review = |time: Option<&str>| -> AnsweredScorecard {
            serde_json::from_value(serde_json::json!({"scorecardId": "5", "reviewTime": time})).unwrap()
        };
        let answer = vec![
            // 02:00 UTC on the 3rd is still the 2nd in New York.
            review(Some("2026-11-03T02:00:00Z")),
            review(Some("2026-11-03T15:00:00Z")),
            review(Some("not a time")),
            review(None),
        ];
        kept.keeper(second).reviews(fetched(answer), first, second.tomorrow().unwrap()).written();
        assert_eq!(kept.store.reviews(first, second).count(), 1);
        assert_eq!(kept.store.reviews(second, second.tomorrow().unwrap()).count(), 1);
    }

    #[test]
    fn a_day_that_cannot_be_written_does_not_stop_the_others_nor_fail_the_answer() {
        let (d1, d2, d3) = (date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3));
        let days = BTreeMap::from([(d1, 1), (d2, 2), (d3, 3)]);
        let mut kept = Vec::new();
        let result = keep_each_day(days, d1, d3, |day, n| {
            kept.push(n);
            match day == d2 {
                true => Err(StorageError::Write {
                    path: "days/2024-06-02.json".into(),
                    source: std::io::ErrorKind::StorageFull.into(),
                }),
                false => Ok(false),
            }
        });
        assert_eq!(kept, [1, 2, 3], "every day kept");
        assert!(result.changed, "reached back before yesterday");
        assert!(matches!(result.unsaved, Some(StorageError::Write { .. })));
    }
}
