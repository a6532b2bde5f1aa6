//! The site settings `vaultnet init` records: names, addresses, the
//! forwarder, the Vault flavor, the agent image and the KV layout.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// What tenants' `extra_hosts` map the Vault name to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HostMapping {
    // The host IP itself: slirp4netns and rootful engines. (Plain
    // comments: clap would list doc comments as per-value help.)
    Ip,
    // `host-gateway`: pasta (Podman ≥ 5.3), where the host's own IP is not reachable.
    HostGateway,
    // No entry: bundles use `host.containers.internal`, the name Podman gives every container for the host.
    HostContainersInternal,
}

/// The name Podman writes into every container's `/etc/hosts` for the
/// host (pattern L2).
pub const PODMAN_HOST_NAME: &str = "host.containers.internal";

impl fmt::Display for HostMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostMapping::Ip => "ip",
            HostMapping::HostGateway => "host-gateway",
            HostMapping::HostContainersInternal => "host-containers-internal",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Forwarder {
    Socat,
    Nginx,
    Haproxy,
    SocketProxyd,
}

impl Forwarder {
    pub const ALL: [Forwarder; 4] = [
        Forwarder::Socat,
        Forwarder::Nginx,
        Forwarder::Haproxy,
        Forwarder::SocketProxyd,
    ];
}

impl fmt::Display for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Forwarder::Socat => "socat",
            Forwarder::Nginx => "nginx",
            Forwarder::Haproxy => "haproxy",
            Forwarder::SocketProxyd => "socket-proxyd",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    Vault,
    Openbao,
}

impl Flavor {
    /// The server/CLI/agent binary.
    pub fn binary(self) -> &'static str {
        match self {
            Flavor::Vault => "vault",
            Flavor::Openbao => "bao",
        }
    }

    /// Prefix of the CLI's environment variables (`VAULT_ADDR`, `BAO_ADDR`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Flavor::Vault => "VAULT",
            Flavor::Openbao => "BAO",
        }
    }

    /// The agent image used when `--agent-image` is not given.
    pub fn default_agent_image(self) -> &'static str {
        match self {
            Flavor::Vault => "docker.io/hashicorp/vault:1.18",
            Flavor::Openbao => "quay.io/openbao/openbao:2.7.2",
        }
    }

    /// Where the binary sits inside the flavor's official image.
    pub fn image_binary_path(self) -> &'static str {
        match self {
            Flavor::Vault => "/bin/vault",
            Flavor::Openbao => "/bin/bao",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Flavor::Vault => "Vault",
            Flavor::Openbao => "OpenBao",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Vault => "vault",
            Flavor::Openbao => "openbao",
        })
    }
}

/// Every site setting later commands need. Written by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// The site's name (`init --site-name`) when several sites share one
    /// cluster: every Vault name and path vaultnet creates for a tenant
    /// starts with it (`NAME.TENANT`, see [`Site::vault_name`]). `None`:
    /// the tenant's name alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub profile: String,
    pub dns_name: String,
    pub host_ip: IpAddr,
    pub port: u16,
    pub vault_addr: SocketAddr,
    pub forwarder: Forwarder,
    pub flavor: Flavor,
    pub agent_image: String,
    pub kv_mount: String,
    pub tenant_prefix: String,
    /// How new tenants' agents log in unless `add-user --auth` says.
    #[serde(default, skip_serializing_if = "crate::state::Auth::is_approle")]
    pub auth: crate::state::Auth,
    /// Lifetime of the Vault server certificate, in seconds.
    pub server_cert_ttl: u64,
    /// How `renew` has Vault load a new server certificate; `None`: the
    /// operator reloads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_reload: Option<VaultReload>,
    /// Users (names or uids) the gate admits to Vault's own port besides
    /// root and the forwarder's user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vault_clients: Vec<String>,
    /// Source networks the gate admits from outside this host (`init
    /// --allow-cidr`), sorted; only profiles whose gate admits remote
    /// clients keep any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_cidrs: Vec<crate::state::cidr::Cidr>,
    /// An OpenBao raft cluster behind the forwarder; `None`: one server
    /// at `vault_addr`. In a cluster `vault_addr` is one of its nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::state::cluster::Cluster>,
    /// The interface remote clients arrive on, where a DNAT entry (profile
    /// r7) needs `route_localnet` (`init --ingress-interface`); only such
    /// profiles keep one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_interface: Option<String>,
    /// Read from state files written before the profile decided the
    /// mapping (`ip` or `host-gateway`); checked against the profile and
    /// never written again.
    #[serde(default, skip_serializing, rename = "host_mapping")]
    pub legacy_host_mapping: Option<String>,
}

/// How Vault is told to reload its listener certificate (it does on
/// SIGHUP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum VaultReload {
    /// A command run without a shell, e.g. `systemctl reload openbao`.
    Command(Vec<String>),
    /// A file holding the server's pid: vaultnet sends it SIGHUP.
    PidFile(std::path::PathBuf),
}

impl fmt::Display for VaultReload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultReload::Command(argv) => write!(f, "run `{}`", argv.join(" ")),
            VaultReload::PidFile(p) => write!(f, "SIGHUP to the pid in `{}`", p.display()),
        }
    }
}

impl Site {
    /// What names tenant `tenant` in Vault: its policy and role
    /// (`vaultnet-…`) and its KV prefix. `NAME.TENANT` on a named site,
    /// else the tenant's name: a tenant name has no `.`, so no two sites
    /// (named or not) ever share one.
    pub fn vault_name(&self, tenant: &str) -> String {
        match &self.name {
            Some(site) => format!("{site}.{tenant}"),
            None => tenant.to_string(),
        }
    }

    /// The address the operator uses, straight at the loopback listener.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_addr)
    }
}

/// A site for unit tests: vault.lan on 10.9.0.1:22300, Vault on
/// 127.0.0.1:8200, under `profile` (`l1`: tenants map the name to the host
/// IP; `l6`: to `host-gateway`).
#[cfg(test)]
pub(crate) fn sample_site(profile: &str) -> Site {
    Site {
        name: None,
        profile: profile.into(),
        dns_name: "vault.lan".into(),
        host_ip: "10.9.0.1".parse().unwrap(),
        port: 22300,
        vault_addr: "127.0.0.1:8200".parse().unwrap(),
        forwarder: Forwarder::Socat,
        flavor: Flavor::Openbao,
        agent_image: "localhost/bao:test".into(),
        kv_mount: "secret".into(),
        tenant_prefix: "tenants".into(),
        auth: crate::state::Auth::Approle,
        server_cert_ttl: 365 * 86400,
        vault_reload: None,
        vault_clients: Vec::new(),
        allow_cidrs: Vec::new(),
        cluster: None,
        ingress_interface: None,
        legacy_host_mapping: None,
    }
}
