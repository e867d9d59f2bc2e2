//! PaymentMethods: create (card token, test id or raw card), retrieve, attach, detach, list.

use serde_json::{json, Map, Value};

use crate::cards::Card;
use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{apply_metadata, parse_metadata, Params};
use crate::state::State;

/// Parameters of `POST /v1/payment_methods`.
const CREATE_PARAMS: &[&str] = &[
    "allow_redisplay",
    "billing_details",
    "card",
    "customer",
    "expand",
    "metadata",
    "payment_method",
    "type",
];
/// Parameters of `GET /v1/payment_methods` and `GET /v1/customers/{id}/payment_methods`.
const LIST_PARAMS: &[&str] = &[
    "allow_redisplay",
    "customer",
    "ending_before",
    "expand",
    "limit",
    "starting_after",
    "type",
];

/// A stored PaymentMethod.
#[derive(Debug, Clone)]
pub(crate) struct PaymentMethod {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) kind: String,
    pub(crate) card: Option<Card>,
    pub(crate) customer: Option<String>,
    pub(crate) billing_details: Value,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) allow_redisplay: String,
}

impl Keyed for PaymentMethod {
    fn key(&self) -> &str {
        &self.id
    }
}

/// Empty `billing_details`, as Stripe renders them.
fn empty_billing_details() -> Value {
    json!({
        "address": { "city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null },
        "email": null,
        "name": null,
        "phone": null,
        "tax_id": null,
    })
}

impl PaymentMethod {
    /// A card PaymentMethod.
    pub(crate) fn card(id: String, created: i64, card: Card) -> Self {
        Self {
            id,
            created,
            kind: "card".to_owned(),
            card: Some(card),
            customer: None,
            billing_details: empty_billing_details(),
            metadata: Map::new(),
            allow_redisplay: "unspecified".to_owned(),
        }
    }

    /// Stripe's PaymentMethod shape.
    pub(crate) fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("id".to_owned(), json!(self.id));
        object.insert("object".to_owned(), json!("payment_method"));
        object.insert("allow_redisplay".to_owned(), json!(self.allow_redisplay));
        object.insert("billing_details".to_owned(), self.billing_details.clone());
        if let Some(card) = &self.card {
            object.insert("card".to_owned(), card.to_json());
        }
        object.insert("created".to_owned(), json!(self.created));
        object.insert("customer".to_owned(), json!(self.customer));
        if self.card.is_none() {
            object.insert(self.kind.clone(), json!({}));
        }
        object.insert("livemode".to_owned(), json!(false));
        object.insert("metadata".to_owned(), Value::Object(self.metadata.clone()));
        object.insert("type".to_owned(), json!(self.kind));
        Value::Object(object)
    }
}

/// Parses `billing_details` into Stripe's normalized shape.
fn parse_billing_details(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(Some(details)) = p.hash("billing_details")? else {
        return Ok(None);
    };
    details.check_known(&["address", "email", "name", "phone", "tax_id"])?;
    let mut out = empty_billing_details();
    if let Some(Some(address)) = details.hash("address")? {
        address.check_known(&["city", "country", "line1", "line2", "postal_code", "state"])?;
        for field in ["city", "country", "line1", "line2", "postal_code", "state"] {
            out["address"][field] = json!(address.non_empty_text(field)?);
        }
    }
    for field in ["email", "name", "phone", "tax_id"] {
        out[field] = json!(details.non_empty_text(field)?);
    }
    Ok(Some(out))
}

impl State {
    /// The year of the clock's current time (for card expiry checks).
    pub(crate) fn current_year(&self) -> i64 {
        crate::ids::rfc3339(self.clock.now())
            .get(..4)
            .and_then(|y| y.parse().ok())
            .unwrap_or(2026)
    }

    /// The id of an existing PaymentMethod named by parameter `param`; a test
    /// id such as `pm_card_visa` creates a fresh PaymentMethod, as Stripe does.
    pub(crate) fn resolve_payment_method(&mut self, id: &str, param: &str) -> Result<String, ApiError> {
        if id.starts_with("pm_card_") {
            let created = self.clock.stamp();
            let pm = PaymentMethod::card(self.ids.other_id("pm"), created, Card::for_test_token(id));
            let pm_id = pm.id.clone();
            self.payment_methods.insert(pm);
            return Ok(pm_id);
        }
        if self.payment_methods.contains(id) {
            return Ok(id.to_owned());
        }
        Err(ApiError::no_such("PaymentMethod", id, param))
    }

    /// Registers the PaymentMethod a PaymentIntent minted from a test id
    /// (`pm_card_visa`); its id came from the PaymentIntent stream, so only
    /// the record is added here (no id drawn, the clock does not advance).
    pub(crate) fn register_minted_payment_method(&mut self, id: &str, token: &str) {
        if !self.payment_methods.contains(id) {
            let pm = PaymentMethod::card(id.to_owned(), self.clock.now(), Card::for_test_token(token));
            self.payment_methods.insert(pm);
        }
    }

    /// Attaches a PaymentMethod to a customer (both known) and records the event.
    pub(crate) fn attach_to_customer(&mut self, pm_id: &str, customer: &str) -> Result<Value, ApiError> {
        let pm = self
            .payment_methods
            .find_mut(pm_id)
            .ok_or_else(|| ApiError::no_such("PaymentMethod", pm_id, "id"))?;
        match pm.customer.as_deref() {
            Some(current) if current == customer => return Ok(pm.to_json()),
            Some(_) => {
                return Err(ApiError::invalid(
                    "The payment method you provided has already been attached to a customer.",
                )
                .remembered())
            }
            None => pm.customer = Some(customer.to_owned()),
        }
        let body = pm.to_json();
        self.emit("payment_method.attached", body.clone());
        Ok(body)
    }

    /// `POST /v1/payment_methods`.
    pub(crate) fn create_payment_method(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(CREATE_PARAMS)?;
        let kind = p
            .non_empty_text("type")?
            .ok_or_else(|| ApiError::missing_param("type"))?;
        if !crate::payment_intents::PAYMENT_METHOD_TYPES.contains(&kind.as_str()) {
            return Err(
                ApiError::invalid(format!("Invalid type: {kind} is not a supported payment method type."))
                    .param("type"),
            );
        }
        let billing_details = parse_billing_details(&p)?;
        let metadata = parse_metadata(&p)?;
        let allow_redisplay = crate::params::parse_enum(&p, "allow_redisplay", &["always", "limited", "unspecified"])?;
        let card = match (kind.as_str(), p.hash("card")?.flatten()) {
            ("card", None) => return Err(ApiError::missing_param("card")),
            ("card", Some(card)) => Some(match card.non_empty_text("token")? {
                Some(token) => {
                    card.check_known(&["token"])?;
                    self.card_from_token(&token, &card.name("token"))?
                }
                None => {
                    card.check_known(&["cvc", "exp_month", "exp_year", "number", "networks"])?;
                    Card::parse_raw(&card, self.current_year())?
                }
            }),
            (_, Some(_)) => return Err(ApiError::unknown_param("card")),
            (_, None) => None,
        };
        let created = self.clock.stamp();
        let mut pm = PaymentMethod {
            id: self.ids.other_id("pm"),
            created,
            kind,
            card,
            customer: None,
            billing_details: billing_details.unwrap_or_else(empty_billing_details),
            metadata: Map::new(),
            allow_redisplay: allow_redisplay.unwrap_or_else(|| "unspecified".to_owned()),
        };
        if let Some(change) = metadata {
            apply_metadata(&mut pm.metadata, change);
        }
        let body = pm.to_json();
        self.payment_methods.insert(pm);
        Ok(body)
    }

    /// `GET /v1/payment_methods/{id}`.
    pub(crate) fn retrieve_payment_method(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        self.payment_methods
            .find(id)
            .map(PaymentMethod::to_json)
            .ok_or_else(|| ApiError::no_such("PaymentMethod", id, "id"))
    }

    /// `POST /v1/payment_methods/{id}/attach`.
    pub(crate) fn attach_payment_method(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["customer", "customer_account", "expand"])?;
        let customer = p
            .non_empty_text("customer")?
            .ok_or_else(|| ApiError::missing_param("customer"))?;
        if !id.starts_with("pm_card_") && !self.payment_methods.contains(id) {
            return Err(ApiError::no_such("PaymentMethod", id, "id"));
        }
        if !self.customers.contains(&customer) {
            return Err(ApiError::no_such("customer", &customer, "customer"));
        }
        let pm_id = self.resolve_payment_method(id, "id")?;
        self.attach_to_customer(&pm_id, &customer)
    }

    /// `POST /v1/payment_methods/{id}/detach`.
    pub(crate) fn detach_payment_method(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        let pm = self
            .payment_methods
            .find_mut(id)
            .ok_or_else(|| ApiError::no_such("PaymentMethod", id, "id"))?;
        let Some(customer) = pm.customer.take() else {
            return Err(ApiError::invalid(
                "The payment method you provided is not attached to a customer so detachment is impossible.",
            )
            .remembered());
        };
        let body = pm.to_json();
        if let Some(c) = self.customers.find_mut(&customer) {
            if c.default_payment_method.as_deref() == Some(id) {
                c.default_payment_method = None;
            }
        }
        self.emit("payment_method.detached", body.clone());
        Ok(body)
    }

    /// `GET /v1/payment_methods` (`customer` and `type` filters) and, with
    /// `customer_in_path`, `GET /v1/customers/{id}/payment_methods`.
    pub(crate) fn list_payment_methods(&self, customer_in_path: Option<&str>, p: Params) -> Result<Value, ApiError> {
        let url = match customer_in_path {
            Some(customer) => {
                let allowed: Vec<&str> = LIST_PARAMS.iter().copied().filter(|k| *k != "customer").collect();
                p.check_known(&allowed)?;
                if !self.customers.contains(customer) {
                    return Err(ApiError::no_such("customer", customer, "id"));
                }
                format!("/v1/customers/{customer}/payment_methods")
            }
            None => {
                p.check_known(LIST_PARAMS)?;
                "/v1/payment_methods".to_owned()
            }
        };
        let customer = match customer_in_path {
            Some(c) => Some(c.to_owned()),
            None => p.non_empty_text("customer")?,
        };
        if let (None, Some(c)) = (customer_in_path, customer.as_deref()) {
            if !self.customers.contains(c) {
                return Err(ApiError::no_such("customer", c, "customer"));
            }
        }
        let kind = p.non_empty_text("type")?;
        let keep = |pm: &PaymentMethod| {
            customer.as_deref().is_none_or(|c| pm.customer.as_deref() == Some(c))
                && kind.as_deref().is_none_or(|k| pm.kind == k)
        };
        self.payment_methods
            .list(&p, &url, keep, PaymentMethod::to_json, |id, param| {
                ApiError::no_such("PaymentMethod", id, param)
            })
    }
}
