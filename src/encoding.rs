//! Snapshot to OpenMetrics text. The data part is encoded once per publish
//! through a prometheus-client [`Collector`] that walks the snapshot's tables
//! directly, so no per-series map is built and a scrape copies nothing.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::gong::models::GongId;
use crate::naming::{InteractionKey, KNOWN_INTERACTION_STATS, activity_metric_name, family_owners, help_name};
use crate::snapshot::DataSnapshot;

/// Appended to every data family's HELP.
const CACHED: &str = "Polled from Gong in the background and cached; a scrape never calls Gong.";

impl EncodeLabelValue for GongId {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        write!(encoder, "{}", self.0)
    }
}

/// A label value that may be absent: written as the empty string, which
/// Prometheus treats as no label.
struct OptionalId(Option<GongId>);

impl EncodeLabelValue for OptionalId {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        match self.0 {
            Some(id) => id.encode(encoder),
            None => Ok(()),
        }
    }
}

fn label(encoder: &mut LabelSetEncoder, key: &str, value: impl EncodeLabelValue) -> std::fmt::Result {
    (key, value).encode(encoder.encode_label())
}

/// `{user_id, user_email, window}`, `user_email` left out when disabled.
struct UserSeries<'a> {
    user_id: GongId,
    email: Option<&'a str>,
    /// `None` for the cumulative counters, which span all days.
    window: Option<&'a str>,
    stat: Option<&'a str>,
}

impl EncodeLabelSet for UserSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        label(encoder, "user_id", self.user_id)?;
        if let Some(email) = self.email {
            label(encoder, "user_email", email)?;
        }
        if let Some(window) = self.window {
            label(encoder, "window", window)?;
        }
        if let Some(stat) = self.stat {
            label(encoder, "stat", stat)?;
        }
        Ok(())
    }
}

/// `{scorecard_id, scorecard_name, window}` plus one or two extra labels.
struct ScorecardSeries<'a> {
    scorecard_id: GongId,
    scorecard_name: &'a str,
    window: Option<&'a str>,
    extra: (&'static str, OptionalId),
    method: Option<&'a str>,
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

fn scorecard_series<'a>(
    table: &'a crate::snapshot::ScorecardTable,
    scorecard_id: GongId,
    window: &'a str,
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

struct UserInfoSeries<'a> {
    user: &'a crate::snapshot::UserInfo,
    include_email: bool,
}

impl EncodeLabelSet for UserInfoSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        let u = self.user;
        label(encoder, "user_id", u.id)?;
        if self.include_email {
            label(encoder, "user_email", u.email.as_str())?;
        }
        label(encoder, "user_name", u.name.as_str())?;
        label(encoder, "manager_id", OptionalId(u.manager_id))?;
        label(encoder, "title", u.title.as_str())?;
        label(encoder, "active", if u.active { "true" } else { "false" })
    }
}

/// Encodes a [`DataSnapshot`] when the registry is encoded.
#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<DataSnapshot>,
    include_email: bool,
}

impl SnapshotCollector {
    fn email<'a>(&self, email: &'a str) -> Option<&'a str> {
        self.include_email.then_some(email)
    }

    fn encode_activity(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        // One family per metric across all windows: OpenMetrics forbids a
        // family appearing twice.
        let names = self.snapshot.activity.iter().flat_map(|t| t.fields.iter().map(|f| f.gong_name.as_str()));
        for (metric, gong_name) in family_owners(names, activity_metric_name) {
            let metric = metric.as_str();
            let shown = help_name(gong_name);
            let help = format!("Gong aggregate activity `{shown}` of the user in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for table in &self.snapshot.activity {
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
                        email: self.email(&row.email),
                        window: Some(&table.window),
                        stat: None,
                    };
                    family.encode_family(&labels)?.encode_gauge(&row.values[at].1)?;
                }
            }
        }
        Ok(())
    }

    fn encode_interaction(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let tables = &self.snapshot.interaction;
        if tables.is_empty() {
            return Ok(());
        }
        for (index, (gong_name, metric, unit, meaning)) in KNOWN_INTERACTION_STATS.iter().enumerate() {
            let key = InteractionKey::Known(index);
            let present = tables.iter().any(|t| t.rows.iter().any(|r| r.stats.iter().any(|(k, _)| *k == key)));
            if !present {
                continue;
            }
            let help = format!("{meaning}, from Gong's interaction stat '{gong_name}', in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, unit.as_ref(), MetricType::Gauge)?;
            for table in tables {
                for row in &table.rows {
                    for (_, value) in row.stats.iter().filter(|(k, _)| *k == key) {
                        let labels = UserSeries {
                            user_id: row.user_id,
                            email: self.email(&row.email),
                            window: Some(&table.window),
                            stat: None,
                        };
                        family.encode_family(&labels)?.encode_gauge(value)?;
                    }
                }
            }
        }
        let others: BTreeSet<&str> = tables
            .iter()
            .flat_map(|t| t.rows.iter())
            .flat_map(|r| r.stats.iter())
            .filter_map(|(k, _)| match k {
                InteractionKey::Other(name) => Some(name.as_str()),
                InteractionKey::Known(_) => None,
            })
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let help = format!("Any other Gong interaction stat, by the name Gong gives it, in the window. {CACHED}");
        let mut family = encoder.encode_descriptor("gong_interaction_stat", &help, None, MetricType::Gauge)?;
        for table in tables {
            for row in &table.rows {
                for (key, value) in &row.stats {
                    if let InteractionKey::Other(name) = key {
                        let labels = UserSeries {
                            user_id: row.user_id,
                            email: self.email(&row.email),
                            window: Some(&table.window),
                            stat: Some(name),
                        };
                        family.encode_family(&labels)?.encode_gauge(value)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn encode_scorecards(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(table) = &self.snapshot.scorecards else {
            return Ok(());
        };
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
                    ScorecardSeries { method: Some(method), ..series(*id, &w.window, "reviewed_user_id", *reviewed) };
                family.encode_family(&labels)?.encode_gauge(count)?;
            }
        }
        for (metric, what, points) in [
            ("gong_scorecard_overall_score_points", "Sum of the scores of answered overall questions", true),
            (
                "gong_scorecard_overall_score_answers",
                "Number of scored overall questions (average = points / answers)",
                false,
            ),
        ] {
            let help = format!("{what}, per scorecard and reviewed user, in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for w in windows {
                for ((id, reviewed), sum) in &w.overall {
                    let labels = series(*id, &w.window, "reviewed_user_id", *reviewed);
                    let mut metric = family.encode_family(&labels)?;
                    if points { metric.encode_gauge(&sum.points)? } else { metric.encode_gauge(&sum.answers)? }
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
                    .encode_family(&series(*id, &w.window, "reviewer_user_id", Some(*reviewer)))?
                    .encode_gauge(count)?;
            }
        }
        for (metric, what) in [
            ("gong_scorecard_question_score_points", "Sum of the scores given to the question"),
            ("gong_scorecard_question_score_answers", "Number of scored answers to the question"),
            ("gong_scorecard_question_not_applicable", "Answers to the question marked not applicable"),
        ] {
            let help = format!("{what} in the window. {CACHED}");
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Gauge)?;
            for w in windows {
                for ((id, question), stats) in &w.questions {
                    let labels = series(*id, &w.window, "question_id", Some(*question));
                    let mut m = family.encode_family(&labels)?;
                    match metric {
                        "gong_scorecard_question_score_points" => m.encode_gauge(&stats.score.points)?,
                        "gong_scorecard_question_score_answers" => m.encode_gauge(&stats.score.answers)?,
                        _ => m.encode_gauge(&stats.not_applicable)?,
                    }
                }
            }
        }
        Ok(())
    }

    fn encode_users(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(table) = &self.snapshot.users else {
            return Ok(());
        };
        let help = format!(
            "One series per Gong user (value 1), for joins: * on(user_id) group_left(manager_id) gong_user_info. {CACHED}"
        );
        let mut family = encoder.encode_descriptor("gong_user_info", &help, None, MetricType::Gauge)?;
        for user in &table.users {
            family.encode_family(&UserInfoSeries { user, include_email: self.include_email })?.encode_gauge(&1i64)?;
        }
        Ok(())
    }

    /// `gong_activity_<field>_cumulative_total` and
    /// `gong_scorecard_reviews_cumulative_total`.
    fn encode_counters(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(totals) = &self.snapshot.counters else {
            return Ok(());
        };
        // A Gong field literally named e.g. `callsAsHostCumulative` would
        // make a gauge family of the counter's name: the gauge keeps it.
        let gauges: BTreeSet<&str> =
            self.snapshot.activity.iter().flat_map(|t| t.fields.iter().map(|f| f.metric.as_str())).collect();
        let fields = totals.activity.values().flat_map(|u| u.fields.keys().map(String::as_str));
        let families = family_owners(fields, |field| format!("{}_cumulative", activity_metric_name(field)));
        for (metric, gong_name) in &families {
            if gauges.contains(metric.as_str()) || gauges.contains(format!("{metric}_total").as_str()) {
                continue;
            }
            let shown = help_name(gong_name);
            let help = format!(
                "Gong activity `{shown}` of the user summed over every completed company day since counting began (each day added once). {CACHED}"
            );
            let mut family = encoder.encode_descriptor(metric, &help, None, MetricType::Counter)?;
            for (user_id, user) in &totals.activity {
                let Some(value) = user.fields.get(*gong_name) else {
                    continue;
                };
                let labels = UserSeries { user_id: *user_id, email: self.email(&user.email), window: None, stat: None };
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

    /// `gong_coaching_<metric>`, one family per metric name Gong used.
    fn encode_coaching(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(table) = &self.snapshot.coaching else {
            return Ok(());
        };
        for (index, metric) in table.metrics.iter().enumerate() {
            let index = index as u16;
            let shown = help_name(&metric.gong_name);
            let help = format!(
                "Calls of the report on which the manager did `{shown}` in the window, from Gong's coaching endpoint (collected once a day). {CACHED}"
            );
            let mut family = encoder.encode_descriptor(&metric.metric, &help, None, MetricType::Gauge)?;
            for row in &table.rows {
                let Ok(at) = row.values.binary_search_by_key(&index, |(i, _)| *i) else {
                    continue;
                };
                family
                    .encode_family(&CoachingSeries { row, include_email: self.include_email })?
                    .encode_gauge(&row.values[at].1)?;
            }
        }
        Ok(())
    }
}

/// `{manager_id, manager_email, report_id, report_email, workspace_id, window}`.
struct CoachingSeries<'a> {
    row: &'a crate::snapshot::CoachingRow,
    include_email: bool,
}

impl EncodeLabelSet for CoachingSeries<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> std::fmt::Result {
        let r = self.row;
        label(encoder, "manager_id", r.manager_id)?;
        if self.include_email {
            label(encoder, "manager_email", r.manager_email.as_str())?;
        }
        label(encoder, "report_id", r.report_id)?;
        if self.include_email {
            label(encoder, "report_email", r.report_email.as_str())?;
        }
        label(encoder, "workspace_id", r.workspace_id)?;
        label(encoder, "window", r.window.as_str())
    }
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.encode_activity(&mut encoder)?;
        self.encode_interaction(&mut encoder)?;
        self.encode_scorecards(&mut encoder)?;
        self.encode_users(&mut encoder)?;
        self.encode_counters(&mut encoder)?;
        self.encode_coaching(&mut encoder)
    }
}

/// The data part of `/metrics` for `snapshot`: OpenMetrics families without
/// the closing `# EOF`, which the server appends after the self-metrics.
pub fn encode_snapshot(snapshot: Arc<DataSnapshot>, include_email: bool) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector { snapshot, include_email }));
    let mut out = String::new();
    prometheus_client::encoding::text::encode_registry(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// OpenMetrics text (as prometheus-client writes it) in the Prometheus text
/// format 0.0.4, for clients that do not ask for OpenMetrics: counter
/// families are named with their `_total` suffix (which 0.0.4 keeps in HELP
/// and TYPE), `# UNIT` and `# EOF` lines go, `unknown` becomes `untyped`.
/// Samples, labels and their escaping are the same in both formats.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut counters: BTreeSet<&str> = BTreeSet::new();
    // TYPE follows HELP, so a family's type is known only one line later:
    // find the counter families first.
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, "counter")) = rest.split_once(' ')
        {
            counters.insert(name);
        }
    }
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let header = ["# HELP ", "# TYPE "].into_iter().find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match header {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let suffix = if counters.contains(name) { "_total" } else { "" };
                let tail = if prefix == "# TYPE " && tail == "unknown" { "untyped" } else { tail };
                let _ = writeln!(out, "{prefix}{name}{suffix} {tail}");
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gong::models::{AnsweredScorecard, GongUser, PersonInteraction, UserAggregateActivity};
    use crate::snapshot::{ActivityTable, InteractionTable, ScorecardTable, UserTable};
    use crate::windows::{Window, window_bounds};
    use proptest::prelude::*;

    fn sample_snapshot(stat_name: &str, scorecard_name: &str, email: &str) -> DataSnapshot {
        sample_snapshot_with_field(stat_name, scorecard_name, email, "othersCallsListenedTo")
    }

    fn sample_snapshot_with_field(stat_name: &str, scorecard_name: &str, email: &str, field: &str) -> DataSnapshot {
        let activity: Vec<UserAggregateActivity> = serde_json::from_value(serde_json::json!([
            {"userId": "9007199254740993", "userEmailAddress": email,
             "userAggregateActivityStats": {"callsAsHost": 3, field: 1}}
        ]))
        .unwrap();
        let interaction: Vec<PersonInteraction> = serde_json::from_value(serde_json::json!([
            {"userId": "9007199254740993", "userEmailAddress": email,
             "personInteractionStats": [{"name": "Talk Ratio", "value": 0.25}, {"name": "Patience", "value": 1.5},
                                        {"name": stat_name, "value": 2}]}
        ]))
        .unwrap();
        let scorecards: Vec<AnsweredScorecard> = serde_json::from_value(serde_json::json!([
            {"scorecardId": 6843152929075440037u64, "scorecardName": scorecard_name, "reviewedUserId": 9007199254740993u64,
             "reviewerUserId": 12345678901234567890u64, "reviewMethod": "MANUAL", "reviewTime": "2024-06-09T18:00:00Z",
             "answers": [{"questionId": 11, "isOverall": true, "score": 4}, {"questionId": 12, "notApplicable": true}]}
        ]))
        .unwrap();
        let users: Vec<GongUser> = serde_json::from_value(serde_json::json!([
            {"id": "9007199254740993", "emailAddress": email, "firstName": "Zoë", "lastName": "O'Brien",
             "title": null, "managerId": "12345678901234567890", "active": true}
        ]))
        .unwrap();
        let days: Vec<crate::gong::models::UserDailyActivity> = serde_json::from_value(serde_json::json!([
            {"userId": "9007199254740993", "userEmailAddress": email, "userDailyActivityStats": [
                {"callsAsHost": ["1", "2"], field: ["3"], "fromDate": "2024-06-08T00:00:00Z"},
                {"callsAsHost": ["4"], "fromDate": "2024-06-09T00:00:00Z"}]}
        ]))
        .unwrap();
        let tz = jiff::tz::TimeZone::UTC;
        let (from, to) = (jiff::civil::date(2024, 6, 8), jiff::civil::date(2024, 6, 10));
        let mut counters = crate::ledger::CounterTotals::default();
        counters.add_activity(&days, from, to, &tz);
        counters.add_reviews(&scorecards, from, to, &tz);
        let bounds = vec![window_bounds(&Window::from_days(1).unwrap(), to, &tz)];
        DataSnapshot {
            activity: vec![Arc::new(ActivityTable::build("1d".into(), activity))],
            interaction: vec![Arc::new(InteractionTable::build("1d".into(), interaction))],
            scorecards: Some(Arc::new(ScorecardTable::build(&scorecards, &bounds, &tz))),
            users: Some(Arc::new(UserTable::build(users))),
            counters: Some(Arc::new(counters)),
            coaching: Some(Arc::new(crate::snapshot::CoachingTable::build(
                vec![crate::snapshot::CoachingAnswer {
                    window: "1d".into(),
                    workspace_id: GongId(623_457_276_584_334),
                    data: serde_json::from_value(serde_json::json!([
                        {"manager": {"id": "12345678901234567890", "emailAddress": "boss@example.com"},
                         "directReportsMetrics": [{"report": {"id": "9007199254740993", "emailAddress": email},
                           "metrics": {"callsListenedTo": ["1", "2"], field: ["3"]}}]}
                    ]))
                    .unwrap(),
                }],
                None,
            ))),
        }
    }

    fn parse_strictly(data: &str) -> Result<(), String> {
        openmetrics_parser::openmetrics::parse_openmetrics(&format!("{data}# EOF\n"))
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn exposition_text_is_stable() {
        let snapshot = Arc::new(sample_snapshot("Filler \"Words\"", "Discovery \"MEDDICC\" \\ é", "zoe@example.com"));
        let text = encode_snapshot(Arc::clone(&snapshot), true);
        insta::assert_snapshot!(text);
        parse_strictly(&text).unwrap();
        let without_email = encode_snapshot(snapshot, false);
        assert!(!without_email.contains("user_email") && !without_email.contains("zoe@example.com"));
        parse_strictly(&without_email).unwrap();
    }

    #[test]
    fn strict_parser_rejects_what_it_should() {
        // The check used on our output can fail: a repeated family, a
        // missing EOF and a sample of an undeclared type are all errors.
        let family = "# TYPE a gauge\na 1\n";
        assert!(parse_strictly(&format!("{family}{family}")).is_err());
        assert!(openmetrics_parser::openmetrics::parse_openmetrics(family).is_err());
        assert!(parse_strictly("# TYPE a gauge\na{x=\"unterminated} 1\n").is_err());
    }

    proptest! {
        /// Whatever names and label values Gong sends, the exposition stays
        /// valid OpenMetrics.
        #[test]
        fn arbitrary_names_always_encode_to_valid_openmetrics(
            stat in "(\\PC|\n){0,24}",
            scorecard in "\\PC{0,24}",
            email in "[a-z\"\\\\\n é]{0,16}",
            field in "(\\PC|\n|\\\\){0,16}",
        ) {
            let text = encode_snapshot(Arc::new(sample_snapshot_with_field(&stat, &scorecard, &email, &field)), true);
            prop_assert!(parse_strictly(&text).is_ok(), "{}", text);
        }
    }
}
