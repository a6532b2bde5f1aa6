//! Entry kind `shared-port`: one host forwarder on the host address and
//! the site's port, passing TCP to Vault's listener for every tenant (TLS
//! stays end to end). Its files and enable commands come from the chosen
//! forwarder's renderer.

use std::net::SocketAddr;

use super::{EntryProbe, HostFiles};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::render::forwarder::{self, ClusterCheck, ForwarderSpec};
use crate::state::{Forwarder, Site};

/// The forwarder's port must not be Vault's (SECURITY.md G2): the gate
/// refuses tenants on Vault's port, so they would be locked out of the
/// forwarder as well.
///
/// A cluster needs a forwarder that sends tenants to the active node only:
/// HAProxy, with its active health checks. The others pass TCP to one
/// address, or pick among several without asking which is active (nginx
/// OSS sent a third of requests to a sealed node).
pub fn check(site: &Site) -> Result<()> {
    if site.port == site.vault_addr.port() {
        return Err(Error::usage(format!(
            "the forwarder port {} is Vault's own port (`--vault-listen {}`)",
            site.port, site.vault_addr
        ))
        .hint("pick another `--port`, e.g. `--port 22300`"));
    }
    let Some(c) = &site.cluster else {
        return Ok(());
    };
    if let Some(n) = c
        .nodes
        .iter()
        .find(|n| [n.addr.port(), n.cluster_addr().port()].contains(&site.port))
    {
        return Err(Error::usage(format!(
            "the forwarder port {} is a port of node `{}` ({}, cluster port {})",
            site.port,
            n.name,
            n.addr,
            n.cluster_addr().port()
        ))
        .hint("pick another `--port`, e.g. `--port 22300`"));
    }
    if site.forwarder != Forwarder::Haproxy {
        return Err(Error::usage(format!(
            "a cluster needs a forwarder that checks which node is active, and {} does not",
            site.forwarder
        ))
        .hint("pass `--forwarder haproxy`: it checks `sys/health` on every node over mutual TLS and sends tenants to the active one only"));
    }
    Ok(())
}

/// Where the forwarder listens: the host address and the site's port.
pub fn listen(site: &Site) -> SocketAddr {
    SocketAddr::new(site.host_ip, site.port)
}

fn spec(site: &Site, layout: &Layout) -> ForwarderSpec {
    ForwarderSpec {
        listen: listen(site),
        upstream: site.vault_addr,
        cluster: site.cluster.as_ref().map(|c| ClusterCheck {
            nodes: c.nodes.iter().map(|n| (n.name.clone(), n.addr)).collect(),
            // What the nodes' certificates chain to.
            ca_file: if c.joined {
                layout.cluster_ca()
            } else {
                layout.trust()
            },
            identity_file: layout.check_key(),
        }),
    }
}

pub fn host_files(site: &Site, layout: &Layout) -> HostFiles {
    let f = forwarder::render(site.forwarder, &spec(site, layout));
    HostFiles {
        files: f.files,
        enable: f.enable,
    }
}

/// Every file any forwarder of this entry kind writes, with a note of why
/// it would be retired: `(name, why)`.
pub fn all_files() -> Vec<(String, String)> {
    let spec = ForwarderSpec {
        listen: "127.0.0.2:1".parse().expect("valid"),
        upstream: "127.0.0.1:2".parse().expect("valid"),
        cluster: None,
    };
    Forwarder::ALL
        .iter()
        .flat_map(|k| {
            forwarder::render(*k, &spec)
                .files
                .into_iter()
                .map(move |f| (f.name, format!("{k} is no longer the forwarder")))
        })
        .collect()
}

pub fn probe(site: &Site) -> EntryProbe {
    let addr = listen(site);
    EntryProbe {
        id: "forwarder".into(),
        title: format!("forwarder ({}) at {addr}", site.forwarder),
        name: site.dns_name.clone(),
        addr,
        host_ip: Some(site.host_ip),
        start_hint: forwarder::start_hint(site.forwarder),
        upstream_hint: format!(
            "the forwarder gets no answer from its upstream: start Vault at {addr}, and point the forwarder at {addr} (reinstall the file in `forwarder/`)",
            addr = site.vault_addr
        ),
        elsewhere_hint: format!(
            "point the forwarder at {} (reinstall the file in `forwarder/`)",
            site.vault_addr
        ),
    }
}

/// What `init` says of the forwarder, before its enable commands.
pub fn heading(site: &Site, addr: SocketAddr, upstream: &str, root: &str) -> String {
    format!(
        "Forwarder ({}): {addr} -> {upstream}; install it from `{root}` with:",
        site.forwarder
    )
}
