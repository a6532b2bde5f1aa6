//! `add-user`'s work for one tenant, as phases: its Vault objects (policy,
//! role, role_id), its client certificate, its secret_id (and the orphans
//! of earlier runs), its bundle, and its installed copy. What is valid is
//! kept, what drifted is repaired, and each phase says which (SECURITY.md
//! V1–V3, S1, S2, S4).
//!
//! The state learns of the tenant before its first secret file exists and
//! again at the end, so a run that fails in between leaves a tenant that
//! `remove-user` and a re-run both know about (S2).

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::{Change, Observer, Outcome};
use crate::error::{Error, Result};
use crate::layout::{self, Layout};
use crate::pki::{self, Ca, CertInfo, Usage, Verdict, Wanted};
use crate::render::bundle::{self, BundleSpec};
use crate::secret::Secret;
use crate::state::{Auth, Limits, Retiring, Site, State, Tenant, TenantNetwork};
use crate::store::{Opened, Shared};
use crate::sys::fsx::{self, HomeFile, MAX_PEM_BYTES, MAX_TOKEN_BYTES};
use crate::sys::users::UnixUser;
use crate::topology::Topology;
use crate::vault::Client;
use crate::vault::ops::{self, SecretIdInfo};

/// Everything decided about one tenant before the first change.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// Its role's name in Vault: the recorded one, else `vaultnet-NAME`.
    pub role: String,
    /// Take over a policy or role of its names that vaultnet did not
    /// create (`--adopt`).
    pub adopt: bool,
    pub user: Option<UnixUser>,
    pub limits: Limits,
    /// Seconds.
    pub cert_ttl: u64,
    /// `Some(seconds)`: deliver the secret_id response-wrapped.
    pub wrap_ttl: Option<u64>,
    /// Replace a valid certificate and secret_id too.
    pub rotate: bool,
    /// `Some(path)` (relative to the tenant's home): install the bundle there.
    pub install: Option<PathBuf>,
    pub auth: Auth,
    /// What the bundle maps the Vault name to, and why (`add-user` asks the
    /// tenant's Podman); `None`: as recorded, else the profile's.
    pub network: Option<TenantNetwork>,
    /// A loaded gate may be told at once of the tenant's uid, where the
    /// tenant must pass it during this run (`vaultnet unwrap`).
    pub gate_reload: bool,
    /// A tenant new to vaultnet whose names Vault was seen not to have at
    /// the start of the run ([`check_names_free`]): its policy and role are
    /// written without reading them first, and no other secret_id of it
    /// can exist to look for.
    pub fresh: bool,
    /// What the run saw of its policy at the start ([`see_policies`]).
    pub policy: ops::Seen,
    /// Its own port, where the profile gives each tenant one
    /// ([`assign_ports`]).
    pub port: Option<u16>,
}

/// What the operator asked for, parsed: `None` where a flag was not given
/// (the tenant's recorded value, else the default, applies).
#[derive(Debug, Default)]
pub struct Asked {
    pub token_ttl: Option<u64>,
    pub token_max_ttl: Option<u64>,
    pub token_num_uses: Option<u64>,
    pub secret_id_ttl: Option<u64>,
    pub secret_id_num_uses: Option<u64>,
    /// `Some(0)`: plain.
    pub wrap_ttl: Option<u64>,
    pub cert_ttl: Option<u64>,
    /// The tenant must be an existing Unix user (not `--no-unix-user`).
    pub unix_user: bool,
    pub rotate: bool,
    pub install: Option<PathBuf>,
    pub auth: Option<Auth>,
    pub adopt: bool,
    /// See [`Plan::gate_reload`].
    pub gate_reload: bool,
}

pub const DEFAULT_CERT_TTL: u64 = 90 * 86400;
/// A wrapped secret_id re-issued without `--wrap-ttl` keeps being wrapped,
/// for this long.
const DEFAULT_WRAP_TTL: u64 = 300;

/// The plan for tenant `name`: what was asked, else what was recorded for
/// it, else the defaults (`site_auth`: the site's way to log in); its Unix
/// user looked up and its limits checked.
pub fn plan(name: &str, asked: &Asked, prev: Option<&Tenant>, site: &Site) -> Result<Plan> {
    let site_auth = site.auth;
    let user = match asked.unix_user {
        true => Some(crate::sys::users::require_tenant_user(name)?),
        false => None,
    };
    let installs = asked.install.is_some() || prev.is_some_and(|p| p.installed_to.is_some());
    if let (true, Some(u)) = (installs, &user) {
        crate::state::validate::home_dir(name, &u.home)?;
    }
    let base = prev.map(|t| t.limits).unwrap_or_default();
    let limits = Limits {
        token_ttl: asked.token_ttl.unwrap_or(base.token_ttl),
        token_max_ttl: asked.token_max_ttl.unwrap_or(base.token_max_ttl),
        token_num_uses: asked.token_num_uses.unwrap_or(base.token_num_uses),
        secret_id_ttl: asked.secret_id_ttl.unwrap_or(base.secret_id_ttl),
        secret_id_num_uses: asked.secret_id_num_uses.unwrap_or(base.secret_id_num_uses),
    };
    limits.validate()?;
    let auth = asked.auth.or(prev.map(|p| p.auth)).unwrap_or(site_auth);
    let wrap_ttl = match (asked.wrap_ttl, auth) {
        (Some(t), Auth::Cert) if t > 0 => {
            return Err(
                Error::usage("`--wrap-ttl` wraps a secret_id, and cert auth has none")
                    .hint("drop `--wrap-ttl`, or pass `--auth approle`"),
            );
        }
        (_, Auth::Cert) | (Some(0), _) => None,
        (Some(t), _) => Some(t),
        (None, _) => prev.and_then(|p| p.wrapped_secret_id.then_some(DEFAULT_WRAP_TTL)),
    };
    Ok(Plan {
        name: name.to_string(),
        role: prev.map_or_else(|| crate::policy::role_name(site, name), |p| p.role.clone()),
        adopt: asked.adopt,
        user,
        limits,
        cert_ttl: asked
            .cert_ttl
            .or(prev.map(|p| p.cert_ttl))
            .unwrap_or(DEFAULT_CERT_TTL),
        wrap_ttl,
        rotate: asked.rotate,
        install: asked.install.clone(),
        auth,
        network: None,
        gate_reload: asked.gate_reload,
        fresh: false,
        policy: ops::Seen::Ask,
        port: None,
    })
}

/// Each plan's policy as Vault has it, from one listing of every policy's
/// text, where more than one plan would otherwise read its own
/// ([`ops::PolicyTexts`]; where Vault has no such listing, each is read
/// when its tenant's turn comes). A fresh plan's policy is absent
/// already. Before the first change, like the other observations of the
/// run.
pub fn see_policies(c: &Client, site: &Site, plans: &mut [Plan]) -> Result<()> {
    let known = plans.iter().filter(|p| !p.fresh).map(|p| p.name.as_str());
    let Some(texts) = ops::PolicyTexts::for_tenants(c, site, known)? else {
        return Ok(());
    };
    for plan in plans.iter_mut().filter(|p| !p.fresh) {
        plan.policy = texts.seen_for(site, &plan.name);
    }
    Ok(())
}

/// Each plan's own port, where the profile gives each tenant one: the
/// recorded one, else the lowest free one — neither another tenant's, nor
/// reserved, nor one an earlier plan of the run takes. Given in plan
/// order before the first change, so which tenant gets which port does
/// not depend on which finishes first.
pub fn assign_ports(state: &State, plans: &mut [Plan], now: OffsetDateTime) -> Result<()> {
    let topology = Topology::new(&state.site)?;
    let mut taken = Vec::new();
    for plan in plans {
        plan.port = topology.tenant_port(state, &plan.name, now, &taken)?;
        taken.extend(plan.port);
    }
    Ok(())
}

/// What happened to one tenant; its JSON form is `add-user --output
/// json` (stable field names).
#[derive(Debug, Serialize)]
pub struct TenantReport {
    pub name: String,
    pub uid: Option<u32>,
    pub bundle: PathBuf,
    pub installed_to: Option<PathBuf>,
    pub cert_serial: String,
    #[serde(with = "crate::state::rfc3339")]
    pub cert_not_after: OffsetDateTime,
    #[serde(with = "crate::state::rfc3339::option")]
    pub secret_id_expires: Option<OffsetDateTime>,
    pub wrapped_secret_id: bool,
    pub auth: Auth,
    /// What its bundle maps the Vault name to, and why.
    pub network: Option<TenantNetwork>,
    /// Its own port, where the profile gives each tenant one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// This run gave it that port.
    #[serde(skip)]
    pub new_port: bool,
    /// vaultnet did not know the tenant before this run.
    #[serde(skip)]
    pub added: bool,
    /// What changed, in the order it happened (as text in JSON).
    #[serde(serialize_with = "texts")]
    pub changes: Vec<Outcome>,
}

fn texts<S: serde::Serializer>(changes: &[Outcome], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(changes.iter().map(|c| c.text.as_str()))
}

pub fn load_ca(layout: &Layout) -> Result<Ca> {
    super::ca::load(layout)
}

/// Provisions one tenant, telling `observe` of each change as it happens.
/// (Long: it is the list of phases, in order, with the two saves of the
/// state between them; each phase is a function below.)
pub fn provision(
    c: &Client,
    ca: &Ca,
    shared: &Shared<'_>,
    plan: &Plan,
    observe: Observer<'_>,
) -> Result<TenantReport> {
    let name = plan.name.as_str();
    let (layout, site, prev, pending) = shared.with(|o| {
        (
            o.layout.clone(),
            o.state.site.clone(),
            o.state.tenants.get(name).cloned(),
            o.state.pending.contains(name),
        )
    });
    let now = OffsetDateTime::now_utc();
    let dir = layout.tenant(name);
    let mut changes = Vec::new();
    let mut step = |o: Outcome| {
        if o.changed() {
            observe(&o);
            changes.push(o);
        }
    };

    // A tenant vaultnet does not know yet (its caller checked that its
    // names are free in Vault, [`check_names_free`]): from the first write
    // on, what this run makes is marked as vaultnet's own (V7).
    if prev.is_none() && !pending {
        shared.with(|o| {
            o.state.pending.insert(name.to_string());
            o.record(name)
        })?;
    }
    let seen = match plan.fresh {
        true => &ops::Seen::Absent,
        false => &plan.policy,
    };
    let policy = ops::ensure_policy(c, &site, name, seen)?;
    step(policy);
    // The way in the plan, and no other: a tenant moved between AppRole
    // and cert auth loses the one the state says it had (asked only then:
    // nothing else is vaultnet's to remove).
    let moved = prev.as_ref().is_some_and(|p| p.auth != plan.auth);
    // A run that did not choose the mapping (renew) keeps the recorded one.
    let recorded;
    let plan = match (&plan.network, prev.as_ref().and_then(|p| p.network.clone())) {
        (None, Some(n)) => {
            recorded = Plan {
                network: Some(n),
                ..plan.clone()
            };
            &recorded
        }
        _ => plan,
    };
    let network = plan.network.clone();
    // Its own port, where the profile gives each tenant one
    // ([`assign_ports`]).
    let port = plan.port;
    let role_id = match plan.auth {
        Auth::Approle => {
            step(ops::ensure_role(
                c,
                &site,
                name,
                &plan.role,
                &plan.limits,
                plan.fresh,
            )?);
            if moved {
                ops::delete_cert_role(c, &plan.role)?
                    .into_iter()
                    .for_each(&mut step);
            }
            Some(ops::role_id(c, &plan.role)?)
        }
        Auth::Cert => {
            step(ops::ensure_cert_auth(c)?);
            step(ops::ensure_cert_role(
                c,
                &site,
                name,
                &plan.role,
                &plan.limits,
                &ca.trust_pem,
            )?);
            if moved {
                ops::delete_approle(c, &plan.role)?
                    .into_iter()
                    .for_each(&mut step);
            }
            None
        }
    };
    let added = prev.is_none();
    // Only now: a run Vault refuses before this point leaves no directory.
    fsx::private_dir(&dir)?;

    let (cert, o) = certificate(ca, &dir, plan, now)?;
    let cert_new = o.as_ref().is_some_and(|o| o.change != Change::Repaired);
    o.into_iter().for_each(&mut step);
    let approle = plan.auth == Auth::Approle;
    let same_auth = prev.as_ref().is_some_and(|p| p.auth == plan.auth);
    let record = |sid: Option<&SecretIdInfo>, installed_to: Option<PathBuf>| Tenant {
        uid: plan.user.as_ref().map(|u| u.uid),
        role: plan.role.clone(),
        auth: plan.auth,
        cert_ttl: plan.cert_ttl,
        cert_serial: cert.serial.clone(),
        cert_not_after: cert.not_after,
        limits: plan.limits,
        wrapped_secret_id: plan.wrap_ttl.is_some(),
        secret_id_accessor: sid.map(|s| s.accessor.clone()).or_else(|| {
            prev.as_ref()
                .filter(|_| approle && same_auth)
                .and_then(|p| p.secret_id_accessor.clone())
        }),
        secret_id_expires: sid.map(|s| s.expires).unwrap_or_else(|| {
            prev.as_ref()
                .filter(|_| approle && same_auth)
                .and_then(|p| p.secret_id_expires)
        }),
        secret_id_sha256: prev
            .as_ref()
            .filter(|_| approle && same_auth)
            .and_then(|p| p.secret_id_sha256.clone()),
        installed_to,
        retiring: prev
            .as_ref()
            .filter(|_| approle)
            .map(|p| p.retiring.clone())
            .unwrap_or_default(),
        network: network.clone(),
        port,
        last_cert_expiry: port.map(|_| {
            prev.as_ref()
                .and_then(|p| p.last_cert_expiry.or(p.port.map(|_| p.cert_not_after)))
                .map_or(cert.not_after, |t| t.max(cert.not_after))
        }),
    };
    let prev_installed = prev.as_ref().and_then(|p| p.installed_to.clone());
    if prev.as_ref().is_none_or(|p| p.cert_serial != cert.serial) {
        let r = record(None, prev_installed.clone());
        shared.with(|o| {
            o.state.tenants.insert(name.to_string(), r);
            o.state.pending.remove(name);
            // A tenant added again takes back its own reserved port.
            o.state.reserved_ports.retain(|r| Some(r.port) != port);
            o.record(name)
        })?;
    }

    let sid = match approle {
        true => Some(approle_secret_id(
            c,
            shared,
            &dir,
            plan,
            prev.as_ref(),
            now,
            &mut step,
        )?),
        false => {
            for f in [layout::ROLE_ID, layout::SECRET_ID] {
                fsx::remove_if_there(&dir.join(f))?;
            }
            None
        }
    };
    let (retiring, sid_sha256) = shared.with(|o| {
        let t = &o.state.tenants[name];
        (t.retiring.clone(), t.secret_id_sha256.clone())
    });
    let record = |sid: Option<&SecretIdInfo>, installed_to: Option<PathBuf>| Tenant {
        retiring: retiring.clone(),
        secret_id_sha256: sid_sha256.clone(),
        ..record(sid, installed_to)
    };

    let installed_at = plan
        .install
        .as_ref()
        .and_then(|rel| plan.user.as_ref().map(|u| u.home.join(rel)))
        .or_else(|| prev_installed.clone());
    // What the agent verifies Vault by.
    let server_ca = super::ca::server_trust_pem(&layout, &site)?;
    for o in bundle_files(
        &layout,
        &site,
        &server_ca,
        plan,
        port,
        role_id.as_deref(),
        ClientCert {
            info: &cert,
            new: cert_new,
        },
        installed_at.as_deref(),
    )? {
        step(o);
    }
    // A wrapped secret_id is unwrapped once, as the tenant, into its copy:
    // the agent then reads a plain secret_id at every login and restart.
    // The copy gets the wrapping token only when it must be unwrapped
    // (new, or the copy has no plain one); else its plain one stays.
    let unwrap = match (&installed_at, &plan.user, &sid) {
        (Some(at), Some(user), Some(sid)) if plan.wrap_ttl.is_some() => {
            let new_sid =
                prev.as_ref().and_then(|p| p.secret_id_accessor.as_ref()) != Some(&sid.accessor);
            new_sid || !installed_secret_id_is_plain(user, at)?
        }
        _ => false,
    };
    let keep_copy_sid = plan.wrap_ttl.is_some() && !unwrap;
    let (installed_to, o) = install(&layout, plan, prev_installed, keep_copy_sid)?;
    o.into_iter().for_each(&mut step);
    if let (true, Some(to), Some(user)) = (unwrap, &installed_to, &plan.user) {
        let topology = Topology::new(&site)?;
        // A new tenant's uid is not in the loaded gate yet: the unwrap goes
        // through the gate the tenant's containers meet.
        if let Some(live) = topology.live_gate()
            && plan.gate_reload
            && live.loaded() == crate::topology::gate::Loaded::Yes
        {
            live.admit(
                user.uid,
                &layout.forwarder().join(crate::topology::gate::FILE),
            )?;
        }
        unwrap_as_tenant(name, user, to, topology.endpoint_mapped(port, None).connect)?;
        step(Outcome::new(
            Change::Created,
            format!(
                "unwrapped the secret_id into `{}` as {name}",
                to.join(layout::SECRET_ID).display()
            ),
        ));
    }

    let r = record(sid.as_ref(), installed_to.clone());
    shared.with(|o| {
        o.state.tenants.insert(name.to_string(), r);
        o.state.pending.remove(name);
        o.record(name)
    })?;
    Ok(TenantReport {
        name: name.to_string(),
        uid: plan.user.as_ref().map(|u| u.uid),
        bundle: dir,
        installed_to,
        cert_serial: cert.serial.clone(),
        cert_not_after: cert.not_after,
        secret_id_expires: sid.and_then(|s| s.expires),
        wrapped_secret_id: plan.wrap_ttl.is_some(),
        auth: plan.auth,
        network,
        port,
        new_port: port.is_some() && prev.as_ref().and_then(|p| p.port) != port,
        added,
        changes,
    })
}

/// Refuses a new tenant whose policy or role names Vault already has,
/// unless the plan adopts them: vaultnet did not make them (SECURITY.md
/// V7). Nothing is changed.
/// `names`: what Vault had at the start of the run. A plan whose names are
/// all free is marked fresh.
pub fn check_names_free(names: &ops::VaultNames, site: &Site, plan: &mut Plan) -> Result<()> {
    let found = names.objects_of(site, &plan.name, &plan.role);
    plan.fresh = found.is_empty();
    if found.is_empty() || plan.adopt {
        return Ok(());
    }
    let name = &plan.name;
    Err(Error::usage(format!(
        "Vault already has {}, which vaultnet did not make",
        found.join(" and ")
    ))
    .hint(format!(
        "choose another name, or take them over with `vaultnet add-user {name} --adopt` (their secret_ids are destroyed)"
    )))
}

/// AppRole's secret_id phase: the secret_id kept or renewed (a replaced one
/// that still works retires with overlap), recorded, and the orphans of
/// earlier runs destroyed.
fn approle_secret_id(
    c: &Client,
    shared: &Shared<'_>,
    dir: &Path,
    plan: &Plan,
    prev: Option<&Tenant>,
    now: OffsetDateTime,
    step: &mut dyn FnMut(Outcome),
) -> Result<SecretIdInfo> {
    let name = plan.name.as_str();
    let was_wrapped = prev.is_some_and(|p| p.wrapped_secret_id);
    // The role's secret_ids as Vault lists them, once for the phase: what
    // shows the recorded one is still there, and finds the others. A
    // fresh role has none.
    let listed = match plan.fresh {
        true => Vec::new(),
        false => ops::list_secret_id_accessors(c, &plan.role)?,
    };
    let new = secret_id(c, dir, plan, prev, &listed, now)?;
    let sid = new.info;
    let mut outcome = new.outcome;
    // A replaced secret_id that still works stays until every running
    // agent has logged in again (it does at its token's max TTL) and reads
    // the new one; then the first run after that destroys it. `--rotate`
    // means the old one must stop working now.
    let mut retiring: Vec<Retiring> = prev.map(|p| p.retiring.clone()).unwrap_or_default();
    retiring.retain(|r| r.until > now && r.accessor != sid.accessor && !plan.rotate);
    if let (Some(acc), false) = (new.superseded, plan.rotate) {
        let until = now + super::site::secs(plan.limits.token_max_ttl);
        if let Some(o) = outcome.as_mut() {
            o.text.push_str(&format!(
                "; the previous one works until {} so running agents log in with the new one first",
                show_time(until)
            ));
        }
        retiring.push(Retiring {
            accessor: acc,
            until,
        });
    }
    outcome.into_iter().for_each(&mut *step);
    shared.with(|o| {
        let rec = o
            .state
            .tenants
            .get_mut(name)
            .expect("recorded before its secret_id");
        rec.secret_id_accessor = Some(sid.accessor.clone());
        rec.secret_id_expires = sid.expires;
        rec.secret_id_sha256 = new.sha256.clone();
        rec.retiring = retiring.clone();
        o.record(name)
    })?;
    let keep: Vec<&str> = retiring.iter().map(|r| r.accessor.as_str()).collect();
    let found = orphans(c, dir, plan, &sid, was_wrapped, &keep, &listed)?;
    for o in found {
        step(o);
    }
    Ok(sid)
}

/// The client certificate: kept while the one assessment keeps it, unless
/// `--rotate`; otherwise a new one. The key file holds the key and its
/// certificate, written by one rename (no reader sees a torn pair); the
/// certificate alone follows in `client.pem`.
fn certificate(
    ca: &Ca,
    dir: &Path,
    plan: &Plan,
    now: OffsetDateTime,
) -> Result<(CertInfo, Option<Outcome>)> {
    let cert_path = dir.join(layout::CLIENT_CERT);
    let key_path = dir.join(layout::CLIENT_KEY);
    let key = fsx::read_secret(&key_path, MAX_PEM_BYTES)?
        .map(|k| zeroize::Zeroizing::new(String::from_utf8_lossy(&k).into_owned()));
    let joined = key.as_deref().is_some_and(|k| pki::has_certificate(k));
    let cert = match (&key, joined) {
        // The certificate alone: the key stays in zeroised memory.
        (Some(k), true) => Some(pki::cert_only(k)?),
        _ => fsx::read_text(&cert_path, MAX_PEM_BYTES)?,
    };
    let ca_info = CertInfo::parse(&ca.cert_pem)?;
    let want = Wanted {
        usage: Usage::Client,
        common_name: Some(&plan.name),
        dns: None,
        ips: None,
    };
    let verdict = match (&cert, &key) {
        (Some(c), Some(k)) => Some(pki::assess(c, k, &ca_info, now, &want)),
        _ => None,
    };
    if let (false, Some((Verdict::Keep, Some(info))), Some(c), Some(k)) =
        (plan.rotate, &verdict, &cert, &key)
    {
        let mut outcome = None;
        if !joined {
            let mut id = zeroize::Zeroizing::new(k.to_string());
            id.push_str(c);
            fsx::write_atomic(&key_path, id.as_bytes(), fsx::SECRET)?;
            outcome = Some(Outcome::new(
                Change::Repaired,
                "joined the client certificate to its key in `client-key.pem`, so the pair is read as one",
            ));
        }
        fsx::write_if_changed(&cert_path, pki::cert_only(c)?.as_bytes(), fsx::PUBLIC)?;
        return Ok((info.clone(), outcome));
    }
    let issued = ca.issue_client(&plan.name, super::site::secs(plan.cert_ttl), now)?;
    super::site::write_pair(&cert_path, &key_path, &issued)?;
    let (change, why) = match verdict {
        None => (Change::Created, "issued".to_string()),
        Some(_) if plan.rotate => (Change::Replaced, "rotated".to_string()),
        Some((Verdict::Renew(w) | Verdict::Replace(w), _)) => {
            (Change::Replaced, format!("reissued because {w}"))
        }
        Some((Verdict::Keep, _)) => (Change::Replaced, "reissued".to_string()),
    };
    let text = format!(
        "client certificate {why}, expires {}",
        show_time(issued.not_after)
    );
    Ok((
        CertInfo::parse(&issued.cert_pem)?,
        Some(Outcome::new(change, text)),
    ))
}

/// A date, or a date and time when the lifetime is short enough for the
/// time of day to matter (under two days).
pub fn show_time(t: OffsetDateTime) -> String {
    pki::when(t, OffsetDateTime::now_utc())
}

/// The secret_id: kept while Vault still honours it and renewal is not
/// due, unless `--rotate` or the delivery mode changed; otherwise a new one.
/// `listed`: the role's secret_id accessors, as Vault lists them now.
/// The recorded secret_id is honoured while its accessor is listed and its
/// recorded expiry has not come (Vault deletes one whose uses are spent);
/// a plain one is the bundle's while the file's SHA-256 is the recorded
/// one. Without that record (or when the file changed), the file's value
/// is looked up in Vault instead.
fn secret_id(
    c: &Client,
    dir: &Path,
    plan: &Plan,
    prev: Option<&Tenant>,
    listed: &[String],
    now: OffsetDateTime,
) -> Result<NewSid> {
    let name = plan.name.as_str();
    let sid_path = dir.join(layout::SECRET_ID);
    let current = fsx::read_secret(&sid_path, MAX_TOKEN_BYTES)?
        .map(|b| Secret::new(String::from_utf8_lossy(&b).trim().to_string()))
        .filter(|s| !s.expose().is_empty());
    let was_wrapped = prev.is_some_and(|p| p.wrapped_secret_id);
    let mut superseded = None;
    if let (false, true, Some(cur)) = (
        plan.rotate,
        was_wrapped == plan.wrap_ttl.is_some(),
        &current,
    ) {
        let recorded = prev.and_then(|p| {
            let acc = p.secret_id_accessor.clone()?;
            listed.contains(&acc).then_some(SecretIdInfo {
                accessor: acc,
                expires: p.secret_id_expires,
            })
        });
        let sha256 = (!was_wrapped).then(|| cur.sha256_hex());
        let same_file = sha256.is_some() && prev.and_then(|p| p.secret_id_sha256.clone()) == sha256;
        let info = match (was_wrapped, same_file) {
            (true, _) | (false, true) => recorded,
            (false, false) => ops::lookup_secret_id(c, &plan.role, cur)?,
        };
        let ttl = time::Duration::seconds(plan.limits.secret_id_ttl.min(i64::MAX as u64) as i64);
        match info {
            Some(mut i) if i.expires.is_none_or(|e| !pki::renewal_due(e - ttl, e, now)) => {
                // The recorded expiry was counted from the creation's answer
                // (up to a round trip after Vault's own) and kept in whole
                // seconds: kept while the two agree to within that, so a
                // run that changes nothing writes nothing.
                let recorded = prev
                    .filter(|p| p.secret_id_accessor.as_deref() == Some(i.accessor.as_str()))
                    .and_then(|p| p.secret_id_expires);
                if let (Some(r), Some(e)) = (recorded, i.expires)
                    && (r - e).abs() < time::Duration::seconds(2)
                {
                    i.expires = Some(r);
                }
                return Ok(NewSid {
                    info: i,
                    sha256,
                    outcome: None,
                    superseded: None,
                });
            }
            // Due but still honoured: replaced with overlap.
            Some(i) => superseded = Some(i.accessor),
            None => {}
        }
    }
    let new = ops::create_secret_id(c, name, &plan.role, plan.wrap_ttl)?;
    fsx::write_atomic(&sid_path, new.value.expose().as_bytes(), fsx::SECRET)?;
    // The answer carries the TTL of a plain secret_id; a wrapped one is
    // described only by a lookup.
    let info = match new.ttl {
        Some(0) => SecretIdInfo {
            accessor: new.accessor.clone(),
            expires: None,
        },
        // Counted from the answer, not from the start of the run: never
        // before Vault's own expiry (the state keeps it in whole seconds,
        // which `renew --dry-run` allows for).
        Some(ttl) => SecretIdInfo {
            accessor: new.accessor.clone(),
            expires: Some(
                OffsetDateTime::now_utc()
                    + time::Duration::seconds(ttl.min(i64::MAX as u64) as i64),
            ),
        },
        None => ops::lookup_accessor(c, &plan.role, &new.accessor)?.unwrap_or(SecretIdInfo {
            accessor: new.accessor.clone(),
            expires: None,
        }),
    };
    let text = format!(
        "secret_id issued{}{}",
        if plan.wrap_ttl.is_some() {
            " (response-wrapped)"
        } else {
            ""
        },
        info.expires
            .map(|e| format!(", expires {}", show_time(e)))
            .unwrap_or_default()
    );
    let change = if current.is_some() {
        Change::Replaced
    } else {
        Change::Created
    };
    Ok(NewSid {
        info,
        sha256: plan.wrap_ttl.is_none().then(|| new.value.sha256_hex()),
        outcome: Some(Outcome::new(change, text)),
        superseded,
    })
}

/// The secret_id phase's result.
struct NewSid {
    info: SecretIdInfo,
    /// SHA-256 of a plain secret_id ([`Tenant::secret_id_sha256`]).
    sha256: Option<String>,
    outcome: Option<Outcome>,
    /// The accessor of a secret_id that was due but still valid, replaced
    /// by this one: it retires with overlap instead of going at once.
    superseded: Option<String>,
}

/// One valid secret_id per tenant: any other is an orphan of an earlier,
/// interrupted or rotated run, and goes (V3). An orphan created wrapped
/// left its wrapping token too: revoked before the orphans go, so a
/// failure here is retried by the next run.
fn orphans(
    c: &Client,
    dir: &Path,
    plan: &Plan,
    sid: &SecretIdInfo,
    was_wrapped: bool,
    retiring: &[&str],
    listed: &[String],
) -> Result<Vec<Outcome>> {
    let orphans: Vec<&String> = listed
        .iter()
        .filter(|a| **a != sid.accessor && !retiring.contains(&a.as_str()))
        .collect();
    let mut out = Vec::new();
    if orphans.is_empty() {
        return Ok(out);
    }
    if plan.wrap_ttl.is_some() || was_wrapped {
        let keep = match fsx::read_secret(&dir.join(layout::SECRET_ID), MAX_TOKEN_BYTES)? {
            Some(b) => ops::token_accessor(
                c,
                &Secret::new(String::from_utf8_lossy(&b).trim().to_string()),
            )?,
            None => None,
        };
        let n = ops::revoke_wrapping_tokens(c, &plan.role, keep.as_deref())?;
        if n > 0 {
            let text = format!("revoked {n} unused wrapping token(s)");
            out.push(Outcome::new(Change::Removed, text));
        }
    }
    for acc in &orphans {
        ops::destroy_accessor(c, &plan.role, acc)?;
    }
    let text = format!("destroyed {} other secret_id(s)", orphans.len());
    out.push(Outcome::new(Change::Removed, text));
    Ok(out)
}

/// The tenant's client certificate, and whether this run issued it.
struct ClientCert<'a> {
    info: &'a CertInfo,
    new: bool,
}

/// The bundle's rendered files, repaired when they differ from what
/// vaultnet writes; then the kept key and secret_id, which are not
/// rewritten, tightened back to 0600 if their mode was widened (S1).
#[allow(clippy::too_many_arguments)]
fn bundle_files(
    layout: &Layout,
    site: &Site,
    server_ca: &str,
    plan: &Plan,
    port: Option<u16>,
    role_id: Option<&str>,
    cert: ClientCert<'_>,
    installed_at: Option<&Path>,
) -> Result<Vec<Outcome>> {
    let ClientCert {
        info: cert,
        new: cert_new,
    } = cert;
    let name = plan.name.as_str();
    let dir = layout.tenant(name);
    let topology = Topology::new(site)?;
    let endpoint = topology.endpoint_mapped(port, plan.network.as_ref().map(|n| n.mapping));
    let vault_name = site.vault_name(name);
    let spec = BundleSpec {
        tenant: name,
        vault_name: &vault_name,
        role: &plan.role,
        endpoint: &endpoint,
        flavor: site.flavor,
        agent_image: &site.agent_image,
        kv_mount: &site.kv_mount,
        tenant_prefix: &site.tenant_prefix,
        wrapped_secret_id_path: plan
            .wrap_ttl
            .map(|_| format!("{}/secret-id", crate::policy::role_path(&plan.role))),
        installed_at: installed_at.map(|p| p.display().to_string()),
        auth: plan.auth,
    };
    let table = layout::bundle_files_for(name, plan.auth);
    let mode_of = |f: &str| {
        table
            .iter()
            .find(|t| t.name == f)
            .map_or(fsx::PUBLIC, |t| t.mode)
    };
    let mut out = Vec::new();
    let expires = show_time(cert.not_after);
    // One directory: synced once, after the last file.
    let mut batch = fsx::Batch::default();
    for (fname, contents) in bundle::rendered_files(&spec, server_ca, role_id, &expires) {
        let path = dir.join(&fname);
        // The README names the certificate's expiry: a new certificate
        // rewrites it, which is no repair.
        let expected = cert_new && fname == "README.md";
        if batch.write_if_changed(&path, contents.as_bytes(), mode_of(&fname))?
            == fsx::Change::Updated
            && !expected
        {
            // `ca.pem` follows the CAs trusted now (a rotation, a retired
            // CA): rewriting it is no repair.
            let text = match fname.as_str() {
                "ca.pem" => format!("updated `{}` to the CAs trusted now", layout.rel(&path)),
                _ => format!(
                    "repaired `{}` (it differed from what vaultnet wrote)",
                    layout.rel(&path)
                ),
            };
            out.push(Outcome::new(Change::Repaired, text));
        }
    }
    for f in table.iter().filter(|f| f.secret) {
        let path = dir.join(&f.name);
        if let Some(bytes) = fsx::read_secret(&path, MAX_PEM_BYTES)?
            && batch.write_if_changed(&path, &bytes, f.mode)? == fsx::Change::Updated
        {
            let text = format!("repaired `{}` (its mode was not 0600)", layout.rel(&path));
            out.push(Outcome::new(Change::Repaired, text));
        }
    }
    batch.finish()?;
    Ok(out)
}

/// Copies the bundle into the tenant's home, owned by the tenant, without
/// following any link it planted (S4): on `--install`, and on every later
/// run once installed, so the copy stays in step.
fn install(
    layout: &Layout,
    plan: &Plan,
    installed_to: Option<PathBuf>,
    keep_copy_sid: bool,
) -> Result<(Option<PathBuf>, Option<Outcome>)> {
    let Some(user) = plan.user.as_ref() else {
        return Ok((installed_to, None));
    };
    let rel = match (&plan.install, &installed_to) {
        (Some(rel), _) => rel.clone(),
        (None, Some(p)) => match p.strip_prefix(&user.home) {
            Ok(r) => r.to_path_buf(),
            Err(_) => PathBuf::from(".config/vaultnet"),
        },
        (None, None) => return Ok((None, None)),
    };
    let dir = layout.tenant(&plan.name);
    let mut contents = Vec::new();
    // `keep_copy_sid`: the copy's plain secret_id, unwrapped by the tenant,
    // stays (the state holds only the spent wrapping token).
    for f in layout::bundle_files_for(&plan.name, plan.auth)
        .into_iter()
        .filter(|f| !(keep_copy_sid && f.name == layout::SECRET_ID))
    {
        let bytes = fsx::read_secret(&dir.join(&f.name), MAX_PEM_BYTES)?.unwrap_or_default();
        contents.push((f, bytes));
    }
    let files: Vec<HomeFile<'_>> = contents
        .iter()
        .map(|(f, b)| HomeFile {
            name: &f.name,
            contents: b,
            mode: f.mode,
        })
        .collect();
    let target = fsx::install_into_home(&user.home, &rel, user.uid, user.gid, &files)?;
    let outcome = (installed_to.as_ref() != Some(&target)).then(|| {
        Outcome::new(
            Change::Created,
            format!("installed into `{}`", target.display()),
        )
    });
    Ok((Some(target), outcome))
}

/// Whether the installed copy holds a plain secret_id (not a wrapping
/// token), read without following any link the tenant planted.
fn installed_secret_id_is_plain(user: &UnixUser, dir: &Path) -> Result<bool> {
    let rel = dir.strip_prefix(&user.home).unwrap_or(dir);
    let read = fsx::read_from_home(
        &user.home,
        rel,
        user.uid,
        &[layout::SECRET_ID],
        MAX_TOKEN_BYTES,
    )?;
    Ok(match read.as_deref() {
        Some([fsx::HomeRead::File(b)]) => {
            crate::vault::ops::is_plain_secret_id(String::from_utf8_lossy(b).trim())
        }
        _ => false,
    })
}

/// Runs `vaultnet unwrap DIR` as the tenant — its uid, its groups, a clean
/// environment — so the wrapping token is spent by the tenant's own
/// identity through its own gate, and the plain secret_id is written by
/// the tenant into its own directory. Nothing secret is passed.
fn unwrap_as_tenant(
    name: &str,
    user: &UnixUser,
    dir: &Path,
    connect: std::net::SocketAddr,
) -> Result<()> {
    let exe = std::env::current_exe()
        .map_err(|e| Error::failed(format!("cannot tell where vaultnet runs from: {e}")))?;
    let mut cmd = crate::sys::users::as_tenant(name, user, &[], exe);
    cmd.arg("unwrap")
        .arg(dir)
        .arg("--connect")
        .arg(connect.to_string());
    let out = cmd
        .output()
        .map_err(|e| Error::failed(format!("cannot run `vaultnet unwrap` as {name}: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or("")
        .trim_start_matches("error: ");
    Err(Error::failed(format!("unwrapping the secret_id as {name} failed: {line}")).hint(format!(
        "check the forwarder with `vaultnet doctor`, then run `vaultnet add-user {name}` again; the tenant can also run `vaultnet unwrap {}`",
        dir.display()
    )))
}

/// What `remove-user` did to one tenant.
#[derive(Debug)]
pub struct Removal {
    /// What was taken away, in order (empty: there was nothing).
    pub done: Vec<Outcome>,
    /// The installed copy left in place (without `--purge`).
    pub left_in_place: Option<PathBuf>,
    /// Its own port, now reserved until its certificates expire.
    pub reserved: Option<u16>,
}

/// Takes one tenant's access away for good (V4): no new logins first
/// (secret_ids, then the role), then its live tokens, its policy, its
/// bundle and, with `purge`, its installed copy. The state forgets the
/// tenant only at the end, so a failed run is retried by the next.
pub fn remove(c: &Client, opened: &mut Opened, name: &str, purge: bool) -> Result<Removal> {
    let record = opened.state.tenants.get(name).cloned();
    // The role on record; for a name only pending or left over, the one
    // vaultnet's naming gives it (never a bare name: V7).
    let role = record.as_ref().map_or_else(
        || crate::policy::role_name(&opened.state.site, name),
        |r| r.role.clone(),
    );
    let mut done = Vec::new();
    // No new logins first: secret_ids, then the role itself.
    let accessors = ops::list_secret_id_accessors(c, &role)?;
    for a in &accessors {
        ops::destroy_accessor(c, &role, a)?;
    }
    if !accessors.is_empty() {
        done.push(removed(format!(
            "destroyed {} secret_id(s)",
            accessors.len()
        )));
    }
    let had_role = c.get_opt(&crate::policy::role_path(&role))?.is_some()
        || c.get_opt(&crate::policy::cert_role_path(&role))?.is_some();
    let revoked = ops::revoke_tenant_tokens(c, &opened.state.site, name, &role)?;
    ops::delete_tenant_objects(c, &opened.state.site, name, &role)?;
    if had_role {
        done.push(removed("deleted role and policy".into()));
    }
    if revoked > 0 {
        done.push(removed(format!("revoked {revoked} token(s)")));
    }
    let bundle = opened.layout.tenant(name);
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle).map_err(|e| Error::io("remove", &bundle, e))?;
        done.push(removed(format!("removed `{}`", opened.layout.rel(&bundle))));
    }
    let mut left_in_place = None;
    if let (true, Some(rec)) = (purge, &record) {
        if let (Some(dir), Some(uid)) = (&rec.installed_to, rec.uid) {
            let user = crate::sys::users::lookup(name)?;
            if let Some(u) = user.filter(|u| u.uid == uid) {
                let rel = dir.strip_prefix(&u.home).unwrap_or(dir);
                let files = crate::layout::bundle_files(name);
                let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
                if fsx::remove_from_home(&u.home, rel, uid, &names)? {
                    done.push(removed(format!("removed the copy in `{}`", dir.display())));
                }
            }
        }
    } else {
        left_in_place = record.as_ref().and_then(|r| r.installed_to.clone());
    }
    let pending = opened.state.pending.remove(name);
    // Its port goes to nobody else while a certificate of its could still
    // connect there (SECURITY.md G6).
    let now = OffsetDateTime::now_utc();
    let mut reserved = None;
    if let Some((port, until)) = record.as_ref().and_then(|r| {
        r.port.map(|p| {
            (
                p,
                r.last_cert_expiry
                    .unwrap_or(r.cert_not_after)
                    .max(r.cert_not_after),
            )
        })
    }) && until > now
    {
        opened.state.reserved_ports.retain(|r| r.port != port);
        opened
            .state
            .reserved_ports
            .push(crate::state::ReservedPort {
                port,
                tenant: name.to_string(),
                until,
            });
        opened.state.reserved_ports.sort_by_key(|r| r.port);
        reserved = Some(port);
    }
    let expired = opened.state.expire_reserved_ports(now);
    if opened.state.tenants.remove(name).is_some() || pending || expired {
        opened.record(name)?;
    }
    Ok(Removal {
        done,
        left_in_place,
        reserved,
    })
}

fn removed(text: String) -> Outcome {
    Outcome::new(Change::Removed, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ports go in plan order, whichever tenant finishes first: a recorded
    /// one is kept, each new tenant takes the lowest port that neither a
    /// tenant, a live reservation nor an earlier plan of the run has.
    #[test]
    fn ports_are_given_in_plan_order_past_taken_and_reserved_ones() {
        let v3 = include_str!("../../tests/fixtures/state-v3.yaml");
        let mut state = State::parse(v3.as_bytes()).unwrap();
        state.site = crate::state::site::sample_site("l3");
        state.tenants.get_mut("alice").unwrap().port = Some(22301);
        state.tenants.get_mut("bob").unwrap().port = Some(22303);
        let now = crate::state::rfc3339::parse("2027-01-01T00:00:00Z").unwrap();
        state.reserved_ports.push(crate::state::ReservedPort {
            port: 22304,
            tenant: "gone".into(),
            until: now + time::Duration::days(1),
        });
        let mut plans: Vec<Plan> = ["carol", "bob", "dave", "erin"]
            .iter()
            .map(|n| plan(n, &Asked::default(), state.tenants.get(*n), &state.site).unwrap())
            .collect();
        assign_ports(&state, &mut plans, now).unwrap();
        let ports: Vec<Option<u16>> = plans.iter().map(|p| p.port).collect();
        assert_eq!(ports, [Some(22300), Some(22303), Some(22302), Some(22305)]);
        // Where the entry is one shared port, no tenant has its own.
        state.site = crate::state::site::sample_site("l1");
        assign_ports(&state, &mut plans, now).unwrap();
        assert!(plans.iter().all(|p| p.port.is_none()));
    }
}
