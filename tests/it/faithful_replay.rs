//! Faithful replay (issue #15): the app sees what it saw while recording,
//! through idempotent retries, keys reused after a validation failure or on
//! another endpoint, identical requests arriving together, re-recordings of
//! a shorter session, `expand` in any order; and every answer the proxy
//! makes itself carries a `Request-Id`.

use std::time::Duration;

use crate::common::*;
use reqwest::Method;
use stripe_vcr::config::ModeConfig;
use stripe_vcr::server::{self, RunningProxy};

const CREATE: &str = "amount=700&currency=usd";

/// A create with the given `Idempotency-Key`, as an SDK or `curl -H` sends it.
async fn create_with_key(api: &Api, key: &str) -> Seen {
    api.send(
        key,
        Method::POST,
        "/v1/payment_intents",
        CREATE,
        &[("Idempotency-Key", key)],
    )
    .await
}

/// The ids a run of creates answered with, in order.
async fn ids_for_keys(api: &Api, keys: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for key in keys {
        let seen = create_with_key(api, key).await;
        assert_eq!(seen.status, 200, "{key}: {}", String::from_utf8_lossy(&seen.body));
        ids.push(seen.json()["id"].as_str().expect("id").to_owned());
    }
    ids
}

async fn reset(api: &Api) {
    let reset = api
        .client
        .post(format!("{}/__stripe-vcr/reset", api.base))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
}

/// A record proxy over `ws` against `standin`, with `configure` applied to its config.
async fn record_with(
    ws: &Workspace,
    standin: &Standin,
    configure: impl FnOnce(&mut stripe_vcr::config::Config),
) -> (RunningProxy, Api) {
    let mut config = record_config(ws, standin);
    configure(&mut config);
    let proxy = server::start(config).await.expect("record proxy starts");
    let client = api(&proxy, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    (proxy, client)
}

fn cassette_json(ws: &Workspace, name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(ws.cassettes().join(name)).expect("read")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_key_replays_what_the_recording_saw_in_either_interleaving() {
    // Recorded with keys A, A (a retry Stripe answers from its saved result), B.
    let session = Recording::start().await;
    let recorded = ids_for_keys(&session.api, &["key-a", "key-a", "key-b"]).await;
    assert_eq!(recorded[0], recorded[1], "the stand-in replays A's result");
    assert_ne!(recorded[1], recorded[2]);
    let (ws, _) = session.finish().await;
    let files = ws.cassette_files();
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        cassette_json(&ws, &files[1])["request"]["reuses_idempotency_key_of"],
        files[0].as_str(),
        "the retry names the cassette that first used its key (never the key)"
    );
    for file in &files {
        let request = cassette_json(&ws, file)["request"].to_string();
        assert!(
            !request.contains("key-a"),
            "the relation is stored, not the key: {request}"
        );
    }

    // Replayed with fresh keys, in the recorded order and with the retry late.
    let (replayer, rep) = replaying(&ws).await;
    assert_eq!(ids_for_keys(&rep, &["run-1", "run-1", "run-2"]).await, recorded);
    reset(&rep).await;
    let late = ids_for_keys(&rep, &["run-3", "run-4", "run-3"]).await;
    assert_eq!(late, [recorded[0].clone(), recorded[2].clone(), recorded[1].clone()]);
    // A third use of the key gets the saved result again, as from Stripe.
    let again = create_with_key(&rep, "run-3").await;
    assert_eq!(again.json()["id"], recorded[0].as_str());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(
        rep.stats().await["sets"]["sets"]["(default)"]["unused"],
        0,
        "every recording was served"
    );
    replayer.shutdown().await;

    // Recorded with the retry last (A, B, A), replayed as A, A, B.
    let session = Recording::start().await;
    let recorded = ids_for_keys(&session.api, &["key-a", "key-b", "key-a"]).await;
    let (ws, _) = session.finish().await;
    let (replayer, rep) = replaying(&ws).await;
    let replayed = ids_for_keys(&rep, &["run-1", "run-1", "run-2"]).await;
    assert_eq!(
        replayed,
        [recorded[0].clone(), recorded[2].clone(), recorded[1].clone()]
    );
    replayer.shutdown().await;
}

/// A create with `form` and the given `Idempotency-Key`.
async fn send(api: &Api, key: &str, form: &str) -> Seen {
    api.send(
        key,
        Method::POST,
        "/v1/payment_intents",
        form,
        &[("Idempotency-Key", key)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_saved_only_once_the_endpoint_ran_and_is_bound_to_its_endpoint() {
    let session = Recording::start().await;
    let rec = &session.api;
    // A validation failure saves nothing: the same key with corrected
    // parameters runs normally (recorded with one key, and with two).
    assert_eq!(send(rec, "same", "currency=usd").await.status, 400);
    let corrected = send(rec, "same", "amount=701&currency=usd").await;
    assert_eq!(corrected.status, 200, "{:?}", corrected.body);
    assert_eq!(send(rec, "first", "currency=eur").await.status, 400);
    let other = send(rec, "second", "amount=702&currency=eur").await;
    assert_eq!(other.status, 200);
    // A key used on create, and another on cancel.
    let created = send(rec, "create-key", CREATE).await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    let cancel = format!("/v1/payment_intents/{id}/cancel");
    let key = [("Idempotency-Key", "cancel-key")];
    assert_eq!(rec.send("cancel", Method::POST, &cancel, "", &key).await.status, 200);
    let (ws, _) = session.finish().await;

    let (replayer, rep) = replaying(&ws).await;
    // Recorded with one key: the recording's own pattern.
    assert_eq!(send(&rep, "k1", "currency=usd").await.status, 400);
    let again = send(&rep, "k1", "amount=701&currency=usd").await;
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(again.json()["id"], corrected.json()["id"]);
    // Recorded with two keys, replayed with one: Stripe's rule decides.
    assert_eq!(send(&rep, "k2", "currency=eur").await.status, 400);
    let again = send(&rep, "k2", "amount=702&currency=eur").await;
    assert_eq!(again.status, 200, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(again.json()["id"], other.json()["id"]);
    // A key first used on create, sent to cancel: Stripe's endpoint message.
    assert_eq!(send(&rep, "k3", CREATE).await.status, 200);
    let key = [("Idempotency-Key", "k3")];
    let refused = rep.send("cancel", Method::POST, &cancel, "", &key).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.headers["stripe-vcr-error"], "idempotency-key-other-endpoint");
    let error = &refused.json()["error"];
    assert_eq!(error["type"], "idempotency_error");
    assert_eq!(
        error["message"],
        format!("Keys for idempotent requests can only be used for the same endpoint they were first used for ('{cancel}' vs '/v1/payment_intents'). Try using a key other than 'k3' if you meant to execute a different request.")
    );
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrences_are_numbered_in_order_of_arrival_not_of_completion() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let (recorder, rec) = record_with(&ws, &standin, |_| {}).await;
    let direct = trusting(&standin.ca).no_proxy().build().expect("client");
    // The first request is held upstream until the second has been answered.
    let held = {
        let (client, base) = (rec.client.clone(), rec.base.clone());
        tokio::spawn(async move {
            client
                .post(format!("{base}/v1/payment_intents"))
                .bearer_auth(RECORD_KEY)
                .header("Stripe-Version", STRIPE_VERSION)
                .header("Standin-Hold", "first")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(CREATE)
                .send()
                .await
                .expect("held request")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        })
    };
    let arrived = direct
        .get(format!("{}/__standin/held/first", standin.url))
        .send()
        .await
        .expect("held?");
    assert_eq!(arrived.status(), 200, "the first request reached the upstream");
    let second = rec.post("second", "/v1/payment_intents", CREATE).await.json();
    let released = direct
        .post(format!("{}/__standin/release/first", standin.url))
        .send()
        .await
        .expect("release");
    assert_eq!(released.status(), 200);
    let first = held.await.expect("join");
    recorder.shutdown().await;
    let files = ws.cassette_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with("-001.json") && files[1].ends_with("-002.json"));
    assert_eq!(cassette_json(&ws, &files[0])["response"]["body"]["id"], first["id"]);
    assert_eq!(cassette_json(&ws, &files[1])["response"]["body"]["id"], second["id"]);

    let (replayer, rep) = replaying(&ws).await;
    assert_eq!(
        rep.post("1", "/v1/payment_intents", CREATE).await.json()["id"],
        first["id"]
    );
    assert_eq!(
        rep.post("2", "/v1/payment_intents", CREATE).await.json()["id"],
        second["id"]
    );
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_requests_arriving_together_get_consecutive_occurrences_with_reuse() {
    const KEPT: usize = 4;
    const NEW: usize = 8;
    let ws = Workspace::new();
    let standin = Standin::start();
    // A first session: four young cassettes of the same request.
    let (recorder, rec) = record_with(&ws, &standin, |_| {}).await;
    let mut young = Vec::new();
    for i in 0..KEPT {
        young.push(rec.post(&i.to_string(), "/v1/payment_intents", CREATE).await.json()["id"].clone());
    }
    recorder.shutdown().await;
    // A second session reuses them and records more, all sent at once.
    let (recorder, rec) = record_with(&ws, &standin, |c| {
        if let ModeConfig::Record {
            re_record_older_than, ..
        } = &mut c.mode
        {
            *re_record_older_than = Some(Duration::from_secs(3600));
        }
    })
    .await;
    let sends = (0..KEPT + NEW).map(|i| {
        let (client, base) = (rec.client.clone(), rec.base.clone());
        tokio::spawn(async move {
            let response = client
                .post(format!("{base}/v1/payment_intents"))
                .bearer_auth(RECORD_KEY)
                .header("Stripe-Version", STRIPE_VERSION)
                .header("Idempotency-Key", format!("together-{i}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(CREATE)
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.expect("json")["id"].clone()
        })
    });
    let mut answered = Vec::new();
    for send in sends.collect::<Vec<_>>() {
        answered.push(send.await.expect("join"));
    }
    recorder.shutdown().await;
    let files = ws.cassette_files();
    let expected: Vec<String> = (1..=KEPT + NEW).map(|n| format!("-{n:03}.json")).collect();
    assert_eq!(files.len(), KEPT + NEW, "no gap, no overwrite: {files:?}");
    for (file, suffix) in files.iter().zip(&expected) {
        assert!(file.ends_with(suffix.as_str()), "{files:?}");
    }
    let on_disk: Vec<serde_json::Value> = files
        .iter()
        .map(|f| cassette_json(&ws, f)["response"]["body"]["id"].clone())
        .collect();
    assert_eq!(on_disk[..KEPT], young[..], "the young cassettes were kept, each once");
    let mut distinct = on_disk.clone();
    distinct.sort_by_key(ToString::to_string);
    distinct.dedup();
    assert_eq!(distinct.len(), KEPT + NEW, "every occurrence is its own intent");
    let mut seen = answered.clone();
    seen.sort_by_key(ToString::to_string);
    assert_eq!(seen, distinct, "each client got one of them, none twice");

    let (replayer, rep) = replaying(&ws).await;
    for (n, id) in on_disk.iter().enumerate() {
        assert_eq!(
            &rep.post(&n.to_string(), "/v1/payment_intents", CREATE).await.json()["id"],
            id
        );
    }
    replayer.shutdown().await;
}

/// Records `times` identical creates against a stand-in seeded with `seed`;
/// returns the ids answered and the run's summary.
async fn record_session(
    ws: &Workspace,
    seed: u64,
    times: usize,
    keep_stale: bool,
) -> (Vec<serde_json::Value>, stripe_vcr::server::stats::Summary) {
    let standin = Standin::start_seeded(seed);
    let (recorder, rec) = record_with(ws, &standin, |c| {
        if let ModeConfig::Record {
            keep_stale_occurrences, ..
        } = &mut c.mode
        {
            *keep_stale_occurrences = keep_stale;
        }
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..times {
        ids.push(rec.post(&i.to_string(), "/v1/payment_intents", CREATE).await.json()["id"].clone());
    }
    let summary = recorder.shutdown().await;
    standin.stop();
    (ids, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_recording_a_shorter_session_removes_the_old_sessions_occurrences() {
    let ws = Workspace::new();
    let (old, _) = record_session(&ws, 1, 2, false).await;
    let files = ws.cassette_files();
    assert_eq!(files.len(), 2);
    let (new, summary) = record_session(&ws, 2, 1, false).await;
    assert_ne!(new[0], old[0], "another seed, other ids");
    assert_eq!(summary.stale_removed, [files[1].clone()], "listed in the summary");
    assert_eq!(ws.cassette_files(), [files[0].clone()]);
    let (replayer, rep) = replaying(&ws).await;
    for n in 0..2 {
        let id = rep.post(&n.to_string(), "/v1/payment_intents", CREATE).await.json()["id"].clone();
        assert_eq!(id, new[0], "only the new session is served");
    }
    replayer.shutdown().await;

    // --keep-stale-occurrences keeps them, as the user asked.
    let ws = Workspace::new();
    record_session(&ws, 1, 2, false).await;
    let (_, summary) = record_session(&ws, 2, 1, true).await;
    assert!(summary.stale_removed.is_empty());
    assert_eq!(ws.cassette_files().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_in_any_order_hits_and_cassettes_named_before_that_still_load() {
    let session = Recording::start().await;
    let created = session.api.post("create", "/v1/payment_intents", CREATE).await.json();
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/v1/payment_intents/{id}?expand[]=latest_charge&expand[]=customer");
    assert_eq!(session.api.get("retrieve", &path).await.status, 200);
    let (ws, _) = session.finish().await;
    let (replayer, rep) = replaying(&ws).await;
    for query in [
        "expand[0]=customer&expand[1]=latest_charge",
        "expand[]=latest_charge&expand[]=customer&expand[]=customer",
    ] {
        let seen = rep.get(query, &format!("/v1/payment_intents/{id}?{query}")).await;
        assert_eq!(seen.status, 200, "{query}: {}", String::from_utf8_lossy(&seen.body));
    }
    replayer.shutdown().await;

    // A cassette written before `expand` was a set: its stored request keeps
    // the order it was sent in, and its name is the hash of that.
    let retrieve = ws
        .cassette_files()
        .into_iter()
        .find(|f| f.starts_with("retrieve-"))
        .expect("retrieve cassette");
    let mut old = cassette_json(&ws, &retrieve);
    old["request"]["params"]["expand"] = serde_json::json!(["latest_charge", "customer"]);
    let request = &old["request"];
    let canonical = serde_json::json!({
        "method": request["method"], "path": request["path"],
        "params": request["params"], "headers": request["headers"],
    });
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(serde_json::to_vec(&canonical).expect("json")))
    };
    let old_name = format!("retrieve-{}-001.json", &digest[..20]);
    std::fs::remove_file(ws.cassettes().join(&retrieve)).expect("remove");
    let mut bytes = serde_json::to_vec_pretty(&old).expect("json");
    bytes.push(b'\n');
    std::fs::write(ws.cassettes().join(&old_name), bytes).expect("write");

    let (replayer, rep) = replaying(&ws).await;
    let seen = rep
        .get(
            "old",
            &format!("/v1/payment_intents/{id}?expand[]=customer&expand[]=latest_charge"),
        )
        .await;
    assert_eq!(seen.status, 200, "{}", String::from_utf8_lossy(&seen.body));
    replayer.shutdown().await;

    let redactor = stripe_vcr::stripe::redact::Redactor::standard();
    let report = stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), redactor, false).expect("verify");
    assert!(report.ok, "not tampered: {:?}", report.problems);
    assert_eq!(report.renames.len(), 1);
    assert_eq!(
        (report.renames[0].from.as_str(), report.renames[0].to.as_str()),
        (old_name.as_str(), retrieve.as_str())
    );
    let fixed = stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), redactor, true).expect("fix");
    assert_eq!(fixed.renames[0].outcome.as_deref(), Some("renamed"));
    assert!(ws.cassette_files().contains(&retrieve));
    let after = stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), redactor, false).expect("verify");
    assert!(after.ok && after.renames.is_empty(), "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_the_proxy_makes_itself_carry_a_request_id() {
    let session = Recording::start().await;
    session.api.post("create", "/v1/payment_intents", CREATE).await;
    let (ws, _) = session.finish().await;
    let mut config = replay_config(&ws);
    config.validation = stripe_vcr::stripe::validate::ValidationMode::Strict;
    let replayer = server::start(config).await.expect("replay starts");
    let rep = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    let request_id = |seen: &Seen| {
        let id = seen
            .headers
            .get("request-id")
            .expect("a Request-Id")
            .to_str()
            .expect("ascii");
        assert!(id.starts_with("req_vcr_"), "{}: {id}", seen.label);
        id.to_owned()
    };
    let miss = rep.post("miss", "/v1/payment_intents", "amount=701&currency=usd").await;
    assert_eq!(miss.status, 404);
    let invalid = rep
        .post("invalid", "/v1/payment_intents", "amount=abc&currency=usd")
        .await;
    assert_eq!(invalid.status, 400);
    let no_key = Api {
        key: String::new(),
        ..api(&replayer, &ws.ca(), Connect::Direct, false, "")
    };
    let unauthenticated = rep
        .client
        .get(format!("{}/v1/payment_intents", no_key.base))
        .send()
        .await
        .expect("send");
    assert_eq!(unauthenticated.status(), 401);
    let bad_set = rep
        .send(
            "bad set",
            Method::GET,
            "/v1/payment_intents",
            "",
            &[("Stripe-Vcr-Cassette", "../x")],
        )
        .await;
    assert_eq!(bad_set.status, 400);
    let health = rep
        .client
        .get(format!("{}/__stripe-vcr/health", rep.base))
        .send()
        .await
        .expect("health");
    assert!(health.headers()["request-id"]
        .to_str()
        .expect("ascii")
        .starts_with("req_vcr_"));
    let ids = [request_id(&miss), request_id(&invalid), request_id(&bad_set)];
    assert!(unauthenticated.headers()["request-id"]
        .to_str()
        .expect("ascii")
        .starts_with("req_vcr_"));
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");
    let again = rep
        .post("miss again", "/v1/payment_intents", "amount=701&currency=usd")
        .await;
    assert_eq!(request_id(&again), ids[0], "the same request, the same id");
    replayer.shutdown().await;
}
