//! Scorecard questions by name (`GET /v2/settings/scorecards`, answered as
//! NangoHQ's recording of the real Gong shows it): once a company day, the
//! question text and score range of every question; without the settings
//! scope, absent, and nothing else changes.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::simulator::{Simulator, SimulatorOptions};

const SETTINGS: &str = "/v2/settings/scorecards";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_question_is_served_by_name_with_its_range_once_a_day() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = regular_config(&sim, &cal);
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    a_few_cycles().await;
    let m = scrape(exporter.local_addr()).await;
    let card = SCORECARD_1.to_string();
    let info = m.matching("gong_scorecard_question_info", &[("scorecard_id", &card), ("question_id", "112")]);
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0].labels["question"], "Did the rep confirm the \"decision process\"?");
    assert_eq!(info[0].labels["is_overall"], "false");
    assert_eq!(info[0].labels["question_type"], "RANGE");
    assert_eq!(info[0].labels["scorecard_name"], SCORECARD_1_NAME);
    let range = |question: &str, bound: &str| {
        m.get(&format!("gong_scorecard_question_score_{bound}"), &[("scorecard_id", &card), ("question_id", question)])
    };
    assert_eq!((range("111", "min"), range("111", "max")), (Some(1.0), Some(5.0)));
    assert_eq!(range("113", "max"), None, "a select question has no range");
    let other = SCORECARD_2.to_string();
    assert_eq!(
        m.get("gong_scorecard_question_score_max", &[("scorecard_id", &other), ("question_id", "211")]),
        Some(50.0)
    );
    assert_eq!(m.matching("gong_scorecard_question_info", &[]).len(), 4);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "scorecard_settings")]), 1.0);
    // Several cycles ran; the settings were asked once (a company day).
    assert!(requests_to(&sim, "/v2/users").len() >= 3);
    assert_eq!(requests_to(&sim, SETTINGS).len(), 1);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_settings_scope_the_questions_are_absent_and_nothing_else_changes() {
    let cal = Calendar::now();
    let mut options = SimulatorOptions::new(ZONE);
    options.rate_limit = 1000.0;
    let held = [
        "api:stats:user-actions",
        "api:stats:user-actions:detailed",
        "api:stats:interaction",
        "api:stats:scorecards",
        "api:users:read",
    ];
    options.scopes = Some(held.iter().map(|s| (*s).to_owned()).collect());
    let sim = Simulator::new(Arc::new(fixture(&cal)), options).unwrap();
    let sim = gong_exporter::simulator::spawn(sim, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let exporter = start_exporter(regular_config(&sim, &cal)).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    assert_eq!(requests_to(&sim, SETTINGS).iter().map(|r| r.status).collect::<Vec<_>>(), [401]);
    assert!(m.matching("gong_scorecard_question_info", &[]).is_empty());
    assert!(m.matching("gong_scorecard_question_score_max", &[]).is_empty());
    assert_eq!(m.get("gong_exporter_poll_success", &[("endpoint", "scorecard_settings")]), None, "no failing poll");
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
    assert!(!m.matching("gong_scorecard_question_score_answers", &[]).is_empty(), "scores per question ID still");
    let (_, landing) = http_get(exporter.local_addr(), "/").await;
    assert!(landing.contains("api:settings:scorecards:read"), "the landing page names the scope");
    exporter.shutdown().await;
}
