//! Adds completed company days to the cumulative ledger each cycle: activity
//! from day-by-day, reviews from the cycle's own scorecards answer where it
//! covers them (no extra request), else from their own query. Each chunk is
//! committed to storage before the next is fetched, so a long catch-up
//! keeps what it got.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use tokio::time::Instant;

use super::cycle::{CycleResults, fail_request, log_skipped};
use super::{Poller, log_failure};
use crate::cli::PollSchedule;
use crate::collectors::activity;
use crate::collectors::scorecards::{self, AnsweredScorecard};
use crate::days::PartKind;
use crate::endpoint::Endpoint;
use crate::ledger::{CHUNK_DAYS, CounterKind, StorageError, chunks};
use crate::self_metrics::PollOutcome;
use crate::windows::{company_date, start_of_day};

impl Poller {
    /// Adds the company days completed since the last count to the
    /// cumulative counters: activity from day-by-day, reviews from the
    /// cycle's answered scorecards (or their own query for days before the
    /// largest window). Each piece is committed to storage before the next
    /// is fetched, so a long catch-up keeps what it got. `None` until the
    /// company's zone is known: without it days cannot be told apart.
    pub(super) async fn update_ledger(
        &mut self,
        cycle: Option<&CycleResults>,
        deadline: Instant,
    ) -> Option<PollOutcome> {
        let tz = self.zone.zone().cloned()?;
        let now = self.settings.clock.now();
        let today = company_date(now, &tz);
        // Under the settling schedule yesterday may still change until it
        // settles: it is counted then, late calls and reviews included (a
        // count is never taken back).
        let until = match self.settings.schedule {
            PollSchedule::Settling if now < self.settled_at(today, &tz) => today.yesterday().unwrap_or(today),
            _ => today,
        };
        let started = Instant::now();
        let mut outcome = PollOutcome::success();
        let activity = self.count_activity(until, &tz, deadline, &mut outcome).await;
        let reviews = self.count_reviews(cycle, until, &tz, deadline).await;
        if let Err(error) = activity.and(reviews) {
            tracing::error!(%error, "cannot keep the counter state");
            outcome.fail(&error, false);
        }
        for kind in [CounterKind::Activity, CounterKind::Scorecards] {
            if let Some(next) = self.ledger.next_day(kind) {
                self.shared.self_metrics.set_counted_until(kind.as_str(), start_of_day(next, &tz).as_second());
            }
        }
        outcome.elapsed = started.elapsed();
        Some(outcome)
    }

    /// Adds the days of activity before `until` not yet counted, a chunk at
    /// a time. Gong's failures go
    /// into `outcome`; a storage failure is returned.
    async fn count_activity(
        &mut self,
        until: Date,
        tz: &TimeZone,
        deadline: Instant,
        outcome: &mut PollOutcome,
    ) -> Result<(), StorageError> {
        let Some((from, to)) = self.ledger.due(CounterKind::Activity, until)? else {
            return Ok(());
        };
        let mut listed = 0;
        for (a, b) in chunks(from, to, CHUNK_DAYS) {
            // Days the settling schedule keeps cost no request.
            if self.days.covers(PartKind::Activity, a, b) {
                let days = &self.days;
                self.ledger.commit(CounterKind::Activity, a, b, |t| {
                    for day in crate::days::days_of(a, b) {
                        for (user, counts) in
                            days.day(day).and_then(|d| d.activity.as_ref()).iter().flat_map(|p| &p.data)
                        {
                            t.add_counts(*user, days.email(*user).unwrap_or_default(), counts.fields());
                        }
                    }
                })?;
                continue;
            }
            if self.budget_spent() {
                tracing::info!(next_day = %a, "daily budget spent: counters catch up from here at a later cycle");
                break;
            }
            let users = match activity::day_by_day(&self.client, a, b, deadline).await {
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
    async fn count_reviews(
        &mut self,
        cycle: Option<&CycleResults>,
        until: Date,
        tz: &TimeZone,
        deadline: Instant,
    ) -> Result<(), StorageError> {
        let Some((from, to)) = self.ledger.due(CounterKind::Scorecards, until)? else {
            return Ok(());
        };
        // The (fixed) cycle fetched the largest window, ending today.
        let covered = cycle.and_then(|cycle| {
            cycle.bounds.iter().max_by_key(|b| b.window.days()).filter(|b| b.to == until && cycle.time_zone == *tz)
        });
        let cycle_reviews = cycle.and_then(|cycle| cycle.scorecards.results.first().map(|(_, r)| r.as_ref()));
        for (a, b) in chunks(from, to, CHUNK_DAYS) {
            if self.days.covers(PartKind::Reviews, a, b) {
                let days = &self.days;
                self.ledger
                    .commit(CounterKind::Scorecards, a, b, |t| days.reviews(a, b).for_each(|r| t.add_review(r)))?;
                continue;
            }
            let owned;
            let records: &[AnsweredScorecard] = match (covered, cycle_reviews) {
                (Some(w), Some(Ok(fetched))) if w.from <= a && b <= w.to => &fetched.items,
                // Already logged and counted for the scorecards endpoint.
                (Some(w), Some(Err(_))) if w.from <= a && b <= w.to => break,
                _ if self.budget_spent() => break,
                _ => match scorecards::fetch(&self.client, a, b, deadline).await {
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
