//! A real Prometheus (Debian's `prometheus` package) for the end-to-end
//! tests: started on a free loopback port with the repository's rule files,
//! scraping the given targets, and queried through its HTTP API.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use super::grafana::{repo_path, rule_files};

pub struct Prometheus {
    /// The process, when this handle started it (killed on drop).
    child: Option<Child>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Prometheus scraping `target` every second as job `gong-exporter`, with
/// every rule file in `alerts/`.
pub fn start_prometheus(bin: &str, target: SocketAddr) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{}scrape_configs:\n  - job_name: gong-exporter\n    static_configs:\n      - targets: ['{target}']\n",
        rule_files_yaml()
    );
    let mut prometheus = Prometheus::spawn(bin, dir.path(), &config, &dir.path().join("data"), &["--log.level=warn"]);
    prometheus._dir = Some(dir);
    prometheus
}

/// `rule_files:` naming every rule file in `alerts/`.
pub fn rule_files_yaml() -> String {
    let rules: Vec<String> = rule_files()
        .iter()
        .map(|(name, _)| format!("  - {}", repo_path(&format!("alerts/{name}")).display()))
        .collect();
    format!("rule_files:\n{}\n", rules.join("\n"))
}

impl Prometheus {
    /// Starts `bin` on a free loopback port with `config` (written into
    /// `dir`) and the TSDB in `data`, plus `extra` flags; killed on drop,
    /// however the test ends.
    pub fn spawn(bin: &str, dir: &Path, config: &str, data: &Path, extra: &[&str]) -> Self {
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self { child: Some(child), url: format!("http://127.0.0.1:{port}"), _dir: None }
    }

    /// Waits up to 20 s for `/-/ready`.
    pub async fn wait_ready(&self) {
        for _ in 0..200 {
            if reqwest::get(format!("{}/-/ready", self.url)).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("prometheus did not become ready");
    }

    /// An instant query at `time` (Unix seconds): each series' value.
    pub async fn values_at(&self, expr: &str, time: i64) -> Vec<f64> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", self.url)).unwrap();
        url.query_pairs_mut().append_pair("query", expr).append_pair("time", &time.to_string());
        let data = self.get(url).await.unwrap_or_else(|e| panic!("{expr}: {e}"));
        data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| r["value"][1].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// A range query, as a Grafana time series panel sends it: for each
    /// step, how many series had a value.
    pub async fn series_per_step(&self, expr: &str, start: i64, end: i64, step: i64) -> Vec<usize> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query_range", self.url)).unwrap();
        url.query_pairs_mut()
            .append_pair("query", expr)
            .append_pair("start", &start.to_string())
            .append_pair("end", &end.to_string())
            .append_pair("step", &step.to_string());
        let data = self.get(url).await.unwrap_or_else(|e| panic!("{expr}: {e}"));
        let mut counts = vec![0; usize::try_from((end - start) / step + 1).unwrap()];
        for series in data["result"].as_array().into_iter().flatten() {
            for point in series["values"].as_array().into_iter().flatten() {
                let at = point[0].as_f64().unwrap() as i64;
                counts[usize::try_from((at - start) / step).unwrap()] += 1;
            }
        }
        counts
    }

    /// A Prometheus someone else runs, at `url`.
    pub fn attach(url: String) -> Self {
        Self { child: None, url, _dir: None }
    }

    /// An instant query; `Err` carries Prometheus's error type and message
    /// (a PromQL parse error is `bad_data`).
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", self.url)).unwrap();
        url.query_pairs_mut().append_pair("query", expr);
        self.get(url).await.map(|data| data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The values of `label` on series matching `selector` (Grafana's
    /// `label_values`).
    pub async fn label_values(&self, label: &str, selector: Option<&str>) -> Result<Vec<String>, String> {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/label/{label}/values", self.url)).unwrap();
        if let Some(selector) = selector {
            url.query_pairs_mut().append_pair("match[]", selector);
        }
        let data = self.get(url).await?;
        Ok(data.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect())
    }

    async fn get(&self, url: reqwest::Url) -> Result<Value, String> {
        let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
        let body: Value =
            serde_json::from_slice(&response.bytes().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"].clone())
    }
}
