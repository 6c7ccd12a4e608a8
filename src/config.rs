//! Command line and environment, in two stages: [`Cli`] is what clap parses
//! (every flag, each value checked on its own), [`Config`] is what the rest of
//! the program runs on (credentials read, cross-flag rules checked).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Url;

use crate::clock::Clock;
use crate::secret::Secret;
use crate::windows::{Window, parse_time_zone};

/// Largest simulated company `--demo.users` accepts.
pub const MAX_DEMO_USERS: u32 = 10_000;

/// Prometheus exporter for the Gong.io Stats API.
///
/// Polls Gong in the background (never on scrape) and serves the cached
/// results on /metrics.
#[derive(Debug, Parser)]
#[command(name = "gong-exporter", version = crate::VERSION_STRING, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub exporter: ExporterArgs,
}

/// Subcommands beside the default (run the exporter).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run only the built-in Gong API simulator (for demos and tests).
    Simulate(SimulateArgs),
    /// Write past days as timestamped OpenMetrics for
    /// `promtool tsdb create-blocks-from openmetrics`.
    Backfill(Box<BackfillArgs>),
}

/// Flags of `gong-exporter backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub gong: GongArgs,

    /// First company day to write (YYYY-MM-DD, inclusive).
    #[arg(long = "from", value_name = "DATE", value_parser = parse_past_date)]
    pub from: Date,

    /// Day after the last one to write (YYYY-MM-DD, exclusive, at most today).
    #[arg(long = "to", value_name = "DATE", value_parser = parse_past_date)]
    pub to: Date,

    /// File to write (replaced only once complete).
    #[arg(long = "output", value_name = "FILE")]
    pub output: PathBuf,

    /// Also write daily interaction stats: one query per day (about
    /// users / 100 requests each), the costliest part of a backfill.
    #[arg(long = "backfill.interaction", default_value_t = true, action = clap::ArgAction::Set)]
    pub interaction: bool,

    /// Whether per-user series carry the `user_email` label.
    #[arg(long = "metrics.user-email", default_value_t = true, action = clap::ArgAction::Set)]
    pub user_email: bool,

    /// Log level: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long = "log.level", default_value = "warn", value_parser = parse_log_filter)]
    pub log_level: String,
}

/// How to reach Gong: shared by the exporter and `backfill`.
#[derive(Debug, Args)]
pub struct GongArgs {
    /// Gong API root; `/v2/...` is appended. Your tenant's host is shown on
    /// Gong's API settings page (e.g. https://us-12345.api.gong.io).
    #[arg(long = "gong.base-url", env = "GONG_BASE_URL", default_value = "https://api.gong.io", value_parser = parse_base_url)]
    pub base_url: Url,

    /// Gong access key (Basic auth). Pair with GONG_ACCESS_KEY_SECRET.
    #[arg(long = "gong.access-key", env = "GONG_ACCESS_KEY", hide_env_values = true)]
    pub access_key: Option<String>,

    /// Gong access key secret (Basic auth). Prefer the env var or the file
    /// flag: command lines are visible to other users of the host.
    #[arg(long = "gong.access-key-secret", env = "GONG_ACCESS_KEY_SECRET", hide_env_values = true)]
    pub access_key_secret: Option<Secret>,

    /// File holding the access key (e.g. a mounted Kubernetes secret).
    #[arg(long = "gong.access-key-file", value_name = "PATH")]
    pub access_key_file: Option<PathBuf>,

    /// File holding the access key secret.
    #[arg(long = "gong.access-key-secret-file", value_name = "PATH")]
    pub access_key_secret_file: Option<PathBuf>,

    /// OAuth bearer token, instead of an access key and secret.
    #[arg(long = "gong.bearer-token", env = "GONG_BEARER_TOKEN", hide_env_values = true)]
    pub bearer_token: Option<Secret>,

    /// File holding the OAuth bearer token.
    #[arg(long = "gong.bearer-token-file", value_name = "PATH")]
    pub bearer_token_file: Option<PathBuf>,

    /// IANA time zone that defines "yesterday". Unset: learned from the
    /// `timeZone` field of Gong's responses and cached.
    #[arg(long = "gong.timezone", env = "GONG_TIMEZONE", value_parser = parse_time_zone)]
    pub timezone: Option<TimeZone>,

    /// Maximum requests per second to Gong, all endpoints together.
    #[arg(long = "gong.rate-limit", default_value_t = 3.0, value_parser = parse_rate)]
    pub rate_limit: f64,

    /// Timeout of each request to Gong.
    #[arg(long = "gong.timeout", default_value = "30s", value_parser = parse_positive_duration)]
    pub timeout: Duration,

    /// Retries of one request after 429, 5xx, timeouts and connection errors.
    #[arg(long = "gong.max-retries", default_value_t = 5)]
    pub max_retries: u32,
}

/// Flags of the exporter itself.
#[derive(Debug, Args)]
pub struct ExporterArgs {
    #[command(flatten)]
    pub gong: GongArgs,

    /// Windows of whole days ending at the start of today (company zone,
    /// exclusive); `1d` is yesterday.
    #[arg(long = "stats.windows", value_delimiter = ',', default_value = "1d,7d,28d")]
    pub windows: Vec<Window>,

    /// How often to poll Gong; a cycle also runs shortly after midnight in the
    /// company's time zone.
    #[arg(long = "poll.interval", default_value = "1h", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,

    /// Gong's daily request quota for the company (all integrations).
    #[arg(long = "gong.daily-limit", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub daily_limit: u32,

    /// Share of the daily quota this exporter may use; cycles are spaced to
    /// stay under it.
    #[arg(long = "gong.budget-share", default_value_t = 0.25, value_parser = parse_share)]
    pub budget_share: f64,

    /// Address the HTTP server listens on.
    #[arg(long = "web.listen-address", env = "WEB_LISTEN_ADDRESS", default_value = "0.0.0.0:9863")]
    pub listen_address: SocketAddr,

    /// TLS, basic auth and headers, in Prometheus exporter-toolkit's web
    /// config format; re-read when it or the files it names change.
    #[arg(long = "web.config.file", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// Path under which metrics are served.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// Log level: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long = "log.level", default_value = "info", value_parser = parse_log_filter)]
    pub log_level: String,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,

    /// Poll a built-in Gong simulator on a loopback port instead of Gong; no
    /// credentials needed.
    #[arg(long = "demo")]
    pub demo: bool,

    /// Number of simulated users in --demo mode.
    #[arg(long = "demo.users", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DEMO_USERS)))]
    pub demo_users: u32,

    /// Whether per-user series carry the `user_email` label. Emails are
    /// personal data; `false` keeps them out of Prometheus.
    #[arg(long = "metrics.user-email", default_value_t = true, action = clap::ArgAction::Set)]
    pub user_email: bool,

    /// Directory for the cumulative counters' state (counters.json). Unset:
    /// counters start at zero at start-up and count only days completed
    /// after it.
    #[arg(long = "storage.path", env = "GONG_EXPORTER_STORAGE_PATH", value_name = "DIR")]
    pub storage_path: Option<PathBuf>,

    /// First company day the cumulative counters count (YYYY-MM-DD), so a
    /// new install starts with history. Default: the day the state file is
    /// first created. Needs --storage.path.
    #[arg(long = "counters.start-date", value_name = "DATE", value_parser = parse_past_date)]
    pub counters_start_date: Option<Date>,

    /// Collect manager coaching from Gong's coaching endpoint, once a day:
    /// one request per workspace x manager x window.
    #[arg(long = "collector.coaching", default_value_t = true, action = clap::ArgAction::Set)]
    pub coaching: bool,
}

/// Flags of `gong-exporter simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address the simulator listens on.
    #[arg(long = "listen", default_value = "127.0.0.1:9864")]
    pub listen: SocketAddr,

    /// Number of simulated users.
    #[arg(long = "users", default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_DEMO_USERS)))]
    pub users: u32,

    /// Records per page.
    #[arg(long = "page-size", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,

    /// Requests per second before answering 429.
    #[arg(long = "rate-limit", default_value_t = 3.0, value_parser = parse_rate)]
    pub rate_limit: f64,

    /// The simulated company's time zone, as Gong names it.
    #[arg(long = "timezone", default_value = "US/Pacific", value_parser = parse_time_zone)]
    pub timezone: TimeZone,

    /// Access key the simulator accepts.
    #[arg(long = "access-key", env = "GONG_ACCESS_KEY", default_value = "demo")]
    pub access_key: String,

    /// Access key secret the simulator accepts.
    #[arg(long = "access-key-secret", env = "GONG_ACCESS_KEY_SECRET", hide_env_values = true, default_value = "demo")]
    pub access_key_secret: Secret,

    /// JSON file of fault rules to inject (see README, "Simulator").
    #[arg(long = "faults", value_name = "FILE")]
    pub faults: Option<PathBuf>,

    /// `false` answers /v2/coaching with 404, like an account whose plan
    /// lacks coaching.
    #[arg(long = "coaching", default_value_t = true, action = clap::ArgAction::Set)]
    pub coaching: bool,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// How the exporter authenticates to Gong.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: Basic base64(key:secret)`.
    Basic { access_key: String, secret: Secret },
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

/// Where the exporter gets its data.
#[derive(Debug, Clone)]
pub enum Source {
    /// The real Gong API.
    Gong { base_url: Url, credentials: Credentials },
    /// An in-process simulator with this many users.
    Demo { users: u32 },
}

/// Validated configuration the exporter runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    /// Company zone when configured; `None` means learn it from Gong.
    pub time_zone: Option<TimeZone>,
    /// Distinct windows, smallest first.
    pub windows: Vec<Window>,
    pub poll_interval: Duration,
    pub rate_limit: f64,
    pub timeout: Duration,
    pub max_retries: u32,
    pub listen_address: SocketAddr,
    pub telemetry_path: String,
    pub log_level: String,
    pub log_format: LogFormat,
    pub include_user_email: bool,
    pub daily_limit: u32,
    pub budget_share: f64,
    /// `--web.config.file` and what it said at start.
    pub web_config: Option<(PathBuf, crate::webconfig::WebConfig)>,
    /// How often the web config's files are checked for changes (not a flag).
    pub web_config_check: Duration,
    /// First retry backoff step (not a flag: tests shorten it).
    pub min_backoff: Duration,
    /// `--storage.path`.
    pub storage_path: Option<PathBuf>,
    /// `--counters.start-date`.
    pub counters_start_date: Option<Date>,
    /// Where company dates come from (not a flag: tests move it).
    pub clock: Clock,
    /// `--collector.coaching`.
    pub coaching: bool,
}

/// A configuration that cannot run; the message names the flag or env var.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no Gong credentials: set GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET (or --gong.access-key-file/--gong.access-key-secret-file), or GONG_BEARER_TOKEN (or --gong.bearer-token-file); or run with --demo"
    )]
    MissingCredentials,
    #[error("{present} is set but {missing} is not: Basic auth needs both the access key and its secret")]
    HalfBasicCredentials { present: &'static str, missing: &'static str },
    #[error(
        "both an access key and a bearer token are set: use GONG_ACCESS_KEY/GONG_ACCESS_KEY_SECRET or GONG_BEARER_TOKEN, not both"
    )]
    BothCredentialKinds,
    #[error("{value} and {file} are both set: use one")]
    ValueAndFile { value: &'static str, file: &'static str },
    #[error("cannot read {flag} '{path}': {reason}")]
    UnreadableFile { flag: &'static str, path: String, reason: String },
    #[error("{flag} '{path}' is empty")]
    EmptyFile { flag: &'static str, path: String },
    #[error("--stats.windows needs at least one window, e.g. 1d,7d,28d")]
    NoWindows,
    #[error(
        "--counters.start-date needs --storage.path: without stored state every restart would count the history again"
    )]
    StartDateWithoutStorage,
    #[error("--from {from} must be before --to {to}")]
    EmptyRange { from: Date, to: Date },
    #[error(transparent)]
    WebConfig(#[from] crate::webconfig::WebConfigError),
}

impl Config {
    /// Checks the parsed flags together and reads credential files.
    pub fn from_args(args: ExporterArgs) -> Result<Self, ConfigError> {
        let source = if args.demo {
            Source::Demo { users: args.demo_users }
        } else {
            Source::Gong { base_url: args.gong.base_url.clone(), credentials: credentials(&args.gong)? }
        };
        let mut windows = args.windows;
        windows.sort();
        windows.dedup();
        if windows.is_empty() {
            return Err(ConfigError::NoWindows);
        }
        if args.counters_start_date.is_some() && args.storage_path.is_none() {
            return Err(ConfigError::StartDateWithoutStorage);
        }
        Ok(Self {
            source,
            time_zone: args.gong.timezone,
            windows,
            poll_interval: args.poll_interval,
            rate_limit: args.gong.rate_limit,
            timeout: args.gong.timeout,
            max_retries: args.gong.max_retries,
            listen_address: args.listen_address,
            telemetry_path: args.telemetry_path,
            log_level: args.log_level,
            log_format: args.log_format,
            include_user_email: args.user_email,
            daily_limit: args.daily_limit,
            budget_share: args.budget_share,
            web_config: match args.web_config_file {
                Some(path) => Some((path.clone(), crate::webconfig::WebConfig::load(&path)?)),
                None => None,
            },
            web_config_check: Duration::from_secs(5),
            min_backoff: Duration::from_millis(500),
            storage_path: args.storage_path,
            counters_start_date: args.counters_start_date,
            clock: Clock::system(),
            coaching: args.coaching,
        })
    }

    /// `--demo` with `users` simulated users and every other flag at its
    /// default, built through the same parsing as the command line.
    pub fn demo(users: u32) -> Self {
        let cli = Cli::try_parse_from(["gong-exporter", "--demo", "--demo.users", &users.to_string()])
            .expect("the demo flags parse");
        Self::from_args(cli.exporter).expect("the demo config is valid")
    }

    /// The longest window, which scorecards are fetched for.
    pub fn largest_window(&self) -> &Window {
        self.windows.last().expect("validated: at least one window")
    }
}

/// The credentials the flags, env vars and files give.
pub fn credentials(args: &GongArgs) -> Result<Credentials, ConfigError> {
    let key = value_or_file(
        args.access_key.clone(),
        args.access_key_file.as_ref(),
        "GONG_ACCESS_KEY",
        "--gong.access-key-file",
    )?;
    let secret = value_or_file(
        args.access_key_secret.as_ref().map(|s| s.expose().to_owned()),
        args.access_key_secret_file.as_ref(),
        "GONG_ACCESS_KEY_SECRET",
        "--gong.access-key-secret-file",
    )?
    .map(Secret::new);
    let bearer = value_or_file(
        args.bearer_token.as_ref().map(|s| s.expose().to_owned()),
        args.bearer_token_file.as_ref(),
        "GONG_BEARER_TOKEN",
        "--gong.bearer-token-file",
    )?
    .map(Secret::new);

    match (key, secret, bearer) {
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => Err(ConfigError::BothCredentialKinds),
        (Some(access_key), Some(secret), None) => Ok(Credentials::Basic { access_key, secret }),
        (Some(_), None, None) => {
            Err(ConfigError::HalfBasicCredentials { present: "GONG_ACCESS_KEY", missing: "GONG_ACCESS_KEY_SECRET" })
        }
        (None, Some(_), None) => {
            Err(ConfigError::HalfBasicCredentials { present: "GONG_ACCESS_KEY_SECRET", missing: "GONG_ACCESS_KEY" })
        }
        (None, None, Some(token)) => Ok(Credentials::Bearer(token)),
        (None, None, None) => Err(ConfigError::MissingCredentials),
    }
}

/// A credential given directly or as a file; files are trimmed because
/// editors and `kubectl create secret` add trailing newlines.
fn value_or_file(
    value: Option<String>,
    file: Option<&PathBuf>,
    value_name: &'static str,
    file_flag: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (value.filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(ConfigError::ValueAndFile { value: value_name, file: file_flag }),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::UnreadableFile {
                flag: file_flag,
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let trimmed = text.trim();
            if trimmed.is_empty() {
                return Err(ConfigError::EmptyFile { flag: file_flag, path: path.display().to_string() });
            }
            Ok(Some(trimmed.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("'{s}' is not a URL ({e}); e.g. https://api.gong.io"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("'{s}' must be an http(s) URL with a host, e.g. https://api.gong.io"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{s}' must not have a query or fragment"));
    }
    Ok(url)
}

/// A `YYYY-MM-DD` date no later than today anywhere on Earth (UTC+14).
fn parse_past_date(s: &str) -> Result<Date, String> {
    let date: Date = s.trim().parse().map_err(|e| format!("'{s}' is not a date in the format YYYY-MM-DD ({e})"))?;
    let latest_today = jiff::Timestamp::now().to_zoned(TimeZone::fixed(jiff::tz::offset(14))).date();
    if date > latest_today {
        return Err(format!("'{s}' is in the future"));
    }
    Ok(date)
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration ({e}); e.g. 30s, 1h"))?;
    if d.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(d)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!("'{s}' must be a positive number of requests per second"));
    }
    Ok(rate)
}

fn parse_share(s: &str) -> Result<f64, String> {
    let share: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if !(share > 0.0 && share <= 1.0) {
        return Err(format!("'{s}' must be above 0 and at most 1, e.g. 0.25"));
    }
    Ok(share)
}

fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.len() < 2 {
        return Err(format!("'{s}' must start with '/' and name a path, e.g. /metrics"));
    }
    if s == "/-/healthy" || s == "/-/ready" {
        return Err(format!("'{s}' is taken by a health endpoint"));
    }
    Ok(s.to_owned())
}

fn parse_log_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("'{s}' is not a log level ({e}); use error, warn, info, debug or trace"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["gong-exporter"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::from_args(cli.exporter).map_err(|e| e.to_string())
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = parse(&["--demo"]).unwrap();
        assert_eq!(c.windows.iter().map(Window::label).collect::<Vec<_>>(), ["1d", "7d", "28d"]);
        assert_eq!(c.poll_interval, Duration::from_secs(3600));
        assert_eq!(c.rate_limit, 3.0);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.max_retries, 5);
        assert_eq!(c.listen_address.to_string(), "0.0.0.0:9863");
        assert_eq!(c.telemetry_path, "/metrics");
        assert!(c.include_user_email);
        assert_eq!((c.daily_limit, c.budget_share), (10_000, 0.25));
        assert!(matches!(c.source, Source::Demo { users: 40 }));
        assert!(c.coaching && c.storage_path.is_none() && c.counters_start_date.is_none());
        let c = parse(&[
            "--demo",
            "--collector.coaching=false",
            "--storage.path",
            "/var/lib/gong-exporter",
            "--counters.start-date",
            "2024-01-31",
        ])
        .unwrap();
        assert!(!c.coaching);
        assert_eq!(c.counters_start_date, Some(jiff::civil::date(2024, 1, 31)));
    }

    #[test]
    fn windows_are_sorted_and_deduplicated() {
        let c = parse(&["--demo", "--stats.windows", "28d,1d,24h,7d"]).unwrap();
        assert_eq!(c.windows.iter().map(Window::label).collect::<Vec<_>>(), ["1d", "7d", "28d"]);
        assert_eq!(c.largest_window().label(), "28d");
    }

    #[test]
    fn each_bad_flag_is_named_in_the_error() {
        let cases = [
            (vec!["--demo", "--stats.windows", "12h"], "--stats.windows"),
            (vec!["--demo", "--gong.timezone", "Mars/Olympus"], "--gong.timezone"),
            (vec!["--demo", "--poll.interval", "0s"], "--poll.interval"),
            (vec!["--demo", "--gong.base-url", "not a url"], "--gong.base-url"),
            (vec!["--demo", "--gong.base-url", "ftp://x"], "--gong.base-url"),
            (vec!["--demo", "--gong.rate-limit", "0"], "--gong.rate-limit"),
            (vec!["--demo", "--web.telemetry-path", "metrics"], "--web.telemetry-path"),
            (vec!["--demo", "--demo.users", "10001"], "--demo.users"),
            (vec!["--demo", "--gong.budget-share", "1.5"], "--gong.budget-share"),
            (vec!["--demo", "--gong.budget-share", "0"], "--gong.budget-share"),
            (vec!["--demo", "--gong.daily-limit", "0"], "--gong.daily-limit"),
            (vec!["--demo", "--counters.start-date", "2024-02-30"], "--counters.start-date"),
            (vec!["--demo", "--counters.start-date", "2999-01-01"], "--counters.start-date"),
            (vec!["--demo", "--counters.start-date", "2024-01-01"], "--counters.start-date"),
        ];
        for (args, flag) in cases {
            let err = parse(&args).unwrap_err();
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }

    #[test]
    fn credentials_are_required_outside_demo() {
        let err = parse(&[]).unwrap_err();
        assert!(err.contains("GONG_ACCESS_KEY") && err.contains("GONG_BEARER_TOKEN"), "{err}");
        let err = parse(&["--gong.access-key", "k"]).unwrap_err();
        assert!(err.contains("GONG_ACCESS_KEY_SECRET"), "{err}");
        let err = parse(&["--gong.access-key", "k", "--gong.access-key-secret", "s", "--gong.bearer-token", "t"])
            .unwrap_err();
        assert!(err.contains("not both"), "{err}");
    }

    #[test]
    fn credentials_from_files_are_trimmed_and_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let secret = dir.path().join("secret");
        std::fs::write(&key, "AK123\n").unwrap();
        std::fs::write(&secret, "very-secret-value\n").unwrap();
        let c = parse(&[
            "--gong.access-key-file",
            key.to_str().unwrap(),
            "--gong.access-key-secret-file",
            secret.to_str().unwrap(),
        ])
        .unwrap();
        match &c.source {
            Source::Gong { credentials: Credentials::Basic { access_key, secret }, .. } => {
                assert_eq!(access_key, "AK123");
                assert_eq!(secret.expose(), "very-secret-value");
            }
            other => panic!("unexpected source {other:?}"),
        }
        assert!(!format!("{c:?}").contains("very-secret-value"));
    }

    #[test]
    fn missing_credential_file_names_flag_and_path() {
        let err = parse(&["--gong.bearer-token-file", "/nonexistent/token"]).unwrap_err();
        assert!(err.contains("--gong.bearer-token-file") && err.contains("/nonexistent/token"), "{err}");
    }
}
