//! The `gong-exporter` binary: parse flags, set up logging, run the library.

use std::process::ExitCode;

use clap::Parser;
use gong_exporter::config::{Cli, Command, Config};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => {
            // clap's usage and tips follow on more lines; the first says
            // which flag is wrong and why, which is what a log line needs.
            let rendered = error.render().to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: invalid arguments"));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = match cli.command {
        Some(Command::Backfill(args)) => {
            gong_exporter::init_logging(&args.log_level, cli.exporter.log_format);
            let config = match gong_exporter::backfill::BackfillConfig::from_args(*args) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(gong_exporter::backfill::run(config)).map(drop).map_err(Into::into)
        }
        Some(Command::Simulate(args)) => {
            gong_exporter::init_logging(&cli.exporter.log_level, cli.exporter.log_format);
            runtime.block_on(gong_exporter::run_simulator(args)).map_err(Into::into)
        }
        None => {
            let config = match Config::from_args(cli.exporter) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            gong_exporter::init_logging(&config.log_level, config.log_format);
            runtime.block_on(gong_exporter::run(config)).map_err(Into::into)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
