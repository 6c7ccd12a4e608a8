//! The coaching collector against the simulator: exact values per manager,
//! report and window; once a day; off for the day when Gong refuses it;
//! within the budget; off by flag.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::clock::Clock;
use gong_exporter::config::Config;
use gong_exporter::simulator::dataset::{FixtureDataset, WORKSPACE_ID};
use gong_exporter::simulator::faults::{Fault, FaultRule};
use gong_exporter::simulator::{RunningSimulator, Simulator, SimulatorOptions};
use jiff::SignedDuration;

/// The shared fixture with two managers: the VP (REP_A, REP_B, GONE) and
/// REP_A (IDLE), and what each did on their reports' calls.
fn data(cal: &Calendar) -> FixtureDataset {
    let mut data = fixture(cal);
    data.users[4].manager_id = Some(REP_A);
    let metrics = |list: &[(&str, u32)]| list.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect::<Vec<_>>();
    data.coaching.insert((0, 1, cal.days_ago(1)), metrics(&[("callsListenedTo", 2), ("callsWithScorecardFilled", 1)]));
    data.coaching.insert((0, 1, cal.days_ago(3)), metrics(&[("callsListenedTo", 1)]));
    data.coaching.insert((0, 2, cal.days_ago(10)), metrics(&[("callsWithFeedback", 4), ("callsBrandNew", 1)]));
    data.coaching.insert((1, 4, cal.days_ago(1)), metrics(&[("callsManagerAttended", 3)]));
    data
}

/// The fixture's simulator; each coaching answer holds the manager asked
/// alone, so that these tests see one request per manager and window (the
/// simulator's default lists the managers below too: tested at the end).
async fn simulator(data: FixtureDataset, clock: &Clock, coaching_enabled: bool) -> RunningSimulator {
    let mut options = SimulatorOptions::new(ZONE);
    options.rate_limit = 1000.0;
    options.clock = clock.clone();
    options.coaching_enabled = coaching_enabled;
    options.coaching_lists_managers_below = false;
    let sim = Simulator::new(Arc::new(data), options).unwrap();
    gong_exporter::simulator::spawn(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

fn config(sim: &RunningSimulator, clock: &Clock) -> Config {
    let mut config = config_for(sim);
    config.poller.time_zone = Some(Calendar::now().tz);
    config.poller.poll_interval = Duration::from_millis(300);
    config.poller.clock = clock.clone();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_values_per_manager_report_and_window() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let sim = simulator(data(&cal), &clock, true).await;
    let exporter = start_exporter(config(&sim, &clock)).await;
    let m = wait_for_metrics(exporter.local_addr(), "coaching", |m| {
        !m.matching("gong_coaching_calls_listened_to", &[]).is_empty()
    })
    .await;
    let (vp, a, b, idle, ws) =
        (VP.to_string(), REP_A.to_string(), REP_B.to_string(), IDLE.to_string(), WORKSPACE_ID.to_string());
    let get = |metric: &str, manager: &str, report: &str, window: &str| {
        m.get(
            &format!("gong_coaching_{metric}"),
            &[("manager_id", manager), ("report_id", report), ("window", window), ("workspace_id", &ws)],
        )
    };
    for (window, listened) in [("1d", 2.0), ("7d", 3.0), ("28d", 3.0)] {
        assert_eq!(get("calls_listened_to", &vp, &a, window), Some(listened), "{window}");
        assert_eq!(get("calls_with_scorecard_filled", &vp, &a, window), Some(1.0), "{window}");
        assert_eq!(get("calls_manager_attended", &a, &idle, window), Some(3.0), "second manager, {window}");
    }
    assert_eq!(get("calls_with_feedback", &vp, &b, "28d"), Some(4.0));
    assert_eq!(get("calls_with_feedback", &vp, &b, "7d"), None, "ten days ago is outside 7d");
    // A metric name Gong adds later is exported by the same rule.
    assert_eq!(get("calls_brand_new", &vp, &b, "28d"), Some(1.0));
    let series = m.matching("gong_coaching_calls_listened_to", &[("report_id", &a), ("window", "1d")])[0];
    assert_eq!(series.labels["manager_email"], "vp@example.com");
    assert_eq!(series.labels["report_email"], "rep.a@example.com");
    assert_eq!(m.types["gong_coaching_calls_listened_to"], "gauge");
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 1.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "coaching")]), 1.0);

    // One request per workspace x manager x window, with the windows'
    // bounds as instants in the company's zone.
    assert_eq!(requests_to(&sim, "/v2/workspaces").len(), 1);
    let coaching = requests_to(&sim, "/v2/coaching");
    assert_eq!(coaching.len(), 6, "2 managers x 3 windows");
    let ask = coaching
        .iter()
        .find(|r| r.query["manager-id"] == a && r.query["from"].starts_with(&cal.days_ago(7).to_string()))
        .unwrap();
    assert_eq!(ask.query["workspace-id"], ws);
    assert_eq!(ask.query["from"], format!("{}T00:00:00+09:00", cal.days_ago(7)));
    assert_eq!(ask.query["to"], format!("{}T00:00:00+09:00", cal.today));
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_at_start_then_once_after_each_company_midnight() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 0));
    let sim = simulator(data(&cal), &clock, true).await;
    let exporter = start_exporter(config(&sim, &clock)).await;
    wait_ready(exporter.local_addr()).await;
    a_few_cycles().await;
    assert!(requests_to(&sim, "/v2/users").len() >= 3, "several cycles ran");
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 6, "once at start, not every cycle");
    clock.shift(SignedDuration::from_hours(2));
    wait_until("12 coaching requests", || requests_to(&sim, "/v2/coaching").len() >= 12).await;
    a_few_cycles().await;
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 12, "once more after midnight");
    assert_eq!(requests_to(&sim, "/v2/workspaces").len(), 2);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_coaching_turns_the_collector_off_for_the_day() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 0));
    let sim = simulator(data(&cal), &clock, false).await;
    let exporter = start_exporter(config(&sim, &clock)).await;
    let addr = exporter.local_addr();
    let m = wait_for_metrics(addr, "the collector off", |m| {
        m.get("gong_exporter_collector_enabled", &[("collector", "coaching")]) == Some(0.0)
    })
    .await;
    // Five 404s and no data: plan-gated. The rest keeps exporting.
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 5);
    assert!(m.series.iter().all(|s| !s.name.starts_with("gong_coaching_")));
    assert_eq!(m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]), None, "neither failing nor stale");
    for endpoint in ["activity_aggregate", "interaction", "scorecards", "users"] {
        assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", endpoint)]), 1.0, "{endpoint}");
    }
    a_few_cycles().await;
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 5, "off for the rest of the day");
    let (_, page) = http_get(addr, "/").await;
    assert!(page.contains("off until tomorrow"), "the landing page says why");
    // The next company day tries again.
    clock.shift(SignedDuration::from_hours(2));
    wait_until("10 coaching requests", || requests_to(&sim, "/v2/coaching").len() >= 10).await;
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 10);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_turns_the_collector_off_after_one_request() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let sim = simulator(data(&cal), &clock, true).await;
    sim.simulator
        .add_fault(FaultRule::always(Some("/v2/coaching"), Fault::Status { status: 403, retry_after_seconds: None }));
    let exporter = start_exporter(config(&sim, &clock)).await;
    let m = wait_for_metrics(exporter.local_addr(), "the collector off", |m| {
        m.get("gong_exporter_collector_enabled", &[("collector", "coaching")]) == Some(0.0)
    })
    .await;
    assert_eq!(requests_to(&sim, "/v2/coaching").len(), 1);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "users")]), 1.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_for_one_manager_after_data_is_an_empty_answer() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let sim = simulator(data(&cal), &clock, true).await;
    // Managers go top down: the VP's three windows, then REP_A's. REP_A's
    // second request (7d, the fifth) answers 404 after data came.
    sim.simulator.add_fault(FaultRule::nth(
        Some("/v2/coaching"),
        5,
        Fault::Status { status: 404, retry_after_seconds: None },
    ));
    let exporter = start_exporter(config(&sim, &clock)).await;
    let m = wait_for_metrics(exporter.local_addr(), "coaching", |m| {
        !m.matching("gong_coaching_calls_listened_to", &[]).is_empty()
    })
    .await;
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 1.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "coaching")]), 1.0);
    assert_eq!(
        m.matching("gong_coaching_calls_manager_attended", &[("manager_id", &REP_A.to_string())]).len(),
        2,
        "two of three windows"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_for_the_day_when_it_does_not_fit_the_budget_and_off_by_flag() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let sim = simulator(data(&cal), &clock, true).await;
    let mut tight = config(&sim, &clock);
    // 10 a day: the cycle's 8 and the workspaces request leave 1, and
    // coaching needs 6.
    tight.poller.daily_limit = 100;
    tight.poller.budget_share = 0.1;
    let exporter = start_exporter(tight).await;
    let m = wait_for_metrics(exporter.local_addr(), "coaching skipped", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]) == Some(0.0)
    })
    .await;
    assert!(requests_to(&sim, "/v2/coaching").is_empty(), "nothing sent that the budget cannot pay for");
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 1.0);
    let (_, page) = http_get(exporter.local_addr(), "/").await;
    assert!(page.contains("--gong.budget-share"), "the landing page says what to do");
    exporter.shutdown().await;

    let sim = simulator(data(&cal), &clock, true).await;
    let mut off = config(&sim, &clock);
    off.poller.collectors.set(gong_exporter::collectors::CollectorName::Coaching, false);
    let exporter = start_exporter(off).await;
    wait_ready(exporter.local_addr()).await;
    let m = scrape(exporter.local_addr()).await;
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 0.0);
    assert!(requests_to(&sim, "/v2/coaching").is_empty() && requests_to(&sim, "/v2/workspaces").is_empty());
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_coaching_agrees_with_the_managers_activity_and_reviews() {
    let mut config = demo_config_three_windows(40);
    config.poller.private_reviews = gong_exporter::collectors::scorecards::PrivateReviews::Include;
    let exporter = start_exporter(config).await;
    let m = wait_for_metrics(exporter.local_addr(), "demo coaching", |m| {
        !m.matching("gong_coaching_calls_with_scorecard_filled", &[]).is_empty()
    })
    .await;
    let managers: std::collections::BTreeSet<String> = m
        .matching("gong_coaching_calls_with_scorecard_filled", &[])
        .iter()
        .map(|s| s.labels["manager_id"].clone())
        .collect();
    assert!(managers.len() >= 4, "{managers:?}");
    for manager in &managers {
        let sum = |metric: &str| -> f64 {
            m.matching(metric, &[("manager_id", manager), ("window", "28d")]).iter().map(|s| s.value).sum()
        };
        let listened = m.value("gong_activity_others_calls_listened_to", &[("user_id", manager), ("window", "28d")]);
        assert_eq!(sum("gong_coaching_calls_listened_to"), listened, "{manager}: listening shared among the reports");
        // With --scorecards.include-private (set above): Gong's coaching
        // counts every scorecard a manager filled, private ones too.
        let reviews_given: f64 = m
            .matching("gong_scorecard_reviews_given", &[("reviewer_user_id", manager), ("window", "28d")])
            .iter()
            .map(|s| s.value)
            .sum();
        assert_eq!(
            sum("gong_coaching_calls_with_scorecard_filled"),
            reviews_given,
            "{manager}: scored = manual reviews given"
        );
    }
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coaching_series_disappear_when_gong_stops_serving_coaching() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 0));
    let sim = simulator(data(&cal), &clock, true).await;
    let exporter = start_exporter(config(&sim, &clock)).await;
    let addr = exporter.local_addr();
    wait_for_metrics(addr, "coaching", |m| !m.matching("gong_coaching_calls_listened_to", &[]).is_empty()).await;
    // The account loses coaching overnight.
    sim.simulator
        .add_fault(FaultRule::always(Some("/v2/coaching"), Fault::Status { status: 404, retry_after_seconds: None }));
    clock.shift(SignedDuration::from_hours(2));
    let m = wait_for_metrics(addr, "coaching series gone", |m| {
        m.series.iter().all(|s| !s.name.starts_with("gong_coaching_"))
    })
    .await;
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 0.0);
    assert_eq!(m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]), None, "no stale success either");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_coaching_answer_keeps_the_last_good_data_and_says_where() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 0));
    let sim = simulator(data(&cal), &clock, true).await;
    let exporter = start_exporter(config(&sim, &clock)).await;
    let addr = exporter.local_addr();
    wait_for_metrics(addr, "coaching", |m| !m.matching("gong_coaching_calls_listened_to", &[]).is_empty()).await;
    // Next day Gong's coaching answers are garbled, retries included.
    sim.simulator.add_fault(FaultRule::always(Some("/v2/coaching"), Fault::Malformed));
    clock.shift(SignedDuration::from_hours(2));
    let m = wait_for_metrics(addr, "coaching failing", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]) == Some(0.0)
    })
    .await;
    let (vp, a) = (VP.to_string(), REP_A.to_string());
    assert_eq!(
        m.value("gong_coaching_calls_listened_to", &[("manager_id", &vp), ("report_id", &a), ("window", "7d")]),
        3.0,
        "yesterday's collection is still served"
    );
    assert_eq!(m.value("gong_exporter_collector_enabled", &[("collector", "coaching")]), 1.0, "a fault, not a plan");
    assert!(m.value("gong_exporter_api_retries_total", &[("endpoint", "coaching"), ("reason", "decode")]) >= 1.0);
    let (_, page) = http_get(addr, "/").await;
    assert!(
        page.contains("not the JSON expected") && page.contains("requestId"),
        "the landing page says what and where"
    );
    exporter.shutdown().await;
}

/// The settling schedule keeps each company day's coaching and builds a
/// window as the union of its days once they are all kept: on the eighth
/// morning `7d` is asked of nobody, only the new day and `28d` are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_builds_windows_from_kept_coaching_days() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let metrics = |list: &[(&str, u32)]| list.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect::<Vec<_>>();
    let mut data = data(&cal);
    // Days of the week to come, which the clock walks through.
    let later = |n: i64| cal.today.checked_add(jiff::Span::new().days(n)).unwrap();
    data.coaching.insert((0, 1, later(3)), metrics(&[("callsListenedTo", 2)]));
    data.coaching.insert((0, 1, later(6)), metrics(&[("callsListenedTo", 5)]));
    let sim = simulator(data, &clock, true).await;
    let storage = tempfile::tempdir().unwrap();
    let mut config = config(&sim, &clock);
    config.poller.schedule = gong_exporter::poller::Schedule::Settling;
    config.storage_path = Some(storage.path().to_owned());
    // Each morning after yesterday settled: one cycle a day.
    clock.set(cal.at(cal.today, 13, 0));
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    let listened = |m: &Metrics, window: &str| {
        m.get(
            "gong_coaching_calls_listened_to",
            &[("manager_id", &VP.to_string()), ("report_id", &REP_A.to_string()), ("window", window)],
        )
    };
    wait_for_metrics(addr, "coaching", |m| listened(m, "1d") == Some(2.0)).await;
    let first_day = requests_to(&sim, "/v2/coaching").len();
    assert_eq!(first_day, 6, "2 managers x (yesterday + 7d + 28d asked whole)");
    let mut before = first_day;
    for day in 1..=7 {
        before = requests_to(&sim, "/v2/coaching").len();
        clock.set(cal.at(later(day), 13, 0));
        wait_until("the day's coaching", || requests_to(&sim, "/v2/coaching").len() > before).await;
        a_few_cycles().await;
    }
    let m = wait_for_metrics(addr, "7d from kept days", |m| listened(m, "7d") == Some(7.0)).await;
    assert_eq!(listened(&m, "1d"), Some(5.0));
    // The eighth morning: yesterday and 28d, no 7d request.
    let eighth: Vec<_> = requests_to(&sim, "/v2/coaching").into_iter().skip(before).collect();
    assert_eq!(eighth.len(), 4, "{:?}", eighth.iter().map(|r| &r.query["from"]).collect::<Vec<_>>());
    assert!(eighth.iter().all(|r| !r.query["from"].starts_with(&later(0).to_string())), "7d is built, not asked");
    exporter.shutdown().await;
}

/// Yesterday's stats come first: with the day's re-polls reserved, coaching
/// that does not fit is left out, and today's plan on the landing page says
/// so (including on the first cycle of a company day).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settling_leaves_coaching_out_after_the_reserved_repolls_and_the_plan_says_so() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 0, 10));
    let sim = simulator(data(&cal), &clock, true).await;
    let mut config = config(&sim, &clock);
    config.poller.schedule = gong_exporter::poller::Schedule::Settling;
    // 30 a day: the first cycle's 6 and the workspaces request leave 23,
    // the 5 planned re-polls of 5 requests take 25 of them.
    config.poller.daily_limit = 30;
    config.poller.budget_share = 1.0;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    wait_for_metrics(addr, "coaching skipped", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]) == Some(0.0)
    })
    .await;
    assert!(requests_to(&sim, "/v2/coaching").is_empty(), "the stats' re-polls are not spent on coaching");
    let (_, page) = http_get(addr, "/").await;
    assert!(page.contains("Left out: coaching: 6 requests"), "{page}");
    exporter.shutdown().await;
}

/// Gong's reference calls a coaching answer "a list, in which each item
/// specifies one manager's coaching data", and a public script reads
/// several managers out of the answer for one `manager-id`. Whichever way
/// Gong answers, the series are the same; when an answer holds a manager
/// below, that manager's own request is not sent. The generated company
/// has one manager per 8 users, all under the VP; 200 users here,
/// `GONG_COACHING_USERS=1000` for the measurement in BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_an_answer_already_holds_are_not_asked_again_and_the_series_agree() {
    use gong_exporter::simulator::dataset::GeneratedDataset;
    let cal = Calendar::now();
    let clock = Clock::system();
    let mut served = Vec::new();
    for lists_managers_below in [false, true] {
        let mut options = SimulatorOptions::new(ZONE);
        options.rate_limit = 1000.0;
        options.coaching_lists_managers_below = lists_managers_below;
        let users = std::env::var("GONG_COACHING_USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
        let company = Arc::new(GeneratedDataset::new(users, cal.tz.clone()));
        let sim = Simulator::new(company, options).unwrap();
        let sim = gong_exporter::simulator::spawn(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let mut config = config(&sim, &clock);
        config.poller.poll_interval = Duration::from_secs(3600);
        let exporter = start_exporter(config).await;
        let m = wait_for_metrics(exporter.local_addr(), "coaching", |m| {
            m.get("gong_exporter_poll_success", &[("endpoint", "coaching")]) == Some(1.0)
                && !m.matching("gong_coaching_calls_listened_to", &[]).is_empty()
        })
        .await;
        let mut series: Vec<String> =
            m.text.lines().filter(|l| l.starts_with("gong_coaching_")).map(str::to_owned).collect();
        series.sort();
        let asked = requests_to(&sim, "/v2/coaching").len();
        eprintln!(
            "{users} users, managers listed below the one asked: {lists_managers_below}: {asked} coaching requests"
        );
        served.push((asked, series));
        exporter.shutdown().await;
    }
    let [(alone, one_each), (below, with_below)] = <[_; 2]>::try_from(served).unwrap();
    assert!(one_each.len() > 300, "{} coaching series", one_each.len());
    let only_one: Vec<_> = one_each.iter().filter(|s| !with_below.contains(s)).take(3).collect();
    let only_below: Vec<_> = with_below.iter().filter(|s| !one_each.contains(s)).take(3).collect();
    assert!(
        only_one.is_empty() && only_below.is_empty(),
        "the same series whichever way Gong answers: {only_one:#?} {only_below:#?}"
    );
    assert_eq!(one_each.len(), with_below.len());
    // Every active manager's three windows when each answer holds its
    // manager alone; the VP's three alone otherwise.
    assert!(alone > 50, "{alone}");
    assert_eq!(below, 3, "only the VP's requests: the answers hold every manager below");
}
