//! `init`'s work, as phases: the settings that changed, the PKI (CA,
//! server and operator certificates), Vault's listener stanza, the state,
//! the host files, and the Vault bootstrap (AppRole, KV v2). Safe to re-run:
//! what is right is kept, what is wrong is replaced and says why.

use std::path::Path;
use std::time::Duration;

use time::OffsetDateTime;

use super::{Change, Observer, Outcome, file_outcome};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::{self, Ca, CertInfo, Issued, Usage, Verdict, Wanted};
use crate::render::listener::{self, ListenerSpec};
use crate::secret::Secret;
use crate::state::validate::show_duration;
use crate::state::{STATE_FILE, Site, State};
use crate::sys::fsx::{self, MAX_PEM_BYTES};
use crate::topology::{HostFiles, Topology};
use crate::vault::Health;
use crate::vault::ops;

/// Everything one `init` run is asked to do.
pub struct SiteRun<'a> {
    pub layout: &'a Layout,
    /// The state before this run, read under the lock.
    pub previous: Option<State>,
    pub site: Site,
    /// Replace the CA and every certificate.
    pub force: bool,
    pub token: Option<Secret>,
    pub timeout: Duration,
}

/// What `init` did, for its summary.
pub struct SiteReport {
    pub outcomes: Vec<Outcome>,
    /// Things the operator should know (stale bundles, a new CA).
    pub notes: Vec<String>,
    /// What is left to do before tenants can be added.
    pub pending: Vec<String>,
    pub host: HostFiles,
}

impl SiteReport {
    pub fn changed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.changed()).count()
    }
    pub fn kept(&self) -> usize {
        self.outcomes.len() - self.changed()
    }
}

/// Settings that tenant bundles carry: changing one leaves them stale.
const IN_BUNDLES: &[&str] = &[
    "profile",
    "dns-name",
    "host-ip",
    "port",
    "agent-image",
    "flavor",
    "kv-mount",
    "tenant-prefix",
];

/// Runs every phase, telling `observe` each outcome as it happens. (Long:
/// it is the list of phases, in order; each is a call.)
pub fn converge(run: SiteRun<'_>, observe: Observer<'_>) -> Result<SiteReport> {
    let layout = run.layout;
    let now = OffsetDateTime::now_utc();
    let mut rec = Recorder {
        observe,
        outcomes: Vec::new(),
    };
    let mut notes = Vec::new();
    for d in [
        layout.pki(),
        layout.vault(),
        layout.operator(),
        layout.forwarder(),
        layout.renew(),
        layout.tenants(),
    ] {
        fsx::private_dir(&d)?;
    }
    if let Some(prev) = &run.previous {
        let diff = site_diff(&prev.site, &run.site);
        for (what, old, new) in &diff {
            let text = format!("setting {what}: {old} -> {new}");
            rec.emit(Outcome::new(Change::Repaired, text));
        }
        if !prev.tenants.is_empty() && diff.iter().any(|(w, _, _)| IN_BUNDLES.contains(w)) {
            let names: Vec<&str> = prev.tenants.keys().map(String::as_str).collect();
            notes.push(format!(
                "tenant bundles still hold the old settings: run `vaultnet add-user {}` to rewrite them",
                names.join(" ")
            ));
        }
    }
    let mut previous_ca = run.previous.as_ref().and_then(|p| p.previous_ca.clone());
    let ca_replaced = pki_phase(
        layout,
        &run.site,
        run.force,
        now,
        &mut previous_ca,
        &mut rec,
    )?;
    if let Some(o) = write_listener(layout, &run.site)? {
        rec.emit(o);
    }

    let previous_kv_mount = run.previous.as_ref().map(|p| p.site.kv_mount.clone());
    let mut state = run.previous.unwrap_or_else(|| State::new(run.site.clone()));
    state.site = run.site.clone();
    state.previous_ca = previous_ca;
    if crate::store::save(&layout.root, &state)? != fsx::Change::Unchanged {
        rec.emit(Outcome::new(
            Change::Created,
            format!("wrote `{STATE_FILE}`"),
        ));
    }
    // The gate exists from the start: even with no tenant yet it keeps
    // Vault's loopback port and the forwarder port from strangers.
    let (host, written) = super::host::write(layout, &state)?;
    for (_, o) in super::host::outcomes(layout, &written) {
        rec.emit(o);
    }
    for o in schedule(layout)? {
        rec.emit(o);
    }
    if ca_replaced && !state.tenants.is_empty() {
        notes.push(format!(
            "the new CA does not know the certificates of {} tenant(s): re-add them with `vaultnet add-user --rotate NAME`",
            state.tenants.len()
        ));
    }

    let pending = match bootstrap(
        layout,
        &run.site,
        run.token,
        run.timeout,
        &mut rec,
        &mut notes,
    ) {
        Ok(p) => p,
        Err(e) => {
            // A mount Vault refused must not stick: the next plain `init`
            // goes back to the one that worked.
            if let Some(old) = previous_kv_mount.filter(|m| *m != run.site.kv_mount) {
                state.site.kv_mount = old;
                crate::store::save(&layout.root, &state)?;
            }
            return Err(e);
        }
    };
    Ok(SiteReport {
        outcomes: rec.outcomes,
        notes,
        pending,
        host,
    })
}

/// The PKI: the CA and the next one, then the server and operator
/// certificates (reissued when the CA is new or `--force`), then the CAs
/// trusted now. Returns whether the CA is new.
fn pki_phase(
    layout: &Layout,
    site: &Site,
    force: bool,
    now: OffsetDateTime,
    previous_ca: &mut Option<crate::state::PreviousCa>,
    rec: &mut Recorder<'_>,
) -> Result<bool> {
    let (ca, ca_outcome) = super::ca::ensure_current(layout, force, now)?;
    // (A repaired `pki/ca.pem` is the same CA: nothing to reissue.)
    let ca_replaced = matches!(ca_outcome.change, Change::Created | Change::Replaced);
    let reissue = force || ca_replaced;
    rec.emit(ca_outcome);
    rec.emit(super::ca::ensure_next(layout, &ca, ca_replaced, now)?);
    for o in leaves(layout, &ca, site, reissue, now)? {
        rec.emit(o);
    }
    // A new CA starts over: the CA it replaced is trusted no more.
    if ca_replaced {
        *previous_ca = None;
    }
    for o in super::ca::ensure_trust(layout, previous_ca, now)? {
        rec.emit(o);
    }
    Ok(ca_replaced)
}

/// The server and operator certificates: each kept while the one
/// assessment keeps it (unless `reissue`), else issued anew. The server's
/// outcome comes first.
pub fn leaves(
    layout: &Layout,
    ca: &Ca,
    site: &Site,
    reissue: bool,
    now: OffsetDateTime,
) -> Result<[Outcome; 2]> {
    let topology = Topology::new(site)?;
    let (dns, ips) = topology.server_sans();
    let server = Leaf {
        what: "Vault server certificate",
        cert: layout.server_cert(),
        key: layout.server_key(),
        want: Wanted {
            usage: Usage::Server,
            common_name: None,
            dns: Some(&dns),
            ips: Some(&ips),
        },
    };
    let s = ensure_leaf(layout, ca, &server, reissue, now, || {
        ca.issue_server(&dns, &ips, secs(site.server_cert_ttl), now)
    })?;
    let operator = Leaf {
        what: "operator certificate",
        cert: layout.operator_cert(),
        key: layout.operator_key(),
        want: Wanted {
            usage: Usage::Client,
            common_name: Some(OPERATOR_CN),
            dns: None,
            ips: None,
        },
    };
    let o = ensure_leaf(layout, ca, &operator, reissue, now, || {
        ca.issue_client(OPERATOR_CN, OPERATOR_LIFETIME, now)
    })?;
    Ok([s, o])
}

/// Tells the observer each outcome and keeps it for the report.
struct Recorder<'f> {
    observe: Observer<'f>,
    outcomes: Vec<Outcome>,
}

impl Recorder<'_> {
    fn emit(&mut self, o: Outcome) {
        (self.observe)(&o);
        self.outcomes.push(o);
    }
}

pub const OPERATOR_CN: &str = "vaultnet-operator";
const OPERATOR_LIFETIME: time::Duration = time::Duration::days(365);

/// Seconds as a certificate lifetime (validated lifetimes fit).
pub fn secs(s: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
}

fn site_diff(old: &Site, new: &Site) -> Vec<(&'static str, String, String)> {
    let reload = |s: &Site| {
        s.vault_reload
            .as_ref()
            .map_or("(none)".into(), ToString::to_string)
    };
    let pairs: [(&'static str, String, String); 14] = [
        ("auth", old.auth.to_string(), new.auth.to_string()),
        ("profile", old.profile.clone(), new.profile.clone()),
        ("dns-name", old.dns_name.clone(), new.dns_name.clone()),
        ("host-ip", old.host_ip.to_string(), new.host_ip.to_string()),
        ("port", old.port.to_string(), new.port.to_string()),
        (
            "vault-addr",
            old.vault_addr.to_string(),
            new.vault_addr.to_string(),
        ),
        (
            "forwarder",
            old.forwarder.to_string(),
            new.forwarder.to_string(),
        ),
        ("flavor", old.flavor.to_string(), new.flavor.to_string()),
        (
            "agent-image",
            old.agent_image.clone(),
            new.agent_image.clone(),
        ),
        ("kv-mount", old.kv_mount.clone(), new.kv_mount.clone()),
        (
            "tenant-prefix",
            old.tenant_prefix.clone(),
            new.tenant_prefix.clone(),
        ),
        (
            "server-cert-ttl",
            show_duration(old.server_cert_ttl),
            show_duration(new.server_cert_ttl),
        ),
        ("vault-reload", reload(old), reload(new)),
        (
            "vault-clients",
            show_list(&old.vault_clients),
            show_list(&new.vault_clients),
        ),
    ];
    pairs.into_iter().filter(|(_, a, b)| a != b).collect()
}

fn show_list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn read_pem(path: &Path) -> Result<Option<String>> {
    fsx::read_limited(path, MAX_PEM_BYTES)?
        .map(|b| {
            String::from_utf8(b)
                .map_err(|_| Error::failed(format!("`{}` is not PEM text", path.display())))
        })
        .transpose()
}

fn read_key(path: &Path) -> Result<Option<zeroize::Zeroizing<String>>> {
    Ok(fsx::read_secret(path, MAX_PEM_BYTES)?
        .map(|b| zeroize::Zeroizing::new(String::from_utf8_lossy(&b).into_owned())))
}

/// Writes the key with its certificate as one file, then the certificate
/// alone beside it (for people and tools that want only the certificate),
/// each atomically: a reader of the key file never sees a torn pair.
pub(crate) fn write_pair(cert: &Path, key: &Path, issued: &Issued) -> Result<()> {
    fsx::write_atomic(key, issued.identity_pem().as_bytes(), fsx::SECRET)?;
    fsx::write_atomic(cert, issued.cert_pem.as_bytes(), fsx::PUBLIC)
}

/// A leaf certificate of the site and what it must be.
struct Leaf<'a> {
    what: &'static str,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    want: Wanted<'a>,
}

/// Keeps a leaf the one assessment ([`pki::assess`]) keeps; otherwise
/// issues a new one and says why. The key file holds the key and its
/// certificate ([`Issued::identity_pem`]); a key file written before that
/// gets its certificate joined to it.
fn ensure_leaf(
    layout: &Layout,
    ca: &Ca,
    leaf: &Leaf<'_>,
    reissue: bool,
    now: OffsetDateTime,
    issue: impl FnOnce() -> Result<Issued>,
) -> Result<Outcome> {
    let rel = layout.rel(&leaf.cert).into_owned();
    let what = leaf.what;
    let (cert, key) = (read_pem(&leaf.cert)?, read_key(&leaf.key)?);
    let joined = key.as_deref().is_some_and(|k| pki::has_certificate(k));
    let cert = match (&key, joined) {
        (Some(k), true) => Some(k.to_string()),
        _ => cert,
    };
    let reason = match (cert, key) {
        (Some(_), Some(_)) if reissue => Some("`--force` or a new CA".to_string()),
        (Some(c), Some(k)) => {
            let ca_info = CertInfo::parse(&ca.cert_pem)?;
            match pki::assess(&c, &k, &ca_info, now, &leaf.want) {
                (Verdict::Keep, Some(info)) => {
                    let text = format!(
                        "kept {what} `{rel}` (expires {})",
                        pki::when(info.not_after, now)
                    );
                    if !joined {
                        let mut id = zeroize::Zeroizing::new(k.to_string());
                        id.push_str(&c);
                        fsx::write_atomic(&leaf.key, id.as_bytes(), fsx::SECRET)?;
                        let text = format!(
                            "joined {what} `{rel}` to its key in `{}`, so the pair is read as one",
                            layout.rel(&leaf.key)
                        );
                        return Ok(Outcome::new(Change::Repaired, text));
                    }
                    fsx::write_if_changed(&leaf.cert, pki::cert_only(&c)?.as_bytes(), fsx::PUBLIC)?;
                    return Ok(Outcome::new(Change::Kept, text));
                }
                (Verdict::Keep, None) => None,
                (Verdict::Renew(why) | Verdict::Replace(why), _) => Some(why),
            }
        }
        (None, None) => None,
        _ => Some("its certificate or key is missing".to_string()),
    };
    let issued = issue()?;
    write_pair(&leaf.cert, &leaf.key, &issued)?;
    Ok(match reason {
        None => Outcome::new(
            Change::Created,
            format!(
                "created {what} `{rel}` (expires {})",
                pki::when(issued.not_after, now)
            ),
        ),
        Some(why) => Outcome::new(
            Change::Replaced,
            format!(
                "replaced {what} `{rel}` because {why} (new serial {}, expires {})",
                issued.serial,
                pki::when(issued.not_after, now)
            ),
        ),
    })
}

/// The daily `vaultnet renew` timer and its service, naming this binary
/// and this state directory.
fn schedule(layout: &Layout) -> Result<Vec<Outcome>> {
    use crate::render::schedule;
    let binary = std::env::current_exe()
        .map_err(|e| Error::failed(format!("cannot tell where vaultnet runs from: {e}")))?;
    let dir = layout.renew();
    let mut out = Vec::new();
    for (name, text) in [
        (schedule::SERVICE, schedule::service(&binary, &layout.root)),
        (schedule::TIMER, schedule::timer()),
    ] {
        let path = dir.join(name);
        let change = fsx::write_if_changed(&path, text.as_bytes(), fsx::PUBLIC)?;
        out.extend(file_outcome(&layout.rel(&path), change));
    }
    Ok(out)
}

fn write_listener(layout: &Layout, site: &Site) -> Result<Option<Outcome>> {
    let text = listener::render(&ListenerSpec {
        address: site.vault_addr,
        // The key file holds the certificate too: Vault reloads the pair on
        // SIGHUP from one file, never a torn one.
        cert_file: &layout.server_key(),
        key_file: &layout.server_key(),
        // Every CA trusted now, the next one included: Vault reads this
        // file only when it starts.
        client_ca_file: &layout.trust(),
    });
    let path = layout.listener();
    let change = fsx::write_if_changed(&path, text.as_bytes(), fsx::PUBLIC)?;
    Ok(file_outcome(&layout.rel(&path), change))
}

/// Enables AppRole and KV v2 when Vault answers; returns what is left to do.
fn bootstrap(
    layout: &Layout,
    site: &Site,
    token: Option<Secret>,
    timeout: Duration,
    rec: &mut Recorder<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<String>> {
    let cli = site.flavor.binary();
    let name = site.flavor.display_name();
    let prefix = site.flavor.env_prefix();
    let start = format!(
        "start {name} with the listener as an extra config: `{cli} server -config <your config> -config {}`",
        layout.listener().display()
    );
    let rerun = format!(
        "then run `vaultnet init` again with an operator token (`{prefix}_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2"
    );
    let client = ops::operator_client(layout, site, None, timeout)?;
    let health = match client.health() {
        Ok((h, _)) => h,
        Err(e) => {
            notes.push(format!(
                "{name} at {} is not reachable: {}",
                site.vault_url(),
                e.message()
            ));
            return Ok(vec![start, rerun]);
        }
    };
    let unseal = format!("unseal it: `{cli} operator unseal`");
    match health {
        Health::Active => {}
        Health::NotInitialized => {
            return Ok(vec![
                format!("initialise {name}: `{cli} operator init`"),
                unseal,
                rerun,
            ]);
        }
        Health::Sealed => return Ok(vec![unseal, rerun]),
        Health::Standby | Health::PerfStandby => {
            return Err(
                Error::failed(format!("{name} at {} is a standby node", site.vault_url()))
                    .hint("point `--vault-addr` at the active node"),
            );
        }
        other => {
            return Err(Error::failed(format!(
                "{name} at {} is not ready: {other:?}",
                site.vault_url()
            ))
            .hint("run `vaultnet doctor`"));
        }
    }
    let Some(token) = token else {
        return Ok(vec![rerun.replacen("then run", "run", 1)]);
    };
    let client = client.with_token(token);
    rec.emit(ops::ensure_approle(&client)?);
    rec.emit(ops::ensure_kv2(&client, &site.kv_mount)?);
    Ok(Vec::new())
}
