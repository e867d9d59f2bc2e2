//! The life cycle of the proxy's private, name-constrained certificate
//! authority: loading it from disk or creating it (written atomically, the
//! key readable by its owner only), and what it tells about itself.
//! Minting leaves is `mint`; which hosts it may sign for is `hosts`.

use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use super::hosts::{name_constraints, Host, Subtree};
use super::TlsError;

/// How far before "now" the CA's validity starts, so a client whose clock is
/// a little behind still accepts it.
pub const CA_BACKDATE: Duration = Duration::days(1);
/// How long the CA is valid for (ten years): it is installed in trust stores
/// once and should not need replacing.
pub const CA_VALIDITY: Duration = Duration::days(3650);
const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const CA_COMMON_NAME: &str = "stripe-vcr local CA";
pub(super) const ORGANIZATION: &str = "stripe-vcr";
/// Whether [`CertificateAuthority::load_or_create`] found existing CA files or
/// wrote new ones (the caller tells the user to trust a new CA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaOrigin {
    /// New `ca.pem` and `ca-key.pem` files were generated.
    Created,
    /// Existing files were loaded.
    Loaded,
}

/// The proxy's private CA. Clients trust its certificate (`ca.pem`); the
/// proxy signs short-lived leaves with its key for the hosts it stands in for.
pub struct CertificateAuthority {
    cert_path: PathBuf,
    key_path: PathBuf,
    pub(super) cert_der: CertificateDer<'static>,
    pub(super) not_after: OffsetDateTime,
    pub(super) issuer: Issuer<'static, KeyPair>,
    permitted: Vec<Subtree>,
    permitted_display: Vec<String>,
    pub(super) provider: Arc<CryptoProvider>,
}

impl fmt::Debug for CertificateAuthority {
    // Hand-written so the signing key can never end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .field("permitted_hosts", &self.permitted_display)
            .field("fingerprint_sha256", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from `dir/ca.pem` and `dir/ca-key.pem`, or generates and
    /// writes a new one permitting `permitted_hosts` if neither file exists.
    ///
    /// A loaded CA must permit every host in `permitted_hosts`; otherwise the
    /// error says which are missing and that deleting the files regenerates
    /// the CA. If only one of the files exists this is an error rather than
    /// overwriting it, since the user may have installed that certificate.
    pub fn load_or_create(
        dir: &Path,
        permitted_hosts: &[String],
    ) -> Result<(CertificateAuthority, CaOrigin), TlsError> {
        let mut requested: Vec<Host> = Vec::with_capacity(permitted_hosts.len());
        for host in permitted_hosts {
            let host = Host::parse(host)?;
            if !requested.contains(&host) {
                requested.push(host);
            }
        }
        if requested.is_empty() {
            return Err(TlsError::NoPermittedHosts);
        }
        fs::create_dir_all(dir).map_err(|source| TlsError::CaDir {
            path: dir.to_owned(),
            source,
        })?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let exists = |path: &Path| {
            path.try_exists().map_err(|source| TlsError::CaDir {
                path: dir.to_owned(),
                source,
            })
        };
        match (exists(&cert_path)?, exists(&key_path)?) {
            (true, true) => {
                let ca = Self::load(cert_path, key_path)?;
                let missing: Vec<String> = requested
                    .iter()
                    .filter(|h| !ca.permits_host(h))
                    .map(Host::to_string)
                    .collect();
                if !missing.is_empty() {
                    return Err(TlsError::CaDoesNotPermit {
                        cert_path: ca.cert_path,
                        key_path: ca.key_path,
                        hosts: missing,
                    });
                }
                tracing::debug!(path = %ca.cert_path.display(), "loaded CA");
                Ok((ca, CaOrigin::Loaded))
            }
            (false, false) => {
                let ca = Self::create(cert_path, key_path, &requested)?;
                tracing::info!(path = %ca.cert_path.display(), "generated a new CA");
                Ok((ca, CaOrigin::Created))
            }
            (true, false) => Err(TlsError::CaFileMissing {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(TlsError::CaFileMissing {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    fn create(cert_path: PathBuf, key_path: PathBuf, hosts: &[Host]) -> Result<Self, TlsError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let now = OffsetDateTime::now_utc();

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, CA_COMMON_NAME);
        dn.push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - CA_BACKDATE;
        params.not_after = now + CA_VALIDITY;
        params.name_constraints = Some(name_constraints(hosts));
        let cert = params.self_signed(&key)?;

        // Key first: if we crash between the two writes, the next run reports
        // the missing certificate instead of finding a certificate without key.
        write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
        write_atomically(&cert_path, cert.pem().as_bytes(), 0o644)?;
        if let Some(dir) = cert_path.parent() {
            // Make the renames durable; failure here is not worth aborting for.
            if let Err(err) = File::open(dir).and_then(|d| d.sync_all()) {
                tracing::debug!(%err, "could not fsync the CA directory");
            }
        }
        Self::from_parts(cert_path, key_path, cert.pem(), key)
    }

    fn load(cert_path: PathBuf, key_path: PathBuf) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            fs::read_to_string(path).map_err(|source| TlsError::ReadCaFile {
                path: path.to_owned(),
                source,
            })
        };
        let cert_pem = read(&cert_path)?;
        let key_pem = read(&key_path)?;
        if let Ok(meta) = fs::metadata(&key_path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %key_path.display(),
                    "the CA private key is readable by other users; chmod 600 it"
                );
            }
        }
        let key = KeyPair::from_pem(&key_pem).map_err(|err| TlsError::MalformedCa {
            path: key_path.clone(),
            reason: format!("not a usable private key ({err})"),
        })?;
        Self::from_parts(cert_path, key_path, cert_pem, key)
    }

    /// Builds the CA from its certificate PEM and key, checking that the
    /// certificate is a CA certificate with name constraints matching the key.
    fn from_parts(cert_path: PathBuf, key_path: PathBuf, cert_pem: String, key: KeyPair) -> Result<Self, TlsError> {
        let malformed = |reason: String| TlsError::MalformedCa {
            path: cert_path.clone(),
            reason,
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|err| malformed(format!("no PEM certificate found ({err})")))?;
        let (_, x509) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|err| malformed(format!("not an X.509 certificate ({err})")))?;

        let is_ca = x509
            .basic_constraints()
            .map_err(|err| malformed(format!("bad basicConstraints ({err})")))?
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(malformed(
                "not a CA certificate (basicConstraints CA:TRUE missing)".into(),
            ));
        }
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(malformed(format!(
                "it does not match the private key in {}",
                key_path.display()
            )));
        }
        let constraints = x509
            .name_constraints()
            .map_err(|err| malformed(format!("bad nameConstraints ({err})")))?
            .ok_or_else(|| malformed("it has no nameConstraints, so it could vouch for any site".into()))?;
        let mut permitted = Vec::new();
        for subtree in constraints.value.permitted_subtrees.iter().flatten() {
            match &subtree.base {
                GeneralName::DNSName(name) => permitted.push(Subtree::Dns(name.to_string())),
                GeneralName::IPAddress(bytes) if bytes.len() == 8 || bytes.len() == 32 => {
                    let (addr, mask) = bytes.split_at(bytes.len() / 2);
                    permitted.push(Subtree::Ip {
                        addr: addr.to_vec(),
                        mask: mask.to_vec(),
                    });
                }
                _ => {}
            }
        }
        if permitted.is_empty() {
            return Err(malformed("its nameConstraints permit no DNS name or IP address".into()));
        }
        let not_after = x509.validity().not_after.to_datetime();
        let permitted_display = permitted.iter().map(Subtree::to_string).collect();
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|err| malformed(format!("rcgen cannot use it as an issuer ({err})")))?;
        let cert_der = cert_der.into_owned();
        Ok(CertificateAuthority {
            cert_path,
            key_path,
            cert_der,
            not_after,
            issuer,
            permitted,
            permitted_display,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// Path of the CA certificate, for the banner and `SSL_CERT_FILE`-style
    /// client settings.
    pub fn cert_pem_path(&self) -> &Path {
        &self.cert_path
    }

    /// Path of the CA private key (mode 0600), so the banner can say where it is.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// The CA certificate in PEM form, as written to `ca.pem`.
    #[cfg(test)]
    pub(crate) fn cert_pem(&self) -> String {
        fs::read_to_string(&self.cert_path).expect("ca.pem readable")
    }

    /// The CA certificate in DER form, e.g. to build a root store in tests.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// SHA-256 fingerprint of the CA certificate as colon-separated uppercase
    /// hex, the format `openssl x509 -fingerprint -sha256` prints, so users can
    /// compare what they installed with what the proxy uses.
    pub fn fingerprint_sha256(&self) -> String {
        Sha256::digest(self.cert_der.as_ref())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The permitted subtrees of the CA's name constraints, as read from the
    /// certificate (DNS names; IP addresses, with `/prefix` unless a single host).
    pub fn permitted_hosts(&self) -> &[String] {
        &self.permitted_display
    }

    /// Whether the CA's name constraints allow a leaf for `host`: a DNS name
    /// equal to or under a permitted name, or an IP inside a permitted subnet.
    /// Malformed hosts are not permitted.
    pub fn permits(&self, host: &str) -> bool {
        Host::parse(host).is_ok_and(|h| self.permits_host(&h))
    }

    pub(crate) fn permits_host(&self, host: &Host) -> bool {
        self.permitted.iter().any(|s| s.matches(host))
    }

    /// The crypto provider every TLS config built from this CA uses.
    pub(crate) fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }
}

/// A random positive 128-bit serial with its top byte non-zero, so the DER
/// INTEGER is minimal and always 16 bytes long.
pub(super) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// Writes `contents` to `path` via a temporary file in the same directory,
/// created with `mode`, fsynced, then renamed over `path` (tempfile removes
/// it if anything fails on the way).
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let err = |source| TlsError::WriteCaFile {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("ca");
    let mut file = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(dir)
        .map_err(err)?;
    file.write_all(contents).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::hosts::DEFAULT_PERMITTED_HOSTS;
    use crate::tls::mint::{LEAF_BACKDATE, LEAF_COMMON_NAME, LEAF_VALIDITY};
    use rcgen::ExtendedKeyUsagePurpose;
    use std::net::IpAddr;
    use std::process::Command;

    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls::RootCertStore;
    use rustls_pki_types::{ServerName, UnixTime};
    use x509_parser::certificate::X509Certificate;
    use x509_parser::extensions::ParsedExtension;

    fn default_hosts() -> Vec<String> {
        DEFAULT_PERMITTED_HOSTS.iter().map(|h| h.to_string()).collect()
    }

    fn new_ca() -> (tempfile::TempDir, CertificateAuthority) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca, origin) = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).expect("create CA");
        assert_eq!(origin, CaOrigin::Created);
        (dir, ca)
    }

    fn parse(der: &[u8]) -> X509Certificate<'_> {
        x509_parser::parse_x509_certificate(der).expect("parse").1
    }

    fn ski<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
        cert.iter_extensions().find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
    }

    fn aki<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
        cert.iter_extensions().find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
            _ => None,
        })
    }

    fn leaf_der(ca: &CertificateAuthority, host: &str) -> CertificateDer<'static> {
        let ck = ca.issue_leaf(host).expect("issue leaf");
        assert_eq!(ck.cert.len(), 2, "chain is leaf + CA");
        assert_eq!(&ck.cert[1], ca.cert_der(), "second in chain is the CA");
        ck.cert[0].clone()
    }

    #[test]
    fn ca_certificate_has_the_expected_extensions() {
        let (_dir, ca) = new_ca();
        let cert = parse(ca.cert_der());

        let bc = cert.basic_constraints().unwrap().expect("basicConstraints");
        assert!(bc.critical);
        assert!(bc.value.ca);
        assert_eq!(bc.value.path_len_constraint, Some(0));

        let ku = cert.key_usage().unwrap().expect("keyUsage");
        assert!(ku.critical);
        assert!(ku.value.key_cert_sign());
        assert!(ku.value.crl_sign());
        assert!(ku.value.digital_signature());

        let ski = ski(&cert).expect("SKI");
        assert_eq!(aki(&cert), Some(ski), "self-signed: AKI equals SKI");

        let cn: Vec<_> = cert.subject().iter_common_name().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(cn, ["stripe-vcr local CA"]);
        let o: Vec<_> = cert
            .subject()
            .iter_organization()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(o, ["stripe-vcr"]);

        let nc = cert.name_constraints().unwrap().expect("nameConstraints");
        assert!(nc.critical);
        let permitted: Vec<String> = nc
            .value
            .permitted_subtrees
            .as_ref()
            .expect("permitted subtrees")
            .iter()
            .map(|s| match &s.base {
                GeneralName::DNSName(n) => format!("dns:{n}"),
                GeneralName::IPAddress(b) => format!("ip:{b:?}"),
                other => format!("other:{other:?}"),
            })
            .collect();
        let mut v6 = vec![0u8; 16];
        v6[15] = 1;
        v6.extend([0xff; 16]);
        assert_eq!(
            permitted,
            [
                "dns:api.stripe.com".to_string(),
                "dns:localhost".to_string(),
                format!("ip:{:?}", [127u8, 0, 0, 1, 255, 255, 255, 255]),
                format!("ip:{v6:?}"),
            ]
        );
        assert!(nc.value.excluded_subtrees.is_none());

        let validity = cert.validity();
        let now = OffsetDateTime::now_utc();
        let nb = validity.not_before.to_datetime();
        let na = validity.not_after.to_datetime();
        assert!((now - CA_BACKDATE - nb).abs() < Duration::minutes(1));
        assert!((now + CA_VALIDITY - na).abs() < Duration::minutes(1));
    }

    #[test]
    fn leaf_certificates_have_the_expected_extensions() {
        let (_dir, ca) = new_ca();
        let ca_cert_der = ca.cert_der().clone();
        let ca_cert = parse(&ca_cert_der);
        let ca_ski = ski(&ca_cert).expect("CA SKI").to_vec();

        let dns_der = leaf_der(&ca, "api.stripe.com");
        let ip_der = leaf_der(&ca, "127.0.0.1");
        let v6_der = leaf_der(&ca, "[::1]");
        let now = OffsetDateTime::now_utc();

        for (der, expected) in [
            (&dns_der, "dns:api.stripe.com"),
            (&ip_der, "ip:127.0.0.1"),
            (&v6_der, "ip:::1"),
        ] {
            let cert = parse(der);
            let san = cert.subject_alternative_name().unwrap().expect("SAN");
            let names: Vec<String> = san
                .value
                .general_names
                .iter()
                .map(|n| match n {
                    GeneralName::DNSName(d) => format!("dns:{d}"),
                    GeneralName::IPAddress(b) => {
                        let ip = match b.len() {
                            4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()),
                            _ => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()),
                        };
                        format!("ip:{ip}")
                    }
                    other => format!("other:{other:?}"),
                })
                .collect();
            assert_eq!(names, [expected]);

            let eku = cert.extended_key_usage().unwrap().expect("EKU");
            assert!(eku.value.server_auth);
            assert!(!eku.value.any);

            let bc = cert.basic_constraints().unwrap().expect("basicConstraints");
            assert!(!bc.value.ca);

            let ku = cert.key_usage().unwrap().expect("keyUsage");
            assert!(ku.value.digital_signature());
            assert!(!ku.value.key_cert_sign());

            assert_eq!(aki(&cert), Some(ca_ski.as_slice()), "AKI is the CA's SKI");
            assert_eq!(cert.issuer(), ca_cert.subject());

            let nb = cert.validity().not_before.to_datetime();
            let na = cert.validity().not_after.to_datetime();
            assert!((now - LEAF_BACKDATE - nb).abs() < Duration::minutes(1));
            assert!((now + LEAF_VALIDITY - na).abs() < Duration::minutes(1));
        }

        let serial_a = parse(&dns_der).raw_serial().to_vec();
        let serial_b = parse(&leaf_der(&ca, "api.stripe.com")).raw_serial().to_vec();
        assert_eq!(serial_a.len(), 16);
        assert_ne!(serial_a, serial_b);
    }

    #[test]
    fn load_or_create_twice_loads_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("nested").join("ca");
        let (first, origin) = CertificateAuthority::load_or_create(&sub, &default_hosts()).unwrap();
        assert_eq!(origin, CaOrigin::Created);
        let (second, origin) = CertificateAuthority::load_or_create(&sub, &default_hosts()).unwrap();
        assert_eq!(origin, CaOrigin::Loaded);
        assert_eq!(first.cert_der(), second.cert_der());
        assert_eq!(first.cert_der(), second.cert_der());
        assert_eq!(first.fingerprint_sha256(), second.fingerprint_sha256());
        assert_eq!(second.permitted_hosts(), default_hosts().as_slice());
        assert_eq!(second.cert_pem_path(), sub.join("ca.pem"));

        let mode = fs::metadata(second.key_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let leftovers: Vec<_> = fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "ca.pem" && n != "ca-key.pem")
            .collect();
        assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

        // A loaded CA can still sign leaves that chain to it.
        let leaf = second.issue_leaf("localhost").unwrap();
        let cert = parse(&leaf.cert[0]);
        assert_eq!(aki(&cert), ski(&parse(first.cert_der())));

        // A subset of the original hosts is fine; a new host is not.
        let (_, origin) =
            CertificateAuthority::load_or_create(&sub, &["localhost".to_string(), "LOCALHOST".to_string()]).unwrap();
        assert_eq!(origin, CaOrigin::Loaded);
        let err =
            CertificateAuthority::load_or_create(&sub, &["api.stripe.com".to_string(), "files.stripe.com".to_string()])
                .unwrap_err();
        assert!(matches!(&err, TlsError::CaDoesNotPermit { hosts, .. } if hosts == &["files.stripe.com"]));
        let msg = err.to_string();
        assert!(msg.contains("files.stripe.com") && msg.contains("delete"), "{msg}");
    }

    #[test]
    fn only_one_ca_file_present_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap();
        let cert_pem = ca.cert_pem();

        fs::remove_file(ca.key_path()).unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap_err();
        assert!(
            matches!(&err, TlsError::CaFileMissing { missing, .. } if missing.ends_with("ca-key.pem")),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(ca.cert_pem_path()).unwrap(),
            cert_pem,
            "cert untouched"
        );

        fs::remove_file(ca.cert_pem_path()).unwrap();
        fs::write(ca.key_path(), "key").unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap_err();
        assert!(
            matches!(&err, TlsError::CaFileMissing { missing, .. } if missing.ends_with("ca.pem")),
            "{err}"
        );
        assert!(err.to_string().contains("ca.pem"));
    }

    #[test]
    fn malformed_ca_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap();
        fs::write(ca.cert_pem_path(), "not a certificate").unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap_err();
        assert!(
            matches!(&err, TlsError::MalformedCa { path, .. } if path.ends_with("ca.pem")),
            "{err}"
        );

        // A certificate that does not belong to the key is rejected too.
        let other = tempfile::tempdir().unwrap();
        let (other_ca, _) = CertificateAuthority::load_or_create(other.path(), &default_hosts()).unwrap();
        fs::write(ca.cert_pem_path(), other_ca.cert_pem()).unwrap();
        let err = CertificateAuthority::load_or_create(dir.path(), &default_hosts()).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn permits_follows_rfc5280_matching() {
        let (_dir, ca) = new_ca();
        for host in [
            "api.stripe.com",
            "API.Stripe.COM.",
            "v1.api.stripe.com",
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
        ] {
            assert!(ca.permits(host), "{host} should be permitted");
        }
        for host in [
            "stripe.com",
            "evilapi.stripe.com",
            "api.stripe.com.evil.test",
            "127.0.0.2",
            "::2",
            "10.0.0.1",
            "",
            "*.stripe.com",
        ] {
            assert!(!ca.permits(host), "{host} should not be permitted");
        }
        assert!(matches!(
            ca.issue_leaf("example.com"),
            Err(TlsError::HostNotPermitted { host }) if host == "example.com"
        ));
        assert!(matches!(
            ca.issue_leaf("10.1.2.3"),
            Err(TlsError::HostNotPermitted { .. })
        ));
        assert!(matches!(ca.issue_leaf("bad host"), Err(TlsError::InvalidHost { .. })));
    }

    #[test]
    fn dns_only_ca_excludes_all_ip_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = CertificateAuthority::load_or_create(dir.path(), &["api.stripe.com".to_string()]).unwrap();
        let cert = parse(ca.cert_der());
        let nc = cert.name_constraints().unwrap().expect("nameConstraints");
        assert_eq!(nc.value.excluded_subtrees.as_ref().map(Vec::len), Some(2));
        assert!(!ca.permits("127.0.0.1"));
        assert_eq!(ca.permitted_hosts(), ["api.stripe.com"]);
        let (ok, text) = openssl_verify(&ca, &rogue_leaf(&ca, "10.0.0.1"));
        assert!(!ok && text.contains("excluded subtree"), "{text}");
    }

    #[test]
    fn debug_output_never_contains_key_material() {
        let (_dir, ca) = new_ca();
        let key_pem = fs::read_to_string(ca.key_path()).unwrap();
        let key_body: String = key_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let debug = format!("{ca:?} {ca:#?}");
        assert!(debug.contains("ca-key.pem"));
        assert!(debug.contains("api.stripe.com"));
        assert!(!debug.contains("PRIVATE KEY"));
        assert!(!debug.contains(&key_body[..40]), "key material in Debug output");
    }

    /// A leaf for `host` signed directly with the CA key, skipping the
    /// constraint check in `issue_leaf`.
    fn rogue_leaf(ca: &CertificateAuthority, host: &str) -> CertificateDer<'static> {
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, LEAF_COMMON_NAME);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        let now = OffsetDateTime::now_utc();
        params.not_before = now - LEAF_BACKDATE;
        params.not_after = now + LEAF_VALIDITY;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        ca.sign_unchecked(&params, &key).unwrap().der().clone()
    }

    fn openssl_verify(ca: &CertificateAuthority, leaf: &CertificateDer<'_>) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let leaf_path = dir.path().join("leaf.pem");
        fs::write(&leaf_path, pem_encode(leaf)).unwrap();
        let out = Command::new("openssl")
            .arg("verify")
            .arg("-x509_strict")
            .arg("-CAfile")
            .arg(ca.cert_pem_path())
            .arg(&leaf_path)
            .output()
            .expect("run openssl");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn pem_encode(der: &CertificateDer<'_>) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    #[test]
    fn openssl_strict_verification() {
        let (_dir, ca) = new_ca();
        // The CA itself passes strict checks as a trust anchor.
        let ca_der = ca.cert_der().clone();
        let (ok, text) = openssl_verify(&ca, &ca_der);
        assert!(ok && text.contains("OK"), "CA: {text}");

        for host in ["api.stripe.com", "localhost", "127.0.0.1", "::1"] {
            let (ok, text) = openssl_verify(&ca, &leaf_der(&ca, host));
            assert!(ok && text.contains(": OK"), "{host}: {text}");
        }
        let fallback = ca.issue_leaf_for(&["localhost", "127.0.0.1", "::1"]).unwrap();
        let (ok, text) = openssl_verify(&ca, &fallback.cert[0]);
        assert!(ok, "fallback: {text}");

        for host in ["example.com", "evilapi.stripe.com", "10.0.0.1"] {
            let (ok, text) = openssl_verify(&ca, &rogue_leaf(&ca, host));
            assert!(!ok, "{host} should fail: {text}");
            assert!(
                text.contains("name constraint") || text.contains("subtree"),
                "{host}: expected a name-constraints error, got: {text}"
            );
        }
    }

    #[test]
    fn rustls_verifier_enforces_the_name_constraints() {
        let (_dir, ca) = new_ca();
        let mut roots = RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let verify = |der: &CertificateDer<'_>, name: &str| {
            verifier.verify_server_cert(
                der,
                &[],
                &ServerName::try_from(name.to_string()).unwrap(),
                &[],
                UnixTime::now(),
            )
        };

        verify(&leaf_der(&ca, "api.stripe.com"), "api.stripe.com").expect("permitted DNS leaf");
        verify(&leaf_der(&ca, "127.0.0.1"), "127.0.0.1").expect("permitted IP leaf");

        for host in ["example.com", "10.0.0.1"] {
            let err = verify(&rogue_leaf(&ca, host), host).expect_err("outside constraints");
            assert!(
                format!("{err:?}").contains("NameConstraintViolation"),
                "{host}: {err:?}"
            );
        }
    }
}
