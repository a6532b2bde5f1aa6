//! Input validation: every value a flag, a prompt or `vaultnet.yaml` gives
//! is checked here before it reaches a file or Vault (SECURITY.md I1, I4).
//! Rejections are usage errors (exit 2) with the exact fix as a hint.
//! What depends on the deployment pattern is checked by `topology`.

use std::net::{IpAddr, SocketAddr};

use super::site::Site;
use crate::error::{Error, Result};

pub fn dns_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::usage(format!("invalid DNS name `{}`: {why}", name.escape_debug()))
            .hint("pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)")
    };
    if name.is_empty() || name.len() > 253 {
        return Err(bad("must be 1 to 253 characters"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(bad("it is an IP address; use `--host-ip` for addresses"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("each label must be 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(
                "only lower-case letters, digits and `-` are allowed in a label",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label cannot start or end with `-`"));
        }
    }
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the last label cannot be all digits"));
    }
    Ok(())
}

pub fn host_ip(ip: IpAddr) -> Result<()> {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if ip.is_unspecified() || ip.is_multicast() || broadcast {
        return Err(Error::usage(format!(
            "invalid host IP `{ip}`: containers need a unicast address of this host"
        ))
        .hint("pass the host's address, e.g. `--host-ip 192.168.1.10`"));
    }
    if let IpAddr::V6(v6) = ip
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return Err(Error::usage(format!(
            "invalid host IP `{ip}`: an IPv4 address written as IPv6"
        ))
        .hint(format!("pass it as IPv4: `--host-ip {v4}`")));
    }
    if ip.is_loopback() {
        return Err(Error::usage(format!(
            "invalid host IP `{ip}`: containers cannot reach the host's loopback through it"
        ))
        .hint("pass an address of a host interface, e.g. `--host-ip 192.168.1.10`"));
    }
    // fe80::/10 means something only with an interface scope, which an
    // address in a URL, a certificate or a forwarder's listen line lacks.
    if let IpAddr::V6(v6) = ip
        && v6.is_unicast_link_local()
    {
        return Err(Error::usage(format!(
            "invalid host IP `{ip}`: a link-local address needs an interface scope no forwarder or certificate can carry"
        ))
        .hint("pass a global or unique-local address of a host interface, e.g. `--host-ip 192.168.1.10`"));
    }
    Ok(())
}

pub fn vault_addr(addr: SocketAddr) -> Result<()> {
    if addr.port() == 0 {
        return Err(
            Error::usage(format!("invalid Vault address `{addr}`: port 0"))
                .hint("pass a port from 1 to 65535, e.g. `--vault-listen 127.0.0.1:8200`"),
        );
    }
    Ok(())
}

/// A Vault mount path or prefix segment: kept to a safe, boring alphabet
/// because it ends up inside policy paths.
pub fn path_segment(what: &str, flag: &str, value: &str) -> Result<()> {
    let example = if flag == "--tenant-prefix" {
        "tenants"
    } else {
        "secret"
    };
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !value.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid {what} `{}`: use 1 to 64 lower-case letters, digits, `-` or `_`",
            value.escape_debug()
        ))
        .hint(format!("pass e.g. `{flag} {example}`")))
    }
}

pub fn image(image: &str) -> Result<()> {
    let ok = !image.is_empty()
        && image.len() <= 255
        && image
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"./:-_@".contains(&b))
        && !image.starts_with(['-', '.', ':', '/']);
    if ok {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid image reference `{}`",
            image.escape_debug()
        ))
        .hint("pass e.g. `--agent-image quay.io/openbao/openbao:2.7.2`"))
    }
}

/// A DNS label of at most 32 characters: lower-case letters, digits and
/// inner `-`. What names a cluster node and a site.
pub fn is_short_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A site's name (`init --site-name`): a DNS label of at most 32
/// characters. It starts every Vault name of the site's tenants
/// (`SITE.TENANT`), so it has no `.`.
pub fn site_name(name: &str) -> Result<()> {
    if is_short_label(name) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid site name `{}`: use lower-case letters, digits and inner `-`, at most 32",
            name.escape_debug()
        ))
        .hint("pass a short label, e.g. `--site-name b`"))
    }
}

/// A certificate lifetime: from a minute (tests and short-lived sites)
/// to ten years, the CA's own.
pub fn cert_ttl(flag: &str, secs: u64) -> Result<()> {
    if (60..=3650 * 86400).contains(&secs) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid certificate lifetime `{}` for `{flag}`",
            show_duration(secs)
        ))
        .hint(format!(
            "pass a duration from 1m to 3650d, e.g. `{flag} 90d`"
        )))
    }
}

/// A `--vault-client`: a Unix user name or a uid, as nft's `meta skuid`
/// takes them.
pub fn vault_client(c: &str) -> Result<()> {
    let uid = !c.is_empty() && c.len() <= 10 && c.bytes().all(|b| b.is_ascii_digit());
    let name = c.len() <= 32
        && c.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if uid || name {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "invalid Vault client `{}`: not a Unix user name or uid",
            c.escape_debug()
        ))
        .hint("pass a user name or a uid, e.g. `--vault-client backup`"))
    }
}

/// An `--ingress-interface`: a Linux interface name (1 to 15 bytes, none
/// of `/`, `:` or white space), written into a sysctl key and an nft rule,
/// and never `all`, `default` or `lo`: `route_localnet` is set on the one
/// interface remote clients arrive on, never on every interface (the
/// CVE-2020-8558 class) and never on loopback, which needs none.
pub fn interface(name: &str) -> Result<()> {
    let shape = !name.is_empty()
        && name.len() <= 15
        && !matches!(name, "." | "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
    if !shape {
        return Err(Error::usage(format!(
            "invalid `--ingress-interface {}`: not an interface name",
            name.escape_debug()
        ))
        .hint("pass the interface remote clients arrive on, as `ip -brief link` names it, e.g. `--ingress-interface eth0`"));
    }
    if matches!(name, "all" | "default" | "lo") {
        return Err(Error::usage(format!(
            "`--ingress-interface {name}` would set `route_localnet` on {}",
            if name == "lo" {
                "loopback, which needs none"
            } else {
                "every interface"
            }
        ))
        .hint("pass the one interface remote clients arrive on, e.g. `--ingress-interface eth0`"));
    }
    Ok(())
}

/// A `--vault-reload-command` or `--vault-pid-file`: an absolute program
/// or file, no control characters (they reach a log line and a process).
pub fn vault_reload(r: &crate::state::VaultReload) -> Result<()> {
    use crate::state::VaultReload;
    let clean = |s: &str| !s.is_empty() && !s.chars().any(char::is_control);
    match r {
        VaultReload::Command(argv) if !argv.is_empty() && argv.iter().all(|a| clean(a)) => Ok(()),
        VaultReload::Command(_) => Err(Error::usage("invalid `--vault-reload-command`").hint(
            "pass the command as words, e.g. `--vault-reload-command 'systemctl reload openbao'`",
        )),
        VaultReload::PidFile(p) if p.is_absolute() && clean(&p.to_string_lossy()) => Ok(()),
        VaultReload::PidFile(p) => Err(Error::usage(format!(
            "invalid `--vault-pid-file` `{}`: not an absolute path",
            p.display().to_string().escape_debug()
        ))
        .hint("pass the server's pid file, e.g. `--vault-pid-file /run/openbao/openbao.pid`")),
    }
}

pub fn site(site: &Site) -> Result<()> {
    dns_name(&site.dns_name)?;
    host_ip(site.host_ip)?;
    if site.port == 0 {
        return Err(Error::usage("invalid port 0").hint("pass e.g. `--port 22300`"));
    }
    vault_addr(site.vault_addr)?;
    image(&site.agent_image)?;
    path_segment("KV mount", "--kv-mount", &site.kv_mount)?;
    path_segment("tenant prefix", "--tenant-prefix", &site.tenant_prefix)?;
    cert_ttl("--server-cert-ttl", site.server_cert_ttl)?;
    if let Some(r) = &site.vault_reload {
        vault_reload(r)?;
    }
    for c in &site.vault_clients {
        vault_client(c)?;
    }
    if let Some(i) = &site.ingress_interface {
        interface(i)?;
    }
    if let Some(n) = &site.name {
        site_name(n)?;
    }
    if let Some(c) = &site.cluster {
        crate::state::cluster::validate(c)?;
        if c.joined && site.name.is_none() {
            return Err(Error::usage(
                "a site that joins another site's cluster needs a name of its own",
            )
            .hint("name it with `--site-name NAME`, a name no other site of the cluster has"));
        }
        for p in &c.sites {
            site_name(&p.name)?;
            if site.name.as_deref() == Some(p.name.as_str()) {
                return Err(
                    Error::usage(format!("site `{}` is this site's own name", p.name))
                        .hint("give each site of the cluster a name of its own"),
                );
            }
        }
        crate::state::cluster::check_reload(site.vault_reload.as_ref())?;
    }
    Ok(())
}

/// Names that must never become tenants: Vault's own policies and
/// identities that would be confusing or dangerous (SECURITY.md I1).
pub const RESERVED: &[&str] = &[
    "root",
    "default",
    "admin",
    "administrator",
    "operator",
    "vault",
    "bao",
    "openbao",
    "vaultnet",
    "daemon",
    "bin",
    "sys",
    "nobody",
    "response-wrapping",
    "control-group",
    "token",
    "identity",
    "approle",
];

pub fn tenant_name(name: &str) -> Result<()> {
    let shown = name.escape_debug().to_string();
    let bad = |why: &str| {
        Error::usage(format!("invalid tenant name `{shown}`: {why}")).hint(
            "tenant names are Unix user names: a lower-case letter or `_`, then up to 30 \
             lower-case letters, digits, `_` or `-`, e.g. `alice`",
        )
    };
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(bad("it is empty"));
    };
    if bytes.len() > 31 {
        return Err(bad("longer than 31 characters"));
    }
    if !(first.is_ascii_lowercase() || first == b'_') {
        return Err(bad("must start with a lower-case letter or `_`"));
    }
    if !bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(bad(
            "only lower-case letters, digits, `_` and `-` are allowed",
        ));
    }
    if name.ends_with('-') {
        return Err(bad("cannot end with `-`"));
    }
    if RESERVED.contains(&name) {
        return Err(
            Error::usage(format!("tenant name `{name}` is reserved")).hint(
                "choose another name; reserved names are Vault's own policies and system accounts",
            ),
        );
    }
    Ok(())
}

/// Parses `90s`, `30m`, `1h`, `30d` (or plain seconds) into seconds.
pub fn duration(flag: &str, s: &str) -> Result<u64> {
    let bad = || {
        Error::usage(format!(
            "invalid duration `{}` for `{flag}`",
            s.escape_debug()
        ))
        .hint(format!("pass a number with s, m, h or d, e.g. `{flag} 1h`"))
    };
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(mul)
        .filter(|v| *v <= 100 * 365 * 86400)
        .ok_or_else(bad)
}

/// Seconds in the largest unit that divides them: `30d`, `1h`, `90s`.
pub fn show_duration(secs: u64) -> String {
    if secs != 0 && secs.is_multiple_of(86400) {
        format!("{}d", secs / 86400)
    } else if secs != 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

/// Whether every generated file can carry `p` as it is.
fn carried(p: &std::path::Path) -> bool {
    p.as_os_str()
        .as_encoded_bytes()
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"._-+@/".contains(b))
}

/// `--install-path`: relative, inside the tenant's home, no `..`, and made
/// of characters every file that names it can carry as they are (compose
/// YAML and its `${…}` interpolation, Quadlet and systemd's `%` specifiers,
/// the agent's JSON): letters, digits, `.`, `_`, `-`, `+`, `@` and `/`.
pub fn install_path(p: &std::path::Path) -> Result<()> {
    let inside = !p.as_os_str().is_empty()
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if inside && !carried(p) {
        return Err(Error::usage(format!(
            "`--install-path {}` has a character the bundle's files cannot carry",
            p.display().to_string().escape_debug()
        ))
        .hint("use letters, digits, `.`, `_`, `-`, `+`, `@` and `/`, e.g. `--install-path .config/vaultnet`"));
    }
    if inside {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "`--install-path {}` must be a relative path inside the tenant's home",
            p.display().to_string().escape_debug()
        ))
        .hint("pass e.g. `--install-path .config/vaultnet`"))
    }
}

/// A tenant's home directory, when the bundle is installed there: it
/// reaches the compose file and the Quadlet unit as the bundle's path, so
/// it takes the same characters as `--install-path` (and is absolute).
pub fn home_dir(tenant: &str, home: &std::path::Path) -> Result<()> {
    if home.is_absolute() && carried(home) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the home directory of `{tenant}`, `{}`, has a character the bundle's files cannot carry",
            home.display().to_string().escape_debug()
        ))
        .hint("install the bundle yourself, or give the user a home of letters, digits, `.`, `_`, `-`, `+`, `@` and `/`"))
    }
}

/// The first line of a (parser's) error message, trimmed.
pub fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(duration("--x", "90").unwrap(), 90);
        assert_eq!(duration("--x", "30m").unwrap(), 1800);
        assert_eq!(duration("--x", "1h").unwrap(), 3600);
        assert_eq!(duration("--x", "30d").unwrap(), 2_592_000);
        for bad in ["", "h", "1w", "-1h", "1.5h", "99999999999999999d"] {
            assert_eq!(duration("--x", bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert_eq!(show_duration(2_592_000), "30d");
    }

    #[test]
    fn install_paths_that_would_break_out_of_a_generated_file_are_refused() {
        use std::path::Path;
        for bad in [
            ".config/x\ninclude: /etc",
            ".config/a}b",
            ".config/$HOME",
            ".config/%h",
            ".config/a b",
            ".config/\"q",
            "../x",
            "/abs",
            "",
        ] {
            assert_eq!(
                install_path(Path::new(bad)).unwrap_err().exit_code(),
                2,
                "{bad:?}"
            );
        }
        for good in [".config/vaultnet", "apps/vault-net_1", "a/b+c@d"] {
            install_path(Path::new(good)).unwrap();
        }
    }

    #[test]
    fn port_zero_is_refused() {
        assert!(vault_addr("127.0.0.1:0".parse().unwrap()).is_err());
        assert!(vault_addr("127.0.0.1:8200".parse().unwrap()).is_ok());
    }
}
