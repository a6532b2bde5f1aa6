//! Property tests of every validator (SECURITY.md I1, I4): whatever text
//! or value it is given, a validator either accepts what its documented
//! grammar allows — written here a second time, by hand, from the docs —
//! or refuses it as a usage error (exit 2) of one line with a one-line
//! hint, the value shown escaped. What a validator accepts reaches files
//! and Vault; what it refuses must never reach a terminal raw.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use proptest::prelude::*;

use super::cluster;
use super::validate;
use crate::error::{Error, Result};
use crate::render::props::check;

/// A refusal is a usage error of one line, with a hint of one line, and
/// no control character of the input in either.
fn refused_well(e: &Error) -> std::result::Result<(), TestCaseError> {
    prop_assert_eq!(e.exit_code(), 2, "{}", e.message());
    prop_assert!(!e.message().is_empty());
    prop_assert!(
        !e.message().chars().any(char::is_control),
        "{:?}",
        e.message()
    );
    let hint = e.hint_text();
    prop_assert!(hint.is_some(), "no hint for {:?}", e.message());
    prop_assert!(!hint.unwrap().chars().any(char::is_control), "{:?}", hint);
    Ok(())
}

/// Accepted exactly when `want` says so; refused well otherwise.
fn agrees<T>(got: Result<T>, want: bool, input: &str) -> std::result::Result<(), TestCaseError> {
    match got {
        Ok(_) => prop_assert!(want, "accepted {:?}", input),
        Err(e) => {
            prop_assert!(!want, "refused {:?}: {}", input, e.message());
            refused_well(&e)?;
        }
    }
    Ok(())
}

/// Text near the validators' alphabets, text with the characters that
/// break out of files and terminals, and any text at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_-]{0,33}",
        "[a-z0-9]{1,8}(-[a-z0-9]{1,4})?(\\.[a-z0-9-]{1,6}){0,3}",
        "[a-zA-Z0-9./:@_-]{0,40}",
        "[0-9]{0,12}[smhdx]?",
        "[a-z0-9 \n\t\r\"'{}$%#;\\\\=:./-]{0,24}",
        "\\PC{0,40}",
        any::<String>(),
    ]
}

fn is_lower_digit(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// SECURITY.md I1: `^[a-z_][a-z0-9_-]{0,30}$`, not ending in `-`, not reserved.
fn tenant_grammar(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 31
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|&c| is_lower_digit(c) || c == b'_' || c == b'-')
        && !s.ends_with('-')
        && !validate::RESERVED.contains(&s)
}

/// RFC 1123 host names in lower case, not an address, last label not numeric.
fn dns_grammar(s: &str) -> bool {
    let label = |l: &str| {
        let b = l.as_bytes();
        (1..=63).contains(&b.len())
            && is_lower_digit(b[0])
            && is_lower_digit(b[b.len() - 1])
            && b.iter().all(|&c| is_lower_digit(c) || c == b'-')
    };
    (1..=253).contains(&s.len())
        && s.split('.').all(label)
        && !s
            .rsplit('.')
            .next()
            .unwrap()
            .bytes()
            .all(|c| c.is_ascii_digit())
}

fn image_grammar(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=255).contains(&b.len())
        && (b[0].is_ascii_alphanumeric() || b"_@".contains(&b[0]))
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"./:-_@".contains(c))
}

/// A uid, or a user name as `useradd` takes it.
fn client_grammar(s: &str) -> bool {
    let b = s.as_bytes();
    let uid = (1..=10).contains(&b.len()) && b.iter().all(u8::is_ascii_digit);
    let name = (1..=32).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|&c| is_lower_digit(c) || c == b'_' || c == b'-');
    uid || name
}

fn segment_grammar(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=64).contains(&b.len())
        && b[0] != b'-'
        && b.iter()
            .all(|&c| is_lower_digit(c) || c == b'_' || c == b'-')
}

/// A DNS label of at most 32 characters.
fn node_grammar(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=32).contains(&b.len())
        && is_lower_digit(b[0])
        && is_lower_digit(b[b.len() - 1])
        && b.iter().all(|&c| is_lower_digit(c) || c == b'-')
}

/// Seconds, or a number with `s`, `m`, `h` or `d`, at most 100 years.
fn duration_grammar(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.as_bytes().last()? {
        b's' => (&s[..s.len() - 1], 1),
        b'm' => (&s[..s.len() - 1], 60),
        b'h' => (&s[..s.len() - 1], 3600),
        b'd' => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = num.parse::<u64>().ok()?.checked_mul(mul)?;
    (v <= 100 * 365 * 86400).then_some(v)
}

/// Relative, no `..`, of the characters every bundle file carries.
fn install_grammar(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && s.split('/').all(|seg| seg != "..")
        && s.split('/').any(|seg| !seg.is_empty() && seg != ".")
        && !s.starts_with("./")
        && s != "."
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-+@/".contains(&c))
}

#[test]
fn every_text_validator_accepts_exactly_its_grammar_and_refuses_in_one_line() {
    check("text validators", text(), |s| {
        agrees(validate::tenant_name(&s), tenant_grammar(&s), &s)?;
        agrees(validate::dns_name(&s), dns_grammar(&s), &s)?;
        agrees(validate::image(&s), image_grammar(&s), &s)?;
        agrees(validate::vault_client(&s), client_grammar(&s), &s)?;
        agrees(
            validate::path_segment("KV mount", "--kv-mount", &s),
            segment_grammar(&s),
            &s,
        )?;
        agrees(cluster::node_name(&s), node_grammar(&s), &s)?;
        let want = duration_grammar(&s);
        let got = validate::duration("--ttl", &s);
        if let (Ok(v), Some(w)) = (&got, want) {
            prop_assert_eq!(*v, w, "{:?}", s);
            // What vaultnet shows, it reads back as the same duration.
            let shown = validate::show_duration(*v);
            prop_assert_eq!(validate::duration("--ttl", &shown).unwrap(), *v);
        }
        agrees(got, want.is_some(), &s)?;
        agrees(
            validate::install_path(Path::new(&s)),
            install_grammar(&s),
            &s,
        )?;
        let home = format!("/{s}");
        let home_ok = home
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._-+@/".contains(&c));
        agrees(validate::home_dir("t", Path::new(&home)), home_ok, &home)?;
        // `--vault-node NAME=IP:PORT`: the name's grammar and a real address.
        let node = format!("{s}=127.0.0.1:8200");
        agrees(cluster::parse_node(&node), node_grammar(&s), &node)?;
        let node = format!("bao1={s}");
        agrees(
            cluster::parse_node(&node),
            s.parse::<SocketAddr>().is_ok(),
            &node,
        )?;
        Ok(())
    });
}

/// Addresses of every kind, the special ones drawn often.
fn address() -> impl Strategy<Value = IpAddr> {
    let v4 = any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)));
    let v6 = any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b)));
    let special4 = prop_oneof![
        Just([0u8, 0, 0, 0]),
        Just([255, 255, 255, 255]),
        (224u8..240, any::<[u8; 3]>()).prop_map(|(a, r)| [a, r[0], r[1], r[2]]),
        any::<[u8; 3]>().prop_map(|r| [127, r[0], r[1], r[2]]),
    ];
    let special6 = prop_oneof![
        Just(Ipv6Addr::UNSPECIFIED),
        Just(Ipv6Addr::LOCALHOST),
        any::<[u16; 7]>().prop_map(|r| Ipv6Addr::new(
            0xfe80 | (r[0] & 0x3f),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            1
        )),
        any::<[u16; 7]>().prop_map(|r| Ipv6Addr::new(
            0xff00 | (r[0] & 0xff),
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            1
        )),
    ];
    prop_oneof![
        v4,
        v6,
        special4.clone().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        special6.prop_map(IpAddr::V6),
        // The same addresses written as IPv4-mapped IPv6 ones.
        prop_oneof![any::<[u8; 4]>(), special4]
            .prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
    ]
}

/// A unicast address of a host interface that containers can be sent to
/// as it is written: not unspecified, broadcast, multicast or loopback,
/// not link-local IPv6 (no scope), and not IPv4 dressed as IPv6.
fn host_ip_grammar(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [first, ..] = a.octets();
            a != Ipv4Addr::UNSPECIFIED
                && a != Ipv4Addr::BROADCAST
                && first != 127
                && !(224..240).contains(&first)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a != Ipv6Addr::UNSPECIFIED
                && a != Ipv6Addr::LOCALHOST
                && s[0] & 0xff00 != 0xff00
                && s[0] & 0xffc0 != 0xfe80
                && a.to_ipv4_mapped().is_none()
        }
    }
}

#[test]
fn the_host_ip_validator_accepts_exactly_addresses_containers_can_be_sent_to() {
    let inputs = (address(), any::<u64>(), 0u64..4 * 3650 * 86400);
    check(
        "address and lifetime validators",
        inputs,
        |(ip, big, ttl)| {
            agrees(validate::host_ip(ip), host_ip_grammar(ip), &ip.to_string())?;
            let addr = SocketAddr::new(ip, (big % 65536) as u16);
            agrees(
                validate::vault_addr(addr),
                addr.port() != 0,
                &addr.to_string(),
            )?;
            for secs in [big, ttl] {
                agrees(
                    validate::cert_ttl("--cert-ttl", secs),
                    (60..=3650 * 86400).contains(&secs),
                    &secs.to_string(),
                )?;
            }
            Ok(())
        },
    );
}
