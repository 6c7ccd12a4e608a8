//! The `gong-exporter` binary: parse flags, run the chosen command, turn
//! its error into a one-line message and an exit code.

use std::process::ExitCode;

use clap::Parser as _;
use gong_exporter::Error;
use gong_exporter::backfill::{self, BackfillConfig};
use gong_exporter::cli::{Cli, Command};
use gong_exporter::config::{Config, HealthcheckConfig, SimulateConfig};
use gong_exporter::logging;

fn main() -> ExitCode {
    gong_exporter::allocator::return_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version.
        Err(error) if !error.use_stderr() => error.exit(),
        // The flags did not parse, so neither did --log.format: a plain line.
        Err(error) => return fail(&Error::Usage(one_line(&error.render().to_string()))),
    };
    // Logging first: loading the web config may warn (ignored TLS settings),
    // and those lines must not be lost. The health check is a probe whose
    // answer is its exit code and one plain line; it does not log.
    let logs = match &cli.command {
        Some(Command::Backfill(args)) => Some(args.log_level.clone()),
        Some(Command::Healthcheck(_)) => None,
        Some(Command::Simulate(_)) | None => Some(cli.exporter.log_level.clone()),
    };
    if let Some(level) = &logs {
        logging::init(level, cli.exporter.log_format.into());
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // Once the flags parsed, a fatal error is a log line in the chosen
        // format (as node_exporter's are), so a log collector parses it.
        Err(error) if logs.is_some() => {
            tracing::error!(err = %error, exit_code = error.exit_code() as u8, "{}", error.kind());
            ExitCode::from(error.exit_code())
        }
        Err(error) => fail(&error),
    }
}

fn run(cli: Cli) -> Result<(), Error> {
    let runtime = tokio::runtime::Runtime::new().map_err(Error::Runtime)?;
    match cli.command {
        Some(Command::Backfill(args)) => {
            let config = BackfillConfig::from_args(*args)?;
            runtime.block_on(backfill::run(config))?;
        }
        Some(Command::Healthcheck(args)) => {
            let config = HealthcheckConfig::from_args(args)?;
            runtime.block_on(gong_exporter::healthcheck(config))?;
        }
        Some(Command::Simulate(args)) => {
            let config = SimulateConfig::from_args(args)?;
            runtime.block_on(gong_exporter::run_simulator(config))?;
        }
        None => {
            let config = Config::from_args(cli.exporter)?;
            runtime.block_on(gong_exporter::run(config))?;
        }
    }
    Ok(())
}

/// clap's message on one line, as a log line needs it: the error and its
/// detail lines (the missing flags, the possible values, a similar flag),
/// without the usage and the pointer to --help.
fn one_line(rendered: &str) -> String {
    let mut line = String::new();
    let details =
        rendered.lines().map(str::trim).take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"));
    for part in details.filter(|l| !l.is_empty()) {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    match line.strip_prefix("error: ") {
        Some(rest) => rest.to_owned(),
        None if line.is_empty() => "invalid arguments".to_owned(),
        None => line,
    }
}

fn fail(error: &Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(error.exit_code())
}
