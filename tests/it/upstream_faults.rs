//! Record mode when the upstream is down or slow: a Stripe-shaped 502 naming
//! the upstream and the cause, `Stripe-Should-Retry: false`, nothing recorded.

use std::time::Duration;

use crate::common::*;
use stripe_vcr::config::{Config, ModeConfig, UpstreamConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_is_a_502_and_records_nothing() {
    let ws = Workspace::new();
    let port = free_port();
    let config = Config {
        mode: ModeConfig::record(UpstreamConfig {
            timeout: Duration::from_secs(5),
            ..UpstreamConfig::new(format!("https://127.0.0.1:{port}"))
        }),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    };
    let recorder = stripe_vcr::server::start(config).await.expect("starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let seen = rec.post("create", "/v1/payment_intents", "amount=1&currency=usd").await;
    assert_eq!(seen.status, 502);
    assert_eq!(seen.headers["stripe-should-retry"], "false");
    let error = &seen.json()["error"];
    assert_eq!(error["type"], "api_error");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(ws.cassette_files().is_empty());
    let summary = recorder.shutdown().await;
    assert_eq!((summary.recorded, summary.errors), (0, 1), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_upstream_times_out_with_a_502_and_the_next_request_works() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let mut config = record_config(&ws, &standin);
    if let ModeConfig::Record { upstream, .. } = &mut config.mode {
        upstream.timeout = Duration::from_millis(500);
    }
    let recorder = stripe_vcr::server::start(config).await.expect("starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let slow = rec
        .send(
            "slow",
            reqwest::Method::GET,
            "/v1/payment_intents",
            "",
            &[("Standin-Delay-Ms", "3000")],
        )
        .await;
    assert_eq!(slow.status, 502);
    let message = slow.json()["error"]["message"].as_str().expect("message").to_owned();
    assert!(message.contains("did not answer within"), "{message}");
    assert!(ws.cassette_files().is_empty());
    let fine = rec.get("fine", "/v1/payment_intents").await;
    assert_eq!(fine.status, 200);
    assert_eq!(ws.cassette_files().len(), 1);
    recorder.shutdown().await;
}
