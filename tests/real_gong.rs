//! What the real Gong sends, as public code that talks to it recorded it:
//! a missing scope as 401 naming the permission, 404 as "no data" only in
//! Gong's error shape, coaching metric names, records without their ID, the
//! time zone from whichever stats answer the key can read, and one pause
//! for every endpoint after a 429.

mod common;

use std::time::Duration;

use common::*;
use gong_exporter::simulator::faults::{Fault, FaultRule};

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
    let mut config = config_for(&sim);
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.coaching = false;
    config.client.rate_limit = 2.0;
    config.client.max_retries = 3;
    let exporter = gong_exporter::start(config).await.unwrap();
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
    let mut config = config_for(&sim);
    config.client.base_url = format!("{}/v2", sim.base_url()).parse().unwrap();
    config.poller.time_zone = Some(cal.tz.clone());
    config.poller.coaching = false;
    let exporter = gong_exporter::start(config).await.unwrap();
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
