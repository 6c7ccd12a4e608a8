//! A real Prometheus scrapes the exporter in demo mode with every rule file
//! loaded; every dashboard query (variables substituted), every variable
//! query and every rule expression is evaluated through Prometheus's HTTP
//! API and must parse and return data, or be listed as expected-empty with a
//! reason. Needs `prometheus` on PATH (Debian: `apt-get install prometheus`):
//! `scripts/test` and CI require it; a bare `cargo test` without it says so
//! and skips.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::grafana::*;
use common::*;
use serde_json::Value;

/// Queries that legitimately return nothing right after start, and why.
const EXPECTED_EMPTY: [(&str, &str); 4] = [
    ("gong_interaction_stat", "the demo company reports only Gong's six documented interaction stats"),
    (":baseline", "baselines compare with the same value 1, 2 and 3 weeks ago: no history yet"),
    ("GongCoachingActivityDrop|GongRepActivityDrop", "alert conditions: nothing is wrong in the demo"),
    ("GongExporter", "alert conditions: nothing is wrong in the demo"),
];

fn expected_empty(what: &str, expr: &str) -> Option<&'static str> {
    EXPECTED_EMPTY
        .iter()
        .find_map(|(needle, reason)| needle.split('|').any(|n| expr.contains(n) || what.contains(n)).then_some(*reason))
}

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(bin: &str, target: std::net::SocketAddr) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let rules: Vec<String> = rule_files()
        .iter()
        .map(|(name, _)| format!("  - {}", repo_path(&format!("alerts/{name}")).display()))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{}\nscrape_configs:\n  - job_name: gong-exporter\n    static_configs:\n      - targets: ['{target}']\n",
        rules.join("\n")
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Prometheus { child, url: format!("http://127.0.0.1:{port}"), _dir: dir }
}

async fn query(prom: &Prometheus, expr: &str) -> Result<Vec<Value>, String> {
    let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", prom.url)).unwrap();
    url.query_pairs_mut().append_pair("query", expr);
    let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
    let body: Value =
        serde_json::from_slice(&response.bytes().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("{}: {}", body["errorType"], body["error"]));
    }
    Ok(body["data"]["result"].as_array().cloned().unwrap_or_default())
}

/// Grafana's variables and built-ins, as Grafana would substitute them with
/// "All" selected.
fn substitute(expr: &str) -> String {
    let mut out = expr.to_owned();
    for var in ["manager", "user", "scorecard", "method", "instance"] {
        out = out.replace(&format!("${{{var}:regex}}"), ".*");
    }
    if let Some(rest) = out.strip_prefix("label_values(") {
        // label_values(selector, label) -> count by (label) (selector)
        let inner = rest.strip_suffix(')').unwrap();
        let (selector, label) = inner.rsplit_once(',').unwrap();
        out = format!("count by ({}) ({})", label.trim(), selector.trim());
    }
    out.replace("$window", "7d").replace("$__rate_interval", "1m").replace("$__range", "5m")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_variable_and_rule_evaluates_in_a_real_prometheus() {
    let Some(bin) = tool("prometheus", "PROMETHEUS_BIN") else { return };
    let exporter = gong_exporter::start(demo_config(40)).await.unwrap();
    wait_ready(exporter.local_addr()).await;
    let prom = start_prometheus(&bin, exporter.local_addr());

    // Scraped, and every rule group evaluated at least once after that.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = query(&prom, "gong:team_activity:sum").await.map(|r| !r.is_empty()).unwrap_or(false)
            && query(&prom, "gong:team_coaching_activity:7d").await.map(|r| !r.is_empty()).unwrap_or(false)
            // The coaching collector publishes after the regular endpoints.
            && query(&prom, "gong:manager_coaching:7d").await.map(|r| !r.is_empty()).unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped and evaluated the rules");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every rule loaded and evaluates without error.
    let rules: Value = serde_json::from_slice(
        &reqwest::get(format!("{}/api/v1/rules", prom.url)).await.unwrap().bytes().await.unwrap(),
    )
    .unwrap();
    let mut rule_exprs = Vec::new();
    for group in rules["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["name"].as_str().unwrap().to_owned();
            assert_eq!(rule["health"], "ok", "rule {name}: {}", rule["lastError"]);
            rule_exprs.push((name, rule["query"].as_str().unwrap().to_owned()));
        }
    }
    let in_files: usize = rule_files()
        .iter()
        .map(|(_, text)| text.matches("- record: ").count() + text.matches("- alert: ").count())
        .sum();
    assert_eq!(rule_exprs.len(), in_files, "every rule in alerts/ loaded");

    let mut checked = 0;
    let mut empty: BTreeMap<String, &str> = BTreeMap::new();
    let all = dashboard_queries()
        .into_iter()
        .map(|(d, title, expr)| (format!("{d}: {title}"), expr))
        .chain(rule_exprs.into_iter().map(|(name, expr)| (format!("rule {name}"), expr)));
    for (what, expr) in all {
        let promql = substitute(&expr);
        let result = query(&prom, &promql).await.unwrap_or_else(|e| panic!("{what}: does not evaluate: {e}\n{promql}"));
        checked += 1;
        match (result.is_empty(), expected_empty(&what, &expr)) {
            (false, _) => {}
            (true, Some(reason)) => {
                empty.insert(what, reason);
            }
            (true, None) => panic!("{what}: returned no data\n{promql}"),
        }
    }
    eprintln!("{checked} queries evaluated; expected-empty:");
    for (what, reason) in &empty {
        eprintln!("  {what}: {reason}");
    }
    assert!(checked > 90, "{checked}");
    exporter.shutdown().await;
}
