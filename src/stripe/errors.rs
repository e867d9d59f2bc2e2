//! Stripe's error envelope, `{"error": {...}}`, exactly as api.stripe.com
//! shapes it: fields in alphabetical order, absent fields omitted.

use serde::Serialize;

/// Stripe's error `type` values that stripe-vcr answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Something went wrong on the server side (here: the proxy or upstream).
    ApiError,
    /// The request was wrong.
    InvalidRequestError,
    /// An `Idempotency-Key` was reused with different parameters.
    IdempotencyError,
}

/// The inside of Stripe's error envelope. Field order is Stripe's
/// (alphabetical), so serialised bodies match real ones byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StripeError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_url: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(rename = "type")]
    pub kind: ErrorType,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a StripeError,
}

impl StripeError {
    /// An error with just a type and a message.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> StripeError {
        StripeError {
            code: None,
            doc_url: None,
            message: message.into(),
            param: None,
            kind,
        }
    }

    /// Adds a `code` and the matching `doc_url`
    /// (`https://stripe.com/docs/error-codes/<code-with-hyphens>`).
    pub fn with_code(mut self, code: &str) -> StripeError {
        self.doc_url = Some(format!(
            "https://stripe.com/docs/error-codes/{}",
            code.replace('_', "-")
        ));
        self.code = Some(code.to_owned());
        self
    }

    /// Adds the `param` the error is about.
    pub fn with_param(mut self, param: impl Into<String>) -> StripeError {
        self.param = Some(param.into());
        self
    }

    /// Stripe's 401 for a request without credentials (message verbatim).
    pub fn no_api_key() -> StripeError {
        StripeError::new(
            ErrorType::InvalidRequestError,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        )
    }

    /// Stripe's 400 when an idempotency key is reused with other parameters.
    pub fn idempotency_key_reused(key: &str) -> StripeError {
        StripeError::new(
            ErrorType::IdempotencyError,
            format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."),
        )
    }

    /// Stripe's 400 when an idempotency key first used on one endpoint is
    /// sent to another (captured real response; the order of the two paths,
    /// this request's first, is inferred from third-party mocks of it).
    pub fn idempotency_key_other_endpoint(key: &str, sent: &str, first: &str) -> StripeError {
        StripeError::new(
            ErrorType::IdempotencyError,
            format!("Keys for idempotent requests can only be used for the same endpoint they were first used for ('{sent}' vs '{first}'). Try using a key other than '{key}' if you meant to execute a different request."),
        )
    }

    /// The full JSON body, pretty-printed like Stripe's.
    pub fn to_body(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&Envelope { error: self }).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_alphabetical_and_optional() {
        let e = StripeError::new(ErrorType::InvalidRequestError, "Invalid integer: abc")
            .with_code("parameter_invalid_integer")
            .with_param("amount");
        let v: serde_json::Value = serde_json::from_slice(&e.to_body()).expect("json");
        let keys: Vec<_> = v["error"].as_object().expect("object").keys().cloned().collect();
        assert_eq!(keys, ["code", "doc_url", "message", "param", "type"]);
        assert_eq!(
            v["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/parameter-invalid-integer"
        );
        let bare = String::from_utf8(StripeError::no_api_key().to_body()).expect("utf8");
        assert!(bare.starts_with("{\n  \"error\": {\n    \"message\": \"You did not provide an API key."));
        assert!(bare.contains("\"type\": \"invalid_request_error\""));
        assert!(!bare.contains("code"));
    }
}
