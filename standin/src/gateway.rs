//! The gateway dialect (`--dialect gateway-002`): the Stripe-compatible
//! payment gateway of the source document `shared/seeds/002_*.txt`, so that
//! stripe-vcr's tests can record and replay it as a user of that gateway
//! would.
//!
//! What the seed documents, and this module serves:
//!
//! * `POST /v1/payment_intents` with a **JSON body** (`Content-Type:
//!   application/json`): Stripe's parameters (`amount`, `currency`,
//!   `confirm`, `payment_method_data[card]` and `[billing_details]`,
//!   `description`, `metadata`, `shipping`, `return_url`, `off_session`)
//!   plus the gateway's own (`quantity`, `merchant_user_id`,
//!   `merchant_order_id`).
//! * The answer in the seed's shape, its fields in the seed's order:
//!   `created` in **milliseconds**, `currency` in **upper case** as sent,
//!   `payment_method_types` and `payment_method_options` as **JSON
//!   strings** (`"[\"wechat_pay\",\"alipay\",\"card\"]"`), `3ds_status`,
//!   ids of 19 digits (`pi_1604012360740110336`, `pm_…`), the gateway's own
//!   fields echoed, and `null` for what the example leaves empty.
//!
//! What the seed does not say, and is assumed here:
//!
//! * **Errors** use Stripe's envelope (`{"error": {"code", "doc_url",
//!   "message", "param", "type"}}`, Stripe's messages), as a
//!   Stripe-compatible gateway's SDK users would expect; a declined card
//!   (`4000000000000002`) is Stripe's 402 `card_error` / `card_declined`.
//! * **Types are strict**, as in the example: `amount` and `quantity` are
//!   JSON integers, `confirm` and `off_session` booleans, every other value
//!   a string (`exp_month` is `"12"`); a value of another type is a 400
//!   (`Invalid integer: "10"`). Unknown parameters are refused
//!   (`parameter_unknown`); `return_url` and `off_session` need
//!   `confirm: true`. A body that is not a JSON object is a 400.
//! * **Authentication** is Stripe's (a `sk_test_`/`rk_test_` key, Bearer or
//!   Basic).
//! * `GET /v1/payment_intents/{id}` answers a created intent as it was
//!   created (the seed documents only create). Nothing else is served, and
//!   idempotency keys are not remembered.
//! * Responses carry `Content-Type: application/json` and a `Request-Id`,
//!   and are pretty-printed as the seed shows them.
//!
//! With `--seed N`, ids, client secrets and the millisecond clock come from
//! a seeded generator starting at 2026-01-01T00:00:00Z (each intent one
//! second and a seeded number of milliseconds later than the last), so the
//! same requests give byte-identical answers.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Response, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Map, Value};

use crate::auth::authenticate;
use crate::errors::ApiError;
use crate::http::{json_bytes, ApiRequest};
use crate::ids::{IdGen, SEEDED_EPOCH};

/// Which API the stand-in speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Dialect {
    /// Stripe's own API (the default).
    #[default]
    Stripe,
    /// The JSON gateway of `shared/seeds/002_*.txt`.
    #[value(name = "gateway-002")]
    Gateway002,
}

/// The parameters the seed documents for create, and the JSON type each
/// must have.
const PARAMS: [(&str, JsonType); 12] = [
    ("amount", JsonType::Integer),
    ("confirm", JsonType::Boolean),
    ("currency", JsonType::String),
    ("description", JsonType::String),
    ("merchant_order_id", JsonType::String),
    ("merchant_user_id", JsonType::String),
    ("metadata", JsonType::Object),
    ("off_session", JsonType::Boolean),
    ("payment_method_data", JsonType::Object),
    ("quantity", JsonType::Integer),
    ("return_url", JsonType::String),
    ("shipping", JsonType::Object),
];

/// The JSON types the gateway's parameters take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    String,
    Integer,
    Boolean,
    Object,
}

/// A card number the gateway declines (Stripe's generic decline test card).
const DECLINED_CARD: &str = "4000000000000002";

/// The gateway's state: intents by id, and the generator of ids and times.
pub(crate) struct Gateway {
    rng: StdRng,
    /// Milliseconds of the seeded clock; `None` for the real clock.
    clock_ms: Option<i64>,
    intents: HashMap<String, Value>,
}

impl Gateway {
    /// A gateway with seeded ids and clock, or random ids and the real clock.
    pub(crate) fn new(seed: Option<u64>) -> Gateway {
        Gateway {
            rng: match seed {
                Some(seed) => StdRng::seed_from_u64(seed ^ 0x0002_0002_0002_0002),
                None => StdRng::from_os_rng(),
            },
            clock_ms: seed.map(|_| SEEDED_EPOCH * 1000),
            intents: HashMap::new(),
        }
    }

    /// Answers one request, with the gateway's headers.
    pub(crate) fn handle(&mut self, req: &ApiRequest, request_id: &str) -> Response<Full<Bytes>> {
        let (status, body) = match self.execute(req) {
            Ok(intent) => (StatusCode::OK, json_bytes(&intent)),
            Err(error) => (error.status, json_bytes(&error.body())),
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(HeaderName::from_static("request-id"), id);
        }
        response
    }

    fn execute(&mut self, req: &ApiRequest) -> Result<Value, ApiError> {
        authenticate(&req.headers)?;
        let segments: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (&req.method, segments.as_slice()) {
            (&Method::POST, ["v1", "payment_intents"]) => self.create(req),
            (&Method::GET, ["v1", "payment_intents", id]) => self
                .intents
                .get(*id)
                .cloned()
                .ok_or_else(|| ApiError::no_such_intent(id, "intent")),
            _ => Err(ApiError::unrecognized_url(&req.method, &req.path)),
        }
    }

    fn create(&mut self, req: &ApiRequest) -> Result<Value, ApiError> {
        let json_body = req
            .header("content-type")
            .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with("application/json"));
        let params = match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(params)) if json_body => params,
            _ => {
                return Err(ApiError::invalid(
                    "Invalid request: the body must be a JSON object, sent with Content-Type: application/json.",
                ))
            }
        };
        check(&params)?;
        let confirm = params.get("confirm") == Some(&Value::Bool(true));
        let card = params.get("payment_method_data").and_then(|d| d.get("card"));
        if confirm && card.and_then(|c| c.get("number")).and_then(Value::as_str) == Some(DECLINED_CARD) {
            return Err(
                ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", "Your card was declined.")
                    .code("card_declined")
                    .with("decline_code", Value::from("generic_decline")),
            );
        }
        let id = format!("pi_{}", self.digits());
        let payment_method = params
            .contains_key("payment_method_data")
            .then(|| format!("pm_{}", self.digits()));
        let status = match (&payment_method, confirm) {
            (None, _) => "requires_payment_method",
            (Some(_), false) => "requires_confirmation",
            (Some(_), true) => "succeeded",
        };
        let secret = format!("{id}_secret_{}", IdGen::alphanumeric(&mut self.rng, 24));
        let created = self.stamp();
        let field = |name: &str| params.get(name).cloned().unwrap_or(Value::Null);
        let intent = json!({
            "id": id,
            "object": "payment_intent",
            "created": created,
            "currency": field("currency"),
            "amount": field("amount"),
            "status": status,
            "description": field("description"),
            "metadata": params.get("metadata").cloned().unwrap_or_else(|| json!({})),
            "livemode": false,
            "shipping": params.get("shipping").map(shipping).unwrap_or(Value::Null),
            "customer": null,
            "quantity": field("quantity"),
            "invoice": null,
            "merchant_user_id": field("merchant_user_id"),
            "merchant_order_id": field("merchant_order_id"),
            "client_secret": secret,
            "last_payment_error": null,
            "next_action": null,
            "payment_method_types": r#"["wechat_pay","alipay","card"]"#,
            "receipt_email": null,
            "canceled_at": null,
            "cancellation_reason": null,
            "confirmation_method": "automatic",
            "payment_method_options": r#"{"card":{"request_three_d_secure":"auto","capture_method":"automatic"}}"#,
            "3ds_status": null,
            "amount_capturable": null,
            "return_url": field("return_url"),
            "payment_method": payment_method,
            "amount_received": null,
            "capture_method": "automatic",
        });
        self.intents.insert(id, intent.clone());
        Ok(intent)
    }

    /// 19 digits, the first not 0, as the seed's ids have.
    fn digits(&mut self) -> u64 {
        self.rng
            .random_range(1_000_000_000_000_000_000..10_000_000_000_000_000_000)
    }

    /// `created` of a new intent, in milliseconds.
    fn stamp(&mut self) -> i64 {
        match &mut self.clock_ms {
            Some(now) => {
                *now += 1000 + self.rng.random_range(1..1000);
                *now
            }
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }
}

/// Refuses what the gateway would: unknown parameters, values of another
/// JSON type, a missing or malformed `amount` or `currency`, and
/// confirm-only parameters without `confirm: true`.
fn check(params: &Map<String, Value>) -> Result<(), ApiError> {
    for (name, value) in params {
        let Some((_, wanted)) = PARAMS.iter().find(|(known, _)| known == name) else {
            return Err(ApiError::unknown_param(name));
        };
        let fits = match wanted {
            JsonType::String => value.is_string(),
            JsonType::Integer => value.is_i64() || value.is_u64(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Object => value.is_object(),
        };
        if !fits {
            return Err(match wanted {
                JsonType::Integer => ApiError::invalid_integer(name, &value.to_string()),
                JsonType::Boolean => ApiError::invalid(format!("Invalid boolean: {value}")).param(name),
                JsonType::Object => ApiError::invalid("Invalid hash").param(name),
                JsonType::String => ApiError::invalid(format!("Invalid {name}: must be a string")).param(name),
            });
        }
        if let Value::Object(children) = value {
            strings_below(name, children)?;
        }
    }
    for required in ["amount", "currency"] {
        if !params.contains_key(required) {
            return Err(ApiError::missing_param(required));
        }
    }
    if params.get("amount").and_then(Value::as_i64).is_none_or(|a| a < 1) {
        return Err(ApiError::invalid("This value must be greater than or equal to 1.")
            .code("parameter_invalid_integer")
            .param("amount"));
    }
    if params.get("quantity").and_then(Value::as_i64).is_some_and(|q| q < 1) {
        return Err(ApiError::invalid("This value must be greater than or equal to 1.")
            .code("parameter_invalid_integer")
            .param("quantity"));
    }
    let currency = params.get("currency").and_then(Value::as_str).unwrap_or_default();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ApiError::invalid(format!(
            "Invalid currency: {currency}. Currencies are three upper-case letters (USD)."
        ))
        .param("currency"));
    }
    if params.get("confirm") != Some(&Value::Bool(true)) {
        if let Some(name) = ["off_session", "return_url"]
            .into_iter()
            .find(|n| params.contains_key(*n))
        {
            return Err(ApiError::invalid(format!(
                "The parameter {name} can only be used when confirm is set to true."
            ))
            .param(name));
        }
    }
    Ok(())
}

/// Below an object parameter every leaf is a string (`exp_month` is
/// `"12"`, `postal_code` `"55555"`), as the seed's example sends them.
fn strings_below(path: &str, children: &Map<String, Value>) -> Result<(), ApiError> {
    for (name, value) in children {
        let here = format!("{path}[{name}]");
        match value {
            Value::String(_) => {}
            Value::Object(inner) => strings_below(&here, inner)?,
            other => {
                return Err(ApiError::invalid(format!("Invalid {name}: must be a string, got {other}")).param(here))
            }
        }
    }
    Ok(())
}

/// The seed's `shipping`: the address in the seed's order, and `carrier`
/// and `tracking_number` (never sent) as `null`.
fn shipping(sent: &Value) -> Value {
    let address = sent.get("address");
    let line = |name: &str| address.and_then(|a| a.get(name)).cloned().unwrap_or(Value::Null);
    json!({
        "address": {
            "city": line("city"),
            "country": line("country"),
            "line1": line("line1"),
            "line2": line("line2"),
            "state": line("state"),
            "postal_code": line("postal_code"),
        },
        "carrier": null,
        "name": sent.get("name").cloned().unwrap_or(Value::Null),
        "phone": sent.get("phone").cloned().unwrap_or(Value::Null),
        "tracking_number": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderMap;

    /// The seed's own request example, verbatim (`schema/gateway-002-example.json`).
    fn example() -> Value {
        serde_json::from_str(include_str!("../../schema/gateway-002-example.json")).expect("the example is JSON")
    }

    fn post(body: &Value) -> ApiRequest {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_gateway"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        ApiRequest {
            method: Method::POST,
            path: "/v1/payment_intents".to_owned(),
            query: None,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn answers_the_seed_example_in_the_seed_shape() {
        let mut gateway = Gateway::new(Some(1));
        let intent = gateway.create(&post(&example())).expect("created");
        let keys: Vec<&str> = intent.as_object().expect("object").keys().map(String::as_str).collect();
        // The seed's response fields, in the seed's order.
        assert_eq!(
            keys,
            [
                "id",
                "object",
                "created",
                "currency",
                "amount",
                "status",
                "description",
                "metadata",
                "livemode",
                "shipping",
                "customer",
                "quantity",
                "invoice",
                "merchant_user_id",
                "merchant_order_id",
                "client_secret",
                "last_payment_error",
                "next_action",
                "payment_method_types",
                "receipt_email",
                "canceled_at",
                "cancellation_reason",
                "confirmation_method",
                "payment_method_options",
                "3ds_status",
                "amount_capturable",
                "return_url",
                "payment_method",
                "amount_received",
                "capture_method"
            ]
        );
        let id = intent["id"].as_str().expect("id");
        assert!(id.len() == 22 && id[3..].bytes().all(|b| b.is_ascii_digit()), "{id}");
        assert!(intent["client_secret"]
            .as_str()
            .expect("secret")
            .starts_with(&format!("{id}_secret_")));
        let created = intent["created"].as_i64().expect("ms");
        assert!(
            created > SEEDED_EPOCH * 1000 && created % 1000 != 0,
            "milliseconds: {created}"
        );
        assert_eq!(intent["currency"], "USD");
        assert_eq!(intent["status"], "succeeded");
        assert_eq!(intent["quantity"], 2);
        assert_eq!(intent["payment_method_types"], r#"["wechat_pay","alipay","card"]"#);
        assert!(intent["payment_method_options"].is_string());
        assert_eq!(intent["shipping"]["tracking_number"], Value::Null);
        // The same seed, the same bytes.
        let again = Gateway::new(Some(1)).create(&post(&example())).expect("created");
        assert_eq!(json_bytes(&again), json_bytes(&intent));
        assert_ne!(gateway.create(&post(&example())).expect("second")["id"], intent["id"]);
    }

    #[test]
    fn refuses_other_types_unknown_parameters_and_form_bodies() {
        let refused = |change: fn(&mut Value)| {
            let mut body = example();
            change(&mut body);
            let err = Gateway::new(Some(1)).create(&post(&body)).expect_err("refused");
            (
                err.status.as_u16(),
                err.body()["error"]["message"].as_str().unwrap_or_default().to_owned(),
            )
        };
        assert_eq!(
            refused(|b| b["amount"] = "10".into()),
            (400, r#"Invalid integer: "10""#.to_owned())
        );
        assert_eq!(
            refused(|b| b["quantity"] = 2.5.into()),
            (400, "Invalid integer: 2.5".to_owned())
        );
        assert_eq!(refused(|b| b["currency"] = "usd".into()).0, 400);
        assert_eq!(
            refused(|b| b["capture_method"] = "manual".into()),
            (400, "Received unknown parameter: capture_method".to_owned())
        );
        assert_eq!(
            refused(|b| b["payment_method_data"]["card"]["exp_month"] = 12.into()).0,
            400
        );
        assert_eq!(
            refused(|b| b["payment_method_data"]["card"]["number"] = DECLINED_CARD.into()),
            (402, "Your card was declined.".to_owned())
        );
        let mut form = post(&example());
        form.headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        form.body = Bytes::from_static(b"amount=10&currency=USD");
        assert_eq!(Gateway::new(None).create(&form).expect_err("form").status, 400);
    }
}
