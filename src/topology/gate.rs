//! Gate kinds `uid-allowlist`, `source-allowlist`,
//! `optional-source-allowlist` and `per-port`: the nftables table that admits only tenant
//! uids (and root, for the operator) to the entry from this host, and only
//! root and the forwarder's own user to Vault's loopback port, which
//! slirp4netns (`allow_host_loopback`) and pasta would otherwise expose to
//! tenants' containers. The source-allowlist kinds also admit clients from
//! outside this host, from the networks `init --allow-cidr` lists (or,
//! for the optional kind without any, from every network).

use std::path::Path;

use super::profile::{GateKind, Profile};
use super::{HostFiles, Topology};
use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::render::nft::{self, NftSpec, Remote};
use crate::state::Site;
use crate::state::cidr::Cidr;
use crate::sys::nft as sys;
pub use crate::sys::nft::Loaded;

/// The gate's file in `forwarder/`.
pub const FILE: &str = "vaultnet.nft";

/// Who `gate` admits to the entry from outside this host.
pub fn remote(gate: GateKind, site: &Site) -> Remote<'_> {
    match gate {
        GateKind::UidAllowlist | GateKind::PerPort => Remote::None,
        GateKind::OptionalSourceAllowlist if site.allow_cidrs.is_empty() => Remote::Any,
        GateKind::SourceAllowlist | GateKind::OptionalSourceAllowlist => {
            Remote::Listed(&site.allow_cidrs)
        }
    }
}

/// The networks of `init --allow-cidr`: the flagged ones, else the
/// recorded ones while the profile's gate admits remote clients (a
/// profile that admits none drops them; [`check`] refuses flagged ones).
pub fn allow_cidrs(profile: &Profile, flagged: &[Cidr], recorded: Option<&[Cidr]>) -> Vec<Cidr> {
    match (flagged.is_empty(), recorded) {
        (false, _) => flagged.to_vec(),
        (true, Some(r)) if profile.gate.admits_remote() => r.to_vec(),
        (true, _) => Vec::new(),
    }
}

/// The site's networks fit the profile's gate: none where the gate admits
/// nobody from outside, at least one where it admits only listed ones,
/// and each of the entry's address family (a client of the other family
/// never reaches it).
pub fn check(site: &Site, profile: &Profile) -> Result<()> {
    let name = profile.name();
    let list = &site.allow_cidrs;
    if !profile.gate.admits_remote() {
        if let Some(c) = list.first() {
            return Err(Error::usage(format!(
                "`--allow-cidr {c}` does not apply to profile {name}: its gate admits no client from outside this host"
            ))
            .hint(format!(
                "drop `--allow-cidr`, or choose a profile that admits remote clients: {}",
                remote_profiles()
            )));
        }
        return Ok(());
    }
    if profile.gate == GateKind::SourceAllowlist && list.is_empty() {
        return Err(Error::usage(format!(
            "profile {name} admits clients from outside this host only from the networks `--allow-cidr` lists, and none is listed"
        ))
        .hint("pass `--allow-cidr NETWORK` for each client network, e.g. `--allow-cidr 192.168.1.0/24`; or `--profile l1` for local tenants only"));
    }
    let v4 = site.host_ip.is_ipv4();
    if let Some(c) = list.iter().find(|c| c.is_ipv4() != v4) {
        let fam = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
        return Err(Error::usage(format!(
            "`--allow-cidr {c}` is {}, and the entry's host address {} is {}: no client from it can connect",
            fam(!v4),
            site.host_ip,
            fam(v4)
        ))
        .hint(format!(
            "pass {} networks with `--allow-cidr`, or an {} `--host-ip`",
            fam(v4),
            fam(!v4)
        )));
    }
    Ok(())
}

/// `` `--profile l4` or `--profile r1` ``: the built-in profiles whose gate
/// admits remote clients.
fn remote_profiles() -> String {
    Profile::all()
        .into_iter()
        .filter(|p| p.gate.admits_remote())
        .map(|p| format!("`--profile {}`", p.name()))
        .collect::<Vec<_>>()
        .join(" or ")
}

pub fn uid_allowlist(t: &Topology<'_>, tenant_uids: &[u32]) -> HostFiles {
    let entries = t.shared_entries();
    let own = t.own_ports();
    let mut clients = t.entry_users();
    clients.extend(t.site.vault_clients.iter().map(String::as_str));
    let remote = remote(t.profile.gate, t.site);
    let text = nft::render(&NftSpec {
        entries: &entries,
        own_ports: &own,
        vaults: &t.vault_addrs(),
        tenant_uids,
        vault_clients: &clients,
        remote,
        dnat_to: t.dnat_to(),
    });
    let what = match remote {
        Remote::None if t.profile.gate == GateKind::PerPort => {
            "each tenant's uid on its own port only, never on Vault's port"
        }
        Remote::None => "tenant uids only, never on Vault's port",
        Remote::Listed(_) => {
            "tenant uids, and from outside only the --allow-cidr networks; no tenant on Vault's loopback port"
        }
        Remote::Any => {
            "tenant uids, and from outside every network; no tenant on Vault's loopback port"
        }
    };
    HostFiles {
        files: vec![Rendered {
            name: FILE.into(),
            contents: text,
        }],
        enable: vec![format!("nft -f forwarder/{FILE}    # the gate: {what}")],
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
    /// `path` is the gate's file, for the hint.
    pub fn admit(&self, uid: u32, path: &Path) -> Result<()> {
        ADMITTED.store(true, std::sync::atomic::Ordering::SeqCst);
        for set in ["tenants", "allowed"] {
            sys::add_element("inet", nft::TABLE, set, &uid.to_string()).map_err(|why| {
                Error::failed(format!(
                    "cannot admit uid {uid} to the loaded gate (table inet {}): {why}",
                    nft::TABLE
                ))
                .hint(format!(
                    "load the gate with `nft -f {}` and run the command again",
                    path.display()
                ))
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
            "wrote `{rel}`: load it with `nft -f {}` (not loaded: until it is, nothing gates who connects to Vault)",
            path.display()
        ),
        (Loaded::NoNft, _) => format!(
            "wrote `{rel}`: load it with `nft -f {}` (`nft` is not installed here)",
            path.display()
        ),
    }
}
