//! Checks the activity windows built from kept days against Gong's own
//! aggregate, once a day after yesterday settled.
//!
//! Windows built from days count each call once however many days list it,
//! which is how the reference describes the aggregate ("the number of
//! calls"); no recorded Gong answer shows which way Gong really counts, nor
//! whether a call it adds late lands where the day-by-day placed it. So the
//! exporter asks: one aggregate query per window (a page per 100 users),
//! compares user by user, and publishes what it found:
//! `gong_exporter_window_mismatches{window}` (users that differ at the last
//! check), the first few differences in the log, and Gong's numbers for the
//! rest of the company day wherever they differ. Gong is the truth. A window
//! whose query fails is asked again in the next cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::civil::Date;
use tokio::time::Instant;

use super::cycle::fail_request;
use super::log_failure;
use crate::collectors::activity::{self, ActivityTable};
use crate::endpoint::Endpoint;
use crate::gong::GongClient;
use crate::gong::models::GongId;
use crate::self_metrics::PollOutcome;
use crate::windows::{Window, WindowBounds};

/// Differences logged per window: enough to see the pattern, not a flood.
const LOGGED_DIFFERENCES: usize = 5;

/// Records per aggregate page (Gong's page size).
const PAGE: u64 = 100;

/// Today's check and Gong's numbers where the built ones differed.
#[derive(Debug, Default)]
pub(super) struct Reconciler {
    /// The company day `done` and `corrected` are about.
    day: Option<Date>,
    /// Windows checked that day (or all, when the budget had no room).
    done: BTreeSet<Window>,
    /// Every window of the day is done.
    complete: bool,
    /// Per window checked that day: the built table, corrected where Gong
    /// differs. Only windows that differed are kept.
    corrected: BTreeMap<Window, Arc<ActivityTable>>,
    /// Users that differ per window checked since the last publish: shown
    /// only once the corrected windows are served, so that a scrape never
    /// sees a count of differences beside the numbers that differed.
    unpublished: Vec<(Window, usize)>,
}

/// What a check reads.
pub(super) struct ReconcileInputs<'a> {
    pub client: &'a GongClient,
    pub bounds: &'a [WindowBounds],
    /// The activity tables built from kept days.
    pub built: &'a [Arc<ActivityTable>],
    pub today: Date,
    pub deadline: Instant,
}

/// One user's field that differs.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Difference {
    pub user: GongId,
    pub field: String,
    pub built: f64,
    pub gong: f64,
}

impl Reconciler {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Whether some of today's windows still await their check.
    pub(super) fn due(&self, today: Date) -> bool {
        self.day != Some(today) || !self.complete
    }

    /// Starts `today` over when the last check was another day's.
    fn roll(&mut self, today: Date) {
        if self.day != Some(today) {
            *self = Self { day: Some(today), ..Self::default() };
        }
    }

    /// Leaves today's windows unchecked (the budget cannot pay for it).
    pub(super) fn skip(&mut self, today: Date) {
        self.roll(today);
        self.complete = true;
    }

    /// Requests a check costs: one aggregate query per window, a page per
    /// 100 users (at least one).
    pub(super) fn cost(windows: usize, users: usize) -> u64 {
        windows as u64 * (users as u64).div_ceil(PAGE).max(1)
    }

    /// Asks Gong's aggregate for each window not checked yet today,
    /// compares, and keeps Gong's numbers where the built ones differ. A
    /// window whose query fails keeps its built numbers until the next
    /// cycle asks again.
    pub(super) async fn check(&mut self, input: ReconcileInputs<'_>) -> PollOutcome {
        self.roll(input.today);
        let mut outcome = PollOutcome::success();
        let todo: Vec<&WindowBounds> = input.bounds.iter().filter(|b| !self.done.contains(&b.window)).collect();
        for b in todo {
            let Some(built) = input.built.iter().find(|t| t.window == b.window) else {
                self.done.insert(b.window);
                continue;
            };
            let answer = match activity::aggregate(input.client, b.from, b.to, input.deadline).await {
                Ok(answer) => answer,
                Err(error) => {
                    log_failure(Endpoint::ActivityAggregate, Some(b.window), &error);
                    fail_request(&mut outcome, &error);
                    continue;
                }
            };
            self.done.insert(b.window);
            outcome.records.push((Some(b.window), answer.items.len()));
            let gong = ActivityTable::build(b.window, answer.items);
            let differences = differences(built, &gong);
            let users: BTreeSet<GongId> = differences.iter().map(|d| d.user).collect();
            self.unpublished.push((b.window, users.len()));
            if differences.is_empty() {
                tracing::info!(window = %b.window, "activity built from kept days equals Gong's aggregate");
                continue;
            }
            for d in differences.iter().take(LOGGED_DIFFERENCES) {
                tracing::warn!(
                    window = %b.window,
                    user_id = %d.user,
                    field = d.field,
                    built = d.built,
                    gong = d.gong,
                    "activity built from kept days differs from Gong's aggregate; publishing Gong's numbers for the rest of the company day"
                );
            }
            tracing::warn!(window = %b.window, users = users.len(), differences = differences.len(), "activity window check: differences found");
            self.corrected.insert(b.window, Arc::new(corrected(built, &gong)));
        }
        self.complete = input.bounds.iter().all(|b| self.done.contains(&b.window));
        outcome
    }

    /// Users that differed per window checked since the last call: for the
    /// self-metrics, once the corrected windows are published.
    pub(super) fn take_unpublished(&mut self) -> Vec<(Window, usize)> {
        std::mem::take(&mut self.unpublished)
    }

    /// Puts Gong's numbers in place of today's built windows that differed.
    /// Windows of another day (or never checked) stay as built.
    pub(super) fn correct(&self, today: Date, activity: &mut [Arc<ActivityTable>]) {
        if self.day != Some(today) {
            return;
        }
        for table in activity.iter_mut() {
            if let Some(gong) = self.corrected.get(&table.window) {
                *table = Arc::clone(gong);
            }
        }
    }
}

/// `(user, Gong field name)` to value.
fn values(table: &ActivityTable) -> BTreeMap<(GongId, &str), f64> {
    table
        .rows
        .iter()
        .flat_map(|row| {
            row.values.iter().map(move |(field, value)| {
                ((row.user_id, table.fields[usize::from(*field)].gong_name.as_str()), *value)
            })
        })
        .collect()
}

/// Every field Gong's answer has that the built table has otherwise, user
/// by user; a user or field missing on one side counts as 0 (both list
/// idle users with zeros, and omit everyone when nobody did anything).
/// Fields only the built table has are left alone: Gong's aggregate is the
/// reference for what it counts.
pub(super) fn differences(built: &ActivityTable, gong: &ActivityTable) -> Vec<Difference> {
    let (built_values, gong_values) = (values(built), values(gong));
    let users: BTreeSet<GongId> = built.rows.iter().chain(gong.rows.iter()).map(|r| r.user_id).collect();
    let mut out = Vec::new();
    for user in users {
        for field in &gong.fields {
            let key = (user, field.gong_name.as_str());
            let (b, g) =
                (built_values.get(&key).copied().unwrap_or(0.0), gong_values.get(&key).copied().unwrap_or(0.0));
            if b != g {
                out.push(Difference { user, field: field.gong_name.clone(), built: b, gong: g });
            }
        }
    }
    out
}

/// The built table with Gong's value in every field Gong reports.
fn corrected(built: &ActivityTable, gong: &ActivityTable) -> ActivityTable {
    let mut rows: BTreeMap<GongId, (&str, BTreeMap<&str, f64>)> = BTreeMap::new();
    for table in [built, gong] {
        for row in &table.rows {
            let entry = rows.entry(row.user_id).or_insert((row.email.as_str(), BTreeMap::new()));
            if !row.email.is_empty() {
                entry.0 = row.email.as_str();
            }
            for (field, value) in &row.values {
                entry.1.insert(table.fields[usize::from(*field)].gong_name.as_str(), *value);
            }
        }
    }
    // A field Gong reports is 0 in Gong's eyes for a user whose row lacks
    // it, and for a user Gong does not list at all.
    let listed: BTreeSet<GongId> = gong.rows.iter().map(|r| r.user_id).collect();
    for (user, (_, values)) in rows.iter_mut() {
        for field in &gong.fields {
            if listed.contains(user) {
                values.entry(field.gong_name.as_str()).or_insert(0.0);
            } else {
                values.insert(field.gong_name.as_str(), 0.0);
            }
        }
    }
    let rows = rows.into_iter().map(|(user, (email, values))| (user, email, values.into_iter().collect())).collect();
    ActivityTable::from_counts(built.window, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(u64, &[(&str, f64)])]) -> ActivityTable {
        let rows = rows
            .iter()
            .map(|(id, values)| (GongId(*id), "u@x.io", values.iter().map(|(f, v)| (*f, *v)).collect()))
            .collect();
        ActivityTable::from_counts(Window::from_days(7).unwrap(), rows)
    }

    #[test]
    fn differences_are_found_user_by_user_and_gong_wins_where_they_differ() {
        let built = table(&[
            (1, &[("callsAsHost", 3.0), ("othersCallsListenedTo", 5.0), ("callsOnlyBuilt", 2.0)]),
            (2, &[("callsAsHost", 1.0), ("othersCallsListenedTo", 0.0)]),
        ]);
        let gong = table(&[
            (1, &[("callsAsHost", 3.0), ("othersCallsListenedTo", 4.0)]),
            (2, &[("callsAsHost", 1.0), ("othersCallsListenedTo", 0.0)]),
            (3, &[("callsAsHost", 2.0)]),
        ]);
        let found = differences(&built, &gong);
        assert_eq!(
            found,
            [
                Difference { user: GongId(1), field: "othersCallsListenedTo".into(), built: 5.0, gong: 4.0 },
                Difference { user: GongId(3), field: "callsAsHost".into(), built: 0.0, gong: 2.0 },
            ]
        );
        let fixed = corrected(&built, &gong);
        assert!(differences(&fixed, &gong).is_empty(), "Gong's numbers are published");
        // A user Gong does not list is 0 in every field Gong reports.
        let with_stranger = table(&[(1, &[("callsAsHost", 3.0)]), (4, &[("callsAsHost", 5.0)])]);
        let fixed_stranger = corrected(&with_stranger, &gong);
        assert!(differences(&fixed_stranger, &gong).is_empty());
        assert_eq!(values(&fixed_stranger).get(&(GongId(4), "callsAsHost")), Some(&0.0));
        let of = |user: u64, field: &str| values(&fixed).get(&(GongId(user), field)).copied();
        assert_eq!(of(1, "callsOnlyBuilt"), Some(2.0), "a field Gong does not report stays as built");
        assert_eq!(of(3, "othersCallsListenedTo"), Some(0.0));
    }

    #[test]
    fn equal_tables_have_no_difference_and_cost_is_a_page_per_hundred_users_per_window() {
        let t = table(&[(1, &[("callsAsHost", 3.0)])]);
        assert!(differences(&t, &t).is_empty());
        assert_eq!(Reconciler::cost(3, 1000), 30);
        assert_eq!(Reconciler::cost(3, 1001), 33);
        assert_eq!(Reconciler::cost(2, 0), 2);
    }

    #[test]
    fn corrections_apply_to_the_day_checked_only() {
        let built = Arc::new(table(&[(1, &[("callsAsHost", 3.0)])]));
        let gong = table(&[(1, &[("callsAsHost", 2.0)])]);
        let today = jiff::civil::date(2026, 12, 6);
        let mut reconciler = Reconciler::new();
        reconciler.roll(today);
        reconciler.complete = true;
        reconciler.corrected.insert(built.window, Arc::new(corrected(&built, &gong)));
        let mut tomorrow = vec![Arc::clone(&built)];
        reconciler.correct(today.tomorrow().unwrap(), &mut tomorrow);
        assert!(Arc::ptr_eq(&tomorrow[0], &built), "a new day's windows stay as built until checked");
        let mut activity = vec![Arc::clone(&built)];
        reconciler.correct(today, &mut activity);
        assert!(differences(&activity[0], &gong).is_empty());
        assert!(!reconciler.due(today) && reconciler.due(today.tomorrow().unwrap()));
    }
}
