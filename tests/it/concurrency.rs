//! Many concurrent recordings: every one is stored, none overwrites another,
//! and repeats of one request are numbered and replay in order.

use std::collections::HashSet;

use crate::common::*;
use stripe_vcr::cassette::format::Cassette;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_give_fifty_distinct_valid_cassettes() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let recorder = start_record(&ws, &standin).await;
    let rec = std::sync::Arc::new(api(&recorder, &ws.ca(), Connect::Direct, true, RECORD_KEY));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let rec = rec.clone();
        tasks.push(tokio::spawn(async move {
            // Half are the very same request (stored as occurrences), half distinct.
            let body = if i % 2 == 0 {
                "amount=5000&currency=usd&description=same".to_owned()
            } else {
                format!("amount={}&currency=usd", 5000 + i)
            };
            rec.post("create", "/v1/payment_intents", &body).await
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let seen = t.await.expect("task");
        assert_eq!(seen.status, 200);
        ids.insert(seen.json()["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 50);
    let summary = recorder.shutdown().await;
    assert_eq!(summary.recorded, 50, "{summary}");
    standin.stop();

    let names = ws.cassette_files();
    assert_eq!(names.len(), 50, "{names:?}");
    assert!(
        names.iter().all(|n| n.ends_with(".json") && !n.starts_with('.')),
        "temporary files left: {names:?}"
    );
    let mut stored_ids = HashSet::new();
    for n in &names {
        let c = Cassette::from_slice(&std::fs::read(ws.cassettes().join(n)).expect("read")).expect("valid cassette");
        stored_ids.insert(c.response.body_json_id());
    }
    assert_eq!(stored_ids.len(), 50, "every response stored exactly once");
    let same: Vec<&String> = names.iter().filter(|n| n.ends_with("-025.json")).collect();
    assert_eq!(same.len(), 1, "25 repeats numbered 001..025: {names:?}");

    // Replaying the 25 identical requests hands out the 25 recorded answers
    // in recorded order, then repeats the last.
    let replayer = start_replay(&ws).await;
    let rep = api(&replayer, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    let mut replayed = Vec::new();
    for _ in 0..26 {
        let seen = rep
            .post(
                "same",
                "/v1/payment_intents",
                "amount=5000&currency=usd&description=same",
            )
            .await;
        replayed.push((
            seen.headers["stripe-vcr-cassette"].to_str().expect("h").to_owned(),
            seen.json()["id"].clone(),
        ));
    }
    let files: Vec<&str> = replayed.iter().map(|(f, _)| f.as_str()).collect();
    let mut sorted = files[..25].to_vec();
    sorted.sort();
    assert_eq!(files[..25], sorted[..], "served in occurrence order");
    assert_eq!(files[24], files[25], "the last repeats");
    assert_eq!(
        replayed[..25]
            .iter()
            .map(|(_, id)| id.to_string())
            .collect::<HashSet<_>>()
            .len(),
        25
    );
    replayer.shutdown().await;
}

trait BodyId {
    fn body_json_id(&self) -> String;
}

impl BodyId for stripe_vcr::cassette::format::RecordedResponse {
    fn body_json_id(&self) -> String {
        match &self.body {
            stripe_vcr::cassette::format::ResponseBody::Body(v) => v["id"].as_str().unwrap_or_default().to_owned(),
            stripe_vcr::cassette::format::ResponseBody::BodyText(t) => t.clone(),
        }
    }
}
