//! Webhook events as cassettes: one file per event a session caused
//! (`webhook-<sequence>-<type>.json`, in the set it belongs to), holding the
//! payload as Stripe sent it (redacted, never its `Stripe-Signature`), its
//! place in the session (the interaction it followed), and what the app
//! answered when it was forwarded during recording.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cassette::format::FORMAT_VERSION;
use crate::stripe::api::file_safe;

/// The start of every event cassette's file name: interaction cassettes
/// never start so (their names are operations: `create`, `customers.create`).
pub const EVENT_FILE_PREFIX: &str = "webhook-";

/// The `kind` an event cassette declares.
pub const EVENT_KIND: &str = "webhook_event";

/// One recorded webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventCassette {
    pub format_version: u32,
    /// Always [`EVENT_KIND`].
    pub kind: String,
    pub recorded_at: String,
    /// Its place among this set's events in the session (1, 2, …).
    pub sequence: u32,
    /// The interaction cassette (a file name in the same set) this event
    /// followed: replay delivers the event once it has served that one.
    /// `None` when the event came before any interaction of the set.
    pub after: Option<String>,
    /// `payment_intent.succeeded`, …
    pub event_type: String,
    /// The event as delivered (`id`, `object`, `data`, …), redacted.
    pub event: Value,
    /// What the app answered when the event was forwarded while recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppAnswer>,
}

/// The app's answer to a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppAnswer {
    /// Its HTTP status; `None` when there was no answer (`error` says why).
    pub status: Option<u16>,
    pub millis: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl EventCassette {
    /// A new event cassette for `event`, the `sequence`-th of its set.
    pub fn new(sequence: u32, after: Option<String>, event: Value, recorded_at: String) -> EventCassette {
        EventCassette {
            format_version: FORMAT_VERSION,
            kind: EVENT_KIND.to_owned(),
            recorded_at,
            sequence,
            after,
            event_type: event["type"].as_str().unwrap_or("unknown").to_owned(),
            event,
            app: None,
        }
    }

    /// Its file name: `webhook-003-payment_intent.succeeded.json`.
    pub fn file_name(&self) -> String {
        event_file_name(self.sequence, &self.event_type)
    }

    /// The event's id (`evt_…`).
    pub fn event_id(&self) -> &str {
        self.event["id"].as_str().unwrap_or("")
    }

    /// Pretty JSON with a trailing newline, as written.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// The bytes delivered to the app at replay: the event as recorded.
    pub fn payload(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.event).unwrap_or_default()
    }
}

/// `webhook-<sequence>-<type>.json`, the type made file-safe as operation
/// names are ([`file_safe`]).
pub fn event_file_name(sequence: u32, event_type: &str) -> String {
    format!("{EVENT_FILE_PREFIX}{sequence:03}-{}.json", file_safe(event_type))
}

/// Whether a file name is an event cassette's.
pub fn is_event_file(name: &str) -> bool {
    name.starts_with(EVENT_FILE_PREFIX) && name.ends_with(".json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_named_by_their_place_and_type_and_round_trip() {
        let event = serde_json::json!({"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}});
        let c = EventCassette::new(
            3,
            Some("confirm-abc-001.json".into()),
            event,
            "2026-12-03T00:00:00Z".into(),
        );
        assert_eq!(c.file_name(), "webhook-003-payment_intent.succeeded.json");
        assert!(is_event_file(&c.file_name()));
        assert!(!is_event_file("customers.create-abc-001.json"));
        assert_eq!(c.event_id(), "evt_1");
        let back: EventCassette = serde_json::from_slice(&c.to_file_bytes()).expect("parses");
        assert_eq!(back, c);
        assert_eq!(event_file_name(1, "Weird/Type"), "webhook-001-weird_type.json");
    }
}
