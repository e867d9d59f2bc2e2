//! A bounded soak of the replay binary: 64 concurrent TLS connections (half
//! HTTP/1.1, half HTTP/2) send a mix of replay hits, creates each with a
//! fresh `Idempotency-Key` (as SDKs send them) and misses for a fixed
//! time, while two more clients open a new connection for every request,
//! each under a new SNI name (`s3x17.localhost`), so the proxy mints a leaf
//! for every one. Every answer is the expected one (hits 200 with the
//! recorded body, misses a Stripe-shaped 404), and the proxy's memory
//! (VmRSS) and open descriptors are flat: what they are in the last seconds
//! of the run is what they were in its first seconds, within the tolerances
//! below. The idempotency memory (`--idempotency-keys 1000`) is driven past
//! its bound and must stop there.
//!
//! The duration comes from `STRIPE_VCR_SOAK_SECS`: 10 s by default (the
//! shortest that leaves a warm-up and two windows apart, what a plain `cargo
//! test` and CI run), and a minute for the full soak:
//!
//! ```sh
//! STRIPE_VCR_SOAK_SECS=60 cargo test --test it soak -- --nocapture
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::common::*;

/// Concurrent client connections, each its own client (one connection).
const CONNECTIONS: usize = 64;
/// Clients that open a new connection, under a new SNI name, per request.
const NEW_NAME_CLIENTS: usize = 2;
/// Distinct recorded Payment Intents the hits cycle through.
const RECORDED: usize = 16;
/// Duration when `STRIPE_VCR_SOAK_SECS` is not set.
const DEFAULT_SECS: u64 = 10;
/// Samples before this are warm-up (TLS sessions, allocator arenas, the
/// runtime's worker buffers) and not part of the "first" window.
const WARM_UP: Duration = Duration::from_secs(2);
/// Length of the first and last measurement windows.
const WINDOW: Duration = Duration::from_secs(3);
/// Memory is "flat" when the last window's peak RSS exceeds the first
/// window's by at most this much: 8 MiB or 20 %, whichever is larger.
/// glibc's per-thread arenas and hyper's per-connection buffers still move
/// by a few MiB after warm-up, while a leak of even 100 bytes per request
/// grows by far more over the soak's tens or hundreds of thousands of
/// requests (the measured request count is printed to compare).
const RSS_SLACK_KIB: u64 = 8 * 1024;
const RSS_SLACK_RATIO: f64 = 0.20;
/// Descriptors are "flat" when the last window holds at most this many more
/// than the first: the 64 connections are long-lived, so the count should be
/// constant; the slack covers a connection mid-accept at the sampling
/// instant, and each new-name client's connection opening or closing.
const FD_SLACK: usize = 4 + 2 * NEW_NAME_CLIENTS;
/// `--idempotency-keys` of the binary: small, so that the soak's creates
/// (thousands, each with a fresh key) drive the memory well past it.
const KEYS_REMEMBERED: usize = 1_000;
/// The create every POST replays, whatever its `Idempotency-Key`.
const CREATE_FORM: &str = "amount=1200&currency=usd";
const CREATED_ID: &str = "pi_SoakCreated000000000000";

fn soak_duration() -> Duration {
    let secs = std::env::var("STRIPE_VCR_SOAK_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_SECS);
    // Long enough for a warm-up and two windows that do not overlap.
    Duration::from_secs(secs.clamp(10, 3600))
}

fn hit_path(n: usize) -> String {
    format!("/v1/payment_intents/pi_Soak{n:020}")
}

/// Writes a recorded retrieve of `hit_path(n)` into `dir`, as the recorder would.
fn plant(dir: &Path, n: usize) {
    let body = serde_json::json!({
        "id": format!("pi_Soak{n:020}"),
        "object": "payment_intent",
        "amount": 1000 + n,
        "currency": "usd",
    });
    crate::planted::plant(dir, "retrieve", "GET", &hit_path(n), "", body);
}

/// Writes the recorded create every POST of the soak replays.
fn plant_create(dir: &Path) {
    let body = serde_json::json!({"id": CREATED_ID, "object": "payment_intent", "amount": 1200});
    crate::planted::plant(dir, "create", "POST", "/v1/payment_intents", CREATE_FORM, body);
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fd dir").count()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    rss_kib: u64,
    fds: usize,
}

/// What the workers saw.
#[derive(Debug, Default)]
struct Tally {
    hits: u64,
    misses: u64,
    unexpected: u64,
    /// Connections made under a new SNI name.
    new_names: usize,
    /// The first few unexpected answers, for the failure message.
    examples: Vec<String>,
}

impl Tally {
    fn unexpected(&mut self, what: String) {
        self.unexpected += 1;
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }
}

fn client(ca: &Path, http2: bool) -> reqwest::Client {
    let mut builder = trusting(ca).timeout(Duration::from_secs(30)).no_proxy();
    if !http2 {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

/// What one request of the mix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A recorded retrieve.
    Hit,
    /// The recorded create, with a fresh `Idempotency-Key`.
    Create,
    /// A retrieve nobody recorded.
    Miss,
}

/// Sends one request of `kind` and checks its answer; `Ok(true)` for a
/// hit, `Ok(false)` for a miss, `Err` with what was wrong.
async fn exchange(
    client: &reqwest::Client,
    base: &str,
    kind: Kind,
    n: usize,
    tag: &str,
    want_version: reqwest::Version,
) -> Result<bool, String> {
    let (request, path) = match kind {
        Kind::Hit => (client.get(format!("{base}{}", hit_path(n))), hit_path(n)),
        Kind::Miss => {
            let path = format!("/v1/payment_intents/pi_SoakMiss{tag}");
            (client.get(format!("{base}{path}")), path)
        }
        Kind::Create => (
            client
                .post(format!("{base}/v1/payment_intents"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("idempotency-key", format!("soak-{tag}"))
                .body(CREATE_FORM),
            "/v1/payment_intents".to_owned(),
        ),
    };
    let response = request
        .bearer_auth(REPLAY_KEY)
        .header("stripe-version", STRIPE_VERSION)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let status = response.status().as_u16();
    let version = response.version();
    let error = response
        .headers()
        .get("stripe-vcr-error")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.bytes().await.unwrap_or_default();
    let id = || serde_json::from_slice::<serde_json::Value>(&body).map(|v| v["id"].clone());
    let ok = version == want_version
        && match kind {
            Kind::Miss => status == 404 && error == "replay-miss",
            Kind::Hit => status == 200 && id().is_ok_and(|id| id == format!("pi_Soak{n:020}")),
            Kind::Create => status == 200 && id().is_ok_and(|id| id == CREATED_ID),
        };
    if !ok {
        return Err(format!(
            "{path}: {status} {version:?} {error} {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    }
    Ok(kind != Kind::Miss)
}

/// One connection's loop until `stop`: a hit, a create with a fresh
/// `Idempotency-Key`, a miss, and so on.
async fn worker(
    id: usize,
    base: String,
    client: reqwest::Client,
    http2: bool,
    stop: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let mut local = Tally::default();
    let want_version = if http2 {
        reqwest::Version::HTTP_2
    } else {
        reqwest::Version::HTTP_11
    };
    // Bounded by count as well as by time.
    for i in 0..10_000_000usize {
        if Instant::now() >= stop {
            break;
        }
        let kind = [Kind::Hit, Kind::Create, Kind::Miss][i % 3];
        let n = (id + i) % RECORDED;
        match exchange(&client, &base, kind, n, &format!("{id}x{i}"), want_version).await {
            Ok(true) => local.hits += 1,
            Ok(false) => local.misses += 1,
            Err(what) => local.unexpected(what),
        }
    }
    let mut total = tally.lock().await;
    total.hits += local.hits;
    total.misses += local.misses;
    total.unexpected += local.unexpected;
    total.examples.extend(local.examples);
}

/// A client's loop until `stop`: every request on a new connection, with
/// a TLS handshake under a new SNI name under `localhost` (`s1x42.localhost`).
async fn new_name_worker(
    id: usize,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    stop: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let mut local = Tally::default();
    for i in 0..10_000_000usize {
        if Instant::now() >= stop {
            break;
        }
        let host = format!("s{id}x{i}.localhost");
        let n = (id + i) % RECORDED;
        match get_under_name(port, &tls, &host, n).await {
            Ok(()) => local.hits += 1,
            Err(what) => local.unexpected(format!("{host}: {what}")),
        }
        local.new_names += 1;
    }
    let mut total = tally.lock().await;
    total.new_names += local.new_names;
    total.hits += local.hits;
    total.unexpected += local.unexpected;
    total.examples.extend(local.examples);
}

/// `GET hit_path(n)` over a new TLS connection whose SNI name is `host`;
/// checks the answer is the recorded one.
async fn get_under_name(port: u16, tls: &Arc<rustls::ClientConfig>, host: &str, n: usize) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let mut stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {REPLAY_KEY}\r\nStripe-Version: {STRIPE_VERSION}\r\nConnection: close\r\n\r\n",
        hit_path(n)
    );
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| "no answer within 30 s".to_owned())?
        .map_err(|e| e.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    if answer.starts_with("HTTP/1.1 200") && answer.contains(&format!("pi_Soak{n:020}")) {
        Ok(())
    } else {
        Err(answer.chars().take(200).collect())
    }
}

/// A TLS client configuration trusting only the CA at `ca`.
fn tls_trusting(ca: &Path) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_file(ca).expect("CA PEM"))
        .expect("CA");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_binary_soak_answers_everything_with_flat_memory_and_descriptors() {
    let duration = soak_duration();
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    for n in 0..RECORDED {
        plant(&ws.cassettes(), n);
    }
    plant_create(&ws.cassettes());
    // Misses are logged at warn, one line each, as a user would see them.
    let proxy = Binary::replay(
        &ws,
        args!["--idempotency-keys", KEYS_REMEMBERED.to_string()],
        "stripe_vcr=warn",
    );
    let pid = proxy.child.id();
    let base = format!("https://127.0.0.1:{}", proxy.port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_fds = fd_count(pid);
    let idle_rss = rss_kib(pid);

    let started = Instant::now();
    let stop = started + duration;
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < stop {
            samples.push(Sample {
                at: started.elapsed(),
                rss_kib: rss_kib(pid),
                fds: fd_count(pid),
            });
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        samples
    });
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut workers: Vec<_> = (0..CONNECTIONS)
        .map(|id| {
            let http2 = id % 2 == 1;
            tokio::spawn(worker(
                id,
                base.clone(),
                client(&ws.ca(), http2),
                http2,
                stop,
                tally.clone(),
            ))
        })
        .collect();
    let tls = tls_trusting(&ws.ca());
    workers.extend(
        (0..NEW_NAME_CLIENTS).map(|id| tokio::spawn(new_name_worker(id, proxy.port, tls.clone(), stop, tally.clone()))),
    );
    for w in workers {
        w.await.expect("worker");
    }
    let elapsed = started.elapsed();
    let samples = sampler.await.expect("sampler");
    let tally = tally.lock().await;

    let window = |from: Duration, to: Duration| -> (u64, usize) {
        let picked: Vec<&Sample> = samples.iter().filter(|s| s.at >= from && s.at <= to).collect();
        assert!(picked.len() >= 4, "too few samples between {from:?} and {to:?}");
        (
            picked.iter().map(|s| s.rss_kib).max().unwrap_or(0),
            picked.iter().map(|s| s.fds).max().unwrap_or(0),
        )
    };
    let (first_rss, first_fds) = window(WARM_UP, WARM_UP + WINDOW);
    let (last_rss, last_fds) = window(duration - WINDOW, duration);
    let requests = tally.hits + tally.misses + tally.unexpected;
    println!(
        "soak: {:.1} s, {CONNECTIONS} connections, {requests} requests ({:.0}/s): {} hits, {} misses, {} unexpected",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        tally.hits,
        tally.misses,
        tally.unexpected
    );
    println!(
        "soak: VmRSS idle {idle_rss} KiB, first window peak {first_rss} KiB, last window peak {last_rss} KiB; \
         fds idle {idle_fds}, first window peak {first_fds}, last window peak {last_fds}"
    );

    assert_eq!(tally.unexpected, 0, "unexpected answers: {:#?}", tally.examples);
    assert!(tally.hits > 0 && tally.misses > 0, "{tally:?}");
    assert!(
        first_fds >= idle_fds + CONNECTIONS,
        "expected {CONNECTIONS} concurrent connections: {first_fds} fds at load, {idle_fds} idle"
    );
    let rss_slack = RSS_SLACK_KIB.max((first_rss as f64 * RSS_SLACK_RATIO) as u64);
    assert!(
        last_rss <= first_rss + rss_slack,
        "RSS grew from {first_rss} KiB to {last_rss} KiB (slack {rss_slack} KiB)"
    );
    assert!(
        last_fds <= first_fds + FD_SLACK,
        "descriptors grew from {first_fds} to {last_fds}"
    );
    // The idempotency memory stopped at its bound (every create sent a
    // fresh key, far more of them than the bound).
    let stats: serde_json::Value = client(&ws.ca(), false)
        .get(format!("{base}/__stripe-vcr/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON");
    let keys = stats["sets"]["sets"]["(default)"]["idempotency_keys"]
        .as_u64()
        .unwrap_or_else(|| panic!("no idempotency_keys in {stats}"));
    println!(
        "soak: {keys} idempotency keys remembered (at most {KEYS_REMEMBERED}); {} new SNI names (the leaf cache keeps {})",
        tally.new_names,
        stripe_vcr::tls::LEAF_CACHE_CAPACITY
    );
    assert_eq!(
        keys as usize, KEYS_REMEMBERED,
        "the memory stops at its bound, and the soak reached it"
    );
    // A few hundred on a loaded 2-core machine (each is a full handshake
    // and a leaf minted); the cache's bound itself is checked with 10,000
    // names in `tls::leaf`'s tests.
    assert!(tally.new_names > 0, "no new SNI names in the mix");

    // The clients are gone: every connection's descriptor is released.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = fd_count(pid);
    while after > idle_fds + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = fd_count(pid);
    }
    println!("soak: fds after the clients left: {after} (idle {idle_fds})");
    assert!(
        after <= idle_fds + 2,
        "{after} descriptors after the soak, {idle_fds} idle"
    );

    // The proxy counted exactly what the clients saw.
    let exited = proxy.interrupt();
    assert!(exited.success, "{}", exited.stderr.lines().last().unwrap_or(""));
    let summary = exited
        .stdout
        .iter()
        .find(|l| l.starts_with("stripe-vcr summary:"))
        .expect("summary line");
    assert!(
        summary.contains(&format!(
            "{requests} requests: {} hits, {} misses",
            tally.hits, tally.misses
        )),
        "{summary}"
    );
}
