//! Charges: made by confirming (and capturing) PaymentIntents; retrieve and list.

use serde_json::{json, Map, Value};

use crate::cards::Card;
use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{Params, RangeFilter};
use crate::payment_intents::Status;
use crate::state::State;

/// Parameters of `GET /v1/charges`.
const LIST_PARAMS: &[&str] = &[
    "created",
    "customer",
    "ending_before",
    "expand",
    "limit",
    "payment_intent",
    "starting_after",
    "transfer_group",
];

/// Why a charge failed: (code, decline_code, message).
pub(crate) type Failure = (&'static str, String, String);

/// A stored Charge.
#[derive(Debug, Clone)]
pub(crate) struct Charge {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) amount: i64,
    pub(crate) amount_captured: i64,
    pub(crate) amount_refunded: i64,
    pub(crate) captured: bool,
    pub(crate) currency: String,
    pub(crate) customer: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) payment_intent: String,
    pub(crate) payment_method: Option<String>,
    pub(crate) card: Option<Card>,
    pub(crate) failure: Option<Failure>,
    pub(crate) receipt_email: Option<String>,
    pub(crate) receipt_token: String,
}

impl Keyed for Charge {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Charge {
    /// True when nothing is left to refund.
    pub(crate) fn refunded(&self) -> bool {
        self.captured && self.amount_refunded >= self.amount
    }

    /// Stripe's Charge shape.
    pub(crate) fn to_json(&self) -> Value {
        let failed = self.failure.is_some();
        let outcome = match &self.failure {
            None => json!({
                "advice_code": null,
                "network_advice_code": null,
                "network_decline_code": null,
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "Payment complete.",
                "type": "authorized",
            }),
            Some((_, decline_code, _)) => json!({
                "advice_code": null,
                "network_advice_code": null,
                "network_decline_code": null,
                "network_status": "declined_by_network",
                "reason": decline_code,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            }),
        };
        let details = self.card.as_ref().map(|card| {
            let mut card_json = card.to_json();
            if let Value::Object(map) = &mut card_json {
                for key in ["display_brand", "generated_from", "wallet"] {
                    map.shift_remove(key);
                }
                map.insert("network".to_owned(), json!(card.brand));
                map.insert("wallet".to_owned(), Value::Null);
            }
            json!({ "card": card_json, "type": "card" })
        });
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount_captured,
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": if failed { Value::Null } else { json!(format!("txn_{}", self.id.get(3..).unwrap_or_default())) },
            "billing_details": {
                "address": { "city": null, "country": null, "line1": null, "line2": null, "postal_code": null, "state": null },
                "email": null, "name": null, "phone": null, "tax_id": null,
            },
            "calculated_statement_descriptor": "STRIPE-VCR STANDIN",
            "captured": self.captured,
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "destination": null,
            "dispute": null,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": self.failure.as_ref().map(|f| f.0),
            "failure_message": self.failure.as_ref().map(|f| f.2.clone()),
            "fraud_details": {},
            "livemode": false,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "outcome": outcome,
            "paid": !failed,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method,
            "payment_method_details": details,
            "receipt_email": self.receipt_email,
            "receipt_number": null,
            "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", self.receipt_token),
            "refunded": self.refunded(),
            "review": null,
            "shipping": null,
            "source": null,
            "source_transfer": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": if failed { "failed" } else { "succeeded" },
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

impl State {
    /// Records the charge a PaymentIntent just attempted (its `latest_charge`),
    /// and the events Stripe sends for it. `payment_method` is the method the
    /// attempt used (a decline clears it from the intent). When the payment
    /// went through and the intent has a known customer and
    /// `setup_future_usage`, the method is attached to the customer.
    pub(crate) fn record_charge(&mut self, intent_id: &str, payment_method: Option<String>) {
        let Some(pi) = self.store.find(intent_id).cloned() else {
            return;
        };
        let Some(charge_id) = pi.latest_charge.clone() else {
            return;
        };
        let card = payment_method
            .as_deref()
            .and_then(|id| self.payment_methods.find(id))
            .and_then(|pm| pm.card.clone());
        let failure = pi.last_payment_error.as_ref().map(|error| {
            let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            ("card_declined", text("decline_code"), text("message"))
        });
        let failed = failure.is_some();
        let captured = pi.status == Status::Succeeded;
        let charge = Charge {
            id: charge_id,
            created: self.clock.now(),
            amount: pi.amount,
            amount_captured: if captured { pi.amount_received } else { 0 },
            amount_refunded: 0,
            captured,
            currency: pi.currency.clone(),
            customer: pi.customer.clone(),
            description: pi.description.clone(),
            metadata: pi.metadata.clone(),
            payment_intent: pi.id.clone(),
            payment_method: payment_method.clone(),
            card,
            failure,
            receipt_email: pi.receipt_email.clone(),
            receipt_token: self.ids.other_token(40),
        };
        let charge_json = charge.to_json();
        self.charges.insert(charge);
        if failed {
            self.emit("charge.failed", charge_json);
            self.emit("payment_intent.payment_failed", pi.to_json());
            return;
        }
        self.emit("charge.succeeded", charge_json);
        if pi.status == Status::RequiresCapture {
            self.emit("payment_intent.amount_capturable_updated", pi.to_json());
            return;
        }
        self.emit("payment_intent.succeeded", pi.to_json());
        self.save_for_future_usage(&pi.customer, &pi.setup_future_usage, payment_method.as_deref());
    }

    /// Attaches the method to the customer when `setup_future_usage` asks for it (both must be known).
    pub(crate) fn save_for_future_usage(
        &mut self,
        customer: &Option<String>,
        setup_future_usage: &Option<String>,
        payment_method: Option<&str>,
    ) {
        if let (Some(customer), Some(_), Some(pm)) = (customer, setup_future_usage, payment_method) {
            let unattached = self.payment_methods.find(pm).is_some_and(|pm| pm.customer.is_none());
            if unattached && self.customers.contains(customer) {
                // Cannot fail: both exist and the method is not attached.
                let _ = self.attach_to_customer(pm, customer);
            }
        }
    }

    /// Marks a PaymentIntent's charge captured for `amount` (the rest is released).
    pub(crate) fn capture_charge(&mut self, intent_id: &str) {
        let Some(pi) = self.store.find(intent_id).cloned() else {
            return;
        };
        let Some(charge) = pi.latest_charge.as_deref().and_then(|id| self.charges.find_mut(id)) else {
            return;
        };
        charge.captured = true;
        charge.amount_captured = pi.amount_received;
        charge.amount_refunded = charge.amount - pi.amount_received;
        let charge_json = charge.to_json();
        self.emit("charge.captured", charge_json);
        self.emit("payment_intent.succeeded", pi.to_json());
    }

    /// `GET /v1/charges/{id}`.
    pub(crate) fn retrieve_charge(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        self.charges
            .find(id)
            .map(Charge::to_json)
            .ok_or_else(|| ApiError::no_such("charge", id, "id"))
    }

    /// `GET /v1/charges`.
    pub(crate) fn list_charges(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(LIST_PARAMS)?;
        let customer = p.non_empty_text("customer")?;
        let payment_intent = p.non_empty_text("payment_intent")?;
        let created = RangeFilter::parse(&p, "created")?;
        let keep = |c: &Charge| {
            customer.as_deref().is_none_or(|v| c.customer.as_deref() == Some(v))
                && payment_intent.as_deref().is_none_or(|v| c.payment_intent == v)
                && created.contains(c.created)
        };
        self.charges
            .list(&p, "/v1/charges", keep, Charge::to_json, |id, param| {
                ApiError::no_such("charge", id, param)
            })
    }
}
