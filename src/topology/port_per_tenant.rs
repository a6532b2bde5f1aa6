//! Entry kind `per-tenant-port` with gate `per-port` (pattern L3): each
//! tenant gets a forwarder port of its own on the host address, allocated
//! by `add-user` from the site's port up and recorded in the state; the
//! forwarder carries one entry per port to Vault's loopback listener, and
//! the gate admits on each port only its tenant's uid and root (for the
//! operator's `vaultnet doctor`). A removed tenant's port is reserved —
//! never handed to another tenant, and refused to everyone but root —
//! until its last client certificate has expired (SECURITY.md G6).

use std::net::SocketAddr;

use time::OffsetDateTime;

use super::{EntryProbe, HostFiles, Topology};
use crate::error::{Error, Result};
use crate::render::forwarder::{self, PerPortSpec};
use crate::render::nft::OwnPort;
use crate::state::{Site, State};

/// The first port must not be Vault's (tenants are refused on Vault's
/// port), and one Vault serves the ports: a cluster needs HAProxy's
/// active-node checks behind one shared port (profile l1).
pub fn check(site: &Site) -> Result<()> {
    if site.port == site.vault_addr.port() {
        return Err(Error::usage(format!(
            "the first tenant port {} is Vault's own port (`--vault-listen {}`)",
            site.port, site.vault_addr
        ))
        .hint("pick another `--port`, e.g. `--port 22301`"));
    }
    if site.cluster.is_some() {
        return Err(Error::usage(format!(
            "profile {} gives each tenant a port to one Vault, not to a cluster",
            site.profile
        ))
        .hint("drop `--vault-node`, or keep the cluster behind HAProxy with `--profile l1`"));
    }
    Ok(())
}

/// Where a tenant with `port` connects.
pub fn listen(site: &Site, port: u16) -> SocketAddr {
    SocketAddr::new(site.host_ip, port)
}

/// The port of `tenant`: the recorded one, else the lowest free one from
/// the site's port up (neither another tenant's, nor reserved at `now`,
/// nor Vault's, nor in `taken`).
pub fn port_for(state: &State, tenant: &str, now: OffsetDateTime, taken: &[u16]) -> Result<u16> {
    if let Some(p) = state.tenants.get(tenant).and_then(|t| t.port) {
        return Ok(p);
    }
    let site = &state.site;
    state
        .free_port(site.port, &[&[site.vault_addr.port()], taken].concat(), now)
        .ok_or_else(|| {
            Error::failed(format!(
                "no port is left for `{tenant}` from {} up: every one is a tenant's or reserved",
                site.port
            ))
            .hint("remove tenants you no longer need, or start lower with `vaultnet init --port PORT`")
        })
}

fn ports(t: &Topology<'_>) -> Vec<u16> {
    let mut v: Vec<u16> = t.tenant_ports.iter().map(|p| p.port).collect();
    v.sort_unstable();
    v
}

pub fn host_files(t: &Topology<'_>) -> HostFiles {
    let ports = ports(t);
    let f = forwarder::render_per_port(
        t.site.forwarder,
        &PerPortSpec {
            host: t.site.host_ip,
            ports: &ports,
            upstream: t.site.vault_addr,
        },
    );
    HostFiles {
        files: f.files,
        enable: f.enable,
    }
}

/// The gate's ports: each tenant's, then each reserved one (root only).
pub fn own_ports(t: &Topology<'_>) -> Vec<OwnPort> {
    let mut v: Vec<OwnPort> = t
        .tenant_ports
        .iter()
        .map(|p| OwnPort {
            addr: listen(t.site, p.port),
            uid: p.uid,
            whose: match p.uid {
                Some(_) => p.name.clone(),
                None => format!("{} (no Unix user: root only)", p.name),
            },
        })
        .chain(t.reserved.iter().map(|r| OwnPort {
            addr: listen(t.site, r.port),
            uid: None,
            whose: format!(
                "reserved: removed tenant {} until {} (root only)",
                r.tenant,
                crate::state::rfc3339::format(r.until)
            ),
        }))
        .collect();
    v.sort_by_key(|p| p.addr.port());
    v
}

/// Every file this entry kind may write, with why it would be retired:
/// the fixed names (per-port files are matched by [`is_own_file`]).
pub fn all_files() -> Vec<(String, String)> {
    Forwarder::ALL
        .iter()
        .flat_map(|k| {
            forwarder::render_per_port(
                *k,
                &PerPortSpec {
                    host: "127.0.0.2".parse().expect("valid"),
                    ports: &[],
                    upstream: "127.0.0.1:2".parse().expect("valid"),
                },
            )
            .files
            .into_iter()
            .map(move |f| (f.name, format!("{k} is no longer the forwarder")))
        })
        .collect()
}

use crate::state::Forwarder;

/// A per-port file of a port no tenant has any more, or of a forwarder the
/// site no longer uses.
pub fn is_own_file(name: &str) -> bool {
    forwarder::is_per_port_file(name)
}

pub fn probe(t: &Topology<'_>, tenant: &str, port: u16) -> EntryProbe {
    let site = t.site;
    let addr = listen(site, port);
    EntryProbe {
        id: format!("forwarder.{tenant}"),
        title: format!("forwarder ({}) for {tenant} at {addr}", site.forwarder),
        name: site.dns_name.clone(),
        addr,
        host_ip: Some(site.host_ip),
        start_hint: forwarder::start_hint_port(site.forwarder, port),
        upstream_hint: format!(
            "the forwarder gets no answer from its upstream: start Vault at {addr}, and point the forwarder at {addr} (reinstall the files in `forwarder/`)",
            addr = site.vault_addr
        ),
        elsewhere_hint: format!(
            "point the forwarder at {} (reinstall the files in `forwarder/`)",
            site.vault_addr
        ),
    }
}

/// What `init` says of the forwarder, before its enable commands.
pub fn heading(site: &Site, upstream: &str, root: &str) -> String {
    format!(
        "Forwarder ({}): a port per tenant on {}, from {} up (`vaultnet list` shows each) -> {upstream}; install it from `{root}` with:",
        site.forwarder, site.host_ip, site.port
    )
}

/// What `add-user` says of a port it gave a tenant, and `remove-user` of
/// one it reserved: the commands that start or stop its entry.
pub fn port_note(site: &Site, tenant: &str, port: u16, added: bool) -> String {
    let (on, off) = forwarder::port_commands(site.forwarder, port);
    if added {
        format!(
            "{tenant}: its own port is {port}; start the forwarder's entry for it from the state directory with: {}",
            on.join(" && ")
        )
    } else {
        format!(
            "{tenant}: port {port} stays reserved (refused to all but root) until its last certificate expires; stop the forwarder's entry for it with: {}",
            off.join(" && ")
        )
    }
}
