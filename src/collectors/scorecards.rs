//! Scorecards: answered scorecards from `POST /v2/stats/activity/scorecards`
//! (manual and automatic reviews), asked once for the largest window (or,
//! under the settling schedule, by review day and kept), and split into
//! every window by each review's day in the company's zone. Families are
//! per scorecard: reviews per reviewed user and method, overall scores,
//! reviews given per reviewer, and per-question scores.
//!
//! Reviews Gong marks `PRIVATE` or `OPT_IN_USERS` (`visibilityType`, Gong's
//! reference page for this endpoint) are withheld by default as they are
//! fetched: who reviewed whom, and the answers, are dropped before the
//! record is kept, counted or published, so a team dashboard shared widely
//! cannot show them. They are counted per scorecard in
//! `gong_scorecard_reviews_not_public`, without user labels.
//! `--scorecards.include-private` exports them as public ones.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::MetricType;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::time::Instant;

use super::Families;
use super::labels::{CACHED, LabelOptions, OptionalId, label};
use crate::endpoint::Endpoint;
use crate::gong::models::{
    GongId, Listed, Record, Records, Unusable, impl_page, lenient_number, null_as_default, short_labels, valid_number,
};
use crate::gong::{Fetched, GongClient, GongError, Query};
use crate::windows::{Window, WindowBounds, company_date};

/// What becomes of reviews Gong does not mark `PUBLIC`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrivateReviews {
    /// Counted per scorecard only: no user, no answers.
    #[default]
    Withhold,
    /// Exported as public ones (`--scorecards.include-private`).
    Include,
}

/// `POST /v2/stats/activity/scorecards`, manual and automatic reviews
/// published in `[from, to)`, all pages; reviews that are not public are
/// withheld here, before anything keeps them, unless `private` includes them.
pub async fn fetch(
    client: &GongClient,
    from: Date,
    to: Date,
    private: PrivateReviews,
    deadline: Instant,
) -> Result<Fetched<AnsweredScorecard>, GongError> {
    let filter = json!({
        "reviewFromDate": from.to_string(),
        "reviewToDate": to.to_string(),
        "reviewMethod": "BOTH",
    });
    let mut fetched =
        client.fetch_all::<AnsweredScorecardsPage>(Endpoint::Scorecards, Query::Post(filter), deadline).await?;
    if private == PrivateReviews::Withhold {
        let unmarked = fetched.items.iter().filter(|r| r.visibility_type.is_none()).count();
        fetched.items.iter_mut().for_each(AnsweredScorecard::withhold_unless_public);
        if unmarked > 0 {
            // Gong's reference lists the field; an answer without it cannot
            // say a review is public, so it is withheld, and said.
            tracing::warn!(
                reviews = unmarked,
                "answered scorecards without visibilityType are withheld as not public (gong_scorecard_reviews_not_public{{visibility=\"UNKNOWN\"}}); if your company has no private scorecards, --scorecards.include-private exports them per user"
            );
        }
    }
    Ok(fetched)
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
    /// `PUBLIC`, `PRIVATE` or `OPT_IN_USERS`; `None` when Gong sent none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility_type: Option<String>,
    /// Not public and withheld: the users and answers were dropped as it
    /// was fetched. Not Gong's field: ours, kept with the day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withheld: bool,
}

impl AnsweredScorecard {
    /// When the review was published; `None` when Gong sent no readable
    /// time (such a review cannot be placed in a day).
    pub fn reviewed_at(&self) -> Option<jiff::Timestamp> {
        self.review_time.as_deref().and_then(|t| t.parse().ok())
    }

    /// Drops who reviewed whom and the answers of a review Gong does not
    /// mark `PUBLIC` (none marked is not public either). Compared without
    /// case: the reference spells `PUBLIC`, Airbyte source-gong's test data
    /// `Public`, and a spelling we do not match would withhold every review.
    pub fn withhold_unless_public(&mut self) {
        if self.visibility_type.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("PUBLIC")) {
            return;
        }
        self.call_id = None;
        self.reviewed_user_id = None;
        self.reviewer_user_id = None;
        self.answers.clear();
        self.withheld = true;
    }

    /// The `visibility` label value: Gong's, `UNKNOWN` when it sent none.
    pub fn visibility_label(&self) -> &str {
        self.visibility_type.as_deref().unwrap_or("UNKNOWN")
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

impl Record for AnsweredScorecard {
    fn key(&self) -> Option<u64> {
        self.answered_scorecard_id.map(|id| id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels([self.scorecard_name.as_str(), self.review_method.as_str(), self.visibility_label()])?;
        self.answers.iter().try_for_each(|a| valid_number(a.score))
    }
}

impl_page!(AnsweredScorecardsPage, AnsweredScorecard, answered_scorecards);

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
#[derive(Debug, Clone)]
pub struct ScorecardWindow {
    pub window: Window,
    /// `(scorecard, reviewed user or None, review method)` -> answered scorecards.
    pub reviews: BTreeMap<(GongId, Option<GongId>, String), u64>,
    /// `(scorecard, reviewed user or None)` -> overall question scores.
    pub overall: BTreeMap<(GongId, Option<GongId>), ScoreSum>,
    /// `(scorecard, reviewer)` -> manual reviews filled.
    pub reviews_given: BTreeMap<(GongId, GongId), u64>,
    /// `(scorecard, question)` -> scores and not-applicable answers.
    pub questions: BTreeMap<(GongId, GongId), QuestionStats>,
    /// `(scorecard, visibility)` -> withheld reviews.
    pub not_public: BTreeMap<(GongId, String), u64>,
}

impl ScorecardWindow {
    /// A window without reviews yet.
    pub fn new(window: Window) -> Self {
        Self {
            window,
            reviews: BTreeMap::new(),
            overall: BTreeMap::new(),
            reviews_given: BTreeMap::new(),
            questions: BTreeMap::new(),
            not_public: BTreeMap::new(),
        }
    }
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
    /// Each window and the reviews it holds: the records a poll reports.
    pub fn reviews_per_window(&self) -> impl Iterator<Item = (Window, usize)> + '_ {
        self.windows.iter().map(|w| (w.window, w.reviews.values().sum::<u64>() as usize))
    }

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
            windows: bounds.iter().map(|b| ScorecardWindow::new(b.window)).collect(),
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
}

fn add_review(window: &mut ScorecardWindow, record: &AnsweredScorecard) {
    let scorecard = record.scorecard_id;
    if record.withheld {
        *window.not_public.entry((scorecard, record.visibility_label().to_owned())).or_default() += 1;
        return;
    }
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

/// `{scorecard_id, scorecard_name, window}` plus one or two extra labels.
pub struct ScorecardSeries<'a> {
    pub scorecard_id: GongId,
    pub scorecard_name: &'a str,
    /// `None` for the cumulative counters, which span all days.
    pub window: Option<Window>,
    pub extra: (&'static str, OptionalId),
    pub method: Option<&'a str>,
}

impl EncodeLabelSet for ScorecardSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        label(encoder, "scorecard_id", self.scorecard_id)?;
        label(encoder, "scorecard_name", self.scorecard_name)?;
        if let Some(window) = self.window {
            label(encoder, "window", window)?;
        }
        label(encoder, self.extra.0, OptionalId(self.extra.1.0))?;
        if let Some(method) = self.method {
            label(encoder, "review_method", method)?;
        }
        Ok(())
    }
}

/// `{scorecard_id, scorecard_name, window, visibility}`: no user.
struct NotPublicSeries<'a> {
    scorecard_id: GongId,
    scorecard_name: &'a str,
    window: Window,
    visibility: &'a str,
}

impl EncodeLabelSet for NotPublicSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        label(encoder, "scorecard_id", self.scorecard_id)?;
        label(encoder, "scorecard_name", self.scorecard_name)?;
        label(encoder, "window", self.window)?;
        label(encoder, "visibility", self.visibility)
    }
}

fn scorecard_series<'a>(
    table: &'a ScorecardTable,
    scorecard_id: GongId,
    window: Window,
    extra: &'static str,
    value: Option<GongId>,
) -> ScorecardSeries<'a> {
    ScorecardSeries {
        scorecard_id,
        scorecard_name: table.names.get(&scorecard_id).map_or("", String::as_str),
        window: Some(window),
        extra: (extra, OptionalId(value)),
        method: None,
    }
}

/// Which per-question number a family carries.
#[derive(Debug, Clone, Copy)]
enum QuestionMeasure {
    Points,
    Answers,
    NotApplicable,
}

impl Families for ScorecardTable {
    fn encode(&self, _labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let table = self;
        let series = |id, window, extra, value| scorecard_series(table, id, window, extra, value);
        let windows = &table.windows;

        let mut family = encoder.encode_descriptor(
            "gong_scorecard_reviews",
            &format!("Answered scorecards reviewed in the window, per reviewed user and review method. {CACHED}"),
            None,
            MetricType::Gauge,
        )?;
        for w in windows {
            for ((id, reviewed, method), count) in &w.reviews {
                let labels =
                    ScorecardSeries { method: Some(method), ..series(*id, w.window, "reviewed_user_id", *reviewed) };
                family.encode_family(&labels)?.encode_gauge(count)?;
            }
        }
        for (metric, what, measure) in [
            (
                "gong_scorecard_overall_score_points",
                "Sum of the scores of answered overall questions",
                QuestionMeasure::Points,
            ),
            (
                "gong_scorecard_overall_score_answers",
                "Number of scored overall questions (average = points / answers)",
                QuestionMeasure::Answers,
            ),
        ] {
            let help = format!("{what}, per scorecard and reviewed user, in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for w in windows {
                for ((id, reviewed), sum) in &w.overall {
                    let labels = series(*id, w.window, "reviewed_user_id", *reviewed);
                    let mut metric = family.encode_family(&labels)?;
                    match measure {
                        QuestionMeasure::Points => metric.encode_gauge(&sum.points)?,
                        _ => metric.encode_gauge(&sum.answers)?,
                    }
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "gong_scorecard_reviews_given",
            &format!("Manual scorecard reviews the reviewer filled in the window. {CACHED}"),
            None,
            MetricType::Gauge,
        )?;
        for w in windows {
            for ((id, reviewer), count) in &w.reviews_given {
                family
                    .encode_family(&series(*id, w.window, "reviewer_user_id", Some(*reviewer)))?
                    .encode_gauge(count)?;
            }
        }
        for (metric, what, measure) in [
            (
                "gong_scorecard_question_score_points",
                "Sum of the scores given to the question",
                QuestionMeasure::Points,
            ),
            (
                "gong_scorecard_question_score_answers",
                "Number of scored answers to the question",
                QuestionMeasure::Answers,
            ),
            (
                "gong_scorecard_question_not_applicable",
                "Answers to the question marked not applicable",
                QuestionMeasure::NotApplicable,
            ),
        ] {
            let help = format!("{what} in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for w in windows {
                for ((id, question), stats) in &w.questions {
                    let labels = series(*id, w.window, "question_id", Some(*question));
                    let mut m = family.encode_family(&labels)?;
                    match measure {
                        QuestionMeasure::Points => m.encode_gauge(&stats.score.points)?,
                        QuestionMeasure::Answers => m.encode_gauge(&stats.score.answers)?,
                        QuestionMeasure::NotApplicable => m.encode_gauge(&stats.not_applicable)?,
                    }
                }
            }
        }
        let mut family = encoder.encode_descriptor(
            "gong_scorecard_reviews_not_public",
            &format!(
                "Answered scorecards Gong does not mark PUBLIC, reviewed in the window: withheld from every per-user family (--scorecards.include-private exports them). {CACHED}"
            ),
            None,
            MetricType::Gauge,
        )?;
        for w in windows {
            for ((id, visibility), count) in &w.not_public {
                let labels = NotPublicSeries {
                    scorecard_id: *id,
                    scorecard_name: table.names.get(id).map_or("", String::as_str),
                    window: w.window,
                    visibility,
                };
                family.encode_family(&labels)?.encode_gauge(count)?;
            }
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.windows
            .iter()
            .map(|w| {
                w.reviews.len()
                    + 2 * w.overall.len()
                    + w.reviews_given.len()
                    + 3 * w.questions.len()
                    + w.not_public.len()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_is_read_in_any_case_and_anything_else_is_withheld() {
        let review = |visibility: Option<&str>| -> AnsweredScorecard {
            serde_json::from_value(serde_json::json!({
                "answeredScorecardId": 5, "scorecardId": 7, "scorecardName": "S", "callId": 11,
                "reviewedUserId": 42, "reviewerUserId": 9, "reviewMethod": "MANUAL",
                "reviewTime": "2024-06-01T18:00:00Z", "visibilityType": visibility, "answers": []
            }))
            .unwrap()
        };
        for (visibility, withheld) in [
            (Some("PUBLIC"), false),
            (Some("Public"), false),
            (Some("PRIVATE"), true),
            (Some("OPT_IN_USERS"), true),
            (None, true),
        ] {
            let mut r = review(visibility);
            r.withhold_unless_public();
            assert_eq!((r.withheld, r.reviewed_user_id.is_none()), (withheld, withheld), "{visibility:?}");
        }
    }
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
            visibility_type: Some("PUBLIC".to_owned()),
            withheld: false,
        }
    }

    /// Gong's reference lists PUBLIC, PRIVATE and OPT_IN_USERS; an answer
    /// without the field cannot say a review is public.
    #[test]
    fn reviews_not_public_are_counted_per_scorecard_without_users_or_answers() {
        let tz = TimeZone::get("America/Los_Angeles").unwrap();
        let bounds = [window_bounds(&Window::from_days(7).unwrap(), date(2024, 6, 10), &tz)];
        let answers = [(100, true, Some(4.0), false), (101, false, Some(1.0), false)];
        let mut records: Vec<AnsweredScorecard> = ["PUBLIC", "PRIVATE", "OPT_IN_USERS", "PRIVATE", ""]
            .iter()
            .enumerate()
            .map(|(i, visibility)| {
                let mut r = scorecard(1, "Coaching", 10 + i as u64, Some(99), "2024-06-08T18:00:00Z", &answers);
                r.visibility_type = (!visibility.is_empty()).then(|| (*visibility).to_owned());
                r
            })
            .collect();
        records.iter_mut().for_each(AnsweredScorecard::withhold_unless_public);
        assert_eq!(records.iter().filter(|r| r.withheld).count(), 4);
        for kept in records.iter().filter(|r| r.withheld).map(|r| serde_json::to_value(r).unwrap()) {
            assert!(kept["reviewedUserId"].is_null() && kept["reviewerUserId"].is_null(), "no people kept: {kept}");
            assert!(kept["callId"].is_null() && kept["answers"] == serde_json::json!([]), "no call or answers: {kept}");
        }
        let table = ScorecardTable::build(&records, &bounds, &tz);
        let w = &table.windows[0];
        assert_eq!(w.reviews.values().sum::<u64>(), 1, "only the public review, per user");
        assert_eq!(w.reviews_given[&(GongId(1), GongId(99))], 1);
        assert_eq!(w.overall[&(GongId(1), Some(GongId(10)))].answers, 1);
        assert_eq!(
            w.questions[&(GongId(1), GongId(100))].score.answers,
            1,
            "withheld answers are not in the questions"
        );
        let not_public: Vec<_> = w.not_public.iter().map(|((_, v), n)| (v.as_str(), *n)).collect();
        assert_eq!(not_public, [("OPT_IN_USERS", 1), ("PRIVATE", 2), ("UNKNOWN", 1)]);
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
        assert_eq!(d1.window, Window::from_days(1).unwrap());
        assert_eq!(d1.reviews.values().sum::<u64>(), 2);
        assert_eq!(d7.reviews.values().sum::<u64>(), 3);
        assert_eq!(d1.reviews_given[&(GongId(1), GongId(99))], 1);
        assert!(!d7.reviews_given.contains_key(&(GongId(1), GongId(11))), "automatic reviews have no reviewer");
        assert_eq!(d7.overall[&(GongId(1), Some(GongId(11)))], ScoreSum { points: 2.0, answers: 1 });
        let q101 = d7.questions[&(GongId(1), GongId(101))];
        assert_eq!((q101.score, q101.not_applicable), (ScoreSum { points: 5.0, answers: 1 }, 1));
    }
}
