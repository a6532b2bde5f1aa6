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
  vaultnet remove-user alice
  vaultnet remove-user alice bob --purge     # also the copy installed in their homes

EXIT CODES:
  0  removed (or already gone)
  1  Vault refused or failed a step
  2  bad name, a name vaultnet does not know whose policy or role Vault has
     (see --leftovers), not initialised; nothing was changed";

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
    #[command(flatten)]
    pub vault: super::VaultArgs,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let names = args.names.collect()?;
    let mut opened = crate::store::open(env, dir_flag, true)?;
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
            let found =
                crate::vault::ops::existing_objects(&c, name, &crate::policy::role_name(name))?;
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
    let mut failure = None;
    for name in &names {
        match tenant::remove(&c, &mut opened, name, args.purge) {
            Ok(r) => print(name, &r)?,
            Err(e) => {
                failure = Some(e.context(format!("tenant `{name}`")));
                break;
            }
        }
    }
    super::write_host_files(&opened)?;
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
