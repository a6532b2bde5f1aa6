//! `vaultnet completions SHELL`: print a completion script to stdout.
//!
//! For bash, zsh, fish, elvish and PowerShell the script is a small
//! registration that asks vaultnet itself for candidates at each TAB
//! (clap's dynamic engine: the shell runs `COMPLETE=SHELL vaultnet -- …`),
//! so tenant names come from the site's `vaultnet.yaml` and profile names
//! from the profiles built in, and the script never goes stale against the
//! binary. Nushell gets a static script (flags and subcommands).

use std::ffi::OsStr;
use std::path::PathBuf;

use clap_complete::CompletionCandidate;
use clap_complete::env::EnvCompleter;

use crate::error::Result;

/// The environment variable the registered scripts set to ask for
/// candidates.
pub const VAR: &str = "COMPLETE";

/// Shells vaultnet completes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
    Nushell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Tenant names (`remove-user`, `renew`, `doctor --user`) and profile names are
completed from the state directory (`--dir` on the line, else the default)
and the built-in profiles, by vaultnet itself at each TAB.

EXAMPLES:
  vaultnet completions bash > /etc/bash_completion.d/vaultnet
  vaultnet completions zsh > \"${fpath[1]}/_vaultnet\"
  vaultnet completions fish > ~/.config/fish/completions/vaultnet.fish
  vaultnet completions nushell | save -f ~/.config/nushell/vaultnet.nu

EXIT CODES:
  0  the script was printed
  2  an unknown shell")]
pub struct Args {
    /// The shell to generate for
    pub shell: Shell,
}

/// `cli` is the whole command line definition the script completes.
pub fn run(args: Args, cli: clap::Command) -> Result<u8> {
    crate::ui::out_bytes(&script(args.shell, cli))?;
    Ok(0)
}

/// The completion script for `shell`.
pub fn script(shell: Shell, mut cmd: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    let dynamic: &dyn EnvCompleter = match shell {
        Shell::Bash => &clap_complete::env::Bash,
        Shell::Zsh => &clap_complete::env::Zsh,
        Shell::Fish => &clap_complete::env::Fish,
        Shell::Elvish => &clap_complete::env::Elvish,
        Shell::Powershell => &clap_complete::env::Powershell,
        Shell::Nushell => {
            clap_complete::generate(
                clap_complete_nushell::Nushell,
                &mut cmd,
                "vaultnet",
                &mut out,
            );
            return out;
        }
    };
    dynamic
        .write_registration(VAR, "vaultnet", "vaultnet", "vaultnet", &mut out)
        .expect("writing to memory");
    out
}

/// Answers a completion request (`COMPLETE=SHELL vaultnet -- WORDS…`)
/// and exits; returns at once when none is asked for.
pub fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(<crate::cli::Cli as clap::CommandFactory>::command)
        .var(VAR)
        .completer("vaultnet")
        .complete();
}

/// The `--dir` given on the line being completed, if any.
fn dir_on_the_line() -> Option<PathBuf> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--dir" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = a.to_str().and_then(|s| s.strip_prefix("--dir=")) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// Tenant names of the site that start with what is typed; none when the
/// state cannot be read (not initialised, not this user's).
pub fn tenant_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let env = crate::env::Env::capture();
    let dir = dir_on_the_line();
    let Ok(opened) = crate::store::open(&env, dir.as_deref(), false) else {
        return Vec::new();
    };
    opened
        .state
        .tenants
        .keys()
        .filter(|n| n.starts_with(typed))
        .map(CompletionCandidate::new)
        .collect()
}

/// The built-in profiles, each with its summary.
pub fn profile_names() -> Vec<CompletionCandidate> {
    crate::topology::profile::Profile::all()
        .into_iter()
        .map(|p| CompletionCandidate::new(p.name()).help(Some(p.summary.into())))
        .collect()
}
