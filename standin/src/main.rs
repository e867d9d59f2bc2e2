//! `stripe-vcr-standin`: a small HTTPS stand-in for Stripe's Payment Intents API.
//!
//! It is the upstream that `stripe-vcr`'s test-suite records against, so the
//! tests never need a Stripe account or network access. It mimics
//! `api.stripe.com` closely for `/v1/payment_intents` (create, retrieve,
//! update, confirm, capture, cancel, list, search): same JSON shapes, error
//! envelopes, auth rules, response headers and idempotency semantics.
//! It deliberately shares no code with the proxy.
//!
//! Run it with
//!
//! ```text
//! stripe-vcr-standin [--listen 127.0.0.1:0] [--cert-out PATH] [--seed N]
//! ```
//!
//! At start it generates a throw-away CA and a leaf certificate for
//! `localhost`/`127.0.0.1`, writes the CA (the trust anchor) as PEM to
//! `--cert-out`, then prints exactly one line to stdout,
//! `listening on https://127.0.0.1:PORT`, and serves HTTP/1.1 and HTTP/2 until
//! killed. Everything else is logged to stderr.
//!
//! ```text
//! curl --cacert ca.pem https://127.0.0.1:PORT/v1/payment_intents \
//!     -u sk_test_123: -d amount=2000 -d currency=usd -d "metadata[order_id]=6735"
//! ```
//!
//! With `--seed N` ids and secrets come from a seeded RNG and the clock starts at
//! 2026-01-01T00:00:00Z, advancing one second per created object, so the same
//! sequence of requests yields byte-identical response bodies.
//!
//! Test hooks: a request header `Standin-Fail-Once: TOKEN` makes the first
//! request carrying TOKEN fail with a 500 (`Stripe-Should-Retry: true`);
//! so does a create (`POST /v1/payment_intents`) whose parameters carry
//! `metadata[standin_fail_once]=TOKEN`, for clients such as the official SDKs
//! that cannot easily add a header to one request (the SDK's retry, with the
//! same `Idempotency-Key`, then succeeds); a create carrying
//! `metadata[standin_retry_after_success]=TOKEN` succeeds the first time but
//! says `Stripe-Should-Retry: true`, so the SDK retries it and gets Stripe's
//! idempotent replay of the same intent; `Standin-Delay-Ms: N` delays the
//! answer by N milliseconds; `Standin-Hold: TOKEN` holds the request until
//! `POST /__standin/release/TOKEN`, and `GET /__standin/held/TOKEN` answers
//! once a request carrying TOKEN is being held (both give up after 30 s), so
//! a test can order requests by events instead of sleeps.
//!
//! Echo hooks, for the secrets corpus (a hostile upstream echoing crafted
//! values). Each value is percent-decoded once, so a test can plant any
//! bytes (`%255F` arrives as `%5F`):
//! `Standin-Echo-Header: V` adds the response header `standin-echo: V`;
//! `Standin-Echo-Body: V` replaces the response body with V (the status is
//! kept), sent with `Content-Type` from `Standin-Echo-Type` (default
//! `text/plain`), so a test can send text, JSON after a byte-order mark or
//! JSON with trailing bytes; `Standin-Encode: CODING` sends the body
//! encoded and says so in `Content-Encoding`: `gzip`, `x-gzip` or `deflate`
//! in the letter case given (`deflate` is zlib-wrapped), `gzip-multi`
//! (two gzip members, sent as `gzip`), `deflate-raw` (raw deflate, sent as
//! `deflate`), or any other name (such as `br`), which sends the body as it
//! is under that name, as a server using an encoding the proxy cannot
//! decode would look to it.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// `Stripe-Version` sent back when the request does not name one.
const DEFAULT_STRIPE_VERSION: &str = "2026-07-29.dahlia";
/// Start of the deterministic clock used with `--seed` (2026-01-01T00:00:00Z).
const SEEDED_EPOCH: i64 = 1_767_225_600;
/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest delay honoured for `Standin-Delay-Ms`.
const MAX_DELAY_MS: u64 = 120_000;
/// Test hook header: fail the first request carrying a given token.
const FAIL_ONCE_HEADER: &str = "standin-fail-once";
/// Test hook metadata key on create: fail the first create carrying a given token.
const FAIL_ONCE_METADATA: &str = "standin_fail_once";
/// Test hook metadata key on create: the first create carrying a given token
/// runs (and is saved under its idempotency key), but its answer says
/// `Stripe-Should-Retry: true`, so an SDK retries it with the same key and
/// gets the saved result replayed: a retry of a request Stripe already ran.
const RETRY_AFTER_SUCCESS_METADATA: &str = "standin_retry_after_success";
/// Test hook header: sleep this many milliseconds before answering.
const DELAY_HEADER: &str = "standin-delay-ms";
/// Test hook header: hold the request until its token is released.
const HOLD_HEADER: &str = "standin-hold";
/// How long a hold, or a wait for one, lasts at most.
const HOLD_LIMIT: Duration = Duration::from_secs(30);
/// Test hook header: echo this value in the `standin-echo` response header.
const ECHO_HEADER: &str = "standin-echo-header";
/// Test hook header: answer with this body instead.
const ECHO_BODY: &str = "standin-echo-body";
/// Test hook header: the `Content-Type` of an echoed body.
const ECHO_TYPE: &str = "standin-echo-type";
/// Test hook header: send the body with this `Content-Encoding`.
const ENCODE_HEADER: &str = "standin-encode";

/// Documented parameters of `POST /v1/payment_intents`.
const CREATE_PARAMS: &[&str] = &[
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
const UPDATE_PARAMS: &[&str] = &[
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
const CONFIRM_PARAMS: &[&str] = &[
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
const CAPTURE_PARAMS: &[&str] = &[
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
const CANCEL_PARAMS: &[&str] = &["cancellation_reason", "expand"];
/// Parameters of `GET /v1/payment_intents/{id}`.
const RETRIEVE_PARAMS: &[&str] = &["client_secret", "expand"];
/// Parameters of `GET /v1/payment_intents`.
const LIST_PARAMS: &[&str] = &[
    "limit",
    "starting_after",
    "ending_before",
    "customer",
    "customer_account",
    "created",
    "expand",
];
/// Parameters of `GET /v1/payment_intents/search`.
const SEARCH_PARAMS: &[&str] = &["query", "limit", "page", "expand"];

/// Payment method types accepted in `payment_method_types`.
const PAYMENT_METHOD_TYPES: &[&str] = &[
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

/// Command line of the stand-in server.
#[derive(Parser, Debug)]
#[command(
    name = "stripe-vcr-standin",
    about = "HTTPS stand-in for Stripe's Payment Intents API (test upstream for stripe-vcr)"
)]
struct Args {
    /// Address to listen on; port 0 picks an ephemeral port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Write the trust-anchor (CA) certificate as PEM to this file before listening.
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Deterministic mode: seeded ids and a fixed clock starting at 1767225600.
    #[arg(long)]
    seed: Option<u64>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let tls = TlsMaterial::generate().expect("generating the TLS certificates must succeed");
    let acceptor = TlsAcceptor::from(Arc::new(tls.server_config()));
    let listener = TcpListener::bind(args.listen)
        .await
        .expect("binding the listen address must succeed");
    let addr = listener.local_addr().expect("a bound socket has a local address");
    if let Some(path) = &args.cert_out {
        std::fs::write(path, &tls.ca_pem).expect("writing --cert-out must succeed");
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on https://{addr}").expect("stdout must be writable");
    stdout.flush().expect("stdout must be flushable");

    let app = Arc::new(App::new(args.seed));
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                tokio::spawn(serve_connection(app.clone(), acceptor.clone(), tcp, peer));
            }
            Err(err) => {
                eprintln!("standin: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Completes the TLS handshake and serves HTTP/1.1 or HTTP/2 on one connection.
async fn serve_connection(app: Arc<App>, acceptor: TlsAcceptor, tcp: tokio::net::TcpStream, peer: SocketAddr) {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(err) => {
            eprintln!("standin: TLS handshake with {peer} failed: {err}");
            return;
        }
    };
    let service = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if let Err(err) = builder.serve_connection(TokioIo::new(tls), service).await {
        eprintln!("standin: connection with {peer} ended with an error: {err}");
    }
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// A freshly generated CA plus a leaf certificate for `localhost`/`127.0.0.1`.
struct TlsMaterial {
    /// PEM of the CA certificate: the trust anchor clients should use.
    ca_pem: String,
    /// The certificate chain served (leaf, then CA).
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// PKCS#8 DER of the leaf's private key.
    leaf_key: Vec<u8>,
}

impl TlsMaterial {
    /// Generates the CA and the leaf it signs.
    fn generate() -> Result<Self, rcgen::Error> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };

        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "stripe-vcr stand-in CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        leaf_params.distinguished_name = DistinguishedName::new();
        leaf_params.distinguished_name.push(DnType::CommonName, "localhost");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate()?;
        let leaf = leaf_params.signed_by(&leaf_key, &ca)?;

        Ok(Self {
            ca_pem: ca.pem(),
            chain: vec![leaf.der().clone(), ca.der().clone()],
            leaf_key: leaf_key.serialize_der(),
        })
    }

    /// A rustls server config (aws-lc-rs provider, ALPN `h2` and `http/1.1`).
    fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(self.leaf_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the aws-lc-rs provider supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .expect("the generated certificate and key must match");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

// ---------------------------------------------------------------------------
// HTTP layer
// ---------------------------------------------------------------------------

/// The shared application: all state behind one mutex.
///
/// Requests are handled synchronously while holding the lock, which keeps the
/// store, the idempotency cache and the RNGs consistent without finer locking.
struct App {
    state: Mutex<State>,
    /// `Standin-Hold` tokens: 1 once a request is held, 2 once released.
    holds: Mutex<HashMap<String, tokio::sync::watch::Sender<u8>>>,
}

/// The parts of an HTTP request the API logic needs.
struct ApiRequest {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
}

impl ApiRequest {
    /// A header's value, if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A response before the common headers are added.
struct Reply {
    status: StatusCode,
    body: Bytes,
    /// Extra headers (e.g. `WWW-Authenticate`).
    headers: Vec<(&'static str, String)>,
    /// Request-Id of the execution that produced this body (for `Original-Request`).
    original_request: Option<String>,
    /// True when served from the idempotency cache.
    replayed: bool,
}

impl Reply {
    /// A successful JSON reply.
    fn ok(body: &Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json_bytes(body),
            headers: Vec::new(),
            original_request: None,
            replayed: false,
        }
    }
}

/// Pretty-prints a JSON value the way Stripe does.
fn json_bytes(value: &Value) -> Bytes {
    Bytes::from(serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned()))
}

impl App {
    /// Creates the application; `seed` selects deterministic mode.
    fn new(seed: Option<u64>) -> Self {
        Self {
            state: Mutex::new(State::new(seed)),
            holds: Mutex::new(HashMap::new()),
        }
    }

    /// The watch channel of a hold token, created on first use.
    fn hold(&self, token: &str) -> tokio::sync::watch::Receiver<u8> {
        let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        holds
            .entry(token.to_owned())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// Moves a hold token to `stage` (1 held, 2 released).
    fn hold_reached(&self, token: &str, stage: u8) {
        self.hold(token);
        let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = holds.get(token) {
            sender.send_if_modified(|s| {
                let moved = *s < stage;
                *s = (*s).max(stage);
                moved
            });
        }
    }

    /// Waits (at most [`HOLD_LIMIT`]) until a hold token reaches `stage`.
    async fn hold_until(&self, token: &str, stage: u8) -> bool {
        let mut rx = self.hold(token);
        tokio::time::timeout(HOLD_LIMIT, rx.wait_for(|s| *s >= stage))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The hold hooks' own endpoints, `/__standin/held/T` and `/__standin/release/T`.
    async fn hold_endpoint(&self, method: &Method, path: &str) -> Option<Response<Full<Bytes>>> {
        let rest = path.strip_prefix("/__standin/")?;
        let status = match (method, rest.split_once('/')) {
            (&Method::GET, Some(("held", token))) => match self.hold_until(token, 1).await {
                true => StatusCode::OK,
                false => StatusCode::GATEWAY_TIMEOUT,
            },
            (&Method::POST, Some(("release", token))) => {
                self.hold_reached(token, 2);
                StatusCode::OK
            }
            _ => StatusCode::NOT_FOUND,
        };
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = status;
        Some(response)
    }

    /// Answers one HTTP request.
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if let Some(response) = self.hold_endpoint(req.method(), req.uri().path()).await {
            return response;
        }
        let hold = req
            .headers()
            .get(HOLD_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(token) = hold {
            self.hold_reached(&token, 1);
            if !self.hold_until(&token, 2).await {
                eprintln!("standin: hold {token} was never released");
            }
        }
        let delay = req
            .headers()
            .get(DELAY_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay.min(MAX_DELAY_MS))).await;
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => {
                eprintln!("standin: reading request body failed: {err}");
                Bytes::new()
            }
        };
        let request = ApiRequest {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
        };
        let (request_id, reply) = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let request_id = state.ids.request_id();
            let reply = state.execute(&request, &request_id);
            (request_id, reply)
        };
        eprintln!(
            "standin: {} {} -> {} ({request_id}{})",
            request.method,
            request.path,
            reply.status.as_u16(),
            if reply.replayed { ", replayed" } else { "" }
        );
        echo_hooks(&request.headers, finish_response(&request, &request_id, reply))
    }
}

/// A test hook header's value, percent-decoded once.
fn hook_value(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let raw = headers.get(name)?;
    Some(percent_encoding::percent_decode(raw.as_bytes()).collect())
}

/// The echo hooks (see the module doc): crafted headers, bodies and
/// encodings, as a hostile upstream would send them.
fn echo_hooks(headers: &HeaderMap, mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    use std::io::Write as _;
    if let Some(value) = hook_value(headers, ECHO_HEADER) {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            response.headers_mut().insert("standin-echo", value);
        }
    }
    let echoed = hook_value(headers, ECHO_BODY);
    let encoding = headers
        .get(ENCODE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if echoed.is_none() && encoding.is_none() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut response = Response::from_parts(parts, Full::new(Bytes::new()));
    let body = match echoed {
        Some(bytes) => {
            let content_type = hook_value(headers, ECHO_TYPE).unwrap_or_else(|| b"text/plain".to_vec());
            if let Ok(value) = HeaderValue::from_bytes(&content_type) {
                response.headers_mut().insert("content-type", value);
            }
            bytes
        }
        // A `Full` body is one chunk, there at once.
        None => full_body_bytes(body),
    };
    let body = match encoding.as_deref() {
        None => body,
        Some(coding) => {
            let gzip = |data: &[u8]| {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).and_then(|()| e.finish()).unwrap_or_default()
            };
            let (sent_as, encoded) = match coding.to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => (coding.to_owned(), gzip(&body)),
                "gzip-multi" => {
                    let half = body.len() / 2;
                    ("gzip".to_owned(), [gzip(&body[..half]), gzip(&body[half..])].concat())
                }
                "deflate" => {
                    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                    let encoded = e.write_all(&body).and_then(|()| e.finish()).unwrap_or_default();
                    (coding.to_owned(), encoded)
                }
                "deflate-raw" => {
                    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                    let encoded = e.write_all(&body).and_then(|()| e.finish()).unwrap_or_default();
                    ("deflate".to_owned(), encoded)
                }
                _ => (coding.to_owned(), body),
            };
            if let Ok(value) = HeaderValue::from_str(&sent_as) {
                response.headers_mut().insert("content-encoding", value);
            }
            encoded
        }
    };
    *response.body_mut() = Full::new(Bytes::from(body));
    response
}

/// The bytes of a one-chunk `Full` body.
fn full_body_bytes(body: Full<Bytes>) -> Vec<u8> {
    use hyper::body::Body as _;
    let mut body = std::pin::pin!(body);
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match body.as_mut().poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().map(|d| d.to_vec()).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Adds the headers every Stripe response carries and builds the hyper response.
fn finish_response(request: &ApiRequest, request_id: &str, reply: Reply) -> Response<Full<Bytes>> {
    let version = request
        .header("stripe-version")
        .unwrap_or(DEFAULT_STRIPE_VERSION)
        .to_owned();
    let mut headers: Vec<(&str, String)> = vec![
        ("content-type", "application/json".to_owned()),
        ("request-id", request_id.to_owned()),
        ("stripe-version", version),
        ("cache-control", "no-cache, no-store".to_owned()),
    ];
    if request.method == Method::POST {
        if let Some(key) = request.header("idempotency-key") {
            headers.push(("idempotency-key", key.to_owned()));
        }
        let original = reply.original_request.clone().unwrap_or_else(|| request_id.to_owned());
        headers.push(("original-request", original));
        if reply.replayed {
            headers.push(("idempotent-replayed", "true".to_owned()));
        }
    }
    headers.extend(reply.headers);

    let mut response = Response::new(Full::new(reply.body));
    *response.status_mut() = reply.status;
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(HeaderName::from_static(name), value);
        }
    }
    response
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A Stripe-style API error; renders the `{"error": {...}}` envelope.
#[derive(Debug, Clone)]
struct ApiError {
    status: StatusCode,
    /// The envelope's `type` (`invalid_request_error`, `card_error`, ...).
    kind: &'static str,
    code: Option<&'static str>,
    message: Box<str>,
    param: Option<Box<str>>,
    /// Further envelope fields (e.g. `payment_intent`).
    extra: Vec<(&'static str, Value)>,
    /// Extra response headers.
    headers: Vec<(&'static str, String)>,
    /// Whether an idempotent request's result should be remembered: true for
    /// errors raised while executing, false for parameter validation.
    remembered: bool,
}

impl ApiError {
    /// A bare error with a status, type and message.
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            message: message.into().into_boxed_str(),
            param: None,
            extra: Vec::new(),
            headers: Vec::new(),
            remembered: false,
        }
    }

    /// A 400 `invalid_request_error`.
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// Sets the error code (the `doc_url` is derived from it).
    fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// Sets the offending parameter.
    fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into().into_boxed_str());
        self
    }

    /// Adds an envelope field.
    fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.push((key, value));
        self
    }

    /// Adds a response header.
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Marks the error as a result of execution, kept for idempotent replays.
    fn remembered(mut self) -> Self {
        self.remembered = true;
        self
    }

    fn missing_param(param: &str) -> Self {
        Self::invalid(format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    fn unknown_param(param: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {param}"))
            .code("parameter_unknown")
            .param(param)
    }

    fn invalid_integer(param: &str, raw: &str) -> Self {
        Self::invalid(format!("Invalid integer: {raw}"))
            .code("parameter_invalid_integer")
            .param(param)
    }

    fn invalid_search_query(param: &str) -> Self {
        Self::invalid("Provide a query parameter with a valid search query string.")
            .code("parameter_invalid_string")
            .param(param)
    }

    fn no_such_intent(id: &str, param: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such payment_intent: '{id}'"),
        )
        .code("resource_missing")
        .param(param)
    }

    /// `payment_intent_unexpected_state`, carrying the intent as Stripe does.
    fn unexpected_state(message: String, intent: &PaymentIntent) -> Self {
        Self::invalid(message)
            .code("payment_intent_unexpected_state")
            .with("payment_intent", intent.to_json())
            .remembered()
    }

    fn unrecognized_url(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        )
        .header("www-authenticate", "Basic realm=\"Stripe\"")
    }

    fn invalid_api_key(key: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            format!("Invalid API Key provided: {}", mask_key(key)),
        )
        .header("www-authenticate", "Bearer realm=\"Stripe\"")
    }

    fn simulated_failure() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "api_error", "Simulated failure")
            .header("stripe-should-retry", "true")
    }

    /// The `{"error": {...}}` body, keys in alphabetical order as Stripe sends them.
    fn body(&self) -> Value {
        let mut fields: Vec<(&str, Value)> = vec![
            ("message", Value::from(&*self.message)),
            ("type", Value::from(self.kind)),
        ];
        if let Some(code) = self.code {
            fields.push(("code", Value::from(code)));
            let doc_url = format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"));
            fields.push(("doc_url", Value::from(doc_url)));
        }
        if let Some(param) = &self.param {
            fields.push(("param", Value::from(&**param)));
        }
        fields.extend(self.extra.iter().cloned());
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let error: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        json!({ "error": error })
    }

    /// Renders the error as a reply.
    fn into_reply(self) -> Reply {
        Reply {
            status: self.status,
            body: json_bytes(&self.body()),
            headers: self.headers,
            original_request: None,
            replayed: false,
        }
    }
}

/// Masks an API key as Stripe does: first 8 and last 4 characters kept.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return key.to_owned();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

// ---------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------

/// Accepts `Bearer sk_test_…`/`rk_test_…` or Basic auth with the key as user name.
fn authenticate(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Err(ApiError::missing_api_key());
    };
    let value = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    let (scheme, credentials) = value.split_once(' ').unwrap_or((value.as_str(), ""));
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials.trim())
            .map_err(|_| ApiError::invalid_api_key(credentials.trim()))?;
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        decoded.split(':').next().unwrap_or_default().to_owned()
    } else {
        value.clone()
    };
    if key.is_empty() {
        return Err(ApiError::missing_api_key());
    }
    let valid = ["sk_test_", "rk_test_"]
        .iter()
        .any(|prefix| key.len() > prefix.len() && key.starts_with(prefix));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key(&key))
    }
}

// ---------------------------------------------------------------------------
// Parameter decoding
// ---------------------------------------------------------------------------

/// Decodes a request's parameters: the query string plus, for form bodies, the
/// body; or the query string plus a JSON object body.
fn decode_request(req: &ApiRequest) -> Result<Map<String, Value>, ApiError> {
    let query = req.query.as_deref().unwrap_or_default().as_bytes();
    let is_json = req
        .header("content-type")
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    if is_json && !req.body.is_empty() {
        let mut params = decode_form(query)?;
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Object(body)) => params.extend(body),
            _ => {
                return Err(ApiError::invalid(
                    "Invalid request: the JSON body could not be parsed as an object.",
                ))
            }
        }
        return Ok(params);
    }
    let mut joined = query.to_vec();
    if !req.body.is_empty() {
        if !joined.is_empty() {
            joined.push(b'&');
        }
        joined.extend_from_slice(&req.body);
    }
    decode_form(&joined)
}

/// Decodes `application/x-www-form-urlencoded` data with Stripe's bracket
/// notation (`a[b][c]=x`, `a[]=x`, `a[0]=x`) into a JSON object whose leaves
/// are strings.
fn decode_form(input: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let mut root = Map::new();
    for (key, value) in form_urlencoded::parse(input) {
        let (name, segments) = split_key(&key);
        insert_path(&mut root, name, &segments, value.into_owned());
    }
    let mut out = Map::new();
    for (name, value) in root {
        let value = arrayify(value, &name, &name)?;
        out.insert(name, value);
    }
    Ok(out)
}

/// Splits `a[b][]` into `("a", ["b", ""])`; malformed keys are kept whole.
fn split_key(key: &str) -> (String, Vec<String>) {
    let whole = || (key.to_owned(), Vec::new());
    let Some(open) = key.find('[') else {
        return whole();
    };
    if open == 0 {
        return whole();
    }
    let mut segments = Vec::new();
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return whole();
        };
        segments.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    if !rest.is_empty() {
        return whole();
    }
    (key[..open].to_owned(), segments)
}

/// Inserts `value` at `name[segments...]`; `[]` appends a new element.
fn insert_path(map: &mut Map<String, Value>, name: String, segments: &[String], value: String) {
    let Some((first, rest)) = segments.split_first() else {
        map.insert(name, Value::String(value));
        return;
    };
    let slot = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(child) = slot {
        let key = if first.is_empty() {
            child.len().to_string()
        } else {
            first.clone()
        };
        insert_path(child, key, rest, value);
    }
}

/// Turns objects whose keys are all indices into arrays (except under
/// `metadata`, whose keys are free-form). Indices must run from 0 without gaps.
fn arrayify(value: Value, name: &str, path: &str) -> Result<Value, ApiError> {
    let Value::Object(map) = value else {
        return Ok(value);
    };
    let mut children = Map::new();
    for (key, child) in map {
        let child_path = format!("{path}[{key}]");
        let child = arrayify(child, &key, &child_path)?;
        children.insert(key, child);
    }
    let numeric = !children.is_empty()
        && name != "metadata"
        && children
            .keys()
            .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Ok(Value::Object(children));
    }
    let mut indexed: Vec<(usize, Value)> = Vec::new();
    for (key, child) in children {
        let index = key.parse::<usize>().unwrap_or(usize::MAX);
        indexed.push((index, child));
    }
    indexed.sort_by_key(|(index, _)| *index);
    let expected = indexed
        .iter()
        .enumerate()
        .find(|(position, (index, _))| position != index)
        .map(|(position, _)| position);
    if let Some(expected) = expected {
        let passed: Vec<String> = indexed.iter().map(|(i, _)| i.to_string()).collect();
        return Err(ApiError::invalid(format!(
            "If passing an array with explicit keys (e.g. foo[0]=a&foo[1]=b) instead of as an array (e.g. foo[]=a&foo[]=b), the keys must be numeric and sequential starting from 0. You passed the keys `{}`, we expected to have a key with the value `{expected}`.",
            passed.join(", ")
        ))
        .param(path));
    }
    Ok(Value::Array(indexed.into_iter().map(|(_, v)| v).collect()))
}

/// Typed, validating access to decoded parameters (or a nested hash of them).
#[derive(Clone)]
struct Params<'a> {
    map: &'a Map<String, Value>,
    /// Name of the enclosing hash, e.g. `shipping[address]`, for error messages.
    prefix: Option<String>,
}

/// Renders a scalar parameter value as text (strings, numbers, booleans).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Params<'a> {
    /// Top-level parameters.
    fn new(map: &'a Map<String, Value>) -> Self {
        Self { map, prefix: None }
    }

    /// The full name of a parameter, e.g. `shipping[name]`.
    fn name(&self, key: &str) -> String {
        match &self.prefix {
            Some(prefix) => format!("{prefix}[{key}]"),
            None => key.to_owned(),
        }
    }

    /// Rejects the first parameter not in `allowed`.
    fn check_known(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(unknown) => Err(ApiError::unknown_param(&self.name(unknown))),
            None => Ok(()),
        }
    }

    /// A string parameter (empty strings are returned as such).
    fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => scalar_text(value).map(Some).ok_or_else(|| {
                ApiError::invalid(format!("Invalid string: {value}"))
                    .code("parameter_invalid_string")
                    .param(self.name(key))
            }),
        }
    }

    /// A string that may be unset with an empty value: `Some(None)` means "clear".
    fn nullable_text(&self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        if matches!(self.map.get(key), Some(Value::Null)) {
            return Ok(Some(None));
        }
        Ok(self.text(key)?.map(|s| if s.is_empty() { None } else { Some(s) }))
    }

    /// A non-empty string, or `None` when absent or empty.
    fn non_empty_text(&self, key: &str) -> Result<Option<String>, ApiError> {
        Ok(self.nullable_text(key)?.flatten())
    }

    /// An integer parameter; empty values count as absent.
    fn integer(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.non_empty_text(key)? else {
            return Ok(None);
        };
        raw.trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid_integer(&self.name(key), &raw))
    }

    /// A boolean parameter (`true`/`false`).
    fn boolean(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.non_empty_text(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(format!("Invalid boolean: {other}")).param(self.name(key))),
        }
    }

    /// A hash parameter: `Some(None)` when given as an empty string ("clear").
    fn hash(&self, key: &str) -> Result<Option<Option<Params<'a>>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
            Some(Value::Object(map)) => Ok(Some(Some(Params {
                map,
                prefix: Some(self.name(key)),
            }))),
            Some(_) => Err(ApiError::invalid("Invalid hash").param(self.name(key))),
        }
    }

    /// A list of strings; an empty value means the empty list.
    fn text_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    scalar_text(item)
                        .ok_or_else(|| ApiError::invalid(format!("Invalid string: {item}")).param(self.name(key)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid("Invalid array").param(self.name(key))),
        }
    }
}

// ---------------------------------------------------------------------------
// Ids and time
// ---------------------------------------------------------------------------

/// Random (or seeded) generator of object ids, secrets and request ids.
///
/// Request ids use their own stream so that object ids only depend on the
/// objects created, not on how many requests (retries, reads) happened.
struct IdGen {
    objects: StdRng,
    requests: StdRng,
}

impl IdGen {
    fn new(seed: Option<u64>) -> Self {
        match seed {
            Some(seed) => Self {
                objects: StdRng::seed_from_u64(seed),
                requests: StdRng::seed_from_u64(seed ^ 0x5eed_5eed_5eed_5eed),
            },
            None => Self {
                objects: StdRng::from_os_rng(),
                requests: StdRng::from_os_rng(),
            },
        }
    }

    fn alphanumeric(rng: &mut StdRng, len: usize) -> String {
        (0..len)
            .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
            .collect()
    }

    /// An object id such as `pi_` + 24 alphanumerics.
    fn object_id(&mut self, prefix: &str) -> String {
        format!("{prefix}_{}", Self::alphanumeric(&mut self.objects, 24))
    }

    /// A PaymentIntent client secret.
    fn client_secret(&mut self, intent_id: &str) -> String {
        format!("{intent_id}_secret_{}", Self::alphanumeric(&mut self.objects, 25))
    }

    /// A `Request-Id` value.
    fn request_id(&mut self) -> String {
        format!("req_{}", Self::alphanumeric(&mut self.requests, 14))
    }
}

/// Wall clock, or a fixed clock that ticks once per created object.
enum Clock {
    Real,
    Fixed { now: i64 },
}

impl Clock {
    fn new(seed: Option<u64>) -> Self {
        match seed {
            Some(_) => Clock::Fixed { now: SEEDED_EPOCH },
            None => Clock::Real,
        }
    }

    /// The current Unix time.
    fn now(&self) -> i64 {
        match self {
            Clock::Fixed { now } => *now,
            Clock::Real => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// The creation time of a new object (advances the fixed clock).
    fn stamp(&mut self) -> i64 {
        let now = self.now();
        if let Clock::Fixed { now } = self {
            *now += 1;
        }
        now
    }
}

// ---------------------------------------------------------------------------
// PaymentIntent model
// ---------------------------------------------------------------------------

/// Lifecycle states of a PaymentIntent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl Status {
    fn as_str(self) -> &'static str {
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
enum CardOutcome {
    Approve,
    /// Declined with (decline_code, message).
    Decline(&'static str, &'static str),
}

impl CardOutcome {
    /// The outcome for a test token such as `pm_card_chargeDeclined`.
    fn for_token(token: &str) -> Self {
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
struct PaymentIntent {
    id: String,
    amount: i64,
    amount_capturable: i64,
    amount_received: i64,
    application_fee_amount: Option<i64>,
    automatic_payment_methods: Option<Value>,
    canceled_at: Option<i64>,
    cancellation_reason: Option<String>,
    capture_method: String,
    client_secret: String,
    confirmation_method: String,
    created: i64,
    currency: String,
    customer: Option<String>,
    description: Option<String>,
    last_payment_error: Option<Value>,
    latest_charge: Option<String>,
    metadata: Map<String, Value>,
    on_behalf_of: Option<String>,
    payment_method: Option<String>,
    /// How a charge on `payment_method` will go (not rendered).
    card_outcome: CardOutcome,
    /// `pmc_…` id when automatic payment methods are enabled.
    payment_method_configuration: Option<String>,
    payment_method_types: Vec<String>,
    receipt_email: Option<String>,
    setup_future_usage: Option<String>,
    shipping: Option<Value>,
    statement_descriptor: Option<String>,
    statement_descriptor_suffix: Option<String>,
    status: Status,
    transfer_data: Option<Value>,
    transfer_group: Option<String>,
}

impl PaymentIntent {
    /// A new intent in `requires_payment_method`.
    fn new(ids: &mut IdGen, created: i64, amount: i64, currency: String) -> Self {
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
    fn to_json(&self) -> Value {
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
    fn attach_payment_method(&mut self, token: Option<String>, ids: &mut IdGen) {
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
    fn charge(&mut self, ids: &mut IdGen) -> Result<(), ApiError> {
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
fn payment_method_options(types: &[String]) -> Value {
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

// ---------------------------------------------------------------------------
// Validated changes shared by create, update, confirm and capture
// ---------------------------------------------------------------------------

/// A change to `metadata`.
#[derive(Debug, Clone, PartialEq)]
enum MetadataChange {
    /// `metadata=`: remove every key.
    Clear,
    /// Set keys; `None` (an empty value) removes the key.
    Merge(Vec<(String, Option<String>)>),
}

/// Field changes parsed and validated from parameters, applied only once the
/// whole request is known to be valid. `Some(None)` clears a nullable field.
#[derive(Debug, Default)]
struct Changes {
    amount: Option<i64>,
    currency: Option<String>,
    application_fee_amount: Option<Option<i64>>,
    capture_method: Option<String>,
    customer: Option<Option<String>>,
    description: Option<Option<String>>,
    metadata: Option<MetadataChange>,
    on_behalf_of: Option<Option<String>>,
    payment_method: Option<Option<String>>,
    payment_method_types: Option<Vec<String>>,
    receipt_email: Option<Option<String>>,
    setup_future_usage: Option<Option<String>>,
    shipping: Option<Option<Value>>,
    statement_descriptor: Option<Option<String>>,
    statement_descriptor_suffix: Option<Option<String>>,
    transfer_data: Option<Option<Value>>,
    transfer_group: Option<Option<String>>,
}

impl Changes {
    /// Parses every field this server models (callers first restrict the
    /// parameter names to what their endpoint allows).
    fn parse(p: &Params) -> Result<Self, ApiError> {
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
    fn touches_payment(&self) -> bool {
        self.amount.is_some()
            || self.currency.is_some()
            || self.payment_method.is_some()
            || self.payment_method_types.is_some()
            || self.capture_method.is_some()
    }

    /// Applies the changes to an intent.
    fn apply(self, pi: &mut PaymentIntent, ids: &mut IdGen) {
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

/// Parses a string that must be one of `allowed`.
fn parse_enum(p: &Params, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match p.non_empty_text(key)? {
        Some(value) if !allowed.contains(&value.as_str()) => {
            Err(ApiError::invalid(format!("Invalid {key}: must be one of {}", allowed.join(", "))).param(p.name(key)))
        }
        other => Ok(other),
    }
}

/// Parses `metadata` (a hash of strings, or empty to clear).
fn parse_metadata(p: &Params) -> Result<Option<MetadataChange>, ApiError> {
    let Some(hash) = p.hash("metadata")? else {
        return Ok(None);
    };
    let Some(hash) = hash else {
        return Ok(Some(MetadataChange::Clear));
    };
    let mut entries = Vec::new();
    for key in hash.map.keys() {
        let value = hash.nullable_text(key)?.flatten();
        entries.push((key.clone(), value));
    }
    Ok(Some(MetadataChange::Merge(entries)))
}

/// Applies a metadata change, keeping key order.
fn apply_metadata(metadata: &mut Map<String, Value>, change: MetadataChange) {
    match change {
        MetadataChange::Clear => metadata.clear(),
        MetadataChange::Merge(entries) => {
            for (key, value) in entries {
                match value {
                    Some(value) => {
                        metadata.insert(key, Value::String(value));
                    }
                    None => {
                        metadata.shift_remove(&key);
                    }
                }
            }
        }
    }
}

/// Parses `payment_method_types`, checking each type is known.
fn parse_payment_method_types(p: &Params) -> Result<Option<Vec<String>>, ApiError> {
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
fn parse_shipping(p: &Params) -> Result<Option<Option<Value>>, ApiError> {
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

/// Parses `limit` (1..=100, default 10).
fn parse_limit(p: &Params) -> Result<usize, ApiError> {
    let limit = p.integer("limit")?.unwrap_or(10);
    let bound_error = |message: &str| {
        ApiError::invalid(message)
            .code("parameter_invalid_integer")
            .param("limit")
    };
    if limit < 1 {
        return Err(bound_error("This value must be greater than or equal to 1."));
    }
    if limit > 100 {
        return Err(bound_error("This value must be less than or equal to 100."));
    }
    Ok(usize::try_from(limit).unwrap_or(10))
}

/// A `created` filter: exact value or `gt`/`gte`/`lt`/`lte` bounds.
#[derive(Debug, Default, Clone, Copy)]
struct RangeFilter {
    eq: Option<i64>,
    gt: Option<i64>,
    gte: Option<i64>,
    lt: Option<i64>,
    lte: Option<i64>,
}

impl RangeFilter {
    /// Parses `key=N` or `key[gte]=N` etc.
    fn parse(p: &Params, key: &'static str) -> Result<Self, ApiError> {
        if let Some(Some(bounds)) = p.hash(key)? {
            bounds.check_known(&["gt", "gte", "lt", "lte"])?;
            return Ok(Self {
                eq: None,
                gt: bounds.integer("gt")?,
                gte: bounds.integer("gte")?,
                lt: bounds.integer("lt")?,
                lte: bounds.integer("lte")?,
            });
        }
        Ok(Self {
            eq: p.integer(key)?,
            ..Self::default()
        })
    }

    fn contains(&self, value: i64) -> bool {
        self.eq.is_none_or(|v| value == v)
            && self.gt.is_none_or(|v| value > v)
            && self.gte.is_none_or(|v| value >= v)
            && self.lt.is_none_or(|v| value < v)
            && self.lte.is_none_or(|v| value <= v)
    }
}

// ---------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------

/// Where a page starts relative to a cursor object (by insertion index).
enum Anchor {
    Newest,
    After(usize),
    Before(usize),
}

/// In-memory PaymentIntents, in insertion (creation) order.
#[derive(Default)]
struct Store {
    intents: Vec<PaymentIntent>,
    index: HashMap<String, usize>,
}

impl Store {
    fn insert(&mut self, intent: PaymentIntent) {
        self.index.insert(intent.id.clone(), self.intents.len());
        self.intents.push(intent);
    }

    /// Insertion index of an id.
    fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    fn get(&self, id: &str) -> Result<&PaymentIntent, ApiError> {
        self.position(id)
            .and_then(|i| self.intents.get(i))
            .ok_or_else(|| ApiError::no_such_intent(id, "intent"))
    }

    fn get_mut(&mut self, id: &str) -> Result<&mut PaymentIntent, ApiError> {
        self.position(id)
            .and_then(|i| self.intents.get_mut(i))
            .ok_or_else(|| ApiError::no_such_intent(id, "intent"))
    }

    /// One page, newest first, of intents satisfying `keep`; plus `has_more`.
    fn page(&self, keep: impl Fn(&PaymentIntent) -> bool, limit: usize, anchor: Anchor) -> (Vec<&PaymentIntent>, bool) {
        let mut items: Vec<&PaymentIntent> = match anchor {
            Anchor::Newest => self
                .intents
                .iter()
                .rev()
                .filter(|pi| keep(pi))
                .take(limit + 1)
                .collect(),
            Anchor::After(i) => self.intents[..i]
                .iter()
                .rev()
                .filter(|pi| keep(pi))
                .take(limit + 1)
                .collect(),
            Anchor::Before(i) => self.intents[i + 1..]
                .iter()
                .filter(|pi| keep(pi))
                .take(limit + 1)
                .collect(),
        };
        let has_more = items.len() > limit;
        items.truncate(limit);
        if matches!(anchor, Anchor::Before(_)) {
            items.reverse();
        }
        (items, has_more)
    }
}

// ---------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------

/// The remembered outcome of an idempotent request.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    params: Map<String, Value>,
    status: StatusCode,
    body: Bytes,
    request_id: String,
}

/// Result of looking up an `Idempotency-Key`.
#[derive(Debug)]
enum Lookup<'a> {
    /// Never seen: execute the request.
    Fresh,
    /// Seen with the same request: replay this.
    Replay(&'a Recorded),
    /// Seen with a different request.
    Mismatch(ApiError),
}

/// Outcomes of POST requests by `Idempotency-Key`.
#[derive(Default)]
struct IdempotencyCache {
    entries: HashMap<String, Recorded>,
}

impl IdempotencyCache {
    fn lookup(&self, key: &str, path: &str, params: &Map<String, Value>) -> Lookup<'_> {
        let Some(recorded) = self.entries.get(key) else {
            return Lookup::Fresh;
        };
        if recorded.path != path {
            return Lookup::Mismatch(ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                format!(
                    "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{}' vs '{path}'). Try using a key other than '{key}' if you meant to execute a different request.",
                    recorded.path
                ),
            ));
        }
        if &recorded.params != params {
            return Lookup::Mismatch(ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_error",
                format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ),
            ));
        }
        Lookup::Replay(recorded)
    }

    fn record(&mut self, key: &str, recorded: Recorded) {
        self.entries.insert(key.to_owned(), recorded);
    }
}

// ---------------------------------------------------------------------------
// Routing and the API
// ---------------------------------------------------------------------------

/// The endpoints served.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    List,
    Create,
    Search,
    Retrieve(String),
    Update(String),
    Confirm(String),
    Capture(String),
    Cancel(String),
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Self> {
        let rest = path.trim_end_matches('/').strip_prefix("/v1/payment_intents")?;
        let segments: Vec<String> = rest
            .split('/')
            .skip(1)
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let get = method == Method::GET;
        let post = method == Method::POST;
        match segments.as_slice() {
            [] if get => Some(Route::List),
            [] if post => Some(Route::Create),
            [s] if get && s == "search" => Some(Route::Search),
            [id] if get && !id.is_empty() => Some(Route::Retrieve(id.clone())),
            [id] if post && !id.is_empty() => Some(Route::Update(id.clone())),
            [id, action] if post && !id.is_empty() => match action.as_str() {
                "confirm" => Some(Route::Confirm(id.clone())),
                "capture" => Some(Route::Capture(id.clone())),
                "cancel" => Some(Route::Cancel(id.clone())),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Everything the server remembers.
struct State {
    store: Store,
    idempotency: IdempotencyCache,
    /// `Standin-Fail-Once` (header or create metadata) tokens already failed.
    failed_tokens: HashSet<String>,
    /// `standin_retry_after_success` tokens already answered once.
    retried_tokens: HashSet<String>,
    ids: IdGen,
    clock: Clock,
}

impl State {
    fn new(seed: Option<u64>) -> Self {
        Self {
            store: Store::default(),
            idempotency: IdempotencyCache::default(),
            failed_tokens: HashSet::new(),
            retried_tokens: HashSet::new(),
            ids: IdGen::new(seed),
            clock: Clock::new(seed),
        }
    }

    /// Handles one request end to end (hooks, auth, idempotency, endpoint).
    fn execute(&mut self, req: &ApiRequest, request_id: &str) -> Reply {
        match self.try_execute(req, request_id) {
            Ok(reply) => reply,
            Err(error) => error.into_reply(),
        }
    }

    fn try_execute(&mut self, req: &ApiRequest, request_id: &str) -> Result<Reply, ApiError> {
        if let Some(token) = req.header(FAIL_ONCE_HEADER) {
            if self.failed_tokens.insert(token.to_owned()) {
                return Err(ApiError::simulated_failure());
            }
        }
        authenticate(&req.headers)?;
        let route =
            Route::parse(&req.method, &req.path).ok_or_else(|| ApiError::unrecognized_url(&req.method, &req.path))?;
        let params = decode_request(req)?;
        let retry_after_success = match route {
            Route::Create => params
                .get("metadata")
                .and_then(|m| m.get(RETRY_AFTER_SUCCESS_METADATA))
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        if route == Route::Create {
            let token = params
                .get("metadata")
                .and_then(|m| m.get(FAIL_ONCE_METADATA))
                .and_then(Value::as_str);
            if let Some(token) = token {
                if self.failed_tokens.insert(token.to_owned()) {
                    return Err(ApiError::simulated_failure());
                }
            }
        }
        let idempotency_key = match req.method {
            Method::POST => req.header("idempotency-key").filter(|k| !k.is_empty()),
            _ => None,
        };
        if let Some(key) = idempotency_key {
            match self.idempotency.lookup(key, &req.path, &params) {
                Lookup::Replay(recorded) => {
                    return Ok(Reply {
                        status: recorded.status,
                        body: recorded.body.clone(),
                        headers: Vec::new(),
                        original_request: Some(recorded.request_id.clone()),
                        replayed: true,
                    })
                }
                Lookup::Mismatch(error) => return Err(error),
                Lookup::Fresh => {}
            }
        }
        let outcome = self.run(route, Params::new(&params));
        let remember = outcome.as_ref().map_or_else(|e| e.remembered, |_| true);
        let mut reply = match outcome {
            Ok(body) => Reply::ok(&body),
            Err(error) => error.into_reply(),
        };
        if let Some(token) = retry_after_success.filter(|_| reply.status == StatusCode::OK) {
            if self.retried_tokens.insert(token) {
                reply.headers.push(("stripe-should-retry", "true".to_owned()));
            }
        }
        if let (Some(key), true) = (idempotency_key, remember) {
            self.idempotency.record(
                key,
                Recorded {
                    path: req.path.clone(),
                    params,
                    status: reply.status,
                    body: reply.body.clone(),
                    request_id: request_id.to_owned(),
                },
            );
        }
        Ok(reply)
    }

    /// Dispatches to the endpoint.
    fn run(&mut self, route: Route, p: Params) -> Result<Value, ApiError> {
        match route {
            Route::List => self.list(p),
            Route::Create => self.create(p),
            Route::Search => self.search(p),
            Route::Retrieve(id) => self.retrieve(&id, p),
            Route::Update(id) => self.update(&id, p),
            Route::Confirm(id) => self.confirm(&id, p),
            Route::Capture(id) => self.capture(&id, p),
            Route::Cancel(id) => self.cancel(&id, p),
        }
    }

    /// `POST /v1/payment_intents`.
    fn create(&mut self, p: Params) -> Result<Value, ApiError> {
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
        changes.apply(&mut pi, &mut self.ids);
        let charged = if confirm { pi.charge(&mut self.ids) } else { Ok(()) };
        let body = pi.to_json();
        self.store.insert(pi);
        charged.map(|()| body)
    }

    /// `GET /v1/payment_intents/{id}`.
    fn retrieve(&self, id: &str, p: Params) -> Result<Value, ApiError> {
        p.check_known(RETRIEVE_PARAMS)?;
        Ok(self.store.get(id)?.to_json())
    }

    /// `POST /v1/payment_intents/{id}`.
    fn update(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
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
        changes.apply(pi, &mut self.ids);
        Ok(pi.to_json())
    }

    /// `POST /v1/payment_intents/{id}/confirm`.
    fn confirm(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
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
        changes.apply(pi, &mut self.ids);
        pi.charge(&mut self.ids)?;
        Ok(pi.to_json())
    }

    /// `POST /v1/payment_intents/{id}/capture`.
    fn capture(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
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
        Ok(pi.to_json())
    }

    /// `POST /v1/payment_intents/{id}/cancel`.
    fn cancel(&mut self, id: &str, p: Params) -> Result<Value, ApiError> {
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
        Ok(pi.to_json())
    }

    /// `GET /v1/payment_intents`.
    fn list(&self, p: Params) -> Result<Value, ApiError> {
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
    fn search(&self, p: Params) -> Result<Value, ApiError> {
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
    fn cursor(&self, id: &str, param: &str) -> Result<usize, ApiError> {
        self.store
            .position(id)
            .ok_or_else(|| ApiError::no_such_intent(id, param))
    }
}

/// Stripe's error for confirming without a payment method.
fn missing_payment_method_error() -> ApiError {
    ApiError::invalid(
        "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
    )
    .code("payment_intent_unexpected_state")
}

/// Parses `automatic_payment_methods[enabled]` / `[allow_redirects]`.
fn parse_automatic_payment_methods(p: &Params) -> Result<Option<Value>, ApiError> {
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
fn encode_page_cursor(id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

/// The intent id inside a search page cursor.
fn decode_page_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("after:").map(str::to_owned)
}

// ---------------------------------------------------------------------------
// Search query language (subset)
// ---------------------------------------------------------------------------

/// A searchable field of a PaymentIntent.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Amount,
    Created,
    Currency,
    Customer,
    Status,
    Metadata(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The compared value: numeric fields hold a number.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Number(i64),
    Text(String),
}

/// One `field op value` clause, optionally negated with `-`.
#[derive(Debug, Clone, PartialEq)]
struct Clause {
    negated: bool,
    field: Field,
    op: Op,
    value: Operand,
}

/// A parsed query: clauses joined all by AND or all by OR.
#[derive(Debug, Clone, PartialEq)]
struct SearchQuery {
    clauses: Vec<Clause>,
    any: bool,
}

/// Why a query could not be parsed.
#[derive(Debug, PartialEq)]
enum QueryError {
    Invalid,
    UnsupportedField(String),
}

impl QueryError {
    fn into_api_error(self) -> ApiError {
        match self {
            QueryError::Invalid => ApiError::invalid_search_query("query"),
            QueryError::UnsupportedField(field) => ApiError::invalid(format!(
                "Field `{field}` is an unsupported search field for resource `payment_intents`. See http://stripe.com/docs/search#query-fields-for-payment-intents for a list of supported fields."
            ))
            .code("parameter_invalid_string")
            .param("query"),
        }
    }
}

/// A character cursor over the query text.
struct Lexer<'a> {
    rest: &'a str,
}

impl<'a> Lexer<'a> {
    /// Skips whitespace; true if any was skipped.
    fn skip_ws(&mut self) -> bool {
        let trimmed = self.rest.trim_start();
        let skipped = trimmed.len() != self.rest.len();
        self.rest = trimmed;
        skipped
    }

    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// Consumes a keyword (`AND`/`OR`) followed by whitespace.
    fn eat_keyword(&mut self, word: &str) -> bool {
        let followed_by_space = self
            .rest
            .strip_prefix(word)
            .is_some_and(|r| r.starts_with(char::is_whitespace));
        if followed_by_space {
            self.rest = &self.rest[word.len()..];
        }
        followed_by_space
    }

    /// A run of `[A-Za-z0-9_.]`.
    fn identifier(&mut self) -> &'a str {
        let end = self
            .rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(self.rest.len());
        let (ident, rest) = self.rest.split_at(end);
        self.rest = rest;
        ident
    }

    /// A `"…"` or `'…'` string with backslash escapes.
    fn quoted(&mut self) -> Result<String, QueryError> {
        let mut chars = self.rest.char_indices();
        let quote = match chars.next() {
            Some((_, q @ ('"' | '\''))) => q,
            _ => return Err(QueryError::Invalid),
        };
        let mut out = String::new();
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                self.rest = &self.rest[i + c.len_utf8()..];
                return Ok(out);
            } else {
                out.push(c);
            }
        }
        Err(QueryError::Invalid)
    }

    /// A quoted string or a bare token up to whitespace.
    fn value(&mut self) -> Result<String, QueryError> {
        if self.rest.starts_with(['"', '\'']) {
            return self.quoted();
        }
        let end = self.rest.find(char::is_whitespace).unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        if token.is_empty() {
            return Err(QueryError::Invalid);
        }
        self.rest = rest;
        Ok(token.to_owned())
    }
}

impl SearchQuery {
    /// Parses e.g. `metadata["order_id"]:"42" AND amount>1000 -status:"canceled"`.
    fn parse(text: &str) -> Result<Self, QueryError> {
        let mut lexer = Lexer { rest: text };
        let mut clauses = Vec::new();
        let mut joins = Vec::new();
        loop {
            let spaced = lexer.skip_ws();
            if lexer.rest.is_empty() {
                break;
            }
            if !clauses.is_empty() {
                if lexer.eat_keyword("AND") {
                    joins.push(false);
                    lexer.skip_ws();
                } else if lexer.eat_keyword("OR") {
                    joins.push(true);
                    lexer.skip_ws();
                } else if spaced {
                    joins.push(false);
                } else {
                    return Err(QueryError::Invalid);
                }
            }
            clauses.push(Self::clause(&mut lexer)?);
        }
        if clauses.is_empty() {
            return Err(QueryError::Invalid);
        }
        let any = joins.first().copied().unwrap_or(false);
        if joins.iter().any(|&j| j != any) {
            return Err(QueryError::Invalid);
        }
        Ok(Self { clauses, any })
    }

    fn clause(lexer: &mut Lexer) -> Result<Clause, QueryError> {
        let negated = lexer.eat("-");
        let name = lexer.identifier();
        let field = match name {
            "" => return Err(QueryError::Invalid),
            "amount" => Some(Field::Amount),
            "created" => Some(Field::Created),
            "currency" => Some(Field::Currency),
            "customer" => Some(Field::Customer),
            "status" => Some(Field::Status),
            "metadata" => {
                if !lexer.eat("[") {
                    return Err(QueryError::Invalid);
                }
                let key = lexer.quoted()?;
                if !lexer.eat("]") {
                    return Err(QueryError::Invalid);
                }
                Some(Field::Metadata(key))
            }
            _ => None,
        };
        let op = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            (">", Op::Gt),
            ("<", Op::Lt),
            (":", Op::Eq),
        ]
        .into_iter()
        .find(|(token, _)| lexer.eat(token))
        .map(|(_, op)| op)
        .ok_or(QueryError::Invalid)?;
        let raw = lexer.value()?;
        // Only a well-formed clause can name an unsupported field.
        let field = field.ok_or_else(|| QueryError::UnsupportedField(name.to_owned()))?;
        let value = match field {
            Field::Amount | Field::Created => Operand::Number(raw.parse().map_err(|_| QueryError::Invalid)?),
            _ if op != Op::Eq => return Err(QueryError::Invalid),
            _ => Operand::Text(raw),
        };
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }

    /// True if the intent satisfies the query.
    fn matches(&self, pi: &PaymentIntent) -> bool {
        let mut results = self.clauses.iter().map(|c| c.matches(pi));
        if self.any {
            results.any(|r| r)
        } else {
            results.all(|r| r)
        }
    }
}

impl Clause {
    fn matches(&self, pi: &PaymentIntent) -> bool {
        let hit = match (&self.field, &self.value) {
            (Field::Amount, Operand::Number(n)) => compare(pi.amount, self.op, *n),
            (Field::Created, Operand::Number(n)) => compare(pi.created, self.op, *n),
            (Field::Currency, Operand::Text(t)) => pi.currency.eq_ignore_ascii_case(t),
            (Field::Customer, Operand::Text(t)) => pi.customer.as_deref() == Some(t.as_str()),
            (Field::Status, Operand::Text(t)) => pi.status.as_str() == t,
            (Field::Metadata(key), Operand::Text(t)) => {
                pi.metadata.get(key).and_then(Value::as_str) == Some(t.as_str())
            }
            _ => false,
        };
        hit != self.negated
    }
}

fn compare(actual: i64, op: Op, expected: i64) -> bool {
    match op {
        Op::Eq => actual == expected,
        Op::Gt => actual > expected,
        Op::Ge => actual >= expected,
        Op::Lt => actual < expected,
        Op::Le => actual <= expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Value {
        Value::Object(decode_form(s.as_bytes()).expect("decodes"))
    }

    #[test]
    fn decodes_nested_hashes_and_arrays() {
        let v = decode(
            "amount=2000&metadata[order_id]=42&shipping%5Baddress%5D%5Bcity%5D=San+Francisco\
             &expand[]=a&expand[]=b&payment_method_types[1]=link&payment_method_types[0]=card\
             &description=hello%20world",
        );
        assert_eq!(
            v,
            json!({
                "amount": "2000",
                "metadata": {"order_id": "42"},
                "shipping": {"address": {"city": "San Francisco"}},
                "expand": ["a", "b"],
                "payment_method_types": ["card", "link"],
                "description": "hello world",
            })
        );
    }

    #[test]
    fn metadata_keys_stay_a_hash_and_gaps_are_rejected() {
        assert_eq!(decode("metadata[0]=x"), json!({"metadata": {"0": "x"}}));
        let err = decode_form(b"expand[1]=a").expect_err("gap");
        assert_eq!(err.param.as_deref(), Some("expand"));
        assert!(err.message.contains("You passed the keys `1`"));
    }

    #[test]
    fn malformed_keys_are_kept_whole() {
        assert_eq!(split_key("a[b"), ("a[b".to_owned(), vec![]));
        assert_eq!(
            split_key("a[b][]"),
            ("a".to_owned(), vec!["b".to_owned(), String::new()])
        );
    }

    fn intent(amount: i64, status: Status, order: &str) -> PaymentIntent {
        let mut ids = IdGen::new(Some(1));
        let mut pi = PaymentIntent::new(&mut ids, 1_767_225_600, amount, "usd".to_owned());
        pi.status = status;
        pi.metadata.insert("order_id".to_owned(), json!(order));
        pi
    }

    #[test]
    fn search_query_matches() {
        let pi = intent(2000, Status::Succeeded, "42");
        let q = |s: &str| SearchQuery::parse(s).expect("parses");
        assert!(q(r#"metadata["order_id"]:"42""#).matches(&pi));
        assert!(q("metadata['order_id']:'42' AND status:\"succeeded\"").matches(&pi));
        assert!(q("amount>1000 currency:\"usd\"").matches(&pi));
        assert!(!q("amount<2000").matches(&pi));
        assert!(q("amount<=2000 AND amount>=2000 AND amount:2000").matches(&pi));
        assert!(!q("-status:\"succeeded\"").matches(&pi));
        assert!(q("status:\"canceled\" OR amount:2000").matches(&pi));
        assert!(!q("customer:\"cus_x\"").matches(&pi));
    }

    #[test]
    fn search_query_rejects_garbage() {
        for bad in [
            "",
            "not a query",
            "garbage",
            "status:",
            "amount>abc",
            "status>\"x\"",
            "a:1 AND b:2 OR c:3",
            "metadata[order]:\"x\"",
            "status:\"x",
        ] {
            assert!(SearchQuery::parse(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(
            SearchQuery::parse("color:\"red\""),
            Err(QueryError::UnsupportedField("color".to_owned()))
        );
    }

    #[test]
    fn idempotency_replays_same_and_rejects_different_params() {
        let mut cache = IdempotencyCache::default();
        let params = decode_form(b"amount=1&currency=usd").expect("decodes");
        assert!(matches!(
            cache.lookup("k", "/v1/payment_intents", &params),
            Lookup::Fresh
        ));
        cache.record(
            "k",
            Recorded {
                path: "/v1/payment_intents".to_owned(),
                params: params.clone(),
                status: StatusCode::OK,
                body: Bytes::from_static(b"{}"),
                request_id: "req_1".to_owned(),
            },
        );
        let reordered = decode_form(b"currency=usd&amount=1").expect("decodes");
        match cache.lookup("k", "/v1/payment_intents", &reordered) {
            Lookup::Replay(r) => assert_eq!(r.request_id, "req_1"),
            other => panic!("expected replay, got {other:?}"),
        }
        let different = decode_form(b"amount=2&currency=usd").expect("decodes");
        match cache.lookup("k", "/v1/payment_intents", &different) {
            Lookup::Mismatch(e) => {
                assert_eq!(e.kind, "idempotency_error");
                assert!(e.message.contains("same parameters"));
            }
            other => panic!("expected mismatch, got {other:?}"),
        }
    }

    #[test]
    fn validation_errors_are_not_remembered_but_state_errors_are() {
        let mut state = State::new(Some(7));
        let request = |path: &str, body: &str, key: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
            headers.insert("idempotency-key", HeaderValue::from_str(key).expect("valid"));
            ApiRequest {
                method: Method::POST,
                path: path.to_owned(),
                query: None,
                headers,
                body: Bytes::from(body.to_owned()),
            }
        };
        let bad = state.execute(&request("/v1/payment_intents", "currency=usd", "a"), "req_1");
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let good = state.execute(&request("/v1/payment_intents", "amount=100&currency=usd", "a"), "req_2");
        assert_eq!(good.status, StatusCode::OK);
        assert!(!good.replayed);
        let again = state.execute(&request("/v1/payment_intents", "amount=100&currency=usd", "a"), "req_3");
        assert!(again.replayed);
        assert_eq!(again.body, good.body);
        assert_eq!(again.original_request.as_deref(), Some("req_2"));
    }

    #[test]
    fn create_with_fail_once_metadata_fails_once_then_succeeds_with_the_same_key() {
        let mut state = State::new(Some(7));
        let request = |body: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
            headers.insert("idempotency-key", HeaderValue::from_static("retry-key"));
            ApiRequest {
                method: Method::POST,
                path: "/v1/payment_intents".to_owned(),
                query: None,
                headers,
                body: Bytes::from(body.to_owned()),
            }
        };
        let body = "amount=100&currency=usd&metadata[standin_fail_once]=t1";
        let failed = state.execute(&request(body), "req_1");
        assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(failed
            .headers
            .iter()
            .any(|(name, value)| *name == "stripe-should-retry" && value == "true"));
        let error: Value = serde_json::from_slice(&failed.body).expect("JSON");
        assert_eq!(
            error,
            json!({"error": {"message": "Simulated failure", "type": "api_error"}})
        );
        // The retry (same key, same parameters) runs for real, once.
        let retried = state.execute(&request(body), "req_2");
        assert_eq!(retried.status, StatusCode::OK);
        assert!(!retried.replayed);
        let intent: Value = serde_json::from_slice(&retried.body).expect("JSON");
        assert_eq!(intent["metadata"]["standin_fail_once"], "t1");
        let again = state.execute(&request(body), "req_3");
        assert!(again.replayed);
        // A seen token no longer fails, even under a new key; a new token does.
        let mut other = request(body);
        other
            .headers
            .insert("idempotency-key", HeaderValue::from_static("other-key"));
        assert_eq!(state.execute(&other, "req_4").status, StatusCode::OK);
        let fresh = state.execute(
            &request("amount=100&currency=usd&metadata[standin_fail_once]=t2"),
            "req_5",
        );
        assert_eq!(fresh.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn fail_once_metadata_only_applies_to_create() {
        let mut state = State::new(Some(7));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer sk_test_123"));
        let created = state.execute(
            &ApiRequest {
                method: Method::POST,
                path: "/v1/payment_intents".to_owned(),
                query: None,
                headers: headers.clone(),
                body: Bytes::from_static(b"amount=100&currency=usd"),
            },
            "req_1",
        );
        let id = serde_json::from_slice::<Value>(&created.body).expect("JSON")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let update = state.execute(
            &ApiRequest {
                method: Method::POST,
                path: format!("/v1/payment_intents/{id}"),
                query: None,
                headers,
                body: Bytes::from_static(b"metadata[standin_fail_once]=t1"),
            },
            "req_2",
        );
        assert_eq!(update.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn generated_chain_verifies_against_the_ca_for_ip_and_localhost() {
        let material = TlsMaterial::generate().expect("generates");
        let acceptor = TlsAcceptor::from(Arc::new(material.server_config()));
        let mut roots = rustls::RootCertStore::empty();
        let ca = material.chain.last().expect("chain has the CA").clone();
        roots.add(ca).expect("CA is a valid root");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        for host in ["127.0.0.1", "localhost"] {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let name = rustls::pki_types::ServerName::try_from(host).expect("name");
            let (client_side, server_side) =
                tokio::join!(connector.connect(name, client_io), acceptor.accept(server_io));
            let client_side = client_side.expect("client accepts the chain");
            server_side.expect("server handshake");
            assert_eq!(client_side.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        }
    }

    #[test]
    fn masks_api_keys() {
        assert_eq!(mask_key("sk_live_abcdefghijkl1234"), "sk_live_************1234");
    }
}
