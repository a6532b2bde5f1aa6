//! `forwarder/vaultnet.nft`: the host-side gate of pattern L1. Source
//! addresses cannot tell tenants apart behind rootless NAT, but the kernel
//! knows which Unix user owns each socket (`meta skuid`):
//! - only tenant uids (and root, for the operator's `vaultnet doctor`) may
//!   connect to the forwarder port; nothing from outside this host may;
//! - no tenant uid may connect to Vault's own loopback port, which
//!   slirp4netns (`allow_host_loopback`) and pasta would otherwise expose.

use std::net::SocketAddr;

pub const TABLE: &str = "vaultnet";

pub struct NftSpec<'a> {
    pub forwarder: SocketAddr,
    pub vault: SocketAddr,
    /// Tenant uids, sorted and unique.
    pub tenant_uids: &'a [u32],
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
    let (f, fp) = (family(&spec.forwarder), spec.forwarder.port());
    let (v, vp) = (family(&spec.vault), spec.vault.port());
    let fa = spec.forwarder.ip();
    let va = spec.vault.ip();
    format!(
        "#!/usr/sbin/nft -f\n\
         # vaultnet gate for pattern L1, rewritten by `vaultnet add-user` and `remove-user`.\n\
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
         \n\
         \x20   chain output {{\n\
         \x20       type filter hook output priority filter; policy accept;\n\
         \x20       # The forwarder: tenants (and root, for the operator) only.\n\
         \x20       {f} daddr {fa} tcp dport {fp} meta skuid != @allowed reject with tcp reset\n\
         \x20       # Vault's loopback listener: never a tenant, whatever the route.\n\
         \x20       tcp dport {vp} meta skuid @tenants reject with tcp reset\n\
         \x20   }}\n\
         \n\
         \x20   chain input {{\n\
         \x20       type filter hook input priority filter; policy accept;\n\
         \x20       # Local clients (rootless containers too) arrive on lo; nobody else may.\n\
         \x20       {f} daddr {fa} tcp dport {fp} iifname != \"lo\" reject with tcp reset\n\
         \x20       {v} daddr {va} tcp dport {vp} iifname != \"lo\" reject with tcp reset\n\
         \x20   }}\n\
         }}\n",
        allowed = allowed.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_are_allowed_on_the_forwarder_and_refused_on_vaults_port() {
        let s = render(&NftSpec {
            forwarder: "10.9.0.1:22300".parse().unwrap(),
            vault: "127.0.0.1:8200".parse().unwrap(),
            tenant_uids: &[1001, 1002],
        });
        assert!(s.contains("elements = { 1001, 1002 }"));
        assert!(s.contains("elements = { 0, 1001, 1002 }"));
        assert!(s.contains(
            "ip daddr 10.9.0.1 tcp dport 22300 meta skuid != @allowed reject with tcp reset"
        ));
        assert!(s.contains("tcp dport 8200 meta skuid @tenants reject with tcp reset"));
    }

    #[test]
    fn no_tenants_gives_an_empty_set_that_still_loads() {
        let s = render(&NftSpec {
            forwarder: "10.9.0.1:22300".parse().unwrap(),
            vault: "127.0.0.1:8200".parse().unwrap(),
            tenant_uids: &[],
        });
        assert!(s.contains("set tenants {\n        type uid\n    }"));
    }
}
