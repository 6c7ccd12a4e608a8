//! The settling schedule against the simulator: the cycle after company
//! midnight fetches everything, re-polls fetch only yesterday while it can
//! still change, settled days are never fetched again, a late change shows
//! at the next re-poll, and kept days survive a restart with
//! `--storage.path` (without it, a restart fetches everything once).
//!
//! The exporter and the simulator share a [`Clock`] the test moves, so
//! hours pass in milliseconds.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use gong_exporter::clock::Clock;
use gong_exporter::config::Config;
use gong_exporter::poller::Schedule;
use gong_exporter::poller::settle::REREAD_DAYS;
use gong_exporter::simulator::RunningSimulator;
use gong_exporter::simulator::dataset::field_index;
use jiff::SignedDuration;

const HOSTED: &str = "gong_activity_calls_as_host";
const DAY_BY_DAY: &str = "/v2/stats/activity/day-by-day";
const SCORECARDS: &str = "/v2/stats/activity/scorecards";
const COUNTER: &str = "gong_activity_calls_as_host_cumulative_total";

fn settling_config(sim: &RunningSimulator, clock: &Clock, storage: Option<&Path>) -> Config {
    let mut config = config_for(sim);
    config.poller.schedule = Schedule::Settling;
    config.poller.time_zone = Some(Calendar::now().tz);
    // The floor between re-polls and the retry delay.
    config.poller.poll_interval = Duration::from_millis(300);
    config.poller.settle_interval = Duration::from_secs(2 * 3600 + 45 * 60);
    config.poller.settle_for = Duration::from_secs(12 * 3600);
    config.poller.clock = clock.clone();
    config.storage_path = storage.map(Path::to_owned);
    config
}

/// The `[from, to)` of every query (first pages only) sent to `path`.
fn queries(sim: &RunningSimulator, path: &str) -> Vec<(String, String)> {
    requests_to(sim, path)
        .iter()
        .filter(|r| r.status != 429)
        .filter_map(|r| {
            let body = r.body.as_ref()?;
            if body.get("cursor").is_some_and(|c| !c.is_null()) {
                return None;
            }
            let f = &body["filter"];
            let from = f.get("fromDate").or_else(|| f.get("reviewFromDate"))?.as_str()?.to_owned();
            let to = f.get("toDate").or_else(|| f.get("reviewToDate"))?.as_str()?.to_owned();
            Some((from, to))
        })
        .collect()
}

/// A settling exporter (no storage) and its simulator, the clock ten
/// minutes past company midnight.
struct Started {
    cal: Calendar,
    clock: Clock,
    sim: RunningSimulator,
    exporter: ExporterGuard,
    addr: std::net::SocketAddr,
}

async fn started_just_after_midnight() -> Started {
    start_settling(false).await
}

/// [`started_just_after_midnight`], its counters counting from yesterday,
/// the first cycle published.
async fn started_counting_yesterday() -> Started {
    let started = start_settling(true).await;
    hosted(started.addr, "1d", 3.0).await;
    started
}

async fn start_settling(count_yesterday: bool) -> Started {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 0, 10));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    let mut config = settling_config(&sim, &clock, None);
    if count_yesterday {
        config.counters_start_date = Some(cal.days_ago(1));
    }
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    Started { cal, clock, sim, exporter, addr }
}

async fn hosted(addr: std::net::SocketAddr, window: &str, expected: f64) -> Metrics {
    wait_for_metrics(addr, &format!("{HOSTED}{{window={window}}} = {expected}"), |m| {
        m.get(HOSTED, &[("user_id", &REP_A.to_string()), ("window", window)]) == Some(expected)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_days_are_not_fetched_again_and_a_late_change_shows_at_the_next_repoll() {
    let Started { cal, clock, sim, exporter, addr } = started_just_after_midnight().await;

    // The first cycle: every day of the largest window, once.
    hosted(addr, "1d", 3.0).await;
    hosted(addr, "7d", 7.0).await;
    let (d28, d1, today) = (cal.days_ago(28).to_string(), cal.days_ago(1).to_string(), cal.today.to_string());
    let whole = (d28.clone(), today.clone());
    assert_eq!(queries(&sim, DAY_BY_DAY), std::slice::from_ref(&whole));
    assert_eq!(queries(&sim, SCORECARDS), std::slice::from_ref(&whole));
    assert!(requests_to(&sim, "/v2/stats/activity/aggregate").is_empty(), "activity windows come from kept days");
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY), std::slice::from_ref(&whole), "nothing is due before the first re-poll");

    // A call of yesterday's is processed late; the re-poll 2h45m after the
    // first cycle fetches yesterday alone and shows it.
    let mut late = fixture(&cal);
    late.activity.get_mut(&(1, cal.days_ago(1))).unwrap().counts[field_index("callsAsHost").unwrap()] = 4;
    sim.simulator.set_dataset(Arc::new(late));
    clock.shift(SignedDuration::from_hours(3));
    hosted(addr, "1d", 4.0).await;
    hosted(addr, "7d", 8.0).await;
    let yesterday = (d1.clone(), today.clone());
    assert_eq!(queries(&sim, DAY_BY_DAY), [whole.clone(), yesterday.clone()]);
    assert_eq!(queries(&sim, SCORECARDS), [whole.clone(), yesterday.clone()]);
    let interaction = requests_to(&sim, "/v2/stats/interaction").len();
    assert!(interaction >= 6, "interaction windows are fetched whole at each re-poll: {interaction}");

    // Past --poll.settle-for (12h after midnight) yesterday is final: one
    // last fetch, then nothing more today.
    clock.shift(SignedDuration::from_hours(10));
    wait_until("a fetch after yesterday settled", || queries(&sim, DAY_BY_DAY).len() == 3).await;
    let settled = queries(&sim, DAY_BY_DAY).len();
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY).len(), settled, "no re-poll after yesterday settled");

    // The next company day fetches its new yesterday with the 7 days
    // before it (the daily re-read, one query); the 20 other days of the
    // largest window are kept.
    let tomorrow = cal.today.tomorrow().unwrap();
    clock.set(cal.at(tomorrow, 0, 10));
    // Nobody did anything on the new yesterday: no 1d rows, as Gong's 404.
    wait_for_metrics(addr, "no 1d activity", |m| {
        m.get(HOSTED, &[("user_id", &REP_A.to_string()), ("window", "1d")]).is_none()
    })
    .await;
    let new_yesterday = (today.clone(), tomorrow.to_string());
    wait_until("the new yesterday's queries", || queries(&sim, SCORECARDS).last() == Some(&new_yesterday)).await;
    let reread = (cal.days_ago(7).to_string(), tomorrow.to_string());
    assert_eq!(queries(&sim, DAY_BY_DAY).last(), Some(&reread));
    assert_eq!(
        queries(&sim, DAY_BY_DAY).iter().filter(|q| q.0 != d1 && q.0 != d28 && **q != reread).count(),
        0,
        "settled days are fetched again only in the daily re-read: {:?}",
        queries(&sim, DAY_BY_DAY)
    );
    let m = hosted(addr, "7d", 8.0).await;
    assert_eq!(m.value(HOSTED, &[("user_id", &REP_A.to_string()), ("window", "28d")]), 18.0, "with day 10 ago");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_storage_fetches_no_kept_day_and_without_storage_everything_once() {
    let cal = Calendar::now();
    let clock = Clock::system();
    // Afternoon: yesterday has settled.
    clock.set(cal.at(cal.today, 14, 0));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    let whole = (cal.days_ago(28).to_string(), cal.today.to_string());

    let exporter = start_exporter(settling_config(&sim, &clock, Some(storage.path()))).await;
    hosted(exporter.local_addr(), "7d", 7.0).await;
    exporter.shutdown().await;
    assert_eq!(queries(&sim, DAY_BY_DAY), std::slice::from_ref(&whole));
    let day_files = std::fs::read_dir(storage.path().join("days")).unwrap().count();
    assert_eq!(day_files, 28, "one file per kept day");

    // Restart with the same storage: windows are built from the kept days
    // at once, and no day is asked again.
    let exporter = start_exporter(settling_config(&sim, &clock, Some(storage.path()))).await;
    let m = hosted(exporter.local_addr(), "7d", 7.0).await;
    assert_eq!(m.value(HOSTED, &[("user_id", &REP_A.to_string()), ("window", "28d")]), 17.0);
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY), std::slice::from_ref(&whole), "kept days are not fetched again");
    assert_eq!(queries(&sim, SCORECARDS), std::slice::from_ref(&whole));
    exporter.shutdown().await;

    // Without storage, a restart fetches every day once.
    let exporter = start_exporter(settling_config(&sim, &clock, None)).await;
    hosted(exporter.local_addr(), "7d", 7.0).await;
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY), [whole.clone(), whole.clone()]);
    assert_eq!(queries(&sim, SCORECARDS), [whole.clone(), whole]);
    exporter.shutdown().await;
}

/// A disk that refuses writes (the days folder replaced by a file, which
/// even root cannot write into): the new day is fetched once as planned, not
/// again every cycle; its numbers are served from memory; the failure is
/// counted and the poll still succeeded. Once the disk takes writes, the
/// next cycle writes the day without asking Gong. Before, the fetch was
/// retried every --poll.interval while the write failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_that_refuses_writes_fetches_as_planned_and_writes_later() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 14, 0));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    let storage = tempfile::tempdir().unwrap();
    let days = storage.path().join("days");
    let exporter = start_exporter(settling_config(&sim, &clock, Some(storage.path()))).await;
    let addr = exporter.local_addr();
    hosted(addr, "7d", 7.0).await;
    std::fs::remove_dir_all(&days).unwrap();
    std::fs::write(&days, b"not a folder").unwrap();
    let (by_day, reviews) = (queries(&sim, DAY_BY_DAY).len(), queries(&sim, SCORECARDS).len());

    // The next company day: yesterday (today, now) is fetched and cannot be
    // written.
    let tomorrow = cal.today.tomorrow().unwrap();
    clock.set(cal.at(tomorrow, 0, 10));
    let m = wait_for_metrics(addr, "a failed write", |m| {
        m.get("gong_exporter_storage_errors_total", &[("file", "days")]).is_some_and(|n| n > 0.0)
    })
    .await;
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "scorecards")]), 1.0);
    assert_eq!(m.value("gong_exporter_poll_success", &[("endpoint", "activity_day_by_day")]), 1.0);
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY).len(), by_day + 1, "one query for the new day (and the re-read)");
    assert_eq!(queries(&sim, SCORECARDS).len(), reviews + 1, "not again each cycle");
    let (_, text) = http_get(addr, "/metrics").await;
    assert!(text.contains("window=\"7d\""), "the windows are served from memory");

    // The disk takes writes again: the next cycle (a planned re-poll of
    // yesterday at 02:55) writes what waited.
    std::fs::remove_file(&days).unwrap();
    std::fs::create_dir(&days).unwrap();
    clock.set(cal.at(tomorrow, 4, 0));
    let written = || std::fs::read_dir(&days).unwrap().count();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while written() == 0 {
        assert!(std::time::Instant::now() < deadline, "the waiting days were never written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    exporter.shutdown().await;
    assert!(
        std::fs::read_dir(&days).unwrap().any(|e| e.unwrap().file_name() == format!("{}.json", cal.today).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_lists_todays_repolls_and_the_gauge_counts_sent_plus_planned() {
    let Started { sim, exporter, addr, .. } = started_just_after_midnight().await;
    let m =
        wait_for_metrics(addr, "the plan", |m| m.get("gong_exporter_requests_planned_today", &[]) > Some(0.0)).await;
    let sent = m.value("gong_exporter_api_requests_today", &[]);
    let planned = m.value("gong_exporter_requests_planned_today", &[]);
    assert_eq!(sent, sim.simulator.requests().len() as f64);
    // Re-polls at +2h45m, +5h30m, +8h15m, +11h and 12:00 of yesterday's
    // activity (planned as its last answer: 3 pages, 5 users 2 a page),
    // reviews (1 page) and interaction (3 windows of 1 page); at 12:00
    // the check of the 3 activity windows against Gong's aggregate (1 page
    // each).
    let (_, page) = http_get(addr, "/").await;
    assert_eq!(planned, sent + 5.0 * (3.0 + 1.0 + 3.0) + 3.0, "sent {sent}, planned {planned}: {page}");
    assert!(page.contains("Today's plan"), "{page}");
    assert!(page.contains("interaction stats of every window"), "{page}");
    assert_eq!(page.matches("<td>planned</td>").count(), 5, "{page}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_fetched_once_a_day_and_again_for_a_user_the_list_lacks() {
    let Started { cal, clock, sim, exporter, addr } = started_just_after_midnight().await;
    hosted(addr, "1d", 3.0).await;
    let listed = requests_to(&sim, "/v2/users").len();
    // Five users, two a page: one list, although yesterday's activity names
    // a user the list lacks (asking again in the same cycle would get the
    // same list).
    assert_eq!(listed, 3, "one list in the first cycle");

    // A re-poll with nothing new does not list the users again.
    clock.shift(SignedDuration::from_hours(3));
    wait_until("the first re-poll", || queries(&sim, DAY_BY_DAY).len() == 2).await;
    a_few_cycles().await;
    assert_eq!(requests_to(&sim, "/v2/users").len(), listed, "users once a day");

    // A user added this morning shows up in yesterday's late activity: the
    // next re-poll names an ID the user list lacks, so the list is fetched
    // again, once.
    const NEW: u64 = 9_007_199_254_741_001;
    let mut data = fixture(&cal);
    let mut newcomer = data.users[1].clone();
    (newcomer.id, newcomer.email) = (NEW, "new@example.com".to_owned());
    data.users.push(newcomer);
    data.activity.insert((data.users.len() - 1, cal.days_ago(1)), data.activity[&(1, cal.days_ago(3))].clone());
    sim.simulator.set_dataset(Arc::new(data));
    clock.shift(SignedDuration::from_hours(6));
    let m =
        wait_for_metrics(addr, "the new user", |m| m.get("gong_user_info", &[("user_id", &NEW.to_string())]).is_some())
            .await;
    assert_eq!(m.value(HOSTED, &[("user_id", &NEW.to_string()), ("window", "1d")]), 4.0);
    let relisted = requests_to(&sim, "/v2/users").len();
    assert_eq!(relisted, listed + 3, "six users, two a page: listed again once");
    clock.shift(SignedDuration::from_hours(3));
    wait_until("the last re-poll", || queries(&sim, DAY_BY_DAY).len() == 4).await;
    a_few_cycles().await;
    assert_eq!(requests_to(&sim, "/v2/users").len(), relisted, "once a day for unknown users too");
    exporter.shutdown().await;
}

/// A cycle that starts before company midnight and ends after it still
/// leaves the cycle after that midnight to run (at once): the day that just
/// ended is fetched as yesterday, not skipped until the next night.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_running_over_midnight_does_not_skip_the_day_that_ended() {
    use gong_exporter::simulator::faults::{Fault, FaultRule};
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 23, 59));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    // The first cycle's users list is slow: midnight passes while it waits.
    sim.simulator.add_fault(FaultRule::nth(Some("/v2/users"), 1, Fault::Delay { millis: 1500 }));
    let exporter = start_exporter(settling_config(&sim, &clock, None)).await;
    wait_until("the slow users request", || sim.simulator.pending() > 0).await;
    clock.set(cal.at(cal.today, 23, 59) + SignedDuration::from_mins(3));
    let tomorrow = cal.today.tomorrow().unwrap().to_string();
    wait_until("a fetch of the day that ended", || queries(&sim, DAY_BY_DAY).iter().any(|(_, to)| *to == tomorrow))
        .await;
    exporter.shutdown().await;
}

/// The cumulative counters add a day only once it has settled: a call of
/// yesterday's processed late is in the counter, as it is in the windows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_add_yesterday_once_it_settled_late_changes_included() {
    let Started { cal, clock, sim, exporter, addr } = started_counting_yesterday().await;

    // A late call of yesterday's, seen at the 03:00 re-poll.
    let mut late = fixture(&cal);
    late.activity.get_mut(&(1, cal.days_ago(1))).unwrap().counts[field_index("callsAsHost").unwrap()] = 4;
    sim.simulator.set_dataset(Arc::new(late));
    clock.shift(SignedDuration::from_hours(3));
    hosted(addr, "1d", 4.0).await;

    // Settled at noon: yesterday is counted with its late call.
    clock.shift(SignedDuration::from_hours(10));
    let m = wait_for_metrics(addr, "yesterday counted", |m| {
        m.get(COUNTER, &[("user_id", &REP_A.to_string())]).is_some_and(|v| v > 0.0)
    })
    .await;
    assert_eq!(m.value(COUNTER, &[("user_id", &REP_A.to_string())]), 4.0, "the late call is counted");
    exporter.shutdown().await;
}

/// A day is counted when it settles, not a day later: once no answer
/// changes, the re-polls stop before the settle point, and a cycle must
/// still run there for the counters (one that sends no request). It used to
/// be the next midnight's, so the counters stayed a day behind for most of
/// every day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_is_counted_at_its_settle_point_without_a_request_when_nothing_changed() {
    let Started { cal, clock, sim, exporter, addr } = started_counting_yesterday().await;

    // Nothing changes: the re-polls at 02:55 and 08:40 find the same
    // answers, and the next (20:10) would be after yesterday settles.
    for (hours, fetches) in [(3, 2), (6, 3)] {
        clock.shift(SignedDuration::from_hours(hours));
        wait_until("a re-poll", || queries(&sim, DAY_BY_DAY).len() >= fetches).await;
    }
    a_few_cycles().await;
    let fetched = queries(&sim, DAY_BY_DAY).len();
    let m = scrape(addr).await;
    assert_eq!(m.get(COUNTER, &[("user_id", &REP_A.to_string())]), None, "not counted before noon");

    // 12:10: past the settle point (noon), long before midnight.
    clock.shift(SignedDuration::from_hours(3));
    let m = wait_for_metrics(addr, "yesterday counted", |m| {
        m.get(COUNTER, &[("user_id", &REP_A.to_string())]).is_some_and(|v| v > 0.0)
    })
    .await;
    assert_eq!(m.value(COUNTER, &[("user_id", &REP_A.to_string())]), 3.0);
    let counted_until = m.value("gong_exporter_counted_until_timestamp_seconds", &[("counters", "activity")]);
    assert_eq!(counted_until, cal.at(cal.today, 0, 0).as_second() as f64, "counted up to today");
    assert_eq!(queries(&sim, DAY_BY_DAY).len(), fetched, "counted from kept days, no request");
    exporter.shutdown().await;
}

/// An answer must be about the days asked: day-by-day entries dated a day
/// off (each carries its own fromDate) fail the request, which says which
/// days were asked and which came, and yesterday keeps its last good data.
/// They used to be dropped as outside the range, and yesterday kept as an
/// empty day, with poll_success 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_by_day_entries_dated_off_the_days_asked_fail_and_keep_the_last_good_data() {
    use gong_exporter::simulator::faults::{Fault, FaultRule};
    let Started { cal, clock, sim, exporter, addr } = started_just_after_midnight().await;
    hosted(addr, "1d", 3.0).await;

    sim.simulator.add_fault(FaultRule::always(Some(DAY_BY_DAY), Fault::DaysOff { days: -1 }));
    let fetched = queries(&sim, DAY_BY_DAY).len();
    clock.shift(SignedDuration::from_hours(3));
    wait_until("a re-poll", || queries(&sim, DAY_BY_DAY).len() > fetched).await;
    let m = wait_for_metrics(addr, "the day-by-day re-poll failed", |m| {
        m.get("gong_exporter_poll_success", &[("endpoint", "activity_day_by_day")]) == Some(0.0)
    })
    .await;
    assert!(queries(&sim, DAY_BY_DAY).len() > fetched, "asked again");
    assert_eq!(m.value(HOSTED, &[("user_id", &REP_A.to_string()), ("window", "1d")]), 3.0, "last good data");
    let (_, page) = http_get(addr, "/").await;
    let yesterday = cal.days_ago(1);
    let asked = format!("asked {yesterday} to {yesterday}, received entries for {}", cal.days_ago(2));
    assert!(page.contains("about other days than asked") && page.contains(&asked), "{page}");
    drop(clock);
    exporter.shutdown().await;
}

/// A generated company of 40 (days that repeat calls) served to a settling
/// exporter and a fixed one, the clock ten minutes past company midnight;
/// both have published every window.
struct SettlingBesideFixed {
    clock: Clock,
    sim: RunningSimulator,
    settling: ExporterGuard,
    fixed: ExporterGuard,
    /// The first scrapes with every window: built from kept days, and from
    /// Gong's aggregate.
    from_days: Metrics,
    aggregate: Metrics,
}

async fn settling_beside_fixed(aggregate_sums_day_lists: bool) -> SettlingBesideFixed {
    use gong_exporter::collectors::CollectorName;
    use gong_exporter::simulator::dataset::GeneratedDataset;
    use gong_exporter::simulator::{Simulator, SimulatorOptions};
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 0, 10));
    let mut options = SimulatorOptions::new(ZONE);
    options.clock = clock.clone();
    // Two exporters share it: Gong's 3 a second would leave one waiting.
    options.rate_limit = 1000.0;
    options.aggregate_sums_day_lists = aggregate_sums_day_lists;
    let company = Simulator::new(Arc::new(GeneratedDataset::new(40, cal.tz.clone())), options).unwrap();
    let sim = gong_exporter::simulator::spawn(company, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();

    let mut settling = settling_config(&sim, &clock, None);
    settling.poller.collectors.set(CollectorName::Coaching, false);
    let mut fixed = regular_config(&sim, &cal);
    fixed.poller.clock = clock.clone();
    let (settling, fixed) = (start_exporter(settling).await, start_exporter(fixed).await);
    let published = |m: &Metrics| {
        ["1d", "7d", "28d"]
            .iter()
            .all(|w| m.matching("gong_activity_others_calls_listened_to", &[("window", w)]).len() > 10)
    };
    let from_days = wait_for_metrics(settling.local_addr(), "windows from kept days", published).await;
    let aggregate = wait_for_metrics(fixed.local_addr(), "windows from Gong's aggregate", published).await;
    SettlingBesideFixed { clock, sim, settling, fixed, from_days, aggregate }
}

/// Every activity gauge of `window`: (user, metric) to value.
fn activity_of(m: &Metrics, window: &str) -> BTreeMap<(String, String), f64> {
    m.series
        .iter()
        .filter(|s| s.name.starts_with("gong_activity_") && s.labels.get("window").is_some_and(|w| w == window))
        .map(|s| ((s.labels["user_id"].clone(), s.name.clone()), s.value))
        .collect()
}

/// Each day of day-by-day lists the calls acted on that day, so a call
/// listened to (shared, commented on...) on two days is on both lists, while
/// Gong's aggregate counts calls. Windows built from kept days must equal
/// the aggregate the fixed schedule publishes under the same name; they
/// used to sum the lists' lengths and came out higher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_from_kept_days_count_each_call_once_as_the_aggregate_does() {
    let _heavy = heavy().await;
    let SettlingBesideFixed { settling, fixed, from_days, aggregate, .. } = settling_beside_fixed(false).await;
    let mut listened = 0.0;
    for window in ["1d", "7d", "28d"] {
        let (built, gong) = (activity_of(&from_days, window), activity_of(&aggregate, window));
        assert!(!built.is_empty());
        let differ: Vec<_> =
            built.iter().filter(|(k, v)| gong.get(*k) != Some(*v)).map(|(k, v)| (k, v, gong.get(k))).take(5).collect();
        assert!(differ.is_empty(), "{window} built from days vs Gong's aggregate: {differ:?}");
        assert_eq!(built.len(), gong.len(), "the same series");
        listened +=
            built.iter().filter(|(k, _)| k.1 == "gong_activity_others_calls_listened_to").map(|(_, v)| v).sum::<f64>();
    }
    assert!(listened > 0.0, "the company listens to calls");
    settling.shutdown().await;
    fixed.shutdown().await;
}

/// Whichever way Gong counts, the exporter publishes Gong's numbers: once
/// yesterday settled it asks the aggregate for each window (a page per 100
/// users), counts the users that differ, and publishes Gong's values for
/// the rest of the day. Here Gong sums the days' lists, where the windows
/// built from days count each call once. The check is in the day's plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_settle_point_windows_are_checked_against_gong_and_gong_wins() {
    let _heavy = heavy().await;
    let SettlingBesideFixed { clock, sim, settling, fixed, from_days: before, aggregate: gong_at_start } =
        settling_beside_fixed(true).await;
    let addr = settling.local_addr();
    assert_ne!(
        activity_of(&before, "28d"),
        activity_of(&gong_at_start, "28d"),
        "Gong counts repeats here; days do not"
    );
    assert!(before.get("gong_exporter_window_mismatches", &[("window", "28d")]).is_none(), "not checked yet");
    let aggregate = "/v2/stats/activity/aggregate";
    let asked_before = requests_to(&sim, aggregate).len();
    let (_, page) = http_get(addr, "/").await;
    assert!(
        page.contains("activity windows checked against Gong&#39;s aggregate")
            || page.contains("activity windows checked against Gong's aggregate"),
        "{page}"
    );

    // 12:10: yesterday settled; the cycle there checks the three windows.
    clock.shift(SignedDuration::from_hours(12));
    let checked = wait_for_metrics(addr, "every window checked", |m| {
        let mismatches = |w: &str| m.get("gong_exporter_window_mismatches", &[("window", w)]);
        ["1d", "7d"].iter().all(|w| mismatches(w).is_some()) && mismatches("28d").is_some_and(|n| n > 0.0)
    })
    .await;
    assert_eq!(requests_to(&sim, aggregate).len() - asked_before, 3, "one page per window at 40 users");
    // Gong's numbers as of the check: a call may arrive days late, and
    // some did between 00:10 and 12:10 on some calendar days.
    let mut at_check = regular_config(&sim, &Calendar::now());
    at_check.poller.clock = clock.clone();
    let at_check = start_exporter(at_check).await;
    let gong = wait_for_metrics(at_check.local_addr(), "Gong's aggregate at the check", |m| {
        ["1d", "7d", "28d"].iter().all(|w| !m.matching("gong_activity_calls_as_host", &[("window", w)]).is_empty())
    })
    .await;
    at_check.shutdown().await;
    for window in ["1d", "7d", "28d"] {
        let (built, from_gong) = (activity_of(&before, window), activity_of(&gong, window));
        assert_eq!(activity_of(&checked, window), from_gong, "Gong's numbers for {window}");
        let differing: std::collections::BTreeSet<&String> =
            built.iter().filter(|(k, v)| from_gong.get(*k) != Some(*v)).map(|((user, _), _)| user).collect();
        let mismatches = checked.value("gong_exporter_window_mismatches", &[("window", window)]);
        assert_eq!(mismatches, differing.len() as f64, "{window}");
    }
    let asked = requests_to(&sim, aggregate).len();
    a_few_cycles().await;
    assert_eq!(requests_to(&sim, aggregate).len(), asked, "once a day");
    settling.shutdown().await;
    fixed.shutdown().await;
}

/// Gong keeps changing days after they settle. Once a day, in the first
/// cycle after company midnight, the last 7 days before yesterday are read
/// again with yesterday (one day-by-day query): the windows follow what
/// changed, a counted day that grew adds the difference to its counters,
/// and one that shrank is logged and counted while its counters stay put.
/// Before, a change 3 days back was never seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_days_are_read_again_once_a_day_and_counters_only_grow() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 0, 10));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    let mut config = settling_config(&sim, &clock, None);
    config.counters_start_date = Some(cal.days_ago(6));
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    let rep_a = REP_A.to_string();
    const COMMENTS: &str = "gong_activity_calls_comments_given";
    let comments_total = format!("{COMMENTS}_cumulative_total");
    let counted = |m: &Metrics, name: &str, user: u64| m.get(name, &[("user_id", &user.to_string())]);
    hosted(addr, "7d", 7.0).await;
    let m = wait_for_metrics(addr, "days 6 to 2 ago counted", |m| counted(m, COUNTER, REP_A) == Some(4.0)).await;
    assert_eq!(counted(&m, &comments_total, VP), Some(6.0));

    // Gong changes a day 3 days back: a late call of REP_A's, a comment of
    // the VP's taken back.
    let mut late = fixture(&cal);
    let d3 = cal.days_ago(3);
    late.activity.get_mut(&(1, d3)).unwrap().counts[field_index("callsAsHost").unwrap()] = 6;
    late.activity.get_mut(&(0, d3)).unwrap().counts[field_index("callsCommentsGiven").unwrap()] = 5;
    sim.simulator.set_dataset(Arc::new(late));

    // Today's re-polls ask yesterday alone. At the settle point the check
    // against Gong's aggregate finds the difference and publishes Gong's
    // numbers; the kept day, and so the counters, are not changed yet.
    clock.shift(SignedDuration::from_hours(12));
    let m = wait_for_metrics(addr, "yesterday counted", |m| counted(m, COUNTER, REP_A) == Some(4.0 + 3.0)).await;
    let m = if m.get("gong_exporter_window_mismatches", &[("window", "7d")]).is_some() {
        m
    } else {
        wait_for_metrics(addr, "the check", |m| m.get("gong_exporter_window_mismatches", &[("window", "7d")]).is_some())
            .await
    };
    assert_eq!(m.value("gong_exporter_window_mismatches", &[("window", "7d")]), 2.0, "REP_A and the VP");
    assert_eq!(m.value(HOSTED, &[("user_id", &rep_a), ("window", "7d")]), 3.0 + 6.0, "Gong's number");
    assert_eq!(counted(&m, COUNTER, REP_A), Some(4.0 + 3.0));
    let before = queries(&sim, DAY_BY_DAY).len();

    // The next company day: its first cycle reads the last days again.
    let tomorrow = cal.today.tomorrow().unwrap();
    clock.set(cal.at(tomorrow, 0, 10));
    let m = hosted(addr, "7d", 3.0 + 6.0).await;
    let m = if counted(&m, COUNTER, REP_A) == Some(9.0) {
        m
    } else {
        wait_for_metrics(addr, "the growth counted", |m| counted(m, COUNTER, REP_A) == Some(4.0 + 3.0 + 2.0)).await
    };
    assert_eq!(m.value(COMMENTS, &[("user_id", &VP.to_string()), ("window", "7d")]), 5.0, "the gauge follows Gong");
    assert_eq!(counted(&m, &comments_total, VP), Some(6.0), "a counter never goes down");
    let changes = |change: &str| m.value("gong_exporter_counted_day_changes_total", &[("change", change)]);
    assert_eq!((changes("grew"), changes("shrank")), (1.0, 1.0));
    let back = tomorrow.checked_sub(jiff::Span::new().days(REREAD_DAYS + 1)).unwrap();
    let asked = &queries(&sim, DAY_BY_DAY)[before..];
    assert_eq!(asked, [(back.to_string(), tomorrow.to_string())], "one query, yesterday and the 7 days before");
    a_few_cycles().await;
    assert_eq!(queries(&sim, DAY_BY_DAY).len(), before + 1, "once a day");
    exporter.shutdown().await;
}

/// The company moves to another zone: its days are other days. The kept
/// days (dated in the old zone) are dropped as a whole and every window's
/// days fetched again under the new zone, one query per endpoint; no kept
/// day is overwritten day by day with a day of another zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_company_zone_fetches_every_kept_day_again_as_a_whole() {
    let cal = Calendar::now();
    let clock = Clock::system();
    clock.set(cal.at(cal.today, 0, 10));
    let sim = start_simulator_with_clock(fixture(&cal), 2, 1000.0, clock.clone()).await;
    let mut config = settling_config(&sim, &clock, None);
    // Learned from Gong, so it follows Gong.
    config.poller.time_zone = None;
    let exporter = start_exporter(config).await;
    let addr = exporter.local_addr();
    hosted(addr, "7d", 7.0).await;
    let fetched = queries(&sim, DAY_BY_DAY).len();

    // Tokyo to Auckland (3 to 4 hours ahead): the company's today and
    // yesterday stay the same dates, but each day starts at another instant.
    sim.simulator.set_time_zone("Pacific/Auckland").unwrap();
    let (_, page) = http_get(addr, "/").await;
    assert!(!page.contains("Pacific/Auckland"), "not seen before an answer names it");
    clock.shift(SignedDuration::from_hours(3));
    wait_until("every kept day fetched again", || {
        let all = queries(&sim, DAY_BY_DAY);
        all.len() > fetched && all.last().is_some_and(|q| q.0 == cal.days_ago(28).to_string())
    })
    .await;
    let again: Vec<_> = queries(&sim, DAY_BY_DAY)[fetched..].to_vec();
    assert!(
        again.iter().all(|q| q.0 == cal.days_ago(1).to_string() || q.0 == cal.days_ago(28).to_string()),
        "a re-poll of yesterday (old zone) at most, then the whole range: {again:?}"
    );
    let m = hosted(addr, "7d", 7.0).await;
    assert_eq!(m.value(HOSTED, &[("user_id", &REP_A.to_string()), ("window", "28d")]), 17.0);
    let (_, page) = http_get(addr, "/").await;
    assert!(page.contains("Pacific/Auckland"), "{page}");
    exporter.shutdown().await;
}
