//! The `stripe-vcr` binary: parse the command line, set up logging and the
//! runtime, run the subcommand (`stripe_vcr::cli::commands`), report.

use std::process::ExitCode;

use clap::Parser;
use stripe_vcr::cli::args::{Cli, Command};
use stripe_vcr::cli::commands;
use stripe_vcr::server::logging;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = logging::init();
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
        Command::Webhooks(stripe_vcr::cli::args::WebhooksCommand::Send(args)) => {
            runtime.block_on(commands::webhooks_send(&args))
        }
        Command::Record(args) => {
            let options = args.serve.run_options();
            args.into_config()
                .map_err(|e| e.to_string())
                .and_then(|c| runtime.block_on(commands::serve(c, options)))
        }
        Command::Replay(args) => {
            let options = args.serve.run_options();
            args.into_config()
                .map_err(|e| e.to_string())
                .and_then(|c| runtime.block_on(commands::serve(c, options)))
        }
    };
    log.flush();
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("stripe-vcr: {message}");
            ExitCode::FAILURE
        }
    }
}
