//! `init`'s settings: each comes from its flag, else from what `init`
//! recorded before, else from a prompt (a first run on a terminal without
//! `--yes`), else from the profile's or the built-in default — and is
//! validated before anything is written. Flags that contradict the chosen
//! profile are refused.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::state::cidr::Cidr;
use crate::state::cluster::{self, Cluster, VaultNode};
use crate::state::{Flavor, Forwarder, Site, VaultReload, validate};
use crate::sys::hostnet;
use crate::topology::profile::HostMapping;
use crate::topology::profile::{self, Profile};

/// The settings flags of `vaultnet init`.
#[derive(Debug, Default, clap::Args)]
pub struct Flags {
    /// Deployment pattern: l1 (host forwarder), l2 (l1 reached as host.containers.internal, no extra_hosts), l3 (a forwarder port per tenant), l4 (l1 open to the --allow-cidr networks), l6 (l1 for pasta: host-gateway mapping), r1 (Vault itself on the host address, no forwarder), r7 (nftables DNAT to Vault's loopback listener, no userspace proxy) [default: l1]
    #[arg(long, value_name = "PROFILE", add = clap_complete::ArgValueCandidates::new(crate::commands::completions::profile_names))]
    pub profile: Option<String>,
    /// Name tenants use to reach Vault [default: vault.lan]
    #[arg(long, value_name = "NAME")]
    pub dns_name: Option<String>,
    /// Host address tenants connect to (the forwarder's, or Vault's own under r1) [default: the default-route interface's address; l2: the first non-loopback IPv4 address, where Podman points host.containers.internal]
    #[arg(long, value_name = "IP")]
    pub host_ip: Option<String>,
    /// Port tenants connect to on the host address (the forwarder's, Vault's own under r1, the first tenant's under l3) [default: the profile's, 22300; l3: 22301; r1: 8200]
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// Loopback address Vault's listener binds, which vaultnet and the operator's CLI talk to (`--vault-addr` before; not a URL, and not what VAULT_ADDR/BAO_ADDR hold: init prints those) [default: 127.0.0.1:8200]
    #[arg(long = "vault-listen", alias = "vault-addr", value_name = "IP:PORT")]
    pub vault_addr: Option<String>,
    /// Host forwarder to configure [default: socat]
    #[arg(long, value_enum)]
    pub forwarder: Option<Forwarder>,
    /// Vault or OpenBao: binary and image names, VAULT_* or BAO_* in instructions [default: openbao]
    #[arg(long, value_enum)]
    pub flavor: Option<Flavor>,
    /// Agent sidecar image for tenant bundles [default: the flavor's official image]
    #[arg(long, value_name = "IMAGE")]
    pub agent_image: Option<String>,
    /// How tenants' extra_hosts reach the host: ip (slirp4netns, rootful), host-gateway (pasta) or host-containers-internal (no entry: Podman's own name); the profile decides it, and a value that contradicts it is refused
    #[arg(long, value_enum)]
    pub host_mapping: Option<HostMapping>,
    /// KV v2 mount holding tenant secrets [default: secret]
    #[arg(long, value_name = "MOUNT")]
    pub kv_mount: Option<String>,
    /// Prefix under the KV mount; tenant NAME owns <kv-mount>/<prefix>/NAME/ [default: tenants]
    #[arg(long, value_name = "PREFIX")]
    pub tenant_prefix: Option<String>,
    /// How new tenants' agents log in: approle (role_id and secret_id) or cert (the client certificate alone); `add-user --auth` overrides it per tenant [default: approle]
    #[arg(long, value_enum)]
    pub auth: Option<crate::state::Auth>,
    /// Lifetime of the Vault server certificate, e.g. 365d or 12h [default: 365d]
    #[arg(long, value_name = "DURATION")]
    pub server_cert_ttl: Option<String>,
    /// Command `vaultnet renew` runs (no shell) to have Vault load a renewed server certificate, e.g. 'systemctl reload openbao'
    #[arg(long, value_name = "COMMAND", conflicts_with = "vault_pid_file")]
    pub vault_reload_command: Option<String>,
    /// Vault's pid file: `vaultnet renew` sends that process SIGHUP to load a renewed server certificate
    #[arg(long, value_name = "FILE")]
    pub vault_pid_file: Option<PathBuf>,
    /// A user (name or uid) the gate admits to Vault's own port besides root and the forwarder's user; repeat for more; the list given replaces the recorded one
    #[arg(long, value_name = "USER")]
    pub vault_client: Vec<String>,
    /// A source network admitted from outside this host (IPv4 or IPv6, e.g. 192.168.1.0/24) under profiles l4 (at least one), r1 and r7; repeat for more; the list given replaces the recorded one
    #[arg(long, value_name = "CIDR")]
    pub allow_cidr: Vec<String>,
    /// The interface remote clients arrive on, where profile r7 sets `net.ipv4.conf.IFACE.route_localnet` (never `all`) [default: the interface holding the host address]
    #[arg(long, value_name = "IFACE")]
    pub ingress_interface: Option<String>,
    /// A node of an OpenBao raft cluster, as NAME=IP:PORT (its API listener); repeat for every node; the list given replaces the recorded one. A cluster needs `--forwarder haproxy`
    #[arg(long, value_name = "NAME=IP:PORT")]
    pub vault_node: Vec<String>,
    /// Where each cluster node keeps its raft data: DIR/NAME [default: /var/lib/openbao/raft]
    #[arg(long, value_name = "DIR")]
    pub raft_dir: Option<PathBuf>,
    /// This site's name, when several sites share one cluster: every Vault name and path of its tenants starts with it (NAME.TENANT); fixed once tenants exist [default: none]
    #[arg(long, value_name = "NAME")]
    pub site_name: Option<String>,
    /// Join the cluster another site runs: the CAs its nodes' certificates chain to (that site's `pki/trust.pem`); needs `--vault-node` for each node and `--site-name`
    #[arg(long, value_name = "FILE")]
    pub cluster_ca: Option<PathBuf>,
}

/// Flag values, parsed and validated.
pub struct Parsed {
    host_ip: Option<IpAddr>,
    port: Option<u16>,
    vault_addr: Option<SocketAddr>,
    server_cert_ttl: Option<u64>,
    vault_reload: Option<VaultReload>,
    nodes: Vec<VaultNode>,
    allow_cidrs: Vec<Cidr>,
    /// `--cluster-ca`, read and checked: its certificates, each alone.
    pub cluster_ca: Option<String>,
}

impl Parsed {
    pub fn from_flags(a: &Flags) -> Result<Parsed> {
        let host_ip = a.host_ip.as_deref().map(parse_host_ip).transpose()?;
        let port = a.port.as_deref().map(parse_port).transpose()?;
        let vault_addr = a.vault_addr.as_deref().map(parse_vault_addr).transpose()?;
        if let Some(d) = &a.dns_name {
            validate::dns_name(d)?;
        }
        if let Some(i) = &a.ingress_interface {
            validate::interface(i)?;
        }
        if let Some(n) = &a.site_name {
            validate::site_name(n)?;
        }
        let cluster_ca = a.cluster_ca.as_deref().map(read_cluster_ca).transpose()?;
        if let Some(i) = &a.agent_image {
            validate::image(i)?;
        }
        if let Some(m) = &a.kv_mount {
            validate::path_segment("KV mount", "--kv-mount", m)?;
        }
        if let Some(p) = &a.tenant_prefix {
            validate::path_segment("tenant prefix", "--tenant-prefix", p)?;
        }
        for c in &a.vault_client {
            validate::vault_client(c)?;
            // nft resolves names when it loads the gate: a name it cannot
            // resolve would keep the whole gate from loading.
            let is_uid = c.bytes().all(|b| b.is_ascii_digit());
            if !is_uid && crate::sys::users::lookup(c)?.is_none() {
                return Err(Error::usage(format!("there is no Unix user `{c}`"))
                    .hint("create it first, or pass its uid: `--vault-client UID`"));
            }
        }
        let server_cert_ttl = match &a.server_cert_ttl {
            Some(d) => {
                let secs = validate::duration("--server-cert-ttl", d)?;
                validate::cert_ttl("--server-cert-ttl", secs)?;
                Some(secs)
            }
            None => None,
        };
        let vault_reload = match (&a.vault_reload_command, &a.vault_pid_file) {
            (Some(c), _) => Some(VaultReload::Command(
                c.split_whitespace().map(str::to_string).collect(),
            )),
            (None, Some(p)) => Some(VaultReload::PidFile(p.clone())),
            (None, None) => None,
        };
        if let Some(r) = &vault_reload {
            validate::vault_reload(r)?;
        }
        let nodes = a
            .vault_node
            .iter()
            .map(|n| cluster::parse_node(n))
            .collect::<Result<Vec<_>>>()?;
        let allow_cidrs = a
            .allow_cidr
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<Vec<_>>>()?;
        let allow_cidrs = crate::state::cidr::normalise(&allow_cidrs)?;
        Ok(Parsed {
            host_ip,
            port,
            vault_addr,
            server_cert_ttl,
            vault_reload,
            nodes,
            allow_cidrs,
            cluster_ca,
        })
    }
}

/// `--cluster-ca FILE`: its CAs, for a site that joins a cluster.
fn read_cluster_ca(path: &std::path::Path) -> Result<String> {
    read_ca_file(
        path,
        "pass the `pki/trust.pem` of the site that runs the cluster, e.g. `--cluster-ca /tmp/site-a-trust.pem`",
    )
}

/// A file of another site's CAs: one or more CA certificates, none
/// expired; returned as their PEM, each certificate alone. Every fault is
/// a usage error with `hint`.
pub fn read_ca_file(path: &std::path::Path, hint: &str) -> Result<String> {
    let bad = |why: String| {
        Error::usage(format!(
            "cannot take the CAs in `{}`: {why}",
            path.display().to_string().escape_debug()
        ))
        .hint(hint)
    };
    let text = crate::sys::fsx::read_text(path, crate::sys::fsx::MAX_PEM_BYTES)
        .map_err(|e| Error::usage(e.message().to_string()).hint(hint))?
        .ok_or_else(|| bad("no such file".into()))?;
    let certs = crate::pki::certificates(&text).map_err(|e| bad(e.message().to_string()))?;
    let now = time::OffsetDateTime::now_utc();
    let mut pem = String::new();
    for (one, info) in certs {
        if !info.is_ca {
            return Err(bad(format!(
                "`{}` is not a CA certificate",
                info.subject.escape_debug()
            )));
        }
        if info.not_after <= now {
            return Err(bad(format!(
                "the CA `{}` expired {}",
                info.subject.escape_debug(),
                crate::provision::tenant::show_time(info.not_after)
            )));
        }
        pem.push_str(&one);
    }
    Ok(pem)
}

pub fn parse_host_ip(s: &str) -> Result<IpAddr> {
    let ip: IpAddr = s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid host IP `{}`: not an IP address",
            s.escape_debug()
        ))
        .hint("pass the host's address, e.g. `--host-ip 192.168.1.10`")
    })?;
    validate::host_ip(ip)?;
    Ok(ip)
}

pub fn parse_port(s: &str) -> Result<u16> {
    let bad = || {
        Error::usage(format!(
            "invalid port `{}`: must be a number from 1 to 65535",
            s.escape_debug()
        ))
        .hint("pass e.g. `--port 22300`")
    };
    match s.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(bad()),
    }
}

pub fn parse_vault_addr(s: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid Vault address `{}`: expected IP:PORT",
            s.escape_debug()
        ))
        .hint("pass e.g. `--vault-listen 127.0.0.1:8200`")
    })?;
    validate::vault_addr(addr)?;
    Ok(addr)
}

/// Settings: flags, then what init recorded before, then a prompt (on a
/// terminal without `--yes`), then defaults.
pub fn resolve(p: &Parsed, prev: Option<&Site>, a: &Flags, ask: bool) -> Result<Site> {
    let profile = match a.profile.as_deref().or(prev.map(|s| s.profile.as_str())) {
        Some(name) => Profile::builtin(name)?,
        None if ask && prev.is_none() => choose_profile()?,
        None => Profile::builtin(profile::DEFAULT)?,
    };
    resolve_under(&profile, p, prev, a, ask)
}

/// [`resolve`] once the profile is chosen: its values are the defaults.
/// (Long: one short block per setting, all alike, in the order a first
/// run on a terminal asks for them.)
pub fn resolve_under(
    profile: &Profile,
    p: &Parsed,
    prev: Option<&Site>,
    a: &Flags,
    ask: bool,
) -> Result<Site> {
    // First init on a terminal: ask for each value no flag gave.
    let first = ask && prev.is_none();
    crate::topology::check_host_mapping(profile, a.host_mapping)?;
    let flavor = match a.flavor.or(prev.map(|s| s.flavor)) {
        Some(f) => f,
        None if first => choose("Vault or OpenBao", Flavor::Openbao)?,
        None => Flavor::Openbao,
    };

    let dns_name = match (&a.dns_name, prev) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => s.dns_name.clone(),
        (None, None) if ask => prompt("DNS name tenants use for Vault", "vault.lan", |v| {
            validate::dns_name(v).map(|_| v.to_string())
        })?,
        (None, None) => "vault.lan".into(),
    };
    let host_ip = match (p.host_ip, prev) {
        (Some(ip), _) => ip,
        (None, Some(s)) => s.host_ip,
        (None, None) => {
            let proposed = crate::topology::proposed_host_ip(profile);
            // No default route: the addresses this host has, to choose from.
            let others = hostnet::usable_addresses();
            let listed = others
                .iter()
                .map(|(i, ip)| format!("{ip} on `{i}`"))
                .collect::<Vec<_>>()
                .join(", ");
            if ask {
                let (question, default) = match (proposed, others.first()) {
                    (Some(ip), _) => ("Host address the forwarder listens on".to_string(), ip),
                    (None, Some((_, ip))) => (
                        format!(
                            "Host address the forwarder listens on (no default route; this host has {listed})"
                        ),
                        *ip,
                    ),
                    (None, None) => (
                        "Host address the forwarder listens on".to_string(),
                        "0.0.0.0".parse().expect("valid"),
                    ),
                };
                let default = match default.is_unspecified() {
                    true => String::new(),
                    false => default.to_string(),
                };
                prompt(&question, &default, parse_host_ip)?
            } else {
                proposed.ok_or_else(|| {
                    let hint = match others.first() {
                        Some((_, ip)) => format!(
                            "pass the address containers reach the host on, e.g. `--host-ip {ip}` (this host has {listed})"
                        ),
                        None => "pass the address containers reach the host on, e.g. `--host-ip 192.168.1.10`".into(),
                    };
                    Error::usage("cannot find this host's address: there is no default route")
                        .hint(hint)
                })?
            }
        }
    };
    let port = match (p.port, prev) {
        (Some(port), _) => port,
        // A port the old profile chose follows the new profile's.
        (None, Some(s))
            if s.profile != profile.name()
                && Profile::builtin(&s.profile).is_ok_and(|old| old.port == s.port) =>
        {
            profile.port
        }
        (None, Some(s)) => s.port,
        (None, None) if ask => prompt("Forwarder port", &profile.port.to_string(), parse_port)?,
        (None, None) => profile.port,
    };
    let cluster = resolve_cluster(p, prev, a, flavor)?;
    let vault_addr = match (p.vault_addr, prev, &cluster) {
        // In a cluster vaultnet talks to a node first: the one named, else
        // the one it talked to before, else the first.
        (Some(v), _, Some(c)) if !c.nodes.iter().any(|n| n.addr == v) => {
            return Err(Error::usage(format!(
                "`--vault-listen {v}` is none of the cluster's nodes"
            ))
            .hint(
                "drop `--vault-listen`: in a cluster it is one of the `--vault-node` addresses",
            ));
        }
        (Some(v), _, _) => v,
        (None, Some(s), Some(c)) if c.nodes.iter().any(|n| n.addr == s.vault_addr) => s.vault_addr,
        (None, _, Some(c)) => c.nodes[0].addr,
        (None, Some(s), None) => s.vault_addr,
        (None, None, None) if ask => prompt(
            "Loopback address of Vault's listener",
            "127.0.0.1:8200",
            parse_vault_addr,
        )?,
        (None, None, None) => "127.0.0.1:8200".parse().expect("valid"),
    };
    let forwarder = match a.forwarder.or(prev.map(|s| s.forwarder)) {
        Some(f) => f,
        // Only HAProxy checks which node is active (the topology refuses
        // any other forwarder for a cluster).
        None if cluster.is_some() => Forwarder::Haproxy,
        None if first => choose("Host forwarder", Forwarder::Socat)?,
        None => Forwarder::Socat,
    };
    let agent_image = match (&a.agent_image, prev) {
        (Some(i), _) => i.clone(),
        // A recorded default follows a flavor change; an explicit image stays.
        (None, Some(s)) if s.agent_image != s.flavor.default_agent_image() => s.agent_image.clone(),
        (None, None) if first => {
            prompt("Agent sidecar image", flavor.default_agent_image(), |v| {
                validate::image(v).map(|_| v.to_string())
            })?
        }
        _ => flavor.default_agent_image().to_string(),
    };
    let segment = |flag: &str,
                   what: &'static str,
                   given: &Option<String>,
                   old: Option<String>,
                   default: &str|
     -> Result<String> {
        match given.clone().or(old) {
            Some(v) => Ok(v),
            None if first => prompt(what, default, |v| {
                validate::path_segment(what, flag, v).map(|_| v.to_string())
            }),
            None => Ok(default.to_string()),
        }
    };
    let kv_mount = segment(
        "--kv-mount",
        "KV v2 mount for tenant secrets",
        &a.kv_mount,
        prev.map(|s| s.kv_mount.clone()),
        "secret",
    )?;
    let tenant_prefix = segment(
        "--tenant-prefix",
        "Prefix under the mount (tenant NAME owns <mount>/<prefix>/NAME/)",
        &a.tenant_prefix,
        prev.map(|s| s.tenant_prefix.clone()),
        "tenants",
    )?;
    let site = Site {
        name: a
            .site_name
            .clone()
            .or_else(|| prev.and_then(|s| s.name.clone())),
        auth: a.auth.or(prev.map(|s| s.auth)).unwrap_or_default(),
        profile: profile.name(),
        dns_name,
        host_ip,
        port,
        vault_addr,
        forwarder,
        flavor,
        agent_image,
        kv_mount,
        tenant_prefix,
        server_cert_ttl: p
            .server_cert_ttl
            .or(prev.map(|s| s.server_cert_ttl))
            .unwrap_or(365 * 86400),
        vault_reload: p
            .vault_reload
            .clone()
            .or_else(|| prev.and_then(|s| s.vault_reload.clone())),
        vault_clients: match (a.vault_client.is_empty(), prev) {
            (false, _) => {
                let mut v: Vec<String> = a
                    .vault_client
                    .iter()
                    .filter(|c| !matches!(c.as_str(), "root" | "0"))
                    .cloned()
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            (true, Some(s)) => s.vault_clients.clone(),
            (true, None) => Vec::new(),
        },
        allow_cidrs: crate::topology::gate::allow_cidrs(
            profile,
            &p.allow_cidrs,
            prev.map(|s| s.allow_cidrs.as_slice()),
        ),
        cluster,
        ingress_interface: crate::topology::ingress_interface(
            profile,
            a.ingress_interface.as_deref(),
            prev.and_then(|s| s.ingress_interface.as_deref()),
            || hostnet::interface_of(host_ip),
        ),
        legacy_host_mapping: None,
    };
    validate::site(&site)?;
    crate::topology::Topology::with_profile(&site, profile.clone())?;
    Ok(site)
}

/// The cluster: the nodes flagged (else recorded), with the raft directory
/// flagged, else recorded, else the flavor's default; none without nodes.
fn resolve_cluster(
    p: &Parsed,
    prev: Option<&Site>,
    a: &Flags,
    flavor: Flavor,
) -> Result<Option<Cluster>> {
    let recorded = prev.and_then(|s| s.cluster.as_ref());
    let nodes = match (p.nodes.is_empty(), recorded) {
        (false, _) => p.nodes.clone(),
        (true, Some(c)) => c.nodes.clone(),
        (true, None) if p.cluster_ca.is_some() => {
            return Err(
                Error::usage("`--cluster-ca` without the cluster's nodes").hint(
                    "give each node of that cluster with `--vault-node NAME=IP:PORT`, as its site has them",
                ),
            );
        }
        (true, None) => {
            if let Some(d) = &a.raft_dir {
                return Err(Error::usage(format!(
                    "`--raft-dir {}` without a cluster",
                    d.display()
                ))
                .hint("give the cluster's nodes with `--vault-node NAME=IP:PORT`, or drop `--raft-dir`"));
            }
            return Ok(None);
        }
    };
    let joined = p.cluster_ca.is_some() || recorded.is_some_and(|c| c.joined);
    if let (true, Some(d)) = (joined, &a.raft_dir) {
        return Err(Error::usage(format!(
            "`--raft-dir {}` on a site that joined another site's cluster",
            d.display()
        ))
        .hint("drop `--raft-dir`: the site that runs the cluster keeps its nodes' raft data"));
    }
    let raft_dir = a
        .raft_dir
        .clone()
        .or_else(|| recorded.map(|c| c.raft_dir.clone()))
        .unwrap_or_else(|| cluster::default_raft_dir(flavor.binary()));
    let c = Cluster {
        nodes,
        raft_dir,
        joined,
        sites: recorded.map(|c| c.sites.clone()).unwrap_or_default(),
    };
    cluster::validate(&c)?;
    Ok(Some(c))
}

fn prompt<T>(question: &str, default: &str, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(question)
        .validate_with(|v: &String| parse(v).map(drop).map_err(|e| e.message().to_string()));
    if !default.is_empty() {
        input = input.default(default.to_string());
    }
    let answer = input.interact_text().map_err(aborted)?;
    parse(&answer)
}

/// The deployment pattern, from the built-in profiles (the default first selected).
fn choose_profile() -> Result<Profile> {
    let all = Profile::all();
    let items: Vec<String> = all
        .iter()
        .map(|p| format!("{} — {}", p.name(), p.summary))
        .collect();
    let start = all
        .iter()
        .position(|p| p.name() == profile::DEFAULT)
        .unwrap_or(0);
    let i = dialoguer::Select::new()
        .with_prompt("Deployment pattern (profile)")
        .items(&items)
        .default(start)
        .interact()
        .map_err(aborted)?;
    Ok(all[i].clone())
}

fn aborted(e: dialoguer::Error) -> Error {
    Error::usage(format!("prompt aborted: {e}"))
        .hint("pass the value as a flag, or `--yes` for defaults")
}

/// A choice among an option's values, the default first selected.
fn choose<T: clap::ValueEnum + Copy + PartialEq>(question: &str, default: T) -> Result<T> {
    let values = T::value_variants();
    let names: Vec<String> = values
        .iter()
        .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
        .collect();
    let start = values.iter().position(|v| *v == default).unwrap_or(0);
    let i = dialoguer::Select::new()
        .with_prompt(question)
        .items(&names)
        .default(start)
        .interact()
        .map_err(aborted)?;
    Ok(values[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_outside_1_to_65535_are_usage_errors() {
        for bad in ["0", "70000", "-1", "x", ""] {
            let e = parse_port(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.hint_text().unwrap().contains("--port"));
        }
        assert_eq!(parse_port("22300").unwrap(), 22300);
    }

    #[test]
    fn host_ip_must_be_a_unicast_non_loopback_address() {
        for bad in [
            "10.0.0.256",
            "127.0.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "fe80::1",
            "::",
            "ff02::1",
            "vault.lan",
        ] {
            assert_eq!(parse_host_ip(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(parse_host_ip("10.0.0.1").is_ok());
        assert!(parse_host_ip("fd00::1").is_ok());
    }

    #[test]
    fn vault_addr_must_be_ip_and_port() {
        assert!(parse_vault_addr("127.0.0.1").is_err());
        assert!(parse_vault_addr("127.0.0.1:0").is_err());
        assert!(parse_vault_addr("127.0.0.1:8200").is_ok());
    }
}
