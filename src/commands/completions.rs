//! `vaultnet completions SHELL`: print a completion script to stdout.

use clap_complete::Shell;

use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n  vaultnet completions bash > /etc/bash_completion.d/vaultnet\n  vaultnet completions zsh > \"${fpath[1]}/_vaultnet\""
)]
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
    clap_complete::generate(shell, &mut cmd, "vaultnet", &mut out);
    out
}
