//! `renew`'s work beyond what `add-user` already converges: the site's own
//! leaves, having Vault load a renewed server certificate (and checking it
//! does), and what is due, for `--dry-run` (SECURITY.md D1–D3).

use std::path::Path;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::tenant::show_time;
use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::pki::{self, CertInfo, Usage, Verdict, Wanted};
use crate::state::cluster::VaultNode;
use crate::state::{Site, State, VaultReload};
use crate::sys::fsx::{self, MAX_PEM_BYTES};
use crate::vault::ops;

/// Has Vault load its listener certificate again (it does on SIGHUP), by
/// the means the operator recorded at `init`, then waits until Vault
/// serves the certificate on disk. Returns what was done.
///
/// In a cluster `node` is the node to reload; the recorded reload names it
/// with `%n`.
pub fn reload_vault(
    layout: &Layout,
    site: &Site,
    node: Option<&VaultNode>,
    timeout: Duration,
) -> Result<String> {
    let name = match node {
        Some(n) => format!("{} node `{}`", site.flavor.display_name(), n.name),
        None => site.flavor.display_name().to_string(),
    };
    let how = match (&site.vault_reload, node) {
        (Some(r), Some(n)) => &crate::state::cluster::reload_for(r, &n.name),
        (Some(r), None) => r,
        (None, _) => {
            return Err(Error::failed(format!(
                "{name} still serves its previous certificate: vaultnet does not know how to reload it"
            ))
            .hint(format!(
                "reload it now (`systemctl reload {}` or `kill -HUP` its pid), and record how once: `vaultnet init --vault-pid-file FILE` or `--vault-reload-command CMD`",
                site.flavor
            )));
        }
    };
    let done = match how {
        VaultReload::Command(argv) => {
            let out = std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| {
                    Error::failed(format!("cannot run `{}`: {e}", argv.join(" ")))
                        .hint("fix it with `vaultnet init --vault-reload-command CMD`")
                })?;
            if !out.status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                let line = err
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                return Err(Error::failed(format!(
                    "`{}` failed ({}): {line}",
                    argv.join(" "),
                    out.status
                ))
                .hint("fix it with `vaultnet init --vault-reload-command CMD`"));
            }
            format!("ran `{}`", argv.join(" "))
        }
        VaultReload::PidFile(path) => {
            let text = fsx::read_text(path, 64)?.ok_or_else(|| {
                Error::failed(format!("`{}` does not exist", path.display())).hint(format!(
                    "is {name} running? Fix the path with `vaultnet init --vault-pid-file FILE`"
                ))
            })?;
            let pid: i32 = text.trim().parse().ok().filter(|p| *p > 1).ok_or_else(|| {
                Error::failed(format!("`{}` does not hold a pid", path.display()))
                    .hint("fix the path with `vaultnet init --vault-pid-file FILE`")
            })?;
            let p = rustix::process::Pid::from_raw(pid).expect("pid > 1");
            rustix::process::kill_process(p, rustix::process::Signal::HUP).map_err(|e| {
                Error::failed(format!(
                    "cannot signal pid {pid} from `{}`: {e}",
                    path.display()
                ))
                .hint(format!(
                    "is {name} running? Fix the path with `vaultnet init --vault-pid-file FILE`"
                ))
            })?;
            format!("sent SIGHUP to pid {pid}")
        }
    };
    wait_until_served(layout, site, node, timeout)?;
    Ok(format!(
        "{name} reloaded ({done}) and serves the new certificate"
    ))
}

/// The key file of the server certificate of `node` (a cluster's), or of
/// the one server.
fn server_key(layout: &Layout, node: Option<&VaultNode>) -> std::path::PathBuf {
    match node {
        Some(n) => layout.node_server_key(&n.name),
        None => layout.server_key(),
    }
}

/// The certificate in the server's key file, as DER.
fn on_disk(layout: &Layout, node: Option<&VaultNode>) -> Result<Vec<u8>> {
    let path = server_key(layout, node);
    fsx::read_secret(&path, MAX_PEM_BYTES)?
        .and_then(|b| CertInfo::parse(&String::from_utf8_lossy(&b)).ok())
        .map(|i| i.der)
        .ok_or_else(|| Error::failed(format!("`{}` holds no certificate", layout.rel(&path))))
}

/// What a Vault listener presents to a new connection (a kept-alive one
/// would show the certificate of its own, earlier handshake): the one
/// server's, or node `node`'s.
fn served(layout: &Layout, site: &Site, node: Option<&VaultNode>) -> Option<Vec<u8>> {
    let client = match node {
        None => ops::operator_client(layout, site, None, Duration::from_secs(5)),
        Some(n) => node_client(layout, site, n, Duration::from_secs(5)),
    };
    client
        .and_then(|c| c.raw(reqwest::Method::GET, "sys/health", None, None))
        .ok()
        .and_then(|r| r.peer_cert)
}

/// The operator's client for one cluster node alone (no failover to the
/// others), trusting only the vaultnet CAs.
pub fn node_client(
    layout: &Layout,
    site: &Site,
    node: &VaultNode,
    timeout: Duration,
) -> Result<crate::vault::Client> {
    let ca = super::ca::server_trust_pem(layout, site)?;
    let identity = ops::operator_identity(layout)?;
    crate::vault::Client::new(
        crate::vault::Target {
            url: node.url(),
            resolve: None,
            timeout,
        },
        &ca,
        Some(&identity),
        site.flavor.binary(),
    )
}

/// Whether Vault (node `node` in a cluster) serves the certificate on
/// disk; `true` when it does not answer (then there is nothing to reload,
/// and the run's own requests say why).
pub fn serves_the_current_certificate(
    layout: &Layout,
    site: &Site,
    node: Option<&VaultNode>,
) -> bool {
    match (served(layout, site, node), on_disk(layout, node)) {
        (Some(s), Ok(d)) => s == d,
        _ => true,
    }
}

/// Polls the listener with fresh connections until the certificate it
/// presents is the one in its key file.
fn wait_until_served(
    layout: &Layout,
    site: &Site,
    node: Option<&VaultNode>,
    timeout: Duration,
) -> Result<()> {
    let want = on_disk(layout, node)?;
    let deadline = Instant::now() + timeout.max(Duration::from_secs(5));
    loop {
        if served(layout, site, node).as_deref() == Some(want.as_slice()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let (who, file) = match node {
                Some(n) => (
                    format!("{} node `{}`", site.flavor.display_name(), n.name),
                    format!("vault/nodes/{}/server-key.pem", n.name),
                ),
                None => (
                    site.flavor.display_name().to_string(),
                    "vault/server-key.pem".to_string(),
                ),
            };
            return Err(Error::failed(format!(
                "{who} still serves its previous certificate after the reload"
            ))
            .hint(format!("look at its log; it reloads `{file}` on SIGHUP")));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One thing `renew` would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    /// `vault`, `operator`, or a tenant's name.
    pub who: String,
    pub what: String,
}

/// What `renew` would do now, from the files and the state alone (no
/// Vault request): leaves the one assessment does not keep, secret_ids
/// due by the one rule, replaced secret_ids past their overlap.
/// A leaf's key and the certificate its readers use: the one in the key
/// file, or (a key file written before it held its certificate) the one
/// beside it. The key stays in zeroised memory; only the certificate is
/// copied out.
fn read_leaf(
    key: &Path,
    cert: &Path,
) -> Result<(Option<zeroize::Zeroizing<String>>, Option<String>)> {
    let key = fsx::read_secret(key, MAX_PEM_BYTES)?
        .map(|k| zeroize::Zeroizing::new(String::from_utf8_lossy(&k).into_owned()));
    let cert = match key.as_deref() {
        Some(k) if pki::has_certificate(k) => Some(pki::cert_only(k)?),
        _ => fsx::read_text(cert, MAX_PEM_BYTES)?,
    };
    Ok((key, cert))
}

/// Why a leaf is due, from its key file (with its certificate) or, written
/// before, the two files; `None` when the one assessment keeps it.
fn leaf_due(
    ca: &CertInfo,
    now: OffsetDateTime,
    key: &Path,
    cert: &Path,
    want: &Wanted<'_>,
) -> Result<Option<String>> {
    let (key, cert) = read_leaf(key, cert)?;
    Ok(match (&cert, &key) {
        (Some(c), Some(k)) => match pki::assess(c, k, ca, now, want) {
            (Verdict::Keep, _) => None,
            (Verdict::Renew(w) | Verdict::Replace(w), _) => Some(w),
        },
        _ => Some("it is missing".into()),
    })
}

/// When the certificate of a leaf expires, from its key file (with its
/// certificate) or, written before, the file beside it.
pub fn leaf_not_after(key: &Path, cert: &Path) -> Result<Option<OffsetDateTime>> {
    let (_, cert) = read_leaf(key, cert)?;
    Ok(cert
        .and_then(|c| CertInfo::parse(&c).ok())
        .map(|i| i.not_after))
}

/// What `renew --rotate-ca` would do to the CAs: switch to the next one,
/// or why it cannot (judged from the files and the state alone; whether
/// Vault trusts the next CA is seen only by the real run).
pub fn rotation_due(layout: &Layout, state: &State, now: OffsetDateTime) -> Result<Due> {
    let current = super::ca::load(layout)?;
    let name = |pem: &str| {
        CertInfo::parse(pem)
            .ok()
            .and_then(|i| i.common_name)
            .unwrap_or_default()
    };
    if let Some(p) = state.previous_ca.as_ref().filter(|p| p.until > now) {
        return Err(Error::usage(format!(
            "the CA before the current one is still trusted until {}, when the last certificate it issued expires",
            show_time(p.until)
        ))
        .hint(format!(
            "run `vaultnet renew --rotate-ca` after {}",
            show_time(p.until)
        )));
    }
    let next = super::ca::load_next(layout, &current)?.ok_or_else(super::ca::no_next)?;
    Ok(Due {
        who: "ca".into(),
        what: format!(
            "switch from `{}` to the next CA `{}` (if Vault trusts it) and make a new next one",
            name(&current.cert_pem),
            name(&next.cert_pem)
        ),
    })
}

/// With `rotating`, every leaf is due: the CA that issued it is replaced.
pub fn due(
    layout: &Layout,
    state: &State,
    tenants: &[String],
    site_too: bool,
    now: OffsetDateTime,
    rotating: bool,
) -> Result<Vec<Due>> {
    let ca = super::tenant::load_ca(layout)?;
    let ca_info = CertInfo::parse(&ca.cert_pem)?;
    let mut out = Vec::new();
    let leaf = |who: &str, what: &str, key: &Path, cert: &Path, want: Wanted<'_>| {
        let why = match rotating {
            true => Ok(Some("the CA rotates".to_string())),
            false => leaf_due(&ca_info, now, key, cert, &want),
        };
        why.map(|why| {
            why.map(|w| Due {
                who: who.into(),
                what: format!("renew the {what} because {w}"),
            })
        })
    };
    if site_too {
        let topology = crate::topology::Topology::new(&state.site)?;
        fn client(cn: &str) -> Wanted<'_> {
            Wanted {
                usage: Usage::Client,
                common_name: Some(cn),
                dns: None,
                ips: None,
            }
        }
        match &state.site.cluster {
            None => {
                let (dns, ips) = topology.server_sans();
                out.extend(leaf(
                    "vault",
                    "server certificate",
                    &layout.server_key(),
                    &layout.server_cert(),
                    Wanted {
                        usage: Usage::Server,
                        common_name: None,
                        dns: Some(&dns),
                        ips: Some(&ips),
                    },
                )?);
            }
            Some(c) => {
                for n in &c.nodes {
                    let who = format!("vault:{}", n.name);
                    let (dns, ips) = topology.node_sans(n);
                    out.extend(leaf(
                        &who,
                        "server certificate",
                        &layout.node_server_key(&n.name),
                        &layout.node_server_cert(&n.name),
                        Wanted {
                            usage: Usage::Server,
                            common_name: None,
                            dns: Some(&dns),
                            ips: Some(&ips),
                        },
                    )?);
                    let cn = super::site::join_cn(&n.name);
                    out.extend(leaf(
                        &who,
                        "join certificate",
                        &layout.node_join_key(&n.name),
                        &layout.node_join_cert(&n.name),
                        client(&cn),
                    )?);
                }
                out.extend(leaf(
                    "forwarder",
                    "health-check certificate",
                    &layout.check_key(),
                    &layout.check_cert(),
                    client(super::site::CHECK_CN),
                )?);
            }
        }
        out.extend(leaf(
            "operator",
            "operator certificate",
            &layout.operator_key(),
            &layout.operator_cert(),
            Wanted {
                usage: Usage::Client,
                common_name: Some(super::site::OPERATOR_CN),
                dns: None,
                ips: None,
            },
        )?);
    }
    for name in tenants {
        let Some(t) = state.tenants.get(name) else {
            continue;
        };
        let dir = layout.tenant(name);
        out.extend(leaf(
            name,
            "client certificate",
            &dir.join(layout::CLIENT_KEY),
            &dir.join(layout::CLIENT_CERT),
            Wanted {
                usage: Usage::Client,
                common_name: Some(name),
                dns: None,
                ips: None,
            },
        )?);
        if let Some(exp) = t.secret_id_expires {
            // The state keeps whole seconds, and Vault's own expiry may be
            // up to one later: judged by the latest it can be, what this
            // calls due, the real run (which asks Vault) calls due too.
            let latest = exp + time::Duration::SECOND;
            let ttl = super::site::secs(t.limits.secret_id_ttl);
            if pki::renewal_due(latest - ttl, latest, now) {
                out.push(Due {
                    who: name.clone(),
                    what: format!(
                        "issue a new secret_id (the current one expires {})",
                        show_time(exp)
                    ),
                });
            }
        }
        for r in t.retiring.iter().filter(|r| r.until <= now) {
            out.push(Due {
                who: name.clone(),
                what: format!(
                    "destroy the previous secret_id `{}` (its overlap ended {})",
                    r.accessor,
                    show_time(r.until)
                ),
            });
        }
    }
    Ok(out)
}
