//! One walk of a cassette directory for every command (issue #16): audit,
//! doctor and verify see the cassettes in sets, two levels deep too, and
//! directory links back up the tree (`a -> .`, `b -> .`) are a warning,
//! not a start-up that never ends, and never load a cassette twice.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use crate::planted::{plant, plant_retrieve};
use stripe_vcr::stripe::redact::Redactor;
use stripe_vcr::stripe::validate::schema::Schema;

/// Runs `f` on its own thread; fails the test if it has not returned
/// within a minute (a walk that loops never would).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} did not finish within a minute"))
}

/// A create with `form` in `dir`.
fn plant_create(dir: &Path, form: &str, id: &str) -> String {
    plant(
        dir,
        "create",
        "POST",
        "/v1/payment_intents",
        form,
        serde_json::json!({"id": id, "object": "payment_intent"}),
    )
}

#[test]
fn audit_counts_the_parameters_of_cassettes_in_sets() {
    let ws = Workspace::new();
    let dir = ws.cassettes();
    plant_create(&dir, "amount=100&currency=usd", "pi_top");
    plant_create(
        &dir.join("checkout"),
        "amount=200&currency=usd&description=set",
        "pi_set",
    );
    plant_create(
        &dir.join("checkout/eu"),
        "amount=300&currency=eur&metadata[order]=7",
        "pi_deep",
    );
    let report = stripe_vcr::cli::audit::gather(Some(&dir), &[], Schema::builtin()).expect("audit");
    assert_eq!(report.totals.requests, 3, "{:?}", report.sources);
    assert_eq!(
        report.sources,
        [format!(
            "{} (3 cassettes: 1 at the top, checkout 1, checkout/eu 1)",
            dir.display()
        )]
    );
    let create = report
        .endpoints
        .iter()
        .find(|e| e.endpoint == "create")
        .expect("create endpoint");
    let used = |path: &str| {
        create
            .params
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.requests)
            .unwrap_or(0)
    };
    assert_eq!(
        (used("amount"), used("description"), used("metadata[order]")),
        (3, 1, 1)
    );
}

#[test]
fn verify_finds_a_secret_planted_two_levels_deep() {
    let ws = Workspace::new();
    let deep = ws.cassettes().join("checkout/eu");
    let name = plant_retrieve(&deep, "pi_Deep000000001");
    let file = deep.join(&name);
    let text = std::fs::read_to_string(&file).expect("read");
    let planted = text.replace(
        "\"amount\": 1000",
        "\"amount\": 1000, \"note\": \"sk_test_51PlantedTwoLevelsDown0000000000\"",
    );
    assert_ne!(planted, text, "the secret went in");
    std::fs::write(&file, planted).expect("write");
    let report = stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), Redactor::standard(), false).expect("verify");
    assert_eq!(report.cassettes, 1);
    assert!(!report.ok, "{report:?}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == format!("checkout/eu/{name}") && p.kind == "secret"),
        "{:?}",
        report.problems
    );
}

/// A directory with two cassettes and two links to itself.
fn looping_library(ws: &Workspace) {
    let dir = ws.cassettes();
    plant_retrieve(&dir, "pi_Loop000000001");
    plant_retrieve(&dir.join("checkout"), "pi_Loop000000002");
    std::os::unix::fs::symlink(".", dir.join("a")).expect("link");
    std::os::unix::fs::symlink(".", dir.join("b")).expect("link");
}

/// Starts a proxy with `config` (failing if start-up hangs) and returns how
/// many cassettes it loaded.
fn cassettes_loaded_at_start(what: &str, config: stripe_vcr::config::Config) -> usize {
    within(what, move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let proxy = stripe_vcr::server::start(config).await.expect("proxy starts");
            let loaded = proxy.info.cassettes_loaded;
            proxy.shutdown().await;
            loaded
        })
    })
}

#[test]
fn replay_and_record_start_over_links_to_the_directory_itself_loading_each_cassette_once() {
    let ws = Workspace::new();
    looping_library(&ws);
    assert_eq!(cassettes_loaded_at_start("replay start-up", replay_config(&ws)), 2);
    let standin = Standin::start();
    let loaded = cassettes_loaded_at_start("record start-up", record_config(&ws, &standin));
    standin.stop();
    assert_eq!(loaded, 2, "each cassette loaded once");
}

#[test]
fn the_binary_warns_about_each_link_back_up_the_tree_and_serves() {
    let ws = Workspace::new();
    looping_library(&ws);
    let cassettes = ws.cassettes();
    let (stderr, banner) = within("replay binary start-up", move || {
        let proxy = Binary::replay(&ws, args![], "stripe_vcr=warn");
        let stderr = proxy.stderr_until("/b is the same directory as", Duration::from_secs(10));
        let banner = proxy.banner.join("\n");
        drop(proxy);
        drop(ws);
        (stderr, banner)
    });
    for link in ["a", "b"] {
        let warning = format!(
            "{} is the same directory as {} (a link to it)",
            cassettes.join(link).display(),
            cassettes.display()
        );
        assert!(stderr.contains(&warning), "no `{warning}` in:\n{stderr}");
    }
    assert!(banner.contains("2 loaded from"), "{banner}");
}
