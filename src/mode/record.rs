//! Record mode: forward every request upstream, return the answer unchanged,
//! and save each Payment Intents exchange as a sealed (redacted) cassette in
//! the request's cassette set. The answer waits until the cassette is whole
//! under its final name; syncing it to disk happens after (`cassette::flush`),
//! and shutdown waits for that.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::Response;

use crate::cassette::flush::Flusher;
use crate::cassette::format::{
    Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use crate::cassette::index::{Recording, ReplayIndex};
use crate::cassette::key::{file_name, RequestKey};
use crate::cassette::redact::Redactor;
use crate::cassette::set::CassetteSet;
use crate::cassette::store::CassetteStore;
use crate::error::{ClientError, ProxyResponse};
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Mode, Severity};
use crate::route::{Endpoint, Route};
use crate::stats::Outcome;
use crate::stripe::auth::ApiKey;
use crate::upstream::{Upstream, UpstreamResponse};

/// Header added to a relayed response whose cassette could not be saved.
pub const WARNING_HEADER: &str = "stripe-vcr-warning";

/// `--re-record-older-than`: existing cassettes younger than `max_age` are
/// replayed instead of forwarded.
#[derive(Debug)]
pub struct Reuse {
    pub sets: BTreeMap<CassetteSet, ReplayIndex>,
    pub max_age: Duration,
}

/// The record-mode handler.
#[derive(Debug)]
pub struct Recorder {
    upstream: Upstream,
    /// The cassette directory; sets are subdirectories.
    root: PathBuf,
    redactor: Arc<Redactor>,
    /// Forward requests made with live-mode keys (off by default).
    allow_live_keys: bool,
    reuse: Option<Reuse>,
    /// How many times each request has been recorded (or reused) in this
    /// session, per set, so repeats are stored as occurrences 1, 2, 3… and
    /// re-recording the same session writes the same file names.
    occurrences: Mutex<HashMap<(CassetteSet, RequestKey), u32>>,
    /// Cassettes written, per set.
    written: Mutex<BTreeMap<CassetteSet, u64>>,
    /// Syncs written cassettes to disk off the request path.
    flusher: Flusher,
}

impl Recorder {
    /// A recorder forwarding to `upstream` and writing under `root`.
    pub fn new(upstream: Upstream, root: PathBuf, redactor: Arc<Redactor>, allow_live_keys: bool) -> Recorder {
        Recorder {
            upstream,
            root,
            redactor,
            allow_live_keys,
            reuse: None,
            occurrences: Mutex::new(HashMap::new()),
            written: Mutex::new(BTreeMap::new()),
            flusher: Flusher::start(),
        }
    }

    /// Replays existing cassettes younger than `reuse.max_age`.
    pub fn with_reuse(mut self, reuse: Reuse) -> Recorder {
        self.reuse = Some(reuse);
        self
    }

    /// The upstream's base URL, for the banner.
    pub fn upstream_url(&self) -> String {
        self.upstream.base_url()
    }

    /// Waits until every cassette written so far is synced to disk; returns
    /// how many could not be.
    pub async fn settle(&self) -> u64 {
        self.flusher.settle().await
    }

    /// Cassettes written and not yet synced to disk, and those that could not
    /// be, for `/__stripe-vcr/stats`.
    pub fn sync_stats(&self) -> serde_json::Value {
        serde_json::json!({ "pending": self.flusher.pending(), "failed": self.flusher.failed() })
    }

    /// Cassettes written per set, for `/__stripe-vcr/stats`.
    pub fn stats(&self) -> serde_json::Value {
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        serde_json::Value::Object(
            written
                .iter()
                .map(|(set, n)| (set.to_string(), serde_json::Value::from(*n)))
                .collect(),
        )
    }

    /// The next occurrence number of a request in its set; `take` consumes it.
    fn occurrence(&self, set: &CassetteSet, key: RequestKey, take: bool) -> u32 {
        let mut map = self.occurrences.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let n = map.entry((set.clone(), key)).or_insert(0);
        if take {
            *n += 1;
            *n
        } else {
            *n + 1
        }
    }

    /// With `--re-record-older-than`: the existing cassette for this
    /// occurrence, if it is young enough to keep.
    fn reusable(&self, request: &ApiRequest) -> Option<Arc<Recording>> {
        let reuse = self.reuse.as_ref()?;
        let index = reuse.sets.get(&request.set)?;
        let occurrence = self.occurrence(&request.set, request.key, false);
        let recording = index.get(&request.key, occurrence)?;
        let age = SystemTime::now()
            .duration_since(recording.recorded_at?)
            .unwrap_or_default();
        if age >= reuse.max_age {
            return None;
        }
        self.occurrence(&request.set, request.key, true);
        Some(recording)
    }

    async fn save(
        &self,
        request: &ApiRequest,
        endpoint: Endpoint,
        upstream: &UpstreamResponse,
    ) -> Result<String, String> {
        let occurrence = self.occurrence(&request.set, request.key, true);
        let cassette = Cassette {
            format_version: FORMAT_VERSION,
            recorded_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            endpoint: endpoint.name().to_owned(),
            occurrence,
            request: RecordedRequest {
                canonical: request.canonical.clone(),
                body_encoding: request.body_encoding,
                user_agent: request.header("user-agent").map(str::to_owned),
            },
            response: RecordedResponse {
                status: upstream.status.as_u16(),
                headers: ResponseHeaders::from_upstream(&upstream.headers),
                body: ResponseBody::from_upstream(&upstream.body),
            },
        };
        // Redaction happens here, in memory, before the bytes go anywhere.
        let sealed = self
            .redactor
            .seal(&cassette)
            .map_err(|e| format!("could not redact the cassette: {e}"))?;
        let name = file_name(endpoint.name(), &request.key, occurrence);
        let store = CassetteStore::new(request.set.dir(&self.root));
        let written = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || store.write(&name, &sealed)).await
        };
        match written {
            Ok(Ok(written)) => {
                self.flusher.submit(written);
                let mut counts = self.written.lock().unwrap_or_else(|p| p.into_inner());
                *counts.entry(request.set.clone()).or_insert(0) += 1;
                Ok(request.set.qualify(&name))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the writer task failed: {e}")),
        }
    }
}

/// A response rebuilt from its parts.
fn respond(status: hyper::StatusCode, headers: &hyper::HeaderMap, body: bytes::Bytes) -> ProxyResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    response
}

impl Mode for Recorder {
    fn name(&self) -> &'static str {
        "record"
    }

    async fn handle(&self, request: ApiRequest) -> Handled {
        if !self.allow_live_keys {
            if let Some(key) = ApiKey::from_headers(&request.headers).filter(ApiKey::is_live) {
                return Handled::error(ClientError::LiveKeyRefused { key: key.masked() }.into());
            }
        }
        if let Some(recording) = self.reusable(&request) {
            let r = &recording.response;
            let cassette = request.set.qualify(&recording.file_name);
            return Handled::ok(
                respond(r.status, &r.header_map(), r.body.clone()),
                Outcome::Hit,
                Some(cassette),
            );
        }
        let upstream = match self
            .upstream
            .forward(
                &request.method,
                &request.path_and_query,
                &request.headers,
                request.body.clone(),
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => return Handled::error(e.into()),
        };
        // The client gets the upstream's answer unchanged.
        let mut response = respond(upstream.status, &upstream.headers, upstream.body.clone());
        let Route::PaymentIntents(endpoint) = request.route else {
            let mut handled = Handled::ok(response, Outcome::Forwarded, None);
            handled.detail = Some((
                Severity::Info,
                format!("{} forwarded, not recorded: outside /v1/payment_intents", request.path),
            ));
            return handled;
        };
        match self.save(&request, endpoint, &upstream).await {
            Ok(name) => Handled::ok(response, Outcome::Recorded, Some(name)),
            Err(reason) => {
                let warning = format!(
                    "cassette not saved in {}: {reason}",
                    request.set.dir(&self.root).display()
                );
                if let Ok(v) = HeaderValue::from_str(&warning.replace(['\r', '\n'], " ")) {
                    response.headers_mut().insert(WARNING_HEADER, v);
                }
                let mut handled = Handled::ok(response, Outcome::WriteFailed, None);
                handled.detail = Some((Severity::Error, warning));
                handled
            }
        }
    }

    fn foreign_tunnels(&self) -> ForeignTunnels {
        ForeignTunnels::PassThrough
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::json!({ "recorded": self.stats(), "sync": self.sync_stats() })
    }

    async fn settle(&self) -> u64 {
        Recorder::settle(self).await
    }
}
