//! The chain as a packet sees it: Vault's loopback listener directly, then
//! the forwarder on the host address, then the name each bundle maps. Every
//! probe has a timeout, so a black-holed address never hangs doctor.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use reqwest::Method;
use zeroize::Zeroizing;

use super::Check;
use super::files::OnDisk;
use crate::error::Error;
use crate::pki::CertInfo;
use crate::state::{Flavor, Site, VaultReload};
use crate::topology::EntryProbe;
use crate::vault::{Client, Health, Target};

/// What a probe of one address found; fed to the checks below.
pub struct Probe {
    pub tcp: Check,
    pub tls: Check,
    pub mtls: Check,
    pub health: Check,
    pub peer_cert: Option<Vec<u8>>,
    /// The status `sys/health` answered with the operator certificate.
    pub health_status: Option<u16>,
}

fn tcp(id: &str, addr: SocketAddr, timeout: Duration, fix: &str) -> Check {
    let start = Instant::now();
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Check::ok(id, format!("TCP {addr}"))
            .detail(format!("connected in {} ms", start.elapsed().as_millis())),
        // A stopped server answers with a reset (refused); silence means
        // something drops the packets, and no route means the address is
        // gone: starting the server would fix neither.
        Err(e)
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            Check::fail(
                id,
                format!("TCP {addr}"),
                format!(
                    "find and remove what drops packets to {addr}: `nft list ruleset`, `iptables -S`, `ip route get {}`",
                    addr.ip()
                ),
            )
            .detail(format!(
                "no answer within {} s (dropped or unreachable)",
                timeout.as_secs_f32()
            ))
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NetworkUnreachable
                || e.kind() == std::io::ErrorKind::HostUnreachable =>
        {
            Check::fail(
                id,
                format!("TCP {addr}"),
                format!(
                    "no route to {ip}: put {ip} back on its interface (`ip -brief address`, `ip route get {ip}`)",
                    ip = addr.ip()
                ),
            )
            .detail(e.to_string())
        }
        Err(e) => Check::fail(id, format!("TCP {addr}"), fix).detail(e.to_string()),
    }
}

/// How a TLS failure reads, in the words a user needs.
pub(crate) enum TlsFailure {
    /// The server rejected us for lacking (or having a bad) client certificate.
    ClientCertRejected,
    /// The connection was accepted, then closed before any TLS answer: no
    /// TLS server behind it — a forwarder whose upstream is not listening.
    HandshakeClosed,
    UnknownIssuer,
    WrongName,
    ServerCertExpired,
    Timeout,
    Other(String),
}

pub(crate) fn classify(e: &Error) -> TlsFailure {
    let m = e.message().to_lowercase();
    let squashed = m.replace([' ', '_'], "");
    // An alert the server sent is its verdict on *our* certificate, even
    // when it reads like one on its own (`CertificateExpired`).
    let alert = squashed.contains("receivedfatalalert");
    if alert
        && (squashed.contains("certificate")
            || squashed.contains("unknownca")
            || squashed.contains("handshakefailure")
            || squashed.contains("accessdenied"))
    {
        TlsFailure::ClientCertRejected
    } else if squashed.contains("handshakeeof") {
        TlsFailure::HandshakeClosed
    } else if squashed.contains("notvalidforname") {
        TlsFailure::WrongName
    } else if squashed.contains("expired") || squashed.contains("notvalidyet") {
        TlsFailure::ServerCertExpired
    } else if squashed.contains("unknownissuer")
        || squashed.contains("badsignature")
        || squashed.contains("invalidpeercertificate")
    {
        // Any other verdict on the server's certificate (self-signed, a CA
        // used as a leaf, …): it is not the one the vaultnet CA issued.
        TlsFailure::UnknownIssuer
    } else if m.contains("timed out") {
        TlsFailure::Timeout
    } else if squashed.contains("certificaterequired")
        || squashed.contains("handshakefailure")
        || squashed.contains("badcertificate")
        || squashed.contains("unknownca")
        || m.contains("connection reset")
        || m.contains("broken pipe")
        || m.contains("unexpected eof")
        || m.contains("connection closed")
        || m.contains("end of file")
    {
        TlsFailure::ClientCertRejected
    } else {
        TlsFailure::Other(e.message().to_string())
    }
}

const MTLS_TITLE: &str = "mutual TLS enforced: no answer without a client certificate";

/// (Long: the probe is a sequence in which each step decides whether the
/// next can run; the verdicts themselves live in `tls_checks` and
/// `health_check`.)
/// Probes one address speaking to Vault: TCP, TLS (the server certificate
/// must verify against the vaultnet CA for `name`), mutual TLS enforced
/// (a real request without a client certificate gets no answer — with TLS
/// 1.3 the refusal only shows at the first read), and `sys/health` with the
/// operator certificate.
#[allow(clippy::too_many_arguments)]
pub fn probe(
    id: &str,
    site: &Site,
    name: &str,
    addr: SocketAddr,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    timeout: Duration,
    start_fix: &str,
    closed_fix: &str,
) -> Probe {
    let cli = site.flavor.binary();
    let tcp = tcp(&format!("{id}.tcp"), addr, timeout, start_fix);
    let tls_title = format!(
        "TLS: server certificate verifies for `{name}` against {}",
        trusted(site)
    );
    let mtls_title = MTLS_TITLE;
    let health_title = "operator certificate accepted; sys/health";
    let skipped =
        |what: &str, title: &str| Check::skip(format!("{id}.{what}"), title).detail("TCP failed");
    if tcp.status == super::Status::Fail {
        return Probe {
            tcp,
            tls: skipped("tls", &tls_title),
            mtls: skipped("mtls", mtls_title),
            health: skipped("health", health_title),
            peer_cert: None,
            health_status: None,
        };
    }
    let url = format!("https://{name}:{}", addr.port());
    let client = |identity: Option<&Zeroizing<Vec<u8>>>| {
        Client::new(
            Target {
                url: url.clone(),
                resolve: Some((name, addr)),
                timeout,
            },
            ca_pem,
            identity,
            cli,
        )
    };
    let answer = client(None).and_then(|c| c.raw(Method::GET, "sys/health", None, None));
    let fixes = Fixes {
        start: start_fix,
        closed: closed_fix,
    };
    let (tls, mtls) = tls_checks(
        id,
        name,
        &tls_title,
        answer.map(|r| r.status),
        &fixes,
        timeout,
    );
    let mut peer_cert = None;
    let mut health_status = None;
    let health = if tls.status == super::Status::Fail {
        Check::skip(format!("{id}.health"), health_title).detail("TLS failed")
    } else {
        match client(operator).and_then(|c| c.raw(Method::GET, "sys/health", None, None)) {
            Ok(r) => {
                peer_cert = r.peer_cert.clone();
                health_status = Some(r.status);
                let version = r
                    .body
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or("?")
                    .to_string();
                health_check(
                    site,
                    &format!("{id}.health"),
                    health_title,
                    r.status,
                    &version,
                )
            }
            Err(e) => Check::fail(
                format!("{id}.health"),
                health_title,
                "run `vaultnet init` (it reissues a missing or wrong operator certificate)",
            )
            .detail(e.message().to_string()),
        }
    };
    Probe {
        tcp,
        tls,
        mtls,
        health,
        peer_cert,
        health_status,
    }
}

/// The fixes a probe's checks give: when nothing answers, and when the
/// connection is closed before any TLS answer.
struct Fixes<'a> {
    start: &'a str,
    closed: &'a str,
}

/// The TLS and mutual-TLS checks, from the answer (an HTTP status, or the
/// failure) to a request made without a client certificate.
/// What a site verifies Vault's certificates by, in words.
fn trusted(site: &Site) -> &'static str {
    if site.cluster.as_ref().is_some_and(|c| c.joined) {
        "the cluster's CAs (`pki/cluster-ca.pem`)"
    } else {
        "the vaultnet CA"
    }
}

fn tls_checks(
    id: &str,
    name: &str,
    tls_title: &str,
    answer: Result<u16, Error>,
    fixes: &Fixes<'_>,
    timeout: Duration,
) -> (Check, Check) {
    let tls_title = tls_title.to_string();
    let mtls_title = MTLS_TITLE;
    let listener_fix = "start Vault with the listener vaultnet wrote (`vault/listener.json`), which requires client certificates, and restart it";
    match answer {
        Ok(status) => (
            Check::ok(format!("{id}.tls"), tls_title.clone()),
            Check::fail(format!("{id}.mtls"), mtls_title, listener_fix)
                .detail(format!("answered HTTP {status} to a client without a certificate")),
        ),
        Err(e) => match classify(&e) {
            TlsFailure::ClientCertRejected => (
                Check::ok(format!("{id}.tls"), tls_title.clone()),
                Check::ok(format!("{id}.mtls"), mtls_title),
            ),
            TlsFailure::UnknownIssuer => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), "make sure this address leads to the Vault started with `vault/listener.json` (its certificate is `vault/server.pem`, issued by `pki/ca.pem`)")
                    .detail("the server's certificate was not issued by the vaultnet CA"),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
            TlsFailure::WrongName => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), "run `vaultnet init` (it reissues the server certificate for the current names), then reload Vault (SIGHUP)")
                    .detail(format!("the server's certificate is not valid for `{name}`")),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
            TlsFailure::ServerCertExpired => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), "run `vaultnet renew` (it renews the server certificate and has Vault reload it)")
                    .detail("the server's certificate has expired or is not yet valid"),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
            TlsFailure::HandshakeClosed => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), fixes.closed)
                    .detail("the connection was closed before any TLS answer: no TLS server behind this address"),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
            TlsFailure::Timeout => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), fixes.start)
                    .detail(format!("no TLS answer within {} s", timeout.as_secs_f32())),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
            TlsFailure::Other(m) => (
                Check::fail(format!("{id}.tls"), tls_title.clone(), fixes.start).detail(m),
                Check::skip(format!("{id}.mtls"), mtls_title).detail("TLS failed"),
            ),
        },
    }
}

/// The verdict on a `sys/health` answer (Vault encodes it in the status).
fn health_check(site: &Site, hid: &str, health_title: &str, status: u16, version: &str) -> Check {
    let cli = site.flavor.binary();
    match Health::from_status(status) {
        Health::Active => Check::ok(hid, health_title)
            .detail(format!("active, {} {version}", site.flavor.display_name())),
        Health::Sealed => Check::fail(hid, health_title, crate::vault::unseal_hint(cli))
            .detail("sealed (HTTP 503)"),
        Health::NotInitialized => Check::fail(
            hid,
            health_title,
            format!("initialise it: `{cli} operator init`"),
        )
        .detail("not initialised (HTTP 501)"),
        Health::Standby => Check::warn(
            hid,
            health_title,
            "point `--vault-listen` at the active node (`vaultnet init --vault-listen …`)",
        )
        .detail("standby (HTTP 429)"),
        Health::PerfStandby => Check::warn(
            hid,
            health_title,
            "point `--vault-listen` at the active node",
        )
        .detail("performance standby (HTTP 473)"),
        Health::DrSecondary => Check::warn(
            hid,
            health_title,
            "point `--vault-listen` at the primary cluster",
        )
        .detail("DR secondary (HTTP 472)"),
        Health::Other(s) => Check::fail(hid, health_title, format!("look at the {cli} server log"))
            .detail(format!("HTTP {s}")),
    }
}

/// Vault's own listener on loopback, and whether it serves the server
/// certificate on disk (SECURITY.md D3).
pub fn direct(
    site: &Site,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    on_disk: Option<&OnDisk>,
    timeout: Duration,
) -> (Check, Option<Vec<u8>>) {
    let start = format!(
        "start {} with `-config vault/listener.json` (address {})",
        site.flavor.display_name(),
        site.vault_addr
    );
    let p = probe(
        "vault",
        site,
        &site.dns_name,
        site.vault_addr,
        ca_pem,
        operator,
        timeout,
        &start,
        &format!(
            "make sure {} is the TLS listener of `vault/listener.json`, not another server",
            site.vault_addr
        ),
    );
    let peer = p.peer_cert.clone();
    let name = site.flavor.display_name();
    let served = served("vault", site, name, peer.as_deref(), on_disk);
    (
        Check::group(
            "vault",
            format!("{name} at {}", site.vault_addr),
            vec![p.tcp, p.tls, p.mtls, p.health, served],
        ),
        peer,
    )
}

/// The certificate a Vault serves is the one in the key file its listener
/// reads: a certificate renewed on disk takes effect only once Vault
/// reloads it.
pub(crate) fn served(
    id: &str,
    site: &Site,
    who: &str,
    peer: Option<&[u8]>,
    on_disk: Option<&OnDisk>,
) -> Check {
    let id = format!("{id}.served");
    if site.cluster.as_ref().is_some_and(|c| c.joined) {
        return Check::skip(id, "serves the certificate its site issued")
            .detail("not compared: the site that runs the cluster holds the nodes' certificates");
    }
    let file = on_disk.map_or("vault/server-key.pem", |d| d.file.as_str());
    let title = format!("serves the certificate in `{file}`");
    let (peer, disk) = match (peer, on_disk) {
        (_, None) => {
            return Check::skip(id, title).detail(
                "not compared: no usable server certificate on disk (see the files checks)",
            );
        }
        (None, _) => {
            return Check::skip(id, title)
                .detail("not compared: no answer with the operator certificate");
        }
        (Some(p), Some(d)) => (p, &d.info),
    };
    if peer == disk.der.as_slice() {
        return Check::ok(id, title);
    }
    let detail = match CertInfo::from_der(peer) {
        Ok(p) => format!(
            "{who} serves {} certificate than `{file}`: serial {} is served, the file holds serial {}",
            // Issued in the same second reads as older: a file on disk only
            // moves forward, except when someone puts an old one back.
            if p.not_before <= disk.not_before {
                "an older"
            } else {
                "another"
            },
            p.serial,
            disk.serial
        ),
        Err(_) => format!("{who} serves another certificate than `{file}`"),
    };
    Check::fail(id, title, reload_hint(site)).detail(detail)
}

/// How the operator has Vault load its server certificate again: the
/// reload `init` recorded, else the usual ways (Vault and OpenBao reload
/// listener certificates on SIGHUP).
pub fn reload_hint(site: &Site) -> String {
    let name = site.flavor.display_name();
    match &site.vault_reload {
        Some(r @ VaultReload::Command(_)) => {
            format!("reload {name}: {r} (`vaultnet renew` runs it)")
        }
        Some(r @ VaultReload::PidFile(_)) => {
            format!("reload {name}: {r} (`vaultnet renew` sends it)")
        }
        None => {
            let (unit, bin) = match site.flavor {
                Flavor::Vault => ("vault", "vault"),
                Flavor::Openbao => ("openbao", "bao"),
            };
            format!(
                "reload {name}: `systemctl reload {unit}` or `kill -HUP <pid of {bin} server>` (after `vaultnet init --vault-reload-command …` or `--vault-pid-file …`, `vaultnet renew` does it)"
            )
        }
    }
}

/// An entry (the forwarder): listening, on an address this host still
/// has, leading to the very Vault checked directly, with mutual TLS still
/// enforced.
pub fn entry(
    site: &Site,
    entry: &EntryProbe,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    (direct_cert, on_disk): (Option<&[u8]>, Option<&OnDisk>),
    timeout: Duration,
) -> Check {
    let addr = entry.addr;
    let id = entry.id.as_str();
    let mut children = Vec::new();
    match entry.host_ip.map(|ip| (ip, crate::sys::hostnet::interface_of(ip))) {
        None => {}
        Some((ip, Some(ifname))) => children.push(
            Check::ok(format!("{id}.host_ip"), format!("host IP {ip} on an interface"))
                .detail(format!("on `{ifname}`")),
        ),
        Some((ip, None)) => children.push(
            Check::fail(
                format!("{id}.host_ip"),
                format!("host IP {ip} on an interface"),
                "if the host's address changed: `vaultnet init --host-ip NEW_IP`, then `vaultnet add-user NAME` for each tenant to rewrite their bundles",
            )
            .detail("no interface of this host has it: every bundle's extra_hosts is stale"),
        ),
    }
    let p = probe(
        id,
        site,
        &entry.name,
        addr,
        ca_pem,
        operator,
        timeout,
        &entry.start_hint,
        &entry.upstream_hint,
    );
    let same_title = "leads to the same Vault (same server certificate)";
    let same = match (&p.peer_cert, direct_cert) {
        (Some(a), Some(b)) if a.as_slice() == b => Check::ok(format!("{id}.same"), same_title),
        (Some(_), Some(_)) => Check::fail(format!("{id}.same"), same_title, &entry.elsewhere_hint)
            .detail("the entry leads to a different TLS server than the one at the Vault address"),
        _ if p.tls.status == super::Status::Fail && p.tcp.status == super::Status::Ok => {
            Check::fail(format!("{id}.same"), same_title, &entry.elsewhere_hint)
                .detail("the server behind the entry is not this Vault")
        }
        _ => Check::skip(format!("{id}.same"), same_title).detail("not comparable"),
    };
    // What tenants see through the entry; when it is not the Vault
    // checked directly, `same` has said so.
    let elsewhere = matches!((&p.peer_cert, direct_cert), (Some(a), Some(b)) if a.as_slice() != b);
    let mut served = served(
        id,
        site,
        &format!("through it, {}", site.flavor.display_name()),
        p.peer_cert.as_deref(),
        on_disk,
    );
    if elsewhere {
        served = Check::skip(served.id, served.title)
            .detail("not compared: it leads to another server than the Vault address");
    }
    children.extend([p.tcp, p.tls, p.mtls, p.health, same, served]);
    Check::group(id, entry.title.clone(), children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(msg: &str) -> &'static str {
        match classify(&Error::failed(msg.to_string())) {
            TlsFailure::ClientCertRejected => "client cert rejected",
            TlsFailure::HandshakeClosed => "closed",
            TlsFailure::UnknownIssuer => "unknown issuer",
            TlsFailure::WrongName => "wrong name",
            TlsFailure::ServerCertExpired => "server cert expired",
            TlsFailure::Timeout => "timeout",
            TlsFailure::Other(_) => "other",
        }
    }

    #[test]
    fn an_alert_from_the_server_is_about_our_certificate_even_when_it_says_expired() {
        // As reqwest words them against OpenBao 2.7 (seen in the e2e tests).
        let sent = "TLS with https://vault.lan:22300 failed: error sending request for url \
                    (https://vault.lan:22300/v1/auth/approle/login): client error (SendRequest): \
                    connection error: received fatal alert: ";
        for alert in [
            "CertificateRequired",
            "CertificateExpired",
            "BadCertificate",
            "UnknownCA",
        ] {
            assert_eq!(
                class(&format!("{sent}{alert}")),
                "client cert rejected",
                "{alert}"
            );
        }
        assert_eq!(
            class("invalid peer certificate: Expired { time: .. }"),
            "server cert expired"
        );
        assert_eq!(
            class("client error (Connect): tls handshake eof"),
            "closed",
            "a forwarder whose upstream is down accepts, then hangs up"
        );
    }
}
