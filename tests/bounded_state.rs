//! Bounded state under any client (issue #16): the upstream pool's idle
//! connections, the leaf-certificate cache, and replay's idempotency
//! memory each stay at their bound however many connections, names and
//! keys arrive.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{HeaderMap, Method};
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
