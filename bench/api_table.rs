//! What the whole API's table (`schema/stripe-api.json`, issue #18) costs
//! a running proxy: the time to parse it (the proxy does it once, at
//! start) and the memory it holds (resident set before and after).
//!
//!     cargo run --release --example bench-api-table
//!
//! Prints one JSON object; `bench/run.py` puts it in bench/RESULTS.md.

use std::time::Instant;

use stripe_vcr::stripe::api::{Api, BUILTIN};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let before = rss_kib();
    let started = Instant::now();
    let table = Api::builtin();
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = rss_kib();
    // Then the steady cost of a parse, median of 21 (warm caches, as a
    // restarted proxy has them).
    let mut runs: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            let parsed = Api::parse(BUILTIN).expect("parses");
            std::hint::black_box(&parsed);
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    // An operation's parameter tree is parsed the first time a request to
    // it is checked: the slowest one, and all of them (what an app that
    // used every endpoint would add, in memory too).
    let fresh = Api::parse(BUILTIN).expect("parses");
    let all = Instant::now();
    let mut slowest = (0.0f64, String::new());
    for name in fresh.names() {
        let t = Instant::now();
        std::hint::black_box(fresh.by_name(name).and_then(|op| op.params()));
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if ms > slowest.0 {
            slowest = (ms, name.to_owned());
        }
    }
    let all_ms = all.elapsed().as_secs_f64() * 1000.0;
    let every_tree = rss_kib();
    println!(
        "{{\"operations\": {}, \"bytes\": {}, \"first_parse_ms\": {:.1}, \"median_parse_ms\": {:.1}, \"rss_kib_before\": {}, \"rss_kib_after\": {}, \"rss_kib_added\": {}, \"every_tree_ms\": {:.1}, \"slowest_tree_ms\": {:.2}, \"slowest_tree\": \"{}\", \"rss_kib_with_every_tree\": {}}}",
        table.len(),
        BUILTIN.len(),
        first_ms,
        runs[runs.len() / 2],
        before,
        after,
        after.saturating_sub(before),
        all_ms,
        slowest.0,
        slowest.1,
        every_tree
    );
}
