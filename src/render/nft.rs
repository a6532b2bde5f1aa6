//! `forwarder/vaultnet.nft`: the host-side gate by uid (`gate: uid-allowlist`). Source
//! addresses cannot tell tenants apart behind rootless NAT, but the kernel
//! knows which Unix user owns each socket (`meta skuid`):
//! - only tenant uids (and root, for the operator's `vaultnet doctor`) may
//!   connect to the entry (the forwarder port); nothing from outside this host may;
//! - only root and the forwarder's own user may connect to Vault's own
//!   port — an allowlist, so no tenant (slirp4netns `allow_host_loopback`
//!   and pasta would otherwise expose it), no removed tenant and no
//!   stranger can skip the gate.
//!
//! With `gate: per-port` (L3) each tenant has a port of its own, and only
//! that tenant's uid (and root) may connect to it; a removed tenant's port,
//! reserved until its certificate expires, admits root alone.
//!
//! With `gate: source-allowlist` (L4, R1) clients from outside this host
//! reach the entry from the listed networks only (sets `clients4` and
//! `clients6`); local ones still arrive on `lo` — rootless containers with
//! the host's own address as source — and meet the uid rule.
//!
//! With a DNAT entry (R7, `dnat_to`) the table also rewrites the entry to
//! Vault's loopback listener, in a `nat` prerouting chain (remote clients)
//! and a `nat` output chain (local ones, rootless containers too). The
//! filter output chain then runs at priority -150, before NAT (-100): it
//! still sees the address and port a tenant asked for, so the entry's uid
//! rule matches, and the rule on Vault's port meets only connections made
//! straight to it — at priority 0 it would see every DNATed tenant as one
//! connecting to Vault's port, and the entry rule would never match (the
//! leak of a naive table). In the input hook a DNATed packet already
//! carries Vault's address, so the entry is matched by its original tuple
//! (`ct original`), and every other packet to 127.0.0.0/8 from outside is
//! dropped: `route_localnet` would otherwise let a neighbour reach loopback
//! services and the host answer from 127.0.0.1 onto the network.

use std::net::SocketAddr;

use crate::state::cidr::Cidr;

pub const TABLE: &str = "vaultnet";

/// Who may reach the entry from outside this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote<'a> {
    /// Nobody: local clients only.
    None,
    /// Clients whose source address is in one of these networks.
    Listed(&'a [Cidr]),
    /// Every source (mutual TLS is the only lock).
    Any,
}

/// A port of one tenant (`gate: per-port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnPort {
    pub addr: SocketAddr,
    /// The tenant's uid; `None`: no Unix user (root alone then).
    pub uid: Option<u32>,
    /// Said in the rule's comment: `alice`, or `reserved: bob until …`.
    pub whose: String,
}

impl OwnPort {
    /// The output rule that admits only the port's tenant and root, as
    /// `nft list` prints it back.
    pub fn rule(&self) -> String {
        let who = match self.uid {
            Some(u) if u != 0 => format!("{{ 0, {u} }}"),
            _ => "0".into(),
        };
        format!(
            "{} daddr {} tcp dport {} meta skuid != {who} reject with tcp reset",
            family(&self.addr),
            self.addr.ip(),
            self.addr.port()
        )
    }
}

pub struct NftSpec<'a> {
    /// Where every tenant enters (the forwarder's address and port).
    pub entries: &'a [SocketAddr],
    /// Ports each of which admits one tenant only.
    pub own_ports: &'a [OwnPort],
    /// Vault's listeners: one server's, or every cluster node's.
    pub vaults: &'a [SocketAddr],
    /// Tenant uids, sorted and unique.
    pub tenant_uids: &'a [u32],
    /// Who besides root may connect to Vault's listener directly: user
    /// names (nft resolves them when it loads the file) or uids.
    pub vault_clients: &'a [&'a str],
    /// Who may reach the entries from outside this host.
    pub remote: Remote<'a>,
    /// The entries are DNATed to this listener (IPv4): pattern R7.
    pub dnat_to: Option<SocketAddr>,
}

/// `elements = { … }` of one allowlist set, or nothing when empty.
fn cidr_elements(list: &[Cidr], v4: bool) -> String {
    let v: Vec<String> = list
        .iter()
        .filter(|c| c.is_ipv4() == v4)
        .map(ToString::to_string)
        .collect();
    if v.is_empty() {
        String::new()
    } else {
        format!("\n        elements = {{ {} }}", v.join(", "))
    }
}

fn family(a: &SocketAddr) -> &'static str {
    if a.is_ipv4() { "ip" } else { "ip6" }
}

pub fn render(spec: &NftSpec<'_>) -> String {
    let tenants = if spec.tenant_uids.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = spec.tenant_uids.iter().map(u32::to_string).collect();
        format!("\n        elements = {{ {} }}", list.join(", "))
    };
    let mut allowed: Vec<u32> = vec![0];
    allowed.extend(spec.tenant_uids.iter().copied().filter(|u| *u != 0));
    let allowed: Vec<String> = allowed.iter().map(u32::to_string).collect();
    let rule = |e: &SocketAddr, tail: &str| {
        format!(
            "        {} daddr {} tcp dport {} {tail}\n",
            family(e),
            e.ip(),
            e.port()
        )
    };
    let mut out_rules: String = spec
        .entries
        .iter()
        .map(|e| rule(e, "meta skuid != @allowed reject with tcp reset"))
        .collect();
    for p in spec.own_ports {
        out_rules.push_str(&format!("        # {}\n        {}\n", p.whose, p.rule()));
    }
    let own: Vec<SocketAddr> = spec.own_ports.iter().map(|p| p.addr).collect();
    // After prerouting's DNAT the input hook sees Vault's address: the
    // entry is its original tuple.
    let in_rule = |e: &SocketAddr, tail: &str| match spec.dnat_to {
        Some(_) => format!(
            "        meta l4proto tcp ct original {} daddr {} ct original proto-dst {} {tail}\n",
            family(e),
            e.ip(),
            e.port()
        ),
        None => rule(e, tail),
    };
    let in_rules: String = spec
        .entries
        .iter()
        .chain(&own)
        .map(|e| match spec.remote {
            Remote::None => in_rule(e, "iifname != \"lo\" reject with tcp reset"),
            Remote::Listed(_) => {
                let set = if e.is_ipv4() { "clients4" } else { "clients6" };
                [
                    in_rule(e, "iifname \"lo\" accept"),
                    in_rule(e, &format!("{} saddr @{set} accept", family(e))),
                    in_rule(e, "reject with tcp reset"),
                ]
                .concat()
            }
            Remote::Any => String::new(),
        })
        .collect();
    let (clients_sets, in_comment) = match spec.remote {
        Remote::None => (
            String::new(),
            "Local clients (rootless containers too) arrive on lo; nobody else may.",
        ),
        Remote::Listed(list) => (
            format!(
                "    # Networks admitted from outside this host (`vaultnet init --allow-cidr`).\n\
                 \x20   set clients4 {{\n\
                 \x20       type ipv4_addr\n\
                 \x20       flags interval{}\n\
                 \x20   }}\n\
                 \x20   set clients6 {{\n\
                 \x20       type ipv6_addr\n\
                 \x20       flags interval{}\n\
                 \x20   }}\n",
                cidr_elements(list, true),
                cidr_elements(list, false)
            ),
            "Local clients (rootless containers too, with the host's address as\n        # source) arrive on lo and meet the uid rule; from outside, only the\n        # listed networks; everyone else is reset.",
        ),
        Remote::Any => (
            String::new(),
            "The entry is open to every network (no `--allow-cidr`): mutual TLS is\n        # its only lock. Vault's loopback port stays local.",
        ),
    };
    let vault_out: String = spec
        .vaults
        .iter()
        .map(|v| rule(v, "meta skuid != @vault_clients reject with tcp reset"))
        .collect();
    let mut vault_in: String = spec
        .vaults
        .iter()
        .map(|v| rule(v, "iifname != \"lo\" reject with tcp reset"))
        .collect();
    let (mut nat, mut out_priority) = (String::new(), "filter");
    if let Some(to) = spec.dnat_to {
        out_priority = "-150";
        let dnat: String = spec
            .entries
            .iter()
            .map(|e| rule(e, &format!("dnat ip to {to}")))
            .collect();
        let admitted: String = spec
            .entries
            .iter()
            .map(|e| {
                format!(
                    "        iifname != \"lo\" ip daddr {} tcp dport {} ct status dnat ct original ip daddr {} ct original proto-dst {} accept\n",
                    to.ip(),
                    to.port(),
                    e.ip(),
                    e.port()
                )
            })
            .collect();
        // The guard before Vault's own rule: from outside nothing gets an
        // answer from loopback, not even a reset.
        vault_in = format!(
            "        # DNATed clients: Vault's port now, the entry in the original tuple.\n\
             {admitted}\
             \x20       # Nothing else to 127.0.0.0/8 from outside (route_localnet lets it\n\
             \x20       # in): dropped, so the host never answers from loopback onto the network.\n\
             \x20       iifname != \"lo\" ip daddr 127.0.0.0/8 drop\n\
             {vault_in}"
        );
        let prerouting = match spec.remote {
            Remote::None => String::new(),
            _ => format!(
                "\n\
                 \x20   # Remote clients (route_localnet on the interface they arrive on).\n\
                 \x20   chain dnat_prerouting {{\n\
                 \x20       type nat hook prerouting priority dstnat; policy accept;\n\
                 {dnat}\
                 \x20   }}\n"
            ),
        };
        // nft 1.0.6 refuses `priority dstnat` on the output hook: -100 is its value.
        nat = format!(
            "{prerouting}\n\
             \x20   # Local clients: tenants, and their rootless containers, whose\n\
             \x20   # slirp4netns or pasta connects from this host's own stack.\n\
             \x20   chain dnat_output {{\n\
             \x20       type nat hook output priority -100; policy accept;\n\
             {dnat}\
             \x20   }}\n"
        );
    }
    let out_comment = match spec.dnat_to {
        Some(_) => "\x20       # Before NAT (-100): the address and port the client asked for.\n",
        None => "",
    };
    format!(
        "#!/usr/sbin/nft -f\n\
         # vaultnet gate, rewritten by `vaultnet add-user` and `remove-user`.\n\
         # Load: nft -f forwarder/vaultnet.nft   (replaces only table inet {TABLE})\n\
         table inet {TABLE}\n\
         delete table inet {TABLE}\n\
         table inet {TABLE} {{\n\
         \x20   set tenants {{\n\
         \x20       type uid{tenants}\n\
         \x20   }}\n\
         \x20   set allowed {{\n\
         \x20       type uid\n\
         \x20       elements = {{ {allowed} }}\n\
         \x20   }}\n\
         \x20   set vault_clients {{\n\
         \x20       type uid\n\
         \x20       elements = {{ {clients} }}\n\
         \x20   }}\n\
         {clients_sets}\
         {nat}\
         \n\
         \x20   chain output {{\n\
         \x20       type filter hook output priority {out_priority}; policy accept;\n\
         {out_comment}\
         \x20       # The entry: tenants (and root, for the operator) only; a port of\n\
         \x20       # one tenant's: that tenant (and root) only.\n\
         {out_rules}\
         \x20       # Vault's listener: only root (the operator) and the forwarder's\n\
         \x20       # own user; never a tenant, a removed tenant or a stranger.\n\
         {vault_out}\
         \x20   }}\n\
         \n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy accept;\n\
         \x20       # {in_comment}\n\
         {in_rules}\
         {vault_in}\
         \x20   }}\n\
         }}\n",
        allowed = allowed.join(", "),
        clients = std::iter::once("0")
            .chain(spec.vault_clients.iter().copied().filter(|c| *c != "0"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_allowed_on_the_forwarder_and_refused_on_vaults_port() {
        let s = render(&NftSpec {
            entries: &["10.9.0.1:22300".parse().unwrap()],
            own_ports: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1001, 1002],
            vault_clients: &["vaultnet-forwarder"],
            remote: Remote::None,
            dnat_to: None,
        });
        assert!(s.contains("elements = { 1001, 1002 }"));
        assert!(s.contains("elements = { 0, 1001, 1002 }"));
        assert!(s.contains(
            "ip daddr 10.9.0.1 tcp dport 22300 meta skuid != @allowed reject with tcp reset"
        ));
        assert!(s.contains("elements = { 0, vaultnet-forwarder }"));
        assert!(s.contains(
            "ip daddr 127.0.0.1 tcp dport 8200 meta skuid != @vault_clients reject with tcp reset"
        ));
    }

    #[test]
    fn no_tenants_gives_an_empty_set_that_still_loads() {
        let s = render(&NftSpec {
            entries: &["10.9.0.1:22300".parse().unwrap()],
            own_ports: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[],
            vault_clients: &["vaultnet-forwarder"],
            remote: Remote::None,
            dnat_to: None,
        });
        assert!(s.contains("set tenants {\n        type uid\n    }"));
    }

    #[test]
    fn listed_networks_are_admitted_from_outside_and_everyone_else_is_reset() {
        let nets = [
            Cidr::parse("10.77.0.0/24").unwrap(),
            Cidr::parse("10.78.0.2").unwrap(),
            Cidr::parse("fd00:1::/64").unwrap(),
        ];
        let s = render(&NftSpec {
            entries: &["10.9.0.1:22300".parse().unwrap()],
            own_ports: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1001],
            vault_clients: &["vaultnet-forwarder"],
            remote: Remote::Listed(&nets),
            dnat_to: None,
        });
        assert!(s.contains(
            "set clients4 {\n        type ipv4_addr\n        flags interval\n        elements = { 10.77.0.0/24, 10.78.0.2/32 }\n    }"
        ), "{s}");
        assert!(s.contains("elements = { fd00:1::/64 }"), "{s}");
        let input = &s[s.find("chain input").unwrap()..];
        let rules: Vec<&str> = input
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("ip"))
            .collect();
        assert_eq!(
            rules,
            [
                "ip daddr 10.9.0.1 tcp dport 22300 iifname \"lo\" accept",
                "ip daddr 10.9.0.1 tcp dport 22300 ip saddr @clients4 accept",
                "ip daddr 10.9.0.1 tcp dport 22300 reject with tcp reset",
                "ip daddr 127.0.0.1 tcp dport 8200 iifname != \"lo\" reject with tcp reset",
            ]
        );
        // Local clients keep the uid rule.
        assert!(s.contains(
            "ip daddr 10.9.0.1 tcp dport 22300 meta skuid != @allowed reject with tcp reset"
        ));
        let v6 = render(&NftSpec {
            entries: &["[fd00::1]:8200".parse().unwrap()],
            own_ports: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[],
            vault_clients: &[],
            remote: Remote::Listed(&nets),
            dnat_to: None,
        });
        assert!(
            v6.contains("ip6 daddr fd00::1 tcp dport 8200 ip6 saddr @clients6 accept"),
            "{v6}"
        );
    }

    #[test]
    fn an_open_entry_has_no_input_rule_but_vaults_loopback_port_stays_local() {
        let s = render(&NftSpec {
            entries: &["10.9.0.1:8200".parse().unwrap()],
            own_ports: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1001],
            vault_clients: &[],
            remote: Remote::Any,
            dnat_to: None,
        });
        let input = &s[s.find("chain input").unwrap()..];
        assert!(!input.contains("10.9.0.1"), "{s}");
        assert!(input.contains("ip daddr 127.0.0.1 tcp dport 8200 iifname != \"lo\" reject"));
        assert!(!s.contains("clients4"));
    }

    #[test]
    fn a_port_per_tenant_admits_only_its_tenant_and_root_and_nobody_from_outside() {
        let own = [
            OwnPort {
                addr: "10.9.0.1:22301".parse().unwrap(),
                uid: Some(1005),
                whose: "alice".into(),
            },
            OwnPort {
                addr: "10.9.0.1:22302".parse().unwrap(),
                uid: None,
                whose: "reserved: bob until 2027-01-01".into(),
            },
        ];
        let s = render(&NftSpec {
            entries: &[],
            own_ports: &own,
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1005],
            vault_clients: &["vaultnet-forwarder"],
            remote: Remote::None,
            dnat_to: None,
        });
        let output = &s[s.find("chain output").unwrap()..s.find("chain input").unwrap()];
        assert!(output.contains(
            "        # alice\n        ip daddr 10.9.0.1 tcp dport 22301 meta skuid != { 0, 1005 } reject with tcp reset\n"
        ), "{s}");
        assert!(output.contains(
            "        # reserved: bob until 2027-01-01\n        ip daddr 10.9.0.1 tcp dport 22302 meta skuid != 0 reject with tcp reset\n"
        ), "{s}");
        assert!(!output.contains("@allowed"), "{s}");
        let input = &s[s.find("chain input").unwrap()..];
        for port in [22301, 22302] {
            assert!(
                input.contains(&format!(
                    "ip daddr 10.9.0.1 tcp dport {port} iifname != \"lo\" reject with tcp reset"
                )),
                "{s}"
            );
        }
        assert!(
            s.contains("ip daddr 127.0.0.1 tcp dport 8200 meta skuid != @vault_clients reject")
        );
    }
}
