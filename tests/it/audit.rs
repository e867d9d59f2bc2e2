//! `stripe-vcr audit`: exact counts from a known mix of recorded requests,
//! each `--fail-on` tripping on its finding (and only then), and the audit log
//! of a replay run with misses audited the same way.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use stripe_vcr::config::{Config, ModeConfig};

const BIN: &str = env!("CARGO_BIN_EXE_stripe-vcr");
const CARD: &str = "payment_method_data[type]=card&payment_method_data[card][number]=4242424242424242&payment_method_data[card][cvc]=123&payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2030";

fn audit(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(BIN).arg("audit").args(args).output().expect("run audit");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(dir: &Path) -> serde_json::Value {
    let (ok, stdout, stderr) = audit(args!["--cassettes", dir, "--format", "json"]);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).expect("json report")
}

fn param<'a>(report: &'a serde_json::Value, endpoint: &str, path: &str) -> &'a serde_json::Value {
    report["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .find(|e| e["endpoint"] == endpoint)
        .and_then(|e| {
            e["params"]
                .as_array()
                .expect("params")
                .iter()
                .find(|p| p["path"] == path)
        })
        .unwrap_or_else(|| panic!("{endpoint} {path} not in the report"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_mix_of_requests_gives_exact_counts_and_each_fail_on_trips() {
    let session = Recording::start().await;
    let rec = &session.api;
    let clean = [
        "amount=1000&currency=usd&metadata[order_id]=1&expand[0]=latest_charge",
        "amount=2000&currency=usd&metadata[order_id]=2&metadata[gift]=yes",
    ];
    for body in clean {
        assert_eq!(rec.post("clean", "/v1/payment_intents", body).await.status, 200);
    }
    assert_eq!(rec.get("list", "/v1/payment_intents?limit=3").await.status, 200);
    let typo = rec
        .post("typo", "/v1/payment_intents", "amount=500&currency=usd&descripton=oops")
        .await;
    assert_eq!(typo.status, 400, "the upstream rejects it too");
    let card = rec
        .post(
            "card",
            "/v1/payment_intents",
            &format!("amount=700&currency=usd&{CARD}"),
        )
        .await;
    assert_eq!(card.status, 200);
    let (ws, _) = session.finish().await;

    let report = json(&ws.cassettes());
    assert_eq!(report["report_version"], 1);
    assert_eq!(
        report["totals"],
        serde_json::json!({
            "requests": 5, "endpoints": 2, "invalid_requests": 2, "undocumented_params": 2,
            "card_data_requests": 1, "live_key_requests": 0
        })
    );
    let create = &report["endpoints"][1];
    assert_eq!(
        (create["endpoint"].as_str(), create["requests"].as_u64()),
        (Some("create"), Some(4))
    );
    assert_eq!(create["statuses"], serde_json::json!({"200": 3, "400": 1}));
    assert_eq!(param(&report, "create", "amount")["requests"], 4);
    assert_eq!(
        param(&report, "create", "amount")["kinds"],
        serde_json::json!(["integer"])
    );
    assert_eq!(param(&report, "create", "metadata[order_id]")["requests"], 2);
    assert_eq!(param(&report, "create", "metadata[gift]")["requests"], 1);
    assert_eq!(param(&report, "create", "expand[]")["requests"], 1);
    assert_eq!(param(&report, "create", "expand[]")["example"], "latest_charge");
    let typo = param(&report, "create", "descripton");
    assert_eq!(
        (typo["documented"].as_bool(), typo["closest"].as_str()),
        (Some(false), Some("description"))
    );
    assert_eq!(
        param(&report, "create", "payment_method_data[card]")["documented"],
        false
    );
    assert_eq!(param(&report, "list", "limit")["requests"], 1);
    assert_eq!(
        report["findings"]["card_data"],
        serde_json::json!([{"endpoint": "create", "path": "payment_method_data[card][number]", "requests": 1}])
    );
    assert!(create["unused"]
        .as_array()
        .expect("unused")
        .iter()
        .any(|u| u == "shipping"));
    assert_eq!(create["coverage"], serde_json::json!({"used": 5, "documented": 38}));
    assert_eq!(report["clients"], serde_json::json!({"stripe-vcr-tests/0.1": 5}));
    assert_eq!(report["stripe_versions"], serde_json::json!({"2026-07-29.dahlia": 5}));

    // Each --fail-on trips on its finding; live-keys has none here.
    for finding in ["undocumented", "invalid", "card-data"] {
        let (ok, _, stderr) = audit(args!["--cassettes", ws.cassettes(), "--fail-on", finding]);
        assert!(!ok, "--fail-on {finding} should trip");
        assert!(stderr.contains("--fail-on"), "{stderr}");
    }
    let (ok, _, stderr) = audit(args!["--cassettes", ws.cassettes(), "--fail-on", "live-keys"]);
    assert!(ok, "{stderr}");

    // Without those requests, every gate passes.
    for file in ws.cassette_files() {
        let text = std::fs::read_to_string(ws.cassettes().join(&file)).expect("read");
        if text.contains("descripton") || text.contains("payment_method_data") {
            std::fs::remove_file(ws.cassettes().join(&file)).expect("rm");
        }
    }
    let (ok, stdout, stderr) = audit(args![
        "--cassettes",
        ws.cassettes(),
        "--fail-on",
        "undocumented",
        "--fail-on",
        "invalid",
        "--fail-on",
        "card-data",
        "--fail-on",
        "live-keys"
    ]);
    assert!(ok, "{stderr}\n{stdout}");
    assert!(stdout.contains("FINDINGS\n  none"), "{stdout}");

    // Markdown for a pull request.
    let (ok, md, _) = audit(args!["--cassettes", ws.cassettes(), "--format", "markdown"]);
    assert!(ok);
    assert!(md.contains("### create — `POST /v1/payment_intents`"), "{md}");
    assert!(md.contains("| `metadata[order_id]` | 2 | yes | integer | `"), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_of_a_replay_run_with_misses_is_audited_the_same_way() {
    let session = Recording::start().await;
    assert_eq!(
        session
            .api
            .post("create", "/v1/payment_intents", "amount=1000&currency=usd")
            .await
            .status,
        200
    );
    let (ws, _) = session.finish().await;
    let log = ws.dir.path().join("ci/audit.jsonl");
    let replayer = stripe_vcr::server::start(Config {
        mode: ModeConfig::replay(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        audit_log: Some(log.clone()),
        ..Config::default()
    })
    .await
    .expect("replay");
    let rep = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    assert_eq!(
        rep.post("hit", "/v1/payment_intents", "amount=1000&currency=usd")
            .await
            .status,
        200
    );
    assert_eq!(
        rep.post("miss", "/v1/payment_intents", "amount=1001&currency=usd&metadata[k]=v")
            .await
            .status,
        404
    );
    assert_eq!(
        rep.post("typo", "/v1/payment_intents", "amount=5&curency=usd")
            .await
            .status,
        404
    );
    let live = api(
        &replayer,
        &ws.ca(),
        Connect::Direct,
        false,
        "sk_live_51NotARealKeyButLiveShaped",
    );
    assert_eq!(live.get("live", "/v1/payment_intents?limit=1").await.status, 404);
    assert_eq!(rep.get("other", "/v1/customers").await.status, 404);
    replayer.shutdown().await;

    let lines = std::fs::read_to_string(&log).expect("log");
    assert_eq!(lines.lines().count(), 5, "one line per request:\n{lines}");
    assert!(!lines.contains("NotARealKey"), "keys are never logged");
    let (ok, stdout, stderr) = audit(args!["--audit-log", log, "--format", "json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        report["totals"],
        serde_json::json!({
            "requests": 5, "endpoints": 3, "invalid_requests": 1, "undocumented_params": 1,
            "card_data_requests": 0, "live_key_requests": 1
        })
    );
    assert_eq!(
        report["endpoints"][1]["outcomes"],
        serde_json::json!({"hit": 1, "miss": 2})
    );
    // The request beyond Payment Intents is audited too, against the whole
    // API's table, under its resource.
    let customers = &report["endpoints"][2];
    assert_eq!(
        (&customers["endpoint"], &customers["resource"], &customers["path"]),
        (
            &serde_json::json!("customers.list"),
            &serde_json::json!("customers"),
            &serde_json::json!("/v1/customers")
        )
    );
    assert_eq!(customers["outcomes"], serde_json::json!({"miss": 1}));
    assert_eq!(param(&report, "create", "curency")["closest"], "currency");
    assert_eq!(param(&report, "create", "metadata[k]")["requests"], 1);
    let (ok, _, _) = audit(args!["--audit-log", log, "--fail-on", "live-keys"]);
    assert!(!ok, "the live key in the log trips --fail-on live-keys");
    // Cassettes and log together.
    let (ok, stdout, _) = audit(args![
        "--cassettes",
        ws.cassettes(),
        "--audit-log",
        log,
        "--format",
        "json"
    ]);
    assert!(ok);
    let both: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(both["totals"]["requests"], 6, "one cassette and five log lines");
}
