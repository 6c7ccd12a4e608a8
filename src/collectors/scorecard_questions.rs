//! Scorecard questions by name: `GET /v2/settings/scorecards` (scope
//! `api:settings:scorecards:read`), once a company day, part of the
//! scorecards collector. `gong_scorecard_question_info` gives each
//! question's text for the IDs the answered scorecards carry, and the score
//! range lets dashboards compare scores across scales (percent of the
//! range).
//!
//! The shape is Gong's reference page ("Retrieve scorecards details") and
//! a real answer NangoHQ's integration-templates recorded
//! (`integrations/gong/tests/get-scorecard.test.json`): `{requestId,
//! scorecards: [{scorecardId, scorecardName, workspaceId, enabled,
//! questions: [{questionId, questionText, isOverall, questionType,
//! minRange, maxRange, ...}]}]}`, no paging. The recording sends IDs and
//! ranges as strings (`"minRange": "1"`, `"maxRange": "5"`); the reference
//! types them as integers and its example range is 0 to 50: both are read.
//! A question without a range (a select or open question) has none.

use std::fmt;
use std::sync::Arc;

use jiff::civil::Date;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::MetricType;
use serde::Deserialize;
use tokio::time::Instant;

use super::Families;
use super::daily::{Daily, DailyFuture, DailyRun};
use super::labels::{LabelOptions, label};
use crate::endpoint::Endpoint;
use crate::gong::models::{
    GongId, Listed, MAX_LABEL_BYTES, Record, Records, Unusable, impl_page, lenient_number, null_as_default,
    short_labels, valid_number,
};
use crate::gong::{Fetched, GongClient, GongError, Query};

/// The questions collector's own state: the company day it last asked.
#[derive(Debug, Default)]
pub struct QuestionsSchedule {
    asked_on: Option<Date>,
}

impl QuestionsSchedule {
    /// Asks Gong for the scorecards' questions unless `today` was asked.
    async fn ask(&mut self, client: &GongClient, today: Date, deadline: Instant) -> DailyRun {
        if self.asked_on == Some(today) {
            return DailyRun::NotDue;
        }
        match fetch(client, deadline).await {
            Ok(fetched) => {
                self.asked_on = Some(today);
                let table = QuestionTable { scorecards: fetched.items };
                DailyRun::Fetched { records: table.scorecards.len(), part: Arc::new(table) }
            }
            Err(error @ (GongError::MissingScope { .. } | GongError::Forbidden { .. })) => {
                self.asked_on = Some(today);
                DailyRun::Refused {
                    error,
                    why: "scorecard questions are left out until tomorrow (company time): gong_scorecard_question_info needs the scope api:settings:scorecards:read; the other scorecard families are unaffected",
                }
            }
            Err(error) => {
                // Asking again gets the same answer: tomorrow.
                if !error.is_retriable() {
                    self.asked_on = Some(today);
                }
                DailyRun::Failed(error)
            }
        }
    }
}

impl Daily for QuestionsSchedule {
    fn endpoint(&self) -> Endpoint {
        Endpoint::ScorecardSettings
    }

    fn run<'a>(&'a mut self, client: &'a GongClient, today: Date, deadline: Instant) -> DailyFuture<'a> {
        Box::pin(self.ask(client, today, deadline))
    }
}

/// `GET /v2/settings/scorecards`: every scorecard of every workspace.
pub async fn fetch(client: &GongClient, deadline: Instant) -> Result<Fetched<ScorecardSettings>, GongError> {
    client.fetch_all::<ScorecardSettingsPage>(Endpoint::ScorecardSettings, Query::Get(Vec::new()), deadline).await
}

/// The answer of `GET /v2/settings/scorecards` (one page: no `records`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScorecardSettingsPage {
    pub request_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub records: Records,
    #[serde(default)]
    pub scorecards: Listed<ScorecardSettings>,
}

/// One scorecard's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScorecardSettings {
    pub scorecard_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scorecard_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub questions: Vec<Question>,
}

/// One question of a scorecard.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    pub question_id: GongId,
    #[serde(default, deserialize_with = "null_as_default")]
    pub question_text: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_overall: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub question_type: String,
    #[serde(default, deserialize_with = "lenient_number")]
    pub min_range: Option<f64>,
    #[serde(default, deserialize_with = "lenient_number")]
    pub max_range: Option<f64>,
}

impl Record for ScorecardSettings {
    fn key(&self) -> Option<u64> {
        Some(self.scorecard_id.0)
    }

    fn check(&mut self) -> Result<(), Unusable> {
        short_labels([self.scorecard_name.as_str()])?;
        for question in &mut self.questions {
            // A question's text is what a person wrote for reviewers and
            // may be long: cut at the label bound, not the whole scorecard
            // left out.
            truncate_label(&mut question.question_text);
            short_labels([question.question_type.as_str()])?;
            valid_number(question.min_range)?;
            valid_number(question.max_range)?;
        }
        Ok(())
    }
}

impl_page!(ScorecardSettingsPage, ScorecardSettings, scorecards);

/// Cuts `text` to [`MAX_LABEL_BYTES`] at a character boundary, ending it
/// with an ellipsis.
fn truncate_label(text: &mut String) {
    if text.len() <= MAX_LABEL_BYTES {
        return;
    }
    let ellipsis = '…';
    let mut end = MAX_LABEL_BYTES - ellipsis.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push(ellipsis);
}

/// Every scorecard's questions, as last fetched.
#[derive(Debug, Clone, Default)]
pub struct QuestionTable {
    pub scorecards: Vec<ScorecardSettings>,
}

/// `{scorecard_id, question_id}` and, for the info series, the rest.
struct QuestionSeries<'a> {
    scorecard: &'a ScorecardSettings,
    question: &'a Question,
    info: bool,
}

impl EncodeLabelSet for QuestionSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        label(encoder, "scorecard_id", self.scorecard.scorecard_id)?;
        label(encoder, "question_id", self.question.question_id)?;
        if self.info {
            label(encoder, "scorecard_name", self.scorecard.scorecard_name.as_str())?;
            label(encoder, "question", self.question.question_text.as_str())?;
            label(encoder, "question_type", self.question.question_type.as_str())?;
            label(encoder, "is_overall", if self.question.is_overall { "true" } else { "false" })?;
        }
        Ok(())
    }
}

impl QuestionTable {
    fn questions(&self) -> impl Iterator<Item = (&ScorecardSettings, &Question)> {
        self.scorecards.iter().flat_map(|s| s.questions.iter().map(move |q| (s, q)))
    }
}

impl Families for QuestionTable {
    fn encode(&self, _labels: &LabelOptions, encoder: &mut DescriptorEncoder) -> fmt::Result {
        let mut family = encoder.encode_descriptor(
            "gong_scorecard_question_info",
            "One series per scorecard question (value 1), its text, type and whether it is the overall question, from Gong's scorecard settings (once a company day), for joins: * on(scorecard_id, question_id) group_left(question) gong_scorecard_question_info.",
            None,
            MetricType::Gauge,
        )?;
        for (scorecard, question) in self.questions() {
            family.encode_family(&QuestionSeries { scorecard, question, info: true })?.encode_gauge(&1i64)?;
        }
        for (metric, help, bound) in [
            (
                "gong_scorecard_question_score_min",
                "Lowest score a range question takes (Gong's minRange); absent for questions without a range.",
                Bound::Min,
            ),
            (
                "gong_scorecard_question_score_max",
                "Highest score a range question takes (Gong's maxRange): 5 in a recorded answer, up to 50 in Gong's reference.",
                Bound::Max,
            ),
        ] {
            let mut family = encoder.encode_descriptor(metric, help, None, MetricType::Gauge)?;
            for (scorecard, question) in self.questions() {
                let value = match bound {
                    Bound::Min => question.min_range,
                    Bound::Max => question.max_range,
                };
                if let Some(value) = value {
                    family.encode_family(&QuestionSeries { scorecard, question, info: false })?.encode_gauge(&value)?;
                }
            }
        }
        Ok(())
    }

    fn series(&self) -> usize {
        self.questions().map(|(_, q)| 1 + usize::from(q.min_range.is_some()) + usize::from(q.max_range.is_some())).sum()
    }
}

#[derive(Clone, Copy)]
enum Bound {
    Min,
    Max,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gong::models::Page as _;

    /// Trimmed from the answer NangoHQ recorded from the real Gong
    /// (integrations/gong/tests/get-scorecard.test.json): IDs and ranges as
    /// strings, `updaterUserId` "-1", fields the exporter does not read.
    const RECORDED: &str = r#"{"requestId":"4ajt9i8sd8gc3mkayd5","scorecards":[{"scorecardId":"9067931441193858457","scorecardName":"Discovery","workspaceId":"5417581024513578617","enabled":true,"updaterUserId":"-1","created":"2023-02-28T13:49:57Z","updated":"2023-02-28T13:49:57Z","reviewMethod":"MANUAL","questions":[{"questionId":"7591834839519262447","questionRevisionId":"3339478385960419386","questionText":"Overall score","isOverall":true,"updaterUserId":"-1","created":"2023-02-28T13:49:57Z","updated":"2023-02-28T13:49:57Z","answerGuide":null,"minRange":"1","maxRange":"5","questionType":"RANGE","answerOptions":[]}]}]}"#;

    #[test]
    fn the_recorded_answer_is_read_with_its_strings() {
        let page: ScorecardSettingsPage = serde_json::from_str(RECORDED).unwrap();
        assert!(page.records().cursor.is_none(), "one page");
        let scorecard = &page.scorecards.items[0];
        assert_eq!(scorecard.scorecard_id, GongId(9_067_931_441_193_858_457));
        let q = &scorecard.questions[0];
        assert_eq!(
            (q.question_id, q.is_overall, q.min_range, q.max_range),
            (GongId(7_591_834_839_519_262_447), true, Some(1.0), Some(5.0))
        );
    }

    #[test]
    fn a_long_question_is_cut_at_the_label_bound_and_a_select_question_has_no_range() {
        let long = "é".repeat(MAX_LABEL_BYTES);
        let json = format!(
            r#"{{"scorecards":[{{"scorecardId":1,"scorecardName":"S","questions":[{{"questionId":2,"questionText":"{long}","minRange":null,"maxRange":null,"questionType":"SINGLE_SELECT"}},{{"questionId":3,"questionText":"Q","minRange":0,"maxRange":50}}]}}]}}"#
        );
        let page: ScorecardSettingsPage = serde_json::from_str(&json).unwrap();
        let listed = page.into_listed();
        assert_eq!(listed.items.len(), 1, "kept, not left out");
        let table = QuestionTable { scorecards: listed.items };
        let text = &table.scorecards[0].questions[0].question_text;
        assert!(text.len() <= MAX_LABEL_BYTES && text.ends_with('…'), "{}", text.len());
        assert_eq!(table.series(), 1 + 3, "an info each, a range for the range question");
    }
}
