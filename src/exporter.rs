//! Wiring: builds the client, poller and HTTP server from a [`Config`],
//! starts them, and stops them on a signal. Also `simulate`, which runs the
//! simulator alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::cli::SimulateArgs;
use crate::config::{Config, Source};
use crate::gong::GongClient;
use crate::ledger::Ledger;
use crate::poller::Poller;
use crate::published::Shared;
use crate::self_metrics::SelfMetrics;
use crate::simulator::dataset::GeneratedDataset;
use crate::simulator::{self, RunningSimulator, Simulator, SimulatorOptions};
use crate::{clock, http, windows};

/// Why the simulator (demo or `simulate`) could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("{0}")]
    Options(String),
    #[error("cannot read --faults '{}': {reason}", path.display())]
    Faults { path: PathBuf, reason: String },
    #[error("cannot listen on a loopback port: {0}")]
    Listen(std::io::Error),
}

/// Zone of the simulated company in `--demo`, named as Gong names it.
pub const DEMO_TIME_ZONE: &str = "US/Pacific";

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}; pick another --web.listen-address")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the demo simulator: {0}")]
    Simulator(#[from] SimulatorError),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error(transparent)]
    Storage(#[from] crate::ledger::StorageError),
}

/// One HTTP server, on one of the listen addresses.
#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    handle: axum_server::Handle<SocketAddr>,
    task: JoinHandle<()>,
}

/// A running exporter: server and poller tasks (and the demo simulator).
#[derive(Debug)]
pub struct Exporter {
    /// One per `--web.listen-address`, in the order given.
    servers: Vec<Server>,
    shared: Arc<Shared>,
    poller: JoinHandle<()>,
    watcher: Option<JoinHandle<()>>,
    simulator: Option<RunningSimulator>,
}

impl Exporter {
    /// The address the first HTTP server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.servers[0].addr
    }

    /// Every address the exporter listens on, in the order given.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.addr).collect()
    }

    /// State shared between poller and server.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The in-process simulator in `--demo` mode.
    pub fn simulator(&self) -> Option<&RunningSimulator> {
        self.simulator.as_ref()
    }

    /// Stops polling at once (in-flight requests are dropped) and lets the
    /// server finish in-flight scrapes.
    pub async fn shutdown(mut self) {
        self.poller.abort();
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        // Bounded so a stuck client connection cannot hold up a SIGTERM.
        for server in &self.servers {
            server.handle.graceful_shutdown(Some(Duration::from_secs(3)));
        }
        for server in &mut self.servers {
            if tokio::time::timeout(Duration::from_secs(4), &mut server.task).await.is_err() {
                server.task.abort();
            }
        }
    }
}

/// Binds the server and starts the poller; returns once both are running.
pub async fn start(config: Config) -> Result<Exporter, StartError> {
    let mut self_metrics = SelfMetrics::new();
    if config.process_metrics {
        self_metrics.register_process_metrics();
    }
    let self_metrics = Arc::new(self_metrics);
    let shared = Shared::new(Arc::clone(&self_metrics));
    let ledger = Ledger::open(config.storage_path.as_deref(), counting_start(&config))?;
    let days = crate::days::DayStore::open(config.storage_path.as_deref())?;

    let mut client_options = config.client.clone();
    let simulator = match config.source {
        Source::Gong => None,
        Source::Demo { users } => {
            shared.set_demo();
            tracing::warn!(
                users,
                "demo mode: every number this exporter serves is simulated by its built-in Gong simulator, not fetched from Gong"
            );
            let sim =
                start_demo_simulator(users as usize, client_options.rate_limit, config.poller.clock.clone()).await?;
            client_options.base_url = sim.base_url().parse().expect("a loopback address is a URL");
            Some(sim)
        }
    };
    let client = GongClient::new(client_options, self_metrics)?;

    let mut app = http::app(Arc::clone(&shared), &config.telemetry_path);
    let mut tls = None;
    let watcher = match &config.web_config {
        // Nothing to reload, but a SIGHUP must not kill the process.
        None => tokio::spawn(async {
            let mut hangups = http::webconfig::Hangups::listen();
            loop {
                hangups.next().await;
                tracing::info!("SIGHUP: no --web.config.file to reload");
            }
        }),
        Some((path, web)) => {
            let state = http::webconfig::WebState::new(web.clone());
            app = app.layer(axum::middleware::from_fn_with_state(Arc::clone(&state), http::webconfig::guard));
            tls = web.tls.as_ref().map(|t| axum_server::tls_rustls::RustlsConfig::from_config(Arc::clone(t)));
            tokio::spawn(state.watch(path.clone(), config.web_config_check, tls.clone()))
        }
    };
    // One server per --web.listen-address, all serving the same routes.
    let mut servers = Vec::with_capacity(config.listen_addresses.len());
    for requested in &config.listen_addresses {
        let listen_error = |source| StartError::Listen { addr: *requested, source };
        let listener = std::net::TcpListener::bind(requested)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let handle = axum_server::Handle::new();
        let service = app.clone().into_make_service();
        let task = match &tls {
            Some(tls) => {
                let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls.clone())
                    .map_err(listen_error)?
                    .handle(handle.clone());
                tokio::spawn(async move { report(server.serve(service).await) })
            }
            None => {
                let server = axum_server::from_tcp(listener).map_err(listen_error)?.handle(handle.clone());
                tokio::spawn(async move { report(server.serve(service).await) })
            }
        };
        tracing::info!(%addr, path = %config.telemetry_path, tls = tls.is_some(), version = crate::VERSION, revision = crate::REVISION, "gong-exporter listening");
        servers.push(Server { addr, handle, task });
    }

    let poller =
        tokio::spawn(Poller::new(Arc::new(client), config.poller.clone(), Arc::clone(&shared), ledger, days).run());
    Ok(Exporter { servers, shared, poller, watcher: Some(watcher), simulator })
}

/// `--counters.start-date`; in `--demo` without stored state, the start of
/// the largest window, so the demo shows counters with history at once (the
/// simulated company has no real history to double count).
fn counting_start(config: &Config) -> Option<jiff::civil::Date> {
    if config.counters_start_date.is_some() || config.storage_path.is_some() {
        return config.counters_start_date;
    }
    let Source::Demo { .. } = config.source else {
        return None;
    };
    let zone = windows::parse_time_zone(DEMO_TIME_ZONE).ok()?;
    let today = windows::company_date(config.poller.clock.now(), &zone);
    let days = i64::from(config.largest_window().days());
    today.checked_sub(jiff::Span::new().days(days)).ok()
}

fn report(result: std::io::Result<()>) {
    if let Err(error) = result {
        tracing::error!(%error, "HTTP server failed");
    }
}

async fn start_demo_simulator(
    users: usize,
    client_rate: f64,
    clock: clock::Clock,
) -> Result<RunningSimulator, StartError> {
    let tz = windows::parse_time_zone(DEMO_TIME_ZONE).map_err(SimulatorError::Options)?;
    let mut options = SimulatorOptions::new(DEMO_TIME_ZONE);
    // A raised client limit (benchmarks) raises the simulator's with it.
    options.rate_limit = client_rate.max(3.0);
    options.clock = clock.clone();
    // Yesterday keeps changing for hours after midnight, as at a real
    // company, so the demo shows the settling schedule at work.
    let dataset = GeneratedDataset::new(users, tz).with_late_data(clock);
    let sim = Simulator::new(Arc::new(dataset), options).map_err(SimulatorError::Options)?;
    let running = simulator::spawn(sim, SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(SimulatorError::Listen)?;
    tracing::info!(addr = %running.addr, users, "demo: Gong simulator started");
    Ok(running)
}

/// Runs the exporter until SIGINT or SIGTERM.
pub async fn run(config: Config) -> Result<(), StartError> {
    let exporter = start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    exporter.shutdown().await;
    Ok(())
}

/// Runs only the simulator until SIGINT or SIGTERM.
pub async fn run_simulator(args: SimulateArgs) -> Result<(), StartError> {
    let name = args.timezone.iana_name().unwrap_or(DEMO_TIME_ZONE).to_owned();
    let options = SimulatorOptions {
        page_size: args.page_size as usize,
        rate_limit: args.rate_limit,
        time_zone_name: name,
        access_key: args.access_key,
        access_key_secret: args.access_key_secret,
        bearer_token: None,
        clock: clock::Clock::system(),
        coaching_enabled: args.coaching,
        scopes: args.scopes.map(|scopes| scopes.into_iter().collect()),
    };
    let rules = match &args.faults {
        Some(path) => {
            let unreadable = |reason: String| SimulatorError::Faults { path: path.clone(), reason };
            let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
            simulator::faults::Faults::parse(&text).map_err(unreadable)?
        }
        None => Vec::new(),
    };
    let dataset = GeneratedDataset::new(args.users as usize, args.timezone)
        .with_late_data(clock::Clock::system())
        .with_workspaces(u64::from(args.workspaces));
    let sim = Simulator::new(Arc::new(dataset), options).map_err(SimulatorError::Options)?;
    for rule in rules {
        sim.add_fault(rule);
    }
    let running =
        simulator::spawn(sim, args.listen).await.map_err(|source| StartError::Listen { addr: args.listen, source })?;
    tracing::info!(addr = %running.addr, users = args.users, "Gong simulator listening");
    shutdown_signal().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
