//! `vaultnet renew [NAME...]`: renews by the one rule whatever is due —
//! the server and operator certificates, each tenant's client certificate
//! and secret_id — has Vault load a renewed server certificate, and reaches
//! each tenant's running agent so it uses what was renewed (SECURITY.md
//! D1–D3). Re-running is a no-op. The work is `provision::{site, tenant,
//! renew}`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;

use super::Output;
use crate::env::Env;
use crate::error::{Error, Result};
use crate::provision::tenant::{self, Asked, show_time};
use crate::provision::{renew, site};
use crate::state::Flavor;
use crate::sys::agents::{self, Nudge};
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet renew                  # the site's certificates and every tenant
  vaultnet renew alice bob        # only these tenants
  vaultnet renew --dry-run        # what is due, changing nothing

EXIT CODES:
  0  nothing was due, or everything due was renewed
  1  something due could not be renewed (the rest was), or Vault did not load its new certificate
  2  unknown tenant, not initialised, bad usage; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Tenants to renew [default: the site's certificates and every tenant]
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Read more names from FILE, one a line
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Print what is due and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub vault: super::VaultArgs,
    /// Report format
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let selected = match (args.names.is_empty(), &args.from) {
        (true, None) => None,
        _ => Some(super::collect_names(&args.names, args.from.as_deref())?),
    };
    // A dry run only reads: it takes no lock and writes nothing.
    let mut opened = crate::store::open(env, dir_flag, !args.dry_run)?;
    let names: Vec<String> = match &selected {
        Some(names) => {
            if let Some(n) = names
                .iter()
                .find(|n| !opened.state.tenants.contains_key(*n))
            {
                return Err(
                    Error::usage(format!("vaultnet has no tenant `{n}`")).hint(format!(
                        "add it with `vaultnet add-user {n}`; `vaultnet list` shows the tenants"
                    )),
                );
            }
            names.clone()
        }
        None => opened.state.tenants.keys().cloned().collect(),
    };
    let site_too = selected.is_none();
    let now = OffsetDateTime::now_utc();
    if args.dry_run {
        let due = renew::due(&opened.layout, &opened.state, &names, site_too, now)?;
        print_due(&due, args.output)?;
        return Ok(0);
    }
    let client = super::operator(env, &opened, &args.vault)?;
    let ca = tenant::load_ca(&opened.layout)?;
    let layout = opened.layout.clone();
    let site_settings = opened.state.site.clone();
    let json = args.output == Output::Json;
    let mut failures: Vec<Error> = Vec::new();

    let mut site_changes = Vec::new();
    let mut vault_reload = None;
    if site_too {
        let [server, operator] = site::leaves(&layout, &ca, &site_settings, false, now)?;
        for o in [&server, &operator].into_iter().filter(|o| o.changed()) {
            ui::status(format!("site: {}", o.text));
            site_changes.push(o.text.clone());
        }
        // A certificate renewed by an earlier run that Vault never loaded
        // (its reload failed, or was not known then) is loaded now.
        if server.changed() || !renew::serves_the_current_certificate(&layout, &site_settings) {
            let wait = Duration::from_secs(args.vault.timeout);
            match renew::reload_vault(&layout, &site_settings, wait) {
                Ok(done) => {
                    ui::status(format!("site: {done}"));
                    vault_reload = Some(done);
                }
                Err(e) => failures.push(e),
            }
        }
    }

    let mut reports = Vec::new();
    for name in &names {
        let rec = opened.state.tenants[name].clone();
        let asked = Asked {
            unix_user: rec.uid.is_some(),
            ..Asked::default()
        };
        let mut tell = |o: &crate::provision::Outcome| ui::status(format!("{name}: {}", o.text));
        let result = tenant::plan(name, &asked, Some(&rec), site_settings.auth)
            .and_then(|plan| tenant::provision(&client, &ca, &mut opened, &plan, &mut tell));
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                failures.push(e.context(format!("tenant `{name}`")));
                continue;
            }
        };
        // A new certificate is read on SIGHUP by OpenBao's agent; Vault's
        // agent needs a restart. A new secret_id (plain, or unwrapped into
        // the installed copy) is read at the agent's next login.
        let cert_new = report.cert_serial != rec.cert_serial;
        let nudge = match (cert_new, site_settings.flavor) {
            (true, Flavor::Vault) => Some(Nudge::Restart),
            (true, Flavor::Openbao) => Some(Nudge::Reload),
            (false, _) => None,
        };
        let reached = match (nudge, rec.uid) {
            (Some(n), Some(uid)) => Some(match crate::sys::users::lookup(name)? {
                Some(u) if u.uid == uid => agents::reach(name, &u, n),
                _ => agents::Reached::NotReached(format!("Unix user `{name}` is gone")),
            }),
            _ => None,
        };
        if let Some(r) = &reached {
            ui::status(format!("{name}: {r}"));
        }
        reports.push((report, reached));
    }
    super::write_host_files(&opened)?;

    if json {
        let tenants: Vec<_> = reports
            .iter()
            .map(|(r, reached)| {
                let mut v = serde_json::to_value(r).expect("report serialises");
                v["agent"] = json!(reached.as_ref().map(ToString::to_string));
                v
            })
            .collect();
        let doc = json!({
            "site": site_changes,
            "vault_reload": vault_reload,
            "tenants": tenants,
        });
        ui::out(serde_json::to_string_pretty(&doc).expect("report serialises"))?;
    } else {
        for (r, reached) in &reports {
            let when = format!(
                "cert expires {}{}",
                show_time(r.cert_not_after),
                r.secret_id_expires
                    .map(|e| format!(", secret_id expires {}", show_time(e)))
                    .unwrap_or_default()
            );
            let line = match (r.changes.is_empty(), reached) {
                (true, _) => format!("tenant {}: nothing due ({when})", r.name),
                (false, Some(a)) => format!("renewed tenant {} ({when}); {a}", r.name),
                (false, None) => format!("renewed tenant {} ({when})", r.name),
            };
            ui::out(line)?;
        }
        if site_too && site_changes.is_empty() && vault_reload.is_none() {
            ui::out("site: nothing due")?;
        }
    }
    match failures.len() {
        0 => Ok(0),
        1 => Err(failures.remove(0)),
        n => {
            for e in &failures[..n - 1] {
                ui::status(format!("error: {}", e.message()));
            }
            Err(failures.pop().expect("n > 1"))
        }
    }
}

fn print_due(due: &[renew::Due], output: Output) -> Result<()> {
    if output == Output::Json {
        return ui::out(serde_json::to_string_pretty(due).expect("serialises"));
    }
    if due.is_empty() {
        return ui::out("nothing is due");
    }
    for d in due {
        ui::out(format!("{}: would {}", d.who, d.what))?;
    }
    Ok(())
}
