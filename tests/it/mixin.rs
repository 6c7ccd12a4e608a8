//! The monitoring mixin (`mixin/`, jsonnet) is the source of the rules:
//! `alerts/*.yml` are generated from it and must be up to date, and what
//! an installation configures (the scrape job, the runbook's address, the
//! thresholds) changes the rules without editing them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::grafana::repo_path;
use crate::common::tool;

/// `jsonnet` evaluating `code` (with `mixin/` importable), as JSON.
fn evaluate(jsonnet: &str, code: &str) -> Value {
    let out = Command::new(jsonnet).args(["-J", "mixin", "-e", code]).current_dir(repo_path("")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_rule_files_are_generated_from_the_mixin() {
    let Some(jsonnet) = tool("jsonnet", "JSONNET") else { return };
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(&jsonnet)
        .args(["-S", "-m"])
        .arg(out.path())
        .arg("mixin/build.jsonnet")
        .current_dir(repo_path(""))
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let mut stale = Vec::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let generated = entry.unwrap().path();
        let name = generated.file_name().unwrap().to_string_lossy().into_owned();
        let committed = repo_path(&format!("alerts/{name}"));
        let text = std::fs::read_to_string(&generated).unwrap();
        if std::fs::read_to_string(&committed).ok().as_deref() != Some(text.as_str()) {
            if std::env::var_os("GONG_EXPORTER_BLESS").is_some() {
                std::fs::write(&committed, &text).unwrap();
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "alerts/{stale:?} differ from mixin/: run GONG_EXPORTER_BLESS=1 cargo test --test it mixin:: and commit"
    );
    let rule_files = std::fs::read_dir(repo_path("alerts"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yml"));
    assert_eq!(rule_files.count(), 3, "every rule file in alerts/ comes from the mixin");
}

/// Renaming the scrape job, moving the runbook or changing a threshold is
/// a `_config` override, as kube-prometheus users write it.
#[test]
fn the_job_selector_runbook_and_thresholds_are_configuration() {
    let Some(jsonnet) = tool("jsonnet", "JSONNET") else { return };
    // The mixin's fields are hidden (`::`), as every mixin's are: named
    // here to be output.
    let code = "local m = (import 'mixin.libsonnet') + { _config+:: { gongExporterSelector: 'job=\"gong\", namespace=\"sales\"', \
                runbookURLBase: 'https://wiki.example.com/gong', dataStaleHours: 50 } }; \
                { prometheusAlerts: m.prometheusAlerts, prometheusRules: m.prometheusRules, grafanaDashboards: m.grafanaDashboards }";
    let mixin = evaluate(&jsonnet, code);
    let all: Vec<&Value> = ["prometheusAlerts", "prometheusRules"]
        .iter()
        .flat_map(|k| mixin[k]["groups"].as_array().unwrap())
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let selecting: Vec<&str> = all.iter().map(|r| r["expr"].as_str().unwrap()).filter(|e| e.contains("job=")).collect();
    assert_eq!(selecting, ["up{job=\"gong\", namespace=\"sales\"}"], "one rule selects the job");
    let stale = all.iter().find(|r| r["alert"] == "GongExporterDataStale").unwrap();
    assert!(stale["expr"].as_str().unwrap().contains("> 50 * 3600"), "{}", stale["expr"]);
    for alert in all.iter().filter(|r| r["alert"].is_string()) {
        let url = alert["annotations"]["runbook_url"].as_str().unwrap();
        let name = alert["alert"].as_str().unwrap().to_lowercase();
        assert_eq!(url, format!("https://wiki.example.com/gong#{name}"));
    }
    let dashboards = mixin["grafanaDashboards"].as_object().unwrap();
    for (name, shipped) in crate::common::grafana::dashboards() {
        assert_eq!(dashboards.get(&name), Some(&shipped), "{name}: in the mixin as shipped");
    }
    assert!(Path::new(&repo_path("mixin/mixin.libsonnet")).exists());
}

/// The recording rules' groups are ordered: a rule reads only rules of
/// earlier groups, so backfill records history group by group (each group
/// sees the ones before it) and a live evaluation never reads a rule a
/// group later.
#[test]
fn each_recording_rule_reads_only_rules_of_earlier_groups() {
    let text = std::fs::read_to_string(repo_path("alerts/gong-recording.yml")).unwrap();
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let groups = parsed["groups"].as_sequence().unwrap();
    assert!(groups.len() > 1, "recording rules in ordered groups");
    let recorded_in: Vec<Vec<String>> = groups
        .iter()
        .map(|g| g["rules"].as_sequence().unwrap().iter().map(|r| r["record"].as_str().unwrap().to_owned()).collect())
        .collect();
    for (index, group) in groups.iter().enumerate() {
        for rule in group["rules"].as_sequence().unwrap() {
            let (name, expr) = (rule["record"].as_str().unwrap(), rule["expr"].as_str().unwrap());
            for (later, names) in recorded_in.iter().enumerate().skip(index) {
                let reads = crate::common::grafana::metric_names(expr).1;
                if let Some(read) = names.iter().find(|n| reads.contains(*n)) {
                    panic!("{name} (group {index}) reads {read}, recorded in group {later}: move it to a later group");
                }
            }
        }
    }
}

/// One sampling interval for backfilled rule history everywhere: the
/// mixin's `historySampleInterval` (what the baselines look back over),
/// scripts/backfill's evaluation step, and the dashboards' last_over_time.
#[test]
fn backfill_rules_and_dashboards_agree_on_the_history_sample_interval() {
    let Some(jsonnet) = tool("jsonnet", "JSONNET") else { return };
    let interval = evaluate(&jsonnet, "(import 'mixin.libsonnet')._config.historySampleInterval");
    let interval = interval.as_str().unwrap();
    let script = std::fs::read_to_string(repo_path("scripts/backfill")).unwrap();
    assert!(script.contains(&format!("--eval-interval {interval}")), "scripts/backfill evaluates every {interval}");
    let mut seen = 0;
    for (_, title, expr) in crate::common::grafana::dashboard_queries() {
        for range in expr.split("last_over_time(").skip(1) {
            let window = range.split('[').nth(1).and_then(|r| r.split(']').next()).unwrap();
            assert_eq!(window, interval, "{title}: {expr}");
            seen += 1;
        }
    }
    assert!(seen >= 3, "the history panels read recorded series with last_over_time");
}
