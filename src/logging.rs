//! Log output on stderr: logfmt or JSON lines, at `--log.level`.

use crate::cli::LogFormat;

/// Installs the global log subscriber (stderr).
pub fn init(level: &str, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // debug is this exporter's own events; other crates' debug (TLS, HTTP
    // client internals) belongs to trace, as promslog users expect.
    let directives = match level {
        "debug" => "info,gong_exporter=debug".to_owned(),
        other => other.to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(directives).unwrap_or_else(|_| "info".into());
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Logfmt => registry.with(tracing_logfmt::builder().layer().with_writer(std::io::stderr)).try_init(),
        LogFormat::Json => {
            registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).try_init()
        }
    };
    if let Err(error) = result {
        eprintln!("warning: logging already initialised: {error}");
    }
}
