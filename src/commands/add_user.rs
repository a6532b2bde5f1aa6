//! `vaultnet add-user NAME...`: gives each tenant everything its containers
//! need to read its own secrets and nothing else — a client certificate, a
//! policy on its own KV v2 prefix, an AppRole with every limit explicit, a
//! role_id and secret_id, and the bundle. Re-running repairs drift and keeps
//! what is still valid (PROMISES V3).

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::Output;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::{Ca, CertInfo};
use crate::policy;
use crate::render::bundle::{self, BundleSpec};
use crate::secret::Secret;
use crate::state::{Limits, Site, Tenant};
use crate::store::Opened;
use crate::sys::fsx::{self, Change, HomeFile};
use crate::sys::users::{self, UnixUser};
use crate::ui;
use crate::vault::Client;
use crate::vault::ops::{self, Step};

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet add-user alice
  vaultnet add-user alice bob --install
  vaultnet add-user --from tenants.txt --output json
  vaultnet add-user alice --rotate                 # new certificate and secret_id
  vaultnet add-user ci --no-unix-user --wrap-ttl 10m

EXIT CODES:
  0  every tenant is provisioned
  1  Vault refused or failed a step (tenants done before it are kept)
  2  bad name, unknown Unix user, not initialised; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub names: super::Names,
    /// Do not require a Unix user of that name (no nft entry then)
    #[arg(long)]
    pub no_unix_user: bool,
    /// Validity of the client certificate, in days
    #[arg(long, value_name = "DAYS")]
    pub cert_days: Option<u32>,
    /// AppRole token_ttl [default: 1h]
    #[arg(long, value_name = "DURATION")]
    pub token_ttl: Option<String>,
    /// AppRole token_max_ttl [default: 24h]
    #[arg(long, value_name = "DURATION")]
    pub token_max_ttl: Option<String>,
    /// AppRole token_num_uses; 0 = unlimited, which agent auto-auth needs [default: 0]
    #[arg(long, value_name = "N")]
    pub token_num_uses: Option<u64>,
    /// AppRole secret_id_ttl [default: 30d]
    #[arg(long, value_name = "DURATION")]
    pub secret_id_ttl: Option<String>,
    /// AppRole secret_id_num_uses; 0 lets the agent log in again after a restart [default: 0]
    #[arg(long, value_name = "N")]
    pub secret_id_num_uses: Option<u64>,
    /// Deliver the secret_id response-wrapped, valid for DURATION (0: plain)
    #[arg(long, value_name = "DURATION")]
    pub wrap_ttl: Option<String>,
    /// Issue a new certificate and secret_id even if the current ones are valid
    #[arg(long)]
    pub rotate: bool,
    /// Copy the bundle into the tenant's home, owned by the tenant
    #[arg(long)]
    pub install: bool,
    /// Where --install puts the bundle, relative to the tenant's home
    #[arg(long, value_name = "PATH", default_value = ".config/vaultnet")]
    pub install_path: PathBuf,
    #[command(flatten)]
    pub vault: super::VaultArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// What the report says about one tenant (stable field names).
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
    pub changes: Vec<String>,
}

const DEFAULT_CERT_DAYS: u32 = 90;

/// Flag values for limits, parsed; `None` where the flag was not given.
struct LimitFlags {
    token_ttl: Option<u64>,
    token_max_ttl: Option<u64>,
    secret_id_ttl: Option<u64>,
    wrap_ttl: Option<u64>,
}

impl LimitFlags {
    fn parse(a: &Args) -> Result<Self> {
        let d = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| crate::state::validate::duration(flag, s))
                .transpose()
        };
        Ok(LimitFlags {
            token_ttl: d("--token-ttl", &a.token_ttl)?,
            token_max_ttl: d("--token-max-ttl", &a.token_max_ttl)?,
            secret_id_ttl: d("--secret-id-ttl", &a.secret_id_ttl)?,
            wrap_ttl: d("--wrap-ttl", &a.wrap_ttl)?,
        })
    }

    fn limits(&self, a: &Args, prev: Option<&Limits>) -> Limits {
        let base = prev.copied().unwrap_or_default();
        Limits {
            token_ttl: self.token_ttl.unwrap_or(base.token_ttl),
            token_max_ttl: self.token_max_ttl.unwrap_or(base.token_max_ttl),
            token_num_uses: a.token_num_uses.unwrap_or(base.token_num_uses),
            secret_id_ttl: self.secret_id_ttl.unwrap_or(base.secret_id_ttl),
            secret_id_num_uses: a.secret_id_num_uses.unwrap_or(base.secret_id_num_uses),
        }
    }
}

/// Everything decided before the first change: a bad input stops here.
struct Plan {
    name: String,
    user: Option<UnixUser>,
    limits: Limits,
    cert_days: u32,
    wrap_ttl: Option<u64>,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let names = args.names.collect()?;
    let flags = LimitFlags::parse(&args)?;
    if let Some(d) = args.cert_days {
        crate::state::validate::cert_days(d)?;
    }
    if args.install && args.no_unix_user {
        return Err(Error::usage("`--install` needs the tenant's Unix user")
            .hint("drop `--no-unix-user`, or copy the bundle yourself"));
    }
    if args.install_path.is_absolute()
        || args
            .install_path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(Error::usage(format!(
            "`--install-path {}` must be a relative path inside the tenant's home",
            args.install_path.display()
        ))
        .hint("pass e.g. `--install-path .config/vaultnet`"));
    }
    let mut opened = crate::store::open(env, dir_flag, true)?;
    let mut plans = Vec::new();
    for name in &names {
        let prev = opened.state.tenants.get(name);
        let user = if args.no_unix_user {
            None
        } else {
            Some(users::require_tenant_user(name)?)
        };
        let limits = flags.limits(&args, prev.map(|t| &t.limits));
        limits.validate()?;
        let wrap_ttl = match flags.wrap_ttl {
            Some(0) => None,
            Some(t) => Some(t),
            None => prev.and_then(|p| p.wrapped_secret_id.then_some(300)),
        };
        plans.push(Plan {
            name: name.clone(),
            user,
            limits,
            cert_days: args
                .cert_days
                .or(prev.map(|p| p.cert_days))
                .unwrap_or(DEFAULT_CERT_DAYS),
            wrap_ttl,
        });
    }
    let client = super::operator(env, &opened, &args.vault)?;
    let ca = load_ca(&opened.layout)?;

    let bar = progress(plans.len(), args.output);
    let mut reports = Vec::new();
    let mut failure = None;
    for plan in &plans {
        if let Some(b) = &bar {
            b.set_message(plan.name.clone());
        }
        match provision_tenant(&client, &ca, &mut opened, plan, &args) {
            Ok(r) => reports.push(r),
            Err(e) => {
                failure = Some(e.context(format!("tenant `{}`", plan.name)));
                break;
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // The gate follows the state even when a later tenant failed.
    let (nft, change) = super::write_nft(&opened.layout, &opened.state)?;
    if change != Change::Unchanged {
        ui::status(format!(
            "wrote `{}`: load it with `nft -f {}`",
            opened.layout.rel(&nft),
            nft.display()
        ));
    }
    print_reports(&opened.layout, &opened.state.site, &reports, args.output)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

fn progress(n: usize, output: Output) -> Option<indicatif::ProgressBar> {
    if n < 2 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) || output == Output::Json {
        return None;
    }
    let b = indicatif::ProgressBar::new(n as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    Some(b)
}

pub fn load_ca(layout: &Layout) -> Result<Ca> {
    let cert = fsx::read_limited(&layout.ca_cert(), 1 << 20)?;
    let key = fsx::read_limited(&layout.ca_key(), 1 << 20)?;
    match (cert, key) {
        (Some(c), Some(k)) => {
            let k = zeroize::Zeroizing::new(String::from_utf8_lossy(&k).into_owned());
            Ca::load(&String::from_utf8_lossy(&c), &k)
        }
        _ => Err(Error::usage("the vaultnet CA is missing")
            .hint("restore `pki/` from a backup, or run `vaultnet init`")),
    }
}

fn days_until(t: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (t - now).whole_days()
}

/// Renew when less than a third of the lifetime, at most 30 days, is left.
fn renew_within(lifetime_days: i64) -> i64 {
    (lifetime_days / 3).clamp(1, 30)
}

fn provision_tenant(
    c: &Client,
    ca: &Ca,
    opened: &mut Opened,
    plan: &Plan,
    args: &Args,
) -> Result<TenantReport> {
    let layout = opened.layout.clone();
    let site = opened.state.site.clone();
    let name = plan.name.as_str();
    let prev = opened.state.tenants.get(name).cloned();
    let now = OffsetDateTime::now_utc();
    let dir = layout.tenant(name);
    let mut changes = Vec::new();
    let mut step = |s: Step| match s {
        Step::Changed(m) => {
            ui::status(format!("{name}: {m}"));
            changes.push(m);
        }
        Step::Unchanged(_) => {}
    };

    step(ops::ensure_policy(c, &site, name)?);
    step(ops::ensure_role(c, name, &plan.limits)?);
    let role_id = ops::role_id(c, name)?;
    // Only now: a run Vault refuses before this point leaves no directory.
    fsx::private_dir(&dir)?;

    // The client certificate: kept while valid, unless --rotate.
    let cert_path = dir.join("client.pem");
    let key_path = dir.join("client-key.pem");
    let existing = match (
        fsx::read_limited(&cert_path, 1 << 20)?,
        fsx::read_limited(&key_path, 1 << 20)?,
    ) {
        (Some(c), Some(k)) => Some((
            String::from_utf8_lossy(&c).into_owned(),
            zeroize::Zeroizing::new(String::from_utf8_lossy(&k).into_owned()),
        )),
        _ => None,
    };
    let ca_info = CertInfo::parse(&ca.cert_pem)?;
    let keep_cert = existing.as_ref().and_then(|(cert, key)| {
        let info = CertInfo::parse(cert).ok()?;
        let lifetime = (info.not_after - info.not_before).whole_days();
        let ok = !args.rotate
            && info.issuer == ca_info.subject
            && info.client_auth
            && !info.server_auth
            && info.common_name.as_deref() == Some(name)
            && crate::pki::key_matches(cert, key).unwrap_or(false)
            && info.days_left(now) >= renew_within(lifetime);
        ok.then_some(info)
    });
    let cert_info = match keep_cert {
        Some(info) => info,
        None => {
            let issued = ca.issue_client(name, plan.cert_days, now)?;
            fsx::write_atomic(&key_path, issued.key_pem.as_bytes(), fsx::SECRET)?;
            fsx::write_atomic(&cert_path, issued.cert_pem.as_bytes(), fsx::PUBLIC)?;
            let why = match &existing {
                None => "issued".to_string(),
                Some(_) if args.rotate => "rotated".to_string(),
                Some(_) => "reissued (expiring, invalid or from another CA)".to_string(),
            };
            step(Step::Changed(format!(
                "client certificate {why}, expires {}",
                issued.not_after.date()
            )));
            CertInfo::parse(&issued.cert_pem)?
        }
    };
    // The state learns of every secret file as soon as it exists (S2): a
    // run that fails later leaves a tenant that `remove-user` and a re-run
    // both know about.
    let record = |sid: Option<&ops::SecretIdInfo>, installed_to: Option<PathBuf>| Tenant {
        uid: plan.user.as_ref().map(|u| u.uid),
        cert_days: plan.cert_days,
        cert_serial: cert_info.serial.clone(),
        cert_not_after: cert_info.not_after,
        limits: plan.limits,
        wrapped_secret_id: plan.wrap_ttl.is_some(),
        secret_id_accessor: sid
            .map(|s| s.accessor.clone())
            .or_else(|| prev.as_ref().and_then(|p| p.secret_id_accessor.clone())),
        secret_id_expires: sid
            .map(|s| s.expires)
            .unwrap_or_else(|| prev.as_ref().and_then(|p| p.secret_id_expires)),
        installed_to,
    };
    let prev_installed = prev.as_ref().and_then(|p| p.installed_to.clone());
    if prev
        .as_ref()
        .is_none_or(|p| p.cert_serial != cert_info.serial)
    {
        opened
            .state
            .tenants
            .insert(name.to_string(), record(None, prev_installed.clone()));
        crate::store::save(&layout.root, &opened.state)?;
    }

    // The secret_id: kept while Vault still honours it, unless --rotate.
    let sid_path = dir.join("secret_id");
    let current = fsx::read_limited(&sid_path, 64 << 10)?
        .map(|b| Secret::new(String::from_utf8_lossy(&b).trim().to_string()))
        .filter(|s| !s.expose().is_empty());
    let was_wrapped = prev.as_ref().is_some_and(|p| p.wrapped_secret_id);
    let mode_same = was_wrapped == plan.wrap_ttl.is_some();
    let mut kept = None;
    if !args.rotate
        && mode_same
        && let Some(cur) = &current
    {
        let info = if was_wrapped {
            match prev.as_ref().and_then(|p| p.secret_id_accessor.clone()) {
                Some(acc) => ops::lookup_accessor(c, name, &acc)?,
                None => None,
            }
        } else {
            ops::lookup_secret_id(c, name, cur)?
        };
        let threshold = renew_within((plan.limits.secret_id_ttl / 86400) as i64);
        kept = info.filter(|i| i.expires.is_none_or(|e| days_until(e, now) >= threshold));
    }
    let sid = match kept {
        Some(info) => info,
        None => {
            let new = ops::create_secret_id(c, name, plan.wrap_ttl)?;
            fsx::write_atomic(&sid_path, new.value.expose().as_bytes(), fsx::SECRET)?;
            // The answer carries the TTL of a plain secret_id; a wrapped one
            // is described only by a lookup.
            let info = match new.ttl {
                Some(0) => ops::SecretIdInfo {
                    accessor: new.accessor.clone(),
                    expires: None,
                },
                Some(ttl) => ops::SecretIdInfo {
                    accessor: new.accessor.clone(),
                    expires: Some(now + time::Duration::seconds(ttl.min(i64::MAX as u64) as i64)),
                },
                None => {
                    ops::lookup_accessor(c, name, &new.accessor)?.unwrap_or(ops::SecretIdInfo {
                        accessor: new.accessor.clone(),
                        expires: None,
                    })
                }
            };
            step(Step::Changed(format!(
                "secret_id issued{}{}",
                if plan.wrap_ttl.is_some() {
                    " (response-wrapped)"
                } else {
                    ""
                },
                info.expires
                    .map(|e| format!(", expires {}", e.date()))
                    .unwrap_or_default()
            )));
            info
        }
    };
    opened
        .state
        .tenants
        .insert(name.to_string(), record(Some(&sid), prev_installed.clone()));
    crate::store::save(&layout.root, &opened.state)?;
    // One valid secret_id per tenant: anything else is an orphan of an
    // earlier, interrupted or rotated run.
    let orphans: Vec<String> = ops::list_secret_id_accessors(c, name)?
        .into_iter()
        .filter(|a| *a != sid.accessor)
        .collect();
    // An orphan created wrapped left its wrapping token too: revoked
    // before the orphans go, so a failure here is retried by the next run.
    if !orphans.is_empty() && (plan.wrap_ttl.is_some() || was_wrapped) {
        let keep = match fsx::read_limited(&sid_path, 64 << 10)? {
            Some(b) => ops::token_accessor(
                c,
                &Secret::new(String::from_utf8_lossy(&b).trim().to_string()),
            )?,
            None => None,
        };
        let n = ops::revoke_wrapping_tokens(c, name, keep.as_deref())?;
        if n > 0 {
            step(Step::Changed(format!(
                "revoked {n} unused wrapping token(s)"
            )));
        }
    }
    for acc in &orphans {
        ops::destroy_accessor(c, name, acc)?;
    }
    if !orphans.is_empty() {
        step(Step::Changed(format!(
            "destroyed {} other secret_id(s)",
            orphans.len()
        )));
    }

    // The bundle.
    let installed_at = args.install.then(|| {
        plan.user
            .as_ref()
            .map(|u| u.home.join(&args.install_path).display().to_string())
            .unwrap_or_default()
    });
    let installed_at = installed_at.or_else(|| {
        prev.as_ref()
            .and_then(|p| p.installed_to.as_ref())
            .map(|p| p.display().to_string())
    });
    let spec = BundleSpec {
        tenant: name,
        site: &site,
        wrapped_secret_id_path: plan
            .wrap_ttl
            .map(|_| format!("{}/secret-id", policy::role_path(name))),
        installed_at: installed_at.clone(),
    };
    let files = bundle_files(&spec, &ca.cert_pem, &role_id, &cert_info);
    for (fname, contents, mode) in &files {
        let path = dir.join(fname);
        match fsx::write_if_changed(&path, contents.as_bytes(), *mode)? {
            Change::Created => {}
            Change::Updated => step(Step::Changed(format!(
                "repaired `{}` (it differed from what vaultnet wrote)",
                layout.rel(&path)
            ))),
            Change::Unchanged => {}
        }
    }
    // The kept key and secret_id are not rewritten above: a `chmod` since
    // the last run must not leave them readable by others (PROMISES S1).
    for fname in ["client-key.pem", "secret_id"] {
        let path = dir.join(fname);
        if let Some(bytes) = fsx::read_limited(&path, 1 << 20)? {
            let bytes = zeroize::Zeroizing::new(bytes);
            if fsx::write_if_changed(&path, &bytes, fsx::SECRET)? == Change::Updated {
                step(Step::Changed(format!(
                    "repaired `{}` (its mode was not 0600)",
                    layout.rel(&path)
                )));
            }
        }
    }

    let mut installed_to = prev_installed;
    if let (true, Some(user)) = (args.install || installed_to.is_some(), &plan.user) {
        let mut home_files = Vec::new();
        let mut contents = Vec::new();
        for name in bundle_file_names(name) {
            let path = dir.join(&name);
            let bytes = fsx::read_limited(&path, 1 << 20)?.unwrap_or_default();
            let mode = if is_secret_file(&name) {
                fsx::SECRET
            } else {
                fsx::PUBLIC
            };
            contents.push((name, bytes, mode));
        }
        for (n, b, m) in &contents {
            home_files.push(HomeFile {
                name: n,
                contents: b,
                mode: *m,
            });
        }
        let rel = match (&installed_to, args.install) {
            (Some(p), false) => p
                .strip_prefix(&user.home)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| args.install_path.clone()),
            _ => args.install_path.clone(),
        };
        let target = fsx::install_into_home(&user.home, &rel, user.uid, user.gid, &home_files)?;
        if installed_to.as_ref() != Some(&target) {
            step(Step::Changed(format!(
                "installed into `{}`",
                target.display()
            )));
        }
        installed_to = Some(target);
    }

    opened
        .state
        .tenants
        .insert(name.to_string(), record(Some(&sid), installed_to.clone()));
    crate::store::save(&layout.root, &opened.state)?;

    Ok(TenantReport {
        name: name.to_string(),
        uid: plan.user.as_ref().map(|u| u.uid),
        bundle: dir,
        installed_to,
        cert_serial: cert_info.serial.clone(),
        cert_not_after: cert_info.not_after,
        secret_id_expires: sid.expires,
        wrapped_secret_id: plan.wrap_ttl.is_some(),
        changes,
    })
}

/// The bundle's file names, in the order they are written.
pub fn bundle_file_names(tenant: &str) -> Vec<String> {
    [
        "ca.pem",
        "client.pem",
        "client-key.pem",
        "role_id",
        "secret_id",
        "agent.json",
        "compose.yaml",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("{tenant}-vault-agent.container"),
        format!("{tenant}-vaultnet-secrets.volume"),
        "README.md".into(),
    ])
    .collect()
}

pub fn is_secret_file(name: &str) -> bool {
    matches!(name, "client-key.pem" | "role_id" | "secret_id")
}

/// The rendered (non-key, non-secret_id) files of the bundle.
fn bundle_files(
    spec: &BundleSpec<'_>,
    ca_pem: &str,
    role_id: &str,
    cert: &CertInfo,
) -> Vec<(String, String, u32)> {
    vec![
        ("ca.pem".into(), ca_pem.to_string(), fsx::PUBLIC),
        ("role_id".into(), role_id.to_string(), fsx::SECRET),
        ("agent.json".into(), bundle::agent(spec), fsx::PUBLIC),
        ("compose.yaml".into(), bundle::compose(spec), fsx::PUBLIC),
        (
            format!("{}-vault-agent.container", spec.tenant),
            bundle::quadlet(spec),
            fsx::PUBLIC,
        ),
        (
            format!("{}-vaultnet-secrets.volume", spec.tenant),
            bundle::quadlet_volume(spec),
            fsx::PUBLIC,
        ),
        (
            "README.md".into(),
            bundle::readme(spec, &cert.not_after.date().to_string()),
            fsx::PUBLIC,
        ),
    ]
}

fn print_reports(
    layout: &Layout,
    site: &Site,
    reports: &[TenantReport],
    output: Output,
) -> Result<()> {
    if output == Output::Json {
        return ui::out(serde_json::to_string_pretty(reports).expect("report serialises"));
    }
    for r in reports {
        let rel = layout.rel(&r.bundle);
        let cert = r.cert_not_after.date();
        let created = r
            .changes
            .iter()
            .any(|c| c.contains("AppRole role") && c.ends_with("created"));
        let what = if created {
            format!("added tenant {}", r.name)
        } else if r.changes.is_empty() {
            format!("tenant {} is up to date", r.name)
        } else {
            format!("updated tenant {}", r.name)
        };
        let install = r
            .installed_to
            .as_ref()
            .map(|p| format!(", installed in {}", p.display()))
            .unwrap_or_default();
        ui::out(format!(
            "{what}: bundle in {rel}{install} (cert expires {cert})"
        ))?;
    }
    if reports.iter().any(|r| !r.changes.is_empty()) {
        ui::out(format!(
            "next: write secrets under `{}/{}/NAME/` and start the bundle's compose.yaml",
            site.kv_mount, site.tenant_prefix
        ))?;
    }
    Ok(())
}
