//! Entry kind `direct` (pattern R1): no forwarder. Vault's own listener
//! binds the host address and the site's port beside its loopback one
//! (the operator's), so tenants and remote clients connect to Vault
//! itself; mutual TLS at that listener is what lets them in.

use std::net::SocketAddr;

use super::{EntryProbe, HostFiles};
use crate::error::{Error, Result};
use crate::state::Site;

/// One Vault on the host address: a cluster's nodes each need their own
/// address, and HAProxy in front to find the active one (profile l1).
pub fn check(site: &Site) -> Result<()> {
    if site.cluster.is_some() {
        return Err(Error::usage(format!(
            "profile {} serves tenants from one Vault listening on the host address, not a cluster",
            site.profile
        ))
        .hint("drop `--vault-node`, or keep the cluster behind HAProxy with `--profile l1`"));
    }
    Ok(())
}

/// Where tenants connect: Vault's listener on the host address.
pub fn listen(site: &Site) -> SocketAddr {
    SocketAddr::new(site.host_ip, site.port)
}

/// No forwarder: nothing to write beside the gate.
pub fn host_files() -> HostFiles {
    HostFiles {
        files: Vec::new(),
        enable: Vec::new(),
    }
}

/// What `init` says of the entry, before the gate's commands.
pub fn heading(site: &Site, root: &str) -> String {
    let addr = listen(site);
    format!(
        "No forwarder: tenants and remote clients reach {} itself at {addr} (the second listener of `vault/listener.json`); start it once {} is up on its interface, or set `net.ipv4.ip_nonlocal_bind=1`. Install the gate from `{root}` with:",
        site.flavor.display_name(),
        site.host_ip
    )
}

pub fn probe(site: &Site) -> EntryProbe {
    let addr = listen(site);
    let name = site.flavor.display_name();
    EntryProbe {
        id: "entry".into(),
        title: format!("{name} on the host address at {addr}"),
        name: site.dns_name.clone(),
        addr,
        host_ip: Some(site.host_ip),
        start_hint: format!(
            "restart {name} with `-config vault/listener.json` (run `vaultnet init` first if the file lacks {addr}); it binds {addr} only once {} is up, or with `sysctl net.ipv4.ip_nonlocal_bind=1`",
            site.host_ip
        ),
        upstream_hint: format!(
            "make sure {addr} is {name}'s TLS listener of `vault/listener.json`, not another server"
        ),
        elsewhere_hint: format!(
            "stop what else listens on {addr}, and restart {name} with `-config vault/listener.json`"
        ),
    }
}
