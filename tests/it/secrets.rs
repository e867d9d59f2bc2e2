//! Secrets never reach disk (cassettes) or the logs, in any position; verify
//! catches any that do; live keys are refused unless allowed; the CA only
//! signs for the hosts the proxy intercepts.

use std::path::Path;

use crate::common::*;
use stripe_vcr::config::{Config, ModeConfig};
use stripe_vcr::stripe::redact::Redactor;

const USER_PATTERN: &str = r"jenny\.rosen@example\.com";

/// Secrets placed in every position a request or response can carry them.
const LIVE_IN_METADATA: &str = "sk_live_51MetadataLiveKey0000aaaa";
const WEBHOOK_IN_METADATA: &str = "whsec_WebhookSecretInMetadata1234";
const EPHEMERAL_IN_TEXT: &str = "ek_test_EphemeralKeyInDescription99";
const RESTRICTED_IN_TEXT: &str = "rk_test_RestrictedInDescription77";
const NESTED_IN_JSON: &str = "sk_test_JsonNestedSecret123456";
const IN_IDEMPOTENCY_KEY: &str = "sk_test_IdempotencyEchoSecret1";
const IN_PATH: &str = "sk_test_InPathSecret0000000001";
const IN_COOKIE: &str = "sk_test_CookieSecret000000000";
const CARD: &str = "4242424242424242";
const EMAIL: &str = "jenny.rosen@example.com";

fn client(ca: &Path) -> reqwest::Client {
    trusting(ca).no_proxy().build().expect("client")
}

/// Sends the corpus; returns the real client secret Stripe handed back.
async fn send_corpus(base: &str, ca: &Path) -> String {
    let c = client(ca);
    let form = format!(
        "amount=1500&currency=usd&receipt_email={EMAIL}&metadata[note]={LIVE_IN_METADATA}\
         &metadata[hook]={WEBHOOK_IN_METADATA}&description=keys+{EPHEMERAL_IN_TEXT}+and+{RESTRICTED_IN_TEXT}\
         &payment_method_data[type]=card&payment_method_data[card][number]={CARD}\
         &payment_method_data[card][cvc]=123&payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2030"
    );
    let created = c
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(RECORD_KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Idempotency-Key", format!("idem-{IN_IDEMPOTENCY_KEY}"))
        .header("Cookie", format!("session={IN_COOKIE}"))
        .body(form)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 200);
    let intent: serde_json::Value = created.json().await.expect("json");
    let id = intent["id"].as_str().expect("id").to_owned();
    let secret = intent["client_secret"].as_str().expect("secret").to_owned();
    assert!(!secret.contains("REDACTED"), "record mode returns the real answer");

    let json = c
        .post(format!("{base}/v1/payment_intents/{id}"))
        .bearer_auth(RECORD_KEY)
        .json(&serde_json::json!({"metadata": {"nested": [NESTED_IN_JSON]}}))
        .send()
        .await
        .expect("update");
    assert!(json.status().is_success() || json.status().is_client_error());
    let by_secret = c
        .get(format!("{base}/v1/payment_intents/{id}?client_secret={secret}"))
        .bearer_auth(RECORD_KEY)
        .send()
        .await
        .expect("retrieve");
    assert_eq!(by_secret.status(), 200);
    let echoed = c
        .get(format!("{base}/v1/payment_intents/{IN_PATH}"))
        .bearer_auth(RECORD_KEY)
        .send()
        .await
        .expect("unknown");
    assert_eq!(echoed.status(), 404);
    assert!(
        echoed.text().await.expect("text").contains(IN_PATH),
        "the upstream echoes the id in its error"
    );
    secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corpus_of_secrets_in_every_position_never_reaches_disk_or_logs() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = Binary::record(&ws, &standin, args!["--redact", USER_PATTERN], "stripe_vcr=debug");
    let base = format!("https://127.0.0.1:{}", recorder.port);
    let real_client_secret = send_corpus(&base, &ws.ca()).await;
    let exited = recorder.interrupt();
    assert!(exited.success, "{}", exited.stderr);
    standin.stop();

    let on_disk = ws.all_cassette_text();
    assert_eq!(ws.cassette_files().len(), 4, "{:?}", ws.cassette_files());
    let logs = format!("{}\n{}", exited.stdout.join("\n"), exited.stderr);
    assert!(
        logs.contains("recorded"),
        "the debug log should have request lines:\n{logs}"
    );
    for secret in [
        RECORD_KEY,
        LIVE_IN_METADATA,
        WEBHOOK_IN_METADATA,
        EPHEMERAL_IN_TEXT,
        RESTRICTED_IN_TEXT,
        NESTED_IN_JSON,
        IN_IDEMPOTENCY_KEY,
        IN_PATH,
        IN_COOKIE,
        CARD,
        EMAIL,
        real_client_secret.as_str(),
    ] {
        assert!(!on_disk.contains(secret), "{secret} reached a cassette");
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
    // A raw byte scan for anything key-shaped that is not a placeholder.
    let raw =
        regex::Regex::new(r"(sk|rk|ek)_(test|live)_[A-Za-z0-9]+|_secret_[A-Za-z0-9]+|whsec_[A-Za-z0-9]+").expect("re");
    for m in raw.find_iter(&on_disk) {
        assert!(m.as_str().ends_with("REDACTED"), "unredacted {}", m.as_str());
    }
    assert!(
        on_disk.contains("************4242"),
        "the card keeps its last four digits"
    );
    assert!(!on_disk.contains("\"cvc\""), "the security code is removed");
    assert!(!on_disk.to_lowercase().contains("cookie"));

    // verify agrees, with the same extra pattern.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-vcr"))
        .args(["verify", "--redact", USER_PATTERN, "--cassettes"])
        .arg(ws.cassettes())
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("OK: 4 cassettes"), "{text}");

    // Replay matches requests carrying the original secret or the placeholder.
    let config = Config {
        mode: ModeConfig::replay(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        redact_patterns: vec![USER_PATTERN.to_owned()],
        ..Config::default()
    };
    let replayer = stripe_vcr::server::start(config).await.expect("replay");
    let base = format!("https://127.0.0.1:{}", replayer.local_addr().port());
    let id = real_client_secret.split("_secret_").next().expect("id").to_owned();
    let redacted_secret = format!("{id}_secret_REDACTED");
    for secret in [&real_client_secret, &redacted_secret] {
        let resp = client(&ws.ca())
            .get(format!("{base}/v1/payment_intents/{id}?client_secret={secret}"))
            .bearer_auth(REPLAY_KEY)
            .send()
            .await
            .expect("retrieve");
        assert_eq!(resp.status(), 200, "{secret}");
    }
    let summary = replayer.shutdown().await;
    assert_eq!((summary.hits, summary.misses), (2, 0));
}

/// Rewrites one cassette file's JSON.
fn plant(dir: &Path, file: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join(file);
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_on_each_planted_secret_and_on_renamed_or_corrupted_files() {
    let session = Recording::start().await;
    let created = session
        .api
        .post("create", "/v1/payment_intents", "amount=900&currency=usd&metadata[k]=v")
        .await;
    assert_eq!(created.status, 200);
    let (ws, _) = session.finish().await;
    let clean = ws.cassettes();
    let file = ws.cassette_files().pop().expect("one cassette");
    let report = stripe_vcr::cli::verify::verify_dir(&clean, Redactor::standard(), false).expect("verify");
    assert!(report.ok, "{}", report.to_text());

    type Plant = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, &str, Plant)> = vec![
        (
            "request.params.metadata.k",
            "secret",
            Box::new(|v| v["request"]["params"]["metadata"]["k"] = "sk_live_planted1234567".into()),
        ),
        (
            "request.path",
            "secret",
            Box::new(|v| v["request"]["path"] = "/v1/payment_intents/sk_test_planted".into()),
        ),
        (
            "request.headers.stripe-account",
            "secret",
            Box::new(|v| v["request"]["headers"]["stripe-account"] = "rk_live_planted".into()),
        ),
        (
            "request.user_agent",
            "secret",
            Box::new(|v| v["request"]["user_agent"] = "agent ek_test_planted".into()),
        ),
        (
            "response.headers.x-planted",
            "secret",
            Box::new(|v| v["response"]["headers"]["x-planted"] = "whsec_planted==".into()),
        ),
        (
            "response.body.client_secret",
            "secret",
            Box::new(|v| v["response"]["body"]["client_secret"] = "pi_1_secret_planted99".into()),
        ),
        (
            "response.body.metadata.deep[0].x",
            "secret",
            Box::new(|v| v["response"]["body"]["metadata"]["deep"] = serde_json::json!([{"x": "see sk_test_planted"}])),
        ),
        (
            "response.body.payment_method_data.card.number",
            "card-number",
            Box::new(|v| {
                v["response"]["body"]["payment_method_data"] =
                    serde_json::json!({"card": {"number": "4000056655665556"}})
            }),
        ),
        (
            "request.params.card.cvc",
            "card-security-code",
            Box::new(|v| v["request"]["params"]["card"] = serde_json::json!({"cvc": "314"})),
        ),
        (
            "response.body.metadata.api_key",
            "high-entropy",
            Box::new(|v| v["response"]["body"]["metadata"]["api_key"] = "Q7vR2mX9kL4pZ8wN3bT6".into()),
        ),
        (
            "format_version",
            "format-version",
            Box::new(|v| v["format_version"] = 2.into()),
        ),
    ];
    for (i, (path, kind, edit)) in cases.into_iter().enumerate() {
        let dir = ws.dir.path().join(format!("planted-{i}"));
        copy_dir(&clean, &dir);
        plant(&dir, &file, edit);
        let report = stripe_vcr::cli::verify::verify_dir(&dir, Redactor::standard(), false).expect("verify");
        assert!(!report.ok, "{kind} at {path} not caught");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.kind == kind && p.path == path && p.file == file),
            "{kind} at {path} not reported as such:\n{}",
            report.to_text()
        );
        assert!(
            !report.to_text().contains("planted99"),
            "secrets are masked in the report"
        );
    }

    // A user pattern makes its own finding.
    let dir = ws.dir.path().join("planted-user");
    copy_dir(&clean, &dir);
    plant(&dir, &file, |v| {
        v["response"]["body"]["receipt_email"] = "jenny.rosen@example.com".into()
    });
    let redactor = Redactor::with_patterns(&[USER_PATTERN.to_owned()]).expect("pattern");
    assert!(
        stripe_vcr::cli::verify::verify_dir(&dir, Redactor::standard(), false)
            .expect("verify")
            .ok
    );
    assert!(
        !stripe_vcr::cli::verify::verify_dir(&dir, &redactor, false)
            .expect("verify")
            .ok
    );

    // Renamed, and corrupted, files; the binary exits non-zero and reports
    // both at once, as JSON too.
    let dir = ws.dir.path().join("broken");
    copy_dir(&clean, &dir);
    std::fs::rename(dir.join(&file), dir.join("create-0000000000000000000a-001.json")).expect("rename");
    std::fs::write(
        dir.join("list-truncated-001.json"),
        "{\n  \"format_version\": 1,\n  \"endp",
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-vcr"))
        .args(["verify", "--format", "json", "--cassettes"])
        .arg(&dir)
        .output()
        .expect("verify");
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["ok"], false);
    assert_eq!(report["cassettes"], 2);
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["name-mismatch", "unparseable"], "{report}");
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-vcr"))
        .args(["verify", "--cassettes"])
        .arg(&dir)
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("should be named {file}")), "{text}");
    assert!(text.contains("line 3"), "{text}");
    assert!(text.contains("FAILED: 2 problems in 2 of 2 cassettes"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_keys_are_refused_in_record_unless_allowed() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let live = "sk_live_51LiveKeyThatMustNotBeUsed9876";
    let recorder = start_record(&ws, &standin).await;
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, live);
    let refused = rec
        .post("create", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.headers["stripe-vcr-error"], "live-key-refused");
    let message = refused.json()["error"]["message"].as_str().expect("message").to_owned();
    assert!(
        message.contains("--allow-live-keys") && message.contains("sk_live_*"),
        "{message}"
    );
    assert!(!message.contains("LiveKeyThatMustNotBeUsed"), "{message}");
    // rk_live_ too, and Basic auth too.
    let basic = rec
        .client
        .get(format!("{}/v1/payment_intents", rec.base))
        .basic_auth("rk_live_restricted123456789", Some(""))
        .send()
        .await
        .expect("send");
    assert_eq!(basic.status(), 403);
    recorder.shutdown().await;
    assert!(ws.cassette_files().is_empty(), "nothing forwarded, nothing recorded");

    let mut config = record_config(&ws, &standin);
    if let ModeConfig::Record { upstream, .. } = &mut config.mode {
        upstream.allow_live_keys = true;
    }
    let recorder = stripe_vcr::server::start(config).await.expect("starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, live);
    let forwarded = rec
        .post("create", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    // The stand-in, like Stripe's test environment, rejects the key itself.
    assert_eq!(forwarded.status, 401);
    assert!(
        forwarded.headers.get("stripe-vcr-error").is_none(),
        "the upstream answered"
    );
    recorder.shutdown().await;
    assert_eq!(ws.cassette_files().len(), 1);
    assert!(!ws.all_cassette_text().contains("LiveKeyThatMustNotBeUsed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_key_is_refused_in_every_spelling_of_the_credentials() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let ws = Workspace::new();
    let standin = Standin::start();
    let live = "sk_live_51SpelledLiveKey0000zzzz";
    let recorder = start_record(&ws, &standin).await;
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, "unused");
    let spellings: Vec<Vec<String>> = vec![
        vec![format!("Basic {}", b64(&format!(":{live}")))],
        vec![format!("Bearer\t{live}")],
        vec![
            "Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc".to_owned(),
            format!("Bearer {live}"),
        ],
        vec![format!("Basic {}", b64(&format!("sk_test_x:{live}")))],
    ];
    for spelling in &spellings {
        let mut request = rec
            .client
            .post(format!("{}/v1/payment_intents", rec.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("amount=100&currency=usd");
        for value in spelling {
            request = request.header("Authorization", value.as_str());
        }
        let answer = request.send().await.expect("send");
        assert_eq!(answer.status(), 403, "{spelling:?}");
        assert_eq!(answer.headers()["stripe-vcr-error"], "live-key-refused", "{spelling:?}");
    }
    recorder.shutdown().await;
    assert!(ws.cassette_files().is_empty(), "nothing forwarded, nothing recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercept_host_extends_the_ca_and_an_old_ca_is_not_silently_widened() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    // A CA made without the extra host refuses to be reused for it.
    let plain = stripe_vcr::server::start(Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    })
    .await
    .expect("starts");
    plain.shutdown().await;
    let widened = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        intercept_hosts: vec!["api.gateway.test".into()],
        ..Config::default()
    };
    let err = stripe_vcr::server::start(widened.clone()).await.err().expect("refused");
    assert!(err.to_string().contains("api.gateway.test"), "{err}");

    // With a fresh CA, the extra host is intercepted through CONNECT.
    std::fs::remove_dir_all(ws.certs()).expect("rm certs");
    let proxy = stripe_vcr::server::start(widened).await.expect("starts");
    let client = trusting(&ws.ca())
        .proxy(reqwest::Proxy::https(format!("http://127.0.0.1:{}", proxy.local_addr().port())).expect("proxy"))
        .build()
        .expect("client");
    let resp = client
        .get("https://api.gateway.test/v1/payment_intents")
        .bearer_auth(REPLAY_KEY)
        .send()
        .await
        .expect("intercepted, with a certificate the client trusts");
    assert_eq!(resp.headers()["stripe-vcr-error"], "replay-miss");
    proxy.shutdown().await;
}
