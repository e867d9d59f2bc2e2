//! The `stripe-vcr` binary: parse the command line, set up logging and the
//! runtime, run the subcommand (`stripe_vcr::commands`), report.

use std::process::ExitCode;

use clap::Parser;
use stripe_vcr::commands;
use stripe_vcr::config::{Cli, Command, Config};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("stripe_vcr=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stripe-vcr: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Certs(args) => commands::certs(&args.certs, &args.intercept_hosts),
        Command::Verify(args) => commands::verify(&args),
        Command::Doctor(args) => commands::doctor(&args),
        Command::Audit(args) => commands::audit(&args),
        Command::Diff(args) => commands::diff(&args),
        Command::Prune(args) => commands::prune(&args),
        Command::Record(args) => Config::record(args)
            .map_err(|e| e.to_string())
            .and_then(|c| runtime.block_on(commands::serve(c))),
        Command::Replay(args) => Config::replay(args)
            .map_err(|e| e.to_string())
            .and_then(|c| runtime.block_on(commands::serve(c))),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("stripe-vcr: {message}");
            ExitCode::FAILURE
        }
    }
}
