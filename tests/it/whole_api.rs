//! The whole API in one recording (issue #18): a checkout that goes beyond
//! Payment Intents (customers, payment methods, refunds, charges, events,
//! a v2 call with `Stripe-Context`) is recorded against the seeded stand-in
//! with strict validation, named per operation, replayed offline with the
//! upstream stopped, and explained on a miss by the closest recording of the
//! same operation; `--record-paths` narrows what is saved; and the secret
//! every other resource carries (session client secrets, ephemeral keys,
//! webhook secrets, one-time link URLs, card data sent to `/v1/tokens`)
//! never reaches disk, while `verify` flags each one planted by hand.

use crate::common::*;
use reqwest::Method;
use serde_json::Value;
use stripe_vcr::cli::verify::verify_dir;
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::stripe::validate::ValidationMode;

/// A JSON request, as Stripe's v2 API takes them.
async fn post_json(app: &Api, label: &str, path: &str, body: &str, context: &str) -> Seen {
    app.send(
        label,
        Method::POST,
        path,
        body,
        &[("content-type", "application/json"), ("stripe-context", context)],
    )
    .await
}

fn id(seen: &Seen) -> String {
    seen.json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no id in {:?}", seen.label, seen.body))
        .to_owned()
}

/// The checkout: every answer, in order.
async fn checkout(app: &Api) -> Vec<Seen> {
    let mut seen = Vec::new();
    let customer = app
        .post(
            "customer",
            "/v1/customers",
            "email=jenny.rosen%40example.com&name=Jenny+Rosen",
        )
        .await;
    let cus = id(&customer);
    seen.push(customer);
    let pm = app
        .post(
            "payment method",
            "/v1/payment_methods",
            "type=card&card[token]=tok_visa",
        )
        .await;
    let pm_id = id(&pm);
    seen.push(pm);
    seen.push(
        app.post(
            "attach",
            &format!("/v1/payment_methods/{pm_id}/attach"),
            &format!("customer={cus}"),
        )
        .await,
    );
    let intent = app
        .post(
            "intent",
            "/v1/payment_intents",
            &format!(
                "amount=2500&currency=usd&customer={cus}&payment_method={pm_id}&setup_future_usage=off_session&payment_method_types[]=card"
            ),
        )
        .await;
    let pi = id(&intent);
    seen.push(intent);
    seen.push(
        app.post("confirm", &format!("/v1/payment_intents/{pi}/confirm"), "")
            .await,
    );
    seen.push(
        app.post("refund", "/v1/refunds", &format!("payment_intent={pi}&amount=500"))
            .await,
    );
    seen.push(app.get("charges", &format!("/v1/charges?payment_intent={pi}")).await);
    seen.push(app.get("customer again", &format!("/v1/customers/{cus}")).await);
    seen.push(
        app.get("cards", &format!("/v1/customers/{cus}/payment_methods?type=card"))
            .await,
    );
    seen.push(app.get("events", "/v1/events?limit=3").await);
    seen.push(
        post_json(
            app,
            "v2 destination",
            "/v2/core/event_destinations",
            r#"{"name":"hooks","type":"webhook_endpoint","event_payload":"thin","enabled_events":["v1.billing.meter.error_report_triggered"],"webhook_endpoint":{"url":"https://example.com/v2"}}"#,
            "acct_1Context",
        )
        .await,
    );
    seen
}

fn strict(mut config: stripe_vcr::config::Config) -> stripe_vcr::config::Config {
    config.validation = ValidationMode::Strict;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_beyond_payment_intents_replays_offline_with_no_404() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(18);
    let recorder = stripe_vcr::server::start(strict(record_config(&ws, &standin)))
        .await
        .expect("record starts");
    let recorded = checkout(&api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY)).await;
    for s in &recorded {
        assert_eq!(s.status, 200, "{}: {}", s.label, String::from_utf8_lossy(&s.body));
    }
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!(summary.recorded as usize, recorded.len(), "{summary}");

    // One cassette per request, named for its operation.
    assert_eq!(
        operation_names(&ws),
        [
            "charges.list",
            "confirm",
            "create",
            "customers.create",
            "customers.payment_methods.list",
            "customers.retrieve",
            "events.list",
            "payment_methods.attach",
            "payment_methods.create",
            "refunds.create",
            "v2.core.event_destinations.create",
        ]
    );
    let v2 = ws
        .cassette_files()
        .into_iter()
        .find(|n| n.starts_with("v2."))
        .expect("v2 cassette");
    let v2: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.cassettes().join(v2)).expect("read")).expect("json");
    assert_eq!(v2["request"]["headers"]["stripe-context"], "acct_1Context", "{v2}");
    assert_eq!(v2["request"]["body_encoding"], "json");
    let report = verify_dir(&ws.cassettes(), Redactor::standard(), false).expect("verify");
    assert!(report.ok, "{}", report.to_text());

    // Offline, strict, another key: the same answers.
    let replayer = stripe_vcr::server::start(strict(replay_config(&ws)))
        .await
        .expect("replay starts");
    let app = api(&replayer, &ws.ca(), Connect::Tunnel, false, REPLAY_KEY);
    let replayed = checkout(&app).await;
    for (r, p) in recorded.iter().zip(&replayed) {
        assert_eq!(p.status, r.status, "{}", p.label);
        assert_eq!(
            redact_client_secrets(&String::from_utf8_lossy(&p.body)),
            redact_client_secrets(&String::from_utf8_lossy(&r.body)),
            "{}",
            p.label
        );
    }

    // A typo in the customer id: the closest recording of the same operation.
    let cus = id(&recorded[0]);
    let typo = format!("{}X", &cus[..cus.len() - 1]);
    let miss = app.get("typo", &format!("/v1/customers/{typo}")).await;
    assert_eq!(miss.status, 404);
    assert_eq!(miss.headers["stripe-vcr-error"], "replay-miss");
    let closest = miss.headers["stripe-vcr-closest"].to_str().expect("ascii");
    assert!(closest.starts_with("customers.retrieve-"), "{closest}");
    // Strict validation knows the whole API: an unknown parameter is
    // Stripe's 400, before any lookup.
    let unknown = app.post("unknown", "/v1/customers", "email=a%40b.co&emial=x").await;
    assert_eq!(unknown.status, 400, "{:?}", unknown.body);
    let error = &unknown.json()["error"];
    assert_eq!(error["param"], "emial");
    assert!(
        error["message"].as_str().unwrap_or_default().contains("emial"),
        "{error}"
    );
    let summary = replayer.shutdown().await;
    assert_eq!(summary.hits as usize, recorded.len(), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_paths_narrow_what_is_saved() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(19);
    let mut config = record_config(&ws, &standin);
    config.record_paths = vec!["/v1/payment_intents*".to_owned()];
    let recorder = stripe_vcr::server::start(config).await.expect("record starts");
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let customer = app.post("customer", "/v1/customers", "email=a%40b.co").await;
    assert_eq!(customer.status, 200, "forwarded all the same");
    let intent = app
        .post("intent", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    assert_eq!(intent.status, 200);
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!((summary.recorded, summary.forwarded), (1, 1), "{summary}");
    let files = ws.cassette_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("create-"), "{files:?}");
}

/// Each resource that carries a secret, the request that makes one, and
/// where the secret is in the answer (a JSON pointer).
const SECRET_BEARERS: &[(&str, &str, &str, &str)] = &[
    ("setup intent", "/v1/setup_intents", "payment_method_types[]=card", "/client_secret"),
    (
        "customer session",
        "/v1/customer_sessions",
        "customer={cus}&components[payment_element][enabled]=true",
        "/client_secret",
    ),
    (
        "hosted checkout",
        "/v1/checkout/sessions",
        "mode=payment&success_url=https://example.com/ok&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=500&line_items[0][price_data][product_data][name]=T&line_items[0][quantity]=1",
        "/url",
    ),
    (
        "embedded checkout",
        "/v1/checkout/sessions",
        "mode=setup&ui_mode=embedded&return_url=https://example.com/back&currency=usd",
        "/client_secret",
    ),
    ("ephemeral key", "/v1/ephemeral_keys", "customer={cus}", "/secret"),
    (
        "webhook endpoint",
        "/v1/webhook_endpoints",
        "url=https://example.com/hook&enabled_events[]=payment_intent.succeeded",
        "/secret",
    ),
    (
        "account link",
        "/v1/account_links",
        "account=acct_1Connected&type=account_onboarding&refresh_url=https://example.com/r&return_url=https://example.com/b",
        "/url",
    ),
    ("login link", "/v1/accounts/acct_1Connected/login_links", "", "/url"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_any_resource_reaches_disk_and_verify_flags_each() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(20);
    let recorder = start_record(&ws, &standin).await;
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let cus = id(&app.post("customer", "/v1/customers", "email=a%40b.co").await);
    let mut secrets: Vec<(String, String)> = Vec::new();
    for (label, path, form, pointer) in SECRET_BEARERS {
        let seen = app.post(label, path, &form.replace("{cus}", &cus)).await;
        assert_eq!(seen.status, 200, "{label}: {}", String::from_utf8_lossy(&seen.body));
        let secret = seen.json().pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let secret = secret.unwrap_or_else(|| panic!("{label}: nothing at {pointer} in {:?}", seen.body));
        secrets.push(((*label).to_owned(), secret));
    }
    // Card data sent to /v1/tokens, in the request.
    const CVC: &str = "739";
    let token = app
        .post(
            "token",
            "/v1/tokens",
            &format!("card[number]=4000056655665556&card[exp_month]=12&card[exp_year]=2031&card[cvc]={CVC}"),
        )
        .await;
    assert_eq!(token.status, 200, "{:?}", token.body);
    // v2: the signing secret, shown once.
    let v2 = post_json(
        &app,
        "v2 destination",
        "/v2/core/event_destinations",
        r#"{"name":"hooks","type":"webhook_endpoint","event_payload":"thin","enabled_events":["v1.billing.meter.error_report_triggered"],"webhook_endpoint":{"url":"https://example.com/v2"},"include":["webhook_endpoint.signing_secret"]}"#,
        "acct_1Context",
    )
    .await;
    let v2_secret = v2.json()["webhook_endpoint"]["signing_secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no v2 signing secret in {:?}", v2.body))
        .to_owned();
    secrets.push(("v2 signing secret".to_owned(), v2_secret));
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!(summary.recorded as usize, SECRET_BEARERS.len() + 3, "{summary}");

    let on_disk = ws.all_cassette_text();
    for (label, secret) in &secrets {
        // The random part: what follows the last `_` or `/` of the secret.
        let random = secret.rsplit(['_', '/', '#']).next().expect("random part");
        assert!(random.len() >= 8, "{label}: {secret}");
        assert!(!on_disk.contains(random), "{label}: {secret} reached disk");
    }
    assert!(!on_disk.contains("4000056655665556"), "card number on disk");
    assert!(
        !on_disk.contains(&format!("\"cvc\": \"{CVC}\"")),
        "security code on disk"
    );
    let report = verify_dir(&ws.cassettes(), Redactor::standard(), false).expect("verify");
    assert!(report.ok, "{}", report.to_text());

    // Planted back by hand, each is flagged by `verify`.
    let file = ws.cassette_files().into_iter().next().expect("a cassette");
    let path = ws.cassettes().join(&file);
    let original = std::fs::read_to_string(&path).expect("read");
    for (label, secret) in &secrets {
        let mut v: Value = serde_json::from_str(&original).expect("json");
        v["response"]["body"]["planted"] = Value::String(secret.clone());
        std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");
        let report = verify_dir(&ws.cassettes(), Redactor::standard(), false).expect("verify");
        assert!(!report.ok, "{label}: {secret} planted and not flagged");
    }
    std::fs::write(&path, original).expect("restore");
}

/// A multipart upload with `boundary` around `file`.
fn upload(boundary: &str, file: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\ndispute_evidence\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"receipt.txt\"\r\nContent-Type: text/plain\r\n\r\n{file}\r\n\
         --{boundary}--\r\n"
    )
}

/// Posts an upload of `file` under `boundary`.
async fn post_upload(app: &Api, label: &str, boundary: &str, file: &str) -> Seen {
    let content_type = format!("multipart/form-data; boundary={boundary}");
    app.send(
        label,
        Method::POST,
        "/v1/files",
        &upload(boundary, file),
        &[("content-type", &content_type)],
    )
    .await
}

/// Posts `text` as a `text/plain` body.
async fn post_text(app: &Api, label: &str, text: &str) -> Seen {
    app.send(
        label,
        Method::POST,
        "/v1/widgets",
        text,
        &[("content-type", "text/plain")],
    )
    .await
}

/// The operations the workspace's cassettes are named for, sorted.
fn operation_names(ws: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = ws
        .cassette_files()
        .iter()
        .map(|n| n.split('-').next().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_and_bodies_of_any_type_record_and_replay_by_content() {
    let ws = Workspace::new();
    let standin = Standin::start_seeded(21);
    let recorder = start_record(&ws, &standin).await;
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let sent_upload = post_upload(&app, "upload", "RecordBoundary1", "receipt 6735").await;
    let sent_text = post_text(&app, "text body", "plain words").await;
    let summary = recorder.shutdown().await;
    standin.stop();
    assert_eq!(summary.recorded, 2, "{summary}");
    let on_disk = ws.all_cassette_text();
    assert!(
        !on_disk.contains("receipt 6735"),
        "an uploaded file's bytes are never stored"
    );
    assert!(on_disk.contains("\"purpose\": \"dispute_evidence\""), "{on_disk}");
    assert!(on_disk.contains("\"file\": \"sha256:"), "{on_disk}");
    assert!(on_disk.contains("\"body\": \"sha256:"), "{on_disk}");
    assert_eq!(operation_names(&ws), ["files.create", "widgets.create"]);

    let replayer = start_replay(&ws).await;
    let app = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    // Another boundary, as every SDK picks a new one: the same upload.
    let again = post_upload(&app, "upload again", "ReplayBoundary22", "receipt 6735").await;
    assert_eq!((again.status, &again.body), (sent_upload.status, &sent_upload.body));
    let other_file = post_upload(&app, "another file", "B", "receipt 6736").await;
    assert_eq!(other_file.headers["stripe-vcr-error"], "replay-miss");
    let text = post_text(&app, "text again", "plain words").await;
    assert_eq!((text.status, &text.body), (sent_text.status, &sent_text.body));
    let other_text = post_text(&app, "other text", "plain word").await;
    assert_eq!(other_text.status, 404);
    assert!(
        String::from_utf8_lossy(&other_text.body).contains("(raw body)"),
        "{:?}",
        other_text.body
    );
    let summary = replayer.shutdown().await;
    assert_eq!((summary.hits, summary.misses), (2, 2), "{summary}");
}
