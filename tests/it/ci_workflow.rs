//! The daily CI loop: per-test cassette sets that parallel tests cannot
//! disturb, record-missing, re-recording stale cassettes, unused cassettes
//! (report, --fail-on-unused, prune), drift between recordings, admin reset.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;
use stripe_vcr::config::{Config, ModeConfig, UpstreamConfig};

const BIN: &str = env!("CARGO_BIN_EXE_stripe-vcr");

/// An API client that names its cassette set with the header.
async fn list_in_set(api: &Api, set: &str) -> Seen {
    api.send(
        "list",
        reqwest::Method::GET,
        "/v1/payment_intents?limit=1",
        "",
        &[("Stripe-Vcr-Cassette", set)],
    )
    .await
}

/// Records, in `set`, a list before and after a create: the two lists differ.
async fn record_two_lists(api: &Api, set: &str, amount: u32) {
    list_in_set(api, set).await;
    let create = api
        .send(
            "create",
            reqwest::Method::POST,
            "/v1/payment_intents",
            &format!("amount={amount}&currency=usd"),
            &[("Stripe-Vcr-Cassette", set)],
        )
        .await;
    assert_eq!(create.status, 200);
    list_in_set(api, set).await;
}

fn first_amount(seen: &Seen) -> serde_json::Value {
    seen.json()["data"][0]["amount"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_tests_with_their_own_sets_get_their_own_sequences() {
    let session = Recording::start().await;
    record_two_lists(&session.api, "checkout/happy-path", 111).await;
    record_two_lists(&session.api, "refunds", 222).await;
    let (ws, _) = session.finish().await;
    for set in ["checkout/happy-path", "refunds"] {
        let dir = ws.cassettes().join(set);
        assert_eq!(std::fs::read_dir(&dir).expect(set).count(), 3, "{set}");
    }

    let (replayer, rep) = replaying(&ws).await;
    // Set "refunds" through the path prefix, as a client that cannot add headers.
    let prefixed = Api {
        client: rep.client.clone(),
        base: format!("{}/__cassette/refunds", rep.base),
        key: REPLAY_KEY.into(),
    };
    // Interleave the two "test files": each sees its own first, then second, list.
    let a1 = list_in_set(&rep, "checkout/happy-path").await;
    let b1 = prefixed.get("list", "/v1/payment_intents?limit=1").await;
    let a2 = list_in_set(&rep, "checkout/happy-path").await;
    let b2 = prefixed.get("list", "/v1/payment_intents?limit=1").await;
    assert_eq!(first_amount(&a2), 111);
    assert_eq!(first_amount(&b2), 222);
    assert_ne!(first_amount(&a1), 111, "the first list predates the set's create");
    assert_ne!(first_amount(&b1), 222);
    assert_eq!(
        a1.headers["stripe-vcr-cassette"].to_str().expect("h").split('/').next(),
        Some("checkout")
    );
    assert!(b1.headers["stripe-vcr-cassette"]
        .to_str()
        .expect("h")
        .starts_with("refunds/"));

    // Truly concurrent: many parallel clients of each set.
    let mut tasks = Vec::new();
    for set in ["checkout/happy-path", "refunds"] {
        let client = rep.client.clone();
        let base = rep.base.clone();
        tasks.push(tokio::spawn(async move {
            let api = Api {
                client,
                base,
                key: REPLAY_KEY.into(),
            };
            let seen = list_in_set(&api, set).await;
            (set, first_amount(&seen))
        }));
    }
    for t in tasks {
        let (set, amount) = t.await.expect("task");
        assert_eq!(
            amount,
            if set == "refunds" { 222 } else { 111 },
            "after the last, the last repeats"
        );
    }

    // Reset one set: its sequence restarts, the other's does not.
    let reset = rep
        .client
        .post(format!("{}/__stripe-vcr/reset?set=refunds", rep.base))
        .send()
        .await
        .expect("reset");
    assert_eq!(reset.status(), 200);
    assert_eq!(
        first_amount(&prefixed.get("list", "/v1/payment_intents?limit=1").await),
        first_amount(&b1)
    );
    assert_eq!(first_amount(&list_in_set(&rep, "checkout/happy-path").await), 111);
    let stats = rep.stats().await;
    assert_eq!(stats["sets"]["sets"]["refunds"]["hits"], 4, "{stats}");
    assert_eq!(stats["sets"]["sets"]["checkout/happy-path"]["misses"], 0, "{stats}");
    let unknown = rep
        .client
        .post(format!("{}/__stripe-vcr/reset?set=nope", rep.base))
        .send()
        .await
        .expect("reset");
    assert_eq!(unknown.status(), 404);

    // Set names cannot escape the cassette directory; unknown sets are misses.
    let bad = list_in_set(&rep, "../etc").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.headers["stripe-vcr-error"], "bad-cassette-set");
    let unknown = list_in_set(&rep, "never/recorded").await;
    assert_eq!(unknown.status, 404);
    assert!(String::from_utf8_lossy(&unknown.body).contains("no cassette set `never/recorded`"));
    replayer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_missing_records_only_the_misses() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    rec.post("existing", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    recorder.shutdown().await;
    let before = ws.cassette_files();
    let original = std::fs::read(ws.cassettes().join(&before[0])).expect("read");

    let config = Config {
        mode: ModeConfig::Replay {
            record_missing: Some(UpstreamConfig {
                ca: Some(standin.ca.clone()),
                ..UpstreamConfig::new(standin.url.clone())
            }),
        },
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    };
    let proxy = stripe_vcr::server::start(config).await.expect("starts");
    let rep = api(
        &proxy,
        &ws.ca(),
        Connect::Direct,
        false,
        REPLAY_KEY.replace("Replay", "Rec").as_str(),
    );
    let hit = rep.post("hit", "/v1/payment_intents", "amount=100&currency=usd").await;
    assert_eq!(hit.status, 200);
    assert!(
        hit.headers.get("stripe-vcr-cassette").is_some(),
        "served from the cassette"
    );
    let new = rep.post("new", "/v1/payment_intents", "amount=200&currency=usd").await;
    assert_eq!(new.status, 200, "{:?}", new.body);
    let summary = proxy.shutdown().await;
    assert_eq!((summary.hits, summary.recorded, summary.misses), (1, 1, 0), "{summary}");
    let after = ws.cassette_files();
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(
        std::fs::read(ws.cassettes().join(&before[0])).expect("read"),
        original,
        "hits are not rewritten"
    );
    standin.stop();
}

/// Sets `recorded_at` of one cassette to long ago.
fn age(path: &Path) {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json");
    v["recorded_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_record_older_than_replays_young_cassettes_and_refreshes_old_ones() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let young = rec
        .post("young", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    let old = rec.post("old", "/v1/payment_intents", "amount=200&currency=usd").await;
    recorder.shutdown().await;
    let old_file = ws
        .cassette_files()
        .into_iter()
        .find(|f| {
            std::fs::read_to_string(ws.cassettes().join(f))
                .expect("read")
                .contains("\"200\"")
        })
        .expect("old cassette");
    age(&ws.cassettes().join(&old_file));

    let mut config = record_config(&ws, &standin);
    if let ModeConfig::Record {
        re_record_older_than, ..
    } = &mut config.mode
    {
        *re_record_older_than = Some(std::time::Duration::from_secs(30 * 86_400));
    }
    let recorder = stripe_vcr::server::start(config).await.expect("starts");
    let rec = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let again_young = rec
        .post("young", "/v1/payment_intents", "amount=100&currency=usd")
        .await;
    let again_old = rec.post("old", "/v1/payment_intents", "amount=200&currency=usd").await;
    let summary = recorder.shutdown().await;
    assert_eq!((summary.hits, summary.recorded), (1, 1), "{summary}");
    assert_eq!(again_young.json()["id"], young.json()["id"], "young: replayed");
    assert_ne!(again_old.json()["id"], old.json()["id"], "old: forwarded again");
    let refreshed = std::fs::read_to_string(ws.cassettes().join(&old_file)).expect("read");
    assert!(!refreshed.contains("2020-01-01"), "the old cassette was overwritten");
    assert_eq!(ws.cassette_files().len(), 2);
    standin.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_cassettes_are_reported_gated_and_pruned() {
    let session = Recording::start().await;
    for amount in [1, 2, 3] {
        session
            .api
            .post(
                "create",
                "/v1/payment_intents",
                &format!("amount={amount}00&currency=usd"),
            )
            .await;
    }
    let (ws, _) = session.finish().await;
    let log = ws.dir.path().join("run.jsonl");
    let proxy = Binary::replay(&ws, args!["--fail-on-unused", "--audit-log", log], "stripe_vcr=info");
    let client = trusting(&ws.ca()).no_proxy().build().expect("client");
    let base = format!("https://127.0.0.1:{}", proxy.port);
    let hit = client
        .post(format!("{base}/v1/payment_intents"))
        .bearer_auth(REPLAY_KEY)
        .header("Stripe-Version", STRIPE_VERSION)
        .body("amount=200&currency=usd")
        .send()
        .await
        .expect("send");
    assert_eq!(hit.status(), 200);
    let used = hit.headers()["stripe-vcr-cassette"].to_str().expect("h").to_owned();
    let unused: serde_json::Value = client
        .get(format!("{base}/__stripe-vcr/unused"))
        .send()
        .await
        .expect("unused")
        .json()
        .await
        .expect("json");
    let mut expected: Vec<String> = ws.cassette_files().into_iter().filter(|f| *f != used).collect();
    expected.sort();
    assert_eq!(unused["unused"], serde_json::json!(expected));
    let exited = proxy.interrupt();
    assert!(!exited.success, "--fail-on-unused fails the run");
    let listed: Vec<&String> = exited.stdout.iter().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(listed.len(), 2, "{:?}", exited.stdout);
    assert!(
        exited
            .stdout
            .iter()
            .any(|l| l.contains("2 cassettes were never served")),
        "{:?}",
        exited.stdout
    );

    // prune: a dry run lists them, --delete removes exactly them.
    let prune = |delete: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["prune", "--cassettes"])
            .arg(ws.cassettes())
            .arg("--unused-from")
            .arg(&log);
        if delete {
            cmd.arg("--delete");
        }
        let out = cmd.output().expect("prune");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dry = prune(false);
    assert!(dry.contains("2 cassettes unused") && dry.contains("dry run"), "{dry}");
    assert_eq!(ws.cassette_files().len(), 3, "a dry run deletes nothing");
    let done = prune(true);
    assert!(done.contains("2 cassettes deleted"), "{done}");
    assert_eq!(ws.cassette_files(), [used]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_finds_a_changed_field_and_ignores_changed_ids() {
    let mut dirs = Vec::new();
    for seed in [1, 2] {
        let ws = Workspace::new();
        let standin = Standin::start_seeded(seed);
        let recorder = start_record(&ws, &standin).await;
        payment_flow(&api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY)).await;
        recorder.shutdown().await;
        dirs.push(ws);
    }
    let run = |format: &str| {
        let out = Command::new(BIN)
            .args(["diff", "--format", format])
            .arg(dirs[0].cassettes())
            .arg(dirs[1].cassettes())
            .output()
            .expect("diff");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (same, text) = run("text");
    assert!(
        same,
        "two recordings that differ only in ids, timestamps and secrets are the same:\n{text}"
    );
    assert!(text.starts_with("SAME: 15 interactions matched"), "{text}");

    // A real change: the confirm now answers another status.
    let confirm = dirs[1]
        .cassette_files()
        .into_iter()
        .find(|f| f.starts_with("confirm-"))
        .expect("confirm");
    let path = dirs[1].cassettes().join(&confirm);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    v["response"]["body"]["status"] = "requires_action".into();
    v["response"]["body"]["next_action"] = serde_json::json!({"type": "use_stripe_sdk"});
    std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
    let (same, json) = run("json");
    assert!(!same);
    let report: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(report["changed"].as_array().expect("changed").len(), 1, "{report}");
    let changes = &report["changed"][0]["changes"];
    assert_eq!(
        changes,
        &serde_json::json!([
            {"kind": "changed", "path": "next_action", "old": null, "new": {"type": "use_stripe_sdk"}},
            {"kind": "changed", "path": "status", "old": "requires_capture", "new": "requires_action"}
        ])
    );
    let (_, md) = run("markdown");
    assert!(
        md.contains("| changed | `status` | \"requires_capture\" | \"requires_action\" |"),
        "{md}"
    );
}

/// What a test runner integration does: start the binary on port 0 with
/// `--ready-json`, learn the port and CA from that one line, and after a
/// test ask which of its set's requests missed, with the message the client got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_learns_the_port_from_ready_json_and_the_misses_of_each_set() {
    let session = Recording::start().await;
    record_two_lists(&session.api, "tests/test_a", 111).await;
    let (ws, _) = session.finish().await;

    let mut child = Command::new(BIN)
        .args(["replay", "--listen", "127.0.0.1:0", "--ready-json", "--cassettes"])
        .arg(ws.cassettes())
        .arg("--certs")
        .arg(ws.certs())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).expect("ready line");
    let ready: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    assert_eq!(
        (ready["ready"].as_bool(), ready["mode"].as_str()),
        (Some(true), Some("replay"))
    );
    assert_eq!(ready["pid"].as_u64(), Some(u64::from(child.id())));
    assert_eq!(ready["cassettes_loaded"].as_u64(), Some(3));
    let url = ready["url"].as_str().expect("url").to_owned();
    let port = ready["port"].as_u64().expect("port");
    assert_eq!(url, format!("https://127.0.0.1:{port}"));
    let ca = std::path::PathBuf::from(ready["ca"].as_str().expect("ca"));
    assert!(ca.is_absolute() && ca.exists(), "{ca:?}");

    let api = Api {
        client: trusting(&ca).no_proxy().build().expect("client"),
        base: url.clone(),
        key: REPLAY_KEY.into(),
    };
    list_in_set(&api, "tests/test_a").await;
    let missed = api
        .send(
            "list",
            reqwest::Method::GET,
            "/v1/payment_intents?limit=7",
            "",
            &[("Stripe-Vcr-Cassette", "tests/test_a")],
        )
        .await;
    assert_eq!(missed.status, 404);
    let unknown = list_in_set(&api, "tests/test_never_recorded").await;
    assert_eq!(unknown.status, 404);

    let misses = |set: &str| {
        let (client, url) = (api.client.clone(), format!("{url}/__stripe-vcr/misses?set={set}"));
        async move {
            let answer = client.get(url).send().await.expect("misses");
            assert_eq!(answer.status(), 200);
            answer.json::<serde_json::Value>().await.expect("JSON")
        }
    };
    let a = misses("tests/test_a").await;
    let list = a["misses"].as_array().expect("misses");
    assert_eq!(list.len(), 1, "{a}");
    let message = list[0]["message"].as_str().expect("message");
    let client_saw = missed.json()["error"]["message"].as_str().expect("error").to_owned();
    assert_eq!(message, client_saw, "the runner reports what the client was told");
    assert!(message.contains("limit"), "{message}");
    let never = misses("tests/test_never_recorded").await;
    assert_eq!(never["misses"].as_array().map(Vec::len), Some(1), "{never}");
    assert_eq!(misses("tests/test_b").await["misses"], serde_json::json!([]));
    let bad = api
        .client
        .get(format!("{url}/__stripe-vcr/misses?set=../up"))
        .send()
        .await
        .expect("bad set");
    assert_eq!(bad.status(), 400);
    let _ = child.kill();
    let _ = child.wait();
}

/// A runner that dies cannot leave the proxy behind: with
/// `--stop-on-stdin-close`, the end of stdin stops it as Ctrl-C does (cassettes
/// synced, summary printed), and a reader of stdout that is gone by then
/// (the runner itself) does not turn the ending into a panic.
#[test]
fn the_end_of_stdin_stops_the_proxy_in_order_even_with_no_one_reading_stdout() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("cassette dir");
    for keep_reading in [true, false] {
        let mut child = Command::new(BIN)
            .args([
                "replay",
                "--listen",
                "127.0.0.1:0",
                "--ready-json",
                "--stop-on-stdin-close",
            ])
            .arg("--cassettes")
            .arg(ws.cassettes())
            .arg("--certs")
            .arg(ws.certs())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut ready = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut ready).expect("ready line");
        assert!(ready.contains("\"ready\":true"), "{ready}");
        let rest = if keep_reading {
            Some(std::thread::spawn(move || {
                std::io::read_to_string(stdout).expect("stdout")
            }))
        } else {
            drop(stdout);
            None
        };
        // Were the end of stdin ignored, the proxy would run on: a watchdog
        // kills it after 30 s, failing the test instead of hanging it.
        let (stopped, watch) = std::sync::mpsc::channel::<()>();
        let pid = child.id().to_string();
        let watchdog = std::thread::spawn(move || {
            if watch.recv_timeout(Duration::from_secs(30)).is_err() {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        });
        drop(child.stdin.take());
        let output = child.wait_with_output().expect("exit");
        let _ = stopped.send(());
        watchdog.join().expect("watchdog");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{:?}: {stderr}", output.status);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(stderr.contains("shutting down"), "{stderr}");
        if let Some(rest) = rest {
            let printed = rest.join().expect("reader");
            assert!(printed.contains("stripe-vcr summary: 0 requests"), "{printed}");
        }
    }
}
