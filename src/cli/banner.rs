//! What a person sees: the start-up banner, and the copy-paste lines that
//! point each client at the proxy and make it trust the CA.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::server::StartInfo;

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The host:port clients should use for direct connections (a wildcard
/// listen address is reached through localhost).
fn client_authority(listen: SocketAddr) -> String {
    if listen.ip().is_unspecified() {
        format!("localhost:{}", listen.port())
    } else if listen.is_ipv6() {
        format!("[{}]:{}", listen.ip(), listen.port())
    } else {
        listen.to_string()
    }
}

/// The clients stripe-vcr documents set-up lines for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    Curl,
    Python,
    Node,
    Go,
    Ruby,
    /// The Stripe CLI.
    Cli,
}

/// Everything the set-up lines need to know about the running proxy.
struct Target {
    ca: String,
    /// `127.0.0.1:8443` (what clients put in an API base).
    authority: String,
    host: String,
    port: u16,
}

impl Target {
    fn new(listen: SocketAddr, ca: &Path) -> Target {
        let authority = client_authority(listen);
        let host = authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("localhost")
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Target {
            ca: absolute(ca).display().to_string(),
            authority,
            host,
            port: listen.port(),
        }
    }
}

/// The set-up of one client, in both modes: API base pointed at the proxy,
/// and the real api.stripe.com through the proxy. These are the lines the
/// end-to-end suite (`e2e/`) runs.
pub fn setup_for(client: Client, listen: SocketAddr, ca: &Path) -> String {
    let Target {
        ca,
        authority,
        host,
        port,
    } = Target::new(listen, ca);
    let proxy = format!("http://127.0.0.1:{port}");
    match client {
        Client::Curl => format!(
            "\
curl, API base:  curl --cacert {ca} https://{authority}/v1/payment_intents -u sk_test_123:
curl, proxy:     curl --cacert {ca} -x {proxy} https://api.stripe.com/v1/payment_intents -u sk_test_123:"
        ),
        Client::Python => format!(
            "\
Python (stripe-python), API base:
    stripe.ca_bundle_path = \"{ca}\"   # stripe-python ignores SSL_CERT_FILE and REQUESTS_CA_BUNDLE
    client = stripe.StripeClient(key, base_addresses={{\"api\": \"https://{authority}\"}})
Python, proxy (keeps https://api.stripe.com):
    stripe.ca_bundle_path = \"{ca}\"
    client = stripe.StripeClient(key, proxy=\"{proxy}\")"
        ),
        Client::Node => format!(
            "\
Node (stripe-node), API base, run with NODE_EXTRA_CA_CERTS={ca}:
    const stripe = new Stripe(key, {{ host: \"{host}\", port: {port}, protocol: \"https\" }});
Node, proxy (keeps https://api.stripe.com), run with NODE_EXTRA_CA_CERTS={ca}:
    const stripe = new Stripe(key, {{ httpAgent: new HttpsProxyAgent(\"{proxy}\") }});   // npm https-proxy-agent"
        ),
        Client::Go => format!(
            "\
Go (stripe-go), API base, run with SSL_CERT_FILE={ca}:
    stripe.SetBackend(stripe.APIBackend, stripe.GetBackendWithConfig(stripe.APIBackend,
        &stripe.BackendConfig{{URL: stripe.String(\"https://{authority}\")}}))
Go, proxy: HTTPS_PROXY={proxy} SSL_CERT_FILE={ca} (the default http.Client honours both)"
        ),
        Client::Ruby => format!(
            "\
Ruby (stripe-ruby), API base, run with SSL_CERT_FILE={ca}:
    Stripe.api_base = \"https://{authority}\"
Ruby, proxy: Stripe.proxy = \"{proxy}\" with SSL_CERT_FILE={ca}"
        ),
        Client::Cli => format!(
            "\
Stripe CLI (plain HTTP on the same port; it accepts only http://127.0.0.1 for local bases):
    stripe payment_intents list --api-base http://127.0.0.1:{port}"
        ),
    }
}

/// How to point each client at a proxy on `listen` that presents
/// certificates from the CA at `ca` (the banner's short form).
pub fn client_setup(listen: SocketAddr, ca: &Path) -> String {
    let Target {
        ca,
        authority,
        host,
        port,
    } = Target::new(listen, ca);
    format!(
        "\
Point a client at it (API base, trusting the CA):
  curl        curl --cacert {ca} https://{authority}/v1/payment_intents -u sk_test_123:
  Python      stripe.ca_bundle_path = \"{ca}\"; stripe.StripeClient(key, base_addresses={{\"api\": \"https://{authority}\"}})
              (stripe-python ignores SSL_CERT_FILE and REQUESTS_CA_BUNDLE)
  Node        NODE_EXTRA_CA_CERTS={ca} node app.js
              with new Stripe(key, {{ host: \"{host}\", port: {port}, protocol: \"https\" }})
  Go          SSL_CERT_FILE={ca} go test ./...
              with stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{{URL: stripe.String(\"https://{authority}\")}})
  Ruby        SSL_CERT_FILE={ca} and Stripe.api_base = \"https://{authority}\"
  Stripe CLI  stripe payment_intents list --api-base http://127.0.0.1:{port}   (plain HTTP, same port)
Or keep https://api.stripe.com and use it as a proxy:
  HTTPS_PROXY=http://127.0.0.1:{port} plus the CA trust line above (Python: StripeClient(key, proxy=\"http://127.0.0.1:{port}\"))
`stripe-vcr doctor --client python` (or node, go, ruby, curl, cli) prints one client's set-up in both modes."
    )
}

/// How `record` and `replay` say they are listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    /// The banner, for a person.
    Banner,
    /// One JSON line (`--ready-json`), for a program that started the proxy.
    Json,
}

/// The `--ready-json` line: where clients connect (the port `--listen
/// 127.0.0.1:0` chose), the CA they trust, and what is being served.
pub fn ready_json(info: &StartInfo, pid: u32) -> String {
    let Target {
        ca, authority, port, ..
    } = Target::new(info.listen, &info.ca_path);
    serde_json::json!({
        "ready": true,
        "service": "stripe-vcr",
        "version": env!("CARGO_PKG_VERSION"),
        "mode": info.mode,
        "url": format!("https://{authority}"),
        "port": port,
        "ca": ca,
        "cassettes": absolute(&info.cassettes_dir).display().to_string(),
        "cassettes_loaded": info.cassettes_loaded,
        "upstream": info.upstream,
        "pid": pid,
    })
    .to_string()
}

/// The start-up banner: mode, address, upstream, cassettes, CA, and how to
/// point each client at the proxy.
pub fn banner(info: &StartInfo) -> String {
    let upstream = match &info.upstream {
        Some(url) => url.clone(),
        None => "none (replay never opens a network connection)".to_owned(),
    };
    let cassettes = if info.mode == "record" {
        format!(
            "writing to {} ({} already there)",
            absolute(&info.cassettes_dir).display(),
            info.cassettes_loaded
        )
    } else {
        format!(
            "{} loaded from {}",
            info.cassettes_loaded,
            absolute(&info.cassettes_dir).display()
        )
    };
    let created = if info.ca_created { " (created now)" } else { "" };
    format!(
        "\
stripe-vcr {version} — {mode} mode
  listening   https://{authority}  (also plain http:// and HTTPS_PROXY/CONNECT on the same port)
  upstream    {upstream}
  cassettes   {cassettes}
  CA          {ca}{created}
              SHA-256 {fingerprint}
{setup}
Ctrl-C stops and prints a summary.",
        version = env!("CARGO_PKG_VERSION"),
        mode = info.mode,
        authority = client_authority(info.listen),
        ca = absolute(&info.ca_path).display(),
        fingerprint = info.ca_fingerprint,
        setup = client_setup(info.listen, &info.ca_path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(mode: &'static str) -> StartInfo {
        StartInfo {
            mode,
            listen: "127.0.0.1:8443".parse().expect("addr"),
            upstream: (mode == "record").then(|| "https://api.stripe.com".to_owned()),
            cassettes_dir: "cassettes".into(),
            cassettes_loaded: 7,
            ca_path: "/tmp/ca.pem".into(),
            ca_created: false,
            ca_fingerprint: "AB:CD".into(),
        }
    }

    #[test]
    fn banner_names_everything_a_user_needs() {
        let b = banner(&info("replay"));
        for needle in [
            "replay mode",
            "https://127.0.0.1:8443",
            "none (replay never opens",
            "7 loaded from",
            "/tmp/ca.pem",
            "stripe.ca_bundle_path = \"/tmp/ca.pem\"",
            "doctor --client",
            "NODE_EXTRA_CA_CERTS=/tmp/ca.pem",
            "HTTPS_PROXY=http://127.0.0.1:8443",
            "--api-base http://127.0.0.1:8443",
        ] {
            assert!(b.contains(needle), "missing {needle:?} in\n{b}");
        }
        assert!(banner(&info("record")).contains("upstream    https://api.stripe.com"));
    }

    #[test]
    fn wildcard_listen_is_reached_through_localhost() {
        assert_eq!(client_authority("0.0.0.0:9".parse().expect("addr")), "localhost:9");
        assert_eq!(client_authority("[::1]:9".parse().expect("addr")), "[::1]:9");
    }
}
