//! `vaultnet sites`: the other sites whose tenants use this site's raft
//! cluster. Each is trusted by name with its CAs (`pki/sites/NAME.pem`);
//! the nodes' listeners trust `pki/clients.pem`, this site's CAs and
//! every other site's. The work is `provision::sites`; this file is the
//! arguments and the words.

use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::Result;
use crate::provision::sites;
use crate::ui;

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet sites list
  vaultnet sites add b /tmp/site-b-trust.pem   # site b's `pki/trust.pem`
  vaultnet sites remove b

EXIT CODES:
  0  listed, trusted or no longer trusted (restart the nodes one at a time)
  2  bad usage, not a site that runs a cluster; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List the other sites this cluster's nodes trust
    List,
    /// Trust another site's CAs on every node, so its tenants can log in
    Add {
        /// The site's name, as it was given to its `init --site-name`
        #[arg(value_name = "NAME")]
        name: String,
        /// Its CAs: the other site's `pki/trust.pem`
        #[arg(value_name = "CA_FILE")]
        ca: PathBuf,
    },
    /// Trust a site no more (its tenants' Vault objects are its own to remove)
    Remove {
        /// The site's name, as `vaultnet sites list` shows it
        #[arg(value_name = "NAME")]
        name: String,
    },
}

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let lock = !matches!(args.action, Action::List);
    let mut opened = crate::store::open(env, dir_flag, lock)?;
    sites::runs_cluster(&opened.state.site)?;
    let clients = opened.layout.rel(&opened.layout.clients()).into_owned();
    let restart = |what: &str| {
        format!(
            "{what} once each node restarts: it reads `{clients}` only when it starts. Restart the nodes one at a time, standbys first, unsealing each."
        )
    };
    match args.action {
        Action::List => {
            let list = sites::list(&opened)?;
            if list.is_empty() {
                ui::out("no other site shares this cluster")?;
            }
            for s in list {
                ui::out(format!(
                    "{}: CA `{}` (expires {}) in `{}`",
                    s.name, s.ca, s.expires, s.file
                ))?;
            }
        }
        Action::Add { name, ca } => {
            let done = sites::add(&mut opened, &name, &ca, &mut |o| ui::status(&o.text))?;
            match done {
                None => ui::out(format!("site `{name}` is trusted already: nothing changed"))?,
                Some(s) => {
                    ui::out(format!(
                        "trusted site `{name}`: CA `{}` (expires {}) in `{}`",
                        s.ca, s.expires, s.file
                    ))?;
                    ui::out(restart("its tenants can log in"))?;
                }
            }
        }
        Action::Remove { name } => {
            sites::remove(&mut opened, &name, &mut |o| ui::status(&o.text))?;
            ui::out(format!("site `{name}` is no longer trusted"))?;
            ui::out(restart("its certificates are refused"))?;
            ui::out(format!(
                "Its tenants' Vault objects (`vaultnet-{name}.*`) are that site's: remove its tenants there with `vaultnet remove-user`."
            ))?;
        }
    }
    Ok(0)
}
