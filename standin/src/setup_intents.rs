//! SetupIntents: create, retrieve, confirm (saving a card for later, attached to the customer).

use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{apply_metadata, parse_enum, parse_metadata, Params};
use crate::payment_intents::{payment_method_options, CardOutcome};
use crate::state::State;

/// Parameters of `POST /v1/setup_intents`.
const CREATE_PARAMS: &[&str] = &[
    "attach_to_self",
    "automatic_payment_methods",
    "confirm",
    "confirmation_token",
    "customer",
    "customer_account",
    "description",
    "excluded_payment_method_types",
    "expand",
    "flow_directions",
    "mandate_data",
    "metadata",
    "on_behalf_of",
    "payment_method",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "payment_method_types",
    "return_url",
    "single_use",
    "usage",
    "use_stripe_sdk",
];
/// Parameters of `POST /v1/setup_intents/{id}/confirm`.
const CONFIRM_PARAMS: &[&str] = &[
    "client_secret",
    "confirmation_token",
    "expand",
    "mandate_data",
    "payment_method",
    "payment_method_data",
    "payment_method_options",
    "return_url",
    "use_stripe_sdk",
];

/// A stored SetupIntent.
#[derive(Debug, Clone)]
pub(crate) struct SetupIntent {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) client_secret: String,
    pub(crate) customer: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) last_setup_error: Option<Value>,
    pub(crate) latest_attempt: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) payment_method: Option<String>,
    pub(crate) payment_method_types: Vec<String>,
    pub(crate) status: &'static str,
    pub(crate) usage: String,
}

impl Keyed for SetupIntent {
    fn key(&self) -> &str {
        &self.id
    }
}

impl SetupIntent {
    /// Stripe's SetupIntent shape.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "setup_intent",
            "application": null,
            "automatic_payment_methods": null,
            "cancellation_reason": null,
            "client_secret": self.client_secret,
            "created": self.created,
            "customer": self.customer,
            "description": self.description,
            "flow_directions": null,
            "last_setup_error": self.last_setup_error,
            "latest_attempt": self.latest_attempt,
            "livemode": false,
            "mandate": null,
            "metadata": self.metadata,
            "next_action": null,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": payment_method_options(&self.payment_method_types),
            "payment_method_types": self.payment_method_types,
            "single_use_mandate": null,
            "status": self.status,
            "usage": self.usage,
        })
    }
}

impl State {
    fn setup_intent_json(&self, id: &str) -> Result<Value, ApiError> {
        self.setup_intents
            .find(id)
            .map(SetupIntent::to_json)
            .ok_or_else(|| ApiError::no_such("setupintent", id, "id"))
    }

    /// `POST /v1/setup_intents`.
    pub(crate) fn create_setup_intent(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(CREATE_PARAMS)?;
        let customer = p.non_empty_text("customer")?;
        if let Some(c) = customer.as_deref() {
            if !self.customers.contains(c) {
                return Err(ApiError::no_such("customer", c, "customer"));
            }
        }
        let usage =
            parse_enum(&p, "usage", &["off_session", "on_session"])?.unwrap_or_else(|| "off_session".to_owned());
        let types = crate::payment_intents::parse_payment_method_types(&p)?.unwrap_or_else(|| vec!["card".to_owned()]);
        let metadata = parse_metadata(&p)?;
        let confirm = p.boolean("confirm")?.unwrap_or(false);
        let payment_method = match p.non_empty_text("payment_method")? {
            Some(pm) => Some(self.resolve_payment_method(&pm, "payment_method")?),
            None => None,
        };
        if confirm && payment_method.is_none() {
            return Err(ApiError::invalid(
                "You cannot confirm this SetupIntent because it's missing a payment method. You can either update the SetupIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
            )
            .code("setup_intent_unexpected_state"));
        }
        let created = self.clock.stamp();
        let id = self.ids.other_id("seti");
        let client_secret = format!("{id}_secret_{}", self.ids.other_token(31));
        let mut si = SetupIntent {
            id: id.clone(),
            created,
            client_secret,
            customer,
            description: p.non_empty_text("description")?,
            last_setup_error: None,
            latest_attempt: None,
            metadata: Map::new(),
            status: if payment_method.is_some() {
                "requires_confirmation"
            } else {
                "requires_payment_method"
            },
            payment_method,
            payment_method_types: types,
            usage,
        };
        if let Some(change) = metadata {
            apply_metadata(&mut si.metadata, change);
        }
        let body = si.to_json();
        self.setup_intents.insert(si);
        self.emit("setup_intent.created", body);
        if confirm {
            return self.run_setup(&id);
        }
        self.setup_intent_json(&id)
    }

    /// `GET /v1/setup_intents/{id}`.
    pub(crate) fn retrieve_setup_intent(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["client_secret", "expand"])?;
        self.setup_intent_json(id)
    }

    /// `POST /v1/setup_intents/{id}/confirm`.
    pub(crate) fn confirm_setup_intent(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(CONFIRM_PARAMS)?;
        let si = self
            .setup_intents
            .find(id)
            .ok_or_else(|| ApiError::no_such("setupintent", id, "id"))?;
        if !matches!(si.status, "requires_payment_method" | "requires_confirmation") {
            return Err(ApiError::invalid(format!(
                "You cannot confirm this SetupIntent because it has already succeeded or been canceled (status: {}).",
                si.status
            ))
            .code("setup_intent_unexpected_state")
            .with("setup_intent", si.to_json())
            .remembered());
        }
        let has_method = si.payment_method.is_some();
        let payment_method = match p.non_empty_text("payment_method")? {
            Some(pm) => Some(self.resolve_payment_method(&pm, "payment_method")?),
            None if has_method => None,
            None => {
                return Err(ApiError::invalid(
                    "You cannot confirm this SetupIntent because it's missing a payment method. You can either update the SetupIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
                )
                .code("setup_intent_unexpected_state")
                .remembered())
            }
        };
        if let (Some(pm), Some(si)) = (payment_method, self.setup_intents.find_mut(id)) {
            si.payment_method = Some(pm);
        }
        self.run_setup(id)
    }

    /// Verifies the SetupIntent's card: success attaches it to the customer.
    fn run_setup(&mut self, id: &str) -> Result<Value, ApiError> {
        let attempt = self.ids.other_id("setatt");
        let Some(si) = self.setup_intents.find(id).cloned() else {
            return Err(ApiError::no_such("setupintent", id, "id"));
        };
        let outcome = si
            .payment_method
            .as_deref()
            .and_then(|pm| self.payment_methods.find(pm))
            .and_then(|pm| pm.card.as_ref())
            .map_or(CardOutcome::Approve, |card| card.outcome);
        if let CardOutcome::Decline(decline_code, message) = outcome {
            let error = json!({
                "code": "card_declined",
                "decline_code": decline_code,
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": message,
                "payment_method": { "id": si.payment_method, "object": "payment_method", "type": "card" },
                "type": "card_error",
            });
            let body = match self.setup_intents.find_mut(id) {
                Some(si) => {
                    si.latest_attempt = Some(attempt);
                    si.last_setup_error = Some(error);
                    si.payment_method = None;
                    si.status = "requires_payment_method";
                    si.to_json()
                }
                None => Value::Null,
            };
            self.emit("setup_intent.setup_failed", body.clone());
            return Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", message)
                .code("card_declined")
                .with("decline_code", json!(decline_code))
                .with("setup_intent", body)
                .remembered());
        }
        if let (Some(customer), Some(pm)) = (&si.customer, &si.payment_method) {
            let unattached = self.payment_methods.find(pm).is_some_and(|pm| pm.customer.is_none());
            if unattached {
                self.attach_to_customer(pm, customer)?;
            }
        }
        let body = match self.setup_intents.find_mut(id) {
            Some(si) => {
                si.latest_attempt = Some(attempt);
                si.last_setup_error = None;
                si.status = "succeeded";
                si.to_json()
            }
            None => Value::Null,
        };
        self.emit("setup_intent.succeeded", body.clone());
        Ok(body)
    }
}
