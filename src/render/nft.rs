//! `forwarder/vaultnet.nft`: the host-side gate by uid (`gate: uid-allowlist`). Source
//! addresses cannot tell tenants apart behind rootless NAT, but the kernel
//! knows which Unix user owns each socket (`meta skuid`):
//! - only tenant uids (and root, for the operator's `vaultnet doctor`) may
//!   connect to the entry (the forwarder port); nothing from outside this host may;
//! - only root and the forwarder's own user may connect to Vault's own
//!   port — an allowlist, so no tenant (slirp4netns `allow_host_loopback`
//!   and pasta would otherwise expose it), no removed tenant and no
//!   stranger can skip the gate.

use std::net::SocketAddr;

pub const TABLE: &str = "vaultnet";

pub struct NftSpec<'a> {
    /// Where tenants enter (the forwarder's address and port).
    pub entries: &'a [SocketAddr],
    /// Vault's listeners: one server's, or every cluster node's.
    pub vaults: &'a [SocketAddr],
    /// Tenant uids, sorted and unique.
    pub tenant_uids: &'a [u32],
    /// Who besides root may connect to Vault's listener directly: user
    /// names (nft resolves them when it loads the file) or uids.
    pub vault_clients: &'a [&'a str],
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
    let out_rules: String = spec
        .entries
        .iter()
        .map(|e| rule(e, "meta skuid != @allowed reject with tcp reset"))
        .collect();
    let in_rules: String = spec
        .entries
        .iter()
        .map(|e| rule(e, "iifname != \"lo\" reject with tcp reset"))
        .collect();
    let vault_out: String = spec
        .vaults
        .iter()
        .map(|v| rule(v, "meta skuid != @vault_clients reject with tcp reset"))
        .collect();
    let vault_in: String = spec
        .vaults
        .iter()
        .map(|v| rule(v, "iifname != \"lo\" reject with tcp reset"))
        .collect();
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
         \n\
         \x20   chain output {{\n\
         \x20       type filter hook output priority filter; policy accept;\n\
         \x20       # The entry: tenants (and root, for the operator) only.\n\
         {out_rules}\
         \x20       # Vault's listener: only root (the operator) and the forwarder's\n\
         \x20       # own user; never a tenant, a removed tenant or a stranger.\n\
         {vault_out}\
         \x20   }}\n\
         \n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy accept;\n\
         \x20       # Local clients (rootless containers too) arrive on lo; nobody else may.\n\
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
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1001, 1002],
            vault_clients: &["vaultnet-forwarder"],
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
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[],
            vault_clients: &["vaultnet-forwarder"],
        });
        assert!(s.contains("set tenants {\n        type uid\n    }"));
    }
}
