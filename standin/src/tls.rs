//! TLS: a throw-away CA and the `localhost`/`127.0.0.1` leaf certificate it signs.

use std::sync::Arc;

/// A freshly generated CA plus a leaf certificate for `localhost`/`127.0.0.1`.
pub(crate) struct TlsMaterial {
    /// PEM of the CA certificate: the trust anchor clients should use.
    pub(crate) ca_pem: String,
    /// The certificate chain served (leaf, then CA).
    pub(crate) chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// PKCS#8 DER of the leaf's private key.
    pub(crate) leaf_key: Vec<u8>,
}

impl TlsMaterial {
    /// Generates the CA and the leaf it signs.
    pub(crate) fn generate() -> Result<Self, rcgen::Error> {
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

    /// A rustls server config (ring provider, ALPN `h2` and `http/1.1`).
    pub(crate) fn server_config(&self) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(self.leaf_key.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), key)
            .expect("the generated certificate and key must match");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::TlsAcceptor;

    #[tokio::test]
    async fn generated_chain_verifies_against_the_ca_for_ip_and_localhost() {
        let material = TlsMaterial::generate().expect("generates");
        let acceptor = TlsAcceptor::from(Arc::new(material.server_config()));
        let mut roots = rustls::RootCertStore::empty();
        let ca = material.chain.last().expect("chain has the CA").clone();
        roots.add(ca).expect("CA is a valid root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
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
}
