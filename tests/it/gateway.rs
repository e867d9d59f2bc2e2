//! The Stripe-compatible JSON gateway of the source documents
//! (`shared/seeds/002_*.txt`, issue #22), end to end: the seed's own request
//! example recorded through the proxy with `--schema schema/gateway-002.json
//! --validate strict` (the stand-in in `--dialect gateway-002` as the
//! gateway), with the API base at the proxy and through `HTTPS_PROXY` with
//! `--intercept-host`; replayed with the gateway stopped, byte for byte;
//! card data and the client secret redacted on disk; `verify` clean; and
//! `audit --schema` telling the gateway's own parameters from Stripe's.

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use stripe_vcr::config::Config;
use stripe_vcr::server::{self, RunningProxy};
use stripe_vcr::stripe::validate::ValidationMode;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-vcr");
/// The gateway's host name, as the app's `HTTPS_PROXY` mode reaches it.
const GATEWAY_HOST: &str = "api.gateway.test";
/// The stand-in gateway's seed: the same answers in every run.
const SEED: u64 = 22;

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/gateway-002.json")
}

/// How the app reaches the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// The app's API base is the proxy (`https://127.0.0.1:PORT`).
    BaseUrl,
    /// The app keeps `https://api.gateway.test` and sets `HTTPS_PROXY`.
    HttpsProxy,
}

/// A client of the gateway through `proxy`, and the API base it uses.
fn client(proxy: &RunningProxy, ws: &Workspace, via: Via) -> (reqwest::Client, String) {
    let port = proxy.local_addr().port();
    let builder = trusting(&ws.ca()).http1_only();
    match via {
        Via::BaseUrl => (
            builder.no_proxy().build().expect("client"),
            format!("https://127.0.0.1:{port}"),
        ),
        Via::HttpsProxy => (
            builder
                .proxy(reqwest::Proxy::https(format!("http://127.0.0.1:{port}")).expect("proxy url"))
                .build()
                .expect("client"),
            format!("https://{GATEWAY_HOST}"),
        ),
    }
}

/// One answer as the app saw it.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// `POST /v1/payment_intents` with `body` as JSON, the way a gateway client sends it.
async fn create(client: &reqwest::Client, base: &str, key: &str, body: &Value) -> Answer {
    let resp = client
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("send");
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("body"),
    }
}

/// The proxy as the README's gateway section runs it: the gateway's
/// schema, strict validation, its host intercepted.
fn gateway_config(mut config: Config, validation: ValidationMode) -> Config {
    config.schema = Some(schema());
    config.validation = validation;
    config.intercept_hosts = vec![GATEWAY_HOST.to_owned()];
    config
}

/// The seed's example with one change.
fn example_with(change: impl FnOnce(&mut Value)) -> Value {
    let mut body = gateway_example();
    change(&mut body);
    body
}

/// What a recording session left: the workspace, the cassette's name and
/// text, and the answer the app got.
struct Recorded {
    ws: Workspace,
    cassette: String,
    text: String,
    answer: Answer,
}

/// Records the seed's example against the stand-in gateway, `via` the
/// given connection mode, with strict validation against the gateway's
/// schema; checks what strict validation refuses on the way.
async fn record(via: Via) -> Recorded {
    let ws = Workspace::new();
    let gateway = Standin::start_gateway(SEED);
    let proxy = server::start(gateway_config(record_config(&ws, &gateway), ValidationMode::Strict))
        .await
        .expect("record proxy starts");
    let (client, base) = client(&proxy, &ws, via);

    let answer = create(&client, &base, RECORD_KEY, &gateway_example()).await;
    assert_eq!(answer.status, 200, "{via:?}: {}", String::from_utf8_lossy(&answer.body));
    let intent = answer.json();
    assert_eq!(intent["currency"], "USD", "the gateway's upper-case currency");
    assert_eq!(intent["quantity"], 2);
    assert!(intent.as_object().expect("object").contains_key("3ds_status"));
    let created = intent["created"].as_i64().expect("created");
    assert!(created > 1_700_000_000_000, "milliseconds: {created}");
    assert_eq!(intent["payment_method_types"], r#"["wechat_pay","alipay","card"]"#);

    // A string where the gateway's schema says integer: refused by the
    // proxy with Stripe's 400, never forwarded nor recorded.
    let refused = create(&client, &base, RECORD_KEY, &example_with(|b| b["amount"] = "10".into())).await;
    assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(&refused.body));
    assert_eq!(refused.headers["stripe-vcr-error"], "validation");
    let error = &refused.json()["error"];
    assert_eq!(error["message"], r#"Invalid integer: "10""#);
    assert_eq!(error["param"], "amount");
    assert_eq!(error["code"], "parameter_invalid_integer");
    assert_eq!(error["type"], "invalid_request_error");

    let summary = proxy.shutdown().await;
    gateway.stop();
    assert_eq!((summary.recorded, summary.errors), (1, 1), "{via:?}: {summary}");
    let files = ws.cassette_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let cassette = files[0].clone();
    assert!(
        cassette.starts_with("create-") && cassette.ends_with("-001.json"),
        "{cassette}"
    );
    let text = ws.all_cassette_text();
    Recorded {
        ws,
        cassette,
        text,
        answer,
    }
}

/// What must hold of a cassette of the seed's example on disk.
fn assert_redacted_and_typed(recorded: &Recorded) {
    let text = &recorded.text;
    let secret = recorded.answer.json()["client_secret"]
        .as_str()
        .expect("client_secret")
        .to_owned();
    let (id, random) = secret.split_once("_secret_").expect("a client secret");
    for leaked in ["4111111111111111", "\"cvc\"", "\"123\"", random] {
        assert!(!text.contains(leaked), "{leaked} on disk:\n{text}");
    }
    assert!(
        text.contains("************1111"),
        "card number masked, last four kept:\n{text}"
    );
    assert!(text.contains(&format!("{id}_secret_REDACTED")), "{text}");
    let cassette: Value = serde_json::from_str(text).expect("cassette JSON");
    let request = &cassette["request"];
    assert_eq!(request["body_encoding"], "json");
    // JSON types are kept in the stored request (and its key).
    assert_eq!(request["params"]["amount"], json!(10));
    assert_eq!(request["params"]["quantity"], json!(2));
    assert_eq!(request["params"]["confirm"], json!(true));
    assert_eq!(
        request["params"]["payment_method_data"]["card"]["exp_month"],
        json!("12")
    );
}

/// Replays the recording `via` the given mode with the gateway stopped:
/// the app gets the recorded answer byte for byte (its client secret's
/// placeholder aside).
async fn replay(recorded: &Recorded, via: Via) {
    let ws = &recorded.ws;
    let proxy = server::start(gateway_config(replay_config(ws), ValidationMode::Strict))
        .await
        .expect("replay proxy starts");
    let (client, base) = client(&proxy, ws, via);
    let answer = create(&client, &base, REPLAY_KEY, &gateway_example()).await;
    assert_eq!(answer.status, 200, "{via:?}: {}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.headers["stripe-vcr-cassette"], recorded.cassette.as_str());
    let recorded_body = String::from_utf8_lossy(&recorded.answer.body);
    let replayed_body = String::from_utf8_lossy(&answer.body);
    assert_eq!(replayed_body, redact_client_secrets(&recorded_body), "{via:?}");
    // What a JSON round trip could have changed is untouched.
    let created = recorded.answer.json()["created"].to_string();
    for verbatim in [
        format!(r#""created": {created}"#),
        r#""payment_method_types": "[\"wechat_pay\",\"alipay\",\"card\"]""#.to_owned(),
        r#""payment_method_options": "{\"card\":{\"request_three_d_secure\":\"auto\",\"capture_method\":\"automatic\"}}""#
            .to_owned(),
        r#""3ds_status": null"#.to_owned(),
        r#""currency": "USD""#.to_owned(),
    ] {
        assert!(replayed_body.contains(&verbatim), "{verbatim} not in\n{replayed_body}");
    }
    assert_eq!(
        answer.headers["request-id"], recorded.answer.headers["request-id"],
        "recorded headers too"
    );

    // Strict validation holds in replay too, before any lookup.
    let refused = create(
        &client,
        &base,
        REPLAY_KEY,
        &example_with(|b| b["quantity"] = "2".into()),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["message"], r#"Invalid integer: "2""#);
    proxy.shutdown().await;
}

/// `stripe-vcr verify` over the recording passes.
fn verify(ws: &Workspace) {
    let out = Command::new(BIN)
        .arg("verify")
        .arg("--cassettes")
        .arg(ws.cassettes())
        .output()
        .expect("run verify");
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_records_and_replays_byte_for_byte_with_the_proxy_as_api_base() {
    let recorded = record(Via::BaseUrl).await;
    assert_redacted_and_typed(&recorded);
    replay(&recorded, Via::BaseUrl).await;
    verify(&recorded.ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_records_and_replays_byte_for_byte_through_https_proxy() {
    let recorded = record(Via::HttpsProxy).await;
    assert_redacted_and_typed(&recorded);
    replay(&recorded, Via::HttpsProxy).await;
    verify(&recorded.ws);
    // The connection mode is not part of the request: a recording made
    // through HTTPS_PROXY serves an app whose API base is the proxy.
    replay(&recorded, Via::BaseUrl).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_types_are_kept_and_a_typed_miss_names_the_types() {
    let recorded = record(Via::BaseUrl).await;
    let ws = &recorded.ws;
    // Warn mode: requests of other types reach the lookup.
    let proxy = server::start(gateway_config(replay_config(ws), ValidationMode::Warn))
        .await
        .expect("replay proxy starts");
    let (client, base) = client(&proxy, ws, Via::BaseUrl);
    let miss = create(&client, &base, REPLAY_KEY, &example_with(|b| b["amount"] = "10".into())).await;
    assert_eq!(miss.status, 404, "\"10\" is not 10");
    assert_eq!(miss.headers["stripe-vcr-error"], "replay-miss");
    let message = miss.json()["error"]["message"].as_str().expect("message").to_owned();
    assert!(
        message.contains(&format!(
            r#"Closest recording: {} (POST /v1/payment_intents), which differs in amount: "10" (string) ≠ 10 (integer)"#,
            recorded.cassette
        )),
        "{message}"
    );
    let null = create(
        &client,
        &base,
        REPLAY_KEY,
        &example_with(|b| b["description"] = Value::Null),
    )
    .await;
    assert_eq!(null.status, 404, "null is not a value");
    assert!(
        null.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(r#"description: null (null) ≠ "product description" (string)"#)),
        "{:?}",
        null.body
    );
    // The same parameters as a form: a form says only text, so it differs
    // from this recording exactly where the recording has a number or a
    // boolean, and nowhere else.
    let form = client
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(REPLAY_KEY)
        .form(&form_of(&gateway_example()))
        .send()
        .await
        .expect("send");
    assert_eq!(form.status(), 404);
    let message = form.json::<Value>().await.expect("json")["error"]["message"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.ends_with(
            r#"which differs in amount: "10" (string) ≠ 10 (integer); confirm: "true" (string) ≠ true (boolean); quantity: "2" (string) ≠ 2 (integer). Re-record, or make the request match."#
        )),
        "{message}"
    );
    proxy.shutdown().await;
}

/// A JSON object as form fields in bracket notation, every value as text.
fn form_of(value: &Value) -> Vec<(String, String)> {
    fn walk(path: String, value: &Value, out: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}[{k}]")
                    };
                    walk(child, v, out);
                }
            }
            Value::String(s) => out.push((path, s.clone())),
            other => out.push((path, other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(String::new(), value, &mut out);
    out
}

/// `stripe-vcr audit --format json` over `ws`, with `extra` arguments.
fn audit(ws: &Workspace, extra: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("audit")
        .arg("--cassettes")
        .arg(ws.cassettes())
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run audit");
    assert!(out.status.success(), "audit: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// The report's line for one parameter path of `create`.
fn param<'a>(report: &'a Value, path: &str) -> &'a Value {
    report["endpoints"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["endpoint"] == "create"))
        .and_then(|e| e["params"].as_array())
        .and_then(|p| p.iter().find(|p| p["path"] == path))
        .unwrap_or_else(|| panic!("{path} not in the report: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_with_the_gateway_schema_documents_its_own_parameters_and_not_stripes() {
    let recorded = record(Via::BaseUrl).await;
    let ws = &recorded.ws;
    // An app that also sends a Stripe-only parameter, recorded without
    // strict validation: the gateway refuses it, and the 400 is recorded.
    let gateway = Standin::start_gateway(SEED);
    let proxy = server::start(gateway_config(record_config(ws, &gateway), ValidationMode::Warn))
        .await
        .expect("record proxy starts");
    let (client, base) = client(&proxy, ws, Via::BaseUrl);
    let stripe_only = example_with(|b| b["capture_method"] = "manual".into());
    let refused = create(&client, &base, RECORD_KEY, &stripe_only).await;
    assert_eq!(refused.status, 400, "the gateway does not know it");
    assert_eq!(
        refused.json()["error"]["message"],
        "Received unknown parameter: capture_method"
    );
    proxy.shutdown().await;
    gateway.stop();
    assert_eq!(ws.cassette_files().len(), 2, "{:?}", ws.cassette_files());

    let schema = schema();
    let report = audit(ws, &["--schema", schema.to_str().expect("utf-8 path")]);
    for own in ["quantity", "merchant_user_id", "merchant_order_id"] {
        assert_eq!(param(&report, own)["documented"], true, "{own}: {report}");
        assert_eq!(param(&report, own)["requests"], 2, "{own}");
    }
    assert_eq!(param(&report, "capture_method")["documented"], false);
    let undocumented = report["findings"]["undocumented"].as_array().expect("undocumented");
    assert!(
        undocumented.iter().any(|u| u["path"] == "capture_method"),
        "{undocumented:?}"
    );
    assert!(
        !undocumented.iter().any(|u| u["path"] == "quantity"),
        "{undocumented:?}"
    );
    // Kinds are the JSON types sent: the expiry is a string of digits.
    assert_eq!(param(&report, "amount")["kinds"], json!(["integer"]));
    assert_eq!(param(&report, "confirm")["kinds"], json!(["boolean"]));
    assert_eq!(
        param(&report, "payment_method_data[card][exp_month]")["kinds"],
        json!(["string"])
    );
    assert_eq!(report["totals"]["invalid_requests"], 1, "the Stripe-only request");

    // Judged against Stripe's own schema, it is the other way round.
    let stripe = audit(ws, &[]);
    assert_eq!(param(&stripe, "quantity")["documented"], false);
    assert_eq!(param(&stripe, "merchant_user_id")["documented"], false);
    assert_eq!(param(&stripe, "capture_method")["documented"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_stand_in_is_deterministic_and_both_modes_record_the_same_cassette() {
    let direct = record(Via::BaseUrl).await;
    let tunnelled = record(Via::HttpsProxy).await;
    assert_eq!(direct.cassette, tunnelled.cassette, "one request, one name");
    assert_eq!(direct.answer.body, tunnelled.answer.body, "seeded: the same answer");
    let without_time = |text: &str| {
        let mut cassette: Value = serde_json::from_str(text).expect("cassette");
        cassette["recorded_at"] = Value::Null;
        cassette
    };
    assert_eq!(without_time(&direct.text), without_time(&tunnelled.text));
}
