//! The command line: clap's flags for every subcommand, and how `record` and
//! `replay` flags become a validated [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, ConfigError, ModeConfig, UpstreamConfig, DEFAULT_BODY_LIMIT};
use crate::stripe::validate::ValidationMode;

/// stripe-vcr: record Stripe Payment Intents traffic once, replay it offline
/// forever.
#[derive(Debug, Parser)]
#[command(name = "stripe-vcr", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Forward traffic to the real API (or a Stripe-compatible upstream) and
    /// save every /v1/payment_intents exchange as a cassette.
    Record(RecordArgs),
    /// Serve recorded cassettes offline: no network, and any test key will do.
    Replay(ReplayArgs),
    /// Create (or show) the local CA and print how to make each client trust it.
    Certs(CertsArgs),
    /// Check a cassette directory before committing it: no secrets, every
    /// file parses, current format, file names match their requests.
    Verify(VerifyArgs),
    /// Check the set-up (CA, port, cassettes) and print how to point a client at the proxy.
    Doctor(DoctorArgs),
    /// Report which parameters apps send to each endpoint, against what is documented.
    Audit(AuditArgs),
    /// Compare two recordings (e.g. before and after re-recording), field by field.
    Diff(DiffArgs),
    /// Delete cassettes that no replay run used (a dry run unless --delete).
    Prune(PruneArgs),
    /// Recorded webhook events: send them by hand.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

/// `stripe-vcr webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Send recorded events to an endpoint, signed now with --secret, in
    /// their recorded order (all of them, or those --set, --event, --type pick).
    Send(WebhooksSendArgs),
}

/// `stripe-vcr webhooks send`.
#[derive(Debug, Args)]
pub struct WebhooksSendArgs {
    /// Directory of cassette files.
    #[arg(long, default_value = "cassettes", value_name = "DIR")]
    pub cassettes: PathBuf,
    /// Only this cassette set's events.
    #[arg(long, value_name = "NAME")]
    pub set: Option<String>,
    /// Only the event with this id.
    #[arg(long, value_name = "EVT_ID", conflicts_with = "event_type")]
    pub event: Option<String>,
    /// Only events of this type (payment_intent.succeeded).
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
    /// The endpoint to send to.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The endpoint's signing secret (whsec_…).
    #[arg(long, value_name = "WHSEC")]
    pub secret: String,
}

/// `stripe-vcr diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older cassette directory.
    #[arg(value_name = "OLD_DIR")]
    pub old: PathBuf,
    /// The newer cassette directory.
    #[arg(value_name = "NEW_DIR")]
    pub new: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
}

/// `stripe-vcr prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Directory of cassette files.
    #[arg(long, default_value = "cassettes", value_name = "DIR")]
    pub cassettes: PathBuf,
    /// Audit log of a replay run (`replay --audit-log FILE`); repeatable:
    /// a cassette any of them served is kept.
    #[arg(long = "unused-from", value_name = "RUNLOG", required = true)]
    pub run_logs: Vec<PathBuf>,
    /// Really delete (without it, only list what would go).
    #[arg(long)]
    pub delete: bool,
}

/// Report formats of `stripe-vcr audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    /// Aligned tables (coloured in a terminal).
    Text,
    /// To paste into a pull request.
    Markdown,
    /// Stable shape for scripts (docs/audit.md).
    Json,
}

/// `stripe-vcr audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Cassette directory to audit [default: cassettes, unless only --audit-log is given].
    #[arg(long, value_name = "DIR")]
    pub cassettes: Option<PathBuf>,
    /// A request log written by `record`/`replay --audit-log FILE` (repeatable).
    #[arg(long = "audit-log", value_name = "FILE")]
    pub audit_logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Exit non-zero when the report has this kind of finding (repeatable).
    #[arg(long = "fail-on", value_enum, value_name = "FINDING")]
    pub fail_on: Vec<crate::cli::audit::FailOn>,
    /// Also write the report as a single self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Judge against this schema instead of the built-in Stripe one.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// `stripe-vcr doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Directory holding the proxy's CA.
    #[arg(long, default_value = "certs", value_name = "DIR")]
    pub certs: PathBuf,
    /// Directory of cassette files.
    #[arg(long, default_value = "cassettes", value_name = "DIR")]
    pub cassettes: PathBuf,
    /// The address the proxy will listen on.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Hosts added with --intercept-host when the CA was made.
    #[arg(long = "intercept-host", value_name = "HOST")]
    pub intercept_hosts: Vec<String>,
    /// Print this client's set-up, for both ways of connecting.
    #[arg(long, value_enum, value_name = "CLIENT")]
    pub client: Option<crate::cli::banner::Client>,
}

/// Extra redaction patterns, shared by every command that reads or writes
/// cassettes. Use the same ones when recording and replaying: they are part
/// of how requests are matched.
#[derive(Debug, Args, Default)]
pub struct RedactArgs {
    /// Also redact what this regular expression matches (repeatable). With a
    /// capture group, only the group is replaced: `token=(\w+)`.
    #[arg(long = "redact", value_name = "REGEX")]
    pub redact: Vec<String>,
    /// A file of such patterns, one per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub redact_file: Option<PathBuf>,
}

impl RedactArgs {
    /// All patterns: the flags', then the file's; each checked to compile.
    pub fn patterns(&self) -> Result<Vec<String>, ConfigError> {
        let mut patterns = self.redact.clone();
        if let Some(path) = &self.redact_file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::RedactFile {
                path: path.clone(),
                source,
            })?;
            patterns.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        crate::stripe::redact::Redactor::with_patterns(&patterns)?;
        Ok(patterns)
    }
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable in a terminal and in CI logs.
    Text,
    /// For scripts.
    Json,
}

/// `stripe-vcr verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Directory of cassette files to check.
    #[arg(long, default_value = "cassettes", value_name = "DIR")]
    pub cassettes: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Rename cassettes named under an earlier canonical form of their
    /// request (e.g. before `expand` became a set) to today's name.
    #[arg(long)]
    pub fix_names: bool,
    #[command(flatten)]
    pub redact: RedactArgs,
}

/// Flags shared by `record` and `replay`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. One port serves direct HTTPS, plain HTTP and
    /// HTTPS_PROXY (CONNECT) clients. Use port 0 for any free port.
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Directory of cassette files (one JSON file per interaction).
    #[arg(long, default_value = "cassettes", value_name = "DIR")]
    pub cassettes: PathBuf,
    /// Directory holding the proxy's CA (ca.pem, and ca-key.pem, which must
    /// never be committed). Created on first start.
    #[arg(long, default_value = "certs", value_name = "DIR")]
    pub certs: PathBuf,
    /// Largest request body accepted, in bytes; larger ones get a 413.
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT, value_name = "BYTES")]
    pub max_body: usize,
    /// How long a client may take to send a request's whole body once its
    /// headers are in (e.g. 10s, 500ms); a client that goes silent halfway
    /// gets a 400 and its connection is closed.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub body_read_timeout: Duration,
    /// How long a client may take to send a request's headers, on a new
    /// connection or between requests on a kept-alive one; a silent
    /// connection is closed.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// How long a client may take to finish the TLS handshake.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Duration,
    /// Another host name to intercept and mint certificates for, besides
    /// api.stripe.com, localhost, 127.0.0.1 and ::1 (repeatable). The CA is
    /// name-constrained to these hosts.
    #[arg(long = "intercept-host", value_name = "HOST")]
    pub intercept_hosts: Vec<String>,
    #[command(flatten)]
    pub redact: RedactArgs,
    /// Check request shapes against the documented parameters: `off`;
    /// `warn` logs and adds a Stripe-Vcr-Validation header; `strict` answers
    /// a bad request with Stripe's own 400 and never forwards or replays it.
    #[arg(long, value_enum, default_value_t = ValidationMode::Warn, value_name = "MODE")]
    pub validate: ValidationMode,
    /// Parameter schema to check against, for a Stripe-compatible gateway
    /// (default: the built-in Stripe Payment Intents schema).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// Append one JSON line per request (mode, endpoint, redacted
    /// parameters, validation findings, outcome) to this file, for
    /// `stripe-vcr audit --audit-log FILE`.
    #[arg(long, value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Print one JSON line on stdout once listening (url, port, ca, mode,
    /// pid…) instead of the banner, for tools that start the proxy (the
    /// pytest plugin, the Node helper) and read the port chosen for
    /// `--listen 127.0.0.1:0`.
    #[arg(long)]
    pub ready_json: bool,
    /// Stop (as on Ctrl-C: sync, summarise, exit) when stdin reaches end of
    /// file. A program that starts the proxy with a pipe as its stdin then
    /// cannot leave it running, even when it is killed.
    #[arg(long)]
    pub stop_on_stdin_close: bool,
}

/// How `record`/`replay` present themselves and when they stop, beside
/// what they serve (the [`Config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    pub announce: crate::cli::banner::Announce,
    /// `--stop-on-stdin-close`.
    pub stop_on_stdin_close: bool,
}

impl ServeArgs {
    /// The presentation and lifetime flags.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            announce: match self.ready_json {
                true => crate::cli::banner::Announce::Json,
                false => crate::cli::banner::Announce::Banner,
            },
            stop_on_stdin_close: self.stop_on_stdin_close,
        }
    }
}

/// Webhook flags shared by `record` and `replay`.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// The app's webhook endpoint (e.g. http://127.0.0.1:4242/webhook).
    /// Record forwards every event `stripe listen` sends to
    /// /__stripe-vcr/webhooks there, unchanged; replay delivers the recorded
    /// events there, freshly signed, after serving what they followed.
    #[arg(long, value_name = "URL")]
    pub webhook_forward_to: Option<String>,
    /// The endpoint's signing secret (whsec_…; `stripe listen --print-secret`
    /// shows it): record checks deliveries with it, replay signs with it.
    #[arg(long, value_name = "WHSEC")]
    pub webhook_secret: Option<String>,
    /// Replay: further attempts after a delivery the app refuses (non-2xx)
    /// or does not answer, 100 ms, 200 ms, 400 ms… apart.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub webhook_retries: u32,
    /// Replay: deliver every event twice, as Stripe sometimes does, to test
    /// that the handler is idempotent.
    #[arg(long)]
    pub webhook_duplicates: bool,
    /// Replay: deliver the events that followed one interaction in a random
    /// order (seeded: the same order every run), as Stripe does not promise
    /// order.
    #[arg(long)]
    pub webhook_shuffle: bool,
    /// Replay: wait this long before each delivery (e.g. 2s).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub webhook_delay: Option<Duration>,
    /// Replay: the seed of --webhook-shuffle's order.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub webhook_seed: u64,
}

impl WebhookArgs {
    fn config(&self) -> crate::mode::webhooks::WebhookConfig {
        crate::mode::webhooks::WebhookConfig {
            forward_to: self.webhook_forward_to.clone(),
            secret: self.webhook_secret.clone(),
            retries: self.webhook_retries,
            duplicates: self.webhook_duplicates,
            shuffle: self.webhook_shuffle,
            delay: self.webhook_delay,
            seed: self.webhook_seed,
            ..crate::mode::webhooks::WebhookConfig::new()
        }
    }
}

/// `stripe-vcr record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The API to forward to: Stripe, or any Stripe-compatible server
    /// (an IP literal such as https://127.0.0.1:12112 works with --upstream-ca).
    #[arg(long, default_value = "https://api.stripe.com", value_name = "URL")]
    pub upstream: String,
    /// Extra CA certificate (PEM) to trust for the upstream, on top of the
    /// standard web roots.
    #[arg(long, value_name = "PEM")]
    pub upstream_ca: Option<PathBuf>,
    /// How long to wait for the upstream's whole answer (e.g. 60s, 2m).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
    /// Forward requests authenticated with live-mode keys (sk_live_, rk_live_).
    /// Off by default: recording is for test mode, and a live key there
    /// means real money moves.
    #[arg(long)]
    pub allow_live_keys: bool,
    /// Keep cassettes younger than this (e.g. 30d) and replay them; forward
    /// and overwrite older ones. Without it, everything is re-recorded.
    #[arg(long, value_name = "AGE", value_parser = humantime::parse_duration)]
    pub re_record_older_than: Option<Duration>,
    /// Keep occurrences left by an earlier, longer recording of a request
    /// this run recorded fewer times. By default they are deleted when the
    /// run ends (and listed), so replay never mixes two sessions.
    #[arg(long)]
    pub keep_stale_occurrences: bool,
    /// Save only requests whose path matches one of these globs
    /// (comma-separated or repeated; `*` matches `/` too), e.g.
    /// `/v1/payment_intents*`. The rest is forwarded but not saved. Default:
    /// every /v1/ and /v2/ path.
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    pub record_paths: Vec<String>,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `stripe-vcr replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Forward and record requests that have no cassette (VCR's "new
    /// episodes"), instead of answering them with a 404; needs --upstream.
    #[arg(long, requires = "upstream")]
    pub record_missing: bool,
    /// With --record-missing: the API to record misses from.
    #[arg(long, value_name = "URL", requires = "record_missing")]
    pub upstream: Option<String>,
    /// With --record-missing: extra CA certificate (PEM) for the upstream.
    #[arg(long, value_name = "PEM", requires = "record_missing")]
    pub upstream_ca: Option<PathBuf>,
    /// With --record-missing: how long to wait for the upstream.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub upstream_timeout: Duration,
    /// With --record-missing: forward requests made with live-mode keys.
    #[arg(long, requires = "record_missing")]
    pub allow_live_keys: bool,
    /// Exit non-zero at shutdown if any cassette was never served in this run.
    #[arg(long)]
    pub fail_on_unused: bool,
    /// Most `Idempotency-Key`s each cassette set remembers (about 400 bytes
    /// each; the least recently used is forgotten first). Keys are also
    /// forgotten 24 h after their first use, as Stripe forgets them.
    #[arg(long, default_value_t = crate::mode::replay::IDEMPOTENCY_KEYS_REMEMBERED, value_name = "N")]
    pub idempotency_keys: usize,
    /// With --record-missing: save only misses whose path matches one of
    /// these globs (see `record --help`).
    #[arg(long, value_name = "GLOB", value_delimiter = ',', requires = "record_missing")]
    pub record_paths: Vec<String>,
    /// Exit non-zero at shutdown if a webhook delivery failed every attempt.
    #[arg(long)]
    pub fail_on_webhook_error: bool,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `stripe-vcr certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory holding the proxy's CA.
    #[arg(long, default_value = "certs", value_name = "DIR")]
    pub certs: PathBuf,
    /// Another host the CA may sign for (repeatable); see `record --help`.
    #[arg(long = "intercept-host", value_name = "HOST")]
    pub intercept_hosts: Vec<String>,
}

impl RecordArgs {
    /// The record configuration these flags describe.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let args = self;
        let mut config = from_serve(
            ModeConfig::Record {
                upstream: UpstreamConfig {
                    url: args.upstream,
                    ca: args.upstream_ca,
                    timeout: args.upstream_timeout,
                    allow_live_keys: args.allow_live_keys,
                },
                re_record_older_than: args.re_record_older_than,
                keep_stale_occurrences: args.keep_stale_occurrences,
            },
            args.serve,
        )?;
        config.record_paths = args.record_paths;
        config.webhooks = args.webhooks.config();
        config.validate()?;
        Ok(config)
    }
}

impl ReplayArgs {
    /// The replay configuration these flags describe.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let args = self;
        let record_missing = match (args.record_missing, args.upstream) {
            (true, Some(url)) => Some(UpstreamConfig {
                url,
                ca: args.upstream_ca,
                timeout: args.upstream_timeout,
                allow_live_keys: args.allow_live_keys,
            }),
            _ => None,
        };
        let mut config = from_serve(ModeConfig::Replay { record_missing }, args.serve)?;
        config.fail_on_unused = args.fail_on_unused;
        config.idempotency_keys = args.idempotency_keys;
        config.record_paths = args.record_paths;
        config.webhooks = args.webhooks.config();
        config.fail_on_webhook_error = args.fail_on_webhook_error;
        config.validate()?;
        Ok(config)
    }
}

fn from_serve(mode: ModeConfig, serve: ServeArgs) -> Result<Config, ConfigError> {
    let config = Config {
        mode,
        listen: serve.listen,
        cassettes: serve.cassettes,
        certs: serve.certs,
        body_limit: serve.max_body,
        body_read_timeout: serve.body_read_timeout,
        header_read_timeout: serve.header_read_timeout,
        handshake_timeout: serve.handshake_timeout,
        redact_patterns: serve.redact.patterns()?,
        intercept_hosts: serve.intercept_hosts,
        validation: serve.validate,
        schema: serve.schema,
        audit_log: serve.audit_log,
        fail_on_unused: false,
        idempotency_keys: crate::mode::replay::IDEMPOTENCY_KEYS_REMEMBERED,
        record_paths: Vec::new(),
        webhooks: crate::mode::webhooks::WebhookConfig::new(),
        fail_on_webhook_error: false,
    };
    config.validate()?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_contract() {
        let cli = Cli::try_parse_from(["stripe-vcr", "record"]).expect("parses");
        let Command::Record(args) = cli.command else {
            panic!("record")
        };
        let config = args.into_config().expect("valid");
        assert_eq!(config.listen, "127.0.0.1:8443".parse().expect("addr"));
        assert_eq!(config.cassettes, PathBuf::from("cassettes"));
        assert_eq!(config.certs, PathBuf::from("certs"));
        assert_eq!(config.body_read_timeout, Duration::from_secs(10));
        assert_eq!(
            config.mode,
            ModeConfig::record(UpstreamConfig::new("https://api.stripe.com"))
        );
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let cli = Cli::try_parse_from([
            "stripe-vcr",
            "record",
            "--upstream",
            "https://127.0.0.1:12112",
            "--upstream-ca",
            "ca.pem",
            "--upstream-timeout",
            "2m",
            "--listen",
            "127.0.0.1:0",
            "--cassettes",
            "c",
            "--certs",
            "k",
        ])
        .expect("parses");
        let Command::Record(args) = cli.command else {
            panic!("record")
        };
        assert_eq!(args.upstream_timeout, Duration::from_secs(120));
        // --upstream belongs to replay only together with --record-missing.
        assert!(Cli::try_parse_from(["stripe-vcr", "replay", "--record-missing"]).is_err());
        let cli =
            Cli::try_parse_from(["stripe-vcr", "replay", "--record-missing", "--upstream", "https://x"]).expect("ok");
        let Command::Replay(args) = cli.command else {
            panic!("replay")
        };
        let config = args.into_config().expect("valid");
        assert!(matches!(
            config.mode,
            ModeConfig::Replay {
                record_missing: Some(_)
            }
        ));
        let cli = Cli::try_parse_from(["stripe-vcr", "record", "--re-record-older-than", "30d"]).expect("ok");
        let Command::Record(args) = cli.command else {
            panic!("record")
        };
        assert_eq!(args.re_record_older_than, Some(Duration::from_secs(30 * 86_400)));
        assert!(Cli::try_parse_from(["stripe-vcr", "replay", "--listen", "nope"]).is_err());
        assert!(Cli::try_parse_from(["stripe-vcr", "replay", "--upstream", "x"]).is_err());
        let cli = Cli::try_parse_from(["stripe-vcr", "replay", "--max-body", "0"]).expect("parses");
        let Command::Replay(args) = cli.command else {
            panic!("replay")
        };
        assert!(args.into_config().is_err());
        let cli = Cli::try_parse_from(["stripe-vcr", "replay", "--body-read-timeout", "250ms"]).expect("parses");
        let Command::Replay(args) = cli.command else {
            panic!("replay")
        };
        assert_eq!(
            args.into_config().expect("valid").body_read_timeout,
            Duration::from_millis(250)
        );
        let cli = Cli::try_parse_from(["stripe-vcr", "record", "--body-read-timeout", "0s"]).expect("parses");
        let Command::Record(args) = cli.command else {
            panic!("record")
        };
        assert!(matches!(args.into_config(), Err(ConfigError::ZeroBodyReadTimeout)));
        let cli = Cli::try_parse_from(["stripe-vcr", "replay", "--idempotency-keys", "50"]).expect("parses");
        let Command::Replay(args) = cli.command else {
            panic!("replay")
        };
        assert_eq!(args.into_config().expect("valid").idempotency_keys, 50);
        let cli = Cli::try_parse_from(["stripe-vcr", "replay", "--idempotency-keys", "0"]).expect("parses");
        let Command::Replay(args) = cli.command else {
            panic!("replay")
        };
        assert!(matches!(args.into_config(), Err(ConfigError::ZeroIdempotencyKeys)));
    }
}
