//! OAuth deployments: access tokens that expire or are revoked mid-cycle, a
//! refresh token that is single use and rotates (kept under
//! `--storage.path` for the next start), a refresh token used twice, the
//! company's API address from the token answer, and a bearer token file
//! rewritten by someone else. Against the simulator's token endpoint, which
//! answers as the evidence named in `src/simulator/oauth.rs` shows Gong's.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::config::Config;
use gong_exporter::gong::{Credentials, OAuthApp, REFRESH_TOKEN_FILE};
use gong_exporter::secret::Secret;
use gong_exporter::simulator::faults::{Fault, FaultRule};
use gong_exporter::simulator::{RunningSimulator, SimulatedOAuthApp, Simulator, SimulatorOptions, TOKEN_PATH};

const ENDPOINTS: [&str; 4] = ["activity_aggregate", "interaction", "scorecards", "users"];

/// The fixture's simulator with an OAuth app whose first refresh token is
/// `r0`; `page_size` records a page, `rate_limit` requests a second.
async fn simulator(cal: &Calendar, lifetime: Duration, page_size: usize, rate_limit: f64) -> RunningSimulator {
    let mut options = SimulatorOptions::new(ZONE);
    options.page_size = page_size;
    options.rate_limit = rate_limit;
    options.oauth = Some(SimulatedOAuthApp {
        client_id: "app".into(),
        client_secret: Secret::new("app-secret"),
        refresh_token: Secret::new("r0"),
        access_token_lifetime: lifetime,
    });
    let sim = Simulator::new(Arc::new(fixture(cal)), options).unwrap();
    gong_exporter::simulator::spawn(sim, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

/// An exporter refreshing its tokens with `sim`'s app from `refresh_token`,
/// keeping state in `storage`. `--gong.base-url` is not given, so requests
/// go where the token answer says; the default points at a closed port,
/// never at the real Gong.
fn oauth_config(sim: &RunningSimulator, cal: &Calendar, storage: &Path, refresh_token: &str) -> Config {
    let mut config = regular_config(sim, cal);
    config.client.base_url = "http://127.0.0.1:9".parse().unwrap();
    config.client.credentials = Credentials::OAuth(OAuthApp {
        token_url: format!("{}{TOKEN_PATH}", sim.base_url()).parse().unwrap(),
        client_id: "app".into(),
        client_secret: Secret::new("app-secret"),
        refresh_token: Secret::new(refresh_token),
        state_file: storage.join(REFRESH_TOKEN_FILE),
        follow_base_url: true,
    });
    config.storage_path = Some(storage.to_owned());
    config
}

/// The refresh tokens the token endpoint was sent, in order, with its answers.
fn refreshes(sim: &RunningSimulator) -> Vec<(String, u16)> {
    requests_to(sim, TOKEN_PATH).into_iter().map(|r| (r.query["refresh_token"].clone(), r.status)).collect()
}

fn all_polled(m: &Metrics) -> bool {
    ENDPOINTS.iter().all(|e| m.get("gong_exporter_poll_success", &[("endpoint", e)]) == Some(1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_mid_cycle_is_refreshed_once_and_the_cycle_completes() {
    let cal = Calendar::now();
    // One user a page at 15 requests a second: the cycle lasts long
    // enough for the token to be revoked while pages are still asked for.
    let sim = simulator(&cal, Duration::from_secs(3600), 1, 20.0).await;
    let storage = tempfile::tempdir().unwrap();
    let mut config = oauth_config(&sim, &cal, storage.path(), "r0");
    config.client.rate_limit = 15.0;
    // No retries: the resend with renewed credentials is not one of them
    // (it was, and with none left a renewal ended the query).
    config.client.max_retries = 0;
    let exporter = start_exporter(config).await;
    let simulator = Arc::clone(&sim.simulator);
    wait_until("the cycle under way", || simulator.requests().len() >= 6).await;
    sim.simulator.revoke_access_tokens();
    let m = wait_for_metrics(exporter.local_addr(), "every endpoint polled", all_polled).await;

    let api: Vec<_> = sim.simulator.requests().into_iter().filter(|r| r.path.starts_with("/v2/")).collect();
    let refused = api.iter().filter(|r| r.status == 401).count();
    assert!(refused >= 1, "the revoked token was refused at least once: {api:#?}");
    // Queries in flight together all saw the 401; one refresh served them.
    let tokens = refreshes(&sim);
    assert_eq!(tokens.len(), 2, "one refresh at start, one after the revocation: {tokens:?}");
    assert!(tokens.iter().all(|(_, status)| *status == 200), "{tokens:?}");
    assert_eq!(tokens[0].0, "r0");
    assert_ne!(tokens[1].0, "r0", "the second refresh used the rotated token");
    let renewed: f64 = m
        .matching("gong_exporter_api_retries_total", &[("reason", "credentials_renewed")])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(renewed, refused as f64, "each refused request was sent again");
    let failures: f64 = m.matching("gong_exporter_api_auth_failures_total", &[]).iter().map(|s| s.value).sum();
    assert_eq!(failures, 0.0, "a renewed token is no authentication failure");
    assert_eq!(m.matching("gong_user_info", &[]).len(), 5, "the fixture's users are served");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_refreshed_before_it_expires_without_a_single_401() {
    let cal = Calendar::now();
    // expires_in 4 s: refreshed after 3 s (a quarter of its life early),
    // across a cycle of several seconds.
    let sim = simulator(&cal, Duration::from_secs(4), 1, 6.0).await;
    let storage = tempfile::tempdir().unwrap();
    let mut config = oauth_config(&sim, &cal, storage.path(), "r0");
    config.client.rate_limit = 5.0;
    let exporter = start_exporter(config).await;
    wait_for_metrics(exporter.local_addr(), "every endpoint polled", all_polled).await;
    let api: Vec<_> = sim.simulator.requests().into_iter().filter(|r| r.path.starts_with("/v2/")).collect();
    let span = api.last().unwrap().at - api.first().unwrap().at;
    assert!(span > Duration::from_secs(4), "the cycle outlived one token ({span:?})");
    assert!(api.iter().all(|r| r.status != 401), "{:?}", api.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(refreshes(&sim).len() >= 2, "{:?}", refreshes(&sim));
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_uses_the_kept_refresh_token_not_the_used_one_given() {
    let cal = Calendar::now();
    let sim = simulator(&cal, Duration::from_secs(3600), 100, 1000.0).await;
    let storage = tempfile::tempdir().unwrap();
    let first = start_exporter(oauth_config(&sim, &cal, storage.path(), "r0")).await;
    wait_for_metrics(first.local_addr(), "every endpoint polled", all_polled).await;
    first.shutdown().await;

    let kept = storage.path().join(REFRESH_TOKEN_FILE);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&kept).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the kept refresh token is readable by the exporter's user alone");
    let rotated = refreshes(&sim)[0].0.clone();
    assert_eq!(rotated, "r0");

    // Started again with the same flags: r0 is used up in Gong.
    let second = start_exporter(oauth_config(&sim, &cal, storage.path(), "r0")).await;
    let m = wait_for_metrics(second.local_addr(), "every endpoint polled", all_polled).await;
    let tokens = refreshes(&sim);
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_ne!(tokens[1].0, "r0", "the restart refreshed with the kept token");
    assert_eq!(tokens[1].1, 200);
    assert!(!m.text.contains("sim-refresh") && !m.text.contains("sim-access"), "no token on /metrics");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_used_twice_is_refused_once_and_said_so_without_a_flood() {
    let cal = Calendar::now();
    let sim = simulator(&cal, Duration::from_secs(3600), 100, 1000.0).await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = start_exporter(oauth_config(&sim, &cal, a.path(), "r0")).await;
    wait_for_metrics(first.local_addr(), "every endpoint polled", all_polled).await;

    // A second exporter (or a copy of the folder, or a script) given r0 too.
    let mut config = oauth_config(&sim, &cal, b.path(), "r0");
    config.poller.poll_interval = Duration::from_millis(300);
    let second = start_exporter(config).await;
    let addr = second.local_addr();
    let m = wait_for_metrics(addr, "the refusal counted", |m| {
        m.matching("gong_exporter_api_auth_failures_total", &[("reason", "token_refresh")])
            .iter()
            .any(|s| s.value > 0.0)
    })
    .await;
    a_few_cycles().await;
    let tokens = refreshes(&sim);
    assert_eq!(tokens.len(), 2, "the refused token is not asked about again each request or cycle: {tokens:?}");
    assert_eq!((tokens[1].0.as_str(), tokens[1].1), ("r0", 400));
    for endpoint in ENDPOINTS {
        assert_ne!(m.get("gong_exporter_poll_success", &[("endpoint", endpoint)]), Some(1.0), "{endpoint}");
    }
    let (_, landing) = http_get(addr, "/").await;
    assert!(landing.contains("invalid_grant") && landing.contains("authorize the app again"), "{landing}");
    assert!(!landing.contains("app-secret"));
    // The first exporter holds the rotated token and goes on.
    assert!(all_polled(&scrape(first.local_addr()).await));
    second.shutdown().await;
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_file_rewritten_by_someone_else_is_used_without_a_restart() {
    let cal = Calendar::now();
    let sim = simulator(&cal, Duration::from_secs(3600), 100, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, sim.simulator.issue_access_token().unwrap()).unwrap();
    let mut config = regular_config(&sim, &cal);
    config.client.credentials = Credentials::BearerFile(file.clone());
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_for_metrics(addr, "every endpoint polled", all_polled).await;

    // The token expires and nobody has renewed the file yet: refused.
    sim.simulator.revoke_access_tokens();
    wait_for_metrics(addr, "the refusal", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "users")]) == Some(0.0)
    })
    .await;
    // A sidecar writes the next token the way Kubernetes does (rename).
    let next = dir.path().join("next");
    std::fs::write(&next, format!("{}\n", sim.simulator.issue_access_token().unwrap())).unwrap();
    std::fs::rename(&next, &file).unwrap();
    wait_for_metrics(addr, "every endpoint polled again", all_polled).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_that_hangs_fails_the_request_within_the_timeout() {
    let cal = Calendar::now();
    let sim = simulator(&cal, Duration::from_secs(3600), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some(TOKEN_PATH), Fault::Delay { millis: 60_000 }));
    let storage = tempfile::tempdir().unwrap();
    let mut config = oauth_config(&sim, &cal, storage.path(), "r0");
    config.client.timeout = Duration::from_millis(500);
    let exporter = start_exporter(config).await;
    // Every token request times out: the poll fails, named, and no request
    // waits for ever behind the refresh.
    let m = wait_for_metrics(exporter.local_addr(), "the failed poll", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "users")]) == Some(0.0)
    })
    .await;
    let retried: f64 =
        m.matching("gong_exporter_api_retries_total", &[("reason", "token_refresh")]).iter().map(|s| s.value).sum();
    assert!(retried > 0.0, "a token endpoint that times out is tried again");
    assert!(sim.simulator.requests().iter().all(|r| !r.path.starts_with("/v2/")), "no API request without a token");
    exporter.shutdown().await;
}

/// Where the first request to Gong's API sits in the simulator's log, and
/// where the first token answered 200 does.
fn first_api_and_token(sim: &RunningSimulator) -> (Option<usize>, Option<usize>) {
    let log = sim.simulator.requests();
    let api = log.iter().position(|r| r.path.starts_with("/v2/"));
    let token = log.iter().position(|r| r.path == TOKEN_PATH && r.status == 200);
    (api, token)
}

fn every_poll_failed(m: &Metrics) -> bool {
    ENDPOINTS.iter().all(|e| m.get("gong_exporter_poll_success", &[("endpoint", e)]) == Some(0.0))
}

/// An OAuth exporter polling every 300 ms while every token request meets
/// `fault`, once its polls have all failed and a few more cycles passed.
async fn token_endpoint_failing(fault: Fault) -> (RunningSimulator, ExporterGuard, tempfile::TempDir) {
    let cal = Calendar::now();
    let sim = simulator(&cal, Duration::from_secs(3600), 100, 1000.0).await;
    sim.simulator.add_fault(FaultRule::always(Some(TOKEN_PATH), fault));
    let storage = tempfile::tempdir().unwrap();
    let mut config = oauth_config(&sim, &cal, storage.path(), "r0");
    config.poller.poll_interval = Duration::from_millis(300);
    let exporter = start_exporter(config).await;
    wait_for_metrics(exporter.local_addr(), "every poll failed", every_poll_failed).await;
    a_few_cycles().await;
    (sim, exporter, storage)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_endpoint_down_is_asked_once_for_every_waiting_query_and_polling_recovers() {
    let (sim, exporter, _storage) =
        token_endpoint_failing(Fault::Status { status: 503, retry_after_seconds: None }).await;
    // Four queries and their retries, cycle after cycle, waited on the
    // failed refresh: one request, its failure shared until it may pass.
    assert_eq!(refreshes(&sim), [("r0".to_owned(), 503)]);
    sim.simulator.clear_faults();
    wait_for_metrics(exporter.local_addr(), "every endpoint polled after the outage", all_polled).await;
    // The refresh token the 503 did not use is sent again, and nothing
    // reached the API before a token came.
    assert_eq!(refreshes(&sim), [("r0".to_owned(), 503), ("r0".to_owned(), 200)]);
    let (api, token) = first_api_and_token(&sim);
    assert!(api > token && token.is_some(), "no API request before a token: {api:?} {token:?}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_token_answer_fails_the_polls_and_is_not_asked_again_at_once() {
    let (sim, exporter, _storage) = token_endpoint_failing(Fault::Malformed).await;
    // Asking again gets the same answer: the failure is kept (ten minutes),
    // not a request per query and cycle; the process stays up and serves.
    assert_eq!(refreshes(&sim), [("r0".to_owned(), 200)], "one request, answered 200 but unreadable");
    assert_eq!(first_api_and_token(&sim).0, None, "no API request without a token");
    let m = scrape(exporter.local_addr()).await;
    assert!(every_poll_failed(&m), "{}", m.text);
    // The landing page names the cause for the operator.
    let (_, page) = http_get(exporter.local_addr(), "/").await;
    assert!(page.contains("the token answer is not what Gong sends"), "{page}");
    exporter.shutdown().await;
}
