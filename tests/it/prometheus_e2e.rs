//! A real Prometheus scrapes the exporter in demo mode with every rule file
//! loaded; every dashboard query (variables substituted), every variable
//! query and every rule expression is evaluated through Prometheus's HTTP
//! API and must parse and return data, or be listed as expected-empty with a
//! reason. Needs `prometheus` on PATH (Debian: `apt-get install prometheus`):
//! `scripts/test` and CI require it; a bare `cargo test` without it says so
//! and skips.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::common::grafana::*;
use crate::common::prometheus::*;
use crate::common::*;
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

/// The dashboard's variables set as it opens: single-value ones to their
/// saved value or first option, multi-value ones to All.
async fn defaults<'a>(prom: &Prometheus, vars: &'a [Variable]) -> Vec<(&'a Variable, Selected)> {
    let mut chosen: Vec<(&Variable, Selected)> = Vec::new();
    for var in vars {
        let selected = if var.include_all {
            Selected::All
        } else {
            let options = variable_options(prom, var, &chosen).await.unwrap_or_else(|e| panic!("{}: {e}", var.name));
            let value = var
                .current
                .clone()
                .filter(|c| options.iter().any(|(_, v)| v == c))
                .or_else(|| options.first().map(|(_, v)| v.clone()))
                .unwrap_or_else(|| panic!("variable {} offers nothing", var.name));
            Selected::One(value)
        };
        chosen.push((var, selected));
    }
    chosen
}

/// `(panel title, expr)` of every panel query of `dashboard`.
fn panel_queries(dashboard: &str) -> Vec<(String, String)> {
    dashboard_queries()
        .into_iter()
        .filter(|(d, title, _)| d == dashboard && !title.starts_with("variable "))
        .map(|(_, title, expr)| (title, expr))
        .collect()
}

/// Whether `expr` uses variable `name` (`$name`, `${name}`, `${name:...}`).
fn uses(expr: &str, name: &str) -> bool {
    let plain = format!("${name}");
    expr.contains(&format!("${{{name}}}"))
        || expr.contains(&format!("${{{name}:"))
        || expr
            .match_indices(&plain)
            .any(|(at, _)| !expr[at + plain.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

/// The demo exporter and a Prometheus scraping it with every rule loaded,
/// once the coaching collector's series are in and the rules evaluated.
async fn demo_with_prometheus(bin: &str) -> (ExporterGuard, Prometheus) {
    let exporter = start_exporter(demo_config(40)).await;
    wait_ready(exporter.local_addr()).await;
    let prom = start_prometheus(bin, exporter.local_addr());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut ready = true;
        // The variables read gong:manager_info and gong:team_members:count,
        // which a group evaluates after gong:team_activity:sum: a query
        // between the two found no manager (failed once in a full run).
        for rule in [
            "gong:manager_info",
            "gong:team_activity:sum",
            "gong:team_members:count",
            "gong:team_coaching_activity:7d",
            "gong:manager_coaching:7d",
        ] {
            ready &= prom.query(rule).await.map(|r| !r.is_empty()).unwrap_or(false);
        }
        // Rules in different groups evaluate at their own offsets, so a rule
        // reading another group's output lags it by an interval: the manager
        // variable once found gong:team_members:count holding only the
        // "(none)" team, counted from a gong:user_info:with_manager of an
        // evaluation before the users were joined to their managers. Ready
        // means every dashboard variable offers what it will offer.
        if ready {
            ready = every_variable_offers_something(&prom).await;
        }
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never scraped and evaluated the rules");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (exporter, prom)
}

/// Whether every variable of every dashboard, set as the dashboard opens,
/// offers at least one value.
async fn every_variable_offers_something(prom: &Prometheus) -> bool {
    for (_, d) in dashboards() {
        let vars = variables(&d);
        let mut chosen: Vec<(&Variable, Selected)> = Vec::new();
        for var in &vars {
            match variable_options(prom, var, &chosen).await {
                Ok(options) if !options.is_empty() => {
                    let first = options[0].1.clone();
                    chosen.push((var, if var.include_all { Selected::All } else { Selected::One(first) }));
                }
                _ => return false,
            }
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_variable_and_rule_evaluates_in_a_real_prometheus() {
    let Some(bin) = tool("prometheus", "PROMETHEUS_BIN") else { return };
    let _heavy = heavy().await;
    let (exporter, prom) = demo_with_prometheus(&bin).await;

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
    let in_files = crate::common::grafana::rules().len();
    assert_eq!(rule_exprs.len(), in_files, "every rule in alerts/ loaded");

    let mut checked = 0;
    let mut empty: BTreeMap<String, &str> = BTreeMap::new();
    let mut all: Vec<(String, String)> =
        rule_exprs.into_iter().map(|(name, expr)| (format!("rule {name}"), expr)).collect();
    for (name, d) in dashboards() {
        let vars = variables(&d);
        let chosen = defaults(&prom, &vars).await;
        // Every variable offers something.
        for (index, var) in vars.iter().enumerate() {
            let options =
                variable_options(&prom, var, &chosen[..index]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!options.is_empty(), "{name}: variable {} offers nothing", var.name);
            checked += 1;
        }
        for (title, expr) in panel_queries(&name) {
            all.push((format!("{name}: {title}"), interpolate(&expr, &chosen)));
        }
    }
    for (what, promql) in all {
        let result = prom.query(&promql).await.unwrap_or_else(|e| panic!("{what}: does not evaluate: {e}\n{promql}"));
        checked += 1;
        match (result.is_empty(), expected_empty(&what, &promql)) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_of_every_variable_renders_queries_that_parse_and_find_data() {
    let Some(bin) = tool("prometheus", "PROMETHEUS_BIN") else { return };
    let _heavy = heavy().await;
    let (exporter, prom) = demo_with_prometheus(&bin).await;
    let mut rendered = 0;
    let mut values_tried = 0;
    for (name, d) in dashboards() {
        let vars = variables(&d);
        let base = defaults(&prom, &vars).await;
        let queries = panel_queries(&name);
        // Which panel queries have data with every variable at its default.
        let mut with_data = BTreeSet::new();
        for (title, expr) in &queries {
            let promql = interpolate(expr, &base);
            let result = prom.query(&promql).await.unwrap_or_else(|e| panic!("{name}: '{title}': {e}\n{promql}"));
            if !result.is_empty() {
                with_data.insert(expr.clone());
            }
        }
        for (index, var) in vars.iter().enumerate() {
            let options = variable_options(&prom, var, &base[..index]).await.unwrap_or_else(|e| panic!("{name}: {e}"));
            let users: Vec<&(String, String)> = queries.iter().filter(|(_, e)| uses(e, &var.name)).collect();
            let mut found = BTreeSet::new();
            for (text, value) in &options {
                values_tried += 1;
                let mut chosen = base.clone();
                chosen[index].1 = Selected::One(value.clone());
                for (title, expr) in &users {
                    let promql = interpolate(expr, &chosen);
                    rendered += 1;
                    match prom.query(&promql).await {
                        Ok(result) if !result.is_empty() => {
                            found.insert(expr.clone());
                        }
                        Ok(_) => {}
                        Err(e) => panic!("{name}: '{title}' with {} = {text:?} ({value}): {e}\n{promql}", var.name),
                    }
                }
            }
            for (title, expr) in &users {
                if with_data.contains(expr) {
                    assert!(
                        found.contains(expr),
                        "{name}: '{title}' has data with {} at its default but with no single value of it",
                        var.name
                    );
                }
            }
        }
    }
    eprintln!("{rendered} queries rendered for {values_tried} variable values");
    assert!(values_tried > 50 && rendered > 500, "{values_tried} values, {rendered} queries");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_format_passes_promtool_check_metrics_and_openmetrics_a_strict_parser() {
    let Some(promtool) = tool("promtool", "PROMTOOL_BIN") else { return };
    let exporter = start_exporter(demo_config(40)).await;
    let addr = exporter.local_addr();
    // With coaching and counters in, every kind of family is there.
    let strict =
        wait_for_metrics(addr, "coaching series", |m| m.series.iter().any(|s| s.name.starts_with("gong_coaching_")))
            .await;
    assert!(strict.types.values().any(|t| t == "counter") && strict.types.values().any(|t| t == "histogram"));
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    assert!(text.contains("# TYPE gong_exporter_api_requests_total counter"));
    let mut check = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut check.stdin.take().unwrap(), text.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}");
    exporter.shutdown().await;
}
