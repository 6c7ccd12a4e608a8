//! The demo stack's history: deploy/compose/backfill.sh (what compose runs
//! before Prometheus starts) fills a Prometheus data directory from the
//! simulator, and a Prometheus started on it with the stack's flags and
//! rules has data where a fresh install showed zeros: team totals over the
//! time range, the 7-day series of past weeks and the coaching baselines.
//! Needs `prometheus` and `promtool` (Debian: `apt-get install prometheus`).

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::grafana::repo_path;
use crate::common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_stack_starts_with_weeks_of_history_and_baselines() {
    let (Some(promtool), Some(prometheus)) = (tool("promtool", "PROMTOOL_BIN"), tool("prometheus", "PROMETHEUS_BIN"))
    else {
        return;
    };
    let _heavy = heavy().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let script = Command::new("sh")
        .arg(repo_path("deploy/compose/backfill.sh"))
        .arg(&data)
        .arg(repo_path("alerts"))
        .env("GONG_EXPORTER", env!("CARGO_BIN_EXE_gong-exporter"))
        .env("PROMTOOL", &promtool)
        .env("PROMETHEUS", &prometheus)
        .env("SIM_PORT", free_port().to_string())
        .env("PROM_PORT", free_port().to_string())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&script.stdout).into_owned() + &String::from_utf8_lossy(&script.stderr);
    assert!(script.status.success(), "backfill.sh failed:\n{log}");
    assert!(log.contains("28 days of demo history"), "{log}");

    // Prometheus as the stack runs it: the rules, the lookback the script
    // used, the data directory the script filled.
    let config = format!("global:\n  evaluation_interval: 1s\n{}", crate::common::prometheus::rule_files_yaml());
    let prom = crate::common::prometheus::Prometheus::spawn(
        &prometheus,
        dir.path(),
        &config,
        &data,
        // Overlapping blocks (each pass writes its own) are expected.
        &["--storage.tsdb.retention.time=100y", "--query.lookback-delta=25h", "--log.level=error"],
    );
    let has_data = |expr: &'static str| {
        let prom = &prom;
        async move { prom.query(expr).await.is_ok_and(|r| !r.is_empty()) }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !has_data("gong:team_coaching:7d:baseline").await {
        assert!(Instant::now() < deadline, "no coaching baseline after the backfill");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // What a fresh install showed as zeros or nothing, now with data: the
    // counters over a week, a team's 7-day value a week ago and three weeks
    // ago, and the baselines of GongCoachingActivityDrop and the dashboards.
    let week_of_calls = prom
        .query(r#"sum(increase(gong_activity_calls_as_host_cumulative_total{job="gong-exporter", instance="gong-exporter:9863"}[7d]))"#)
        .await
        .unwrap();
    let calls: f64 = week_of_calls[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(calls > 10.0, "calls hosted over the last week: {calls}");
    for expr in [
        r#"gong:team_activity:sum{job="gong-exporter", instance="gong-exporter:9863", window="7d"} offset 1w"#,
        "gong:team_coaching_activity:7d offset 3w",
        "gong:team_coaching_activity:7d:baseline",
        r#"gong:team_coaching:7d:baseline{signal="activity"}"#,
        "gong:user_call_activity:7d:baseline",
    ] {
        assert!(has_data(expr).await, "{expr} is empty after the backfill");
    }
    drop(prom);

    // A second run finds the history and leaves it alone.
    let again = Command::new("sh")
        .arg(repo_path("deploy/compose/backfill.sh"))
        .arg(&data)
        .arg(repo_path("alerts"))
        .env("GONG_EXPORTER", "/nonexistent")
        .output()
        .unwrap();
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("already holds"));
}
