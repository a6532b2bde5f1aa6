//! Pure renderers: each takes settings and returns file contents. Strings
//! that reach a config language go through a serializer (JSON, which Vault's
//! HCL parser reads natively) or an escaping function — never pasted raw.

pub mod bundle;
pub mod forwarder;
pub mod listener;
pub mod nft;
pub mod yaml;

/// A file vaultnet writes, with where the operator installs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// File name inside its state subdirectory.
    pub name: String,
    pub contents: String,
    /// Where it goes on the host, when it is meant to be installed.
    pub install_to: Option<String>,
}
