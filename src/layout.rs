//! Where every file of the state directory lives (DESIGN.md "State
//! directory layout"). Paths only; no I/O.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join(crate::state::STATE_FILE)
    }
    pub fn pki(&self) -> PathBuf {
        self.root.join("pki")
    }
    pub fn ca_cert(&self) -> PathBuf {
        self.pki().join("ca.pem")
    }
    pub fn ca_key(&self) -> PathBuf {
        self.pki().join("ca-key.pem")
    }
    pub fn vault(&self) -> PathBuf {
        self.root.join("vault")
    }
    pub fn server_cert(&self) -> PathBuf {
        self.vault().join("server.pem")
    }
    pub fn server_key(&self) -> PathBuf {
        self.vault().join("server-key.pem")
    }
    pub fn listener(&self) -> PathBuf {
        self.vault().join("listener.json")
    }
    pub fn operator(&self) -> PathBuf {
        self.root.join("operator")
    }
    pub fn operator_cert(&self) -> PathBuf {
        self.operator().join("client.pem")
    }
    pub fn operator_key(&self) -> PathBuf {
        self.operator().join("client-key.pem")
    }
    pub fn forwarder(&self) -> PathBuf {
        self.root.join("forwarder")
    }
    pub fn tenants(&self) -> PathBuf {
        self.root.join("tenants")
    }
    pub fn tenant(&self, name: &str) -> PathBuf {
        self.tenants().join(name)
    }

    /// `path` relative to the state root, for messages.
    pub fn rel<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
    }
}
