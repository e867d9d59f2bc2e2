//! Request-shape checking: every Payment Intents request's parameters are
//! checked against the documented schema, and a violation is described the
//! way Stripe itself would answer it (same status, `code`, `param`, message).
//!
//! `--validate strict` answers violations locally; `warn` (the default) lets
//! the request through and reports them in the log and a response header.

pub mod check;
pub mod schema;
pub mod search;

use std::fmt;

use crate::stripe::errors::{ErrorType, StripeError};
use crate::stripe::params::{Param, Params, Typing};
use crate::stripe::route::Route;
use schema::{Kind, Schema};

/// How violations are handled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidationMode {
    /// No checking.
    Off,
    /// Check, log, and add a `Stripe-Vcr-Validation` header; the request goes on.
    #[default]
    Warn,
    /// Answer a failing request with Stripe's own 400, never forwarding or replaying it.
    Strict,
}

/// What kind of mistake a violation is (for reports and audits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    Unknown,
    Missing,
    InvalidType,
    InvalidValue,
    Empty,
    ArrayKeys,
    Exclusive,
    OnlyWithConfirm,
    Query,
}

/// One way a request breaks the schema, as Stripe would report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub kind: ViolationKind,
    pub code: Option<&'static str>,
    pub param: String,
    pub message: String,
    /// More than Stripe says, for the log (why a search query is invalid).
    pub detail: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match &self.detail {
            Some(d) => write!(f, " ({d})"),
            None => Ok(()),
        }
    }
}

fn shorten(value: &str) -> String {
    const MAX: usize = 100;
    if value.chars().count() > MAX {
        format!("{}…", value.chars().take(MAX).collect::<String>())
    } else {
        value.to_owned()
    }
}

impl Violation {
    fn new(kind: ViolationKind, code: Option<&'static str>, param: &str, message: String) -> Violation {
        Violation {
            kind,
            code,
            param: param.to_owned(),
            message,
            detail: None,
        }
    }

    pub(crate) fn unknown(path: &str, hint: Option<&str>) -> Violation {
        let message = match hint {
            Some(h) => format!("Received unknown parameter: {path}. Did you mean {h}?"),
            None => format!("Received unknown parameter: {path}"),
        };
        Violation::new(ViolationKind::Unknown, Some("parameter_unknown"), path, message)
    }

    pub(crate) fn missing(path: &str) -> Violation {
        Violation::new(
            ViolationKind::Missing,
            Some("parameter_missing"),
            path,
            format!("Missing required param: {path}."),
        )
    }

    pub(crate) fn empty(path: &str) -> Violation {
        Violation::new(
            ViolationKind::Empty,
            Some("parameter_invalid_empty"),
            path,
            format!("You passed an empty string for '{path}'. We assume empty values are an attempt to unset a parameter; however '{path}' cannot be unset. You should remove '{path}' from your request or supply a non-empty value."),
        )
    }

    pub(crate) fn invalid_integer(path: &str, value: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidType,
            Some("parameter_invalid_integer"),
            path,
            format!("Invalid integer: {}", shorten(value)),
        )
    }

    /// JSON `null` for a parameter that cannot be unset: Stripe's message
    /// for `""`, worded for `null` (our reconstruction).
    pub(crate) fn null(path: &str) -> Violation {
        Violation::new(
            ViolationKind::Empty,
            Some("parameter_invalid_empty"),
            path,
            format!("You passed null for '{path}'. We assume null values are an attempt to unset a parameter; however '{path}' cannot be unset. You should remove '{path}' from your request or supply a non-null value."),
        )
    }

    /// A JSON string where the schema wants an integer, boolean or number
    /// (`"amount": "10"`): Stripe's message for the type, the value quoted
    /// as JSON so that it reads as the string it is.
    pub(crate) fn json_string(path: &str, wanted: Kind, value: &str) -> Violation {
        let quoted = serde_json::Value::from(value).to_string();
        let mut v = match wanted {
            Kind::Integer => Violation::invalid_integer(path, &quoted),
            Kind::Boolean => Violation::invalid_boolean(path, &quoted),
            _ => Violation::invalid_decimal(path, &quoted),
        };
        let wanted = match wanted {
            Kind::Integer => "an integer",
            Kind::Boolean => "a boolean",
            _ => "a number",
        };
        v.detail = Some(format!("a JSON string where the schema wants {wanted}"));
        v
    }

    /// A JSON number or boolean where the schema wants a string.
    pub(crate) fn not_a_string(path: &str, value: &Param) -> Violation {
        let mut v = Violation::new(
            ViolationKind::InvalidType,
            None,
            path,
            format!("Invalid {}: must be a string", last(path)),
        );
        v.detail = Some(format!("a JSON {}: {}", value.json_type(), shorten(value.text())));
        v
    }

    pub(crate) fn below(path: &str, min: i64) -> Violation {
        Violation::new(
            ViolationKind::InvalidValue,
            Some("parameter_invalid_integer"),
            path,
            format!("This value must be greater than or equal to {min}."),
        )
    }

    pub(crate) fn above(path: &str, max: i64) -> Violation {
        if path == "amount" {
            return Violation::new(
                ViolationKind::InvalidValue,
                Some("amount_too_large"),
                path,
                "Amount must be no more than $999,999.99".to_owned(),
            );
        }
        Violation::new(
            ViolationKind::InvalidValue,
            Some("parameter_invalid_integer"),
            path,
            format!("This value must be less than or equal to {max}."),
        )
    }

    pub(crate) fn invalid_boolean(path: &str, value: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidType,
            None,
            path,
            format!("Invalid boolean: {}", shorten(value)),
        )
    }

    pub(crate) fn invalid_decimal(path: &str, value: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidType,
            None,
            path,
            format!("Invalid decimal: {}", shorten(value)),
        )
    }

    pub(crate) fn invalid_enum(path: &str, name: &str, allowed: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidValue,
            None,
            path,
            format!("Invalid {name}: must be one of {allowed}"),
        )
    }

    pub(crate) fn too_long(path: &str, value: &str, max: usize) -> Violation {
        Violation::new(
            ViolationKind::InvalidValue,
            None,
            path,
            format!("Invalid string: {}; must be at most {max} characters", shorten(value)),
        )
    }

    /// `supported` lists the codes; when the schema lists none (any three
    /// letters, in `shape`: "lower-case", "upper-case" or ""), the message
    /// says what a code looks like instead.
    pub(crate) fn invalid_currency(path: &str, value: &str, supported: &str, shape: &str) -> Violation {
        let message = if supported.is_empty() {
            let example = if shape == "lower-case" { "usd" } else { "USD" };
            let letters = format!("{shape} letters").trim_start().to_owned();
            format!(
                "Invalid currency: {}. A currency is three {letters} (ISO 4217, e.g. {example}).",
                shorten(value)
            )
        } else {
            format!(
                "Invalid currency: {}. Stripe currently supports these currencies: {supported}",
                shorten(value)
            )
        };
        Violation::new(ViolationKind::InvalidValue, None, path, message)
    }

    pub(crate) fn invalid_hash(path: &str) -> Violation {
        Violation::new(ViolationKind::InvalidType, None, path, "Invalid hash".to_owned())
    }

    pub(crate) fn invalid_array(path: &str) -> Violation {
        Violation::new(ViolationKind::InvalidType, None, path, "Invalid array".to_owned())
    }

    pub(crate) fn not_scalar(path: &str, kinds: &[Kind]) -> Violation {
        match kinds.first() {
            Some(Kind::Integer) => Violation::invalid_integer(path, "(a hash or array)"),
            Some(Kind::Boolean) => Violation::invalid_boolean(path, "(a hash or array)"),
            _ => Violation::new(
                ViolationKind::InvalidType,
                None,
                path,
                format!("Invalid {}: must be a string", last(path)),
            ),
        }
    }

    /// Stripe's exact message for `expand[1]=x` (from the seed pages).
    pub(crate) fn array_keys<'a>(path: &str, keys: impl Iterator<Item = &'a crate::stripe::params::Text>) -> Violation {
        let keys: Vec<String> = keys.map(|k| format!("`{k}`")).collect();
        let expected = (0..)
            .find(|i: &usize| !keys.contains(&format!("`{i}`")))
            .unwrap_or_default();
        Violation::new(
            ViolationKind::ArrayKeys,
            None,
            path,
            format!(
                "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the keys {}, we expected to have a key with the value `{expected}`.",
                keys.join(", ")
            ),
        )
    }

    pub(crate) fn metadata_key(path: &str, key: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidValue,
            None,
            path,
            format!("Invalid key: {} must be a string under 40 characters", shorten(key)),
        )
    }

    pub(crate) fn metadata_value(path: &str, value: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidValue,
            None,
            path,
            format!("Invalid val: {} must be a string under 500 characters", shorten(value)),
        )
    }

    pub(crate) fn metadata_type(path: &str, key: &str) -> Violation {
        Violation::new(
            ViolationKind::InvalidType,
            None,
            path,
            format!("Invalid value type: {key} must be a string"),
        )
    }

    pub(crate) fn exclusive(first: &str, names: &[String]) -> Violation {
        Violation::new(
            ViolationKind::Exclusive,
            Some("parameters_exclusive"),
            first,
            format!("You may only specify one of these parameters: {}.", names.join(", ")),
        )
    }

    pub(crate) fn only_with_confirm(name: &str) -> Violation {
        Violation::new(
            ViolationKind::OnlyWithConfirm,
            None,
            name,
            format!("The parameter {name} can only be used when confirm is set to true."),
        )
    }

    pub(crate) fn bad_query(detail: &str) -> Violation {
        let mut v = Violation::new(
            ViolationKind::Query,
            Some("parameter_invalid_string"),
            "query",
            "Provide a query parameter with a valid search query string.".to_owned(),
        );
        // Stripe's message is generic; the precise reason goes to the log.
        v.detail = Some(detail.to_owned());
        v
    }

    /// The Stripe error object for this violation.
    pub fn to_stripe_error(&self) -> StripeError {
        let error =
            StripeError::new(ErrorType::InvalidRequestError, self.message.clone()).with_param(self.param.clone());
        match self.code {
            Some(code) => error.with_code(code),
            None => error,
        }
    }
}

fn last(path: &str) -> &str {
    path.rsplit('[').next().map(|s| s.trim_end_matches(']')).unwrap_or(path)
}

/// The checker as configured for a run.
#[derive(Debug)]
pub struct Validator {
    pub mode: ValidationMode,
    schema: Schema,
    /// Whether operations beyond Payment Intents are checked against the
    /// API table: with Stripe's own schema, not with a gateway's.
    whole_api: bool,
}

impl Validator {
    /// A validator with `schema` in `mode`.
    pub fn new(mode: ValidationMode, schema: Schema) -> Validator {
        Validator {
            mode,
            schema,
            whole_api: true,
        }
    }

    /// A validator for a Stripe-compatible gateway's schema (`--schema`):
    /// Stripe's table of other operations does not describe its API.
    pub fn for_gateway(mode: ValidationMode, schema: Schema) -> Validator {
        Validator {
            whole_api: false,
            ..Validator::new(mode, schema)
        }
    }

    /// The violations of one request (none when off, or when the schema does
    /// not describe the endpoint). Payment Intents get the full check
    /// against the schema; every other operation the API table knows is
    /// checked for unknown parameters (its schema is stripe-python's alone,
    /// without the constraints a full check needs). `typing` says whether the values came with JSON types (a JSON body)
    /// or as text (query string, form, multipart).
    pub fn check(&self, route: &Route, params: &Params, typing: Typing) -> Vec<Violation> {
        if self.mode == ValidationMode::Off {
            return Vec::new();
        }
        match route {
            Route::PaymentIntents(endpoint) => match self.schema.endpoint(endpoint.name()) {
                Some(spec) => check::check(&self.schema, endpoint.name(), spec, params, typing),
                None => Vec::new(),
            },
            Route::Api(name) => match name.operation().and_then(|op| op.params()) {
                Some(documented) if self.whole_api => check::unknown(documented, params),
                _ => Vec::new(),
            },
            Route::Other => Vec::new(),
        }
    }
}
