//! Stripe's error envelope (`{"error": {...}}`) and the errors the stand-in raises.

use hyper::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::http::{json_bytes, Reply};
use crate::payment_intents::PaymentIntent;

/// A Stripe-style API error; renders the `{"error": {...}}` envelope.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// The envelope's `type` (`invalid_request_error`, `card_error`, ...).
    pub(crate) kind: &'static str,
    pub(crate) code: Option<&'static str>,
    pub(crate) message: Box<str>,
    pub(crate) param: Option<Box<str>>,
    /// Further envelope fields (e.g. `payment_intent`).
    pub(crate) extra: Vec<(&'static str, Value)>,
    /// Extra response headers.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// Whether an idempotent request's result should be remembered: true for
    /// errors raised while executing, false for parameter validation.
    pub(crate) remembered: bool,
    /// Rendered in the v2 API's envelope (`type`, `code`, `message`, no `doc_url`/`param`).
    pub(crate) v2: bool,
}

impl ApiError {
    /// A bare error with a status, type and message.
    pub(crate) fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into().into_boxed_str(),
            param: None,
            extra: Vec::new(),
            headers: Vec::new(),
            remembered: false,
            v2: false,
        }
    }

    /// A 400 `invalid_request_error`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// Sets the error code (the `doc_url` is derived from it).
    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Sets the offending parameter.
    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into().into_boxed_str());
        self
    }

    /// Adds an envelope field.
    pub(crate) fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.push((key, value));
        self
    }

    /// Adds a response header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the error as a result of execution, kept for idempotent replays.
    pub(crate) fn remembered(mut self) -> Self {
        self.remembered = true;
        self
    }

    pub(crate) fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    pub(crate) fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}"))
            .code("parameter_unknown")
            .param(param)
    }

    pub(crate) fn invalid_integer(param: &str, raw: &str) -> Self {
        Self::invalid(format!("Invalid integer: {raw}"))
            .code("parameter_invalid_integer")
            .param(param)
    }

    pub(crate) fn invalid_search_query(param: &str) -> Self {
        Self::invalid("Provide a query parameter with a valid search query string.")
            .code("parameter_invalid_string")
            .param(param)
    }

    pub(crate) fn no_such_intent(id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such payment_intent: '{id}'"),
        )
        .code("resource_missing")
        .param(param)
    }

    /// `No such <kind>: '<id>'`: a 404 for an id in the path (`param` is `id`),
    /// a 400 for an id given in a parameter, as Stripe answers both.
    pub(crate) fn no_such(kind: &str, id: &str, param: &str) -> Self {
        let status = if param == "id" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::new(status, "invalid_request_error", format!("No such {kind}: '{id}'"))
            .code("resource_missing")
            .param(param)
    }

    /// An error in the v2 API's envelope: `{"error": {"code", "message", "type"}}`.
    ///
    /// The v2 envelope has no `param` or `doc_url`; the SDKs dispatch on
    /// `type` and then on `code` (`invalid_fields` for a bad request body).
    pub(crate) fn v2(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        let mut error = Self::new(status, kind, message).code(code);
        error.v2 = true;
        error
    }

    /// `payment_intent_unexpected_state`, carrying the intent as Stripe does.
    pub(crate) fn unexpected_state(message: String, intent: &PaymentIntent) -> Self {
        Self::invalid(message)
            .code("payment_intent_unexpected_state")
            .with("payment_intent", intent.to_json())
            .remembered()
    }

    pub(crate) fn unrecognized_url(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    pub(crate) fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        )
        .header("www-authenticate", "Basic realm=\"Stripe\"")
    }

    pub(crate) fn invalid_api_key(key: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            format!("Invalid API Key provided: {}", mask_key(key)),
        )
        .header("www-authenticate", "Bearer realm=\"Stripe\"")
    }

    pub(crate) fn simulated_failure() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "Simulated failure")
            .header("stripe-should-retry", "true")
    }

    /// The `{"error": {...}}` body, keys in alphabetical order as Stripe sends them.
    pub(crate) fn body(&self) -> Value {
        let mut fields: Vec<(&str, Value)> = vec![
            ("message", Value::from(&*self.message)),
            ("type", Value::from(self.kind)),
        ];
        if self.v2 {
            fields.push(("code", json!(self.code)));
            fields.push(("user_message", Value::Null));
            fields.extend(self.extra.iter().cloned());
            fields.sort_by(|a, b| a.0.cmp(b.0));
            let error: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            return json!({ "error": error });
        }
        if let Some(code) = self.code {
            fields.push(("code", Value::from(code)));
            let doc_url = format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"));
            fields.push(("doc_url", Value::from(doc_url)));
        }
        if let Some(param) = &self.param {
            fields.push(("param", Value::from(&**param)));
        }
        fields.extend(self.extra.iter().cloned());
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let error: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        json!({ "error": error })
    }

    /// Renders the error as a reply.
    pub(crate) fn into_reply(self) -> Reply {
        Reply {
            status: self.status,
            body: json_bytes(&self.body()),
            headers: self.headers,
            original_request: None,
            replayed: false,
        }
    }
}

/// Masks an API key as Stripe does: first 8 and last 4 characters kept.
pub(crate) fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return key.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_api_keys() {
        assert_eq!(mask_key("sk_live_abcdefghijkl1234"), "sk_live_************1234");
    }
}
