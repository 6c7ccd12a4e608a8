//! `backfill` against the simulator: the file is strict OpenMetrics, promtool
//! turns it into blocks, and a real Prometheus loaded with them answers the
//! simulator's daily values at each day's timestamp.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use gong_exporter::backfill::{BackfillConfig, run};
use gong_exporter::gong::Credentials;
use gong_exporter::secret::Secret;
use gong_exporter::simulator::faults::{Fault, FaultRule};
use gong_exporter::windows::start_of_day;
use jiff::civil::Date;

fn backfill_config(
    sim: &gong_exporter::simulator::RunningSimulator,
    from: Date,
    to: Date,
    output: &std::path::Path,
) -> BackfillConfig {
    BackfillConfig {
        client: client_for(&sim.base_url()),
        // Learned from Gong, as on a first run.
        time_zone: None,
        from,
        to,
        output: output.to_owned(),
        windows: vec!["1d".parse().unwrap()],
        labels: Vec::new(),
        interaction: true,
        include_user_email: true,
        private_reviews: Default::default(),
    }
}

/// `(sample name, labels) -> [(timestamp, value)]`.
type Samples = BTreeMap<(String, BTreeMap<String, String>), Vec<(i64, f64)>>;

/// Reads the file the way promtool does (families, then series with
/// timestamped samples) and checks each day's slice with a strict
/// OpenMetrics parser: the parser keeps one point per series, so it is fed
/// one timestamp at a time.
fn parse_strictly(text: &str) -> Samples {
    let body = text.strip_suffix("# EOF\n").expect("ends with # EOF");
    // Header lines, then (series, value, timestamp) per sample.
    type Family = (String, Vec<(String, String, i64)>);
    let mut families: Vec<Family> = Vec::new();
    let mut in_header = false;
    for line in body.lines() {
        if line.starts_with('#') {
            if !in_header {
                families.push((String::new(), Vec::new()));
                in_header = true;
            }
            let header = &mut families.last_mut().unwrap().0;
            header.push_str(line);
            header.push('\n');
            continue;
        }
        in_header = false;
        let mut parts = line.rsplitn(3, ' ');
        let (Some(ts), Some(value), Some(series)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("not a timestamped sample: {line}");
        };
        let ts: i64 = ts.parse().unwrap_or_else(|_| panic!("timestamp in {line}"));
        let samples = &mut families.last_mut().expect("a sample before any family").1;
        if let Some((last_series, _, last_ts)) = samples.last() {
            assert!(last_series != series || *last_ts < ts, "time order within a series: {line}");
        }
        samples.push((series.to_owned(), value.to_owned(), ts));
    }
    let names: Vec<_> = families.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(names.len(), names.iter().collect::<std::collections::BTreeSet<_>>().len(), "each family once");
    let timestamps: std::collections::BTreeSet<i64> =
        families.iter().flat_map(|(_, s)| s.iter().map(|(_, _, ts)| *ts)).collect();
    let mut samples = Samples::new();
    for ts in timestamps {
        let mut slice = String::new();
        for (header, points) in &families {
            let at: Vec<_> = points.iter().filter(|(_, _, t)| *t == ts).collect();
            if !at.is_empty() {
                slice.push_str(header);
                for (series, value, _) in at {
                    slice.push_str(&format!("{series} {value}\n"));
                }
            }
        }
        slice.push_str("# EOF\n");
        for s in Metrics::parse(slice).series {
            samples.entry((s.name, s.labels)).or_default().push((ts, s.value));
        }
    }
    samples
}

fn series<'a>(samples: &'a Samples, family: &str, labels: &[(&str, &str)]) -> Vec<&'a Vec<(i64, f64)>> {
    samples
        .iter()
        .filter(|((name, l), _)| {
            name == family && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, points)| points)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_blocks_load_into_prometheus_with_the_daily_values() {
    let cal = Calendar::now();
    // Two records per page: every query spans pages.
    let sim = start_simulator(fixture(&cal), 2, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gong.om");
    let from = cal.days_ago(12);
    let summary = run(backfill_config(&sim, from, cal.today, &output)).await.unwrap();
    assert_eq!(summary.days, 12);

    // Sample time of day D: the start of the next company day, when the
    // live exporter would start showing D as "yesterday".
    let at = |days_ago: i64| start_of_day(cal.days_ago(days_ago - 1), &cal.tz).as_second();
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(text.ends_with("# EOF\n"));
    let samples = parse_strictly(&text);
    let a = REP_A.to_string();
    let hosted = series(&samples, "gong_activity_calls_as_host", &[("user_id", &a), ("window", "1d")]);
    assert_eq!(hosted.len(), 1);
    let by_time: BTreeMap<i64, f64> = hosted[0].iter().copied().collect();
    assert_eq!((by_time[&at(10)], by_time[&at(3)], by_time[&at(1)], by_time[&at(2)]), (10.0, 4.0, 3.0, 0.0));
    assert_eq!(hosted[0].len(), 12, "one sample per day");
    let counter = series(&samples, "gong_activity_calls_as_host_cumulative_total", &[("user_id", &a)]);
    assert_eq!(counter[0].first(), Some(&(at(12), 0.0)), "the counter starts at zero on the first day");
    assert!(counter[0].contains(&(at(10), 10.0)));
    assert_eq!(counter[0].last(), Some(&(at(1), 17.0)));
    assert!(counter[0].windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "time-ordered, never decreasing");
    assert_eq!(
        series(&samples, "gong_user_info", &[]).len(),
        5,
        "every user, for team joins over the backfilled range"
    );
    assert!(!text.contains("gong_exporter_"), "no self-metrics in a backfill");

    let (Some(promtool), Some(prometheus)) = (tool("promtool", "PROMTOOL_BIN"), tool("prometheus", "PROMETHEUS_BIN"))
    else {
        return;
    };
    let _heavy = heavy().await;
    let data = dir.path().join("data");
    let created = Command::new(&promtool)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&output)
        .arg(&data)
        .output()
        .unwrap();
    assert!(created.status.success(), "promtool: {}", String::from_utf8_lossy(&created.stderr));

    // Blocks older than the retention would be deleted on load.
    let prom = crate::common::prometheus::Prometheus::spawn(
        &prometheus,
        dir.path(),
        "global:\n  scrape_interval: 1m\n",
        &data,
        &["--storage.tsdb.retention.time=100y", "--log.level=warn"],
    );
    prom.wait_ready().await;

    let rep_a = format!("user_id=\"{a}\"");
    for (days_ago, gauge, total) in [(10, 10.0, 10.0), (3, 4.0, 14.0), (1, 3.0, 17.0)] {
        let expr = format!("gong_activity_calls_as_host{{{rep_a},window=\"1d\"}}");
        assert_eq!(prom.values_at(&expr, at(days_ago)).await, [gauge], "{expr} {days_ago} days ago");
        let expr = format!("gong_activity_calls_as_host_cumulative_total{{{rep_a}}}");
        assert_eq!(prom.values_at(&expr, at(days_ago)).await, [total], "{expr} {days_ago} days ago");
    }
    let b = REP_B.to_string();
    let expr = format!("gong_activity_calls_brand_new{{user_id=\"{b}\",window=\"1d\"}}");
    assert_eq!(prom.values_at(&expr, at(1)).await, [7.0], "a field Gong added later");
    let expr = format!("gong_interaction_talk_ratio{{{rep_a},window=\"1d\"}}");
    assert_eq!(prom.values_at(&expr, at(1)).await, [0.42]);
    let expr =
        format!("gong_scorecard_reviews{{scorecard_id=\"{SCORECARD_2}\",window=\"1d\",review_method=\"MANUAL\"}}");
    assert_eq!(prom.values_at(&expr, at(10)).await, [1.0]);
    let expr = format!("sum(gong_scorecard_reviews_cumulative_total{{scorecard_id=\"{SCORECARD_1}\"}})");
    assert_eq!(prom.values_at(&expr, at(1)).await, [2.0]);
    assert_eq!(prom.values_at("count(gong_user_info)", at(5)).await, [5.0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_waits_out_throttling_and_retries_server_errors() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    // Throttled on the first day-by-day request, a 503 on the first
    // scorecards request: both retried, through the same client as the
    // exporter's.
    sim.simulator.add_fault(FaultRule::nth(
        Some("/v2/stats/activity/day-by-day"),
        1,
        Fault::Status { status: 429, retry_after_seconds: Some(1) },
    ));
    sim.simulator.add_fault(FaultRule::nth(
        Some("/v2/stats/activity/scorecards"),
        1,
        Fault::Status { status: 503, retry_after_seconds: None },
    ));
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gong.om");
    let started = std::time::Instant::now();
    run(backfill_config(&sim, cal.days_ago(12), cal.today, &output)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    let samples = parse_strictly(&std::fs::read_to_string(&output).unwrap());
    let a = REP_A.to_string();
    let counter = series(&samples, "gong_activity_calls_as_host_cumulative_total", &[("user_id", &a)]);
    assert_eq!(counter[0].last().map(|p| p.1), Some(17.0), "the data is complete");
    let retried: Vec<u16> = sim
        .simulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v2/stats/activity/"))
        .map(|r| r.status)
        .collect();
    assert!(retried.contains(&429) && retried.contains(&503), "{retried:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_with_rejected_credentials_says_what_to_check_and_writes_nothing() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gong.om");
    let mut config = backfill_config(&sim, cal.days_ago(3), cal.today, &output);
    config.client.credentials = Credentials::Basic { access_key: "demo".into(), secret: Secret::new("wrong") };
    let error = run(config).await.unwrap_err().to_string();
    assert!(error.contains("401") && error.contains("GONG_ACCESS_KEY"), "{error}");
    assert!(!error.contains("wrong"), "no secret in the message");
    assert!(!output.exists(), "no partial file");

    // A failure half-way (interaction keeps failing) leaves nothing behind.
    sim.simulator.add_fault(FaultRule::always(
        Some("/v2/stats/interaction"),
        Fault::Status { status: 500, retry_after_seconds: None },
    ));
    let error = run(backfill_config(&sim, cal.days_ago(3), cal.today, &output)).await.unwrap_err().to_string();
    assert!(error.contains("interaction") && error.contains("500"), "{error}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no output, temporary or scratch files: {left:?}");
}

/// A `--label` the exporter already writes (`window`, `user_id`...) would
/// give samples two labels of one name, which only promtool notices after
/// the whole range: the first day written stops the backfill, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_the_exporter_already_writes_is_refused_naming_it() {
    let cal = Calendar::now();
    let sim = start_simulator(fixture(&cal), 100, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gong.om");
    let mut config = backfill_config(&sim, cal.days_ago(3), cal.today, &output);
    config.labels = vec![("job".to_owned(), "gong".to_owned()), ("window".to_owned(), "x".to_owned())];
    let error = run(config).await.unwrap_err().to_string();
    assert!(error.contains("--label window") && error.contains("already"), "{error}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "no output, temporary or scratch files: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_writes_every_window_as_the_live_exporter_showed_it_each_morning() {
    let cal = Calendar::now();
    let mut data = fixture(&cal);
    // Before --from: in the first mornings' 28d windows, never in a counter.
    let mut early = gong_exporter::simulator::dataset::DayActivity::default();
    early.counts[gong_exporter::simulator::dataset::field_index("callsAsHost").unwrap()] = 6;
    data.activity.insert((2, cal.days_ago(35)), early);
    let sim = start_simulator(data, 2, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("gong.om");
    let mut config = backfill_config(&sim, cal.days_ago(12), cal.today, &output);
    config.windows = ["1d", "7d", "28d"].iter().map(|w| w.parse().unwrap()).collect();
    // The labels the live scrape carries, so the history joins it.
    config.labels = vec![("job".into(), "gong-exporter".into()), ("instance".into(), "gx:9863 \"a\"".into())];
    run(config).await.unwrap();

    let samples = parse_strictly(&std::fs::read_to_string(&output).unwrap());
    assert!(
        samples.keys().all(|(_, labels)| labels["job"] == "gong-exporter" && labels["instance"] == "gx:9863 \"a\""),
        "every series carries the --label labels"
    );
    let at = |days_ago: i64| start_of_day(cal.days_ago(days_ago - 1), &cal.tz).as_second();
    let a = REP_A.to_string();
    let points = |window: &str| -> BTreeMap<i64, f64> {
        let found = series(&samples, "gong_activity_calls_as_host", &[("user_id", &a), ("window", window)]);
        assert_eq!(found.len(), 1, "{window}");
        found[0].iter().copied().collect()
    };
    // REP_A hosted 10 calls 10 days ago, 4 three days ago, 3 yesterday. A
    // window on a morning is the days before it: 7d on the last morning is
    // days 7..1 ago.
    let week = points("7d");
    assert_eq!((week[&at(1)], week[&at(3)], week[&at(4)], week[&at(10)]), (7.0, 4.0, 10.0, 10.0));
    // The first mornings' 28d windows reach before --from (fetched, not counted).
    assert_eq!(points("28d")[&at(1)], 17.0);
    assert_eq!(points("28d")[&at(12)], 0.0);
    let b = REP_B.to_string();
    let b_month = series(&samples, "gong_activity_calls_as_host", &[("user_id", &b), ("window", "28d")]);
    let b_month: BTreeMap<i64, f64> = b_month[0].iter().copied().collect();
    assert_eq!(
        (b_month[&at(12)], b_month[&at(1)]),
        (6.0, 0.0),
        "35 days ago is in the first mornings' 28d, then slides out"
    );
    let b_counter = series(&samples, "gong_activity_calls_as_host_cumulative_total", &[("user_id", &b)]);
    assert!(b_counter.iter().all(|points| points.iter().all(|(_, v)| *v == 0.0)), "before --from: not counted");
    let counter = series(&samples, "gong_activity_calls_as_host_cumulative_total", &[("user_id", &a)]);
    assert_eq!(counter[0].first(), Some(&(at(12), 0.0)), "counting starts at --from");
    assert_eq!(counter[0].last(), Some(&(at(1), 17.0)));
    let s1 = SCORECARD_1.to_string();
    let reviews = |window: &str, days_ago: i64| -> f64 {
        series(&samples, "gong_scorecard_reviews", &[("scorecard_id", &s1), ("window", window)])
            .iter()
            .filter_map(|points| points.iter().find(|(t, _)| *t == at(days_ago)).map(|(_, v)| *v))
            .sum()
    };
    assert_eq!((reviews("7d", 1), reviews("1d", 1), reviews("7d", 4)), (2.0, 1.0, 0.0));
}
