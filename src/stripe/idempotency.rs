//! Stripe's idempotency rules: which results an `Idempotency-Key` saves, so
//! that replay can tell an SDK retry that Stripe would answer from its saved
//! result from one that Stripe would run again.
//!
//! From docs.stripe.com/api/idempotent_requests: a result is saved only once
//! the endpoint has started executing. Requests that fail parameter
//! validation, that conflict with a concurrent request (409), or that are
//! refused before execution (401, 429) save nothing, so the same key with
//! corrected parameters runs normally.

use serde_json::Value;

/// Whether Stripe keeps this result under the request's `Idempotency-Key`
/// and replays it for a later request with the same key.
///
/// Server errors (5xx) are treated as not saved: Stripe does save a 500 once
/// execution began, but a recording whose retry moved on to a success shows
/// that this one was not, and a recording always says more than the rule.
pub fn result_is_saved(status: u16, body: Option<&Value>) -> bool {
    match status {
        401 | 409 | 429 => false,
        500.. => false,
        400 => !refused_before_execution(body),
        _ => true,
    }
}

/// A 400 that Stripe answers before the endpoint runs: parameter
/// validation (no `code`, or a parameter code) and errors about the key itself.
fn refused_before_execution(body: Option<&Value>) -> bool {
    let Some(error) = body.and_then(|b| b.get("error")) else {
        // Not Stripe's envelope: nothing says the endpoint ran.
        return true;
    };
    match error.get("type").and_then(Value::as_str) {
        Some("idempotency_error") => true,
        Some("invalid_request_error") => match error.get("code").and_then(Value::as_str) {
            None => true,
            Some(code) => is_validation_code(code),
        },
        _ => false,
    }
}

/// Error codes Stripe gives to parameters it refuses while validating them.
fn is_validation_code(code: &str) -> bool {
    code.starts_with("parameter_")
        || matches!(
            code,
            "parameters_exclusive" | "amount_too_small" | "amount_too_large" | "invalid_characters"
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn executed_results_are_saved_and_refusals_are_not() {
        let error = |kind: &str, code: Option<&str>| {
            let mut e = json!({"error": {"type": kind, "message": "m"}});
            if let Some(code) = code {
                e["error"]["code"] = json!(code);
            }
            e
        };
        assert!(result_is_saved(200, Some(&json!({"id": "pi_1"}))));
        assert!(result_is_saved(402, Some(&error("card_error", Some("card_declined")))));
        assert!(result_is_saved(
            400,
            Some(&error("invalid_request_error", Some("payment_intent_unexpected_state")))
        ));
        assert!(result_is_saved(
            404,
            Some(&error("invalid_request_error", Some("resource_missing")))
        ));
        for (status, body) in [
            (400, error("invalid_request_error", Some("parameter_missing"))),
            (400, error("invalid_request_error", Some("parameter_unknown"))),
            (400, error("invalid_request_error", Some("amount_too_small"))),
            (400, error("invalid_request_error", None)),
            (400, error("idempotency_error", None)),
            (401, error("invalid_request_error", None)),
            (409, error("idempotency_error", Some("idempotency_key_in_use"))),
            (429, error("rate_limit_error", None)),
            (500, error("api_error", None)),
            (503, json!("not json")),
        ] {
            assert!(!result_is_saved(status, Some(&body)), "{status} {body}");
        }
        assert!(!result_is_saved(400, None), "a 400 that is not Stripe's envelope");
    }
}
