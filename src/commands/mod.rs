//! One module per subcommand: its arguments, then `run`. What several
//! commands share — opening an initialised state, the operator's client,
//! the nft gate — lives here.

pub mod add_user;
pub mod completions;
pub mod doctor;
pub mod init;
pub mod list;
pub mod profiles;
pub mod remove_user;
pub mod renew;
pub mod sites;
pub mod unwrap;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::store::Opened;
use crate::sys::fsx;
use crate::ui;
use crate::vault::ops;
use crate::vault::{Client, Health};

/// The version of every command's `--output json` (docs/json.md): raised
/// when a field is removed, renamed or changes its meaning; new fields
/// may appear without it.
pub const SCHEMA_VERSION: u32 = 1;

/// `--output` of reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// How commands that change Vault reach it as the operator.
#[derive(Debug, clap::Args)]
pub struct VaultArgs {
    /// File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Seconds to wait for Vault
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
}

/// The operator's client with a token, checked to be talking to an
/// unsealed, active server before anything is changed.
/// On a terminal, a request it leaves unanswered for a second shows
/// `waiting for Vault (N s)…` until the answer comes.
pub fn operator(env: &Env, opened: &Opened, vault: &VaultArgs) -> Result<Client> {
    ui::show_waits(env.utf8);
    let (token_file, timeout) = (
        vault.token_file.as_deref(),
        Duration::from_secs(vault.timeout),
    );
    let site = &opened.state.site;
    let prefix = site.flavor.env_prefix();
    let token = env.operator_token(token_file)?.ok_or_else(|| {
        Error::usage("no operator token").hint(format!(
            "set `{prefix}_TOKEN`, pass `--token-file FILE`, or log in so `~/.vault-token` exists"
        ))
    })?;
    let c = ops::operator_client(&opened.layout, site, Some(token), timeout)?;
    let cli = site.flavor.binary();
    match c.health()?.0 {
        Health::Active => Ok(c),
        Health::Sealed => Err(Error::failed(format!(
            "{} at {} is sealed",
            site.flavor.display_name(),
            site.vault_url()
        ))
        .hint(crate::vault::unseal_hint(cli))),
        Health::NotInitialized => Err(Error::failed(format!(
            "{} at {} is not initialised",
            site.flavor.display_name(),
            site.vault_url()
        ))
        .hint(format!("`{cli} operator init`, then `vaultnet init` again"))),
        other => Err(Error::failed(format!(
            "{} at {} is not active ({other:?})",
            site.flavor.display_name(),
            site.vault_url()
        ))
        .hint("point `--vault-listen` at the active node (`vaultnet init --vault-listen …`)")),
    }
}

/// Whether commands that rewrite the gate reload it in the kernel.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct GateArgs {
    /// Do not reload the nftables gate, even when it is loaded (it is reloaded by default)
    #[arg(long)]
    pub no_gate_reload: bool,
}

impl GateArgs {
    pub fn reload(&self) -> bool {
        !self.no_gate_reload
    }
}

/// Rewrites the host files from the tenants, saying which changed. A gate
/// loaded in the kernel is reloaded from its new file unless `reload` is
/// off; one that is not loaded is left to the operator, with what that
/// leaves open.
pub fn write_host_files(opened: &Opened, reload: bool) -> Result<()> {
    let (_, done) = crate::provision::host::write(&opened.layout, &opened.state)?;
    let live = crate::topology::Topology::new(&opened.state.site)?.live_gate();
    let gate_path = opened.layout.forwarder().join(crate::topology::gate::FILE);
    let mut gate_written = false;
    for (path, o) in crate::provision::host::outcomes(&opened.layout, &done) {
        let rel = opened.layout.rel(&path);
        if o.change == crate::outcome::Change::Removed {
            ui::status(&o.text);
        } else if let (Some(live), true) = (live, path == gate_path) {
            gate_written = true;
            let state = live.loaded();
            let reloaded = reload && state == crate::topology::gate::Loaded::Yes;
            if reloaded {
                live.reload(&path)?;
            }
            ui::status(crate::topology::gate::written_note(
                &rel, &path, state, reloaded,
            ));
        } else {
            ui::status(format!(
                "wrote `{rel}`: install it as `vaultnet init` printed"
            ));
        }
    }
    // A uid admitted for this run only: the file decides again.
    if let Some(live) = live
        && reload
        && !gate_written
        && live.admitted()
        && live.loaded() == crate::topology::gate::Loaded::Yes
    {
        live.reload(&gate_path)?;
    }
    Ok(())
}

/// Tenant names, from the command line and `--from FILE`.
#[derive(Debug, clap::Args)]
pub struct Names {
    /// Tenant names (Unix user names)
    #[arg(value_name = "NAME", add = clap_complete::ArgValueCompleter::new(completions::tenant_names))]
    pub names: Vec<String>,
    /// Read more names from FILE, one a line
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
}

impl Names {
    /// See [`collect_names`].
    /// `command` names the subcommand in the hint for an empty list.
    pub fn collect(&self, command: &str) -> Result<Vec<String>> {
        collect_names(command, &self.names, self.from.as_deref())
    }
}

/// Names from the command line and `--from FILE` (one a line; blank lines
/// and `#` comments skipped), in order, without repeats — all validated
/// before anything changes.
pub fn collect_names(command: &str, names: &[String], from: Option<&Path>) -> Result<Vec<String>> {
    let mut all: Vec<String> = names.to_vec();
    if let Some(f) = from {
        let bytes = fsx::read_limited(f, fsx::MAX_LIST_BYTES)?.ok_or_else(|| {
            Error::usage(format!("`{}` does not exist", f.display()))
                .hint("pass a file with one tenant name a line")
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::usage(format!("`{}` is not UTF-8 text", f.display()))
                .hint("pass a file with one tenant name a line")
        })?;
        for line in text.lines() {
            let t = line.trim_end_matches('\r');
            if t.trim().is_empty() || t.trim_start().starts_with('#') {
                continue;
            }
            all.push(t.to_string());
        }
    }
    let mut out = Vec::new();
    for n in all {
        crate::state::validate::tenant_name(&n)?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(Error::usage("no tenant name given").hint(format!(
            "pass one or more names, e.g. `vaultnet {command} alice`, or `--from FILE`"
        )));
    }
    Ok(out)
}
