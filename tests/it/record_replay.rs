//! Record a full application flow through the proxy against the stand-in
//! upstream, stop the upstream, replay the same flow offline, and compare.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_flow_replays_offline_identically_and_leaks_no_secret() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let app = api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY);
    let recorded = payment_flow(&app).await;
    // Each answer came once its cassette was whole under its final name;
    // syncing them to disk runs behind the answers, and shutdown waits for it.
    for name in ws.cassette_files() {
        let text = std::fs::read_to_string(ws.cassettes().join(&name)).expect("read");
        serde_json::from_str::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{name} incomplete: {e}"));
    }
    let stats = app.stats().await;
    assert_eq!(stats["sets"]["sync"]["failed"], 0, "{stats}");
    assert!(stats["sets"]["sync"]["pending"].as_u64().is_some(), "{stats}");
    let record_summary = recorder.shutdown().await;
    assert_eq!(record_summary.unsynced, 0, "{record_summary}");
    standin.stop();

    // Every request of the flow was under /v1/payment_intents: one cassette each.
    assert_eq!(record_summary.recorded as usize, recorded.len(), "{record_summary}");
    assert_eq!(ws.cassette_files().len(), recorded.len(), "{:?}", ws.cassette_files());
    let expected_statuses: Vec<u16> = recorded.iter().map(|s| s.status).collect();
    assert_eq!(&expected_statuses[expected_statuses.len() - 2..], &[400, 404]);

    // No secret key and no real client secret reached the disk.
    let on_disk = ws.all_cassette_text();
    assert!(!on_disk.contains(RECORD_KEY), "secret key on disk");
    assert!(!on_disk.contains("51RecordOnly"), "part of the secret key on disk");
    let secret_re = regex::Regex::new(r"_secret_[A-Za-z0-9]+").expect("regex");
    let mut real_secrets = 0;
    for seen in &recorded {
        let text = String::from_utf8_lossy(&seen.body);
        for m in secret_re.find_iter(&text) {
            if m.as_str() != "_secret_REDACTED" {
                real_secrets += 1;
                assert!(!on_disk.contains(m.as_str()), "client secret {} on disk", m.as_str());
            }
        }
    }
    assert!(
        real_secrets > 0,
        "the flow should have seen real client secrets to check"
    );
    assert!(on_disk.contains("_secret_REDACTED"));
    assert!(!on_disk.to_lowercase().contains("authorization"));

    // Replay with no upstream at all, and a different key.
    let replayer = start_replay(&ws).await;
    let first = payment_flow(&api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY)).await;
    let summary = replayer.shutdown().await;
    assert_eq!(
        (summary.hits as usize, summary.misses),
        (recorded.len(), 0),
        "{summary}"
    );

    assert_eq!(first.len(), recorded.len());
    for (rec, rep) in recorded.iter().zip(&first) {
        assert_eq!(rec.label, rep.label);
        assert_eq!(rec.status, rep.status, "{}", rec.label);
        // Same bytes, except that client secrets are redacted.
        assert_eq!(
            redact_client_secrets(&String::from_utf8_lossy(&rec.body)),
            String::from_utf8_lossy(&rep.body),
            "{}",
            rec.label
        );
        assert_eq!(
            rec.headers.get("request-id"),
            rep.headers.get("request-id"),
            "{}",
            rec.label
        );
        assert_eq!(
            rec.headers.get("stripe-version"),
            rep.headers.get("stripe-version"),
            "{}",
            rec.label
        );
        assert!(rep.headers.get("stripe-vcr-cassette").is_some(), "{}", rec.label);
    }

    // A second replay run is byte-identical to the first.
    let replayer = start_replay(&ws).await;
    let second = payment_flow(&api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY)).await;
    replayer.shutdown().await;
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.status, b.status, "{}", a.label);
        assert_eq!(a.body, b.body, "{}", a.label);
        let headers = |s: &Seen| {
            let mut h: Vec<(String, String)> = s
                .headers
                .iter()
                // The date, and the echo of each request's own idempotency key.
                .filter(|(n, _)| n.as_str() != "date" && n.as_str() != "idempotency-key")
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            h.sort();
            h
        };
        assert_eq!(headers(a), headers(b), "{}", a.label);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_recording_a_deterministic_session_gives_the_same_files() {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let ws = Workspace::new();
        let standin = Standin::start_seeded(7);
        let recorder = start_record(&ws, &standin).await;
        payment_flow(&api(&recorder, &ws.ca(), Connect::Direct, false, RECORD_KEY)).await;
        recorder.shutdown().await;
        let bodies: Vec<String> = ws
            .cassette_files()
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(ws.cassettes().join(n)).expect("read");
                let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
                // Only the recording time and per-response ids may differ.
                v["recorded_at"] = serde_json::Value::Null;
                v["response"]["headers"] = serde_json::Value::Null;
                v.to_string()
            })
            .collect();
        runs.push((ws.cassette_files(), bodies));
    }
    assert_eq!(runs[0].0, runs[1].0, "file names differ between recordings");
    assert_eq!(runs[0].1, runs[1].1, "cassette contents differ between recordings");
}
