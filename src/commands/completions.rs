//! `vaultnet completions SHELL`: print a completion script to stdout.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::error::Result;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "EXAMPLES:\n  vaultnet completions bash > /etc/bash_completion.d/vaultnet\n  vaultnet completions zsh > \"${fpath[1]}/_vaultnet\""
)]
pub struct Args {
    /// The shell to generate for
    pub shell: Shell,
}

pub fn run(args: Args) -> Result<u8> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "vaultnet", &mut std::io::stdout());
    Ok(0)
}
