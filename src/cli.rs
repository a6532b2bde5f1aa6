//! The command line: global flags and the subcommands. Each subcommand's
//! own arguments live beside its `run` in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::commands;

const TOP_HELP: &str = "\
EXAMPLES:
  sudo vaultnet init                  # the CA, Vault's listener, the forwarder (asks on a terminal)
  sudo vaultnet add-user alice bob    # a certificate, policy, AppRole and bundle each
  vaultnet list                       # tenants and when their credentials expire
  sudo vaultnet doctor --login        # check the whole chain, logging in as each tenant

ENVIRONMENT:
  VAULTNET_DIR             the state directory when `--dir` is not given
                           [default: $XDG_DATA_HOME/vaultnet, else ~/.local/share/vaultnet]
  VAULT_TOKEN, BAO_TOKEN   the operator token (VAULT_TOKEN first) when `--token-file` is
                           not given; without any, ~/.vault-token; never passed to a child
  VAULT_ADDR, BAO_ADDR     not read: vaultnet reaches Vault at the address `init
                           --vault-listen` recorded; `init` prints the BAO_ADDR/VAULT_ADDR
                           (and the mutual-TLS variables) the `bao`/`vault` CLI needs
  LC_ALL, LC_CTYPE, LANG   a UTF-8 locale lets doctor show ✓ and ✗
  NO_COLOR                 set and not empty: no colour unless `--color always` (so is TERM=dumb)
  COMPLETE                 set by the completion scripts to ask for candidates

EXIT CODES:
  0  success
  1  the command ran and failed (doctor: a check failed)
  2  rejected before any change: bad usage, bad input, not initialised";

#[derive(Debug, Parser)]
#[command(
    name = "vaultnet",
    version = env!("VAULTNET_VERSION"),
    about = "Secure access to one Vault or OpenBao server for many rootless-container tenants on one host",
    long_about = "vaultnet gives each Unix user on this host, running rootless containers in its own \
NAT network, mutual-TLS access to one Vault or OpenBao server: a CA, the Vault listener, a host \
forwarder, and per tenant a client certificate, a least-privilege policy, an AppRole and an agent \
sidecar bundle.",
    after_help = TOP_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// State directory [default: the platform data directory, e.g. ~/.local/share/vaultnet]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Colour the report and errors: auto (on a terminal, unless NO_COLOR is set), always or never
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t)]
    pub color: crate::ui::ColorChoice,
    /// Print only the product and errors: no progress or "wrote" lines (doctor: only what warned or failed)
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail (doctor: every check); twice (-vv): also each Vault request (method, URL, status, time) and where the operator token came from, never a secret
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the CA, the Vault listener and the host forwarder, and bootstrap Vault
    Init(Box<commands::init::Args>),
    /// Give tenants a certificate, policy, AppRole and agent bundle
    AddUser(Box<commands::add_user::Args>),
    /// Take tenants' access away and remove their bundles
    RemoveUser(commands::remove_user::Args),
    /// Renew whatever is due — certificates, secret_ids — and reach running agents
    Renew(Box<commands::renew::Args>),
    /// (For tenants) turn a bundle's response-wrapped secret_id into the plain one its agent reads, once
    Unwrap(commands::unwrap::Args),
    /// List tenants with certificate and secret_id expiry
    List(commands::list::Args),
    /// Check the whole chain and say exactly what is broken and how to fix it
    Doctor(commands::doctor::Args),
    /// Trust other sites whose tenants share this site's raft cluster
    Sites(commands::sites::Args),
    /// List the built-in deployment patterns (profiles) and what each writes
    Profiles(commands::profiles::Args),
    /// Print a shell completion script
    Completions(commands::completions::Args),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_subcommand_help_has_examples_and_the_changing_ones_exit_codes() {
        let mut cli = Cli::command();
        cli.build();
        for sub in cli.get_subcommands_mut() {
            let name = sub.get_name().to_string();
            if name == "help" {
                continue;
            }
            let help = sub.render_long_help().to_string();
            assert!(
                help.contains("EXAMPLES:"),
                "`vaultnet {name} --help` has no EXAMPLES"
            );
            assert!(
                help.contains("EXIT CODES:"),
                "`vaultnet {name} --help` has no EXIT CODES"
            );
        }
    }

    /// The scripts shipped in `completions/` for packagers match the CLI.
    /// Regenerate with `cargo run -- completions SHELL > completions/…`.
    #[test]
    fn shipped_completion_scripts_are_current() {
        use crate::commands::completions::Shell;
        for (shell, file) in [
            (Shell::Bash, "vaultnet.bash"),
            (Shell::Zsh, "_vaultnet"),
            (Shell::Fish, "vaultnet.fish"),
            (Shell::Nushell, "vaultnet.nu"),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file);
            let shipped = std::fs::read(&path).unwrap_or_default();
            assert!(
                shipped == crate::commands::completions::script(shell, Cli::command()),
                "`completions/{file}` is stale: run `cargo run -- completions {shell:?} > completions/{file}`"
            );
        }
    }

    /// The manual pages in `man/`: `vaultnet.1` and one per subcommand
    /// (`vaultnet-init.1`, …), rendered from the same definitions as
    /// `--help`. `VAULTNET_BLESS=1 cargo test --lib man_pages` rewrites
    /// them.
    fn man_pages() -> Vec<(String, Vec<u8>)> {
        // The release, not the commit: the pages change with the CLI only.
        let mut cli = Cli::command().version(env!("CARGO_PKG_VERSION"));
        cli.build();
        let mut pages = Vec::new();
        let render = |cmd: clap::Command| {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .date("")
                .render(&mut out)
                .expect("render a manual page");
            out
        };
        pages.push(("vaultnet.1".to_string(), render(cli.clone())));
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("vaultnet-{}", sub.get_name());
            let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
            let cmd = sub
                .clone()
                .name(static_name)
                .bin_name(format!("vaultnet {}", sub.get_name()));
            pages.push((format!("{name}.1"), render(cmd)));
        }
        pages
    }

    #[test]
    fn man_pages_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
        let pages = man_pages();
        if std::env::var_os("VAULTNET_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&dir).unwrap() {
                std::fs::remove_file(entry.unwrap().path()).unwrap();
            }
            for (name, page) in &pages {
                std::fs::write(dir.join(name), page).unwrap();
            }
        }
        let mut shipped: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        shipped.sort();
        let mut want: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
        want.sort();
        assert_eq!(
            shipped, want,
            "`man/` has other pages than the CLI: run `VAULTNET_BLESS=1 cargo test --lib man_pages`"
        );
        for (name, page) in &pages {
            let on_disk = std::fs::read(dir.join(name)).unwrap();
            assert!(
                &on_disk == page,
                "`man/{name}` is stale: run `VAULTNET_BLESS=1 cargo test --lib man_pages`"
            );
            let text = String::from_utf8_lossy(page);
            assert!(
                text.starts_with(".ie \\n(.g .ds Aq") || text.contains(".TH "),
                "{name}"
            );
            assert!(text.contains("EXAMPLES"), "`man/{name}` has no EXAMPLES");
        }
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
