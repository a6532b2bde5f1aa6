//! Entry kind `shared-port`: one host forwarder on the host address and
//! the site's port, passing TCP to Vault's listener for every tenant (TLS
//! stays end to end). Its files and enable commands come from the chosen
//! forwarder's renderer.

use std::net::SocketAddr;

use super::{EntryProbe, HostFiles};
use crate::error::{Error, Result};
use crate::render::forwarder::{self, ForwarderSpec};
use crate::state::{Forwarder, Site};

/// The forwarder's port must not be Vault's (SECURITY.md G2): the gate
/// refuses tenants on Vault's port, so they would be locked out of the
/// forwarder as well.
pub fn check(site: &Site) -> Result<()> {
    if site.port == site.vault_addr.port() {
        return Err(Error::usage(format!(
            "the forwarder port {} is Vault's own port (`--vault-addr {}`)",
            site.port, site.vault_addr
        ))
        .hint("pick another `--port`, e.g. `--port 22300`"));
    }
    Ok(())
}

/// Where the forwarder listens: the host address and the site's port.
pub fn listen(site: &Site) -> SocketAddr {
    SocketAddr::new(site.host_ip, site.port)
}

fn spec(site: &Site) -> ForwarderSpec {
    ForwarderSpec {
        listen: listen(site),
        upstream: site.vault_addr,
    }
}

pub fn host_files(site: &Site) -> HostFiles {
    let f = forwarder::render(site.forwarder, &spec(site));
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
    }
}
