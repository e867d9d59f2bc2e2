//! Bounded state under any client (issue #16): the upstream pool's idle
//! connections, the leaf-certificate cache, and replay's idempotency
//! memory each stay at their bound however many connections, names and
//! keys arrive.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{HeaderMap, Method};
use stripe_vcr::cassette::index::ReplayIndex;
use stripe_vcr::cassette::set::CassetteSet;
use stripe_vcr::cassette::store::CassetteStore;
use stripe_vcr::mode::replay::{Replayer, IDEMPOTENCY_KEYS_REMEMBERED};
use stripe_vcr::mode::{ApiRequest, Mode, Via};
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::upstream::{Pool, Upstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Barrier};

/// A plain-HTTP upstream that answers every request `{}` once `together`
/// requests have arrived (so that the client must open that many
/// connections at once), and publishes how many connections are open and
/// the most that were open at once.
async fn counting_upstream(together: usize) -> (String, watch::Receiver<usize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (open_tx, open_rx) = watch::channel(0usize);
    let open_tx = Arc::new(open_tx);
    let barrier = Arc::new(Barrier::new(together));
    let seen = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let most = peak.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            open_tx.send_modify(|n| {
                *n += 1;
                most.fetch_max(*n, Ordering::SeqCst);
            });
            let (open_tx, barrier, seen) = (open_tx.clone(), barrier.clone(), seen.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if seen.fetch_add(1, Ordering::SeqCst) < together {
                            barrier.wait().await;
                        }
                        let answer =
                            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                        if stream.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                }
                open_tx.send_modify(|n| *n -= 1);
            });
        }
    });
    (url, open_rx, peak)
}

/// Waits until `open` satisfies `done` (at most 10 s); returns the last count.
async fn open_connections_until(open: &mut watch::Receiver<usize>, done: impl Fn(usize) -> bool) -> usize {
    let _ = tokio::time::timeout(Duration::from_secs(10), open.wait_for(|n| done(*n))).await;
    let now = *open.borrow();
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_upstream_connections_are_bounded_and_expire() {
    const CONCURRENT: usize = 50;
    let pool = Pool {
        idle_timeout: Duration::from_millis(300),
        max_idle: 4,
    };
    let (url, mut open, peak) = counting_upstream(CONCURRENT).await;
    let upstream = Upstream::with_pool(&url, None, Duration::from_secs(10), pool).expect("upstream");
    let requests: Vec<_> = (0..CONCURRENT)
        .map(|i| {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                upstream
                    .forward(
                        &Method::GET,
                        &format!("/v1/payment_intents/pi_{i}"),
                        &HeaderMap::new(),
                        Bytes::new(),
                    )
                    .await
            })
        })
        .collect();
    for request in requests {
        let answer = request.await.expect("task").expect("answered");
        assert_eq!(answer.status, 200);
    }
    assert_eq!(
        peak.load(Ordering::SeqCst),
        CONCURRENT,
        "the upstream held every request, so each had its own connection"
    );
    let kept = open_connections_until(&mut open, |n| n <= pool.max_idle).await;
    assert!(
        kept <= pool.max_idle,
        "{kept} idle connections kept, at most {} wanted",
        pool.max_idle
    );
    let started = Instant::now();
    let left = open_connections_until(&mut open, |n| n == 0).await;
    assert_eq!(
        left,
        0,
        "idle connections still open {:?} after the last request",
        started.elapsed()
    );
}

#[test]
fn the_default_pool_is_bounded() {
    let pool = Pool::default();
    assert!(
        pool.max_idle <= 16 && pool.idle_timeout <= Duration::from_secs(60),
        "{pool:?}"
    );
}

/// Counts the bytes each thread has allocated and not yet freed, so a test
/// can weigh what one structure keeps (other threads' allocations do not
/// count).
struct Counting;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// counting only reads sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A form create as an SDK sends it, with a fresh `Idempotency-Key`.
fn create_with_key(key: &str) -> ApiRequest {
    let (parts, ()) = hyper::Request::builder()
        .method("POST")
        .uri("/v1/payment_intents")
        .header("authorization", "Bearer sk_test_FreshKeysEveryPost")
        .header("stripe-version", crate::common::STRIPE_VERSION)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("idempotency-key", key)
        .body(())
        .expect("request")
        .into_parts();
    let body = Bytes::from_static(b"amount=700&currency=usd");
    ApiRequest::decode(parts, body, Via::Plain, Redactor::standard()).expect("decodes")
}

/// Answers `request` on this thread (replay answers a hit without waiting).
fn answer_now(replayer: &Replayer, request: ApiRequest) -> u16 {
    let mut answer = std::pin::pin!(replayer.handle(request));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match answer.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(handled) => handled.response.status().as_u16(),
        std::task::Poll::Pending => panic!("a hit is answered at once"),
    }
}

#[test]
fn a_hundred_thousand_posts_with_fresh_keys_leave_the_idempotency_memory_at_its_bound() {
    const POSTS: usize = 100_000;
    let ws = crate::common::Workspace::new();
    crate::planted::plant(
        &ws.cassettes(),
        "create",
        "POST",
        "/v1/payment_intents",
        "amount=700&currency=usd",
        serde_json::json!({"id": "pi_Fresh", "object": "payment_intent", "amount": 700}),
    );
    let mut sets = BTreeMap::new();
    for (set, loaded) in CassetteStore::new(ws.cassettes()).load_sets().expect("load") {
        sets.insert(set, ReplayIndex::build(loaded).expect("index"));
    }
    assert_eq!(sets[&CassetteSet::root()].len(), 1);
    let replayer = Replayer::new(ws.cassettes(), sets, None);
    // What an SDK sends: a UUID per POST.
    let key = |i: usize| format!("{:08x}-7c1e-4c5a-9d2b-{:012x}", i * 7919, i);
    // Warm up whatever is allocated once per thread or process.
    assert_eq!(answer_now(&replayer, create_with_key(&key(0))), 200);
    let before = live_bytes();
    let (mut at_bound, mut halfway) = (0, 0);
    for i in 1..POSTS {
        assert_eq!(answer_now(&replayer, create_with_key(&key(i))), 200, "POST {i}");
        if i + 1 == IDEMPOTENCY_KEYS_REMEMBERED {
            at_bound = live_bytes() - before;
            assert_eq!(replayer.remembered_keys(), IDEMPOTENCY_KEYS_REMEMBERED);
        }
        if i + 1 == POSTS / 2 {
            halfway = live_bytes() - before;
        }
    }
    let after = live_bytes() - before;
    assert_eq!(replayer.remembered_keys(), IDEMPOTENCY_KEYS_REMEMBERED);
    println!(
        "idempotency memory: {} KiB at the bound of {IDEMPOTENCY_KEYS_REMEMBERED} keys, {} KiB after {} POSTs, \
         {} KiB after {POSTS}: {:.0} bytes per remembered key",
        at_bound / 1024,
        halfway / 1024,
        POSTS / 2,
        after / 1024,
        after as f64 / IDEMPOTENCY_KEYS_REMEMBERED as f64
    );
    // Once full, the key table grows once more (hash tables keep room for
    // the slots that forgotten keys leave), then not at all.
    assert!(
        after <= at_bound + at_bound / 5,
        "the memory grew past its bound: {at_bound} bytes at {IDEMPOTENCY_KEYS_REMEMBERED} keys, {after} after {POSTS} POSTs"
    );
    assert!(
        after <= halfway + halfway / 100,
        "the memory still grows: {halfway} bytes after {} POSTs, {after} after {POSTS}",
        POSTS / 2
    );
    // The newest key is still remembered: sent again, its saved result comes back.
    let again = create_with_key(&key(POSTS - 1));
    let mut answer = std::pin::pin!(replayer.handle(again));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let std::task::Poll::Ready(handled) = answer.as_mut().poll(&mut cx) else {
        panic!("answered at once")
    };
    assert_eq!(
        handled
            .response
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
}
