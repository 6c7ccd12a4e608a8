//! Activity: what each user did on calls (hosted, attended, listened to,
//! gave feedback on...). Two Gong answers feed it: the aggregate of a whole
//! window (`POST /v2/stats/activity/aggregate`, the fixed schedule) and one
//! entry per user and day (`POST /v2/stats/activity/day-by-day`, kept by the
//! settling schedule and summed into windows). Every numeric field becomes
//! `gong_activity_<field in snake_case>{user_id,user_email,window}`, a field
//! Gong adds later included.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::Families;
use super::labels::{CACHED, LabelOptions, UserSeries};
use crate::collectors::Windowed;
use crate::endpoint::Endpoint;
use crate::gong::models::{
    GongId, Listed, Record, Records, Unusable, impl_page, null_as_default, short_labels, valid_number,
};
use crate::gong::{Fetched, GongClient, GongError, Query};
use crate::naming::{activity_metric_name, family_owners, help_name};
use crate::windows::Window;

/// `POST /v2/stats/activity/aggregate` for `[from, to)`, all pages.
pub async fn aggregate(
    client: &GongClient,
    from: Date,
    to: Date,
    deadline: Instant,
) -> Result<Fetched<UserAggregateActivity>, GongError> {
    client.fetch_all::<AggregateActivityPage>(Endpoint::ActivityAggregate, Query::dates(from, to), deadline).await
}

/// The company's zone as Gong names it, from the first page of an
/// aggregate activity query for `[from, to)`; `None` when that period is
/// empty (Gong's 404 carries no zone). One request.
pub async fn reported_zone(
    client: &GongClient,
    from: Date,
    to: Date,
    deadline: Instant,
) -> Result<Option<String>, GongError> {
    client
        .first_page_zone::<AggregateActivityPage>(Endpoint::ActivityAggregate, &Query::dates(from, to), deadline)
        .await
}

/// `POST /v2/stats/activity/day-by-day` for the company days `[from, to)`,
/// all pages: each user with activity in the range, one entry per day. Each
/// entry carries its own day (`fromDate`, an instant); an answer with an
/// entry outside the days asked, in the company's zone `tz`, fails as
/// [`GongError::WrongDays`] rather than be kept as the days asked.
pub async fn day_by_day(
    client: &GongClient,
    from: Date,
    to: Date,
    tz: &TimeZone,
    deadline: Instant,
) -> Result<Fetched<UserDailyActivity>, GongError> {
    let fetched =
        client.fetch_all::<DayByDayPage>(Endpoint::ActivityDayByDay, Query::dates(from, to), deadline).await?;
    let outside = days_outside(&fetched.items, from, to, tz);
    match (outside.first(), outside.last()) {
        (Some(first), Some(last)) => Err(GongError::WrongDays {
            endpoint: Endpoint::ActivityDayByDay,
            asked: format!("{from} to {}", to.yesterday().unwrap_or(to)),
            received: if first == last {
                format!("entries for {first}")
            } else {
                format!("entries for {first} to {last}")
            },
            zone: tz.iana_name().unwrap_or("a fixed offset").to_owned(),
        }),
        _ => Ok(fetched),
    }
}

/// The company days of `users`' entries that fall outside `[from, to)`.
/// An entry without a readable `fromDate` is not judged here: the keeping
/// code places it by its position in the range.
fn days_outside(users: &[UserDailyActivity], from: Date, to: Date, tz: &TimeZone) -> Vec<Date> {
    let dated = users.iter().flat_map(|user| {
        user.user_daily_activity_stats.iter().filter_map(|day| {
            let at = day.from_date.as_deref()?.parse::<jiff::Timestamp>().ok()?;
            Some(crate::windows::company_date(at, tz))
        })
    });
    let outside: std::collections::BTreeSet<Date> = dated.filter(|d| *d < from || *d >= to).collect();
    outside.into_iter().collect()
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

/// One user's day: the calls behind each counter, and when the day began.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyActivity {
    /// Start of the day as an instant (Gong writes UTC, e.g. `2024-11-01T07:00:00Z`).
    pub from_date: Option<String>,
    pub calls: DayCalls,
}

/// The calls behind one user's counters on one day, by call ID.
///
/// Gong's aggregate counts calls ("the number of calls..."), while each day
/// of day-by-day lists the calls acted on that day: a call listened to on
/// Monday and again on Tuesday is on both lists. A window built from days
/// must count it once, so the IDs are kept, not only how many there are.
///
/// IDs are kept as integers, never as strings: Gong's documented fields
/// share one slice cut by `ends` (a `Vec` per field would add 360 bytes per
/// user-day, and 10,000 users x 28 days are kept). A field Gong adds later
/// is kept by name. Gong writes IDs as digit strings of up to 20 digits; one
/// beyond `u64` (or not digits at all) is kept as its stable hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredCalls")]
pub struct DayCalls {
    /// Where each documented field's IDs end in `ids`; field `i` is
    /// `ids[ends[i - 1]..ends[i]]`.
    ends: [u32; ACTIVITY_FIELDS.len()],
    /// Sorted and without repeats within each field.
    ids: Box<[u64]>,
    /// Bit `i` set when Gong sent documented field `i` (even as `[]`): a
    /// counter exists only for fields Gong reports.
    present: u16,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra: Vec<(String, Vec<u64>)>,
}

/// [`DayCalls`] as read from a kept day file, checked before use: a
/// hand-edited or damaged file must not cut the slice out of bounds.
#[derive(Deserialize)]
struct StoredCalls {
    ends: [u32; ACTIVITY_FIELDS.len()],
    ids: Box<[u64]>,
    present: u16,
    #[serde(default)]
    extra: Vec<(String, Vec<u64>)>,
}

impl TryFrom<StoredCalls> for DayCalls {
    type Error = String;

    fn try_from(stored: StoredCalls) -> Result<Self, String> {
        let StoredCalls { ends, ids, present, extra } = stored;
        let ordered = ends.windows(2).all(|w| w[0] <= w[1]);
        if !ordered || ends[ACTIVITY_FIELDS.len() - 1] as usize != ids.len() {
            return Err(format!("call lists cut at {ends:?} do not fit {} call IDs", ids.len()));
        }
        Ok(Self { ends, ids, present, extra })
    }
}

impl DayCalls {
    /// A day from each field's call IDs, in any order and with repeats.
    pub fn from_lists(lists: Vec<(Cow<'static, str>, Vec<u64>)>) -> Self {
        let mut known: Vec<(usize, u64)> = Vec::new();
        let mut present = 0u16;
        let mut extra: Vec<(String, Vec<u64>)> = Vec::new();
        for (name, mut ids) in lists {
            match ACTIVITY_FIELDS.iter().position(|f| *f == name.as_ref()) {
                Some(field) => {
                    present |= 1 << field;
                    known.extend(ids.into_iter().map(|id| (field, id)));
                }
                None => {
                    ids.sort_unstable();
                    ids.dedup();
                    match extra.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, kept)) => {
                            kept.extend(ids);
                            kept.sort_unstable();
                            kept.dedup();
                        }
                        None => extra.push((name.into_owned(), ids)),
                    }
                }
            }
        }
        known.sort_unstable();
        known.dedup();
        let mut ends = [0u32; ACTIVITY_FIELDS.len()];
        for (field, end) in ends.iter_mut().enumerate() {
            *end = known.partition_point(|(f, _)| *f <= field) as u32;
        }
        Self { ends, ids: known.into_iter().map(|(_, id)| id).collect(), present, extra }
    }

    /// The IDs of documented field `field`.
    fn field(&self, field: usize) -> &[u64] {
        let start = if field == 0 { 0 } else { self.ends[field - 1] as usize };
        &self.ids[start..self.ends[field] as usize]
    }

    /// `(Gong field name, number of calls)` for each field Gong sent.
    pub fn counts(&self) -> impl Iterator<Item = (&str, u64)> {
        (0..ACTIVITY_FIELDS.len())
            .filter(|f| self.present & (1 << f) != 0)
            .map(|f| (ACTIVITY_FIELDS[f], self.field(f).len() as u64))
            .chain(self.extra.iter().map(|(name, ids)| (name.as_str(), ids.len() as u64)))
    }

    /// Whether no call is listed and Gong added no field: nothing to keep.
    pub fn is_idle(&self) -> bool {
        self.ids.is_empty() && self.extra.is_empty()
    }

    /// Names of the fields Gong added beyond the documented ones.
    pub fn added_fields(&self) -> impl Iterator<Item = &str> {
        self.extra.iter().map(|(name, _)| name.as_str())
    }

    /// Distinct calls per field over several days: a call on two days'
    /// lists counts once, as in Gong's aggregate. Every documented field is
    /// listed (Gong's aggregate lists them all), added ones when a day has them.
    pub fn distinct<'a>(days: &[&'a DayCalls]) -> Vec<(&'a str, u64)> {
        let mut scratch = Vec::new();
        let mut distinct = |lists: &mut dyn Iterator<Item = &[u64]>| {
            scratch.clear();
            lists.for_each(|ids| scratch.extend_from_slice(ids));
            scratch.sort_unstable();
            scratch.dedup();
            scratch.len() as u64
        };
        let mut out: Vec<(&'a str, u64)> = (0..ACTIVITY_FIELDS.len())
            .map(|f| (ACTIVITY_FIELDS[f], distinct(&mut days.iter().map(|d| d.field(f)))))
            .collect();
        let mut names: Vec<&'a str> = Vec::new();
        for name in days.iter().copied().flat_map(DayCalls::added_fields) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        for name in names {
            let lists =
                days.iter().flat_map(|d| d.extra.iter().filter(|(n, _)| n == name).map(|(_, ids)| ids.as_slice()));
            out.push((name, distinct(&mut lists.into_iter())));
        }
        out
    }
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
                let mut from_date = None;
                let mut lists = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "fromDate" {
                        from_date = map.next_value::<Option<String>>()?;
                    } else if let Some(ids) = map.next_value::<CallIds>()?.0 {
                        lists.push((field_name(key), ids));
                    }
                }
                Ok(DailyActivity { from_date, calls: DayCalls::from_lists(lists) })
            }
        }
        deserializer.deserialize_map(DayVisitor)
    }
}

/// A JSON list of call IDs, read straight into integers; `None` for
/// anything that is not a list (a field Gong may add in another shape).
/// An element that is neither a string nor a number names no call and is
/// left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallIds(pub Option<Vec<u64>>);

/// One element of a call-ID list: the ID, or `None` for anything else.
struct CallId(Option<u64>);

/// A call ID as an integer: its digits, or (beyond `u64`, or not digits)
/// its stable hash, so equal IDs stay equal across days and restarts.
fn call_id(text: &str) -> u64 {
    text.parse().unwrap_or_else(|_| crate::gong::models::stable_hash(text.as_bytes()))
}

impl<'de> Deserialize<'de> for CallId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl<'de> Visitor<'de> for IdVisitor {
            type Value = CallId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a call ID")
            }
            fn visit_str<E>(self, text: &str) -> Result<CallId, E> {
                Ok(CallId(Some(call_id(text))))
            }
            fn visit_u64<E>(self, id: u64) -> Result<CallId, E> {
                Ok(CallId(Some(id)))
            }
            fn visit_i64<E>(self, id: i64) -> Result<CallId, E> {
                Ok(CallId(Some(call_id(&id.to_string()))))
            }
            fn visit_f64<E>(self, id: f64) -> Result<CallId, E> {
                Ok(CallId(Some(call_id(&id.to_string()))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<CallId, E> {
                Ok(CallId(None))
            }
            fn visit_unit<E>(self) -> Result<CallId, E> {
                Ok(CallId(None))
            }
            fn visit_none<E>(self) -> Result<CallId, E> {
                Ok(CallId(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CallId, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(CallId(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<CallId, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(CallId(None))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

impl<'de> Deserialize<'de> for CallIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = CallIds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CallIds, A::Error> {
                let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(CallId(id)) = seq.next_element()? {
                    ids.extend(id);
                }
                Ok(CallIds(Some(ids)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<CallIds, A::Error> {
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(CallIds(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_unit<E>(self) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
            fn visit_none<E>(self) -> Result<CallIds, E> {
                Ok(CallIds(None))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
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

impl Record for UserDailyActivity {
    fn key(&self) -> Option<u64> {
        Some(self.user_id.0)
    }

    /// Counts here are numbers of listed calls, never negative; only the
    /// names of fields Gong added become labels.
    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.user_daily_activity_stats.iter().flat_map(|d| d.calls.added_fields()))
    }
}

impl_page!(AggregateActivityPage, UserAggregateActivity, users_aggregate_activity_stats, tz = time_zone);
impl_page!(DayByDayPage, UserDailyActivity, users_detailed_activities);

/// A numeric activity field and the metric it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityField {
    /// As Gong names it, e.g. `callsAsHost`.
    pub gong_name: String,
    /// e.g. `gong_activity_calls_as_host`.
    pub metric: String,
}

/// One user's activity values, aligned with [`ActivityTable::fields`].
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub user_id: GongId,
    pub email: String,
    /// `(field index, value)` for the fields Gong sent for this user.
    pub values: Vec<(u16, f64)>,
}

/// One user's ID, email and `(Gong field name, value)` pairs.
pub type UserCounts<'a, N> = (GongId, &'a str, Vec<(N, f64)>);

/// `usersAggregateActivityStats` for one window.
#[derive(Debug, Clone)]
pub struct ActivityTable {
    pub window: Window,
    /// Every numeric field seen, sorted by metric name.
    pub fields: Vec<ActivityField>,
    pub rows: Vec<ActivityRow>,
}

impl Windowed for ActivityTable {
    fn window(&self) -> Window {
        self.window
    }
}

impl ActivityTable {
    /// Builds the table; non-numeric fields are skipped, and a field whose
    /// metric name clashes with another's keeps only the first (in name order).
    pub fn build(window: Window, users: Vec<UserAggregateActivity>) -> Self {
        let rows = users.iter().map(|user| {
            let numeric =
                user.user_aggregate_activity_stats.iter().filter_map(|(n, v)| Some((n.as_str(), v.as_f64()?)));
            (user.user_id, user.user_email_address.as_str(), numeric.collect())
        });
        Self::from_counts(window, rows.collect())
    }

    /// The table of `rows`: each user's ID, email and `(Gong field name,
    /// value)` pairs. Windows built from kept days come here directly, with
    /// no detour through Gong's JSON shape.
    pub fn from_counts<N: AsRef<str>>(window: Window, rows: Vec<UserCounts<'_, N>>) -> Self {
        let names = rows.iter().flat_map(|(_, _, values)| values.iter().map(|(n, _)| n.as_ref()));
        let fields: Vec<ActivityField> = family_owners(names, activity_metric_name)
            .into_iter()
            .map(|(metric, gong_name)| ActivityField { gong_name: gong_name.to_owned(), metric })
            .collect();
        let index: BTreeMap<&str, u16> =
            fields.iter().enumerate().map(|(i, f)| (f.gong_name.as_str(), i as u16)).collect();
        let rows = rows
            .iter()
            .map(|(user_id, email, values)| {
                let mut values: Vec<(u16, f64)> =
                    values.iter().filter_map(|(name, value)| Some((*index.get(name.as_ref())?, *value))).collect();
                values.sort_by_key(|(i, _)| *i);
                ActivityRow { user_id: *user_id, email: (*email).to_owned(), values }
            })
            .collect();
        Self { window, fields, rows }
    }
}

impl Families for Vec<Arc<ActivityTable>> {
    fn encode(&self, labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        // One family per metric across all windows: OpenMetrics forbids a
        // family appearing twice.
        let names = self.iter().flat_map(|t| t.fields.iter().map(|f| f.gong_name.as_str()));
        for (metric, gong_name) in family_owners(names, activity_metric_name) {
            let metric = metric.as_str();
            let shown = help_name(gong_name);
            let help = format!("Gong aggregate activity `{shown}` of the user in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for table in self {
                let Some(index) = table.fields.iter().position(|f| f.metric == metric) else {
                    continue;
                };
                let index = index as u16;
                for row in &table.rows {
                    let Ok(at) = row.values.binary_search_by_key(&index, |(i, _)| *i) else {
                        continue;
                    };
                    let labels = UserSeries {
                        user_id: row.user_id,
                        email: labels.email(&row.email),
                        window: Some(table.window),
                        stat: None,
                    };
                    family.encode_family(&labels)?.encode_gauge(&row.values[at].1)?;
                }
            }
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.iter().map(|t| t.rows.iter().map(|r| r.values.len()).sum::<usize>()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_by_day_keeps_the_call_ids_of_known_and_new_fields() {
        let page: DayByDayPage = serde_json::from_str(
            r#"{"requestId":"r","records":{"totalRecords":1,"cursor":"c1"},
                "usersDetailedActivities":[{"userId":"9007199254740993","userEmailAddress":"a@x.io",
                  "userDailyActivityStats":[
                    {"callsAsHost":["2","1","2"],"callsAttended":[],"callsBrandNew":["3", null, {"id":1}],
                     "ownCallsListenedTo":["37555663966526330000", 37555663966526330000, 5],
                     "weird":{"x":[1]},"note":"text","n":1.5,
                     "fromDate":"2024-11-01T07:00:00Z","toDate":"2024-11-02T07:00:00Z"},
                    {"callsAsHost":null,"fromDate":null}]}]}"#,
        )
        .unwrap();
        assert_eq!(page.records.cursor.as_deref(), Some("c1"));
        let user = &page.users_detailed_activities.items[0];
        assert_eq!(user.user_id, GongId(9_007_199_254_740_993));
        let day = &user.user_daily_activity_stats[0];
        assert_eq!(day.from_date.as_deref(), Some("2024-11-01T07:00:00Z"));
        let counts: BTreeMap<&str, u64> = day.calls.counts().filter(|(_, n)| *n > 0).collect();
        // A call listed twice on one day is one call; a 20-digit ID beyond
        // u64 is still an ID, equal to itself written as a number.
        assert_eq!(counts, BTreeMap::from([("callsAsHost", 2), ("callsBrandNew", 1), ("ownCallsListenedTo", 2)]));
        assert_eq!(day.calls.added_fields().collect::<Vec<_>>(), ["callsBrandNew"]);
        assert_eq!(user.user_daily_activity_stats[1], DailyActivity::default());
    }

    fn calls(lists: &[(&'static str, &[u64])]) -> DayCalls {
        DayCalls::from_lists(lists.iter().map(|(name, ids)| (Cow::Borrowed(*name), ids.to_vec())).collect())
    }

    #[test]
    fn a_window_counts_a_call_listed_on_several_days_once() {
        let monday = calls(&[("othersCallsListenedTo", &[10, 11]), ("callsAsHost", &[1]), ("callsNew", &[7])]);
        let tuesday = calls(&[("othersCallsListenedTo", &[11, 12]), ("callsAsHost", &[2]), ("callsNew", &[7, 8])]);
        let window: BTreeMap<&str, u64> = DayCalls::distinct(&[&monday, &tuesday]).into_iter().collect();
        assert_eq!(window["othersCallsListenedTo"], 3, "call 11 was listened to on both days");
        assert_eq!(window["callsAsHost"], 2);
        assert_eq!(window["callsNew"], 2);
        assert_eq!(window["callsAttended"], 0);
        let summed: u64 = [&monday, &tuesday].iter().map(|d| d.counts().map(|(_, n)| n).sum::<u64>()).sum();
        assert_eq!(summed, 9, "each day alone still counts its own list");
    }

    #[test]
    fn kept_calls_round_trip_and_a_damaged_cut_is_refused() {
        let day = calls(&[("callsAttended", &[3, 1]), ("callsAsHost", &[9]), ("callsNew", &[4])]);
        let json = serde_json::to_string(&day).unwrap();
        assert_eq!(serde_json::from_str::<DayCalls>(&json).unwrap(), day);
        let damaged = json.replace("\"ids\":[9,1,3]", "\"ids\":[9]");
        assert_ne!(damaged, json, "{json}");
        let error = serde_json::from_str::<DayCalls>(&damaged).unwrap_err().to_string();
        assert!(error.contains("do not fit 1 call IDs"), "{error}");
    }

    #[test]
    fn activity_table_keeps_numeric_fields_only_and_sorted() {
        let users: Vec<UserAggregateActivity> = serde_json::from_str(
            r#"[{"userId":"1","userEmailAddress":"a@x","userAggregateActivityStats":{"callsAsHost":2,"note":"x","callsAttended":1}},
                {"userId":"2","userEmailAddress":"b@x","userAggregateActivityStats":{"callsNewThing":5}}]"#,
        )
        .unwrap();
        let t = ActivityTable::build(Window::from_days(1).unwrap(), users);
        let metrics: Vec<_> = t.fields.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(
            metrics,
            ["gong_activity_calls_as_host", "gong_activity_calls_attended", "gong_activity_calls_new_thing"]
        );
        assert_eq!(t.rows[0].values, [(0, 2.0), (1, 1.0)]);
        assert_eq!(t.rows[1].values, [(2, 5.0)]);
    }
}
