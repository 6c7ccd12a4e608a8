//! The command line as clap parses it: every flag, env var and subcommand,
//! each value checked on its own. This is the first of two stages (as in
//! ripgrep's flags): [`crate::config`] turns these into what the program
//! runs on, checking flags against each other and reading files.

use crate::collectors::CollectorFlags;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Url;

use crate::secret::Secret;
use crate::windows::{Window, parse_time_zone};

/// Largest simulated company `--demo.users` accepts.
pub const MAX_DEMO_USERS: u32 = 10_000;

/// `--poll.schedule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PollSchedule {
    Settling,
    Fixed,
}

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
    /// Exit 0 if the exporter answers 200 on /-/healthy, else 1: the container
    /// health check where there is no shell or curl (distroless).
    Healthcheck(HealthcheckArgs),
}

/// Flags of `gong-exporter healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// What to ask; by default `/-/healthy` at the exporter's first
    /// `--web.listen-address`, over TLS when its `--web.config.file` sets
    /// up TLS.
    #[arg(long = "url")]
    pub url: Option<Url>,

    /// The exporter's listen address (the first, when it has several).
    #[arg(long = "web.listen-address", env = "WEB_LISTEN_ADDRESS", default_value = ":9863", value_parser = parse_listen_address)]
    pub listen_address: SocketAddr,

    /// The exporter's web config: whether to ask over TLS.
    #[arg(long = "web.config.file", env = "WEB_CONFIG_FILE", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// How long to wait for the answer.
    #[arg(long = "timeout", default_value = "5s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
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

    /// Windows each day shows, as the exporter's --stats.windows: `7d` on a
    /// day is that day and the six before (fetched from before --from).
    #[arg(long = "stats.windows", value_delimiter = ',', default_value = "7d")]
    pub windows: Vec<Window>,

    /// A label added to every sample, repeatable: the job and instance
    /// labels Prometheus gives the live exporter's scrape (e.g. --label
    /// job=gong-exporter --label instance=gong-exporter:9863), so the
    /// history joins the live series and the dashboards' job and instance
    /// variables find it.
    #[arg(long = "label", value_name = "NAME=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,

    /// Also write daily interaction stats: one query per day (about
    /// users / 100 requests each), the costliest part of a backfill.
    #[arg(long = "backfill.interaction", default_value_t = true, action = clap::ArgAction::Set)]
    pub interaction: bool,

    /// Whether per-user series carry the `user_email` label.
    #[arg(long = "metrics.user-email", default_value_t = true, action = clap::ArgAction::Set)]
    pub user_email: bool,

    /// Also export reviews Gong marks PRIVATE or OPT_IN_USERS per user.
    #[arg(long = "scorecards.include-private")]
    pub include_private: bool,

    /// Log level: error, warn, info, debug (this exporter's own events), trace
    /// (everything, TLS and HTTP client internals included).
    #[arg(long = "log.level", default_value = "info", value_parser = parse_log_filter)]
    pub log_level: String,
}

/// How to reach Gong: shared by the exporter and `backfill`.
#[derive(Debug, Args)]
pub struct GongArgs {
    /// Gong API root; `/v2/...` is appended. Your tenant's host is shown on
    /// Gong's API settings page (e.g. `https://us-12345.api.gong.io`).
    /// Unset: `https://api.gong.io`, or with --gong.oauth.* the address
    /// Gong's token answer names for the company.
    #[arg(long = "gong.base-url", env = "GONG_BASE_URL", value_parser = parse_base_url)]
    pub base_url: Option<Url>,

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

    /// File holding the OAuth bearer token; read again when it changes and
    /// after a 401, so a sidecar or an operator can renew it.
    #[arg(long = "gong.bearer-token-file", value_name = "PATH")]
    pub bearer_token_file: Option<PathBuf>,

    /// OAuth app's client ID: with its secret and a refresh token, the
    /// exporter gets and refreshes its own access tokens. Needs
    /// --storage.path, where each new refresh token is kept.
    #[arg(long = "gong.oauth.client-id", env = "GONG_OAUTH_CLIENT_ID")]
    pub oauth_client_id: Option<String>,

    /// OAuth app's client secret.
    #[arg(long = "gong.oauth.client-secret", env = "GONG_OAUTH_CLIENT_SECRET", hide_env_values = true)]
    pub oauth_client_secret: Option<Secret>,

    /// File holding the OAuth app's client secret.
    #[arg(long = "gong.oauth.client-secret-file", value_name = "PATH")]
    pub oauth_client_secret_file: Option<PathBuf>,

    /// Refresh token from authorizing the OAuth app. Gong's are single use:
    /// the exporter keeps each new one under --storage.path and uses it
    /// after a restart, until a different token is given here.
    #[arg(long = "gong.oauth.refresh-token", env = "GONG_OAUTH_REFRESH_TOKEN", hide_env_values = true)]
    pub oauth_refresh_token: Option<Secret>,

    /// File holding the refresh token.
    #[arg(long = "gong.oauth.refresh-token-file", value_name = "PATH")]
    pub oauth_refresh_token_file: Option<PathBuf>,

    /// Gong's OAuth token endpoint.
    #[arg(long = "gong.oauth.token-url", default_value = crate::gong::GONG_TOKEN_URL, value_parser = parse_token_url)]
    pub oauth_token_url: Url,

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

    /// Largest response body read from Gong, per page (e.g. `64MiB`,
    /// `500KB`, or bytes). A page holds at most 100 records, a few hundred
    /// KiB; a larger body fails its request instead of filling memory.
    #[arg(long = "gong.max-response-size", default_value = "64MiB", value_parser = parse_byte_size)]
    pub max_response_size: u64,
}

/// Flags of the exporter itself.
#[derive(Debug, Args)]
pub struct ExporterArgs {
    #[command(flatten)]
    pub gong: GongArgs,

    /// Windows of whole days ending at the start of today (company zone,
    /// exclusive); `1d` is yesterday.
    #[arg(long = "stats.windows", value_delimiter = ',', default_value = "7d")]
    pub windows: Vec<Window>,

    /// With --poll.schedule=settling: the shortest time between two
    /// re-polls, and how soon a failed request is tried again. With
    /// --poll.schedule=fixed: how often every window is fetched whole. The
    /// cycle after each company midnight runs either way.
    #[arg(long = "poll.interval", default_value = "1h", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,

    /// `settling`: fetch everything after each company midnight, then
    /// re-poll only what can still change (yesterday) while it settles,
    /// building windows from kept days. `fixed`: fetch every window whole
    /// every --poll.interval (the behaviour before settling; costs far more).
    #[arg(long = "poll.schedule", value_enum, default_value_t = PollSchedule::Settling)]
    pub poll_schedule: PollSchedule,

    /// How long after company midnight Gong may still change yesterday's
    /// numbers (calls processed late, reviews indexed late); re-polls stop
    /// then, and the day is kept as final.
    #[arg(long = "poll.settle-for", default_value = "12h", value_parser = parse_positive_duration)]
    pub settle_for: Duration,

    /// Gap between re-polls of a part whose answer changed at its last
    /// re-poll (an unchanged answer doubles it): a late change shows on
    /// /metrics within this gap plus one cycle.
    #[arg(long = "poll.settle-interval", default_value = "2h45m", value_parser = parse_positive_duration)]
    pub settle_interval: Duration,

    /// Gong's daily request quota for the company (all integrations).
    #[arg(long = "gong.daily-limit", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub daily_limit: u32,

    /// Share of the daily quota this exporter may use; cycles are spaced to
    /// stay under it.
    #[arg(long = "gong.budget-share", default_value_t = 0.25, value_parser = parse_share)]
    pub budget_share: f64,

    /// Address to listen on, `HOST:PORT` or `:PORT` (every interface, IPv6
    /// and IPv4, as Go exporters' `:PORT`); repeat the flag to listen on
    /// several.
    #[arg(
        long = "web.listen-address",
        env = "WEB_LISTEN_ADDRESS",
        default_value = ":9863",
        value_parser = parse_listen_address,
        action = clap::ArgAction::Append
    )]
    pub listen_addresses: Vec<SocketAddr>,

    /// TLS, basic auth and headers, in Prometheus exporter-toolkit's web
    /// config format; re-read when it or the files it names change.
    #[arg(long = "web.config.file", env = "WEB_CONFIG_FILE", value_name = "PATH")]
    pub web_config_file: Option<PathBuf>,

    /// Most connections served at once (as Prometheus's flag of the same
    /// name); further ones wait in the kernel's queue until one closes.
    #[arg(long = "web.max-connections", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// The longest a TLS handshake, the wait for a connection's first
    /// request, a request's headers, or an idle keep-alive connection may
    /// take; 12 times it without any traffic closes any connection. Slow
    /// clients cannot hold connections; Prometheus opens a new one when a
    /// scrape finds its idle one closed.
    #[arg(long = "web.idle-timeout", default_value = "10s", value_parser = parse_positive_duration)]
    pub idle_timeout: Duration,

    /// Leave out the process metrics (process_cpu_seconds_total, ...), as
    /// node_exporter's flag of the same name does.
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,

    /// Path under which metrics are served.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// Log level: error, warn, info, debug (this exporter's own events), trace
    /// (everything, TLS and HTTP client internals included).
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

    /// Also export scorecard reviews Gong marks PRIVATE or OPT_IN_USERS per
    /// reviewed user and reviewer, with their answers. By default they are
    /// counted per scorecard only (gong_scorecard_reviews_not_public): team
    /// dashboards are shared more widely than the reviews were.
    #[arg(long = "scorecards.include-private")]
    pub include_private: bool,

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

    /// `--[no-]collector.<name>`, one pair per switchable collector of
    /// the registry.
    #[command(flatten)]
    pub collectors: CollectorFlags,
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

    /// Workspaces the company has; managers coach in each.
    #[arg(long = "workspaces", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub workspaces: u32,

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

    /// API scopes the simulated key holds, comma-separated (default: all).
    /// Endpoints needing another scope answer 401 naming it, as Gong does.
    #[arg(long = "scopes", value_delimiter = ',', value_name = "SCOPE,...")]
    pub scopes: Option<Vec<String>>,

    /// JSON file of fault rules to inject (see docs/design.md, "Simulator").
    #[arg(long = "faults", value_name = "FILE")]
    pub faults: Option<PathBuf>,

    /// `false` answers /v2/coaching with 404, like an account whose plan
    /// lacks coaching.
    #[arg(long = "coaching", default_value_t = true, action = clap::ArgAction::Set)]
    pub coaching: bool,

    /// Serves Gong's OAuth token endpoint (/oauth2/generate-customer-token)
    /// for an app whose client ID and secret are --access-key and
    /// --access-key-secret, starting from this refresh token; each refresh
    /// rotates it, as Gong's do.
    #[arg(long = "oauth-refresh-token", value_name = "TOKEN")]
    pub oauth_refresh_token: Option<Secret>,

    /// `expires_in` of the OAuth access tokens the simulator issues.
    #[arg(long = "oauth-token-lifetime", default_value = "1h", value_parser = parse_positive_duration)]
    pub oauth_token_lifetime: Duration,
}

/// Log line formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `key=value` pairs, one event per line.
    Logfmt,
    /// One JSON object per line.
    Json,
}

impl From<LogFormat> for crate::logging::Format {
    fn from(format: LogFormat) -> Self {
        match format {
            LogFormat::Logfmt => Self::Logfmt,
            LogFormat::Json => Self::Json,
        }
    }
}

/// A size in bytes: a number with an optional unit, `B`, `KB`/`MB`/`GB`
/// (powers of 1,000) or `KiB`/`MiB`/`GiB` (powers of 1,024).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().map_err(|_| format!("'{s}' is not a size; e.g. 64MiB, 500KB or 1048576"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("'{s}': unknown unit '{other}'; use B, KB, MB, GB, KiB, MiB or GiB")),
    };
    match number.checked_mul(scale) {
        Some(0) => Err(format!("'{s}' must be larger than zero")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("'{s}' is too large")),
    }
}

fn parse_base_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("'{s}' is not a URL ({e}); e.g. https://api.gong.io"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("'{s}' must be an http(s) URL with a host, e.g. https://api.gong.io"));
    }
    // Every request carries the access key and secret (or the token), as
    // the token URL carries the client secret: the same rule for both.
    if !crate::gong::encrypted_or_loopback(&url) {
        return Err(format!(
            "'{s}' must be https (plain http only to this machine): every request carries the credentials, e.g. https://api.gong.io"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("'{s}' must not have a query or fragment"));
    }
    // Refused rather than trimmed: a pasted `.../v2` would otherwise send
    // every request to `/v2/v2/...`, and any other path is a guess.
    if url.path() != "/" {
        let mut root = url.clone();
        root.set_path("/");
        return Err(format!(
            "'{s}' has a path ('{}'): pass the API root alone, e.g. '{}' (the exporter appends /v2/...)",
            url.path(),
            root.as_str().trim_end_matches('/')
        ));
    }
    Ok(url)
}

/// An https URL with a host, or http to this machine.
fn parse_token_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("'{s}' is not a URL ({e})"))?;
    // It is sent the client secret and the refresh token.
    if url.host().is_none() || !crate::gong::encrypted_or_loopback(&url) {
        return Err(format!(
            "'{s}' must be an https URL with a host (plain http only to this machine), e.g. {}",
            crate::gong::GONG_TOKEN_URL
        ));
    }
    Ok(url)
}

/// `NAME=VALUE` with a valid Prometheus label name.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("'{s}' is not NAME=VALUE, e.g. job=gong-exporter"))?;
    let valid =
        name.chars().enumerate().all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if name.is_empty() || !valid || name.starts_with("__") {
        return Err(format!("'{name}' is not a label name (letters, digits and _, not starting with a digit or __)"));
    }
    Ok((name.to_owned(), value.to_owned()))
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

/// One of the levels promslog knows, plus `trace`; anything else (which a
/// tracing filter would silently read as a target name) is refused.
fn parse_log_filter(s: &str) -> Result<String, String> {
    let level = s.trim().to_ascii_lowercase();
    match level.as_str() {
        "error" | "warn" | "info" | "debug" | "trace" => Ok(level),
        _ => Err(format!("'{s}' is not a log level; use error, warn, info, debug or trace")),
    }
}

/// `HOST:PORT`, or `:PORT` for every interface, as exporter-toolkit takes
/// it. `:PORT` is `[::]:PORT`, which the exporter binds dual-stack (IPv4
/// too), as Go does; `0.0.0.0:PORT` stays IPv4 only.
fn parse_listen_address(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') { format!("[::]{s}") } else { s.to_owned() };
    full.parse().map_err(|_| format!("'{s}' is not HOST:PORT or :PORT, e.g. :9863 or 127.0.0.1:9863"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token URL is sent the client secret and the refresh token: plain
    /// http to another host was accepted.
    #[test]
    fn the_token_url_is_https_or_this_machine() {
        assert!(parse_token_url("https://app.gong.io/oauth2/generate-customer-token").is_ok());
        assert!(parse_token_url("http://127.0.0.1:9/oauth2/generate-customer-token").is_ok());
        let error = parse_token_url("http://gong.example/oauth2/generate-customer-token").unwrap_err();
        assert!(error.contains("must be an https URL"), "{error}");
    }
    use clap::CommandFactory;

    #[test]
    fn byte_sizes_take_decimal_and_binary_units() {
        assert_eq!(parse_byte_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_byte_size("500KB"), Ok(500_000));
        assert_eq!(parse_byte_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_byte_size("2 GiB"), Ok(2 << 30));
        for bad in ["", "0", "64 furlongs", "-1MB", "99999999999GiB", "MiB"] {
            assert!(parse_byte_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn poll_flags_default_to_settling_and_refuse_nonsense() {
        let cli = Cli::try_parse_from(["gong-exporter"]).unwrap();
        assert_eq!(cli.exporter.poll_schedule, PollSchedule::Settling);
        assert_eq!(cli.exporter.settle_for, Duration::from_secs(12 * 3600));
        assert_eq!(cli.exporter.settle_interval, Duration::from_secs(2 * 3600 + 45 * 60));
        let bad = Cli::try_parse_from(["gong-exporter", "--poll.schedule", "hourly"]).unwrap_err().to_string();
        assert!(bad.contains("settling") && bad.contains("fixed"), "{bad}");
        assert!(Cli::try_parse_from(["gong-exporter", "--poll.settle-interval", "0s"]).is_err());
        // `--label` is backfill's: the live exporter's labels come from the
        // scrape config, and an ignored flag must not be accepted.
        let label = Cli::try_parse_from(["gong-exporter", "--label", "job=x"]).unwrap_err().to_string();
        assert!(label.contains("--label"), "{label}");
        assert!(
            Cli::try_parse_from([
                "gong-exporter",
                "backfill",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-02",
                "--output",
                "f",
                "--label",
                "job=x"
            ])
            .is_ok()
        );
    }

    #[test]
    fn log_levels_are_the_known_ones_only() {
        for ok in ["error", "warn", "info", "debug", "trace", "INFO"] {
            assert!(parse_log_filter(ok).is_ok(), "{ok}");
        }
        for bad in ["foo", "warning,hyper=trace", "", "verbose"] {
            assert!(parse_log_filter(bad).unwrap_err().contains("use error, warn"), "{bad}");
        }
    }

    #[test]
    fn listen_addresses_may_omit_the_host() {
        assert_eq!(parse_listen_address(":9863").unwrap().to_string(), "[::]:9863");
        assert_eq!(parse_listen_address("0.0.0.0:9863").unwrap().to_string(), "0.0.0.0:9863");
        assert_eq!(parse_listen_address("127.0.0.1:0").unwrap().to_string(), "127.0.0.1:0");
        assert_eq!(parse_listen_address("[::1]:9863").unwrap().to_string(), "[::1]:9863");
        assert!(parse_listen_address("9863").is_err());
    }

    #[test]
    fn a_base_url_with_a_path_is_refused_naming_the_root_to_pass() {
        for with_path in ["https://api.gong.io/v2", "https://api.gong.io/v2/", "https://us-1.api.gong.io/api"] {
            let error = parse_base_url(with_path).unwrap_err();
            assert!(error.contains("pass the API root alone"), "{with_path}: {error}");
        }
        let error = parse_base_url("https://us-1.api.gong.io/v2").unwrap_err();
        assert!(error.contains("'https://us-1.api.gong.io'"), "{error}");
        for root in ["https://api.gong.io", "https://api.gong.io/", "http://127.0.0.1:9864"] {
            assert!(parse_base_url(root).is_ok(), "{root}");
        }
    }

    #[test]
    fn a_base_url_sent_the_credentials_in_plain_http_to_another_host_is_refused() {
        let error = parse_base_url("http://api.gong.io").unwrap_err();
        assert!(error.contains("must be https"), "{error}");
        for local in ["http://localhost:9864", "http://[::1]:9864"] {
            assert!(parse_base_url(local).is_ok(), "{local}");
        }
    }
}
