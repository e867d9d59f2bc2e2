//! Refunds: create (of a succeeded PaymentIntent's charge, or of a charge), retrieve, list.

use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{apply_metadata, parse_enum, parse_metadata, Params, RangeFilter};
use crate::state::State;

/// Parameters of `POST /v1/refunds`.
const CREATE_PARAMS: &[&str] = &[
    "amount",
    "charge",
    "currency",
    "customer",
    "expand",
    "instructions_email",
    "metadata",
    "origin",
    "payment_intent",
    "reason",
    "refund_application_fee",
    "reverse_transfer",
];
/// Parameters of `GET /v1/refunds`.
const LIST_PARAMS: &[&str] = &[
    "charge",
    "created",
    "ending_before",
    "expand",
    "limit",
    "payment_intent",
    "starting_after",
];

/// A stored Refund.
#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) amount: i64,
    pub(crate) charge: String,
    pub(crate) currency: String,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) payment_intent: String,
    pub(crate) reason: Option<String>,
    pub(crate) reference: String,
}

impl Keyed for Refund {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Refund {
    /// Stripe's Refund shape.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": format!("txn_{}", self.id.get(3..).unwrap_or_default()),
            "charge": self.charge,
            "created": self.created,
            "currency": self.currency,
            "destination_details": {
                "card": {
                    "reference": self.reference,
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "metadata": self.metadata,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": "succeeded",
            "transfer_reversal": null,
        })
    }
}

/// An amount in a currency as Stripe's messages write it (`$20.00`, `€5.50`, `¥500`).
pub(crate) fn format_amount(amount: i64, currency: &str) -> String {
    const ZERO_DECIMAL: &[&str] = &[
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    ];
    let symbol = match currency {
        "usd" | "cad" | "aud" | "nzd" | "sgd" | "hkd" | "mxn" => "$".to_owned(),
        "eur" => "€".to_owned(),
        "gbp" => "£".to_owned(),
        "jpy" => "¥".to_owned(),
        other => format!("{} ", other.to_ascii_uppercase()),
    };
    if ZERO_DECIMAL.contains(&currency) {
        format!("{symbol}{amount}")
    } else {
        format!("{symbol}{}.{:02}", amount / 100, amount % 100)
    }
}

impl State {
    /// `POST /v1/refunds`.
    pub(crate) fn create_refund(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(CREATE_PARAMS)?;
        let amount = p.integer("amount")?;
        if amount.is_some_and(|a| a < 1) {
            return Err(ApiError::invalid("This value must be greater than or equal to 1.")
                .code("parameter_invalid_integer")
                .param("amount"));
        }
        let reason = parse_enum(&p, "reason", &["duplicate", "fraudulent", "requested_by_customer"])?;
        let metadata = parse_metadata(&p)?;
        let charge_id = match (p.non_empty_text("payment_intent")?, p.non_empty_text("charge")?) {
            (Some(_), Some(_)) => {
                return Err(
                    ApiError::invalid("You may only specify one of these parameters: charge, payment_intent.")
                        .param("payment_intent"),
                )
            }
            (None, None) => {
                return Err(ApiError::invalid(
                    "One of the following params should be provided for this request: payment_intent or charge.",
                ))
            }
            (Some(pi_id), None) => {
                let pi = self
                    .store
                    .find(&pi_id)
                    .ok_or_else(|| ApiError::no_such("payment_intent", &pi_id, "payment_intent"))?;
                let charge = pi
                    .latest_charge
                    .as_deref()
                    .and_then(|id| self.charges.find(id))
                    .filter(|c| c.failure.is_none() && c.captured);
                match charge {
                    Some(charge) => charge.id.clone(),
                    None => {
                        return Err(ApiError::invalid(format!(
                            "This PaymentIntent ({pi_id}) does not have a successful charge to refund."
                        ))
                        .param("payment_intent"))
                    }
                }
            }
            (None, Some(charge_id)) => {
                let charge = self
                    .charges
                    .find(&charge_id)
                    .ok_or_else(|| ApiError::no_such("charge", &charge_id, "charge"))?;
                if charge.failure.is_some() || !charge.captured {
                    return Err(ApiError::invalid(format!(
                        "Charge {charge_id} has not been captured and cannot be refunded; cancel its PaymentIntent instead."
                    ))
                    .param("charge"));
                }
                charge_id
            }
        };
        let charge = self
            .charges
            .find(&charge_id)
            .ok_or_else(|| ApiError::no_such("charge", &charge_id, "charge"))?;
        let refundable = charge.amount_captured - charge.amount_refunded;
        if refundable <= 0 {
            return Err(
                ApiError::invalid(format!("Charge {charge_id} has already been refunded."))
                    .code("charge_already_refunded")
                    .remembered(),
            );
        }
        let amount = amount.unwrap_or(refundable);
        if amount > refundable {
            return Err(ApiError::invalid(format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                format_amount(amount, &charge.currency),
                format_amount(refundable, &charge.currency)
            ))
            .param("amount")
            .remembered());
        }
        let created = self.clock.stamp();
        let mut refund = Refund {
            id: self.ids.other_id("re"),
            created,
            amount,
            charge: charge_id.clone(),
            currency: charge.currency.clone(),
            metadata: Map::new(),
            payment_intent: charge.payment_intent.clone(),
            reason,
            reference: self.ids.other_token(16).to_ascii_uppercase(),
        };
        if let Some(change) = metadata {
            apply_metadata(&mut refund.metadata, change);
        }
        let body = refund.to_json();
        self.refunds.insert(refund);
        let charge_json = match self.charges.find_mut(&charge_id) {
            Some(charge) => {
                charge.amount_refunded += amount;
                charge.to_json()
            }
            None => Value::Null,
        };
        self.emit("refund.created", body.clone());
        self.emit("charge.refunded", charge_json);
        Ok(body)
    }

    /// `GET /v1/refunds/{id}`.
    pub(crate) fn retrieve_refund(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        self.refunds
            .find(id)
            .map(Refund::to_json)
            .ok_or_else(|| ApiError::no_such("refund", id, "id"))
    }

    /// `GET /v1/refunds`.
    pub(crate) fn list_refunds(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(LIST_PARAMS)?;
        let charge = p.non_empty_text("charge")?;
        let payment_intent = p.non_empty_text("payment_intent")?;
        let created = RangeFilter::parse(&p, "created")?;
        let keep = |r: &Refund| {
            charge.as_deref().is_none_or(|v| r.charge == v)
                && payment_intent.as_deref().is_none_or(|v| r.payment_intent == v)
                && created.contains(r.created)
        };
        self.refunds
            .list(&p, "/v1/refunds", keep, Refund::to_json, |id, param| {
                ApiError::no_such("refund", id, param)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_as_stripe_does() {
        assert_eq!(format_amount(2000, "usd"), "$20.00");
        assert_eq!(format_amount(505, "eur"), "€5.05");
        assert_eq!(format_amount(500, "jpy"), "¥500");
        assert_eq!(format_amount(100, "chf"), "CHF 1.00");
    }
}
