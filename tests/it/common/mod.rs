//! Shared test harness: the stand-in upstream as a real child process, the
//! proxy in-process on an ephemeral port, and clients for each way an app
//! connects (direct HTTPS, CONNECT, plain HTTP). Only 127.0.0.1 is used.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use stripe_vcr::config::{Config, ModeConfig, UpstreamConfig};
use stripe_vcr::server::{self, RunningProxy};

/// A secret key used while recording; must never reach a cassette.
pub const RECORD_KEY: &str = "sk_test_51RecordOnlySecretKey0123456789abcdef";
/// A different key used while replaying (replay accepts any key).
pub const REPLAY_KEY: &str = "sk_test_ReplayKeyThatWasNeverRecorded";
/// The API version the flows pin, as the SDKs do.
pub const STRIPE_VERSION: &str = "2026-07-29.dahlia";

/// The stand-in's binary. It is a workspace member of its own (`standin/`),
/// not one of the product's binaries: `cargo test` in the workspace builds it
/// beside these tests. When it is missing or older than its sources (a run
/// of one test target, `cargo test --test …`), it is built here, once.
pub fn standin_binary() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        // target/<profile>/deps/<this test> → target/<profile>/stripe-vcr-standin
        let exe = std::env::current_exe().expect("test executable");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
        let binary = profile_dir.join("stripe-vcr-standin");
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("standin");
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let newest_source = ["src/main.rs", "Cargo.toml"]
            .iter()
            .filter_map(|f| modified(&sources.join(f)))
            .max();
        if modified(&binary).is_none() || modified(&binary) < newest_source {
            let mut build = Command::new(env!("CARGO"));
            build
                .args(["build", "--quiet", "-p", "stripe-vcr-standin"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if !cfg!(debug_assertions) {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build -p stripe-vcr-standin");
            assert!(status.success(), "cargo build -p stripe-vcr-standin failed");
        }
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// The stand-in "Stripe" server, run as its own process.
pub struct Standin {
    child: Child,
    pub url: String,
    pub ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Standin {
    /// Starts a stand-in with random ids and the real clock.
    pub fn start() -> Standin {
        Standin::spawn(&[])
    }

    /// Starts a deterministic stand-in (seeded ids, fixed clock).
    pub fn start_seeded(seed: u64) -> Standin {
        Standin::spawn(&["--seed", &seed.to_string()])
    }

    /// Starts a deterministic stand-in speaking the JSON gateway dialect of
    /// `shared/seeds/002_*.txt` (`--dialect gateway-002`).
    pub fn start_gateway(seed: u64) -> Standin {
        Standin::spawn(&["--seed", &seed.to_string(), "--dialect", "gateway-002"])
    }

    fn spawn(extra: &[&str]) -> Standin {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("standin-ca.pem");
        let mut child = Command::new(standin_binary())
            .args(["--listen", "127.0.0.1:0", "--cert-out"])
            .arg(&ca)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn stand-in");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stand-in banner");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected stand-in output: {line:?}"))
            .to_owned();
        Standin {
            child,
            url,
            ca,
            _dir: dir,
        }
    }

    /// Stops the process and waits for it, so its port refuses connections.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request example of the JSON gateway's page (`shared/seeds/002_*.txt`),
/// verbatim: `schema/gateway-002-example.json`.
pub fn gateway_example() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/gateway-002-example.json");
    serde_json::from_slice(&std::fs::read(path).expect("read the gateway example")).expect("the example is JSON")
}

/// A scratch directory with `cassettes/` and `certs/` inside.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }
    pub fn cassettes(&self) -> PathBuf {
        self.dir.path().join("cassettes")
    }
    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }
    pub fn ca(&self) -> PathBuf {
        self.certs().join("ca.pem")
    }
    /// Names of the cassette files, sorted.
    pub fn cassette_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.cassettes())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
    /// Every byte of every file in the cassette directory, as text.
    pub fn all_cassette_text(&self) -> String {
        self.cassette_files()
            .iter()
            .map(|n| std::fs::read_to_string(self.cassettes().join(n)).expect("read cassette"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn record_config(ws: &Workspace, standin: &Standin) -> Config {
    Config {
        mode: ModeConfig::record(UpstreamConfig {
            url: standin.url.clone(),
            ca: Some(standin.ca.clone()),
            timeout: Duration::from_secs(10),
            allow_live_keys: false,
        }),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    }
}

pub fn replay_config(ws: &Workspace) -> Config {
    Config {
        mode: ModeConfig::replay(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        cassettes: ws.cassettes(),
        certs: ws.certs(),
        ..Config::default()
    }
}

pub async fn start_record(ws: &Workspace, standin: &Standin) -> RunningProxy {
    server::start(record_config(ws, standin))
        .await
        .expect("record proxy starts")
}

pub async fn start_replay(ws: &Workspace) -> RunningProxy {
    server::start(replay_config(ws)).await.expect("replay proxy starts")
}

/// How a test client reaches the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// `https://127.0.0.1:PORT` as API base, trusting the proxy's CA.
    Direct,
    /// `https://localhost:PORT` as API base.
    DirectLocalhost,
    /// `https://api.stripe.com` through `HTTPS_PROXY`-style CONNECT.
    Tunnel,
    /// `http://127.0.0.1:PORT` as API base.
    Plain,
}

/// A client plus the API base it should use.
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
    pub key: String,
}

fn ca_cert(ca: &Path) -> reqwest::Certificate {
    reqwest::Certificate::from_pem(&std::fs::read(ca).expect("read CA")).expect("CA parses")
}

/// A client builder that trusts only the CA at `ca` (the proxy's, or the stand-in's).
pub fn trusting(ca: &Path) -> reqwest::ClientBuilder {
    http_client().tls_certs_only([ca_cert(ca)])
}

/// A client builder, the process's crypto provider (ring, as the proxy's)
/// installed first: reqwest is built without one of its own.
pub fn http_client() -> reqwest::ClientBuilder {
    // Already installed (by an earlier call) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A client for `proxy` that connects the given way; `http2` forces HTTP/2
/// (by ALPN over TLS, by prior knowledge over plain HTTP).
pub fn api(proxy: &RunningProxy, ca: &Path, how: Connect, http2: bool, key: &str) -> Api {
    let port = proxy.local_addr().port();
    let mut builder = trusting(ca).timeout(Duration::from_secs(30)).no_proxy();
    if http2 {
        if how == Connect::Plain {
            builder = builder.http2_prior_knowledge();
        }
    } else {
        builder = builder.http1_only();
    }
    let base = match how {
        Connect::Direct => format!("https://127.0.0.1:{port}"),
        Connect::DirectLocalhost => format!("https://localhost:{port}"),
        Connect::Plain => format!("http://127.0.0.1:{port}"),
        Connect::Tunnel => {
            builder = builder.proxy(reqwest::Proxy::https(format!("http://127.0.0.1:{port}")).expect("proxy url"));
            "https://api.stripe.com".to_owned()
        }
    };
    Api {
        client: builder.build().expect("client"),
        base,
        key: key.to_owned(),
    }
}

/// One request/response as the app saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub label: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {:?}", self.label, self.body))
    }
}

impl Api {
    /// The proxy's `/__stripe-vcr/stats`.
    pub async fn stats(&self) -> serde_json::Value {
        self.client
            .get(format!("{}/__stripe-vcr/stats", self.base))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON")
    }

    /// Sends a form-encoded request the way the Stripe SDKs do.
    pub async fn send(
        &self,
        label: &str,
        method: reqwest::Method,
        path: &str,
        form: &str,
        extra: &[(&str, &str)],
    ) -> Seen {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut set = |name: &'static str, value: String| {
            headers.insert(name, value.parse().expect("header value"));
        };
        set("stripe-version", STRIPE_VERSION.to_owned());
        set("user-agent", "Stripe/v1 stripe-vcr-tests/0.1".to_owned());
        if method == reqwest::Method::POST {
            set("content-type", "application/x-www-form-urlencoded".to_owned());
            set("idempotency-key", uuid_like());
        }
        for (k, v) in extra {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("header name");
            headers.insert(name, v.parse().expect("header value"));
        }
        let mut req = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(&self.key)
            .headers(headers);
        if method == reqwest::Method::POST {
            req = req.body(form.to_owned());
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{label}: request failed: {e:?}"));
        Seen {
            label: label.to_owned(),
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.expect("body"),
        }
    }

    pub async fn get(&self, label: &str, path: &str) -> Seen {
        self.send(label, reqwest::Method::GET, path, "", &[]).await
    }

    pub async fn post(&self, label: &str, path: &str, form: &str) -> Seen {
        self.send(label, reqwest::Method::POST, path, form, &[]).await
    }
}

/// A fresh random idempotency key per request, like the SDKs send.
pub fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect()
}

/// A realistic application flow: create, retrieve (twice around an update),
/// confirm, capture, a second intent cancelled, list with pagination, search,
/// and two expected failures. Later requests use ids from earlier answers, as
/// an app does, so replay must hand back the recorded ids for it to work.
pub async fn payment_flow(api: &Api) -> Vec<Seen> {
    let mut seen = Vec::new();
    let create = api
        .post(
            "create",
            "/v1/payment_intents",
            "amount=2000&currency=usd&description=Order+6735&metadata[order_id]=6735\
             &shipping[name]=Jenny+Rosen&shipping[address][line1]=1+Main+St&shipping[address][city]=Paris\
             &payment_method_types[0]=card&capture_method=manual&expand[0]=latest_charge",
        )
        .await;
    assert_eq!(create.status, 200, "create: {:?}", create.body);
    let intent = create.json();
    let id = intent["id"].as_str().expect("id").to_owned();
    let secret = intent["client_secret"].as_str().expect("client_secret").to_owned();
    seen.push(create);
    seen.push(api.get("retrieve", &format!("/v1/payment_intents/{id}")).await);
    seen.push(
        api.get(
            "retrieve with client_secret",
            &format!("/v1/payment_intents/{id}?client_secret={secret}"),
        )
        .await,
    );
    seen.push(
        api.post(
            "update",
            &format!("/v1/payment_intents/{id}"),
            "description=Order+6735+(gift)&metadata[gift]=true",
        )
        .await,
    );
    seen.push(
        api.get("retrieve after update", &format!("/v1/payment_intents/{id}"))
            .await,
    );
    seen.push(
        api.post(
            "confirm",
            &format!("/v1/payment_intents/{id}/confirm"),
            "payment_method=pm_card_visa",
        )
        .await,
    );
    seen.push(
        api.post("capture", &format!("/v1/payment_intents/{id}/capture"), "")
            .await,
    );
    seen.push(
        api.get("retrieve after capture", &format!("/v1/payment_intents/{id}"))
            .await,
    );

    let second = api
        .post(
            "create second",
            "/v1/payment_intents",
            "amount=500&currency=eur&metadata[order_id]=6736",
        )
        .await;
    let second_id = second.json()["id"].as_str().expect("id").to_owned();
    seen.push(second);
    seen.push(
        api.post(
            "cancel",
            &format!("/v1/payment_intents/{second_id}/cancel"),
            "cancellation_reason=abandoned",
        )
        .await,
    );
    let page = api.get("list", "/v1/payment_intents?limit=1").await;
    let first_listed = page.json()["data"][0]["id"].as_str().expect("listed id").to_owned();
    seen.push(page);
    seen.push(
        api.get(
            "list page 2",
            &format!("/v1/payment_intents?limit=1&starting_after={first_listed}"),
        )
        .await,
    );
    seen.push(
        api.get(
            "search",
            "/v1/payment_intents/search?query=metadata%5B%27order_id%27%5D%3A%276735%27",
        )
        .await,
    );
    seen.push(api.post("missing amount", "/v1/payment_intents", "currency=usd").await);
    seen.push(
        api.get("unknown id", "/v1/payment_intents/pi_DoesNotExist000000000000")
            .await,
    );
    seen
}

/// Replaces the random part of client secrets the way cassettes store them.
pub fn redact_client_secrets(text: &str) -> String {
    let re = regex::Regex::new(r"((?:pi|seti)_[A-Za-z0-9]+_secret_)[A-Za-z0-9]+").expect("regex");
    re.replace_all(text, "${1}REDACTED").into_owned()
}

/// A recording session: a fresh workspace, a stand-in upstream, a record
/// proxy, and a direct HTTP/1.1 client holding the recording key.
pub struct Recording {
    pub ws: Workspace,
    pub api: Api,
    standin: Standin,
    proxy: RunningProxy,
}

impl Recording {
    pub async fn start() -> Recording {
        let ws = Workspace::new();
        let standin = Standin::start();
        let proxy = start_record(&ws, &standin).await;
        let api = api(&proxy, &ws.ca(), Connect::Direct, false, RECORD_KEY);
        Recording {
            ws,
            api,
            standin,
            proxy,
        }
    }

    /// Stops the proxy and the upstream; returns the workspace and counters.
    pub async fn finish(self) -> (Workspace, stripe_vcr::server::stats::Summary) {
        let summary = self.proxy.shutdown().await;
        self.standin.stop();
        (self.ws, summary)
    }
}

/// A replay proxy over `ws` and a direct HTTP/1.1 client with another key.
pub async fn replaying(ws: &Workspace) -> (RunningProxy, Api) {
    let proxy = start_replay(ws).await;
    let client = api(&proxy, &ws.ca(), Connect::Direct, false, REPLAY_KEY);
    (proxy, client)
}

/// The `stripe-vcr` binary running as a child process, its port read from
/// the banner, its stdout and stderr collected in the background.
pub struct Binary {
    pub child: Child,
    pub port: u16,
    pub banner: Vec<String>,
    stdout: Option<std::thread::JoinHandle<Vec<String>>>,
    stderr: Option<std::thread::JoinHandle<()>>,
    /// Everything the process has written to stderr so far.
    stderr_text: std::sync::Arc<std::sync::Mutex<String>>,
}

/// What a stopped binary left behind.
pub struct Exited {
    pub success: bool,
    pub stdout: Vec<String>,
    pub stderr: String,
}

impl Binary {
    /// Runs `stripe-vcr <args>` (with `RUST_LOG` set for the child only) and
    /// waits for its banner.
    pub fn start(args: &[&std::ffi::OsStr], rust_log: &str) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stripe-vcr"))
            .args(args)
            .env("RUST_LOG", rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn stripe-vcr");
        let stderr_pipe = child.stderr.take().expect("stderr");
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr_text.clone();
        let stderr = std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().expect("stderr text");
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut banner = Vec::new();
        let mut port = None;
        for line in lines.by_ref() {
            let line = line.expect("line");
            if let Some(rest) = line.trim().strip_prefix("listening   https://") {
                port = rest
                    .split_whitespace()
                    .next()
                    .and_then(|authority| authority.rsplit(':').next())
                    .and_then(|p| p.parse().ok());
            }
            let done = line.starts_with("Ctrl-C");
            banner.push(line);
            if done {
                break;
            }
        }
        let stdout = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        let port = port.unwrap_or_else(|| panic!("no port in banner: {banner:?}"));
        Binary {
            child,
            port,
            banner,
            stdout: Some(stdout),
            stderr: Some(stderr),
            stderr_text,
        }
    }

    /// Waits up to `within` for the running process's stderr to contain
    /// `needle`; returns what it had written by then.
    pub fn stderr_until(&self, needle: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let text = self.stderr_text.lock().expect("stderr text").clone();
            if text.contains(needle) || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `stripe-vcr <mode>` on an ephemeral port over the workspace's
    /// cassettes and CA, plus `extra` flags, logging at `rust_log`.
    fn serving(mode: &str, ws: &Workspace, extra: &[&std::ffi::OsStr], rust_log: &str) -> Binary {
        let (cassettes, certs) = (ws.cassettes(), ws.certs());
        let mut args: Vec<&std::ffi::OsStr> = vec![
            mode.as_ref(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--cassettes".as_ref(),
            cassettes.as_os_str(),
            "--certs".as_ref(),
            certs.as_os_str(),
        ];
        args.extend_from_slice(extra);
        Binary::start(&args, rust_log)
    }

    /// `stripe-vcr replay` on an ephemeral port over the workspace's
    /// cassettes and CA, plus `extra` flags, logging at `rust_log`.
    pub fn replay(ws: &Workspace, extra: &[&std::ffi::OsStr], rust_log: &str) -> Binary {
        Binary::serving("replay", ws, extra, rust_log)
    }

    /// `stripe-vcr record` on an ephemeral port into the workspace,
    /// forwarding to `standin`, plus `extra` flags, logging at `rust_log`.
    pub fn record(ws: &Workspace, standin: &Standin, extra: &[&std::ffi::OsStr], rust_log: &str) -> Binary {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--upstream".as_ref(),
            standin.url.as_ref(),
            "--upstream-ca".as_ref(),
            standin.ca.as_os_str(),
        ];
        args.extend_from_slice(extra);
        Binary::serving("record", ws, &args, rust_log)
    }

    /// Ctrl-C, then everything it printed.
    pub fn interrupt(mut self) -> Exited {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        Exited {
            success: exit.success(),
            stdout: self.stdout.take().expect("stdout").join().expect("join"),
            stderr: {
                self.stderr.take().expect("stderr").join().expect("join");
                self.stderr_text.lock().expect("stderr text").clone()
            },
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `OsStr` arguments from a mix of strings and paths.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$(std::ffi::OsStr::new(&$a)),*]
    };
}
