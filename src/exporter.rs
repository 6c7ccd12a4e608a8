//! Wiring: builds the client, poller and HTTP server from a [`Config`],
//! starts them, and stops them on a signal. Also `simulate`, which runs the
//! simulator alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::SimulateConfig;
use crate::config::{Config, Source};
use crate::gong::GongClient;
use crate::http::listener::{LimitedAddr, LimitedListener};
use crate::ledger::Ledger;
use crate::poller::Poller;
use crate::published::Shared;
use crate::self_metrics::SelfMetrics;
use crate::simulator::dataset::GeneratedDataset;
use crate::simulator::{self, RunningSimulator, Simulator, SimulatorOptions};
use crate::{clock, http, signals, windows};

/// Why the simulator (demo or `simulate`) could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("{0}")]
    Options(String),
    #[error("cannot listen on a loopback port: {0}")]
    Listen(std::io::Error),
}

pub use crate::simulator::DEMO_TIME_ZONE;

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
    Storage(#[from] crate::storage::StorageError),
}

/// One HTTP server, on one of the listen addresses.
#[derive(Debug)]
struct Server {
    addr: SocketAddr,
    handle: axum_server::Handle<LimitedAddr>,
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
    /// The in-process simulator in `--demo` mode, kept running with the
    /// exporter.
    _simulator: Option<RunningSimulator>,
    /// `--storage.path`'s lock, held while the exporter runs.
    _storage_lock: Option<std::fs::File>,
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
    // Before anything in the directory is read or moved.
    let storage_lock = config.storage_path.as_deref().map(crate::storage::lock).transpose()?;
    let ledger = Ledger::open(config.storage_path.as_deref(), counting_start(&config), config.poller.clock.now())?;
    let days = crate::days::DayStore::open(config.storage_path.as_deref(), config.poller.clock.now())?;

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
    let client = GongClient::new(client_options, Arc::clone(&self_metrics))?;

    let mut app = http::app(Arc::clone(&shared), &config.telemetry_path);
    let mut tls = None;
    // Before the server runs: from then on a SIGHUP must not kill it.
    let hangups = signals::Hangups::listen();
    let watcher = match &config.web_config {
        // Nothing to reload, but a SIGHUP must not kill the process.
        None => tokio::spawn(hangups.log_with_nothing_to_reload()),
        Some((path, web)) => {
            // Times a bcrypt check (up to a second) before the listener
            // opens: on a blocking thread, not one of the runtime's.
            let web_state = web.clone();
            let state = tokio::task::spawn_blocking(move || http::webconfig::WebState::new(web_state))
                .await
                .expect("timing a bcrypt check does not panic");
            app = app.layer(axum::middleware::from_fn_with_state(Arc::clone(&state), http::webconfig::guard));
            tls = web.tls.as_ref().map(|t| axum_server::tls_rustls::RustlsConfig::from_config(Arc::clone(t)));
            tokio::spawn(state.watch(path.clone(), config.web_config_check, tls.clone(), hangups))
        }
    };
    // One server per --web.listen-address, all serving the same routes.
    let mut servers = Vec::with_capacity(config.listen_addresses.len());
    for requested in &config.listen_addresses {
        let listen_error = |source| StartError::Listen { addr: *requested, source };
        let listener = bind(*requested).and_then(|l| l.set_nonblocking(true).map(|()| l)).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let handle = axum_server::Handle::new();
        let service = app.clone().into_make_service();
        let backstop = crate::http::listener::idle_backstop(config.idle_timeout);
        let listener = LimitedListener::new(listener, config.max_connections, backstop).map_err(listen_error)?;
        let mut server = axum_server::Server::from_listener(listener)
            .handle(handle.clone())
            // Until the first request, after which hyper's header timer
            // takes over (it also runs while a connection waits idle).
            .first_request_timeout(config.idle_timeout);
        server.http_builder().http1().header_read_timeout(config.idle_timeout);
        // HTTP/2 (TLS only) sends no keep-alive pings of its own: their
        // traffic would keep an idle connection from the listener's backstop.
        server.http_builder().http2().max_concurrent_streams(100);
        let task = match &tls {
            Some(tls) => {
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls.clone());
                let server = server.acceptor(acceptor.handshake_timeout(config.idle_timeout));
                tokio::spawn(async move { report(server.serve(service).await) })
            }
            None => tokio::spawn(async move { report(server.serve(service).await) }),
        };
        tracing::info!(%addr, path = %config.telemetry_path, tls = tls.is_some(), version = crate::VERSION, revision = crate::REVISION, "gong-exporter listening");
        servers.push(Server { addr, handle, task });
    }

    let poller = spawn_poller(&config, Arc::new(client), &shared, ledger, days);
    Ok(Exporter { servers, shared, poller, watcher: Some(watcher), _simulator: simulator, _storage_lock: storage_lock })
}

/// Binds `addr`. `[::]` (what `:PORT` means) is bound dual-stack, taking
/// IPv4 too whatever the host's `net.ipv6.bindv6only` says, as Go
/// exporters' `:PORT` does; on a host without IPv6 it falls back to
/// `0.0.0.0`. Every other address is bound as given.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    if addr.ip() != std::net::Ipv6Addr::UNSPECIFIED {
        return std::net::TcpListener::bind(addr);
    }
    let socket = match Socket::new(Domain::IPV6, Type::STREAM, None) {
        Ok(socket) => socket,
        Err(error) => {
            let v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, addr.port()));
            tracing::info!(%addr, fallback = %v4, %error, "no IPv6 on this host; listening on IPv4 only");
            return std::net::TcpListener::bind(v4);
        }
    };
    socket.set_only_v6(false)?;
    // As std's bind does: a restart may bind while old connections linger
    // in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Starts the poller under [`supervise`]: `ledger` and `days` for the first
/// one, opened again from `--storage.path` for each restart.
fn spawn_poller(
    config: &Config,
    client: Arc<GongClient>,
    shared: &Arc<Shared>,
    ledger: Ledger,
    days: crate::days::DayStore,
) -> JoinHandle<()> {
    let settings = config.poller.clone();
    let mut first = Some(Poller::new(Arc::clone(&client), settings.clone(), Arc::clone(shared), ledger, days));
    let (storage, start) = (config.storage_path.clone(), counting_start(config));
    let restart_shared = Arc::clone(shared);
    let restart = move || -> Result<_, String> {
        let poller = match first.take() {
            Some(poller) => poller,
            // A new poller from what is stored: the one that stopped kept
            // nothing in memory that the files do not hold.
            None => {
                let ledger =
                    Ledger::open(storage.as_deref(), start, settings.clock.now()).map_err(|e| e.to_string())?;
                let days =
                    crate::days::DayStore::open(storage.as_deref(), settings.clock.now()).map_err(|e| e.to_string())?;
                Poller::new(Arc::clone(&client), settings.clone(), Arc::clone(&restart_shared), ledger, days)
            }
        };
        Ok(poller.run())
    };
    tokio::spawn(supervise(Arc::clone(&shared.self_metrics), restart, RESTART_FIRST))
}

/// The first wait before a stopped poller is started again; it doubles per
/// restart up to [`RESTART_MAX`], and starts over after an hour of running.
const RESTART_FIRST: Duration = Duration::from_secs(1);
const RESTART_MAX: Duration = Duration::from_secs(300);

/// Aborts the task when dropped: the supervisor's own task being aborted
/// (shutdown) takes the poller with it.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs what `start` returns (the poller) and, when it panics, logs why,
/// counts it and starts a new one after a growing wait, so one bug in a
/// rare path never leaves the exporter serving stale data for ever. While
/// it is down the heartbeat ages, and `/-/healthy` fails once it is stale.
async fn supervise<F, Fut>(metrics: Arc<SelfMetrics>, mut start: F, first_wait: Duration)
where
    F: FnMut() -> Result<Fut, String>,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut wait = first_wait;
    loop {
        match start() {
            Ok(run) => {
                let started = tokio::time::Instant::now();
                let mut task = AbortOnDrop(tokio::spawn(run));
                match (&mut task.0).await {
                    Ok(()) => return,
                    Err(error) if error.is_cancelled() => return,
                    Err(error) => {
                        if started.elapsed() > Duration::from_secs(3600) {
                            wait = first_wait;
                        }
                        tracing::error!(
                            panic = panic_message(error.into_panic()),
                            restart_in = ?wait,
                            "the background poller stopped unexpectedly (a bug: please report it with this line); starting a new one (gong_exporter_poller_restarts_total)"
                        );
                    }
                }
            }
            Err(reason) => {
                tracing::error!(%reason, restart_in = ?wait, "cannot start the background poller again; trying later");
            }
        }
        tokio::time::sleep(wait).await;
        metrics.poller_restarted();
        wait = (wait * 2).min(RESTART_MAX);
    }
}

/// A panic's message, when it has one.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
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
    // Before starting: a SIGTERM while starting stops it gracefully.
    let shutdown = signals::Shutdown::listen();
    let exporter = start(config).await?;
    shutdown.wait().await;
    tracing::info!("shutting down");
    exporter.shutdown().await;
    Ok(())
}

/// Runs only the simulator until SIGINT or SIGTERM.
pub async fn run_simulator(config: SimulateConfig) -> Result<(), StartError> {
    let dataset = GeneratedDataset::new(config.users, config.time_zone)
        .with_late_data(clock::Clock::system())
        .with_workspaces(config.workspaces);
    let sim = Simulator::new(Arc::new(dataset), config.options).map_err(SimulatorError::Options)?;
    for rule in config.faults {
        sim.add_fault(rule);
    }
    let shutdown = signals::Shutdown::listen();
    let running = simulator::spawn(sim, config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen, source })?;
    tracing::info!(addr = %running.addr, users = config.users, "Gong simulator listening");
    shutdown.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_poller_that_panics_is_started_again_and_counted() {
        let metrics = Arc::new(SelfMetrics::new());
        let starts = Arc::new(AtomicU32::new(0));
        let counting = Arc::clone(&starts);
        let start = move || -> Result<_, String> {
            let n = counting.fetch_add(1, Ordering::SeqCst);
            Ok(async move {
                match n {
                    0 | 1 => panic!("poller bug number {n}"),
                    // The third one runs for good.
                    _ => std::future::pending::<()>().await,
                }
            })
        };
        let supervisor = tokio::spawn(supervise(Arc::clone(&metrics), start, Duration::from_millis(5)));
        for _ in 0..200 {
            if starts.load(Ordering::SeqCst) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 3);
        let mut text = String::new();
        metrics.encode(&mut text).unwrap();
        assert!(text.contains("gong_exporter_poller_restarts_total 2"), "{text}");
        supervisor.abort();
    }

    #[tokio::test]
    async fn aborting_the_supervisor_stops_the_poller_it_runs() {
        let metrics = Arc::new(SelfMetrics::new());
        let (alive, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let mut alive = Some(alive);
        let start = move || -> Result<_, String> {
            let alive = alive.take().expect("started once");
            Ok(async move {
                let _alive = alive;
                std::future::pending::<()>().await;
            })
        };
        let supervisor = tokio::spawn(supervise(metrics, start, Duration::from_millis(5)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(stopped.try_recv().is_err(), "running");
        supervisor.abort();
        // The poller's future is dropped with its sender.
        assert!(tokio::time::timeout(Duration::from_secs(5), stopped).await.is_ok());
    }
}
