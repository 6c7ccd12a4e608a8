//! What the real Gong sends, as public code that talks to it recorded it:
//! a missing scope as 401 naming the permission, 404 as "no data" only in
//! Gong's error shape, coaching metric names, records without their ID, the
//! time zone from whichever stats answer the key can read, and one pause
//! for every endpoint after a 429.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::gong::Credentials;
use gong_exporter::secret::Secret;
use gong_exporter::simulator::faults::{Fault, FaultRule};
use gong_exporter::simulator::{RunningSimulator, Simulator, SimulatorOptions};
use gong_exporter::windows::{company_date, start_of_day, zone_behind_all};

const AGGREGATE: &str = "/v2/stats/activity/aggregate";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_pauses_every_endpoint_including_requests_waiting_for_a_slot() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // The first request is throttled while the other endpoints queue for
    // the limiter's next slots (2 requests/s, as measured from outside).
    sim.simulator.add_fault(FaultRule::nth(
        Some(AGGREGATE),
        1,
        Fault::Status { status: 429, retry_after_seconds: Some(2) },
    ));
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
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_without_gongs_error_object_is_an_error_naming_the_url_not_empty_data() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // A base URL ending in /v2 (one widely used connector's) sends every
    // request to /v2/v2/..., which the server answers with a bare 404.
    let mut config = regular_config(&sim, &cal);
    config.client.base_url = format!("{}/v2", sim.base_url()).parse().unwrap();
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_ready(addr).await;

    let m = scrape(addr).await;
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 0.0, "{endpoint}");
    }
    assert!(m.matching("gong_user_info", &[]).is_empty(), "no empty data published as success");
    assert!(sim.simulator.requests().iter().all(|r| r.path.starts_with("/v2/v2/")));
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("/v2/v2/users") && landing.contains("without /v2"), "{landing}");
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

const ALL_SCOPES: [&str; 7] = [
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
    wait_until("three cycles", || requests_to(&sim, "/v2/users").len() >= 3).await;
    let m = scrape(addr).await;

    // One refused request, then off for the day: no request every cycle.
    let coaching = requests_to(&sim, "/v2/coaching");
    assert_eq!(coaching.iter().map(|r| r.status).collect::<Vec<_>>(), [401]);
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 0.0);
    // No poll series that GongExporterPollFailing or AuthFailing could join.
    assert_eq!(m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]), None);
    assert_eq!(m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "coaching"), ("reason", "scope")]), 1.0);
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_counted_as_credentials_not_scope() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let mut config = config_for(&sim);
    config.client.credentials = Credentials::Basic { access_key: "demo".into(), secret: Secret::new("wrong") };
    config.poller.time_zone = Some(cal.tz.clone());
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    let failures =
        |reason| m.value("gong_exporter_api_auth_failures_total", &[("endpoint", "users"), ("reason", reason)]);
    assert_eq!((failures("credentials"), failures("scope")), (1.0, 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_without_its_id_is_skipped_counted_and_the_rest_published() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some("/v2/users"), Fault::NullIds { records: 1 }));
    sim.simulator.add_fault(FaultRule::always(Some("/v2/stats/activity/scorecards"), Fault::NullIds { records: 1 }));
    let config = regular_config(&sim, &cal);
    let exporter = start_exporter(config).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_every_coaching_metric_gong_names() {
    let exporter = start_exporter(demo_config(40)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_is_capped_and_never_kills_the_poller() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // 2^64 - 1 seconds: once an Instant overflow that panicked the poller.
    sim.simulator.add_fault(FaultRule::nth(
        Some("/v2/users"),
        1,
        Fault::Status { status: 429, retry_after_seconds: Some(u64::MAX) },
    ));
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
    wait_until("four cycles", || requests_to(&sim, "/v2/users").len() >= 4).await;
    exporter.shutdown().await;
    let cycles = requests_to(&sim, "/v2/users").len();
    let aggregate = requests_to(&sim, "/v2/stats/activity/aggregate").len();
    // Each cycle asks each of its 3 windows once (Gong: 404, nothing to
    // page); the probe is the one more.
    assert!(aggregate <= 3 * cycles + 1, "{aggregate} aggregate requests in {cycles} cycles");
}
