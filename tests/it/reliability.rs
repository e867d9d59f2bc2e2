//! Reliability: what stripe-vcr does when things go wrong around it.
//!
//! - **Upstream faults** (record mode): a refused connection, a TLS failure,
//!   a reset or early close in the middle of a response, a response that never
//!   finishes, a corrupt gzip body — each is a Stripe-shaped 502 `api_error`
//!   naming the cause with `Stripe-Should-Retry: false`, nothing is recorded,
//!   and the next request works. The faulty upstreams are tiny plain-HTTP
//!   servers written here, on 127.0.0.1.
//! - **Client faults** (against the `stripe-vcr` binary): garbage instead of
//!   HTTP or TLS, aborted handshakes, slowloris, oversized bodies and header
//!   blocks, a declared length over the limit, a body that stops halfway,
//!   undecodable parameters, smuggling-style framing, pipelining,
//!   clients hanging up mid-upload and mid-response, path tricks — each gets
//!   its documented answer or a clean close, never a hang; afterwards the
//!   process still answers and its open file descriptors (`/proc/PID/fd`)
//!   are back to where they were.
//! - **Disk faults**: a cassette set whose directory cannot be created.
//! - **kill -9** in the middle of 200 concurrent recordings: the restart loads
//!   every cassette (none is partial) and removes leftover temporary files.
//! - **Load**: 200 concurrent recordings (40 requests × 5 repeats) are each
//!   stored once, numbered 001..005, and replayed in that order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::planted::{canonical, plant};
use stripe_vcr::cassette::format::{Cassette, ResponseBody};
use stripe_vcr::cassette::key::file_name;
use stripe_vcr::config::{Config, ModeConfig, UpstreamConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// Generous bound for "it answered": a loaded 2-core machine is slow, but a
/// request that takes this long has hung.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// How many more open descriptors than at start-up the binary may hold once
/// everything has settled. Zero leaks would be exact equality; the slack
/// absorbs a descriptor the runtime may open lazily (it never grows with the
/// number of connections, which is what a leak would do).
const FD_TOLERANCE: usize = 2;

/// A client for the binary on `port` (direct TLS trusting `ca`).
fn binary_api(port: u16, ca: &Path, http2: bool, key: &str) -> Api {
    let mut builder = trusting(ca).timeout(Duration::from_secs(30)).no_proxy();
    if !http2 {
        builder = builder.http1_only();
    }
    Api {
        client: builder.build().expect("client"),
        base: format!("https://127.0.0.1:{port}"),
        key: key.to_owned(),
    }
}

fn error_kind(seen: &Seen) -> &str {
    seen.headers
        .get("stripe-vcr-error")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Every file in `dir` (recursively) whose name ends in `.tmp`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if entry.file_name().to_string_lossy().ends_with(".tmp") {
                out.push(path);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Upstream faults (record mode, in-process proxy)
// ---------------------------------------------------------------------------

/// What the fake upstream does with one connection.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// A complete, valid Payment Intent (and `Connection: close`).
    Answer,
    /// Headers and part of the body, then a TCP reset.
    ResetMidBody,
    /// Headers and part of the body, then a clean close (FIN).
    CloseMidBody,
    /// Headers and part of the body, then silence (for 30 s at most).
    Stall,
    /// `Content-Encoding: gzip` over bytes that are not gzip.
    BadGzip,
}

/// A plain-HTTP upstream on 127.0.0.1 that misbehaves as scripted: the
/// n-th connection gets `script[n]`, later ones [`Act::Answer`].
struct FakeUpstream {
    url: String,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeUpstream {
    async fn start(script: Vec<Act>) -> FakeUpstream {
        FakeUpstream::on(TcpListener::bind("127.0.0.1:0").await.expect("bind"), script)
    }

    fn on(listener: TcpListener, script: Vec<Act>) -> FakeUpstream {
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            // Bounded: a test makes a handful of connections.
            for _ in 0..64 {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let act = script.get(n).copied().unwrap_or(Act::Answer);
                tokio::spawn(FakeUpstream::serve(stream, act, n));
            }
        });
        FakeUpstream { url, connections, task }
    }

    async fn serve(mut stream: TcpStream, act: Act, n: usize) {
        if tokio::time::timeout(ANSWER_WITHIN, read_request(&mut stream))
            .await
            .is_err()
        {
            return;
        }
        let body = format!(r#"{{"id":"pi_fake{n:04}","object":"payment_intent","amount":1000,"currency":"usd"}}"#);
        let head = |extra: &str, len: usize| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nRequest-Id: req_fake{n}\r\n{extra}Content-Length: {len}\r\nConnection: close\r\n\r\n"
            )
        };
        let partial = format!("{}{}", head("", body.len() + 500), &body[..20]);
        match act {
            Act::Answer => {
                let _ = stream
                    .write_all(format!("{}{body}", head("", body.len())).as_bytes())
                    .await;
                let _ = stream.shutdown().await;
            }
            Act::ResetMidBody => {
                let _ = stream.write_all(partial.as_bytes()).await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = stream.set_zero_linger();
                drop(stream);
            }
            Act::CloseMidBody => {
                let _ = stream.write_all(partial.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
            Act::Stall => {
                let _ = stream.write_all(partial.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Act::BadGzip => {
                let junk = b"\x1f\x8bthis is not really gzip at all";
                let mut reply = head("Content-Encoding: gzip\r\n", junk.len()).into_bytes();
                reply.extend_from_slice(junk);
                let _ = stream.write_all(&reply).await;
                let _ = stream.shutdown().await;
            }
        }
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (head, then a `Content-Length` body) from `stream`.
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn record_config_for(ws: &Workspace, url: &str, ca: Option<PathBuf>, timeout: Duration) -> Config {
    Config {
        mode: ModeConfig::record(UpstreamConfig {
            url: url.to_owned(),
            ca,
            timeout,
            allow_live_keys: false,
        }),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    }
}

/// Asserts the documented shape of an upstream fault: a 502 `api_error`
/// whose message names the upstream and contains one of `causes`, with
/// `Stripe-Should-Retry: false` and the given `Stripe-Vcr-Error` kind.
fn assert_upstream_fault(seen: &Seen, upstream: &str, kind: &str, causes: &[&str]) {
    assert_eq!(seen.status, 502, "{}: {:?}", seen.label, seen.body);
    assert_eq!(seen.headers["stripe-should-retry"], "false", "{}", seen.label);
    assert_eq!(error_kind(seen), kind, "{}", seen.label);
    let error = &seen.json()["error"];
    assert_eq!(error["type"], "api_error", "{}", seen.label);
    let message = error["message"].as_str().expect("message").to_lowercase();
    let host = upstream.trim_start_matches("http://").trim_start_matches("https://");
    assert!(
        message.contains(host),
        "{}: message does not name {host}: {message}",
        seen.label
    );
    assert!(
        causes.iter().any(|c| message.contains(c)),
        "{}: message names none of {causes:?}: {message}",
        seen.label
    );
}

/// One scripted fault, then a good request: the fault is a 502 naming
/// `causes`, nothing is written for it, and the next request is recorded.
async fn fault_then_recovery(act: Act, timeout: Duration, kind: &str, causes: &[&str]) {
    let ws = Workspace::new();
    let upstream = FakeUpstream::start(vec![act]).await;
    let recorder = stripe_vcr::server::start(record_config_for(&ws, &upstream.url, None, timeout))
        .await
        .expect("record proxy starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let started = Instant::now();
    let faulty = rec
        .post("faulty", "/v1/payment_intents", "amount=1000&currency=usd")
        .await;
    assert!(
        started.elapsed() < timeout + ANSWER_WITHIN,
        "the fault took {:?}",
        started.elapsed()
    );
    assert_upstream_fault(&faulty, &upstream.url, kind, causes);
    assert!(
        ws.cassette_files().is_empty(),
        "recorded a fault: {:?}",
        ws.cassette_files()
    );
    assert!(temp_files(&ws.cassettes()).is_empty());

    let next = rec
        .post("next", "/v1/payment_intents", "amount=1000&currency=usd")
        .await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    assert!(next.json()["id"].as_str().expect("id").starts_with("pi_fake"));
    assert_eq!(ws.cassette_files().len(), 1, "{:?}", ws.cassette_files());
    assert!(upstream.connections.load(Ordering::SeqCst) >= 2);
    let summary = recorder.shutdown().await;
    assert_eq!((summary.recorded, summary.errors), (1, 1), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_reset_mid_response_is_a_502_and_the_next_request_works() {
    fault_then_recovery(
        Act::ResetMidBody,
        Duration::from_secs(10),
        "upstream-unreachable",
        &["reset", "end of file", "incomplete"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_closing_mid_response_is_a_502_and_the_next_request_works() {
    fault_then_recovery(
        Act::CloseMidBody,
        Duration::from_secs(10),
        "upstream-unreachable",
        &["end of file", "incomplete"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_response_that_never_finishes_times_out_with_a_502() {
    fault_then_recovery(
        Act::Stall,
        Duration::from_secs(1),
        "upstream-timeout",
        &["did not answer within 1s"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_sending_corrupt_gzip_is_a_502_and_the_next_request_works() {
    fault_then_recovery(
        Act::BadGzip,
        Duration::from_secs(10),
        "upstream-unreachable",
        &["gzip", "header", "invalid", "corrupt", "eof"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upstream_then_the_same_upstream_coming_up_records_normally() {
    let ws = Workspace::new();
    // A port with nothing listening (bound, then released).
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let recorder = stripe_vcr::server::start(record_config_for(&ws, &url, None, Duration::from_secs(5)))
        .await
        .expect("record proxy starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let refused = rec
        .post("refused", "/v1/payment_intents", "amount=1000&currency=usd")
        .await;
    assert_upstream_fault(&refused, &url, "upstream-unreachable", &["refused"]);
    assert!(ws.cassette_files().is_empty());

    // The upstream comes up on that port; the proxy needs no restart.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("rebind the port");
    let _upstream = FakeUpstream::on(listener, vec![]);
    let next = rec
        .post("next", "/v1/payment_intents", "amount=1000&currency=usd")
        .await;
    assert_eq!(next.status, 200, "{:?}", next.body);
    assert_eq!(ws.cassette_files().len(), 1);
    recorder.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_verification_failure_is_a_502_naming_the_certificate() {
    let ws = Workspace::new();
    let standin = Standin::start();
    // Without --upstream-ca the stand-in's self-signed certificate is not trusted.
    let recorder = stripe_vcr::server::start(record_config_for(&ws, &standin.url, None, Duration::from_secs(10)))
        .await
        .expect("record proxy starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    for attempt in ["first", "second"] {
        let seen = rec
            .post(attempt, "/v1/payment_intents", "amount=1000&currency=usd")
            .await;
        assert_upstream_fault(&seen, &standin.url, "upstream-unreachable", &["certificate"]);
    }
    assert!(ws.cassette_files().is_empty());
    // The proxy itself is fine: its own endpoints answer.
    let health = rec.get("health", "/__stripe-vcr/health").await;
    assert_eq!(health.status, 200);
    let summary = recorder.shutdown().await;
    assert_eq!((summary.recorded, summary.errors), (0, 2), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sub_second_upstream_timeout_is_reported_truthfully() {
    let ws = Workspace::new();
    let upstream = FakeUpstream::start(vec![Act::Stall]).await;
    let recorder = stripe_vcr::server::start(record_config_for(&ws, &upstream.url, None, Duration::from_millis(500)))
        .await
        .expect("record proxy starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let seen = rec
        .post("stall", "/v1/payment_intents", "amount=1000&currency=usd")
        .await;
    assert_eq!(error_kind(&seen), "upstream-timeout");
    let message = seen.json()["error"]["message"].as_str().expect("message").to_owned();
    assert!(!message.contains("within 0s"), "{message}");
    recorder.shutdown().await;
}

// ---------------------------------------------------------------------------
// Client faults (the binary, replay mode)
// ---------------------------------------------------------------------------

/// A replayed Payment Intent the "normal request" fetches.
const HIT_PATH: &str = "/v1/payment_intents/pi_Reliability0000000001";
const HIT_ID: &str = "pi_Reliability0000000001";
/// A Payment Intent whose recorded body is several MiB, to hang up on.
const BIG_PATH: &str = "/v1/payment_intents/pi_Reliability00000000Big";
/// `--max-body` of the binary under test.
const MAX_BODY: usize = 4096;
/// `--body-read-timeout` of the binary under test: short, so that a client
/// gone silent halfway through its body is cut off quickly.
const BODY_READ_TIMEOUT: Duration = Duration::from_millis(1500);
/// `--header-read-timeout` and `--handshake-timeout` of the binary under
/// test: short (the defaults are 10 s), so the slowloris test waits 2 s.
const SLOW_CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The replay binary with two planted cassettes, a small `--max-body`, and
/// its descriptor count at start.
struct Target {
    ws: Workspace,
    proxy: Binary,
    baseline_fds: usize,
}

impl Target {
    async fn start() -> Target {
        let ws = Workspace::new();
        std::fs::create_dir_all(ws.cassettes()).expect("cassettes dir");
        plant(
            &ws.cassettes(),
            "retrieve",
            "GET",
            HIT_PATH,
            "",
            serde_json::json!({"id": HIT_ID, "object": "payment_intent", "amount": 1000}),
        );
        plant(
            &ws.cassettes(),
            "retrieve",
            "GET",
            BIG_PATH,
            "",
            serde_json::json!({"id": "pi_big", "object": "payment_intent", "description": "x".repeat(4 << 20)}),
        );
        let proxy = Binary::replay(
            &ws,
            args![
                "--max-body",
                MAX_BODY.to_string(),
                "--body-read-timeout",
                format!("{}ms", BODY_READ_TIMEOUT.as_millis()),
                "--header-read-timeout",
                format!("{}ms", SLOW_CLIENT_TIMEOUT.as_millis()),
                "--handshake-timeout",
                format!("{}ms", SLOW_CLIENT_TIMEOUT.as_millis())
            ],
            "stripe_vcr=info",
        );
        let baseline_fds = stable_fd_count(proxy.child.id()).await;
        Target {
            ws,
            proxy,
            baseline_fds,
        }
    }

    fn api(&self, http2: bool) -> Api {
        binary_api(self.proxy.port, &self.ws.ca(), http2, REPLAY_KEY)
    }

    fn fds(&self) -> usize {
        fd_count(self.proxy.child.id())
    }

    /// The process still answers a normal request (over HTTP/1.1 and
    /// HTTP/2, each on a fresh connection), and once those clients are
    /// gone its descriptors are back at the baseline.
    async fn assert_recovered(&self) {
        for http2 in [false, true] {
            let api = self.api(http2);
            let seen = api.get("normal request afterwards", HIT_PATH).await;
            assert_eq!(seen.status, 200, "{:?}", seen.body);
            assert_eq!(seen.json()["id"], HIT_ID);
        }
        let limit = self.baseline_fds + FD_TOLERANCE;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut now = self.fds();
        while now > limit && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            now = self.fds();
        }
        assert!(
            now <= limit,
            "open descriptors did not settle: {now} now, {} at start (+{FD_TOLERANCE} allowed)",
            self.baseline_fds
        );
    }

    async fn raw(&self, payload: &[u8], wait: Duration) -> RawReply {
        raw_exchange(self.proxy.port, payload, wait).await
    }
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir").count()
}

/// The descriptor count once two readings 200 ms apart agree (at most 3 s).
async fn stable_fd_count(pid: u32) -> usize {
    let mut last = fd_count(pid);
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = fd_count(pid);
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// How a raw connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The proxy closed it (FIN).
    Closed,
    /// The proxy reset it.
    Reset,
    /// Still open when the test stopped waiting.
    Open,
}

#[derive(Debug)]
struct RawReply {
    bytes: Vec<u8>,
    ending: Ending,
    elapsed: Duration,
}

impl RawReply {
    fn responses(&self) -> Vec<RawResponse> {
        parse_responses(&self.bytes)
    }

    /// The status of the first response, if one came.
    fn status(&self) -> Option<u16> {
        self.responses().first().map(|r| r.status)
    }

    /// "A 4xx or a clean close, never a hang": the proxy ended the
    /// connection, and whatever it said first was a 4xx.
    fn assert_refused(&self, what: &str) {
        assert_ne!(self.ending, Ending::Open, "{what}: the connection was left hanging");
        if !self.bytes.is_empty() {
            let status = self.status().unwrap_or(0);
            assert!(
                (400..500).contains(&status),
                "{what}: expected a 4xx, got {:?}",
                String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(300)])
            );
        }
    }
}

/// Connects to `port`, writes `payload` (a write error is not a failure:
/// the proxy may close early) and reads until the proxy closes or `wait`
/// passes.
async fn raw_exchange(port: u16, payload: &[u8], wait: Duration) -> RawReply {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let _ = stream.write_all(payload).await;
    let (bytes, ending) = read_until_close(&mut stream, started + wait).await;
    RawReply {
        bytes,
        ending,
        elapsed: started.elapsed(),
    }
}

async fn read_until_close(stream: &mut TcpStream, deadline: Instant) -> (Vec<u8>, Ending) {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Err(_) => return (bytes, Ending::Open),
            Ok(Ok(0)) => return (bytes, Ending::Closed),
            Ok(Ok(n)) => bytes.extend_from_slice(&chunk[..n]),
            Ok(Err(_)) => return (bytes, Ending::Reset),
        }
    }
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Splits HTTP/1.1 responses (with `Content-Length` bodies) read off a socket.
fn parse_responses(mut bytes: &[u8]) -> Vec<RawResponse> {
    let mut out = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_end = (end + 4 + len).min(bytes.len());
        out.push(RawResponse {
            status,
            headers,
            body: bytes[end + 4..body_end].to_vec(),
        });
        bytes = &bytes[body_end..];
    }
    out
}

/// A plain HTTP/1.1 request with the replay key, closing afterwards.
fn plain_request(method: &str, target: &str, extra: &str, body: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {REPLAY_KEY}\r\nStripe-Version: {STRIPE_VERSION}\r\n{extra}Connection: close\r\n\r\n{body}"
    )
}

/// `n` pseudo-random bytes from a fixed seed: the same bytes every run, so a
/// failure reproduces.
fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random::<u8>()).collect()
}

/// A real TLS ClientHello for `localhost`, as the first flight of a client.
fn client_hello() -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).expect("ClientHello");
    hello
}

// Each fault below is a function so that it runs alone in its own test and,
// all of them at once, in `the_whole_onslaught_…`.

/// Random bytes where HTTP should be: hyper's 400, then a close.
async fn fault_garbage_instead_of_http(t: &Target) {
    let mut junk = random_bytes(1, 4096);
    junk[0] = 0x01; // neither a TLS record nor an HTTP method
    let reply = t.raw(&junk, ANSWER_WITHIN).await;
    reply.assert_refused("garbage instead of HTTP");
}

/// Bytes that start like TLS (0x16) but are not a ClientHello: the
/// handshake fails at once and the connection is closed.
async fn fault_garbage_instead_of_tls(t: &Target) {
    // A well-framed handshake record holding a whole handshake message of
    // nonsense (its own length says it ends with the record)…
    let mut record = vec![0x16, 0x03, 0x01, 0x00, 0x40, 0xfe, 0x00, 0x00, 0x3c];
    record.extend(random_bytes(2, 0x40 - 4));
    // …and a record holding a whole ClientHello of random bytes.
    let mut hello_ish = vec![0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc];
    hello_ish.extend(random_bytes(3, 0x100 - 4));
    // Both are complete, so the server must refuse them at once. (Random
    // bytes used to stand where the message's length is: one run in a few
    // hundred announced a longer message, which the server rightly waited
    // for until the handshake timeout, as for any slow client; the slowloris
    // test covers that case.)
    for (what, payload) in [("nonsense record", record), ("random ClientHello", hello_ish)] {
        let reply = t.raw(&payload, ANSWER_WITHIN).await;
        assert_ne!(reply.ending, Ending::Open, "{what}: left hanging");
        // Anything sent back is a TLS alert record, never HTTP.
        assert!(
            reply.bytes.is_empty() || reply.bytes[0] == 0x15,
            "{what}: {:?}",
            reply.bytes
        );
    }
}

/// A client that starts a TLS handshake and hangs up halfway, twice: after
/// half a ClientHello, and after reading the server's first flight.
async fn fault_tls_handshake_aborted(t: &Target) {
    let hello = client_hello();
    let mut half = TcpStream::connect(("127.0.0.1", t.proxy.port)).await.expect("connect");
    half.write_all(&hello[..hello.len() / 2]).await.expect("write half");
    drop(half);
    let mut full = TcpStream::connect(("127.0.0.1", t.proxy.port)).await.expect("connect");
    full.write_all(&hello).await.expect("write hello");
    let mut first = [0u8; 512];
    let n = tokio::time::timeout(ANSWER_WITHIN, full.read(&mut first))
        .await
        .expect("the server answers a ClientHello")
        .expect("read");
    assert!(
        n > 0 && first[0] == 0x16,
        "expected a ServerHello, got {:?}",
        &first[..n]
    );
    drop(full);
}

/// Slowloris: a request head trickled a byte at a time, and a ClientHello
/// stalled halfway. The header-read timeout and the handshake timeout
/// (`SLOW_CLIENT_TIMEOUT` here) close both, even though the trickle never
/// stops.
async fn fault_slowloris(t: &Target) {
    let port = t.proxy.port;
    let trickle = async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let head = b"GET /v1/payment_intents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        stream.write_all(head).await.expect("write head");
        let mut buf = [0u8; 1024];
        // One byte every 250 ms for at most 15 s, until the proxy hangs up.
        for _ in 0..60 {
            if stream.write_all(b"a").await.is_err() {
                break;
            }
            match tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await {
                Err(_) => continue,
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => break, // a 408 or similar, then a close: also fine
            }
        }
        started.elapsed()
    };
    let stalled_tls = async move {
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let hello = client_hello();
        stream.write_all(&hello[..hello.len() / 2]).await.expect("write");
        let (_, ending) = read_until_close(&mut stream, started + Duration::from_secs(15)).await;
        assert_ne!(ending, Ending::Open, "a stalled handshake was never closed");
        started.elapsed()
    };
    let (trickled, stalled) = tokio::join!(trickle, stalled_tls);
    for (what, took) in [("trickled head", trickled), ("stalled handshake", stalled)] {
        assert!(
            took >= SLOW_CLIENT_TIMEOUT * 4 / 5 && took < SLOW_CLIENT_TIMEOUT + Duration::from_secs(8),
            "{what}: closed after {took:?}, expected about {SLOW_CLIENT_TIMEOUT:?}"
        );
    }
}

/// A body over `--max-body`, with `Content-Length` and chunked: 413, Stripe-shaped.
async fn fault_body_over_the_limit(t: &Target) {
    let api = t.api(false);
    let body = format!("amount=1000&currency=usd&description={}", "x".repeat(MAX_BODY * 2));
    let seen = api.post("too large", "/v1/payment_intents", &body).await;
    assert_eq!(seen.status, 413, "{:?}", seen.body);
    assert_eq!(error_kind(&seen), "body-too-large");
    let error = &seen.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"]
            .as_str()
            .expect("message")
            .contains(&MAX_BODY.to_string()),
        "{error}"
    );
    let chunk = "y".repeat(1024);
    let mut chunked = String::from("13\r\namount=1&currency=u\r\n");
    for _ in 0..(MAX_BODY / 1024 + 2) {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    chunked.push_str("0\r\n\r\n");
    let request = plain_request(
        "POST",
        "/v1/payment_intents",
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n",
        &chunked,
    );
    let reply = t.raw(request.as_bytes(), ANSWER_WITHIN).await;
    let first = reply
        .responses()
        .into_iter()
        .next()
        .expect("a response to a chunked body");
    assert_eq!(first.status, 413);
    assert_eq!(first.header("stripe-vcr-error"), Some("body-too-large"));
    assert_eq!(first.json()["error"]["type"], "invalid_request_error");
}

/// A declared `Content-Length` far over `--max-body` with three bytes sent:
/// a 413 at once, not a wait for bytes that will never come.
async fn fault_huge_declared_length(t: &Target) {
    let request = plain_request(
        "POST",
        "/v1/payment_intents",
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n",
        "abc",
    );
    let reply = t.raw(request.as_bytes(), ANSWER_WITHIN).await;
    assert_ne!(reply.ending, Ending::Open, "left waiting for the body");
    let first = reply.responses().into_iter().next().expect("an answer");
    // Had the proxy waited, the body-read timeout would have answered 400.
    assert_eq!(first.status, 413, "{first:?}");
    assert_eq!(first.header("stripe-vcr-error"), Some("body-too-large"));
    assert_eq!(first.json()["error"]["type"], "invalid_request_error");
}

/// Headers and part of a body, then silence with the connection open: a
/// 400 `body-read` once `--body-read-timeout` has passed, and a close,
/// instead of a connection and a descriptor held forever.
async fn fault_body_then_silence(t: &Target) {
    let mut upload = format!(
        "POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {REPLAY_KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3000\r\n\r\namount=1&description="
    )
    .into_bytes();
    upload.extend_from_slice(&[b'z'; 500]);
    let reply = t.raw(&upload, ANSWER_WITHIN).await;
    assert_ne!(reply.ending, Ending::Open, "a silent upload was held open");
    assert!(
        reply.elapsed >= BODY_READ_TIMEOUT,
        "answered after {:?}, before the body could have timed out",
        reply.elapsed
    );
    let first = reply.responses().into_iter().next().expect("an answer");
    assert_eq!(first.status, 400, "{first:?}");
    assert_eq!(first.header("stripe-vcr-error"), Some("body-read"));
    let message = first.json()["error"]["message"].as_str().expect("message").to_owned();
    assert!(message.contains("--body-read-timeout"), "{message}");
}

/// More than 100 headers, and a header block over 64 KiB (HTTP/1.1 and
/// HTTP/2): a 4xx or a close, never a hang, never a 200.
async fn fault_oversized_headers(t: &Target) {
    // plain_request sends 4 headers of its own.
    let limit = stripe_vcr::server::listen::http::MAX_HEADERS;
    let fillers = |n: usize| -> String { (0..n).map(|i| format!("X-Filler-{i}: v\r\n")).collect() };
    let reply = t
        .raw(
            plain_request("GET", HIT_PATH, &fillers(limit - 4), "").as_bytes(),
            ANSWER_WITHIN,
        )
        .await;
    assert_eq!(reply.status(), Some(200), "{limit} headers are within the limit");
    let reply = t
        .raw(
            plain_request("GET", HIT_PATH, &fillers(limit - 3), "").as_bytes(),
            ANSWER_WITHIN,
        )
        .await;
    reply.assert_refused(&format!("{} headers", limit + 1));
    assert!(reply.elapsed < ANSWER_WITHIN);
    let big = format!("X-Big: {}\r\n", "b".repeat(70 * 1024));
    let reply = t
        .raw(plain_request("GET", HIT_PATH, &big, "").as_bytes(), ANSWER_WITHIN)
        .await;
    reply.assert_refused("a 70 KiB header");
    let h2 = t.api(true);
    let answer = h2
        .client
        .get(format!("{}{HIT_PATH}", h2.base))
        .bearer_auth(REPLAY_KEY)
        .header("x-big", "b".repeat(70 * 1024))
        .timeout(ANSWER_WITHIN)
        .send()
        .await;
    match answer {
        Ok(response) => assert!(
            response.status().is_client_error(),
            "HTTP/2 with a 70 KiB header got {}",
            response.status()
        ),
        Err(e) => assert!(!e.is_timeout(), "HTTP/2 with a 70 KiB header hung: {e}"),
    }
}

/// Parameters that cannot be decoded: nesting deeper than 32, invalid
/// UTF-8 after percent-decoding (body and query string): 400 `bad-params`.
async fn fault_undecodable_parameters(t: &Target) {
    let api = t.api(false);
    let deep = format!("amount=1&currency=usd&metadata{}=x", "[a]".repeat(40));
    let cases = [
        (
            "deep nesting",
            reqwest::Method::POST,
            "/v1/payment_intents",
            deep.as_str(),
        ),
        (
            "invalid UTF-8 in the body",
            reqwest::Method::POST,
            "/v1/payment_intents",
            "amount=1&currency=usd&description=%FF%FE",
        ),
        (
            "invalid UTF-8 in the query",
            reqwest::Method::GET,
            "/v1/payment_intents?limit=%C3%28",
            "",
        ),
    ];
    for (label, method, path, form) in cases {
        let seen = api.send(label, method, path, form, &[]).await;
        assert_eq!(seen.status, 400, "{label}: {:?}", seen.body);
        assert_eq!(error_kind(&seen), "bad-params", "{label}");
        assert_eq!(seen.json()["error"]["type"], "invalid_request_error", "{label}");
    }
}

/// A body that is neither form, JSON nor multipart is matched by its
/// digest: replay has no recording of this one, so a Stripe-shaped 404
/// naming the closest (never a 415, never a crash).
async fn fault_unsupported_content_type(t: &Target) {
    let api = t.api(false);
    let seen = api
        .send(
            "xml",
            reqwest::Method::POST,
            "/v1/payment_intents",
            "<amount>1</amount>",
            &[("content-type", "application/xml")],
        )
        .await;
    assert_eq!(seen.status, 404, "{:?}", seen.body);
    assert_eq!(error_kind(&seen), "replay-miss");
    assert_eq!(seen.json()["error"]["type"], "invalid_request_error");
    let message = seen.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains("(raw body)"), "{message}");
}

/// Framing a smuggler would use: `Content-Length` with `Transfer-Encoding`,
/// and two different `Content-Length`s. Hyper refuses both with a 400.
async fn fault_conflicting_framing(t: &Target) {
    let body = "amount=1&currency=usd";
    for (what, framing) in [
        (
            "Content-Length and Transfer-Encoding",
            format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", body.len()),
        ),
        (
            "two Content-Lengths",
            format!("Content-Length: {}\r\nContent-Length: 3\r\n", body.len()),
        ),
    ] {
        let request = plain_request("POST", "/v1/payment_intents", &framing, body);
        let reply = t.raw(request.as_bytes(), ANSWER_WITHIN).await;
        assert_eq!(
            reply.status(),
            Some(400),
            "{what}: {:?}",
            String::from_utf8_lossy(&reply.bytes)
        );
        assert_ne!(reply.ending, Ending::Open, "{what}");
    }
}

/// Four requests written at once on one connection: all answered, in order.
async fn fault_pipelined_requests(t: &Target) {
    let auth = format!("Authorization: Bearer {REPLAY_KEY}\r\nStripe-Version: {STRIPE_VERSION}\r\n");
    let pipeline = format!(
        "GET /__stripe-vcr/health HTTP/1.1\r\nHost: x\r\n\r\n\
         GET {HIT_PATH} HTTP/1.1\r\nHost: x\r\n{auth}\r\n\
         GET /v1/payment_intents/pi_NeverRecorded HTTP/1.1\r\nHost: x\r\n{auth}\r\n\
         GET {HIT_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let reply = t.raw(pipeline.as_bytes(), ANSWER_WITHIN).await;
    assert_eq!(
        reply.ending,
        Ending::Closed,
        "closed after the last (Connection: close)"
    );
    let responses = reply.responses();
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 404, 401], "{responses:?}");
    assert_eq!(responses[0].json()["status"], "ok");
    assert_eq!(responses[1].json()["id"], HIT_ID);
    assert_eq!(responses[2].header("stripe-vcr-error"), Some("replay-miss"));
    assert_eq!(responses[3].header("stripe-vcr-error"), Some("no-api-key"));
}

/// Clients that hang up halfway through sending a body, and halfway
/// through receiving a 4 MiB response (plain and TLS).
async fn fault_clients_hanging_up(t: &Target) {
    let head = format!(
        "POST /v1/payment_intents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {REPLAY_KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3000\r\n\r\namount=1&description="
    );
    for _ in 0..3 {
        let mut upload = TcpStream::connect(("127.0.0.1", t.proxy.port)).await.expect("connect");
        upload.write_all(head.as_bytes()).await.expect("write");
        upload.write_all(&[b'z'; 500]).await.expect("write");
        drop(upload);
    }
    for _ in 0..3 {
        let mut download = TcpStream::connect(("127.0.0.1", t.proxy.port)).await.expect("connect");
        download
            .write_all(plain_request("GET", BIG_PATH, "", "").as_bytes())
            .await
            .expect("write");
        let mut some = [0u8; 4096];
        let n = tokio::time::timeout(ANSWER_WITHIN, download.read(&mut some))
            .await
            .expect("the big response starts")
            .expect("read");
        assert!(String::from_utf8_lossy(&some[..n]).starts_with("HTTP/1.1 200"));
        drop(download);
    }
    // Over TLS with HTTP/2: the request is dropped once the headers arrive.
    let h2 = t.api(true);
    let response = h2
        .client
        .get(format!("{}{BIG_PATH}", h2.base))
        .bearer_auth(REPLAY_KEY)
        .header("stripe-version", STRIPE_VERSION)
        .send()
        .await
        .expect("headers of the big response");
    assert_eq!(response.status(), 200);
    drop(response);
    drop(h2);
}

/// `..` segments and encoded slashes or dots in the path: 400 `bad-path`.
async fn fault_path_tricks(t: &Target) {
    for target in [
        "/v1/payment_intents/../customers",
        "/v1/payment_intents/pi_1/../../customers",
        "/v1/payment_intents/pi_1%2Fconfirm",
        "/v1/payment_intents/pi_1%2fconfirm",
        "/v1/payment_intents/%2e%2e/customers",
        "/v1/payment_intents/pi_1%5Cconfirm",
    ] {
        let reply = t
            .raw(plain_request("GET", target, "", "").as_bytes(), ANSWER_WITHIN)
            .await;
        let responses = reply.responses();
        let first = responses.first().unwrap_or_else(|| panic!("{target}: no response"));
        assert_eq!(first.status, 400, "{target}: {first:?}");
        assert_eq!(first.header("stripe-vcr-error"), Some("bad-path"), "{target}");
        assert_eq!(first.json()["error"]["type"], "invalid_request_error", "{target}");
    }
}

/// Runs one fault against a fresh binary, then checks it recovered.
async fn alone<F, Fut>(fault: F)
where
    F: FnOnce(Arc<Target>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let target = Arc::new(Target::start().await);
    fault(target.clone()).await;
    target.assert_recovered().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_http_gets_a_400_and_a_close() {
    alone(|t| async move { fault_garbage_instead_of_http(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_starting_like_tls_is_closed() {
    alone(|t| async move { fault_garbage_instead_of_tls(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_aborted_halfway_leaves_nothing_behind() {
    alone(|t| async move { fault_tls_handshake_aborted(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off_by_the_header_and_handshake_timeouts() {
    alone(|t| async move { fault_slowloris(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_a_stripe_shaped_413() {
    alone(|t| async move { fault_body_over_the_limit(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_length_over_the_limit_is_a_413_at_once() {
    alone(|t| async move { fault_huge_declared_length(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_halfway_is_cut_off_by_the_body_read_timeout() {
    alone(|t| async move { fault_body_then_silence(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_or_too_large_headers_are_refused_without_hanging() {
    alone(|t| async move { fault_oversized_headers(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_parameters_are_a_400() {
    alone(|t| async move { fault_undecodable_parameters(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_another_type_is_matched_by_its_digest() {
    alone(|t| async move { fault_unsupported_content_type(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_content_length_and_transfer_encoding_are_a_400() {
    alone(|t| async move { fault_conflicting_framing(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_all_answered_in_order() {
    alone(|t| async move { fault_pipelined_requests(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_hanging_up_mid_upload_or_mid_response_leave_nothing_behind() {
    alone(|t| async move { fault_clients_hanging_up(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_dot_and_encoded_slashes_are_a_400_bad_path() {
    alone(|t| async move { fault_path_tricks(&t).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_percent_encoding_is_a_400() {
    alone(|t| async move {
        let api = t.api(false);
        for form in [
            "amount=1&currency=usd&description=%ZZ",
            "amount=1&currency=usd&description=50%",
        ] {
            let seen = api.post(form, "/v1/payment_intents", form).await;
            assert_eq!(seen.status, 400, "{form}: {:?}", seen.body);
            assert_eq!(error_kind(&seen), "bad-params", "{form}");
        }
    })
    .await;
}

/// Every client fault at once against one binary; afterwards it answers
/// normally and holds no more descriptors than before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_onslaught_at_once_leaves_the_process_serving_with_its_baseline_fds() {
    let t = Target::start().await;
    let during = tokio::spawn({
        let pid = t.proxy.child.id();
        async move {
            // The peak, for the failure message.
            let mut peak = 0;
            for _ in 0..150 {
                peak = peak.max(fd_count(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        }
    });
    tokio::join!(
        fault_garbage_instead_of_http(&t),
        fault_garbage_instead_of_tls(&t),
        fault_tls_handshake_aborted(&t),
        fault_slowloris(&t),
        fault_body_over_the_limit(&t),
        fault_huge_declared_length(&t),
        fault_body_then_silence(&t),
        fault_oversized_headers(&t),
        fault_undecodable_parameters(&t),
        fault_unsupported_content_type(&t),
        fault_conflicting_framing(&t),
        fault_pipelined_requests(&t),
        fault_clients_hanging_up(&t),
        fault_path_tricks(&t),
    );
    t.assert_recovered().await;
    during.abort();
    println!("onslaught: {} fds at start, {} after", t.baseline_fds, t.fds());
}

// ---------------------------------------------------------------------------
// Disk faults
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_directory_that_cannot_be_created_warns_the_client_and_fails_the_exit() {
    let ws = Workspace::new();
    let standin = Standin::start();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    // A regular file where the set's directory should go (root ignores
    // permission bits, so this is the fault that really stops a write).
    let blocked = ws.cassettes().join("blocked");
    std::fs::write(&blocked, b"not a directory").expect("plant file");
    let proxy = Binary::record(&ws, &standin, &[], "stripe_vcr=info");
    let rec = binary_api(proxy.port, &ws.ca(), false, RECORD_KEY);
    let seen = rec
        .send(
            "into the blocked set",
            reqwest::Method::POST,
            "/v1/payment_intents",
            "amount=1500&currency=usd",
            &[("stripe-vcr-cassette", "blocked")],
        )
        .await;
    assert_eq!(seen.status, 200, "the client still gets the upstream's answer");
    assert!(seen.json()["id"].as_str().expect("id").starts_with("pi_"));
    let warning = seen
        .headers
        .get("stripe-vcr-warning")
        .expect("a Stripe-Vcr-Warning header")
        .to_str()
        .expect("ascii");
    assert!(
        warning.contains("not saved") && warning.contains("blocked"),
        "{warning}"
    );
    // Other sets are unaffected.
    let fine = rec
        .post("default set", "/v1/payment_intents", "amount=1600&currency=usd")
        .await;
    assert_eq!(fine.status, 200);
    assert!(fine.headers.get("stripe-vcr-warning").is_none());
    assert!(blocked.is_file(), "the file in the way is left alone");

    let exited = proxy.interrupt();
    assert!(!exited.success, "a run that lost a cassette must exit non-zero");
    let summary = exited
        .stdout
        .iter()
        .find(|l| l.starts_with("stripe-vcr summary:"))
        .expect("summary line");
    assert!(
        summary.contains("1 recorded") && summary.contains("1 cassettes NOT saved"),
        "{summary}"
    );
    let path = blocked.display().to_string();
    let logged = exited
        .stderr
        .lines()
        .find(|l| l.contains("not saved"))
        .unwrap_or_else(|| panic!("no log line about the lost cassette:\n{}", exited.stderr));
    assert!(logged.contains(&path) && logged.contains("os error"), "{logged}");
    assert!(exited.stderr.contains("could not be saved"), "{}", exited.stderr);
    let saved: Vec<String> = ws
        .cassette_files()
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(saved.len(), 1, "{saved:?}");
}

// ---------------------------------------------------------------------------
// kill -9 and load
// ---------------------------------------------------------------------------

/// The `i`-th of `distinct` create requests.
fn create_form(i: usize) -> String {
    format!("amount={}&currency=usd&description=load-{i}", 1000 + i)
}

/// Sends `repeats` copies of each of `distinct` creates, all at once, over
/// a mix of HTTP/1.1 and HTTP/2 clients, each delayed by the stand-in by
/// up to `max_delay_ms` so they overlap; each task yields its `Seen`.
fn fire(
    apis: &[Arc<Api>],
    distinct: usize,
    repeats: usize,
    max_delay_ms: usize,
) -> Vec<tokio::task::JoinHandle<Option<Seen>>> {
    (0..distinct * repeats)
        .map(|n| {
            let api = apis[n % apis.len()].clone();
            let i = n % distinct;
            tokio::spawn(async move {
                let delay = ((n * 37) % max_delay_ms).to_string();
                let request = api
                    .client
                    .post(format!("{}/v1/payment_intents", api.base))
                    .bearer_auth(&api.key)
                    .header("stripe-version", STRIPE_VERSION)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("idempotency-key", uuid_like())
                    .header("standin-delay-ms", delay)
                    .body(create_form(i));
                let response = request.send().await.ok()?;
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let body = response.bytes().await.ok()?;
                Some(Seen {
                    label: format!("create {i}"),
                    status,
                    headers,
                    body,
                })
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_recording_leaves_only_whole_cassettes_and_the_restart_cleans_up() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let mut recorder = Binary::record(&ws, &standin, &[], "stripe_vcr=warn");
    let apis: Vec<Arc<Api>> = [false, true, false, true]
        .iter()
        .map(|http2| Arc::new(binary_api(recorder.port, &ws.ca(), *http2, RECORD_KEY)))
        .collect();
    // Delays of up to 2 s keep many requests in flight when the kill comes.
    let tasks = fire(&apis, 40, 5, 2000);
    // Kill it once a good part, but not all, is on disk.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ws.cassette_files().iter().filter(|n| !n.starts_with('.')).count() < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    recorder.child.kill().expect("kill -9");
    recorder.child.wait().expect("reaped");
    let mut answered = 0;
    for task in tasks {
        if let Ok(Ok(Some(seen))) = tokio::time::timeout(ANSWER_WITHIN, task).await {
            answered += usize::from(seen.status == 200);
        }
    }
    standin.stop();
    let written: Vec<String> = ws
        .cassette_files()
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(written.len() >= 40, "{} cassettes before the kill", written.len());
    assert!(answered < 200, "the kill came after every request was answered");
    println!(
        "kill -9: {answered} of 200 answered, {} cassettes on disk, {} temporary files",
        written.len(),
        temp_files(&ws.cassettes()).len()
    );

    // A crashed writer's leftover, as if killed between write and rename.
    std::fs::write(
        ws.cassettes().join(".x.json.1.1.tmp"),
        b"{\n  \"format_version\": 1,\n  \"endp",
    )
    .expect("plant");
    let replay = Binary::replay(&ws, &[], "stripe_vcr=info");
    let banner = replay.banner.join("\n");
    assert!(banner.contains(&format!("{} loaded from", written.len())), "{banner}");
    assert!(
        temp_files(&ws.cassettes()).is_empty(),
        "{:?}",
        temp_files(&ws.cassettes())
    );
    for name in &written {
        let bytes = std::fs::read(ws.cassettes().join(name)).expect("read");
        let cassette = Cassette::from_slice(&bytes).unwrap_or_else(|e| panic!("{name} is partial: {e}"));
        assert_eq!(cassette.response.status, 200, "{name}");
    }
    // And it replays what was saved.
    let first = written
        .iter()
        .find(|n| n.ends_with("-001.json"))
        .expect("an occurrence 1");
    let stored = Cassette::from_slice(&std::fs::read(ws.cassettes().join(first)).expect("read")).expect("parses");
    let i: usize = stored
        .request
        .canonical
        .params
        .get_str("amount")
        .expect("amount")
        .parse::<usize>()
        .expect("n")
        - 1000;
    let rep = binary_api(replay.port, &ws.ca(), false, REPLAY_KEY);
    let hit = rep.post("replayed", "/v1/payment_intents", &create_form(i)).await;
    assert_eq!(hit.status, 200, "{:?}", hit.body);
    assert_eq!(hit.headers["stripe-vcr-cassette"], first.as_str());
    assert!(replay.interrupt().success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leftover_temp_files_in_cassette_sets_are_cleaned_at_start() {
    let ws = Workspace::new();
    let set = ws.cassettes().join("checkout");
    std::fs::create_dir_all(&set).expect("set dir");
    plant(&set, "retrieve", "GET", HIT_PATH, "", serde_json::json!({"id": HIT_ID}));
    std::fs::write(ws.cassettes().join(".x.json.1.1.tmp"), b"{").expect("plant");
    std::fs::write(set.join(".y.json.1.1.tmp"), b"{").expect("plant");
    let (proxy, _) = replaying(&ws).await;
    let left = temp_files(&ws.cassettes());
    proxy.shutdown().await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_recordings_are_each_stored_once_and_replay_in_order() {
    const DISTINCT: usize = 40;
    const REPEATS: usize = 5;
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let apis: Vec<Arc<Api>> = [
        (Connect::Direct, false),
        (Connect::Direct, true),
        (Connect::Plain, false),
        (Connect::Tunnel, true),
    ]
    .iter()
    .map(|(how, http2)| Arc::new(api(&recorder, &ws.ca(), *how, *http2, RECORD_KEY)))
    .collect();
    let mut ids = std::collections::HashSet::new();
    for task in fire(&apis, DISTINCT, REPEATS, 300) {
        let seen = task.await.expect("task").expect("answered");
        assert_eq!(seen.status, 200, "{}: {:?}", seen.label, seen.body);
        ids.insert(seen.json()["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), DISTINCT * REPEATS, "the stand-in created 200 intents");
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!((summary.recorded, summary.errors), (200, 0), "{summary}");

    let files = ws.cassette_files();
    assert_eq!(files.len(), DISTINCT * REPEATS, "{files:?}");
    assert!(temp_files(&ws.cassettes()).is_empty());
    let stored_id = |name: &str| -> String {
        let c = Cassette::from_slice(&std::fs::read(ws.cassettes().join(name)).expect("read")).expect("parses");
        match c.response.body {
            ResponseBody::Body(v) => v["id"].as_str().expect("id").to_owned(),
            ResponseBody::BodyText(t) => panic!("{name}: not JSON: {t}"),
        }
    };
    let mut expected = Vec::new();
    for i in 0..DISTINCT {
        let key = canonical("POST", "/v1/payment_intents", &create_form(i)).key();
        let names: Vec<String> = (1..=REPEATS as u32).map(|n| file_name("create", &key, n)).collect();
        for n in &names {
            assert!(files.contains(n), "missing {n}");
        }
        expected.push(names);
    }
    let stored: std::collections::HashSet<String> = files.iter().map(|n| stored_id(n)).collect();
    assert_eq!(stored, ids, "every answer stored exactly once");

    // Replay: each request's five repeats come back in occurrence order.
    let (replayer, _) = replaying(&ws).await;
    let rep = Arc::new(api(&replayer, &ws.ca(), Connect::Direct, true, REPLAY_KEY));
    let replays: Vec<_> = (0..DISTINCT)
        .map(|i| {
            let rep = rep.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..REPEATS {
                    let seen = rep.post("replay", "/v1/payment_intents", &create_form(i)).await;
                    assert_eq!(seen.status, 200, "{:?}", seen.body);
                    let cassette = seen.headers["stripe-vcr-cassette"].to_str().expect("ascii").to_owned();
                    got.push((cassette, seen.json()["id"].as_str().expect("id").to_owned()));
                }
                got
            })
        })
        .collect();
    for (i, task) in replays.into_iter().enumerate() {
        let got = task.await.expect("replay task");
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, expected[i], "request {i} replayed out of order");
        let ids: Vec<String> = got.iter().map(|(_, id)| id.clone()).collect();
        let want: Vec<String> = expected[i].iter().map(|n| stored_id(n)).collect();
        assert_eq!(ids, want, "request {i}");
        assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), REPEATS);
    }
    replayer.shutdown().await;
}
