//! Parse, run, print the error and its hint once, choose the exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // doctor's login probe, which doctor runs as a tenant's uid: not a
    // command of the CLI (no help, no completion), only this exact argv.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.len() == 2 && args[1] == vaultnet::doctor::vaultcfg::PROBE_COMMAND {
        return finish(vaultnet::commands::doctor::login_probe());
    }
    // A shell asking for completion candidates (`COMPLETE=bash vaultnet -- …`).
    vaultnet::commands::completions::answer_if_asked();
    let cli = match vaultnet::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    finish(vaultnet::run(cli))
}

/// The exit code of a run, its error and hint printed once.
fn finish(result: vaultnet::error::Result<u8>) -> ExitCode {
    match result.and_then(|code| vaultnet::ui::flush().map(|()| code)) {
        Ok(code) => ExitCode::from(code),
        // The reader of the product went away (`| head`): nothing to say.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            vaultnet::ui::error(e.message(), e.hint_text());
            ExitCode::from(e.exit_code())
        }
    }
}
