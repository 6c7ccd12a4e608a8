//! Adds completed company days to the cumulative ledger each cycle: activity
//! from day-by-day, reviews from the cycle's own scorecards answer where it
//! covers them (no extra request), else from their own query. Each chunk is
//! committed to storage before the next is fetched, so a long catch-up
//! keeps what it got.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use std::sync::Arc;

use super::budget::DailyBudget;
use super::cycle::{CycleResults, fail_request, log_skipped};
use super::log_failure;
use crate::collectors::activity;
use crate::collectors::counters::CounterTotals;
use crate::collectors::scorecards::{self, AnsweredScorecard, PrivateReviews};
use crate::days::{CountedPeaks, DayActivity, DayStore, PartKind};
use crate::endpoint::Endpoint;
use crate::gong::GongClient;
use crate::gong::models::GongId;
use crate::ledger::{CHUNK_DAYS, CounterKind, Ledger, chunks};
use crate::self_metrics::{PollOutcome, SelfMetrics};
use crate::storage::StorageError;
use crate::windows::start_of_day;
use std::collections::BTreeMap;

/// The cumulative counters: the ledger and how completed days are added to
/// it. Owns the ledger; everything else a count needs comes in
/// [`CountInputs`].
#[derive(Debug)]
pub(super) struct Counting {
    ledger: Ledger,
}

/// What one count reads.
pub(super) struct CountInputs<'a> {
    pub client: &'a GongClient,
    /// Days the settling schedule keeps: counted without a request.
    pub days: &'a DayStore,
    pub tz: &'a TimeZone,
    /// Days before this one are counted.
    pub until: Date,
    /// The fixed cycle's answers, whose scorecards may cover the days due.
    pub cycle: Option<&'a CycleResults>,
    /// No request once today's share is spent.
    pub budget: &'a DailyBudget,
    pub metrics: &'a SelfMetrics,
    pub deadline: Instant,
    /// What becomes of reviews that are not public, fetched here.
    pub private_reviews: PrivateReviews,
    /// Which parts to count: activity (day-by-day) and reviews (answered
    /// scorecards), each only while its collector is on.
    pub activity: bool,
    pub reviews: bool,
}

impl CountInputs<'_> {
    fn budget_spent(&self) -> bool {
        self.budget.remaining(self.client.requests_sent()) == 0
    }
}

impl Counting {
    pub(super) fn new(ledger: Ledger) -> Self {
        Self { ledger }
    }

    /// The totals to publish, once counting has begun.
    pub(super) fn totals(&self) -> Option<Arc<CounterTotals>> {
        self.ledger.next_day(CounterKind::Activity).map(|_| self.ledger.totals())
    }

    /// Whether `day`'s activity is already in the counters.
    pub(super) fn activity_counted(&self, day: Date) -> bool {
        self.ledger.counted(CounterKind::Activity, day)
    }

    /// A counted day Gong changed since (a re-read found it): `before` is
    /// the day as kept, `peaks` what the counters hold of fields Gong
    /// lowered before, `after` what Gong says now. Fields that grew past
    /// what was counted add the difference; fields that shrank are logged
    /// and counted in `gong_exporter_counted_day_changes_total{change="shrank"}`,
    /// and their counters stay put: a counter never goes down. Returns the
    /// day's peaks to keep with it.
    pub(super) fn amend_activity(
        &mut self,
        day: Date,
        counted: (&DayActivity, &CountedPeaks),
        after: &DayActivity,
        days: &DayStore,
        metrics: &SelfMetrics,
    ) -> Result<CountedPeaks, StorageError> {
        let Changes { grown, shrank, peaks } = activity_changes(counted.0, counted.1, after);
        if shrank > 0 {
            tracing::warn!(%day, fields = shrank, "a day already counted shrank at Gong; the counters stay where they are");
            metrics.count_day_change("shrank");
        }
        if grown.is_empty() {
            return Ok(peaks);
        }
        let added: u64 = grown.iter().map(|(_, _, n)| n).sum();
        self.ledger.amend(CounterKind::Activity, day, |t| {
            for (user, field, n) in &grown {
                t.add_counts(*user, days.email(*user).unwrap_or_default(), std::iter::once((*field, *n)));
            }
        })?;
        tracing::info!(%day, added, "a day already counted grew at Gong; the difference is added to the counters");
        metrics.count_day_change("grew");
        Ok(peaks)
    }

    /// Adds the company days completed since the last count to the
    /// cumulative counters: activity from day-by-day, reviews from the
    /// cycle's answered scorecards (or their own query for days before the
    /// largest window). Each piece is committed to storage before the next
    /// is fetched, so a long catch-up keeps what it got.
    pub(super) async fn update(&mut self, input: CountInputs<'_>) -> PollOutcome {
        let started = Instant::now();
        let mut outcome = PollOutcome::success();
        let activity = if input.activity { self.count_activity(&input, &mut outcome).await } else { Ok(()) };
        let reviews = if input.reviews { self.count_reviews(&input).await } else { Ok(()) };
        if let Err(error) = activity.and(reviews) {
            // Gong answered; the disk did not take it. The counters hold
            // until the state is written, which the storage alert reports.
            tracing::error!(%error, "cannot write the counter state; the counters hold until it can be written");
            input.metrics.storage_error(crate::ledger::failed_file(&error));
        }
        for (kind, on) in [(CounterKind::Activity, input.activity), (CounterKind::Scorecards, input.reviews)] {
            if let Some(next) = self.ledger.next_day(kind).filter(|_| on) {
                input.metrics.set_counted_until(kind.as_str(), start_of_day(next, input.tz).as_second());
            }
        }
        outcome.elapsed = started.elapsed();
        outcome
    }

    /// Adds the days of activity before `until` not yet counted, a chunk at
    /// a time. Gong's failures go
    /// into `outcome`; a storage failure is returned.
    async fn count_activity(&mut self, input: &CountInputs<'_>, outcome: &mut PollOutcome) -> Result<(), StorageError> {
        let (tz, deadline) = (input.tz, input.deadline);
        let Some((from, to)) = self.ledger.due(CounterKind::Activity, input.until)? else {
            return Ok(());
        };
        let mut listed = 0;
        for (a, b) in chunks(from, to, CHUNK_DAYS) {
            // Days the settling schedule keeps cost no request.
            if input.days.covers(PartKind::Activity, a, b) {
                let days = input.days;
                self.ledger.commit(CounterKind::Activity, a, b, |t| {
                    for day in crate::days::days_of(a, b) {
                        for (user, calls) in
                            days.day(day).and_then(|d| d.activity.as_ref()).iter().flat_map(|p| &p.data)
                        {
                            t.add_counts(*user, days.email(*user).unwrap_or_default(), calls.counts());
                        }
                    }
                })?;
                continue;
            }
            if input.budget_spent() {
                tracing::info!(next_day = %a, "daily budget spent: counters catch up from here at a later cycle");
                break;
            }
            let users = match activity::day_by_day(input.client, a, b, tz, deadline).await {
                Ok(fetched) => {
                    log_skipped(Endpoint::ActivityDayByDay, fetched.skipped, fetched.skipped_request_id.as_deref());
                    fetched.items
                }
                Err(error) => {
                    log_failure(Endpoint::ActivityDayByDay, None, &error);
                    fail_request(outcome, &error);
                    break;
                }
            };
            listed += users.len();
            self.ledger.commit(CounterKind::Activity, a, b, |t| t.add_activity(&users, a, b, tz))?;
            tracing::info!(from = %a, to = %b, users = users.len(), "activity counters: days added");
        }
        outcome.records.push((None, listed));
        Ok(())
    }

    /// Adds the days of reviews before `until` not yet counted, from the
    /// cycle's own scorecards answer
    /// where it covers them (no extra request), else from their own query.
    /// A failed query is logged (the scorecards endpoint's own metrics show
    /// Gong's trouble) and tried again next cycle.
    async fn count_reviews(&mut self, input: &CountInputs<'_>) -> Result<(), StorageError> {
        let (cycle, until, tz, deadline) = (input.cycle, input.until, input.tz, input.deadline);
        let Some((from, to)) = self.ledger.due(CounterKind::Scorecards, until)? else {
            return Ok(());
        };
        // The (fixed) cycle fetched the largest window, ending today.
        let covered = cycle.and_then(|cycle| {
            cycle.bounds.iter().max_by_key(|b| b.window.days()).filter(|b| b.to == until && cycle.time_zone == *tz)
        });
        let cycle_reviews = cycle.and_then(|cycle| cycle.scorecards.results.first().map(|(_, r)| r.as_ref()));
        for (a, b) in chunks(from, to, CHUNK_DAYS) {
            if input.days.covers(PartKind::Scorecards, a, b) {
                let days = input.days;
                self.ledger
                    .commit(CounterKind::Scorecards, a, b, |t| days.reviews(a, b).for_each(|r| t.add_review(r)))?;
                continue;
            }
            let owned;
            let records: &[AnsweredScorecard] = match (covered, cycle_reviews) {
                (Some(w), Some(Ok(fetched))) if w.from <= a && b <= w.to => &fetched.items,
                // Already logged and counted for the scorecards endpoint.
                (Some(w), Some(Err(_))) if w.from <= a && b <= w.to => break,
                _ if input.budget_spent() => break,
                _ => match scorecards::fetch(input.client, a, b, input.private_reviews, deadline).await {
                    Ok(fetched) => {
                        log_skipped(Endpoint::Scorecards, fetched.skipped, fetched.skipped_request_id.as_deref());
                        owned = fetched.items;
                        &owned
                    }
                    Err(error) => {
                        log_failure(Endpoint::Scorecards, None, &error);
                        break;
                    }
                },
            };
            self.ledger.commit(CounterKind::Scorecards, a, b, |t| t.add_reviews(records, a, b, tz))?;
        }
        Ok(())
    }
}

/// How a counted day changed.
#[derive(Debug, PartialEq)]
struct Changes<'a> {
    /// `(user, field, amount)` past what was counted.
    grown: Vec<(GongId, &'a str, u64)>,
    /// User-fields now below what was counted.
    shrank: usize,
    /// What was counted of the fields now below it.
    peaks: CountedPeaks,
}

/// A re-read day against what was counted: the kept day, raised by the
/// peaks of fields Gong lowered earlier.
fn activity_changes<'a>(before: &DayActivity, peaks: &CountedPeaks, after: &'a DayActivity) -> Changes<'a> {
    let mut counted: BTreeMap<GongId, BTreeMap<String, u64>> =
        before.iter().map(|(user, calls)| (*user, calls.counts().map(|(f, n)| (f.to_owned(), n)).collect())).collect();
    for (user, fields) in peaks {
        let held = counted.entry(*user).or_default();
        for (field, peak) in fields {
            let n = held.entry(field.clone()).or_default();
            *n = (*n).max(*peak);
        }
    }
    let mut changes = Changes { grown: Vec::new(), shrank: 0, peaks: CountedPeaks::new() };
    let empty = BTreeMap::new();
    for (user, calls) in after {
        let held = counted.get(user).unwrap_or(&empty);
        for (field, now) in calls.counts() {
            let then = held.get(field).copied().unwrap_or(0);
            if now > then {
                changes.grown.push((*user, field, now - then));
            }
        }
    }
    for (user, held) in &counted {
        let now_of =
            |field: &str| after.get(user).and_then(|c| c.counts().find(|(f, _)| *f == field)).map_or(0, |(_, n)| n);
        for (field, then) in held {
            if now_of(field) < *then {
                changes.shrank += 1;
                changes.peaks.entry(*user).or_default().insert(field.clone(), *then);
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::Timestamp;
    use jiff::civil::date;

    use super::*;
    use crate::collectors::activity::DayCalls;
    use crate::gong::models::GongId;

    /// Days the settling schedule keeps are counted from the store, with no
    /// request; the first day not kept is asked of Gong (here: nobody
    /// listens, so it fails and is tried again next cycle).
    #[tokio::test]
    async fn kept_days_are_counted_without_a_request() {
        let (first, until) = (date(2026, 11, 1), date(2026, 11, 4));
        let now = Timestamp::now();
        let mut days = DayStore::in_memory();
        for (n, day) in crate::days::days_of(first, until).enumerate() {
            let hosted = DayCalls::from_lists(vec![("callsAsHost".into(), (0..n as u64 + 1).collect())]);
            days.keep_activity(day, now, BTreeMap::from([(GongId(7), hosted)]), &BTreeMap::new()).unwrap();
            days.keep_reviews(day, now, Vec::new()).unwrap();
        }
        let metrics = Arc::new(SelfMetrics::new());
        let mut options = crate::config::Config::demo(5).client;
        options.base_url = "http://127.0.0.1:9".parse().unwrap();
        options.max_retries = 0;
        let client = GongClient::new(options, Arc::clone(&metrics)).unwrap();
        let mut counting = Counting::new(Ledger::open(None, Some(first), now).unwrap());
        let budget = DailyBudget::new(10_000, 0.25);
        let tz = TimeZone::UTC;
        let input = |until| CountInputs {
            client: &client,
            days: &days,
            tz: &tz,
            until,
            cycle: None,
            budget: &budget,
            metrics: &metrics,
            deadline: Instant::now() + std::time::Duration::from_secs(5),
            activity: true,
            reviews: true,
            private_reviews: PrivateReviews::Withhold,
        };
        let outcome = counting.update(input(until)).await;
        assert!(outcome.ok, "{:?}", outcome.error);
        assert_eq!(client.requests_sent(), 0, "kept days cost no request");
        let totals = counting.totals().expect("counting began");
        assert_eq!(totals.activity[&GongId(7)].fields["callsAsHost"], 1 + 2 + 3);

        let outcome = counting.update(input(until.tomorrow().unwrap())).await;
        assert!(!outcome.ok, "a day not kept is asked of Gong, which did not answer");
        assert!(client.requests_sent() > 0);
        assert_eq!(counting.totals().unwrap().activity[&GongId(7)].fields["callsAsHost"], 6, "nothing added");
    }

    /// A re-read day compared with what was counted: growth by field, and
    /// how many fields shrank (a user gone counts each field it had).
    #[test]
    fn changes_of_a_counted_day_are_growth_and_shrinkage() {
        let calls = |lists: &[(&'static str, &[u64])]| {
            DayCalls::from_lists(lists.iter().map(|(f, ids)| ((*f).into(), ids.to_vec())).collect())
        };
        let before = BTreeMap::from([
            (GongId(1), calls(&[("callsAsHost", &[1, 2]), ("callsAttended", &[3])])),
            (GongId(2), calls(&[("callsAsHost", &[9])])),
        ]);
        let after = BTreeMap::from([
            (GongId(1), calls(&[("callsAsHost", &[1, 2, 4]), ("callsAttended", &[])])),
            (GongId(3), calls(&[("callsAttended", &[5, 6])])),
        ]);
        let none = CountedPeaks::new();
        let changes = activity_changes(&before, &none, &after);
        assert_eq!(changes.grown, [(GongId(1), "callsAsHost", 1), (GongId(3), "callsAttended", 2)]);
        assert_eq!(changes.shrank, 2, "user 1's callsAttended, and user 2 gone");
        assert_eq!(changes.peaks[&GongId(1)]["callsAttended"], 1);
        assert_eq!(changes.peaks[&GongId(2)]["callsAsHost"], 1);
        let same = activity_changes(&before, &none, &before);
        assert!(same.grown.is_empty() && same.shrank == 0 && same.peaks.is_empty());

        // Gong lowers a counted field, then raises it back: nothing is
        // added until it passes what was counted.
        let lowered = BTreeMap::from([(GongId(1), calls(&[("callsAsHost", &[1])]))]);
        let first = activity_changes(&before, &none, &lowered);
        assert!(first.grown.is_empty());
        let back = BTreeMap::from([(GongId(1), calls(&[("callsAsHost", &[1, 2])]))]);
        let second = activity_changes(&lowered, &first.peaks, &back);
        assert!(second.grown.is_empty(), "{:?}", second.grown);
        let past = BTreeMap::from([(GongId(1), calls(&[("callsAsHost", &[1, 2, 7])]))]);
        assert_eq!(activity_changes(&back, &second.peaks, &past).grown, [(GongId(1), "callsAsHost", 1)]);
    }
}
