//! The `stripe-vcr` binary as a user runs it: banner, offline replay with no
//! outbound connection (checked from the kernel's socket table), Ctrl-C
//! summary, `certs`, `--help`, and start-up refusal of a broken cassette.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

const BIN: &str = env!("CARGO_BIN_EXE_stripe-vcr");

/// Every TCP and UDP socket the process holds: (local port, remote port, is UDP).
fn sockets_of(pid: u32) -> Vec<(u16, u16, bool)> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    let mut out = Vec::new();
    for (table, udp) in [("tcp", false), ("tcp6", false), ("udp", true), ("udp6", true)] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            if cols.len() > 9 && inodes.contains(cols[9]) {
                let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next().unwrap_or("0"), 16).unwrap_or(0);
                out.push((port(cols[1]), port(cols[2]), udp));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_binary_serves_offline_and_never_opens_an_outbound_connection() {
    let session = Recording::start().await;
    let rec = &session.api;
    let created = rec
        .post("create", "/v1/payment_intents", "amount=1200&currency=usd")
        .await;
    rec.get("list", "/v1/payment_intents?limit=2").await;
    let (ws, _) = session.finish().await;

    let proxy = Binary::replay(&ws, &[], "stripe_vcr=info");
    let port = proxy.port;
    let banner = proxy.banner.join("\n");
    for needle in [
        "replay mode",
        "2 loaded from",
        "none (replay never opens",
        "ca.pem",
        "stripe.ca_bundle_path",
    ] {
        assert!(banner.contains(needle), "banner lacks {needle:?}:\n{banner}");
    }

    let client = |proxy: bool| {
        let mut b = trusting(&ws.ca());
        b = if proxy {
            b.proxy(reqwest::Proxy::https(format!("http://127.0.0.1:{port}")).expect("proxy"))
        } else {
            b.no_proxy()
        };
        b.build().expect("client")
    };
    let direct = client(false);
    let tunnel = client(true);
    let hit = direct
        .post(format!("https://127.0.0.1:{port}/v1/payment_intents"))
        .bearer_auth(REPLAY_KEY)
        .header("Stripe-Version", STRIPE_VERSION)
        .body("currency=usd&amount=1200")
        .send()
        .await
        .expect("send");
    assert_eq!(hit.status(), 200);
    assert_eq!(
        hit.json::<serde_json::Value>().await.expect("json")["id"],
        created.json()["id"]
    );
    let via_tunnel = tunnel
        .get("https://api.stripe.com/v1/payment_intents?limit=2")
        .bearer_auth(REPLAY_KEY)
        .header("Stripe-Version", STRIPE_VERSION)
        .send()
        .await
        .expect("send");
    assert_eq!(via_tunnel.status(), 200);
    let miss = direct
        .get(format!("https://127.0.0.1:{port}/v1/payment_intents?limit=99"))
        .bearer_auth(REPLAY_KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(miss.status(), 404);
    let elsewhere = tunnel.get("https://example.com/").send().await;
    assert!(elsewhere.is_err(), "a tunnel to another host must be refused");

    // Log lines arrive while the proxy runs: the miss's warning at once, the
    // access lines (buffered) within the flush interval.
    let log = proxy.stderr_until("outcome=miss", Duration::from_secs(3));
    assert!(log.contains("WARN"), "the miss is warned about:\n{log}");
    assert!(
        log.contains("stripe_vcr::access: request via=direct-tls method=POST path=/v1/payment_intents outcome=hit status=200 cassette=create-"),
        "access line for the hit:\n{log}"
    );
    assert!(
        log.contains("via=connect method=GET"),
        "access line for the tunnelled list:\n{log}"
    );
    assert!(log.contains("outcome=miss status=404"), "{log}");

    // With client connections still open, every socket the proxy holds is
    // on its own port: the listener and accepted connections, nothing dialled
    // out, and no UDP (no DNS lookups).
    let sockets = sockets_of(proxy.child.id());
    assert!(!sockets.is_empty(), "no sockets found for the proxy process");
    for (local, remote, udp) in &sockets {
        assert!(!udp, "replay opened a UDP socket: {sockets:?}");
        assert_eq!(
            *local, port,
            "replay holds a socket not on its port (local {local}, remote {remote}): {sockets:?}"
        );
    }

    let exited = proxy.interrupt();
    assert!(exited.success, "clean exit after Ctrl-C");
    let summary = exited
        .stdout
        .iter()
        .find(|l| l.starts_with("stripe-vcr summary:"))
        .expect("summary line");
    assert!(summary.contains("3 requests: 2 hits, 1 misses"), "{summary}");
}

#[test]
fn certs_creates_the_ca_and_explains_how_to_trust_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    let run = || {
        let out = Command::new(BIN)
            .arg("certs")
            .arg("--certs")
            .arg(&certs)
            .output()
            .expect("run");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf8")
    };
    let first = run();
    assert!(first.contains("stripe-vcr CA created"), "{first}");
    for needle in [
        "ca.pem",
        "stripe.ca_bundle_path",
        "NODE_EXTRA_CA_CERTS=",
        "SSL_CERT_FILE=",
        "curl --cacert",
        "HTTPS_PROXY=http://127.0.0.1:8443",
        "signs only for: api.stripe.com, localhost, 127.0.0.1, ::1",
    ] {
        assert!(first.contains(needle), "missing {needle:?}:\n{first}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("ca-key.pem"))
        .expect("key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let pem = std::fs::read_to_string(certs.join("ca.pem")).expect("pem");
    assert!(run().contains("stripe-vcr CA found"));
    assert_eq!(
        std::fs::read_to_string(certs.join("ca.pem")).expect("pem"),
        pem,
        "the CA is reused"
    );
}

#[test]
fn help_explains_every_flag() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--help").output().expect("run");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf8")
    };
    let record = help(&["record"]);
    for flag in [
        "--upstream <URL>",
        "--upstream-ca <PEM>",
        "--upstream-timeout",
        "--listen <ADDR>",
        "--cassettes <DIR>",
        "--certs <DIR>",
    ] {
        assert!(record.contains(flag), "record --help lacks {flag}:\n{record}");
    }
    assert!(record.contains("https://api.stripe.com"));
    let replay = help(&["replay"]);
    for flag in [
        "--listen <ADDR>",
        "--cassettes <DIR>",
        "--certs <DIR>",
        "127.0.0.1:8443",
    ] {
        assert!(replay.contains(flag), "replay --help lacks {flag}:\n{replay}");
    }
    assert!(
        replay.contains("--record-missing") && replay.contains("With --record-missing: the API to record misses from")
    );
    assert!(help(&["certs"]).contains("--certs <DIR>"));
    let top = help(&[]);
    for cmd in ["record", "replay", "certs"] {
        assert!(top.contains(cmd));
    }
}

#[test]
fn a_broken_cassette_stops_replay_start_up_naming_the_file_and_position() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    std::fs::write(
        ws.cassettes().join("create-broken-001.json"),
        "{\n  \"format_version\": 1,\n  \"endpoint\": \n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["replay", "--listen", "127.0.0.1:0", "--cassettes"])
        .arg(ws.cassettes())
        .arg("--certs")
        .arg(ws.certs())
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("create-broken-001.json"), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
    let missing = Command::new(BIN)
        .args([
            "replay",
            "--listen",
            "127.0.0.1:0",
            "--cassettes",
            "/nonexistent/cassettes",
            "--certs",
        ])
        .arg(ws.certs())
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn listening_beyond_loopback_warns_that_anyone_can_use_the_proxy() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let (cassettes, certs) = (ws.cassettes(), ws.certs());
    // Bound on all interfaces, but no traffic is sent anywhere.
    let proxy = Binary::start(
        args![
            "replay",
            "--listen",
            "0.0.0.0:0",
            "--cassettes",
            cassettes,
            "--certs",
            certs
        ],
        "stripe_vcr=info",
    );
    assert!(
        proxy.banner.iter().any(|l| l.contains("https://localhost:")),
        "{:?}",
        proxy.banner
    );
    let exited = proxy.interrupt();
    assert!(
        exited
            .stderr
            .contains("non-loopback address: anyone who can reach it can use this proxy"),
        "{}",
        exited.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_can_silence_access_lines_but_keeps_warnings() {
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.cassettes()).expect("dir");
    let proxy = Binary::replay(&ws, &[], "stripe_vcr=info,stripe_vcr::access=off");
    let client = trusting(&ws.ca()).no_proxy().build().expect("client");
    for _ in 0..3 {
        let miss = client
            .get(format!(
                "https://127.0.0.1:{}/v1/payment_intents/pi_unrecorded",
                proxy.port
            ))
            .bearer_auth(REPLAY_KEY)
            .send()
            .await
            .expect("send");
        assert_eq!(miss.status(), 404);
    }
    let exited = proxy.interrupt();
    assert!(
        exited.stderr.contains("WARN"),
        "misses are still warned about:\n{}",
        exited.stderr
    );
    assert!(
        !exited.stderr.contains("stripe_vcr::access"),
        "access lines were switched off:\n{}",
        exited.stderr
    );
}
