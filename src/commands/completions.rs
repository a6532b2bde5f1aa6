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
    crate::ui::out_bytes(&script(args.shell));
    Ok(0)
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vaultnet", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scripts shipped in `completions/` for packagers match the CLI.
    /// Regenerate with `cargo run -- completions SHELL > completions/…`.
    #[test]
    fn shipped_completion_scripts_are_current() {
        for (shell, file) in [
            (Shell::Bash, "vaultnet.bash"),
            (Shell::Zsh, "_vaultnet"),
            (Shell::Fish, "vaultnet.fish"),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file);
            let shipped = std::fs::read(&path).unwrap_or_default();
            assert!(
                shipped == script(shell),
                "`completions/{file}` is stale: run `cargo run -- completions {shell} > completions/{file}`"
            );
        }
    }
}
