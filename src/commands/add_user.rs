//! `vaultnet add-user NAME...`: gives each tenant everything its containers
//! need to read its own secrets and nothing else — a client certificate, a
//! policy on its own KV v2 prefix, an AppRole with every limit explicit, a
//! role_id and secret_id, and the bundle. Re-running repairs drift and keeps
//! what is still valid (SECURITY.md V3). The work is `provision::tenant`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::Output;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::Ca;
use crate::provision::tenant::{self, Plan, TenantReport};
use crate::state::{Limits, Site};
use crate::sys::fsx;
use crate::sys::users;
use crate::ui;

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

/// What `--output json` says about one tenant (stable field names).
#[derive(Serialize)]
struct Json<'a> {
    name: &'a str,
    uid: Option<u32>,
    bundle: &'a Path,
    installed_to: Option<&'a Path>,
    cert_serial: &'a str,
    #[serde(with = "crate::state::rfc3339")]
    cert_not_after: OffsetDateTime,
    #[serde(with = "crate::state::rfc3339::option")]
    secret_id_expires: Option<OffsetDateTime>,
    wrapped_secret_id: bool,
    changes: Vec<&'a str>,
}

impl<'a> From<&'a TenantReport> for Json<'a> {
    fn from(r: &'a TenantReport) -> Self {
        Json {
            name: &r.name,
            uid: r.uid,
            bundle: &r.bundle,
            installed_to: r.installed_to.as_deref(),
            cert_serial: &r.cert_serial,
            cert_not_after: r.cert_not_after,
            secret_id_expires: r.secret_id_expires,
            wrapped_secret_id: r.wrapped_secret_id,
            changes: r.changes.iter().map(|c| c.text.as_str()).collect(),
        }
    }
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
            rotate: args.rotate,
            install: args.install.then(|| args.install_path.clone()),
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
        let name = plan.name.clone();
        let mut tell = |o: &crate::provision::Outcome| ui::status(format!("{name}: {}", o.text));
        match tenant::provision(&client, &ca, &mut opened, plan, &mut tell) {
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
    super::write_host_files(&opened)?;
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
    let cert = fsx::read_text(&layout.ca_cert(), fsx::MAX_PEM_BYTES)?;
    let key = fsx::read_secret(&layout.ca_key(), fsx::MAX_PEM_BYTES)?;
    match (cert, key) {
        (Some(c), Some(k)) => {
            let k = zeroize::Zeroizing::new(String::from_utf8_lossy(&k).into_owned());
            Ca::load(&c, &k)
        }
        _ => Err(Error::usage("the vaultnet CA is missing")
            .hint("restore `pki/` from a backup, or run `vaultnet init`")),
    }
}

fn print_reports(
    layout: &Layout,
    site: &Site,
    reports: &[TenantReport],
    output: Output,
) -> Result<()> {
    if output == Output::Json {
        let json: Vec<Json<'_>> = reports.iter().map(Json::from).collect();
        return ui::out(serde_json::to_string_pretty(&json).expect("report serialises"));
    }
    for r in reports {
        let rel = layout.rel(&r.bundle);
        let cert = r.cert_not_after.date();
        let what = if r.added {
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
