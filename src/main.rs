//! The `stripe-vcr` binary: parse the command line, run, report.

use std::process::ExitCode;

use clap::Parser;
use stripe_vcr::config::{Cli, Command, Config};
use stripe_vcr::tls::{CaOrigin, CertificateAuthority};
use stripe_vcr::{banner, proxy};

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
        Command::Certs(args) => certs(&args.certs, &args.intercept_hosts),
        Command::Verify(args) => verify(&args),
        Command::Doctor(args) => doctor(&args),
        Command::Audit(args) => audit(&args),
        Command::Diff(args) => diff(&args),
        Command::Prune(args) => prune(&args),
        Command::Record(args) => Config::record(args)
            .map_err(|e| e.to_string())
            .and_then(|c| runtime.block_on(serve(c))),
        Command::Replay(args) => Config::replay(args)
            .map_err(|e| e.to_string())
            .and_then(|c| runtime.block_on(serve(c))),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("stripe-vcr: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<ExitCode, String> {
    let fail_on_unused = config.fail_on_unused;
    let running = proxy::start(config).await.map_err(|e| e.to_string())?;
    println!("{}", banner::banner(&running.info));
    wait_for_signal().await;
    eprintln!("stripe-vcr: shutting down…");
    let replaying = running.info.mode == "replay";
    let (summary, unused) = running.shutdown_with_unused().await;
    println!("stripe-vcr summary: {summary}");
    if replaying && !unused.is_empty() {
        println!("stripe-vcr: {} cassettes were never served in this run:", unused.len());
        for name in &unused {
            println!("  {name}");
        }
        if fail_on_unused {
            eprintln!("stripe-vcr: --fail-on-unused: {} unused cassettes", unused.len());
            return Ok(ExitCode::FAILURE);
        }
    }
    if summary.write_failures > 0 {
        eprintln!(
            "stripe-vcr: {} cassettes could not be saved; the recording is incomplete",
            summary.write_failures
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

fn certs(dir: &std::path::Path, extra_hosts: &[String]) -> Result<ExitCode, String> {
    let hosts = proxy::permitted_hosts(extra_hosts);
    let (ca, origin) = CertificateAuthority::load_or_create(dir, &hosts).map_err(|e| e.to_string())?;
    let verb = match origin {
        CaOrigin::Created => "created",
        CaOrigin::Loaded => "found",
    };
    println!("stripe-vcr CA {verb}: {}", ca.cert_pem_path().display());
    println!("  SHA-256  {}", ca.fingerprint_sha256());
    println!("  key      {} (mode 0600; never commit it)", ca.key_path().display());
    println!("  signs only for: {}", ca.permitted_hosts().join(", "));
    println!();
    let default_listen = "127.0.0.1:8443".parse().map_err(|e| format!("{e}"))?;
    println!("{}", banner::client_setup(default_listen, ca.cert_pem_path()));
    Ok(ExitCode::SUCCESS)
}

fn verify(args: &stripe_vcr::config::VerifyArgs) -> Result<ExitCode, String> {
    let patterns = args.redact.patterns().map_err(|e| e.to_string())?;
    let redactor = stripe_vcr::cassette::redact::Redactor::with_patterns(&patterns).map_err(|e| e.to_string())?;
    let report = stripe_vcr::verify::verify_dir(&args.cassettes, &redactor).map_err(|e| e.to_string())?;
    match args.format {
        stripe_vcr::config::Format::Text => print!("{}", report.to_text()),
        stripe_vcr::config::Format::Json => {
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?)
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn doctor(args: &stripe_vcr::config::DoctorArgs) -> Result<ExitCode, String> {
    use stripe_vcr::doctor::{run, Status};
    let checks = run(&args.certs, &args.cassettes, args.listen, &args.intercept_hosts);
    for check in &checks {
        println!("{check}");
    }
    if let Some(client) = args.client {
        println!();
        println!("{}", banner::setup_for(client, args.listen, &args.certs.join("ca.pem")));
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn audit(args: &stripe_vcr::config::AuditArgs) -> Result<ExitCode, String> {
    use std::io::IsTerminal;
    use stripe_vcr::audit::{gather, html, text, tripped};
    use stripe_vcr::config::AuditFormat;
    let schema = match &args.schema {
        Some(path) => stripe_vcr::validate::schema::Schema::from_file(path).map_err(|e| e.to_string())?,
        None => stripe_vcr::validate::schema::Schema::builtin().clone(),
    };
    let default_dir = std::path::PathBuf::from("cassettes");
    let cassettes = match (&args.cassettes, args.audit_logs.is_empty()) {
        (Some(dir), _) => Some(dir.as_path()),
        (None, true) => Some(default_dir.as_path()),
        (None, false) => None,
    };
    let report = gather(cassettes, &args.audit_logs, &schema).map_err(|e| e.to_string())?;
    match args.format {
        AuditFormat::Text => print!("{}", text::render_text(&report, std::io::stdout().is_terminal())),
        AuditFormat::Markdown => print!("{}", text::render_markdown(&report)),
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?),
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report)).map_err(|e| format!("--html {}: {e}", path.display()))?;
        eprintln!("stripe-vcr: wrote {}", path.display());
    }
    let failures = tripped(&report, &args.fail_on);
    for f in &failures {
        eprintln!("stripe-vcr audit: --fail-on: {f}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn diff(args: &stripe_vcr::config::DiffArgs) -> Result<ExitCode, String> {
    use stripe_vcr::config::AuditFormat;
    let report = stripe_vcr::diff::diff_dirs(&args.old, &args.new).map_err(|e| e.to_string())?;
    match args.format {
        AuditFormat::Text => print!("{}", report.to_text()),
        AuditFormat::Markdown => print!("{}", report.to_markdown()),
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?),
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn prune(args: &stripe_vcr::config::PruneArgs) -> Result<ExitCode, String> {
    let unused = stripe_vcr::prune::unused(&args.cassettes, &args.run_logs).map_err(|e| e.to_string())?;
    for name in &unused {
        println!("{}{name}", if args.delete { "deleted " } else { "unused  " });
    }
    if args.delete {
        stripe_vcr::prune::delete(&args.cassettes, &unused).map_err(|e| e.to_string())?;
        println!("{} cassettes deleted from {}", unused.len(), args.cassettes.display());
    } else {
        println!(
            "{} cassettes unused in {} (dry run: add --delete to remove them)",
            unused.len(),
            args.cassettes.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
