//! A real Prometheus (Debian's `prometheus` package) for the end-to-end
//! tests: started on a free loopback port with the repository's rule files,
//! scraping the given targets, and queried through its HTTP API.

use std::net::{SocketAddr, TcpListener};
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
    Prometheus { child: Some(child), url: format!("http://127.0.0.1:{port}"), _dir: Some(dir) }
}

impl Prometheus {
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
