//! A broken or hostile Gong: paging that never ends, bodies too large or
//! endless, redirects, a Retry-After as a date, a spent budget. Each query
//! is bounded, fails naming why, and the rest of the exporter goes on.

use std::time::Duration;

use crate::common::*;
use gong_exporter::config::Config;
use gong_exporter::simulator::RunningSimulator;
use gong_exporter::simulator::faults::{Fault, FaultRule};

const USERS: &str = "/v2/users";
const INTERACTION: &str = "/v2/stats/interaction";

/// An exporter polling `sim` every 300 ms, zone known, coaching off.
fn quick_config(sim: &RunningSimulator, cal: &Calendar) -> Config {
    let mut config = regular_config(sim, cal);
    config.poller.poll_interval = Duration::from_millis(300);
    config
}

/// Waits until `endpoint` has failed `cycles` cycles; returns the landing
/// page, which shows its last error.
async fn failed_cycles(addr: std::net::SocketAddr, endpoint: &str, cycles: f64) -> String {
    wait_for_metrics(addr, &format!("{endpoint} failed"), |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", endpoint)]) == Some(0.0)
    })
    .await;
    // More cycles: the count of requests must stay bounded through them.
    tokio::time::sleep(Duration::from_millis((cycles * 300.0) as u64)).await;
    http_get(addr, "/").await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_ends_stops_at_the_pages_the_total_announces() {
    for alternate in [false, true] {
        let cal = Calendar::now();
        let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
        sim.simulator.add_fault(FaultRule::always(Some(USERS), Fault::EndlessCursor { alternate }));
        let exporter = start_exporter(quick_config(&sim, &cal)).await;
        let addr = exporter.local_addr();
        wait_ready(addr).await;
        let landing = failed_cycles(addr, "users", 2.0).await;
        assert!(landing.contains("paging on users does not end"), "{landing}");
        let cycles = requests_to(&sim, INTERACTION).len() as f64 / 3.0;
        let users = requests_to(&sim, USERS).len() as f64;
        exporter.shutdown().await;
        // The fixture's few users fill one page: 2 x 1 + 10 pages at most
        // per cycle for new cursors; A, B, A ends with the third page.
        let per_cycle = if alternate { 3.0 } else { 12.0 };
        assert!(
            users <= (cycles + 1.0) * per_cycle,
            "alternate {alternate}: {users} users requests in {cycles} cycles"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_cycle_is_cut_off_by_the_daily_budget_as_requests_are_sent() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = quick_config(&sim, &cal);
    // One full cycle is 3 windows x 2 stats endpoints + scorecards + users
    // = 8 requests; the budget allows 5 a day.
    config.poller.daily_limit = 5;
    config.poller.budget_share = 1.0;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    a_few_cycles().await;
    let landing = http_get(addr, "/").await.1;
    let m = scrape(addr).await;
    exporter.shutdown().await;
    assert_eq!(sim.simulator.requests().len(), 5, "{:#?}", sim.simulator.requests());
    assert_eq!(m.value("gong_exporter_api_requests_today", &[]), 5.0);
    assert!(landing.contains("share of today's Gong requests is spent"), "{landing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_size_cap_fail_their_request_without_reading_on() {
    for fault in [Fault::Oversized { bytes: 3 << 20 }, Fault::Endless] {
        let cal = Calendar::now();
        let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
        sim.simulator.add_fault(FaultRule::always(Some(USERS), fault.clone()));
        let mut config = quick_config(&sim, &cal);
        config.client.max_response_bytes = 1 << 20;
        // An endless body must fail at the cap, long before the timeout.
        config.client.timeout = Duration::from_secs(120);
        let exporter = start_exporter(config).await;
        let addr = exporter.local_addr();
        wait_ready(addr).await;
        let m = wait_for_metrics(addr, "users failed", |m| {
            m.get("gong_exporter_poll_success", &[("endpoint", "users")]) == Some(0.0)
        })
        .await;
        assert!(
            m.value("gong_exporter_api_requests_total", &[("endpoint", "users"), ("code", "too_large")]) >= 1.0,
            "{fault:?}: {}",
            m.text
        );
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "interaction")]), 1.0, "the rest goes on");
        let landing = http_get(addr, "/").await.1;
        assert!(landing.contains("--gong.max-response-size (1048576 bytes)"), "{fault:?}: {landing}");
        exporter.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_the_error_names_its_location() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // Followed, this POST would come back as a GET of the users list,
    // which parses as an empty interaction page.
    let location = format!("{}{USERS}", sim.base_url());
    sim.simulator
        .add_fault(FaultRule::always(Some(INTERACTION), Fault::Redirect { status: 302, location: location.clone() }));
    let exporter = start_exporter(quick_config(&sim, &cal)).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    let landing = http_get(addr, "/").await.1;
    exporter.shutdown().await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "interaction")]), 0.0);
    assert!(landing.contains(&format!("redirect (302) to '{location}'")), "{landing}");
    let users_gets = requests_to(&sim, USERS).len();
    assert_eq!(users_gets, 1, "only the users query itself: no redirected GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::nth(Some(USERS), 1, Fault::RetryAfterDate { status: 429, seconds: 3 }));
    let mut config = quick_config(&sim, &cal);
    config.poller.poll_interval = Duration::from_secs(3600);
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    exporter.shutdown().await;
    let users = requests_to(&sim, USERS);
    assert_eq!(users.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 200]);
    // An HTTP-date has whole seconds: 3 s from a moment within the current
    // second is at least 2 s.
    let waited = users[1].at - users[0].at;
    assert!(waited >= Duration::from_secs(2), "retried {waited:?} after a Retry-After date 3 s ahead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_repeated_on_the_next_page_is_published_once_and_counted() {
    let cal = Calendar::now();
    // Two records a page: every page after the first repeats the last
    // record of the page before.
    let sim = start_simulator(fixture(&cal), 2, 1000.0).await;
    for path in [USERS, "/v2/stats/activity/aggregate"] {
        sim.simulator.add_fault(FaultRule::always(Some(path), Fault::RepeatRecords { records: 1 }));
    }
    let exporter = start_exporter(quick_config(&sim, &cal)).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    exporter.shutdown().await;
    let user_ids: Vec<&str> = m.matching("gong_user_info", &[]).iter().map(|s| s.labels["user_id"].as_str()).collect();
    let mut distinct = user_ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(user_ids.len(), distinct.len(), "{user_ids:?}");
    assert_eq!(user_ids.len(), 5, "every user once");
    let hosts = m.matching("gong_activity_calls_as_host", &[("window", "28d")]);
    let mut ids: Vec<&str> = hosts.iter().map(|s| s.labels["user_id"].as_str()).collect();
    let listed = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), listed, "one series per user and window");
    assert!(m.value("gong_exporter_records_skipped_total", &[("endpoint", "users"), ("reason", "duplicate")]) >= 1.0);
    assert!(
        m.value("gong_exporter_records_skipped_total", &[("endpoint", "activity_aggregate"), ("reason", "duplicate")])
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_label_skips_its_record_and_keeps_the_exposition_small() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    for path in [USERS, "/v2/stats/activity/aggregate", INTERACTION] {
        sim.simulator.add_fault(FaultRule::always(Some(path), Fault::LongLabel { bytes: 1 << 20 }));
    }
    let exporter = start_exporter(quick_config(&sim, &cal)).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    exporter.shutdown().await;
    assert!(m.text.len() < 200_000, "exposition of {} bytes", m.text.len());
    assert_eq!(m.matching("gong_user_info", &[]).len(), 4, "five users, one with a 1 MiB email");
    for endpoint in ["users", "activity_aggregate", "interaction"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
        assert!(
            m.value("gong_exporter_records_skipped_total", &[("endpoint", endpoint), ("reason", "label_too_long")])
                >= 1.0,
            "{endpoint}"
        );
    }
}

/// One rule on every endpoint with numbers: a digit string is that number;
/// a negative number or a non-numeric text leaves its record out, counted,
/// and the rest of the page is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_as_strings_or_negative_follow_one_rule_on_every_endpoint() {
    use gong_exporter::simulator::faults::NumberForm;
    let endpoints = [
        ("/v2/stats/activity/aggregate", "activity_aggregate"),
        (INTERACTION, "interaction"),
        ("/v2/stats/activity/scorecards", "scorecards"),
    ];
    let baseline = {
        let cal = Calendar::now();
        let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
        let exporter = start_exporter(quick_config(&sim, &cal)).await;
        wait_ready(exporter.local_addr()).await;
        let m = scrape(exporter.local_addr()).await;
        exporter.shutdown().await;
        m
    };
    for form in [NumberForm::DigitString, NumberForm::Negative, NumberForm::Text] {
        let cal = Calendar::now();
        let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
        for (path, _) in endpoints {
            sim.simulator.add_fault(FaultRule::always(Some(path), Fault::Numbers { records: 1, form }));
        }
        let exporter = start_exporter(quick_config(&sim, &cal)).await;
        wait_ready(exporter.local_addr()).await;
        let m = scrape(exporter.local_addr()).await;
        exporter.shutdown().await;
        for (_, endpoint) in endpoints {
            assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{form:?} {endpoint}");
            let skipped =
                m.value("gong_exporter_records_skipped_total", &[("endpoint", endpoint), ("reason", "invalid_number")]);
            let expected = if form == NumberForm::DigitString { 0.0 } else { 1.0 };
            // Once per window for the stats endpoints; scorecards once.
            assert!((skipped > 0.0) == (expected > 0.0), "{form:?} {endpoint}: {skipped} skipped");
        }
        let series = |m: &Metrics, prefix: &str| m.series.iter().filter(|s| s.name.starts_with(prefix)).count();
        for prefix in ["gong_activity_", "gong_interaction_", "gong_scorecard_"] {
            if form == NumberForm::DigitString {
                // The same series with the same values: "12" is read as 12.
                let values = |m: &Metrics| -> Vec<String> {
                    let mut v: Vec<String> = m
                        .series
                        .iter()
                        .filter(|s| s.name.starts_with(prefix))
                        .map(|s| format!("{}{:?} {}", s.name, s.labels, s.value))
                        .collect();
                    v.sort();
                    v
                };
                assert_eq!(values(&m), values(&baseline), "{prefix}: digit strings read as numbers");
            } else {
                assert!(series(&m, prefix) < series(&baseline, prefix), "{form:?} {prefix}: the record is left out");
            }
        }
    }
}

/// JSON of another shape would come back the same on a retry: one request
/// per cycle, not one plus `--gong.max-retries`, and the error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_the_wrong_shape_is_not_asked_again() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some(USERS), Fault::WrongShape));
    let mut config = regular_config(&sim, &cal);
    config.client.max_retries = 3;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    let landing = http_get(addr, "/").await.1;
    exporter.shutdown().await;
    assert_eq!(requests_to(&sim, USERS).len(), 1, "one cycle, one request");
    assert_eq!(m.value("gong_exporter_api_retries_total", &[("endpoint", "users"), ("reason", "decode")]), 0.0);
    assert!(landing.contains("answer on users is JSON but not in the shape its reference documents"), "{landing}");
}
