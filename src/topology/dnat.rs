//! Entry kind `dnat` (pattern R7): no userspace proxy. The gate's table
//! DNATs the host address and the site's port to Vault's loopback
//! listener, in the `nat` prerouting hook for clients from outside this
//! host and in the output hook for local ones — tenants and their
//! rootless containers, whose slirp4netns or pasta connects from the
//! host's own stack and never passes prerouting.
//!
//! A remote client's packet, DNATed to 127.0.0.1, is dropped as martian
//! unless `route_localnet` is on for the interface it arrives on: vaultnet
//! writes a sysctl file for that one interface (`init
//! --ingress-interface`), never `all`, and the gate drops every other
//! packet to 127.0.0.0/8 from outside, so the host never answers from
//! loopback onto the network (the CVE-2020-8558 class).
//!
//! IPv4 only: IPv6 has no `route_localnet`, so nothing from outside can be
//! DNATed to `[::1]`; an IPv6 host address needs a forwarder (profile l1).

use std::net::SocketAddr;

use super::{EntryProbe, HostFiles, HostLink};
use crate::error::{Error, Result};
use crate::render::Rendered;
use crate::state::Site;

/// The sysctl file in `forwarder/`, for `/etc/sysctl.d/`.
pub const SYSCTL_FILE: &str = "vaultnet-route-localnet.conf";

/// The gate's chains that DNAT, as `render::nft` names them.
pub const PREROUTING: &str = "dnat_prerouting";
pub const OUTPUT: &str = "dnat_output";

/// One Vault on loopback, IPv4 on both ends, and (for remote clients) the
/// interface they arrive on.
pub fn check(site: &Site, remote: bool) -> Result<()> {
    if site.cluster.is_some() {
        return Err(Error::usage(format!(
            "profile {} DNATs tenants to one Vault address and cannot follow a cluster's active node",
            site.profile
        ))
        .hint("drop `--vault-node`, or keep the cluster behind HAProxy with `--profile l1`"));
    }
    if !site.host_ip.is_ipv4() {
        return Err(Error::usage(format!(
            "profile {} needs an IPv4 host address, and {} is IPv6: IPv6 has no `route_localnet`, so nothing from outside can be DNATed to Vault's loopback listener",
            site.profile, site.host_ip
        ))
        .hint("pass an IPv4 `--host-ip`, or `--profile l1` (a forwarder) for an IPv6 address"));
    }
    if !site.vault_addr.is_ipv4() {
        return Err(Error::usage(format!(
            "profile {} DNATs to an IPv4 loopback listener, and `--vault-listen {}` is IPv6",
            site.profile, site.vault_addr
        ))
        .hint("pass e.g. `--vault-listen 127.0.0.1:8200`"));
    }
    if remote && site.ingress_interface.is_none() {
        return Err(Error::usage(format!(
            "profile {} needs the interface remote clients arrive on, and no interface of this host holds {}",
            site.profile, site.host_ip
        ))
        .hint("pass it, e.g. `--ingress-interface eth0` (`ip -brief address` lists them)"));
    }
    Ok(())
}

/// Where tenants connect: the host address and the site's port, which
/// the kernel rewrites to Vault's listener.
pub fn listen(site: &Site) -> SocketAddr {
    SocketAddr::new(site.host_ip, site.port)
}

/// The sysctl key, with a `.` in the interface name written `/` as
/// sysctl(8) wants it.
fn key(iface: &str) -> String {
    format!("net.ipv4.conf.{}.route_localnet", iface.replace('.', "/"))
}

/// The sysctl file and its commands, once the gate (whose guard must be
/// in place first) is loaded; nothing when no remote client is admitted.
pub fn after_gate(site: &Site, remote: bool) -> HostFiles {
    let Some(iface) = site.ingress_interface.as_deref().filter(|_| remote) else {
        return HostFiles {
            files: Vec::new(),
            enable: Vec::new(),
        };
    };
    let key = key(iface);
    HostFiles {
        files: vec![Rendered {
            name: SYSCTL_FILE.into(),
            contents: format!(
                "# vaultnet (pattern R7): remote clients reach Vault's loopback listener\n\
                 # through DNAT, which the kernel drops as martian unless route_localnet is\n\
                 # on for the interface they arrive on. This one only, never `all`: the\n\
                 # gate (forwarder/vaultnet.nft) drops every other packet to 127.0.0.0/8\n\
                 # that arrives from outside. Load the gate first.\n\
                 {key} = 1\n"
            ),
        }],
        enable: vec![
            format!(
                "install -m 0644 forwarder/{SYSCTL_FILE} /etc/sysctl.d/    # route_localnet on {iface} only, at every boot"
            ),
            format!("sysctl -w {key}=1    # and now, once the gate is loaded"),
        ],
    }
}

/// Every file this entry kind may write: `(name, why)` it would be retired.
pub fn all_files() -> Vec<(String, String)> {
    vec![(
        SYSCTL_FILE.into(),
        "no DNAT entry admits remote clients any more; set the interface's route_localnet back to 0".into(),
    )]
}

/// The rule both DNAT chains hold, as the gate writes it and `nft list`
/// prints it.
pub fn rule(site: &Site) -> String {
    let e = listen(site);
    format!(
        "ip daddr {} tcp dport {} dnat ip to {}",
        e.ip(),
        e.port(),
        site.vault_addr
    )
}

/// The gate's guard against loopback traffic from outside.
pub const GUARD: &str = "iifname != \"lo\" ip daddr 127.0.0.0/8 drop";

/// What doctor reads of this host beyond the files: the DNAT rules and
/// the guard in the kernel and, for remote clients, `route_localnet` on
/// the ingress interface.
pub fn links(site: &Site, remote: bool) -> Vec<HostLink> {
    let load = "load the gate, which holds the rules: `nft -f forwarder/vaultnet.nft` from the state directory".to_string();
    let entry = listen(site);
    let mut v = vec![HostLink::NftRule {
        id: "host.dnat.output".into(),
        title: format!(
            "DNAT {entry} -> {} for local clients (nat output)",
            site.vault_addr
        ),
        chain: OUTPUT.into(),
        rule: rule(site),
        hint: load.clone(),
    }];
    if let (true, Some(iface)) = (remote, site.ingress_interface.as_deref()) {
        v.push(HostLink::NftRule {
            id: "host.dnat.prerouting".into(),
            title: format!(
                "DNAT {entry} -> {} for remote clients (nat prerouting)",
                site.vault_addr
            ),
            chain: PREROUTING.into(),
            rule: rule(site),
            hint: load.clone(),
        });
        v.push(HostLink::NftRule {
            id: "host.guard".into(),
            title: "loopback traffic from outside dropped unless DNATed".into(),
            chain: "input".into(),
            rule: GUARD.into(),
            hint: load,
        });
        let key = key(iface);
        v.push(HostLink::Sysctl {
            id: "host.route_localnet".into(),
            title: format!("route_localnet on `{iface}`, where remote clients arrive"),
            key: key.clone(),
            want: "1".into(),
            bad: format!("off: the kernel drops remote clients' DNATed packets to {} as martian", site.vault_addr.ip()),
            hint: format!("sysctl -w {key}=1 (and install `forwarder/{SYSCTL_FILE}` in /etc/sysctl.d/ for the next boot)"),
            missing_hint: format!("bring `{iface}` up, or name the interface remote clients arrive on: `vaultnet init --ingress-interface IFACE`"),
        });
    }
    v
}

pub fn probe(site: &Site) -> EntryProbe {
    let addr = listen(site);
    let name = site.flavor.display_name();
    EntryProbe {
        id: "dnat".into(),
        title: format!("DNAT at {addr} to {name} at {}", site.vault_addr),
        name: site.dns_name.clone(),
        addr,
        host_ip: Some(site.host_ip),
        start_hint: format!(
            "load the DNAT rules (`nft -f forwarder/vaultnet.nft` from the state directory) and start {name} at {}",
            site.vault_addr
        ),
        upstream_hint: format!(
            "make sure {} is {name}'s TLS listener of `vault/listener.json`",
            site.vault_addr
        ),
        elsewhere_hint: format!(
            "the DNAT leads elsewhere: reload the gate (`nft -f forwarder/vaultnet.nft`) and remove other tables' DNAT of {addr} (`nft list ruleset`)"
        ),
    }
}

/// What `init` says of the entry, before the gate's commands.
pub fn heading(site: &Site, root: &str, remote: bool) -> String {
    let addr = listen(site);
    let remote = match (remote, site.ingress_interface.as_deref()) {
        (true, Some(iface)) => format!(
            " in prerouting for remote clients (arriving on `{iface}`, which needs route_localnet) and"
        ),
        _ => String::new(),
    };
    format!(
        "No userspace proxy: nftables DNATs {addr} to {} at {}{remote} in output for local tenants and their rootless containers. Install from `{root}` with:",
        site.flavor.display_name(),
        site.vault_addr,
    )
}
