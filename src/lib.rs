//! gong-exporter: Gong.io Stats API to Prometheus metrics.
//!
//! Data flows one way, and the modules are listed here in that order:
//!
//! 1. [`gong`]: the HTTP client (auth, rate limit, retries, pages) and what
//!    every answer shares; [`endpoint`] names the endpoints for everyone;
//!    [`collectors`]: one module per endpoint family (its answers, request,
//!    table and families), the registry their switches come from, and the
//!    traits the poller runs the once-a-day and per-window ones through.
//! 2. [`poller`]: the run loop and its cycles (schedule, budget, coaching,
//!    time zone, the settling schedule and its plan); [`days`] keeps each
//!    company day's answers so windows are built from kept days and only
//!    days that can still change are fetched again; [`ledger`] adds each
//!    completed day once to the counters; [`storage`] is the
//!    `--storage.path` directory both keep files in (its lock, atomic
//!    writes, unreadable files moved aside).
//! 3. [`snapshot`]: the immutable collectors' tables a cycle publishes;
//!    [`naming`] turns Gong's names into metric names.
//! 4. [`encoding`]: a snapshot to OpenMetrics text, once per publish;
//!    [`gzip`] compresses it then; [`published`] holds the encoded
//!    result the server reads.
//! 5. [`http`]: `/metrics`, the landing page, health, and the web config.
//!
//! Beside the flow: [`self_metrics`] (`gong_exporter_*`, fed by the client
//! and the poller) and [`process`] (`process_*`, read on each scrape), [`cli`] and [`config`] (flags, then the settings each
//! part runs on), [`exporter`] (wiring and shutdown), [`logging`],
//! [`backfill`] (past days as OpenMetrics, through the same client and
//! encoding), [`simulator`] (a fake Gong for `--demo`, `simulate` and the
//! tests), [`signals`] (SIGINT and SIGTERM stop, SIGHUP reloads),
//! [`allocator`] (glibc's malloc set to return what a cycle freed), and the
//! small shared helpers [`windows`], [`clock`], [`secret`].

pub mod collectors;
pub mod endpoint;
pub mod gong;

pub mod days;
pub mod ledger;
pub mod poller;
pub mod storage;

pub mod naming;
pub mod snapshot;

pub mod encoding;
pub mod gzip;
pub mod published;

pub mod http;

pub mod allocator;
pub mod process;
pub mod self_metrics;

pub mod cli;
pub mod config;
pub mod exporter;
pub mod logging;
pub mod signals;

pub mod backfill;
pub mod simulator;

pub mod clock;
pub mod secret;
pub mod windows;

pub use exporter::{DEMO_TIME_ZONE, Exporter, StartError, run, run_simulator, start};

/// Crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git revision the binary was built from (`unknown` outside a checkout).
pub const REVISION: &str = env!("GONG_EXPORTER_REVISION");
/// What `--version` prints.
pub const VERSION_STRING: &str = concat!(env!("CARGO_PKG_VERSION"), " (revision ", env!("GONG_EXPORTER_REVISION"), ")");

/// How a failed run exits: one process exit code per kind of failure.
/// Scripts and orchestrators tell the kinds apart by these numbers, so
/// they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: starting failed, or a health check found no healthy exporter.
    Failure = 1,
    /// 2: the operator must change the command line or a file named there
    /// (2 is what clap exits with on a usage error).
    Usage = 2,
    /// 3: a backfill stopped; nothing was written.
    BackfillFailed = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// Why the program stops with a failure, one variant per kind, each with
/// its own exit code ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags clap could not parse.
    #[error("{0}")]
    Usage(String),
    /// Flags that parse but do not fit together, or an unreadable file.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The exporter or the simulator could not start (port, storage, TLS).
    #[error(transparent)]
    Start(#[from] StartError),
    /// A backfill stopped; nothing was written.
    #[error(transparent)]
    Backfill(#[from] backfill::BackfillError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// `healthcheck`: the exporter did not answer 200.
    #[error("{0}")]
    Unhealthy(String),
}

impl Error {
    /// What kind of failure stopped the program, as a log message: the
    /// error itself goes in the `err` key, as promslog users expect.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Usage(_) => "invalid command line",
            Self::Config(_) => "invalid configuration",
            Self::Start(_) | Self::Runtime(_) => "could not start",
            Self::Backfill(_) => "backfill failed",
            Self::Unhealthy(_) => "not healthy",
        }
    }

    /// The exit code for this kind of failure.
    pub fn exit_code(&self) -> Exit {
        match self {
            Self::Usage(_) | Self::Config(_) => Exit::Usage,
            Self::Start(_) | Self::Runtime(_) | Self::Unhealthy(_) => Exit::Failure,
            Self::Backfill(_) => Exit::BackfillFailed,
        }
    }
}

/// `gong-exporter healthcheck`: whether `url` answers 200 within `timeout`.
pub async fn healthcheck(config: config::HealthcheckConfig) -> Result<(), Error> {
    let config::HealthcheckConfig { url, timeout, client_certificates_required } = config;
    if client_certificates_required {
        return Err(Error::Unhealthy(format!(
            "the web config requires client certificates (client_auth_type RequireAndVerifyClientCert) and healthcheck has none to present, so {url} cannot be asked; probe the port with a TCP check instead, or give --url of a listener that does not require them"
        )));
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        // The check asks the process beside it, usually on localhost, whose
        // certificate names the service, not localhost; it sends no secret.
        .danger_accept_invalid_certs(true)
        .build()
        .map_err(|e| Error::Unhealthy(format!("cannot build an HTTP client: {e}")))?;
    match client.get(url.clone()).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(Error::Unhealthy(format!("{url} answered {}", response.status()))),
        Err(error) => Err(Error::Unhealthy(format!("{url} did not answer: {error}"))),
    }
}
