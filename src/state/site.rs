//! The site settings `vaultnet init` records: names, addresses, the
//! forwarder, the Vault flavor, the agent image and the KV layout.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Forwarder {
    Socat,
    Nginx,
    Haproxy,
    SocketProxyd,
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

/// How tenants' `extra_hosts` reach the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HostMapping {
    /// The host IP itself: slirp4netns and rootful engines.
    Ip,
    /// `host-gateway`: pasta (Podman ≥ 5.3), where the host's own IP is not reachable.
    HostGateway,
}

impl fmt::Display for HostMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostMapping::Ip => "ip",
            HostMapping::HostGateway => "host-gateway",
        })
    }
}

/// Every site setting later commands need. Written by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub profile: String,
    pub dns_name: String,
    pub host_ip: IpAddr,
    pub port: u16,
    pub vault_addr: SocketAddr,
    pub forwarder: Forwarder,
    pub flavor: Flavor,
    pub agent_image: String,
    pub host_mapping: HostMapping,
    pub kv_mount: String,
    pub tenant_prefix: String,
    /// Validity of the Vault server certificate, in days.
    pub server_cert_days: u32,
}

impl Site {
    /// The address tenants use: `https://vault.lan:22300`.
    pub fn tenant_url(&self) -> String {
        format!("https://{}:{}", self.dns_name, self.port)
    }

    /// The address the operator uses, straight at the loopback listener.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_addr)
    }

    pub fn forwarder_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.port)
    }
}

/// A site for unit tests: vault.lan on 10.9.0.1:22300, Vault on 127.0.0.1:8200.
#[cfg(test)]
pub(crate) fn sample_site(mapping: HostMapping) -> Site {
    Site {
        profile: "l1".into(),
        dns_name: "vault.lan".into(),
        host_ip: "10.9.0.1".parse().unwrap(),
        port: 22300,
        vault_addr: "127.0.0.1:8200".parse().unwrap(),
        forwarder: Forwarder::Socat,
        flavor: Flavor::Openbao,
        agent_image: "localhost/bao:test".into(),
        host_mapping: mapping,
        kv_mount: "secret".into(),
        tenant_prefix: "tenants".into(),
        server_cert_days: 365,
    }
}
