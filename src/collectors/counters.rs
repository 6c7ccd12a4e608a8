//! The cumulative counters: each completed company day's activity and
//! answered scorecards added once ([`crate::ledger`] keeps that exactly
//! once across restarts), served as `gong_activity_<field>_cumulative_total`
//! and `gong_scorecard_reviews_cumulative_total` for `increase()` over any
//! range. Its table is [`CounterTotals`]; it sends no request of its own
//! (it counts what the activity and scorecards collectors fetch).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use serde::{Deserialize, Serialize};

use super::activity::{ActivityTable, DailyActivity, UserDailyActivity};
use super::labels::{CACHED, LabelOptions, OptionalId, UserSeries};
use super::scorecards::{AnsweredScorecard, ScorecardSeries};
use crate::gong::models::GongId;
use crate::naming::{activity_metric_name, family_owners, help_name};
use crate::windows::company_date;

/// One user's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTotals {
    /// Most recent email Gong reported.
    pub email: String,
    /// Gong field name (`callsAsHost`) to calls counted.
    pub fields: BTreeMap<String, u64>,
}

/// `(scorecard, reviewed user, review method)`.
pub type ReviewKey = (GongId, Option<GongId>, String);

/// Everything the `*_cumulative_total` families show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterTotals {
    pub activity: BTreeMap<GongId, UserTotals>,
    pub reviews: BTreeMap<ReviewKey, u64>,
    /// Scorecard ID to its latest name, so a rename keeps one series.
    pub scorecard_names: BTreeMap<GongId, String>,
}

impl CounterTotals {
    /// Series the totals encode.
    pub fn series_count(&self) -> usize {
        self.activity.values().map(|u| u.fields.len()).sum::<usize>() + self.reviews.len()
    }

    /// Adds the days of `users` that fall in `[from, to)` (company calendar).
    pub fn add_activity(&mut self, users: &[UserDailyActivity], from: Date, to: Date, tz: &TimeZone) {
        for (_, user, day) in activity_days(users, from, to, tz) {
            self.add_day(user, day);
        }
    }

    /// Adds `other`'s activity totals, user by user; a non-empty email in
    /// `other` replaces the one kept, so merging in time order keeps the
    /// latest.
    pub fn add_activity_totals(&mut self, other: &CounterTotals) {
        for (user_id, user) in &other.activity {
            self.add_counts(*user_id, &user.email, user.fields.iter().map(|(f, c)| (f.as_str(), *c)));
        }
    }

    /// Adds one day of one user.
    pub fn add_day(&mut self, user: &UserDailyActivity, day: &DailyActivity) {
        self.add_counts(user.user_id, &user.user_email_address, day.calls.counts());
    }

    /// Adds counts of one user; a non-empty `email` replaces the one kept.
    /// A field's name is allocated only the first time the user has it
    /// (a catch-up adds millions of user-days).
    pub fn add_counts<'a>(&mut self, user: GongId, email: &str, counts: impl Iterator<Item = (&'a str, u64)>) {
        let totals = self.activity.entry(user).or_default();
        if !email.is_empty() && totals.email != email {
            email.clone_into(&mut totals.email);
        }
        for (field, count) in counts {
            match totals.fields.get_mut(field) {
                Some(total) => *total += count,
                None => {
                    totals.fields.insert(field.to_owned(), count);
                }
            }
        }
    }

    /// Adds the reviews of `records` published in `[from, to)` (company
    /// calendar).
    pub fn add_reviews(&mut self, records: &[AnsweredScorecard], from: Date, to: Date, tz: &TimeZone) {
        for record in records {
            if review_day(record, tz).is_some_and(|d| from <= d && d < to) {
                self.add_review(record);
            }
        }
    }

    /// Adds one answered scorecard; a withheld one (not public) is not
    /// counted, as the windows' `gong_scorecard_reviews` does not count it.
    pub fn add_review(&mut self, record: &AnsweredScorecard) {
        if record.withheld {
            return;
        }
        let method = record.review_method_label().to_owned();
        *self.reviews.entry((record.scorecard_id, record.reviewed_user_id, method)).or_default() += 1;
        if !record.scorecard_name.is_empty() {
            self.scorecard_names.insert(record.scorecard_id, record.scorecard_name.clone());
        }
    }
}

/// Every day entry of `users` that falls in `[from, to)`, with its company
/// date. An entry without a readable `fromDate` is placed by its position,
/// since Gong lists one entry per day of the range in order.
pub fn activity_days<'a>(
    users: &'a [UserDailyActivity],
    from: Date,
    to: Date,
    tz: &'a TimeZone,
) -> impl Iterator<Item = (Date, &'a UserDailyActivity, &'a DailyActivity)> + 'a {
    users.iter().flat_map(move |user| {
        user.user_daily_activity_stats
            .iter()
            .enumerate()
            .filter_map(move |(index, day)| activity_day(day, index, from, to, tz).map(|date| (date, user, day)))
    })
}

/// The company date of the `index`th day entry of an answer for
/// `[from, to)`, when it falls inside: its `fromDate`, else its position.
pub fn activity_day(day: &DailyActivity, index: usize, from: Date, to: Date, tz: &TimeZone) -> Option<Date> {
    let date = day
        .from_date
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map(|t| company_date(t, tz))
        .or_else(|| from.checked_add((index as i64).days()).ok())?;
    (from <= date && date < to).then_some(date)
}

/// The company day a review was published; `None` without a readable
/// time, as such a review cannot be placed in a day and is not counted.
pub fn review_day(record: &AnsweredScorecard, tz: &TimeZone) -> Option<Date> {
    record.reviewed_at().map(|t| company_date(t, tz))
}

/// The counters as the encoder sees them: their totals beside the activity
/// windows, whose gauge names a counter must not take.
#[derive(Debug, Clone, Copy)]
pub struct CounterFamilies<'a> {
    pub totals: &'a CounterTotals,
    pub activity: &'a [Arc<ActivityTable>],
}

impl super::Families for CounterFamilies<'_> {
    fn encode(&self, labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        encode(self.totals, self.activity, labels, encoder)
    }

    fn series(&self) -> usize {
        let activity: usize = activity_families(self.totals, self.activity)
            .iter()
            .map(|(_, gong_name)| self.totals.activity.values().filter(|u| u.fields.contains_key(*gong_name)).count())
            .sum();
        activity + self.totals.reviews.len()
    }
}

/// The activity counter families written, and the Gong field each one
/// shows: of fields with the same metric name, the owner
/// ([`family_owners`]); none whose name an activity gauge already takes.
fn activity_families<'a>(totals: &'a CounterTotals, activity: &[Arc<ActivityTable>]) -> Vec<(String, &'a str)> {
    // A Gong field literally named e.g. `callsAsHostCumulative` would
    // make a gauge family of the counter's name: the gauge keeps it.
    let gauges: BTreeSet<&str> = activity.iter().flat_map(|t| t.fields.iter().map(|f| f.metric.as_str())).collect();
    let fields = totals.activity.values().flat_map(|u| u.fields.keys().map(String::as_str));
    family_owners(fields, |field| format!("{}_cumulative", activity_metric_name(field)))
        .into_iter()
        .filter(|(metric, _)| !gauges.contains(metric.as_str()) && !gauges.contains(format!("{metric}_total").as_str()))
        .collect()
}

/// `gong_activity_<field>_cumulative_total` and
/// `gong_scorecard_reviews_cumulative_total`.
fn encode(
    totals: &CounterTotals,
    activity: &[Arc<ActivityTable>],
    options: &LabelOptions,
    encoder: &mut DescriptorEncoder,
) -> std::fmt::Result {
    for (metric, gong_name) in &activity_families(totals, activity) {
        let shown = help_name(gong_name);
        let help = format!(
            "Gong activity `{shown}` of the user summed over every completed company day since counting began (each day added once, and what Gong adds to it later). {CACHED}"
        );
        let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Counter)?;
        for (user_id, user) in &totals.activity {
            let Some(value) = user.fields.get(*gong_name) else {
                continue;
            };
            let labels = UserSeries { user_id: *user_id, email: options.email(&user.email), window: None, stat: None };
            family.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(value, None)?;
        }
    }
    if totals.reviews.is_empty() {
        return Ok(());
    }
    let help = format!(
        "Answered scorecards per reviewed user and review method, summed over every completed company day since counting began. {CACHED}"
    );
    let mut family =
        encoder.encode_descriptor("gong_scorecard_reviews_cumulative", &help, None, MetricType::Counter)?;
    for ((scorecard_id, reviewed, method), count) in &totals.reviews {
        let labels = ScorecardSeries {
            scorecard_id: *scorecard_id,
            scorecard_name: totals.scorecard_names.get(scorecard_id).map_or("", String::as_str),
            window: None,
            extra: ("reviewed_user_id", OptionalId(*reviewed)),
            method: Some(method),
        };
        family.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(count, None)?;
    }
    Ok(())
}
