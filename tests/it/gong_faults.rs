//! A Gong that refuses, throttles, fails or answers oddly, against the
//! simulator: wrong credentials and missing scopes, 429s and their
//! Retry-After, server errors, timeouts and outages, the daily budget, and
//! bodies broken or hostile (endless paging, oversized, redirects, records
//! repeated, without their ID or with numbers as text), as the real Gong and
//! public code that talks to it recorded them. The process stays up, each
//! query is bounded and fails naming why, the endpoint keeps its last good
//! data, nothing half-fetched is published, and the rest goes on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use gong_exporter::config::Config;
use gong_exporter::gong::Credentials;
use gong_exporter::secret::Secret;
use gong_exporter::simulator::dataset::field_index;
use gong_exporter::simulator::faults::{Fault, FaultRule};
use gong_exporter::simulator::{RecordedRequest, RunningSimulator, Simulator, SimulatorOptions};
use gong_exporter::windows::{company_date, start_of_day, zone_behind_all};

// Shared setup.

const USERS: &str = "/v2/users";
const AGGREGATE: &str = "/v2/stats/activity/aggregate";
const INTERACTION: &str = "/v2/stats/interaction";
const SCORECARDS: &str = "/v2/stats/activity/scorecards";
const ENDPOINTS: [&str; 4] = ["activity_aggregate", "interaction", "scorecards", "users"];

/// The fixture's simulator, `page_size` records a page, unthrottled.
async fn simulator(cal: &Calendar, page_size: usize) -> RunningSimulator {
    start_simulator(fixture(cal), page_size, 1000.0).await
}

/// An exporter on `config`, and its first scrape once it is ready.
async fn ready(config: Config) -> (ExporterGuard, Metrics) {
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    (exporter, m)
}

fn status(status: u16, retry_after_seconds: Option<u64>) -> Fault {
    Fault::Status { status, retry_after_seconds }
}

fn on(requests: &[RecordedRequest], path: &str) -> Vec<RecordedRequest> {
    requests.iter().filter(|r| r.path == path).cloned().collect()
}

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

// Refused: credentials, scopes, a wrong URL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_every_endpoint_once_and_keep_the_process_healthy() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    let mut config = config_for(&sim);
    config.client.credentials = Credentials::Basic { access_key: "demo".into(), secret: Secret::new("wrong-secret") };
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = scrape(addr).await;
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 0.0, "{endpoint}");
        assert_eq!(m.get("gong_exporter_last_success_timestamp_seconds", &[("endpoint", endpoint)]), None);
    }
    assert!(m.matching("gong_exporter_api_retries_total", &[]).iter().all(|s| s.value == 0.0), "401 is never retried");
    assert!(m.matching("gong_activity_calls_as_host", &[]).is_empty());
    // Probe + 3 aggregate + 3 interaction + scorecards + users + the
    // scorecard questions, each once.
    let requests = sim.simulator.requests();
    assert_eq!(requests.len(), 10, "{requests:#?}");
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
async fn wrong_credentials_are_counted_as_credentials_not_scope() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    let mut config = config_for(&sim);
    config.client.credentials = Credentials::Basic { access_key: "demo".into(), secret: Secret::new("wrong") };
    config.poller.time_zone = Some(cal.tz.clone());
    let (_exporter, m) = ready(config).await;
    let failures =
        |reason| m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "users"), ("reason", reason)]);
    assert_eq!((failures("credentials"), failures("scope")), (1.0, 0.0));
}

/// A 403 whose body names no scope is its own reason, `forbidden`: the
/// evidence conflicts (PostHog's Gong source reads a 403 as a missing
/// scope, another integration saw one on a revoked token, and Gong refuses
/// requests from outside an OAuth integration's trusted IPs). The message
/// lists the three; the other endpoints keep exporting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_naming_no_scope_is_its_own_reason_and_the_others_still_export() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    sim.simulator.add_fault(FaultRule::always(Some(SCORECARDS), status(403, None)));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    let (exporter, m) = ready(config).await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "scorecards")]), 0.0);
    for endpoint in ["activity_aggregate", "interaction", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0);
    }
    let failures =
        |reason| m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "scorecards"), ("reason", reason)]);
    assert_eq!((failures("forbidden"), failures("scope"), failures("credentials")), (1.0, 0.0, 0.0));
    assert_eq!(on(&sim.simulator.requests(), SCORECARDS).len(), 1, "403 is not retried");
    let (_, landing) = http_get(exporter.local_addr(), "/").await;
    assert!(landing.contains("without naming a scope"), "{landing}");
    assert!(landing.contains("trusted IPs") && landing.contains("api:stats:scorecards"), "{landing}");
    exporter.shutdown().await;
}

/// A simulator whose key holds every scope but `missing`, answering those
/// endpoints as Gong does: 401 "You don't have permission to use ...".
async fn start_without_scope(cal: &Calendar, missing: &str) -> RunningSimulator {
    let mut data = fixture(cal);
    // Coaching data for the VP (index 0) about REP_A (index 1).
    data.coaching.insert((0, 1, cal.days_ago(1)), vec![("callsListenedTo".into(), 2)]);
    // The fixture answers interaction only for exact periods: one for the
    // zone probe, 28 days ending today in UTC-12 (never after the company's
    // today), as the real Gong would for any company with calls.
    let probe_end = company_date(jiff::Timestamp::now(), &zone_behind_all());
    let probe_start = probe_end.checked_sub(jiff::Span::new().days(28)).unwrap();
    data.interaction.insert((1, probe_start, probe_end), vec![("Talk Ratio".into(), 0.4)]);
    let mut options = SimulatorOptions::new(ZONE);
    options.rate_limit = 1000.0;
    options.scopes = Some(ALL_SCOPES.iter().filter(|s| **s != missing).map(|s| (*s).to_owned()).collect());
    let sim = Simulator::new(Arc::new(data), options).unwrap();
    gong_exporter::simulator::spawn(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

const ALL_SCOPES: [&str; 8] = [
    "api:settings:scorecards:read",
    "api:stats:user-actions",
    "api:stats:user-actions:detailed",
    "api:stats:interaction",
    "api:stats:scorecards",
    "api:users:read",
    "api:workspaces:read",
    "api:coaching:read",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_aggregate_scope_learns_the_zone_from_interaction_and_fails_only_that_endpoint() {
    let cal = Calendar::now();
    let sim = start_without_scope(&cal, "api:stats:user-actions").await;
    // The zone is learned, not configured.
    let exporter = start_exporter(config_for(&sim)).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = wait_for_metrics(addr, "coaching", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]) == Some(1.0)
    })
    .await;

    // Gong's 401 naming the permission, as recorded from the real API.
    let refused = requests_to(&sim, AGGREGATE);
    assert!(!refused.is_empty() && refused.iter().all(|r| r.status == 401), "{refused:#?}");
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "activity_aggregate")]), 0.0);
    let failures = |reason| {
        m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "activity_aggregate"), ("reason", reason)])
    };
    assert!(failures("scope") >= 1.0, "a scope error, not bad credentials");
    assert_eq!(failures("credentials"), 0.0);
    assert_eq!(
        m.value("gong_exporter_api_retries_total", &[("endpoint", "activity_aggregate"), ("reason", "rate_limited")]),
        0.0
    );

    // The first cycle is dated in the company's zone (Tokyo), learned from
    // the interaction answer.
    let midnight = start_of_day(cal.today, &cal.tz).as_second() as f64;
    assert_eq!(m.value("gong_exporter_window_end_timestamp_seconds", &[("window", "1d")]), midnight);
    let rep_a = REP_A.to_string();
    assert_eq!(m.value("gong_interaction_talk_ratio", &[("user_id", &rep_a), ("window", "1d")]), 0.42);
    for endpoint in ["interaction", "scorecards", "users", "coaching"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
    // Counters and coaching started, which needs the zone.
    assert!(m.get("gong_exporter_counted_until_timestamp_seconds", &[("counters", "scorecards")]).is_some());
    assert!(!m.matching("gong_coaching_calls_listened_to", &[]).is_empty());
    let (_, landing) = http_get(addr, "/").await;
    assert!(
        landing.contains("Asia/Tokyo, learned from Gong&#39;s interaction answer")
            || landing.contains("Asia/Tokyo, learned from Gong's interaction answer"),
        "{landing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_coaching_scope_turns_the_collector_off_without_an_alert() {
    let cal = Calendar::now();
    let sim = start_without_scope(&cal, "api:coaching:read").await;
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    // Several cycles, however slow the machine: the users list is asked
    // once per cycle.
    wait_until("three cycles", || requests_to(&sim, USERS).len() >= 3).await;
    let m = scrape(addr).await;

    // One refused request, then off for the day: no request every cycle.
    let coaching = requests_to(&sim, "/v2/coaching");
    assert_eq!(coaching.iter().map(|r| r.status).collect::<Vec<_>>(), [401]);
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 0.0);
    // No poll series that GongExporterPollFailing or AuthFailing could join.
    assert_eq!(m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]), None);
    assert_eq!(m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "coaching"), ("reason", "scope")]), 1.0);
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_without_gongs_error_object_is_an_error_naming_the_url_not_empty_data() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    // A base URL ending in /v2 (one widely used connector's) sends every
    // request to /v2/v2/..., which the server answers with a bare 404.
    let mut config = regular_config(&sim, &cal);
    config.client.base_url = format!("{}/v2", sim.base_url()).parse().unwrap();
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;

    let m = scrape(addr).await;
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 0.0, "{endpoint}");
    }
    assert!(m.matching("gong_user_info", &[]).is_empty(), "no empty data published as success");
    assert!(sim.simulator.requests().iter().all(|r| r.path.starts_with("/v2/v2/")));
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("/v2/v2/users") && landing.contains("without /v2"), "{landing}");
}

// 429s and Retry-After, the client's own rate limit.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_storm_waits_retry_after_everywhere_and_completes() {
    let _alone = timed().await;
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    sim.simulator.add_fault(FaultRule {
        path: Some(USERS.into()),
        from_request: 1,
        times: Some(2),
        fault: status(429, Some(1)),
    });
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.client.max_retries = 5;
    let (exporter, m) = ready(config).await;

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
async fn a_429_pauses_every_endpoint_including_requests_waiting_for_a_slot() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    // The first request is throttled while the other endpoints queue for
    // the limiter's next slots (2 requests/s, as measured from outside).
    sim.simulator.add_fault(FaultRule::nth(Some(AGGREGATE), 1, status(429, Some(2))));
    let mut config = regular_config(&sim, &cal);
    config.client.rate_limit = 2.0;
    config.client.max_retries = 3;
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;

    let requests = sim.simulator.requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 1, "{requests:#?}");
    let at = throttled[0].at;
    let after: Vec<_> = requests.iter().filter(|r| r.at > at).collect();
    assert!(after.len() >= 3, "other endpoints were still waiting to send: {requests:#?}");
    for r in after {
        let since = r.at - at;
        // The pause starts when the 429 reaches the client, a moment after
        // the simulator logged the request.
        assert!(since >= Duration::from_millis(1950), "{} sent {since:?} after a 429 with Retry-After: 2", r.path);
    }
    let m = scrape(exporter.local_addr()).await;
    for endpoint in ENDPOINTS {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_given_as_an_http_date_is_honoured() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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

/// `Retry-After: 0` on every answer once brought retries back to back (a
/// hostile trial counted 23 in seconds): each retry still waits the
/// backoff step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_zero_still_waits_the_backoff_between_retries() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    sim.simulator.add_fault(FaultRule::always(Some(USERS), status(429, Some(0))));
    let mut config = quick_config(&sim, &cal);
    config.poller.poll_interval = Duration::from_secs(3600);
    config.client.max_retries = 3;
    config.client.min_backoff = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while requests_to(&sim, USERS).len() < 4 {
        assert!(std::time::Instant::now() < deadline, "the users request was not retried three times");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for a fifth request, which the cycle must not send.
    tokio::time::sleep(Duration::from_secs(1)).await;
    exporter.shutdown().await;
    let users = requests_to(&sim, USERS);
    assert_eq!(users.iter().map(|r| r.status).collect::<Vec<_>>(), [429; 4], "one try and three retries");
    for pair in users.windows(2) {
        let waited = pair[1].at - pair[0].at;
        assert!(waited >= Duration::from_millis(300), "retried {waited:?} after a Retry-After of 0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_capped_and_never_kills_the_poller() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    // 2^64 - 1 seconds: once an Instant overflow that panicked the poller.
    sim.simulator.add_fault(FaultRule::nth(Some(USERS), 1, status(429, Some(u64::MAX))));
    let mut config = regular_config(&sim, &cal);
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    // The poller lives on: every later cycle gives up at once while Gong's
    // (capped) pause lasts, and says so.
    let m = wait_for_metrics(addr, "a second abandoned cycle", |m| {
        m.get("gong_exporter_cycles_abandoned_total", &[("endpoint", "users")]).is_some_and(|n| n >= 2.0)
    })
    .await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 0.0);
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    // The poller beat as it ran those cycles (0 had it never started).
    let beat = m.value("gong_exporter_poller_heartbeat_timestamp_seconds", &[]);
    assert!(beat >= jiff::Timestamp::now().as_second() as f64 - 60.0, "last beat {beat}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_daily_quota_abandons_the_cycle_at_once_and_stops_sending() {
    let _alone = timed().await;
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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
async fn requests_stay_under_gongs_three_per_second_without_a_single_429() {
    let _alone = timed().await;
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

// Server errors, timeouts, outages, slow cycles.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_on_page_two_and_a_garbled_page_are_retried_and_data_is_complete() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 2).await;
    sim.simulator.add_fault(FaultRule::nth(Some(AGGREGATE), 2, status(500, None)));
    sim.simulator.add_fault(FaultRule::nth(Some(USERS), 2, Fault::Malformed));
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    let (exporter, m) = ready(config).await;
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
async fn failure_on_page_two_publishes_nothing_and_changes_show_after_recovery() {
    let cal = Calendar::now();
    // Two users per page: every aggregate window has two pages.
    let sim = simulator(&cal, 2).await;
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
        path: Some(AGGREGATE.into()),
        from_request: 2,
        times: None,
        fault: status(500, None),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_hangs_times_out_and_is_retried() {
    let _alone = timed().await;
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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
    let _alone = timed().await;
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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
    // A cycle that began before the fault went in may publish its success
    // after `good` was scraped; once every endpoint has failed since, as in
    // `m`, the last success stays what it is for as long as the outage lasts.
    a_few_cycles().await;
    let later = scrape(addr).await;
    for endpoint in ENDPOINTS {
        let last = |m: &Metrics| m.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", endpoint)]);
        assert!(last(&m) >= last(&good), "{endpoint}");
        assert_eq!(last(&later), last(&m), "{endpoint}: last success unchanged during the outage");
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
async fn a_cycle_longer_than_the_interval_skips_the_next_one_and_never_overlaps() {
    let _alone = timed().await;
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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

// The daily budget.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_budget_spaces_cycles_beyond_the_interval() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.poll_interval = Duration::from_millis(200);
    // 20 requests a day for this exporter; a cycle costs 8, the first 9
    // (the scorecard questions, once a day; without the once-a-day
    // coaching collector, tested on its own).
    config.poller.daily_limit = 100;
    config.poller.budget_share = 0.2;
    config.poller.collectors.set(gong_exporter::collectors::CollectorName::Coaching, false);
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let m = wait_for_metrics(addr, "the next cycle to be planned", |m| {
        m.get("gong_exporter_next_cycle_timestamp_seconds", &[]).is_some()
    })
    .await;
    assert_eq!(m.value("gong_exporter_api_requests_today", &[]), 9.0);
    assert_eq!(m.value("gong_exporter_api_requests_daily_budget", &[]), 20.0);
    let now = jiff::Timestamp::now().as_second() as f64;
    let next = m.value("gong_exporter_next_cycle_timestamp_seconds", &[]);
    let midnight = cal.at(cal.today.tomorrow().unwrap(), 0, 0).as_second() as f64;
    // 11 left = one more cycle before midnight, spread over what is left of
    // today (the cycle after midnight always runs).
    assert!(next > now + 5.0, "next cycle {:.0}s away, not the 200ms interval", next - now);
    assert!(next <= midnight + 121.0);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sim.simulator.requests().len(), 9, "no cycle ran early");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_cycle_is_cut_off_by_the_daily_budget_as_requests_are_sent() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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

// Broken and hostile answers.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_marks_the_endpoint_failed_and_keeps_its_last_good_data() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    let mut config = config_for(&sim);
    config.poller.poll_interval = Duration::from_millis(300);
    config.client.max_retries = 1;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    let a = REP_A.to_string();
    let good = scrape(addr).await;
    let good_success = good.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", "interaction")]);

    sim.simulator.add_fault(FaultRule::always(Some(INTERACTION), Fault::Malformed));
    let m = wait_for_metrics(addr, "interaction to fail", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "interaction")]) == Some(0.0)
    })
    .await;
    assert_eq!(m.value("gong_interaction_talk_ratio", &[("user_id", &a), ("window", "1d")]), 0.42, "last good data");
    assert_eq!(m.value("gong_interaction_stat", &[("user_id", &a), ("stat", "Filler Words")]), 3.5);
    // A cycle that began before the fault went in may publish its success
    // after `good` was scraped; from `m` on, interaction fails every cycle.
    let last_success = m.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", "interaction")]);
    assert!(last_success >= good_success);
    a_few_cycles().await;
    assert_eq!(
        scrape(addr).await.value("gong_exporter_last_success_timestamp_seconds", &[("endpoint", "interaction")]),
        last_success,
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
    sim.simulator.add_fault(FaultRule::always(Some(USERS), Fault::WrongShape));
    let m = wait_for_metrics(addr, "users to fail", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "users")]) == Some(0.0)
            && m.get("gong_exporter_poll_success", &[("endpoint", "interaction")]) == Some(1.0)
    })
    .await;
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5, "users keep their last good data");
    assert_eq!(http_get(addr, "/-/healthy").await.0, 200);
    exporter.shutdown().await;
}

/// JSON of another shape would come back the same on a retry: one request
/// per cycle, not one plus `--gong.max-retries`, and the error says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_of_the_wrong_shape_is_not_asked_again() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_ends_stops_at_the_pages_the_total_announces() {
    for alternate in [false, true] {
        let cal = Calendar::now();
        let sim = simulator(&cal, 100).await;
        sim.simulator
            .add_fault(FaultRule::always(Some(USERS), Fault::EndlessCursor { alternate, without_total: false }));
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

/// A cursor that never ends on answers that announce no total stops at the
/// pages the company's users can fill (2 x 1 + 10 for the fixture's few),
/// not at the day's share of the quota (2,500 requests before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_ends_without_a_total_stops_at_the_pages_the_users_fill() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    let exporter = start_exporter(quick_config(&sim, &cal)).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;
    // Users are known from the first cycle on.
    let endless = Fault::EndlessCursor { alternate: false, without_total: true };
    sim.simulator.add_fault(FaultRule::always(Some(INTERACTION), endless));
    let (before, cycles_before) = (requests_to(&sim, INTERACTION).len(), requests_to(&sim, AGGREGATE).len());
    let landing = failed_cycles(addr, "interaction", 3.0).await;
    let (asked, cycles) = (
        requests_to(&sim, INTERACTION).len() - before,
        (requests_to(&sim, AGGREGATE).len() - cycles_before) as f64 / 3.0,
    );
    exporter.shutdown().await;
    assert!(landing.contains("paging on interaction does not end"), "{landing}");
    assert!(landing.contains("announced no total"), "{landing}");
    // Three windows a cycle, 12 pages each at most; a cycle may be under way.
    assert!(asked as f64 <= (cycles + 1.0) * 3.0 * 12.0, "{asked} interaction requests in {cycles} cycles");
    assert!(asked >= 12, "at least one query ran to its bound: {asked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_size_cap_fail_their_request_without_reading_on() {
    for fault in [Fault::Oversized { bytes: 3 << 20 }, Fault::Endless] {
        let cal = Calendar::now();
        let sim = simulator(&cal, 100).await;
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
    let sim = simulator(&cal, 100).await;
    // Followed, this POST would come back as a GET of the users list,
    // which parses as an empty interaction page.
    let location = format!("{}{USERS}", sim.base_url());
    sim.simulator
        .add_fault(FaultRule::always(Some(INTERACTION), Fault::Redirect { status: 302, location: location.clone() }));
    // One cycle (hourly): a second one would ask for the users again.
    let exporter = start_exporter(regular_config(&sim, &cal)).await;
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
async fn a_record_repeated_on_the_next_page_is_published_once_and_counted() {
    let cal = Calendar::now();
    // Two records a page: every page after the first repeats the last
    // record of the page before.
    let sim = simulator(&cal, 2).await;
    for path in [USERS, AGGREGATE] {
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
async fn a_record_without_its_id_is_skipped_counted_and_the_rest_published() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    sim.simulator.add_fault(FaultRule::always(Some(USERS), Fault::NullIds { records: 1 }));
    sim.simulator.add_fault(FaultRule::always(Some(SCORECARDS), Fault::NullIds { records: 1 }));
    let config = regular_config(&sim, &cal);
    let (_exporter, m) = ready(config).await;

    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 1.0);
    assert_eq!(m.matching("gong_user_info", &[]).len(), 4, "five users, one without its id");
    assert_eq!(m.value("gong_exporter_records_skipped_total", &[("endpoint", "users"), ("reason", "missing_id")]), 1.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "scorecards")]), 1.0);
    let reviews: f64 = m.matching("gong_scorecard_reviews", &[("window", "28d")]).iter().map(|s| s.value).sum();
    assert_eq!(reviews, 2.0, "three reviews, one without its scorecard id");
    assert_eq!(
        m.value("gong_exporter_records_skipped_total", &[("endpoint", "scorecards"), ("reason", "missing_id")]),
        1.0
    );
}

/// When most of an answer cannot be used, publishing the rest would make
/// most users vanish while `poll_success` said 1, so no alert could fire:
/// the poll fails instead, saying why, and the last good data stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_mostly_skipped_fails_its_poll_and_keeps_the_last_good_data() {
    // Every user without an ID; every user with a 1 MiB email address.
    let every_record = [
        (Fault::NullIds { records: 1_000 }, "missing_id"),
        (Fault::LongLabel { bytes: 1 << 20, records: 1_000 }, "label_too_long"),
    ];
    for (fault, reason) in every_record {
        let cal = Calendar::now();
        let sim = simulator(&cal, 100).await;
        let exporter = start_exporter(quick_config(&sim, &cal)).await;
        let addr = exporter.local_addr();
        wait_ready(addr).await;
        assert_eq!(scrape(addr).await.matching("gong_user_info", &[]).len(), 5);
        sim.simulator.add_fault(FaultRule::always(Some(USERS), fault));
        let landing = failed_cycles(addr, "users", 1.0).await;
        let m = scrape(addr).await;
        exporter.shutdown().await;
        let said = format!("has 5 of 5 records this exporter cannot use (mostly: {reason})");
        assert!(landing.contains(&said), "{landing}");
        assert_eq!(m.matching("gong_user_info", &[]).len(), 5, "{reason}: the last good list stays");
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 0.0, "{reason}");
        assert!(m.value("gong_exporter_records_skipped_total", &[("endpoint", "users"), ("reason", reason)]) >= 5.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_label_skips_its_record_and_keeps_the_exposition_small() {
    let cal = Calendar::now();
    let sim = simulator(&cal, 100).await;
    for path in [USERS, AGGREGATE, INTERACTION] {
        sim.simulator.add_fault(FaultRule::always(Some(path), Fault::LongLabel { bytes: 1 << 20, records: 1 }));
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
    let endpoints = [(AGGREGATE, "activity_aggregate"), (INTERACTION, "interaction"), (SCORECARDS, "scorecards")];
    let baseline = {
        let cal = Calendar::now();
        let sim = simulator(&cal, 100).await;
        let (exporter, m) = ready(quick_config(&sim, &cal)).await;
        exporter.shutdown().await;
        m
    };
    for form in [NumberForm::DigitString, NumberForm::Negative, NumberForm::Text] {
        let cal = Calendar::now();
        let sim = simulator(&cal, 100).await;
        for (path, _) in endpoints {
            sim.simulator.add_fault(FaultRule::always(Some(path), Fault::Numbers { records: 1, form }));
        }
        let (exporter, m) = ready(quick_config(&sim, &cal)).await;
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

// What the real Gong sends otherwise.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_every_coaching_metric_gong_names() {
    let exporter = start_exporter(demo_config_three_windows(40)).await;
    let m = wait_for_metrics(exporter.local_addr(), "coaching series", |m| {
        m.series.iter().any(|s| s.name.starts_with("gong_coaching_"))
    })
    .await;
    for metric in [
        "calls_listened_to",
        "calls_manager_attended",
        "calls_manager_commented_on",
        "calls_with_feedback",
        "calls_with_scorecard_filled",
    ] {
        let series = m.matching(&format!("gong_coaching_{metric}"), &[("window", "28d")]);
        assert!(series.iter().any(|s| s.value > 0.0), "gong_coaching_{metric} has data");
    }
    let invented =
        ["gong_coaching_calls_scored", "gong_coaching_calls_gave_feedback", "gong_coaching_calls_commented_on"];
    assert!(m.series.iter().all(|s| !invented.contains(&s.name.as_str())));
    exporter.shutdown().await;
}

/// While Gong names no zone (no activity to answer with), the exporter
/// probes once at start; later cycles read the zone from their own answers
/// instead of asking for the same first page again each cycle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_zone_is_probed_once_not_every_cycle() {
    let cal = Calendar::now();
    let mut quiet = fixture(&cal);
    quiet.activity.clear();
    quiet.interaction.clear();
    let sim = start_simulator(quiet, 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    // One users request per cycle.
    wait_until("four cycles", || requests_to(&sim, USERS).len() >= 4).await;
    exporter.shutdown().await;
    let cycles = requests_to(&sim, USERS).len();
    let aggregate = requests_to(&sim, AGGREGATE).len();
    // Each cycle asks each of its 3 windows once (Gong: 404, nothing to
    // page); the probe is the one more.
    assert!(aggregate <= 3 * cycles + 1, "{aggregate} aggregate requests in {cycles} cycles");
}
