//! `vaultnet remove-user NAME...`: takes a tenant's access away for good —
//! secret_ids destroyed, role deleted, live tokens revoked, policy deleted,
//! bundle removed (SECURITY.md V4). Safe to run twice.

use std::path::Path;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::sys::fsx;
use crate::ui;
use crate::vault::Client;
use crate::vault::ops;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet remove-user alice
  vaultnet remove-user alice bob --purge     # also the copy installed in their homes

EXIT CODES:
  0  removed (or already gone)
  1  Vault refused or failed a step
  2  bad name, not initialised; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(flatten)]
    pub names: super::Names,
    /// Also remove the bundle installed in the tenant's home
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub vault: super::VaultArgs,
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let names = args.names.collect()?;
    let mut opened = crate::store::open(env, dir_flag, true)?;
    let c = super::operator(env, &opened, &args.vault)?;
    let mut failure = None;
    for name in &names {
        if let Err(e) = remove_one(&c, &mut opened, name, &args) {
            failure = Some(e.context(format!("tenant `{name}`")));
            break;
        }
    }
    super::write_host_files(&opened)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(0),
    }
}
/// Takes one tenant's access away; the state forgets it only at the end.
fn remove_one(
    c: &Client,
    opened: &mut crate::store::Opened,
    name: &str,
    args: &Args,
) -> Result<()> {
    let record = opened.state.tenants.get(name).cloned();
    let mut done = Vec::new();
    // No new logins first: secret_ids, then the role itself.
    let accessors = ops::list_secret_id_accessors(c, name)?;
    for a in &accessors {
        ops::destroy_accessor(c, name, a)?;
    }
    if !accessors.is_empty() {
        done.push(format!("destroyed {} secret_id(s)", accessors.len()));
    }
    let had_role = c.get_opt(&crate::policy::role_path(name))?.is_some();
    let revoked = ops::revoke_tenant_tokens(c, name)?;
    ops::delete_tenant_objects(c, name)?;
    if had_role {
        done.push("deleted role and policy".into());
    }
    if revoked > 0 {
        done.push(format!("revoked {revoked} token(s)"));
    }
    let bundle = opened.layout.tenant(name);
    if bundle.exists() {
        std::fs::remove_dir_all(&bundle).map_err(|e| Error::io("remove", &bundle, e))?;
        done.push(format!("removed `{}`", opened.layout.rel(&bundle)));
    }
    if let (true, Some(rec)) = (args.purge, &record) {
        if let (Some(dir), Some(uid)) = (&rec.installed_to, rec.uid) {
            let user = crate::sys::users::lookup(name)?;
            if let Some(u) = user.filter(|u| u.uid == uid) {
                let rel = dir.strip_prefix(&u.home).unwrap_or(dir);
                let files = crate::layout::bundle_files(name);
                let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
                if fsx::remove_from_home(&u.home, rel, uid, &names)? {
                    done.push(format!("removed the copy in `{}`", dir.display()));
                }
            }
        }
    } else if let Some(dir) = record.as_ref().and_then(|r| r.installed_to.as_ref()) {
        ui::status(format!(
            "{name}: the copy in `{}` is left in place (its credentials no longer work); `--purge` removes it",
            dir.display()
        ));
    }
    if opened.state.tenants.remove(name).is_some() {
        opened.save()?;
    }
    if done.is_empty() {
        ui::out(format!("tenant {name} was not there: nothing to remove"))?;
    } else {
        ui::out(format!("removed tenant {name}: {}", done.join(", ")))?;
    }
    Ok(())
}
