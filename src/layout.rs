//! Where every file of the state directory lives, and the one table of a
//! tenant bundle's files (name, mode, secret or not). Paths only; no I/O.

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
    /// The CA that takes over at the next `renew --rotate-ca`: trusted
    /// from the start, so Vault (which reads its client CA file only when
    /// it starts) already knows it when the rotation comes.
    pub fn next_ca_cert(&self) -> PathBuf {
        self.pki().join("next-ca.pem")
    }
    pub fn next_ca_key(&self) -> PathBuf {
        self.pki().join("next-ca-key.pem")
    }
    /// The CA a rotation replaced, trusted until the last certificate it
    /// issued has expired.
    pub fn previous_ca_cert(&self) -> PathBuf {
        self.pki().join("previous-ca.pem")
    }
    /// Every CA trusted now (current, next, previous): Vault's client CA
    /// file, every bundle's `ca.pem`, and what vaultnet itself trusts.
    pub fn trust(&self) -> PathBuf {
        self.pki().join("trust.pem")
    }
    /// The CAs of the cluster a site joined (`init --cluster-ca`): what
    /// signed the nodes' certificates, which that site issued.
    pub fn cluster_ca(&self) -> PathBuf {
        self.pki().join("cluster-ca.pem")
    }
    /// Other sites sharing this site's cluster: `NAME.pem`, each its CAs.
    pub fn sites(&self) -> PathBuf {
        self.pki().join("sites")
    }
    pub fn site_ca(&self, name: &str) -> PathBuf {
        self.sites().join(format!("{name}.pem"))
    }
    /// The cluster nodes' client CA file once other sites share it: this
    /// site's CAs (`trust.pem`) and every other site's.
    pub fn clients(&self) -> PathBuf {
        self.pki().join("clients.pem")
    }
    /// Replaced CAs, each key with its certificate, named with the date.
    pub fn replaced_cas(&self) -> PathBuf {
        self.pki().join("replaced")
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
    /// A cluster node's own files: its server certificate, its join
    /// client certificate, its listener and its raft stanza.
    pub fn node(&self, name: &str) -> PathBuf {
        self.vault().join("nodes").join(name)
    }
    pub fn node_server_cert(&self, name: &str) -> PathBuf {
        self.node(name).join("server.pem")
    }
    pub fn node_server_key(&self, name: &str) -> PathBuf {
        self.node(name).join("server-key.pem")
    }
    /// The client certificate the node presents when it joins a peer.
    pub fn node_join_cert(&self, name: &str) -> PathBuf {
        self.node(name).join("join.pem")
    }
    pub fn node_join_key(&self, name: &str) -> PathBuf {
        self.node(name).join("join-key.pem")
    }
    pub fn node_listener(&self, name: &str) -> PathBuf {
        self.node(name).join("listener.json")
    }
    /// `storage "raft"` with `retry_join` for every peer, `api_addr`,
    /// `cluster_addr`, `disable_standby_reads`.
    pub fn node_raft(&self, name: &str) -> PathBuf {
        self.node(name).join("raft.json")
    }
    /// The client certificate HAProxy presents in its health checks (key
    /// and certificate in one file, as its `crt` wants).
    pub fn check_cert(&self) -> PathBuf {
        self.forwarder().join("check.pem")
    }
    pub fn check_key(&self) -> PathBuf {
        self.forwarder().join("check-key.pem")
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
    /// The systemd timer and service that run `vaultnet renew`.
    pub fn renew(&self) -> PathBuf {
        self.root.join("renew")
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

/// One file of a tenant bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub name: String,
    /// Its mode, in the state and wherever it is installed.
    pub mode: u32,
    /// Whether it is secret (a key or a credential: SECURITY.md S1, S7).
    pub secret: bool,
}

/// The one table of a tenant bundle's files, in the order they are written
/// and installed: every file a bundle can have ([`bundle_files_for`] picks
/// a tenant's).
pub fn bundle_files(tenant: &str) -> Vec<BundleFile> {
    use crate::sys::fsx::{PUBLIC, SECRET};
    let file = |name: String, secret: bool| BundleFile {
        name,
        mode: if secret { SECRET } else { PUBLIC },
        secret,
    };
    vec![
        file("ca.pem".into(), false),
        file(CLIENT_CERT.into(), false),
        file(CLIENT_KEY.into(), true),
        file(ROLE_ID.into(), true),
        file(SECRET_ID.into(), true),
        file(AGENT.into(), false),
        file(COMPOSE.into(), false),
        file(EXAMPLE_APP.into(), false),
        file(CLI_ENV.into(), false),
        file(format!("{tenant}-vault-agent.container"), false),
        file(format!("{tenant}-vaultnet-secrets.volume"), false),
        file("README.md".into(), false),
    ]
}

/// The bundle's files for a tenant logging in by `auth`: cert auth has no
/// role_id or secret_id.
pub fn bundle_files_for(tenant: &str, auth: crate::state::Auth) -> Vec<BundleFile> {
    bundle_files(tenant)
        .into_iter()
        .filter(|f| auth.is_approle() || (f.name != ROLE_ID && f.name != SECRET_ID))
        .collect()
}

/// Bundle file names other modules refer to.
pub const CLIENT_CERT: &str = "client.pem";
pub const CLIENT_KEY: &str = "client-key.pem";
pub const ROLE_ID: &str = "role_id";
pub const SECRET_ID: &str = "secret_id";
pub const COMPOSE: &str = "compose.yaml";
pub const AGENT: &str = "agent.json";
/// The example app, a compose file that starts as is with [`COMPOSE`].
pub const EXAMPLE_APP: &str = "app.yaml";
/// The CLI's environment for this bundle (address, TLS files, name).
pub const CLI_ENV: &str = "cli.env";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_table_marks_keys_and_credentials_secret_and_0600() {
        let files = bundle_files("alice");
        let secret: Vec<&str> = files
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(secret, ["client-key.pem", "role_id", "secret_id"]);
        for f in &files {
            assert_eq!(f.mode, if f.secret { 0o600 } else { 0o644 }, "{}", f.name);
        }
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ca.pem",
                "client.pem",
                "client-key.pem",
                "role_id",
                "secret_id",
                "agent.json",
                "compose.yaml",
                "app.yaml",
                "cli.env",
                "alice-vault-agent.container",
                "alice-vaultnet-secrets.volume",
                "README.md",
            ]
        );
    }
}
