//! vaultnet: secure access to one Vault/OpenBao server for many tenants on
//! one Linux host, each running rootless containers in its own NAT network.
//!
//! The binary is a thin shell over these modules; pure modules (`pki`,
//! `render`, `config`, `policy`, `topology`) do no printing, no environment
//! reads and no network I/O.

pub mod cli;
pub mod commands;
pub mod doctor;
pub mod env;
pub mod error;
pub mod layout;
pub mod outcome;
pub mod pki;
pub mod policy;
pub mod provision;
pub mod render;
pub mod secret;
pub mod settings;
pub mod state;
pub mod store;
pub mod sys;
pub mod topology;
pub mod ui;
pub mod vault;

use env::Env;
use error::Result;

/// Runs a parsed command line; the exit code is chosen by the caller.
pub fn run(cli: cli::Cli) -> Result<u8> {
    let env = Env::capture();
    ui::set_style(cli.color, env.no_color, cli.quiet, cli.verbose);
    match cli.command {
        cli::Command::Init(args) => commands::init::run(&env, cli.dir.as_deref(), *args),
        cli::Command::AddUser(args) => commands::add_user::run(&env, cli.dir.as_deref(), *args),
        cli::Command::RemoveUser(args) => {
            commands::remove_user::run(&env, cli.dir.as_deref(), args)
        }
        cli::Command::Renew(args) => commands::renew::run(&env, cli.dir.as_deref(), *args),
        cli::Command::Unwrap(args) => commands::unwrap::run(args),
        cli::Command::List(args) => commands::list::run(&env, cli.dir.as_deref(), args),
        cli::Command::Doctor(args) => commands::doctor::run(&env, cli.dir.as_deref(), args),
        cli::Command::Sites(args) => commands::sites::run(&env, cli.dir.as_deref(), args),
        cli::Command::Profiles(args) => commands::profiles::run(args),
        cli::Command::Completions(args) => {
            commands::completions::run(args, <cli::Cli as clap::CommandFactory>::command())
        }
    }
}
