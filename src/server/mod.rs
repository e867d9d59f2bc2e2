//! Assembles a running proxy from a [`Config`]: the CA, the mode (loading
//! cassettes or building the upstream client), the listener and its tasks;
//! and shuts it down gracefully.
//!
//! The request path, in order: [`listen`] accepts, sniffs TLS from plain
//! HTTP and CONNECT, terminates TLS and serves HTTP/1.1 and HTTP/2;
//! [`pipeline`] applies the request limits, decodes and canonicalises the
//! request and hands it to the mode (`crate::mode`). Beside the path:
//! [`admin`] (the `/__stripe-vcr/` paths), [`stats`] (the counts behind the
//! summary) and [`logging`] (the redacting log writer and the access log).

pub mod admin;
pub mod findings;
pub mod listen;
pub mod logging;
pub mod memo;
pub mod pipeline;
pub mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit_log::{AuditLog, AuditLogError};
use crate::cassette::index::{IndexError, ReplayIndex};
use crate::cassette::load::{load_indexes, LoadError};
use crate::cassette::set::CassetteSet;
use crate::cassette::store::{CassetteStore, StoreError};
use crate::config::{Config, ModeConfig, UpstreamConfig};
use crate::mode::record::Recorder;
use crate::mode::replay::Replayer;
use crate::mode::webhooks::{Deliverer, EventRecorder};
use crate::mode::{Mode, RecordPaths, RecordPathsError, Settled};
use crate::server::pipeline::State;
use crate::server::stats::{Stats, Summary};
use crate::stripe::redact::{PatternError, Redactor};
use crate::stripe::validate::schema::{Schema, SchemaError};
use crate::stripe::validate::Validator;
use crate::tls::{permitted_hosts, CaOrigin, CertificateAuthority, LeafIssuer, TlsError};
use crate::upstream::{Upstream, UpstreamConfigError};
use std::collections::BTreeMap;

/// How long shutdown waits for in-flight requests before giving up on them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    RecordPaths(#[from] RecordPathsError),
    #[error("webhooks: {0}")]
    Webhooks(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot load cassettes: {0}")]
    Store(#[from] StoreError),
    #[error("cannot load cassettes: {0}")]
    Index(#[from] IndexError),
    #[error("cannot load cassettes: {0}")]
    Load(#[from] LoadError),
    #[error(transparent)]
    Upstream(#[from] UpstreamConfigError),
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    AuditLog(#[from] AuditLogError),
    #[error("cannot listen on {addr}: {source} (is another stripe-vcr running? pick another port with --listen)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Facts about a started proxy, for the banner.
#[derive(Debug, Clone)]
pub struct StartInfo {
    pub mode: &'static str,
    pub listen: SocketAddr,
    /// `None` in replay mode.
    pub upstream: Option<String>,
    pub cassettes_dir: PathBuf,
    pub cassettes_loaded: usize,
    pub ca_path: PathBuf,
    pub ca_created: bool,
    pub ca_fingerprint: String,
}

/// [`Mode::settle`], whatever the mode's type.
type Settle = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Settled> + Send>> + Send + Sync>;

/// A proxy that is accepting connections.
pub struct RunningProxy {
    pub info: StartInfo,
    /// The mode's list of cassettes not served so far.
    unused: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    /// The mode's wait for its cassettes to reach the disk.
    settle: Settle,
    stats: Arc<Stats>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    accept: tokio::task::JoinHandle<()>,
}

/// What every mode is launched with.
struct Common {
    ca: Arc<CertificateAuthority>,
    origin: CaOrigin,
    redactor: Arc<Redactor>,
    validator: Validator,
    audit: Option<AuditLog>,
}

/// Loads or creates the CA, builds the mode, binds and starts serving.
pub async fn start(config: Config) -> Result<RunningProxy, StartError> {
    let hosts = permitted_hosts(&config.intercept_hosts);
    let redactor = Arc::new(Redactor::with_patterns(&config.redact_patterns)?);
    let validator = match &config.schema {
        Some(path) => Validator::for_gateway(config.validation, Schema::from_file(path)?),
        None => Validator::new(config.validation, Schema::builtin().clone()),
    };
    // The whole API's table, parsed now rather than on the first request
    // that needs it.
    let _ = crate::stripe::api::Api::builtin();
    let audit = config.audit_log.as_deref().map(AuditLog::open).transpose()?;
    let (ca, origin) = CertificateAuthority::load_or_create(&config.certs, &hosts)?;
    let common = Common {
        ca: Arc::new(ca),
        origin,
        redactor: redactor.clone(),
        validator,
        audit,
    };
    let store = CassetteStore::new(&config.cassettes);
    let cleaned = store.clean_temp_files_everywhere();
    if cleaned > 0 {
        tracing::info!(cleaned, "removed temporary files left by an interrupted recording");
    }
    match &config.mode {
        ModeConfig::Record {
            upstream,
            re_record_older_than,
            keep_stale_occurrences,
        } => {
            // Creates the cassette directory, so it comes before the index.
            let recorder = recorder(&config, upstream, redactor.clone())?;
            let existing = index_sets(&store)?;
            let count = existing.values().map(ReplayIndex::len).sum();
            let mut recorder = recorder.with_existing(existing, *keep_stale_occurrences);
            if let Some(max_age) = re_record_older_than {
                recorder = recorder.reusing_younger_than(*max_age);
            }
            let url = recorder.upstream_url();
            launch(config, recorder, common, Some(url), count).await
        }
        ModeConfig::Replay { record_missing } => {
            let sets = index_sets(&store)?;
            let fallback = record_missing
                .as_ref()
                .map(|u| recorder(&config, u, redactor.clone()))
                .transpose()?;
            let url = fallback.as_ref().map(Recorder::upstream_url);
            let keys = std::num::NonZeroUsize::new(config.idempotency_keys).unwrap_or(std::num::NonZeroUsize::MIN);
            let events = match store.walk() {
                Ok(walk) => walk.read_events()?,
                Err(_) => Default::default(),
            };
            let deliveries = Deliverer::start(events, &config.webhooks).map_err(StartError::Webhooks)?;
            let replayer = Replayer::remembering(config.cassettes.clone(), sets, fallback, keys).delivering(deliveries);
            let count = replayer.cassette_count();
            launch(config, replayer, common, url, count).await
        }
    }
}

/// A recorder for `upstream`, writing under the configured cassette directory.
fn recorder(config: &Config, upstream: &UpstreamConfig, redactor: Arc<Redactor>) -> Result<Recorder, StartError> {
    let client = Upstream::new(&upstream.url, upstream.ca.as_deref(), upstream.timeout)?;
    std::fs::create_dir_all(&config.cassettes).map_err(|source| StoreError::Io {
        path: config.cassettes.clone(),
        source,
    })?;
    let paths = RecordPaths::new(&config.record_paths)?;
    let events = EventRecorder::new(config.cassettes.clone(), redactor.clone(), &config.webhooks)
        .map_err(StartError::Webhooks)?;
    Ok(
        Recorder::new(client, config.cassettes.clone(), redactor, upstream.allow_live_keys)
            .recording_only(paths)
            .recording_events(events),
    )
}

/// One replay index per cassette set.
fn index_sets(store: &CassetteStore) -> Result<BTreeMap<CassetteSet, ReplayIndex>, StartError> {
    Ok(load_indexes(store)?)
}

async fn launch<M: Mode>(
    config: Config,
    mode: M,
    common: Common,
    upstream: Option<String>,
    cassettes_loaded: usize,
) -> Result<RunningProxy, StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let listen = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "listening on a non-loopback address: anyone who can reach it can use this proxy");
    }
    let Common {
        ca,
        origin,
        redactor,
        validator,
        audit,
    } = common;
    let issuer = Arc::new(LeafIssuer::new(ca.clone()));
    let direct = issuer.direct_server_config()?;
    let info = StartInfo {
        mode: mode.name(),
        listen,
        upstream,
        cassettes_dir: config.cassettes.clone(),
        cassettes_loaded,
        ca_path: ca.cert_pem_path().to_path_buf(),
        ca_created: matches!(origin, CaOrigin::Created),
        ca_fingerprint: ca.fingerprint_sha256(),
    };
    let stats = Arc::new(Stats::default());
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let memo = (mode.handles_known() && audit.is_none()).then(memo::Memo::default);
    let state = Arc::new(State {
        memo,
        mode,
        stats: stats.clone(),
        redactor,
        validator,
        audit,
        tls: issuer,
        body_limit: config.body_limit,
        listen_port: listen.port(),
        body_read_timeout: config.body_read_timeout,
        header_read_timeout: config.header_read_timeout,
        handshake_timeout: config.handshake_timeout,
        shutdown: shutdown.clone(),
        tasks: tasks.clone(),
    });
    let unused = {
        let state = state.clone();
        Box::new(move || state.mode.unused())
    };
    let settle: Settle = {
        let state = state.clone();
        Box::new(move || Box::pin(async move { state.mode.settle().await }))
    };
    let accept = tokio::spawn(listen::accept_loop(listener, state, direct));
    Ok(RunningProxy {
        info,
        unused,
        settle,
        stats,
        shutdown,
        tasks,
        accept,
    })
}

impl RunningProxy {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.info.listen
    }

    /// The counters so far.
    pub fn summary(&self) -> Summary {
        self.stats.summary()
    }

    /// Cassettes not served so far in this run (replay; relative names).
    pub fn unused(&self) -> Vec<String> {
        (self.unused)()
    }

    /// Like [`RunningProxy::shutdown`], also returning the cassettes the run
    /// never served.
    pub async fn shutdown_with_unused(self) -> (Summary, Vec<String>) {
        let unused = self.unused;
        let summary = RunningProxy::drain(self.shutdown, self.accept, self.tasks, self.settle, self.stats).await;
        (summary, unused())
    }

    /// Stops accepting, lets in-flight requests finish (up to a limit), waits
    /// for recorded cassettes to reach the disk, and returns the final counters.
    pub async fn shutdown(self) -> Summary {
        RunningProxy::drain(self.shutdown, self.accept, self.tasks, self.settle, self.stats).await
    }

    async fn drain(
        shutdown: CancellationToken,
        accept: tokio::task::JoinHandle<()>,
        tasks: TaskTracker,
        settle: Settle,
        stats: Arc<Stats>,
    ) -> Summary {
        shutdown.cancel();
        let _ = accept.await;
        tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait()).await.is_err() {
            tracing::warn!(
                "some connections were still open after {}s; closing anyway",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        let settled = settle().await;
        Summary {
            unsynced: settled.unsynced,
            stale_removed: settled.stale_removed,
            webhooks: settled.webhooks,
            ..stats.summary()
        }
    }
}
