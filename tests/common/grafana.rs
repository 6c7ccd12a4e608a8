//! Reading the shipped dashboards and rule files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Every `dashboards/*.json`, parsed.
pub fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo_path("dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".json") {
            let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            out.push((name, value));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 4, "four dashboards, and nothing else, in dashboards/ (Grafana loads every JSON file there)");
    out
}

/// Every panel, rows included, of a dashboard.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// `(dashboard, panel title, expr)` for every query in every dashboard,
/// variables' queries included (as `label_values(...)`).
pub fn dashboard_queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, d) in dashboards() {
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    name.clone(),
                    p["title"].as_str().unwrap().to_owned(),
                    t["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            if let Some(q) = v["query"]["query"].as_str() {
                out.push((name.clone(), format!("variable {}", v["name"].as_str().unwrap()), q.to_owned()));
            }
        }
    }
    out
}

/// The text of every rule file in `alerts/`.
pub fn rule_files() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(repo_path("alerts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// Metric names a PromQL text (or rule file) uses: `gong_*` names, with
/// `gong_activity_(a|b)` alternations expanded, and `gong:*` rule names.
pub fn metric_names(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut metrics = BTreeSet::new();
    let mut rules = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("gong").map(|p| p + i) {
        let start = at;
        let mut end = at;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b':') {
            end += 1;
        }
        let word = &text[start..end];
        let preceded = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b'-'
                || bytes[start - 1] == b'/');
        if !preceded {
            if word.starts_with("gong:") {
                rules.insert(word.trim_end_matches(':').to_owned());
            } else if word.starts_with("gong_") {
                if bytes.get(end) == Some(&b'(') {
                    // `gong_activity_(a|b|c)` inside a __name__ regex.
                    let close = text[end..].find(')').map(|p| p + end).unwrap();
                    let literal = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    for alt in text[end + 1..close].split('|').filter(|a| literal(a)) {
                        metrics.insert(format!("{word}{alt}"));
                    }
                } else if bytes.get(end) != Some(&b'.') {
                    metrics.insert(word.to_owned());
                }
            }
        }
        i = end.max(at + 4);
    }
    (metrics, rules)
}
