//! What this host's kernel holds for the entry beyond vaultnet's files —
//! under a DNAT entry (R7) the DNAT rules and the loopback guard of the
//! loaded gate and `route_localnet` on the ingress interface; under L2 the
//! host address still first, where Podman points its name — read, never
//! changed. Each link the topology lists is one check, so a broken one is
//! named with its fix.

use super::Check;
use crate::render::nft::TABLE;
use crate::sys::{hostnet, nft};
use crate::topology::HostLink;

/// One check per link, in a group; `None` when the entry needs none.
pub fn links(links: &[HostLink]) -> Option<Check> {
    if links.is_empty() {
        return None;
    }
    let children = links.iter().map(link).collect();
    Some(Check::group(
        "host",
        "this host's kernel, for the entry",
        children,
    ))
}

fn link(l: &HostLink) -> Check {
    match l {
        HostLink::Sysctl {
            id,
            title,
            key,
            want,
            bad,
            hint,
            missing_hint,
        } => match hostnet::sysctl(key) {
            Some(v) if v == *want => Check::ok(id, title).detail(format!("{key} = {v}")),
            Some(v) => Check::fail(id, title, hint).detail(format!("{key} = {v}: {bad}")),
            None => Check::fail(id, title, missing_hint)
                .detail(format!("there is no `{key}`: no such interface here")),
        },
        HostLink::FirstIpv4 {
            id,
            title,
            want,
            hint,
        } => match hostnet::first_ipv4() {
            Some(ip) if ip == *want => Check::ok(id, title).detail(format!("first is {ip}")),
            Some(ip) => Check::warn(id, title, hint.replace("{found}", &ip.to_string()))
                .detail(format!("the first IPv4 address is {ip} now")),
            None => Check::warn(
                id,
                title,
                format!("put {want} back on its interface (`ip -brief address`)"),
            )
            .detail("this host has no IPv4 address but loopback"),
        },
        HostLink::NftRule {
            id,
            title,
            chain,
            rule,
            hint,
        } => match nft::list_chain("inet", TABLE, chain) {
            Ok(live) if live.lines().any(|line| line.trim() == rule) => {
                Check::ok(id, title).detail(format!("in chain `{chain}` of table inet {TABLE}"))
            }
            Ok(_) => Check::fail(id, title, hint).detail(format!(
                "chain `{chain}` of table inet {TABLE} lacks `{rule}`"
            )),
            Err(Some(_)) => Check::fail(id, title, hint).detail(format!(
                "chain `{chain}` of table inet {TABLE} is not in the kernel"
            )),
            Err(None) => Check::skip(id, title).detail("`nft` is not installed"),
        },
    }
}
