//! Host names as the CA sees them: parsing and canonicalising a host from a
//! CONNECT line, SNI or the command line; which hosts the proxy intercepts;
//! and RFC 5280 name-constraint matching (the CA's permitted subtrees).

use std::fmt;
use std::net::IpAddr;

use rcgen::{CidrSubnet, GeneralSubtree, NameConstraints, SanType};

use super::TlsError;

/// The hosts the CA permits unless the caller asks for others: Stripe's API
/// host (for CONNECT tunnels) and the loopback names (for direct connections).
pub const DEFAULT_PERMITTED_HOSTS: &[&str] = &["api.stripe.com", "localhost", "127.0.0.1", "::1"];

/// The hosts the CA may sign for (and the proxy intercepts): the built-in
/// ones plus `extra`.
pub fn permitted_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = DEFAULT_PERMITTED_HOSTS.iter().map(|h| (*h).to_owned()).collect();
    for host in extra {
        let host = host.trim().to_ascii_lowercase();
        if !host.is_empty() && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// A host name in canonical form: lowercase DNS name without trailing dot, or
/// a parsed IP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Dns(String),
    Ip(IpAddr),
}

impl Host {
    /// Parses and canonicalises a host as found in a CONNECT line, SNI or a
    /// configuration list (`API.Stripe.com.`, `[::1]` and `::1` are accepted).
    pub(crate) fn parse(host: &str) -> Result<Self, TlsError> {
        let invalid = || TlsError::InvalidHost { host: host.to_owned() };
        let trimmed = host.trim();
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(trimmed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Host::Ip(ip));
        }
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed).to_ascii_lowercase();
        if name.is_empty() || name.contains('*') {
            return Err(invalid());
        }
        rustls_pki_types::DnsName::try_from(name.as_str()).map_err(|_| invalid())?;
        Ok(Host::Dns(name))
    }

    pub(super) fn to_san(&self) -> Result<SanType, TlsError> {
        Ok(match self {
            Host::Dns(name) => SanType::DnsName(name.as_str().try_into()?),
            Host::Ip(ip) => SanType::IpAddress(*ip),
        })
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Dns(name) => f.write_str(name),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One permitted subtree of the CA's nameConstraints extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subtree {
    /// A DNS name; matches itself and its subdomains (RFC 5280 §4.2.1.10).
    /// A leading dot means subdomains only.
    Dns(String),
    /// An address and mask of equal length (4 or 16 bytes).
    Ip { addr: Vec<u8>, mask: Vec<u8> },
}

impl Subtree {
    pub(super) fn matches(&self, host: &Host) -> bool {
        match (self, host) {
            (Subtree::Dns(base), Host::Dns(name)) => {
                let base = base.to_ascii_lowercase();
                if let Some(suffix) = base.strip_prefix('.') {
                    name.len() > suffix.len() + 1 && name.ends_with(&format!(".{suffix}"))
                } else {
                    *name == base || name.ends_with(&format!(".{base}"))
                }
            }
            (Subtree::Ip { addr, mask }, Host::Ip(ip)) => {
                let octets = ip_octets(ip);
                octets.len() == addr.len() && octets.iter().zip(addr).zip(mask).all(|((o, a), m)| o & m == a & m)
            }
            _ => false,
        }
    }
}

impl fmt::Display for Subtree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subtree::Dns(name) => f.write_str(name),
            Subtree::Ip { addr, mask } => {
                let ip = match (
                    <[u8; 4]>::try_from(addr.as_slice()),
                    <[u8; 16]>::try_from(addr.as_slice()),
                ) {
                    (Ok(v4), _) => IpAddr::from(v4),
                    (_, Ok(v6)) => IpAddr::from(v6),
                    _ => return write!(f, "<invalid IP subtree>"),
                };
                if mask.iter().all(|b| *b == 0xff) {
                    write!(f, "{ip}")
                } else {
                    let prefix: u32 = mask.iter().map(|b| b.count_ones()).sum();
                    write!(f, "{ip}/{prefix}")
                }
            }
        }
    }
}

fn ip_octets(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// The nameConstraints for `hosts`. If no IP address is permitted, all IPs
/// are excluded: RFC 5280 leaves a name type without permitted subtrees
/// unconstrained, which would let the CA vouch for any IP address.
pub(super) fn name_constraints(hosts: &[Host]) -> NameConstraints {
    let permitted_subtrees: Vec<GeneralSubtree> = hosts
        .iter()
        .map(|h| match h {
            Host::Dns(name) => GeneralSubtree::DnsName(name.clone()),
            Host::Ip(ip @ IpAddr::V4(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, 32)),
            Host::Ip(ip @ IpAddr::V6(_)) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(*ip, 128)),
        })
        .collect();
    let excluded_subtrees = if hosts.iter().any(|h| matches!(h, Host::Ip(_))) {
        Vec::new()
    } else {
        vec![
            GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([0; 4], 0)),
            GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix([0; 16], 0)),
        ]
    };
    NameConstraints {
        permitted_subtrees,
        excluded_subtrees,
    }
}
