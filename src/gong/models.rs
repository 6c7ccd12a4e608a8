//! Typed shapes of Gong's responses. Unknown fields are ignored (Gong adds
//! fields without notice) and IDs are kept exact: Gong's user IDs exceed 2^53,
//! where a JSON parser that goes through `f64` would silently round them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A Gong numeric identifier (users, scorecards, questions, calls). Arrives
/// as a JSON number or a string of up to 20 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GongId(pub u64);

impl fmt::Display for GongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for GongId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for GongId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = GongId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative 64-bit integer ID, as a number or a string of digits")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GongId, E> {
                Ok(GongId(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<GongId, E> {
                Err(E::custom(MISSING_ID))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GongId, E> {
                u64::try_from(v).map(GongId).map_err(|_| E::custom(format!("negative ID {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GongId, E> {
                // A float here means the ID was written with a fraction or
                // exponent, or exceeds u64: it cannot be trusted to be exact.
                Err(E::custom(format!("ID {v} is not an exact integer")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GongId, E> {
                let digits = v.trim();
                if digits.is_empty() {
                    return Err(E::custom(MISSING_ID));
                }
                if digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("ID '{v}' is not a string of up to 20 digits")));
                }
                digits.parse().map(GongId).map_err(|_| E::custom(format!("ID '{v}' exceeds 64 bits")))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// How a null or empty ID reads in an error, so [`Listed`] can tell a
/// record without its ID (skipped) from a malformed answer (an error).
const MISSING_ID: &str = "missing Gong ID (null or empty)";

/// Whether a record failed to parse only because an ID it needs is null,
/// empty or absent.
fn is_missing_id(error: &serde_json::Error) -> bool {
    let message = error.to_string();
    if message.contains(MISSING_ID) {
        return true;
    }
    // serde's "missing field `scorecardId`".
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .is_some_and(|field| field == "id" || field.ends_with("Id"))
}

/// The longest label value a record may carry, in bytes (an email address
/// is at most 254): a longer one (a broken or hostile answer) would make
/// every series of its user that long, so the record is left out.
pub const MAX_LABEL_BYTES: usize = 1024;

/// Records left out of answers, by reason (the `reason` label of
/// `gong_exporter_records_skipped_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts {
    /// An ID the record needs is null, empty or absent.
    pub missing_id: u64,
    /// A label value longer than [`MAX_LABEL_BYTES`].
    pub label_too_long: u64,
    /// A count or score that is negative or not a number.
    pub invalid_number: u64,
    /// The same record (same ID) came again in the same query; the last
    /// one was kept.
    pub duplicate: u64,
}

impl SkipCounts {
    /// `(reason, count)` for each reason, as labelled.
    pub fn by_reason(self) -> [(&'static str, u64); 4] {
        let [a, b, c, d] = crate::self_metrics::SKIP_REASONS;
        [(a, self.missing_id), (b, self.label_too_long), (c, self.invalid_number), (d, self.duplicate)]
    }

    /// Records left out, whatever the reason.
    pub fn total(self) -> u64 {
        self.by_reason().iter().map(|(_, n)| n).sum()
    }

    fn count(&mut self, reason: Unusable) {
        match reason {
            Unusable::LabelTooLong => self.label_too_long += 1,
            Unusable::InvalidNumber => self.invalid_number += 1,
        }
    }
}

impl std::ops::AddAssign for SkipCounts {
    fn add_assign(&mut self, other: Self) {
        self.missing_id += other.missing_id;
        self.label_too_long += other.label_too_long;
        self.invalid_number += other.invalid_number;
        self.duplicate += other.duplicate;
    }
}

/// Why a record that parsed cannot be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    LabelTooLong,
    InvalidNumber,
}

/// What every listed record offers the client: an identity, to drop a
/// record that comes twice in one query, and a check before it is kept.
pub trait Record {
    /// The ID that makes two records the same one; `None` when the record
    /// has none (it is never taken for a duplicate).
    fn key(&self) -> Option<u64>;

    /// Whether the record can be published: label values no longer than
    /// [`MAX_LABEL_BYTES`], and counts and scores (after numbers sent as
    /// strings are read) neither negative nor anything but numbers.
    fn check(&mut self) -> Result<(), Unusable>;
}

/// `Err` when any of `labels` is longer than [`MAX_LABEL_BYTES`].
fn short_labels<'a>(labels: impl IntoIterator<Item = &'a str>) -> Result<(), Unusable> {
    if labels.into_iter().any(|l| l.len() > MAX_LABEL_BYTES) { Err(Unusable::LabelTooLong) } else { Ok(()) }
}

/// `Err` for a negative or non-finite number.
fn valid_number(value: Option<f64>) -> Result<(), Unusable> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => Err(Unusable::InvalidNumber),
        _ => Ok(()),
    }
}

/// The records of one page: those that parsed and passed
/// [`Record::check`], and how many were left out and why. One such record
/// must not sink the page (a connector's schema marks `scorecardId` and
/// `questionId` nullable); any other malformation still fails it.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub skipped: SkipCounts,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Self { items: Vec::new(), skipped: SkipCounts::default() }
    }
}

impl<'de, T: serde::de::DeserializeOwned + Record> Deserialize<'de> for Listed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Each record is kept as its raw text first, so one that fails can
        // be judged on its own.
        let raw = Option::<Vec<Box<serde_json::value::RawValue>>>::deserialize(deserializer)?.unwrap_or_default();
        let mut listed = Listed { items: Vec::with_capacity(raw.len()), skipped: SkipCounts::default() };
        for (index, record) in raw.iter().enumerate() {
            match serde_json::from_str::<T>(record.get()) {
                Ok(mut item) => match item.check() {
                    Ok(()) => listed.items.push(item),
                    Err(reason) => listed.skipped.count(reason),
                },
                Err(error) if is_missing_id(&error) => listed.skipped.missing_id += 1,
                Err(error) if error.to_string().contains(INVALID_NUMBER) => listed.skipped.invalid_number += 1,
                // The inner error's position counts from the record's own
                // text: say which record it is.
                Err(error) => return Err(de::Error::custom(format!("record {} of the page: {error}", index + 1))),
            }
        }
        Ok(listed)
    }
}

/// How a value that is not a number reads in an error, so [`Listed`] can
/// count its record as [`Unusable::InvalidNumber`].
const INVALID_NUMBER: &str = "not a number";

/// A number, or a string holding one (`"12"`: read as 12), or `null`
/// (`None`); anything else is an error [`Listed`] counts as an invalid
/// number.
fn lenient_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        Number(f64),
        Text(String),
        Other(Option<de::IgnoredAny>),
    }
    match Given::deserialize(deserializer)? {
        Given::Number(n) => Ok(Some(n)),
        Given::Text(text) => text.trim().parse::<f64>().map(Some).map_err(|_| {
            de::Error::custom(format!("{INVALID_NUMBER}: '{}'", text.chars().take(40).collect::<String>()))
        }),
        Given::Other(None) => Ok(None),
        Given::Other(Some(_)) => Err(de::Error::custom(INVALID_NUMBER)),
    }
}

/// Treats an explicit JSON `null` like a missing field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Gong's paging block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Records {
    pub total_records: Option<i64>,
    pub current_page_size: Option<i64>,
    pub current_page_number: Option<i64>,
    /// Present only when more pages follow.
    pub cursor: Option<String>,
}

/// One page of `POST /v2/stats/activity/aggregate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregateActivityPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub users_aggregate_activity_stats: Listed<UserAggregateActivity>,
    pub time_zone: Option<String>,
    pub from_date_time: Option<String>,
    pub to_date_time: Option<String>,
}

/// One user's aggregate activity for the requested period.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAggregateActivity {
    pub user_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_email_address: String,
    /// Field name to value. Kept as a map so a counter Gong adds later is
    /// exported by the same naming rule instead of being dropped.
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_aggregate_activity_stats: serde_json::Map<String, serde_json::Value>,
}

/// One page of `POST /v2/stats/interaction`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub people_interaction_stats: Listed<PersonInteraction>,
    pub time_zone: Option<String>,
}

/// One user's interaction stats for the requested period.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonInteraction {
    pub user_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_email_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub person_interaction_stats: Vec<InteractionStat>,
}

/// One named interaction stat ("Talk Ratio", "Patience", ...).
#[derive(Debug, Clone, Deserialize)]
pub struct InteractionStat {
    pub name: String,
    /// `None` when Gong sends `null` (no calls to measure).
    #[serde(default, deserialize_with = "lenient_number")]
    pub value: Option<f64>,
}

/// One page of `POST /v2/stats/activity/scorecards`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnsweredScorecardsPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub answered_scorecards: Listed<AnsweredScorecard>,
}

/// One filled-in scorecard. Serialised (in Gong's own field names) when a
/// settled day's reviews are kept in `--storage.path`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnsweredScorecard {
    pub answered_scorecard_id: Option<GongId>,
    pub scorecard_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scorecard_name: String,
    pub call_id: Option<GongId>,
    pub reviewed_user_id: Option<GongId>,
    /// `None` for AUTOMATIC reviews.
    pub reviewer_user_id: Option<GongId>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub review_method: String,
    /// ISO-8601 instant the review was published.
    pub review_time: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub answers: Vec<ScorecardAnswer>,
}

impl AnsweredScorecard {
    /// When the review was published; `None` when Gong sent no readable
    /// time (such a review cannot be placed in a day).
    pub fn reviewed_at(&self) -> Option<jiff::Timestamp> {
        self.review_time.as_deref().and_then(|t| t.parse().ok())
    }

    /// The `review_method` label value: Gong's method, `UNKNOWN` when it
    /// sent none.
    pub fn review_method_label(&self) -> &str {
        if self.review_method.is_empty() { "UNKNOWN" } else { &self.review_method }
    }
}

/// One answer inside an answered scorecard.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScorecardAnswer {
    pub question_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_overall: bool,
    /// `None` when the question was not answered.
    #[serde(default, deserialize_with = "lenient_number")]
    pub score: Option<f64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub not_applicable: bool,
}

/// One page of `POST /v2/stats/activity/day-by-day`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayByDayPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub users_detailed_activities: Listed<UserDailyActivity>,
}

/// One user's activity, one entry per day of the requested range.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDailyActivity {
    pub user_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_email_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub user_daily_activity_stats: Vec<DailyActivity>,
}

/// One user's day. Gong lists the call IDs behind each counter; only how
/// many there are is kept, so a page of 100 users x 31 days never holds
/// its call-ID strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DailyActivity {
    /// Start of the day as an instant (Gong writes UTC, e.g. `2024-11-01T07:00:00Z`).
    pub from_date: Option<String>,
    /// `(field, number of call IDs)` for every list-valued field, including
    /// fields Gong adds later, in the order Gong sent them. Documented field
    /// names are shared, not allocated per day: a 31-day catch-up of 10,000
    /// users holds 4.6 million of them.
    pub counts: Vec<(Cow<'static, str>, u64)>,
}

/// The activity fields Gong documents (`userAggregateActivityStats` and,
/// as lists of call IDs, `userDailyActivityStats`). The simulator answers
/// with these; the client shares their names instead of allocating them.
pub const ACTIVITY_FIELDS: [&str; 15] = [
    "callsAsHost",
    "callsGaveFeedback",
    "callsRequestedFeedback",
    "callsReceivedFeedback",
    "ownCallsListenedTo",
    "othersCallsListenedTo",
    "callsSharedInternally",
    "callsSharedExternally",
    "callsScorecardsFilled",
    "callsScorecardsReceived",
    "callsAttended",
    "callsCommentsGiven",
    "callsCommentsReceived",
    "callsMarkedAsFeedbackGiven",
    "callsMarkedAsFeedbackReceived",
];

/// A field name, shared when Gong documents it.
fn field_name(key: String) -> Cow<'static, str> {
    ACTIVITY_FIELDS.iter().find(|known| **known == key).map_or(Cow::Owned(key), |known| Cow::Borrowed(known))
}

impl<'de> Deserialize<'de> for DailyActivity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DayVisitor;
        impl<'de> Visitor<'de> for DayVisitor {
            type Value = DailyActivity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a day of activity: lists of call IDs plus fromDate/toDate")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<DailyActivity, A::Error> {
                let mut day = DailyActivity::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "fromDate" {
                        day.from_date = map.next_value::<Option<String>>()?;
                    } else if let Some(n) = map.next_value::<ListLength>()?.0 {
                        day.counts.push((field_name(key), n));
                    }
                }
                Ok(day)
            }
        }
        deserializer.deserialize_map(DayVisitor)
    }
}

/// The length of a JSON list, reading past its elements without keeping
/// them; `None` for anything that is not a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListLength(pub Option<u64>);

impl<'de> Deserialize<'de> for ListLength {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LengthVisitor;
        impl<'de> Visitor<'de> for LengthVisitor {
            type Value = ListLength;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListLength, A::Error> {
                let mut n = 0;
                while seq.next_element::<de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(ListLength(Some(n)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ListLength, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(ListLength(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_unit<E>(self) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
            fn visit_none<E>(self) -> Result<ListLength, E> {
                Ok(ListLength(None))
            }
        }
        deserializer.deserialize_any(LengthVisitor)
    }
}

/// `GET /v2/workspaces`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspacesPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub workspaces: Listed<Workspace>,
}

/// A Gong workspace.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

/// `GET /v2/coaching` for one manager, workspace and period.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoachingPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub coaching_data: Listed<ManagerCoaching>,
}

/// A manager's coaching of each direct report. Serialised when a day's
/// answers are kept in `--storage.path`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagerCoaching {
    pub manager: Option<CoachingUser>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub direct_reports_metrics: Vec<ReportCoaching>,
}

/// A person in a coaching answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CoachingUser {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_address: String,
}

/// What the manager did on one report's calls: metric name (e.g.
/// `callsListenedTo`) to the calls' IDs. The IDs are kept (not only their
/// number) because a window is the union of its days: a call listened to on
/// two days is one call in the window. Kept as a map so a metric Gong adds
/// later is exported by the same rule.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportCoaching {
    pub report: Option<CoachingUser>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metrics: std::collections::BTreeMap<String, CallIds>,
}

/// The call IDs of a coaching metric; `None` when Gong sent something other
/// than a list (not a count, so not exported). IDs that are not 64-bit
/// integers are kept by a hash of their text: only equality matters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallIds(pub Option<Vec<u64>>);

impl CallIds {
    /// How many calls.
    pub fn count(&self) -> Option<u64> {
        self.0.as_ref().map(|ids| ids.len() as u64)
    }
}

impl Serialize for CallIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CallIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Id {
            Number(u64),
            Text(String),
            Other(de::IgnoredAny),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            List(Vec<Id>),
            Other(de::IgnoredAny),
        }
        Ok(CallIds(match Shape::deserialize(deserializer)? {
            Shape::List(ids) => Some(
                ids.into_iter()
                    .filter_map(|id| match id {
                        Id::Number(n) => Some(n),
                        Id::Text(t) => Some(t.trim().parse().unwrap_or_else(|_| text_id(&t))),
                        Id::Other(_) => None,
                    })
                    .collect(),
            ),
            Shape::Other(_) => None,
        }))
    }
}

/// A stable 64-bit stand-in for an ID that is not a number (FNV-1a).
fn text_id(text: &str) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    std::hash::Hasher::write(&mut hasher, text.as_bytes());
    std::hash::Hasher::finish(&hasher)
}

/// One page of `GET /v2/users`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub users: Listed<GongUser>,
}

/// A Gong user, with the fields the exporter uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GongUser {
    pub id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub email_address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub first_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub last_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    pub manager_id: Option<GongId>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub active: bool,
}

/// Gong's error body: `{"requestId": "...", "errors": ["..."]}`. Every field
/// optional because it is parsed from whatever a failing response holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<String>,
}

/// A page of any paginated Gong list.
pub trait Page: serde::de::DeserializeOwned + Send + 'static {
    /// The listed item.
    type Item: Record + Send + 'static;
    /// Paging block.
    fn records(&self) -> &Records;
    /// Gong's request reference.
    fn request_id(&self) -> Option<&str>;
    /// The company's zone when the endpoint reports it.
    fn time_zone(&self) -> Option<&str> {
        None
    }
    /// The listed items.
    fn into_listed(self) -> Listed<Self::Item>;
}

macro_rules! impl_page {
    ($page:ty, $item:ty, $field:ident $(, tz = $tz:ident)?) => {
        impl Page for $page {
            type Item = $item;
            fn records(&self) -> &Records {
                &self.records
            }
            fn request_id(&self) -> Option<&str> {
                self.request_id.as_deref()
            }
            $(fn time_zone(&self) -> Option<&str> {
                self.$tz.as_deref()
            })?
            fn into_listed(self) -> Listed<$item> {
                self.$field
            }
        }
    };
}

impl Record for UserAggregateActivity {
    fn key(&self) -> Option<u64> {
        Some(self.user_id.0)
    }

    /// Stats are counts: a digit string is read as its number; a negative
    /// number, or a string or boolean that is not a number, is invalid.
    /// Lists and objects are not counts and are left for the exposition to
    /// skip, like a field Gong may add in another shape.
    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.user_aggregate_activity_stats.keys().map(String::as_str))?;
        for value in self.user_aggregate_activity_stats.values_mut() {
            let number = match value {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(text) => {
                    let n = text.trim().parse::<f64>().map_err(|_| Unusable::InvalidNumber)?;
                    *value = serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number);
                    Some(n)
                }
                serde_json::Value::Bool(_) => return Err(Unusable::InvalidNumber),
                _ => None,
            };
            valid_number(number)?;
        }
        Ok(())
    }
}

impl Record for PersonInteraction {
    fn key(&self) -> Option<u64> {
        Some(self.user_id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.person_interaction_stats.iter().map(|s| s.name.as_str()))?;
        self.person_interaction_stats.iter().try_for_each(|s| valid_number(s.value))
    }
}

impl Record for AnsweredScorecard {
    fn key(&self) -> Option<u64> {
        self.answered_scorecard_id.map(|id| id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels([self.scorecard_name.as_str(), self.review_method.as_str()])?;
        self.answers.iter().try_for_each(|a| valid_number(a.score))
    }
}

impl Record for UserDailyActivity {
    fn key(&self) -> Option<u64> {
        Some(self.user_id.0)
    }

    /// Counts here are lengths of lists of call IDs: never negative.
    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.user_daily_activity_stats.iter().flat_map(|d| d.counts.iter().map(|(name, _)| name.as_ref())))
    }
}

impl Record for GongUser {
    fn key(&self) -> Option<u64> {
        Some(self.id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels([
            self.email_address.as_str(),
            self.first_name.as_str(),
            self.last_name.as_str(),
            self.title.as_str(),
        ])
    }
}

impl Record for Workspace {
    fn key(&self) -> Option<u64> {
        Some(self.id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.name.as_str()))
    }
}

impl Record for ManagerCoaching {
    /// None: a query names one manager, whose reports may be split over
    /// pages; taking them for duplicates would drop reports.
    fn key(&self) -> Option<u64> {
        None
    }

    fn check(&mut self) -> Result<(), Unusable> {
        let people = self.manager.iter().chain(self.direct_reports_metrics.iter().filter_map(|r| r.report.as_ref()));
        short_labels(people.map(|p| p.email_address.as_str()))?;
        short_labels(self.direct_reports_metrics.iter().flat_map(|r| r.metrics.keys().map(String::as_str)))
    }
}

impl_page!(AggregateActivityPage, UserAggregateActivity, users_aggregate_activity_stats, tz = time_zone);
impl_page!(InteractionPage, PersonInteraction, people_interaction_stats, tz = time_zone);
impl_page!(AnsweredScorecardsPage, AnsweredScorecard, answered_scorecards);
impl_page!(UsersPage, GongUser, users);
impl_page!(DayByDayPage, UserDailyActivity, users_detailed_activities);
impl_page!(WorkspacesPage, Workspace, workspaces);
impl_page!(CoachingPage, ManagerCoaching, coaching_data);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_above_2_pow_53_stay_exact_as_numbers_and_strings() {
        let from_number: GongId = serde_json::from_str("6843152929075440037").unwrap();
        let from_string: GongId = serde_json::from_str("\"6843152929075440037\"").unwrap();
        assert_eq!(from_number, GongId(6_843_152_929_075_440_037));
        assert_eq!(from_number, from_string);
        assert_eq!(from_number.to_string(), "6843152929075440037");
        let max: GongId = serde_json::from_str("\"18446744073709551615\"").unwrap();
        assert_eq!(max.0, u64::MAX);
    }

    #[test]
    fn a_record_without_its_id_is_left_out_and_counted_the_rest_kept() {
        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"requestId":"r1","records":{"totalRecords":4},"answeredScorecards":[
                {"scorecardId":"11","reviewMethod":"MANUAL","answers":[{"questionId":5,"score":3}]},
                {"scorecardId":null,"answers":[]},
                {"scorecardId":"","answers":[]},
                {"scorecardId":12,"answers":[{"questionId":null,"score":1}]},
                {"answers":[]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].scorecard_id, GongId(11));
        assert_eq!(listed.skipped.missing_id, 4);
        let users: UsersPage =
            serde_json::from_str(r#"{"users":[{"id":null,"emailAddress":"a@x"},{"id":"7"}]}"#).unwrap();
        let users = users.into_listed();
        assert_eq!((users.items.len(), users.skipped.missing_id), (1, 1));
    }

    #[test]
    fn numbers_follow_one_rule_digit_strings_read_negatives_and_text_skipped() {
        let page: InteractionPage = serde_json::from_str(
            r#"{"peopleInteractionStats":[
                {"userId":1,"personInteractionStats":[{"name":"Talk Ratio","value":"0.5"}]},
                {"userId":2,"personInteractionStats":[{"name":"Talk Ratio","value":-0.5}]},
                {"userId":3,"personInteractionStats":[{"name":"Talk Ratio","value":"n/a"}]},
                {"userId":4,"personInteractionStats":[{"name":"Talk Ratio","value":null}]},
                {"userId":5,"personInteractionStats":[{"name":"Talk Ratio","value":true}]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        let kept: Vec<_> = listed.items.iter().map(|p| (p.user_id.0, p.person_interaction_stats[0].value)).collect();
        assert_eq!(kept, [(1, Some(0.5)), (4, None)]);
        assert_eq!(listed.skipped.invalid_number, 3);

        let page: AggregateActivityPage = serde_json::from_str(
            r#"{"usersAggregateActivityStats":[
                {"userId":1,"userAggregateActivityStats":{"callsAsHost":"12","callIds":[1,2]}},
                {"userId":2,"userAggregateActivityStats":{"callsAsHost":-1}},
                {"userId":3,"userAggregateActivityStats":{"callsAsHost":"lots"}}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].user_aggregate_activity_stats["callsAsHost"].as_f64(), Some(12.0));
        assert_eq!(listed.skipped.invalid_number, 2);

        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"answeredScorecards":[
                {"scorecardId":1,"answers":[{"questionId":1,"score":"4"}]},
                {"scorecardId":2,"answers":[{"questionId":1,"score":-4}]}
            ]}"#,
        )
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items[0].answers[0].score, Some(4.0));
        assert_eq!(listed.skipped.invalid_number, 1);
    }

    #[test]
    fn a_label_past_the_limit_skips_its_record() {
        let long = "x".repeat(MAX_LABEL_BYTES + 1);
        let at_limit = "y".repeat(MAX_LABEL_BYTES);
        let page: UsersPage = serde_json::from_str(&format!(
            r#"{{"users":[{{"id":1,"emailAddress":"{long}"}},{{"id":2,"title":"{at_limit}"}},{{"id":3,"firstName":"{long}"}}]}}"#
        ))
        .unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.iter().map(|u| u.id.0).collect::<Vec<_>>(), [2]);
        assert_eq!(listed.skipped.label_too_long, 2);
    }

    #[test]
    fn any_other_malformed_record_still_fails_the_page() {
        let error = serde_json::from_str::<UsersPage>(r#"{"users":[{"id":"7"},{"id":"12a"}]}"#).unwrap_err();
        assert!(error.to_string().starts_with("record 2 of the page: ID '12a'"), "{error}");
        for bad in [r#"{"users":[{"id":"7"},{"id":"12a"}]}"#, r#"{"users":[{"id":-3}]}"#, r#"{"users":{"id":1}}"#] {
            assert!(serde_json::from_str::<UsersPage>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn inexact_or_malformed_ids_are_rejected() {
        for bad in ["1.5", "6.8e18", "-1", "\"12a\"", "\"\"", "\"18446744073709551616\"", "null", "true"] {
            assert!(serde_json::from_str::<GongId>(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn aggregate_page_ignores_unknown_fields_and_keeps_new_counters() {
        let page: AggregateActivityPage = serde_json::from_str(
            r#"{"requestId":"r1","records":{"totalRecords":1,"currentPageSize":1,"currentPageNumber":0},
                "usersAggregateActivityStats":[{"userId":"9007199254740993","userEmailAddress":"a@x.io",
                  "userAggregateActivityStats":{"callsAsHost":3,"callsBrandNew":7},"surprise":1}],
                "timeZone":"US/Pacific","newTopLevel":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(page.time_zone(), Some("US/Pacific"));
        assert!(page.records.cursor.is_none());
        let user = &page.users_aggregate_activity_stats.items[0];
        assert_eq!(user.user_id, GongId(9_007_199_254_740_993));
        assert_eq!(user.user_aggregate_activity_stats["callsBrandNew"], 7);
    }

    #[test]
    fn nulls_become_defaults() {
        let page: UsersPage = serde_json::from_str(
            r#"{"requestId":null,"records":null,"users":[{"id":1,"emailAddress":null,"firstName":null,
                "lastName":"Ng","title":null,"managerId":null,"active":null}]}"#,
        )
        .unwrap();
        let u = &page.users.items[0];
        assert_eq!((u.email_address.as_str(), u.title.as_str(), u.active), ("", "", false));
        assert_eq!(u.manager_id, None);
    }

    #[test]
    fn day_by_day_keeps_list_lengths_of_known_and_new_fields() {
        let page: DayByDayPage = serde_json::from_str(
            r#"{"requestId":"r","records":{"totalRecords":1,"cursor":"c1"},
                "usersDetailedActivities":[{"userId":"9007199254740993","userEmailAddress":"a@x.io",
                  "userDailyActivityStats":[
                    {"callsAsHost":["1","2"],"callsAttended":[],"callsBrandNew":["3"],"weird":{"x":[1]},
                     "note":"text","n":1.5,"fromDate":"2024-11-01T07:00:00Z","toDate":"2024-11-02T07:00:00Z"},
                    {"callsAsHost":null,"fromDate":null}]}]}"#,
        )
        .unwrap();
        assert_eq!(page.records.cursor.as_deref(), Some("c1"));
        let user = &page.users_detailed_activities.items[0];
        assert_eq!(user.user_id, GongId(9_007_199_254_740_993));
        let day = &user.user_daily_activity_stats[0];
        assert_eq!(day.from_date.as_deref(), Some("2024-11-01T07:00:00Z"));
        assert_eq!(day.counts, [("callsAsHost".into(), 2), ("callsAttended".into(), 0), ("callsBrandNew".into(), 1)]);
        assert_eq!(user.user_daily_activity_stats[1], DailyActivity::default());
    }

    #[test]
    fn coaching_counts_call_ids_per_metric_including_new_ones() {
        let page: CoachingPage = serde_json::from_str(
            r#"{"requestId":"r","coachingData":[{"manager":{"id":"12345678901234567890","emailAddress":"m@x.io",
                  "firstName":"M","title":null},
                "directReportsMetrics":[{"report":{"id":9007199254740993,"emailAddress":"r@x.io"},
                  "metrics":{"callsListenedTo":["1","2",3],"callsScored":[],"callsNewThing":["ab-4"],"note":"x"}}]}]}"#,
        )
        .unwrap();
        let data = &page.coaching_data.items[0];
        assert_eq!(data.manager.as_ref().unwrap().id, GongId(12_345_678_901_234_567_890));
        let report = &data.direct_reports_metrics[0];
        assert_eq!(report.report.as_ref().unwrap().email_address, "r@x.io");
        let counts: Vec<_> = report.metrics.iter().filter_map(|(k, v)| Some((k.as_str(), v.count()?))).collect();
        assert_eq!(counts, [("callsListenedTo", 3), ("callsNewThing", 1), ("callsScored", 0)]);
        // The IDs themselves are kept: a window is the union of its days.
        assert_eq!(report.metrics["callsListenedTo"].0.as_deref(), Some(&[1, 2, 3][..]));
        let text = &report.metrics["callsNewThing"];
        assert_eq!(text, &serde_json::from_str::<CallIds>(r#"["ab-4"]"#).unwrap(), "a text ID is stable");
        assert_eq!(report.metrics["note"], CallIds(None));
    }

    #[test]
    fn scorecard_ids_may_be_numbers_or_strings() {
        let page: AnsweredScorecardsPage = serde_json::from_str(
            r#"{"answeredScorecards":[{"answeredScorecardId":1,"scorecardId":"6843152929075440037",
                "scorecardName":"Q\"1\" café","callId":7782342274025938001,"reviewedUserId":"234599484848423",
                "reviewerUserId":null,"reviewMethod":"AUTOMATIC","reviewTime":"2024-01-17T16:20:05-03:00",
                "answers":[{"questionId":5,"isOverall":true,"score":4,"notApplicable":false},
                           {"questionId":6,"isOverall":false,"score":null,"notApplicable":true}]}]}"#,
        )
        .unwrap();
        let s = &page.answered_scorecards.items[0];
        assert_eq!(s.scorecard_id, GongId(6_843_152_929_075_440_037));
        assert_eq!(s.call_id, Some(GongId(7_782_342_274_025_938_001)));
        assert_eq!(s.reviewer_user_id, None);
        assert_eq!(s.answers[1].score, None);
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[a-zA-Z0-9 \"\\\\]{0,12}".prop_map(serde_json::Value::from),
        ];
        let keys = prop_oneof![
            Just("records".to_owned()),
            Just("cursor".to_owned()),
            Just("userId".to_owned()),
            Just("users".to_owned()),
            Just("id".to_owned()),
            Just("usersAggregateActivityStats".to_owned()),
            Just("userAggregateActivityStats".to_owned()),
            Just("peopleInteractionStats".to_owned()),
            Just("personInteractionStats".to_owned()),
            Just("answeredScorecards".to_owned()),
            Just("answers".to_owned()),
            Just("scorecardId".to_owned()),
            Just("questionId".to_owned()),
            Just("name".to_owned()),
            Just("value".to_owned()),
            "[a-z]{1,6}",
        ];
        leaf.prop_recursive(4, 64, 8, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(keys.clone(), inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever Gong sends, decoding returns Ok or Err: it never panics.
        #[test]
        fn decoders_never_panic_on_arbitrary_json(value in arbitrary_json()) {
            let bytes = serde_json::to_vec(&value).unwrap();
            let _ = serde_json::from_slice::<AggregateActivityPage>(&bytes);
            let _ = serde_json::from_slice::<InteractionPage>(&bytes);
            let _ = serde_json::from_slice::<AnsweredScorecardsPage>(&bytes);
            let _ = serde_json::from_slice::<UsersPage>(&bytes);
            let _ = serde_json::from_slice::<DayByDayPage>(&bytes);
            let _ = serde_json::from_slice::<CoachingPage>(&bytes);
            let _ = serde_json::from_slice::<WorkspacesPage>(&bytes);
            let _ = serde_json::from_slice::<ErrorBody>(&bytes);
        }

        #[test]
        fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = serde_json::from_slice::<AggregateActivityPage>(&bytes);
            let _ = serde_json::from_slice::<UsersPage>(&bytes);
        }
    }
}
