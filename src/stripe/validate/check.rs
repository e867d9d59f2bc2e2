//! Checks decoded parameters against an endpoint's schema and reports each
//! violation with the code, param and message Stripe itself answers with.

use std::collections::BTreeMap;

use crate::stripe::params::{Param, Params, Text, Typing};
use crate::stripe::validate::schema::{CurrencyCase, EndpointSchema, Kind, ParamSchema, Rule, Schema};
use crate::stripe::validate::search;
use crate::stripe::validate::Violation;

/// All violations of `params` against `endpoint`, in the order Stripe would
/// meet them: unknown and malformed parameters, then missing ones, then rules
/// between parameters. Stripe answers with the first. With [`Typing::Json`]
/// a value must have the JSON type the schema gives, not only its text.
pub fn check(
    schema: &Schema,
    endpoint_name: &str,
    endpoint: &EndpointSchema,
    params: &Params,
    typing: Typing,
) -> Vec<Violation> {
    let mut checker = Checker {
        schema,
        typing,
        out: Vec::new(),
    };
    let mut path = String::new();
    checker.children(&mut path, &endpoint.params, &params.0, false);
    checker.missing(&mut path, &endpoint.required, &params.0);
    checker.rules(endpoint_name, endpoint, params);
    checker.out
}

/// The parameters of `sent` that `documented` does not list, at any depth:
/// what every endpoint beyond Payment Intents is checked for (their schema
/// is stripe-python's alone, without the constraints a full check needs).
/// Free-form hashes (`metadata`) take any key.
pub fn unknown(documented: &BTreeMap<String, ParamSchema>, sent: &Params) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut path = String::new();
    unknown_children(&mut path, documented, &sent.0, false, &mut out);
    out
}

fn unknown_children(
    path: &mut String,
    documented: &BTreeMap<String, ParamSchema>,
    sent: &BTreeMap<Text, Param>,
    open: bool,
    out: &mut Vec<Violation>,
) {
    for (name, value) in sent {
        let parent_len = push_child(path, name);
        match documented.get(name.as_str()) {
            Some(node) => unknown_in_value(path, node, value, out),
            None if open => {}
            None => out.push(Violation::unknown(path, suggestion(name, documented.keys()))),
        }
        path.truncate(parent_len);
    }
}

fn unknown_in_value(path: &mut String, node: &ParamSchema, value: &Param, out: &mut Vec<Violation>) {
    let kinds = node.kinds();
    match value {
        Param::Str(_) | Param::Num(_) | Param::Bool(_) | Param::Null => {}
        Param::Map(map) if kinds.contains(&Kind::Object) => {
            let children = node.children.as_ref().unwrap_or(&NO_CHILDREN);
            unknown_children(path, children, map, node.open, out);
        }
        Param::Map(map) => {
            // A hash's values, or an array sent with indexes (`items[0][price]`).
            let inner = match kinds.contains(&Kind::Hash) {
                true => &node.values,
                false => &node.items,
            };
            if let Some(inner) = inner {
                for (key, value) in map {
                    let parent_len = push_child(path, key);
                    unknown_in_value(path, inner, value, out);
                    path.truncate(parent_len);
                }
            }
        }
        Param::List(list) => {
            if let Some(items) = &node.items {
                for (index, value) in list.iter().enumerate() {
                    let parent_len = push_index(path, index);
                    unknown_in_value(path, items, value, out);
                    path.truncate(parent_len);
                }
            }
        }
    }
}

struct Checker<'a> {
    schema: &'a Schema,
    typing: Typing,
    out: Vec<Violation>,
}

/// No documented children (a hash whose schema lists none).
static NO_CHILDREN: BTreeMap<String, ParamSchema> = BTreeMap::new();

/// Appends `name` to the bracket path (`shipping` → `shipping[address]`)
/// and returns the parent's length, to truncate back to afterwards. One
/// buffer serves the whole check, so valid requests allocate no paths.
fn push_child(path: &mut String, name: &str) -> usize {
    let parent_len = path.len();
    if parent_len == 0 {
        path.push_str(name);
    } else {
        path.push('[');
        path.push_str(name);
        path.push(']');
    }
    parent_len
}

/// Appends an array index (`[0]`), like [`push_child`].
fn push_index(path: &mut String, index: usize) -> usize {
    use std::fmt::Write;
    let parent_len = path.len();
    // Writing to a String cannot fail.
    let _ = write!(path, "[{index}]");
    parent_len
}

/// The documented name closest to a misspelt one, if any is close.
pub(crate) fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2 && *d * 2 < c.len().max(name.len()))
        .min()
        .map(|(_, c)| c.as_str())
}

/// `a or b`, `a, b, or c`.
fn one_of(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        [rest @ .., last] => format!("{}, or {last}", rest.join(", ")),
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('[').next().map(|s| s.trim_end_matches(']')).unwrap_or(path)
}

impl Checker<'_> {
    fn push(&mut self, v: Violation) {
        self.out.push(v);
    }

    /// Checks every sent child against the documented ones.
    fn children(
        &mut self,
        path: &mut String,
        documented: &BTreeMap<String, ParamSchema>,
        sent: &BTreeMap<Text, Param>,
        open: bool,
    ) {
        for (name, value) in sent {
            let parent_len = push_child(path, name);
            match documented.get(name.as_str()) {
                Some(node) => self.value(path, node, value),
                None if open => {}
                None => {
                    let hint = suggestion(name, documented.keys());
                    self.push(Violation::unknown(path, hint));
                }
            }
            path.truncate(parent_len);
        }
    }

    /// Required children that were not sent.
    fn missing(&mut self, path: &mut String, required: &[String], sent: &BTreeMap<Text, Param>) {
        for name in required {
            if !sent.contains_key(name.as_str()) {
                let parent_len = push_child(path, name);
                self.push(Violation::missing(path));
                path.truncate(parent_len);
            }
        }
    }

    fn value(&mut self, path: &mut String, node: &ParamSchema, value: &Param) {
        let kinds = node.kinds();
        match value {
            Param::Str(s) if s.is_empty() => {
                if !node.emptyable {
                    self.push(Violation::empty(path));
                }
            }
            Param::Null => {
                if !node.emptyable && !node.nullable {
                    self.push(Violation::null(path));
                }
            }
            Param::Str(_) | Param::Num(_) | Param::Bool(_) => self.scalar(path, node, kinds, value),
            Param::Map(map) => {
                if kinds.contains(&Kind::Object) {
                    let children = node.children.as_ref().unwrap_or(&NO_CHILDREN);
                    self.children(path, children, map, node.open);
                    self.missing(path, &node.required_children, map);
                } else if kinds.contains(&Kind::Hash) {
                    self.hash(path, map);
                } else if kinds.contains(&Kind::Array) {
                    self.push(Violation::array_keys(path, map.keys()));
                } else {
                    self.push(Violation::not_scalar(path, kinds));
                }
            }
            Param::List(items) => {
                if let (true, Some(item)) = (kinds.contains(&Kind::Array), &node.items) {
                    for (i, v) in items.iter().enumerate() {
                        let parent_len = push_index(path, i);
                        self.value(path, item, v);
                        path.truncate(parent_len);
                    }
                } else if kinds.contains(&Kind::Array) {
                } else if kinds.contains(&Kind::Object) || kinds.contains(&Kind::Hash) {
                    self.push(Violation::invalid_hash(path));
                } else {
                    self.push(Violation::not_scalar(path, kinds));
                }
            }
        }
    }

    fn scalar(&mut self, path: &str, node: &ParamSchema, kinds: &[Kind], value: &Param) {
        // A value is fine if any accepted scalar shape takes it; otherwise
        // report against the first scalar shape (Stripe's own order).
        let mut first_error = None;
        for kind in kinds {
            let result = match (kind, value) {
                (Kind::Object | Kind::Hash, _) => Err(Violation::invalid_hash(path)),
                (Kind::Array, _) => Err(Violation::invalid_array(path)),
                (Kind::File, _) => Ok(()),
                // Text: what a form sends for every kind, and what JSON
                // sends for a string.
                (Kind::String, Param::Str(s)) => self.string(path, node, s),
                (_, Param::Str(s)) if self.typing == Typing::Json => Err(Violation::json_string(path, *kind, s)),
                (Kind::Integer, Param::Str(s)) => integer(path, node, s),
                (Kind::Boolean, Param::Str(s)) => boolean(path, s),
                (Kind::Number, Param::Str(s)) => decimal(path, s),
                // JSON numbers and booleans.
                (Kind::Integer, Param::Num(n)) => integer(path, node, n.as_str()),
                (Kind::Number, Param::Num(n)) => decimal(path, n.as_str()),
                (Kind::Boolean, Param::Bool(_)) => Ok(()),
                (Kind::String, _) => Err(Violation::not_a_string(path, value)),
                (Kind::Integer, _) => Err(Violation::invalid_integer(path, value.text())),
                (Kind::Boolean, _) => Err(Violation::invalid_boolean(path, value.text())),
                (Kind::Number, _) => Err(Violation::invalid_decimal(path, value.text())),
            };
            match result {
                Ok(()) => return,
                Err(v) => {
                    first_error.get_or_insert(v);
                }
            }
        }
        if let Some(v) = first_error {
            self.push(v);
        }
    }

    fn string(&self, path: &str, node: &ParamSchema, s: &str) -> Result<(), Violation> {
        if let (Some(allowed), false) = (&node.allowed, node.enum_open) {
            if !allowed.iter().any(|a| a == s) {
                return Err(Violation::invalid_enum(path, last_segment(path), &one_of(allowed)));
            }
        }
        if let Some(max) = node.max_length {
            // A string is never longer in characters than in bytes.
            if s.len() > max && s.chars().count() > max {
                return Err(Violation::too_long(path, s, max));
            }
        }
        match node.format.as_deref() {
            Some("currency") => self.currency(path, s)?,
            // An integer sent as a string (`"exp_month": "12"`).
            Some("integer") => integer(path, node, s)?,
            _ => {}
        }
        Ok(())
    }

    fn currency(&self, path: &str, s: &str) -> Result<(), Violation> {
        let currencies = &self.schema.currencies;
        let case_ok = match currencies.case {
            CurrencyCase::Any => true,
            CurrencyCase::Lower => s.chars().all(|c| c.is_ascii_lowercase()),
            CurrencyCase::Upper => s.chars().all(|c| c.is_ascii_uppercase()),
        };
        let known = s.len() == 3
            && s.chars().all(|c| c.is_ascii_alphabetic())
            && (currencies.supported.is_empty() || currencies.supports(s));
        if case_ok && known {
            return Ok(());
        }
        let listed: Vec<String> = currencies
            .supported
            .iter()
            .map(|c| match currencies.case {
                CurrencyCase::Upper => c.to_ascii_uppercase(),
                _ => c.to_ascii_lowercase(),
            })
            .collect();
        let shape = match currencies.case {
            CurrencyCase::Any => "",
            CurrencyCase::Lower => "lower-case",
            CurrencyCase::Upper => "upper-case",
        };
        Err(Violation::invalid_currency(path, s, &listed.join(", "), shape))
    }

    fn hash(&mut self, path: &str, map: &BTreeMap<Text, Param>) {
        for (key, value) in map {
            match value {
                Param::Str(v) => {
                    if key.chars().count() > 40 {
                        self.push(Violation::metadata_key(path, key));
                    } else if v.chars().count() > 500 {
                        self.push(Violation::metadata_value(path, v.as_str()));
                    }
                }
                // JSON `null` unsets a key, as `""` does.
                Param::Null => {}
                _ => self.push(Violation::metadata_type(path, key)),
            }
        }
    }

    fn rules(&mut self, endpoint_name: &str, endpoint: &EndpointSchema, params: &Params) {
        let sent = |name: &str| params.0.get(name).is_some_and(|p| !p.is_unset());
        for rule in &endpoint.rules {
            match rule {
                Rule::Exclusive(names) => {
                    let mut present = names.iter().filter(|n| sent(n));
                    if let (Some(first), Some(_)) = (present.next(), present.next()) {
                        let mut all = names.clone();
                        all.sort();
                        self.push(Violation::exclusive(first, &all));
                    }
                }
            }
        }
        if endpoint_name == "create" && !params.0.get("confirm").is_some_and(Param::is_true) {
            for name in &endpoint.confirm_only {
                if sent(name) {
                    self.push(Violation::only_with_confirm(name));
                }
            }
        }
        if endpoint_name == "search" {
            if let Some(query) = params.get_str("query").filter(|q| !q.is_empty()) {
                if let Err(e) = search::parse(query) {
                    self.push(Violation::bad_query(&e.to_string()));
                }
            }
        }
    }
}

fn integer(path: &str, node: &ParamSchema, s: &str) -> Result<(), Violation> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Violation::invalid_integer(path, s));
    }
    let Ok(n) = s.parse::<i64>() else {
        return Err(Violation::invalid_integer(path, s));
    };
    if let Some(min) = node.min.filter(|m| n < *m) {
        return Err(Violation::below(path, min));
    }
    if let Some(max) = node.max.filter(|m| n > *m) {
        return Err(Violation::above(path, max));
    }
    Ok(())
}

fn decimal(path: &str, s: &str) -> Result<(), Violation> {
    s.parse::<f64>()
        .map(|_| ())
        .map_err(|_| Violation::invalid_decimal(path, s))
}

fn boolean(path: &str, s: &str) -> Result<(), Violation> {
    match s {
        "true" | "false" => Ok(()),
        _ => Err(Violation::invalid_boolean(path, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first violation of a request, as (code, param, message).
    fn first(endpoint: &str, form: &str) -> Option<(Option<&'static str>, String, String)> {
        let schema = Schema::builtin();
        let params = Params::from_form(form.as_bytes(), "body").expect("decodes");
        check(
            schema,
            endpoint,
            schema.endpoint(endpoint).expect("endpoint"),
            &params,
            Typing::Text,
        )
        .into_iter()
        .next()
        .map(|v| (v.code, v.param, v.message))
    }

    fn ok(endpoint: &str, form: &str) {
        assert_eq!(first(endpoint, form), None, "{endpoint} {form}");
    }

    fn bad(endpoint: &str, form: &str, code: Option<&str>, param: &str, message: &str) {
        let got = first(endpoint, form).unwrap_or_else(|| panic!("{endpoint} {form}: no violation"));
        assert_eq!(
            (got.0, got.1.as_str(), got.2.as_str()),
            (code, param, message),
            "{endpoint} {form}"
        );
    }

    const PI: Option<&str> = Some("parameter_invalid_integer");

    #[test]
    fn create() {
        let base = "amount=2000&currency=usd";
        ok("create", base);
        ok(
            "create",
            &format!("{base}&metadata[order_id]=6735&description=x&expand[0]=customer"),
        );
        ok(
            "create",
            &format!("{base}&shipping[name]=J&shipping[address][city]=P&payment_method_types[0]=card"),
        );
        ok(
            "create",
            &format!("{base}&confirm=true&return_url=https://x&payment_method=pm_card_visa"),
        );
        ok("create", "amount=2000&currency=USD");
        ok(
            "create",
            &format!("{base}&payment_method_data[type]=card&payment_method_options[card][request_three_d_secure]=any"),
        );
        bad(
            "create",
            "currency=usd",
            Some("parameter_missing"),
            "amount",
            "Missing required param: amount.",
        );
        bad(
            "create",
            "amount=2000",
            Some("parameter_missing"),
            "currency",
            "Missing required param: currency.",
        );
        bad(
            "create",
            "amount=abc&currency=usd",
            PI,
            "amount",
            "Invalid integer: abc",
        );
        bad(
            "create",
            "amount=0&currency=usd",
            PI,
            "amount",
            "This value must be greater than or equal to 1.",
        );
        bad(
            "create",
            "amount=100000000&currency=usd",
            Some("amount_too_large"),
            "amount",
            "Amount must be no more than $999,999.99",
        );
        bad(
            "create",
            &format!("{base}&shipping[name]=J&shipping[adress][city]=P"),
            Some("parameter_unknown"),
            "shipping[adress]",
            "Received unknown parameter: shipping[adress]. Did you mean address?",
        );
        bad(
            "create",
            &format!("{base}&shipping[address][city]=P"),
            Some("parameter_missing"),
            "shipping[name]",
            "Missing required param: shipping[name].",
        );
        bad(
            "create",
            &format!("{base}&colour=red"),
            Some("parameter_unknown"),
            "colour",
            "Received unknown parameter: colour",
        );
        bad(
            "create",
            &format!("{base}&confirm=True"),
            None,
            "confirm",
            "Invalid boolean: True",
        );
        bad(
            "create",
            &format!("{base}&capture_method=later"),
            None,
            "capture_method",
            "Invalid capture_method: must be one of automatic, automatic_async, or manual",
        );
        bad(
            "create",
            &format!("{base}&setup_future_usage=never"),
            None,
            "setup_future_usage",
            "Invalid setup_future_usage: must be one of off_session or on_session",
        );
        bad(
            "create",
            &format!("{base}&statement_descriptor=ABCDEFGHIJKLMNOPQRSTUVW"),
            None,
            "statement_descriptor",
            "Invalid string: ABCDEFGHIJKLMNOPQRSTUVW; must be at most 22 characters",
        );
        bad(
            "create",
            &format!("{base}&customer="),
            Some("parameter_invalid_empty"),
            "customer",
            "You passed an empty string for 'customer'. We assume empty values are an attempt to unset a parameter; however 'customer' cannot be unset. You should remove 'customer' from your request or supply a non-empty value.",
        );
        let zzz = first("create", "amount=100&currency=zzz").expect("violation");
        assert_eq!(zzz.1, "currency");
        assert!(
            zzz.2
                .starts_with("Invalid currency: zzz. Stripe currently supports these currencies: aed, afn"),
            "{}",
            zzz.2
        );
        bad(
            "create",
            &format!("{base}&shipping=somewhere"),
            None,
            "shipping",
            "Invalid hash",
        );
        bad(
            "create",
            &format!("{base}&payment_method_types=card"),
            None,
            "payment_method_types",
            "Invalid array",
        );
        bad(
            "create",
            &format!("{base}&return_url=https://x"),
            None,
            "return_url",
            "The parameter return_url can only be used when confirm is set to true.",
        );
        bad(
            "create",
            &format!("{base}&automatic_payment_methods[enabled]=true&confirmation_method=manual"),
            Some("parameters_exclusive"),
            "automatic_payment_methods",
            "You may only specify one of these parameters: automatic_payment_methods, confirmation_method.",
        );
        bad(
            "create",
            &format!("{base}&metadata[{}]=x", "k".repeat(41)),
            None,
            "metadata",
            &format!("Invalid key: {} must be a string under 40 characters", "k".repeat(41)),
        );
    }

    #[test]
    fn list_and_search() {
        ok(
            "list",
            "limit=3&starting_after=pi_1&created[gte]=1700000000&expand[0]=data.customer",
        );
        ok("list", "created=1700000000&customer=cus_1");
        bad(
            "list",
            "limit=0",
            PI,
            "limit",
            "This value must be greater than or equal to 1.",
        );
        bad(
            "list",
            "limit=101",
            PI,
            "limit",
            "This value must be less than or equal to 100.",
        );
        bad(
            "list",
            "created[gte]=yesterday",
            PI,
            "created[gte]",
            "Invalid integer: yesterday",
        );
        bad(
            "list",
            "created[after]=1",
            Some("parameter_unknown"),
            "created[after]",
            "Received unknown parameter: created[after]",
        );
        bad(
            "list",
            "starting_after=pi_1&ending_before=pi_2",
            Some("parameters_exclusive"),
            "ending_before",
            "You may only specify one of these parameters: ending_before, starting_after.",
        );
        bad(
            "list",
            "expand[1]=x&expand[2]=y",
            None,
            "expand",
            "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the keys `1`, `2`, we expected to have a key with the value `0`.",
        );
        ok("search", "query=metadata%5B%27order_id%27%5D%3A%276735%27&limit=10");
        ok("search", "query=amount>1000 AND status:'succeeded'&page=abc");
        bad(
            "search",
            "limit=3",
            Some("parameter_missing"),
            "query",
            "Missing required param: query.",
        );
        let msg = "Provide a query parameter with a valid search query string.";
        for q in [
            "colour:'red'",
            "amount~'100'",
            "currency:usd",
            "status:'a' AND status:'b' OR amount>1",
        ] {
            bad(
                "search",
                &format!("query={q}"),
                Some("parameter_invalid_string"),
                "query",
                msg,
            );
        }
    }

    #[test]
    fn the_other_endpoints() {
        ok("retrieve", "client_secret=pi_1_secret_x&expand[0]=customer");
        bad(
            "retrieve",
            "limit=1",
            Some("parameter_unknown"),
            "limit",
            "Received unknown parameter: limit",
        );
        ok("update", "metadata=&description=New&receipt_email=");
        bad(
            "update",
            "amount=-5",
            PI,
            "amount",
            "This value must be greater than or equal to 1.",
        );
        ok(
            "confirm",
            "payment_method=pm_card_visa&return_url=https://x&off_session=true",
        );
        ok("confirm", "off_session=recurring");
        bad(
            "confirm",
            "off_session=sometimes",
            None,
            "off_session",
            "Invalid boolean: sometimes",
        );
        ok("capture", "amount_to_capture=500&metadata[k]=v");
        bad(
            "capture",
            "amount_to_capture=5.5",
            PI,
            "amount_to_capture",
            "Invalid integer: 5.5",
        );
        // An enum Stripe does not enforce accepts other values.
        ok("cancel", "cancellation_reason=abandoned");
        ok("cancel", "cancellation_reason=something_new");
        bad(
            "increment_authorization",
            "",
            Some("parameter_missing"),
            "amount",
            "Missing required param: amount.",
        );
        ok("apply_customer_balance", "amount=100&currency=usd");
        ok("verify_microdeposits", "amounts[0]=32&amounts[1]=45");
        bad(
            "verify_microdeposits",
            "amounts[0]=x",
            PI,
            "amounts[0]",
            "Invalid integer: x",
        );
        ok("list_amount_details_line_items", "limit=5");
    }

    /// Every violation of a request, as (code, param, message).
    fn all(endpoint: &str, params: &Params) -> Vec<(Option<&'static str>, String, String)> {
        let schema = Schema::builtin();
        let typing = if params.has_json_types() {
            Typing::Json
        } else {
            Typing::Text
        };
        check(
            schema,
            endpoint,
            schema.endpoint(endpoint).expect("endpoint"),
            params,
            typing,
        )
        .into_iter()
        .map(|v| (v.code, v.param, v.message))
        .collect()
    }

    /// The schema node at `path` (names only, from the top level).
    fn node(endpoint: &str, path: &[&str]) -> &'static ParamSchema {
        let (first, rest) = path.split_first().expect("a path");
        let mut node = &Schema::builtin().endpoint(endpoint).expect("endpoint").params[*first];
        for name in rest {
            node = &node.children.as_ref().expect("children")[*name];
        }
        node
    }

    /// Parameters of today's stripe-python that the schema built from
    /// stripe-python 15.3.1 refused.
    #[test]
    fn current_parameters_are_accepted() {
        let base = "amount=2000&currency=usd";
        ok(
            "create",
            &format!("{base}&radar_options[referrer]=https://shop.example/checkout"),
        );
        ok("create", &format!("{base}&radar_options[referrer]="));
        ok(
            "confirm",
            "radar_options[session]=rse_1&radar_options[referrer]=https://shop.example/checkout",
        );
        // Gone from API version 2026-10-28.endive, but earlier versions (and
        // the seed page) use it: still accepted.
        ok("create", &format!("{base}&payment_method_types[0]=card"));
        ok("update", "payment_method_types[0]=card");
    }

    /// Enums the spec marks x-stripeBypassValidation take values outside
    /// their list; the list stays in the schema for documentation.
    #[test]
    fn enums_stripe_does_not_enforce_take_other_values() {
        let base = "amount=2000&currency=usd";
        for form in [
            "payment_method_options[card][network]=a_network_added_later",
            "payment_method_options[card][request_three_d_secure]=something_new",
            "payment_method_data[type]=p24&payment_method_data[p24][bank]=a_new_bank",
            "payment_method_data[type]=fpx&payment_method_data[fpx][bank]=a_new_bank",
            "payment_method_data[type]=a_new_method",
        ] {
            ok("create", &format!("{base}&{form}"));
            ok("update", form);
            ok("confirm", form);
        }
        let network = node("create", &["payment_method_options", "card", "network"]);
        assert!(network.enum_open);
        assert!(network.allowed.as_ref().is_some_and(|a| a.iter().any(|v| v == "visa")));
        // stripe-python 16 types this one `Literal[...] | str` as well, but
        // Stripe enforces it.
        bad(
            "create",
            &format!("{base}&payment_method_options[card][setup_future_usage]=sometimes"),
            None,
            "payment_method_options[card][setup_future_usage]",
            "Invalid setup_future_usage: must be one of none, off_session, or on_session",
        );
    }

    #[test]
    fn statement_descriptor_lengths() {
        let base = "amount=2000&currency=usd";
        let card = "payment_method_options[card]";
        // Half-width katakana and kanji: three bytes each, counted as one.
        let kana = |n| "ｱ".repeat(n);
        let kanji = |n| "漢".repeat(n);
        ok(
            "create",
            &format!("{base}&{card}[statement_descriptor_suffix_kana]={}", kana(22)),
        );
        bad(
            "create",
            &format!("{base}&{card}[statement_descriptor_suffix_kana]={}", kana(23)),
            None,
            "payment_method_options[card][statement_descriptor_suffix_kana]",
            &format!("Invalid string: {}; must be at most 22 characters", kana(23)),
        );
        ok(
            "confirm",
            &format!("{card}[statement_descriptor_suffix_kanji]={}", kanji(17)),
        );
        bad(
            "update",
            &format!("{card}[statement_descriptor_suffix_kanji]={}", kanji(18)),
            None,
            "payment_method_options[card][statement_descriptor_suffix_kanji]",
            &format!("Invalid string: {}; must be at most 17 characters", kanji(18)),
        );
        ok(
            "increment_authorization",
            "amount=500&statement_descriptor=ABCDEFGHIJKLMNOPQRSTUV",
        );
        bad(
            "increment_authorization",
            "amount=500&statement_descriptor=ABCDEFGHIJKLMNOPQRSTUVW",
            None,
            "statement_descriptor",
            "Invalid string: ABCDEFGHIJKLMNOPQRSTUVW; must be at most 22 characters",
        );
    }

    #[test]
    fn parameters_below_the_third_level_are_checked() {
        let base = "amount=2000&currency=usd";
        let m = "payment_method_options[card][mandate_options]";
        let mandate = format!(
            "{m}[amount]=1000&{m}[amount_type]=maximum&{m}[interval]=month&{m}[reference]=ref-1&{m}[start_date]=1700000000"
        );
        ok("create", &format!("{base}&{mandate}"));
        bad(
            "create",
            &format!("{base}&{mandate}&{m}[colour]=red"),
            Some("parameter_unknown"),
            "payment_method_options[card][mandate_options][colour]",
            "Received unknown parameter: payment_method_options[card][mandate_options][colour]",
        );
        bad(
            "create",
            &format!("{base}&{mandate}&{m}[interval_count]=often"),
            PI,
            "payment_method_options[card][mandate_options][interval_count]",
            "Invalid integer: often",
        );
        bad(
            "create",
            &format!(
                "{base}&{}",
                mandate.replace("amount_type]=maximum", "amount_type]=exact")
            ),
            None,
            "payment_method_options[card][mandate_options][amount_type]",
            "Invalid amount_type: must be one of fixed or maximum",
        );
        bad(
            "create",
            &format!(
                "{base}&{}",
                mandate.replace("&payment_method_options[card][mandate_options][reference]=ref-1", "")
            ),
            Some("parameter_missing"),
            "payment_method_options[card][mandate_options][reference]",
            "Missing required param: payment_method_options[card][mandate_options][reference].",
        );
        // Five and six levels, and below an array element.
        let t = "payment_method_options[card][three_d_secure]";
        let three_ds = format!("{t}[cryptogram]=c&{t}[transaction_id]=t&{t}[version]=2.2.0");
        ok(
            "confirm",
            &format!("{three_ds}&{t}[network_options][cartes_bancaires][cb_avalgo]=A"),
        );
        bad(
            "confirm",
            &format!("{three_ds}&{t}[network_options][cartes_bancaires][cb_avalgo]=Z"),
            None,
            "payment_method_options[card][three_d_secure][network_options][cartes_bancaires][cb_avalgo]",
            "Invalid cb_avalgo: must be one of 0, 1, 2, 3, 4, or A",
        );
        bad(
            "update",
            "payment_method_options[billie][company_details][registered_address][planet]=earth",
            Some("parameter_unknown"),
            "payment_method_options[billie][company_details][registered_address][planet]",
            "Received unknown parameter: payment_method_options[billie][company_details][registered_address][planet]",
        );
        bad(
            "capture",
            "amount_details[line_items][0][product_name]=Tea&amount_details[line_items][0][quantity]=1&amount_details[line_items][0][unit_cost]=500&amount_details[line_items][0][tax][total_tax_amount]=some",
            PI,
            "amount_details[line_items][0][tax][total_tax_amount]",
            "Invalid integer: some",
        );
        bad(
            "create",
            &format!("{base}&confirm=true&mandate_data[customer_acceptance][type]=online&mandate_data[customer_acceptance][online][user_agent]=curl"),
            Some("parameter_missing"),
            "mandate_data[customer_acceptance][online][ip_address]",
            "Missing required param: mandate_data[customer_acceptance][online][ip_address].",
        );
    }

    #[test]
    fn mandate_data_needs_customer_acceptance_on_confirm() {
        let missing = (
            Some("parameter_missing"),
            "mandate_data[customer_acceptance]".to_owned(),
            "Missing required param: mandate_data[customer_acceptance].".to_owned(),
        );
        // A JSON body can send the hash with nothing in it.
        let empty = Params::from_json(br#"{"payment_method":"pm_card_visa","mandate_data":{}}"#).expect("json");
        assert_eq!(all("confirm", &empty), std::slice::from_ref(&missing));
        // A form can only leave the level out; the misplaced key is reported first.
        let skipped = Params::from_form(b"mandate_data[online][ip_address]=203.0.113.7", "body").expect("form");
        assert_eq!(
            all("confirm", &skipped),
            [
                (
                    Some("parameter_unknown"),
                    "mandate_data[online]".to_owned(),
                    "Received unknown parameter: mandate_data[online]".to_owned()
                ),
                missing.clone()
            ]
        );
        // Create has always required it.
        let create =
            Params::from_json(br#"{"amount":2000,"currency":"usd","confirm":true,"mandate_data":{}}"#).expect("json");
        assert_eq!(all("create", &create), [missing]);
        ok("confirm", "mandate_data[customer_acceptance][type]=offline");
        // On confirm, stripe-python makes the online details optional.
        ok(
            "confirm",
            "mandate_data[customer_acceptance][type]=online&mandate_data[customer_acceptance][online][user_agent]=curl",
        );
        ok("confirm", "mandate_data=");
    }

    /// The gateway schema of `shared/seeds/002_*.txt`.
    fn gateway() -> Schema {
        Schema::from_file(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/gateway-002.json"))
            .expect("the gateway schema parses")
    }

    /// The seed's own request example (`schema/gateway-002-example.json`).
    const SEED_EXAMPLE: &str = include_str!("../../../schema/gateway-002-example.json");

    /// The violations of the seed example with `change` applied, in a JSON body.
    fn gateway_json(change: impl FnOnce(&mut serde_json::Value)) -> Vec<(Option<&'static str>, String, String)> {
        let schema = gateway();
        let mut body: serde_json::Value = serde_json::from_str(SEED_EXAMPLE).expect("example");
        change(&mut body);
        let params = Params::from_json(body.to_string().as_bytes()).expect("json");
        check(
            &schema,
            "create",
            schema.endpoint("create").expect("create"),
            &params,
            Typing::Json,
        )
        .into_iter()
        .map(|v| (v.code, v.param, v.message))
        .collect()
    }

    #[test]
    fn json_values_must_have_the_type_the_schema_gives() {
        assert_eq!(gateway_json(|_| {}), [], "the seed's own example is valid");
        let first = |change: fn(&mut serde_json::Value)| gateway_json(change).into_iter().next().expect("a violation");
        let bad = |code: Option<&'static str>, param: &str, message: &str| (code, param.to_owned(), message.to_owned());
        assert_eq!(
            first(|b| b["amount"] = "10".into()),
            bad(PI, "amount", r#"Invalid integer: "10""#)
        );
        assert_eq!(
            first(|b| b["quantity"] = "2".into()),
            bad(PI, "quantity", r#"Invalid integer: "2""#)
        );
        assert_eq!(
            first(|b| b["amount"] = 10.5.into()),
            bad(PI, "amount", "Invalid integer: 10.5")
        );
        assert_eq!(
            first(|b| b["amount"] = true.into()),
            bad(PI, "amount", "Invalid integer: true")
        );
        assert_eq!(
            first(|b| b["confirm"] = "true".into()),
            bad(None, "confirm", r#"Invalid boolean: "true""#)
        );
        assert_eq!(
            first(|b| b["merchant_user_id"] = 123456.into()),
            bad(None, "merchant_user_id", "Invalid merchant_user_id: must be a string")
        );
        // The seed sends the expiry as strings of digits: checked as integers.
        assert_eq!(
            first(|b| b["payment_method_data"]["card"]["exp_month"] = "13".into()),
            bad(
                PI,
                "payment_method_data[card][exp_month]",
                "This value must be less than or equal to 12."
            )
        );
        assert_eq!(
            first(|b| b["payment_method_data"]["card"]["exp_month"] = "ab".into()),
            bad(PI, "payment_method_data[card][exp_month]", "Invalid integer: ab")
        );
        assert_eq!(
            first(|b| b["payment_method_data"]["card"]["exp_month"] = 12.into()),
            bad(
                None,
                "payment_method_data[card][exp_month]",
                "Invalid exp_month: must be a string"
            )
        );
        // `null` is not `""`: it unsets only what may be unset.
        let (code, param, message) = first(|b| b["description"] = serde_json::Value::Null);
        assert_eq!((code, param.as_str()), (Some("parameter_invalid_empty"), "description"));
        assert!(message.starts_with("You passed null for 'description'."), "{message}");
        assert_eq!(gateway_json(|b| b["metadata"]["key1"] = serde_json::Value::Null), []);
        assert_eq!(gateway_json(|b| b["metadata"] = serde_json::Value::Null), []);
        assert_eq!(
            first(|b| b["quantity"] = 0.into()),
            bad(PI, "quantity", "This value must be greater than or equal to 1.")
        );
        assert_eq!(
            first(|b| b["currency"] = "usd".into()),
            bad(
                None,
                "currency",
                "Invalid currency: usd. A currency is three upper-case letters (ISO 4217, e.g. USD)."
            )
        );
        assert_eq!(
            first(|b| b["capture_method"] = "manual".into()),
            bad(
                Some("parameter_unknown"),
                "capture_method",
                "Received unknown parameter: capture_method"
            )
        );
        // `confirm: true` as JSON allows the confirm-only parameters; `false` does not.
        assert_eq!(
            first(|b| b["confirm"] = false.into()),
            bad(
                None,
                "return_url",
                "The parameter return_url can only be used when confirm is set to true."
            )
        );
    }

    #[test]
    fn form_text_is_read_as_the_schema_says() {
        // The same values as text (a form, or a query string): Stripe reads
        // `amount=10` as the integer 10.
        let schema = gateway();
        let form = Params::from_form(
            b"amount=10&currency=USD&confirm=true&quantity=2&merchant_user_id=123456&return_url=https://x              &payment_method_data[type]=card&payment_method_data[card][number]=4111111111111111              &payment_method_data[card][exp_month]=12&payment_method_data[card][exp_year]=2026",
            "body",
        )
        .expect("form");
        let create = schema.endpoint("create").expect("create");
        assert_eq!(check(&schema, "create", create, &form, Typing::Text), []);
        // Read as JSON strings, the integers and the boolean are wrong.
        let params: Vec<String> = check(&schema, "create", create, &form, Typing::Json)
            .into_iter()
            .map(|v| v.param)
            .collect();
        assert_eq!(params, ["amount", "confirm", "quantity"]);
        // Stripe's own schema takes JSON types too.
        let stripe = Params::from_json(br#"{"amount":2000,"currency":"usd","confirm":true,"return_url":"https://x"}"#)
            .expect("json");
        assert_eq!(all("create", &stripe), []);
    }

    #[test]
    fn suggestions_only_for_close_names() {
        let names: Vec<String> = ["amount", "currency", "address", "description"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(suggestion("ammount", names.iter()), Some("amount"));
        assert_eq!(suggestion("curency", names.iter()), Some("currency"));
        assert_eq!(suggestion("colour", names.iter()), None);
        assert_eq!(suggestion("x", names.iter()), None);
    }
}
