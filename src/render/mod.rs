//! Pure renderers: each takes settings and returns file contents. Strings
//! that reach a config language go through a serializer (JSON, which Vault's
//! HCL parser reads natively) or an escaping function — never pasted raw.

pub mod bundle;
pub mod forwarder;
pub mod listener;
pub mod nft;
pub mod yaml;

/// A file vaultnet writes (where it is installed, if anywhere, is said by
/// the enable commands that come with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// File name inside its state subdirectory.
    pub name: String,
    pub contents: String,
}
