//! Stripe's webhook events: how a delivery is signed (`Stripe-Signature:
//! t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<payload>" under the endpoint's
//! `whsec_…` secret>`), how a signature is checked the way the official
//! SDKs check it, and which objects an event names (what links it to the
//! requests of a session).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The header a delivery carries its signature in.
pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// How old a signature the official SDKs accept by default (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a signature does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header has no timestamp (t=) or no v1 signature")]
    Malformed,
    #[error("no v1 signature in the Stripe-Signature header matches the payload under this secret")]
    Mismatch,
    #[error("the Stripe-Signature timestamp is {age} s away from now, beyond the {tolerance} s tolerance")]
    Stale { age: i64, tolerance: i64 },
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// The `Stripe-Signature` value for `payload` sent at `timestamp` (Unix
/// seconds), signed with `secret` as Stripe signs: the whole secret,
/// `whsec_` prefix included, is the HMAC key.
pub fn sign(secret: &str, payload: &[u8], timestamp: i64) -> String {
    let digest = mac(secret, timestamp, payload).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Checks a `Stripe-Signature` header as the official SDKs do: any of its
/// `v1` signatures must match (compared in constant time), and its
/// timestamp must be within `tolerance` seconds of `now`.
pub fn verify(header: &str, payload: &[u8], secret: &str, now: i64, tolerance: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let (Some(timestamp), false) = (timestamp, signatures.is_empty()) else {
        return Err(SignatureError::Malformed);
    };
    let matches = signatures
        .iter()
        .any(|s| mac(secret, timestamp, payload).verify_slice(s).is_ok());
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let age = (now - timestamp).abs();
    if age > tolerance {
        return Err(SignatureError::Stale { age, tolerance });
    }
    Ok(())
}

/// The fields of an event's object that hold the id of another object the
/// event is about (a `charge.refunded` names its `payment_intent` and
/// `customer`).
const LINKED_FIELDS: [&str; 10] = [
    "payment_intent",
    "customer",
    "charge",
    "payment_method",
    "setup_intent",
    "invoice",
    "subscription",
    "refund",
    "source",
    "checkout_session",
];

/// The object ids an event names: its object's `id`, then the ids in the
/// object's fields that link to other objects ([`LINKED_FIELDS`], as an id
/// string or an expanded object), in that order, without repeats.
pub fn named_ids(event: &Value) -> Vec<String> {
    let object = &event["data"]["object"];
    let mut ids: Vec<String> = Vec::new();
    let mut add = |v: &Value| {
        let id = match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("id").and_then(Value::as_str),
            _ => None,
        };
        if let Some(id) = id.filter(|s| !s.is_empty()) {
            if !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        }
    };
    add(&object["id"]);
    for field in LINKED_FIELDS {
        add(&object[field]);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_checks_as_the_sdks_check_it() {
        let payload = br#"{"id":"evt_1","object":"event"}"#;
        let header = sign(SECRET, payload, 1_700_000_000);
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(verify(&header, payload, SECRET, 1_700_000_010, 300), Ok(()));
        assert_eq!(
            verify(&header, payload, "whsec_other", 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, b"{}", SECRET, 1_700_000_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, payload, SECRET, 1_700_000_400, 300),
            Err(SignatureError::Stale {
                age: 400,
                tolerance: 300
            })
        );
        assert_eq!(verify("v1=00", payload, SECRET, 0, 300), Err(SignatureError::Malformed));
        // Several signatures (as during a secret roll): any one will do.
        let old = sign("whsec_old", payload, 1_700_000_000);
        let rolled = format!("{old},{},v0=abc", &header["t=1700000000,".len()..]);
        assert_eq!(verify(&rolled, payload, SECRET, 1_700_000_000, 300), Ok(()));
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_payload() {
        // Computed independently, with Python's hmac module:
        // hmac.new(b"whsec_k", b"1.{}", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("whsec_k", b"{}", 1),
            "t=1,v1=3e55f0b5839e8ec0fb44b2f4f4153484f384cbc5344451738bfc77fe78d0d531"
        );
    }

    #[test]
    fn an_event_names_its_object_and_the_objects_it_links_to() {
        let event = serde_json::json!({
            "id": "evt_1", "type": "charge.refunded",
            "data": {"object": {
                "id": "ch_1", "object": "charge", "payment_intent": "pi_1",
                "customer": {"id": "cus_1", "object": "customer"}, "invoice": null, "refund": ""
            }}
        });
        assert_eq!(named_ids(&event), ["ch_1", "pi_1", "cus_1"]);
        assert!(named_ids(&serde_json::json!({"data": {}})).is_empty());
    }
}
