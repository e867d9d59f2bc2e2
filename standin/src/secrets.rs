//! Resources whose responses (or requests) carry secrets, one endpoint each, so the
//! proxy's redaction can be tested on real shapes: customer sessions, checkout sessions,
//! ephemeral keys, webhook endpoints, card tokens, account links and login links.

use serde_json::{json, Map, Value};

use crate::cards::Card;
use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{apply_metadata, parse_enum, parse_metadata, Params};
use crate::state::State;

/// A card token from `POST /v1/tokens`, usable once as `card[token]`.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) id: String,
    pub(crate) card: Card,
    pub(crate) used: bool,
}

impl Keyed for Token {
    fn key(&self) -> &str {
        &self.id
    }
}

/// A webhook endpoint (kept for webhook delivery later).
#[derive(Debug, Clone)]
pub(crate) struct WebhookEndpoint {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) enabled_events: Vec<String>,
    pub(crate) secret: String,
}

impl Keyed for WebhookEndpoint {
    fn key(&self) -> &str {
        &self.id
    }
}

/// Stripe's named test tokens (`tok_visa`, …), usable any number of times.
fn is_test_token(token: &str) -> bool {
    token.strip_prefix("tok_").is_some_and(|name| {
        matches!(
            name,
            "visa" | "mastercard" | "amex" | "discover" | "visa_debit" | "chargeCustomerFail"
        ) || name.starts_with("chargeDeclined")
    })
}

impl State {
    /// The card behind `card[token]`: a test token, or a token from `POST /v1/tokens` (once).
    pub(crate) fn card_from_token(&mut self, token: &str, param: &str) -> Result<Card, ApiError> {
        if let Some(stored) = self.tokens.find_mut(token) {
            if stored.used {
                return Err(
                    ApiError::invalid(format!("You cannot use a Stripe token more than once: {token}."))
                        .code("token_already_used")
                        .param(param)
                        .remembered(),
                );
            }
            stored.used = true;
            return Ok(stored.card.clone());
        }
        if is_test_token(token) {
            return Ok(Card::for_test_token(token));
        }
        Err(ApiError::no_such("token", token, param))
    }

    /// `POST /v1/tokens` (card tokens): the request carries the card number and CVC.
    pub(crate) fn create_token(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["card", "customer", "expand"])?;
        let card = p
            .hash("card")?
            .flatten()
            .ok_or_else(|| ApiError::missing_param("card"))?;
        let year = self.current_year();
        let mut allowed = vec!["cvc", "exp_month", "exp_year", "number", "networks"];
        allowed.extend([
            "address_city",
            "address_country",
            "address_line1",
            "address_line2",
            "address_state",
            "address_zip",
            "currency",
            "name",
        ]);
        card.check_known(&allowed)?;
        let parsed = Card::parse_raw(&card, year)?;
        let created = self.clock.stamp();
        let id = self.ids.other_id("tok");
        let card_id = self.ids.other_id("card");
        let mut card_json = json!({
            "id": card_id,
            "object": "card",
            "address_city": card.non_empty_text("address_city")?,
            "address_country": card.non_empty_text("address_country")?,
            "address_line1": card.non_empty_text("address_line1")?,
            "address_line1_check": null,
            "address_line2": card.non_empty_text("address_line2")?,
            "address_state": card.non_empty_text("address_state")?,
            "address_zip": card.non_empty_text("address_zip")?,
            "address_zip_check": null,
            "brand": match parsed.brand { "visa" => "Visa", "mastercard" => "MasterCard", "amex" => "American Express", "discover" => "Discover", _ => "Unknown" },
            "country": "US",
            "cvc_check": if parsed.cvc_given { json!("unchecked") } else { Value::Null },
            "dynamic_last4": null,
            "exp_month": parsed.exp_month,
            "exp_year": parsed.exp_year,
            "fingerprint": parsed.fingerprint,
            "funding": parsed.funding,
            "last4": parsed.last4,
            "metadata": {},
            "name": card.non_empty_text("name")?,
            "tokenization_method": null,
            "wallet": null,
        });
        if let Value::Object(map) = &mut card_json {
            map.sort_keys();
        }
        self.tokens.insert(Token {
            id: id.clone(),
            card: parsed,
            used: false,
        });
        Ok(json!({
            "id": id,
            "object": "token",
            "card": card_json,
            "client_ip": "127.0.0.1",
            "created": created,
            "livemode": false,
            "type": "card",
            "used": false,
        }))
    }

    /// `POST /v1/customer_sessions`: a `cuss_secret_…` client secret.
    pub(crate) fn create_customer_session(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["components", "customer", "customer_account", "expand"])?;
        let customer = p
            .non_empty_text("customer")?
            .ok_or_else(|| ApiError::missing_param("customer"))?;
        let components = p
            .hash("components")?
            .flatten()
            .ok_or_else(|| ApiError::missing_param("components"))?;
        if !self.customers.contains(&customer) {
            return Err(ApiError::no_such("customer", &customer, "customer"));
        }
        let mut rendered = Map::new();
        for name in ["buy_button", "payment_element", "pricing_table"] {
            let enabled = match components.hash(name)?.flatten() {
                Some(c) => c.boolean("enabled")?.unwrap_or(false),
                None => false,
            };
            rendered.insert(name.to_owned(), json!({ "enabled": enabled, "features": null }));
        }
        let created = self.clock.stamp();
        let secret = format!("cuss_secret_{}", self.ids.other_token(46));
        Ok(json!({
            "object": "customer_session",
            "client_secret": secret,
            "components": rendered,
            "created": created,
            "customer": customer,
            "expires_at": created + 1800,
            "livemode": false,
        }))
    }

    /// `POST /v1/checkout/sessions`: a hosted session has a `url`, an embedded
    /// or custom one a `cs_test_…_secret_…` client secret.
    pub(crate) fn create_checkout_session(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&[
            "cancel_url",
            "client_reference_id",
            "currency",
            "customer",
            "customer_email",
            "expand",
            "line_items",
            "metadata",
            "mode",
            "payment_intent_data",
            "payment_method_types",
            "return_url",
            "success_url",
            "ui_mode",
        ])?;
        let mode = parse_enum(&p, "mode", &["payment", "setup", "subscription"])?
            .ok_or_else(|| ApiError::missing_param("mode"))?;
        let ui_mode =
            parse_enum(&p, "ui_mode", &["custom", "embedded", "hosted"])?.unwrap_or_else(|| "hosted".to_owned());
        let hosted = ui_mode == "hosted";
        let success_url = p.non_empty_text("success_url")?;
        if hosted && success_url.is_none() && mode != "setup" {
            return Err(ApiError::missing_param("success_url"));
        }
        let mut amount_total: i64 = 0;
        let mut currency = p.non_empty_text("currency")?.map(|c| c.to_ascii_lowercase());
        if let Some(serde_json::Value::Array(items)) = p.map.get("line_items") {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(item) = item else { continue };
                let item = Params::nested(item, format!("line_items[{i}]"));
                let quantity = item.integer("quantity")?.unwrap_or(1);
                if let Some(Some(price)) = item.hash("price_data")? {
                    amount_total = amount_total
                        .saturating_add(price.integer("unit_amount")?.unwrap_or(0).saturating_mul(quantity));
                    if currency.is_none() {
                        currency = price.non_empty_text("currency")?.map(|c| c.to_ascii_lowercase());
                    }
                }
            }
        }
        if mode == "payment" && amount_total == 0 && p.map.get("line_items").is_none() {
            return Err(ApiError::invalid("`line_items` is required in `payment` mode.").param("line_items"));
        }
        let metadata = parse_metadata(&p)?;
        let mut metadata_map = Map::new();
        if let Some(change) = metadata {
            apply_metadata(&mut metadata_map, change);
        }
        let created = self.clock.stamp();
        let id = format!("cs_test_a1{}", self.ids.other_token(56));
        let client_secret = (!hosted).then(|| format!("{id}_secret_{}", self.ids.other_token(24)));
        let url = hosted.then(|| format!("https://checkout.stripe.com/c/pay/{id}#{}", self.ids.other_token(120)));
        Ok(json!({
            "id": id,
            "object": "checkout.session",
            "amount_subtotal": amount_total,
            "amount_total": amount_total,
            "cancel_url": p.non_empty_text("cancel_url")?,
            "client_reference_id": p.non_empty_text("client_reference_id")?,
            "client_secret": client_secret,
            "created": created,
            "currency": currency,
            "customer": p.non_empty_text("customer")?,
            "customer_email": p.non_empty_text("customer_email")?,
            "expires_at": created + 86_400,
            "livemode": false,
            "metadata": metadata_map,
            "mode": mode,
            "payment_intent": null,
            "payment_status": "unpaid",
            "return_url": p.non_empty_text("return_url")?,
            "status": "open",
            "success_url": success_url,
            "ui_mode": ui_mode,
            "url": url,
        }))
    }

    /// `POST /v1/ephemeral_keys`: needs an explicit `Stripe-Version` header
    /// (the mobile SDK's version); answers `secret: ek_test_…`.
    pub(crate) fn create_ephemeral_key(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["customer", "expand", "issuing_card", "nonce", "verification_session"])?;
        if self.ctx.stripe_version.is_none() {
            // Wording unverified: Stripe's exact message is not on public record.
            return Err(ApiError::invalid(
                "You must pass a Stripe-Version header when creating an ephemeral key; use the API version of the mobile SDK that will use the key.",
            ));
        }
        let (kind, id) = match (p.non_empty_text("customer")?, p.non_empty_text("issuing_card")?) {
            (Some(customer), _) => {
                if !self.customers.contains(&customer) {
                    return Err(ApiError::no_such("customer", &customer, "customer"));
                }
                ("customer", customer)
            }
            (None, Some(card)) => ("issuing.card", card),
            (None, None) => {
                return Err(ApiError::invalid(
                    "One of the following params should be provided for this request: customer, issuing_card, nonce or verification_session.",
                ))
            }
        };
        let created = self.clock.stamp();
        Ok(json!({
            "id": self.ids.other_id("ephkey"),
            "object": "ephemeral_key",
            "associated_objects": [{ "id": id, "type": kind }],
            "created": created,
            "expires": created + 3600,
            "livemode": false,
            "secret": format!("ek_test_{}", self.ids.other_token(96)),
        }))
    }

    /// `POST /v1/webhook_endpoints`: answers the signing secret `whsec_…` (only on create).
    pub(crate) fn create_webhook_endpoint(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&[
            "api_version",
            "connect",
            "description",
            "enabled_events",
            "expand",
            "metadata",
            "url",
        ])?;
        let url = p.non_empty_text("url")?.ok_or_else(|| ApiError::missing_param("url"))?;
        let enabled_events = p
            .text_list("enabled_events")?
            .filter(|e| !e.is_empty())
            .ok_or_else(|| ApiError::missing_param("enabled_events"))?;
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(
                ApiError::invalid("Invalid URL: An explicit scheme (such as https) must be provided.").param("url"),
            );
        }
        let metadata = parse_metadata(&p)?;
        let mut metadata_map = Map::new();
        if let Some(change) = metadata {
            apply_metadata(&mut metadata_map, change);
        }
        let created = self.clock.stamp();
        let endpoint = WebhookEndpoint {
            id: self.ids.other_id("we"),
            url: url.clone(),
            enabled_events: enabled_events.clone(),
            secret: format!("whsec_{}", self.ids.other_token(32)),
        };
        let body = json!({
            "id": endpoint.id,
            "object": "webhook_endpoint",
            "api_version": p.non_empty_text("api_version")?,
            "application": null,
            "created": created,
            "description": p.non_empty_text("description")?,
            "enabled_events": endpoint.enabled_events,
            "livemode": false,
            "metadata": metadata_map,
            "secret": endpoint.secret,
            "status": "enabled",
            "url": endpoint.url,
        });
        self.webhook_endpoints.insert(endpoint);
        Ok(body)
    }

    /// `POST /v1/account_links`: a one-time onboarding URL.
    pub(crate) fn create_account_link(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(&[
            "account",
            "collect",
            "collection_options",
            "expand",
            "refresh_url",
            "return_url",
            "type",
        ])?;
        let account = p
            .non_empty_text("account")?
            .ok_or_else(|| ApiError::missing_param("account"))?;
        let kind = parse_enum(&p, "type", &["account_onboarding", "account_update"])?
            .ok_or_else(|| ApiError::missing_param("type"))?;
        if !account.starts_with("acct_") {
            return Err(ApiError::no_such("account", &account, "account"));
        }
        let _ = kind;
        let created = self.clock.stamp();
        Ok(json!({
            "object": "account_link",
            "created": created,
            "expires_at": created + 300,
            "url": format!("https://connect.stripe.com/setup/s/{account}/{}", self.ids.other_token(12)),
        }))
    }

    /// `POST /v1/accounts/{id}/login_links`: a one-time Express dashboard URL.
    pub(crate) fn create_login_link(&mut self, account: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        if !account.starts_with("acct_") {
            return Err(ApiError::no_such("account", account, "id"));
        }
        let created = self.clock.stamp();
        Ok(json!({
            "object": "login_link",
            "created": created,
            "url": format!("https://connect.stripe.com/express/{account}/{}", self.ids.other_token(12)),
        }))
    }
}
