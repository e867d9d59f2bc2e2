//! Request-shape checking through the proxy: Stripe's own errors in strict
//! mode (byte-for-byte with the seed pages' examples), the same error for every
//! SDK's encoding, warnings that let the request through, nothing forwarded
//! in strict record mode, and a gateway schema supplied with --schema.

use std::path::PathBuf;

use crate::common::*;
use stripe_vcr::config::{Config, ModeConfig};
use stripe_vcr::stripe::validate::ValidationMode;

async fn replay_proxy(
    ws: &Workspace,
    mode: ValidationMode,
    schema: Option<PathBuf>,
) -> stripe_vcr::server::RunningProxy {
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    stripe_vcr::server::start(Config {
        mode: ModeConfig::replay(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        validation: mode,
        schema,
        ..Config::default()
    })
    .await
    .expect("starts")
}

fn error_fields(seen: &Seen) -> serde_json::Value {
    let mut v = seen.json();
    // The per-request dashboard link is the one field that cannot match.
    if let Some(e) = v["error"].as_object_mut() {
        e.remove("request_log_url");
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_reproduces_the_seed_pages_errors() {
    let ws = Workspace::new();
    let proxy = replay_proxy(&ws, ValidationMode::Strict, None).await;
    let api = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);

    // shared/seeds/003 (and 000, 001): list, 400.
    let seen = api.get("expand[1]", "/v1/payment_intents?expand[1]=x").await;
    assert_eq!(seen.status, 400);
    assert_eq!(seen.headers["stripe-should-retry"], "false");
    assert_eq!(seen.headers["stripe-vcr-error"], "validation");
    assert_eq!(
        error_fields(&seen),
        serde_json::json!({"error": {
            "message": "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the keys `1`, we expected to have a key with the value `0`.",
            "param": "expand",
            "type": "invalid_request_error"
        }})
    );

    // Create, 400: "Invalid integer: <integer>" with the value sent.
    let seen = api
        .post("amount=abc", "/v1/payment_intents", "amount=abc&currency=usd")
        .await;
    assert_eq!(seen.status, 400);
    assert_eq!(
        error_fields(&seen),
        serde_json::json!({"error": {
            "code": "parameter_invalid_integer",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-integer",
            "message": "Invalid integer: abc",
            "param": "amount",
            "type": "invalid_request_error"
        }})
    );
    // Key order is Stripe's too (alphabetical).
    let text = String::from_utf8_lossy(&seen.body);
    let positions: Vec<usize> = ["\"code\"", "\"doc_url\"", "\"message\"", "\"param\"", "\"type\""]
        .iter()
        .map(|k| text.find(k).expect("field"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");

    // Search, 400.
    let seen = api
        .get("bad query", "/v1/payment_intents/search?query=colour%3A%27red%27")
        .await;
    assert_eq!(seen.status, 400);
    assert_eq!(
        error_fields(&seen),
        serde_json::json!({"error": {
            "code": "parameter_invalid_string",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-invalid-string",
            "message": "Provide a query parameter with a valid search query string.",
            "param": "query",
            "type": "invalid_request_error"
        }})
    );
    let summary = proxy.shutdown().await;
    assert_eq!((summary.errors, summary.misses), (3, 0), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sdk_encoding_of_a_bad_request_gets_the_same_error() {
    let ws = Workspace::new();
    let proxy = replay_proxy(&ws, ValidationMode::Strict, None).await;
    let api = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    let encodings = [
        // stripe-python: insertion order, `+` for spaces, indexed arrays.
        "amount=2000&currency=usd&description=A+gift&shipping[name]=Jenny+Rosen&shipping[adress][city]=Paris&payment_method_types[0]=card",
        // stripe-node: %20 for spaces, Object.keys order.
        "amount=2000&currency=usd&description=A%20gift&payment_method_types[0]=card&shipping[name]=Jenny%20Rosen&shipping[adress][city]=Paris",
        // stripe-go: map keys sorted, brackets literal in keys only.
        "amount=2000&currency=usd&description=A+gift&payment_method_types[0]=card&shipping[adress][city]=Paris&shipping[name]=Jenny+Rosen",
        // Percent-encoded brackets, `[]` arrays (curl, the Stripe CLI).
        "shipping%5Badress%5D%5Bcity%5D=Paris&shipping%5Bname%5D=Jenny%20Rosen&payment_method_types[]=card&description=A+gift&currency=usd&amount=2000",
    ];
    let mut bodies = Vec::new();
    for body in encodings {
        let seen = api.post("encoding", "/v1/payment_intents", body).await;
        assert_eq!(seen.status, 400, "{body}");
        bodies.push(seen.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let error: serde_json::Value = serde_json::from_slice(&bodies[0]).expect("json");
    assert_eq!(error["error"]["code"], "parameter_unknown");
    assert_eq!(error["error"]["param"], "shipping[adress]");
    assert_eq!(
        error["error"]["message"],
        "Received unknown parameter: shipping[adress]. Did you mean address?"
    );
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_mode_lets_the_request_through_and_says_what_is_wrong() {
    let ws = Workspace::new();
    let proxy = replay_proxy(&ws, ValidationMode::Warn, None).await;
    let api = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    let seen = api.post("typo", "/v1/payment_intents", "amount=2000&curency=usd").await;
    // Nothing recorded, so replay's own miss comes back: the request went on.
    assert_eq!(seen.status, 404);
    assert_eq!(seen.headers["stripe-vcr-error"], "replay-miss");
    let findings: Vec<&str> = seen
        .headers
        .get_all("stripe-vcr-validation")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect();
    assert_eq!(
        findings,
        [
            "parameter_unknown: Received unknown parameter: curency. Did you mean currency?",
            "parameter_missing: Missing required param: currency."
        ]
    );
    let clean = api
        .post("clean", "/v1/payment_intents", "amount=2000&currency=usd")
        .await;
    assert!(clean.headers.get("stripe-vcr-validation").is_none());
    proxy.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_record_mode_never_forwards_a_bad_request() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let mut config = record_config(&ws, &standin);
    config.validation = ValidationMode::Strict;
    let recorder = stripe_vcr::server::start(config).await.expect("starts");
    let api = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let bad = api.post("bad", "/v1/payment_intents", "amount=12.5&currency=usd").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.headers["stripe-vcr-error"], "validation");
    assert!(
        ws.cassette_files().is_empty(),
        "a locally answered request is not recorded"
    );
    let good = api
        .post("good", "/v1/payment_intents", "amount=1250&currency=usd")
        .await;
    assert_eq!(good.status, 200);
    let summary = recorder.shutdown().await;
    assert_eq!((summary.recorded, summary.errors), (1, 1), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_schema_accepts_its_json_example_and_enforces_its_rules() {
    let ws = Workspace::new();
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/gateway-002.json");
    let proxy = replay_proxy(&ws, ValidationMode::Strict, Some(schema)).await;
    let api = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    // The request example of shared/seeds/002, verbatim.
    let example = gateway_example();
    let send = |body: serde_json::Value| {
        let api = &api;
        async move {
            let resp = api
                .client
                .post(format!("{}/v1/payment_intents", api.base))
                .bearer_auth(REPLAY_KEY)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("stripe-vcr-error")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let body: serde_json::Value = resp.json().await.expect("json");
            (status, kind, body)
        }
    };
    let (status, kind, body) = send(example.clone()).await;
    assert_eq!(
        (status, kind.as_deref()),
        (404, Some("replay-miss")),
        "valid, so it reached replay: {body}"
    );

    let mut no_confirm = example.clone();
    no_confirm.as_object_mut().expect("object").remove("confirm");
    let (status, _, body) = send(no_confirm).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "return_url");

    let mut lower = example.clone();
    lower["currency"] = "usd".into();
    let (status, _, body) = send(lower).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "currency");

    let mut stripe_only = example;
    stripe_only["capture_method"] = "manual".into();
    let (status, _, body) = send(stripe_only).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Received unknown parameter: capture_method");
    proxy.shutdown().await;
}

/// The schema refresh of issue #15, through the proxy in strict mode: current
/// parameters pass, enums Stripe does not enforce take new values, the
/// statement-descriptor limits hold, parameters below the third level are
/// checked, and confirm's `mandate_data` needs its `customer_acceptance`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_knows_todays_parameters_at_every_depth() {
    let ws = Workspace::new();
    let proxy = replay_proxy(&ws, ValidationMode::Strict, None).await;
    let api = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    let create = "/v1/payment_intents";
    let confirm = "/v1/payment_intents/pi_1/confirm";

    // Valid: validation lets them through to replay, which has no recording.
    let passes = [
        (
            "radar_options[referrer]",
            create,
            "amount=2000&currency=usd&radar_options[referrer]=https%3A%2F%2Fshop.example%2Fcheckout",
        ),
        (
            "card[network]",
            create,
            "amount=2000&currency=usd&payment_method_options[card][network]=a_network_added_later",
        ),
        (
            "p24[bank]",
            confirm,
            "payment_method_data[type]=p24&payment_method_data[p24][bank]=a_new_bank",
        ),
        (
            "fpx[bank]",
            confirm,
            "payment_method_data[type]=fpx&payment_method_data[fpx][bank]=a_new_bank",
        ),
    ];
    for (label, path, body) in passes {
        let seen = api.post(label, path, body).await;
        assert_eq!(seen.status, 404, "{label}: {:?}", seen.body);
        assert_eq!(seen.headers["stripe-vcr-error"], "replay-miss", "{label}");
    }

    // Refused with Stripe's own error.
    let unknown = "payment_method_options[card][mandate_options][colour]";
    let refusals = [
        (
            "kana",
            create.to_owned(),
            format!(
                "amount=2000&currency=usd&payment_method_options[card][statement_descriptor_suffix_kana]={}",
                "A".repeat(23)
            ),
            serde_json::json!({"error": {
                "message": format!("Invalid string: {}; must be at most 22 characters", "A".repeat(23)),
                "param": "payment_method_options[card][statement_descriptor_suffix_kana]",
                "type": "invalid_request_error"
            }}),
        ),
        (
            "increment_authorization",
            "/v1/payment_intents/pi_1/increment_authorization".to_owned(),
            "amount=500&statement_descriptor=ABCDEFGHIJKLMNOPQRSTUVW".to_owned(),
            serde_json::json!({"error": {
                "message": "Invalid string: ABCDEFGHIJKLMNOPQRSTUVW; must be at most 22 characters",
                "param": "statement_descriptor",
                "type": "invalid_request_error"
            }}),
        ),
        (
            "four levels deep",
            create.to_owned(),
            format!("amount=2000&currency=usd&{unknown}=red"),
            serde_json::json!({"error": {
                "code": "parameter_unknown",
                "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
                "message": format!("Received unknown parameter: {unknown}"),
                "param": unknown,
                "type": "invalid_request_error"
            }}),
        ),
    ];
    for (label, path, body, expected) in refusals {
        let seen = api.post(label, &path, &body).await;
        assert_eq!(seen.status, 400, "{label}");
        assert_eq!(seen.headers["stripe-vcr-error"], "validation", "{label}");
        assert_eq!(error_fields(&seen), expected, "{label}");
    }

    // A hash with nothing in it can only be sent as JSON.
    let seen = api
        .send(
            "mandate_data without customer_acceptance",
            reqwest::Method::POST,
            confirm,
            r#"{"payment_method":"pm_card_visa","mandate_data":{}}"#,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(seen.status, 400);
    assert_eq!(
        error_fields(&seen),
        serde_json::json!({"error": {
            "code": "parameter_missing",
            "doc_url": "https://stripe.com/docs/error-codes/parameter-missing",
            "message": "Missing required param: mandate_data[customer_acceptance].",
            "param": "mandate_data[customer_acceptance]",
            "type": "invalid_request_error"
        }})
    );
    let summary = proxy.shutdown().await;
    assert_eq!((summary.errors, summary.misses), (4, 4), "{summary}");
}
