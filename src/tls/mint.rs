//! Minting leaf certificates: a fresh key and a short-lived certificate for
//! hosts the CA's name constraints permit, signed by the CA.

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::ca::{random_serial, CertificateAuthority, ORGANIZATION};
use super::hosts::Host;
use super::TlsError;

/// How far before "now" a leaf's validity starts (clock skew allowance).
pub const LEAF_BACKDATE: Duration = Duration::hours(1);
/// How long a leaf is valid for after it is minted. Short, because leaves are
/// cheap to re-mint and never stored.
pub const LEAF_VALIDITY: Duration = Duration::days(7);

/// Deliberately not hostname-shaped: OpenSSL checks a hostname-like subject
/// CN against the CA's DNS name constraints when a leaf has no DNS SAN (as
/// with IP-only leaves), which would wrongly fail.
pub(super) const LEAF_COMMON_NAME: &str = "stripe-vcr leaf";

impl CertificateAuthority {
    /// Mints a leaf certificate for `host` (DNS or IP SAN as appropriate) and
    /// returns it with its fresh private key and the full chain (leaf, CA).
    /// Refuses hosts outside the CA's name constraints.
    #[cfg(test)]
    pub(crate) fn issue_leaf(&self, host: &str) -> Result<CertifiedKey, TlsError> {
        self.issue_leaf_for(&[host])
    }

    /// Mints one leaf certificate (DNS or IP SANs) covering
    /// several hosts (e.g. `localhost`, `127.0.0.1` and `::1`).
    #[cfg(test)]
    pub(crate) fn issue_leaf_for(&self, hosts: &[&str]) -> Result<CertifiedKey, TlsError> {
        let hosts = hosts.iter().map(|h| Host::parse(h)).collect::<Result<Vec<_>, _>>()?;
        Ok(self.mint(&hosts)?.certified_key)
    }

    /// Mints a leaf for already-parsed hosts and reports when it expires.
    pub(crate) fn mint(&self, hosts: &[Host]) -> Result<MintedLeaf, TlsError> {
        if hosts.is_empty() {
            return Err(TlsError::NoPermittedHosts);
        }
        if let Some(host) = hosts.iter().find(|h| !self.permits_host(h)) {
            return Err(TlsError::HostNotPermitted { host: host.to_string() });
        }
        let now = OffsetDateTime::now_utc();
        let not_after = (now + LEAF_VALIDITY).min(self.not_after);

        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, LEAF_COMMON_NAME);
        dn.push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name = dn;
        params.subject_alt_names = hosts.iter().map(Host::to_san).collect::<Result<_, _>>()?;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        params.not_before = now - LEAF_BACKDATE;
        params.not_after = not_after;

        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let chain = vec![cert.der().clone(), self.cert_der.clone()];
        let certified_key = CertifiedKey::from_der(chain, key_der, &self.provider)?;
        Ok(MintedLeaf {
            certified_key,
            not_after,
        })
    }

    /// Signs arbitrary leaf parameters with the CA key, bypassing the name
    /// constraint check, so tests can prove verifiers enforce the constraints.
    #[cfg(test)]
    pub(crate) fn sign_unchecked(
        &self,
        params: &CertificateParams,
        key: &KeyPair,
    ) -> Result<rcgen::Certificate, rcgen::Error> {
        params.signed_by(key, &self.issuer)
    }
}

/// A freshly minted leaf and the moment it stops being valid.
pub(crate) struct MintedLeaf {
    pub(crate) certified_key: CertifiedKey,
    pub(crate) not_after: OffsetDateTime,
}
