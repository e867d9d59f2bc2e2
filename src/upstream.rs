//! The client side: forwards a request to the real API (or a
//! Stripe-compatible upstream) and reads its whole response.
//!
//! TLS is verified against Mozilla's roots (webpki-roots) plus any
//! `--upstream-ca`, so a test upstream on `https://127.0.0.1:PORT` with its
//! own CA works without weakening verification for api.stripe.com.
//!
//! The proxy asks for `Accept-Encoding: identity`. A body sent encoded
//! anyway is decoded ([`decode_body`]): `gzip` and `x-gzip` (every member of
//! a multi-member stream), `deflate` (zlib-wrapped, or raw as some servers
//! send it) and `identity`, in any letter case, several codings applied in
//! order. Both the recording client and the cassette then get the decoded
//! body, without `Content-Encoding`. A body in one of these that does not
//! decode is an upstream fault (502, nothing recorded). A body in any other
//! encoding (`br`, `zstd`, …) is relayed exactly as it came,
//! `Content-Encoding` and all, and is not recorded: the redactor refuses to
//! seal a cassette whose body it cannot read (`cassette::seal::SealError::Encoded`).

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

use crate::answer::{error_chain, UpstreamError};

/// The largest body decoding may produce: a guard against a compressed
/// bomb. A larger one is an upstream error (502), like a corrupt one.
pub const MAX_DECODED_BODY: u64 = 64 * 1024 * 1024;

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
        let provider = Arc::new(rustls::crypto::ring::default_provider());
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
    /// timeout. An encoded body sent anyway is decoded ([`decode_body`]).
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
        let (mut parts, body) =
            tokio::time::timeout(self.timeout, exchange)
                .await
                .map_err(|_| UpstreamError::Timeout {
                    upstream: self.base_url(),
                    after: self.timeout,
                })??;
        let body = decode_body(&mut parts.headers, body).map_err(|e| self.unreachable(&e))?;
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

/// Undoes the `Content-Encoding` of an upstream body, removing the header:
/// `identity`, `gzip` / `x-gzip` (all members), `deflate` (zlib or raw),
/// case-insensitively, several codings undone last to first.
///
/// With a coding it does not know (`br`, `zstd`, …) it returns the body
/// unchanged and leaves the header in place: the client gets exactly what
/// the upstream sent (the request may have had effects upstream), and the
/// cassette is refused, since it cannot be checked for secrets. A body in a
/// coding it knows that does not decode (corrupt, truncated, or larger than
/// [`MAX_DECODED_BODY`] once decoded) is an error: no client could read it
/// either, and the proxy answers 502.
pub fn decode_body(headers: &mut HeaderMap, body: Bytes) -> Result<Bytes, std::io::Error> {
    if !headers.contains_key(CONTENT_ENCODING) {
        return Ok(body);
    }
    let mut codings = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let Ok(text) = value.to_str() else { return Ok(body) };
        codings.extend(
            text.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty()),
        );
    }
    if codings
        .iter()
        .any(|c| !matches!(c.as_str(), "identity" | "gzip" | "x-gzip" | "deflate"))
    {
        return Ok(body);
    }
    if body.is_empty() {
        // Nothing was encoded (a 204, or a HEAD answer).
        headers.remove(CONTENT_ENCODING);
        return Ok(body);
    }
    let mut decoded: Option<Vec<u8>> = None;
    for coding in codings.iter().rev() {
        let input: &[u8] = decoded.as_deref().unwrap_or(&body);
        let output = match coding.as_str() {
            "gzip" | "x-gzip" => read_all(flate2::read::MultiGzDecoder::new(input)),
            // RFC 9110 says zlib; some servers send raw deflate.
            "deflate" => read_all(flate2::read::ZlibDecoder::new(input))
                .or_else(|_| read_all(flate2::read::DeflateDecoder::new(input))),
            _ => continue,
        };
        let bytes =
            output.map_err(|e| std::io::Error::new(e.kind(), format!("the {coding} body does not decode: {e}")))?;
        decoded = Some(bytes);
    }
    headers.remove(CONTENT_ENCODING);
    Ok(decoded.map_or(body, Bytes::from))
}

/// Everything a decoder yields; an error if the stream is corrupt or
/// longer than [`MAX_DECODED_BODY`].
fn read_all(decoder: impl Read) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    decoder.take(MAX_DECODED_BODY + 1).read_to_end(&mut out)?;
    if out.len() as u64 > MAX_DECODED_BODY {
        return Err(std::io::Error::other(format!(
            "it decodes to more than {} MiB",
            MAX_DECODED_BODY >> 20
        )));
    }
    Ok(out)
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
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

    fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut out = Vec::new();
        match coding {
            "gzip" => {
                let mut e = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
                e.write_all(data).expect("gzip");
                e.finish().expect("gzip");
            }
            "zlib" => {
                let mut e = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::default());
                e.write_all(data).expect("zlib");
                e.finish().expect("zlib");
            }
            _ => {
                let mut e = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::default());
                e.write_all(data).expect("deflate");
                e.finish().expect("deflate");
            }
        }
        out
    }

    fn decode(encodings: &[&str], body: Vec<u8>) -> (HeaderMap, Bytes) {
        let mut headers = HeaderMap::new();
        for e in encodings {
            headers.append(CONTENT_ENCODING, HeaderValue::from_str(e).expect("value"));
        }
        let body = decode_body(&mut headers, Bytes::from(body)).expect("decodes or is left alone");
        (headers, body)
    }

    #[test]
    fn every_encoding_an_upstream_may_send_is_decoded_in_any_case() {
        let json = br#"{"id":"pi_1","client_secret":"pi_1_secret_abc"}"#;
        let multi = [compress("gzip", &json[..10]), compress("gzip", &json[10..])].concat();
        for (encodings, body) in [
            (vec!["gzip"], compress("gzip", json)),
            (vec!["GZIP"], compress("gzip", json)),
            (vec!["x-gzip"], compress("gzip", json)),
            (vec!["gzip"], multi),
            (vec!["deflate"], compress("zlib", json)),
            (vec!["Deflate"], compress("deflate", json)),
            (vec!["identity"], json.to_vec()),
            (vec!["deflate, gzip"], compress("gzip", &compress("zlib", json))),
            (
                vec!["deflate", "identity", "x-gzip"],
                compress("gzip", &compress("zlib", json)),
            ),
        ] {
            let (headers, decoded) = decode(&encodings, body);
            assert_eq!(&decoded[..], &json[..], "{encodings:?}");
            assert!(headers.get(CONTENT_ENCODING).is_none(), "{encodings:?}");
        }
    }

    #[test]
    fn unknown_encodings_are_left_as_they_came_and_corrupt_ones_are_errors() {
        let gz = compress("gzip", b"{}");
        for (encodings, body) in [
            (vec!["br"], b"\x0b\x01\x80{}\x03".to_vec()),
            (vec!["gzip, zstd"], gz.clone()),
            (vec!["gzip", "br"], gz.clone()),
        ] {
            let (headers, relayed) = decode(&encodings, body.clone());
            assert_eq!(&relayed[..], &body[..], "{encodings:?}");
            assert!(headers.get(CONTENT_ENCODING).is_some(), "{encodings:?}");
        }
        for (encoding, body) in [
            ("gzip", b"\x1f\x8bnot gzip at all".to_vec()),
            ("x-gzip", gz[..gz.len() - 6].to_vec()),
            ("deflate", b"neither zlib nor deflate".to_vec()),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
            let err = decode_body(&mut headers, Bytes::from(body)).expect_err(encoding);
            assert!(err.to_string().contains(encoding), "{err}");
        }
        let (headers, body) = decode(&["gzip"], Vec::new());
        assert_eq!((headers.len(), body.len()), (0, 0), "an empty body needs no decoding");
        // No header: nothing to do, whatever the bytes.
        let (headers, body) = decode(&[], gz.clone());
        assert_eq!((headers.len(), &body[..]), (0, &gz[..]));
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
