//! PaymentIntents: the model, validated changes, the store and the endpoints.

use base64::Engine as _;
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::ids::IdGen;
use crate::list::{Anchor, Collection, Keyed};
use crate::params::{apply_metadata, parse_enum, parse_limit, parse_metadata, MetadataChange, Params, RangeFilter};
use crate::search::SearchQuery;
use crate::state::State;

/// Documented parameters of `POST /v1/payment_intents`.
pub(crate) const CREATE_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "description",
    "metadata",
    "shipping",
    "payment_method_types",
    "payment_method",
    "capture_method",
    "confirm",
    "customer",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "setup_future_usage",
    "expand",
    "confirmation_method",
    "automatic_payment_methods",
    "payment_method_data",
    "payment_method_options",
    "return_url",
    "off_session",
    "on_behalf_of",
    "transfer_data",
    "transfer_group",
    "application_fee_amount",
    "error_on_requires_action",
    "mandate",
    "mandate_data",
    "use_stripe_sdk",
    "radar_options",
    "amount_details",
    "payment_details",
    "hooks",
    "customer_account",
    "confirmation_token",
    "payment_method_configuration",
    "excluded_payment_method_types",
];

/// Parameters of `POST /v1/payment_intents/{id}`.
pub(crate) const UPDATE_PARAMS: &[&str] = &[
    "amount",
    "currency",
    "description",
    "metadata",
    "shipping",
    "receipt_email",
    "payment_method",
    "payment_method_types",
    "setup_future_usage",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "expand",
    "customer",
    "capture_method",
    "application_fee_amount",
    "transfer_group",
    "transfer_data",
    "payment_method_data",
    "payment_method_options",
    "payment_method_configuration",
    "excluded_payment_method_types",
    "amount_details",
    "payment_details",
    "hooks",
    "customer_account",
];

/// Parameters of `POST /v1/payment_intents/{id}/confirm`.
pub(crate) const CONFIRM_PARAMS: &[&str] = &[
    "payment_method",
    "capture_method",
    "receipt_email",
    "return_url",
    "setup_future_usage",
    "shipping",
    "off_session",
    "error_on_requires_action",
    "mandate",
    "mandate_data",
    "payment_method_data",
    "payment_method_options",
    "payment_method_types",
    "radar_options",
    "use_stripe_sdk",
    "expand",
    "confirmation_token",
    "client_secret",
    "excluded_payment_method_types",
    "amount_details",
    "payment_details",
    "hooks",
];

/// Parameters of `POST /v1/payment_intents/{id}/capture`.
pub(crate) const CAPTURE_PARAMS: &[&str] = &[
    "amount_to_capture",
    "application_fee_amount",
    "expand",
    "final_capture",
    "metadata",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "transfer_data",
    "amount_details",
    "payment_details",
    "hooks",
];

/// Parameters of `POST /v1/payment_intents/{id}/cancel`.
pub(crate) const CANCEL_PARAMS: &[&str] = &["cancellation_reason", "expand"];
/// Parameters of `GET /v1/payment_intents/{id}`.
pub(crate) const RETRIEVE_PARAMS: &[&str] = &["client_secret", "expand"];
/// Parameters of `GET /v1/payment_intents`.
pub(crate) const LIST_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "customer",
    "customer_account",
    "created",
    "expand",
];
/// Parameters of `GET /v1/payment_intents/search`.
pub(crate) const SEARCH_PARAMS: &[&str] = &["query", "limit", "page", "expand"];

/// Payment method types accepted in `payment_method_types`.
pub(crate) const PAYMENT_METHOD_TYPES: &[&str] = &[
    "acss_debit",
    "affirm",
    "afterpay_clearpay",
    "alipay",
    "amazon_pay",
    "au_becs_debit",
    "bacs_debit",
    "bancontact",
    "blik",
    "boleto",
    "card",
    "cashapp",
    "customer_balance",
    "eps",
    "fpx",
    "giropay",
    "grabpay",
    "ideal",
    "klarna",
    "konbini",
    "link",
    "mobilepay",
    "multibanco",
    "oxxo",
    "p24",
    "paynow",
    "paypal",
    "pix",
    "promptpay",
    "revolut_pay",
    "sepa_debit",
    "sofort",
    "swish",
    "twint",
    "us_bank_account",
    "wechat_pay",
    "zip",
];

/// Lifecycle states of a PaymentIntent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::RequiresPaymentMethod => "requires_payment_method",
            Status::RequiresConfirmation => "requires_confirmation",
            Status::RequiresCapture => "requires_capture",
            Status::Canceled => "canceled",
            Status::Succeeded => "succeeded",
        }
    }
}

/// What happens when a payment method is charged (driven by Stripe's test tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CardOutcome {
    Approve,
    /// Declined with (decline_code, message).
    Decline(&'static str, &'static str),
}

impl CardOutcome {
    /// The outcome for a test token such as `pm_card_chargeDeclined`.
    pub(crate) fn for_token(token: &str) -> Self {
        if token.contains("chargeDeclinedInsufficientFunds") {
            CardOutcome::Decline("insufficient_funds", "Your card has insufficient funds.")
        } else if token.contains("chargeDeclined") {
            CardOutcome::Decline("generic_decline", "Your card was declined.")
        } else {
            CardOutcome::Approve
        }
    }
}

/// A stored PaymentIntent.
#[derive(Debug, Clone)]
pub(crate) struct PaymentIntent {
    pub(crate) id: String,
    pub(crate) amount: i64,
    pub(crate) amount_capturable: i64,
    pub(crate) amount_received: i64,
    pub(crate) application_fee_amount: Option<i64>,
    pub(crate) automatic_payment_methods: Option<Value>,
    pub(crate) canceled_at: Option<i64>,
    pub(crate) cancellation_reason: Option<String>,
    pub(crate) capture_method: String,
    pub(crate) client_secret: String,
    pub(crate) confirmation_method: String,
    pub(crate) created: i64,
    pub(crate) currency: String,
    pub(crate) customer: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) last_payment_error: Option<Value>,
    pub(crate) latest_charge: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) on_behalf_of: Option<String>,
    pub(crate) payment_method: Option<String>,
    /// How a charge on `payment_method` will go (not rendered).
    pub(crate) card_outcome: CardOutcome,
    /// `pmc_…` id when automatic payment methods are enabled.
    pub(crate) payment_method_configuration: Option<String>,
    pub(crate) payment_method_types: Vec<String>,
    pub(crate) receipt_email: Option<String>,
    pub(crate) setup_future_usage: Option<String>,
    pub(crate) shipping: Option<Value>,
    pub(crate) statement_descriptor: Option<String>,
    pub(crate) statement_descriptor_suffix: Option<String>,
    pub(crate) status: Status,
    pub(crate) transfer_data: Option<Value>,
    pub(crate) transfer_group: Option<String>,
}

impl PaymentIntent {
    /// A new intent in `requires_payment_method`.
    pub(crate) fn new(ids: &mut IdGen, created: i64, amount: i64, currency: String) -> Self {
        let id = ids.object_id("pi");
        let client_secret = ids.client_secret(&id);
        Self {
            id,
            amount,
            amount_capturable: 0,
            amount_received: 0,
            application_fee_amount: None,
            automatic_payment_methods: None,
            canceled_at: None,
            cancellation_reason: None,
            capture_method: "automatic_async".to_owned(),
            client_secret,
            confirmation_method: "automatic".to_owned(),
            created,
            currency,
            customer: None,
            description: None,
            last_payment_error: None,
            latest_charge: None,
            metadata: Map::new(),
            on_behalf_of: None,
            payment_method: None,
            card_outcome: CardOutcome::Approve,
            payment_method_configuration: None,
            payment_method_types: vec!["card".to_owned()],
            receipt_email: None,
            setup_future_usage: None,
            shipping: None,
            statement_descriptor: None,
            statement_descriptor_suffix: None,
            status: Status::RequiresPaymentMethod,
            transfer_data: None,
            transfer_group: None,
        }
    }

    /// The API representation, fields in Stripe's order.
    pub(crate) fn to_json(&self) -> Value {
        let fields: Vec<(&str, Value)> = vec![
            ("id", json!(self.id)),
            ("object", json!("payment_intent")),
            ("amount", json!(self.amount)),
            ("amount_capturable", json!(self.amount_capturable)),
            ("amount_details", json!({ "tip": {} })),
            ("amount_received", json!(self.amount_received)),
            ("application", Value::Null),
            ("application_fee_amount", json!(self.application_fee_amount)),
            ("automatic_payment_methods", json!(self.automatic_payment_methods)),
            ("canceled_at", json!(self.canceled_at)),
            ("cancellation_reason", json!(self.cancellation_reason)),
            ("capture_method", json!(self.capture_method)),
            ("client_secret", json!(self.client_secret)),
            ("confirmation_method", json!(self.confirmation_method)),
            ("created", json!(self.created)),
            ("currency", json!(self.currency)),
            ("customer", json!(self.customer)),
            ("description", json!(self.description)),
            ("last_payment_error", json!(self.last_payment_error)),
            ("latest_charge", json!(self.latest_charge)),
            ("livemode", json!(false)),
            ("metadata", Value::Object(self.metadata.clone())),
            ("next_action", Value::Null),
            ("on_behalf_of", json!(self.on_behalf_of)),
            ("payment_method", json!(self.payment_method)),
            (
                "payment_method_configuration_details",
                json!(self
                    .payment_method_configuration
                    .as_ref()
                    .map(|id| json!({ "id": id, "parent": null }))),
            ),
            (
                "payment_method_options",
                payment_method_options(&self.payment_method_types),
            ),
            ("payment_method_types", json!(self.payment_method_types)),
            ("processing", Value::Null),
            ("receipt_email", json!(self.receipt_email)),
            ("review", Value::Null),
            ("setup_future_usage", json!(self.setup_future_usage)),
            ("shipping", json!(self.shipping)),
            ("source", Value::Null),
            ("statement_descriptor", json!(self.statement_descriptor)),
            ("statement_descriptor_suffix", json!(self.statement_descriptor_suffix)),
            ("status", json!(self.status.as_str())),
            ("transfer_data", json!(self.transfer_data)),
            ("transfer_group", json!(self.transfer_group)),
        ];
        Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// Attaches a payment method; Stripe test tokens (`pm_card_visa`, …) are
    /// exchanged for a fresh `pm_…` id as Stripe does.
    pub(crate) fn attach_payment_method(&mut self, token: Option<String>, ids: &mut IdGen) {
        match token {
            Some(token) => {
                self.card_outcome = CardOutcome::for_token(&token);
                self.payment_method = Some(if token.starts_with("pm_card_") {
                    ids.object_id("pm")
                } else {
                    token
                });
            }
            None => {
                self.card_outcome = CardOutcome::Approve;
                self.payment_method = None;
            }
        }
    }

    /// Charges the attached payment method (the core of confirm).
    pub(crate) fn charge(&mut self, ids: &mut IdGen) -> Result<(), ApiError> {
        let charge = ids.object_id("ch");
        self.latest_charge = Some(charge.clone());
        match self.card_outcome {
            CardOutcome::Approve => {
                self.last_payment_error = None;
                if self.capture_method == "manual" {
                    self.status = Status::RequiresCapture;
                    self.amount_capturable = self.amount;
                } else {
                    self.status = Status::Succeeded;
                    self.amount_received = self.amount;
                }
                Ok(())
            }
            CardOutcome::Decline(decline_code, message) => {
                let payment_method = json!({
                    "id": self.payment_method,
                    "object": "payment_method",
                    "type": "card",
                });
                let error = json!({
                    "charge": charge,
                    "code": "card_declined",
                    "decline_code": decline_code,
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": message,
                    "payment_method": payment_method,
                    "type": "card_error",
                });
                self.last_payment_error = Some(error);
                self.status = Status::RequiresPaymentMethod;
                self.payment_method = None;
                self.card_outcome = CardOutcome::Approve;
                Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_error", message)
                    .code("card_declined")
                    .with("charge", json!(charge))
                    .with("decline_code", json!(decline_code))
                    .with("payment_intent", self.to_json())
                    .with("payment_method", payment_method)
                    .remembered())
            }
        }
    }
}

/// `payment_method_options` for the given types (alphabetical, as Stripe sends).
pub(crate) fn payment_method_options(types: &[String]) -> Value {
    let mut sorted: Vec<&String> = types.iter().collect();
    sorted.sort();
    sorted.dedup();
    let options: Map<String, Value> = sorted
        .into_iter()
        .map(|kind| {
            let value = match kind.as_str() {
                "card" => json!({
                    "installments": null,
                    "mandate_options": null,
                    "network": null,
                    "request_three_d_secure": "automatic",
                }),
                "amazon_pay" => json!({ "express_checkout_element_session_id": null }),
                "klarna" => json!({ "preferred_locale": null }),
                "link" => json!({ "persistent_token": null }),
                _ => json!({}),
            };
            (kind.clone(), value)
        })
        .collect();
    Value::Object(options)
}

/// Field changes parsed and validated from parameters, applied only once the
/// whole request is known to be valid. `Some(None)` clears a nullable field.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) amount: Option<i64>,
    pub(crate) currency: Option<String>,
    pub(crate) application_fee_amount: Option<Option<i64>>,
    pub(crate) capture_method: Option<String>,
    pub(crate) customer: Option<Option<String>>,
    pub(crate) description: Option<Option<String>>,
    pub(crate) metadata: Option<MetadataChange>,
    pub(crate) on_behalf_of: Option<Option<String>>,
    pub(crate) payment_method: Option<Option<String>>,
    pub(crate) payment_method_types: Option<Vec<String>>,
    pub(crate) receipt_email: Option<Option<String>>,
    pub(crate) setup_future_usage: Option<Option<String>>,
    pub(crate) shipping: Option<Option<Value>>,
    pub(crate) statement_descriptor: Option<Option<String>>,
    pub(crate) statement_descriptor_suffix: Option<Option<String>>,
    pub(crate) transfer_data: Option<Option<Value>>,
    pub(crate) transfer_group: Option<Option<String>>,
}

impl Changes {
    /// Parses every field this server models (callers first restrict the
    /// parameter names to what their endpoint allows).
    pub(crate) fn parse(p: &Params) -> Result<Self, ApiError> {
        let amount = match p.integer("amount")? {
            Some(amount) if amount < 1 => {
                return Err(ApiError::invalid("This value must be greater than or equal to 1.")
                    .code("parameter_invalid_integer")
                    .param("amount"))
            }
            other => other,
        };
        let currency = match p.non_empty_text("currency")? {
            Some(c) if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => {
                Some(c.to_ascii_lowercase())
            }
            Some(c) => {
                return Err(ApiError::invalid(format!(
                    "Invalid currency: {}. Stripe currently supports these currencies: usd, eur, gbp, cad, aud, jpy, chf, sek, nok, dkk, …",
                    c.to_ascii_lowercase()
                ))
                .param("currency"))
            }
            None => None,
        };
        Ok(Self {
            amount,
            currency,
            application_fee_amount: match p.map.get("application_fee_amount") {
                Some(Value::String(s)) if s.is_empty() => Some(None),
                _ => p.integer("application_fee_amount")?.map(Some),
            },
            capture_method: parse_enum(p, "capture_method", &["automatic", "automatic_async", "manual"])?,
            customer: p.nullable_text("customer")?,
            description: p.nullable_text("description")?,
            metadata: parse_metadata(p)?,
            on_behalf_of: p.nullable_text("on_behalf_of")?,
            payment_method: p.nullable_text("payment_method")?,
            payment_method_types: parse_payment_method_types(p)?,
            receipt_email: p.nullable_text("receipt_email")?,
            setup_future_usage: match p.nullable_text("setup_future_usage")? {
                Some(Some(v)) if v != "on_session" && v != "off_session" => {
                    return Err(ApiError::invalid(
                        "Invalid setup_future_usage: must be one of off_session or on_session",
                    )
                    .param("setup_future_usage"))
                }
                other => other,
            },
            shipping: parse_shipping(p)?,
            statement_descriptor: p.nullable_text("statement_descriptor")?,
            statement_descriptor_suffix: p.nullable_text("statement_descriptor_suffix")?,
            transfer_data: p
                .hash("transfer_data")?
                .map(|h| h.map(|h| Value::Object(h.map.clone()))),
            transfer_group: p.nullable_text("transfer_group")?,
        })
    }

    /// True if the change touches what is charged (not allowed once finalized).
    pub(crate) fn touches_payment(&self) -> bool {
        self.amount.is_some()
            || self.currency.is_some()
            || self.payment_method.is_some()
            || self.payment_method_types.is_some()
            || self.capture_method.is_some()
    }

    /// Applies the changes to an intent.
    pub(crate) fn apply(self, pi: &mut PaymentIntent, ids: &mut IdGen) {
        fn set<T>(field: &mut T, change: Option<T>) {
            if let Some(value) = change {
                *field = value;
            }
        }
        set(&mut pi.amount, self.amount);
        set(&mut pi.currency, self.currency);
        set(&mut pi.application_fee_amount, self.application_fee_amount);
        set(&mut pi.capture_method, self.capture_method);
        set(&mut pi.customer, self.customer);
        set(&mut pi.description, self.description);
        set(&mut pi.on_behalf_of, self.on_behalf_of);
        set(&mut pi.payment_method_types, self.payment_method_types);
        set(&mut pi.receipt_email, self.receipt_email);
        set(&mut pi.setup_future_usage, self.setup_future_usage);
        set(&mut pi.shipping, self.shipping);
        set(&mut pi.statement_descriptor, self.statement_descriptor);
        set(&mut pi.statement_descriptor_suffix, self.statement_descriptor_suffix);
        set(&mut pi.transfer_data, self.transfer_data);
        set(&mut pi.transfer_group, self.transfer_group);
        if let Some(change) = self.metadata {
            apply_metadata(&mut pi.metadata, change);
        }
        if let Some(payment_method) = self.payment_method {
            pi.attach_payment_method(payment_method, ids);
            if matches!(pi.status, Status::RequiresPaymentMethod | Status::RequiresConfirmation) {
                pi.status = if pi.payment_method.is_some() {
                    Status::RequiresConfirmation
                } else {
                    Status::RequiresPaymentMethod
                };
            }
        }
    }
}

/// Parses `payment_method_types`, checking each type is known.
pub(crate) fn parse_payment_method_types(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
    let Some(types) = p.text_list("payment_method_types")? else {
        return Ok(None);
    };
    if let Some(bad) = types.iter().find(|t| !PAYMENT_METHOD_TYPES.contains(&t.as_str())) {
        return Err(ApiError::invalid(format!(
            "The payment method type \"{bad}\" is invalid. Please ensure the provided type is activated in your dashboard (https://dashboard.stripe.com/account/payments/settings) and your account is enabled for any preview features that you are trying to use."
        ))
        .param("payment_method_types"));
    }
    if types.is_empty() {
        return Ok(Some(vec!["card".to_owned()]));
    }
    Ok(Some(types))
}

/// Parses `shipping` into Stripe's normalized shape (`name` and `address` required).
pub(crate) fn parse_shipping(p: &Params) -> Result<Option<Option<Value>>, ApiError> {
    let Some(shipping) = p.hash("shipping")? else {
        return Ok(None);
    };
    let Some(shipping) = shipping else {
        return Ok(Some(None));
    };
    shipping.check_known(&["address", "carrier", "name", "phone", "tracking_number"])?;
    let address = shipping
        .hash("address")?
        .flatten()
        .ok_or_else(|| ApiError::missing_param(&shipping.name("address")))?;
    address.check_known(&["city", "country", "line1", "line2", "postal_code", "state"])?;
    let name = shipping
        .non_empty_text("name")?
        .ok_or_else(|| ApiError::missing_param(&shipping.name("name")))?;
    let mut address_json = Map::new();
    for field in ["city", "country", "line1", "line2", "postal_code", "state"] {
        address_json.insert(field.to_owned(), json!(address.non_empty_text(field)?));
    }
    Ok(Some(Some(json!({
        "address": address_json,
        "carrier": shipping.non_empty_text("carrier")?,
        "name": name,
        "phone": shipping.non_empty_text("phone")?,
        "tracking_number": shipping.non_empty_text("tracking_number")?,
    }))))
}

/// In-memory PaymentIntents, in creation order.
pub(crate) type Store = Collection<PaymentIntent>;

impl Keyed for PaymentIntent {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Collection<PaymentIntent> {
    pub(crate) fn get(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.find(id).ok_or_else(|| ApiError::no_such_intent(id, "intent"))
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Result<&mut PaymentIntent, ApiError> {
        self.find_mut(id).ok_or_else(|| ApiError::no_such_intent(id, "intent"))
    }
}

impl State {
    /// Keeps the PaymentMethod store in step with an intent's method: a
    /// method minted from a test id (`pm_card_visa`) is registered (its id
    /// came from the intent's stream); a stored method's card decides the
    /// outcome of the charge.
    pub(crate) fn sync_payment_method(&mut self, method: Option<&str>, token: Option<&str>) -> Option<CardOutcome> {
        let method = method?;
        if let Some(token) = token.filter(|t| t.starts_with("pm_card_")) {
            self.register_minted_payment_method(method, token);
            return None;
        }
        self.payment_methods
            .find(method)?
            .card
            .as_ref()
            .map(|card| card.outcome)
    }

    /// `POST /v1/payment_intents`.
    pub(crate) fn create(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(CREATE_PARAMS)?;
        if p.non_empty_text("amount")?.is_none() {
            return Err(ApiError::missing_param("amount"));
        }
        p.integer("amount")?;
        if p.non_empty_text("currency")?.is_none() {
            return Err(ApiError::missing_param("currency"));
        }
        let mut changes = Changes::parse(&p)?;
        let confirm = p.boolean("confirm")?.unwrap_or(false);
        let confirmation_method = parse_enum(&p, "confirmation_method", &["automatic", "manual"])?;
        let automatic_payment_methods = parse_automatic_payment_methods(&p)?;
        let has_payment_method = matches!(changes.payment_method, Some(Some(_)));
        if confirm && !has_payment_method {
            return Err(missing_payment_method_error());
        }
        let (Some(amount), Some(currency)) = (changes.amount.take(), changes.currency.take()) else {
            return Err(ApiError::missing_param("amount"));
        };

        let created = self.clock.stamp();
        let mut pi = PaymentIntent::new(&mut self.ids, created, amount, currency);
        if let Some(method) = confirmation_method {
            pi.confirmation_method = method;
        }
        if let Some(apm) = automatic_payment_methods {
            pi.payment_method_configuration = Some(self.ids.object_id("pmc"));
            pi.automatic_payment_methods = Some(apm);
        }
        let token = changes.payment_method.clone().flatten();
        changes.apply(&mut pi, &mut self.ids);
        if let Some(outcome) = self.sync_payment_method(pi.payment_method.as_deref(), token.as_deref()) {
            pi.card_outcome = outcome;
        }
        let intent_id = pi.id.clone();
        let used = pi.payment_method.clone();
        let created_json = pi.to_json();
        let charged = if confirm { pi.charge(&mut self.ids) } else { Ok(()) };
        let body = pi.to_json();
        self.store.insert(pi);
        self.emit("payment_intent.created", created_json);
        if confirm {
            self.record_charge(&intent_id, used);
        }
        charged.map(|()| body)
    }

    /// `GET /v1/payment_intents/{id}`.
    pub(crate) fn retrieve(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(RETRIEVE_PARAMS)?;
        Ok(self.store.get(id)?.to_json())
    }

    /// `POST /v1/payment_intents/{id}`.
    pub(crate) fn update(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(UPDATE_PARAMS)?;
        let changes = Changes::parse(&p)?;
        let pi = self.store.get_mut(id)?;
        if changes.touches_payment()
            && !matches!(pi.status, Status::RequiresPaymentMethod | Status::RequiresConfirmation)
        {
            return Err(ApiError::unexpected_state(
                format!(
                    "You cannot update this PaymentIntent because it has a status of {}. Updates to amount, currency and payment method are only allowed when a PaymentIntent has one of the following statuses: requires_payment_method, requires_confirmation, requires_action.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let token = changes.payment_method.clone().flatten();
        changes.apply(pi, &mut self.ids);
        let minted = pi.payment_method.clone();
        if let Some(outcome) = self.sync_payment_method(minted.as_deref(), token.as_deref()) {
            self.store.get_mut(id)?.card_outcome = outcome;
        }
        Ok(self.store.get(id)?.to_json())
    }

    /// `POST /v1/payment_intents/{id}/confirm`.
    pub(crate) fn confirm(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(CONFIRM_PARAMS)?;
        let changes = Changes::parse(&p)?;
        let pi = self.store.get_mut(id)?;
        if !matches!(pi.status, Status::RequiresPaymentMethod | Status::RequiresConfirmation) {
            return Err(ApiError::unexpected_state(
                format!(
                    "You cannot confirm this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be confirmed: requires_payment_method, requires_confirmation, requires_action.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let has_new_method = matches!(changes.payment_method, Some(Some(_)));
        if !has_new_method && pi.payment_method.is_none() {
            return Err(missing_payment_method_error()
                .with("payment_intent", pi.to_json())
                .remembered());
        }
        let token = changes.payment_method.clone().flatten();
        changes.apply(pi, &mut self.ids);
        let used = pi.payment_method.clone();
        if let Some(outcome) = self.sync_payment_method(used.as_deref(), token.as_deref()) {
            self.store.get_mut(id)?.card_outcome = outcome;
        }
        let pi = self.store.get_mut(id)?;
        let charged = pi.charge(&mut self.ids);
        let body = pi.to_json();
        self.record_charge(id, used);
        charged.map(|()| body)
    }

    /// `POST /v1/payment_intents/{id}/capture`.
    pub(crate) fn capture(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(CAPTURE_PARAMS)?;
        let amount_to_capture = p.integer("amount_to_capture")?;
        let changes = Changes::parse(&p)?;
        let pi = self.store.get_mut(id)?;
        if pi.status != Status::RequiresCapture {
            return Err(ApiError::unexpected_state(
                format!(
                    "This PaymentIntent could not be captured because it has a status of {}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        let amount = amount_to_capture.unwrap_or(pi.amount_capturable);
        if amount < 1 || amount > pi.amount_capturable {
            return Err(ApiError::invalid(format!(
                "The amount to capture ({amount}) must be between 1 and the amount capturable ({}).",
                pi.amount_capturable
            ))
            .code("amount_too_large")
            .param("amount_to_capture"));
        }
        changes.apply(pi, &mut self.ids);
        pi.amount_received = amount;
        pi.amount_capturable = 0;
        pi.status = Status::Succeeded;
        let body = pi.to_json();
        self.capture_charge(id);
        Ok(body)
    }

    /// `POST /v1/payment_intents/{id}/cancel`.
    pub(crate) fn cancel(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(CANCEL_PARAMS)?;
        let reason = parse_enum(
            &p,
            "cancellation_reason",
            &["abandoned", "duplicate", "fraudulent", "requested_by_customer"],
        )?;
        let now = self.clock.now();
        let pi = self.store.get_mut(id)?;
        if matches!(pi.status, Status::Succeeded | Status::Canceled) {
            return Err(ApiError::unexpected_state(
                format!(
                    "You cannot cancel this PaymentIntent because it has a status of {}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.",
                    pi.status.as_str()
                ),
                pi,
            ));
        }
        pi.status = Status::Canceled;
        pi.canceled_at = Some(now);
        pi.cancellation_reason = reason;
        pi.amount_capturable = 0;
        let body = pi.to_json();
        if let Some(charge) = pi.latest_charge.clone().and_then(|c| self.charges.find_mut(&c)) {
            if !charge.captured && charge.failure.is_none() {
                charge.amount_refunded = charge.amount;
            }
        }
        self.emit("payment_intent.canceled", body.clone());
        Ok(body)
    }

    /// `GET /v1/payment_intents`.
    pub(crate) fn list(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(LIST_PARAMS)?;
        let limit = parse_limit(&p)?;
        let customer = p.non_empty_text("customer")?;
        let created = RangeFilter::parse(&p, "created")?;
        let anchor = match (p.non_empty_text("starting_after")?, p.non_empty_text("ending_before")?) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid(
                    "You may only specify one of these parameters: ending_before, starting_after.",
                )
                .param("ending_before"))
            }
            (Some(id), None) => Anchor::After(self.cursor(&id, "starting_after")?),
            (None, Some(id)) => Anchor::Before(self.cursor(&id, "ending_before")?),
            (None, None) => Anchor::Newest,
        };
        let keep = |pi: &PaymentIntent| {
            customer.as_deref().is_none_or(|c| pi.customer.as_deref() == Some(c)) && created.contains(pi.created)
        };
        let (items, has_more) = self.store.page(keep, limit, anchor);
        Ok(json!({
            "object": "list",
            "data": items.iter().map(|pi| pi.to_json()).collect::<Vec<_>>(),
            "has_more": has_more,
            "url": "/v1/payment_intents",
        }))
    }

    /// `GET /v1/payment_intents/search`.
    pub(crate) fn search(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(SEARCH_PARAMS)?;
        let Some(text) = p.text("query")? else {
            return Err(ApiError::missing_param("query"));
        };
        let query = SearchQuery::parse(&text).map_err(|e| e.into_api_error())?;
        let limit = parse_limit(&p)?;
        let anchor = match p.non_empty_text("page")? {
            Some(page) => Anchor::After(
                decode_page_cursor(&page)
                    .and_then(|id| self.store.position(&id))
                    .ok_or_else(|| ApiError::invalid(format!("Invalid page: {page}")).param("page"))?,
            ),
            None => Anchor::Newest,
        };
        let (items, has_more) = self.store.page(|pi| query.matches(pi), limit, anchor);
        let next_page = match (has_more, items.last()) {
            (true, Some(last)) => json!(encode_page_cursor(&last.id)),
            _ => Value::Null,
        };
        Ok(json!({
            "object": "search_result",
            "data": items.iter().map(|pi| pi.to_json()).collect::<Vec<_>>(),
            "has_more": has_more,
            "next_page": next_page,
            "url": "/v1/payment_intents/search",
        }))
    }

    /// Insertion index of a pagination cursor, or a 404 naming `param`.
    pub(crate) fn cursor(&self, id: &str, param: &str) -> Result<usize, ApiError> {
        self.store
            .position(id)
            .ok_or_else(|| ApiError::no_such_intent(id, param))
    }
}

/// Stripe's error for confirming without a payment method.
pub(crate) fn missing_payment_method_error() -> ApiError {
    ApiError::invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
    )
    .code("payment_intent_unexpected_state")
}

/// Parses `automatic_payment_methods[enabled]` / `[allow_redirects]`.
pub(crate) fn parse_automatic_payment_methods(p: &Params) -> Result<Option<Value>, ApiError> {
    let Some(Some(apm)) = p.hash("automatic_payment_methods")? else {
        return Ok(None);
    };
    apm.check_known(&["allow_redirects", "enabled"])?;
    if apm.boolean("enabled")? != Some(true) {
        return Ok(None);
    }
    let redirects = parse_enum(&apm, "allow_redirects", &["always", "never"])?.unwrap_or_else(|| "always".to_owned());
    Ok(Some(json!({ "allow_redirects": redirects, "enabled": true })))
}

/// An opaque search page cursor for "after this intent".
pub(crate) fn encode_page_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

/// The intent id inside a search page cursor.
pub(crate) fn decode_page_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("after:").map(str::to_owned)
}
