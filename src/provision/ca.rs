//! The site's CAs (SECURITY.md T5): the current one issues every
//! certificate; the next one is trusted from the start and takes over at
//! `renew --rotate-ca`; the previous one stays trusted until the last
//! certificate it issued has expired. `pki/trust.pem` lists the CAs
//! trusted now: it is Vault's client CA file (read only when Vault
//! starts, which is why the next CA is in it long before it is used),
//! every bundle's `ca.pem`, each cert-auth role's CA, and what vaultnet
//! itself trusts.
//!
//! Each CA key file holds the key followed by its certificate, written by
//! one rename, so a run cut short never leaves a key beside another CA's
//! certificate; the `.pem` beside it is the certificate alone. A replaced
//! CA is kept, key and certificate, under `pki/replaced/`, named with the
//! date.

use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::{Change, Outcome, file_outcome};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::{self, Ca, CertInfo, Issued};
use crate::state::{PreviousCa, Site};
use crate::sys::fsx::{self, MAX_PEM_BYTES};
use crate::sys::hostnet;

/// A CA as read from its two files: the certificate (from the key file
/// when it holds one) and the key.
struct Read {
    cert: Option<String>,
    key: Option<Zeroizing<String>>,
}

fn read(cert_path: &Path, key_path: &Path) -> Result<Read> {
    let key = fsx::read_secret(key_path, MAX_PEM_BYTES)?
        .map(|b| Zeroizing::new(String::from_utf8_lossy(&b).into_owned()));
    let cert = match key.as_deref() {
        Some(k) if pki::has_certificate(k) => Some(pki::cert_only(k)?),
        _ => fsx::read_text(cert_path, MAX_PEM_BYTES)?,
    };
    Ok(Read { cert, key })
}

/// Writes a CA: its key and certificate as one file, then the
/// certificate alone.
fn write(cert_path: &Path, key_path: &Path, issued: &Issued) -> Result<()> {
    fsx::write_atomic(key_path, issued.identity_pem().as_bytes(), fsx::SECRET)?;
    fsx::write_atomic(cert_path, issued.cert_pem.as_bytes(), fsx::PUBLIC)
}

/// The certificate file beside a key file that holds it, brought back in
/// step (a run cut between the two renames leaves it behind, or someone
/// replaced it); whether it had to be.
fn cert_in_step(cert_path: &Path, cert: &str) -> Result<bool> {
    Ok(fsx::write_if_changed(cert_path, cert.as_bytes(), fsx::PUBLIC)? != fsx::Change::Unchanged)
}

/// Keeps a replaced CA, key and certificate, 0600, named with the date.
fn archive(layout: &Layout, cert: &str, key: &str, now: OffsetDateTime) -> Result<PathBuf> {
    let info = CertInfo::parse(cert)?;
    let dir = layout.replaced_cas();
    fsx::private_dir(&dir)?;
    let short = &info.serial[..info.serial.len().min(16)];
    let path = dir.join(format!("ca-{}-{short}-key.pem", now.date()));
    let mut both = Zeroizing::new(key.to_string());
    if !pki::has_certificate(key) {
        if !both.ends_with('\n') {
            both.push('\n');
        }
        both.push_str(cert);
    }
    fsx::write_atomic(&path, both.as_bytes(), fsx::SECRET)?;
    Ok(path)
}

fn name_of(cert: &str) -> String {
    CertInfo::parse(cert)
        .ok()
        .and_then(|i| i.common_name)
        .unwrap_or_default()
}

/// The current CA: kept when its certificate and key belong together;
/// created when there is none; replaced only with `force`, keeping the
/// old one under `pki/replaced/`.
pub fn ensure_current(layout: &Layout, force: bool, now: OffsetDateTime) -> Result<(Ca, Outcome)> {
    let (cert_path, key_path) = (layout.ca_cert(), layout.ca_key());
    let Read { cert, key } = read(&cert_path, &key_path)?;
    let restore = |what: &str| {
        format!("restore `{what}` from a backup, or run `vaultnet init --force` to start a new CA")
    };
    let old = match (&cert, &key) {
        (Some(c), Some(k)) if !force => {
            let ca = Ca::load(c, k)?;
            let info = CertInfo::parse(c)?;
            if pki::has_certificate(k) && cert_in_step(&cert_path, c)? {
                let text = format!(
                    "repaired `pki/ca.pem`: put back the certificate of `pki/ca-key.pem` ({})",
                    info.common_name.unwrap_or_default()
                );
                return Ok((ca, Outcome::new(Change::Repaired, text)));
            }
            let text = format!(
                "kept CA `pki/ca.pem` ({}, expires {})",
                info.common_name.unwrap_or_default(),
                info.not_after.date()
            );
            return Ok((ca, Outcome::new(Change::Kept, text)));
        }
        (Some(_), None) if !force => {
            return Err(Error::failed(
                "`pki/ca.pem` exists but its key `pki/ca-key.pem` is missing",
            )
            .hint(restore("pki/ca-key.pem")));
        }
        (None, Some(_)) if !force => {
            return Err(
                Error::failed("`pki/ca-key.pem` exists but `pki/ca.pem` is missing")
                    .hint(restore("pki/ca.pem")),
            );
        }
        (Some(c), _) => CertInfo::parse(c).ok(),
        _ => None,
    };
    let kept = match (&cert, &key) {
        (Some(c), Some(k)) => Some(archive(layout, c, k, now)?),
        _ => None,
    };
    let (ca, issued) = Ca::generate(now, &hostnet::hostname())?;
    write(&cert_path, &key_path, &issued)?;
    let info = CertInfo::parse(&issued.cert_pem)?;
    let outcome = match old {
        Some(o) => Outcome::new(
            Change::Replaced,
            format!(
                "replaced CA `pki/ca.pem`: `{}` (serial {}) -> `{}` (serial {}), expires {}{}",
                o.common_name.unwrap_or_default(),
                o.serial,
                info.common_name.unwrap_or_default(),
                info.serial,
                issued.not_after.date(),
                kept.map(|p| format!("; the old one is kept in `{}`", layout.rel(&p)))
                    .unwrap_or_default()
            ),
        ),
        None => Outcome::new(
            Change::Created,
            format!(
                "created CA `pki/ca.pem` ({}, expires {})",
                info.common_name.unwrap_or_default(),
                issued.not_after.date()
            ),
        ),
    };
    Ok((ca, outcome))
}

/// The next CA, when there is one that can take over: a CA whose key
/// matches, other than the current one.
pub fn load_next(layout: &Layout, current: &Ca) -> Result<Option<Ca>> {
    let Read { cert, key } = read(&layout.next_ca_cert(), &layout.next_ca_key())?;
    let (Some(c), Some(k)) = (cert, key) else {
        return Ok(None);
    };
    let Ok(next) = Ca::load(&c, &k) else {
        return Ok(None);
    };
    let same = CertInfo::parse(&c)?.subject == CertInfo::parse(&current.cert_pem)?.subject;
    Ok((!same).then_some(next))
}

/// Keeps the next CA (see [`load_next`]); otherwise — none yet, unusable,
/// or promoted by a rotation cut short — creates one. With `force` (a new
/// current CA), a new next one too.
pub fn ensure_next(
    layout: &Layout,
    current: &Ca,
    force: bool,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let (cert_path, key_path) = (layout.next_ca_cert(), layout.next_ca_key());
    if !force && let Some(next) = load_next(layout, current)? {
        cert_in_step(&cert_path, &next.cert_pem)?;
        return Ok(Outcome::new(
            Change::Kept,
            format!(
                "kept next CA `pki/next-ca.pem` ({}, expires {})",
                name_of(&next.cert_pem),
                next.not_after().date()
            ),
        ));
    }
    let (_, issued) = Ca::generate(now, &hostnet::hostname())?;
    write(&cert_path, &key_path, &issued)?;
    Ok(Outcome::new(
        Change::Created,
        format!(
            "created next CA `pki/next-ca.pem` ({}, expires {}), trusted from now on so `vaultnet renew --rotate-ca` can switch to it",
            name_of(&issued.cert_pem),
            issued.not_after.date()
        ),
    ))
}

/// What `pki/trust.pem` holds: the current CA, the next one, and the
/// previous one while a certificate it issued may still be valid; the
/// previous one is retired (its file removed, the state cleared) once that
/// time has passed.
pub fn ensure_trust(
    layout: &Layout,
    site: &Site,
    previous: &mut Option<PreviousCa>,
    now: OffsetDateTime,
) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let current = fsx::read_text(&layout.ca_cert(), MAX_PEM_BYTES)?
        .ok_or_else(|| Error::failed("`pki/ca.pem` is missing").hint("run `vaultnet init`"))?;
    let current_serial = CertInfo::parse(&current)?.serial;
    let mut pems = vec![pki::cert_only(&current)?];
    if let Some(next) = fsx::read_text(&layout.next_ca_cert(), MAX_PEM_BYTES)? {
        let next = pki::cert_only(&next)?;
        if !pems.contains(&next) {
            pems.push(next);
        }
    }
    let prev_file = fsx::read_text(&layout.previous_ca_cert(), MAX_PEM_BYTES)?;
    match (previous.clone(), prev_file) {
        // A rotation cut short before it switched: nothing to retire yet.
        (Some(p), _) if p.serial == current_serial => {}
        (Some(p), Some(pem)) if p.until > now => {
            let pem = pki::cert_only(&pem)?;
            if !pems.contains(&pem) {
                pems.push(pem);
            }
        }
        (Some(p), file) => {
            let name = file.as_deref().map(name_of).unwrap_or_default();
            fsx::remove_if_there(&layout.previous_ca_cert())?;
            *previous = None;
            out.push(Outcome::new(
                Change::Removed,
                format!(
                    "retired the previous CA `{name}`: the last certificate it issued expired {} (Vault stops trusting it when it next starts)",
                    super::tenant::show_time(p.until)
                ),
            ));
        }
        (None, Some(_)) => {
            fsx::remove_if_there(&layout.previous_ca_cert())?;
        }
        (None, None) => {}
    }
    let path = layout.trust();
    let change = fsx::write_if_changed(&path, pems.concat().as_bytes(), fsx::PUBLIC)?;
    out.extend(file_outcome(&layout.rel(&path), change));
    out.extend(write_clients(layout, site)?);
    Ok(out)
}

/// `pki/clients.pem`, the cluster nodes' client CA file once other sites
/// share the cluster: the CAs trusted now, then each other site's
/// (`pki/sites/NAME.pem`, in the state's order). Removed when no other
/// site is left.
pub fn write_clients(layout: &Layout, site: &Site) -> Result<Option<Outcome>> {
    let path = layout.clients();
    let sites = site.cluster.as_ref().map_or(&[][..], |c| &c.sites[..]);
    if sites.is_empty() {
        return Ok(fsx::remove_if_there(&path)?
            .then(|| Outcome::new(Change::Removed, format!("removed `{}`", layout.rel(&path)))));
    }
    let mut pem = trust_pem(layout)?;
    for s in sites {
        let file = layout.site_ca(&s.name);
        let t = fsx::read_text(&file, MAX_PEM_BYTES)?.ok_or_else(|| {
            Error::usage(format!("`{}` is missing", layout.rel(&file))).hint(format!(
                "trust site `{0}` again: `vaultnet sites add {0} FILE`",
                s.name
            ))
        })?;
        pem.push_str(&t);
    }
    let change = fsx::write_if_changed(&path, pem.as_bytes(), fsx::PUBLIC)?;
    Ok(file_outcome(&layout.rel(&path), change))
}

/// The CAs a server certificate of this site's Vault comes from: the CAs
/// trusted now, or on a site that joined another site's cluster, that
/// site's (`pki/cluster-ca.pem`): what vaultnet, HAProxy's checks and
/// every bundle's `ca.pem` verify Vault by.
pub fn server_trust_pem(layout: &Layout, site: &Site) -> Result<String> {
    if site.cluster.as_ref().is_some_and(|c| c.joined) {
        return fsx::read_text(&layout.cluster_ca(), MAX_PEM_BYTES)?.ok_or_else(|| {
            Error::usage(format!("`{}` is missing", layout.cluster_ca().display()))
                .hint("pass the cluster's CAs again with `vaultnet init --cluster-ca FILE`")
        });
    }
    trust_pem(layout)
}

/// The CAs trusted now, as PEM: `pki/trust.pem`, or for a site written
/// before it, `pki/ca.pem`.
pub fn trust_pem(layout: &Layout) -> Result<String> {
    if let Some(t) = fsx::read_text(&layout.trust(), MAX_PEM_BYTES)? {
        return Ok(t);
    }
    fsx::read_text(&layout.ca_cert(), MAX_PEM_BYTES)?.ok_or_else(|| {
        Error::usage(format!("`{}` is missing", layout.ca_cert().display()))
            .hint("run `vaultnet init` first")
    })
}

/// The current CA, able to issue, carrying the CAs trusted now.
pub fn load(layout: &Layout) -> Result<Ca> {
    let Read { cert, key } = read(&layout.ca_cert(), &layout.ca_key())?;
    match (cert, key) {
        (Some(c), Some(k)) => Ok(Ca::load(&c, &k)?.with_trust(trust_pem(layout)?)),
        _ => Err(Error::usage("the vaultnet CA is missing")
            .hint("restore `pki/` from a backup, or run `vaultnet init`")),
    }
}

/// Whether Vault's listener accepts a client certificate `next` issued:
/// a certificate made for this probe alone (never written anywhere) and
/// one request. `false` when the handshake is refused.
pub fn vault_trusts(layout: &Layout, site: &Site, next: &Ca, timeout: Duration) -> Result<bool> {
    let now = OffsetDateTime::now_utc();
    let probe = next.issue_client("vaultnet-probe", time::Duration::minutes(5), now)?;
    let id = Zeroizing::new(probe.identity_pem().as_bytes().to_vec());
    let client = crate::vault::Client::new(
        crate::vault::Target {
            url: site.vault_url(),
            resolve: None,
            timeout,
        },
        &server_trust_pem(layout, site)?,
        Some(&id),
        site.flavor.binary(),
    )?;
    Ok(client
        .raw(reqwest::Method::GET, "sys/health", None, None)
        .is_ok())
}

/// Switches to the next CA: the current one is kept under
/// `pki/replaced/` and stays trusted as the previous one until `until`
/// (when the last certificate it issued to a tenant expires); the next
/// becomes current and a new next one is made. The state is saved before
/// the switch, so a run cut short is completed by the next one. Every
/// certificate must be reissued afterwards (the one assessment sees them
/// issued by another CA).
pub fn rotate(
    layout: &Layout,
    opened: &mut crate::store::Opened,
    until: OffsetDateTime,
) -> Result<Vec<Outcome>> {
    let now = OffsetDateTime::now_utc();
    let current = load(layout)?;
    let next = load_next(layout, &current)?.ok_or_else(no_next)?;
    let Read { key, .. } = read(&layout.ca_cert(), &layout.ca_key())?;
    let key = key.ok_or_else(|| Error::failed("`pki/ca-key.pem` is missing"))?;
    let kept = archive(layout, &current.cert_pem, &key, now)?;
    fsx::write_atomic(
        &layout.previous_ca_cert(),
        current.cert_pem.as_bytes(),
        fsx::PUBLIC,
    )?;
    opened.state.previous_ca = Some(PreviousCa {
        serial: CertInfo::parse(&current.cert_pem)?.serial,
        until: until.max(now),
    });
    opened.save()?;
    let Read {
        key: next_key,
        cert: next_cert,
    } = read(&layout.next_ca_cert(), &layout.next_ca_key())?;
    let (next_key, next_cert) = next_key.zip(next_cert).ok_or_else(no_next)?;
    let mut identity = Zeroizing::new(next_key.to_string());
    if !pki::has_certificate(&next_key) {
        identity.push_str(&next_cert);
    }
    fsx::write_atomic(&layout.ca_key(), identity.as_bytes(), fsx::SECRET)?;
    fsx::write_atomic(&layout.ca_cert(), next_cert.as_bytes(), fsx::PUBLIC)?;
    let mut out = vec![Outcome::new(
        Change::Replaced,
        format!(
            "rotated the CA: `{}` -> `{}`; the old one is kept in `{}` and trusted until {}",
            name_of(&current.cert_pem),
            name_of(&next.cert_pem),
            layout.rel(&kept),
            super::tenant::show_time(until.max(now))
        ),
    )];
    let promoted = load(layout)?;
    out.push(ensure_next(layout, &promoted, false, now)?);
    out.extend(ensure_trust(
        layout,
        &opened.state.site,
        &mut opened.state.previous_ca,
        now,
    )?);
    Ok(out)
}

pub fn no_next() -> Error {
    Error::usage("this site has no next CA to rotate to").hint(
        "run `vaultnet init` to make one, restart Vault so it trusts it, then run `vaultnet renew --rotate-ca` again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("state"));
        fsx::private_dir(&layout.pki()).unwrap();
        (dir, layout)
    }

    fn certs_in(layout: &Layout) -> Vec<String> {
        std::fs::read_to_string(layout.trust())
            .unwrap()
            .split_inclusive("-----END CERTIFICATE-----\n")
            .map(|p| CertInfo::parse(p).unwrap().serial)
            .collect()
    }

    fn serial(pem: &str) -> String {
        CertInfo::parse(pem).unwrap().serial
    }

    #[test]
    fn the_trust_holds_current_and_next_and_the_previous_ca_until_its_time() {
        let (_d, layout) = site();
        let now = OffsetDateTime::now_utc();
        let (current, _) = ensure_current(&layout, false, now).unwrap();
        ensure_next(&layout, &current, false, now).unwrap();
        let next = load_next(&layout, &current).unwrap().unwrap();
        let (old, _) = Ca::generate(now, "h").unwrap();
        std::fs::write(layout.previous_ca_cert(), &old.cert_pem).unwrap();

        // No rotation on record: a stray previous CA is not trusted.
        let mut previous = None;
        ensure_trust(
            &layout,
            &crate::state::site::sample_site("l1"),
            &mut previous,
            now,
        )
        .unwrap();
        assert_eq!(
            certs_in(&layout),
            [serial(&current.cert_pem), serial(&next.cert_pem)]
        );
        assert!(!layout.previous_ca_cert().exists());

        // Trusted while its time lasts, retired after.
        std::fs::write(layout.previous_ca_cert(), &old.cert_pem).unwrap();
        let mut previous = Some(PreviousCa {
            serial: serial(&old.cert_pem),
            until: now + time::Duration::minutes(1),
        });
        assert!(
            ensure_trust(
                &layout,
                &crate::state::site::sample_site("l1"),
                &mut previous,
                now
            )
            .unwrap()[0]
                .changed()
        );
        assert_eq!(certs_in(&layout).len(), 3);
        assert!(previous.is_some());
        let later = now + time::Duration::minutes(2);
        let out = ensure_trust(
            &layout,
            &crate::state::site::sample_site("l1"),
            &mut previous,
            later,
        )
        .unwrap();
        assert!(
            out[0].text.starts_with("retired the previous CA `"),
            "{out:?}"
        );
        assert_eq!(previous, None);
        assert_eq!(certs_in(&layout).len(), 2);

        // A rotation cut short before the switch names the current CA as
        // the previous one: nothing is retired, nothing added twice.
        let mut previous = Some(PreviousCa {
            serial: serial(&current.cert_pem),
            until: now,
        });
        ensure_trust(
            &layout,
            &crate::state::site::sample_site("l1"),
            &mut previous,
            later,
        )
        .unwrap();
        assert!(previous.is_some());
        assert_eq!(certs_in(&layout).len(), 2);
    }

    #[test]
    fn a_next_ca_promoted_by_a_rotation_cut_short_is_replaced_by_a_new_one() {
        let (_d, layout) = site();
        let now = OffsetDateTime::now_utc();
        let (current, _) = ensure_current(&layout, false, now).unwrap();
        // The key files hold their certificate; the switch copied the next
        // CA over the current one and stopped there.
        std::fs::copy(layout.ca_key(), layout.next_ca_key()).unwrap();
        std::fs::copy(layout.ca_cert(), layout.next_ca_cert()).unwrap();
        assert!(load_next(&layout, &current).unwrap().is_none());
        let o = ensure_next(&layout, &current, false, now).unwrap();
        assert_eq!(o.change, Change::Created);
        let next = load_next(&layout, &current).unwrap().unwrap();
        assert_ne!(serial(&next.cert_pem), serial(&current.cert_pem));
        // A certificate file torn from its key file is put back from it.
        let key = std::fs::read_to_string(layout.ca_key()).unwrap();
        assert!(pki::has_certificate(&key));
        std::fs::write(layout.ca_cert(), &next.cert_pem).unwrap();
        let (again, o) = ensure_current(&layout, false, now).unwrap();
        assert_eq!(o.change, Change::Repaired, "{}", o.text);
        assert_eq!(serial(&again.cert_pem), serial(&current.cert_pem));
        assert_eq!(
            std::fs::read_to_string(layout.ca_cert()).unwrap(),
            current.cert_pem
        );
    }
}
