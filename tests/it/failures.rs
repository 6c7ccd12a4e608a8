//! Bad input from Gong: wrong credentials, malformed bodies, a failure on a
//! later page. The process stays up, the endpoint keeps its last good data,
//! nothing half-fetched is published.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::gong::Credentials;
use gong_exporter::secret::Secret;
use gong_exporter::simulator::dataset::field_index;
use gong_exporter::simulator::faults::{Fault, FaultRule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_every_endpoint_once_and_keep_the_process_healthy() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.client.credentials = Credentials::Basic { access_key: "demo".into(), secret: Secret::new("wrong-secret") };
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 0.0, "{endpoint}");
        assert_eq!(m.get("gong_exporter_last_success_timestamp_seconds", &[("endpoint", endpoint)]), None);
    }
    assert!(m.matching("gong_exporter_api_retries_total", &[]).iter().all(|s| s.value == 0.0), "401 is never retried");
    assert!(m.matching("gong_activity_calls_as_host", &[]).is_empty());
    // Probe + 3 aggregate + 3 interaction + scorecards + users, each once.
    let requests = sim.simulator.requests();
    assert_eq!(requests.len(), 9, "{requests:#?}");
    assert!(requests.iter().all(|r| r.status == 401));
    assert_eq!(m.value("gong_exporter_api_requests_total", &[("endpoint", "users"), ("code", "401")]), 1.0);
    assert_eq!(m.value("gong_exporter_api_requests_total", &[("endpoint", "users"), ("code", "429")]), 0.0);
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("GONG_ACCESS_KEY / GONG_ACCESS_KEY_SECRET"), "{landing}");
    assert!(!landing.contains("wrong-secret"));
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_marks_the_endpoint_failed_and_keeps_its_last_good_data() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.poller.poll_interval = Duration::from_millis(300);
    config.client.max_retries = 1;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let a = REP_A.to_string();
    let good = scrape(addr).await;
    let good_success = good.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", "interaction")]);

    sim.simulator.add_fault(FaultRule::always(Some("/v2/stats/interaction"), Fault::Malformed));
    let m = wait_for_metrics(addr, "interaction to fail", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "interaction")]) == Some(0.0)
    })
    .await;
    assert_eq!(m.value("gong_interaction_talk_ratio", &[("user_id", &a), ("window", "1d")]), 0.42, "last good data");
    assert_eq!(m.value("gong_interaction_stat", &[("user_id", &a), ("stat", "Filler Words")]), 3.5);
    assert_eq!(
        m.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", "interaction")]),
        good_success,
        "last success unchanged"
    );
    for endpoint in ["activity_aggregate", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint} unaffected");
    }
    assert!(m.value("gong_exporter_api_retries_total", &[("endpoint", "interaction"), ("reason", "decode")]) >= 1.0);
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("answer on interaction is not the JSON expected [requestId sim"), "{landing}");

    // JSON of the wrong shape is a decode failure too, not a crash.
    sim.simulator.clear_faults();
    sim.simulator.add_fault(FaultRule::always(Some("/v2/users"), Fault::WrongShape));
    let m = wait_for_metrics(addr, "users to fail", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "users")]) == Some(0.0)
            && m.get("gong_exporter_poll_success", &[("endpoint", "interaction")]) == Some(1.0)
    })
    .await;
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5, "users keep their last good data");
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_on_page_two_publishes_nothing_and_changes_show_after_recovery() {
    let cal = Calendar::now();
    // Two users per page: every aggregate window has two pages.
    let sim = start_simulator(fixture(&cal), 2, 1000.0).await;
    let mut config = config_for(&sim);
    config.poller.poll_interval = Duration::from_millis(300);
    config.client.max_retries = 1;
    config.poller.time_zone = Some(cal.tz.clone());
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let (a, b) = (REP_A.to_string(), REP_B.to_string());
    let before = scrape(addr).await;
    assert_eq!(before.value("gong_activity_calls_as_host", &[("user_id", &a), ("window", "1d")]), 3.0);
    assert_eq!(before.matching("gong_activity_calls_as_host", &[("user_id", &b)]).len(), 3);

    // Gong's data changes: rep A hosted 30 calls yesterday, rep B left.
    let mut changed = fixture(&cal);
    changed.activity.get_mut(&(1, cal.days_ago(1))).unwrap().counts[field_index("callsAsHost").unwrap()] = 30;
    changed.users.remove(2);
    changed.activity.retain(|(user, _), _| *user != 2);
    // Rep B's removal shifts the indexes of later users.
    let shifted: Vec<_> = changed.activity.drain().map(|((u, d), v)| ((if u > 2 { u - 1 } else { u }, d), v)).collect();
    changed.activity.extend(shifted);
    // From the second aggregate request on, Gong fails: the 1d window's
    // first page (with rep A's new value) arrives, its second never does.
    sim.simulator.add_fault(FaultRule {
        path: Some("/v2/stats/activity/aggregate".into()),
        from_request: 2,
        times: None,
        fault: Fault::Status { status: 500, retry_after_seconds: None },
    });
    sim.simulator.set_dataset(Arc::new(changed));

    let m = wait_for_metrics(addr, "users to drop rep B while aggregate fails", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "activity_aggregate")]) == Some(0.0)
            && m.matching("gong_user_info", &[("user_id", &b)]).is_empty()
    })
    .await;
    // Page 1 of the new data arrived, but the window failed on page 2:
    // nothing of it is published.
    assert_eq!(m.value("gong_activity_calls_as_host", &[("user_id", &a), ("window", "1d")]), 3.0);
    assert_eq!(m.matching("gong_activity_calls_as_host", &[("user_id", &b)]).len(), 3);

    sim.simulator.clear_faults();
    let m = wait_for_metrics(addr, "aggregate to recover", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "activity_aggregate")]) == Some(1.0)
    })
    .await;
    assert_eq!(m.value("gong_activity_calls_as_host", &[("user_id", &a), ("window", "1d")]), 30.0);
    assert!(
        m.matching("gong_activity_calls_as_host", &[("user_id", &b)]).is_empty(),
        "a user gone from Gong is gone from /metrics"
    );
    exporter.shutdown().await;
}
