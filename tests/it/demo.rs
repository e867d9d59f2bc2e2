//! The README's promises about the bundled demo cassettes: they load, every
//! curl command in the README's demo block gets its recorded answer (run with
//! the real curl), and the miss example prints exactly what the README shows.

use std::path::PathBuf;
use std::process::Command;

use stripe_vcr::config::{Config, ModeConfig};

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README")
}

/// The curl commands between the demo markers.
fn demo_commands() -> Vec<String> {
    let text = readme();
    let start = text.find("<!-- demo-start -->").expect("demo-start marker");
    let end = text.find("<!-- demo-end -->").expect("demo-end marker");
    text[start..end]
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(str::to_owned)
        .collect()
}

fn curl(command: &str, port: u16, ca: &std::path::Path) -> (u16, String) {
    let command = command
        .replace("localhost:8443", &format!("localhost:{port}"))
        .replace("certs/ca.pem", &ca.display().to_string());
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{command} -sS -w '\\n%{{http_code}}'"))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf8");
    let (body, code) = text.rsplit_once('\n').expect("status line");
    (code.trim().parse().expect("status"), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_demo_commands_get_their_recorded_answers() {
    let certs = tempfile::tempdir().expect("tempdir");
    let config = Config {
        mode: ModeConfig::replay(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cassettes"),
        certs: certs.path().to_path_buf(),
        ..Config::default()
    };
    let proxy = stripe_vcr::server::start(config).await.expect("bundled cassettes load");
    assert_eq!(proxy.info.cassettes_loaded, 10);
    let port = proxy.local_addr().port();
    let ca = certs.path().join("ca.pem");

    let commands = demo_commands();
    assert_eq!(commands.len(), 10, "{commands:?}");
    assert!(
        commands.iter().any(|c| c.contains("/v1/customers")),
        "the demo shows a request beyond Payment Intents"
    );
    let mut statuses = Vec::new();
    for command in &commands {
        let (status, body) = tokio::task::block_in_place(|| curl(command, port, &ca));
        assert!(
            !body.contains("stripe-vcr has no recording"),
            "{command} missed: {body}"
        );
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 400, 200, 200]);

    // The README's miss example, verbatim.
    let text = readme();
    let example = text
        .lines()
        .find(|l| l.starts_with("$ curl ") && l.contains("amount=1000"))
        .expect("miss example")
        .trim_start_matches("$ ");
    let expected = text
        .lines()
        .find(|l| l.contains("\"message\": \"stripe-vcr has no recording"))
        .expect("miss message")
        .trim()
        .to_owned();
    let (status, body) = tokio::task::block_in_place(|| curl(example, port, &ca));
    assert_eq!(status, 404);
    assert!(
        body.lines().any(|l| l.trim() == expected),
        "README says\n{expected}\nproxy says\n{body}"
    );
    let summary = proxy.shutdown().await;
    assert_eq!((summary.hits, summary.misses), (10, 1), "{summary}");
}
