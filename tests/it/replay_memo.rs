//! Replay's decode memo (`server::memo`) never changes an answer: a request
//! repeated byte for byte is answered from what its first decode worked out,
//! and each of these would fail if the memo answered from a stale or another
//! request's entry: sequences advance, idempotency keys are honoured, sets
//! keep their own recordings, a changed body byte or version misses,
//! `--validate warn` findings come back every time, a missing key is still
//! refused, and the access line reads the same.

use std::time::Duration;

use crate::common::*;

/// A form POST as an app without idempotency keys sends it, with
/// `STRIPE_VERSION` unless `extra` names another.
async fn create(api: &Api, body: &str, extra: &[(&str, &str)]) -> Seen {
    let mut request = api
        .client
        .post(format!("{}/v1/payment_intents", api.base))
        .bearer_auth(&api.key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("stripe-version")) {
        request = request.header("Stripe-Version", STRIPE_VERSION);
    }
    for (k, v) in extra {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("send");
    Seen {
        label: body.to_owned(),
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body"),
    }
}

fn id(seen: &Seen) -> String {
    seen.json()["id"].as_str().unwrap_or("-").to_owned()
}

fn header(seen: &Seen, name: &str) -> String {
    seen.headers
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_requests_keep_every_replay_behaviour() {
    let session = Recording::start().await;
    let rec = &session.api;
    const BODY: &str = "amount=700&currency=usd&description=memo";
    // Two occurrences of one create, and the same create in two sets.
    let first = id(&create(rec, BODY, &[]).await);
    let second = id(&create(rec, BODY, &[]).await);
    let in_a = id(&create(rec, BODY, &[("Stripe-Vcr-Cassette", "memo-a")]).await);
    let in_b = id(&create(rec, BODY, &[("Stripe-Vcr-Cassette", "memo-b")]).await);
    // One with an unknown parameter, for `--validate warn`.
    let odd = create(rec, "amount=800&currency=usd&not_a_parameter=1", &[]).await;
    assert!(
        [first.as_str(), second.as_str(), in_a.as_str(), in_b.as_str()]
            .windows(2)
            .all(|w| w[0] != w[1]),
        "four distinct intents: {first} {second} {in_a} {in_b}"
    );
    let (ws, _) = session.finish().await;

    let (replayer, rep) = replaying(&ws).await;
    // Sequences advance on repeats (all but the first are answered from
    // the memo), the last repeating.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(id(&create(&rep, BODY, &[]).await));
    }
    assert_eq!(ids, [first.as_str(), &second, &second, &second]);
    // Sets keep their own recordings, whichever was asked for last.
    for _ in 0..2 {
        for (set, expected) in [("memo-a", &in_a), ("memo-b", &in_b)] {
            let seen = create(&rep, BODY, &[("Stripe-Vcr-Cassette", set)]).await;
            assert_eq!(&id(&seen), expected, "{set}");
            assert!(header(&seen, "stripe-vcr-cassette").starts_with(&format!("{set}/create-")));
        }
    }
    // One body byte, or another version, and it is another request: a miss.
    let changed = create(&rep, &BODY.replace("700", "701"), &[]).await;
    assert_eq!(changed.status, 404);
    assert_eq!(header(&changed, "stripe-vcr-error"), "replay-miss");
    let versioned = create(&rep, BODY, &[("Stripe-Version", "2024-06-20")]).await;
    assert_eq!(versioned.status, 404, "a version the recording was not made with");
    // Idempotency keys: a retry with the same key gets the saved result again.
    rep.client
        .post(format!("{}/__stripe-vcr/reset", rep.base))
        .send()
        .await
        .expect("reset");
    let keyed = create(&rep, BODY, &[("Idempotency-Key", "memo-key")]).await;
    let retried = create(&rep, BODY, &[("Idempotency-Key", "memo-key")]).await;
    assert_eq!(id(&keyed), first);
    assert_eq!(id(&retried), first, "the key's saved result");
    assert_eq!(header(&retried, "idempotent-replayed"), "true");
    assert_eq!(header(&retried, "idempotency-key"), "memo-key");
    assert_eq!(header(&keyed, "idempotent-replayed"), "");
    let fresh = create(&rep, BODY, &[("Idempotency-Key", "memo-key-2")]).await;
    assert_eq!(id(&fresh), second, "a new key is a new request");
    // `--validate warn` findings ride along on every answer.
    let mut findings = Vec::new();
    for _ in 0..3 {
        let seen = create(&rep, "amount=800&currency=usd&not_a_parameter=1", &[]).await;
        assert_eq!(seen.status, odd.status);
        findings.push(header(&seen, "stripe-vcr-validation"));
    }
    assert!(findings[0].contains("not_a_parameter"), "{findings:?}");
    assert!(findings.iter().all(|f| *f == findings[0]), "{findings:?}");
    // A known request without a key is refused as before.
    let keyless = rep
        .client
        .post(format!("{}/v1/payment_intents", rep.base))
        .header("Stripe-Version", STRIPE_VERSION)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(BODY)
        .send()
        .await
        .expect("send");
    assert_eq!(keyless.status(), 401);
    // Every hit counted, in its own set.
    let stats = rep.stats().await;
    // 4 in sequence, 3 with keys, 3 with findings.
    assert_eq!(stats["sets"]["sets"]["(default)"]["hits"], 4 + 3 + 3, "{stats}");
    assert_eq!(stats["sets"]["sets"]["memo-a"]["hits"], 2, "{stats}");
    assert_eq!(stats["sets"]["sets"]["memo-b"]["hits"], 2, "{stats}");
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_logs_the_same_access_line() {
    let session = Recording::start().await;
    let id = session
        .api
        .post("create", "/v1/payment_intents", "amount=100&currency=usd")
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/payment_intents/{id}?client_secret={id}_secret_MemoSecret123");
    session.api.get("retrieve", &path).await;
    let (ws, _) = session.finish().await;

    let proxy = Binary::replay(&ws, &[], "stripe_vcr=info");
    let client = trusting(&ws.ca()).build().expect("client");
    for _ in 0..3 {
        let seen = client
            .get(format!("https://127.0.0.1:{}{path}", proxy.port))
            .bearer_auth(REPLAY_KEY)
            .header("Stripe-Version", STRIPE_VERSION)
            .send()
            .await
            .expect("send");
        assert_eq!(seen.status(), 200);
    }
    // Buffered access lines arrive within the flush interval.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut log = proxy.stderr_until("outcome=hit", Duration::from_secs(3));
    while log.matches("outcome=hit").count() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        log = proxy.stderr_until("outcome=hit", Duration::ZERO);
    }
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("stripe_vcr::access"))
        .map(|l| {
            let after_time = l.split_once("  INFO ").map_or(l, |(_, rest)| rest);
            after_time.split(" latency_ms=").next().unwrap_or(after_time)
        })
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines.iter().all(|l| *l == lines[0]), "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "stripe_vcr::access: request via=direct-tls method=GET path=/v1/payment_intents/{id} outcome=hit status=200 cassette=retrieve-"
        )),
        "{}",
        lines[0]
    );
    assert!(!log.contains("MemoSecret123"), "{log}");
}
