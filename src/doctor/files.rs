//! Checks on the state directory's files: the settings, the CA, the server,
//! operator and tenant certificates (chain, usage, names, key, expiry), and
//! the modes and owners of every secret file (SECURITY.md S7, T4).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::Check;
use crate::layout::{self, Layout};
use crate::pki::{self, CertInfo};
use crate::state::{State, Tenant};
use crate::sys::fsx::{self, HomeRead, MAX_PEM_BYTES};

/// The CA warns this many days ahead: replacing it means re-adding every
/// tenant, so it is not renewed by the rule for leaves.
pub const CA_WARN_DAYS: i64 = 180;

/// A file vaultnet wrote, read without following a link (a link where a
/// certificate should be reads as missing; the modes check names it).
fn read(path: &Path) -> Option<String> {
    fsx::read_text(path, MAX_PEM_BYTES).ok().flatten()
}

/// When a warning is due: the CA some days ahead, a leaf by the one
/// renewal rule ([`pki::renewal_due`]).
#[derive(Clone, Copy)]
enum Due {
    DaysAhead(i64),
    RenewalRule,
}

/// A span of time as people read it: whole days from a day up, else hours
/// and minutes, minutes, or seconds (`89 days`, `5h 12m`, `2m`, `40s`) —
/// lifetimes can be minutes, and "0 days" would say nothing.
pub fn span(d: time::Duration) -> String {
    let s = d.whole_seconds().unsigned_abs();
    match s {
        86_400.. if s / 86_400 == 1 => "1 day".into(),
        86_400.. => format!("{} days", s / 86_400),
        3_600.. if s % 3_600 / 60 == 0 => format!("{}h", s / 3_600),
        3_600.. => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        60.. => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// A moment: its date when it is a day or more away, else its time too
/// (RFC 3339), so a lifetime of minutes shows when it ends.
pub fn when(t: OffsetDateTime, now: OffsetDateTime) -> String {
    if (t - now).abs() < time::Duration::DAY {
        crate::state::rfc3339::format(t)
    } else {
        t.date().to_string()
    }
}

/// The validity of a certificate or secret_id, with `expires` and
/// `seconds_left` as fields: expired or due, the hint is `renew`; not yet
/// valid, `wrong`.
#[allow(clippy::too_many_arguments)]
fn validity(
    id: &str,
    title: &str,
    (not_before, not_after): (OffsetDateTime, OffsetDateTime),
    now: OffsetDateTime,
    due: Due,
    renew: &str,
    wrong: &str,
) -> Check {
    let left = not_after - now;
    let at = when(not_after, now);
    let warn = match due {
        Due::DaysAhead(d) => left.whole_days() < d,
        Due::RenewalRule => pki::renewal_due(not_before, not_after, now),
    };
    let check = if not_after <= now {
        Check::fail(id, title, renew).detail(format!("expired on {at} ({} ago)", span(left)))
    } else if not_before > now {
        Check::fail(id, title, wrong).detail(format!("not valid before {}", when(not_before, now)))
    } else if warn {
        Check::warn(id, title, renew).detail(match due {
            Due::RenewalRule => format!(
                "expires {at}: {} left of {}, less than a third",
                span(left),
                span(not_after - not_before)
            ),
            Due::DaysAhead(d) => format!("expires {at}: {} left, under {d} days", span(left)),
        })
    } else {
        Check::ok(id, title).detail(format!("expires {at} ({} left)", span(left)))
    };
    check.expiring(not_after, now)
}

pub fn state(layout: &Layout, state: &State) -> Check {
    Check::ok(
        "files.state",
        format!("`{}`", layout.rel(&layout.state_file())),
    )
    .detail(format!(
        "schema {}, profile {}, {} tenant(s)",
        state.schema,
        state.site.profile,
        state.tenants.len()
    ))
}

/// The CA: present, a CA with path length 0, its key matching, not expiring.
pub fn ca(layout: &Layout, now: OffsetDateTime) -> (Check, Option<CertInfo>) {
    let fix_new =
        "restore `pki/` from a backup, or run `vaultnet init --force` and re-add every tenant";
    let Some(pem) = read(&layout.ca_cert()) else {
        return (
            Check::fail("files.ca", "CA `pki/ca.pem`", fix_new).detail("missing"),
            None,
        );
    };
    let info = match CertInfo::parse(&pem) {
        Ok(i) => i,
        Err(e) => {
            return (
                Check::fail("files.ca", "CA `pki/ca.pem`", fix_new).detail(e.message().to_string()),
                None,
            );
        }
    };
    let mut children = Vec::new();
    if info.is_ca && info.path_len == Some(0) {
        children.push(Check::ok("files.ca.constraints", "a CA, path length 0"));
    } else {
        children.push(
            Check::fail("files.ca.constraints", "basic constraints", fix_new).detail(format!(
                "CA: {}, path length {:?}",
                info.is_ca, info.path_len
            )),
        );
    }
    let key = read(&layout.ca_key());
    let mut usable = true;
    match key.as_deref().map(|k| pki::key_matches(&pem, k)) {
        Some(Ok(true)) => children.push(Check::ok("files.ca.key", "`pki/ca-key.pem` matches")),
        Some(_) => {
            // The key is what signed every certificate here; when the key
            // file holds its certificate (or a bundle's copy of the CA
            // matches it), `pki/ca.pem` is the file that was replaced, and
            // putting it back is the whole fix.
            usable = false;
            let holds_its_cert = key.as_deref().is_some_and(|k| {
                pki::has_certificate(k)
                    && pki::cert_only(k).is_ok_and(|c| matches!(pki::key_matches(&c, k), Ok(true)))
            });
            let hint = holds_its_cert
                .then(|| {
                    "run `vaultnet init`: it puts back `pki/ca.pem` from `pki/ca-key.pem`, which holds the CA's certificate".to_string()
                })
                .or_else(|| key.as_deref().and_then(|k| bundle_copy_of_ca(layout, k)).map(|copy| {
                    format!(
                        "put back the CA certificate of `pki/ca-key.pem` (each tenant bundle keeps a copy): `cp {} {}`",
                        copy.display(),
                        layout.ca_cert().display()
                    )
                }))
                .unwrap_or_else(|| fix_new.to_string());
            children.push(
                Check::fail("files.ca.key", "`pki/ca-key.pem`", hint)
                    .detail("does not match the CA certificate"),
            );
        }
        None => children
            .push(Check::fail("files.ca.key", "`pki/ca-key.pem`", fix_new).detail("missing")),
    }
    let plan = "plan a new CA: `vaultnet init --force`, then `vaultnet add-user --rotate` for every tenant";
    children.push(validity(
        "files.ca.expiry",
        "validity",
        (info.not_before, info.not_after),
        now,
        Due::DaysAhead(CA_WARN_DAYS),
        plan,
        plan,
    ));
    (
        Check::group("files.ca", "CA `pki/ca.pem`", children).detail(info.subject.clone()),
        // A certificate that is not the key's cannot judge what the key
        // signed: the leaves' chain checks would all fail with the wrong fix.
        usable.then_some(info),
    )
}

/// A tenant bundle's `ca.pem` that belongs to `key_pem`, if any.
fn bundle_copy_of_ca(layout: &Layout, key_pem: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(layout.tenants())
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|d| d.join("ca.pem"))
        .find(|p| read(p).is_some_and(|pem| matches!(pki::key_matches(&pem, key_pem), Ok(true))))
}

/// A leaf certificate as its reader uses it: the one in the key file
/// (Vault's listener and the agent read the pair from there), or, in a key
/// file written before key files held their certificate, the one beside it.
pub struct OnDisk {
    pub info: CertInfo,
    /// The file it is in, relative to the state directory.
    pub file: String,
}

/// A leaf's two files and what to run when something is wrong with them.
struct LeafSpec<'a> {
    id: &'a str,
    /// The certificate alone, for people (`client.pem`, `server.pem`).
    cert: &'a Path,
    /// The key followed by its certificate (`client-key.pem`, `server-key.pem`).
    key: &'a Path,
    server: bool,
    /// Reissues a wrong certificate.
    wrong: &'a str,
    /// Renews a due or expired one.
    renew: &'a str,
    /// The command that rewrites the certificate file from the key file
    /// and joins a key file of an earlier vaultnet to its certificate.
    rewrite: &'a str,
}

/// A key file's text, in a buffer zeroised on drop.
fn read_key(path: &Path) -> Option<Zeroizing<String>> {
    fsx::read_secret(path, MAX_PEM_BYTES)
        .ok()
        .flatten()
        .map(|b| Zeroizing::new(String::from_utf8_lossy(&b).into_owned()))
}

/// Common leaf checks on the certificate the key file holds: issued by
/// this CA, the right usage, the key matching it, its validity; then
/// whether the certificate file beside it is the same certificate.
/// (Long: one check after the other, each a few lines.)
fn leaf(
    layout: &Layout,
    spec: &LeafSpec<'_>,
    ca: Option<&CertInfo>,
    now: OffsetDateTime,
) -> (Vec<Check>, Option<OnDisk>) {
    let id = spec.id;
    let (cert_rel, key_rel) = (
        layout.rel(spec.cert).into_owned(),
        layout.rel(spec.key).into_owned(),
    );
    let mut out = Vec::new();
    let key = read_key(spec.key);
    let alone = read(spec.cert);
    let joined = key.as_deref().is_some_and(|k| pki::has_certificate(k));
    let (pem, file): (&str, &str) = match (&key, &alone) {
        (Some(k), _) if joined => (k.as_str(), &key_rel),
        (_, Some(a)) => (a.as_str(), &cert_rel),
        (Some(_), None) => {
            out.push(
                Check::fail(format!("{id}.present"), format!("`{key_rel}`"), spec.wrong)
                    .detail(format!("holds no certificate, and `{cert_rel}` is missing")),
            );
            return (out, None);
        }
        (None, None) => {
            out.push(
                Check::fail(format!("{id}.present"), format!("`{key_rel}`"), spec.wrong)
                    .detail("missing"),
            );
            return (out, None);
        }
    };
    let info = match CertInfo::parse(pem) {
        Ok(i) => i,
        Err(e) => {
            out.push(
                Check::fail(format!("{id}.present"), format!("`{file}`"), spec.wrong)
                    .detail(e.message().to_string()),
            );
            return (out, None);
        }
    };
    if let Some(ca) = ca {
        if info.issuer == ca.subject {
            out.push(Check::ok(
                format!("{id}.chain"),
                "issued by the vaultnet CA",
            ));
        } else {
            out.push(
                Check::fail(
                    format!("{id}.chain"),
                    "issued by the vaultnet CA",
                    spec.wrong,
                )
                .detail(format!(
                    "issued by `{}`, the CA is `{}`",
                    info.issuer, ca.subject
                )),
            );
        }
    } else {
        out.push(
            Check::skip(format!("{id}.chain"), "issued by the vaultnet CA")
                .detail("not checked: `pki/ca.pem` is not usable (see the CA check)"),
        );
    }
    let usage_ok = if spec.server {
        info.server_auth && !info.client_auth && !info.any_eku
    } else {
        info.client_auth && !info.server_auth && !info.any_eku
    };
    let usage = if spec.server {
        "serverAuth only"
    } else {
        "clientAuth only"
    };
    if usage_ok {
        out.push(Check::ok(format!("{id}.usage"), usage));
    } else {
        out.push(
            Check::fail(format!("{id}.usage"), usage, spec.wrong).detail(format!(
                "serverAuth {}, clientAuth {}",
                info.server_auth, info.client_auth
            )),
        );
    }
    match key.as_deref().map(|k| pki::key_matches(pem, k)) {
        Some(Ok(true)) => out.push(Check::ok(format!("{id}.key"), "key matches")),
        Some(_) => out.push(
            Check::fail(format!("{id}.key"), "key matches", spec.wrong).detail(if joined {
                format!("the key in `{key_rel}` is not the key of the certificate in it")
            } else {
                format!("`{key_rel}` is not the key of `{cert_rel}`")
            }),
        ),
        None => out.push(
            Check::fail(format!("{id}.key"), "key", spec.wrong)
                .detail(format!("`{key_rel}` is missing")),
        ),
    }
    out.push(validity(
        &format!("{id}.expiry"),
        "validity",
        (info.not_before, info.not_after),
        now,
        Due::RenewalRule,
        spec.renew,
        spec.wrong,
    ));
    if joined {
        out.push(alone_check(
            spec,
            &info,
            alone.as_deref(),
            (&cert_rel, &key_rel),
        ));
    } else if key.is_some() {
        out.push(
            Check::warn(
                format!("{id}.joined"),
                "the key file holds the key and its certificate",
                format!("run `{}` (it joins the certificate to its key)", spec.rewrite),
            )
            .detail(format!(
                "`{key_rel}` holds only the key (written by an earlier vaultnet): the next `{}` joins them",
                spec.rewrite
            )),
        );
    }
    let file = file.to_string();
    (out, Some(OnDisk { info, file }))
}

/// The certificate alone beside the key file is the one in the key file.
fn alone_check(
    spec: &LeafSpec<'_>,
    info: &CertInfo,
    alone: Option<&str>,
    (cert_rel, key_rel): (&str, &str),
) -> Check {
    let id = format!("{}.alone", spec.id);
    let title = format!("`{cert_rel}` is the certificate in `{key_rel}`");
    let hint = format!(
        "run `{}` (it rewrites `{cert_rel}` from `{key_rel}`)",
        spec.rewrite
    );
    match alone.map(CertInfo::parse) {
        Some(Ok(a)) if a.der == info.der => Check::ok(id, title),
        Some(Ok(a)) => Check::warn(id, title, hint).detail(format!(
            "the certificate alone in `{cert_rel}` is stale: serial {}, the key file holds serial {}",
            a.serial, info.serial
        )),
        Some(Err(_)) => Check::warn(id, title, hint).detail(format!(
            "the certificate alone in `{cert_rel}` is stale: it is not a certificate"
        )),
        None => Check::warn(id, title, hint)
            .detail(format!("the certificate alone in `{cert_rel}` is missing")),
    }
}

/// Vault's server certificate, as its listener reads it; also returns the
/// certificate, to compare with the one Vault serves.
pub fn server_cert(
    layout: &Layout,
    st: &State,
    ca: Option<&CertInfo>,
    now: OffsetDateTime,
) -> (Check, Option<OnDisk>) {
    let (cert, key) = (layout.server_cert(), layout.server_key());
    let spec = LeafSpec {
        id: "files.server",
        cert: &cert,
        key: &key,
        server: true,
        wrong: "run `vaultnet init` (it reissues a server certificate that is wrong), then reload Vault (SIGHUP)",
        renew: "run `vaultnet renew` (it renews the server certificate)",
        rewrite: "vaultnet init",
    };
    let (mut children, disk) = leaf(layout, &spec, ca, now);
    if let Some(info) = disk.as_ref().map(|d| &d.info) {
        let site = &st.site;
        let mut missing = Vec::new();
        if !info.dns_sans.contains(&site.dns_name) {
            missing.push(site.dns_name.clone());
        }
        if !info.ip_sans.contains(&site.host_ip) {
            missing.push(site.host_ip.to_string());
        }
        if missing.is_empty() {
            children.push(Check::ok("files.server.sans", "names").detail(format!(
                "{}, {}",
                info.dns_sans.join(", "),
                info.ip_sans.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            )));
        } else {
            children.push(
                Check::fail("files.server.sans", "names", spec.wrong)
                    .detail(format!("missing {}", missing.join(", "))),
            );
        }
    }
    (
        Check::group(
            "files.server",
            "Vault server certificate `vault/server-key.pem`",
            children,
        ),
        disk,
    )
}

/// A cluster node's certificates: its server certificate — which must
/// carry the name and address tenants use (the forwarder's) and its own
/// address, as tenants may land on any node — and its join certificate.
/// Also returns the server certificate, to compare with what it serves.
pub fn node_certs(
    layout: &Layout,
    st: &State,
    node: &crate::state::cluster::VaultNode,
    ca: Option<&CertInfo>,
    now: OffsetDateTime,
) -> (Check, Option<OnDisk>) {
    let name = &node.name;
    let (cert, key) = (layout.node_server_cert(name), layout.node_server_key(name));
    let id = format!("files.node.{name}");
    let spec = LeafSpec {
        id: &id,
        cert: &cert,
        key: &key,
        server: true,
        wrong: "run `vaultnet init` (it reissues a server certificate that is wrong), then reload the node (SIGHUP)",
        renew: "run `vaultnet renew` (it renews every node's certificate)",
        rewrite: "vaultnet init",
    };
    let (mut children, disk) = leaf(layout, &spec, ca, now);
    if let Some(info) = disk.as_ref().map(|d| &d.info) {
        let site = &st.site;
        let mut missing = Vec::new();
        if !info.dns_sans.contains(&site.dns_name) {
            missing.push(site.dns_name.clone());
        }
        for ip in [site.host_ip, node.addr.ip()] {
            if !info.ip_sans.contains(&ip) {
                missing.push(ip.to_string());
            }
        }
        let sans = format!(
            "{}, {}",
            info.dns_sans.join(", "),
            info.ip_sans
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        children.push(if missing.is_empty() {
            Check::ok(format!("{id}.sans"), "names: the forwarder's and its own").detail(sans)
        } else {
            Check::fail(
                format!("{id}.sans"),
                "names: the forwarder's and its own",
                spec.wrong,
            )
            .detail(format!("missing {}", missing.join(", ")))
        });
    }
    let (jcert, jkey) = (layout.node_join_cert(name), layout.node_join_key(name));
    let jid = format!("files.node.{name}.join");
    let join = LeafSpec {
        id: &jid,
        cert: &jcert,
        key: &jkey,
        server: false,
        wrong: "run `vaultnet init` (it reissues the join certificate)",
        renew: "run `vaultnet renew` (it renews the join certificate)",
        rewrite: "vaultnet init",
    };
    let (join_children, _) = leaf(layout, &join, ca, now);
    children.push(Check::group(
        jid.clone(),
        format!("join certificate `{}`", layout.rel(&jkey)),
        join_children,
    ));
    (
        Check::group(
            id,
            format!("node `{name}` server certificate `{}`", layout.rel(&key)),
            children,
        ),
        disk,
    )
}

/// HAProxy's health-check certificate (`forwarder/check-key.pem`).
pub fn check_cert(layout: &Layout, ca: Option<&CertInfo>, now: OffsetDateTime) -> Check {
    let (cert, key) = (layout.check_cert(), layout.check_key());
    let spec = LeafSpec {
        id: "files.check",
        cert: &cert,
        key: &key,
        server: false,
        wrong: "run `vaultnet init` (it reissues the health-check certificate), then reload HAProxy",
        renew: "run `vaultnet renew`, then reload HAProxy",
        rewrite: "vaultnet init",
    };
    let (children, _) = leaf(layout, &spec, ca, now);
    Check::group(
        "files.check",
        "HAProxy health-check certificate `forwarder/check-key.pem`",
        children,
    )
}

pub fn operator_cert(layout: &Layout, ca: Option<&CertInfo>, now: OffsetDateTime) -> Check {
    let (cert, key) = (layout.operator_cert(), layout.operator_key());
    let spec = LeafSpec {
        id: "files.operator",
        cert: &cert,
        key: &key,
        server: false,
        wrong: "run `vaultnet init` (it reissues the operator certificate)",
        renew: "run `vaultnet renew` (it renews the operator certificate)",
        rewrite: "vaultnet init",
    };
    let (children, _) = leaf(layout, &spec, ca, now);
    Check::group(
        "files.operator",
        "operator certificate `operator/client-key.pem`",
        children,
    )
}

pub fn tenant(
    layout: &Layout,
    name: &str,
    rec: &Tenant,
    ca: Option<&CertInfo>,
    now: OffsetDateTime,
) -> Check {
    let dir = layout.tenant(name);
    let (cert, key) = (dir.join(layout::CLIENT_CERT), dir.join(layout::CLIENT_KEY));
    let fix = format!("run `vaultnet add-user {name}` (it reissues what is wrong)");
    let renew = format!("run `vaultnet renew {name}`");
    let rewrite = format!("vaultnet add-user {name}");
    let id = format!("files.tenant.{name}");
    let spec = LeafSpec {
        id: &id,
        cert: &cert,
        key: &key,
        server: false,
        wrong: &fix,
        renew: &renew,
        rewrite: &rewrite,
    };
    let (mut children, disk) = leaf(layout, &spec, ca, now);
    if let Some(info) = disk.as_ref().map(|d| &d.info)
        && info.common_name.as_deref() != Some(name)
    {
        children.push(
            Check::fail(format!("files.tenant.{name}.cn"), "common name", &fix)
                .detail(format!("{:?}, expected `{name}`", info.common_name)),
        );
    }
    if let Some(exp) = rec.secret_id_expires {
        let ttl = time::Duration::seconds(rec.limits.secret_id_ttl.min(i64::MAX as u64) as i64);
        children.push(validity(
            &format!("files.tenant.{name}.secret_id"),
            "secret_id",
            (exp - ttl, exp),
            now,
            Due::RenewalRule,
            &format!("run `vaultnet renew {name}` (it issues a new secret_id)"),
            &format!("run `vaultnet add-user {name}` to issue a new one"),
        ));
    }
    children.extend(installed(layout, name, rec));
    Check::group(
        format!("files.tenant.{name}"),
        format!("tenant `{name}`"),
        children,
    )
}

/// The copy `add-user --install` put in the tenant's home holds the
/// state's bundle, file for file. The home is read the way it is written
/// (SECURITY.md S4): no link the tenant planted is followed, and a link is
/// a finding, not a path.
fn installed(layout: &Layout, name: &str, rec: &Tenant) -> Option<Check> {
    let (dir, uid) = (rec.installed_to.as_ref()?, rec.uid?);
    let id = format!("files.tenant.{name}.installed");
    let title = format!("installed copy `{}`", dir.display());
    let fix = format!("run `vaultnet add-user {name}` (it installs the bundle again)");
    let me = rustix::process::geteuid();
    if !me.is_root() && me.as_raw() != uid {
        return Some(Check::skip(id, title).detail(format!(
            "not compared: only root or uid {uid} may read the tenant's home"
        )));
    }
    let user = match crate::sys::users::lookup(name) {
        Ok(Some(u)) if u.uid == uid => u,
        Ok(_) => {
            return Some(
                Check::fail(
                    id,
                    title,
                    format!("if the tenant is gone: `vaultnet remove-user {name}`"),
                )
                .detail(format!(
                    "there is no Unix user `{name}` with uid {uid} any more"
                )),
            );
        }
        Err(e) => return Some(Check::fail(id, title, &fix).detail(e.message().to_string())),
    };
    let Ok(rel) = dir.strip_prefix(&user.home) else {
        return Some(Check::fail(id, title, &fix).detail(format!(
            "it is not inside the tenant's home `{}`",
            user.home.display()
        )));
    };
    let files = layout::bundle_files_for(name, rec.auth);
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let found = match fsx::read_from_home(&user.home, rel, uid, &names, fsx::MAX_FILE_BYTES) {
        Ok(Some(f)) => f,
        Ok(None) => return Some(Check::fail(id, title, fix).detail("the directory is missing")),
        Err(e) => {
            // `add-user` refuses to write through what it refuses to read.
            let hint = format!(
                "remove the link or fix the owner the message names, then run `vaultnet add-user {name}`"
            );
            return Some(Check::fail(id, title, hint).detail(e.message().to_string()));
        }
    };
    let bundle = layout.tenant(name);
    let (mut differ, mut missing, mut links, mut odd) = (vec![], vec![], vec![], vec![]);
    for (n, read) in names.iter().zip(found) {
        let shown = format!("`{n}`");
        match read {
            HomeRead::Missing => missing.push(shown),
            HomeRead::Link => links.push(shown),
            HomeRead::NotAFile => odd.push(shown),
            // A wrapped secret_id was unwrapped into the copy: there it is
            // the plain secret_id, not the state's spent wrapping token.
            HomeRead::File(bytes) if rec.wrapped_secret_id && *n == layout::SECRET_ID => {
                let plain = String::from_utf8_lossy(&bytes);
                if !crate::vault::ops::is_plain_secret_id(plain.trim()) {
                    differ.push(shown);
                }
            }
            HomeRead::File(bytes) => {
                let want = fsx::read_secret(&bundle.join(n), fsx::MAX_FILE_BYTES)
                    .ok()
                    .flatten();
                if want.as_deref().map(Vec::as_slice) != Some(bytes.as_slice()) {
                    differ.push(shown);
                }
            }
        }
    }
    let rel_bundle = layout.rel(&bundle);
    let said = |v: &[String], one: &str, many: &str| match v.len() {
        0 => None,
        1 => Some(format!("{} {one}", v[0])),
        _ => Some(format!("{} {many}", v.join(", "))),
    };
    let findings: Vec<String> = [
        said(
            &differ,
            &format!("differs from `{rel_bundle}/`"),
            &format!("differ from `{rel_bundle}/`"),
        ),
        said(&missing, "is missing", "are missing"),
        said(
            &links,
            "is a symbolic link (not followed)",
            "are symbolic links (not followed)",
        ),
        said(&odd, "is not a regular file", "are not regular files"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(if findings.is_empty() {
        Check::ok(id, title).detail(format!("{} files as in `{rel_bundle}/`", names.len()))
    } else {
        Check::fail(id, title, fix).detail(findings.join("; "))
    })
}

/// Every secret file: no group/other access, the right owner (SECURITY.md S7).
pub fn secret_modes(layout: &Layout, st: &State, only: Option<&str>) -> Check {
    // Secret files belong to whoever runs vaultnet (the state directory is
    // refused otherwise), and installed copies to their tenant.
    let owner = rustix::process::geteuid().as_raw();
    let mut files: Vec<(std::path::PathBuf, u32)> = vec![(layout.ca_key(), owner)];
    match &st.site.cluster {
        None => files.push((layout.server_key(), owner)),
        Some(c) => {
            for n in c.nodes.iter().filter(|_| !c.joined) {
                files.push((layout.node_server_key(&n.name), owner));
                files.push((layout.node_join_key(&n.name), owner));
            }
            files.push((layout.check_key(), owner));
        }
    }
    files.push((layout.operator_key(), owner));
    for (name, rec) in &st.tenants {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        for f in layout::bundle_files(name).into_iter().filter(|f| f.secret) {
            files.push((layout.tenant(name).join(&f.name), owner));
            if let (Some(dir), Some(uid)) = (&rec.installed_to, rec.uid) {
                files.push((dir.join(&f.name), uid));
            }
        }
    }
    let mut children = Vec::new();
    for (path, want_uid) in files {
        let shown = layout.rel(&path).into_owned();
        let id = format!("files.modes.{shown}");
        match std::fs::symlink_metadata(&path) {
            Err(_) => continue, // missing files are reported by their own checks
            Ok(m) if m.file_type().is_symlink() => children.push(
                Check::fail(id, format!("`{shown}`"), "replace the link with the real file: `vaultnet add-user` or `vaultnet init` rewrite it")
                    .detail("is a symbolic link"),
            ),
            Ok(m) => {
                let mode = m.mode() & 0o7777;
                if mode & 0o077 != 0 {
                    children.push(
                        Check::fail(id, format!("`{shown}`"), format!("chmod 600 {}", path.display()))
                            .detail(format!("mode {mode:04o}: readable by group or others")),
                    );
                } else if m.uid() != want_uid {
                    children.push(
                        Check::fail(id, format!("`{shown}`"), format!("chown {want_uid} {}", path.display()))
                            .detail(format!("owned by uid {}, expected {want_uid}", m.uid())),
                    );
                } else {
                    children.push(Check::ok(id, format!("`{shown}`")).detail(format!("{mode:04o}")));
                }
            }
        }
    }
    let mut g = Check::group("files.modes", "secret files: mode and owner", children);
    if g.status == super::Status::Ok {
        let n = g.children.len();
        // Keep the tree short when all is well.
        g.children.clear();
        g.detail = Some(format!("{n} file(s) private"));
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_days_down_to_a_day_then_in_hours_minutes_and_seconds() {
        let s = time::Duration::seconds;
        for (secs, shown) in [
            (89 * 86_400 + 5, "89 days"),
            (86_400, "1 day"),
            (5 * 3_600 + 12 * 60 + 30, "5h 12m"),
            (3_600 + 59, "1h"),
            (179, "2m"),
            (59, "59s"),
            (-(2 * 86_400 + 10), "2 days"),
        ] {
            assert_eq!(span(s(secs)), shown, "{secs}");
        }
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        assert_eq!(
            when(now + s(120), now),
            crate::state::rfc3339::format(now + s(120))
        );
        assert_eq!(
            when(now - s(120), now),
            crate::state::rfc3339::format(now - s(120))
        );
        assert_eq!(
            when(now + s(86_400), now),
            (now + s(86_400)).date().to_string()
        );
    }
}
