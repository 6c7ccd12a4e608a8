//! The process signals the exporter answers, in one place so that what each
//! signal does is read here: SIGINT and SIGTERM stop it gracefully
//! ([`Shutdown`]), SIGHUP reloads `--web.config.file` ([`Hangups`]) and
//! otherwise only logs: its default action (terminate) would kill an
//! exporter that `kill -HUP` only meant to reload.
//!
//! Each is listened for from the moment its value is made, not from the
//! first wait: made before the exporter starts, a signal that arrives while
//! it starts is answered instead of killing the process.

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

impl Hangups {
    /// Answers SIGHUP when there is no web config to reload: logs it, and
    /// keeps the default action from killing the process. Runs for ever.
    pub async fn log_with_nothing_to_reload(mut self) {
        loop {
            self.next().await;
            tracing::info!("SIGHUP: no --web.config.file to reload");
        }
    }
}

/// SIGINT (ctrl-c) and SIGTERM: a graceful stop.
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Starts listening (call it inside the runtime).
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| {
                let listening = signal(kind);
                if let Err(error) = &listening {
                    tracing::warn!(%error, "cannot listen for {name}");
                }
                listening.ok()
            };
            Self {
                interrupt: listen(SignalKind::interrupt(), "SIGINT"),
                terminate: listen(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn wait(self) {
        #[cfg(unix)]
        {
            async fn next(mut signal: Option<tokio::signal::unix::Signal>) {
                if let Some(signal) = &mut signal
                    && signal.recv().await.is_some()
                {
                    return;
                }
                std::future::pending::<()>().await;
            }
            tokio::select! {
                () = next(self.interrupt) => {},
                () = next(self.terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[tokio::test]
    async fn a_sigterm_between_listen_and_wait_is_answered_not_fatal() {
        let shutdown = super::Shutdown::listen();
        // Delivered before anything waits, as while the exporter starts.
        let sent = std::process::Command::new("kill").args(["-TERM", &std::process::id().to_string()]).status();
        assert!(sent.unwrap().success());
        let waited = tokio::time::timeout(std::time::Duration::from_secs(5), shutdown.wait()).await;
        assert!(waited.is_ok(), "the SIGTERM sent before the wait ends it");
    }
}
