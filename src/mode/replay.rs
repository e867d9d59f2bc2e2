//! Replay mode: answer every request from the cassette index of its set,
//! offline and deterministically. Nothing here opens a network connection —
//! except, with `--record-missing`, the recorder it hands misses to.

use std::collections::BTreeMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response};
use lru::LruCache;
use tokio_util::either::Either;

use crate::answer::{CassetteError, ClientError, ProxyResponse};
use crate::cassette::index::{PreparedResponse, Ready, Recording, ReplayIndex};
use crate::cassette::key::RequestKey;
use crate::cassette::set::CassetteSet;
use crate::mode::record::Recorder;
use crate::mode::webhooks::{Deliverer, WEBHOOKS_PATH};
use crate::mode::Outcome;
use crate::mode::{ApiRequest, ForeignTunnels, Handled, Head, Known, MissLog, Misses, Mode, Settled};
use crate::stripe::auth::ApiKey;

/// Header naming the cassette a replayed response came from.
pub const CASSETTE_HEADER: &str = "stripe-vcr-cassette";

const CASSETTE: HeaderName = HeaderName::from_static(CASSETTE_HEADER);
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The recorded headers as replay serves them: without the recorded
/// `Idempotency-Key` (each request's own is echoed), with the cassette's name.
fn served_headers(prepared: &PreparedResponse, cassette: &str) -> HeaderMap {
    let mut headers = prepared.header_map();
    headers.remove(IDEMPOTENCY_KEY);
    if let Ok(v) = HeaderValue::from_str(cassette) {
        headers.insert(CASSETTE, v);
    }
    headers
}

/// How long an `Idempotency-Key` is remembered after its first use, as
/// Stripe keeps keys: a request that sends it again later is a new one.
pub const IDEMPOTENCY_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Most `Idempotency-Key`s each cassette set remembers (SDKs send a fresh
/// one with every POST); beyond it the least recently used is forgotten.
/// About 400 bytes each (measured in `tests/it/bounded_state.rs`; see
/// bench/RESULTS.md), so at most about 4 MB per set.
pub const IDEMPOTENCY_KEYS_REMEMBERED: usize = 10_000;

/// What an `Idempotency-Key` was used for in this run.
#[derive(Debug)]
struct KeyUse {
    /// The cassette first served to the key (its file name in the set):
    /// recorded retries name it in `reuses_idempotency_key_of`.
    first: String,
    /// The result Stripe saved under the key, if it saved one.
    saved: Option<Saved>,
    /// When the key was first used.
    since: Instant,
}

/// The `Idempotency-Key`s one set has seen, bounded by age
/// ([`IDEMPOTENCY_KEY_TTL`]) and by count (the least recently used go first).
#[derive(Debug)]
struct KeyMemory {
    keys: LruCache<String, KeyUse>,
    capacity: NonZeroUsize,
}

impl KeyMemory {
    /// Grows as keys come, up to `capacity` (an LRU made with its capacity
    /// would allocate its whole table up front, in every set).
    fn new(capacity: NonZeroUsize) -> KeyMemory {
        KeyMemory {
            keys: LruCache::unbounded(),
            capacity,
        }
    }

    /// What `key` was used for, unless that was [`IDEMPOTENCY_KEY_TTL`] or
    /// more before `now` (then it is forgotten here).
    fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut KeyUse> {
        // One look-up for a fresh key (what SDKs send with every POST).
        let stale = expired(self.keys.get_mut(key)?, now);
        if stale {
            self.keys.pop(key);
            return None;
        }
        self.keys.get_mut(key)
    }

    /// Remembers `key`, first forgetting expired keys at the old end and,
    /// when full, the least recently used one.
    fn remember(&mut self, key: &str, used: KeyUse) {
        while self
            .keys
            .peek_lru()
            .is_some_and(|(_, oldest)| expired(oldest, used.since))
        {
            self.keys.pop_lru();
        }
        if self.keys.len() >= self.capacity.get() {
            self.keys.pop_lru();
        }
        self.keys.push(key.to_owned(), used);
    }
}

fn expired(used: &KeyUse, now: Instant) -> bool {
    now.saturating_duration_since(used.since) >= IDEMPOTENCY_KEY_TTL
}

/// A result saved under an idempotency key, answered again to a retry with
/// the same parameters.
#[derive(Debug)]
struct Saved {
    key: RequestKey,
    /// The endpoint's path: a key is bound to the endpoint it was first used on.
    path: String,
    cassette: String,
    response: PreparedResponse,
}

impl Saved {
    /// The result `recording` leaves under its key, if Stripe saves it.
    fn of(recording: &Recording, request: &Lookup<'_>) -> Option<Saved> {
        recording.saved_by_stripe.then(|| Saved {
            key: request.key,
            path: request.path.to_owned(),
            cassette: request.set.qualify(&recording.file_name),
            response: recording.response.clone(),
        })
    }
}

/// What answering a request reads of it: the same whether it was decoded
/// just now ([`ApiRequest`]) or before ([`Known`], with this request's head).
#[derive(Debug, Clone, Copy)]
struct Lookup<'a> {
    method: &'a Method,
    headers: &'a HeaderMap,
    set: &'a CassetteSet,
    key: RequestKey,
    /// The canonical path.
    path: &'a str,
}

impl<'a> Lookup<'a> {
    fn of(request: &'a ApiRequest) -> Lookup<'a> {
        Lookup {
            method: &request.method,
            headers: &request.headers,
            set: &request.set,
            key: request.key,
            path: &request.canonical.path,
        }
    }

    fn known(known: &'a Known, head: Head<'a>) -> Lookup<'a> {
        Lookup {
            method: head.method,
            headers: head.headers,
            set: &known.set,
            key: known.key,
            path: &known.path,
        }
    }

    fn header(&self, name: HeaderName) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What replay answers a request with, before counting.
enum Answer {
    /// A recording, served as recorded.
    Recorded(Arc<Recording>),
    /// A result saved under the request's idempotency key, served again
    /// with `Idempotent-Replayed: true`.
    Saved {
        cassette: String,
        response: PreparedResponse,
    },
    /// Stripe's idempotency error.
    Refused(ClientError),
    /// Nothing recorded.
    Miss,
}

/// One cassette set's index and run state.
#[derive(Debug)]
struct SetState {
    index: ReplayIndex,
    idempotency: Mutex<KeyMemory>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl SetState {
    fn remembered_keys(&self) -> usize {
        self.idempotency.lock().unwrap_or_else(|p| p.into_inner()).keys.len()
    }
}

/// The replay-mode handler.
#[derive(Debug)]
pub struct Replayer {
    root: PathBuf,
    sets: BTreeMap<CassetteSet, SetState>,
    /// `--record-missing`: misses are forwarded and recorded by this.
    fallback: Option<Recorder>,
    /// `--webhook-forward-to`: recorded events go out after what they followed.
    deliveries: Option<Deliverer>,
    /// Every recorded event's file name and the interaction it follows, per
    /// set: an event is unused when that interaction is.
    events: BTreeMap<CassetteSet, Vec<(String, Option<String>)>>,
    /// The misses answered with a 404, for `GET /__stripe-vcr/misses`.
    misses: MissLog,
}

impl Replayer {
    /// A replayer over the sets loaded from `root`, optionally recording misses.
    pub fn new(root: PathBuf, sets: BTreeMap<CassetteSet, ReplayIndex>, fallback: Option<Recorder>) -> Replayer {
        let remembered = NonZeroUsize::new(IDEMPOTENCY_KEYS_REMEMBERED).unwrap_or(NonZeroUsize::MIN);
        Replayer::remembering(root, sets, fallback, remembered)
    }

    /// Like [`Replayer::new`], remembering at most `keys` idempotency keys per set.
    pub fn remembering(
        root: PathBuf,
        sets: BTreeMap<CassetteSet, ReplayIndex>,
        fallback: Option<Recorder>,
        keys: NonZeroUsize,
    ) -> Replayer {
        Replayer {
            root,
            sets: sets
                .into_iter()
                .map(|(set, index)| {
                    (
                        set,
                        SetState {
                            index,
                            idempotency: Mutex::new(KeyMemory::new(keys)),
                            hits: AtomicU64::new(0),
                            misses: AtomicU64::new(0),
                        },
                    )
                })
                .collect(),
            fallback,
            deliveries: None,
            events: BTreeMap::new(),
            misses: MissLog::default(),
        }
    }

    /// Knows the recorded events (file name, the interaction each follows),
    /// for the unused report.
    pub fn with_events(mut self, events: BTreeMap<CassetteSet, Vec<(String, Option<String>)>>) -> Replayer {
        self.events = events;
        self
    }

    /// Delivers the recorded webhook events with `deliveries`.
    pub fn delivering(mut self, deliveries: Option<Deliverer>) -> Replayer {
        self.deliveries = deliveries;
        self
    }

    /// Cassettes loaded, across all sets.
    pub fn cassette_count(&self) -> usize {
        self.sets.values().map(|s| s.index.len()).sum()
    }

    /// Idempotency keys remembered now, across all sets.
    pub fn remembered_keys(&self) -> usize {
        self.sets.values().map(SetState::remembered_keys).sum()
    }

    /// The recorded response with `headers` (see [`served_headers`]), and
    /// `Idempotency-Key` echoing this request's key, as Stripe does.
    fn serve(
        prepared: &PreparedResponse,
        headers: HeaderMap,
        replayed: bool,
        idempotency_key: Option<&str>,
    ) -> ProxyResponse {
        let mut response = Response::new(Full::new(prepared.body.clone()));
        *response.status_mut() = prepared.status;
        *response.headers_mut() = headers;
        if let Some(v) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
            response.headers_mut().insert(IDEMPOTENCY_KEY, v);
        }
        if replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }

    /// Answers `request` from the cassettes, or says why it is a miss (for
    /// [`Replayer::miss`]: record it with `--record-missing`, else a 404).
    fn respond(&self, request: &ApiRequest) -> Result<Handled, CassetteError> {
        if !ApiKey::present(&request.headers) {
            return Ok(Handled::error(ClientError::NoApiKey.into()));
        }
        if !request.route.is_api() {
            return Ok(Handled::error(
                CassetteError::OutsideApi {
                    request: request.canonical.summary(),
                }
                .into(),
            ));
        }
        let Some(state) = self.sets.get(&request.set) else {
            let known: Vec<String> = self.sets.keys().map(ToString::to_string).collect();
            let error = CassetteError::UnknownSet {
                set: request.set.to_string(),
                dir: self.root.display().to_string(),
                known: known.join(", "),
            };
            return Err(error);
        };
        if let Some(handled) = self.answer(state, &Lookup::of(request)) {
            return Ok(handled);
        }
        state.misses.fetch_add(1, Ordering::Relaxed);
        let closest = state.index.closest(&request.canonical).map(|mut near| {
            near.file_name = request.set.qualify(&near.file_name);
            near
        });
        Err(CassetteError::NotRecorded {
            request: request.canonical.summary(),
            closest,
        })
    }

    /// The answer `state` holds for `request`, counted; `None` for a miss,
    /// which changes nothing (the caller counts it).
    fn answer(&self, state: &SetState, request: &Lookup<'_>) -> Option<Handled> {
        let idempotency_key = (request.method == Method::POST)
            .then(|| request.header(IDEMPOTENCY_KEY))
            .flatten()
            .filter(|k| !k.is_empty());
        let answer = match idempotency_key {
            None => state.index.next(&request.key).map_or(Answer::Miss, Answer::Recorded),
            Some(k) => Self::with_key(state, request, k, Instant::now()),
        };
        match answer {
            Answer::Recorded(recording) => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                if let Some(deliveries) = &self.deliveries {
                    deliveries.served(request.set, &recording.file_name);
                }
                // A recording belongs to one set's index: always made with that set.
                let ready = recording.ready(|r| {
                    let cassette = request.set.qualify(&r.file_name);
                    Ready {
                        headers: served_headers(&r.response, &cassette),
                        cassette: cassette.into(),
                    }
                });
                Some(Handled::ok(
                    Self::serve(&recording.response, ready.headers.clone(), false, idempotency_key),
                    Outcome::Hit,
                    Some(ready.cassette.clone()),
                ))
            }
            Answer::Saved { cassette, response } => {
                state.hits.fetch_add(1, Ordering::Relaxed);
                let headers = served_headers(&response, &cassette);
                Some(Handled::ok(
                    Self::serve(&response, headers, true, idempotency_key),
                    Outcome::Hit,
                    Some(cassette.into()),
                ))
            }
            Answer::Refused(error) => Some(Handled::error(error.into())),
            Answer::Miss => None,
        }
    }

    /// A POST with an `Idempotency-Key`. A key seen before in this run is
    /// answered as the recording answered it: the recorded retry of the
    /// cassette first served to the key, if one is left; otherwise by
    /// Stripe's rules (the saved result again, an idempotency error for
    /// other parameters or another endpoint, or, when nothing was saved, a
    /// fresh run of the request).
    fn with_key(state: &SetState, request: &Lookup<'_>, key: &str, now: Instant) -> Answer {
        let mut memory = state.idempotency.lock().unwrap_or_else(|p| p.into_inner());
        let Some(used) = memory.get_mut(key, now) else {
            let Some(recording) = state.index.next(&request.key) else {
                return Answer::Miss;
            };
            let saved = Saved::of(&recording, request);
            let first = recording.file_name.clone();
            memory.remember(
                key,
                KeyUse {
                    first,
                    saved,
                    since: now,
                },
            );
            return Answer::Recorded(recording);
        };
        if let Some(retry) = state.index.next_reusing(&request.key, &used.first) {
            if used.saved.is_none() {
                used.saved = Saved::of(&retry, request);
            }
            return Answer::Recorded(retry);
        }
        match &used.saved {
            Some(saved) if saved.path != request.path => Answer::Refused(ClientError::IdempotencyKeyOtherEndpoint {
                key: key.to_owned(),
                sent: request.path.to_owned(),
                first: saved.path.clone(),
            }),
            Some(saved) if saved.key != request.key => {
                Answer::Refused(ClientError::IdempotencyKeyReused { key: key.to_owned() })
            }
            Some(saved) => Answer::Saved {
                cassette: saved.cassette.clone(),
                response: saved.response.clone(),
            },
            None => match state.index.next(&request.key) {
                Some(recording) => {
                    used.saved = Saved::of(&recording, request);
                    Answer::Recorded(recording)
                }
                None => Answer::Miss,
            },
        }
    }

    /// A miss: recorded by the fallback with `--record-missing`, else Stripe-shaped 404.
    async fn miss(&self, request: ApiRequest, error: CassetteError) -> Handled {
        match &self.fallback {
            Some(recorder) => recorder.handle(request).await,
            None => {
                self.misses.note(&request.set, error.to_string());
                Handled::error(error.into())
            }
        }
    }
}

impl Mode for Replayer {
    fn name(&self) -> &'static str {
        "replay"
    }

    fn handle(&self, request: ApiRequest) -> impl Future<Output = Handled> + Send {
        // Answered before any future exists, so the one returned is tiny
        // (hyper moves the request's future into place, and spawns one per
        // HTTP/2 stream). Only a miss, which may record, has real work left.
        match self.respond(&request) {
            Ok(handled) => Either::Left(std::future::ready(handled)),
            Err(miss) => Either::Right(Box::pin(self.miss(request, miss))),
        }
    }

    fn handle_known(&self, known: &Known, head: Head<'_>) -> Option<Handled> {
        // Only a request with a key and a recording: everything else (a
        // miss above all, which may record) takes the full path, which
        // counts and explains it.
        if !known.is_api || !ApiKey::present(head.headers) {
            return None;
        }
        let state = self.sets.get(&known.set)?;
        if !state.index.contains(&known.key) {
            return None;
        }
        self.answer(state, &Lookup::known(known, head))
    }

    fn handles_known(&self) -> bool {
        true
    }

    fn foreign_tunnels(&self) -> ForeignTunnels {
        match self.fallback {
            Some(_) => ForeignTunnels::PassThrough,
            None => ForeignTunnels::Refuse,
        }
    }

    async fn webhooks(
        &self,
        method: &Method,
        uri: &hyper::Uri,
        headers: &hyper::HeaderMap,
        body: bytes::Bytes,
    ) -> (hyper::StatusCode, serde_json::Value) {
        let path = uri.path().trim_end_matches('/');
        let set = CassetteSet::query_value(uri);
        let not_found = |message: String| {
            (
                hyper::StatusCode::NOT_FOUND,
                serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}}),
            )
        };
        match (&self.deliveries, method, path.strip_prefix(WEBHOOKS_PATH)) {
            (Some(d), &Method::GET, Some("")) => (hyper::StatusCode::OK, d.list()),
            (Some(d), &Method::POST, Some("/flush")) => {
                let set = match set.as_deref().map(CassetteSet::parse).transpose() {
                    Ok(set) => set,
                    Err(e) => return not_found(e.to_string()),
                };
                let delivered = d.flush(set.as_ref()).await;
                (
                    hyper::StatusCode::OK,
                    serde_json::json!({"delivered": delivered, "failed": delivered.iter().filter(|x| !x.ok).count()}),
                )
            }
            // With --record-missing, events of the new episodes are recorded.
            (_, &Method::POST, Some("")) if self.fallback.is_some() => match &self.fallback {
                Some(recorder) => recorder.webhooks(method, uri, headers, body).await,
                None => not_found(String::new()),
            },
            (None, _, _) => not_found(
                "replay delivers webhooks only with --webhook-forward-to URL and --webhook-secret whsec_…".to_owned(),
            ),
            _ => not_found(format!(
                "{method} {} is not a webhook path: GET {WEBHOOKS_PATH} lists deliveries, POST {WEBHOOKS_PATH}/flush[?set=NAME] waits for them",
                uri.path()
            )),
        }
    }

    fn stats(&self) -> serde_json::Value {
        let sets: serde_json::Map<String, serde_json::Value> = self
            .sets
            .iter()
            .map(|(set, s)| {
                (
                    set.to_string(),
                    serde_json::json!({
                        "cassettes": s.index.len(),
                        "hits": s.hits.load(Ordering::Relaxed),
                        "misses": s.misses.load(Ordering::Relaxed),
                        "unused": s.index.unused().len(),
                        "idempotency_keys": s.remembered_keys(),
                    }),
                )
            })
            .collect();
        let mut stats = serde_json::json!({ "sets": sets });
        if let Some(deliveries) = &self.deliveries {
            stats["webhooks"] = deliveries.stats();
        }
        if let Some(recorder) = &self.fallback {
            stats["recorded"] = recorder.stats();
            stats["sync"] = recorder.sync_stats();
        }
        stats
    }

    async fn settle(&self) -> Settled {
        let mut settled = match &self.fallback {
            Some(recorder) => recorder.settle().await,
            None => Settled::default(),
        };
        if let Some(deliveries) = &self.deliveries {
            // What is under way goes out (retries are bounded) before the
            // summary counts it.
            let delivered = deliveries.flush(None).await;
            settled.webhooks.delivered = delivered.iter().filter(|d| d.ok).count() as u64;
            settled.webhooks.failed = deliveries.failures();
        }
        settled
    }

    fn reset(&self, set: Option<&CassetteSet>) -> bool {
        if let Some(deliveries) = &self.deliveries {
            deliveries.reset(set);
        }
        let reset_one = |s: &SetState| {
            s.index.reset();
            s.idempotency.lock().unwrap_or_else(|p| p.into_inner()).keys.clear();
        };
        match set {
            None => {
                self.sets.values().for_each(reset_one);
                true
            }
            Some(set) => self.sets.get(set).map(reset_one).is_some(),
        }
    }

    fn misses(&self, set: Option<&CassetteSet>) -> Misses {
        self.misses.of(set)
    }

    fn unused(&self) -> Vec<String> {
        let mut unused = Vec::new();
        for (set, s) in &self.sets {
            let cassettes = s.index.unused();
            // An event goes with the interaction it follows.
            let events = self
                .events
                .get(set)
                .into_iter()
                .flatten()
                .filter(|(_, after)| after.as_ref().is_some_and(|a| cassettes.contains(a)));
            let events: Vec<String> = events.map(|(file, _)| set.qualify(file)).collect();
            unused.extend(cassettes.iter().map(|f| set.qualify(f)));
            unused.extend(events);
        }
        unused
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cassette::format::{
        BodyEncoding, Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
    };
    use crate::cassette::store::LoadedCassette;
    use crate::mode::Via;
    use crate::stripe::redact::Redactor;

    /// A form create sent with `Idempotency-Key: key`.
    fn create(key: &str) -> ApiRequest {
        let (parts, ()) = hyper::Request::builder()
            .method("POST")
            .uri("/v1/payment_intents")
            .header("authorization", "Bearer sk_test_IdempotencyMemory")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", key)
            .body(())
            .expect("request")
            .into_parts();
        let body = bytes::Bytes::from_static(b"amount=700&currency=usd");
        ApiRequest::decode(parts, body, Via::Plain, Redactor::standard()).expect("decodes")
    }

    /// A set holding two recorded answers to [`create`], `pi_1` then `pi_2`.
    fn set(remembered: usize) -> SetState {
        let canonical = create("any").canonical;
        let loaded = (1..=2)
            .map(|n| LoadedCassette {
                file_name: format!("create-{n}.json"),
                cassette: Cassette {
                    format_version: FORMAT_VERSION,
                    recorded_at: "2026-11-22T00:00:00Z".into(),
                    endpoint: "create".into(),
                    occurrence: n,
                    request: RecordedRequest {
                        canonical: canonical.clone(),
                        body_encoding: BodyEncoding::Form,
                        user_agent: None,
                        reuses_idempotency_key_of: None,
                    },
                    response: RecordedResponse {
                        status: 200,
                        headers: ResponseHeaders::default(),
                        body: ResponseBody::Body(serde_json::json!({ "id": format!("pi_{n}") })),
                    },
                },
            })
            .collect();
        SetState {
            index: ReplayIndex::build(loaded).expect("index"),
            idempotency: Mutex::new(KeyMemory::new(NonZeroUsize::new(remembered).expect("non-zero"))),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// What `key` is answered with at `now`: `new create-N.json` for a
    /// recording served afresh, `saved create-N.json` for a saved result
    /// served again.
    fn answer(state: &SetState, key: &str, now: Instant) -> String {
        let request = create(key);
        match Replayer::with_key(state, &Lookup::of(&request), key, now) {
            Answer::Recorded(recording) => format!("new {}", recording.file_name),
            Answer::Saved { cassette, .. } => format!("saved {cassette}"),
            Answer::Refused(error) => format!("refused {error}"),
            Answer::Miss => "miss".to_owned(),
        }
    }

    #[test]
    fn a_key_is_forgotten_a_day_after_its_first_use() {
        let state = set(10);
        let t0 = Instant::now();
        assert_eq!(answer(&state, "k", t0), "new create-1.json");
        let hour = Duration::from_secs(3600);
        assert_eq!(answer(&state, "k", t0 + hour), "saved create-1.json", "a retry");
        assert_eq!(
            answer(&state, "k", t0 + IDEMPOTENCY_KEY_TTL - hour),
            "saved create-1.json",
            "a retry on the same day"
        );
        assert_eq!(
            answer(&state, "k", t0 + IDEMPOTENCY_KEY_TTL),
            "new create-2.json",
            "expired: a new request"
        );
        // Expired keys at the old end go when a new key comes.
        assert_eq!(answer(&state, "a", t0 + IDEMPOTENCY_KEY_TTL), "new create-2.json");
        assert_eq!(answer(&state, "b", t0 + 3 * IDEMPOTENCY_KEY_TTL), "new create-2.json");
        assert_eq!(state.remembered_keys(), 1, "only b is left");
    }

    #[test]
    fn beyond_its_bound_the_least_recently_used_key_is_forgotten() {
        let state = set(2);
        let now = Instant::now();
        assert_eq!(answer(&state, "a", now), "new create-1.json");
        assert_eq!(answer(&state, "b", now), "new create-2.json");
        assert_eq!(
            answer(&state, "a", now),
            "saved create-1.json",
            "a is used again: now the newest"
        );
        assert_eq!(answer(&state, "c", now), "new create-2.json");
        assert_eq!(state.remembered_keys(), 2);
        assert_eq!(answer(&state, "a", now), "saved create-1.json", "a is kept");
        assert_eq!(answer(&state, "b", now), "new create-2.json", "b was forgotten");
        assert_eq!(state.remembered_keys(), 2);
    }
}
