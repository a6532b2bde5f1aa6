//! `vaultnet add-user NAME...`: gives each tenant everything its containers
//! need to read its own secrets and nothing else — a client certificate, a
//! policy on its own KV v2 prefix, an AppRole with every limit explicit, a
//! role_id and secret_id, and the bundle. Re-running repairs drift and keeps
//! what is still valid (SECURITY.md V3). The work is `provision::tenant`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Output;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::outcome::{Totals, Verdict};
use crate::provision::many::{Told, provision_all};
use crate::provision::tenant::{self, Asked, Plan, TenantReport};
use crate::state::{Site, validate};
use crate::store::Shared;
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet add-user alice
  vaultnet add-user alice bob --install
  vaultnet add-user --from tenants.txt --output json
  vaultnet add-user alice --rotate                 # new certificate and secret_id
  vaultnet add-user ci --no-unix-user --wrap-ttl 10m
  vaultnet add-user carol --host-mapping host-gateway   # her bundle is for a Podman 5 host

EXIT CODES:
  0  every tenant is provisioned
  1  Vault refused or failed a step (the tenants finished are kept; none is started
     after it, those under way finish)
  2  bad name, unknown Unix user, a name Vault has that vaultnet did not make, not
     initialised; nothing was changed";

/// How many tenants a run provisions at once unless `--jobs` says
/// otherwise: enough that one tenant's requests overlap another's file
/// syncs (each waits on the disk or on Vault, seldom on a core), few
/// enough that a small Vault is not swamped.
pub const JOBS: u16 = 4;

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub names: super::Names,
    /// Do not require a Unix user of that name (no nft entry then)
    #[arg(long)]
    pub no_unix_user: bool,
    /// Lifetime of the client certificate, e.g. 90d or 12h [default: 90d]
    #[arg(long, value_name = "DURATION")]
    pub cert_ttl: Option<String>,
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
    /// How the agent logs in: approle (role_id, secret_id) or cert (the client certificate alone) [default: the tenant's, else the site's]
    #[arg(long, value_enum)]
    pub auth: Option<crate::state::Auth>,
    /// What the bundle maps the Vault name to [default: what the tenant's own Podman needs: ip under slirp4netns, host-gateway under pasta; under l2 host-containers-internal]
    #[arg(long, value_enum, value_name = "MAPPING")]
    pub host_mapping: Option<crate::state::HostMapping>,
    /// Issue a new certificate and secret_id even if the current ones are valid
    #[arg(long)]
    pub rotate: bool,
    /// Take over a policy or role of the tenant's names that vaultnet did not make
    #[arg(long)]
    pub adopt: bool,
    /// Copy the bundle into the tenant's home, owned by the tenant
    #[arg(long)]
    pub install: bool,
    /// Where --install puts the bundle, relative to the tenant's home
    #[arg(long, value_name = "PATH", default_value = ".config/vaultnet")]
    pub install_path: PathBuf,
    /// How many tenants are provisioned at once (reported in order whatever finishes first)
    #[arg(long, short, value_name = "N", default_value_t = JOBS, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    #[command(flatten)]
    pub vault: super::VaultArgs,
    #[command(flatten)]
    pub gate: super::GateArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

impl Args {
    /// What the flags ask for, parsed and checked before anything changes.
    fn asked(&self) -> Result<Asked> {
        let d = |flag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| validate::duration(flag, s))
                .transpose()
        };
        let (token_ttl, token_max_ttl, secret_id_ttl, wrap_ttl, cert_ttl) = (
            d("--token-ttl", &self.token_ttl)?,
            d("--token-max-ttl", &self.token_max_ttl)?,
            d("--secret-id-ttl", &self.secret_id_ttl)?,
            d("--wrap-ttl", &self.wrap_ttl)?,
            d("--cert-ttl", &self.cert_ttl)?,
        );
        if let Some(secs) = cert_ttl {
            validate::cert_ttl("--cert-ttl", secs)?;
        }
        if self.install && self.no_unix_user {
            return Err(Error::usage("`--install` needs the tenant's Unix user")
                .hint("drop `--no-unix-user`, or copy the bundle yourself"));
        }
        validate::install_path(&self.install_path)?;
        Ok(Asked {
            token_ttl,
            token_max_ttl,
            token_num_uses: self.token_num_uses,
            secret_id_ttl,
            secret_id_num_uses: self.secret_id_num_uses,
            wrap_ttl,
            cert_ttl,
            unix_user: !self.no_unix_user,
            rotate: self.rotate,
            install: self.install.then(|| self.install_path.clone()),
            auth: self.auth,
            adopt: self.adopt,
            gate_reload: self.gate.reload(),
        })
    }
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let names = args.names.collect("add-user")?;
    let asked = args.asked()?;
    let mut opened = crate::store::open(env, dir_flag, true)?;
    // Every tenant is planned (users looked up, limits checked) before the
    // first change.
    let plans = names
        .iter()
        .map(|n| tenant::plan(n, &asked, opened.state.tenants.get(n), &opened.state.site))
        .collect::<Result<Vec<Plan>>>()?;
    // What each tenant's containers can reach Vault by, from its own Podman.
    let site_mapping = crate::topology::Topology::new(&opened.state.site)?
        .profile
        .host_mapping;
    let mut plans = plans
        .into_iter()
        .map(|mut plan| {
            let answer = plan
                .user
                .as_ref()
                .map(|u| crate::sys::podman::ask(&plan.name, u));
            let prev = opened
                .state
                .tenants
                .get(&plan.name)
                .and_then(|t| t.network.as_ref());
            let network = crate::topology::tenant_network(
                &plan.name,
                site_mapping,
                args.host_mapping,
                prev,
                answer.as_ref(),
            )?;
            if answer == Some(crate::sys::podman::Answer::Absent) {
                ui::status(format!(
                    "{}: Podman is not installed for `{}` here; its bundle maps the Vault name as the site does ({})",
                    plan.name, plan.name, network.mapping
                ));
            }
            plan.network = Some(network);
            Ok(plan)
        })
        .collect::<Result<Vec<Plan>>>()?;
    tenant::assign_ports(&opened.state, &mut plans, time::OffsetDateTime::now_utc())?;
    let client = super::operator(env, &opened, &args.vault)?;
    let ca = tenant::load_ca(&opened.layout)?;
    // Names Vault already has for tenants vaultnet does not know stop the
    // whole run before its first change (SECURITY.md V7).
    // Listed once for the run, not asked per tenant.
    let mut names: Option<crate::vault::ops::VaultNames> = None;
    for plan in &mut plans {
        let known = opened.state.tenants.contains_key(&plan.name)
            || opened.state.pending.contains(&plan.name);
        if !known {
            let names = match &names {
                Some(n) => n,
                None => names.insert(crate::vault::ops::VaultNames::list(&client)?),
            };
            tenant::check_names_free(names, &opened.state.site, plan)
                .map_err(|e| e.context(format!("tenant `{}`", plan.name)))?;
        }
    }
    tenant::see_policies(&client, &opened.state.site, &mut plans)?;

    let bar = ui::progress(plans.len(), args.output == Output::Text);
    if let (Some(b), Some(p)) = (&bar, plans.first()) {
        b.set_message(&p.name);
    }
    // The bar counts the tenants finished in order and names the next.
    let tell = |told: Told<'_>| match told {
        Told::Line(line) => ui::status(line),
        Told::Finished { next } => {
            if let Some(b) = &bar {
                b.inc();
                if let Some(n) = next {
                    b.set_message(n);
                }
            }
        }
    };
    let results = provision_all(
        &client,
        &ca,
        &Shared::new(&mut opened),
        &plans,
        usize::from(args.jobs),
        &tell,
    );
    drop(bar);
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for (plan, result) in plans.iter().zip(results) {
        match result {
            Some(Ok(r)) => reports.push(r),
            Some(Err(e)) => failures.push(e.context(format!("tenant `{}`", plan.name))),
            None => {}
        }
    }
    let failed = failures.len();
    // Every failure but the last is told here; the last is the run's error.
    let failure = failures.pop();
    for e in &failures {
        ui::error(e.message(), e.hint_text());
    }
    // What each tenant's steps journaled goes into `vaultnet.yaml`.
    opened.save()?;
    // The gate follows the state even when a later tenant failed.
    super::write_host_files(&opened, args.gate.reload())?;
    let totals = Totals::count(
        reports.iter().map(|r| Verdict::of(r.added, &r.changes)),
        failed,
        plans.len(),
    );
    print_reports(&opened.layout, &opened.state.site, &reports, args.output)?;
    if args.output == Output::Json {
        let doc = Doc {
            schema_version: super::SCHEMA_VERSION,
            tenants: reports.iter().map(Row::of).collect(),
            totals,
        };
        ui::out(serde_json::to_string_pretty(&doc).expect("report serialises"))?;
    } else if plans.len() > 1 {
        ui::out(totals.line())?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

fn print_reports(
    layout: &Layout,
    site: &Site,
    reports: &[TenantReport],
    output: Output,
) -> Result<()> {
    if output == Output::Json {
        return Ok(());
    }
    for r in reports {
        let rel = layout.rel(&r.bundle);
        let cert = crate::provision::tenant::show_time(r.cert_not_after);
        let what = match Verdict::of(r.added, &r.changes) {
            Verdict::Added => format!("added tenant {}", r.name),
            Verdict::UpToDate => format!("tenant {} is up to date", r.name),
            Verdict::Updated => format!("updated tenant {}", r.name),
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
    let topology = crate::topology::Topology::new(site)?;
    for r in reports.iter().filter(|r| r.new_port) {
        if let Some(note) = topology.port_note(&r.name, r.port, true) {
            ui::out(format!("next: {note}"))?;
        }
    }
    let changed: Vec<&str> = reports
        .iter()
        .filter(|r| Verdict::of(r.added, &r.changes) != Verdict::UpToDate)
        .map(|r| r.name.as_str())
        .collect();
    // The tenant's own prefix: its Vault name (`SITE.NAME` on a named site).
    let path = |name: &str| {
        format!(
            "`{}/{}/{}/`",
            site.kv_mount,
            site.tenant_prefix,
            site.vault_name(name)
        )
    };
    match changed[..] {
        [] => {}
        [one] => ui::out(format!(
            "next: write secrets under {} and start the bundle's compose.yaml",
            path(one)
        ))?,
        [first, ..] => ui::out(format!(
            "next: write each tenant's secrets under its own {}, e.g. {}, and start its bundle's compose.yaml",
            path("<tenant>"),
            path(first)
        ))?,
    }
    Ok(())
}

/// `add-user --output json` (docs/json.md).
#[derive(Serialize)]
struct Doc<'a> {
    schema_version: u32,
    tenants: Vec<Row<'a>>,
    totals: Totals,
}

/// One tenant's report and what the run did to it.
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    report: &'a TenantReport,
    result: Verdict,
}

impl<'a> Row<'a> {
    fn of(report: &'a TenantReport) -> Row<'a> {
        Row {
            report,
            result: Verdict::of(report.added, &report.changes),
        }
    }
}
