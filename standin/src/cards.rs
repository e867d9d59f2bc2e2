//! Test cards: brand, last four digits and outcome from Stripe's test tokens (`tok_visa`,
//! `pm_card_visa`) or test card numbers, and the card hash Stripe renders.

use serde_json::{json, Value};

use crate::errors::ApiError;
use crate::ids::fingerprint;
use crate::params::Params;
use crate::payment_intents::CardOutcome;

/// A card as the stand-in knows it (never the full number or CVC).
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub(crate) brand: &'static str,
    pub(crate) last4: String,
    pub(crate) exp_month: i64,
    pub(crate) exp_year: i64,
    pub(crate) funding: &'static str,
    pub(crate) fingerprint: String,
    /// Whether the CVC was given (`cvc_check` is then `unchecked`, else null).
    pub(crate) cvc_given: bool,
    pub(crate) outcome: CardOutcome,
}

/// Test numbers that decline, with the token names that stand for them.
const DECLINING: &[(&str, &str, &str)] = &[
    ("4000000000000002", "generic_decline", "Your card was declined."),
    (
        "4000000000009995",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    ("4000000000000341", "generic_decline", "Your card was declined."),
];

impl Card {
    /// The card behind a test token such as `tok_visa`, `pm_card_mastercard`,
    /// `tok_chargeDeclined` (unknown suffixes are a Visa that approves).
    pub(crate) fn for_test_token(token: &str) -> Self {
        let name = token
            .strip_prefix("pm_card_")
            .or_else(|| token.strip_prefix("tok_"))
            .unwrap_or(token);
        let number = match name {
            "mastercard" => "5555555555554444",
            "amex" => "378282246310005",
            "discover" => "6011111111111117",
            "visa_debit" => "4000056655665556",
            "chargeDeclined" | "chargeDeclinedFraudulent" => "4000000000000002",
            "chargeDeclinedInsufficientFunds" => "4000000000009995",
            "chargeCustomerFail" => "4000000000000341",
            _ => "4242424242424242",
        };
        let mut card = Self::from_number(number, 12, 2034, false);
        // Keep the PaymentIntent's historical token rule (any name with `chargeDeclined`).
        card.outcome = CardOutcome::for_token(token);
        card
    }

    /// A card from a (valid) test number.
    fn from_number(number: &str, exp_month: i64, exp_year: i64, cvc_given: bool) -> Self {
        let brand = if number.starts_with('4') {
            "visa"
        } else if number.starts_with("34") || number.starts_with("37") {
            "amex"
        } else if number.starts_with("6011") || number.starts_with("65") {
            "discover"
        } else if number.starts_with('5') || number.starts_with('2') {
            "mastercard"
        } else {
            "unknown"
        };
        let outcome = DECLINING
            .iter()
            .find(|(n, _, _)| *n == number)
            .map_or(CardOutcome::Approve, |(_, code, message)| {
                CardOutcome::Decline(code, message)
            });
        Self {
            brand,
            last4: number
                .get(number.len().saturating_sub(4)..)
                .unwrap_or_default()
                .to_owned(),
            exp_month,
            exp_year,
            funding: if number == "4000056655665556" {
                "debit"
            } else {
                "credit"
            },
            fingerprint: fingerprint(number),
            cvc_given,
            outcome,
        }
    }

    /// Parses raw card parameters under `card` (`number`, `exp_month`,
    /// `exp_year`, `cvc`), with Stripe's card errors for bad values.
    pub(crate) fn parse_raw(card: &Params, current_year: i64) -> Result<Self, ApiError> {
        let number: String = card
            .non_empty_text("number")?
            .ok_or_else(|| ApiError::missing_param(&card.name("number")))?
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let exp_month = card
            .integer("exp_month")?
            .ok_or_else(|| ApiError::missing_param(&card.name("exp_month")))?;
        let exp_year = card
            .integer("exp_year")?
            .ok_or_else(|| ApiError::missing_param(&card.name("exp_year")))?;
        let cvc = card.non_empty_text("cvc")?;
        if !luhn_valid(&number) {
            return Err(card_error(
                "incorrect_number",
                "Your card number is incorrect.",
                &card.name("number"),
            ));
        }
        if !(1..=12).contains(&exp_month) {
            return Err(card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                &card.name("exp_month"),
            ));
        }
        let exp_year = if exp_year < 100 { exp_year + 2000 } else { exp_year };
        if exp_year < current_year || exp_year > current_year + 50 {
            return Err(card_error(
                "invalid_expiry_year",
                "Your card's expiration year is invalid.",
                &card.name("exp_year"),
            ));
        }
        if cvc
            .as_deref()
            .is_some_and(|c| !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(card_error(
                "invalid_cvc",
                "Your card's security code is invalid.",
                &card.name("cvc"),
            ));
        }
        Ok(Self::from_number(&number, exp_month, exp_year, cvc.is_some()))
    }

    /// The `card` hash of a PaymentMethod (and, minus a few fields, of a charge's details).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "brand": self.brand,
            "checks": {
                "address_line1_check": null,
                "address_postal_code_check": null,
                "cvc_check": if self.cvc_given { json!("unchecked") } else { Value::Null },
            },
            "country": "US",
            "display_brand": self.brand,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
            "generated_from": null,
            "last4": self.last4,
            "networks": { "available": [self.brand], "preferred": null },
            "regulated_status": "unregulated",
            "three_d_secure_usage": { "supported": true },
            "wallet": null,
        })
    }
}

/// A 402 `card_error` about one card parameter.
fn card_error(code: &'static str, message: &str, param: &str) -> ApiError {
    ApiError::new(hyper::StatusCode::PAYMENT_REQUIRED, "card_error", message)
        .code(code)
        .param(param)
}

/// The Luhn check on a 12–19 digit number.
fn luhn_valid(number: &str) -> bool {
    if !(12..=19).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = number
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d = d * 2;
                if d > 9 {
                    d - 9
                } else {
                    d
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_numbers_and_rejects_typos() {
        assert!(luhn_valid("4242424242424242"));
        assert!(luhn_valid("378282246310005"));
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("42"));
    }

    #[test]
    fn test_tokens_map_to_brands_and_outcomes() {
        let visa = Card::for_test_token("pm_card_visa");
        assert_eq!((visa.brand, visa.last4.as_str()), ("visa", "4242"));
        assert_eq!(visa.outcome, CardOutcome::Approve);
        assert_eq!(Card::for_test_token("tok_mastercard").brand, "mastercard");
        assert!(matches!(
            Card::for_test_token("tok_chargeDeclined").outcome,
            CardOutcome::Decline("generic_decline", _)
        ));
    }
}
