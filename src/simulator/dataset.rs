//! What the simulated company did: users, daily activity, interaction stats
//! and answered scorecards. [`GeneratedDataset`] makes a realistic company of
//! any size from a hash, so nothing is stored per day; [`FixtureDataset`]
//! holds hand-written records for tests that assert exact values.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The fields the generated company reports: the ones Gong documents.
pub use crate::collectors::activity::ACTIVITY_FIELDS;

/// Index of a field in [`ACTIVITY_FIELDS`].
pub fn field_index(name: &str) -> Option<usize> {
    ACTIVITY_FIELDS.iter().position(|f| *f == name)
}

/// Fields where people act on the same call again on a later day: they
/// listen to it again, share it again, comment or give feedback on it again.
/// Hosting and attending happen once per call; scorecards come from reviews.
const REPEATABLE_FIELDS: [&str; 8] = [
    "callsGaveFeedback",
    "callsReceivedFeedback",
    "ownCallsListenedTo",
    "othersCallsListenedTo",
    "callsSharedInternally",
    "callsSharedExternally",
    "callsCommentsGiven",
    "callsCommentsReceived",
];

/// How many days back a repeated act can reach.
const REPEAT_DAYS: u32 = 3;

/// The IDs of the `count` calls listed in `user_id`'s field `field` on
/// `day`. In a repeatable field about one call in three is the call of the
/// same position a day earlier (and so on, up to `REPEAT_DAYS` back), so
/// a window's days list some calls more than once, while Gong's aggregate
/// counts each call once. The reference writes day-by-day fields as "List
/// of IDs of calls ..." and aggregate ones as "The number of calls ...".
pub fn call_ids(user_id: u64, day: Date, field: usize, count: u32) -> impl Iterator<Item = u64> {
    let repeatable = REPEATABLE_FIELDS.contains(&ACTIVITY_FIELDS[field]);
    (0..count).map(move |k| {
        let mut origin = day;
        for _ in 0..REPEAT_DAYS {
            let again =
                repeatable && hash(&[user_id, day_number(origin), field as u64, u64::from(k), 7]).is_multiple_of(3);
            match origin.yesterday() {
                Ok(earlier) if again => origin = earlier,
                _ => break,
            }
        }
        super::fnv1a(&format!("{user_id}{origin}{field}{k}")) >> 2
    })
}

/// IDs of `count` calls of coaching metric `name` drawn from no activity
/// field: new calls of that manager, report and day.
fn coaching_call_ids(manager_id: u64, report_id: u64, name: &str, day: Date, count: u32) -> Vec<u64> {
    (0..count).map(|k| super::fnv1a(&format!("{manager_id}{report_id}{name}{k}{day}")) >> 2).collect()
}

/// A simulated Gong user.
#[derive(Debug, Clone)]
pub struct SimUser {
    pub id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub title: Option<String>,
    pub manager_id: Option<u64>,
    pub active: bool,
}

/// One user's counters on one day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayActivity {
    /// Aligned with [`ACTIVITY_FIELDS`].
    pub counts: [u32; 15],
    /// Fields beyond Gong's documented ones (to test forward compatibility).
    pub extra: Vec<(String, u32)>,
}

impl DayActivity {
    /// Whether every counter is zero.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0) && self.extra.iter().all(|(_, c)| *c == 0)
    }

    /// Adds another day's counters.
    pub fn add(&mut self, other: &DayActivity) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        for (name, count) in &other.extra {
            match self.extra.iter_mut().find(|(n, _)| n == name) {
                Some((_, c)) => *c += count,
                None => self.extra.push((name.clone(), *count)),
            }
        }
    }
}

/// One answer of an answered scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct SimAnswer {
    pub question_id: u64,
    pub is_overall: bool,
    pub score: Option<u32>,
    pub not_applicable: bool,
}

/// One answered scorecard.
#[derive(Debug, Clone, PartialEq)]
pub struct SimScorecard {
    pub answered_scorecard_id: u64,
    pub scorecard_id: u64,
    pub scorecard_name: String,
    pub call_id: u64,
    pub call_start: Timestamp,
    pub reviewed_user_id: u64,
    /// `None` for AUTOMATIC reviews.
    pub reviewer_user_id: Option<u64>,
    pub review_time: Timestamp,
    pub answers: Vec<SimAnswer>,
    /// `PUBLIC`, `PRIVATE` or `OPT_IN_USERS` (Gong's reference page for
    /// answered scorecards lists the three); `None` leaves the field out
    /// of the answer.
    pub visibility: Option<&'static str>,
}

impl SimScorecard {
    /// `MANUAL` or `AUTOMATIC`.
    pub fn review_method(&self) -> &'static str {
        if self.reviewer_user_id.is_some() { "MANUAL" } else { "AUTOMATIC" }
    }
}

/// One scorecard's settings (`GET /v2/settings/scorecards`).
#[derive(Debug, Clone, PartialEq)]
pub struct SimScorecardSettings {
    pub scorecard_id: u64,
    pub scorecard_name: String,
    pub questions: Vec<SimQuestion>,
}

/// One question of a scorecard: a range question when it has a range.
#[derive(Debug, Clone, PartialEq)]
pub struct SimQuestion {
    pub question_id: u64,
    pub text: String,
    pub is_overall: bool,
    /// `(minRange, maxRange)`.
    pub range: Option<(u32, u32)>,
}

/// The simulated company's data.
pub trait Dataset: Send + Sync + 'static {
    /// Every user, in a stable order.
    fn users(&self) -> &[SimUser];
    /// Counters of `users()[user]` on `day` (company calendar).
    fn activity(&self, user: usize, day: Date) -> DayActivity;
    /// Interaction stats of `users()[user]` over `[from, to)`; empty when the
    /// user had no calls to measure.
    fn interaction(&self, user: usize, from: Date, to: Date) -> Vec<(String, f64)>;
    /// Scorecards whose review was published on `day` (company calendar).
    fn scorecards_reviewed_on(&self, day: Date) -> Vec<SimScorecard>;
    /// Changes whenever the answers about the days of `range` (all days
    /// when `None`) may have changed without the dataset being replaced
    /// (late data arriving): part of the simulator's cache keys.
    fn as_of(&self, range: Option<(Date, Date)>) -> u64 {
        let _ = range;
        0
    }
    /// Every scorecard's settings.
    fn scorecard_settings(&self) -> Vec<SimScorecardSettings> {
        Vec::new()
    }
    /// Workspaces: `(id, name)`.
    fn workspaces(&self) -> Vec<(u64, String)> {
        vec![(WORKSPACE_ID, "Sales".to_owned())]
    }
    /// What `users()[manager]` did on `users()[report]`'s calls on `day`:
    /// coaching metric name to the IDs of those calls.
    fn coaching(&self, manager: usize, report: usize, day: Date) -> Vec<(String, Vec<u64>)> {
        let _ = (manager, report, day);
        Vec::new()
    }
}

/// The simulated company's one workspace.
pub const WORKSPACE_ID: u64 = 623_457_276_584_334;

/// Coaching metrics the generated company reports, by the names the real
/// Gong uses (as a public script reading real `/v2/coaching` answers has
/// them), and the manager's activity field each is drawn from (`None`:
/// scorecards the manager filled).
pub const COACHING_METRICS: [(&str, Option<&str>); 5] = [
    ("callsListenedTo", Some("othersCallsListenedTo")),
    ("callsManagerAttended", Some("callsAttended")),
    ("callsManagerCommentedOn", Some("callsCommentsGiven")),
    ("callsWithFeedback", Some("callsGaveFeedback")),
    ("callsWithScorecardFilled", None),
];

/// SplitMix64: a fast, well-mixed hash so generated data is deterministic.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5EED_u64, |acc, p| mix(acc ^ *p))
}

fn day_number(day: Date) -> u64 {
    // Days since 0000-01-01 is plenty for a stable key.
    (i64::from(day.year()) * 372 + i64::from(day.month()) * 31 + i64::from(day.day())) as u64
}

/// Uniform integer in `[lo, hi]`.
fn pick(h: u64, lo: u32, hi: u32) -> u32 {
    lo + (h % u64::from(hi - lo + 1)) as u32
}

/// Unit float in `[0, 1)`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

const FIRST_NAMES: [&str; 16] = [
    "Ava",
    "José",
    "Zoë",
    "Liam",
    "Åsa",
    "Noah",
    "Mary-Jane",
    "Yuki",
    "Chloé",
    "Omar",
    "Priya",
    "Lars",
    "Fatima",
    "Mateo",
    "Ingrid",
    "Kwame",
];
/// The first ones name the managers of a small demo company: quotes,
/// backslashes, parentheses, regex metacharacters and non-ASCII text, so a
/// dashboard variable or query that feeds a name through a regex breaks in
/// the demo and the tests, not at a customer's.
const LAST_NAMES: [&str; 16] = [
    "O'Brien",
    "Müller (EMEA)",
    "García \"Ace\"",
    "Nguyễn [Team.*]",
    "Smith \\ Jr.",
    "Kowalski+? ^$|",
    "Dubois",
    "Tanaka",
    "Okafor",
    "Rossi",
    "Larsen",
    "Silva",
    "Cohen",
    "Novák",
    "Patel",
    "Brown",
];
/// Above 2^53 (and 20 digits) so any float on the path would round them.
const USER_ID_BASE: u64 = 12_345_678_901_234_567_890;

/// Scorecards of the generated company: ID, name, question IDs (first is the
/// overall question). Names carry quotes, backslashes and non-ASCII text to
/// exercise label escaping.
pub const SCORECARDS: [(u64, &str, [u64; 4]); 3] = [
    (
        6_843_152_929_075_440_037,
        "Discovery \"MEDDICC\" Call",
        [9_007_199_254_740_993, 9_007_199_254_740_995, 9_007_199_254_740_997, 9_007_199_254_740_999],
    ),
    (
        7_120_000_000_000_000_011,
        "Démo — qualité & clôture (v2.*)",
        [9_107_199_254_740_993, 9_107_199_254_740_995, 9_107_199_254_740_997, 9_107_199_254_740_999],
    ),
    (
        9_223_372_036_854_775_907,
        "SDR Cold Call \\ Follow-up",
        [9_207_199_254_740_993, 9_207_199_254_740_995, 9_207_199_254_740_997, 9_207_199_254_740_999],
    ),
];

/// A deterministic company of `n` users: a VP, one manager per ~8 people,
/// reps; every 23rd user deactivated, every 11th idle (active, no activity);
/// weekends nearly silent.
#[derive(Debug, Clone)]
pub struct GeneratedDataset {
    users: Vec<SimUser>,
    /// Index of each user's reports.
    reports: Vec<Vec<usize>>,
    tz: TimeZone,
    /// Late data: with a clock, a day's numbers keep changing after it
    /// ends ([`GeneratedDataset::with_late_data`]).
    late: Option<crate::clock::Clock>,
    workspaces: u64,
}

/// Share of a day's calls (per mille) Gong processes only after the day
/// ended, and the longest that takes.
const LATE_CALLS_PER_MILLE: u64 = 150;
const LATE_CALLS_MAX_HOURS: f64 = 8.0;
/// Share of a day's reviews (per mille) Gong lists only after the day
/// ended, and the longest that takes.
const LATE_REVIEWS_PER_MILLE: u64 = 100;
const LATE_REVIEWS_MAX_HOURS: f64 = 2.0;
/// `callsAsHost`'s position in [`ACTIVITY_FIELDS`]: the calls that arrive
/// days late.
const HOSTED: usize = 0;

/// Share of a day's hosted calls (per mille) Gong processes days late, and
/// when: between one and five days after the day ended.
const VERY_LATE_CALLS_PER_MILLE: u64 = 5;
const VERY_LATE_MIN_HOURS: f64 = 24.0;
const VERY_LATE_MAX_HOURS: f64 = 120.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Vp,
    Manager,
    Rep,
}

impl GeneratedDataset {
    /// A company of `n` users (at least one) in zone `tz`.
    pub fn new(n: usize, tz: TimeZone) -> Self {
        let n = n.max(1);
        let managers = (n / 8).max(1).min(n - 1);
        let id = |i: usize| USER_ID_BASE + i as u64 * 1_000_003;
        let mut users = Vec::with_capacity(n);
        let mut reports = vec![Vec::new(); n];
        for i in 0..n {
            let role = Self::role_of(i, managers);
            let manager = match role {
                Role::Vp => None,
                Role::Manager => Some(0),
                Role::Rep => Some(1 + i % managers),
            };
            if let Some(m) = manager {
                reports[m].push(i);
            }
            let first = FIRST_NAMES[i % FIRST_NAMES.len()];
            let last = LAST_NAMES[(i / FIRST_NAMES.len() + i) % LAST_NAMES.len()];
            let ascii: String = format!("{first}.{last}")
                .chars()
                .filter_map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '.' => Some(c.to_ascii_lowercase()),
                    'é' | 'è' => Some('e'),
                    'ü' => Some('u'),
                    'ö' | 'ó' => Some('o'),
                    'å' | 'Å' | 'á' => Some('a'),
                    'ễ' => Some('e'),
                    'ë' => Some('e'),
                    _ => None,
                })
                .collect();
            let title = match role {
                Role::Vp => Some("VP Sales".to_owned()),
                Role::Manager => Some("Sales Manager".to_owned()),
                Role::Rep if i % 7 == 0 => None,
                Role::Rep if i % 3 == 0 => Some("SDR".to_owned()),
                Role::Rep => Some("Account Executive".to_owned()),
            };
            users.push(SimUser {
                id: id(i),
                email: format!("{ascii}{i}@example.com"),
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                title,
                manager_id: manager.map(id),
                active: i % 23 != 22,
            });
        }
        Self { users, reports, tz, late: None, workspaces: 1 }
    }

    /// Makes each day's numbers arrive late, as a real company's do: 15% of
    /// a day's calls are processed after the day ended (up to 8 hours after
    /// midnight, most within the first hours), 10% of its reviews are listed
    /// up to 2 hours late, and 0.5% of hosted calls one to five days late.
    /// That Gong's data lags is on record (amp-labs/connectors PR #1064: a
    /// new call took most of a day to show in `/v2/calls`; PostHog's Gong
    /// source re-reads the last 7 days of day-by-day "as Gong finishes
    /// processing its calls"); these shares and delays are our assumption,
    /// not a measurement of Gong. Until then they are missing from day-by-day,
    /// aggregate and interaction answers, and from coaching; `clock` says
    /// what "now" is.
    pub fn with_late_data(mut self, clock: crate::clock::Clock) -> Self {
        self.late = Some(clock);
        self
    }

    /// Serves `n` workspaces (at least one); managers coach in each.
    pub fn with_workspaces(mut self, n: u64) -> Self {
        self.workspaces = n.max(1);
        self
    }

    /// The instant `day` ends (the next company midnight).
    fn day_end(&self, day: Date) -> Option<Timestamp> {
        crate::windows::start_of_day(day.tomorrow().ok()?, &self.tz).into()
    }

    /// When a late item of `day` (hashed from `parts`) becomes visible, if
    /// it is late at all.
    fn arrival(&self, day: Date, parts: &[u64], per_mille: u64, max_hours: f64) -> Option<Timestamp> {
        let h = hash(parts);
        if h % 1000 >= per_mille {
            return None;
        }
        // Squared: most late items arrive in the first hours.
        let u = unit(hash(&[h, 1]));
        let lag = jiff::SignedDuration::from_secs_f64(max_hours * 3600.0 * u * u);
        let end = self.day_end(day)?;
        end.checked_add(lag).ok()
    }

    /// When a hosted call of `day` (hashed from `parts`) Gong processes days
    /// late becomes visible, if it is one of those.
    fn very_late_arrival(&self, day: Date, parts: &[u64]) -> Option<Timestamp> {
        let h = hash(&[hash(parts), 9]);
        if h % 1000 >= VERY_LATE_CALLS_PER_MILLE {
            return None;
        }
        let hours = VERY_LATE_MIN_HOURS + (VERY_LATE_MAX_HOURS - VERY_LATE_MIN_HOURS) * unit(hash(&[h, 1]));
        let end = self.day_end(day)?;
        end.checked_add(jiff::SignedDuration::from_secs_f64(hours * 3600.0)).ok()
    }

    /// Every instant at which a hosted call of `day` processed days late
    /// arrives, in order. For the replay benchmark.
    pub fn very_late_arrivals(&self, day: Date) -> Vec<Timestamp> {
        let hosted = HOSTED;
        let mut at: Vec<Timestamp> = (0..self.users.len())
            .flat_map(|user| {
                let count = self.activity_at(user, day, None).counts[hosted];
                let id = self.users[user].id;
                (0..count).filter_map(move |j| {
                    self.very_late_arrival(day, &[id, day_number(day), hosted as u64, u64::from(j), 5])
                })
            })
            .collect();
        at.sort_unstable();
        at
    }

    /// The clock's now while calls of `day` may still be missing (the
    /// days-late ones included): what `day`'s activity is as of.
    fn activity_as_of(&self, day: Date) -> Option<Timestamp> {
        let now = self.late.as_ref()?.now();
        let end = self.day_end(day)?;
        (now < end + jiff::SignedDuration::from_secs_f64(VERY_LATE_MAX_HOURS * 3600.0)).then_some(now)
    }

    /// Whether late data of `day` may still be missing at the clock's now.
    fn unsettled(&self, day: Date) -> Option<Timestamp> {
        let now = self.late.as_ref()?.now();
        let end = self.day_end(day)?;
        (now < end + jiff::SignedDuration::from_secs_f64(LATE_CALLS_MAX_HOURS.max(LATE_REVIEWS_MAX_HOURS) * 3600.0))
            .then_some(now)
    }

    /// Every instant at which late data of `day` arrives, in order: when
    /// `/metrics` must change. For the replay benchmark.
    pub fn late_arrivals(&self, day: Date) -> Vec<Timestamp> {
        let mut at = Vec::new();
        for user in 0..self.users.len() {
            let full = self.activity_at(user, day, None);
            for (f, count) in full.counts.iter().enumerate() {
                for j in 0..*count {
                    let parts = [self.users[user].id, day_number(day), f as u64, u64::from(j), 5];
                    if f == HOSTED && self.very_late_arrival(day, &parts).is_some() {
                        continue; // in very_late_arrivals
                    }
                    at.extend(self.arrival(day, &parts, LATE_CALLS_PER_MILLE, LATE_CALLS_MAX_HOURS));
                }
            }
            for review in self.rep_reviews_at(user, day, None) {
                at.extend(self.arrival(
                    day,
                    &[review.answered_scorecard_id, 6],
                    LATE_REVIEWS_PER_MILLE,
                    LATE_REVIEWS_MAX_HOURS,
                ));
            }
        }
        at.sort_unstable();
        at
    }

    fn role_of(i: usize, managers: usize) -> Role {
        match i {
            0 => Role::Vp,
            i if i <= managers => Role::Manager,
            _ => Role::Rep,
        }
    }

    fn managers(&self) -> usize {
        (self.users.len() / 8).max(1).min(self.users.len() - 1)
    }

    fn is_idle(&self, user: usize) -> bool {
        !self.users[user].active || (user % 11 == 10 && user != 0)
    }

    fn is_workday(day: Date) -> bool {
        !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// Scorecards `user` (a rep) received on `day` that Gong lists by now.
    fn rep_reviews(&self, user: usize, day: Date) -> Vec<SimScorecard> {
        self.rep_reviews_at(user, day, self.unsettled(day))
    }

    /// Scorecards `user` (a rep) received on `day`: 0 to 2 on workdays;
    /// with `now`, only those Gong lists by then.
    fn rep_reviews_at(&self, user: usize, day: Date, now: Option<Timestamp>) -> Vec<SimScorecard> {
        if self.is_idle(user) || !Self::is_workday(day) || Self::role_of(user, self.managers()) != Role::Rep {
            return Vec::new();
        }
        let h = hash(&[self.users[user].id, day_number(day), 77]);
        let count = match h % 10 {
            0..=4 => 0,
            5..=8 => 1,
            _ => 2,
        };
        let day_start = day.to_zoned(self.tz.clone()).map(|z| z.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH);
        (0..count)
            .map(|k| {
                let h = hash(&[self.users[user].id, day_number(day), k, 91]);
                let (scorecard_id, name, questions) = SCORECARDS[(h % 3) as usize];
                let manual = (h >> 8) % 10 < 7;
                let reviewer = if manual { self.users[user].manager_id } else { None };
                let review_time = day_start + (9 * 3600 + (h >> 16) as i64 % (9 * 3600)).seconds();
                let answers = questions
                    .iter()
                    .enumerate()
                    .map(|(q, &question_id)| {
                        let a = hash(&[h, q as u64]);
                        let not_applicable = q > 0 && a.is_multiple_of(10);
                        let unanswered = q > 0 && a % 20 == 1;
                        SimAnswer {
                            question_id,
                            is_overall: q == 0,
                            score: (!not_applicable && !unanswered).then(|| pick(a >> 8, 1, 5)),
                            not_applicable,
                        }
                    })
                    .collect();
                SimScorecard {
                    answered_scorecard_id: hash(&[h, 1]) >> 1,
                    scorecard_id,
                    scorecard_name: name.to_owned(),
                    call_id: hash(&[h, 2]) >> 1,
                    call_start: review_time - (1 + ((h >> 24) % 30) as i64).hours(),
                    reviewed_user_id: self.users[user].id,
                    reviewer_user_id: reviewer,
                    review_time,
                    answers,
                    // One review in ten private, one in twenty shown to
                    // chosen users: a company's mix is not documented.
                    visibility: Some(match hash(&[h, 7]) % 20 {
                        0 | 1 => "PRIVATE",
                        2 => "OPT_IN_USERS",
                        _ => "PUBLIC",
                    }),
                }
            })
            .filter(|review| {
                now.is_none_or(|now| {
                    self.arrival(
                        day,
                        &[review.answered_scorecard_id, 6],
                        LATE_REVIEWS_PER_MILLE,
                        LATE_REVIEWS_MAX_HOURS,
                    )
                    .is_none_or(|arrives| arrives <= now)
                })
            })
            .collect()
    }
}

impl Dataset for GeneratedDataset {
    fn users(&self) -> &[SimUser] {
        &self.users
    }

    fn activity(&self, user: usize, day: Date) -> DayActivity {
        self.activity_at(user, day, self.activity_as_of(day))
    }

    fn interaction(&self, user: usize, from: Date, to: Date) -> Vec<(String, f64)> {
        self.interaction_of(user, from, to)
    }

    fn scorecards_reviewed_on(&self, day: Date) -> Vec<SimScorecard> {
        (0..self.users.len()).flat_map(|u| self.rep_reviews(u, day)).collect()
    }

    /// The clock's minute while a day of `range` still gets late data
    /// (late data arrives at any instant; a minute keeps a query's index
    /// while it is paged), else 0: settled days never change, and their
    /// index stays cached.
    fn as_of(&self, range: Option<(Date, Date)>) -> u64 {
        let Some(clock) = &self.late else { return 0 };
        let changing = match range {
            Some((from, to)) => crate::windows::days_of(from, to).any(|d| self.activity_as_of(d).is_some()),
            None => true,
        };
        if changing { (clock.now().as_second() / 60) as u64 } else { 0 }
    }

    fn scorecard_settings(&self) -> Vec<SimScorecardSettings> {
        const TEXTS: [&str; 4] = [
            "Overall, how did the call go?",
            "Did the rep confirm the \"decision process\" & timeline?",
            "Qualité de la démo (1–5)",
            "Next step agreed? [yes/no]",
        ];
        SCORECARDS
            .iter()
            .map(|&(scorecard_id, name, questions)| SimScorecardSettings {
                scorecard_id,
                scorecard_name: name.to_owned(),
                questions: questions
                    .iter()
                    .zip(TEXTS)
                    .enumerate()
                    .map(|(q, (&question_id, text))| SimQuestion {
                        question_id,
                        text: text.to_owned(),
                        is_overall: q == 0,
                        // As generated scores are: 1 to 5, the recorded range.
                        range: Some((1, 5)),
                    })
                    .collect(),
            })
            .collect()
    }

    fn workspaces(&self) -> Vec<(u64, String)> {
        (0..self.workspaces)
            .map(|k| (WORKSPACE_ID + k, if k == 0 { "Sales".to_owned() } else { format!("Sales {}", k + 1) }))
            .collect()
    }

    fn coaching(&self, manager: usize, report: usize, day: Date) -> Vec<(String, Vec<u64>)> {
        self.coaching_of(manager, report, day)
    }
}

impl GeneratedDataset {
    /// Counters of `user` on `day`; with `now`, without the calls Gong has
    /// not processed by then.
    fn activity_at(&self, user: usize, day: Date, now: Option<Timestamp>) -> DayActivity {
        let mut out = DayActivity::default();
        if self.is_idle(user) {
            return out;
        }
        let workday = Self::is_workday(day);
        let uid = self.users[user].id;
        let dn = day_number(day);
        // (min, max) per field on a workday, by role; weekends mostly zero.
        let role = Self::role_of(user, self.managers());
        let ranges: [(u32, u32); 15] = match role {
            Role::Rep => [
                (0, 5),
                (0, 0),
                (0, 1),
                (0, 1),
                (0, 3),
                (0, 2),
                (0, 2),
                (0, 1),
                (0, 0),
                (0, 0),
                (0, 3),
                (0, 1),
                (0, 2),
                (0, 0),
                (0, 1),
            ],
            Role::Manager | Role::Vp => [
                (0, 2),
                (1, 4),
                (0, 0),
                (0, 1),
                (0, 1),
                (2, 8),
                (0, 3),
                (0, 1),
                (0, 0),
                (0, 0),
                (1, 4),
                (1, 5),
                (0, 1),
                (0, 3),
                (0, 0),
            ],
        };
        for (f, (lo, hi)) in ranges.into_iter().enumerate() {
            let h = hash(&[uid, dn, f as u64]);
            out.counts[f] =
                if workday { pick(h, lo, hi) } else { u32::from(h.is_multiple_of(25)) * pick(h >> 8, lo, hi) };
        }
        let received = self.rep_reviews(user, day).len() as u32;
        out.counts[field_index("callsScorecardsReceived").unwrap_or(9)] = received;
        let filled: u32 = self.reports[user]
            .iter()
            .map(|&r| self.rep_reviews(r, day).iter().filter(|s| s.reviewer_user_id == Some(uid)).count() as u32)
            .sum();
        out.counts[field_index("callsScorecardsFilled").unwrap_or(8)] = filled;
        if let Some(now) = now {
            for (f, count) in out.counts.iter_mut().enumerate() {
                let pending = (0..*count)
                    .filter(|j| {
                        let parts = [uid, dn, f as u64, u64::from(*j), 5];
                        let very_late = (f == HOSTED).then(|| self.very_late_arrival(day, &parts)).flatten();
                        very_late
                            .or_else(|| self.arrival(day, &parts, LATE_CALLS_PER_MILLE, LATE_CALLS_MAX_HOURS))
                            .is_some_and(|at| at > now)
                    })
                    .count() as u32;
                *count -= pending;
            }
        }
        out
    }

    fn interaction_of(&self, user: usize, from: Date, to: Date) -> Vec<(String, f64)> {
        let mut day = from;
        let mut had_calls = false;
        while day < to && !had_calls {
            let a = self.activity(user, day);
            had_calls = a.counts[0] + a.counts[10] > 0;
            day = day.tomorrow().unwrap_or(Date::MAX);
        }
        if !had_calls {
            return Vec::new();
        }
        let uid = self.users[user].id;
        // Calls processed late change the stats of every window holding
        // their day, until the last of them is in.
        let late: u64 = crate::windows::days_of(from, to)
            .filter(|d| self.unsettled(*d).is_some())
            .map(|d| {
                let a = self.activity(user, d);
                u64::from(a.counts[0] + a.counts[10])
            })
            .sum();
        let h = |k: u64| unit(hash(&[uid, day_number(from), day_number(to), k, late]));
        let round = |v: f64, places: i32| (v * 10f64.powi(places)).round() / 10f64.powi(places);
        vec![
            ("Talk Ratio".to_owned(), round(0.1 + 0.4 * h(1), 4)),
            ("Longest Monologue".to_owned(), round(40.0 + 220.0 * h(2), 0)),
            ("Longest Customer Story".to_owned(), round(15.0 + 160.0 * h(3), 0)),
            ("Interactivity".to_owned(), round(2.0 + 8.0 * h(4), 2)),
            ("Patience".to_owned(), round(0.4 + 1.8 * h(5), 2)),
            ("Question Rate".to_owned(), round(3.0 + 17.0 * h(6), 2)),
        ]
    }

    /// The manager's own activity that day, shared out among the reports
    /// (so coaching agrees with the manager's aggregate activity), and the
    /// scorecards the manager filled for that report.
    fn coaching_of(&self, manager: usize, report: usize, day: Date) -> Vec<(String, Vec<u64>)> {
        let reports = &self.reports[manager];
        let Some(k) = reports.iter().position(|r| *r == report) else {
            return Vec::new();
        };
        let activity = self.activity(manager, day);
        let (uid, report_id) = (self.users[manager].id, self.users[report].id);
        COACHING_METRICS
            .iter()
            .map(|(name, source)| {
                let ids = match source.and_then(field_index) {
                    // The manager's own calls of that field, each on one
                    // report's calls (the same report every day it is
                    // listed again).
                    Some(field) => call_ids(uid, day, field, activity.counts[field])
                        .filter(|id| mix(*id) % reports.len() as u64 == k as u64)
                        .collect(),
                    None => {
                        let scored =
                            self.rep_reviews(report, day).iter().filter(|s| s.reviewer_user_id == Some(uid)).count();
                        coaching_call_ids(uid, report_id, name, day, scored as u32)
                    }
                };
                ((*name).to_owned(), ids)
            })
            .collect()
    }
}

/// The days of `[from, to)`.
/// Hand-written data for tests.
#[derive(Debug, Clone, Default)]
pub struct FixtureDataset {
    pub users: Vec<SimUser>,
    /// `(user index, day)` -> counters; absent means all zero.
    pub activity: HashMap<(usize, Date), DayActivity>,
    /// `(user index, from, to)` -> stats; absent means no calls.
    pub interaction: HashMap<(usize, Date, Date), Vec<(String, f64)>>,
    pub scorecards: Vec<SimScorecard>,
    /// Zone used to date `scorecards` by their review time.
    pub time_zone: Option<TimeZone>,
    /// `(manager index, report index, day)` -> coaching metric counts.
    pub coaching: HashMap<(usize, usize, Date), Vec<(String, u32)>>,
    pub scorecard_settings: Vec<SimScorecardSettings>,
}

impl Dataset for FixtureDataset {
    fn scorecard_settings(&self) -> Vec<SimScorecardSettings> {
        self.scorecard_settings.clone()
    }

    fn users(&self) -> &[SimUser] {
        &self.users
    }

    fn activity(&self, user: usize, day: Date) -> DayActivity {
        self.activity.get(&(user, day)).cloned().unwrap_or_default()
    }

    fn interaction(&self, user: usize, from: Date, to: Date) -> Vec<(String, f64)> {
        self.interaction.get(&(user, from, to)).cloned().unwrap_or_default()
    }

    fn coaching(&self, manager: usize, report: usize, day: Date) -> Vec<(String, Vec<u64>)> {
        let (manager_id, report_id) = (self.users[manager].id, self.users[report].id);
        let counts = self.coaching.get(&(manager, report, day)).cloned().unwrap_or_default();
        counts
            .into_iter()
            .map(|(name, n)| (name.clone(), coaching_call_ids(manager_id, report_id, &name, day, n)))
            .collect()
    }

    fn scorecards_reviewed_on(&self, day: Date) -> Vec<SimScorecard> {
        let tz = self.time_zone.clone().unwrap_or(TimeZone::UTC);
        self.scorecards.iter().filter(|s| s.review_time.to_zoned(tz.clone()).date() == day).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn generated_company_is_deterministic_and_realistic() {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let a = GeneratedDataset::new(40, tz.clone());
        let b = GeneratedDataset::new(40, tz);
        let monday = date(2024, 6, 10);
        let saturday = date(2024, 6, 8);
        assert_eq!(a.activity(5, monday), b.activity(5, monday));
        assert!(a.users().iter().all(|u| u.id > (1 << 53)));
        assert!(a.users().iter().any(|u| !u.active));
        assert!(a.users().iter().any(|u| u.title.is_none()));
        let workday_total: u32 = (0..40).map(|u| a.activity(u, monday).counts.iter().sum::<u32>()).sum();
        let weekend_total: u32 = (0..40).map(|u| a.activity(u, saturday).counts.iter().sum::<u32>()).sum();
        assert!(workday_total > 10 * weekend_total.max(1), "{workday_total} vs {weekend_total}");
        assert!(a.activity(10, monday).is_empty(), "every 11th user is idle");
    }

    /// A company of `n` with late data on a clock the test moves; the day
    /// it looks at and the midnight that ends it.
    fn late_company(n: usize) -> (crate::clock::Clock, GeneratedDataset, Date, Timestamp) {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let clock = crate::clock::Clock::system();
        let d = GeneratedDataset::new(n, tz.clone()).with_late_data(clock.clone());
        let day = jiff::civil::date(2024, 6, 4);
        let midnight = day.tomorrow().unwrap().to_zoned(tz).unwrap().timestamp();
        (clock, d, day, midnight)
    }

    #[test]
    fn late_data_arrives_within_hours_after_midnight_and_then_stays() {
        let (clock, d, day, midnight) = late_company(200);
        let arrivals = d.late_arrivals(day);
        assert!(arrivals.len() > 20, "{}", arrivals.len());
        assert!(arrivals.iter().all(|a| *a >= midnight && *a <= midnight + 8.hours()));
        assert!(arrivals.iter().any(|a| *a > midnight + 2.hours()), "some take hours");
        let total =
            |d: &GeneratedDataset| -> u32 { (0..200).map(|u| d.activity(u, day).counts.iter().sum::<u32>()).sum() };
        clock.set(midnight);
        let at_midnight = total(&d);
        clock.set(midnight + 9.hours());
        let settled = total(&d);
        assert!(at_midnight < settled, "{at_midnight} < {settled}");
        clock.set(midnight + 121.hours());
        let complete = total(&d);
        assert!(complete >= settled, "calls days late only add");
        clock.set(midnight + 200.hours());
        assert_eq!(total(&d), complete, "a day never changes once its days-late calls are in");
        // Cache keys: a range whose late calls are all in keeps its index,
        // a changing one not.
        let earlier = day.yesterday().unwrap();
        assert_eq!(d.as_of(Some((earlier, day))), 0);
        clock.set(midnight + 1.hours());
        assert_ne!(d.as_of(Some((earlier, day.tomorrow().unwrap()))), 0);
        clock.set(midnight + 150.hours());
        assert_eq!(d.as_of(Some((earlier, day.tomorrow().unwrap()))), 0, "both days are complete");
    }

    /// A few hosted calls are processed one to five days after their day:
    /// what the daily re-read of the last 7 days is for.
    #[test]
    fn some_hosted_calls_arrive_days_late() {
        let (clock, d, day, midnight) = late_company(1000);
        assert_eq!(ACTIVITY_FIELDS[HOSTED], "callsAsHost");
        let arrivals = d.very_late_arrivals(day);
        assert!(!arrivals.is_empty());
        assert!(arrivals.iter().all(|a| *a >= midnight + 24.hours() && *a <= midnight + 120.hours()));
        let hosted = |d: &GeneratedDataset| -> u32 { (0..1000).map(|u| d.activity(u, day).counts[0]).sum() };
        clock.set(arrivals[0] - 1.second());
        let before = hosted(&d);
        clock.set(*arrivals.last().unwrap());
        assert_eq!(hosted(&d) - before, arrivals.len() as u32);
        assert!(d.late_arrivals(day).iter().all(|a| *a <= midnight + 8.hours()), "listed once, as days late");
    }

    #[test]
    fn scorecards_filled_match_manual_reviews() {
        let tz = TimeZone::get("US/Pacific").unwrap();
        let d = GeneratedDataset::new(40, tz);
        let day = date(2024, 6, 11);
        let reviews = d.scorecards_reviewed_on(day);
        assert!(!reviews.is_empty());
        let manual = reviews.iter().filter(|s| s.reviewer_user_id.is_some()).count() as u32;
        let filled: u32 = (0..40).map(|u| d.activity(u, day).counts[8]).sum();
        assert_eq!(manual, filled);
        let received: u32 = (0..40).map(|u| d.activity(u, day).counts[9]).sum();
        assert_eq!(reviews.len() as u32, received);
    }
}
