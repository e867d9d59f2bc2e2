//! The proxy's private certificate authority and the per-host leaf
//! certificates it presents when terminating TLS.
//!
//! [`CertificateAuthority`] owns the CA files on disk (`ca.pem`,
//! `ca-key.pem`, in `ca`) and mints leaves (`mint`) for the hosts `hosts`
//! permits; the CA carries a critical
//! nameConstraints extension so that a leaked key can only vouch for the
//! hosts the proxy stands in for. [`LeafIssuer`] caches the minted leaves
//! (at most [`LEAF_CACHE_CAPACITY`] hosts, least recently used dropped
//! first) and hands out ready-to-use [`rustls::ServerConfig`]s, both for
//! CONNECT tunnels (host known from the CONNECT line) and for direct
//! connections (host chosen by SNI, with a `localhost`/`127.0.0.1`/`::1`
//! fallback).

mod ca;
mod hosts;
mod leaf;
mod mint;

use std::path::PathBuf;

pub use ca::{CaOrigin, CertificateAuthority, CA_BACKDATE, CA_VALIDITY};
pub use hosts::{permitted_hosts, DEFAULT_PERMITTED_HOSTS};
pub use leaf::{LeafIssuer, FALLBACK_HOSTS, LEAF_CACHE_CAPACITY, LEAF_RENEW_BEFORE_EXPIRY};
pub use mint::{LEAF_BACKDATE, LEAF_VALIDITY};

/// Everything that can go wrong while loading, creating or using the CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA directory could not be created or inspected.
    #[error("could not create or inspect the CA directory {}: {source}", path.display())]
    CaDir {
        /// The directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A CA file exists but could not be read.
    #[error("could not read the CA file {}: {source}", path.display())]
    ReadCaFile {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A CA file could not be written.
    #[error("could not write the CA file {}: {source}", path.display())]
    WriteCaFile {
        /// The file (its final name, not the temporary one).
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// Only one of the two CA files exists; we refuse to overwrite it.
    #[error(
        "found {} but not {}; restore the missing file, or delete {} to generate a new CA",
        present.display(),
        missing.display(),
        present.display()
    )]
    CaFileMissing {
        /// The file that exists.
        present: PathBuf,
        /// The file that does not.
        missing: PathBuf,
    },

    /// A CA file exists but its contents are not what we expect.
    #[error("the CA file {} is malformed: {reason}", path.display())]
    MalformedCa {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The CA on disk was created for fewer hosts than are now asked for.
    #[error(
        "the CA in {} does not permit {}; delete {} and {} to generate a new CA that does",
        cert_path.display(),
        hosts.join(", "),
        cert_path.display(),
        key_path.display()
    )]
    CaDoesNotPermit {
        /// The CA certificate file.
        cert_path: PathBuf,
        /// The CA private key file.
        key_path: PathBuf,
        /// The requested hosts outside the CA's name constraints.
        hosts: Vec<String>,
    },

    /// A leaf was requested for a host outside the CA's name constraints.
    #[error("the CA's name constraints do not permit {host}, so no certificate is issued for it")]
    HostNotPermitted {
        /// The host that was asked for.
        host: String,
    },

    /// A host name that is neither a DNS name nor an IP address.
    #[error("{host:?} is neither a valid DNS name nor an IP address")]
    InvalidHost {
        /// The offending host.
        host: String,
    },

    /// A CA was asked for with an empty list of permitted hosts.
    #[error("the CA must permit at least one host")]
    NoPermittedHosts,

    /// rcgen failed to generate a key or certificate.
    #[error("generating a key or certificate failed: {0}")]
    Rcgen(#[from] rcgen::Error),

    /// rustls rejected a key, certificate or configuration.
    #[error("setting up TLS failed: {0}")]
    Rustls(#[from] rustls::Error),
}
