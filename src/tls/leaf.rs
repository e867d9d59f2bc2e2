//! Per-host leaf certificate cache: turns the CA's leaves into rustls server
//! configs for CONNECT tunnels and for direct (SNI-selected) connections.
//!
//! The cache is bounded ([`LEAF_CACHE_CAPACITY`] hosts, least recently used
//! dropped first): a client can ask for any number of names under an
//! intercepted DNS subtree (`a.localhost`, `b.api.stripe.com`, …). A leaf is
//! minted outside the cache's lock, so a handshake for one name never waits
//! for another name's key to be generated, and on a multi-threaded runtime
//! the minting worker hands its other tasks to another thread first.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use lru::LruCache;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::ServerConfig;
use time::{Duration, OffsetDateTime};

use super::ca::CertificateAuthority;
use super::hosts::Host;
use super::mint::MintedLeaf;
use super::TlsError;

/// A cached leaf is replaced once it is this close to expiring, so no
/// connection is ever handed a certificate that expires mid-session.
pub const LEAF_RENEW_BEFORE_EXPIRY: Duration = Duration::hours(1);

/// Most hosts whose leaf is kept; beyond it the least recently used is
/// dropped (and minted again if it comes back). Real clients use one to a
/// few names.
pub const LEAF_CACHE_CAPACITY: usize = 256;

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
    /// Keyed by the canonical host (lowercase DNS name or IP); only hosts
    /// the CA permits get a slot. Locked only to find or make a slot.
    leaves: Mutex<LruCache<String, Arc<Slot>>>,
    fallback: Slot,
}

/// One host's leaf, minted at most once at a time: concurrent handshakes
/// for the same host wait here for the first one's leaf, not on the cache.
#[derive(Default)]
struct Slot {
    leaf: Mutex<Option<Arc<CachedLeaf>>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeafIssuer")
            .field("ca", &self.ca)
            .field("cached_hosts", &lock(&self.leaves).len())
            .finish_non_exhaustive()
    }
}

struct CachedLeaf {
    key: Arc<CertifiedKey>,
    /// The server config presenting this leaf alone, for CONNECT tunnels;
    /// made on first use (direct clients need only the key, and a config
    /// costs far more memory than the leaf itself).
    config: OnceLock<Arc<ServerConfig>>,
    not_after: OffsetDateTime,
}

impl CachedLeaf {
    fn new(minted: MintedLeaf) -> Self {
        CachedLeaf {
            key: Arc::new(minted.certified_key),
            config: OnceLock::new(),
            not_after: minted.not_after,
        }
    }

    fn is_fresh(&self, now: OffsetDateTime) -> bool {
        !needs_renewal(self.not_after, now)
    }

    fn config(&self, ca: &CertificateAuthority) -> Result<Arc<ServerConfig>, TlsError> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let resolver = Arc::new(SingleCertAndKey::from(Arc::clone(&self.key)));
        let config = server_config(ca, resolver)?;
        // Two tunnels racing here both built one; every later caller gets the first.
        Ok(self.config.get_or_init(|| config).clone())
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

/// Runs `mint` (generating a key and signing a certificate) without
/// holding up the async worker it is called on: rustls asks for the
/// certificate synchronously, inside the handshake, so on a multi-threaded
/// runtime the worker hands its other tasks to another thread first
/// (`block_in_place`). Elsewhere (a current-thread runtime, no runtime) it
/// just runs.
fn off_the_workers<T>(mint: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(mint),
        _ => mint(),
    }
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
    /// Wraps the CA; no leaf is minted until one is needed. At most
    /// [`LEAF_CACHE_CAPACITY`] hosts' leaves are kept.
    pub fn new(ca: Arc<CertificateAuthority>) -> Self {
        LeafIssuer::with_capacity(ca, NonZeroUsize::new(LEAF_CACHE_CAPACITY).unwrap_or(NonZeroUsize::MIN))
    }

    /// Like [`LeafIssuer::new`], keeping at most `capacity` hosts' leaves.
    pub fn with_capacity(ca: Arc<CertificateAuthority>, capacity: NonZeroUsize) -> Self {
        LeafIssuer {
            inner: Arc::new(Inner {
                ca,
                leaves: Mutex::new(LruCache::new(capacity)),
                fallback: Slot::default(),
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
        self.inner.leaf_for(&host)?.config(&self.inner.ca)
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
    /// counted): what the cache tests watch.
    #[cfg(test)]
    fn cached_hosts(&self) -> usize {
        lock(&self.inner.leaves).len()
    }
}

impl Inner {
    /// The cached leaf for `host`, minting it if absent or stale: at most
    /// once for concurrent callers, and without holding the cache's lock,
    /// so other hosts' handshakes go on meanwhile.
    fn leaf_for(&self, host: &Host) -> Result<Arc<CachedLeaf>, TlsError> {
        if !self.ca.permits_host(host) {
            return Err(TlsError::HostNotPermitted { host: host.to_string() });
        }
        self.leaf_with(host, || self.ca.mint(std::slice::from_ref(host)))
    }

    /// [`Inner::leaf_for`], minting with `mint`.
    fn leaf_with(
        &self,
        host: &Host,
        mint: impl FnOnce() -> Result<MintedLeaf, TlsError>,
    ) -> Result<Arc<CachedLeaf>, TlsError> {
        let key = host.to_string();
        let slot = {
            let mut leaves = lock(&self.leaves);
            match leaves.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    let slot = Arc::new(Slot::default());
                    leaves.push(key.clone(), slot.clone());
                    slot
                }
            }
        };
        let minted = self.fill(&slot, mint);
        if minted.is_err() {
            // Leave no empty slot behind for a host that could not be minted.
            let mut leaves = lock(&self.leaves);
            if leaves.peek(&key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                leaves.pop(&key);
            }
        }
        minted
    }

    /// The slot's leaf if it is fresh, else a new one from `mint`.
    fn fill(
        &self,
        slot: &Slot,
        mint: impl FnOnce() -> Result<MintedLeaf, TlsError>,
    ) -> Result<Arc<CachedLeaf>, TlsError> {
        let mut leaf = lock(&slot.leaf);
        if let Some(fresh) = leaf.as_ref().filter(|l| l.is_fresh(OffsetDateTime::now_utc())) {
            return Ok(fresh.clone());
        }
        let minted = Arc::new(CachedLeaf::new(off_the_workers(mint)?));
        tracing::debug!(not_after = %minted.not_after, "minted a leaf certificate");
        *leaf = Some(minted.clone());
        Ok(minted)
    }

    /// The leaf for direct clients without a usable SNI name. It names only
    /// those of [`FALLBACK_HOSTS`] the CA permits.
    fn fallback_leaf(&self) -> Result<Arc<CachedLeaf>, TlsError> {
        self.fill(&self.fallback, || {
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
            self.ca.mint(&hosts)
        })
    }

    fn key_for_sni(&self, sni: Option<&str>) -> Result<Arc<CertifiedKey>, TlsError> {
        let permitted = sni
            .and_then(|name| Host::parse(name).ok())
            .filter(|host| self.ca.permits_host(host));
        let leaf = match permitted {
            Some(host) => self.leaf_for(&host)?,
            None => self.fallback_leaf()?,
        };
        Ok(leaf.key.clone())
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
        let mut client = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
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
    fn ten_thousand_sni_names_leave_the_cache_at_its_bound() {
        let (_dir, issuer) = issuer();
        let name = |i: usize| format!("n{i}.localhost");
        let first = issuer.inner.key_for_sni(Some(&name(0))).unwrap();
        for i in 1..10_000 {
            issuer.inner.key_for_sni(Some(&name(i))).unwrap();
            assert!(issuer.cached_hosts() <= LEAF_CACHE_CAPACITY);
        }
        assert_eq!(issuer.cached_hosts(), LEAF_CACHE_CAPACITY);
        // The newest names are still cached; the oldest was dropped, and
        // coming back it is minted anew (and presents its own name).
        let newest = issuer.inner.key_for_sni(Some(&name(9_999))).unwrap();
        assert!(Arc::ptr_eq(
            &newest,
            &issuer.inner.key_for_sni(Some(&name(9_999))).unwrap()
        ));
        let again = issuer.inner.key_for_sni(Some(&name(0))).unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "the least recently used leaf was dropped");
        assert_eq!(san_names(&again.cert[0]), [name(0)]);
        assert_eq!(issuer.cached_hosts(), LEAF_CACHE_CAPACITY);
    }

    #[tokio::test]
    async fn direct_handshakes_for_more_names_than_the_cache_holds_each_get_their_own_leaf() {
        let (_dir, issuer) = issuer();
        let issuer = LeafIssuer::with_capacity(issuer.ca().clone(), NonZeroUsize::new(2).unwrap());
        let config = issuer.direct_server_config().unwrap();
        for name in ["a.localhost", "b.api.stripe.com", "c.localhost", "a.localhost"] {
            let hs = handshake(config.clone(), issuer.ca(), name, &[b"h2"]).await.unwrap();
            assert_eq!(hs.sans, [name]);
            assert!(issuer.cached_hosts() <= 2);
        }
        assert_eq!(issuer.cached_hosts(), 2);
    }

    #[test]
    fn minting_a_leaf_does_not_hold_up_other_hosts() {
        let (_dir, issuer) = issuer();
        let slow = Host::parse("slow.localhost").unwrap();
        let (started_tx, started) = std::sync::mpsc::channel();
        let (finish, finish_rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            let (issuer, slow) = (&issuer, &slow);
            let slow_mint = s.spawn(move || {
                issuer.inner.leaf_with(slow, || {
                    started_tx.send(()).unwrap();
                    // Held until the other host's leaf is done (or 30 s).
                    let _ = finish_rx.recv_timeout(std::time::Duration::from_secs(30));
                    issuer.ca().mint(std::slice::from_ref(slow))
                })
            });
            started.recv().unwrap();
            // Minted and cached while the slow one is still minting: the
            // cache's lock is not held during minting.
            issuer.server_config_for("fast.localhost").unwrap();
            assert_eq!(issuer.cached_hosts(), 2);
            finish.send(()).unwrap();
            slow_mint.join().unwrap().unwrap();
        });
    }

    #[test]
    fn minting_inside_a_handshake_leaves_the_runtime_workers_free() {
        // One worker: if minting blocked it, the task that lets the mint
        // finish could never run.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (_dir, issuer) = issuer();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let waited = runtime.block_on(async move {
            let minting = tokio::spawn(async move {
                let host = Host::parse("blocking.localhost").unwrap();
                let mut waited = None;
                issuer
                    .inner
                    .leaf_with(&host, || {
                        waited = Some(released.recv_timeout(std::time::Duration::from_secs(30)));
                        issuer.ca().mint(std::slice::from_ref(&host))
                    })
                    .unwrap();
                waited
            });
            tokio::spawn(async move { release.send(()).unwrap() });
            minting.await.unwrap()
        });
        assert_eq!(waited, Some(Ok(())), "the other task ran while the leaf was minted");
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
        let slot = lock(&issuer.inner.leaves).get("api.stripe.com").unwrap().clone();
        let stale = {
            let mut leaf = lock(&slot.leaf);
            let current = leaf.take().unwrap();
            let stale = Arc::new(CachedLeaf {
                key: current.key.clone(),
                config: OnceLock::new(),
                not_after: now + Duration::minutes(30),
            });
            *leaf = Some(stale.clone());
            stale
        };
        assert!(!stale.is_fresh(now));
        let second = issuer.server_config_for("api.stripe.com").unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "stale leaf replaced");
        let third = issuer.server_config_for("api.stripe.com").unwrap();
        assert!(Arc::ptr_eq(&second, &third), "fresh leaf kept");
    }
}
