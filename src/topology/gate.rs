//! Gate kind `uid-allowlist`: the nftables table that admits only tenant
//! uids (and root, for the operator) to the entry, and only root and the
//! forwarder's own user to Vault's own port, which slirp4netns
//! (`allow_host_loopback`) and pasta would otherwise expose to tenants'
//! containers.

use super::{HostFiles, Topology};
use crate::render::Rendered;
use crate::render::nft::{self, NftSpec};

/// The gate's file in `forwarder/`.
pub const FILE: &str = "vaultnet.nft";

pub fn uid_allowlist(t: &Topology<'_>, tenant_uids: &[u32]) -> HostFiles {
    let entries: Vec<_> = t.entry_probes().iter().map(|p| p.addr).collect();
    let mut clients = vec![crate::render::forwarder::identity(t.site.forwarder)];
    clients.extend(t.site.vault_clients.iter().map(String::as_str));
    let text = nft::render(&NftSpec {
        entries: &entries,
        vaults: &t.vault_addrs(),
        tenant_uids,
        vault_clients: &clients,
    });
    HostFiles {
        files: vec![Rendered {
            name: FILE.into(),
            contents: text,
        }],
        enable: vec![format!(
            "nft -f forwarder/{FILE}    # the gate: tenant uids only, never on Vault's port"
        )],
    }
}
