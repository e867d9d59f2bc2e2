//! Webhooks (issue #19): events `stripe listen` forwards during a recording
//! are linked to the interaction they followed, saved (redacted, never
//! their signature) and forwarded to the app unchanged; replay delivers
//! them after serving that interaction, in their recorded order, signed
//! afresh with the replay's secret, retries an app that fails, and lets a
//! test wait for them (`POST /__stripe-vcr/webhooks/flush`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use stripe_vcr::mode::webhooks::WebhookConfig;
use stripe_vcr::server::RunningProxy;
use stripe_vcr::stripe::webhook::{sign, verify};

use crate::common::*;

const LISTEN_SECRET: &str = "whsec_StripeListenSecret0000000001";
const REPLAY_SECRET: &str = "whsec_ReplaySecretForTheApp000002";

/// One delivery the app received.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    body: Bytes,
}

/// A webhook endpoint on an ephemeral loopback port that records what it
/// gets and answers with the statuses it is given, then 200.
struct App {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl App {
    async fn start(mut statuses: Vec<u16>) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        statuses.reverse();
        let statuses = Arc::new(Mutex::new(statuses));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (log, statuses) = (log.clone(), statuses.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (log, statuses) = (log.clone(), statuses.clone());
                        async move {
                            let signature = req
                                .headers()
                                .get("stripe-signature")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            log.lock().expect("log").push(Received { signature, body });
                            let status = statuses.lock().expect("statuses").pop().unwrap_or(200);
                            let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
                            *response.status_mut() = StatusCode::from_u16(status).expect("status");
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        App { addr, received }
    }

    fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }
}

/// An event as Stripe sends it.
fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({
        "id": id, "object": "event", "api_version": STRIPE_VERSION, "created": 1_767_225_600,
        "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
        "request": {"id": "req_1", "idempotency_key": null}, "type": kind
    })
}

/// A replay proxy over `ws` delivering to `app` with the replay's secret,
/// its webhook settings then adjusted by `configure`.
async fn replaying_to(ws: &Workspace, app: &App, configure: impl FnOnce(&mut WebhookConfig)) -> RunningProxy {
    let mut config = replay_config(ws);
    config.webhooks = WebhookConfig {
        forward_to: Some(app.url()),
        secret: Some(REPLAY_SECRET.to_owned()),
        ..WebhookConfig::new()
    };
    configure(&mut config.webhooks);
    stripe_vcr::server::start(config).await.expect("replay starts")
}

/// What `stripe listen` does: posts the event, signed, to the proxy.
async fn forward_as_stripe_listen(proxy_port: u16, event: &Value) -> (u16, Value) {
    let body = serde_json::to_vec_pretty(event).expect("json");
    let now = now();
    let resp = http_client()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("http://127.0.0.1:{proxy_port}/__stripe-vcr/webhooks"))
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", sign(LISTEN_SECRET, &body, now))
        .body(body)
        .send()
        .await
        .expect("post event");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

async fn admin(port: u16, method: reqwest::Method, path: &str) -> Value {
    http_client()
        .no_proxy()
        .build()
        .expect("client")
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await
        .expect("admin")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_replay_in_order_freshly_signed_after_what_they_followed() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(19);
    let recording_app = App::start(vec![]).await;
    let mut config = record_config(&ws, &standin);
    config.webhooks = WebhookConfig {
        forward_to: Some(recording_app.url()),
        secret: Some(LISTEN_SECRET.to_owned()),
        ..WebhookConfig::new()
    };
    let recorder = stripe_vcr::server::start(config).await.expect("record starts");
    let port = recorder.local_addr().port();
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let intent = app
        .post(
            "create",
            "/v1/payment_intents",
            "amount=1500&currency=usd&payment_method=pm_card_visa&payment_method_types[]=card",
        )
        .await;
    let pi = intent.json()["id"].as_str().expect("id").to_owned();
    let confirmed = app
        .post("confirm", &format!("/v1/payment_intents/{pi}/confirm"), "")
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let secret = intent.json()["client_secret"]
        .as_str()
        .expect("client secret")
        .to_owned();
    let events = [
        event(
            "evt_1Created",
            "payment_intent.created",
            json!({"id": pi, "object": "payment_intent", "client_secret": secret}),
        ),
        event(
            "evt_2Succeeded",
            "payment_intent.succeeded",
            json!({"id": pi, "object": "payment_intent", "status": "succeeded"}),
        ),
        event(
            "evt_3Charge",
            "charge.succeeded",
            json!({"id": "ch_1", "object": "charge", "payment_intent": pi}),
        ),
        event("evt_4Balance", "balance.available", json!({"object": "balance"})),
    ];
    for e in &events {
        let (status, answer) = forward_as_stripe_listen(port, e).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["app_status"], 200, "{answer}");
    }
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!(summary.webhooks.recorded, 4, "{summary}");

    // Forwarded unchanged, with stripe listen's signature, while recording.
    let forwarded = recording_app.received();
    assert_eq!(forwarded.len(), 4);
    for (got, sent) in forwarded.iter().zip(&events) {
        assert_eq!(serde_json::from_slice::<Value>(&got.body).expect("json"), *sent);
        assert_eq!(verify(&got.signature, &got.body, LISTEN_SECRET, now(), 300), Ok(()));
    }
    // Saved in order, after the interaction each followed; no secret.
    let names = ws.cassette_files();
    let event_files: Vec<&String> = names.iter().filter(|n| n.starts_with("webhook-")).collect();
    assert_eq!(
        event_files,
        [
            "webhook-001-payment_intent.created.json",
            "webhook-002-payment_intent.succeeded.json",
            "webhook-003-charge.succeeded.json",
            "webhook-004-balance.available.json"
        ]
    );
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(ws.cassettes().join(name)).expect("read")).expect("json")
    };
    let confirm_file = names
        .iter()
        .find(|n| n.starts_with("confirm-"))
        .expect("confirm cassette");
    for name in &event_files {
        assert_eq!(read(name)["after"], json!(confirm_file), "{name}");
        assert_eq!(read(name)["app"]["status"], 200, "{name}");
    }
    let on_disk = ws.all_cassette_text();
    assert!(!on_disk.contains(&secret[secret.len() - 10..]), "client secret on disk");
    assert!(!on_disk.contains("StripeListenSecret"), "signing secret on disk");
    assert!(
        !on_disk.to_lowercase().contains("stripe-signature"),
        "signature on disk"
    );
    let report =
        stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), stripe_vcr::stripe::redact::Redactor::standard(), false)
            .expect("verify");
    assert!(report.ok && report.events == 4, "{}", report.to_text());

    // Replay, to an app with its own secret.
    let replay_app = App::start(vec![]).await;
    let replayer = replaying_to(&ws, &replay_app, |_| {}).await;
    let port = replayer.local_addr().port();
    let app = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    app.post(
        "create",
        "/v1/payment_intents",
        "amount=1500&currency=usd&payment_method=pm_card_visa&payment_method_types[]=card",
    )
    .await;
    let nothing_yet = admin(port, reqwest::Method::POST, "/__stripe-vcr/webhooks/flush").await;
    assert_eq!(nothing_yet["delivered"], json!([]), "nothing followed the create");
    app.post("confirm", &format!("/v1/payment_intents/{pi}/confirm"), "")
        .await;
    let flushed = admin(port, reqwest::Method::POST, "/__stripe-vcr/webhooks/flush").await;
    assert_eq!(flushed["failed"], 0, "{flushed}");
    let delivered = replay_app.received();
    let ids: Vec<String> = delivered
        .iter()
        .map(|d| {
            serde_json::from_slice::<Value>(&d.body).expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids, ["evt_1Created", "evt_2Succeeded", "evt_3Charge", "evt_4Balance"]);
    for d in &delivered {
        assert_eq!(
            verify(&d.signature, &d.body, REPLAY_SECRET, now(), 300),
            Ok(()),
            "signed afresh"
        );
        assert!(
            verify(&d.signature, &d.body, LISTEN_SECRET, now(), 300).is_err(),
            "not with the recording's secret"
        );
    }
    let first: Value = serde_json::from_slice(&delivered[0].body).expect("json");
    assert!(
        first["data"]["object"]["client_secret"]
            .as_str()
            .is_some_and(|s| s.ends_with("_secret_REDACTED")),
        "{first}"
    );
    let stats = app.stats().await;
    assert_eq!(stats["sets"]["webhooks"]["delivered"], 4, "{stats}");
    let listed = admin(port, reqwest::Method::GET, "/__stripe-vcr/webhooks").await;
    assert_eq!(listed["delivered"].as_array().map(Vec::len), Some(4), "{listed}");
    assert_eq!(listed["pending"]["(default)"], 0, "{listed}");
    let summary = replayer.shutdown().await;
    assert_eq!(
        (summary.webhooks.delivered, summary.webhooks.failed),
        (4, 0),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_fails_is_retried_then_reported() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(20);
    let recorder = start_record(&ws, &standin).await;
    let port = recorder.local_addr().port();
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let customer = app.post("customer", "/v1/customers", "email=a%40b.co").await;
    let cus = customer.json()["id"].as_str().expect("id").to_owned();
    let (status, _) = forward_as_stripe_listen(
        port,
        &event(
            "evt_Customer",
            "customer.created",
            json!({"id": cus, "object": "customer"}),
        ),
    )
    .await;
    assert_eq!(status, 200, "no app while recording: received");
    recorder.shutdown().await;
    standin.stop();

    // The app fails twice, then takes it: delivered on the third attempt.
    let flaky = App::start(vec![500, 503]).await;
    let replayer = replaying_to(&ws, &flaky, |w| w.retries = 2).await;
    let port = replayer.local_addr().port();
    api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY)
        .post("customer", "/v1/customers", "email=a%40b.co")
        .await;
    let flushed = admin(port, reqwest::Method::POST, "/__stripe-vcr/webhooks/flush").await;
    assert_eq!(flushed["delivered"][0]["attempts"], 3, "{flushed}");
    assert_eq!(flushed["delivered"][0]["ok"], true, "{flushed}");
    assert_eq!(flaky.received().len(), 3);
    replayer.shutdown().await;

    // An app that never takes it: given up on after the retries, counted.
    let broken = App::start(vec![500; 10]).await;
    let replayer = replaying_to(&ws, &broken, |w| w.retries = 1).await;
    let port = replayer.local_addr().port();
    api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY)
        .post("customer", "/v1/customers", "email=a%40b.co")
        .await;
    let listed = admin(port, reqwest::Method::POST, "/__stripe-vcr/webhooks/flush").await;
    assert_eq!(listed["failed"], 1, "{listed}");
    assert_eq!(broken.received().len(), 2, "one attempt and one retry");
    let summary = replayer.shutdown().await;
    assert_eq!(summary.webhooks.failed, 1, "{summary}");
    assert!(summary.to_string().contains("1 webhook deliveries FAILED"), "{summary}");
}

/// A recorded session with four events after the confirm: the workspace and
/// the Payment Intent's id.
async fn recorded_session(seed: u64) -> (Workspace, String) {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(seed);
    let recorder = start_record(&ws, &standin).await;
    let port = recorder.local_addr().port();
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let intent = app
        .post(
            "create",
            "/v1/payment_intents",
            "amount=900&currency=usd&payment_method=pm_card_visa",
        )
        .await;
    let pi = intent.json()["id"].as_str().expect("id").to_owned();
    app.post("confirm", &format!("/v1/payment_intents/{pi}/confirm"), "")
        .await;
    for (n, kind) in [
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.updated",
    ]
    .iter()
    .enumerate()
    {
        let e = event(&format!("evt_{n}"), kind, json!({"id": pi, "object": "payment_intent"}));
        forward_as_stripe_listen(port, &e).await;
    }
    recorder.shutdown().await;
    standin.stop();
    (ws, pi)
}

/// Replays the session with `faults`; the event ids the app got, in order.
async fn delivered_with(ws: &Workspace, pi: &str, faults: impl FnOnce(&mut WebhookConfig)) -> Vec<String> {
    let app = App::start(vec![]).await;
    let replayer = replaying_to(ws, &app, faults).await;
    let port = replayer.local_addr().port();
    let client = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    client
        .post(
            "create",
            "/v1/payment_intents",
            "amount=900&currency=usd&payment_method=pm_card_visa",
        )
        .await;
    client
        .post("confirm", &format!("/v1/payment_intents/{pi}/confirm"), "")
        .await;
    admin(port, reqwest::Method::POST, "/__stripe-vcr/webhooks/flush").await;
    replayer.shutdown().await;
    app.received()
        .iter()
        .map(|d| {
            assert_eq!(verify(&d.signature, &d.body, REPLAY_SECRET, now(), 300), Ok(()));
            serde_json::from_slice::<Value>(&d.body).expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_shuffle_reach_the_app_as_asked_and_the_same_every_run() {
    let (ws, pi) = recorded_session(23).await;
    let plain = delivered_with(&ws, &pi, |_| {}).await;
    assert_eq!(plain, ["evt_0", "evt_1", "evt_2", "evt_3"]);
    let twice = delivered_with(&ws, &pi, |w| w.duplicates = true).await;
    assert_eq!(
        twice,
        ["evt_0", "evt_0", "evt_1", "evt_1", "evt_2", "evt_2", "evt_3", "evt_3"]
    );
    let shuffled = delivered_with(&ws, &pi, |w| w.shuffle = true).await;
    assert_ne!(shuffled, plain, "out of order");
    let mut sorted = shuffled.clone();
    sorted.sort();
    assert_eq!(sorted, plain, "each once");
    assert_eq!(
        delivered_with(&ws, &pi, |w| w.shuffle = true).await,
        shuffled,
        "seeded: the same order again"
    );
    let delayed = delivered_with(&ws, &pi, |w| w.delay = Some(std::time::Duration::from_millis(20))).await;
    assert_eq!(delayed, plain, "a delay keeps the order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_events_can_be_sent_by_hand() {
    let (ws, _) = recorded_session(24).await;
    let app = App::start(vec![]).await;
    let args = stripe_vcr::cli::args::WebhooksSendArgs {
        cassettes: ws.cassettes(),
        set: None,
        event: None,
        event_type: Some("charge.succeeded".to_owned()),
        to: app.url(),
        secret: REPLAY_SECRET.to_owned(),
    };
    let code = stripe_vcr::cli::commands::webhooks_send(&args).await.expect("sent");
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let got = app.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&got[0].body).expect("json")["type"],
        "charge.succeeded"
    );
    assert_eq!(
        verify(&got[0].signature, &got[0].body, REPLAY_SECRET, now(), 300),
        Ok(())
    );
    let none = stripe_vcr::cli::args::WebhooksSendArgs {
        event_type: Some("invoice.paid".to_owned()),
        ..args
    };
    assert!(
        stripe_vcr::cli::commands::webhooks_send(&none).await.is_err(),
        "nothing matches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_audited_diffed_and_pruned_with_their_interaction() {
    let (ws, _) = recorded_session(25).await;
    // audit: event types per set.
    let report = stripe_vcr::cli::audit::gather(
        Some(&ws.cassettes()),
        &[],
        stripe_vcr::stripe::validate::schema::Schema::builtin(),
    )
    .expect("audit");
    assert_eq!(
        report.webhook_events.get("charge.succeeded"),
        Some(&1),
        "{:?}",
        report.webhook_events
    );
    assert_eq!(report.webhook_events.values().sum::<usize>(), 4);

    // diff: an event whose object changed, and one only the old recording has.
    let copy = Workspace::new();
    std::fs::create_dir_all(copy.cassettes()).expect("mkdir");
    for name in ws.cassette_files() {
        std::fs::copy(ws.cassettes().join(&name), copy.cassettes().join(&name)).expect("copy");
    }
    let same = stripe_vcr::cli::diff::diff_dirs(&ws.cassettes(), &copy.cassettes()).expect("diff");
    assert!(same.is_clean(), "{same:?}");
    let changed = copy.cassettes().join("webhook-003-charge.succeeded.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&changed).expect("read")).expect("json");
    v["event"]["data"]["object"]["amount"] = json!(901);
    std::fs::write(&changed, serde_json::to_string_pretty(&v).expect("json")).expect("write");
    std::fs::remove_file(copy.cassettes().join("webhook-004-charge.updated.json")).expect("rm");
    let diff = stripe_vcr::cli::diff::diff_dirs(&ws.cassettes(), &copy.cassettes()).expect("diff");
    assert_eq!(diff.changed.len(), 1, "{diff:?}");
    assert_eq!(diff.changed[0].request, "webhook charge.succeeded #1");
    assert_eq!(diff.only_old, ["webhook-004-charge.updated.json"]);

    // prune: a run that never confirmed leaves the confirm and its events unused.
    let log = ws.cassettes().parent().expect("parent").join("run.jsonl");
    let mut config = replay_config(&ws);
    config.audit_log = Some(log.clone());
    let replayer = stripe_vcr::server::start(config).await.expect("replay starts");
    api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY)
        .post(
            "create",
            "/v1/payment_intents",
            "amount=900&currency=usd&payment_method=pm_card_visa",
        )
        .await;
    replayer.shutdown().await;
    let unused = stripe_vcr::cli::prune::unused(&ws.cassettes(), &[log]).expect("unused");
    assert_eq!(unused.len(), 5, "the confirm and its four events: {unused:?}");
    assert!(unused.iter().any(|n| n.starts_with("confirm-")), "{unused:?}");
    assert_eq!(
        unused.iter().filter(|n| n.starts_with("webhook-")).count(),
        4,
        "{unused:?}"
    );
}
