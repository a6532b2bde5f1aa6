//! `vaultnet remove-user NAME...`: takes a tenant's access away for good —
//! secret_ids destroyed, role deleted, live tokens revoked, policy deleted,
//! bundle removed (SECURITY.md V4). Safe to run twice.

use std::path::Path;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::provision::tenant::{self, Removal};
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet remove-user alice                 # asks first on a terminal
  vaultnet remove-user alice bob --purge --yes   # also the copies in their homes, no question
  vaultnet remove-user alice --dry-run       # what it would remove, changing nothing

EXIT CODES:
  0  removed (or already gone)
  1  Vault refused or failed a step
  2  bad name, a name vaultnet does not know whose policy or role Vault has
     (see --leftovers), not confirmed (no terminal and no --yes), not
     initialised; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub names: super::Names,
    /// Also remove the bundle installed in the tenant's home
    #[arg(long)]
    pub purge: bool,
    /// Remove what vaultnet's own naming left in Vault for a name it does not know (policy and role `vaultnet-NAME`)
    #[arg(long)]
    pub leftovers: bool,
    /// Do not ask: removing is confirmed (needed without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print what would be removed and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Report format (docs/json.md)
    #[arg(long, value_enum, default_value_t)]
    pub output: super::Output,
    #[command(flatten)]
    pub vault: super::VaultArgs,
    #[command(flatten)]
    pub gate: super::GateArgs,
}

/// One tenant of `--output json`.
#[derive(Debug, serde::Serialize)]
struct Row {
    name: String,
    /// `removed`, `not_there`, or with `--dry-run` `would_remove`.
    result: &'static str,
    /// What was taken away (with `--dry-run`: what would be), in order.
    done: Vec<String>,
    left_in_place: Option<String>,
    reserved_port: Option<u16>,
}

fn print_json(dry_run: bool, rows: &[Row]) -> Result<()> {
    let doc = serde_json::json!({
        "schema_version": super::SCHEMA_VERSION,
        "dry_run": dry_run,
        "tenants": rows,
    });
    ui::out(serde_json::to_string_pretty(&doc).expect("report serialises"))
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let names = args.names.collect("remove-user")?;
    // A dry run only reads: it takes no lock and writes nothing.
    let mut opened = crate::store::open(env, dir_flag, !args.dry_run)?;
    let c = super::operator(env, &opened, &args.vault)?;
    // A name the state does not know is never removed on a guess: only what
    // vaultnet's own naming gives it, and only when asked (SECURITY.md V7).
    // Every name is judged before the first change.
    if !args.leftovers {
        for name in &names {
            let known =
                opened.state.tenants.contains_key(name) || opened.state.pending.contains(name);
            if known {
                continue;
            }
            let found = crate::vault::ops::existing_objects(
                &c,
                &opened.state.site,
                name,
                &crate::policy::role_name(&opened.state.site, name),
            )?;
            if !found.is_empty() {
                return Err(Error::usage(format!(
                    "vaultnet has no tenant `{name}`, but Vault has {}",
                    found.join(" and ")
                ))
                .hint(format!(
                    "if an earlier vaultnet left them, remove them with `vaultnet remove-user {name} --leftovers`; `vaultnet list` shows the tenants"
                )));
            }
        }
    }
    let plans = names
        .iter()
        .map(|n| what_goes(&c, &opened, n).map_err(|e| e.context(format!("tenant `{n}`"))))
        .collect::<Result<Vec<_>>>()?;
    let json = args.output == super::Output::Json;
    if args.dry_run && json {
        let rows: Vec<Row> = names
            .iter()
            .zip(&plans)
            .map(|(name, p)| Row {
                name: name.clone(),
                result: if p.is_some() {
                    "would_remove"
                } else {
                    "not_there"
                },
                done: p.clone().unwrap_or_default(),
                left_in_place: None,
                reserved_port: None,
            })
            .collect();
        print_json(true, &rows)?;
        return Ok(0);
    }
    if args.dry_run {
        for (name, p) in names.iter().zip(&plans) {
            match p {
                None => ui::out(format!("tenant {name} was not there: nothing to remove"))?,
                Some(what) => ui::out(format!("tenant {name}: would {}", what.join(", ")))?,
            }
        }
        return Ok(0);
    }
    let going: Vec<&str> = names
        .iter()
        .zip(&plans)
        .filter(|(_, p)| p.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    if !going.is_empty() {
        let mut rerun = format!("`vaultnet remove-user {}", going.join(" "));
        for (on, flag) in [(args.purge, " --purge"), (args.leftovers, " --leftovers")] {
            if on {
                rerun.push_str(flag);
            }
        }
        rerun.push_str(" --yes`");
        ui::confirm_destruction(
            args.yes,
            &format!(
                "`remove-user` takes away for good the access of: {}",
                going.join(", ")
            ),
            "Remove them?",
            &rerun,
        )?;
    }
    let mut failure = None;
    let mut rows = Vec::new();
    for name in &names {
        match tenant::remove(&c, &mut opened, name, args.purge) {
            Ok(r) if json => {
                if let Some(dir) = &r.left_in_place {
                    ui::status(format!(
                        "{name}: the copy in `{}` is left in place (its credentials no longer work); `--purge` removes it",
                        dir.display()
                    ));
                }
                rows.push(Row {
                    name: name.clone(),
                    result: if r.done.is_empty() {
                        "not_there"
                    } else {
                        "removed"
                    },
                    done: r.done.iter().map(|o| o.text.clone()).collect(),
                    left_in_place: r.left_in_place.as_ref().map(|d| d.display().to_string()),
                    reserved_port: r.reserved,
                });
            }
            Ok(r) => {
                print(name, &r)?;
                let topology = crate::topology::Topology::new(&opened.state.site)?;
                if let Some(note) = topology.port_note(name, r.reserved, false) {
                    ui::out(format!("next: {note}"))?;
                }
            }
            Err(e) => {
                failure = Some(e.context(format!("tenant `{name}`")));
                break;
            }
        }
    }
    if json {
        // A run cut short lists the tenants removed before the failure.
        print_json(false, &rows)?;
    }
    // What each tenant's steps journaled goes into `vaultnet.yaml`.
    opened.save()?;
    super::write_host_files(&opened, args.gate.reload())?;
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

fn print(name: &str, r: &Removal) -> Result<()> {
    if let Some(dir) = &r.left_in_place {
        ui::status(format!(
            "{name}: the copy in `{}` is left in place (its credentials no longer work); `--purge` removes it",
            dir.display()
        ));
    }
    if r.done.is_empty() {
        ui::out(format!("tenant {name} was not there: nothing to remove"))
    } else {
        let done: Vec<&str> = r.done.iter().map(|o| o.text.as_str()).collect();
        ui::out(format!("removed tenant {name}: {}", done.join(", ")))
    }
}

/// What removing `name` would take away, from Vault's and the state's side
/// (read only); `None` when nothing is there.
fn what_goes(
    c: &crate::vault::Client,
    opened: &crate::store::Opened,
    name: &str,
) -> Result<Option<Vec<String>>> {
    let record = opened.state.tenants.get(name);
    let site = &opened.state.site;
    let role = record.map_or_else(|| crate::policy::role_name(site, name), |r| r.role.clone());
    let mut what = Vec::new();
    let sids = crate::vault::ops::list_secret_id_accessors(c, &role)?.len();
    if sids > 0 {
        what.push(format!("destroy {sids} secret_id(s)"));
    }
    let found = crate::vault::ops::existing_objects(c, site, name, &role)?;
    if !found.is_empty() {
        what.push(format!("delete {}", found.join(" and ")));
    }
    if record.is_some() || !found.is_empty() {
        what.push("revoke every token it holds or made".into());
    }
    let bundle = opened.layout.tenant(name);
    if bundle.exists() {
        what.push(format!("remove `{}`", opened.layout.rel(&bundle)));
    }
    if record.is_some() && what.is_empty() {
        what.push("forget its record".into());
    }
    Ok((!what.is_empty()).then_some(what))
}
