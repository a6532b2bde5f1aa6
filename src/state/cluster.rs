//! An OpenBao raft cluster behind the forwarder: its nodes, given once to
//! `init` (`--vault-node NAME=ADDR:PORT`, repeated), and where each keeps
//! its raft data. Recorded in `vaultnet.yaml` as `site.cluster`; a site
//! without it has one Vault server at `vault_addr`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One node: its name (its raft `node_id`, a DNS label, also in its
/// certificate) and the address of its API listener. Its cluster port is
/// the next port on the same address, as OpenBao's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultNode {
    pub name: String,
    pub addr: SocketAddr,
}

impl VaultNode {
    /// `https://ADDR:PORT`, its `api_addr` and what peers join.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The raft cluster address: the API port + 1.
    pub fn cluster_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr.ip(), self.addr.port() + 1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// In the order `init` was given them.
    pub nodes: Vec<VaultNode>,
    /// Each node keeps its raft data in `<raft_dir>/<name>`.
    pub raft_dir: PathBuf,
    /// This site joined a cluster another site runs (`init --cluster-ca`):
    /// that site wrote the nodes' files and certificates; this one trusts
    /// the nodes through `pki/cluster-ca.pem` and writes none of them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub joined: bool,
    /// Other sites whose tenants use this cluster (`vaultnet sites add`),
    /// sorted by name: the nodes' listeners trust their CAs too
    /// (`pki/clients.pem`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites: Vec<PeerSite>,
}

/// Another site sharing the cluster: its name (the prefix of every Vault
/// name it creates) and its CAs, kept as `pki/sites/NAME.pem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSite {
    pub name: String,
    /// The serial numbers (hex) of the CA certificates trusted for it, as
    /// `sites add` read them: what `sites list` shows and doctor checks
    /// the file against.
    pub serials: Vec<String>,
}

impl Cluster {
    pub fn node(&self, name: &str) -> Option<&VaultNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Where `node` keeps its raft data.
    pub fn raft_path(&self, node: &VaultNode) -> PathBuf {
        self.raft_dir.join(&node.name)
    }
}

/// How node `node` is reloaded: the recorded reload with every `%n` (in
/// the pid file's path, in each word of the command) replaced by its name.
pub fn reload_for(r: &crate::state::VaultReload, node: &str) -> crate::state::VaultReload {
    use crate::state::VaultReload;
    match r {
        VaultReload::Command(argv) => {
            VaultReload::Command(argv.iter().map(|a| a.replace("%n", node)).collect())
        }
        VaultReload::PidFile(p) => {
            VaultReload::PidFile(p.to_string_lossy().replace("%n", node).into())
        }
    }
}

/// In a cluster a pid file names one node: its path must say which
/// (`%n`). A command without `%n` is run once for each node whose
/// certificate is new.
pub fn check_reload(r: Option<&crate::state::VaultReload>) -> Result<()> {
    match r {
        Some(crate::state::VaultReload::PidFile(p)) if !p.to_string_lossy().contains("%n") => {
            Err(Error::usage(format!(
                "`--vault-pid-file {}` names one pid for every node of the cluster",
                p.display()
            ))
            .hint(
                "put `%n` where the node's name goes, e.g. `--vault-pid-file /run/openbao/%n.pid`",
            ))
        }
        _ => Ok(()),
    }
}

/// The default `--raft-dir` for a flavor's server.
pub fn default_raft_dir(binary: &str) -> PathBuf {
    let dir = if binary == "vault" {
        "vault"
    } else {
        "openbao"
    };
    PathBuf::from(format!("/var/lib/{dir}/raft"))
}

const NODE_HINT: &str =
    "pass each node once as `--vault-node NAME=IP:PORT`, e.g. `--vault-node bao1=127.0.0.1:8200`";

/// Parses one `--vault-node NAME=ADDR:PORT`.
pub fn parse_node(s: &str) -> Result<VaultNode> {
    let shown = s.escape_debug().to_string();
    let (name, addr) = s.split_once('=').ok_or_else(|| {
        Error::usage(format!(
            "invalid `--vault-node` `{shown}`: expected NAME=IP:PORT"
        ))
        .hint(NODE_HINT)
    })?;
    node_name(name)?;
    let addr: SocketAddr = addr.parse().map_err(|_| {
        Error::usage(format!(
            "invalid `--vault-node` `{shown}`: `{}` is not IP:PORT",
            addr.escape_debug()
        ))
        .hint(NODE_HINT)
    })?;
    Ok(VaultNode {
        name: name.to_string(),
        addr,
    })
}

/// A node name is a DNS label of at most 32 characters: it names the
/// node's files, its raft `node_id` and a DNS name in its certificate.
pub fn node_name(name: &str) -> Result<()> {
    if crate::state::validate::is_short_label(name) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid node name `{}`: use lower-case letters, digits and inner `-`, at most 32",
            name.escape_debug()
        ))
        .hint(NODE_HINT))
    }
}

/// Names and addresses unique; no node's API or cluster port is another
/// node's; the raft directory absolute and plain.
pub fn validate(c: &Cluster) -> Result<()> {
    if c.nodes.is_empty() {
        return Err(Error::usage("a cluster without nodes").hint(NODE_HINT));
    }
    for (i, n) in c.nodes.iter().enumerate() {
        node_name(&n.name)?;
        if n.addr.port() == 0 || n.addr.port() == u16::MAX {
            return Err(Error::usage(format!(
                "invalid `--vault-node {}={}`: the API port must be 1–65534 (its cluster port is the next one)",
                n.name, n.addr
            ))
            .hint(NODE_HINT));
        }
        for m in &c.nodes[..i] {
            if m.name == n.name {
                return Err(Error::usage(format!("node `{}` is given twice", n.name))
                    .hint("give every node a name of its own"));
            }
            let ports = |x: &VaultNode| [x.addr, x.cluster_addr()];
            if ports(m).iter().any(|a| ports(n).contains(a)) {
                return Err(Error::usage(format!(
                    "nodes `{}` ({}) and `{}` ({}) collide: each node needs its API port and the next one (its cluster port) for itself",
                    m.name, m.addr, n.name, n.addr
                ))
                .hint("give each node its own address, or ports at least 2 apart"));
            }
        }
    }
    let d = c.raft_dir.to_string_lossy();
    if !c.raft_dir.is_absolute() || d.chars().any(char::is_control) {
        return Err(Error::usage(format!(
            "invalid `--raft-dir` `{}`: not an absolute path",
            d.escape_debug()
        ))
        .hint("pass e.g. `--raft-dir /var/lib/openbao/raft`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(nodes: &[&str]) -> Cluster {
        Cluster {
            nodes: nodes.iter().map(|n| parse_node(n).unwrap()).collect(),
            raft_dir: "/var/lib/openbao/raft".into(),
            joined: false,
            sites: Vec::new(),
        }
    }

    #[test]
    fn a_node_is_a_dns_label_and_an_address() {
        let n = parse_node("bao1=127.0.0.2:8200").unwrap();
        assert_eq!(n.name, "bao1");
        assert_eq!(n.cluster_addr().to_string(), "127.0.0.2:8201");
        for bad in [
            "bao1",
            "=127.0.0.1:8200",
            "Bao=127.0.0.1:8200",
            "-b=127.0.0.1:8200",
            "b a=127.0.0.1:8200",
            "bao1=127.0.0.1",
            "bao1=localhost:8200",
        ] {
            let e = parse_node(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.hint_text().unwrap().contains("--vault-node"), "{bad}");
        }
    }

    #[test]
    fn nodes_whose_api_or_cluster_ports_meet_are_refused() {
        assert!(validate(&cluster(&["a=127.0.0.1:8200", "b=127.0.0.2:8200"])).is_ok());
        assert!(validate(&cluster(&["a=127.0.0.1:8200", "b=127.0.0.1:8202"])).is_ok());
        for bad in [
            &["a=127.0.0.1:8200", "a=127.0.0.2:8200"][..],
            &["a=127.0.0.1:8200", "b=127.0.0.1:8200"],
            &["a=127.0.0.1:8200", "b=127.0.0.1:8201"],
            &["a=127.0.0.1:8201", "b=127.0.0.1:8200"],
        ] {
            assert_eq!(
                validate(&cluster(bad)).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
    }
}
