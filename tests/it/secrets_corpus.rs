//! The secrets corpus (issue #16): every spelling of a secret a client or a
//! hostile upstream can give, request side and response side, in every
//! position. Each is planted through the proxy in record mode, and none may
//! reach a cassette file, the audit log (`--audit-log`) or a log line
//! (stdout and stderr at debug level); then each is planted by hand into a
//! cassette file, in every position, and `verify` must flag it.
//!
//! The spellings: plain keys of every kind, client secrets and webhook
//! secrets; percent-encoded (`sk%5Ftest%5F…`, `%73k_test_…`,
//! `pi_…_secret%5F…`, doubly encoded); `\u`-escaped; glued to a preceding
//! word character or a non-ASCII letter; card numbers and security codes in
//! arrays, as JSON numbers, under a literal `card[number]` key, with tabs
//! between groups; text bodies (`text/plain`, JSON after a BOM, JSON with
//! trailing bytes); response headers; secret-shaped cassette set names;
//! bodies sent with `Content-Encoding` `GZIP`, `x-gzip`, `deflate` (zlib and
//! raw), multi-member gzip, and an encoding the proxy does not decode.
//!
//! The stand-in upstream echoes crafted values through its test hooks
//! (`Standin-Echo-Header`, `Standin-Echo-Body`, `Standin-Echo-Type`,
//! `Standin-Encode`: see standin/src/main.rs).

use std::path::{Path, PathBuf};

use crate::common::*;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use stripe_vcr::stripe::redact::{is_card_number, Redactor};

/// One spelling of a secret: the text as planted, and the part of it (its
/// random part) that must never be found anywhere afterwards.
struct Spelling {
    label: &'static str,
    text: String,
    marker: String,
}

/// Every text spelling. Each random part is unique, so a leak names its case.
fn spellings() -> Vec<Spelling> {
    let mut out = Vec::new();
    let mut add = |label: &'static str, make: &dyn Fn(&str) -> String| {
        let marker = format!("51Cx{:02}q9Zy8Xw7V", out.len());
        out.push(Spelling {
            label,
            text: make(&marker),
            marker,
        });
    };
    // Already handled before issue #16 (tests/secrets.rs).
    add("plain sk_test", &|m| format!("sk_test_{m}"));
    add("plain sk_live", &|m| format!("sk_live_{m}"));
    add("plain rk_test", &|m| format!("rk_test_{m}"));
    add("plain rk_live", &|m| format!("rk_live_{m}"));
    add("plain ek_test", &|m| format!("ek_test_{m}"));
    add("plain ek_live", &|m| format!("ek_live_{m}"));
    add("plain client secret", &|m| format!("pi_3PlainIntent1_secret_{m}"));
    add("plain setup secret", &|m| format!("seti_1PlainSetup_secret_{m}"));
    add("plain webhook secret", &|m| format!("whsec_{m}"));
    add("inside a sentence", &|m| {
        format!("Invalid API Key provided: sk_test_{m}.")
    });
    // Percent-encoded.
    add("sk%5Ftest%5F", &|m| format!("sk%5Ftest%5F{m}"));
    add("%73k_test_", &|m| format!("%73k_test_{m}"));
    add("_secret%5F", &|m| format!("pi_3PctIntent1_secret%5F{m}"));
    add("whsec%5F", &|m| format!("whsec%5F{m}"));
    add("doubly encoded", &|m| format!("sk%255Flive%255F{m}"));
    add("lower-case escapes", &|m| format!("rk%5flive%5f{m}"));
    // Glued to what comes before.
    add("key_sk_test_", &|m| format!("key_sk_test_{m}"));
    add("token1sk_live_", &|m| format!("token1sk_live_{m}"));
    add("x_pi_…_secret_", &|m| format!("x_pi_3GluedIntent1_secret_{m}"));
    add("a_whsec_", &|m| format!("a_whsec_{m}"));
    add("after a non-ASCII letter", &|m| format!("ésk_test_{m}"));
    add("glued and encoded", &|m| format!("key%5Fsk%5Ftest%5F{m}"));
    out
}

/// Spellings with `\u` escapes: valid in JSON text and text bodies, not in
/// a URL path (a client rewrites `\`) or a header.
fn escaped_spellings() -> Vec<Spelling> {
    [
        ("sk\\u005ftest\\u005f", "sk\\u005ftest\\u005f"),
        ("pi_…_secret\\u005f", "pi_3EscIntent1_secret\\u005f"),
        ("whsec\\u005f", "whsec\\u005f"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (label, prefix))| {
        let marker = format!("51Ue{i:02}q9Zy8Xw7V");
        Spelling {
            label,
            text: format!("{prefix}{marker}"),
            marker,
        }
    })
    .collect()
}

/// Luhn-valid card numbers, one per card case, so a leak names its case.
const CARDS: [&str; 13] = [
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "5105105105105100",
    "378282246310005",
    "6011111111111117",
    "6011000990139424",
    "3566002020360505",
    "6200000000000005",
    "4000002500003155",
    "4000000000003220",
    "5200828282828210",
];

/// Security codes, one per case (four digits, as on an Amex card).
const CODES: [&str; 6] = ["9173", "8264", "7355", "6446", "5537", "4628"];

fn pct(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// Every file under `dir`, recursively, as text.
fn tree_text(dir: &Path) -> String {
    let mut out = String::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.map(|e| e.expect("entry")) {
            let path = e.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("read")));
                out.push('\n');
            }
        }
    }
    out
}

/// Every cassette file under `dir`, recursively.
fn cassette_paths(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").map(|e| e.expect("entry")) {
            let path = e.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The ways a planted card number could still be on disk or in a log.
fn card_leaks(text: &str, card: &str) -> bool {
    let digits: String = card.chars().filter(char::is_ascii_digit).collect();
    text.contains(&digits) || text.contains(card) || text.contains(&card.replace('\t', "\\t"))
}

/// Whether a planted security code survives next to its key.
fn code_leaks(text: &str, code: &str) -> bool {
    regex::Regex::new(&format!(r#"(?i)(cvc|cvv|security_code)2?[^A-Za-z]{{0,16}}\b{code}\b"#))
        .expect("regex")
        .is_match(text)
        || text.contains(&format!("\"{code}\""))
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(RECORD_KEY)
            .header("stripe-version", STRIPE_VERSION)
    }

    async fn send(&self, label: &str, request: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{label}: request failed: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.expect("body").to_vec())
    }
}

/// Plants every text spelling in every request and response position.
async fn plant_text_spellings(c: &Client) {
    use reqwest::Method;
    for s in spellings().iter().chain(escaped_spellings().iter()) {
        let t = &s.text;
        let label = s.label;
        let url_safe = !t.contains('\\');
        let header_safe = url_safe && t.is_ascii();
        // Path, query value, identifying header, User-Agent, and a response
        // header echoing it (the stand-in's 404 echoes the id in its body).
        if url_safe {
            let mut r = c
                .request(Method::GET, &format!("/v1/payment_intents/{t}?expand[]={}", pct(t)))
                .header("standin-echo-header", pct(t));
            if header_safe {
                r = r
                    .header("stripe-account", t.as_str())
                    .header("user-agent", format!("agent {t}"));
            }
            let (status, headers, _) = c.send(label, r).await;
            assert!(status == 404 || status == 400, "{label}: {status}");
            let echoed = headers.get("standin-echo").map(|v| v.as_bytes().to_vec());
            assert_eq!(
                echoed.as_deref(),
                Some(t.as_bytes()),
                "{label}: the client gets the real answer"
            );
        }
        // Form parameters: key and value, echoed back in the intent's metadata.
        let form = format!(
            "amount=1500&currency=usd&metadata[k]={v}&metadata[{v}]=v&description={v}",
            v = pct(t)
        );
        let r = c
            .request(Method::POST, "/v1/payment_intents")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        // 200 echoes the metadata back; a key the stand-in refuses gets a
        // 400 naming it: both are recorded.
        let (status, _, body) = c.send(label, r).await;
        assert!(
            status == 200 || status == 400,
            "{label}: {}",
            String::from_utf8_lossy(&body)
        );
        // A JSON body, nested.
        let r = c
            .request(Method::POST, "/v1/payment_intents")
            .header("content-type", "application/json")
            .body(json!({"amount": 1500, "currency": "usd", "metadata": {"deep": [{"k": t}]}}).to_string());
        c.send(label, r).await;
        // Text bodies: text/plain, JSON after a BOM, JSON with trailing bytes.
        for (body, content_type) in [
            (format!("upstream says: {t} (see docs)"), "text/plain"),
            (
                format!("\u{feff}{}", json!({"echo": t, "list": [t]})),
                "application/json",
            ),
            (format!("{}\ntrailing {t}", json!({"echo": t})), "application/json"),
        ] {
            let r = c
                .request(Method::GET, "/v1/payment_intents")
                .header("standin-echo-body", pct(&body))
                .header("standin-echo-type", content_type);
            let (status, _, got) = c.send(label, r).await;
            assert_eq!(
                (status, got),
                (200, body.into_bytes()),
                "{label}: the client gets the real answer"
            );
        }
        // A secret-shaped cassette set name is refused, by header and by prefix.
        if header_safe {
            let r = c
                .request(Method::GET, "/v1/payment_intents")
                .header("stripe-vcr-cassette", t.as_str());
            let (status, headers, _) = c.send(label, r).await;
            assert_eq!(status, 400, "{label}: set header");
            assert_eq!(headers["stripe-vcr-error"], "bad-cassette-set", "{label}");
        }
        if url_safe {
            let r = c.request(Method::GET, &format!("/__cassette/checkout/{t}/v1/payment_intents"));
            let (status, headers, _) = c.send(label, r).await;
            assert_eq!(status, 400, "{label}: set prefix");
            assert_eq!(headers["stripe-vcr-error"], "bad-cassette-set", "{label}");
        }
    }
}

/// Plants card numbers and security codes in every shape, request and
/// response side.
async fn plant_card_shapes(c: &Client) {
    use reqwest::Method;
    for card in CARDS {
        assert!(
            is_card_number(card),
            "{card} must be Luhn-valid for the corpus to mean anything"
        );
    }
    let tabbed = "3782\t822463\t10005";
    assert!(is_card_number(tabbed));
    // Request side, form: arrays, indexed arrays, tabs between groups.
    let form = format!(
        "amount=1500&currency=usd&payment_method_data[type]=card&payment_method_data[card][number][]={}\
         &payment_method_data[card][cvc][]={}&card[cvv][0]={}&card[number]={}",
        CARDS[0],
        CODES[0],
        CODES[1],
        pct(tabbed)
    );
    let r = c
        .request(Method::POST, "/v1/payment_intents")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    c.send("card form", r).await;
    // Request side, JSON: arrays, a JSON number, a literal `card[number]` key.
    let body = format!(
        r#"{{"amount": 1500, "currency": "usd", "payment_method_data": {{"type": "card", "card": {{"number": ["{}"], "cvc": ["{}"]}}}},
            "card[number]": "{}", "number": {}}}"#,
        CARDS[1], CODES[2], CARDS[2], CARDS[3]
    );
    let r = c
        .request(Method::POST, "/v1/payment_intents")
        .header("content-type", "application/json")
        .body(body);
    c.send("card json", r).await;
    // Response side: a JSON body with every shape; a text body; JSON after a BOM.
    let json_body = format!(
        r#"{{"card": {{"number": {}, "cvv": {{"0": "{}"}}}}, "card[number]": "{}", "number": ["{}"], "tabbed": {{"card_number": "{}"}}}}"#,
        CARDS[4],
        CODES[3],
        CARDS[5],
        CARDS[6],
        tabbed.replace('\t', "\\t")
    );
    for (body, content_type) in [
        (json_body, "application/json"),
        (format!("charged {} with cvc={}", CARDS[7], CODES[4]), "text/plain"),
        (
            format!("\u{feff}{{\"number\": \"{}\", \"cvc\": \"{}\"}}", CARDS[8], CODES[5]),
            "application/json",
        ),
    ] {
        let r = c
            .request(Method::GET, "/v1/payment_intents")
            .header("standin-echo-body", pct(&body))
            .header("standin-echo-type", content_type);
        let (status, _, got) = c.send("card response", r).await;
        assert_eq!((status, got), (200, body.into_bytes()));
    }
}

/// Sends JSON bodies in every `Content-Encoding` an upstream may use;
/// returns the markers planted in them.
async fn plant_encoded_bodies(c: &Client) -> Vec<String> {
    use reqwest::Method;
    let mut markers = Vec::new();
    for (i, coding) in ["GZIP", "x-gzip", "deflate", "Deflate-raw", "gzip-multi", "gzip"]
        .into_iter()
        .enumerate()
    {
        let marker = format!("51Enc{i:02}q9Zy8Xw7V");
        let card = CARDS[9 + i % 4];
        let body = json!({"id": format!("pi_Encoded{i}"), "client_secret": format!("pi_Encoded{i}_secret_{marker}"),
                          "card": {"number": card}, "padding": "x".repeat(200)})
        .to_string();
        let r = c
            .request(Method::GET, &format!("/v1/payment_intents/pi_Encoded{i}"))
            .header("standin-echo-body", pct(&body))
            .header("standin-echo-type", "application/json")
            .header("standin-encode", coding);
        let (status, headers, got) = c.send(coding, r).await;
        // The recording client gets the whole body, decoded (every member
        // of a multi-member stream), and no Content-Encoding.
        assert_eq!(status, 404, "{coding}");
        assert!(headers.get("content-encoding").is_none(), "{coding}");
        assert_eq!(String::from_utf8_lossy(&got), body, "{coding}");
        markers.push(marker);
    }
    // An encoding the proxy does not decode: relayed as it came, not recorded.
    let marker = "51EncBrq9Zy8Xw7V".to_owned();
    let body = json!({"client_secret": format!("pi_Br_secret_{marker}")}).to_string();
    let r = c
        .request(Method::GET, "/v1/payment_intents/pi_BrotliEncoded")
        .header("standin-echo-body", pct(&body))
        .header("standin-encode", "br");
    let (status, headers, got) = c.send("br", r).await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-encoding"], "br");
    assert_eq!(got, body.as_bytes(), "relayed exactly as the upstream sent it");
    let warning = headers["stripe-vcr-warning"].to_str().expect("ascii");
    assert!(warning.contains("Content-Encoding `br`"), "{warning}");
    markers.push(marker);
    markers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_a_secret_reaches_a_cassette_the_audit_log_or_a_log_line() {
    let ws = Workspace::new();
    let standin = Standin::start();
    let audit = ws.dir.path().join("audit.jsonl");
    let recorder = Binary::record(&ws, &standin, args!["--audit-log", audit], "stripe_vcr=debug");
    let c = Client {
        http: trusting(&ws.ca()).no_proxy().http1_only().build().expect("client"),
        base: format!("https://127.0.0.1:{}", recorder.port),
    };
    plant_text_spellings(&c).await;
    plant_card_shapes(&c).await;
    let encoded = plant_encoded_bodies(&c).await;
    let exited = recorder.interrupt();
    // The one body it could not read was not recorded, and the exit code says so.
    assert!(!exited.success, "{}", exited.stderr);
    assert!(
        exited.stderr.contains("1 cassettes could not be saved"),
        "{}",
        exited.stderr
    );
    standin.stop();

    let on_disk = tree_text(&ws.cassettes());
    let audit_log = std::fs::read_to_string(&audit).expect("audit log");
    let logs = format!("{}\n{}", exited.stdout.join("\n"), exited.stderr);
    // The places looked at hold what they should, so finding nothing there means something.
    assert!(
        cassette_paths(&ws.cassettes()).len() > 100,
        "{}",
        cassette_paths(&ws.cassettes()).len()
    );
    assert!(audit_log.lines().count() > 100, "{}", audit_log.lines().count());
    assert!(
        logs.contains("request via=") && logs.contains("invalid cassette set"),
        "{logs}"
    );
    assert!(on_disk.contains("sk%5Ftest%5FREDACTED") && on_disk.contains("key_sk_test_REDACTED"));
    assert!(on_disk.contains("\"body_text\"") && on_disk.contains("************4242"));

    let places = [
        ("a cassette", &on_disk),
        ("the audit log", &audit_log),
        ("the logs", &logs),
    ];
    for s in spellings().iter().chain(escaped_spellings().iter()) {
        for (place, text) in places {
            let at = text
                .find(&s.marker)
                .map(|i| &text[i.saturating_sub(300)..(i + 100).min(text.len())]);
            assert!(at.is_none(), "{} ({}) reached {place}: {at:?}", s.label, s.text);
        }
    }
    for marker in &encoded {
        for (place, text) in places {
            assert!(
                !text.contains(marker.as_str()),
                "encoded body secret {marker} reached {place}"
            );
        }
    }
    for card in CARDS.iter().chain(["3782\t822463\t10005"].iter()) {
        for (place, text) in places {
            assert!(!card_leaks(text, card), "card {card:?} reached {place}");
        }
    }
    for code in CODES {
        for (place, text) in places {
            assert!(!code_leaks(text, code), "security code {code} reached {place}");
        }
    }
    // No set directory was made from a secret-shaped name.
    let dirs: Vec<_> = std::fs::read_dir(ws.cassettes())
        .expect("cassettes")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(dirs.is_empty(), "{dirs:?}");
    // Encoded bodies are stored decoded, as JSON; the undecodable one not at all.
    for path in cassette_paths(&ws.cassettes()) {
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("pi_BrotliEncoded"), "{}", path.display());
        assert!(
            !text.to_ascii_lowercase().contains("content-encoding"),
            "{}",
            path.display()
        );
        if text.contains("pi_Encoded") {
            let v: Value = serde_json::from_str(&text).expect("json");
            assert!(v["response"]["body"]["id"].is_string(), "{text}");
        }
    }

    // And verify agrees that nothing is left: the same detection sealed them.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stripe-vcr"))
        .args(["verify", "--cassettes"])
        .arg(ws.cassettes())
        .output()
        .expect("verify");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("OK: "), "{text}");
}

/// A clean, real cassette to plant secrets in.
async fn clean_cassette() -> (Workspace, PathBuf) {
    let session = Recording::start().await;
    let created = session
        .api
        .post("create", "/v1/payment_intents", "amount=900&currency=usd&metadata[k]=v")
        .await;
    assert_eq!(created.status, 200);
    let (ws, _) = session.finish().await;
    let file = cassette_paths(&ws.cassettes()).pop().expect("one cassette");
    let report = stripe_vcr::cli::verify::verify_dir(&ws.cassettes(), Redactor::standard(), false).expect("verify");
    assert!(report.ok, "{}", report.to_text());
    (ws, file)
}

type Plant = Box<dyn Fn(&mut Value)>;

/// Every position a text can sit in, and the JSON path verify reports.
fn text_positions(text: &str) -> Vec<(&'static str, String, Plant)> {
    let t = text.to_owned();
    // A key's path shows it redacted, as verify shows it.
    let redacted_key = Redactor::standard().redact(text).into_owned();
    let key_path = stripe_vcr::stripe::redact::json_child_path("request.params.metadata", &redacted_key);
    let mut out: Vec<(&'static str, String, Plant)> = Vec::new();
    let v = t.clone();
    out.push((
        "request path",
        "request.path".into(),
        Box::new(move |c| c["request"]["path"] = format!("/v1/payment_intents/{v}").into()),
    ));
    let v = t.clone();
    out.push((
        "params key",
        key_path,
        Box::new(move |c| c["request"]["params"]["metadata"][v.as_str()] = "v".into()),
    ));
    let v = t.clone();
    out.push((
        "params value",
        "request.params.metadata.k".into(),
        Box::new(move |c| c["request"]["params"]["metadata"]["k"] = v.clone().into()),
    ));
    let v = t.clone();
    out.push((
        "request header",
        "request.headers.stripe-account".into(),
        Box::new(move |c| c["request"]["headers"]["stripe-account"] = v.clone().into()),
    ));
    let v = t.clone();
    out.push((
        "user agent",
        "request.user_agent".into(),
        Box::new(move |c| c["request"]["user_agent"] = format!("agent {v}").into()),
    ));
    let v = t.clone();
    out.push((
        "response header",
        "response.headers.x-planted[1]".into(),
        Box::new(move |c| c["response"]["headers"]["x-planted"] = json!(["ok", v])),
    ));
    let v = t.clone();
    out.push((
        "response body, nested",
        "response.body.metadata.deep[0].x".into(),
        Box::new(move |c| c["response"]["body"]["metadata"]["deep"] = json!([{"x": format!("see {v}")}])),
    ));
    let v = t.clone();
    out.push((
        "body_text",
        "response.body_text".into(),
        Box::new(move |c| {
            let response = c["response"].as_object_mut().expect("response");
            response.remove("body");
            response.insert("body_text".into(), format!("upstream says {v}").into());
        }),
    ));
    out
}

/// Card data in every shape and position, with the path and kind verify reports.
fn card_positions() -> Vec<(&'static str, String, &'static str, Plant)> {
    let tabbed = "5555\t5555\t5555\t4444";
    vec![
        (
            "params: number[]",
            "request.params.payment_method_data.card.number[0]".into(),
            "card-number",
            Box::new(|c: &mut Value| {
                c["request"]["params"]["payment_method_data"] = json!({"card": {"number": ["4242424242424242"]}})
            }) as Plant,
        ),
        (
            "params: cvc[]",
            "request.params.card.cvc".into(),
            "card-security-code",
            Box::new(|c: &mut Value| c["request"]["params"]["card"] = json!({"cvc": ["321"]})),
        ),
        (
            "params: cvv[0] as a hash",
            "request.params.card.cvv".into(),
            "card-security-code",
            Box::new(|c: &mut Value| c["request"]["params"]["card"] = json!({"cvv": {"0": "654"}})),
        ),
        (
            "params: literal card[number]",
            "request.params[\"card[number]\"]".into(),
            "card-number",
            Box::new(|c: &mut Value| c["request"]["params"]["card[number]"] = "4000056655665556".into()),
        ),
        (
            "params: tabs between groups",
            "request.params.card.number".into(),
            "card-number",
            Box::new(move |c: &mut Value| c["request"]["params"]["card"] = json!({"number": tabbed})),
        ),
        (
            "body: number as a JSON number",
            "response.body.card.number".into(),
            "card-number",
            Box::new(|c: &mut Value| {
                c["response"]["body"]["card"] = serde_json::from_str(r#"{"number": 4242424242424242}"#).expect("json")
            }),
        ),
        (
            "body: number in an array",
            "response.body.payment_method_data.card.number[0]".into(),
            "card-number",
            Box::new(|c: &mut Value| {
                c["response"]["body"]["payment_method_data"] = json!({"card": {"number": ["6011111111111117"]}})
            }),
        ),
        (
            "body: cvc in an array",
            "response.body.card.cvc".into(),
            "card-security-code",
            Box::new(|c: &mut Value| c["response"]["body"]["card"] = json!({"cvc": ["111"]})),
        ),
        (
            "body: literal card[number]",
            "response.body[\"card[number]\"]".into(),
            "card-number",
            Box::new(|c: &mut Value| c["response"]["body"]["card[number]"] = "5105105105105100".into()),
        ),
        (
            "response header: card_number",
            "response.headers.card_number".into(),
            "card-number",
            Box::new(|c: &mut Value| c["response"]["headers"]["card_number"] = "378282246310005".into()),
        ),
        (
            "body_text: free text",
            "response.body_text".into(),
            "card-number",
            Box::new(|c: &mut Value| {
                let r = c["response"].as_object_mut().expect("response");
                r.remove("body");
                r.insert("body_text".into(), "charged 4242 4242 4242 4242 today".into());
            }),
        ),
        (
            "body_text: cvc=",
            "response.body_text".into(),
            "card-security-code",
            Box::new(|c: &mut Value| {
                let r = c["response"].as_object_mut().expect("response");
                r.remove("body");
                r.insert("body_text".into(), "rejected card[cvc][]=987".into());
            }),
        ),
        (
            "body_text: JSON after a BOM",
            "response.body_text.card.number".into(),
            "card-number",
            Box::new(|c: &mut Value| {
                let r = c["response"].as_object_mut().expect("response");
                r.remove("body");
                r.insert(
                    "body_text".into(),
                    "\u{feff}{\"card\": {\"number\": \"4000056655665556\"}}".into(),
                );
            }),
        ),
    ]
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

/// Plants one edit into a copy of the clean cassettes; returns verify's report.
fn verify_planted(
    ws: &Workspace,
    clean: &Path,
    n: usize,
    edit: &dyn Fn(&mut Value),
) -> stripe_vcr::cli::verify::Report {
    let dir = ws.dir.path().join(format!("planted-{n}"));
    copy_tree(&ws.cassettes(), &dir);
    let path = dir.join(clean.file_name().expect("name"));
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");
    stripe_vcr::cli::verify::verify_dir(&dir, Redactor::standard(), false).expect("verify")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_flags_every_spelling_planted_by_hand_in_every_position() {
    let (ws, clean) = clean_cassette().await;
    let mut n = 0;
    for s in spellings().iter().chain(escaped_spellings().iter()) {
        for (position, path, edit) in text_positions(&s.text) {
            n += 1;
            let report = verify_planted(&ws, &clean, n, &*edit);
            let text = report.to_text();
            assert!(!report.ok, "{} in {position} not flagged", s.label);
            assert!(
                report.problems.iter().any(|p| p.kind == "secret" && p.path == path),
                "{} in {position}: no secret at {path}:\n{text}",
                s.label
            );
            assert!(
                !text.contains(&s.marker),
                "{} in {position}: the report shows the secret:\n{text}",
                s.label
            );
        }
    }
    for (shape, path, kind, edit) in card_positions() {
        n += 1;
        let report = verify_planted(&ws, &clean, n, &*edit);
        assert!(
            report.problems.iter().any(|p| p.kind == kind && p.path == path),
            "{shape}: no {kind} at {path}:\n{}",
            report.to_text()
        );
    }

    // A set directory named like a secret (made by hand, or by an older
    // stripe-vcr) is flagged, without showing the name.
    let dir = ws.dir.path().join("planted-set");
    let set = dir.join("checkout").join("key_sk_test_51SetDirq9Zy8Xw7V");
    copy_tree(&ws.cassettes(), &set);
    let report = stripe_vcr::cli::verify::verify_dir(&dir, Redactor::standard(), false).expect("verify");
    let text = report.to_text();
    assert!(!report.ok, "{text}");
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == "secret" && p.file.starts_with("checkout/key_sk_test_REDACTED/")),
        "{text}"
    );
    assert!(!text.contains("51SetDir"), "{text}");
}

#[test]
fn what_verify_flags_is_what_sealing_would_change() {
    // The shared detection, checked directly: for every planted cassette,
    // redacting it changes it exactly when a detection is reported, and
    // the result is clean.
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("cassettes/create-efa8687af77666e90ff9-001.json"),
        )
        .expect("demo cassette"),
    )
    .expect("json");
    let r = Redactor::standard();
    let mut edits: Vec<Plant> = Vec::new();
    for s in spellings().into_iter().chain(escaped_spellings()) {
        edits.extend(text_positions(&s.text).into_iter().map(|(_, _, e)| e));
    }
    edits.extend(card_positions().into_iter().map(|(_, _, _, e)| e));
    edits.push(Box::new(|_| {}));
    let count = edits.len();
    for (i, edit) in edits.into_iter().enumerate() {
        let mut planted = base.clone();
        edit(&mut planted);
        let mut found = Vec::new();
        let redacted = r.redact_cassette_value(&planted, Some(&mut |d| found.push(d)));
        assert_eq!(redacted != planted, !found.is_empty(), "edit {i}: {found:?}");
        assert_eq!(found.is_empty(), i == count - 1, "edit {i}");
        let mut again = Vec::new();
        assert_eq!(
            r.redact_cassette_value(&redacted, Some(&mut |d| again.push(d))),
            redacted
        );
        assert!(again.is_empty(), "edit {i}: {again:?}");
    }
}
