//! `--web.config.file`, in the format of Prometheus's exporter-toolkit so
//! that files written for node_exporter work here: TLS (optionally requiring
//! client certificates), basic auth with bcrypt hashes, extra response
//! headers. The file and the files it names are re-read when they change,
//! so certificates can rotate without a restart.
//!
//! `config` reads the file and reloads it, `tls` turns its TLS section into
//! a rustls server config, and `auth` checks credentials on each request
//! (bcrypt, one hash at a time, with a cache of passwords that passed).

mod auth;
mod config;
mod tls;

pub use auth::{WebState, guard};
pub use config::{WebConfig, WebConfigError};

/// The config in `yaml`, loaded from a file as at start (tests of each part).
#[cfg(test)]
fn load_for_test(yaml: &str) -> Result<WebConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, yaml).unwrap();
    WebConfig::load(&path).map_err(|e| e.to_string())
}
