//! A bounded soak of the replay binary: 64 concurrent TLS connections (half
//! HTTP/1.1, half HTTP/2) send a mix of replay hits and misses for a fixed
//! time. Every answer is the expected one (hits 200 with the recorded body,
//! misses a Stripe-shaped 404), and the proxy's memory (VmRSS) and open
//! descriptors are flat: what they are in the last seconds of the run is
//! what they were in its first seconds, within the tolerances below.
//!
//! The duration comes from `STRIPE_VCR_SOAK_SECS`: 10 s by default (the
//! shortest that leaves a warm-up and two windows apart, what a plain `cargo
//! test` runs), 20 s in CI (`.ci/run` sets it), and a minute for the full soak:
//!
//! ```sh
//! STRIPE_VCR_SOAK_SECS=60 cargo test --test it soak -- --nocapture
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use stripe_vcr::cassette::format::{
    BodyEncoding, Cassette, RecordedRequest, RecordedResponse, ResponseBody, ResponseHeaders, FORMAT_VERSION,
};
use stripe_vcr::cassette::key::{file_name, CanonicalRequest};
use stripe_vcr::cassette::redact::Redactor;
use stripe_vcr::cassette::store::{CassetteStore, Written};
use stripe_vcr::stripe::params::Params;
use tokio::sync::Mutex;

/// Concurrent client connections, each its own client (one connection).
const CONNECTIONS: usize = 64;
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
/// than the first: every connection is long-lived, so the count should be
/// constant; the slack covers a connection mid-accept at the sampling instant.
const FD_SLACK: usize = 4;

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
    let path = hit_path(n);
    let canonical = CanonicalRequest::new(Redactor::standard(), "GET", &path, &Params::default(), |h| {
        (h == "stripe-version").then(|| STRIPE_VERSION.to_owned())
    });
    let name = file_name("retrieve", &canonical.key(), 1);
    let cassette = Cassette {
        format_version: FORMAT_VERSION,
        recorded_at: "2026-11-22T15:04:05Z".into(),
        endpoint: "retrieve".into(),
        occurrence: 1,
        request: RecordedRequest {
            canonical,
            body_encoding: BodyEncoding::None,
            user_agent: None,
            reuses_idempotency_key_of: None,
        },
        response: RecordedResponse {
            status: 200,
            headers: ResponseHeaders(vec![("content-type".into(), "application/json".into())]),
            body: ResponseBody::Body(serde_json::json!({
                "id": format!("pi_Soak{n:020}"),
                "object": "payment_intent",
                "amount": 1000 + n,
                "currency": "usd",
            })),
        },
    };
    let sealed = Redactor::standard().seal(&cassette).expect("seal");
    CassetteStore::new(dir)
        .write(&name, &sealed)
        .and_then(Written::sync)
        .expect("write cassette");
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

/// One connection's loop until `stop`: two hits, then a miss, and so on.
async fn worker(
    id: usize,
    base: String,
    client: reqwest::Client,
    http2: bool,
    stop: Instant,
    tally: Arc<Mutex<Tally>>,
) {
    let mut local = Tally::default();
    // Bounded by count as well as by time.
    for i in 0..10_000_000usize {
        if Instant::now() >= stop {
            break;
        }
        let is_miss = i % 3 == 2;
        let n = (id + i) % RECORDED;
        let path = if is_miss {
            format!("/v1/payment_intents/pi_SoakMiss{id}x{i}")
        } else {
            hit_path(n)
        };
        let sent = client
            .get(format!("{base}{path}"))
            .bearer_auth(REPLAY_KEY)
            .header("stripe-version", STRIPE_VERSION)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                local.unexpected(format!("{path}: {e}"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let version = response.version();
        let kind = response
            .headers()
            .get("stripe-vcr-error")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().await.unwrap_or_default();
        let want_version = if http2 {
            reqwest::Version::HTTP_2
        } else {
            reqwest::Version::HTTP_11
        };
        let ok = version == want_version
            && if is_miss {
                status == 404 && kind == "replay-miss"
            } else {
                status == 200
                    && serde_json::from_slice::<serde_json::Value>(&body)
                        .is_ok_and(|v| v["id"] == format!("pi_Soak{n:020}"))
            };
        match (ok, is_miss) {
            (true, true) => local.misses += 1,
            (true, false) => local.hits += 1,
            (false, _) => local.unexpected(format!(
                "{path}: {status} {version:?} {kind} {:?}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
        }
    }
    let mut total = tally.lock().await;
    total.hits += local.hits;
    total.misses += local.misses;
    total.unexpected += local.unexpected;
    total.examples.extend(local.examples);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_binary_soak_answers_everything_with_flat_memory_and_descriptors() {
    let duration = soak_duration();
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    for n in 0..RECORDED {
        plant(&ws.cassettes(), n);
    }
    // Misses are logged at warn, one line each, as a user would see them.
    let proxy = Binary::replay(&ws, args![], "stripe_vcr=warn");
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
    let workers: Vec<_> = (0..CONNECTIONS)
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
