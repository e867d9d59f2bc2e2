//! Webhook events in the two modes. Record: each event `stripe listen`
//! forwards to `POST /__stripe-vcr/webhooks` is linked to the interaction it
//! followed (by the objects it names), saved in that interaction's set, and
//! forwarded to the app unchanged ([`EventRecorder`]). Replay: once replay
//! has served an interaction, the events that followed it are delivered to
//! the app, freshly signed, in their recorded order, retried on failure
//! ([`Deliverer`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::cassette::event::{is_event_file, AppAnswer, EventCassette};
use crate::cassette::seal::seal_event;
use crate::cassette::set::CassetteSet;
use crate::cassette::store::CassetteStore;
use crate::stripe::redact::Redactor;
use crate::stripe::webhook::{self, SIGNATURE_HEADER};
use crate::upstream::Upstream;

/// Where `stripe listen` forwards events to, and where replay's deliveries
/// are listed (`GET`) and awaited (`POST …/flush`).
pub const WEBHOOKS_PATH: &str = "/__stripe-vcr/webhooks";

/// How webhooks are handled in a run (`--webhook-…` flags).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookConfig {
    /// `--webhook-forward-to`: the app's endpoint.
    pub forward_to: Option<String>,
    /// `--webhook-secret`: record checks what it receives with it; replay
    /// signs with it.
    pub secret: Option<String>,
    /// `--webhook-retries`: further attempts after a failed delivery.
    pub retries: u32,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// `--webhook-duplicates`: every event delivered twice, as Stripe
    /// sometimes does (an idempotent handler ignores the second).
    pub duplicates: bool,
    /// `--webhook-shuffle`: the events that follow one interaction are
    /// delivered in a seeded random order, as Stripe does not promise order.
    pub shuffle: bool,
    /// `--webhook-delay`: each delivery waits this long first.
    pub delay: Option<Duration>,
    /// `--webhook-seed`: the seed of `--webhook-shuffle`'s order.
    pub seed: u64,
}

impl WebhookConfig {
    /// No forwarding, three retries, 10 s per delivery.
    pub fn new() -> WebhookConfig {
        WebhookConfig {
            forward_to: None,
            secret: None,
            retries: 3,
            timeout: Duration::from_secs(10),
            duplicates: false,
            shuffle: false,
            delay: None,
            seed: 1,
        }
    }
}

/// The app's endpoint.
#[derive(Debug)]
struct Target {
    client: Upstream,
    path: String,
    url: String,
}

impl Target {
    fn new(url: &str, timeout: Duration) -> Result<Target, String> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|_| format!("--webhook-forward-to {url}: not a URL"))?;
        let scheme = uri.scheme_str().unwrap_or("http");
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--webhook-forward-to {url}: needs a host"))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let client = Upstream::new(&format!("{scheme}://{authority}"), None, timeout)
            .map_err(|e| format!("--webhook-forward-to {url}: {e}"))?;
        Ok(Target {
            client,
            path,
            url: url.to_owned(),
        })
    }

    /// Posts `payload` with `signature`; the app's status and how long it took.
    async fn post(&self, payload: Bytes, signature: Option<&str>) -> AppAnswer {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(
            hyper::header::USER_AGENT,
            HeaderValue::from_static("Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
        );
        if let Some(v) = signature.and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(SIGNATURE_HEADER, v);
        }
        let started = Instant::now();
        let result = self.client.forward(&Method::POST, &self.path, &headers, payload).await;
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(answer) => AppAnswer {
                status: Some(answer.status.as_u16()),
                millis,
                error: None,
            },
            Err(e) => AppAnswer {
                status: None,
                millis,
                error: Some(e.to_string()),
            },
        }
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where an interaction was recorded, and when (in arrival order).
#[derive(Debug, Clone)]
struct Place {
    set: CassetteSet,
    file_name: String,
    order: u64,
}

#[derive(Debug, Default)]
struct Links {
    /// Each interaction by the `Request-Id` Stripe answered it with: an
    /// event's `request.id` names the request that caused it.
    by_request: HashMap<String, Place>,
    /// The latest interaction that created or touched each object.
    by_object: HashMap<String, Place>,
    /// The latest interaction of each set.
    latest: HashMap<CassetteSet, Place>,
    order: u64,
    /// Events saved in this run, per set (their sequence is the count).
    written: BTreeMap<CassetteSet, BTreeSet<String>>,
    /// The interaction the set's latest event follows: a later event never
    /// follows an earlier interaction, so replay's order is arrival order.
    last_after: HashMap<CassetteSet, Place>,
}

/// What an interaction's answer names: its own `id` and the ids it links
/// to, and the ids in its path (`/v1/payment_intents/pi_1/confirm`).
fn touched_ids(path: &str, response: &[u8]) -> Vec<String> {
    let mut ids: Vec<String> = path
        .split('/')
        .filter(|s| s.contains('_') && s.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase()))
        .map(str::to_owned)
        .collect();
    if let Ok(body) = serde_json::from_slice::<Value>(response) {
        // Shaped like an event, so the same fields are read.
        ids.extend(webhook::named_ids(&json!({"data": {"object": body}})));
    }
    ids
}

/// Record's side: links, saves and forwards events.
#[derive(Debug)]
pub struct EventRecorder {
    root: PathBuf,
    redactor: Arc<Redactor>,
    secret: Option<String>,
    target: Option<Target>,
    links: Mutex<Links>,
    received: AtomicU64,
}

impl EventRecorder {
    /// Saves under `root`; forwards and checks as `config` says.
    pub fn new(root: PathBuf, redactor: Arc<Redactor>, config: &WebhookConfig) -> Result<EventRecorder, String> {
        let target = config
            .forward_to
            .as_deref()
            .map(|url| Target::new(url, config.timeout))
            .transpose()?;
        Ok(EventRecorder {
            root,
            redactor,
            secret: config.secret.clone(),
            target,
            links: Mutex::new(Links::default()),
            received: AtomicU64::new(0),
        })
    }

    /// Notes an interaction as soon as the upstream has answered it (before
    /// its cassette is written, so an event Stripe sends right after the
    /// answer finds it): its `Request-Id`, and the objects it touched.
    pub fn interaction(
        &self,
        set: &CassetteSet,
        file_name: &str,
        request_id: Option<&str>,
        path: &str,
        response: &[u8],
    ) {
        let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        links.order += 1;
        let place = Place {
            set: set.clone(),
            file_name: file_name.to_owned(),
            order: links.order,
        };
        if let Some(id) = request_id.filter(|id| !id.is_empty()) {
            links.by_request.insert(id.to_owned(), place.clone());
        }
        for id in touched_ids(path, response) {
            links.by_object.insert(id, place.clone());
        }
        links.latest.insert(set.clone(), place);
    }

    /// Where an event goes: the interaction whose `Request-Id` is the
    /// event's `request.id` (the request that caused it); else the latest
    /// recorded interaction that touched an object it names; else the root
    /// set, after its latest interaction. Never before the interaction the
    /// set's previous event follows, so that replay, which delivers an
    /// event once it has served what the event follows, delivers in arrival
    /// order.
    /// `None`: the root set, before any interaction.
    fn place_of(links: &Links, event: &Value) -> Option<Place> {
        let by_request = event["request"]["id"]
            .as_str()
            .and_then(|id| links.by_request.get(id))
            .cloned();
        let linked = by_request.or_else(|| {
            webhook::named_ids(event)
                .iter()
                .filter_map(|id| links.by_object.get(id))
                .max_by_key(|p| p.order)
                .cloned()
        });
        let place = linked.or_else(|| links.latest.get(&CassetteSet::root()).cloned())?;
        match links.last_after.get(&place.set) {
            Some(previous) if previous.order > place.order => Some(previous.clone()),
            _ => Some(place),
        }
    }

    /// One delivery from `stripe listen`: checked (with `--webhook-secret`),
    /// forwarded to the app unchanged, saved with the app's answer. The
    /// answer to `stripe listen` is the app's (or 200 with no app).
    pub async fn receive(&self, headers: &HeaderMap, body: Bytes) -> (StatusCode, Value) {
        let event: Value = match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"error": {"message": "stripe-vcr expected a Stripe event (a JSON object) at /__stripe-vcr/webhooks", "type": "invalid_request_error"}}),
                )
            }
        };
        self.received.fetch_add(1, Ordering::Relaxed);
        let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
        if let Some(secret) = &self.secret {
            match signature.map(|s| webhook::verify(s, &body, secret, now_unix(), webhook::DEFAULT_TOLERANCE_SECS)) {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    tracing::warn!(event = %event["id"], "webhook signature does not check with --webhook-secret: {e}")
                }
                None => tracing::warn!(event = %event["id"], "webhook delivery without a Stripe-Signature header"),
            }
        }
        let app = match &self.target {
            Some(target) => Some(target.post(body.clone(), signature).await),
            None => None,
        };
        let recorded_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        // Numbered and its name claimed in one critical section: two events
        // arriving together never share a number.
        let (set, mut cassette) = {
            let mut links = self.links.lock().unwrap_or_else(|p| p.into_inner());
            let place = Self::place_of(&links, &event);
            let set = place.as_ref().map_or_else(CassetteSet::root, |p| p.set.clone());
            if let Some(place) = &place {
                links.last_after.insert(set.clone(), place.clone());
            }
            let after = place.map(|p| p.file_name);
            let written = links.written.entry(set.clone()).or_default();
            let sequence = u32::try_from(written.len() + 1).unwrap_or(u32::MAX);
            let cassette = EventCassette::new(sequence, after, event, recorded_at);
            written.insert(cassette.file_name());
            (set, cassette)
        };
        cassette.app = app.clone();
        // Redacted here, in memory; written (and synced: events are few) off
        // the runtime's threads.
        let saved = match seal_event(&self.redactor, &cassette) {
            Ok(sealed) => {
                let store = CassetteStore::new(set.dir(&self.root));
                tokio::task::spawn_blocking(move || store.write_event(&sealed).and_then(|w| w.sync()))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        match saved {
            Ok(_) => tracing::info!(
                event = cassette.event_id(),
                cassette = %set.qualify(&cassette.file_name()),
                "webhook event recorded"
            ),
            Err(e) => tracing::error!(event = cassette.event_id(), "webhook event not saved: {e}"),
        }
        match app {
            Some(AppAnswer {
                status: Some(status), ..
            }) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
                json!({"received": true, "forwarded_to": self.target.as_ref().map(|t| t.url.clone()), "app_status": status}),
            ),
            Some(AppAnswer { error, .. }) => (StatusCode::BAD_GATEWAY, json!({"received": true, "error": error})),
            None => (StatusCode::OK, json!({"received": true})),
        }
    }

    /// Events received in this run.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Deletes the event cassettes an earlier session left in each set this
    /// run recorded events in (names relative to the cassette directory).
    pub fn remove_stale(&self) -> Vec<String> {
        let links = self.links.lock().unwrap_or_else(|p| p.into_inner());
        let mut removed = Vec::new();
        for (set, written) in &links.written {
            let dir = set.dir(&self.root);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_event_file(&name) && !written.contains(&name) && std::fs::remove_file(entry.path()).is_ok() {
                    removed.push(set.qualify(&name));
                }
            }
        }
        removed.sort();
        removed
    }
}

/// One delivery, as `/__stripe-vcr/webhooks` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    pub set: String,
    pub cassette: String,
    pub event: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The app's last status (`None`: no answer).
    pub status: Option<u16>,
    pub attempts: u32,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug)]
struct SetEvents {
    /// Events by the interaction they follow, in sequence order.
    after: HashMap<String, Vec<Arc<EventCassette>>>,
    /// Events that came before any interaction of the set.
    first: Vec<Arc<EventCassette>>,
    /// Interactions whose events are already queued (until a reset).
    triggered: Mutex<HashSet<String>>,
    queue: mpsc::UnboundedSender<Arc<EventCassette>>,
    /// Queued and not yet delivered (or given up on).
    pending: watch::Sender<usize>,
}

/// Replay's side: delivers recorded events to the app.
#[derive(Debug)]
pub struct Deliverer {
    sets: BTreeMap<CassetteSet, SetEvents>,
    log: Arc<Mutex<Vec<Delivered>>>,
    failures: Arc<AtomicU64>,
    faults: Faults,
}

/// The delivery faults asked for, applied deterministically.
#[derive(Debug, Clone, Copy)]
struct Faults {
    duplicates: bool,
    shuffle: bool,
    seed: u64,
}

impl Faults {
    /// `due` as it goes out: shuffled (seeded by the set, the interaction
    /// and `--webhook-seed`, so every run gives the same order), each event
    /// twice when asked.
    fn apply(self, set: &CassetteSet, after: &str, mut due: Vec<Arc<EventCassette>>) -> Vec<Arc<EventCassette>> {
        if self.shuffle && due.len() > 1 {
            use rand::seq::SliceRandom;
            use rand::SeedableRng;
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (self.seed, set.to_string(), after).hash(&mut hasher);
            let mut rng = rand::rngs::StdRng::seed_from_u64(hasher.finish());
            due.shuffle(&mut rng);
        }
        if self.duplicates {
            due = due.into_iter().flat_map(|e| [e.clone(), e]).collect();
        }
        due
    }
}

impl Deliverer {
    /// Delivers `events` (by set) to the configured endpoint; `None` when
    /// `--webhook-forward-to` or `--webhook-secret` is missing.
    pub fn start(
        events: BTreeMap<CassetteSet, Vec<EventCassette>>,
        config: &WebhookConfig,
    ) -> Result<Option<Deliverer>, String> {
        let (Some(url), Some(secret)) = (&config.forward_to, &config.secret) else {
            return Ok(None);
        };
        let target = Arc::new(Target::new(url, config.timeout)?);
        let log = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicU64::new(0));
        let mut sets = BTreeMap::new();
        for (set, events) in events {
            let (queue, mut rx) = mpsc::unbounded_channel::<Arc<EventCassette>>();
            let (pending, _) = watch::channel(0usize);
            let mut after: HashMap<String, Vec<Arc<EventCassette>>> = HashMap::new();
            let mut first = Vec::new();
            for event in events {
                let event = Arc::new(event);
                match &event.after {
                    Some(a) => after.entry(a.clone()).or_default().push(event),
                    None => first.push(event),
                }
            }
            let pending_tx = pending.clone();
            let (target, secret, log, failures, retries, delay) = (
                target.clone(),
                secret.clone(),
                log.clone(),
                failures.clone(),
                config.retries,
                config.delay,
            );
            let set_name = set.to_string();
            // One task per set: its events go out one at a time, in order.
            tokio::spawn(async move {
                while let Some(event) = rx.recv().await {
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    let delivered = deliver(&target, &secret, &event, retries, &set_name).await;
                    if !delivered.ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            event = %delivered.event, set = %delivered.set, status = ?delivered.status,
                            "webhook delivery failed after {} attempts: {}",
                            delivered.attempts,
                            delivered.error.as_deref().unwrap_or("the app answered with an error status")
                        );
                    }
                    log.lock().unwrap_or_else(|p| p.into_inner()).push(delivered);
                    pending_tx.send_modify(|n| *n = n.saturating_sub(1));
                }
            });
            sets.insert(
                set,
                SetEvents {
                    after,
                    first,
                    triggered: Mutex::new(HashSet::new()),
                    queue,
                    pending,
                },
            );
        }
        let faults = Faults {
            duplicates: config.duplicates,
            shuffle: config.shuffle,
            seed: config.seed,
        };
        Ok(Some(Deliverer {
            sets,
            log,
            failures,
            faults,
        }))
    }

    /// Replay served `cassette` (a file name) in `set`: queue the events
    /// that followed it (and, on the set's first answer, those that came
    /// before any), once until the next reset.
    pub fn served(&self, set: &CassetteSet, cassette: &str) {
        let Some(events) = self.sets.get(set) else {
            return;
        };
        let mut triggered = events.triggered.lock().unwrap_or_else(|p| p.into_inner());
        let mut due: Vec<Arc<EventCassette>> = Vec::new();
        if triggered.insert(String::new()) {
            due.extend(self.faults.apply(set, "", events.first.clone()));
        }
        if triggered.insert(cassette.to_owned()) {
            let after: Vec<Arc<EventCassette>> = events.after.get(cassette).into_iter().flatten().cloned().collect();
            due.extend(self.faults.apply(set, cassette, after));
        }
        drop(triggered);
        if due.is_empty() {
            return;
        }
        events.pending.send_modify(|n| *n += due.len());
        for event in due {
            // The task lives as long as the sender: a send cannot fail.
            let _ = events.queue.send(event);
        }
    }

    /// Waits until every queued event of `set` (of every set) is delivered
    /// or given up on; the deliveries so far.
    pub async fn flush(&self, set: Option<&CassetteSet>) -> Vec<Delivered> {
        for (name, events) in &self.sets {
            if set.is_some_and(|s| s != name) {
                continue;
            }
            let mut pending = events.pending.subscribe();
            let _ = pending.wait_for(|n| *n == 0).await;
        }
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter()
            .filter(|d| set.is_none_or(|s| d.set == s.to_string()))
            .cloned()
            .collect()
    }

    /// Delivered and pending events, for `GET /__stripe-vcr/webhooks`.
    pub fn list(&self) -> Value {
        let delivered = self.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let pending: BTreeMap<String, usize> = self
            .sets
            .iter()
            .map(|(set, e)| (set.to_string(), *e.pending.borrow()))
            .collect();
        json!({"delivered": delivered, "pending": pending})
    }

    /// Counters for `/__stripe-vcr/stats`.
    pub fn stats(&self) -> Value {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let pending: usize = self.sets.values().map(|e| *e.pending.borrow()).sum();
        json!({
            "recorded": self.sets.values().map(|e| e.first.len() + e.after.values().map(Vec::len).sum::<usize>()).sum::<usize>(),
            "delivered": log.iter().filter(|d| d.ok).count(),
            "failed": log.iter().filter(|d| !d.ok).count(),
            "pending": pending,
        })
    }

    /// Deliveries that failed every attempt, so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Lets a set's (every set's) events go out again.
    pub fn reset(&self, set: Option<&CassetteSet>) {
        for (name, events) in &self.sets {
            if set.is_none_or(|s| s == name) {
                events.triggered.lock().unwrap_or_else(|p| p.into_inner()).clear();
            }
        }
    }
}

/// Sends recorded events by hand (`stripe-vcr webhooks send`): each signed
/// now with `secret`, one after the other, in the order given, no retries.
pub async fn send(events: &[(CassetteSet, EventCassette)], url: &str, secret: &str) -> Result<Vec<Delivered>, String> {
    let target = Target::new(url, Duration::from_secs(10))?;
    let mut out = Vec::new();
    for (set, event) in events {
        out.push(deliver(&target, secret, event, 0, &set.to_string()).await);
    }
    Ok(out)
}

/// One event to the app, signed now, retried `retries` times after a
/// failure (100 ms, 200 ms, 400 ms… apart).
async fn deliver(target: &Target, secret: &str, event: &EventCassette, retries: u32, set: &str) -> Delivered {
    let payload = Bytes::from(event.payload());
    let mut attempts = 0;
    let mut last = AppAnswer {
        status: None,
        millis: 0,
        error: None,
    };
    while attempts <= retries {
        if attempts > 0 {
            tokio::time::sleep(Duration::from_millis(100) * 2u32.saturating_pow(attempts - 1).min(64)).await;
        }
        attempts += 1;
        let signature = webhook::sign(secret, &payload, now_unix());
        last = target.post(payload.clone(), Some(&signature)).await;
        if last.status.is_some_and(|s| (200..300).contains(&s)) {
            break;
        }
    }
    let ok = last.status.is_some_and(|s| (200..300).contains(&s));
    Delivered {
        set: set.to_owned(),
        cassette: event.file_name(),
        event: event.event_id().to_owned(),
        event_type: event.event_type.clone(),
        status: last.status,
        attempts,
        ok,
        error: last.error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_deterministic_and_do_what_they_say() {
        let events: Vec<Arc<EventCassette>> = (1..=6)
            .map(|n| {
                Arc::new(EventCassette::new(
                    n,
                    None,
                    json!({"id": format!("evt_{n}"), "type": "t"}),
                    String::new(),
                ))
            })
            .collect();
        let ids = |v: &[Arc<EventCassette>]| v.iter().map(|e| e.sequence).collect::<Vec<_>>();
        let set = CassetteSet::root();
        let none = Faults {
            duplicates: false,
            shuffle: false,
            seed: 1,
        };
        assert_eq!(ids(&none.apply(&set, "a", events.clone())), [1, 2, 3, 4, 5, 6]);
        let twice = Faults {
            duplicates: true,
            ..none
        };
        assert_eq!(ids(&twice.apply(&set, "a", events[..2].to_vec())), [1, 1, 2, 2]);
        let shuffled = Faults { shuffle: true, ..none };
        let first = ids(&shuffled.apply(&set, "a", events.clone()));
        assert_ne!(first, [1, 2, 3, 4, 5, 6], "shuffled");
        assert_eq!(
            ids(&shuffled.apply(&set, "a", events.clone())),
            first,
            "the same every run"
        );
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [1, 2, 3, 4, 5, 6], "nothing lost or added");
        let other_seed = Faults { seed: 2, ..shuffled };
        assert_ne!(
            ids(&other_seed.apply(&set, "a", events.clone())),
            first,
            "the seed decides"
        );
    }

    #[test]
    fn an_interaction_names_its_object_the_objects_it_links_to_and_the_ids_in_its_path() {
        let body = br#"{"id":"re_1","object":"refund","payment_intent":"pi_1","charge":"ch_1"}"#;
        assert_eq!(touched_ids("/v1/refunds", body), ["re_1", "pi_1", "ch_1"]);
        assert_eq!(
            touched_ids("/v1/payment_intents/pi_3Abc/confirm", b"not json"),
            ["pi_3Abc"]
        );
    }

    #[test]
    fn an_event_follows_the_latest_interaction_that_touched_what_it_names() {
        let root = tempfile::tempdir().expect("tempdir");
        let recorder = EventRecorder::new(
            root.path().to_path_buf(),
            Arc::new(Redactor::builtin()),
            &WebhookConfig::new(),
        )
        .expect("recorder");
        let checkout = CassetteSet::parse("checkout").expect("set");
        recorder.interaction(
            &CassetteSet::root(),
            "customers.create-a-001.json",
            Some("req_Customer"),
            "/v1/customers",
            br#"{"id":"cus_1"}"#,
        );
        recorder.interaction(
            &checkout,
            "create-b-001.json",
            Some("req_Create"),
            "/v1/payment_intents",
            br#"{"id":"pi_1","customer":"cus_1"}"#,
        );
        recorder.interaction(
            &checkout,
            "confirm-c-001.json",
            None,
            "/v1/payment_intents/pi_1/confirm",
            br#"{"id":"pi_1","latest_charge":"ch_1"}"#,
        );
        // Where an event goes: its set and the interaction it follows.
        let at = |links: &Links, event: &Value| {
            let place = EventRecorder::place_of(links, event);
            (
                place.as_ref().map_or_else(CassetteSet::root, |p| p.set.clone()),
                place.map(|p| p.file_name),
            )
        };
        let links = recorder.links.lock().expect("links");
        let succeeded = json!({"type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}});
        // By the request that caused it, first: the create, not the confirm.
        let created = json!({"type": "payment_intent.created", "request": {"id": "req_Create"}, "data": {"object": {"id": "pi_1"}}});
        assert_eq!(
            at(&links, &created),
            (checkout.clone(), Some("create-b-001.json".to_owned()))
        );
        assert_eq!(
            at(&links, &succeeded),
            (checkout.clone(), Some("confirm-c-001.json".to_owned()))
        );
        let customer = json!({"type": "customer.created", "data": {"object": {"id": "cus_1"}}});
        assert_eq!(
            at(&links, &customer),
            (checkout.clone(), Some("create-b-001.json".to_owned())),
            "the latest interaction that touched the customer"
        );
        let unknown = json!({"type": "balance.available", "data": {"object": {"object": "balance"}}});
        assert_eq!(
            at(&links, &unknown),
            (CassetteSet::root(), Some("customers.create-a-001.json".to_owned()))
        );
        // Once an event of the set follows the confirm, a later one naming
        // only the customer still follows the confirm: never earlier.
        let mut links = links;
        let confirm = EventRecorder::place_of(&links, &succeeded).expect("placed");
        links.last_after.insert(checkout.clone(), confirm);
        assert_eq!(at(&links, &customer), (checkout, Some("confirm-c-001.json".to_owned())));
    }
}
