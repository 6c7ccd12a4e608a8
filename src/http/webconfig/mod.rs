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
