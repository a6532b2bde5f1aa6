//! Gate kind `uid-allowlist`: the nftables table that admits only tenant
//! uids (and root, for the operator) to the entry, and only root and the
//! forwarder's own user to Vault's own port, which slirp4netns
//! (`allow_host_loopback`) and pasta would otherwise expose to tenants'
//! containers.

use std::path::Path;

use super::{HostFiles, Topology};
use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::render::nft::{self, NftSpec};
use crate::sys::nft as sys;
pub use crate::sys::nft::Loaded;

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

/// The gate as the kernel of this network namespace holds it: vaultnet
/// reloads a loaded gate when it rewrites its file, and admits a tenant's
/// uid at once where the tenant must pass the gate during the same run
/// (`vaultnet unwrap` as the tenant, through the forwarder). A gate that
/// is not loaded is never loaded by vaultnet: that is the operator's step.
#[derive(Debug, Clone, Copy)]
pub struct Live;

/// A uid was admitted to the loaded gate during this run: the gate is
/// reloaded from its file at the end even if the file did not change.
static ADMITTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Live {
    pub fn loaded(&self) -> Loaded {
        sys::table_loaded("inet", nft::TABLE)
    }

    /// Loads `path` (the gate's file), replacing the loaded table.
    pub fn reload(&self, path: &Path) -> Result<()> {
        sys::load_file(path).map_err(|why| {
            Error::failed(format!(
                "the gate was rewritten but `nft -f {}` failed: {why}",
                path.display()
            ))
            .hint(format!(
                "fix what nft reports, then run `nft -f {}`",
                path.display()
            ))
        })
    }

    /// Whether [`Live::admit`] ran in this process.
    pub fn admitted(&self) -> bool {
        ADMITTED.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Adds `uid` to the loaded gate's tenants, until the next reload
    /// (which the file, with the tenant recorded, then keeps).
    pub fn admit(&self, uid: u32) -> Result<()> {
        ADMITTED.store(true, std::sync::atomic::Ordering::SeqCst);
        for set in ["tenants", "allowed"] {
            sys::add_element("inet", nft::TABLE, set, &uid.to_string()).map_err(|why| {
                Error::failed(format!(
                    "cannot admit uid {uid} to the loaded gate (table inet {}): {why}",
                    nft::TABLE
                ))
                .hint(
                    "load the gate with `nft -f forwarder/vaultnet.nft` and run the command again",
                )
            })?;
        }
        Ok(())
    }
}

/// What the operator is told after the gate's file was written: reloaded,
/// or what is left open until it is loaded.
pub fn written_note(rel: &str, path: &Path, state: Loaded, reloaded: bool) -> String {
    match (state, reloaded) {
        (Loaded::Yes, true) => format!("wrote `{rel}` and reloaded the gate from it"),
        (Loaded::Yes, false) => format!(
            "wrote `{rel}`: the loaded gate is not updated (`--no-gate-reload`); load it with `nft -f {}`",
            path.display()
        ),
        (Loaded::No, _) => format!(
            "wrote `{rel}`: load it with `nft -f {}` (not loaded: until it is, any local user can connect to the forwarder and to Vault's port)",
            path.display()
        ),
        (Loaded::NoNft, _) => format!(
            "wrote `{rel}`: load it with `nft -f {}` (`nft` is not installed here)",
            path.display()
        ),
    }
}
