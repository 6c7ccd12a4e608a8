//! Snapshot to OpenMetrics text. The data part is encoded once per publish
//! through a prometheus-client [`Collector`] that walks the snapshot's tables
//! directly, so no per-series map is built and a scrape copies nothing. Each
//! collector writes its own families ([`crate::collectors::Families`]), in
//! the order [`DataSnapshot::each_part`] walks them; this module drops the
//! families left empty and compresses the result.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use crate::collectors::labels::LabelOptions;
use crate::gzip::{GzipHead, GzipWriter};
use crate::snapshot::DataSnapshot;

/// Encodes a [`DataSnapshot`] when the registry is encoded.
#[derive(Debug)]
struct SnapshotCollector {
    snapshot: Arc<DataSnapshot>,
    labels: LabelOptions,
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.snapshot.each_part(|part| part.encode(&self.labels, &mut encoder))
    }
}

/// The data part of `/metrics` for `snapshot`: OpenMetrics families without
/// the closing `# EOF`, which the server appends after the self-metrics.
pub fn encode_snapshot(snapshot: Arc<DataSnapshot>, include_email: bool) -> String {
    let mut out = Vec::new();
    encode_into(snapshot, include_email, |lines| out.extend_from_slice(lines));
    String::from_utf8(out).expect("the encoder writes UTF-8 in whole lines")
}

/// [`encode_snapshot`] compressed as it is encoded: the text is never whole
/// in memory (at 10,000 users it is tens of megabytes, and a `String`
/// growing by doubling briefly held twice that).
pub fn encode_snapshot_gzip(snapshot: Arc<DataSnapshot>, include_email: bool) -> GzipHead {
    let mut writer = GzipWriter::new(0);
    encode_into(snapshot, include_email, |lines| writer.write(lines));
    writer.finish()
}

/// Encodes `snapshot` and hands `sink` whole lines, in batches.
fn encode_into(snapshot: Arc<DataSnapshot>, include_email: bool, sink: impl FnMut(&[u8])) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector { snapshot, labels: LabelOptions { include_email } }));
    let mut lines = NonEmptyFamilies::new(sink);
    prometheus_client::encoding::text::encode_registry(&mut lines, &registry).expect("the sink cannot fail");
    lines.finish();
}

/// Lines written through it reach `sink` except the `# HELP`/`# TYPE`/
/// `# UNIT` lines of families that have no sample (a window without manual
/// reviews, a collector with nothing to say), as client_golang leaves such
/// families out; strict OpenMetrics parsers reject one family's descriptor
/// followed by another's samples.
struct NonEmptyFamilies<F: FnMut(&[u8])> {
    sink: F,
    /// The line being written (the encoder writes pieces of lines).
    line: Vec<u8>,
    /// Descriptor lines of the family being read, until its first sample.
    descriptor: Vec<u8>,
    /// Whole lines for `sink`, handed over in batches.
    ready: Vec<u8>,
}

/// Bytes handed to the sink at a time.
const BATCH: usize = 64 * 1024;

impl<F: FnMut(&[u8])> NonEmptyFamilies<F> {
    fn new(sink: F) -> Self {
        Self { sink, line: Vec::new(), descriptor: Vec::new(), ready: Vec::with_capacity(BATCH + 4096) }
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        if line.starts_with(b"# HELP ") || line.starts_with(b"# TYPE ") || line.starts_with(b"# UNIT ") {
            let name = |l: &[u8]| l[7..].split(|&b| b == b' ' || b == b'\n').next().map(<[u8]>::to_vec);
            if !self.descriptor.is_empty() && name(&self.descriptor) != name(&line) {
                // Another family's descriptor: the pending one had no sample.
                self.descriptor.clear();
            }
            self.descriptor.extend_from_slice(&line);
        } else {
            self.ready.append(&mut self.descriptor);
            self.ready.extend_from_slice(&line);
            if self.ready.len() >= BATCH {
                (self.sink)(&self.ready);
                self.ready.clear();
            }
        }
        self.line = line;
        self.line.clear();
    }

    /// Hands over what is left; a last family without samples is dropped.
    fn finish(mut self) {
        if !self.line.is_empty() {
            self.line.push(b'\n');
            self.end_line();
        }
        if !self.ready.is_empty() {
            (self.sink)(&self.ready);
        }
    }
}

impl<F: FnMut(&[u8])> std::fmt::Write for NonEmptyFamilies<F> {
    fn write_str(&mut self, mut text: &str) -> std::fmt::Result {
        while let Some(end) = text.find('\n') {
            self.line.extend_from_slice(&text.as_bytes()[..=end]);
            self.end_line();
            text = &text[end + 1..];
        }
        self.line.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// OpenMetrics text (as prometheus-client writes it) in the Prometheus text
/// format 0.0.4, for clients that do not ask for OpenMetrics: counter
/// families are named with their `_total` suffix (which 0.0.4 keeps in HELP
/// and TYPE), `# UNIT` and `# EOF` lines go, `unknown` becomes `untyped`.
/// Samples, labels and their escaping are the same in both formats.
pub fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut out = Vec::with_capacity(openmetrics.len());
    let mut converter = TextConverter::default();
    converter.push(openmetrics.as_bytes(), &mut out);
    converter.finish(&mut out);
    String::from_utf8(out).expect("whole lines of UTF-8 in, whole lines out")
}

/// [`openmetrics_to_text`] one piece at a time, in one pass: a body
/// decompressed in chunks is converted without being whole in memory.
/// Chunks may end anywhere; only whole lines are converted.
#[derive(Debug, Default)]
pub struct TextConverter {
    /// The start of a line the last chunk cut.
    partial: Vec<u8>,
    /// A `# HELP` line: prometheus-client writes TYPE after HELP, so whether
    /// the family is a counter (named with `_total` in 0.0.4) is known one
    /// line later.
    help: Option<Vec<u8>>,
}

impl TextConverter {
    /// Converts the whole lines of `chunk` (with the start left by the last
    /// chunk) into `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                self.partial.extend_from_slice(rest);
                return;
            };
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&rest[..end]);
            self.line(&line, out);
            rest = &rest[end + 1..];
        }
        let mut lines = rest.split(|&b| b == b'\n');
        let last = lines.next_back().unwrap_or_default();
        for line in lines {
            self.line(line, out);
        }
        self.partial.extend_from_slice(last);
    }

    /// Converts what is left: a last line without its newline, a HELP
    /// without its TYPE.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let partial = std::mem::take(&mut self.partial);
        if !partial.is_empty() {
            self.line(&partial, out);
        }
        if let Some(help) = self.help.take() {
            write_line(out, &[&help]);
        }
    }

    /// One line, without its newline.
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if line.starts_with(b"# UNIT ") || line == b"# EOF" {
            return;
        }
        if line.starts_with(b"# HELP ") {
            if let Some(help) = self.help.replace(line.to_vec()) {
                write_line(out, &[&help]);
            }
            return;
        }
        let Some(rest) = line.strip_prefix(b"# TYPE ") else {
            if let Some(help) = self.help.take() {
                write_line(out, &[&help]);
            }
            write_line(out, &[line]);
            return;
        };
        let (name, kind) = split_name(rest);
        let suffix: &[u8] = if kind == b"counter" { b"_total" } else { b"" };
        if let Some(help) = self.help.take() {
            match help.strip_prefix(b"# HELP ").map(split_name) {
                Some((help_name, text)) if help_name == name => {
                    write_line(out, &[b"# HELP ", help_name, suffix, b" ", text]);
                }
                _ => write_line(out, &[&help]),
            }
        }
        let kind: &[u8] = if kind == b"unknown" { b"untyped" } else { kind };
        write_line(out, &[b"# TYPE ", name, suffix, b" ", kind]);
    }
}

/// `name rest` at the first space (all of it the name when there is none).
fn split_name(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&b| b == b' ') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, b""),
    }
}

fn write_line(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::activity::{ActivityTable, UserAggregateActivity, UserDailyActivity};
    use crate::collectors::coaching::{CoachingAnswer, CoachingTable};
    use crate::collectors::interaction::{InteractionTable, PersonInteraction};
    use crate::collectors::scorecard_questions::{QuestionTable, ScorecardSettings};
    use crate::collectors::scorecards::{AnsweredScorecard, ScorecardTable};
    use crate::collectors::users::{GongUser, UserTable};
    use crate::endpoint::Endpoint;
    use crate::gong::models::GongId;
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
        let days: Vec<UserDailyActivity> = serde_json::from_value(serde_json::json!([
            {"userId": "9007199254740993", "userEmailAddress": email, "userDailyActivityStats": [
                {"callsAsHost": ["1", "2"], field: ["3"], "fromDate": "2024-06-08T00:00:00Z"},
                {"callsAsHost": ["4"], "fromDate": "2024-06-09T00:00:00Z"}]}
        ]))
        .unwrap();
        let tz = jiff::tz::TimeZone::UTC;
        let (from, to) = (jiff::civil::date(2024, 6, 8), jiff::civil::date(2024, 6, 10));
        let mut counters = crate::collectors::counters::CounterTotals::default();
        counters.add_activity(&days, from, to, &tz);
        counters.add_reviews(&scorecards, from, to, &tz);
        let bounds = vec![window_bounds(&Window::from_days(1).unwrap(), to, &tz)];
        DataSnapshot {
            activity: vec![Arc::new(ActivityTable::build(Window::ONE_DAY, activity))],
            windowed: std::collections::BTreeMap::from([(
                Endpoint::Interaction,
                Arc::new(vec![Arc::new(InteractionTable::build(Window::ONE_DAY, interaction))])
                    as Arc<dyn crate::collectors::windowed::WindowTables>,
            )]),
            scorecards: Some(Arc::new(ScorecardTable::build(&scorecards, &bounds, &tz))),
            daily: std::collections::BTreeMap::new(),
            users: Some(Arc::new(UserTable::build(users))),
            counters: Some(Arc::new(counters)),
            coaching: Some(Arc::new(CoachingTable::build(
                vec![CoachingAnswer {
                    window: Window::ONE_DAY,
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

    /// Every part the snapshot encodes is counted, and nothing else: the
    /// self-metric of series published is what the scrape holds.
    #[test]
    fn the_series_count_is_the_samples_encoded() {
        let mut snapshot = sample_snapshot("Talk Ratio", "Discovery", "a@b.c");
        let questions: Vec<ScorecardSettings> = serde_json::from_value(serde_json::json!([
            {"scorecardId": "6843152929075440037", "scorecardName": "Discovery", "workspaceId": "1", "enabled": true,
             "questions": [{"questionId": "11", "questionText": "Overall?", "isOverall": true,
                            "questionType": "RANGE", "minRange": "1", "maxRange": "5"}]}
        ]))
        .unwrap();
        snapshot.daily.insert(Endpoint::ScorecardSettings, Arc::new(QuestionTable { scorecards: questions }));
        let text = encode_snapshot(Arc::new(snapshot.clone()), true);
        assert!(text.contains("gong_scorecard_question_info{"), "a daily part is encoded: {text}");
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
        assert!(samples >= 15, "every part has series: {text}");
        assert_eq!(snapshot.series_count(), samples, "{text}");
    }

    /// A counter whose name another Gong field owns, or an activity gauge
    /// already takes, is not written, and so not counted either.
    #[test]
    fn counters_left_out_for_a_name_clash_are_not_counted() {
        let mut snapshot = sample_snapshot_with_field("Talk Ratio", "Discovery", "a@b.c", "callsAttendedCumulative");
        let mut totals = (**snapshot.counters.as_ref().unwrap()).clone();
        totals.add_counts(GongId(1), "x@y.z", [("calls_as_host", 2), ("callsAttended", 1)].into_iter());
        snapshot.counters = Some(Arc::new(totals));
        let text = encode_snapshot(Arc::new(snapshot.clone()), true);
        assert!(!text.contains("gong_activity_calls_attended_cumulative_total{"), "the gauge keeps its name: {text}");
        let samples = text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count();
        assert_eq!(snapshot.series_count(), samples, "{text}");
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
    fn a_family_without_samples_is_left_out() {
        // Only automatic reviews in the window: no reviewer filled one in,
        // so `gong_scorecard_reviews_given` has no series. client_golang
        // leaves such a family out, and strict OpenMetrics parsers reject
        // the descriptor of one family followed by another's samples.
        let mut snapshot = sample_snapshot("Talk Ratio", "Discovery", "zoe@example.com");
        let scorecards: Vec<AnsweredScorecard> = serde_json::from_value(serde_json::json!([
            {"scorecardId": 1, "scorecardName": "Discovery", "reviewedUserId": 9007199254740993u64,
             "reviewerUserId": 12345678901234567890u64, "reviewMethod": "AUTOMATIC", "reviewTime": "2024-06-09T18:00:00Z",
             "answers": [{"questionId": 11, "isOverall": true, "score": 4}]}
        ]))
        .unwrap();
        let tz = jiff::tz::TimeZone::UTC;
        let bounds = vec![window_bounds(&Window::from_days(1).unwrap(), jiff::civil::date(2024, 6, 10), &tz)];
        snapshot.scorecards = Some(Arc::new(ScorecardTable::build(&scorecards, &bounds, &tz)));
        let text = encode_snapshot(Arc::new(snapshot), true);
        assert!(text.contains("gong_scorecard_reviews{"), "{text}");
        assert!(!text.contains("gong_scorecard_reviews_given"), "{text}");
        parse_strictly(&text).unwrap();
    }

    #[test]
    fn only_descriptors_without_samples_are_dropped() {
        let through = |pieces: &[&str]| {
            let mut out = Vec::new();
            let mut lines = NonEmptyFamilies::new(|batch: &[u8]| out.extend_from_slice(batch));
            for piece in pieces {
                std::fmt::Write::write_str(&mut lines, piece).unwrap();
            }
            lines.finish();
            String::from_utf8(out).unwrap()
        };
        // Written in pieces that cut lines, as the encoder writes.
        let text = [
            "# HELP a A.\n# TYPE a gauge\n",
            "# HELP b B.\n# TYPE b gauge\n# UNIT b seconds\n",
            "# HELP c C.\n# TYPE c count",
            "er\nc_total 1\nc_total{x=\"#\"} 2\n",
            "# HELP d D.\n# TYPE d gauge\n",
            "# HELP e E.\n# TYPE e gauge\ne 3",
            "\n# HELP f F.\n# TYPE f gauge\n",
        ];
        let kept = "# HELP c C.\n# TYPE c counter\nc_total 1\nc_total{x=\"#\"} 2\n# HELP e E.\n# TYPE e gauge\ne 3\n";
        assert_eq!(through(&text), kept);
        assert_eq!(through(&["# HELP a A.\n# TYPE a gauge\n"]), "");
    }

    #[test]
    fn compressed_while_encoded_is_the_encoded_text() {
        let snapshot = Arc::new(sample_snapshot("Talk Ratio", "Discovery", "a@b.c"));
        let head = encode_snapshot_gzip(Arc::clone(&snapshot), true);
        let mut member = head.bytes.to_vec();
        member.extend(head.close(b""));
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&member[..]), &mut text).unwrap();
        assert_eq!(text, encode_snapshot(snapshot, true));
    }

    #[test]
    fn the_text_format_names_counters_with_total_and_drops_unit_and_eof() {
        let openmetrics = "# HELP c Calls.\n# TYPE c counter\n# UNIT c seconds\nc_total{a=\"# HELP x\"} 1\n\
                           # HELP g Gauge.\n# TYPE g gauge\ng 2\n# HELP u U.\n# TYPE u unknown\nu 3\n# EOF\n";
        let text = "# HELP c_total Calls.\n# TYPE c_total counter\nc_total{a=\"# HELP x\"} 1\n\
                    # HELP g Gauge.\n# TYPE g gauge\ng 2\n# HELP u U.\n# TYPE u untyped\nu 3\n";
        assert_eq!(openmetrics_to_text(openmetrics), text);
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

        /// Converted in chunks cut anywhere, the text format is the same as
        /// converted whole.
        #[test]
        fn the_text_format_does_not_depend_on_where_chunks_end(cuts in proptest::collection::vec(1usize..200, 1..40)) {
            let openmetrics = encode_snapshot(Arc::new(sample_snapshot("Talk Ratio", "Discovery", "a@b.c")), true);
            let (mut converter, mut out, mut rest) = (TextConverter::default(), Vec::new(), openmetrics.as_bytes());
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
                converter.push(chunk, &mut out);
                rest = tail;
            }
            converter.finish(&mut out);
            prop_assert_eq!(String::from_utf8(out).unwrap(), openmetrics_to_text(&openmetrics));
        }
    }
}
