//! Tests of whole flows against the in-process `State` (fixed seed): a checkout across
//! customers, payment methods, PaymentIntents, refunds, charges and events, and the errors.

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use serde_json::Value;

use crate::http::{ApiRequest, Reply};
use crate::state::State;

/// Runs one request against `state` and returns (status, JSON body).
fn call(
    state: &mut State,
    method: Method,
    path: &str,
    body: &str,
    extra: &[(&'static str, &str)],
) -> (StatusCode, Value) {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
    for (name, value) in extra {
        headers.insert(*name, HeaderValue::from_str(value).expect("valid header"));
    }
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (path.to_owned(), None),
    };
    let reply: Reply = state.execute(
        &ApiRequest {
            method,
            path,
            query,
            headers,
            body: Bytes::from(body.to_owned()),
        },
        "req_test",
    );
    let json = serde_json::from_slice(&reply.body).expect("JSON body");
    (reply.status, json)
}

fn post(state: &mut State, path: &str, body: &str) -> (StatusCode, Value) {
    call(state, Method::POST, path, body, &[])
}

fn get(state: &mut State, path: &str) -> (StatusCode, Value) {
    call(state, Method::GET, path, "", &[])
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

#[test]
fn checkout_sequence_customer_card_intent_refund_charges_events() {
    let mut s = State::new(Some(42));
    let (status, customer) = post(&mut s, "/v1/customers", "email=jenny@example.com&name=Jenny");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(customer["object"], "customer");
    let cus = id(&customer);
    assert!(cus.starts_with("cus_"));

    let (status, pm) = post(&mut s, "/v1/payment_methods", "type=card&card[token]=tok_visa");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pm["card"]["last4"], "4242");
    assert_eq!(pm["customer"], Value::Null);
    let pm_id = id(&pm);

    let (status, attached) = post(
        &mut s,
        &format!("/v1/payment_methods/{pm_id}/attach"),
        &format!("customer={cus}"),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attached["customer"], cus.as_str());

    let (status, pi) = post(
        &mut s,
        "/v1/payment_intents",
        &format!("amount=2000&currency=usd&customer={cus}&setup_future_usage=off_session"),
    );
    assert_eq!(status, StatusCode::OK);
    let pi_id = id(&pi);
    // A raw card saved through setup_future_usage on confirm.
    let (_, raw) = post(
        &mut s,
        "/v1/payment_methods",
        "type=card&card[number]=5555555555554444&card[exp_month]=12&card[exp_year]=2030&card[cvc]=123",
    );
    let raw_id = id(&raw);
    assert_eq!(raw["card"]["brand"], "mastercard");
    let (status, confirmed) = post(
        &mut s,
        &format!("/v1/payment_intents/{pi_id}/confirm"),
        &format!("payment_method={raw_id}"),
    );
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    assert_eq!(confirmed["status"], "succeeded");
    let charge_id = confirmed["latest_charge"].as_str().expect("charge").to_owned();
    let (_, raw_after) = get(&mut s, &format!("/v1/payment_methods/{raw_id}"));
    assert_eq!(
        raw_after["customer"],
        cus.as_str(),
        "setup_future_usage attaches the method"
    );

    let (status, saved) = get(&mut s, &format!("/v1/customers/{cus}/payment_methods"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(saved["data"].as_array().map(Vec::len), Some(2));
    let (_, by_query) = get(&mut s, &format!("/v1/payment_methods?customer={cus}&type=card"));
    assert_eq!(by_query["data"], saved["data"]);

    let (status, refund) = post(&mut s, "/v1/refunds", &format!("payment_intent={pi_id}&amount=500"));
    assert_eq!(status, StatusCode::OK, "{refund}");
    assert_eq!(refund["object"], "refund");
    assert_eq!(refund["charge"], charge_id.as_str());
    let (_, refund_again) = get(&mut s, &format!("/v1/refunds/{}", id(&refund)));
    assert_eq!(refund_again, refund);

    let (status, charges) = get(&mut s, &format!("/v1/charges?payment_intent={pi_id}"));
    assert_eq!(status, StatusCode::OK);
    let charge = &charges["data"][0];
    assert_eq!(charge["id"], charge_id.as_str());
    assert_eq!(charge["amount_refunded"], 500);
    assert_eq!(charge["refunded"], false);
    assert_eq!(charge["customer"], cus.as_str());
    let (_, by_customer) = get(&mut s, &format!("/v1/charges?customer={cus}"));
    assert_eq!(by_customer["data"].as_array().map(Vec::len), Some(1));

    let (status, events) = get(&mut s, "/v1/events?limit=100");
    assert_eq!(status, StatusCode::OK);
    let types: Vec<&str> = events["data"]
        .as_array()
        .expect("data")
        .iter()
        .rev()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        [
            "customer.created",
            "payment_method.attached",
            "payment_intent.created",
            "charge.succeeded",
            "payment_intent.succeeded",
            "payment_method.attached",
            "refund.created",
            "charge.refunded",
        ]
    );
    let event = &events["data"][0];
    assert!(event["id"].as_str().expect("id").starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["data"]["object"]["id"], charge_id.as_str());
    assert_eq!(event["request"]["id"], "req_test");
    assert_eq!(event["livemode"], false);
    let (_, filtered) = get(&mut s, "/v1/events?type=charge.*");
    assert_eq!(filtered["data"].as_array().map(Vec::len), Some(2));
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let run = || {
        let mut s = State::new(Some(7));
        let (_, c) = post(&mut s, "/v1/customers", "name=A");
        let (_, pi) = post(
            &mut s,
            "/v1/payment_intents",
            &format!(
                "amount=100&currency=usd&customer={}&confirm=true&payment_method=pm_card_visa",
                id(&c)
            ),
        );
        let (_, events) = get(&mut s, "/v1/events");
        (c, pi, events)
    };
    assert_eq!(run(), run());
}

#[test]
fn payment_intent_ids_do_not_depend_on_other_resources() {
    let intent = |with_others: bool| {
        let mut s = State::new(Some(42));
        if with_others {
            post(&mut s, "/v1/payment_methods", "type=card&card[token]=tok_visa");
            get(&mut s, "/v1/events");
        }
        let (_, pi) = post(&mut s, "/v1/payment_intents", "amount=100&currency=usd");
        let (_, confirmed) = post(
            &mut s,
            &format!("/v1/payment_intents/{}/confirm", id(&pi)),
            "payment_method=pm_card_visa",
        );
        (
            id(&pi),
            confirmed["payment_method"].clone(),
            confirmed["latest_charge"].clone(),
        )
    };
    assert_eq!(intent(false), intent(true));
}

#[test]
fn unknown_ids_are_resource_missing_per_type() {
    let mut s = State::new(Some(1));
    for (path, message) in [
        ("/v1/customers/cus_nope", "No such customer: 'cus_nope'"),
        ("/v1/payment_methods/pm_nope", "No such PaymentMethod: 'pm_nope'"),
        ("/v1/setup_intents/seti_nope", "No such setupintent: 'seti_nope'"),
        ("/v1/refunds/re_nope", "No such refund: 're_nope'"),
        ("/v1/charges/ch_nope", "No such charge: 'ch_nope'"),
        ("/v1/events/evt_nope", "No such event: 'evt_nope'"),
    ] {
        let (status, body) = get(&mut s, path);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "resource_missing");
        assert_eq!(body["error"]["param"], "id");
        assert_eq!(body["error"]["message"], message);
    }
    let (status, body) = get(&mut s, "/v1/balance_transactions");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .starts_with("Unrecognized request URL (GET: /v1/balance_transactions)."));
}

#[test]
fn refund_errors_beyond_amount_and_before_success() {
    let mut s = State::new(Some(3));
    let (_, pi) = post(&mut s, "/v1/payment_intents", "amount=2000&currency=usd");
    let pi_id = id(&pi);
    let (status, body) = post(&mut s, "/v1/refunds", &format!("payment_intent={pi_id}"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "payment_intent");
    post(
        &mut s,
        &format!("/v1/payment_intents/{pi_id}/confirm"),
        "payment_method=pm_card_visa",
    );
    let (status, body) = post(&mut s, "/v1/refunds", &format!("payment_intent={pi_id}&amount=2500"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"]["message"],
        "Refund amount ($25.00) is greater than unrefunded amount on charge ($20.00)"
    );
    assert_eq!(body["error"]["param"], "amount");
    let (status, _) = post(&mut s, "/v1/refunds", &format!("payment_intent={pi_id}"));
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&mut s, "/v1/refunds", &format!("payment_intent={pi_id}"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "charge_already_refunded");
    let (_, charge) = get(&mut s, &format!("/v1/charges?payment_intent={pi_id}"));
    assert_eq!(charge["data"][0]["refunded"], true);
}

#[test]
fn attach_to_unknown_customer_and_detach() {
    let mut s = State::new(Some(5));
    let (_, pm) = post(&mut s, "/v1/payment_methods", "type=card&card[token]=tok_visa");
    let pm_id = id(&pm);
    let (status, body) = post(
        &mut s,
        &format!("/v1/payment_methods/{pm_id}/attach"),
        "customer=cus_nope",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "resource_missing");
    assert_eq!(body["error"]["param"], "customer");
    assert_eq!(body["error"]["message"], "No such customer: 'cus_nope'");
    let (status, body) = post(&mut s, &format!("/v1/payment_methods/{pm_id}/detach"), "");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A test id attaches as a fresh method.
    let (_, c) = post(&mut s, "/v1/customers", "");
    let (status, fresh) = post(
        &mut s,
        "/v1/payment_methods/pm_card_visa/attach",
        &format!("customer={}", id(&c)),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(id(&fresh).starts_with("pm_") && id(&fresh) != "pm_card_visa");
    let (status, detached) = post(&mut s, &format!("/v1/payment_methods/{}/detach", id(&fresh)), "");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detached["customer"], Value::Null);
}

#[test]
fn bad_card_numbers_are_card_errors() {
    let mut s = State::new(Some(5));
    let (status, body) = post(
        &mut s,
        "/v1/payment_methods",
        "type=card&card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2030",
    );
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(body["error"]["type"], "card_error");
    assert_eq!(body["error"]["code"], "incorrect_number");
    assert_eq!(body["error"]["param"], "card[number]");
}

#[test]
fn setup_intent_confirms_and_saves_the_card() {
    let mut s = State::new(Some(9));
    let (_, c) = post(&mut s, "/v1/customers", "");
    let cus = id(&c);
    let (status, si) = post(&mut s, "/v1/setup_intents", &format!("customer={cus}"));
    assert_eq!(status, StatusCode::OK);
    let si_id = id(&si);
    let secret = si["client_secret"].as_str().expect("secret");
    assert!(secret.starts_with(&format!("{si_id}_secret_")));
    assert_eq!(si["status"], "requires_payment_method");
    let (status, done) = post(
        &mut s,
        &format!("/v1/setup_intents/{si_id}/confirm"),
        "payment_method=pm_card_visa",
    );
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "succeeded");
    let (_, saved) = get(&mut s, &format!("/v1/customers/{cus}/payment_methods"));
    assert_eq!(saved["data"][0]["id"], done["payment_method"]);
    let (_, retrieved) = get(&mut s, &format!("/v1/setup_intents/{si_id}"));
    assert_eq!(retrieved, done);
}

#[test]
fn secret_carrying_resources() {
    let mut s = State::new(Some(11));
    let (_, c) = post(&mut s, "/v1/customers", "");
    let cus = id(&c);
    let (status, body) = post(&mut s, "/v1/ephemeral_keys", &format!("customer={cus}"));
    assert_eq!(status, StatusCode::BAD_REQUEST, "no Stripe-Version: {body}");
    let (status, key) = call(
        &mut s,
        Method::POST,
        "/v1/ephemeral_keys",
        &format!("customer={cus}"),
        &[("stripe-version", "2026-07-29.dahlia")],
    );
    assert_eq!(status, StatusCode::OK);
    assert!(key["secret"].as_str().expect("secret").starts_with("ek_test_"));
    let (_, session) = post(
        &mut s,
        "/v1/customer_sessions",
        &format!("customer={cus}&components[payment_element][enabled]=true"),
    );
    assert!(session["client_secret"]
        .as_str()
        .expect("secret")
        .starts_with("cuss_secret_"));
    let (_, hosted) = post(
        &mut s,
        "/v1/checkout/sessions",
        "mode=payment&success_url=https://example.com/ok&line_items[0][price_data][currency]=usd\
         &line_items[0][price_data][unit_amount]=500&line_items[0][price_data][product_data][name]=T&line_items[0][quantity]=2",
    );
    assert_eq!(hosted["amount_total"], 1000);
    assert!(hosted["url"]
        .as_str()
        .expect("url")
        .starts_with("https://checkout.stripe.com/c/pay/cs_test_"));
    let (_, embedded) = post(
        &mut s,
        "/v1/checkout/sessions",
        "mode=setup&ui_mode=embedded&return_url=https://example.com/back&currency=usd",
    );
    let secret = embedded["client_secret"].as_str().expect("secret");
    assert!(secret.starts_with(&format!("{}_secret_", id(&embedded))));
    let (_, endpoint) = post(
        &mut s,
        "/v1/webhook_endpoints",
        "url=https://example.com/hook&enabled_events[]=payment_intent.succeeded",
    );
    assert!(endpoint["secret"].as_str().expect("secret").starts_with("whsec_"));
    let (status, token) = post(
        &mut s,
        "/v1/tokens",
        "card[number]=4242424242424242&card[exp_month]=12&card[exp_year]=2030&card[cvc]=123",
    );
    assert_eq!(status, StatusCode::OK, "{token}");
    let tok = id(&token);
    let (status, _) = post(&mut s, "/v1/payment_methods", &format!("type=card&card[token]={tok}"));
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post(&mut s, "/v1/payment_methods", &format!("type=card&card[token]={tok}"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "token_already_used");
    let (_, link) = post(
        &mut s,
        "/v1/account_links",
        "account=acct_123&type=account_onboarding&refresh_url=https://e.com/r&return_url=https://e.com/b",
    );
    assert!(link["url"]
        .as_str()
        .expect("url")
        .starts_with("https://connect.stripe.com/setup/s/acct_123/"));
    let (_, login) = post(&mut s, "/v1/accounts/acct_123/login_links", "");
    assert_eq!(login["object"], "login_link");
}

#[test]
fn v2_event_destinations_json_bodies_and_stripe_context() {
    let mut s = State::new(Some(13));
    let body = r#"{"name":"hooks","type":"webhook_endpoint","event_payload":"thin","enabled_events":["v1.billing.meter.error_report_triggered"],"webhook_endpoint":{"url":"https://example.com/v2"},"include":["webhook_endpoint.signing_secret"]}"#;
    let json = [("content-type", "application/json"), ("stripe-context", "acct_ctx")];
    let (status, ed) = call(&mut s, Method::POST, "/v2/core/event_destinations", body, &json);
    assert_eq!(status, StatusCode::OK, "{ed}");
    assert_eq!(ed["object"], "v2.core.event_destination");
    assert_eq!(ed["created"], "2026-01-01T00:00:00.000Z");
    assert!(ed["webhook_endpoint"]["signing_secret"]
        .as_str()
        .expect("secret")
        .starts_with("whsec_"));
    let path = format!("/v2/core/event_destinations/{}", id(&ed));
    let (status, found) = call(&mut s, Method::GET, &path, "", &[("stripe-context", "acct_ctx")]);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["webhook_endpoint"]["signing_secret"], Value::Null);
    let (status, missing) = call(&mut s, Method::GET, &path, "", &[]);
    assert_eq!(status, StatusCode::NOT_FOUND, "another context does not see it");
    assert_eq!(missing["error"]["code"], "not_found");
    assert!(missing["error"].get("doc_url").is_none());
    let (_, list) = call(
        &mut s,
        Method::GET,
        "/v2/core/event_destinations",
        "",
        &[("stripe-context", "acct_ctx")],
    );
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["next_page_url"], Value::Null);
    let (status, bad) = call(
        &mut s,
        Method::POST,
        "/v2/core/event_destinations",
        r#"{"name":"x"}"#,
        &json,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["error"]["code"], "invalid_fields");
}
