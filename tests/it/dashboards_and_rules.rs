//! The shipped dashboards and rules, checked without Grafana or Prometheus:
//! well-formed for Grafana, and every metric they use is one the exporter
//! really serves.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::grafana::*;
use crate::common::*;

#[test]
fn dashboards_are_well_formed_for_grafana() {
    let mut uids = BTreeSet::new();
    for (name, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap();
        assert!(uids.insert(uid.to_owned()), "{name}: uid {uid} reused");
        assert_eq!(format!("{uid}.json"), name, "file named after its stable uid");
        assert!(d["schemaVersion"].as_u64().unwrap() >= 39, "{name}: schemaVersion");
        assert!(d["title"].as_str().unwrap().starts_with("Gong: "));
        let variables: BTreeMap<&str, &serde_json::Value> =
            d["templating"]["list"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
        assert_eq!(variables["datasource"]["type"], "datasource");
        assert_eq!(variables["datasource"]["query"], "prometheus");
        let mut ids = BTreeSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap();
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{name}: panel id of '{title}' not unique");
            let grid = &p["gridPos"];
            assert!(
                grid["w"].as_u64().unwrap() <= 24 && grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24,
                "{name}: '{title}' overflows the grid"
            );
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{name}: '{title}' must use the datasource variable");
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{name}: '{title}' has no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{name}: '{title}' query datasource");
                let expr = t["expr"].as_str().unwrap();
                // Every $variable a query uses is defined.
                for var in expr.split('$').skip(1) {
                    let var = var.trim_start_matches('{');
                    let ident: String = var.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                    if ident.is_empty() || ident.starts_with("__") || ident.chars().all(|c| c.is_ascii_digit()) {
                        continue;
                    }
                    assert!(variables.contains_key(ident.as_str()), "{name}: '{title}' uses undefined ${ident}");
                }
            }
        }
        for v in variables.values() {
            if v["type"] == "query" {
                assert_eq!(v["datasource"]["uid"], "${datasource}", "{name}: variable {}", v["name"]);
            }
        }
    }
}

#[test]
fn every_alert_has_severity_summary_description_and_a_runbook_section() {
    let runbook = std::fs::read_to_string(repo_path("docs/runbook.md")).unwrap();
    let mut alerts = Vec::new();
    for (file, rule) in rules() {
        let Some(name) = rule["alert"].as_str() else { continue };
        for key in ["summary", "description"] {
            assert!(rule["annotations"][key].as_str().is_some_and(|t| !t.is_empty()), "{file}: {name} lacks {key}");
        }
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(["critical", "warning", "info"].contains(&severity), "{name}: severity {severity:?}");
        // Absolute, from the mixin's runbook base: an alert seen in
        // Alertmanager or a pager links somewhere that opens.
        let url = rule["annotations"]["runbook_url"].as_str().unwrap_or_default();
        let anchor = format!("/docs/runbook.md#{}", name.to_lowercase());
        assert!(url.starts_with("https://") && url.ends_with(&anchor), "{name}: runbook_url {url:?}, want ...{anchor}");
        assert!(runbook.contains(&format!("\n## {name}\n")), "{name}: no section in docs/runbook.md");
        alerts.push(name.to_owned());
    }
    let expected = [
        "GongCoachingActivityDrop",
        "GongRepActivityDrop",
        "GongExporterDown",
        "GongExporterPollFailing",
        "GongExporterDataStale",
        "GongExporterRateLimited",
        "GongExporterDailyBudgetHigh",
        "GongExporterAuthFailing",
    ];
    for name in expected {
        assert!(alerts.iter().any(|a| a == name), "{name} missing");
    }
}

/// Metrics the exporter serves only when Gong sends something unusual.
const CONDITIONAL: [(&str, &str); 1] =
    [("gong_interaction_stat", "only when Gong reports a stat beyond its six documented ones")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_used_by_dashboards_and_rules_exists_in_the_exporters_output() {
    let exporter = start_exporter(demo_config(40)).await;
    // The coaching collector publishes after the regular endpoints.
    let m = wait_for_metrics(exporter.local_addr(), "coaching series", |m| {
        m.series.iter().any(|s| s.name.starts_with("gong_coaching_"))
    })
    .await;
    let mut served: BTreeSet<String> = m.series.iter().map(|s| s.name.clone()).collect();
    for (family, kind) in &m.types {
        if kind == "histogram" {
            served.extend(["_bucket", "_count", "_sum"].map(|suffix| format!("{family}{suffix}")));
        }
    }
    exporter.shutdown().await;

    let mut recorded = BTreeSet::new();
    let mut used: BTreeMap<String, String> = BTreeMap::new();
    let mut used_rules: BTreeMap<String, String> = BTreeMap::new();
    recorded.extend(rules().iter().filter_map(|(_, r)| r["record"].as_str().map(str::to_owned)));
    for (file, text) in rule_files() {
        let (metrics, rules) = metric_names(&text);
        used.extend(metrics.into_iter().map(|m| (m, file.clone())));
        used_rules.extend(rules.into_iter().map(|r| (r, file.clone())));
    }
    for (dashboard, title, expr) in dashboard_queries() {
        let (metrics, rules) = metric_names(&expr);
        used.extend(metrics.into_iter().map(|m| (m, format!("{dashboard}: {title}"))));
        used_rules.extend(rules.into_iter().map(|r| (r, format!("{dashboard}: {title}"))));
    }
    assert!(used.len() > 30, "{used:?}");
    for (metric, place) in &used {
        if CONDITIONAL.iter().any(|(m, _)| m == metric) {
            continue;
        }
        assert!(served.contains(metric), "{place} uses {metric}, which the exporter does not serve");
    }
    for (rule, place) in &used_rules {
        assert!(recorded.contains(rule), "{place} uses {rule}, which no recording rule defines");
    }
}

/// The unit Grafana shows for a table column, from its overrides (by the
/// column's name) or the panel default.
fn column_unit(panel: &serde_json::Value, column: &str) -> String {
    let overridden = panel["fieldConfig"]["overrides"].as_array().into_iter().flatten().find_map(|o| {
        (o["matcher"]["id"] == "byName" && o["matcher"]["options"] == column).then(|| {
            o["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == "unit")
                .map(|p| p["value"].as_str().unwrap().to_owned())
        })?
    });
    overridden.unwrap_or_else(|| panel["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("short").to_owned())
}

#[test]
fn table_columns_of_ratios_and_durations_carry_their_units() {
    let mut checked = 0;
    for (name, d) in dashboards() {
        for p in panels(&d).into_iter().filter(|p| p["type"] == "table") {
            for t in p["targets"].as_array().unwrap() {
                let expr = t["expr"].as_str().unwrap();
                let column = t["legendFormat"].as_str().unwrap();
                let want = if expr.contains("gong_interaction_talk_ratio") {
                    "percentunit"
                } else if expr.contains("_seconds{") && !expr.contains("_timestamp_seconds") {
                    "s"
                } else {
                    continue;
                };
                checked += 1;
                assert_eq!(column_unit(p, column), want, "{name}: '{}' column {column}", p["title"]);
            }
        }
    }
    assert!(checked >= 4, "{checked}");
}

#[test]
fn panels_that_need_prometheus_history_say_so() {
    let mut checked = 0;
    for (name, d) in dashboards() {
        for p in panels(&d).into_iter().filter(|p| p["type"] != "row") {
            let exprs: Vec<&str> =
                p["targets"].as_array().unwrap().iter().map(|t| t["expr"].as_str().unwrap()).collect();
            // Counters over the time range, weeks-old baselines, and team
            // lines over time read nothing on a fresh install.
            let needs_history = exprs.iter().any(|e| {
                e.contains("_cumulative_total")
                    || e.contains(":baseline")
                    || (p["type"] == "timeseries" && e.contains("gong:team"))
            });
            if needs_history {
                checked += 1;
                let description = p["description"].as_str().unwrap_or("");
                assert!(
                    description.contains("Needs history"),
                    "{name}: '{}' does not say it needs history",
                    p["title"]
                );
            }
        }
    }
    assert!(checked >= 5, "{checked}");
}
