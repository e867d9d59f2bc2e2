//! Per-host leaf certificate cache: turns the CA's leaves into rustls server
//! configs for CONNECT tunnels and for direct (SNI-selected) connections.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::ServerConfig;
use time::{Duration, OffsetDateTime};

use super::ca::{CertificateAuthority, Host, MintedLeaf};
use super::TlsError;

/// A cached leaf is replaced once it is this close to expiring, so no
/// connection is ever handed a certificate that expires mid-session.
pub const LEAF_RENEW_BEFORE_EXPIRY: Duration = Duration::hours(1);

/// The names on the leaf presented to direct clients that send no SNI (IP
/// literals) or an SNI name the CA does not permit.
pub const FALLBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

/// ALPN protocols offered, in preference order.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Mints leaves from the CA on demand and caches them per host, because some
/// clients open a new CONNECT tunnel (and handshake) for every request.
/// Cloning is cheap and clones share the cache.
#[derive(Clone, Debug)]
pub struct LeafIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    ca: Arc<CertificateAuthority>,
    /// Keyed by the canonical host (lowercase DNS name or IP). Bounded by the
    /// CA's name constraints, since only permitted hosts are ever minted.
    leaves: Mutex<HashMap<String, CachedLeaf>>,
    fallback: Mutex<Option<CachedLeaf>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafIssuer")
            .field("ca", &self.ca)
            .field("cached_hosts", &lock(&self.leaves).len())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct CachedLeaf {
    key: Arc<CertifiedKey>,
    config: Arc<ServerConfig>,
    not_after: OffsetDateTime,
}

impl CachedLeaf {
    fn new(minted: MintedLeaf, ca: &CertificateAuthority) -> Result<Self, TlsError> {
        let key = Arc::new(minted.certified_key);
        let resolver = Arc::new(SingleCertAndKey::from(Arc::clone(&key)));
        Ok(CachedLeaf {
            config: server_config(ca, resolver)?,
            key,
            not_after: minted.not_after,
        })
    }

    fn is_fresh(&self, now: OffsetDateTime) -> bool {
        !needs_renewal(self.not_after, now)
    }
}

fn needs_renewal(not_after: OffsetDateTime, now: OffsetDateTime) -> bool {
    now + LEAF_RENEW_BEFORE_EXPIRY >= not_after
}

/// A poisoned lock only means another thread panicked mid-insert; the map is
/// still a valid cache, so keep using it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn server_config(
    ca: &CertificateAuthority,
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::clone(ca.provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

impl LeafIssuer {
    /// Wraps the CA; no leaf is minted until one is needed.
    pub fn new(ca: Arc<CertificateAuthority>) -> Self {
        LeafIssuer {
            inner: Arc::new(Inner {
                ca,
                leaves: Mutex::new(HashMap::new()),
                fallback: Mutex::new(None),
            }),
        }
    }

    /// The CA the leaves are signed by.
    pub fn ca(&self) -> &Arc<CertificateAuthority> {
        &self.inner.ca
    }

    /// A server config presenting the leaf for `host`, for terminating TLS
    /// inside a CONNECT tunnel (the host comes from the CONNECT line). ALPN
    /// offers `h2` then `http/1.1`. Cached per host and re-minted when the
    /// leaf is within [`LEAF_RENEW_BEFORE_EXPIRY`] of expiring.
    pub fn server_config_for(&self, host: &str) -> Result<Arc<ServerConfig>, TlsError> {
        let host = Host::parse(host)?;
        Ok(self.inner.leaf_for(&host)?.config)
    }

    /// A server config for clients connecting straight to the proxy port:
    /// the leaf is picked by SNI when the CA permits that name, otherwise
    /// (no SNI, as with IP literals, or a foreign name) a leaf for
    /// [`FALLBACK_HOSTS`] is presented. ALPN offers `h2` then `http/1.1`.
    ///
    /// Leaves are minted lazily during handshakes and share this issuer's
    /// cache. Build it once and reuse it.
    pub fn direct_server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let resolver = Arc::new(SniResolver {
            inner: Arc::clone(&self.inner),
        });
        server_config(&self.inner.ca, resolver)
    }

    /// How many hosts currently have a cached leaf (the fallback leaf is not
    /// counted), for stats.
    pub fn cached_hosts(&self) -> usize {
        lock(&self.inner.leaves).len()
    }
}

impl Inner {
    /// The cached leaf for `host`, minting it (at most once, even when called
    /// concurrently, since the lock is held while minting) if absent or stale.
    fn leaf_for(&self, host: &Host) -> Result<CachedLeaf, TlsError> {
        let key = host.to_string();
        let now = OffsetDateTime::now_utc();
        let mut leaves = lock(&self.leaves);
        if let Some(leaf) = leaves.get(&key).filter(|l| l.is_fresh(now)) {
            return Ok(leaf.clone());
        }
        let leaf = CachedLeaf::new(self.ca.mint(std::slice::from_ref(host))?, &self.ca)?;
        tracing::debug!(host = %key, not_after = %leaf.not_after, "minted leaf certificate");
        leaves.insert(key, leaf.clone());
        Ok(leaf)
    }

    /// The leaf for direct clients without a usable SNI name. It names only
    /// those of [`FALLBACK_HOSTS`] the CA permits.
    fn fallback_leaf(&self) -> Result<CachedLeaf, TlsError> {
        let now = OffsetDateTime::now_utc();
        let mut fallback = lock(&self.fallback);
        if let Some(leaf) = fallback.as_ref().filter(|l| l.is_fresh(now)) {
            return Ok(leaf.clone());
        }
        let hosts: Vec<Host> = FALLBACK_HOSTS
            .iter()
            .filter_map(|h| Host::parse(h).ok())
            .filter(|h| self.ca.permits_host(h))
            .collect();
        if hosts.is_empty() {
            return Err(TlsError::HostNotPermitted {
                host: FALLBACK_HOSTS.join(", "),
            });
        }
        let leaf = CachedLeaf::new(self.ca.mint(&hosts)?, &self.ca)?;
        tracing::debug!(not_after = %leaf.not_after, "minted fallback leaf certificate");
        *fallback = Some(leaf.clone());
        Ok(leaf)
    }

    fn key_for_sni(&self, sni: Option<&str>) -> Result<Arc<CertifiedKey>, TlsError> {
        let permitted = sni
            .and_then(|name| Host::parse(name).ok())
            .filter(|host| self.ca.permits_host(host));
        let leaf = match permitted {
            Some(host) => self.leaf_for(&host)?,
            None => self.fallback_leaf()?,
        };
        Ok(leaf.key)
    }
}

/// Picks the leaf for a direct connection from the ClientHello's SNI.
#[derive(Debug)]
struct SniResolver {
    inner: Arc<Inner>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = client_hello.server_name();
        match self.inner.key_for_sni(sni) {
            Ok(key) => Some(key),
            Err(err) => {
                tracing::warn!(sni = sni.unwrap_or("<none>"), %err, "no certificate to present; aborting handshake");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{CaOrigin, DEFAULT_PERMITTED_HOSTS};

    use rustls::{ClientConfig, RootCertStore};
    use rustls_pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::{TlsAcceptor, TlsConnector};
    use x509_parser::extensions::GeneralName;

    fn issuer() -> (tempfile::TempDir, LeafIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let hosts: Vec<String> = DEFAULT_PERMITTED_HOSTS.iter().map(|h| h.to_string()).collect();
        let (ca, origin) = CertificateAuthority::load_or_create(dir.path(), &hosts).unwrap();
        assert_eq!(origin, CaOrigin::Created);
        (dir, LeafIssuer::new(Arc::new(ca)))
    }

    fn san_names(der: &CertificateDer<'_>) -> Vec<String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        san.value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                GeneralName::IPAddress(b) if b.len() == 4 => {
                    std::net::IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string()
                }
                GeneralName::IPAddress(b) => std::net::IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    struct Handshake {
        alpn: Option<Vec<u8>>,
        sans: Vec<String>,
        chain_len: usize,
    }

    /// Serves one TLS connection on 127.0.0.1 with `server`, connects a
    /// client that trusts only the CA, and echoes a few bytes through it.
    async fn handshake(
        server: Arc<ServerConfig>,
        ca: &CertificateAuthority,
        server_name: &str,
        alpn: &[&[u8]],
    ) -> Result<Handshake, std::io::Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(server);
        let server_task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await?;
            let mut tls = acceptor.accept(tcp).await?;
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await?;
            tls.write_all(&buf).await?;
            tls.shutdown().await?;
            Ok::<_, std::io::Error>(())
        });

        let mut roots = RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let mut client = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let connector = TlsConnector::from(Arc::new(client));
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from(server_name.to_string()).unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        server_task.await.unwrap()?;

        let conn = tls.get_ref().1;
        let chain = conn.peer_certificates().unwrap();
        Ok(Handshake {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            sans: san_names(&chain[0]),
            chain_len: chain.len(),
        })
    }

    #[tokio::test]
    async fn connect_tunnel_handshake_negotiates_h2() {
        let (_dir, issuer) = issuer();
        let config = issuer.server_config_for("api.stripe.com").unwrap();
        let hs = handshake(config.clone(), issuer.ca(), "api.stripe.com", &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(hs.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(hs.sans, ["api.stripe.com"]);
        assert_eq!(hs.chain_len, 2, "leaf + CA");

        let hs = handshake(config.clone(), issuer.ca(), "api.stripe.com", &[b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(hs.alpn.as_deref(), Some(&b"http/1.1"[..]));

        // The leaf is for api.stripe.com only, so a client expecting another
        // (permitted) name rejects it.
        assert!(handshake(config, issuer.ca(), "localhost", &[]).await.is_err());
    }

    #[tokio::test]
    async fn direct_handshake_picks_leaf_by_sni_or_falls_back() {
        let (_dir, issuer) = issuer();
        let config = issuer.direct_server_config().unwrap();

        // IP literal: the client sends no SNI, so the fallback leaf is used.
        let hs = handshake(config.clone(), issuer.ca(), "127.0.0.1", &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(hs.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(hs.sans, ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(issuer.cached_hosts(), 0, "fallback is not a per-host entry");

        // A permitted SNI name gets its own leaf.
        let hs = handshake(config.clone(), issuer.ca(), "localhost", &[b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(hs.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert_eq!(hs.sans, ["localhost"]);
        let hs = handshake(config, issuer.ca(), "api.stripe.com", &[b"h2"])
            .await
            .unwrap();
        assert_eq!(hs.sans, ["api.stripe.com"]);
        assert_eq!(issuer.cached_hosts(), 2);
    }

    #[test]
    fn unpermitted_sni_gets_the_fallback_leaf() {
        let (_dir, issuer) = issuer();
        let fallback = issuer.inner.key_for_sni(None).unwrap();
        for sni in ["example.com", "evilapi.stripe.com"] {
            let key = issuer.inner.key_for_sni(Some(sni)).unwrap();
            assert!(Arc::ptr_eq(&key, &fallback), "{sni}");
        }
        let own = issuer.inner.key_for_sni(Some("api.stripe.com")).unwrap();
        assert!(!Arc::ptr_eq(&own, &fallback));
        assert_eq!(san_names(&own.cert[0]), ["api.stripe.com"]);
    }

    #[test]
    fn server_configs_are_cached_per_host() {
        let (_dir, issuer) = issuer();
        let a = issuer.server_config_for("api.stripe.com").unwrap();
        let b = issuer.server_config_for("API.Stripe.com.").unwrap();
        assert!(Arc::ptr_eq(&a, &b), "same host, same config");
        assert_eq!(issuer.cached_hosts(), 1);
        let c = issuer.server_config_for("localhost").unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(issuer.cached_hosts(), 2);
        assert_eq!(a.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);

        assert!(matches!(
            issuer.server_config_for("example.com"),
            Err(TlsError::HostNotPermitted { .. })
        ));
        assert_eq!(issuer.cached_hosts(), 2, "refused hosts are not cached");
    }

    #[test]
    fn concurrent_requests_mint_once() {
        let (_dir, issuer) = issuer();
        let configs: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| issuer.server_config_for("api.stripe.com").unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(configs.iter().all(|c| Arc::ptr_eq(c, &configs[0])));
    }

    #[test]
    fn leaves_near_expiry_are_reminted() {
        let now = OffsetDateTime::now_utc();
        assert!(!needs_renewal(now + Duration::days(7), now));
        assert!(!needs_renewal(
            now + LEAF_RENEW_BEFORE_EXPIRY + Duration::minutes(1),
            now
        ));
        assert!(needs_renewal(
            now + LEAF_RENEW_BEFORE_EXPIRY - Duration::minutes(1),
            now
        ));
        assert!(needs_renewal(now - Duration::minutes(1), now));

        let (_dir, issuer) = issuer();
        let first = issuer.server_config_for("api.stripe.com").unwrap();
        lock(&issuer.inner.leaves).get_mut("api.stripe.com").unwrap().not_after = now + Duration::minutes(30);
        let second = issuer.server_config_for("api.stripe.com").unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "stale leaf replaced");
        let third = issuer.server_config_for("api.stripe.com").unwrap();
        assert!(Arc::ptr_eq(&second, &third), "fresh leaf kept");
    }
}
