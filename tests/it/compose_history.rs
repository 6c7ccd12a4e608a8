//! History in one command: scripts/backfill (run here by
//! deploy/compose/backfill.sh, as the demo stack runs it before Prometheus
//! starts) writes a few dozen blocks, recording rules included, that a
//! Prometheus with none of its flags changed reads: the dashboards' history
//! panels have a value at every hour of past weeks, and the coaching
//! baselines exist from the first evaluation. Needs `prometheus` and
//! `promtool` (Debian: `apt-get install prometheus`).

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::grafana::{dashboard_queries, repo_path};
use crate::common::*;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The query of the panel titled `title` that contains `part`, with the
/// dashboard's variables set as the demo stack's Grafana sets them: the
/// stack's job and instance, every manager and user.
fn panel_query(title: &str, part: &str) -> String {
    let (_, _, expr) = dashboard_queries()
        .into_iter()
        .find(|(_, t, e)| t == title && e.contains(part))
        .unwrap_or_else(|| panic!("no panel {title:?} reading {part}"));
    expr.replace("$job", "gong-exporter")
        .replace("$instance", "gong-exporter:9863")
        .replace("$manager", ".*")
        .replace("$user", ".*")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_in_one_command_fills_the_history_panels_without_a_global_flag() {
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
        .env("GONG_EXPORTER", env!("CARGO_BIN_EXE_gong-exporter"))
        .env("PROMTOOL", &promtool)
        .env("PROMETHEUS", &prometheus)
        .env("SIM_PORT", free_port().to_string())
        .env("PROM_PORT", free_port().to_string())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&script.stdout).into_owned() + &String::from_utf8_lossy(&script.stderr);
    assert!(script.status.success(), "backfill failed:\n{log}");
    assert!(log.contains("28 days of demo history"), "{log}");
    assert!(log.contains("recorded rule group gong-team-coaching"), "every rule group recorded: {log}");
    let blocks = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("01"))
        .count();
    assert!((1..=60).contains(&blocks), "{blocks} blocks for 28 days:\n{log}");

    // Prometheus with its default lookback, the rules, the data directory.
    let config = format!("global:\n  evaluation_interval: 1s\n{}", crate::common::prometheus::rule_files_yaml());
    let prom = crate::common::prometheus::Prometheus::spawn(
        &prometheus,
        dir.path(),
        &config,
        &data,
        &["--storage.tsdb.retention.time=100y", "--log.level=error"],
    );
    let has_data = |expr: String| {
        let prom = &prom;
        async move { prom.query(&expr).await.is_ok_and(|r| !r.is_empty()) }
    };
    // The baselines of GongCoachingActivityDrop and GongRepActivityDrop,
    // from the rules' first evaluations on the backfilled weeks.
    for expr in [
        "gong:team_coaching:7d:baseline",
        "gong:team_coaching_activity:7d:baseline",
        r#"gong:team_coaching:7d:baseline{signal="activity"}"#,
        "gong:user_call_activity:7d:baseline",
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !has_data(expr.into()).await {
            assert!(Instant::now() < deadline, "{expr} is empty after the backfill");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // The history panels as Grafana draws them, hour by hour over the
    // backfilled weeks (the last day is the live exporter's to fill).
    let now = jiff::Timestamp::now().as_second();
    let (start, end) = (now - 20 * 86_400, now - 2 * 86_400);
    for title in ["Calls hosted over time, by team (7 days)", "Team coaching acts, last 7 days, vs usual"] {
        let steps = prom.series_per_step(&panel_query(title, "gong:"), start, end, 3600).await;
        let drawn = steps.iter().filter(|n| **n > 0).count();
        assert!(drawn * 100 >= steps.len() * 95, "{title}: a value at {drawn} of {} hours", steps.len());
    }
    let week_of_calls =
        prom.values_at(&panel_query("Calls hosted by team", "$__range").replace("$__range", "7d"), end).await;
    assert!(week_of_calls.iter().sum::<f64>() > 10.0, "calls hosted over a backfilled week: {week_of_calls:?}");
    drop(prom);

    // A second run finds the history and leaves it alone.
    let again = Command::new("sh")
        .arg(repo_path("deploy/compose/backfill.sh"))
        .arg(&data)
        .env("GONG_EXPORTER", "/nonexistent")
        .output()
        .unwrap();
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("already holds"));
}

/// Without Prometheus's tools the script says what is missing and where it
/// comes from, before it asks Gong for anything.
#[test]
fn backfill_without_promtool_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(repo_path("scripts/backfill"))
        .args(["--gong.base-url", "http://127.0.0.1:9", "--from", "2026-11-01", "--to", "2026-11-08", "--tsdb"])
        .arg(dir.path().join("blocks"))
        .env("GONG_EXPORTER", env!("CARGO_BIN_EXE_gong-exporter"))
        .env("PROMTOOL", "/nonexistent/promtool")
        .env("PROMETHEUS", "/nonexistent/prometheus")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("promtool") && stderr.contains("prometheus") && stderr.contains("apt-get install prometheus"),
        "{stderr}"
    );
    assert!(!stderr.contains("gong-exporter ("), "the exporter was found: {stderr}");
    assert!(!dir.path().join("blocks").exists(), "nothing written");

    let out = Command::new(repo_path("scripts/backfill")).args(["--from", "2026-11-01"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from, --to and --tsdb are required"));
}
