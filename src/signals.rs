//! The process signals the exporter answers, in one place so that what each
//! signal does is read here: SIGINT and SIGTERM stop it gracefully
//! ([`shutdown`]), SIGHUP reloads `--web.config.file` ([`Hangups`]) and
//! otherwise only logs: its default action (terminate) would kill an
//! exporter that `kill -HUP` only meant to reload.

/// SIGHUP deliveries. Listening replaces the default action (terminate), so
/// a SIGHUP never kills the exporter.
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts listening; on systems without SIGHUP, never fires.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
            if let Err(error) = &signal {
                tracing::warn!(%error, "cannot listen for SIGHUP");
            }
            Self { signal: signal.ok() }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGHUP.
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// Answers SIGHUP when there is no web config to reload: logs it, and
/// keeps the default action from killing the process. Runs for ever.
pub async fn log_hangups_with_nothing_to_reload() {
    let mut hangups = Hangups::listen();
    loop {
        hangups.next().await;
        tracing::info!("SIGHUP: no --web.config.file to reload");
    }
}

/// Resolves on the first SIGINT (ctrl-c) or SIGTERM.
pub async fn shutdown() {
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
