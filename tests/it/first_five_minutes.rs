//! What a new user meets: `doctor`, the health endpoint CI waits on, and a
//! one-line explanation with the fix when their client does not trust the CA.

use std::process::Command;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-vcr");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_on_the_proxy_port_but_not_through_the_api_tunnel() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let proxy = start_replay(&ws).await;
    let port = proxy.local_addr().port();
    for how in [Connect::Plain, Connect::Direct] {
        let api = api(&proxy, &ws.ca(), how, false, REPLAY_KEY);
        let resp = api
            .client
            .get(format!("{}/__stripe-vcr/health", api.base))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "{how:?}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(
            (body["status"].as_str(), body["mode"].as_str()),
            (Some("ok"), Some("replay"))
        );
    }
    let tunnel = api(&proxy, &ws.ca(), Connect::Tunnel, false, REPLAY_KEY);
    let resp = tunnel
        .client
        .get("https://api.stripe.com/__stripe-vcr/health")
        .bearer_auth(REPLAY_KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 404, "admin paths are not part of the API host");
    assert_eq!(resp.headers()["stripe-vcr-error"], "not-recorded-path");
    let summary = proxy.shutdown().await;
    assert_eq!(
        summary.requests, 1,
        "health checks are not counted as traffic (port {port})"
    );
}

#[test]
fn doctor_checks_the_set_up_and_prints_a_clients_lines() {
    let ws = Workspace::new();
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .arg("doctor")
            .arg("--certs")
            .arg(ws.certs())
            .arg("--cassettes")
            .arg(ws.cassettes())
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .output()
            .expect("run");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    // Nothing set up yet: the missing cassette directory fails, with the fix.
    let (ok, text) = run(&[]);
    assert!(!ok, "{text}");
    assert!(text.contains("note  CA         no CA in"), "{text}");
    assert!(
        text.contains("FAIL  cassettes") && text.contains("fix: record into it first"),
        "{text}"
    );

    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    assert!(Command::new(BIN)
        .arg("certs")
        .arg("--certs")
        .arg(ws.certs())
        .output()
        .expect("certs")
        .status
        .success());
    let (ok, text) = run(&["--client", "node"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok    CA ") && text.contains("signs only for api.stripe.com"),
        "{text}"
    );
    assert!(text.contains("ok    port       127.0.0.1:0 is free"), "{text}");
    assert!(
        text.contains(&format!(
            "NODE_EXTRA_CA_CERTS={}",
            ws.ca().canonicalize().expect("abs").display()
        )),
        "{text}"
    );
    assert!(text.contains("new HttpsProxyAgent(\"http://127.0.0.1:0\")"), "{text}");
}

#[test]
fn doctor_recognises_a_running_stripe_vcr_on_the_port() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let proxy = Binary::replay(&ws, &[], "stripe_vcr=info");
    let out = Command::new(BIN)
        .args(["doctor", "--listen", &format!("127.0.0.1:{}", proxy.port), "--certs"])
        .arg(ws.certs())
        .arg("--cassettes")
        .arg(ws.cassettes())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("a stripe-vcr (replay mode) is already listening"),
        "{text}"
    );
    proxy.interrupt();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_gets_a_one_line_fix_in_the_log() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let proxy = Binary::replay(&ws, &[], "stripe_vcr=info");
    // A client that trusts only the web roots, as an SDK does by default.
    let untrusting = reqwest::Client::builder().no_proxy().build().expect("client");
    let result = untrusting
        .get(format!("https://127.0.0.1:{}/v1/payment_intents", proxy.port))
        .send()
        .await;
    assert!(result.is_err(), "the handshake must fail");
    // curl (OpenSSL) too.
    let curl = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            &format!("https://localhost:{}/v1/payment_intents", proxy.port),
        ])
        .output()
        .expect("curl");
    assert!(!curl.status.success());
    let exited = proxy.interrupt();
    let lines: Vec<&str> = exited
        .stderr
        .lines()
        .filter(|l| l.contains("does not trust stripe-vcr's CA"))
        .collect();
    assert_eq!(lines.len(), 2, "{}", exited.stderr);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("ca.pem") && l.contains("stripe.ca_bundle_path")),
        "{lines:?}"
    );
}
