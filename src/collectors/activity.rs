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
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
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

    /// Counts here are lengths of lists of call IDs: never negative.
    fn check(&mut self) -> Result<(), Unusable> {
        short_labels(std::iter::once(self.user_email_address.as_str()))?;
        short_labels(self.user_daily_activity_stats.iter().flat_map(|d| d.counts.iter().map(|(name, _)| name.as_ref())))
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
