//! Rate limits, retries, faults and outages, against the simulator.

use std::time::{Duration, Instant};

use crate::common::*;
use gong_exporter::simulator::RecordedRequest;
use gong_exporter::simulator::faults::{Fault, FaultRule};

fn status(status: u16, retry_after_seconds: Option<u64>) -> Fault {
    Fault::Status { status, retry_after_seconds }
}

fn on(requests: &[RecordedRequest], path: &str) -> Vec<RecordedRequest> {
    requests.iter().filter(|r| r.path == path).cloned().collect()
}

const AGGREGATE: &str = "/v2/stats/activity/aggregate";
const USERS: &str = "/v2/users";
const ENDPOINTS: [&str; 4] = ["activity_aggregate", "interaction", "scorecards", "users"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_waits_retry_after_everywhere_and_completes() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule {
        path: Some(USERS.into()),
        from_request: 1,
        times: Some(2),
        fault: status(429, Some(1)),
    });
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.client.max_retries = 5;
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;

    assert_eq!(m.matching("gong_user_info", &[]).len(), 5, "complete after the storm");
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 1.0);
    assert_eq!(m.value("gong_exporter_api_retries_total", &[("endpoint", "users"), ("reason", "rate_limited")]), 2.0);
    assert_eq!(m.value("gong_exporter_api_requests_total", &[("endpoint", "users"), ("code", "429")]), 2.0);
    let requests = sim.simulator.requests();
    let users = on(&requests, USERS);
    assert_eq!(users.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 429, 200]);
    for pair in users.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(waited >= Duration::from_millis(950), "waited only {waited:?} after Retry-After: 1");
    }
    // Gong's limit is per company: after a 429 no endpoint sends anything
    // until Retry-After has passed.
    let first_429 = users[0].at;
    for r in &requests {
        let since = r.at.saturating_duration_since(first_429);
        assert!(
            r.at <= first_429 + Duration::from_millis(50) || since >= Duration::from_millis(950),
            "{} sent {since:?} after a 429 with Retry-After: 1",
            r.path
        );
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_on_page_two_and_a_garbled_page_are_retried_and_data_is_complete() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 2, 1000.0).await;
    sim.simulator.add_fault(FaultRule::nth(Some(AGGREGATE), 2, status(500, None)));
    sim.simulator.add_fault(FaultRule::nth(Some(USERS), 2, Fault::Malformed));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
    let retries =
        |endpoint, reason| m.value("gong_exporter_api_retries_total", &[("endpoint", endpoint), ("reason", reason)]);
    assert_eq!(retries("activity_aggregate", "server_error"), 1.0);
    assert_eq!(retries("users", "decode"), 1.0);
    let a = REP_A.to_string();
    for (window, expected) in [("1d", 3.0), ("7d", 7.0), ("28d", 17.0)] {
        assert_eq!(m.value("gong_activity_calls_as_host", &[("user_id", &a), ("window", window)]), expected);
    }
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_hangs_times_out_and_is_retried() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::nth(Some(USERS), 1, Fault::Delay { millis: 30_000 }));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.client.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    assert!(started.elapsed() < Duration::from_secs(5), "the cycle did not wait for the hung request");
    let m = scrape(exporter.local_addr()).await;
    assert_eq!(m.value("gong_exporter_api_retries_total", &[("endpoint", "users"), ("reason", "timeout")]), 1.0);
    assert_eq!(m.value("gong_exporter_api_requests_total", &[("endpoint", "users"), ("code", "timeout")]), 1.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 1.0);
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_after_a_good_cycle_keeps_serving_last_good_data_then_recovers() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(300);
    config.client.max_retries = 1;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let good = scrape(addr).await;

    sim.simulator.add_fault(FaultRule::always(None, status(503, None)));
    let m = wait_for_metrics(addr, "every endpoint to fail", |m| {
        ENDPOINTS.iter().all(|e| m.get("gong_exporter_poll_success", &[("endpoint", e)]) == Some(0.0))
    })
    .await;
    let a = REP_A.to_string();
    assert_eq!(m.value("gong_activity_calls_as_host", &[("user_id", &a), ("window", "28d")]), 17.0);
    assert_eq!(m.value("gong_interaction_talk_ratio", &[("user_id", &a), ("window", "1d")]), 0.42);
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5);
    assert_eq!(m.matching("gong_scorecard_reviews", &[]).len(), good.matching("gong_scorecard_reviews", &[]).len());
    for endpoint in ENDPOINTS {
        let last = |m: &Metrics| m.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", endpoint)]);
        assert_eq!(last(&m), last(&good), "{endpoint}: last success unchanged during the outage");
    }
    assert!(m.value("gong_exporter_api_retries_total", &[("endpoint", "users"), ("reason", "server_error")]) >= 1.0);
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    assert_eq!(http_get(addr, "/-/ready").await.0, 200);

    sim.simulator.clear_faults();
    let outage_over = Instant::now();
    wait_for_metrics(addr, "recovery", |m| {
        ENDPOINTS.iter().all(|e| m.get("gong_exporter_poll_success", &[("endpoint", e)]) == Some(1.0))
    })
    .await;
    let recovery = outage_over.elapsed();
    eprintln!("recovered {recovery:?} after the outage ended (poll interval 300ms)");
    assert!(recovery < Duration::from_secs(3), "{recovery:?}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_daily_quota_abandons_the_cycle_at_once_and_stops_sending() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(None, status(429, Some(7200))));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(300);
    let started = Instant::now();
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    assert!(started.elapsed() < Duration::from_secs(2), "abandoned quickly, not after hours");
    let m = scrape(addr).await;
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 0.0);
        assert!(m.value("gong_exporter_cycles_abandoned_total", &[("endpoint", endpoint)]) >= 1.0, "{endpoint}");
    }
    // A few 429s in flight together, then nothing: every later request
    // would land inside Gong's Retry-After.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = sim.simulator.requests().len();
    assert!(sent <= 8, "{sent} requests after the quota was spent");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.simulator.requests().len(), sent, "later cycles send nothing until Retry-After");
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("daily quota"), "{landing}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_without_scope_for_one_endpoint_still_exports_the_others() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some("/v2/stats/activity/scorecards"), status(403, None)));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "scorecards")]), 0.0);
    for endpoint in ["activity_aggregate", "interaction", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0);
    }
    assert_eq!(on(&sim.simulator.requests(), "/v2/stats/activity/scorecards").len(), 1, "403 is not retried");
    let (_, landing) = http_get(exporter.local_addr(), "/").await;
    assert!(landing.contains("api:stats:scorecards"), "names the missing scope");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_longer_than_the_interval_skips_the_next_one_and_never_overlaps() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some(USERS), Fault::Delay { millis: 700 }));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(250);
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    // Each 700 ms cycle skips the two 250 ms ticks that fall inside it.
    wait_for_metrics(addr, "two long cycles", |m| {
        m.get("gong_exporter_cycles_skipped_total", &[]).unwrap_or(0.0) >= 4.0
    })
    .await;
    let users = on(&sim.simulator.requests(), USERS);
    assert!(users.len() >= 2);
    for pair in users.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(650),
            "cycles overlapped: {:?}",
            pair[1].at - pair[0].at
        );
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_budget_spaces_cycles_beyond_the_interval() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(200);
    // 20 requests a day for this exporter; a cycle costs 8 (without the
    // once-a-day coaching collector, tested on its own).
    config.poller.daily_limit = 100;
    config.poller.budget_share = 0.2;
    config.poller.coaching = false;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = wait_for_metrics(addr, "the next cycle to be planned", |m| {
        m.get("gong_exporter_next_cycle_timestamp_seconds", &[]).is_some()
    })
    .await;
    assert_eq!(m.value("gong_exporter_api_requests_today", &[]), 8.0);
    assert_eq!(m.value("gong_exporter_api_requests_daily_budget", &[]), 20.0);
    let now = jiff::Timestamp::now().as_second() as f64;
    let next = m.value("gong_exporter_next_cycle_timestamp_seconds", &[]);
    let midnight = cal.at(cal.today.tomorrow().unwrap(), 0, 0).as_second() as f64;
    // 12 left = one more cycle before midnight, spread over what is left of
    // today (the cycle after midnight always runs).
    assert!(next > now + 5.0, "next cycle {:.0}s away, not the 200ms interval", next - now);
    assert!(next <= midnight + 121.0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.simulator.requests().len(), 8, "no cycle ran early");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stay_under_gongs_three_per_second_without_a_single_429() {
    let cal = Calendar::now();
    // One record per page makes ~25 requests; Gong's real limit.
    let sim = start_simulator(fixture(&cal), 1, 3.0).await;
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.client.rate_limit = 3.0;
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let requests = sim.simulator.requests();
    assert!(requests.len() >= 20, "{}", requests.len());
    assert!(requests.iter().all(|r| r.status != 429), "the client limiter kept under the limit");
    let max_in_a_second = requests
        .iter()
        .map(|first| requests.iter().filter(|r| r.at >= first.at && r.at - first.at < Duration::from_secs(1)).count())
        .max()
        .unwrap();
    let span = requests.last().unwrap().at - requests[0].at;
    let rate = (requests.len() - 1) as f64 / span.as_secs_f64();
    eprintln!("{} requests in {span:?}: {rate:.2}/s average, at most {max_in_a_second} in any second", requests.len());
    assert!(max_in_a_second <= 3, "{max_in_a_second} requests within one second");
    assert!(rate > 2.7, "the limiter should not leave much of the budget unused: {rate:.2}/s");
    exporter.shutdown().await;
}
