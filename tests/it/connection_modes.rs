//! Every way a client reaches the proxy — direct HTTPS (by IP and by
//! localhost), HTTP CONNECT with the real api.stripe.com name, and plain
//! HTTP — in HTTP/1.1 and HTTP/2, in record and in replay.

use crate::common::*;

const MODES: [(Connect, bool); 7] = [
    (Connect::Direct, false),
    (Connect::Direct, true),
    (Connect::DirectLocalhost, false),
    (Connect::Tunnel, false),
    (Connect::Tunnel, true),
    (Connect::Plain, false),
    (Connect::Plain, true),
];

fn expected_version(http2: bool) -> reqwest::Version {
    if http2 {
        reqwest::Version::HTTP_2
    } else {
        reqwest::Version::HTTP_11
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_mode_records_and_replays() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let mut recorded = Vec::new();
    for (i, (how, http2)) in MODES.into_iter().enumerate() {
        let api = api(&recorder, &ws.ca(), how, http2, RECORD_KEY);
        // Check the negotiated protocol on a raw request first.
        let resp = api
            .client
            .get(format!("{}/v1/payment_intents?limit=1", api.base))
            .bearer_auth(RECORD_KEY)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{how:?} h2={http2}: {e:?}"));
        assert_eq!(resp.version(), expected_version(http2), "{how:?} h2={http2}");
        assert_eq!(resp.status(), 200, "{how:?} h2={http2}");
        let created = api
            .post(
                "create",
                "/v1/payment_intents",
                &format!("amount={}&currency=usd", 1000 + i),
            )
            .await;
        assert_eq!(created.status, 200, "{how:?} h2={http2}: {:?}", created.body);
        recorded.push(created);
    }
    let summary = recorder.shutdown().await;
    assert_eq!(summary.recorded, 2 * MODES.len() as u64, "{summary}");
    standin.stop();

    let replayer = start_replay(&ws).await;
    for (i, (how, http2)) in MODES.into_iter().enumerate() {
        // Each recording replays through every other connection mode too.
        let replay_how = MODES[(i + 3) % MODES.len()];
        for (mode, h2) in [(how, http2), replay_how] {
            let api = api(&replayer, &ws.ca(), mode, h2, REPLAY_KEY);
            let replayed = api
                .post(
                    "create",
                    "/v1/payment_intents",
                    &format!("amount={}&currency=usd", 1000 + i),
                )
                .await;
            assert_eq!(replayed.status, 200, "{mode:?} h2={h2}: {:?}", replayed.body);
            assert_eq!(
                replayed.json()["id"],
                recorded[i].json()["id"],
                "{mode:?} h2={h2} replayed another recording"
            );
        }
    }
    let summary = replayer.shutdown().await;
    assert_eq!((summary.hits, summary.misses), (2 * MODES.len() as u64, 0), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_like_curl_works_in_both_modes() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let api_rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let resp = api_rec
        .client
        .post(format!("{}/v1/payment_intents", api_rec.base))
        .basic_auth(RECORD_KEY, Some(""))
        .form(&[("amount", "777"), ("currency", "usd")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let id = resp.json::<serde_json::Value>().await.expect("json")["id"].clone();
    recorder.shutdown().await;
    standin.stop();

    let replayer = start_replay(&ws).await;
    let api_rep = api(&replayer, &ws.ca(), Connect::Plain, false, REPLAY_KEY);
    let resp = api_rep
        .client
        .post(format!("{}/v1/payment_intents", api_rep.base))
        .basic_auth(REPLAY_KEY, Some(""))
        .form(&[("currency", "usd"), ("amount", "777")])
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<serde_json::Value>().await.expect("json")["id"], id);
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_refuses_tunnels_to_other_hosts_and_record_passes_them_through() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let replayer = start_replay(&ws).await;
    let port = replayer.local_addr().port();
    // A raw CONNECT to a host that is not intercepted.
    let status = raw_connect(port, "example.com:443").await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    replayer.shutdown().await;

    // In record mode, a tunnel to a host that is not intercepted (127.0.0.2 is
    // loopback but outside the CA's names) is passed through byte for byte.
    let echo = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind 127.0.0.2");
    let echo_addr = echo.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.expect("accept");
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let (status, mut stream) = raw_connect_stream(recorder.local_addr().port(), &echo_addr.to_string()).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream.write_all(b"not TLS, not HTTP: raw bytes").await.expect("write");
        let mut buf = [0u8; 28];
        tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_exact(&mut buf))
            .await
            .expect("echo in time")
            .expect("read");
        assert_eq!(&buf, b"not TLS, not HTTP: raw bytes");
    }
    let summary = recorder.shutdown().await;
    assert_eq!(summary.recorded, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_intercepted_only_on_the_ports_the_api_is_served_on() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let replayer = start_replay(&ws).await;
    let port = replayer.local_addr().port();
    for (authority, expected) in [
        ("api.stripe.com:443".to_owned(), "HTTP/1.1 200"),
        (format!("localhost:{port}"), "HTTP/1.1 200"),
        (format!("127.0.0.1:{port}"), "HTTP/1.1 200"),
        // Not the API: replay refuses them like any other host.
        ("api.stripe.com:80".to_owned(), "HTTP/1.1 403"),
        ("127.0.0.1:22".to_owned(), "HTTP/1.1 403"),
        ("localhost:9".to_owned(), "HTTP/1.1 403"),
        ("api.stripe.com".to_owned(), "HTTP/1.1 400"),
    ] {
        let status = raw_connect(port, &authority).await;
        assert!(status.starts_with(expected), "CONNECT {authority}: {status}");
    }
    replayer.shutdown().await;
}

/// Sends a CONNECT and returns the status line.
async fn raw_connect(port: u16, authority: &str) -> String {
    raw_connect_stream(port, authority).await.0
}

/// Sends a CONNECT; returns the status line and the (possibly tunnelled) stream.
async fn raw_connect_stream(port: u16, authority: &str) -> (String, tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    // Read the response head byte by byte so no tunnelled byte is consumed.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), s.read(&mut b))
            .await
            .expect("answer in time")
            .expect("read");
        if n == 0 {
            break;
        }
        head.push(b[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    (status, s)
}
