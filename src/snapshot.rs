//! Immutable results of the last complete fetch of each endpoint. The poller
//! builds a new [`DataSnapshot`] from the previous one, replacing only the
//! parts whose pages all arrived; the metrics module encodes it.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::gong::models::{AnsweredScorecard, GongId, GongUser, PersonInteraction, UserAggregateActivity};
use crate::naming::{InteractionKey, activity_metric_name, coaching_metric_name, family_owners, interaction_metric};
use crate::windows::{WindowBounds, company_date};

/// Everything `/metrics` shows about Gong's data.
#[derive(Debug, Clone, Default)]
pub struct DataSnapshot {
    /// Aggregate activity per window label, smallest window first.
    pub activity: Vec<Arc<ActivityTable>>,
    /// Interaction stats per window label, smallest window first.
    pub interaction: Vec<Arc<InteractionTable>>,
    pub scorecards: Option<Arc<ScorecardTable>>,
    pub users: Option<Arc<UserTable>>,
    /// Cumulative counters; `None` until counting has begun.
    pub counters: Option<Arc<crate::ledger::CounterTotals>>,
    /// Coaching per manager and report; `None` when not collected.
    pub coaching: Option<Arc<CoachingTable>>,
}

impl DataSnapshot {
    /// Number of per-user and per-scorecard series the snapshot encodes.
    pub fn series_count(&self) -> usize {
        let activity: usize = self.activity.iter().map(|t| t.rows.iter().map(|r| r.values.len()).sum::<usize>()).sum();
        let interaction: usize =
            self.interaction.iter().map(|t| t.rows.iter().map(|r| r.stats.len()).sum::<usize>()).sum();
        let scorecards = self.scorecards.as_ref().map_or(0, |s| s.series_count());
        let users = self.users.as_ref().map_or(0, |u| u.users.len());
        let counters = self.counters.as_ref().map_or(0, |c| c.series_count());
        let coaching = self.coaching.as_ref().map_or(0, |c| c.rows.iter().map(|r| r.values.len()).sum());
        activity + interaction + scorecards + users + counters + coaching
    }
}

/// Replaces the table of `window` in `tables`, keeping window order.
pub fn replace_window<T: Windowed>(tables: &mut Vec<Arc<T>>, table: T, order: &[String]) {
    tables.retain(|t| t.window() != table.window());
    tables.push(Arc::new(table));
    tables.sort_by_key(|t| order.iter().position(|w| w == t.window()).unwrap_or(usize::MAX));
}

/// A table that belongs to one window.
pub trait Windowed {
    /// The `window` label value.
    fn window(&self) -> &str;
}

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

/// `usersAggregateActivityStats` for one window.
#[derive(Debug, Clone)]
pub struct ActivityTable {
    pub window: String,
    /// Every numeric field seen, sorted by metric name.
    pub fields: Vec<ActivityField>,
    pub rows: Vec<ActivityRow>,
}

impl Windowed for ActivityTable {
    fn window(&self) -> &str {
        &self.window
    }
}

impl ActivityTable {
    /// Builds the table; non-numeric fields are skipped, and a field whose
    /// metric name clashes with another's keeps only the first (in name order).
    pub fn build(window: String, users: Vec<UserAggregateActivity>) -> Self {
        let numeric = users.iter().flat_map(|user| {
            user.user_aggregate_activity_stats.iter().filter(|(_, v)| v.as_f64().is_some()).map(|(n, _)| n.as_str())
        });
        let fields: Vec<ActivityField> = family_owners(numeric, activity_metric_name)
            .into_iter()
            .map(|(metric, gong_name)| ActivityField { gong_name: gong_name.to_owned(), metric })
            .collect();
        let index: BTreeMap<&str, u16> =
            fields.iter().enumerate().map(|(i, f)| (f.gong_name.as_str(), i as u16)).collect();
        let rows = users
            .into_iter()
            .map(|user| {
                let mut values: Vec<(u16, f64)> = user
                    .user_aggregate_activity_stats
                    .iter()
                    .filter_map(|(name, value)| Some((*index.get(name.as_str())?, value.as_f64()?)))
                    .collect();
                values.sort_by_key(|(i, _)| *i);
                ActivityRow { user_id: user.user_id, email: user.user_email_address, values }
            })
            .collect();
        Self { window, fields, rows }
    }
}

/// One user's interaction stats.
#[derive(Debug, Clone)]
pub struct InteractionRow {
    pub user_id: GongId,
    pub email: String,
    pub stats: Vec<(InteractionKey, f64)>,
}

/// `peopleInteractionStats` for one window.
#[derive(Debug, Clone)]
pub struct InteractionTable {
    pub window: String,
    pub rows: Vec<InteractionRow>,
}

impl Windowed for InteractionTable {
    fn window(&self) -> &str {
        &self.window
    }
}

impl InteractionTable {
    /// Builds the table; `null` values are skipped, and a stat Gong repeats
    /// for a user keeps its first value so no series is written twice.
    pub fn build(window: String, people: Vec<PersonInteraction>) -> Self {
        let rows = people
            .into_iter()
            .map(|person| {
                let mut stats: Vec<(InteractionKey, f64)> = Vec::with_capacity(person.person_interaction_stats.len());
                for stat in person.person_interaction_stats {
                    let (Some(value), key) = (stat.value, interaction_metric(&stat.name)) else {
                        continue;
                    };
                    if !stats.iter().any(|(k, _)| *k == key) {
                        stats.push((key, value));
                    }
                }
                InteractionRow { user_id: person.user_id, email: person.user_email_address, stats }
            })
            .collect();
        Self { window, rows }
    }
}

/// Sum and count of scores.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreSum {
    pub points: f64,
    pub answers: u64,
}

impl ScoreSum {
    fn add(&mut self, score: f64) {
        self.points += score;
        self.answers += 1;
    }
}

/// Per-question totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QuestionStats {
    pub score: ScoreSum,
    pub not_applicable: u64,
}

/// Scorecard aggregates for one window. Keys are `(scorecard_id, ...)`.
#[derive(Debug, Clone, Default)]
pub struct ScorecardWindow {
    pub window: String,
    /// `(scorecard, reviewed user or None, review method)` -> answered scorecards.
    pub reviews: BTreeMap<(GongId, Option<GongId>, String), u64>,
    /// `(scorecard, reviewed user or None)` -> overall question scores.
    pub overall: BTreeMap<(GongId, Option<GongId>), ScoreSum>,
    /// `(scorecard, reviewer)` -> manual reviews filled.
    pub reviews_given: BTreeMap<(GongId, GongId), u64>,
    /// `(scorecard, question)` -> scores and not-applicable answers.
    pub questions: BTreeMap<(GongId, GongId), QuestionStats>,
}

/// Answered scorecards of the largest window, aggregated per window.
#[derive(Debug, Clone, Default)]
pub struct ScorecardTable {
    /// Scorecard ID to its most recent name, so a renamed scorecard yields
    /// one series, not two.
    pub names: BTreeMap<GongId, String>,
    /// One per window, smallest first.
    pub windows: Vec<ScorecardWindow>,
    /// Answered scorecards in the largest window.
    pub records: usize,
}

impl ScorecardTable {
    /// Aggregates `records` (reviewed within the largest window) into every
    /// window by the review's date in the company's zone. A review without a
    /// readable `reviewTime` counts in the largest window only, which is the
    /// one Gong filtered it into.
    pub fn build<'a>(
        records: impl IntoIterator<Item = &'a AnsweredScorecard>,
        bounds: &[WindowBounds],
        tz: &TimeZone,
    ) -> Self {
        let mut table = ScorecardTable {
            windows: bounds
                .iter()
                .map(|b| ScorecardWindow { window: b.window.label(), ..Default::default() })
                .collect(),
            ..Default::default()
        };
        let largest = bounds.iter().enumerate().max_by_key(|(_, b)| b.window.days()).map(|(i, _)| i);
        let mut latest_name: BTreeMap<GongId, (Option<Timestamp>, &str)> = BTreeMap::new();
        for record in records {
            table.records += 1;
            let reviewed_at = record.reviewed_at();
            let entry = latest_name.entry(record.scorecard_id).or_insert((reviewed_at, &record.scorecard_name));
            if reviewed_at > entry.0 {
                *entry = (reviewed_at, &record.scorecard_name);
            }
            let review_day = reviewed_at.map(|t| company_date(t, tz));
            for (i, window) in table.windows.iter_mut().enumerate() {
                let inside = match review_day {
                    Some(day) => bounds[i].contains(day),
                    None => Some(i) == largest,
                };
                if inside {
                    add_review(window, record);
                }
            }
        }
        table.names = latest_name.into_iter().map(|(id, (_, name))| (id, name.to_owned())).collect();
        table
    }

    fn series_count(&self) -> usize {
        self.windows
            .iter()
            .map(|w| w.reviews.len() + 2 * w.overall.len() + w.reviews_given.len() + 3 * w.questions.len())
            .sum()
    }
}

fn add_review(window: &mut ScorecardWindow, record: &AnsweredScorecard) {
    let scorecard = record.scorecard_id;
    let method = record.review_method_label().to_owned();
    let is_manual = method.eq_ignore_ascii_case("MANUAL");
    *window.reviews.entry((scorecard, record.reviewed_user_id, method)).or_default() += 1;
    if let (true, Some(reviewer)) = (is_manual, record.reviewer_user_id) {
        *window.reviews_given.entry((scorecard, reviewer)).or_default() += 1;
    }
    for answer in &record.answers {
        let question = window.questions.entry((scorecard, answer.question_id)).or_default();
        if answer.not_applicable {
            question.not_applicable += 1;
            continue;
        }
        let Some(score) = answer.score else { continue };
        question.score.add(score);
        if answer.is_overall {
            window.overall.entry((scorecard, record.reviewed_user_id)).or_default().add(score);
        }
    }
}

/// A coaching metric as Gong names it and the family it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoachingMetric {
    /// e.g. `callsListenedTo`.
    pub gong_name: String,
    /// e.g. `gong_coaching_calls_listened_to`.
    pub metric: String,
}

/// What one manager did on one report's calls in one window and workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct CoachingRow {
    pub window: String,
    pub workspace_id: GongId,
    pub manager_id: GongId,
    pub manager_email: String,
    pub report_id: GongId,
    pub report_email: String,
    /// `(index into CoachingTable::metrics, calls)`.
    pub values: Vec<(u16, u64)>,
}

/// One `GET /v2/coaching` answer and what it was asked for.
#[derive(Debug, Clone)]
pub struct CoachingAnswer {
    pub window: String,
    pub workspace_id: GongId,
    pub data: Vec<crate::gong::models::ManagerCoaching>,
}

/// Coaching of every manager's reports, per window and workspace.
#[derive(Debug, Clone, Default)]
pub struct CoachingTable {
    /// Every metric seen, sorted by family name.
    pub metrics: Vec<CoachingMetric>,
    pub rows: Vec<CoachingRow>,
}

impl CoachingTable {
    /// Builds the table. Emails come from Gong's answer, else from `users`;
    /// a `(window, workspace, manager, report)` Gong lists twice keeps its
    /// first entry, and of two metric names with the same snake_case form
    /// the first in name order owns the family.
    pub fn build(answers: Vec<CoachingAnswer>, users: Option<&UserTable>) -> Self {
        let email_of: std::collections::HashMap<GongId, &str> =
            users.map(|t| t.users.iter().map(|u| (u.id, u.email.as_str())).collect()).unwrap_or_default();
        let email = |person: &crate::gong::models::CoachingUser| {
            if person.email_address.is_empty() {
                email_of.get(&person.id).copied().unwrap_or_default().to_owned()
            } else {
                person.email_address.clone()
            }
        };
        let counted = answers
            .iter()
            .flat_map(|a| a.data.iter())
            .flat_map(|data| data.direct_reports_metrics.iter())
            .flat_map(|report| report.metrics.iter().filter(|(_, ids)| ids.0.is_some()).map(|(n, _)| n.as_str()));
        let metrics: Vec<CoachingMetric> = family_owners(counted, coaching_metric_name)
            .into_iter()
            .map(|(metric, gong_name)| CoachingMetric { gong_name: gong_name.to_owned(), metric })
            .collect();
        let index: BTreeMap<&str, u16> =
            metrics.iter().enumerate().map(|(i, m)| (m.gong_name.as_str(), i as u16)).collect();
        let mut seen = std::collections::HashSet::new();
        let mut rows = Vec::new();
        for answer in &answers {
            for data in &answer.data {
                let Some(manager) = &data.manager else { continue };
                for report in &data.direct_reports_metrics {
                    let Some(person) = &report.report else { continue };
                    if !seen.insert((answer.window.clone(), answer.workspace_id, manager.id, person.id)) {
                        continue;
                    }
                    let mut values: Vec<(u16, u64)> = report
                        .metrics
                        .iter()
                        .filter_map(|(name, ids)| Some((*index.get(name.as_str())?, ids.count()?)))
                        .collect();
                    values.sort_by_key(|(i, _)| *i);
                    rows.push(CoachingRow {
                        window: answer.window.clone(),
                        workspace_id: answer.workspace_id,
                        manager_id: manager.id,
                        manager_email: email(manager),
                        report_id: person.id,
                        report_email: email(person),
                        values,
                    });
                }
            }
        }
        Self { metrics, rows }
    }
}

/// One user from `GET /v2/users`.
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub id: GongId,
    pub email: String,
    pub name: String,
    pub manager_id: Option<GongId>,
    pub title: String,
    pub active: bool,
}

/// All users.
#[derive(Debug, Clone, Default)]
pub struct UserTable {
    pub users: Vec<UserInfo>,
}

impl UserTable {
    /// Builds the table; a user listed twice (pages shifting while paging)
    /// keeps its first entry so `gong_user_info` has one series per user.
    pub fn build(users: Vec<GongUser>) -> Self {
        let mut seen = std::collections::HashSet::with_capacity(users.len());
        let users = users
            .into_iter()
            .filter(|u| seen.insert(u.id))
            .map(|u| UserInfo {
                id: u.id,
                name: format!("{} {}", u.first_name.trim(), u.last_name.trim()).trim().to_owned(),
                email: u.email_address,
                manager_id: u.manager_id,
                title: u.title,
                active: u.active,
            })
            .collect();
        Self { users }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gong::models::ScorecardAnswer;
    use crate::windows::{Window, window_bounds};
    use jiff::civil::date;

    fn scorecard(
        id: u64,
        name: &str,
        reviewed: u64,
        reviewer: Option<u64>,
        time: &str,
        answers: &[(u64, bool, Option<f64>, bool)],
    ) -> AnsweredScorecard {
        AnsweredScorecard {
            answered_scorecard_id: None,
            scorecard_id: GongId(id),
            scorecard_name: name.to_owned(),
            call_id: None,
            reviewed_user_id: Some(GongId(reviewed)),
            reviewer_user_id: reviewer.map(GongId),
            review_method: if reviewer.is_some() { "MANUAL" } else { "AUTOMATIC" }.to_owned(),
            review_time: Some(time.to_owned()),
            answers: answers
                .iter()
                .map(|&(q, is_overall, score, not_applicable)| ScorecardAnswer {
                    question_id: GongId(q),
                    is_overall,
                    score,
                    not_applicable,
                })
                .collect(),
        }
    }

    #[test]
    fn scorecards_are_split_into_windows_by_review_day_in_company_zone() {
        let tz = TimeZone::get("America/Los_Angeles").unwrap();
        let today = date(2024, 6, 10);
        let bounds: Vec<_> =
            [1, 7].iter().map(|d| window_bounds(&Window::from_days(*d).unwrap(), today, &tz)).collect();
        let records = vec![
            // 2024-06-10T05:00Z is June 9th 22:00 in LA: yesterday.
            scorecard(
                1,
                "Old name",
                10,
                Some(99),
                "2024-06-10T05:00:00Z",
                &[(100, true, Some(4.0), false), (101, false, None, true)],
            ),
            // June 5th: inside 7d only; newer name wins? No: it is older.
            scorecard(
                1,
                "Older name",
                11,
                None,
                "2024-06-05T18:00:00Z",
                &[(100, true, Some(2.0), false), (101, false, Some(5.0), false)],
            ),
            scorecard(2, "Other", 10, Some(99), "2024-06-09T20:00:00Z", &[(200, true, Some(3.0), false)]),
        ];
        let table = ScorecardTable::build(&records, &bounds, &tz);
        assert_eq!(table.names[&GongId(1)], "Old name");
        let (d1, d7) = (&table.windows[0], &table.windows[1]);
        assert_eq!(d1.window, "1d");
        assert_eq!(d1.reviews.values().sum::<u64>(), 2);
        assert_eq!(d7.reviews.values().sum::<u64>(), 3);
        assert_eq!(d1.reviews_given[&(GongId(1), GongId(99))], 1);
        assert!(!d7.reviews_given.contains_key(&(GongId(1), GongId(11))), "automatic reviews have no reviewer");
        assert_eq!(d7.overall[&(GongId(1), Some(GongId(11)))], ScoreSum { points: 2.0, answers: 1 });
        let q101 = d7.questions[&(GongId(1), GongId(101))];
        assert_eq!((q101.score, q101.not_applicable), (ScoreSum { points: 5.0, answers: 1 }, 1));
    }

    #[test]
    fn activity_table_keeps_numeric_fields_only_and_sorted() {
        let users: Vec<UserAggregateActivity> = serde_json::from_str(
            r#"[{"userId":"1","userEmailAddress":"a@x","userAggregateActivityStats":{"callsAsHost":2,"note":"x","callsAttended":1}},
                {"userId":"2","userEmailAddress":"b@x","userAggregateActivityStats":{"callsNewThing":5}}]"#,
        )
        .unwrap();
        let t = ActivityTable::build("1d".into(), users);
        let metrics: Vec<_> = t.fields.iter().map(|f| f.metric.as_str()).collect();
        assert_eq!(
            metrics,
            ["gong_activity_calls_as_host", "gong_activity_calls_attended", "gong_activity_calls_new_thing"]
        );
        assert_eq!(t.rows[0].values, [(0, 2.0), (1, 1.0)]);
        assert_eq!(t.rows[1].values, [(2, 5.0)]);
    }
}
