//! The second stage of the command line (as ripgrep's `HiArgs`): what the
//! program runs on. [`crate::cli`] parses each flag on its own; this module
//! reads credential files, checks flags against each other, and builds the
//! settings each part takes ([`ClientOptions`], [`PollerSettings`]) so no
//! caller copies flags field by field.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser as _;
use jiff::civil::Date;
use reqwest::Url;

use crate::cli::{BackfillArgs, Cli, ExporterArgs, GongArgs, HealthcheckArgs, PollSchedule, SimulateArgs};
use crate::clock::Clock;
use crate::collectors::scorecards::PrivateReviews;
use crate::gong::{ClientOptions, Credentials, MAX_BACKOFF, MIN_BACKOFF, OAuthApp, REFRESH_TOKEN_FILE};
use crate::http::webconfig::{WebConfig, WebConfigError};
use crate::poller::{PollerSettings, Schedule};
use crate::secret::{Secret, SecretFileError};
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
    /// The exporter's web config requires client certificates, which the
    /// check has none of: it would fail however healthy the exporter is.
    pub client_certificates_required: bool,
}

impl HealthcheckConfig {
    /// `--url`, or `/-/healthy` where the exporter listens: a container's
    /// health check runs with the exporter's environment, so a
    /// `WEB_LISTEN_ADDRESS` or `WEB_CONFIG_FILE` that moves the exporter
    /// moves the check with it.
    pub fn from_args(args: HealthcheckArgs) -> Result<Self, ConfigError> {
        let mut client_certificates_required = false;
        let url = match args.url {
            Some(url) => url,
            None => {
                let web = args.web_config_file.as_deref().map(WebConfig::load).transpose()?;
                client_certificates_required = web.as_ref().is_some_and(WebConfig::requires_client_certificates);
                health_url(args.listen_address, web.is_some_and(|w| w.tls.is_some()))
            }
        };
        Ok(Self { url, timeout: args.timeout, client_certificates_required })
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
            oauth: args.oauth_refresh_token.map(|refresh_token| crate::simulator::SimulatedOAuthApp {
                client_id: args.access_key.clone(),
                client_secret: args.access_key_secret.clone(),
                refresh_token,
                access_token_lifetime: args.oauth_token_lifetime,
            }),
            access_key: args.access_key,
            access_key_secret: args.access_key_secret,
            bearer_token: None,
            clock: Clock::system(),
            coaching_enabled: args.coaching,
            coaching_lists_managers_below: true,
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
    /// `--scorecards.include-private`.
    pub private_reviews: PrivateReviews,
}

/// A configuration that cannot run; the message names the flag or env var.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no Gong credentials: set GONG_ACCESS_KEY and GONG_ACCESS_KEY_SECRET (or --gong.access-key-file/--gong.access-key-secret-file), or GONG_BEARER_TOKEN (or --gong.bearer-token-file), or an OAuth app's GONG_OAUTH_CLIENT_ID, GONG_OAUTH_CLIENT_SECRET and GONG_OAUTH_REFRESH_TOKEN; or run with --demo"
    )]
    MissingCredentials,
    #[error("{present} is set but {missing} is not: Basic auth needs both the access key and its secret")]
    HalfBasicCredentials { present: &'static str, missing: &'static str },
    #[error(
        "more than one kind of Gong credentials is set: use one of an access key (GONG_ACCESS_KEY/GONG_ACCESS_KEY_SECRET), a bearer token (GONG_BEARER_TOKEN) or an OAuth app (GONG_OAUTH_CLIENT_ID/GONG_OAUTH_CLIENT_SECRET/GONG_OAUTH_REFRESH_TOKEN)"
    )]
    BothCredentialKinds,
    #[error(
        "{missing} is not set: refreshing OAuth tokens needs the app's client ID and secret and a refresh token (GONG_OAUTH_CLIENT_ID, GONG_OAUTH_CLIENT_SECRET, GONG_OAUTH_REFRESH_TOKEN, or their --gong.oauth.* flags)"
    )]
    HalfOAuth { missing: &'static str },
    #[error(
        "--gong.oauth.* needs --storage.path: Gong's refresh tokens are single use, so the one each refresh returns is kept there for the next start"
    )]
    OAuthWithoutStorage,
    #[error(
        "backfill cannot refresh OAuth tokens: it would use up the refresh token the running exporter holds (Gong's are single use); give backfill an access token with --gong.bearer-token-file, and unset GONG_OAUTH_* in its environment (inside the exporter's pod they are set)"
    )]
    OAuthInBackfill,
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
            let credentials = credentials(&args.gong, args.storage_path.as_deref())?;
            (Source::Gong, client_options(&args.gong, gong_base_url(&args.gong), credentials))
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
            private_reviews: private_reviews(args.include_private),
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
        if oauth_given(&args.gong) {
            return Err(ConfigError::OAuthInBackfill);
        }
        let credentials = credentials(&args.gong, None)?;
        Ok(Self {
            client: client_options(&args.gong, gong_base_url(&args.gong), credentials),
            time_zone: args.gong.timezone,
            from: args.from,
            to: args.to,
            output: args.output,
            windows: sorted_windows(args.windows)?,
            labels: args.labels,
            interaction: args.interaction,
            include_user_email: args.user_email,
            private_reviews: private_reviews(args.include_private),
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

/// `--scorecards.include-private`.
fn private_reviews(include: bool) -> PrivateReviews {
    if include { PrivateReviews::Include } else { PrivateReviews::Withhold }
}

/// `--gong.base-url`, else Gong's global address.
fn gong_base_url(args: &GongArgs) -> Url {
    args.base_url.clone().unwrap_or_else(|| Url::parse(DEFAULT_BASE_URL).expect("a valid URL"))
}

/// Where Gong's API answers when no tenant address is known.
pub const DEFAULT_BASE_URL: &str = "https://api.gong.io";

/// Whether any OAuth app flag is set.
fn oauth_given(args: &GongArgs) -> bool {
    args.oauth_client_id.is_some()
        || args.oauth_client_secret.is_some()
        || args.oauth_client_secret_file.is_some()
        || args.oauth_refresh_token.is_some()
        || args.oauth_refresh_token_file.is_some()
}

/// The OAuth app the flags give, if any; `storage` is where the rotated
/// refresh token is kept.
fn oauth_app(args: &GongArgs, storage: Option<&Path>) -> Result<Option<OAuthApp>, ConfigError> {
    let client_id = args.oauth_client_id.clone().filter(|id| !id.is_empty());
    let client_secret = value_or_file(
        args.oauth_client_secret.as_ref().map(|s| s.expose().to_owned()),
        args.oauth_client_secret_file.as_ref(),
        "GONG_OAUTH_CLIENT_SECRET",
        "--gong.oauth.client-secret-file",
    )?;
    let refresh_token = value_or_file(
        args.oauth_refresh_token.as_ref().map(|s| s.expose().to_owned()),
        args.oauth_refresh_token_file.as_ref(),
        "GONG_OAUTH_REFRESH_TOKEN",
        "--gong.oauth.refresh-token-file",
    )?;
    let (client_id, client_secret, refresh_token) = match (client_id, client_secret, refresh_token) {
        (None, None, None) => return Ok(None),
        (Some(id), Some(secret), Some(token)) => (id, secret, token),
        (id, secret, _) => {
            let missing = if id.is_none() {
                "GONG_OAUTH_CLIENT_ID"
            } else if secret.is_none() {
                "GONG_OAUTH_CLIENT_SECRET"
            } else {
                "GONG_OAUTH_REFRESH_TOKEN"
            };
            return Err(ConfigError::HalfOAuth { missing });
        }
    };
    let storage = storage.ok_or(ConfigError::OAuthWithoutStorage)?;
    Ok(Some(OAuthApp {
        token_url: args.oauth_token_url.clone(),
        client_id,
        client_secret: Secret::new(client_secret),
        refresh_token: Secret::new(refresh_token),
        state_file: storage.join(REFRESH_TOKEN_FILE),
        follow_base_url: args.base_url.is_none(),
    }))
}

/// The credentials the flags, env vars and files give; `storage` is
/// `--storage.path`, which refreshing OAuth tokens needs.
pub fn credentials(args: &GongArgs, storage: Option<&Path>) -> Result<Credentials, ConfigError> {
    let oauth = oauth_app(args, storage)?;
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

    let kinds =
        usize::from(key.is_some() || secret.is_some()) + usize::from(bearer.is_some()) + usize::from(oauth.is_some());
    if kinds > 1 {
        return Err(ConfigError::BothCredentialKinds);
    }
    if let Some(app) = oauth {
        return Ok(Credentials::OAuth(app));
    }
    match (key, secret, bearer) {
        // Read at start (a bad file fails here), and again as it changes.
        (None, None, Some(_)) if let Some(path) = &args.bearer_token_file => Ok(Credentials::BearerFile(path.clone())),
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

/// A credential given directly or as a file.
fn value_or_file(
    value: Option<String>,
    file: Option<&PathBuf>,
    value_name: &'static str,
    file_flag: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (value.filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(ConfigError::ValueAndFile { value: value_name, file: file_flag }),
        // A newline or other control character cannot go into an HTTP
        // header: refused here, naming where it came from, never the value.
        (Some(v), None) if v.chars().any(char::is_control) => Err(ConfigError::ControlCharacter { origin: value_name }),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => match crate::secret::read_file(path) {
            Ok(secret) => Ok(Some(secret.expose().to_owned())),
            Err(SecretFileError::Empty) => {
                Err(ConfigError::EmptyFile { flag: file_flag, path: path.display().to_string() })
            }
            Err(SecretFileError::ControlCharacter) => Err(ConfigError::ControlCharacter { origin: file_flag }),
            Err(e) => Err(ConfigError::UnreadableFile {
                flag: file_flag,
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        },
        (None, None) => Ok(None),
    }
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
        assert!(err.contains("use one of"), "{err}");
    }

    #[test]
    fn an_oauth_app_needs_all_three_values_storage_and_no_other_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().to_str().unwrap();
        let app =
            ["--gong.oauth.client-id", "id", "--gong.oauth.client-secret", "s", "--gong.oauth.refresh-token", "r"];
        let err = parse(&app[..4]).unwrap_err();
        assert!(err.starts_with("GONG_OAUTH_REFRESH_TOKEN is not set"), "{err}");
        let err = parse(&app[2..]).unwrap_err();
        assert!(err.starts_with("GONG_OAUTH_CLIENT_ID is not set"), "{err}");
        let err = parse(&app).unwrap_err();
        assert!(err.contains("needs --storage.path"), "{err}");
        let err = parse(&[&app[..], &["--storage.path", storage, "--gong.bearer-token", "t"]].concat()).unwrap_err();
        assert!(err.contains("use one of"), "{err}");

        let c = parse(&[&app[..], &["--storage.path", storage]].concat()).unwrap();
        match &c.client.credentials {
            Credentials::OAuth(app) => {
                assert_eq!(app.token_url.as_str(), crate::gong::GONG_TOKEN_URL);
                assert_eq!(app.state_file, dir.path().join(REFRESH_TOKEN_FILE));
                assert!(app.follow_base_url, "no --gong.base-url: the token answer's address is used");
            }
            other => panic!("unexpected credentials {other:?}"),
        }
        assert_eq!(c.client.base_url.as_str(), "https://api.gong.io/");
        let pinned = [&app[..], &["--storage.path", storage, "--gong.base-url", "https://us-1.api.gong.io"]].concat();
        match parse(&pinned).unwrap().client.credentials {
            Credentials::OAuth(app) => assert!(!app.follow_base_url, "--gong.base-url wins"),
            other => panic!("unexpected credentials {other:?}"),
        }
        assert!(!format!("{c:?}").contains("\"s\"") && !format!("{c:?}").contains("\"r\""), "{c:?}");
    }

    #[test]
    fn backfill_refuses_to_refresh_the_exporters_oauth_token() {
        let cli = Cli::try_parse_from([
            "gong-exporter",
            "backfill",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-02",
            "--output",
            "out.om",
            "--gong.oauth.refresh-token",
            "r",
        ])
        .unwrap();
        let Some(crate::cli::Command::Backfill(args)) = cli.command else { panic!("not backfill") };
        let err = BackfillConfig::from_args(*args).unwrap_err().to_string();
        assert!(err.starts_with("backfill cannot refresh OAuth tokens"), "{err}");
    }

    #[test]
    fn a_bearer_token_file_is_kept_as_a_file_to_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "abc\n").unwrap();
        let c = parse(&["--gong.bearer-token-file", token.to_str().unwrap()]).unwrap();
        assert!(matches!(&c.client.credentials, Credentials::BearerFile(path) if *path == token));
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
