//! The day ledger behind the cumulative counters: every completed company
//! day's activity and scorecard reviews added exactly once, so `increase()`
//! works over any time range. (The totals are the counters collector's
//! table, [`crate::collectors::counters`], which also encodes them.)
//!
//! Exactly once comes from one rule: the totals and the first day not yet
//! added (`next_day`) are written together, atomically, before the new totals
//! are published. A day is fetched again until that write succeeds, and never
//! after it. Activity and scorecards advance separately, so a key without
//! one endpoint's scope still counts the other.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};

use crate::collectors::counters::{CounterTotals, UserTotals};
use crate::gong::models::GongId;
use crate::storage::StorageError;
use crate::storage::write_atomically;

/// Days per day-by-day or scorecards query when the ledger catches up (the
/// poller and `backfill` alike): a page of 100 users x 31 days stays small,
/// and a failure loses at most a month.
pub const CHUNK_DAYS: i64 = 31;

/// File name of the state inside `--storage.path`.
pub const STATE_FILE: &str = "counters.json";

/// Which state a failed storage operation was about, as
/// `gong_exporter_storage_errors_total`'s `file` label names it: the
/// counters' state file, or the kept days.
pub fn failed_file(error: &StorageError) -> &'static str {
    let path = match error {
        StorageError::CreateDir { path, .. }
        | StorageError::Read { path, .. }
        | StorageError::Write { path, .. }
        | StorageError::MoveAside { path, .. } => path,
        StorageError::Locked { dir, .. } => dir,
        StorageError::NotALock { lock, .. } => lock,
    };
    if path.file_name().is_some_and(|name| name == STATE_FILE) { "counters" } else { "days" }
}
/// Version of the state file's layout.
const FORMAT: u32 = 1;

/// Which counters a step advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    /// `gong_activity_*_cumulative_total`, from day-by-day.
    Activity,
    /// `gong_scorecard_reviews_cumulative_total`, from answered scorecards.
    Scorecards,
}

impl CounterKind {
    /// The `counters` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Scorecards => "scorecards",
        }
    }
}

/// The state file's layout. Borrows the totals when written, so a save
/// does not copy them.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile<'a> {
    format: u32,
    /// First day ever counted.
    start_date: Date,
    /// First day not yet added, per kind: every earlier day is counted.
    activity_next_day: Date,
    scorecards_next_day: Date,
    activity: Cow<'a, BTreeMap<GongId, UserTotals>>,
    scorecard_reviews: Vec<ReviewTotal>,
    scorecard_names: Cow<'a, BTreeMap<GongId, String>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ReviewTotal {
    scorecard_id: GongId,
    reviewed_user_id: Option<GongId>,
    review_method: String,
    count: u64,
}

/// `state` unless a day in it is after every company's today at `now`
/// (a clock that ran ahead, a file from another machine).
fn not_in_the_future(state: StateFile<'_>, now: Timestamp) -> Result<StateFile<'_>, String> {
    let furthest_ahead = jiff::tz::TimeZone::fixed(jiff::tz::offset(14));
    let latest = crate::windows::company_date(now, &furthest_ahead);
    let days = [state.start_date, state.activity_next_day, state.scorecards_next_day];
    match days.into_iter().max() {
        Some(last) if last > latest => Err(format!(
            "it is dated in the future ({last}, while no company's today is after {latest}); it would stop the counters until then"
        )),
        _ => Ok(state),
    }
}

/// The counters and where they are kept.
#[derive(Debug)]
pub struct Ledger {
    /// `--storage.path`/counters.json; `None` keeps counters in memory.
    file: Option<PathBuf>,
    /// `--counters.start-date`.
    configured_start: Option<Date>,
    /// Set once the first day is known (needs the company's today).
    days: Option<Days>,
    totals: Arc<CounterTotals>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Days {
    start: Date,
    activity_next: Date,
    scorecards_next: Date,
}

impl Days {
    /// The first day of `kind` not yet counted.
    fn next(&mut self, kind: CounterKind) -> &mut Date {
        match kind {
            CounterKind::Activity => &mut self.activity_next,
            CounterKind::Scorecards => &mut self.scorecards_next,
        }
    }
}

impl Ledger {
    /// Opens the counters: loads `<storage>/counters.json` when it exists.
    /// An unreadable file is moved aside (never reset in place) and counting
    /// starts over; so is one dated after `now`'s date in the zone furthest
    /// ahead (UTC+14), which would freeze the counters until that day came.
    /// Without `storage`, counting starts with the first day that completes
    /// after start-up.
    pub fn open(storage: Option<&Path>, start_date: Option<Date>, now: Timestamp) -> Result<Self, StorageError> {
        let mut counters =
            Self { file: None, configured_start: start_date, days: None, totals: Arc::new(CounterTotals::default()) };
        let Some(dir) = storage else {
            return Ok(counters);
        };
        crate::storage::create_dir(dir)?;
        let file = dir.join(STATE_FILE);
        counters.file = Some(file.clone());
        let bytes = match crate::storage::read(&file)? {
            crate::storage::Read::Missing => return Ok(counters),
            crate::storage::Read::Bytes(bytes) => Ok(bytes),
            crate::storage::Read::Unusable(reason) => Err(reason),
        };
        match bytes
            .and_then(|bytes| serde_json::from_slice::<StateFile>(&bytes).map_err(|e| e.to_string()))
            .and_then(|s| if s.format == FORMAT { Ok(s) } else { Err(format!("unknown format {}", s.format)) })
            .and_then(|s| not_in_the_future(s, now))
        {
            Ok(state) => {
                if let Some(flag) = start_date.filter(|d| *d != state.start_date) {
                    tracing::warn!(
                        flag = %flag,
                        state = %state.start_date,
                        file = %file.display(),
                        "--counters.start-date differs from the state file's first day; the state file wins (move it away to count from the flag's date)"
                    );
                }
                counters.days = Some(Days {
                    start: state.start_date,
                    activity_next: state.activity_next_day,
                    scorecards_next: state.scorecards_next_day,
                });
                counters.totals = Arc::new(CounterTotals {
                    activity: state.activity.into_owned(),
                    reviews: state
                        .scorecard_reviews
                        .into_iter()
                        .map(|r| ((r.scorecard_id, r.reviewed_user_id, r.review_method), r.count))
                        .collect(),
                    scorecard_names: state.scorecard_names.into_owned(),
                });
                tracing::info!(
                    file = %file.display(),
                    start = %state.start_date,
                    activity_next_day = %state.activity_next_day,
                    scorecards_next_day = %state.scorecards_next_day,
                    "counter state loaded"
                );
            }
            Err(reason) => {
                crate::storage::move_aside(
                    &file,
                    &reason,
                    "counter state file is unreadable; moved it aside and started counting afresh (restore it by hand if it can be repaired)",
                )?;
            }
        }
        Ok(counters)
    }

    /// The totals published on `/metrics`.
    pub fn totals(&self) -> Arc<CounterTotals> {
        Arc::clone(&self.totals)
    }

    /// Whether the state is kept on disk.
    pub fn is_persistent(&self) -> bool {
        self.file.is_some()
    }

    /// Days of `kind` completed but not yet added: `[next, today)`, or
    /// `None` when up to date. The first call fixes the first day
    /// (`--counters.start-date`, else `today`) and writes the state file.
    pub fn due(&mut self, kind: CounterKind, today: Date) -> Result<Option<(Date, Date)>, StorageError> {
        if self.days.is_none() {
            let start = self.configured_start.unwrap_or(today);
            let days = Days { start, activity_next: start, scorecards_next: start };
            self.save(days, &self.totals)?;
            self.days = Some(days);
            tracing::info!(start = %start, persistent = self.is_persistent(), "counters count from this day on");
        }
        let next = *self.days.expect("set above").next(kind);
        Ok((next < today).then_some((next, today)))
    }

    /// The first day of `kind` not yet counted, once known.
    pub fn next_day(&self, kind: CounterKind) -> Option<Date> {
        self.days.map(|mut d| *d.next(kind))
    }

    /// Whether `day` of `kind` is already in the counters.
    pub fn counted(&self, kind: CounterKind, day: Date) -> bool {
        self.days.is_some_and(|mut d| d.start <= day && day < *d.next(kind))
    }

    /// Adds `add` for a day already counted (Gong changed it since), writes
    /// the state, and only then makes the new totals current. The days
    /// counted stay as they are; on a write error nothing changes.
    pub fn amend(
        &mut self,
        kind: CounterKind,
        day: Date,
        add: impl FnOnce(&mut CounterTotals),
    ) -> Result<(), StorageError> {
        let Some(days) = self.days else {
            return Ok(());
        };
        if !self.counted(kind, day) {
            tracing::error!(kind = kind.as_str(), %day, "amending a day not counted; not added");
            return Ok(());
        }
        let mut totals = (*self.totals).clone();
        add(&mut totals);
        self.save(days, &totals)?;
        self.totals = Arc::new(totals);
        Ok(())
    }

    /// Adds the days `[from, to)` of `kind` with `add`, writes the state,
    /// and only then makes the new totals current. `from` must be the
    /// kind's next day; on a write error nothing changes.
    pub fn commit(
        &mut self,
        kind: CounterKind,
        from: Date,
        to: Date,
        add: impl FnOnce(&mut CounterTotals),
    ) -> Result<(), StorageError> {
        let Some(mut days) = self.days else {
            return Ok(());
        };
        let next = days.next(kind);
        // Guards the exactly-once rule against a caller bug.
        if *next != from || to <= from {
            tracing::error!(kind = kind.as_str(), %from, %to, next = %next, "counter days out of order; not added");
            return Ok(());
        }
        *next = to;
        let mut totals = (*self.totals).clone();
        add(&mut totals);
        self.save(days, &totals)?;
        self.days = Some(days);
        self.totals = Arc::new(totals);
        Ok(())
    }

    fn save(&self, days: Days, totals: &CounterTotals) -> Result<(), StorageError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let state = StateFile {
            format: FORMAT,
            start_date: days.start,
            activity_next_day: days.activity_next,
            scorecards_next_day: days.scorecards_next,
            activity: Cow::Borrowed(&totals.activity),
            scorecard_reviews: totals
                .reviews
                .iter()
                .map(|((scorecard_id, reviewed_user_id, review_method), count)| ReviewTotal {
                    scorecard_id: *scorecard_id,
                    reviewed_user_id: *reviewed_user_id,
                    review_method: review_method.clone(),
                    count: *count,
                })
                .collect(),
            scorecard_names: Cow::Borrowed(&totals.scorecard_names),
        };
        let bytes = serde_json::to_vec_pretty(&state).expect("the state serialises");
        write_atomically(file, &bytes).map_err(|source| StorageError::Write { path: file.clone(), source })
    }
}

/// Splits `[from, to)` into consecutive ranges of at most `days` days.
pub fn chunks(from: Date, to: Date, days: i64) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let end = start.checked_add(days.days()).map_or(to, |e| e.min(to));
        out.push((start, end));
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::activity::UserDailyActivity;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    fn day_by_day(json: serde_json::Value) -> Vec<UserDailyActivity> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn activity_days_are_placed_in_the_company_calendar() {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let users = day_by_day(serde_json::json!([
            {"userId": "9007199254740993", "userEmailAddress": "a@x.io", "userDailyActivityStats": [
                // Nov 1 and 2 in Pacific time (UTC instants, as Gong writes them).
                {"callsAsHost": ["1", "2"], "fromDate": "2024-11-01T07:00:00Z"},
                {"callsAsHost": ["3"], "callsNew": ["4"], "fromDate": "2024-11-02T07:00:00Z"},
                // Outside the range: not counted.
                {"callsAsHost": ["5"], "fromDate": "2024-11-03T07:00:00Z"}
            ]}
        ]));
        let mut totals = CounterTotals::default();
        totals.add_activity(&users, date(2024, 11, 1), date(2024, 11, 3), &tz);
        let user = &totals.activity[&GongId(9_007_199_254_740_993)];
        assert_eq!(user.email, "a@x.io");
        assert_eq!(user.fields["callsAsHost"], 3);
        assert_eq!(user.fields["callsNew"], 1);
        assert_eq!(totals.series_count(), 2);
    }

    #[test]
    fn state_survives_a_reopen_and_days_are_due_once() {
        let dir = tempfile::tempdir().unwrap();
        let (d1, d2, d3) = (date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12));
        let mut counters = Ledger::open(Some(dir.path()), Some(d1), Timestamp::now()).unwrap();
        assert_eq!(counters.due(CounterKind::Activity, d1).unwrap(), None, "the start day is not over yet");
        assert_eq!(counters.due(CounterKind::Activity, d3).unwrap(), Some((d1, d3)));
        counters
            .commit(CounterKind::Activity, d1, d3, |t| {
                t.activity.entry(GongId(1)).or_default().fields.insert("callsAsHost".into(), 5);
            })
            .unwrap();
        // A second commit of the same days is refused: exactly once.
        counters
            .commit(CounterKind::Activity, d1, d3, |t| {
                t.activity.entry(GongId(1)).or_default().fields.insert("callsAsHost".into(), 99);
            })
            .unwrap();
        assert_eq!(counters.due(CounterKind::Activity, d3).unwrap(), None);
        assert_eq!(counters.due(CounterKind::Scorecards, d3).unwrap(), Some((d1, d3)), "kinds advance apart");

        let reopened = Ledger::open(Some(dir.path()), None, Timestamp::now()).unwrap();
        assert_eq!(reopened.totals(), counters.totals());
        assert_eq!(reopened.totals().activity[&GongId(1)].fields["callsAsHost"], 5);
        assert_eq!(reopened.next_day(CounterKind::Activity), Some(d3));
        assert_eq!(reopened.next_day(CounterKind::Scorecards), Some(d1));
        let _ = d2;
    }

    #[test]
    fn without_storage_counting_starts_today() {
        let mut counters = Ledger::open(None, None, Timestamp::now()).unwrap();
        let today = date(2024, 6, 10);
        assert_eq!(counters.due(CounterKind::Activity, today).unwrap(), None);
        assert_eq!(counters.due(CounterKind::Activity, date(2024, 6, 11)).unwrap(), Some((today, date(2024, 6, 11))));
    }

    #[test]
    fn a_corrupt_state_file_is_moved_aside_not_reset_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(STATE_FILE);
        std::fs::write(&file, b"{\"format\":1,\"start_date\":\"2024-06-").unwrap();
        let mut counters = Ledger::open(Some(dir.path()), None, Timestamp::now()).unwrap();
        assert_eq!(counters.next_day(CounterKind::Activity), None, "counting starts afresh");
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("counters.json.corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "{aside:?}");
        assert_eq!(std::fs::read(dir.path().join(&aside[0])).unwrap(), b"{\"format\":1,\"start_date\":\"2024-06-");
        counters.due(CounterKind::Activity, date(2024, 6, 10)).unwrap();
        assert!(file.exists(), "a fresh state file is written");
    }

    #[test]
    fn a_state_file_dated_in_the_future_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2024-06-10T12:00:00Z".parse().unwrap();
        let mut counters = Ledger::open(Some(dir.path()), None, now).unwrap();
        // Counted until 2024-06-11: the company's today in UTC+14 at `now`.
        counters.due(CounterKind::Activity, date(2024, 6, 11)).unwrap();
        drop(counters);
        let reopened = Ledger::open(Some(dir.path()), None, now).unwrap();
        assert_eq!(reopened.next_day(CounterKind::Activity), Some(date(2024, 6, 11)), "today in UTC+14 is fine");
        // The same file read a day earlier is a day in the future.
        let earlier = now - jiff::SignedDuration::from_hours(24);
        let refused = Ledger::open(Some(dir.path()), None, earlier).unwrap();
        assert_eq!(refused.next_day(CounterKind::Activity), None, "counting starts afresh");
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("counters.json.corrupt-"))
            .count();
        assert_eq!(aside, 1);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let d1 = date(2024, 6, 10);
        let mut counters = Ledger::open(Some(dir.path()), Some(d1), Timestamp::now()).unwrap();
        counters.due(CounterKind::Activity, d1).unwrap();
        // A directory where the state file should be makes the rename fail.
        std::fs::remove_file(dir.path().join(STATE_FILE)).unwrap();
        std::fs::create_dir(dir.path().join(STATE_FILE)).unwrap();
        std::fs::write(dir.path().join(STATE_FILE).join("x"), b"x").unwrap();
        let result = counters.commit(CounterKind::Activity, d1, date(2024, 6, 11), |t| {
            t.activity.entry(GongId(1)).or_default();
        });
        assert!(matches!(result, Err(StorageError::Write { .. })), "{result:?}");
        assert_eq!(counters.next_day(CounterKind::Activity), Some(d1));
        assert!(counters.totals().activity.is_empty());
    }

    #[test]
    fn ranges_split_into_chunks() {
        let c = chunks(date(2024, 1, 1), date(2024, 3, 5), 31);
        assert_eq!(
            c,
            [
                (date(2024, 1, 1), date(2024, 2, 1)),
                (date(2024, 2, 1), date(2024, 3, 3)),
                (date(2024, 3, 3), date(2024, 3, 5))
            ]
        );
        assert!(chunks(date(2024, 1, 1), date(2024, 1, 1), 31).is_empty());
    }
}
