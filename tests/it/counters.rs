//! Cumulative counters against the simulator: each completed company day is
//! added exactly once, across restarts, midnights and downtime; the state
//! file survives restarts and a corrupt one is moved aside.
//!
//! The exporter and the simulator share a [`Clock`] the test moves, so a
//! company midnight passes in milliseconds.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use gong_exporter::clock::Clock;
use gong_exporter::config::Config;
use gong_exporter::simulator::RunningSimulator;
use gong_exporter::simulator::dataset::{DayActivity, FixtureDataset, field_index};
use gong_exporter::simulator::faults::{Fault, FaultRule};
use jiff::SignedDuration;
use jiff::civil::Date;

const CALLS_AS_HOST: &str = "gong_activity_calls_as_host_cumulative_total";
const REVIEWS: &str = "gong_scorecard_reviews_cumulative_total";

fn hosted(n: u32) -> DayActivity {
    let mut a = DayActivity::default();
    a.counts[field_index("callsAsHost").unwrap()] = n;
    a
}

/// The shared fixture plus REP_A hosting 2 calls today and 5 tomorrow.
fn data(cal: &Calendar) -> FixtureDataset {
    let mut data = fixture(cal);
    data.activity.insert((1, cal.today), hosted(2));
    data.activity.insert((1, cal.today.tomorrow().unwrap()), hosted(5));
    data
}

fn counting_config(sim: &RunningSimulator, clock: &Clock, storage: Option<&Path>, start: Option<Date>) -> Config {
    let mut config = config_for(sim);
    config.poller.time_zone = Some(Calendar::now().tz);
    config.poller.poll_interval = Duration::from_millis(300);
    config.poller.clock = clock.clone();
    config.storage_path = storage.map(Path::to_owned);
    config.counters_start_date = start;
    config
}

fn day_by_day_requests(sim: &RunningSimulator) -> Vec<(String, String)> {
    sim.simulator
        .requests()
        .iter()
        .filter(|r| r.path == "/v2/stats/activity/day-by-day" && r.status != 429)
        .map(|r| {
            let f = &r.body.as_ref().unwrap()["filter"];
            (f["fromDate"].as_str().unwrap().to_owned(), f["toDate"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn hosted_total(addr: std::net::SocketAddr, expected: f64) -> Metrics {
    wait_for_metrics(addr, &format!("{CALLS_AS_HOST} = {expected}"), |m| {
        m.get(CALLS_AS_HOST, &[("user_id", &REP_A.to_string())]) == Some(expected)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_day_counts_once_across_restarts_and_midnights() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 0));
    let sim = start_simulator_with_clock(data(&cal), 2, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    let start = cal.days_ago(4);
    let config = || counting_config(&sim, &clock, Some(storage.path()), Some(start));
    let (a, b, vp) = (REP_A.to_string(), REP_B.to_string(), VP.to_string());

    // Days 4..1 ago: 4 + 3 calls hosted (day 10 ago is before the start).
    let exporter = start_exporter(config()).await;
    let m = hosted_total(exporter.local_addr(), 7.0).await;
    assert_eq!(m.types["gong_activity_calls_as_host_cumulative"], "counter");
    assert_eq!(m.value("gong_activity_calls_gave_feedback_cumulative_total", &[("user_id", &b)]), 5.0);
    assert_eq!(m.value("gong_activity_calls_brand_new_cumulative_total", &[("user_id", &b)]), 7.0);
    assert_eq!(m.value("gong_activity_calls_comments_given_cumulative_total", &[("user_id", &vp)]), 6.0);
    let series = m.matching(CALLS_AS_HOST, &[("user_id", &a)])[0];
    assert_eq!(series.labels.len(), 2, "user_id and user_email only: {:?}", series.labels);
    let s1 = SCORECARD_1.to_string();
    assert_eq!(m.value(REVIEWS, &[("scorecard_id", &s1), ("review_method", "MANUAL")]), 1.0);
    assert_eq!(m.value(REVIEWS, &[("scorecard_id", &s1), ("review_method", "AUTOMATIC")]), 1.0);
    assert!(m.matching(REVIEWS, &[("scorecard_id", &SCORECARD_2.to_string())]).is_empty(), "reviewed before start");
    // One query for the four days (two users per page: several pages).
    let (from, today) = (start.to_string(), cal.today.to_string());
    let first_run = day_by_day_requests(&sim);
    assert!(!first_run.is_empty() && first_run.iter().all(|r| *r == (from.clone(), today.clone())), "{first_run:?}");
    a_few_cycles().await;
    assert_eq!(day_by_day_requests(&sim), first_run, "nothing is due until the next midnight");
    assert_eq!(scrape(exporter.local_addr()).await.value(CALLS_AS_HOST, &[("user_id", &a)]), 7.0);
    exporter.shutdown().await;

    // Restart the same day: the same totals at once, no request for them.
    let exporter = start_exporter(config()).await;
    wait_ready(exporter.local_addr()).await;
    assert_eq!(scrape(exporter.local_addr()).await.value(CALLS_AS_HOST, &[("user_id", &a)]), 7.0);
    assert_eq!(day_by_day_requests(&sim), first_run);

    // Midnight passes while running: today's 2 calls are added once.
    clock.shift(SignedDuration::from_hours(2));
    hosted_total(exporter.local_addr(), 9.0).await;
    a_few_cycles().await;
    assert_eq!(scrape(exporter.local_addr()).await.value(CALLS_AS_HOST, &[("user_id", &a)]), 9.0);
    let tomorrow = cal.today.tomorrow().unwrap().to_string();
    let requests = day_by_day_requests(&sim);
    assert_eq!(requests[first_run.len()..].iter().filter(|r| **r == (today.clone(), tomorrow.clone())).count(), 1);
    exporter.shutdown().await;

    // Midnight passes while down: tomorrow's 5 calls are added on start.
    clock.shift(SignedDuration::from_hours(24));
    let exporter = start_exporter(config()).await;
    hosted_total(exporter.local_addr(), 14.0).await;
    a_few_cycles().await;
    assert_eq!(scrape(exporter.local_addr()).await.value(CALLS_AS_HOST, &[("user_id", &a)]), 14.0);
    exporter.shutdown().await;

    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(storage.path().join("counters.json")).unwrap()).unwrap();
    assert_eq!(state["activity"][&a]["fields"]["callsAsHost"], 14);
    assert_eq!(state["start_date"], start.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_missed_while_down_are_fetched_on_start() {
    let cal = Calendar::now();
    let clock = Clock::system();
    // First run eight days ago, counting from twelve days ago: day 10 ago.
    clock.set(cal.at(cal.days_ago(8), 12, 0));
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    let config = counting_config(&sim, &clock, Some(storage.path()), Some(cal.days_ago(12)));
    let exporter = start_exporter(config.clone()).await;
    hosted_total(exporter.local_addr(), 10.0).await;
    exporter.shutdown().await;

    // Down for a week: days 8..1 ago come in on start, in one query.
    clock.set(cal.at(cal.today, 9, 0));
    let exporter = start_exporter(config).await;
    let m = hosted_total(exporter.local_addr(), 17.0).await;
    let requests = day_by_day_requests(&sim);
    assert_eq!(
        requests,
        [
            (cal.days_ago(12).to_string(), cal.days_ago(8).to_string()),
            (cal.days_ago(8).to_string(), cal.today.to_string())
        ]
    );
    let until = m.value("gong_exporter_counted_until_timestamp_seconds", &[("counters", "activity")]);
    assert_eq!(until as i64, gong_exporter::windows::start_of_day(cal.today, &cal.tz).as_second());
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_storage_counting_starts_with_the_first_completed_day() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 30));
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    let exporter = start_exporter(counting_config(&sim, &clock, None, None)).await;
    wait_ready(exporter.local_addr()).await;
    a_few_cycles().await;
    let m = scrape(exporter.local_addr()).await;
    assert!(m.matching(CALLS_AS_HOST, &[]).is_empty(), "history is not counted without stored state");
    assert!(day_by_day_requests(&sim).is_empty(), "nothing to fetch before the first midnight");
    // Today completes: only its 2 calls count.
    clock.shift(SignedDuration::from_hours(1));
    hosted_total(exporter.local_addr(), 2.0).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_is_moved_aside_and_counting_restarts() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 12, 0));
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    std::fs::write(storage.path().join("counters.json"), b"{\"format\": 1, \"activity\": {\"12\": tru").unwrap();
    let config = counting_config(&sim, &clock, Some(storage.path()), Some(cal.days_ago(2)));
    let exporter = start_exporter(config).await;
    hosted_total(exporter.local_addr(), 3.0).await;
    exporter.shutdown().await;
    let names: Vec<String> =
        std::fs::read_dir(storage.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let aside: Vec<_> = names.iter().filter(|n| n.starts_with("counters.json.corrupt-")).collect();
    assert_eq!(aside.len(), 1, "{names:?}");
    assert_eq!(
        std::fs::read(storage.path().join(aside[0])).unwrap(),
        b"{\"format\": 1, \"activity\": {\"12\": tru",
        "the unreadable file is kept as it was"
    );
    assert!(names.contains(&"counters.json".to_owned()), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_without_the_day_by_day_scope_still_counts_reviews() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 12, 0));
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    sim.simulator.add_fault(FaultRule::always(
        Some("/v2/stats/activity/day-by-day"),
        Fault::Status { status: 403, retry_after_seconds: None },
    ));
    let storage = tempfile::tempdir().unwrap();
    let config = counting_config(&sim, &clock, Some(storage.path()), Some(cal.days_ago(2)));
    let exporter = start_exporter(config).await;
    let m = wait_for_metrics(exporter.local_addr(), "review counters", |m| !m.matching(REVIEWS, &[]).is_empty()).await;
    assert_eq!(m.value(REVIEWS, &[("scorecard_id", &SCORECARD_1.to_string()), ("review_method", "MANUAL")]), 1.0);
    assert!(m.matching(CALLS_AS_HOST, &[]).is_empty());
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "activity_day_by_day")]), 0.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "activity_aggregate")]), 1.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_counts_the_largest_window_and_day_by_day_agrees_with_aggregate_call_by_call() {
    let exporter = start_exporter(demo_config_three_windows(40)).await;
    let m =
        wait_for_metrics(exporter.local_addr(), "demo counters", |m| !m.matching(CALLS_AS_HOST, &[]).is_empty()).await;
    // Counting starts with the 28d window's first day. A counter adds each
    // day's list, while the window (Gong's aggregate) counts each call
    // once: for what happens once per call (hosting, a scorecard filled) the
    // two agree; for what people do again on a later day (listening,
    // feedback) the counter is higher.
    // Before the settle point (noon, company time) yesterday is still
    // settling and not counted yet: then the counters hold 27 of the 28d
    // window's days, and yesterday is the 1d window.
    let window_end = m.value("gong_exporter_window_end_timestamp_seconds", &[("window", "28d")]);
    let counted_until = m.value("gong_exporter_counted_until_timestamp_seconds", &[("counters", "activity")]);
    let yesterday_counted = counted_until >= window_end;
    let mut compared = 0;
    let mut repeated = 0;
    for (family, once_per_call) in [
        ("calls_as_host", true),
        ("calls_scorecards_filled", true),
        ("others_calls_listened_to", false),
        ("calls_gave_feedback", false),
    ] {
        for gauge in m.matching(&format!("gong_activity_{family}"), &[("window", "28d")]) {
            let user = gauge.labels["user_id"].as_str();
            let counted =
                m.get(&format!("gong_activity_{family}_cumulative_total"), &[("user_id", user)]).unwrap_or(0.0);
            let yesterday =
                m.get(&format!("gong_activity_{family}"), &[("user_id", user), ("window", "1d")]).unwrap_or(0.0);
            let total = if yesterday_counted { counted } else { counted + yesterday };
            if once_per_call {
                assert_eq!(total, gauge.value, "{family} of {user} (yesterday counted: {yesterday_counted})");
            } else {
                assert!(total >= gauge.value, "{family} of {user}: {total} < {}", gauge.value);
                repeated += usize::from(total > gauge.value);
            }
            compared += usize::from(gauge.value > 0.0);
        }
    }
    assert!(repeated > 10, "calls acted on again on another day: {repeated} users");
    assert!(compared > 40, "compared {compared} non-zero totals");
    let sum = |name: &str, labels: &[(&str, &str)]| m.matching(name, labels).iter().map(|s| s.value).sum::<f64>();
    let reviews_counted = m.value("gong_exporter_counted_until_timestamp_seconds", &[("counters", "scorecards")]);
    let uncounted =
        if reviews_counted >= window_end { 0.0 } else { sum("gong_scorecard_reviews", &[("window", "1d")]) };
    let reviews = sum(REVIEWS, &[]);
    assert_eq!(reviews + uncounted, sum("gong_scorecard_reviews", &[("window", "28d")]));
    assert!(reviews > 0.0);
    exporter.shutdown().await;
}

/// A state file from a clock that ran ahead would stop the counters until
/// its day came (GongExporterCountersBehind could never fire): it is moved
/// aside like a corrupt one, and counting goes on from the start date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_dated_in_the_future_is_moved_aside() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 12, 0));
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    // As an exporter whose clock ran a year ahead wrote it.
    let ahead = cal.today.checked_add(jiff::Span::new().days(365)).unwrap();
    let state = serde_json::json!({
        "format": 1, "start_date": cal.days_ago(2).to_string(),
        "activity_next_day": ahead.to_string(), "scorecards_next_day": ahead.to_string(),
        "activity": {}, "scorecard_names": {}, "scorecard_reviews": [],
    });
    std::fs::write(storage.path().join("counters.json"), state.to_string()).unwrap();

    let config = counting_config(&sim, &clock, Some(storage.path()), Some(cal.days_ago(2)));
    let exporter = start_exporter(config).await;
    hosted_total(exporter.local_addr(), 3.0).await;
    exporter.shutdown().await;
    let names: Vec<String> =
        std::fs::read_dir(storage.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("counters.json.corrupt-")).count(), 1, "{names:?}");
}

/// Two exporters on one --storage.path would overwrite each other's state:
/// the second fails at start naming the directory; once the first stops,
/// a new one starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_exporter_on_the_same_storage_fails_at_start() {
    let cal = Calendar::now();
    let clock = Clock::system();
    let sim = start_simulator_with_clock(data(&cal), 100, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    let first = start_exporter(counting_config(&sim, &clock, Some(storage.path()), None)).await;
    let second = gong_exporter::start(counting_config(&sim, &clock, Some(storage.path()), None)).await;
    let error = second.expect_err("the second exporter must not start").to_string();
    assert!(error.contains("another gong-exporter is using --storage.path"), "{error}");
    assert!(error.contains(&storage.path().display().to_string()), "{error}");
    first.shutdown().await;
    let third = start_exporter(counting_config(&sim, &clock, Some(storage.path()), None)).await;
    third.shutdown().await;
}
