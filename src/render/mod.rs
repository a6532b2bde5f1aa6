//! Pure renderers: each takes settings and returns file contents. Strings
//! that reach a config language go through a serializer (JSON, which Vault's
//! HCL parser reads natively) or an escaping function — never pasted raw.

pub mod bundle;
pub mod forwarder;
pub mod listener;
pub mod nft;
#[cfg(test)]
pub(crate) mod props;
pub mod raft;
pub mod schedule;
pub mod yaml;

use std::net::SocketAddr;

/// How one tenant reaches Vault, as the topology derives it: what the
/// bundle renderers take instead of the whole site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// What the tenant's agent talks to: `https://vault.lan:22300`.
    pub url: String,
    /// The name the server certificate is checked against.
    pub name: String,
    /// The bundle's `extra_hosts` entry, `vault.lan:10.9.0.1`.
    pub extra_host: Option<String>,
    /// Where a connection to `url` lands, seen from the host.
    pub connect: SocketAddr,
}

/// A file vaultnet writes (where it is installed, if anywhere, is said by
/// the enable commands that come with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// File name inside its state subdirectory.
    pub name: String,
    pub contents: String,
}
