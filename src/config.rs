//! A validated proxy configuration: what `record` and `replay` run with.
//! The command line builds one (`cli::args`); tests build [`Config`] values
//! directly. Nothing here reads the environment or parses flags.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::stripe::validate::ValidationMode;

/// Default largest request body: Stripe requests are a few KiB at most.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Default time a client has to send a request's whole body once its
/// headers are in.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a client has to send a request's headers (on a new
/// connection, or between requests on a kept-alive one).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a client has to finish the TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub url: String,
    pub ca: Option<PathBuf>,
    pub timeout: Duration,
    pub allow_live_keys: bool,
}

impl UpstreamConfig {
    /// `url` with the default timeout and no extra CA.
    pub fn new(url: impl Into<String>) -> UpstreamConfig {
        UpstreamConfig {
            url: url.into(),
            ca: None,
            timeout: Duration::from_secs(60),
            allow_live_keys: false,
        }
    }
}

/// What the proxy does with requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeConfig {
    /// Forward upstream and save cassettes; with `re_record_older_than`,
    /// younger cassettes are replayed instead.
    Record {
        upstream: UpstreamConfig,
        re_record_older_than: Option<Duration>,
        /// `--keep-stale-occurrences`.
        keep_stale_occurrences: bool,
    },
    /// Serve cassettes. Never touches the network, unless `record_missing`
    /// says where to record misses from.
    Replay { record_missing: Option<UpstreamConfig> },
}

impl ModeConfig {
    /// Plain offline replay.
    pub fn replay() -> ModeConfig {
        ModeConfig::Replay { record_missing: None }
    }

    /// Plain recording from `upstream`.
    pub fn record(upstream: UpstreamConfig) -> ModeConfig {
        ModeConfig::Record {
            upstream,
            re_record_older_than: None,
            keep_stale_occurrences: false,
        }
    }
}

/// A complete, validated proxy configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub mode: ModeConfig,
    pub listen: SocketAddr,
    pub cassettes: PathBuf,
    pub certs: PathBuf,
    pub body_limit: usize,
    /// `--body-read-timeout`: the whole body must arrive within this.
    pub body_read_timeout: Duration,
    /// `--header-read-timeout`: a request's headers must arrive within this.
    pub header_read_timeout: Duration,
    /// `--handshake-timeout`: the TLS handshake must end within this.
    pub handshake_timeout: Duration,
    /// Hosts intercepted (and signed for) beyond the built-in ones.
    pub intercept_hosts: Vec<String>,
    /// Extra redaction patterns (regular expressions).
    pub redact_patterns: Vec<String>,
    pub validation: ValidationMode,
    /// A user schema; `None` for the built-in one.
    pub schema: Option<PathBuf>,
    /// Where to append audit lines.
    pub audit_log: Option<PathBuf>,
    /// Replay: exit non-zero when a cassette was never served.
    pub fail_on_unused: bool,
    /// Replay: most idempotency keys remembered per set (`--idempotency-keys`).
    pub idempotency_keys: usize,
    /// `--record-paths`: the globs of API paths saved when recording (all
    /// `/v1/` and `/v2/` paths when empty).
    pub record_paths: Vec<String>,
    /// `--webhook-forward-to`, `--webhook-secret`, `--webhook-retries`.
    pub webhooks: crate::mode::webhooks::WebhookConfig,
    /// Replay: exit non-zero when a webhook delivery failed every attempt.
    pub fail_on_webhook_error: bool,
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--max-body must be at least 1 byte")]
    ZeroBodyLimit,
    #[error("--upstream-timeout must be more than zero")]
    ZeroTimeout,
    #[error("--body-read-timeout must be more than zero")]
    ZeroBodyReadTimeout,
    #[error("--header-read-timeout must be more than zero")]
    ZeroHeaderReadTimeout,
    #[error("--handshake-timeout must be more than zero")]
    ZeroHandshakeTimeout,
    #[error("--idempotency-keys must be at least 1")]
    ZeroIdempotencyKeys,
    #[error("--redact-file {}: {source}", path.display())]
    RedactFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Pattern(#[from] crate::stripe::redact::PatternError),
    #[error(transparent)]
    RecordPaths(#[from] crate::mode::RecordPathsError),
}

impl Default for Config {
    /// Replay with every flag at its documented default.
    fn default() -> Config {
        Config {
            mode: ModeConfig::replay(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            cassettes: PathBuf::from("cassettes"),
            certs: PathBuf::from("certs"),
            body_limit: DEFAULT_BODY_LIMIT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            intercept_hosts: Vec::new(),
            redact_patterns: Vec::new(),
            validation: ValidationMode::Warn,
            schema: None,
            audit_log: None,
            fail_on_unused: false,
            idempotency_keys: crate::mode::replay::IDEMPOTENCY_KEYS_REMEMBERED,
            record_paths: Vec::new(),
            webhooks: crate::mode::webhooks::WebhookConfig::new(),
            fail_on_webhook_error: false,
        }
    }
}

impl Config {
    /// Rejects impossible settings up front.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.body_limit == 0 {
            return Err(ConfigError::ZeroBodyLimit);
        }
        if self.body_read_timeout.is_zero() {
            return Err(ConfigError::ZeroBodyReadTimeout);
        }
        if self.header_read_timeout.is_zero() {
            return Err(ConfigError::ZeroHeaderReadTimeout);
        }
        if self.handshake_timeout.is_zero() {
            return Err(ConfigError::ZeroHandshakeTimeout);
        }
        if self.idempotency_keys == 0 {
            return Err(ConfigError::ZeroIdempotencyKeys);
        }
        crate::mode::RecordPaths::new(&self.record_paths)?;
        let upstream = match &self.mode {
            ModeConfig::Record { upstream, .. } => Some(upstream),
            ModeConfig::Replay { record_missing } => record_missing.as_ref(),
        };
        if upstream.is_some_and(|u| u.timeout.is_zero()) {
            return Err(ConfigError::ZeroTimeout);
        }
        Ok(())
    }
}
