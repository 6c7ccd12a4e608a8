//! Reviews Gong marks PRIVATE or OPT_IN_USERS (`visibilityType`, Gong's
//! reference page for answered scorecards) stay out of every per-user
//! family, the kept days and the counters by default, and are counted per
//! scorecard; `--scorecards.include-private` exports them as public ones.

use std::time::Duration;

use serde_json::Value;

use crate::common::*;
use gong_exporter::collectors::scorecards::PrivateReviews;
use gong_exporter::poller::Schedule;
use gong_exporter::simulator::dataset::{FixtureDataset, SimAnswer, SimScorecard};

/// The fixture and one PRIVATE manual review of REP_B by the VP yesterday,
/// on the first scorecard, scored 1 on its overall question.
fn with_a_private_review(cal: &Calendar) -> FixtureDataset {
    let mut data = fixture(cal);
    let yesterday = cal.days_ago(1);
    data.scorecards.push(SimScorecard {
        answered_scorecard_id: 4,
        scorecard_id: SCORECARD_1,
        scorecard_name: SCORECARD_1_NAME.into(),
        call_id: 7_782_342_274_025_938_004,
        call_start: cal.at(yesterday, 11, 0),
        reviewed_user_id: REP_B,
        reviewer_user_id: Some(VP),
        review_time: cal.at(yesterday, 12, 0),
        answers: vec![SimAnswer { question_id: 111, is_overall: true, score: Some(1), not_applicable: false }],
        visibility: Some("PRIVATE"),
    });
    data
}

const CARD: (&str, &str) = ("scorecard_id", "6843152929075440037");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_review_is_counted_per_scorecard_and_nowhere_per_user() {
    let cal = Calendar::now();
    let sim = start_simulator(with_a_private_review(&cal), 100, 1000.0).await;
    let storage = tempfile::tempdir().unwrap();
    let mut config = regular_config(&sim, &cal);
    config.poller.schedule = Schedule::Settling;
    config.poller.poll_interval = Duration::from_millis(300);
    config.storage_path = Some(storage.path().to_owned());
    let exporter = start_exporter(config).await;
    let rep_b = REP_B.to_string();
    let m = wait_for_metrics(exporter.local_addr(), "the scorecards", |m| {
        m.get("gong_scorecard_reviews_not_public", &[CARD, ("window", "7d")]).is_some()
    })
    .await;
    assert_eq!(m.value("gong_scorecard_reviews_not_public", &[CARD, ("window", "1d"), ("visibility", "PRIVATE")]), 1.0);
    let not_public = m.matching("gong_scorecard_reviews_not_public", &[]);
    assert!(not_public.iter().all(|s| !s.labels.keys().any(|k| k.contains("user"))), "{not_public:?}");
    for family in
        ["gong_scorecard_reviews", "gong_scorecard_overall_score_points", "gong_scorecard_reviews_cumulative_total"]
    {
        let leaked = m.matching(family, &[CARD, ("reviewed_user_id", &rep_b)]);
        assert!(leaked.is_empty(), "{family} shows the private review: {leaked:?}");
    }
    // Only the VP's public review of REP_A yesterday.
    assert_eq!(
        m.value("gong_scorecard_reviews_given", &[CARD, ("window", "1d"), ("reviewer_user_id", &VP.to_string())]),
        1.0
    );
    let q = m.value("gong_scorecard_question_score_answers", &[CARD, ("window", "1d"), ("question_id", "111")]);
    assert_eq!(q, 1.0, "the private answer is in no question's numbers");

    // Nothing of who reviewed whom is written to disk either.
    let kept: String = std::fs::read_dir(storage.path().join("days"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(kept.contains("\"visibilityType\":\"PRIVATE\""), "the day with the review is kept");
    let review = kept_review(storage.path(), "4").expect("the day with the review is kept");
    assert_eq!((&review["reviewedUserId"], &review["reviewerUserId"]), (&Value::Null, &Value::Null), "{review}");
    assert!(!kept.contains("7782342274025938004"), "nor its call");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_private_exports_a_private_review_as_a_public_one() {
    let cal = Calendar::now();
    let sim = start_simulator(with_a_private_review(&cal), 100, 1000.0).await;
    let mut config = regular_config(&sim, &cal);
    config.poller.private_reviews = PrivateReviews::Include;
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    let rep_b = REP_B.to_string();
    let reviews = m.value("gong_scorecard_reviews", &[CARD, ("window", "1d"), ("reviewed_user_id", &rep_b)]);
    assert_eq!(reviews, 1.0);
    assert_eq!(
        m.value("gong_scorecard_reviews_given", &[CARD, ("window", "1d"), ("reviewer_user_id", &VP.to_string())]),
        2.0
    );
    assert!(m.matching("gong_scorecard_reviews_not_public", &[]).is_empty());
    exporter.shutdown().await;
}

/// A review whose answer has no `visibilityType` cannot be told public: it
/// is withheld from the per-user families and counted as UNKNOWN, and
/// `--scorecards.include-private` exports it as the flag's help says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_without_visibility_is_withheld_as_unknown_unless_private_ones_are_included() {
    let cal = Calendar::now();
    let mut data = with_a_private_review(&cal);
    data.scorecards.last_mut().unwrap().visibility = None;
    let sim = start_simulator(data, 100, 1000.0).await;
    let rep_b = REP_B.to_string();
    for private in [PrivateReviews::Withhold, PrivateReviews::Include] {
        let mut config = regular_config(&sim, &cal);
        config.poller.private_reviews = private;
        let exporter = start_exporter(config).await;
        wait_ready(exporter.local_addr()).await;
        let m = scrape(exporter.local_addr()).await;
        let per_user = m.get("gong_scorecard_reviews", &[CARD, ("window", "1d"), ("reviewed_user_id", &rep_b)]);
        let unknown = m.get("gong_scorecard_reviews_not_public", &[CARD, ("window", "1d"), ("visibility", "UNKNOWN")]);
        match private {
            PrivateReviews::Withhold => assert_eq!((per_user, unknown), (None, Some(1.0)), "{}", m.text),
            PrivateReviews::Include => assert_eq!((per_user, unknown), (Some(1.0), None), "{}", m.text),
        }
        exporter.shutdown().await;
    }
}

/// The kept review `answered_id` (Gong's `answeredScorecardId`), from
/// the day files under `storage`.
fn kept_review(storage: &std::path::Path, answered_id: &str) -> Option<Value> {
    let days = std::fs::read_dir(storage.join("days")).unwrap();
    let files = days.map(|e| serde_json::from_slice::<Value>(&std::fs::read(e.unwrap().path()).unwrap()).unwrap());
    files
        .flat_map(|day| day["reviews"]["data"].as_array().cloned().unwrap_or_default())
        .find(|review| review["answeredScorecardId"] == answered_id)
}

/// Days kept while `--scorecards.include-private` was on hold who reviewed
/// whom in private; started without the flag, the exporter writes them
/// again without it at once, in either schedule (the fixed schedule
/// never writes kept days again on its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_kept_with_private_reviews_are_written_again_without_them_at_start() {
    let cal = Calendar::now();
    let sim = start_simulator(with_a_private_review(&cal), 100, 1000.0).await;
    let storage = tempfile::tempdir().unwrap();
    let rep_b = Value::from(REP_B.to_string());
    let mut config = regular_config(&sim, &cal);
    config.poller.schedule = Schedule::Settling;
    config.poller.private_reviews = PrivateReviews::Include;
    config.storage_path = Some(storage.path().to_owned());
    let exporter = start_exporter(config.clone()).await;
    wait_ready(exporter.local_addr()).await;
    exporter.shutdown().await;
    let review = kept_review(storage.path(), "4").expect("kept");
    assert_eq!(review["reviewedUserId"], rep_b, "kept whole with the flag on");

    config.poller.schedule = Schedule::Fixed;
    config.poller.private_reviews = PrivateReviews::Withhold;
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let review = kept_review(storage.path(), "4").expect("kept");
    assert_eq!((&review["reviewedUserId"], &review["visibilityType"]), (&Value::Null, &Value::from("PRIVATE")));
    exporter.shutdown().await;
}
