//! Kept company days: the per-day answers that windows are built from, so
//! that a re-poll fetches only the days that can still change.
//!
//! Gong dates day-by-day activity by the day of the call, answered
//! scorecards by the day of the review, and coaching by the day of the
//! manager's action. Once a day has settled (its `--poll.settle-for` after
//! the company midnight that ended it has passed) it is re-polled no more,
//! only read again in the daily re-read of the last 7 days. Every window
//! that contains it is built from kept days: activity and coaching as the
//! distinct call IDs of its days, reviews as a sum. Interaction stats are
//! ratios over a whole window and cannot be built from days; they are not
//! kept.
//!
//! Days live in memory and, with `--storage.path`, one file per day under
//! `days/`, written atomically whenever a part of that day changes, so a
//! restart does not fetch kept days again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::collectors::activity::{ACTIVITY_FIELDS, DayCalls};
use crate::collectors::coaching::ManagerCoaching;
use crate::collectors::scorecards::AnsweredScorecard;
use crate::gong::models::GongId;
use crate::storage::{StorageError, write_atomically};

/// Directory inside `--storage.path`.
pub const DAYS_DIR: &str = "days";
/// Version of a day file's layout.
/// 2 keeps call IDs where 1 kept only how many there were; a day kept in
/// layout 1 is fetched again (its part of the window cannot be told apart
/// from the other days' calls). 3 keeps each review's visibility and keeps
/// reviews that are not public withheld; reviews kept in layouts 1 and 2
/// carry no visibility, so they are fetched again.
const FORMAT: u32 = 3;

/// One day of activity: users with any activity that day, by ID.
pub type DayActivity = BTreeMap<GongId, DayCalls>;

/// Each user's distinct calls per field over `days`: a call on several
/// days' lists counts once, as in Gong's aggregate.
pub fn distinct_calls<'a>(days: impl Iterator<Item = &'a DayActivity>) -> BTreeMap<GongId, Vec<(&'a str, u64)>> {
    let mut by_user: BTreeMap<GongId, Vec<&DayCalls>> = BTreeMap::new();
    for day in days {
        for (user, calls) in day {
            by_user.entry(*user).or_default().push(calls);
        }
    }
    by_user.into_iter().map(|(user, days)| (user, DayCalls::distinct(&days))).collect()
}

/// A manager's coaching answer for one day in one workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptCoaching {
    pub workspace_id: GongId,
    pub manager_id: GongId,
    pub data: Vec<ManagerCoaching>,
}

/// One part of a day as last fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part<T> {
    /// When it was fetched: a part fetched after its day settled is final.
    pub fetched_at: Timestamp,
    /// Hash of the decoded records, to tell a changed answer from the same.
    pub hash: u64,
    pub data: T,
}

/// What is kept of one company day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeptDay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Part<DayActivity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviews: Option<Part<Vec<AnsweredScorecard>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coaching: Option<Part<Vec<KeptCoaching>>>,
    /// What the counters counted of fields Gong later lowered: a counter
    /// never goes down, so growth back up to these is not counted again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counted_peaks: CountedPeaks,
}

/// User to field to the count the counters hold for a day.
pub type CountedPeaks = BTreeMap<GongId, BTreeMap<String, u64>>;

/// A day file.
#[derive(Debug, Serialize, Deserialize)]
struct DayFile {
    format: u32,
    day: Date,
    /// The field names `activity` counts are positioned by.
    fields: Vec<String>,
    /// Latest email of each user listed in the day's activity.
    #[serde(default)]
    emails: BTreeMap<GongId, String>,
    #[serde(flatten)]
    kept: KeptDay,
}

/// Which part of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Activity,
    /// Answered scorecards, by the day of the review.
    Scorecards,
    Coaching,
}

/// Every kept day, and where they are stored.
#[derive(Debug, Default)]
pub struct DayStore {
    /// `--storage.path`/days; `None` keeps days in memory only.
    dir: Option<PathBuf>,
    days: BTreeMap<Date, KeptDay>,
    /// Latest email Gong gave each user in day-by-day answers.
    emails: BTreeMap<GongId, String>,
    /// Days kept in memory whose last write failed (a full or read-only
    /// disk): written again by [`DayStore::save_unsaved`], never fetched
    /// again for it.
    unsaved: BTreeSet<Date>,
}

/// A stable 64-bit hash of `value`'s JSON form (FNV-1a): equal records give
/// equal hashes across runs and builds, so a stored hash stays comparable.
/// (`std`'s hashers are seeded per process or may change between releases.)
pub fn hash_of<T: Serialize + ?Sized>(value: &T) -> u64 {
    // Hashed as it is written: a day of 10,000 users' call IDs is megabytes
    // of JSON that need not exist at once. FNV-1a reads bytes in order, so
    // the hash is the one of the whole text.
    struct Hashing(fnv::FnvHasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            std::hash::Hasher::write(&mut self.0, bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(fnv::FnvHasher::default());
    serde_json::to_writer(&mut hashing, value).expect("kept records serialise");
    std::hash::Hasher::finish(&hashing.0)
}

impl DayStore {
    /// Days kept in memory only: a restart fetches every window once.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads `<storage>/days/*.json`. An unreadable day file, or one with a
    /// part fetched after `now` (a clock set wrong when it was written: its
    /// day would pass for final and never be polled again), is moved aside
    /// and that day is fetched again; it never stops the start.
    pub fn open(storage: Option<&Path>, now: Timestamp) -> Result<Self, StorageError> {
        let Some(storage) = storage else {
            return Ok(Self::in_memory());
        };
        let dir = storage.join(DAYS_DIR);
        crate::storage::create_dir(&dir)?;
        let mut store = Self { dir: Some(dir.clone()), ..Self::default() };
        let entries = std::fs::read_dir(&dir).map_err(|source| StorageError::Read { path: dir.clone(), source })?;
        let (mut files, others): (Vec<PathBuf>, Vec<PathBuf>) = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            // What was moved aside before stays where the operator finds it.
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().contains(".corrupt-")))
            .partition(|p| p.extension().is_some_and(|x| x == "json"));
        for path in others {
            if crate::storage::is_unfinished_write(&path) {
                tracing::debug!(file = %path.display(), "deleting what a write cut short left");
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let _ = crate::storage::move_aside(
                &path,
                "not named <day>.json",
                "a file in the kept days' folder is no kept day; moved it aside",
            );
        }
        files.sort();
        for path in files {
            match read_day_file(&path)
                .and_then(|file| named_by(file, &path, now))
                .and_then(|file| fetched_by(file, now))
            {
                Ok(file) => {
                    store.emails.extend(file.emails);
                    store.days.insert(file.day, file.kept);
                }
                Err(reason) => {
                    // A file that cannot be moved is logged and skipped: a
                    // day is fetched again, so it never stops the start.
                    let _ = crate::storage::move_aside(
                        &path,
                        &reason,
                        "kept day file is unreadable; moved it aside, and that day will be fetched from Gong again",
                    );
                }
            }
        }
        if !store.days.is_empty() {
            tracing::info!(dir = %dir.display(), days = store.days.len(), "kept days loaded");
        }
        Ok(store)
    }

    /// The kept day, if any part of it is kept.
    pub fn day(&self, day: Date) -> Option<&KeptDay> {
        self.days.get(&day)
    }

    /// When `kind` of `day` was last fetched.
    pub fn fetched_at(&self, day: Date, kind: PartKind) -> Option<Timestamp> {
        let kept = self.days.get(&day)?;
        match kind {
            PartKind::Activity => kept.activity.as_ref().map(|p| p.fetched_at),
            PartKind::Scorecards => kept.reviews.as_ref().map(|p| p.fetched_at),
            PartKind::Coaching => kept.coaching.as_ref().map(|p| p.fetched_at),
        }
    }

    /// Whether `kind` is kept for every day of `[from, to)`.
    pub fn covers(&self, kind: PartKind, from: Date, to: Date) -> bool {
        days_of(from, to).all(|d| self.fetched_at(d, kind).is_some())
    }

    /// The days of `[from, to)` whose `kind` is not kept.
    pub fn missing(&self, kind: PartKind, from: Date, to: Date) -> Vec<Date> {
        days_of(from, to).filter(|d| self.fetched_at(*d, kind).is_none()).collect()
    }

    /// The latest email of a user seen in day-by-day answers.
    pub fn email(&self, user: GongId) -> Option<&str> {
        self.emails.get(&user).map(String::as_str)
    }

    /// Keeps a day's activity; returns whether it differs from what was
    /// kept (a day not kept before counts as changed).
    pub fn keep_activity(
        &mut self,
        day: Date,
        fetched_at: Timestamp,
        activity: DayActivity,
        emails: &BTreeMap<GongId, String>,
    ) -> Result<bool, StorageError> {
        for id in activity.keys() {
            if let Some(email) = emails.get(id).filter(|e| !e.is_empty()) {
                self.emails.insert(*id, email.clone());
            }
        }
        self.keep(day, fetched_at, activity, |kept| &mut kept.activity)
    }

    /// Sets a day's counted peaks; written with the day's next keep.
    pub fn set_counted_peaks(&mut self, day: Date, peaks: CountedPeaks) {
        self.days.entry(day).or_default().counted_peaks = peaks;
    }

    /// Keeps a day's reviews; returns whether they changed.
    pub fn keep_reviews(
        &mut self,
        day: Date,
        fetched_at: Timestamp,
        reviews: Vec<AnsweredScorecard>,
    ) -> Result<bool, StorageError> {
        self.keep(day, fetched_at, reviews, |kept| &mut kept.reviews)
    }

    /// Keeps a day's coaching answers (every workspace and manager).
    pub fn keep_coaching(
        &mut self,
        day: Date,
        fetched_at: Timestamp,
        answers: Vec<KeptCoaching>,
    ) -> Result<bool, StorageError> {
        self.keep(day, fetched_at, answers, |kept| &mut kept.coaching)
    }

    /// Replaces one part of a day and writes the day; whether the part's
    /// records changed.
    fn keep<T: Serialize>(
        &mut self,
        day: Date,
        fetched_at: Timestamp,
        data: T,
        part: impl FnOnce(&mut KeptDay) -> &mut Option<Part<T>>,
    ) -> Result<bool, StorageError> {
        let hash = hash_of(&data);
        let slot = part(self.days.entry(day).or_default());
        let changed = slot.as_ref().is_none_or(|p| p.hash != hash);
        *slot = Some(Part { fetched_at, hash, data });
        self.save_or_remember(day)?;
        Ok(changed)
    }

    /// Writes `day`; when that fails the day stays kept in memory and is
    /// remembered as unsaved, and the error is returned.
    fn save_or_remember(&mut self, day: Date) -> Result<(), StorageError> {
        match self.save(day) {
            Ok(()) => {
                self.unsaved.remove(&day);
                Ok(())
            }
            Err(error) => {
                self.unsaved.insert(day);
                Err(error)
            }
        }
    }

    /// Writes the days whose last write failed; the first error, if any
    /// day still cannot be written.
    pub fn save_unsaved(&mut self) -> Result<(), StorageError> {
        let mut first = None;
        for day in std::mem::take(&mut self.unsaved) {
            if self.days.contains_key(&day)
                && let Err(error) = self.save_or_remember(day)
            {
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Days kept in memory only, their write having failed.
    pub fn unsaved(&self) -> usize {
        self.unsaved.len()
    }

    /// Forgets every kept day, in memory and on disk; how many there were.
    pub fn forget_all(&mut self) -> usize {
        let kept = self.days.len();
        self.forget_before(Date::MAX);
        kept
    }

    /// Forgets days before `first` (no window reaches them any more), in
    /// memory and on disk.
    pub fn forget_before(&mut self, first: Date) {
        let old: Vec<Date> = self.days.range(..first).map(|(d, _)| *d).collect();
        if old.is_empty() {
            return;
        }
        for day in old {
            self.days.remove(&day);
            if let Some(dir) = &self.dir {
                let _ = std::fs::remove_file(dir.join(format!("{day}.json")));
            }
        }
        let listed: BTreeSet<GongId> =
            self.days.values().filter_map(|d| d.activity.as_ref()).flat_map(|p| p.data.keys().copied()).collect();
        self.emails.retain(|id, _| listed.contains(id));
    }

    /// Every user's distinct calls per field over `[from, to)`: a call on
    /// several days' lists counts once, as in Gong's aggregate.
    pub fn activity_window(&self, from: Date, to: Date) -> BTreeMap<GongId, Vec<(&str, u64)>> {
        distinct_calls(self.days.range(from..to).filter_map(|(_, kept)| Some(&kept.activity.as_ref()?.data)))
    }

    /// The reviews kept for `[from, to)`, day by day.
    pub fn reviews(&self, from: Date, to: Date) -> impl Iterator<Item = &AnsweredScorecard> {
        self.days.range(from..to).flat_map(|(_, kept)| kept.reviews.iter().flat_map(|p| p.data.iter()))
    }

    /// Withholds kept reviews that are not public (days kept while
    /// `--scorecards.include-private` was on), and writes those days again
    /// with the next [`DayStore::save_unsaved`]; how many were withheld.
    pub fn withhold_private_reviews(&mut self) -> usize {
        let mut withheld = 0;
        for (day, kept) in &mut self.days {
            let Some(part) = kept.reviews.as_mut() else { continue };
            let before = part.data.iter().filter(|r| r.withheld).count();
            part.data.iter_mut().for_each(AnsweredScorecard::withhold_unless_public);
            let now = part.data.iter().filter(|r| r.withheld).count();
            if now > before {
                withheld += now - before;
                if self.dir.is_some() {
                    self.unsaved.insert(*day);
                }
            }
        }
        withheld
    }

    /// Drops the reviews of days that hold withheld ones (kept while
    /// `--scorecards.include-private` was off: their people are gone), so
    /// that those days are fetched again whole now that it is on. Returns
    /// how many days.
    pub fn forget_withheld_reviews(&mut self) -> usize {
        let mut forgotten = 0;
        for (day, kept) in &mut self.days {
            if kept.reviews.as_ref().is_some_and(|part| part.data.iter().any(|r| r.withheld)) {
                kept.reviews = None;
                forgotten += 1;
                if self.dir.is_some() {
                    self.unsaved.insert(*day);
                }
            }
        }
        forgotten
    }

    /// The coaching answers kept for `[from, to)`, day by day.
    pub fn coaching(&self, from: Date, to: Date) -> impl Iterator<Item = &KeptCoaching> {
        self.days.range(from..to).flat_map(|(_, kept)| kept.coaching.iter().flat_map(|p| p.data.iter()))
    }

    fn save(&self, day: Date) -> Result<(), StorageError> {
        let (Some(dir), Some(kept)) = (&self.dir, self.days.get(&day)) else {
            return Ok(());
        };
        let emails = kept
            .activity
            .iter()
            .flat_map(|p| p.data.keys())
            .filter_map(|id| Some((*id, self.emails.get(id)?.clone())))
            .collect();
        let file = DayFile {
            format: FORMAT,
            day,
            fields: ACTIVITY_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            emails,
            kept: kept.clone(),
        };
        let path = dir.join(format!("{day}.json"));
        let bytes = serde_json::to_vec(&file).expect("a kept day serialises");
        write_atomically(&path, &bytes).map_err(|source| StorageError::Write { path, source })
    }
}

/// `file`, if its name is its day (the name is what the store writes and
/// deletes by) and that day has begun somewhere on Earth by `now`: a day
/// file named for 2099 would otherwise be kept, and passed over by every
/// window, for ever.
fn named_by(file: DayFile, path: &Path, now: Timestamp) -> Result<DayFile, String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let named: Date = stem.parse().map_err(|_| format!("its name {stem:?} is not a day (YYYY-MM-DD)"))?;
    if file.day != named {
        return Err(format!("it says it holds {} but is named {named}", file.day));
    }
    // UTC+14 is the furthest ahead any zone is.
    let latest_today = now.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(14))).date();
    if named > latest_today {
        return Err(format!("{named} has not begun in any time zone"));
    }
    Ok(file)
}

/// `file`, unless a part of it was fetched after `now`.
fn fetched_by(file: DayFile, now: Timestamp) -> Result<DayFile, String> {
    let kept = &file.kept;
    let parts = [
        kept.activity.as_ref().map(|p| p.fetched_at),
        kept.reviews.as_ref().map(|p| p.fetched_at),
        kept.coaching.as_ref().map(|p| p.fetched_at),
    ];
    match parts.into_iter().flatten().find(|at| *at > now) {
        Some(at) => Err(format!("a part of it was fetched at {at}, after now ({now}); it would pass for final")),
        None => Ok(file),
    }
}

fn read_day_file(path: &Path) -> Result<DayFile, String> {
    let bytes = match crate::storage::read(path).map_err(|e| e.to_string())? {
        crate::storage::Read::Bytes(bytes) => bytes,
        crate::storage::Read::Missing => return Err("it was removed while being read".to_owned()),
        crate::storage::Read::Unusable(reason) => return Err(reason),
    };
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    let layout = value.get("format").and_then(serde_json::Value::as_u64);
    if let Some(older @ (1 | 2)) = layout
        && let Some(fields) = value.as_object_mut()
    {
        // Layout 1 kept how many calls, not which: its activity is fetched
        // again. Layouts 1 and 2 kept reviews without their visibility,
        // which decides whether they may be exported per user: fetched
        // again. Coaching (unchanged since) stays.
        if older == 1 {
            fields.remove("activity");
        }
        fields.remove("reviews");
        fields.insert("format".to_owned(), FORMAT.into());
        tracing::info!(path = %path.display(), layout = older, "kept day in an older layout: the parts it lacks will be fetched again");
    }
    let file: DayFile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if file.format != FORMAT {
        return Err(format!("unknown format {}", file.format));
    }
    if file.fields.iter().map(String::as_str).ne(ACTIVITY_FIELDS.iter().copied()) {
        return Err("written for another list of activity fields".to_owned());
    }
    Ok(file)
}

pub use crate::windows::days_of;

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// A day of `host` hosted calls, numbered from `first`.
    fn hosted(first: u64, host: u32) -> DayCalls {
        DayCalls::from_lists(vec![("callsAsHost".into(), (first..first + u64::from(host)).collect())])
    }

    fn hosted_in(window: &BTreeMap<GongId, Vec<(&str, u64)>>, user: u64) -> u64 {
        window[&GongId(user)].iter().find(|(f, _)| *f == "callsAsHost").map_or(0, |(_, n)| *n)
    }

    /// Users' hosted calls on a day: each user's calls are numbered from
    /// 100 x their ID, so the same count on two days lists the same calls.
    fn activity(pairs: &[(u64, u32)]) -> DayActivity {
        pairs.iter().map(|(id, host)| (GongId(*id), hosted(id * 100, *host))).collect()
    }

    #[test]
    fn windows_count_distinct_calls_of_kept_days_and_changes_are_detected() {
        let mut store = DayStore::in_memory();
        let at = Timestamp::UNIX_EPOCH;
        let emails = BTreeMap::from([(GongId(1), "a@x.io".to_owned())]);
        assert!(store.keep_activity(date(2024, 6, 1), at, activity(&[(1, 2)]), &emails).unwrap());
        assert!(store.keep_activity(date(2024, 6, 2), at, activity(&[(1, 3), (2, 1)]), &emails).unwrap());
        assert!(!store.keep_activity(date(2024, 6, 2), at, activity(&[(1, 3), (2, 1)]), &emails).unwrap(), "same");
        assert!(store.keep_activity(date(2024, 6, 2), at, activity(&[(1, 4), (2, 1)]), &emails).unwrap(), "late call");
        let window = store.activity_window(date(2024, 6, 1), date(2024, 6, 3));
        assert_eq!(hosted_in(&window, 1), 4, "calls 100 and 101 are on both days' lists");
        assert_eq!(hosted_in(&window, 2), 1);
        assert!(store.covers(PartKind::Activity, date(2024, 6, 1), date(2024, 6, 3)));
        assert_eq!(store.missing(PartKind::Activity, date(2024, 5, 31), date(2024, 6, 3)), [date(2024, 5, 31)]);
        assert_eq!(store.email(GongId(1)), Some("a@x.io"));
        store.forget_before(date(2024, 6, 2));
        assert!(store.day(date(2024, 6, 1)).is_none());
    }

    /// Days kept while `--scorecards.include-private` was on hold private
    /// reviews whole: without the flag they are withheld and rewritten.
    #[test]
    fn kept_private_reviews_are_withheld_and_written_again_without_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        let at: Timestamp = "2024-06-02T09:00:00Z".parse().unwrap();
        let review: AnsweredScorecard = serde_json::from_value(serde_json::json!({
            "answeredScorecardId": 5, "scorecardId": 7, "scorecardName": "S", "callId": 11,
            "reviewedUserId": 424242, "reviewerUserId": 999, "reviewMethod": "MANUAL",
            "reviewTime": "2024-06-01T18:00:00Z", "visibilityType": "PRIVATE", "answers": []
        }))
        .unwrap();
        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        store.keep_reviews(date(2024, 6, 1), at, vec![review]).unwrap();
        let file = dir.path().join(DAYS_DIR).join("2024-06-01.json");
        assert!(std::fs::read_to_string(&file).unwrap().contains("424242"), "kept whole with the flag on");

        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        assert_eq!(store.withhold_private_reviews(), 1);
        assert!(store.reviews(date(2024, 6, 1), date(2024, 6, 2)).all(|r| r.withheld && r.reviewed_user_id.is_none()));
        store.save_unsaved().unwrap();
        assert!(!std::fs::read_to_string(&file).unwrap().contains("424242"), "written again without the people");
        assert_eq!(store.withhold_private_reviews(), 0, "once");

        // The flag on again: those days' reviews are fetched again whole.
        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        assert!(store.fetched_at(date(2024, 6, 1), PartKind::Scorecards).is_some());
        assert_eq!(store.forget_withheld_reviews(), 1);
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Scorecards), None, "fetched again");
        assert_eq!(store.forget_withheld_reviews(), 0);
    }

    /// A process killed mid-write leaves its temporary file: the day it
    /// was to replace is whole, so the leftover is deleted at the next
    /// start, not moved aside and reported as a damaged day.
    #[test]
    fn a_write_cut_short_leaves_nothing_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let days = dir.path().join(DAYS_DIR);
        std::fs::create_dir_all(&days).unwrap();
        std::fs::write(days.join(".2024-06-01.json.tmp-4242"), b"{\"format\":3,\"da").unwrap();
        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        DayStore::open(Some(dir.path()), now).unwrap();
        assert_eq!(std::fs::read_dir(&days).unwrap().count(), 0, "nothing left, nothing moved aside");
    }

    #[test]
    fn stored_days_survive_a_reopen_and_a_corrupt_one_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let emails = BTreeMap::from([(GongId(1), "a@x.io".to_owned())]);
        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        let at: Timestamp = "2024-06-02T09:00:00Z".parse().unwrap();
        store.keep_activity(date(2024, 6, 1), at, activity(&[(1, 2)]), &emails).unwrap();
        store.keep_reviews(date(2024, 6, 1), at, Vec::new()).unwrap();
        store.keep_activity(date(2024, 6, 2), at, activity(&[(1, 5)]), &emails).unwrap();
        std::fs::write(dir.path().join(DAYS_DIR).join("2024-06-02.json"), b"{not json").unwrap();

        let store = DayStore::open(Some(dir.path()), now).unwrap();
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Activity), Some(at));
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Scorecards), Some(at));
        assert_eq!(hosted_in(&store.activity_window(date(2024, 6, 1), date(2024, 6, 2)), 1), 2);
        assert_eq!(store.email(GongId(1)), Some("a@x.io"));
        assert!(store.day(date(2024, 6, 2)).is_none(), "the corrupt day is fetched again");
        let aside = std::fs::read_dir(dir.path().join(DAYS_DIR))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("corrupt"))
            .count();
        assert_eq!(aside, 1);
    }

    /// A disk that refuses writes (here the days folder replaced by a file,
    /// which even root cannot write into) keeps the day in memory for the
    /// windows, remembered as unsaved; it is written once the disk takes it.
    #[test]
    fn a_day_whose_write_fails_stays_in_memory_and_is_written_later() {
        let dir = tempfile::tempdir().unwrap();
        let days = dir.path().join(DAYS_DIR);
        let emails = BTreeMap::from([(GongId(1), "a@x.io".to_owned())]);
        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        std::fs::remove_dir_all(&days).unwrap();
        std::fs::write(&days, b"not a folder").unwrap();
        assert!(store.keep_activity(date(2024, 6, 2), now, activity(&[(1, 3)]), &emails).is_err());
        assert_eq!(hosted_in(&store.activity_window(date(2024, 6, 2), date(2024, 6, 3)), 1), 3, "in memory");
        assert_eq!(store.unsaved(), 1);
        assert!(store.save_unsaved().is_err(), "still refused");
        assert_eq!(store.unsaved(), 1);

        std::fs::remove_file(&days).unwrap();
        std::fs::create_dir(&days).unwrap();
        store.save_unsaved().unwrap();
        assert_eq!(store.unsaved(), 0);
        let reopened = DayStore::open(Some(dir.path()), now).unwrap();
        assert_eq!(hosted_in(&reopened.activity_window(date(2024, 6, 2), date(2024, 6, 3)), 1), 3, "written");
    }

    /// What may lie in the days folder that this exporter did not write:
    /// each is moved aside (or, for a FIFO, never waited on) and its day
    /// fetched again; the start neither hangs nor reads without end.
    #[test]
    fn files_that_are_not_what_their_name_says_are_moved_aside_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let days = dir.path().join(DAYS_DIR);
        let emails = BTreeMap::from([(GongId(1), "a@x.io".to_owned())]);
        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        let at: Timestamp = "2024-06-02T09:00:00Z".parse().unwrap();
        let mut store = DayStore::open(Some(dir.path()), now).unwrap();
        store.keep_activity(date(2024, 6, 1), at, activity(&[(1, 2)]), &emails).unwrap();
        store.keep_activity(date(2024, 6, 2), at, activity(&[(1, 5)]), &emails).unwrap();
        let good = std::fs::read(days.join("2024-06-01.json")).unwrap();
        // A day that says it is June 1st under June 2nd's name.
        std::fs::write(days.join("2024-06-02.json"), &good).unwrap();
        // The same content under names no store writes.
        std::fs::write(days.join("x.json"), &good).unwrap();
        let future = String::from_utf8(good.clone()).unwrap().replace("2024-06-01", "2099-01-01");
        std::fs::write(days.join("2099-01-01.json"), future).unwrap();
        // A FIFO (opening it to read would block for ever) and a link to an
        // endless device.
        let fifo = days.join("2024-05-30.json");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink("/dev/zero", days.join("2024-05-31.json")).unwrap();
        // Not named as a day at all.
        std::fs::write(days.join("notes.txt"), b"hand-written").unwrap();

        let store = DayStore::open(Some(dir.path()), now).unwrap();
        assert!(store.day(date(2024, 6, 1)).is_some(), "the good day stays");
        for day in [date(2024, 5, 30), date(2024, 5, 31), date(2024, 6, 2), date(2099, 1, 1)] {
            assert!(store.day(day).is_none(), "{day} is fetched again");
        }
        let mut names: Vec<String> =
            std::fs::read_dir(&days).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        let kept: Vec<&String> = names.iter().filter(|n| !n.contains(".corrupt-")).collect();
        assert_eq!(kept, ["2024-06-01.json"], "{names:?}");
        assert_eq!(names.len(), 7, "six moved aside: {names:?}");
        assert!(names.iter().any(|n| n.starts_with("notes.txt.corrupt-")), "{names:?}");
        let again = DayStore::open(Some(dir.path()), now).unwrap();
        assert!(again.day(date(2024, 6, 1)).is_some());
        assert_eq!(std::fs::read_dir(&days).unwrap().count(), 7, "what was moved aside is not moved again");
    }

    /// A day file written by a clock set ahead would pass for final (its
    /// fetch after the day settled) and the day would never be polled again:
    /// it is moved aside and fetched again, as the counters' state file is.
    #[test]
    fn a_day_file_fetched_in_the_future_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let ahead: Timestamp = "2024-06-09T09:00:00Z".parse().unwrap();
        let mut store = DayStore::open(Some(dir.path()), ahead).unwrap();
        store.keep_activity(date(2024, 6, 1), ahead, activity(&[(1, 2)]), &BTreeMap::new()).unwrap();
        store.keep_reviews(date(2024, 6, 2), "2024-06-02T09:00:00Z".parse().unwrap(), Vec::new()).unwrap();

        let now: Timestamp = "2024-06-03T00:00:00Z".parse().unwrap();
        let store = DayStore::open(Some(dir.path()), now).unwrap();
        assert!(store.day(date(2024, 6, 1)).is_none(), "the day from the future is fetched again");
        assert!(store.day(date(2024, 6, 2)).is_some(), "the other day stays");
        let names: Vec<String> = std::fs::read_dir(dir.path().join(DAYS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.starts_with("2024-06-01.json.corrupt-")), "{names:?}");
    }

    #[test]
    fn the_fnv_crate_hashes_as_the_fold_stored_hashes_were_made_with() {
        // Values of the hand-written FNV-1a fold this replaced (and that
        // `gong::models` used for text IDs): kept days and IDs stay equal.
        assert_eq!(crate::gong::models::stable_hash(b"abc"), 0xe71f_a219_0541_574b);
        assert_eq!(hash_of("abc"), 0xc6cf_8fb5_38aa_dbab, "FNV-1a of the JSON `\"abc\"`");
    }

    /// A day kept before call IDs were kept cannot join a window of
    /// distinct calls, and reviews kept before their visibility was cannot
    /// be told private: both are fetched again.
    /// A store opened on 2024-06-03 over one day file, `file`, for
    /// 2024-06-01 (layouts older than this one).
    fn store_with_day_file(file: serde_json::Value) -> DayStore {
        let dir = tempfile::tempdir().unwrap();
        let days = dir.path().join(DAYS_DIR);
        std::fs::create_dir_all(&days).unwrap();
        std::fs::write(days.join("2024-06-01.json"), file.to_string()).unwrap();
        DayStore::open(Some(dir.path()), "2024-06-03T00:00:00Z".parse().unwrap()).unwrap()
    }

    #[test]
    fn a_day_kept_in_layout_1_fetches_its_activity_and_reviews_again() {
        let fields: Vec<&str> = ACTIVITY_FIELDS.to_vec();
        let store = store_with_day_file(serde_json::json!({
            "format": 1, "day": "2024-06-01", "fields": fields, "emails": {"1": "a@x.io"},
            "activity": {"fetched_at": "2024-06-02T09:00:00Z", "hash": 1,
                         "data": {"1": {"known": [2,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}}},
            "reviews": {"fetched_at": "2024-06-02T09:00:00Z", "hash": 2, "data": []},
        }));
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Activity), None);
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Scorecards), None);
    }

    #[test]
    fn a_day_kept_in_layout_2_keeps_its_activity_and_fetches_its_reviews_again() {
        let fields: Vec<&str> = ACTIVITY_FIELDS.to_vec();
        let store = store_with_day_file(serde_json::json!({
            "format": 2, "day": "2024-06-01", "fields": fields,
            "activity": {"fetched_at": "2024-06-02T09:00:00Z", "hash": 1, "data": {}},
            "reviews": {"fetched_at": "2024-06-02T09:00:00Z", "hash": 2, "data": []},
        }));
        assert!(store.fetched_at(date(2024, 6, 1), PartKind::Activity).is_some());
        assert_eq!(store.fetched_at(date(2024, 6, 1), PartKind::Scorecards), None);
    }
}
