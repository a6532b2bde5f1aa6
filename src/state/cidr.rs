//! A source network the gate admits from outside this host
//! (`init --allow-cidr`): an IPv4 or IPv6 prefix, written as nft reads it.
//! Only networks nft can load as elements of one interval set are
//! accepted: no host bits set, no `/0`, none inside another.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    let full = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if prefix == 0 {
        0
    } else {
        full & !((1u128 << (width - prefix)) - 1)
    }
}

fn from_bits(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(std::net::Ipv4Addr::from(v as u32))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(v))
    }
}

impl Cidr {
    /// Parses `ADDR/PREFIX` or a bare address (one host: `/32`, `/128`).
    pub fn parse(s: &str) -> Result<Cidr> {
        let shown = s.escape_debug().to_string();
        let hint = "pass a network as ADDRESS/PREFIX, e.g. `--allow-cidr 192.168.1.0/24` or `--allow-cidr fd00:1::/64`";
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| {
            Error::usage(format!(
                "invalid `--allow-cidr {shown}`: `{}` is not an IP address",
                a.escape_debug()
            ))
            .hint(hint)
        })?;
        let (value, width) = bits(addr);
        let prefix = match p {
            None => width,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= width && !p.starts_with('+') => n,
                _ => {
                    return Err(Error::usage(format!(
                        "invalid `--allow-cidr {shown}`: the prefix must be a number from 0 to {width}"
                    ))
                    .hint(hint));
                }
            },
        };
        if prefix == 0 {
            return Err(Error::usage(format!(
                "invalid `--allow-cidr {shown}`: a /0 admits every address, which is no allowlist"
            ))
            .hint("list the networks your clients are in, e.g. `--allow-cidr 192.168.1.0/24`"));
        }
        if addr.is_multicast() || addr.is_unspecified() {
            return Err(Error::usage(format!(
                "invalid `--allow-cidr {shown}`: no client connects from a {} address",
                if addr.is_multicast() {
                    "multicast"
                } else {
                    "unspecified"
                }
            ))
            .hint(hint));
        }
        let network = value & mask(prefix, width);
        if network != value {
            let fixed = Cidr {
                addr: from_bits(network, width == 32),
                prefix,
            };
            return Err(Error::usage(format!(
                "invalid `--allow-cidr {shown}`: host bits are set below the /{prefix} prefix"
            ))
            .hint(format!(
                "pass the network itself, `--allow-cidr {fixed}`, or one host, `--allow-cidr {addr}`"
            )));
        }
        Ok(Cidr { addr, prefix })
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (v, w) = bits(ip);
        let (mine, width) = bits(self.addr);
        w == width && v & mask(self.prefix, width) == mine
    }

    /// Whether this network holds all of `other`.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(other.addr)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        Cidr::parse(&s).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// Sorted, each once, and none inside another: nft refuses overlapping
/// elements of an interval set, and the whole gate would not load.
pub fn normalise(list: &[Cidr]) -> Result<Vec<Cidr>> {
    let mut v = list.to_vec();
    v.sort();
    v.dedup();
    for a in &v {
        if let Some(b) = v.iter().find(|b| *b != a && a.covers(b)) {
            return Err(Error::usage(format!(
                "`--allow-cidr {b}` is inside `--allow-cidr {a}`: nft cannot load overlapping networks"
            ))
            .hint(format!("drop `--allow-cidr {b}`: `{a}` admits it already")));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_hosts_of_both_families_parse_and_print_as_nft_reads_them() {
        for (given, shown) in [
            ("10.77.0.0/24", "10.77.0.0/24"),
            ("10.77.0.2", "10.77.0.2/32"),
            ("10.77.0.2/32", "10.77.0.2/32"),
            ("fd00:1::/64", "fd00:1::/64"),
            ("fd00::2", "fd00::2/128"),
            ("192.168.0.0/16", "192.168.0.0/16"),
        ] {
            assert_eq!(Cidr::parse(given).unwrap().to_string(), shown, "{given}");
        }
        let n = Cidr::parse("10.77.0.0/24").unwrap();
        assert!(n.contains("10.77.0.9".parse().unwrap()));
        assert!(!n.contains("10.78.0.9".parse().unwrap()));
        assert!(!n.contains("fd00::1".parse().unwrap()));
        assert!(n.is_ipv4() && !Cidr::parse("fd00::/8").unwrap().is_ipv4());
    }

    #[test]
    fn bad_networks_are_usage_errors_with_the_fix() {
        for bad in [
            "",
            "vault.lan",
            "10.0.0.0/33",
            "10.0.0.0/x",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "fd00::/129",
            "0.0.0.0/0",
            "::/0",
            "224.0.0.0/4",
            "0.0.0.0/8",
        ] {
            let e = Cidr::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.hint_text().unwrap().contains("--allow-cidr"), "{bad}");
        }
        let e = Cidr::parse("10.77.0.2/24").unwrap_err();
        assert_eq!(
            e.message(),
            "invalid `--allow-cidr 10.77.0.2/24`: host bits are set below the /24 prefix"
        );
        assert_eq!(
            e.hint_text(),
            Some(
                "pass the network itself, `--allow-cidr 10.77.0.0/24`, or one host, `--allow-cidr 10.77.0.2`"
            )
        );
        let e = Cidr::parse("fd00::1/64").unwrap_err();
        assert!(e.hint_text().unwrap().contains("`--allow-cidr fd00::/64`"));
    }

    #[test]
    fn a_network_inside_another_is_refused_and_duplicates_collapse() {
        let p = |s| Cidr::parse(s).unwrap();
        let v = normalise(&[p("10.78.0.0/24"), p("10.77.0.0/24"), p("10.78.0.0/24")]).unwrap();
        assert_eq!(v, [p("10.77.0.0/24"), p("10.78.0.0/24")]);
        let e = normalise(&[p("10.0.0.0/8"), p("10.1.2.3")]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message(),
            "`--allow-cidr 10.1.2.3/32` is inside `--allow-cidr 10.0.0.0/8`: nft cannot load overlapping networks"
        );
        assert!(normalise(&[p("10.0.0.0/8"), p("fd00::/8")]).is_ok());
    }
}
