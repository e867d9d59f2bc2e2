//! Customers: create, retrieve, update, list.

use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::list::Keyed;
use crate::params::{apply_metadata, parse_metadata, MetadataChange, Params, RangeFilter};
use crate::state::State;

/// Parameters of `POST /v1/customers`.
const CREATE_PARAMS: &[&str] = &[
    "address",
    "balance",
    "business_name",
    "cash_balance",
    "description",
    "email",
    "expand",
    "individual_name",
    "invoice_prefix",
    "invoice_settings",
    "metadata",
    "name",
    "next_invoice_sequence",
    "payment_method",
    "phone",
    "preferred_locales",
    "shipping",
    "source",
    "tax",
    "tax_exempt",
    "tax_id_data",
    "test_clock",
    "validate",
];
/// Parameters of `POST /v1/customers/{id}`.
const UPDATE_PARAMS: &[&str] = &[
    "address",
    "balance",
    "business_name",
    "cash_balance",
    "default_source",
    "description",
    "email",
    "expand",
    "individual_name",
    "invoice_prefix",
    "invoice_settings",
    "metadata",
    "name",
    "next_invoice_sequence",
    "phone",
    "preferred_locales",
    "shipping",
    "source",
    "tax",
    "tax_exempt",
    "validate",
];
/// Parameters of `GET /v1/customers`.
const LIST_PARAMS: &[&str] = &[
    "created",
    "email",
    "ending_before",
    "expand",
    "limit",
    "starting_after",
    "test_clock",
];

/// A stored Customer.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) id: String,
    pub(crate) created: i64,
    pub(crate) address: Option<Value>,
    pub(crate) balance: i64,
    pub(crate) description: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) invoice_prefix: String,
    pub(crate) default_payment_method: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) preferred_locales: Vec<String>,
    pub(crate) shipping: Option<Value>,
    pub(crate) tax_exempt: String,
}

impl Keyed for Customer {
    fn key(&self) -> &str {
        &self.id
    }
}

impl Customer {
    /// Stripe's Customer shape.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "customer",
            "address": self.address,
            "balance": self.balance,
            "created": self.created,
            "currency": null,
            "default_source": null,
            "delinquent": false,
            "description": self.description,
            "discount": null,
            "email": self.email,
            "invoice_prefix": self.invoice_prefix,
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": self.default_payment_method,
                "footer": null,
                "rendering_options": null,
            },
            "livemode": false,
            "metadata": self.metadata,
            "name": self.name,
            "next_invoice_sequence": 1,
            "phone": self.phone,
            "preferred_locales": self.preferred_locales,
            "shipping": self.shipping,
            "tax_exempt": self.tax_exempt,
            "test_clock": null,
        })
    }
}

/// Parses an address hash (`address`, `shipping[address]`) into Stripe's shape.
fn parse_address(p: &Params, key: &str) -> Result<Option<Option<Value>>, ApiError> {
    let Some(address) = p.hash(key)? else {
        return Ok(None);
    };
    let Some(address) = address else {
        return Ok(Some(None));
    };
    address.check_known(&["city", "country", "line1", "line2", "postal_code", "state"])?;
    let mut out = Map::new();
    for field in ["city", "country", "line1", "line2", "postal_code", "state"] {
        out.insert(field.to_owned(), json!(address.non_empty_text(field)?));
    }
    Ok(Some(Some(Value::Object(out))))
}

/// Validated changes of a create or update.
struct CustomerChanges {
    address: Option<Option<Value>>,
    balance: Option<i64>,
    description: Option<Option<String>>,
    email: Option<Option<String>>,
    invoice_prefix: Option<String>,
    default_payment_method: Option<Option<String>>,
    metadata: Option<MetadataChange>,
    name: Option<Option<String>>,
    phone: Option<Option<String>>,
    preferred_locales: Option<Vec<String>>,
    shipping: Option<Option<Value>>,
    tax_exempt: Option<String>,
}

impl CustomerChanges {
    fn parse(p: &Params) -> Result<Self, ApiError> {
        let shipping = match p.hash("shipping")? {
            None => None,
            Some(None) => Some(None),
            Some(Some(shipping)) => {
                shipping.check_known(&["address", "name", "phone"])?;
                let address = parse_address(&shipping, "address")?
                    .flatten()
                    .ok_or_else(|| ApiError::missing_param(&shipping.name("address")))?;
                let name = shipping
                    .non_empty_text("name")?
                    .ok_or_else(|| ApiError::missing_param(&shipping.name("name")))?;
                Some(Some(
                    json!({ "address": address, "name": name, "phone": shipping.non_empty_text("phone")? }),
                ))
            }
        };
        let default_payment_method = match p.hash("invoice_settings")?.flatten() {
            Some(settings) => {
                settings.check_known(&["custom_fields", "default_payment_method", "footer", "rendering_options"])?;
                settings.nullable_text("default_payment_method")?
            }
            None => None,
        };
        Ok(Self {
            address: parse_address(p, "address")?,
            balance: p.integer("balance")?,
            description: p.nullable_text("description")?,
            email: p.nullable_text("email")?,
            invoice_prefix: p.non_empty_text("invoice_prefix")?,
            default_payment_method,
            metadata: parse_metadata(p)?,
            name: p.nullable_text("name")?,
            phone: p.nullable_text("phone")?,
            preferred_locales: p.text_list("preferred_locales")?,
            shipping,
            tax_exempt: crate::params::parse_enum(p, "tax_exempt", &["exempt", "none", "reverse"])?,
        })
    }

    fn apply(self, c: &mut Customer) {
        fn set<T>(field: &mut T, change: Option<T>) {
            if let Some(value) = change {
                *field = value;
            }
        }
        set(&mut c.address, self.address);
        set(&mut c.balance, self.balance);
        set(&mut c.description, self.description);
        set(&mut c.email, self.email);
        set(&mut c.invoice_prefix, self.invoice_prefix);
        set(&mut c.default_payment_method, self.default_payment_method);
        set(&mut c.name, self.name);
        set(&mut c.phone, self.phone);
        set(&mut c.preferred_locales, self.preferred_locales);
        set(&mut c.shipping, self.shipping);
        set(&mut c.tax_exempt, self.tax_exempt);
        if let Some(change) = self.metadata {
            apply_metadata(&mut c.metadata, change);
        }
    }
}

impl State {
    /// Checks that a new default payment method is attached to the customer.
    fn check_default_payment_method(&self, customer: &str, changes: &CustomerChanges) -> Result<(), ApiError> {
        let Some(Some(pm)) = &changes.default_payment_method else {
            return Ok(());
        };
        let attached = self
            .payment_methods
            .find(pm)
            .ok_or_else(|| ApiError::no_such("PaymentMethod", pm, "invoice_settings[default_payment_method]"))?
            .customer
            .as_deref()
            == Some(customer);
        if attached {
            Ok(())
        } else {
            Err(ApiError::invalid(format!(
                "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
            ))
            .param("invoice_settings[default_payment_method]"))
        }
    }

    /// `POST /v1/customers`.
    pub(crate) fn create_customer(&mut self, p: Params) -> Result<Value, ApiError> {
        p.check_known(CREATE_PARAMS)?;
        let changes = CustomerChanges::parse(&p)?;
        let payment_method = p.non_empty_text("payment_method")?;
        if let Some(pm) = payment_method.as_deref() {
            if !pm.starts_with("pm_card_") && !self.payment_methods.contains(pm) {
                return Err(ApiError::no_such("PaymentMethod", pm, "payment_method"));
            }
        }
        let created = self.clock.stamp();
        let id = self.ids.other_id("cus");
        let invoice_prefix = self.ids.other_token(8).to_ascii_uppercase();
        let mut customer = Customer {
            id: id.clone(),
            created,
            address: None,
            balance: 0,
            description: None,
            email: None,
            invoice_prefix,
            default_payment_method: None,
            metadata: Map::new(),
            name: None,
            phone: None,
            preferred_locales: Vec::new(),
            shipping: None,
            tax_exempt: "none".to_owned(),
        };
        if let Some(Some(pm)) = &changes.default_payment_method {
            if pm.as_str() != payment_method.as_deref().unwrap_or_default() {
                self.check_default_payment_method(&id, &changes)?;
            }
        }
        changes.apply(&mut customer);
        self.customers.insert(customer);
        if let Some(pm) = payment_method {
            let pm_id = self.resolve_payment_method(&pm, "payment_method")?;
            self.attach_to_customer(&pm_id, &id)?;
        }
        let body = self.customer_json(&id)?;
        self.emit("customer.created", body.clone());
        Ok(body)
    }

    fn customer_json(&self, id: &str) -> Result<Value, ApiError> {
        self.customers
            .find(id)
            .map(Customer::to_json)
            .ok_or_else(|| ApiError::no_such("customer", id, "id"))
    }

    /// `GET /v1/customers/{id}`.
    pub(crate) fn retrieve_customer(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(&["expand"])?;
        self.customer_json(id)
    }

    /// `POST /v1/customers/{id}`.
    pub(crate) fn update_customer(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(UPDATE_PARAMS)?;
        let changes = CustomerChanges::parse(&p)?;
        if !self.customers.contains(id) {
            return Err(ApiError::no_such("customer", id, "id"));
        }
        self.check_default_payment_method(id, &changes)?;
        let customer = self
            .customers
            .find_mut(id)
            .ok_or_else(|| ApiError::no_such("customer", id, "id"))?;
        changes.apply(customer);
        let body = customer.to_json();
        self.emit("customer.updated", body.clone());
        Ok(body)
    }

    /// `GET /v1/customers`.
    pub(crate) fn list_customers(&self, p: Params) -> Result<Value, ApiError> {
        p.check_known(LIST_PARAMS)?;
        let email = p.non_empty_text("email")?;
        let created = RangeFilter::parse(&p, "created")?;
        let keep = |c: &Customer| {
            email.as_deref().is_none_or(|e| c.email.as_deref() == Some(e)) && created.contains(c.created)
        };
        self.customers
            .list(&p, "/v1/customers", keep, Customer::to_json, |id, param| {
                ApiError::no_such("customer", id, param)
            })
    }
}
