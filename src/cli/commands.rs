//! The subcommands, each turning its parsed flags into output and an exit
//! code: `record`/`replay` (serve until Ctrl-C, then summarise), `certs`,
//! `verify`, `doctor`, `audit`, `diff` and `prune`. Errors come back as one
//! line for `main` to print.

use std::process::ExitCode;

use crate::cli::args::RunOptions;
use crate::cli::banner;
use crate::config::Config;
use crate::tls::{CaOrigin, CertificateAuthority};

/// Writes a line to stdout, or to stderr with `err!`, ignoring a closed
/// stream: the program that started the proxy may be gone (that is how
/// `--stop-on-stdin-close` stops it), and the run must still end in order.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `record` and `replay`: serve until Ctrl-C or SIGTERM (or stdin's end,
/// with `--stop-on-stdin-close`), then summarise.
pub async fn serve(config: Config, options: RunOptions) -> Result<ExitCode, String> {
    let fail_on_unused = config.fail_on_unused;
    let fail_on_webhook_error = config.fail_on_webhook_error;
    let running = crate::server::start(config).await.map_err(|e| e.to_string())?;
    match options.announce {
        banner::Announce::Banner => out!("{}", banner::banner(&running.info)),
        banner::Announce::Json => out!("{}", banner::ready_json(&running.info, std::process::id())),
    }
    tokio::select! {
        _ = wait_for_signal() => {}
        _ = stdin_closed(), if options.stop_on_stdin_close => {}
    }
    err!("stripe-vcr: shutting down…");
    let replaying = running.info.mode == "replay";
    let (summary, unused) = running.shutdown_with_unused().await;
    out!("stripe-vcr summary: {summary}");
    if !summary.stale_removed.is_empty() {
        out!(
            "stripe-vcr: removed {} occurrences left by an earlier, longer recording of requests this run recorded fewer times (--keep-stale-occurrences keeps them):",
            summary.stale_removed.len()
        );
        for name in &summary.stale_removed {
            out!("  {name}");
        }
    }
    if replaying && !unused.is_empty() {
        out!("stripe-vcr: {} cassettes were never served in this run:", unused.len());
        for name in &unused {
            out!("  {name}");
        }
        if fail_on_unused {
            err!("stripe-vcr: --fail-on-unused: {} unused cassettes", unused.len());
            return Ok(ExitCode::FAILURE);
        }
    }
    if fail_on_webhook_error && summary.webhooks.failed > 0 {
        err!(
            "stripe-vcr: --fail-on-webhook-error: {} webhook deliveries failed",
            summary.webhooks.failed
        );
        return Ok(ExitCode::FAILURE);
    }
    if summary.write_failures > 0 {
        err!(
            "stripe-vcr: {} cassettes could not be saved; the recording is incomplete",
            summary.write_failures
        );
        return Ok(ExitCode::FAILURE);
    }
    if summary.unsynced > 0 {
        err!(
            "stripe-vcr: {} cassettes were saved but not synced to disk; a power cut could still lose them",
            summary.unsynced
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads stdin to its end (the program holding the pipe closed it or died).
async fn stdin_closed() {
    use tokio::io::AsyncReadExt as _;
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buffer).await {
        if n == 0 {
            return;
        }
    }
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

/// `stripe-vcr certs`.
pub fn certs(dir: &std::path::Path, extra_hosts: &[String]) -> Result<ExitCode, String> {
    let hosts = crate::tls::permitted_hosts(extra_hosts);
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

/// `stripe-vcr verify`.
pub fn verify(args: &crate::cli::args::VerifyArgs) -> Result<ExitCode, String> {
    let patterns = args.redact.patterns().map_err(|e| e.to_string())?;
    let redactor = crate::stripe::redact::Redactor::with_patterns(&patterns).map_err(|e| e.to_string())?;
    let report =
        crate::cli::verify::verify_dir(&args.cassettes, &redactor, args.fix_names).map_err(|e| e.to_string())?;
    match args.format {
        crate::cli::args::Format::Text => print!("{}", report.to_text()),
        crate::cli::args::Format::Json => {
            println!("{}", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?)
        }
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `stripe-vcr doctor`.
pub fn doctor(args: &crate::cli::args::DoctorArgs) -> Result<ExitCode, String> {
    use crate::cli::doctor::{run, Status};
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

/// `stripe-vcr audit`.
pub fn audit(args: &crate::cli::args::AuditArgs) -> Result<ExitCode, String> {
    use crate::cli::args::AuditFormat;
    use crate::cli::audit::{gather, html, text, tripped};
    use std::io::IsTerminal;
    let schema = match &args.schema {
        Some(path) => crate::stripe::validate::schema::Schema::from_file(path).map_err(|e| e.to_string())?,
        None => crate::stripe::validate::schema::Schema::builtin().clone(),
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

/// `stripe-vcr diff`.
pub fn diff(args: &crate::cli::args::DiffArgs) -> Result<ExitCode, String> {
    use crate::cli::args::AuditFormat;
    let report = crate::cli::diff::diff_dirs(&args.old, &args.new).map_err(|e| e.to_string())?;
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

/// `stripe-vcr prune`.
pub fn prune(args: &crate::cli::args::PruneArgs) -> Result<ExitCode, String> {
    let unused = crate::cli::prune::unused(&args.cassettes, &args.run_logs).map_err(|e| e.to_string())?;
    for name in &unused {
        println!("{}{name}", if args.delete { "deleted " } else { "unused  " });
    }
    if args.delete {
        crate::cli::prune::delete(&args.cassettes, &unused).map_err(|e| e.to_string())?;
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

/// `stripe-vcr webhooks send`: recorded events, picked by set, id or type,
/// signed now and posted one after the other; non-zero if one is refused.
pub async fn webhooks_send(args: &crate::cli::args::WebhooksSendArgs) -> Result<ExitCode, String> {
    use crate::cassette::set::CassetteSet;
    use crate::cassette::store::CassetteStore;
    let walk = CassetteStore::new(&args.cassettes).walk().map_err(|e| e.to_string())?;
    let set = args
        .set
        .as_deref()
        .map(CassetteSet::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let events = walk.read_events().map_err(|e| e.to_string())?;
    let picked: Vec<(CassetteSet, crate::cassette::event::EventCassette)> = events
        .into_iter()
        .filter(|(s, _)| set.as_ref().is_none_or(|want| want == s))
        .flat_map(|(s, events)| events.into_iter().map(move |e| (s.clone(), e)))
        .filter(|(_, e)| args.event.as_deref().is_none_or(|id| e.event_id() == id))
        .filter(|(_, e)| args.event_type.as_deref().is_none_or(|t| e.event_type == t))
        .collect();
    if picked.is_empty() {
        return Err(format!("no recorded event in {} matches", args.cassettes.display()));
    }
    let delivered = crate::mode::webhooks::send(&picked, &args.to, &args.secret).await?;
    let mut failed = 0;
    for d in &delivered {
        let status = d.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        println!(
            "{} {} {} ({}) -> {status}",
            if d.ok { "sent" } else { "FAILED" },
            d.event,
            d.event_type,
            d.cassette
        );
        if !d.ok {
            failed += 1;
        }
    }
    println!("{} events sent to {}, {failed} refused", delivered.len(), args.to);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
