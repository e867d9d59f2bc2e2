//! Webhook delivery (`--webhook-url URL --webhook-secret whsec_…`): every
//! event appended to the log is POSTed to the URL the way `stripe listen`
//! forwards events, signed with the secret.
//!
//! Delivery is asynchronous, as Stripe's is: the events a request caused go
//! out once its answer has been sent. It is strictly in log order: one
//! queue, one delivery at a time (events are queued while the state lock is
//! held, so the queue's order is the log's). A failed delivery (non-2xx, no
//! answer) is tried [`ATTEMPTS`] times in all, then logged to stderr and
//! dropped. `POST /__standin/webhooks/flush` waits until the queue is empty
//! and answers `{"delivered": N, "failed": M}` (totals since start).
//!
//! Without the flags nothing is queued and nothing changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, Mac as _};
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot, watch};

use crate::events::Event;
use crate::http::json_bytes;

/// `POST` here waits until every queued event has been delivered (or given up on).
pub(crate) const FLUSH_PATH: &str = "/__standin/webhooks/flush";
/// The header Stripe signs deliveries in.
pub(crate) const SIGNATURE_HEADER: &str = "stripe-signature";
/// Stripe's (and `stripe listen`'s) `User-Agent` for deliveries.
pub(crate) const USER_AGENT: &str = "Stripe/1.0 (+https://stripe.com/docs/webhooks)";
/// Attempts per event, first one included.
pub(crate) const ATTEMPTS: u32 = 3;
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`, keyed
/// with the whole secret (`whsec_` included), exactly as Stripe signs.
pub(crate) fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Seconds since the Unix epoch (the real clock, even with `--seed`: the
/// receiver checks the timestamp against its own clock).
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where deliveries go: a plain `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host:port`, to connect to and to send as `Host`.
    authority: String,
    /// Path and query.
    path: String,
    url: String,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Endpoint, String> {
        let uri: hyper::Uri = url.parse().map_err(|_| format!("--webhook-url {url}: not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--webhook-url {url}: only http:// URLs are supported"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--webhook-url {url}: needs a host"))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.to_string(),
            None => format!("{}:80", authority.host()),
        };
        Ok(Endpoint {
            authority,
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
            url: url.to_owned(),
        })
    }
}

/// Delivery totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Queued and not yet delivered or given up on.
    pub(crate) pending: u64,
    pub(crate) delivered: u64,
    pub(crate) failed: u64,
}

/// One event, ready to send.
struct Outgoing {
    id: String,
    kind: String,
    body: Bytes,
}

/// The events one request caused, sent once its answer is out.
struct Batch {
    events: Vec<Outgoing>,
    answered: oneshot::Receiver<()>,
}

/// Fires when dropped: the answer it rides with (in the response body) has
/// been sent, or dropped.
#[derive(Debug)]
pub(crate) struct AnswerSent(Mutex<Option<oneshot::Sender<()>>>);

impl Drop for AnswerSent {
    fn drop(&mut self) {
        if let Some(tx) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = tx.send(());
        }
    }
}

/// The delivery queue and its worker.
pub(crate) struct Webhooks {
    queue: mpsc::UnboundedSender<Batch>,
    counts: watch::Sender<Counts>,
}

impl Webhooks {
    /// Starts the worker (on the current Tokio runtime).
    pub(crate) fn start(endpoint: Endpoint, secret: String) -> Webhooks {
        let (queue, rx) = mpsc::unbounded_channel();
        let (counts, _) = watch::channel(Counts::default());
        tokio::spawn(worker(endpoint, secret, rx, counts.clone()));
        Webhooks { queue, counts }
    }

    /// Queues `events` (in log order), to go out once the returned guard is
    /// dropped (it rides in the answer's body); `None` when there are none.
    /// Callers hold the state lock, so the queue's order is the log's.
    pub(crate) fn enqueue(&self, events: Vec<Event>) -> Option<Arc<AnswerSent>> {
        if events.is_empty() {
            return None;
        }
        let (tx, answered) = oneshot::channel();
        let events: Vec<Outgoing> = events
            .into_iter()
            .map(|e| Outgoing {
                body: json_bytes(&e.to_json()),
                id: e.id,
                kind: e.kind,
            })
            .collect();
        let n = events.len() as u64;
        self.counts.send_modify(|c| c.pending += n);
        if self.queue.send(Batch { events, answered }).is_err() {
            eprintln!("standin: webhook worker is gone; {n} event(s) dropped");
            self.counts.send_modify(|c| {
                c.pending -= n;
                c.failed += n;
            });
        }
        Some(Arc::new(AnswerSent(Mutex::new(Some(tx)))))
    }

    /// Waits until nothing is pending; the totals then.
    pub(crate) async fn flush(&self) -> Counts {
        let mut rx = self.counts.subscribe();
        let counts = *rx.wait_for(|c| c.pending == 0).await.expect("the sender lives in self");
        counts
    }
}

/// Delivers batches one event at a time, in queue order.
async fn worker(
    endpoint: Endpoint,
    secret: String,
    mut rx: mpsc::UnboundedReceiver<Batch>,
    counts: watch::Sender<Counts>,
) {
    while let Some(batch) = rx.recv().await {
        // Sent or dropped: either way the answer is no longer ahead of its events.
        let _ = batch.answered.await;
        for event in batch.events {
            let ok = deliver(&endpoint, &secret, &event).await;
            counts.send_modify(|c| {
                c.pending -= 1;
                if ok {
                    c.delivered += 1;
                } else {
                    c.failed += 1;
                }
            });
        }
    }
}

/// Up to [`ATTEMPTS`] attempts, each freshly signed; true once one got a 2xx.
async fn deliver(endpoint: &Endpoint, secret: &str, event: &Outgoing) -> bool {
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            // Backoff between attempts (100 ms, 200 ms…), as Stripe backs off.
            tokio::time::sleep(Duration::from_millis(100 << (attempt - 2))).await;
        }
        let signature = sign(secret, unix_now(), &event.body);
        let outcome = tokio::time::timeout(ATTEMPT_TIMEOUT, post(endpoint, &signature, event.body.clone()))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())));
        match outcome {
            Ok(status) if status.is_success() => {
                eprintln!(
                    "standin: webhook {} {} -> {} {}",
                    event.id,
                    event.kind,
                    endpoint.url,
                    status.as_u16()
                );
                return true;
            }
            Ok(status) => eprintln!(
                "standin: webhook {} {} -> {}: attempt {attempt}/{ATTEMPTS} answered {}",
                event.id,
                event.kind,
                endpoint.url,
                status.as_u16()
            ),
            Err(err) => eprintln!(
                "standin: webhook {} {} -> {}: attempt {attempt}/{ATTEMPTS} failed: {err}",
                event.id, event.kind, endpoint.url
            ),
        }
    }
    eprintln!(
        "standin: webhook {} {} -> {}: given up after {ATTEMPTS} attempts",
        event.id, event.kind, endpoint.url
    );
    false
}

/// One POST on a fresh HTTP/1.1 connection; the answer's status.
async fn post(endpoint: &Endpoint, signature: &str, body: Bytes) -> Result<StatusCode, String> {
    let tcp = tokio::net::TcpStream::connect(&endpoint.authority)
        .await
        .map_err(|e| format!("connecting to {}: {e}", endpoint.authority))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(Method::POST)
        .uri(&endpoint.path)
        .header("host", &endpoint.authority)
        .header("content-type", "application/json; charset=utf-8")
        .header("user-agent", USER_AGENT)
        .header(SIGNATURE_HEADER, signature)
        .header("content-length", body.len())
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
    Ok(response.status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    use http_body_util::BodyExt as _;
    use hyper::header::{HeaderMap, HeaderValue};
    use serde_json::Value;
    use sha2::Digest as _;

    use crate::http::ApiRequest;
    use crate::state::State;

    /// HMAC-SHA256 from its definition (RFC 2104) on plain SHA-256, not the `hmac` crate.
    fn reference_hmac(key: &[u8], message: &[u8]) -> String {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new().chain_update(&ipad).chain_update(message).finalize();
        let outer = Sha256::new().chain_update(&opad).chain_update(inner).finalize();
        outer.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_reference_hmac_is_hmac() {
        // RFC 4231, test case 2.
        assert_eq!(
            reference_hmac(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signature_is_stripes_keyed_with_the_whole_secret() {
        let secret = "whsec_test_0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghij";
        let payload = br#"{"id": "evt_1", "object": "event"}"#;
        let header = sign(secret, 1_767_225_600, payload);
        let (t, v1) = header.split_once(',').expect("two parts");
        assert_eq!(t, "t=1767225600");
        let expected = reference_hmac(
            secret.as_bytes(),
            b"1767225600.{\"id\": \"evt_1\", \"object\": \"event\"}",
        );
        assert_eq!(v1, format!("v1={expected}"));
        // Another timestamp, another payload or another secret: another signature.
        assert_ne!(sign(secret, 1_767_225_601, payload), header);
        assert_ne!(sign(secret, 1_767_225_600, b"{}"), header);
        assert_ne!(sign("whsec_other", 1_767_225_600, payload), header);
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        let e = Endpoint::parse("http://127.0.0.1:4242/__stripe-vcr/webhooks").expect("valid");
        assert_eq!(e.authority, "127.0.0.1:4242");
        assert_eq!(e.path, "/__stripe-vcr/webhooks");
        assert_eq!(
            Endpoint::parse("http://localhost/hook").expect("valid").authority,
            "localhost:80"
        );
        assert!(Endpoint::parse("https://127.0.0.1:4242/").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    /// What a test receiver got: (signature header, user agent, content type, body).
    type Received = Arc<Mutex<Vec<(String, String, String, Bytes)>>>;

    /// A receiver on 127.0.0.1 answering `status` to every POST; its URL.
    async fn receiver(status: StatusCode, received: Received) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let received = received.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let received = received.clone();
                        async move {
                            let header = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or_default()
                                    .to_owned()
                            };
                            let entry = (header(SIGNATURE_HEADER), header("user-agent"), header("content-type"));
                            let body = req.into_body().collect().await.expect("body").to_bytes();
                            received.lock().expect("lock").push((entry.0, entry.1, entry.2, body));
                            let mut response = hyper::Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = status;
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        format!("http://{addr}/webhook")
    }

    fn post_request(path: &str, body: &str) -> ApiRequest {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
        ApiRequest {
            method: Method::POST,
            path: path.to_owned(),
            query: None,
            headers,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[tokio::test]
    async fn events_go_out_signed_in_log_order_once_the_answer_is_sent() {
        let received: Received = Arc::default();
        let url = receiver(StatusCode::OK, received.clone()).await;
        let secret = "whsec_standin_test";
        let webhooks = Webhooks::start(Endpoint::parse(&url).expect("url"), secret.to_owned());
        let mut state = State::new(Some(7));
        state.outbox = Some(Vec::new());
        let mut guards = Vec::new();
        let steps = [
            ("/v1/customers", "email=jenny@example.com".to_owned()),
            (
                "/v1/payment_intents",
                "amount=2000&currency=usd&capture_method=manual".to_owned(),
            ),
        ];
        for (path, body) in steps {
            state.execute(&post_request(path, &body), "req_1");
            let events = state.outbox.replace(Vec::new()).expect("enabled");
            guards.push(webhooks.enqueue(events).expect("events"));
        }
        let intent = state.store.iter().next().expect("an intent").id.clone();
        state.execute(
            &post_request(
                &format!("/v1/payment_intents/{intent}/confirm"),
                "payment_method=pm_card_visa",
            ),
            "req_2",
        );
        guards.push(
            webhooks
                .enqueue(state.outbox.replace(Vec::new()).expect("enabled"))
                .expect("events"),
        );
        state.execute(
            &post_request(&format!("/v1/payment_intents/{intent}/capture"), ""),
            "req_3",
        );
        let last = webhooks
            .enqueue(state.outbox.replace(Vec::new()).expect("enabled"))
            .expect("events");

        // The first answers are out; the last is not: its events wait, and so
        // does nothing before them.
        drop(guards);
        let mut counts = webhooks.counts.subscribe();
        let before = *counts.wait_for(|c| c.delivered >= 4).await.expect("the worker lives");
        assert_eq!(
            (before.delivered, before.pending),
            (4, 2),
            "the capture's events wait for its answer"
        );
        drop(last);
        let counts = webhooks.flush().await;
        assert_eq!(
            counts,
            Counts {
                pending: 0,
                delivered: 6,
                failed: 0
            }
        );

        let received = received.lock().expect("lock").clone();
        let log: Vec<Value> = state.events.iter().map(Event::to_json).collect();
        let types: Vec<&str> = log.iter().map(|e| e["type"].as_str().expect("type")).collect();
        assert_eq!(
            types,
            [
                "customer.created",
                "payment_intent.created",
                "charge.succeeded",
                "payment_intent.amount_capturable_updated",
                "charge.captured",
                "payment_intent.succeeded"
            ]
        );
        assert_eq!(received.len(), log.len());
        for ((signature, agent, content_type, body), event) in received.iter().zip(&log) {
            assert_eq!(body, &json_bytes(event), "log order, the event's JSON");
            assert_eq!(agent, USER_AGENT);
            assert_eq!(content_type, "application/json; charset=utf-8");
            let (t, v1) = signature.split_once(',').expect("t=…,v1=…");
            let t = t.strip_prefix("t=").expect("t=");
            let mut signed = format!("{t}.").into_bytes();
            signed.extend_from_slice(body);
            assert_eq!(v1, format!("v1={}", reference_hmac(secret.as_bytes(), &signed)));
        }
    }
}
