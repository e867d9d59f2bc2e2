//! Record mode: forward every request upstream, return the answer unchanged,
//! and save each Payment Intents exchange as a sealed (redacted) cassette in
//! the request's cassette set, numbered on arrival and noting which earlier
//! cassette's `Idempotency-Key` it sent again. When the run ends, what an
//! earlier, longer session of the same requests left is removed. The answer waits until the cassette is whole
//! under its final name; syncing it to disk happens after (`cassette::flush`),
//! and shutdown waits for that.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Response};

use crate::answer::{ClientError, ProxyResponse};
use crate::cassette::flush::Flusher;
use crate::cassette::format::{
    Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use crate::cassette::index::{Recording, ReplayIndex};
use crate::cassette::key::{file_name, RequestKey};
use crate::cassette::seal::seal;
use crate::cassette::set::CassetteSet;
use crate::cassette::store::CassetteStore;
use crate::mode::webhooks::{EventRecorder, WEBHOOKS_PATH};
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Mode, Settled, Severity};
use crate::mode::{Outcome, RecordPaths};
use crate::stripe::auth::ApiKey;
use crate::stripe::redact::Redactor;
use crate::upstream::{Upstream, UpstreamResponse};

/// Header added to a relayed response whose cassette could not be saved.
pub const WARNING_HEADER: &str = "stripe-vcr-warning";

/// One set's place in this recording session.
#[derive(Debug, Default)]
struct SetSession {
    /// How many times each request has arrived (recorded or reused), so
    /// repeats are numbered 1, 2, 3… in arrival order and re-recording the
    /// same session writes the same file names.
    arrivals: HashMap<RequestKey, u32>,
    /// Cassettes this run wrote or reused, by file name: what survives the
    /// run's end (see [`Recorder::remove_stale`]).
    kept: HashSet<String>,
    /// The cassette that first used each `Idempotency-Key` in this session.
    /// Only the relation reaches disk (keys change every run).
    first_use: HashMap<String, String>,
}

/// A request's place in the session, taken once, on arrival.
#[derive(Debug)]
struct Ticket {
    occurrence: u32,
    file_name: String,
    /// The cassette whose `Idempotency-Key` this request sends again.
    reuses_key_of: Option<String>,
    /// `--re-record-older-than`: a young existing cassette to answer with.
    reused: Option<Arc<Recording>>,
}

/// The record-mode handler.
#[derive(Debug)]
pub struct Recorder {
    upstream: Upstream,
    /// The webhook events `stripe listen` forwards during the session.
    events: Option<EventRecorder>,
    /// `--record-paths`: which API paths are saved (all when empty).
    paths: RecordPaths,
    /// The cassette directory; sets are subdirectories.
    root: PathBuf,
    redactor: Arc<Redactor>,
    /// Forward requests made with live-mode keys (off by default).
    allow_live_keys: bool,
    /// The cassettes on disk when the run started, per set: replayed when
    /// young enough (`--re-record-older-than`), and what an earlier,
    /// longer session of a request may have left behind.
    existing: BTreeMap<CassetteSet, ReplayIndex>,
    /// `--re-record-older-than`: existing cassettes younger than this are
    /// replayed instead of forwarded.
    reuse_younger_than: Option<Duration>,
    /// `--keep-stale-occurrences`.
    keep_stale: bool,
    sessions: Mutex<HashMap<CassetteSet, SetSession>>,
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
            events: None,
            paths: RecordPaths::default(),
            root,
            redactor,
            allow_live_keys,
            existing: BTreeMap::new(),
            reuse_younger_than: None,
            keep_stale: false,
            sessions: Mutex::new(HashMap::new()),
            written: Mutex::new(BTreeMap::new()),
            flusher: Flusher::start(),
        }
    }

    /// What is on disk already: when the run ends, occurrences of a request
    /// this run recorded that it did not write again are deleted, unless
    /// `keep_stale` (`--keep-stale-occurrences`).
    pub fn with_existing(mut self, existing: BTreeMap<CassetteSet, ReplayIndex>, keep_stale: bool) -> Recorder {
        self.existing = existing;
        self.keep_stale = keep_stale;
        self
    }

    /// Records the webhook events forwarded to `/__stripe-vcr/webhooks`,
    /// linking each to the interaction it followed (`--webhook-…` flags).
    pub fn recording_events(mut self, events: EventRecorder) -> Recorder {
        self.events = Some(events);
        self
    }

    /// Saves only requests whose path one of `paths` matches (`--record-paths`).
    pub fn recording_only(mut self, paths: RecordPaths) -> Recorder {
        self.paths = paths;
        self
    }

    /// Replays existing cassettes younger than `max_age` (`--re-record-older-than`).
    pub fn reusing_younger_than(mut self, max_age: Duration) -> Recorder {
        self.reuse_younger_than = Some(max_age);
        self
    }

    /// The upstream's base URL, for the banner.
    pub fn upstream_url(&self) -> String {
        self.upstream.base_url()
    }

    /// Waits until every cassette written so far is synced to disk, then
    /// removes stale occurrences (see [`Recorder::remove_stale`]).
    pub async fn settle(&self) -> Settled {
        let unsynced = self.flusher.settle().await;
        let mut stale_removed = if self.keep_stale {
            Vec::new()
        } else {
            self.remove_stale()
        };
        let mut webhooks = crate::mode::WebhookTotals::default();
        if let Some(events) = &self.events {
            webhooks.recorded = events.received();
            if !self.keep_stale {
                stale_removed.extend(events.remove_stale());
            }
        }
        Settled {
            unsynced,
            stale_removed,
            webhooks,
        }
    }

    /// Deletes the cassettes of requests this run recorded that the run
    /// did not write (or reuse) itself: what an earlier, longer session left
    /// (`-002.json` when this session made the request once), or an
    /// occurrence whose re-recording failed. Matched by the request each
    /// cassette holds, not by its file name. Returns the names deleted.
    fn remove_stale(&self) -> Vec<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = Vec::new();
        for (set, session) in sessions.iter() {
            let Some(index) = self.existing.get(set) else { continue };
            let dir = set.dir(&self.root);
            for key in session.arrivals.keys() {
                for recording in index.recordings(key) {
                    let name = &recording.file_name;
                    if session.kept.contains(name) {
                        continue;
                    }
                    match std::fs::remove_file(dir.join(name)) {
                        Ok(()) => removed.push(set.qualify(name)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            tracing::error!("could not remove the stale cassette {}: {e}", dir.join(name).display())
                        }
                    }
                }
            }
        }
        removed.sort();
        removed
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

    /// Numbers a request on arrival, in one critical section: its
    /// occurrence, the cassette it will be (or the young one it reuses),
    /// and the earlier cassette whose `Idempotency-Key` it sends again.
    /// Two identical requests arriving together get consecutive numbers,
    /// and the order on disk is the order of arrival, not of completion.
    fn ticket(&self, request: &ApiRequest, name: &str) -> Ticket {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.entry(request.set.clone()).or_default();
        let arrivals = session.arrivals.entry(request.key).or_insert(0);
        *arrivals += 1;
        let occurrence = *arrivals;
        let reused = self.young_recording(request, occurrence);
        let file_name = match &reused {
            Some(recording) => recording.file_name.clone(),
            None => file_name(name, &request.key, occurrence),
        };
        let idempotency_key = (request.method == Method::POST)
            .then(|| request.header("idempotency-key"))
            .flatten()
            .filter(|k| !k.is_empty());
        let reuses_key_of = idempotency_key.and_then(|k| match session.first_use.get(k) {
            Some(first) => Some(first.clone()),
            None => {
                session.first_use.insert(k.to_owned(), file_name.clone());
                None
            }
        });
        if reused.is_some() {
            session.kept.insert(file_name.clone());
        }
        Ticket {
            occurrence,
            file_name,
            reuses_key_of,
            reused,
        }
    }

    /// With `--re-record-older-than`: the existing cassette for this
    /// occurrence, if it is young enough to keep.
    fn young_recording(&self, request: &ApiRequest, occurrence: u32) -> Option<Arc<Recording>> {
        let max_age = self.reuse_younger_than?;
        let recording = self.existing.get(&request.set)?.get(&request.key, occurrence)?;
        let age = SystemTime::now()
            .duration_since(recording.recorded_at?)
            .unwrap_or_default();
        (age < max_age).then_some(recording)
    }

    async fn save(
        &self,
        request: &ApiRequest,
        name: &str,
        ticket: Ticket,
        upstream: &UpstreamResponse,
    ) -> Result<String, String> {
        let cassette = Cassette {
            format_version: FORMAT_VERSION,
            recorded_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            endpoint: name.to_owned(),
            occurrence: ticket.occurrence,
            request: RecordedRequest {
                canonical: request.canonical.clone(),
                body_encoding: request.body_encoding,
                user_agent: request.header("user-agent").map(str::to_owned),
                reuses_idempotency_key_of: ticket.reuses_key_of,
            },
            response: RecordedResponse {
                status: upstream.status.as_u16(),
                headers: ResponseHeaders::from_upstream(&upstream.headers),
                body: ResponseBody::from_upstream(&upstream.body),
            },
        };
        // Redaction happens here, in memory, before the bytes go anywhere.
        let sealed = seal(&self.redactor, &cassette).map_err(|e| format!("could not redact the cassette: {e}"))?;
        let name = ticket.file_name;
        let store = CassetteStore::new(request.set.dir(&self.root));
        let written = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || store.write(&name, &sealed)).await
        };
        match written {
            Ok(Ok(written)) => {
                self.flusher.submit(written);
                self.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(request.set.clone())
                    .or_default()
                    .kept
                    .insert(name.clone());
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
            if let Some(key) = ApiKey::live_among(&request.headers) {
                return Handled::error(ClientError::LiveKeyRefused { key: key.masked() }.into());
            }
        }
        let recorded = request
            .route
            .name()
            .filter(|_| self.paths.records(&request.path))
            .map(|name| (name, self.ticket(&request, name)));
        if let Some(recording) = recorded.as_ref().and_then(|(_, t)| t.reused.as_ref()) {
            let r = &recording.response;
            let cassette = request.set.qualify(&recording.file_name);
            return Handled::ok(
                respond(r.status, &r.header_map(), r.body.clone()),
                Outcome::Hit,
                Some(cassette.into()),
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
        let Some((endpoint, ticket)) = recorded else {
            let mut handled = Handled::ok(response, Outcome::Forwarded, None);
            handled.detail = Some((
                Severity::Info,
                format!("{} forwarded, not recorded: outside --record-paths", request.path),
            ));
            return handled;
        };
        // Known to the events before the cassette is written: Stripe may send
        // the events this request caused as soon as it has answered.
        if let Some(events) = &self.events {
            let request_id = upstream.headers.get("request-id").and_then(|v| v.to_str().ok());
            events.interaction(
                &request.set,
                &ticket.file_name,
                request_id,
                &request.path,
                &upstream.body,
            );
        }
        match self.save(&request, endpoint, ticket, &upstream).await {
            Ok(name) => Handled::ok(response, Outcome::Recorded, Some(name.into())),
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

    async fn webhooks(
        &self,
        method: &Method,
        uri: &hyper::Uri,
        headers: &hyper::HeaderMap,
        body: bytes::Bytes,
    ) -> (hyper::StatusCode, serde_json::Value) {
        match (&self.events, method, uri.path().trim_end_matches('/')) {
            (Some(events), &Method::POST, WEBHOOKS_PATH) => events.receive(headers, body).await,
            (Some(events), &Method::GET, WEBHOOKS_PATH) => (
                hyper::StatusCode::OK,
                serde_json::json!({"mode": "record", "received": events.received()}),
            ),
            _ => (
                hyper::StatusCode::NOT_FOUND,
                serde_json::json!({"error": {"message": format!("{method} {} is not a webhook path in record mode: stripe listen forwards to POST {WEBHOOKS_PATH}", uri.path()), "type": "invalid_request_error"}}),
            ),
        }
    }

    fn stats(&self) -> serde_json::Value {
        let mut stats = serde_json::json!({ "recorded": self.stats(), "sync": self.sync_stats() });
        if let Some(events) = &self.events {
            stats["webhooks"] = serde_json::json!({"received": events.received()});
        }
        stats
    }

    async fn settle(&self) -> Settled {
        Recorder::settle(self).await
    }
}
