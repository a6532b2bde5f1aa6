//! Checks on the state directory's files: the settings, the CA, the server,
//! operator and tenant certificates (chain, usage, names, key, expiry), and
//! the modes and owners of every secret file (SECURITY.md S7, T4).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use time::OffsetDateTime;

use super::Check;
use crate::layout::{self, Layout};
use crate::pki::{self, CertInfo};
use crate::state::{State, Tenant};
use crate::sys::fsx::{self, MAX_PEM_BYTES};

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

fn expiry(
    id: &str,
    title: &str,
    info: &CertInfo,
    now: OffsetDateTime,
    due: Due,
    fix: &str,
) -> Check {
    let left = info.days_left(now);
    let date = info.not_after.date();
    let warn = match due {
        Due::DaysAhead(d) => left < d,
        Due::RenewalRule => pki::renewal_due(info.not_before, info.not_after, now),
    };
    if info.not_after <= now {
        Check::fail(id, title, fix).detail(format!("expired on {date}"))
    } else if info.not_before > now {
        Check::fail(id, title, fix).detail(format!("not valid before {}", info.not_before))
    } else if warn {
        Check::warn(id, title, fix).detail(format!("expires {date}, {left} days left"))
    } else {
        Check::ok(id, title).detail(format!("expires {date} ({left} days)"))
    }
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
            // The key is what signed every certificate here; when a bundle's
            // copy of the CA matches it, `pki/ca.pem` is the file that was
            // replaced, and putting the copy back is the whole fix.
            usable = false;
            let hint = key
                .as_deref()
                .and_then(|k| bundle_copy_of_ca(layout, k))
                .map(|copy| {
                    format!(
                        "put back the CA certificate of `pki/ca-key.pem` (each tenant bundle keeps a copy): `cp {} {}`",
                        copy.display(),
                        layout.ca_cert().display()
                    )
                })
                .unwrap_or_else(|| fix_new.to_string());
            children.push(
                Check::fail("files.ca.key", "`pki/ca-key.pem`", hint)
                    .detail("does not match the CA certificate"),
            );
        }
        None => children
            .push(Check::fail("files.ca.key", "`pki/ca-key.pem`", fix_new).detail("missing")),
    }
    children.push(expiry(
        "files.ca.expiry",
        "validity",
        &info,
        now,
        Due::DaysAhead(CA_WARN_DAYS),
        "plan a new CA: `vaultnet init --force`, then `vaultnet add-user --rotate` for every tenant",
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

/// Common leaf checks: issued by this CA, the right usage, key matches, expiry.
/// (Long: one check after the other, each a few lines; splitting them would
/// only pass the same five values around.)
#[allow(clippy::too_many_arguments)]
fn leaf(
    id: &str,
    title: &str,
    cert_path: &Path,
    key_path: &Path,
    ca: Option<&CertInfo>,
    server: bool,
    now: OffsetDateTime,
    fix: &str,
) -> (Vec<Check>, Option<CertInfo>) {
    let mut out = Vec::new();
    let Some(pem) = read(cert_path) else {
        out.push(Check::fail(format!("{id}.present"), title, fix).detail("missing"));
        return (out, None);
    };
    let info = match CertInfo::parse(&pem) {
        Ok(i) => i,
        Err(e) => {
            out.push(
                Check::fail(format!("{id}.present"), title, fix).detail(e.message().to_string()),
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
                Check::fail(format!("{id}.chain"), "issued by the vaultnet CA", fix).detail(
                    format!("issued by `{}`, the CA is `{}`", info.issuer, ca.subject),
                ),
            );
        }
    } else {
        out.push(
            Check::skip(format!("{id}.chain"), "issued by the vaultnet CA")
                .detail("not checked: `pki/ca.pem` is not usable (see the CA check)"),
        );
    }
    let usage_ok = if server {
        info.server_auth && !info.client_auth && !info.any_eku
    } else {
        info.client_auth && !info.server_auth && !info.any_eku
    };
    let usage = if server {
        "serverAuth only"
    } else {
        "clientAuth only"
    };
    if usage_ok {
        out.push(Check::ok(format!("{id}.usage"), usage));
    } else {
        out.push(
            Check::fail(format!("{id}.usage"), usage, fix).detail(format!(
                "serverAuth {}, clientAuth {}",
                info.server_auth, info.client_auth
            )),
        );
    }
    match read(key_path).map(|k| pki::key_matches(&pem, &k)) {
        Some(Ok(true)) => out.push(Check::ok(format!("{id}.key"), "key matches")),
        Some(_) => out.push(
            Check::fail(format!("{id}.key"), "key matches", fix).detail(format!(
                "`{}` is not this certificate's key",
                key_path.display()
            )),
        ),
        None => out.push(
            Check::fail(format!("{id}.key"), "key", fix)
                .detail(format!("`{}` is missing", key_path.display())),
        ),
    }
    out.push(expiry(
        &format!("{id}.expiry"),
        "validity",
        &info,
        now,
        Due::RenewalRule,
        fix,
    ));
    (out, Some(info))
}

pub fn server_cert(
    layout: &Layout,
    st: &State,
    ca: Option<&CertInfo>,
    now: OffsetDateTime,
) -> Check {
    let fix =
        "run `vaultnet init` (it reissues a server certificate that is wrong), then restart Vault";
    let (mut children, info) = leaf(
        "files.server",
        "`vault/server.pem`",
        &layout.server_cert(),
        &layout.server_key(),
        ca,
        true,
        now,
        fix,
    );
    if let Some(info) = info {
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
                Check::fail("files.server.sans", "names", fix)
                    .detail(format!("missing {}", missing.join(", "))),
            );
        }
    }
    Check::group(
        "files.server",
        "Vault server certificate `vault/server.pem`",
        children,
    )
}

pub fn operator_cert(layout: &Layout, ca: Option<&CertInfo>, now: OffsetDateTime) -> Check {
    let (children, _) = leaf(
        "files.operator",
        "`operator/client.pem`",
        &layout.operator_cert(),
        &layout.operator_key(),
        ca,
        false,
        now,
        "run `vaultnet init` (it reissues the operator certificate)",
    );
    Check::group(
        "files.operator",
        "operator certificate `operator/client.pem`",
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
    let fix = format!("run `vaultnet add-user {name}` (it reissues what is wrong)");
    let (mut children, info) = leaf(
        &format!("files.tenant.{name}"),
        "`client.pem`",
        &dir.join("client.pem"),
        &dir.join("client-key.pem"),
        ca,
        false,
        now,
        &fix,
    );
    if let Some(info) = &info
        && info.common_name.as_deref() != Some(name)
    {
        children.push(
            Check::fail(format!("files.tenant.{name}.cn"), "common name", &fix)
                .detail(format!("{:?}, expected `{name}`", info.common_name)),
        );
    }
    if let Some(exp) = rec.secret_id_expires {
        let left = (exp - now).whole_days();
        let ttl = time::Duration::seconds(rec.limits.secret_id_ttl.min(i64::MAX as u64) as i64);
        let id = format!("files.tenant.{name}.secret_id");
        let date = exp.date();
        children.push(if exp <= now {
            Check::fail(
                id,
                "secret_id",
                format!("run `vaultnet add-user {name}` to issue a new one"),
            )
            .detail(format!("expired on {date}"))
        } else if pki::renewal_due(exp - ttl, exp, now) {
            Check::warn(
                id,
                "secret_id",
                format!("run `vaultnet add-user {name}` to issue a new one"),
            )
            .detail(format!("expires {date}, {left} days left"))
        } else {
            Check::ok(id, "secret_id").detail(format!("expires {date} ({left} days)"))
        });
    }
    Check::group(
        format!("files.tenant.{name}"),
        format!("tenant `{name}`"),
        children,
    )
}

/// Every secret file: no group/other access, the right owner (SECURITY.md S7).
pub fn secret_modes(layout: &Layout, st: &State, only: Option<&str>) -> Check {
    // Secret files belong to whoever runs vaultnet (the state directory is
    // refused otherwise), and installed copies to their tenant.
    let owner = rustix::process::geteuid().as_raw();
    let mut files: Vec<(std::path::PathBuf, u32)> = vec![
        (layout.ca_key(), owner),
        (layout.server_key(), owner),
        (layout.operator_key(), owner),
    ];
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
