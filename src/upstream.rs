//! The client side: forwards a request to the real API (or a
//! Stripe-compatible upstream) and reads its whole response.
//!
//! TLS is verified against Mozilla's roots (webpki-roots) plus any
//! `--upstream-ca`, so a test upstream on `https://127.0.0.1:PORT` with its
//! own CA works without weakening verification for api.stripe.com.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT_ENCODING, CONTENT_ENCODING, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::UpstreamError;

/// Request headers that belong to one hop, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// How long an idle upstream connection is kept for the next request
/// before it is closed.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Most idle connections kept open to the upstream: a burst of concurrent
/// recordings opens one connection each, and all but these close as soon
/// as their requests are done.
pub const POOL_MAX_IDLE: usize = 8;

/// Bounds on the connections kept open to the upstream between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// An idle connection is closed after this long.
    pub idle_timeout: Duration,
    /// At most this many idle connections are kept.
    pub max_idle: usize,
}

impl Default for Pool {
    /// [`POOL_IDLE_TIMEOUT`] and [`POOL_MAX_IDLE`].
    fn default() -> Pool {
        Pool {
            idle_timeout: POOL_IDLE_TIMEOUT,
            max_idle: POOL_MAX_IDLE,
        }
    }
}

/// Why an upstream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamConfigError {
    #[error("--upstream {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("--upstream-ca {}: {reason}", path.display())]
    BadCa { path: std::path::PathBuf, reason: String },
}

/// The upstream's answer, read in full.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A pooled HTTP/1.1 + HTTP/2 client bound to one upstream base URL.
#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    scheme: String,
    authority: String,
    timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({})", self.base_url())
    }
}

impl Upstream {
    /// Builds the client for `url` (`https://api.stripe.com`, or
    /// `https://127.0.0.1:12112` with `extra_ca`), its idle connections
    /// bounded by [`Pool::default`].
    pub fn new(url: &str, extra_ca: Option<&Path>, timeout: Duration) -> Result<Upstream, UpstreamConfigError> {
        Upstream::with_pool(url, extra_ca, timeout, Pool::default())
    }

    /// Like [`Upstream::new`], with other bounds on idle connections.
    pub fn with_pool(
        url: &str,
        extra_ca: Option<&Path>,
        timeout: Duration,
        pool: Pool,
    ) -> Result<Upstream, UpstreamConfigError> {
        let bad = |reason: &str| UpstreamConfigError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let scheme = uri.scheme_str().ok_or_else(|| bad("needs a scheme, e.g. https://"))?;
        if scheme != "https" && scheme != "http" {
            return Err(bad("the scheme must be https or http"));
        }
        let authority = uri.authority().ok_or_else(|| bad("needs a host"))?.to_string();
        if !matches!(uri.path(), "" | "/") {
            return Err(bad("give only scheme, host and port; the path comes from each request"));
        }

        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = extra_ca {
            let bad_ca = |reason: String| UpstreamConfigError::BadCa {
                path: path.to_path_buf(),
                reason,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad_ca(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad_ca(e.to_string()))?;
            if certs.is_empty() {
                return Err(bad_ca("no PEM certificate found".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad_ca(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(&e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .build();
        // Without a timer the pool never looks for expired connections: they
        // would stay open until a request happened to find them.
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(pool.idle_timeout)
            .pool_max_idle_per_host(pool.max_idle)
            .build(connector);
        Ok(Upstream {
            client,
            scheme: scheme.to_owned(),
            authority,
            timeout,
        })
    }

    /// `https://host:port`, for banners and messages.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The upstream's host name (without port).
    pub fn host(&self) -> &str {
        self.authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map(|(host, _)| host)
            .unwrap_or(&self.authority)
            .trim_start_matches('[')
            .trim_end_matches(']')
    }

    /// Forwards one request with its end-to-end headers and body, asking for
    /// an uncompressed answer, and reads the whole response within the
    /// timeout. A gzip body sent anyway is decoded.
    pub async fn forward(
        &self,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let uri = format!("{}{}", self.base_url(), path_and_query);
        let mut request = Request::builder().method(method.clone()).uri(&uri);
        if let Some(h) = request.headers_mut() {
            for (name, value) in headers {
                if !is_hop_by_hop(name) && name != HOST && name != ACCEPT_ENCODING {
                    h.append(name.clone(), value.clone());
                }
            }
            h.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        let request = request.body(Full::new(body)).map_err(|e| self.unreachable(&e))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| self.unreachable(&e))?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(|e| self.unreachable(&e))?.to_bytes();
            Ok::<_, UpstreamError>((parts, body))
        };
        let (mut parts, mut body) =
            tokio::time::timeout(self.timeout, exchange)
                .await
                .map_err(|_| UpstreamError::Timeout {
                    upstream: self.base_url(),
                    after: self.timeout,
                })??;
        if parts.headers.get(CONTENT_ENCODING).is_some_and(|v| v == "gzip") {
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut decoded)
                .map_err(|e| self.unreachable(&e))?;
            body = Bytes::from(decoded);
            parts.headers.remove(CONTENT_ENCODING);
        }
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        Ok(UpstreamResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    fn unreachable(&self, error: &(dyn std::error::Error + 'static)) -> UpstreamError {
        UpstreamError::Unreachable {
            upstream: self.base_url(),
            cause: error_chain(error),
        }
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

/// `outer: inner: innermost`, skipping repeats, so "client error (Connect)"
/// becomes "client error (Connect): tcp connect error: Connection refused".
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let t = Duration::from_secs(1);
        assert!(Upstream::new("https://api.stripe.com", None, t).is_ok());
        let u = Upstream::new("https://127.0.0.1:12112/", None, t).expect("ok");
        assert_eq!(u.base_url(), "https://127.0.0.1:12112");
        assert_eq!(u.host(), "127.0.0.1");
        assert_eq!(Upstream::new("https://[::1]:9", None, t).expect("ok").host(), "::1");
        for bad in ["api.stripe.com", "ftp://x", "https://x/v1", "::"] {
            assert!(Upstream::new(bad, None, t).is_err(), "{bad}");
        }
        let err = Upstream::new("https://x", Some(Path::new("/nonexistent.pem")), t).expect_err("bad ca");
        assert!(err.to_string().contains("/nonexistent.pem"), "{err}");
    }

    #[tokio::test]
    async fn refused_connection_names_the_upstream_and_cause() {
        // Bind then drop to get a port with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let u = Upstream::new(&format!("http://127.0.0.1:{port}"), None, Duration::from_secs(5)).expect("ok");
        let err = u
            .forward(&Method::GET, "/v1/payment_intents", &HeaderMap::new(), Bytes::new())
            .await
            .expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("127.0.0.1:{port}")) && msg.to_lowercase().contains("refused"),
            "{msg}"
        );
    }
}
