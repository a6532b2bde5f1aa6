//! What this host's network looks like: the address of the default-route
//! interface (the proposed `--host-ip`) and whether an address is still on
//! one of this host's interfaces. Reads `/proc/net/route` and getifaddrs;
//! sends nothing.

use std::net::IpAddr;

/// The interface of the IPv4 default route, from `/proc/net/route`.
fn default_route_interface() -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 2 && f[1] == "00000000").then(|| f[0].to_string())
    })
}

fn addresses() -> Vec<(String, IpAddr)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let sa = a.address?;
            let ip = if let Some(v4) = sa.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else if let Some(v6) = sa.as_sockaddr_in6() {
                IpAddr::V6(v6.ip())
            } else {
                return None;
            };
            Some((a.interface_name, ip))
        })
        .collect()
}

/// The first IPv4 address of the default-route interface.
pub fn default_host_ip() -> Option<IpAddr> {
    let iface = default_route_interface()?;
    addresses()
        .into_iter()
        .find(|(name, ip)| *name == iface && ip.is_ipv4())
        .map(|(_, ip)| ip)
}

/// The interface carrying `ip`, if any.
pub fn interface_of(ip: IpAddr) -> Option<String> {
    addresses()
        .into_iter()
        .find(|(_, a)| *a == ip)
        .map(|(name, _)| name)
}

/// This host's name, for the CA's subject.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The value of sysctl `key` as sysctl(8) names it (`net.ipv4.conf.eth0.route_localnet`,
/// a `.` inside an interface name written `/`), in this process's
/// network namespace; `None` when there is no such key.
pub fn sysctl(key: &str) -> Option<String> {
    let rel: Vec<String> = key.split('.').map(|p| p.replace('/', ".")).collect();
    let path = std::path::Path::new("/proc/sys").join(rel.join("/"));
    std::fs::read_to_string(path)
        .ok()
        .map(|v| v.trim().to_string())
}

/// This host's usable addresses with their interface, in interface order:
/// neither loopback nor link-local (IPv4 first). What `init` proposes as
/// the host address when there is no default route.
pub fn usable_addresses() -> Vec<(String, IpAddr)> {
    let mut all: Vec<(String, IpAddr)> = addresses()
        .into_iter()
        .filter(|(_, ip)| {
            !ip.is_loopback()
                && match ip {
                    IpAddr::V4(v4) => !v4.is_link_local(),
                    IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                }
        })
        .collect();
    all.sort_by_key(|(_, ip)| !ip.is_ipv4());
    all
}

/// The first non-loopback IPv4 address in interface order: where Podman
/// 4.3 points `host.containers.internal` in rootless slirp4netns
/// containers (its `getLocalIP`, over the same list).
pub fn first_ipv4() -> Option<IpAddr> {
    addresses()
        .into_iter()
        .map(|(_, ip)| ip)
        .find(|ip| ip.is_ipv4() && !ip.is_loopback())
}
