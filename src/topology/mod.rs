//! The deployment pattern, and the only reader of a profile. From the
//! profile and the site it derives everything that varies by pattern:
//! - each tenant's [`Endpoint`]: the URL its agent uses, the `extra_hosts`
//!   entry of its bundle, the address doctor connects to on its behalf;
//! - the server certificate's names;
//! - the host files (forwarder, gate) with the commands that enable them,
//!   and the files an earlier choice may have left behind;
//! - the entries doctor probes.
//!
//! Renderers take what this module derives, never the whole site. A new
//! pattern is a profile file, plus a module here only when it brings a new
//! kind of entry or gate (see docs/ARCHITECTURE.md).

pub mod direct;
pub mod dnat;
pub mod gate;
pub mod port_per_tenant;
pub mod profile;
pub mod shared_port;

use std::net::{IpAddr, SocketAddr};

use crate::error::{Error, Result};
use crate::layout::Layout;
pub use crate::render::Endpoint;
use crate::render::Rendered;
use crate::state::cluster::VaultNode;
use crate::state::{MappingSource, PODMAN_HOST_NAME, ReservedPort, Site, State, TenantNetwork};
use crate::sys::podman::{Answer, parse_version};
use profile::{EntryKind, GateKind, HostMapping, Profile, VaultBind};

/// A site seen through its profile.
#[derive(Debug, Clone)]
pub struct Topology<'a> {
    pub site: &'a Site,
    pub profile: Profile,
    /// Each tenant's own port (entry `per-tenant-port`), in tenant order;
    /// empty under other entries, or when seen from the site alone.
    pub tenant_ports: Vec<TenantPort>,
    /// The ports of removed tenants still reserved.
    pub reserved: Vec<ReservedPort>,
}

/// A tenant's own port, as the state records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPort {
    pub name: String,
    pub uid: Option<u32>,
    pub port: u16,
}

/// The files vaultnet writes for the host (in `forwarder/`), and the
/// commands, run from the state directory, that put them in effect.
#[derive(Debug, Clone)]
pub struct HostFiles {
    pub files: Vec<Rendered>,
    pub enable: Vec<String>,
}

/// A setting of this host an entry depends on beyond its files, which
/// doctor reads and never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostLink {
    /// The sysctl `key` (as sysctl(8) names it) must read `want`.
    Sysctl {
        id: String,
        title: String,
        key: String,
        want: String,
        /// What a different value means.
        bad: String,
        /// The fix for a different value.
        hint: String,
        /// The fix when the key does not exist (no such interface).
        missing_hint: String,
    },
    /// `want` must be this host's first non-loopback IPv4 address, else a
    /// warning with `hint`, in which `{found}` stands for the first one.
    FirstIpv4 {
        id: String,
        title: String,
        want: IpAddr,
        hint: String,
    },
    /// Chain `chain` of the gate's table in the kernel must hold `rule`,
    /// as `nft list` prints it.
    NftRule {
        id: String,
        title: String,
        chain: String,
        rule: String,
        hint: String,
    },
}

/// One way into Vault that doctor checks as a packet sees it.
#[derive(Debug, Clone)]
pub struct EntryProbe {
    /// The check id, e.g. `forwarder`.
    pub id: String,
    pub title: String,
    /// The TLS name to ask for.
    pub name: String,
    pub addr: SocketAddr,
    /// The host address the entry listens on, which must be on an interface.
    pub host_ip: Option<IpAddr>,
    /// The fix when nothing listens there.
    pub start_hint: String,
    /// The fix when the entry accepts and then no TLS server answers.
    pub upstream_hint: String,
    /// The fix when the entry leads to another TLS server than Vault's.
    pub elsewhere_hint: String,
}

impl<'a> Topology<'a> {
    /// Reads the site's profile and checks the site against it.
    pub fn new(site: &'a Site) -> Result<Topology<'a>> {
        Self::with_profile(site, Profile::builtin(&site.profile)?)
    }

    /// The site of `state` with its tenants: what the host files and
    /// doctor's probes need where each tenant has an entry of its own.
    pub fn of(state: &'a State) -> Result<Topology<'a>> {
        let mut t = Self::new(&state.site)?;
        if t.profile.entry == EntryKind::PerTenantPort {
            t.tenant_ports = state
                .tenants
                .iter()
                .filter_map(|(n, r)| {
                    r.port.map(|port| TenantPort {
                        name: n.clone(),
                        uid: r.uid,
                        port,
                    })
                })
                .collect();
            t.reserved = state.reserved_ports.clone();
        }
        Ok(t)
    }

    /// The port `tenant` of `state` has or gets, where the entry gives each
    /// tenant its own (`None` elsewhere): recorded, else allocated (never a
    /// port reserved at `now`).
    pub fn tenant_port(
        &self,
        state: &State,
        tenant: &str,
        now: time::OffsetDateTime,
        taken: &[u16],
    ) -> Result<Option<u16>> {
        match self.profile.entry {
            EntryKind::PerTenantPort => {
                port_per_tenant::port_for(state, tenant, now, taken).map(Some)
            }
            EntryKind::SharedPort | EntryKind::Direct | EntryKind::Dnat => Ok(None),
        }
    }

    /// What `add-user` says of a port it gave `tenant` (`added`), or
    /// `remove-user` of one it reserved; `None` without ports of their own.
    pub fn port_note(&self, tenant: &str, port: Option<u16>, added: bool) -> Option<String> {
        match (self.profile.entry, port) {
            (EntryKind::PerTenantPort, Some(p)) => {
                Some(port_per_tenant::port_note(self.site, tenant, p, added))
            }
            _ => None,
        }
    }

    /// The site under `profile`, checked against it.
    pub fn with_profile(site: &'a Site, profile: Profile) -> Result<Topology<'a>> {
        // Either way the operator's listener, `vault_addr`, is loopback;
        // `nic` adds the host address beside it.
        match profile.vault_bind {
            VaultBind::Loopback | VaultBind::Nic => {
                // A cluster's nodes first: `vault_addr` is one of them.
                let nodes = site.cluster.iter().flat_map(|c| &c.nodes);
                if let Some(n) = nodes.into_iter().find(|n| !n.addr.ip().is_loopback()) {
                    return Err(Error::usage(format!(
                        "invalid `--vault-node {}={}`: profile {} keeps Vault on loopback",
                        n.name, n.addr, profile.code
                    ))
                    .hint("give every node a loopback address, e.g. `--vault-node bao2=127.0.0.2:8200`"));
                }
                if !site.vault_addr.ip().is_loopback() {
                    let what = match profile.vault_bind {
                        VaultBind::Loopback => "Vault",
                        VaultBind::Nic => "Vault's operator listener",
                    };
                    return Err(Error::usage(format!(
                        "invalid Vault address `{}`: profile {} keeps {what} on loopback",
                        site.vault_addr, profile.code
                    ))
                    .hint("pass a loopback address, e.g. `--vault-listen 127.0.0.1:8200`"));
                }
            }
        }
        let remote = gate::remote(profile.gate, site) != crate::render::nft::Remote::None;
        match profile.entry {
            EntryKind::SharedPort => shared_port::check(site)?,
            EntryKind::Direct => direct::check(site)?,
            EntryKind::PerTenantPort => port_per_tenant::check(site)?,
            EntryKind::Dnat => dnat::check(site, remote)?,
        }
        if let Some(i) = &site.ingress_interface
            && !(profile.entry == EntryKind::Dnat && remote)
        {
            return Err(Error::usage(format!(
                "`--ingress-interface {i}` does not apply to profile {}: no remote client is DNATed to Vault's loopback listener",
                profile.name()
            ))
            .hint("drop `--ingress-interface`, or choose `--profile r7`"));
        }
        gate::check(site, &profile)?;
        if let Some(m) = &site.legacy_host_mapping
            && *m != profile.host_mapping.to_string()
        {
            return Err(Error::usage(format!(
                "`host_mapping: {m}` contradicts profile `{}`, which maps the name to `{}`",
                profile.name(),
                profile.host_mapping
            ))
            .hint("remove the `host_mapping` line, or set the `profile` that maps to it"));
        }
        Ok(Topology {
            site,
            profile,
            tenant_ports: Vec::new(),
            reserved: Vec::new(),
        })
    }

    /// `pattern L1: host forwarder + DNS name + mTLS`.
    pub fn describe(&self) -> String {
        format!("pattern {}: {}", self.profile.code, self.profile.summary)
    }

    /// What `vaultnet profiles` says of this pattern, after its heading:
    /// where Vault listens, the files vaultnet writes for the host (for
    /// the site's forwarder), and the pattern's limits.
    pub fn listing(&self) -> Vec<String> {
        let listeners: Vec<String> = self
            .vault_listeners()
            .iter()
            .map(|a| {
                if a.ip().is_loopback() {
                    "loopback".to_string()
                } else {
                    "the host address".to_string()
                }
            })
            .collect();
        let files: Vec<String> = self
            .host_files(&Layout::new("/"), &[])
            .files
            .iter()
            .map(|f| format!("forwarder/{}", f.name))
            .collect();
        let mut out = vec![
            format!("Vault listens on: {}", listeners.join(" and ")),
            format!("writes: vault/listener.json, {}", files.join(", ")),
        ];
        out.extend(self.profile.limits.iter().map(|l| format!("limit: {l}")));
        out
    }

    /// What `extra_hosts` maps the Vault name to, or `None` for no entry.
    fn mapping_target(&self, mapping: HostMapping) -> Option<String> {
        Some(match mapping {
            HostMapping::Ip => self.site.host_ip.to_string(),
            HostMapping::HostGateway => "host-gateway".into(),
            HostMapping::HostContainersInternal => return None,
        })
    }

    /// The name a bundle mapped as `mapping` connects to: Podman's own
    /// name for the host, else the site's DNS name.
    fn mapped_name(&self, mapping: HostMapping) -> &str {
        match mapping {
            HostMapping::HostContainersInternal => PODMAN_HOST_NAME,
            HostMapping::Ip | HostMapping::HostGateway => &self.site.dns_name,
        }
    }

    /// How `tenant` reaches Vault with the profile's mapping (at its own
    /// port, where it has one).
    pub fn endpoint(&self, tenant: &str) -> Endpoint {
        let port = self
            .tenant_ports
            .iter()
            .find(|p| p.name == tenant)
            .map(|p| p.port);
        self.endpoint_mapped(port, None)
    }

    /// How `tenant` reaches Vault with its own recorded mapping and port.
    pub fn tenant_endpoint(&self, tenant: &str, t: &crate::state::Tenant) -> Endpoint {
        let _ = tenant;
        self.endpoint_mapped(t.port, t.network.as_ref().map(|n| n.mapping))
    }

    /// How a tenant whose own port is `port` (where the entry gives each
    /// one) reaches Vault when its bundle maps the name as `mapping`
    /// (`None`: as the profile does).
    pub fn endpoint_mapped(&self, port: Option<u16>, mapping: Option<HostMapping>) -> Endpoint {
        let connect = self.listen_at(port);
        let mapping = mapping.unwrap_or(self.profile.host_mapping);
        let name = self.mapped_name(mapping);
        Endpoint {
            url: format!("https://{name}:{}", connect.port()),
            name: name.to_string(),
            extra_host: self.mapping_target(mapping).map(|t| format!("{name}:{t}")),
            connect,
        }
    }

    /// Where every tenant connects (one entry for all of them); under
    /// `per-tenant-port`, the first port.
    fn listen(&self) -> SocketAddr {
        self.listen_at(None)
    }

    /// Where a tenant whose own port is `port` connects (a tenant not yet
    /// given one under `per-tenant-port`: the first port, until `add-user`
    /// gives it its own).
    fn listen_at(&self, port: Option<u16>) -> SocketAddr {
        match self.profile.entry {
            EntryKind::SharedPort => shared_port::listen(self.site),
            EntryKind::Direct => direct::listen(self.site),
            EntryKind::Dnat => dnat::listen(self.site),
            EntryKind::PerTenantPort => {
                port_per_tenant::listen(self.site, port.unwrap_or(self.site.port))
            }
        }
    }

    /// Each tenant's rule in the gate, as `nft list` prints it: `(tenant,
    /// port, rule)`; empty where tenants share the entry.
    pub fn port_rules(&self) -> Vec<(String, u16, String)> {
        self.tenant_ports
            .iter()
            .map(|p| {
                let rule = crate::render::nft::OwnPort {
                    addr: self.listen_at(Some(p.port)),
                    uid: p.uid,
                    whose: p.name.clone(),
                }
                .rule();
                (p.name.clone(), p.port, rule)
            })
            .collect()
    }

    /// The entries every tenant shares (the gate admits all of them there).
    pub fn shared_entries(&self) -> Vec<SocketAddr> {
        match self.profile.entry {
            EntryKind::SharedPort | EntryKind::Direct | EntryKind::Dnat => vec![self.listen()],
            EntryKind::PerTenantPort => Vec::new(),
        }
    }

    /// The ports of one tenant each (reserved ones too), as the gate holds
    /// them; empty where tenants share the entry.
    pub fn own_ports(&self) -> Vec<crate::render::nft::OwnPort> {
        match self.profile.entry {
            EntryKind::PerTenantPort => port_per_tenant::own_ports(self),
            EntryKind::SharedPort | EntryKind::Direct | EntryKind::Dnat => Vec::new(),
        }
    }

    /// Where the gate DNATs the entry to (Vault's loopback listener), if
    /// the kernel is the entry.
    pub fn dnat_to(&self) -> Option<SocketAddr> {
        (self.profile.entry == EntryKind::Dnat).then_some(self.site.vault_addr)
    }

    /// Whether the gate admits clients from outside this host.
    fn admits_remote(&self) -> bool {
        self.remote() != crate::render::nft::Remote::None
    }

    /// What doctor reads of this host beyond the files, for the entry.
    pub fn host_links(&self) -> Vec<HostLink> {
        let mut v = match self.profile.entry {
            EntryKind::SharedPort | EntryKind::Direct | EntryKind::PerTenantPort => Vec::new(),
            EntryKind::Dnat => dnat::links(self.site, self.admits_remote()),
        };
        // Podman points its name at the first address, which moves
        // silently when the host's addresses change.
        if self.profile.host_mapping == HostMapping::HostContainersInternal {
            let ip = self.site.host_ip;
            v.push(HostLink::FirstIpv4 {
                id: "host.first_address".into(),
                title: format!(
                    "{ip} is this host's first IPv4 address, where Podman points `{PODMAN_HOST_NAME}`"
                ),
                want: ip,
                hint: format!(
                    "tenants' containers now reach {{found}} by `{PODMAN_HOST_NAME}`: make {ip} the first address again, or move the site there with `vaultnet init --host-ip {{found}}` and reinstall the forwarder"
                ),
            });
        }
        v
    }

    /// Every address one Vault server's listener file binds, the
    /// operator's loopback one first; under `vault_bind: nic` also the
    /// tenants' entry on the host address.
    pub fn vault_listeners(&self) -> Vec<SocketAddr> {
        let mut v = vec![self.site.vault_addr];
        if self.profile.vault_bind == VaultBind::Nic {
            v.push(self.listen());
        }
        v
    }

    /// The address where Vault itself is open to other hosts, if any.
    pub fn vault_exposed(&self) -> Option<SocketAddr> {
        (self.profile.vault_bind == VaultBind::Nic).then(|| self.listen())
    }

    /// Who the gate admits to the entry from outside this host.
    pub fn remote(&self) -> crate::render::nft::Remote<'_> {
        gate::remote(self.profile.gate, self.site)
    }

    /// Users besides root that the entry itself needs on Vault's loopback
    /// port: the forwarder's, when there is one.
    pub fn entry_users(&self) -> Vec<&'static str> {
        match self.profile.entry {
            EntryKind::SharedPort | EntryKind::PerTenantPort => {
                vec![crate::render::forwarder::identity(self.site.forwarder)]
            }
            EntryKind::Direct | EntryKind::Dnat => Vec::new(),
        }
    }

    /// What `init` says of the way in, before the host files' enable
    /// commands (run from `root`); `upstream` is where the entry leads.
    pub fn init_lines(&self, root: &str, upstream: &str) -> Vec<String> {
        use crate::render::nft::Remote;
        let mut out = Vec::new();
        if self.profile.host_mapping == HostMapping::HostContainersInternal {
            out.push(format!(
                "Bundles connect to `{PODMAN_HOST_NAME}` (no extra_hosts): Podman points it at this host's first IPv4 address, which must stay {}; `vaultnet doctor` warns when it moves.",
                self.site.host_ip
            ));
        }
        out.extend(match self.remote() {
            Remote::None => Vec::new(),
            Remote::Listed(list) => vec![format!(
                "Clients from outside this host: only from {} (`--allow-cidr`); the gate resets every other.",
                list.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
            Remote::Any => vec![format!(
                "Clients from outside this host: from every network that reaches {}; mutual TLS is the only lock (limit them with `--allow-cidr NETWORK`).",
                self.listen()
            )],
        });
        out.extend(match self.profile.entry {
            EntryKind::SharedPort => self
                .entry_probes()
                .iter()
                .map(|e| shared_port::heading(self.site, e.addr, upstream, root))
                .collect::<Vec<_>>(),
            EntryKind::Direct => vec![direct::heading(self.site, root)],
            EntryKind::PerTenantPort => vec![port_per_tenant::heading(self.site, upstream, root)],
            EntryKind::Dnat => vec![dnat::heading(self.site, root, self.admits_remote())],
        });
        out
    }

    /// The Vault server certificate's DNS names and addresses: the name
    /// tenants use and the profile's extra names, `localhost`; the host
    /// address, Vault's own, and 127.0.0.1.
    pub fn server_sans(&self) -> (Vec<String>, Vec<IpAddr>) {
        self.sans_for(None, self.site.vault_addr.ip())
    }

    /// The names of a server listening on `own`: the name tenants use,
    /// the profile's extra names, its own `name` (a cluster node's), then
    /// `localhost`; the host address, `own` and 127.0.0.1.
    fn sans_for(&self, name: Option<&str>, own: IpAddr) -> (Vec<String>, Vec<IpAddr>) {
        let mut dns = vec![self.site.dns_name.clone()];
        // Bundles of a profile without a mapping connect by Podman's name.
        let podman = (self.profile.host_mapping == HostMapping::HostContainersInternal)
            .then_some(PODMAN_HOST_NAME);
        for s in podman
            .into_iter()
            .chain(self.profile.extra_sans.iter().map(String::as_str))
            .chain(name)
            .chain(["localhost"])
        {
            if !dns.iter().any(|d| d == s) {
                dns.push(s.to_string());
            }
        }
        let mut ips = vec![self.site.host_ip];
        for ip in [own, "127.0.0.1".parse().expect("valid")] {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
        (dns, ips)
    }

    /// The Vault server certificate's names for cluster node `node`: the
    /// names of [`Topology::server_sans`] (tenants reach every node by the
    /// forwarder's name and address) and the node's own name and address.
    pub fn node_sans(&self, node: &VaultNode) -> (Vec<String>, Vec<IpAddr>) {
        self.sans_for(Some(&node.name), node.addr.ip())
    }

    /// Every address a Vault server of the site listens on: each cluster
    /// node's, else the one server's.
    pub fn vault_addrs(&self) -> Vec<SocketAddr> {
        match &self.site.cluster {
            Some(c) => c.nodes.iter().map(|n| n.addr).collect(),
            None => vec![self.site.vault_addr],
        }
    }

    /// The host files for the current tenants (their uids, sorted), with
    /// paths into the state directory of `layout`.
    pub fn host_files(&self, layout: &Layout, tenant_uids: &[u32]) -> HostFiles {
        let mut out = match self.profile.entry {
            EntryKind::SharedPort => shared_port::host_files(self.site, layout),
            EntryKind::Direct | EntryKind::Dnat => direct::host_files(),
            EntryKind::PerTenantPort => port_per_tenant::host_files(self),
        };
        let g = match self.profile.gate {
            GateKind::UidAllowlist
            | GateKind::SourceAllowlist
            | GateKind::OptionalSourceAllowlist
            | GateKind::PerPort => gate::uid_allowlist(self, tenant_uids),
        };
        out.files.extend(g.files);
        out.enable.extend(g.enable);
        // route_localnet only once the gate's guard is in place.
        if self.profile.entry == EntryKind::Dnat {
            let after = dnat::after_gate(self.site, self.admits_remote());
            out.files.extend(after.files);
            out.enable.extend(after.enable);
        }
        out
    }

    /// The gate as the kernel holds it, for the kinds vaultnet can reload.
    pub fn live_gate(&self) -> Option<gate::Live> {
        match self.profile.gate {
            GateKind::UidAllowlist
            | GateKind::SourceAllowlist
            | GateKind::OptionalSourceAllowlist
            | GateKind::PerPort => Some(gate::Live),
        }
    }

    /// Host files an earlier setting may have left in `forwarder/` that
    /// the current one does not write: `(name, why)`, sorted by name.
    /// `present` are the names in `forwarder/` now (per-port files are
    /// named after ports that come and go).
    pub fn retired_host_files(&self, present: &[String]) -> Vec<(String, String)> {
        let current: Vec<String> = self
            .host_files(&Layout::new("/"), &[])
            .files
            .into_iter()
            .map(|f| f.name)
            .collect();
        let mut retired: Vec<(String, String)> = shared_port::all_files()
            .into_iter()
            .chain(dnat::all_files())
            .chain(port_per_tenant::all_files())
            .chain(
                present
                    .iter()
                    .filter(|n| port_per_tenant::is_own_file(n))
                    .map(|n| (n.clone(), "no tenant has its port any more".to_string())),
            )
            .filter(|(n, _)| !current.contains(n))
            .collect();
        retired.sort();
        retired.dedup_by(|a, b| a.0 == b.0);
        retired
    }

    /// The entries doctor probes, in the order a packet meets them.
    pub fn entry_probes(&self) -> Vec<EntryProbe> {
        match self.profile.entry {
            EntryKind::SharedPort => vec![shared_port::probe(self.site)],
            EntryKind::Direct => vec![direct::probe(self.site)],
            EntryKind::PerTenantPort => self
                .tenant_ports
                .iter()
                .map(|p| port_per_tenant::probe(self, &p.name, p.port))
                .collect(),
            EntryKind::Dnat => vec![dnat::probe(self.site)],
        }
    }
}

/// The host address `init` proposes: where Podman points
/// `host.containers.internal` for a profile whose bundles use that name
/// (the first non-loopback IPv4 address), else the default-route
/// interface's address.
pub fn proposed_host_ip(profile: &Profile) -> Option<IpAddr> {
    match profile.host_mapping {
        HostMapping::HostContainersInternal => crate::sys::hostnet::first_ipv4(),
        HostMapping::Ip | HostMapping::HostGateway => crate::sys::hostnet::default_host_ip(),
    }
}

/// The interface remote clients arrive on, for a profile that DNATs them
/// to Vault's loopback listener: the flagged one, else the recorded one,
/// else the one holding the host address (`found`). Other profiles keep
/// none ([`Topology::new`] refuses a flagged one).
pub fn ingress_interface(
    profile: &Profile,
    flagged: Option<&str>,
    recorded: Option<&str>,
    found: impl FnOnce() -> Option<String>,
) -> Option<String> {
    match (flagged, profile.entry) {
        (Some(f), _) => Some(f.to_string()),
        (None, EntryKind::Dnat) if profile.gate.admits_remote() => {
            recorded.map(str::to_string).or_else(found)
        }
        (None, _) => None,
    }
}

/// The first Podman whose `host-gateway` pasta maps to the host.
pub const HOST_GATEWAY_SINCE: (u32, u32) = (5, 3);

/// The mapping that works for `tenant`'s containers, and why: `--host-mapping`
/// (`flag`), else one the flag chose before (`prev`), else what its own
/// Podman says (`answer`; `None` without a Unix user) — the host address
/// under slirp4netns, `host-gateway` under pasta from Podman 5.3 on —, else
/// the profile's (`site`). Pasta on an older Podman has no mapping that
/// works: refused, with the ways out.
///
/// On a site whose bundles use `host.containers.internal` (L2), a backend
/// that reaches the host by that name keeps it: slirp4netns resolves it to
/// the host's first IPv4 address, pasta from Podman 5.3 on to its
/// `host-gateway` address. Only such a site's server certificate names
/// it, so a flag that asks for it elsewhere is refused.
pub fn tenant_network(
    tenant: &str,
    site: HostMapping,
    flag: Option<HostMapping>,
    prev: Option<&TenantNetwork>,
    answer: Option<&Answer>,
) -> Result<TenantNetwork> {
    let podman_name = HostMapping::HostContainersInternal;
    if flag == Some(podman_name) && site != podman_name {
        return Err(Error::usage(format!(
            "`--host-mapping {podman_name}` needs a server certificate that names `{PODMAN_HOST_NAME}`, and this site's profile does not"
        ))
        .hint("drop `--host-mapping`, or move the site to the pattern: `vaultnet init --profile l2`"));
    }
    let n = detect_network(tenant, site, flag, prev, answer)?;
    Ok(match (&n.backend, &n.podman) {
        (Some(backend), Some(version))
            if site == podman_name && n.source == MappingSource::Detected =>
        {
            TenantNetwork {
                mapping: podman_name,
                reason: format!(
                    "Podman {version} uses {backend}, whose containers reach the host as `{PODMAN_HOST_NAME}`"
                ),
                ..n
            }
        }
        _ => n,
    })
}

/// [`tenant_network`] before a site without a mapping has its say.
fn detect_network(
    tenant: &str,
    site: HostMapping,
    flag: Option<HostMapping>,
    prev: Option<&TenantNetwork>,
    answer: Option<&Answer>,
) -> Result<TenantNetwork> {
    let (backend, podman) = match answer {
        Some(Answer::Found { version, backend }) => (Some(backend.clone()), Some(version.clone())),
        _ => (None, None),
    };
    let record = |mapping, source, reason: String| TenantNetwork {
        mapping,
        backend: backend.clone(),
        podman: podman.clone(),
        source,
        reason,
    };
    if let Some(m) = flag {
        return Ok(record(
            m,
            MappingSource::Flag,
            format!("chosen with `--host-mapping {m}`"),
        ));
    }
    if let Some(p) = prev.filter(|p| p.source == MappingSource::Flag) {
        return Ok(TenantNetwork {
            backend,
            podman,
            ..p.clone()
        });
    }
    let site_default = |why: String| {
        record(
            site,
            MappingSource::Site,
            format!("{why}: the site's mapping"),
        )
    };
    Ok(match answer {
        None => site_default("no Unix user whose Podman to ask".into()),
        Some(Answer::Absent) => site_default(format!("Podman is not installed for `{tenant}`")),
        Some(Answer::Failed(_)) => site_default(format!("`{tenant}`'s Podman did not answer")),
        Some(Answer::Found { version, backend }) => match backend.as_str() {
            "slirp4netns" => record(
                HostMapping::Ip,
                MappingSource::Detected,
                format!("Podman {version} uses slirp4netns, which reaches the host address"),
            ),
            "pasta" if parse_version(version).is_some_and(|v| v >= HOST_GATEWAY_SINCE) => record(
                HostMapping::HostGateway,
                MappingSource::Detected,
                format!(
                    "Podman {version} uses pasta, where the host address is the container's own; host-gateway reaches the host"
                ),
            ),
            "pasta" => {
                return Err(Error::usage(format!(
                    "tenant `{tenant}`'s Podman {version} uses pasta, where the host address is the container's own, and `host-gateway` needs Podman 5.3"
                ))
                .hint(format!(
                    "upgrade Podman, or have `{tenant}` set `default_rootless_network_cmd = \"slirp4netns\"` under `[network]` in `~/.config/containers/containers.conf` and run `vaultnet add-user {tenant}` again"
                )));
            }
            other => site_default(format!(
                "Podman {version} names a rootless network vaultnet does not know (`{}`)",
                other.escape_debug()
            )),
        },
    })
}

/// A site of `profile` on documentation addresses, with what the pattern
/// needs given (a network for a gate that admits only listed ones, an
/// ingress interface for remote clients DNATed to loopback): what the
/// pattern writes and says, for `vaultnet profiles`.
pub fn sample_site(profile: &Profile) -> Result<Site> {
    let flags = crate::settings::Flags {
        host_ip: Some("192.0.2.10".into()),
        allow_cidr: if profile.gate.needs_networks() {
            vec!["198.51.100.0/24".into()]
        } else {
            Vec::new()
        },
        ingress_interface: (profile.entry == EntryKind::Dnat).then(|| "eth0".into()),
        ..Default::default()
    };
    let parsed = crate::settings::Parsed::from_flags(&flags)?;
    crate::settings::resolve_under(profile, &parsed, None, &flags, false)
}

/// A `--host-mapping` that contradicts the chosen profile is refused: the
/// profile's name would no longer describe the site.
pub fn check_host_mapping(profile: &Profile, flag: Option<HostMapping>) -> Result<()> {
    match flag {
        Some(m) if m != profile.host_mapping => {
            let fits: Vec<String> = Profile::all()
                .into_iter()
                .filter(|p| {
                    p.host_mapping == m
                        && Profile {
                            code: profile.code.clone(),
                            summary: profile.summary.clone(),
                            host_mapping: profile.host_mapping,
                            limits: profile.limits.clone(),
                            ..p.clone()
                        } == *profile
                })
                .map(|p| format!("`--profile {}`", p.name()))
                .collect();
            Err(Error::usage(format!(
                "`--host-mapping {m}` contradicts profile `{}`, which maps the name to `{}`",
                profile.name(),
                profile.host_mapping
            ))
            .hint(if fits.is_empty() {
                "drop `--host-mapping`: the profile decides the mapping".to_string()
            } else {
                format!(
                    "drop `--host-mapping`, or choose the profile that maps to `{m}`: {}",
                    fits.join(" or ")
                )
            }))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
