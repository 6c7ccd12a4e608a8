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

/// Every rule of `alerts/*.yml` (files in name order, rules in file
/// order), with its file's name.
pub fn rules() -> Vec<(String, serde_yaml_ng::Value)> {
    let mut out = Vec::new();
    for (file, text) in rule_files() {
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        for group in parsed["groups"].as_sequence().unwrap() {
            out.extend(group["rules"].as_sequence().unwrap().iter().map(|r| (file.clone(), r.clone())));
        }
    }
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
            if word.contains(':') {
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

/// A query variable of a dashboard, as Grafana resolves it.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub query: String,
    /// The `/.../` regex Grafana applies to each result; named groups
    /// `value` and `text` split what a query sends from what a user reads.
    pub regex: Option<regex::Regex>,
    pub multi: bool,
    pub include_all: bool,
    pub all_value: Option<String>,
    /// The value a single-value variable opens with, if the JSON sets one.
    pub current: Option<String>,
}

/// What a variable is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selected {
    All,
    One(String),
}

/// The query variables of a dashboard, in order (later ones may use
/// earlier ones).
pub fn variables(dashboard: &Value) -> Vec<Variable> {
    dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let regex = v["regex"].as_str().filter(|r| !r.is_empty()).map(|r| {
                let body = r.strip_prefix('/').and_then(|r| r.rsplit_once('/')).map_or(r, |(body, _flags)| body);
                regex::Regex::new(body).unwrap_or_else(|e| panic!("variable {}: regex {r}: {e}", v["name"]))
            });
            Variable {
                name: v["name"].as_str().unwrap().to_owned(),
                query: v["query"]["query"].as_str().or(v["query"].as_str()).unwrap().to_owned(),
                regex,
                multi: v["multi"].as_bool().unwrap_or(false),
                include_all: v["includeAll"].as_bool().unwrap_or(false),
                all_value: v["allValue"].as_str().map(str::to_owned),
                current: v["current"]["value"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

/// Grafana's `regex` format (kbn.regexEscape).
fn regex_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if "\\^$*+?.()|[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Prometheus data source's default format for a single-value variable
/// (prometheusRegularEscape).
fn prometheus_regular_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\\\'")
}

/// The Prometheus data source's default format for a multi-value variable
/// (prometheusSpecialRegexEscape).
fn prometheus_special_regex_escape(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        if c == '\\' {
            out.push_str("\\\\\\\\");
        } else if "$^*{}[]'+?.()|".contains(c) {
            out.push_str("\\\\");
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// What Grafana writes for `variable` set to `selected`, in `format`.
fn render(variable: &Variable, selected: &Selected, format: Option<&str>) -> String {
    match selected {
        Selected::All => variable.all_value.clone().unwrap_or_else(|| ".*".to_owned()),
        Selected::One(value) => match format {
            Some("regex") => regex_escape(value),
            Some("raw") => value.clone(),
            _ if !variable.multi && !variable.include_all => prometheus_regular_escape(value),
            _ => prometheus_special_regex_escape(value),
        },
    }
}

/// Grafana's interpolation of `expr` for the Prometheus data source:
/// `$name`, `${name}` and `${name:format}`, plus the built-ins the
/// dashboards use.
pub fn interpolate(expr: &str, values: &[(&Variable, Selected)]) -> String {
    let built_in = [("__rate_interval", "1m"), ("__interval", "1m"), ("__range", "1h")];
    let mut out = String::new();
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, format, len) = if let Some(inner) = after.strip_prefix('{') {
            let close = inner.find('}').expect("closed ${...}");
            let (name, format) = inner[..close].split_once(':').map_or((&inner[..close], None), |(n, f)| (n, Some(f)));
            (name, format, close + 2)
        } else {
            let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..len], None, len)
        };
        if let Some((variable, selected)) = values.iter().find(|(v, _)| v.name == name) {
            out.push_str(&render(variable, selected, format));
        } else if let Some((_, value)) = built_in.iter().find(|(n, _)| *n == name) {
            out.push_str(value);
        } else {
            // Not a variable (e.g. `$1` in label_replace): as written.
            out.push('$');
            out.push_str(&after[..len]);
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// The `(text, value)` options Grafana offers for `variable`, given the
/// earlier variables' selections.
pub async fn variable_options(
    prometheus: &super::prometheus::Prometheus,
    variable: &Variable,
    earlier: &[(&Variable, Selected)],
) -> Result<Vec<(String, String)>, String> {
    let query = interpolate(&variable.query, earlier);
    let lines: Vec<String> = if let Some(inner) = query.strip_prefix("label_values(").and_then(|q| q.strip_suffix(')'))
    {
        match inner.rsplit_once(',') {
            Some((selector, label)) => prometheus.label_values(label.trim(), Some(selector.trim())).await?,
            None => prometheus.label_values(inner.trim(), None).await?,
        }
    } else if let Some(inner) = query.strip_prefix("query_result(").and_then(|q| q.strip_suffix(')')) {
        // As Grafana writes each result: name{k="v",...} value timestamp,
        // labels in the order Prometheus sends them (sorted by name).
        prometheus
            .query(inner)
            .await?
            .iter()
            .map(|series| {
                let labels = series["metric"].as_object().unwrap();
                let name = labels.get("__name__").and_then(Value::as_str).unwrap_or("");
                let pairs: Vec<String> = labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap()))
                    .collect();
                let [at, value] = [&series["value"][0], &series["value"][1]];
                format!("{name}{{{}}} {} {}", pairs.join(","), value.as_str().unwrap(), at.as_f64().unwrap() * 1000.0)
            })
            .collect()
    } else {
        return Err(format!("variable {}: unsupported query {query}", variable.name));
    };
    let mut options: Vec<(String, String)> = lines
        .iter()
        .filter_map(|line| match &variable.regex {
            None => Some((line.clone(), line.clone())),
            Some(regex) => {
                let captures = regex.captures(line)?;
                let value = captures.name("value").or_else(|| captures.get(1))?.as_str().to_owned();
                let text = captures.name("text").map_or_else(|| value.clone(), |t| t.as_str().to_owned());
                Some((text, value))
            }
        })
        .collect();
    options.sort();
    options.dedup();
    Ok(options)
}
