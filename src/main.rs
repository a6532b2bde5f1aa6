//! Parse, run, print the error and its hint once, choose the exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match vaultnet::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match vaultnet::run(cli).and_then(|code| vaultnet::ui::flush().map(|()| code)) {
        Ok(code) => ExitCode::from(code),
        // The reader of the product went away (`| head`): nothing to say.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message());
            if let Some(h) = e.hint_text() {
                eprintln!("hint: {h}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
