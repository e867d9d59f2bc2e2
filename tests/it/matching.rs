//! Replay matching: encodings that mean the same request hit the same
//! cassette; repeats replay in order; idempotent retries replay; a miss names
//! the closest recording and how it differs.

use crate::common::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_order_and_encoding_variants_hit_the_same_cassette() {
    let session = Recording::start().await;
    let rec = &session.api;
    let original = rec
        .post(
            "create",
            "/v1/payment_intents",
            "amount=2000&currency=usd&description=a+gift&metadata[order_id]=6735&expand[]=latest_charge&payment_method_types[]=card",
        )
        .await;
    assert_eq!(original.status, 200, "{:?}", original.body);
    let list = rec.get("list", "/v1/payment_intents?limit=3&created[gte]=0").await;
    assert_eq!(list.status, 200);
    let (ws, _) = session.finish().await;
    assert_eq!(ws.cassette_files().len(), 2);

    let (replayer, rep) = replaying(&ws).await;
    let variants = [
        // Other order, %20 for space, indexed arrays (what the SDKs send).
        "payment_method_types[0]=card&expand[0]=latest_charge&metadata[order_id]=6735&description=a%20gift&currency=usd&amount=2000",
        // Percent-encoded brackets.
        "amount=2000&currency=usd&description=a+gift&metadata%5Border_id%5D=6735&expand%5B0%5D=latest_charge&payment_method_types%5B%5D=card",
    ];
    for body in variants {
        let seen = rep.post("variant", "/v1/payment_intents", body).await;
        assert_eq!(seen.status, 200, "{body}: {:?}", String::from_utf8_lossy(&seen.body));
        assert_eq!(seen.json()["id"], original.json()["id"], "{body}");
    }
    // The same parameters as a JSON body, every value a string: what a form
    // says, so the same request (docs/matching.md).
    let json = |amount: serde_json::Value| {
        rep.client
            .post(format!("{}/v1/payment_intents", rep.base))
            .bearer_auth(REPLAY_KEY)
            .header("Stripe-Version", STRIPE_VERSION)
            .json(&serde_json::json!({
                "metadata": {"order_id": "6735"}, "amount": amount, "currency": "usd",
                "description": "a gift", "expand": ["latest_charge"], "payment_method_types": ["card"]
            }))
            .send()
    };
    let strings = json("2000".into()).await.expect("send");
    assert_eq!(strings.status(), 200);
    // A JSON number is something a form cannot say: another request, and
    // the miss names the type difference.
    let number = json(2000.into()).await.expect("send");
    assert_eq!(number.status(), 404);
    let message = number.json::<serde_json::Value>().await.expect("json")["error"]["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains(r#"differs in amount: 2000 (integer) ≠ "2000" (string)"#)),
        "{message}"
    );
    for query in ["created[gte]=0&limit=3", "created%5Bgte%5D=0&limit=3"] {
        let seen = rep.get("list variant", &format!("/v1/payment_intents?{query}")).await;
        assert_eq!(seen.status, 200, "{query}");
        assert_eq!(
            String::from_utf8_lossy(&seen.body),
            redact_client_secrets(&String::from_utf8_lossy(&list.body)),
            "{query}"
        );
    }
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_requests_replay_in_recorded_order_and_the_last_repeats() {
    let session = Recording::start().await;
    let rec = &session.api;
    let id = rec
        .post("create", "/v1/payment_intents", "amount=100&currency=usd")
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/payment_intents/{id}");
    let before = rec.get("before", &path).await.json()["status"].clone();
    rec.post("confirm", &format!("{path}/confirm"), "payment_method=pm_card_visa")
        .await;
    let after = rec.get("after", &path).await.json()["status"].clone();
    assert_ne!(before, after, "the stand-in should change status on confirm");
    let (ws, _) = session.finish().await;
    let names = ws.cassette_files();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("retrieve-") && n.ends_with("-001.json")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("retrieve-") && n.ends_with("-002.json")),
        "{names:?}"
    );

    let (replayer, rep) = replaying(&ws).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(rep.get("retrieve", &path).await.json()["status"].clone());
    }
    assert_eq!(statuses, [before.clone(), after.clone(), after.clone(), after]);
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retries_replay_like_stripe() {
    let session = Recording::start().await;
    let rec = &session.api;
    // An SDK retry: the first attempt fails with a retryable 500, the retry
    // (same Idempotency-Key) succeeds.
    let key = "retry-key-1";
    let headers = [("Idempotency-Key", key), ("Standin-Fail-Once", "token-1")];
    let failed = rec
        .send(
            "attempt",
            Method::POST,
            "/v1/payment_intents",
            "amount=300&currency=usd",
            &headers,
        )
        .await;
    assert_eq!(failed.status, 500);
    let ok = rec
        .send(
            "retry",
            Method::POST,
            "/v1/payment_intents",
            "amount=300&currency=usd",
            &headers,
        )
        .await;
    assert_eq!(ok.status, 200);
    let (ws, _) = session.finish().await;

    let (replayer, rep) = replaying(&ws).await;
    let key = [("Idempotency-Key", "a-fresh-key-per-run")];
    let first = rep
        .send(
            "attempt",
            Method::POST,
            "/v1/payment_intents",
            "amount=300&currency=usd",
            &key,
        )
        .await;
    assert_eq!(first.status, 500, "the recorded failure replays first");
    let retry = rep
        .send(
            "retry",
            Method::POST,
            "/v1/payment_intents",
            "amount=300&currency=usd",
            &key,
        )
        .await;
    assert_eq!(
        retry.status, 200,
        "a retryable failure is not remembered, so the retry moves on"
    );
    assert_eq!(retry.json()["id"], ok.json()["id"]);
    // A further retry with the same key gets the same answer, marked replayed.
    let again = rep
        .send(
            "again",
            Method::POST,
            "/v1/payment_intents",
            "amount=300&currency=usd",
            &key,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, retry.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        again.headers["idempotency-key"], "a-fresh-key-per-run",
        "the request's own key is echoed"
    );
    // The same key with other parameters is Stripe's idempotency error.
    let other = rep
        .send(
            "other",
            Method::POST,
            "/v1/payment_intents",
            "amount=301&currency=usd",
            &key,
        )
        .await;
    assert_eq!(other.status, 400);
    assert_eq!(other.json()["error"]["type"], "idempotency_error");
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_names_the_closest_recording_and_what_differs() {
    let session = Recording::start().await;
    let rec = &session.api;
    rec.post(
        "create",
        "/v1/payment_intents",
        "amount=1000&currency=usd&metadata[order_id]=1",
    )
    .await;
    rec.get("list", "/v1/payment_intents?limit=3").await;
    let (ws, _) = session.finish().await;
    let create_file = ws
        .cassette_files()
        .into_iter()
        .find(|n| n.starts_with("create-"))
        .expect("create cassette");

    let (replayer, rep) = replaying(&ws).await;
    let miss = rep
        .post(
            "miss",
            "/v1/payment_intents",
            "amount=2000&currency=usd&metadata[order_id]=1",
        )
        .await;
    assert_eq!(miss.status, 404);
    let error = &miss.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains(&create_file), "{message}");
    assert!(message.contains("amount: 2000 ≠ 1000"), "{message}");
    assert!(!message.contains("order_id"), "only differences are listed: {message}");
    assert_eq!(miss.headers["stripe-vcr-closest"], create_file.as_str());
    assert_eq!(miss.headers["stripe-vcr-error"], "replay-miss");

    // A different Stripe-Version is named as such.
    let versioned = rep
        .send(
            "version",
            Method::GET,
            "/v1/payment_intents?limit=3",
            "",
            &[("Stripe-Version", "2024-06-20")],
        )
        .await;
    assert_eq!(versioned.status, 404);
    let message = versioned.json()["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned();
    assert!(
        message.contains("Stripe-Version: 2024-06-20 ≠ 2026-07-29.dahlia"),
        "{message}"
    );

    // No API key: Stripe's own 401, before any lookup.
    let anonymous = rep
        .client
        .get(format!("{}/v1/payment_intents?limit=3", rep.base))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.expect("json");
    assert!(body["error"]["message"]
        .as_str()
        .expect("msg")
        .starts_with("You did not provide an API key."));

    // Another operation of the API, never recorded here: a replay miss.
    let other = rep.get("customers", "/v1/customers").await;
    assert_eq!(other.status, 404);
    assert!(String::from_utf8_lossy(&other.body).contains("has no recording of GET /v1/customers"));
    let summary = replayer.shutdown().await;
    assert_eq!(summary.misses, 3, "{summary}");
}
