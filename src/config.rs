//! The second stage of the command line (as ripgrep's `HiArgs`): what the
//! program runs on. [`crate::cli`] parses each flag on its own; this module
//! reads credential files, checks flags against each other, and builds the
//! settings each part takes ([`ClientOptions`], [`PollerSettings`]) so no
//! caller copies flags field by field.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser as _;
use jiff::civil::Date;
use reqwest::Url;

use crate::cli::{BackfillArgs, Cli, ExporterArgs, GongArgs, HealthcheckArgs, PollSchedule, SimulateArgs};
use crate::clock::Clock;
use crate::gong::{ClientOptions, Credentials, MAX_BACKOFF, MIN_BACKOFF};
use crate::http::webconfig::{WebConfig, WebConfigError};
use crate::poller::{PollerSettings, Schedule};
use crate::secret::Secret;
use crate::windows::Window;

/// Where the exporter gets its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The real Gong API, as [`Config::client`] says.
    Gong,
    /// An in-process simulator with this many users; the client's base URL
    /// and credentials are the simulator's, set when it starts.
    Demo { users: u32 },
}

/// Validated configuration the exporter runs on.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    /// How to reach Gong.
    pub client: ClientOptions,
    /// What to poll and when.
    pub poller: PollerSettings,
    /// `--web.listen-address`, each one.
    pub listen_addresses: Vec<SocketAddr>,
    /// `--web.max-connections`, per listen address.
    pub max_connections: usize,
    /// `--web.idle-timeout`.
    pub idle_timeout: Duration,
    pub telemetry_path: String,
    /// `--web.config.file` and what it said at start.
    pub web_config: Option<(PathBuf, WebConfig)>,
    /// How often the web config's files are checked for changes (not a flag).
    pub web_config_check: Duration,
    /// `--storage.path`.
    pub storage_path: Option<PathBuf>,
    /// `--counters.start-date`.
    pub counters_start_date: Option<Date>,
    /// `process_*` metrics on `/metrics` (`--web.disable-exporter-metrics`
    /// turns them off).
    pub process_metrics: bool,
}

/// A validated `gong-exporter healthcheck`: what to ask and how long to
/// wait.
#[derive(Debug)]
pub struct HealthcheckConfig {
    pub url: Url,
    pub timeout: Duration,
}

impl HealthcheckConfig {
    /// `--url`, or `/-/healthy` where the exporter listens: a container's
    /// health check runs with the exporter's environment, so a
    /// `WEB_LISTEN_ADDRESS` or `WEB_CONFIG_FILE` that moves the exporter
    /// moves the check with it.
    pub fn from_args(args: HealthcheckArgs) -> Result<Self, ConfigError> {
        let url = match args.url {
            Some(url) => url,
            None => {
                let tls = match &args.web_config_file {
                    Some(path) => WebConfig::load(path)?.tls.is_some(),
                    None => false,
                };
                health_url(args.listen_address, tls)
            }
        };
        Ok(Self { url, timeout: args.timeout })
    }
}

/// `/-/healthy` at `listen`: an address for every interface is asked on
/// `localhost`, which resolves to whichever of IPv4 and IPv6 the host has.
fn health_url(listen: SocketAddr, tls: bool) -> Url {
    let scheme = if tls { "https" } else { "http" };
    let host = if listen.ip().is_unspecified() { "localhost".to_owned() } else { listen.ip().to_string() };
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    format!("{scheme}://{host}:{}/-/healthy", listen.port()).parse().expect("an IP address or localhost, and a port")
}

/// A validated `gong-exporter simulate`: the simulator's options and the
/// fault rules read from `--faults`.
#[derive(Debug)]
pub struct SimulateConfig {
    pub listen: SocketAddr,
    pub users: usize,
    pub workspaces: u64,
    pub time_zone: jiff::tz::TimeZone,
    pub options: crate::simulator::SimulatorOptions,
    pub faults: Vec<crate::simulator::faults::FaultRule>,
}

impl SimulateConfig {
    /// Reads `--faults`: a file that cannot be read or parsed fails the
    /// start, as any other bad flag does.
    pub fn from_args(args: SimulateArgs) -> Result<Self, ConfigError> {
        let faults = match &args.faults {
            Some(path) => {
                let unreadable = |reason: String| ConfigError::UnreadableFile {
                    flag: "--faults",
                    path: path.display().to_string(),
                    reason,
                };
                let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
                crate::simulator::faults::Faults::parse(&text).map_err(unreadable)?
            }
            None => Vec::new(),
        };
        let options = crate::simulator::SimulatorOptions {
            page_size: args.page_size as usize,
            rate_limit: args.rate_limit,
            time_zone_name: args.timezone.iana_name().unwrap_or(crate::simulator::DEMO_TIME_ZONE).to_owned(),
            access_key: args.access_key,
            access_key_secret: args.access_key_secret,
            bearer_token: None,
            clock: Clock::system(),
            coaching_enabled: args.coaching,
            aggregate_sums_day_lists: false,
            scopes: args.scopes.map(|scopes| scopes.into_iter().collect()),
        };
        Ok(Self {
            listen: args.listen,
            users: args.users as usize,
            workspaces: u64::from(args.workspaces),
            time_zone: args.timezone,
            options,
            faults,
        })
    }
}

/// A validated backfill.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    pub client: ClientOptions,
    /// Configured zone; `None` means learn it from Gong.
    pub time_zone: Option<jiff::tz::TimeZone>,
    pub from: Date,
    pub to: Date,
    pub output: PathBuf,
    /// The windows each day's snapshot shows, as the live exporter would.
    pub windows: Vec<Window>,
    /// Labels added to every sample (`--label job=gong-exporter`).
    pub labels: Vec<(String, String)>,
    pub interaction: bool,
    pub include_user_email: bool,
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
    #[error("{origin} contains a control character (a newline or tab inside the value?): remove it")]
    ControlCharacter { origin: &'static str },
    #[error("--stats.windows needs at least one window, e.g. 1d,7d,28d")]
    NoWindows,
    #[error(
        "--counters.start-date needs --storage.path: without stored state every restart would count the history again"
    )]
    StartDateWithoutStorage,
    #[error("--from {from} must be before --to {to}")]
    EmptyRange { from: Date, to: Date },
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
}

impl Config {
    /// Checks the parsed flags together and reads credential files.
    pub fn from_args(args: ExporterArgs) -> Result<Self, ConfigError> {
        let (source, client) = if args.demo {
            // The simulator's address is known once it listens.
            let placeholder = Url::parse("http://127.0.0.1/").expect("a valid URL");
            (Source::Demo { users: args.demo_users }, client_options(&args.gong, placeholder, demo_credentials()))
        } else {
            let credentials = credentials(&args.gong)?;
            (Source::Gong, client_options(&args.gong, args.gong.base_url.clone(), credentials))
        };
        let windows = sorted_windows(args.windows)?;
        if args.counters_start_date.is_some() && args.storage_path.is_none() {
            return Err(ConfigError::StartDateWithoutStorage);
        }
        let poller = PollerSettings {
            windows,
            daily_limit: args.daily_limit,
            budget_share: args.budget_share,
            time_zone: args.gong.timezone,
            poll_interval: args.poll_interval,
            schedule: match args.poll_schedule {
                PollSchedule::Settling => Schedule::Settling,
                PollSchedule::Fixed => Schedule::Fixed,
            },
            settle_for: args.settle_for,
            settle_interval: args.settle_interval,
            include_user_email: args.user_email,
            clock: Clock::system(),
            collectors: args.collectors.enabled,
        };
        Ok(Self {
            source,
            client,
            poller,
            listen_addresses: args.listen_addresses,
            max_connections: args.max_connections as usize,
            idle_timeout: args.idle_timeout,
            telemetry_path: args.telemetry_path,
            web_config: match args.web_config_file {
                Some(path) => Some((path.clone(), WebConfig::load(&path)?)),
                None => None,
            },
            web_config_check: Duration::from_secs(5),
            storage_path: args.storage_path,
            counters_start_date: args.counters_start_date,
            process_metrics: !args.disable_exporter_metrics,
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
        self.poller.largest_window()
    }
}

impl BackfillConfig {
    /// Checks the flags together and reads credential files.
    pub fn from_args(args: BackfillArgs) -> Result<Self, ConfigError> {
        if args.from >= args.to {
            return Err(ConfigError::EmptyRange { from: args.from, to: args.to });
        }
        let credentials = credentials(&args.gong)?;
        Ok(Self {
            client: client_options(&args.gong, args.gong.base_url.clone(), credentials),
            time_zone: args.gong.timezone,
            from: args.from,
            to: args.to,
            output: args.output,
            windows: sorted_windows(args.windows)?,
            labels: args.labels,
            interaction: args.interaction,
            include_user_email: args.user_email,
        })
    }
}

/// Distinct windows, smallest first; at least one.
fn sorted_windows(mut windows: Vec<Window>) -> Result<Vec<Window>, ConfigError> {
    windows.sort();
    windows.dedup();
    if windows.is_empty() {
        return Err(ConfigError::NoWindows);
    }
    Ok(windows)
}

/// The simulator accepts these (`simulate --access-key`'s defaults).
pub fn demo_credentials() -> Credentials {
    Credentials::Basic { access_key: "demo".to_owned(), secret: Secret::new("demo") }
}

/// The client's flags, shared by the exporter and `backfill`.
fn client_options(args: &GongArgs, base_url: Url, credentials: Credentials) -> ClientOptions {
    ClientOptions {
        base_url,
        credentials,
        rate_limit: args.rate_limit,
        timeout: args.timeout,
        max_retries: args.max_retries,
        max_response_bytes: args.max_response_size,
        min_backoff: MIN_BACKOFF,
        max_backoff: MAX_BACKOFF,
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
    .and_then(|credential| match credential {
        // A newline or other control character cannot go into an HTTP
        // header: refused here, naming where it came from, never the value.
        Some(text) if text.chars().any(char::is_control) => {
            let source = if file.is_some() { file_flag } else { value_name };
            Err(ConfigError::ControlCharacter { origin: source })
        }
        other => Ok(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let mut argv = vec!["gong-exporter"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Config::from_args(cli.exporter).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = parse(&["--demo"]).unwrap();
        assert_eq!(c.poller.windows.iter().map(Window::label).collect::<Vec<_>>(), ["7d"]);
        assert_eq!(c.poller.poll_interval, Duration::from_secs(3600));
        assert_eq!(c.client.rate_limit, 3.0);
        assert_eq!(c.client.timeout, Duration::from_secs(30));
        assert_eq!(c.client.max_retries, 5);
        assert_eq!(c.listen_addresses, ["[::]:9863".parse::<SocketAddr>().unwrap()]);
        assert_eq!(c.telemetry_path, "/metrics");
        assert!(c.poller.include_user_email);
        assert_eq!((c.poller.daily_limit, c.poller.budget_share), (10_000, 0.25));
        assert!(matches!(c.source, Source::Demo { users: 40 }));
        assert!(
            c.poller.collectors.contains(crate::collectors::CollectorName::Coaching)
                && c.storage_path.is_none()
                && c.counters_start_date.is_none()
        );
        let c = parse(&[
            "--demo",
            "--collector.coaching=false",
            "--storage.path",
            "/var/lib/gong-exporter",
            "--counters.start-date",
            "2024-01-31",
        ])
        .unwrap();
        assert!(!c.poller.collectors.contains(crate::collectors::CollectorName::Coaching));
        assert_eq!(c.counters_start_date, Some(jiff::civil::date(2024, 1, 31)));
    }

    #[test]
    fn the_listen_address_may_be_given_more_than_once() {
        let c = parse(&["--demo", "--web.listen-address", ":9100", "--web.listen-address", "127.0.0.1:9101"]).unwrap();
        let expected: Vec<SocketAddr> = vec!["[::]:9100".parse().unwrap(), "127.0.0.1:9101".parse().unwrap()];
        assert_eq!(c.listen_addresses, expected);
    }

    #[test]
    fn collector_switches_as_node_exporter_spells_them() {
        assert!(parse(&["--demo"]).unwrap().poller.collectors.contains(crate::collectors::CollectorName::Coaching));
        assert!(
            parse(&["--demo", "--collector.coaching"])
                .unwrap()
                .poller
                .collectors
                .contains(crate::collectors::CollectorName::Coaching)
        );
        assert!(
            !parse(&["--demo", "--no-collector.coaching"])
                .unwrap()
                .poller
                .collectors
                .contains(crate::collectors::CollectorName::Coaching)
        );
        assert!(
            !parse(&["--demo", "--collector.coaching=false"])
                .unwrap()
                .poller
                .collectors
                .contains(crate::collectors::CollectorName::Coaching)
        );
        // The last switch wins.
        assert!(
            parse(&["--demo", "--no-collector.coaching", "--collector.coaching"])
                .unwrap()
                .poller
                .collectors
                .contains(crate::collectors::CollectorName::Coaching)
        );
        assert!(
            !parse(&["--demo", "--collector.coaching", "--no-collector.coaching"])
                .unwrap()
                .poller
                .collectors
                .contains(crate::collectors::CollectorName::Coaching)
        );
        assert!(parse(&["--demo"]).unwrap().process_metrics);
        assert!(!parse(&["--demo", "--web.disable-exporter-metrics"]).unwrap().process_metrics);
    }

    #[test]
    fn windows_are_sorted_and_deduplicated() {
        let c = parse(&["--demo", "--stats.windows", "28d,1d,24h,7d"]).unwrap();
        assert_eq!(c.poller.windows.iter().map(Window::label).collect::<Vec<_>>(), ["1d", "7d", "28d"]);
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
        assert_eq!(c.source, Source::Gong);
        match &c.client.credentials {
            Credentials::Basic { access_key, secret } => {
                assert_eq!(access_key, "AK123");
                assert_eq!(secret.expose(), "very-secret-value");
            }
            other => panic!("unexpected credentials {other:?}"),
        }
        assert!(!format!("{c:?}").contains("very-secret-value"));
    }

    #[test]
    fn credentials_with_control_characters_are_refused_naming_where_not_what() {
        let err = parse(&["--gong.access-key", "k", "--gong.access-key-secret", "se\ncret"]).unwrap_err();
        assert!(err.contains("GONG_ACCESS_KEY_SECRET contains a control character") && !err.contains("cret"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc\tdef\n").unwrap();
        let err = parse(&["--gong.bearer-token-file", token.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("--gong.bearer-token-file contains a control character"), "{err}");
        // The trailing newline editors add is still trimmed, not refused.
        std::fs::write(&token, "abcdef\n").unwrap();
        assert!(parse(&["--gong.bearer-token-file", token.to_str().unwrap()]).is_ok());
    }

    #[test]
    fn missing_credential_file_names_flag_and_path() {
        let err = parse(&["--gong.bearer-token-file", "/nonexistent/token"]).unwrap_err();
        assert!(err.contains("--gong.bearer-token-file") && err.contains("/nonexistent/token"), "{err}");
    }

    #[test]
    fn the_health_check_asks_where_the_exporter_listens() {
        let url = |listen: &str, tls| health_url(listen.parse().unwrap(), tls).to_string();
        assert_eq!(url("[::]:9863", false), "http://localhost:9863/-/healthy");
        assert_eq!(url("0.0.0.0:9000", true), "https://localhost:9000/-/healthy");
        assert_eq!(url("[::1]:9863", false), "http://[::1]:9863/-/healthy");
        assert_eq!(url("10.1.2.3:8080", false), "http://10.1.2.3:8080/-/healthy");
    }
}
