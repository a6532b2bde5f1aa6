//! Talking to the user: the product on stdout, progress and "wrote" lines
//! on stderr, prompts only on a terminal. A failed write to stdout is an
//! error the caller returns: `main` ends quietly with status 0 on a closed
//! pipe (`| head`) and reports any other failure (`> /dev/full`).

use std::io::{IsTerminal, Write};

use crate::error::{Error, Result};

/// Writes a line of the product to stdout.
pub fn out(line: impl AsRef<str>) -> Result<()> {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{}", line.as_ref()).map_err(Error::output)
}

/// Writes raw bytes of the product to stdout.
pub fn out_bytes(bytes: &[u8]) -> Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(bytes)
        .and_then(|()| o.flush())
        .map_err(Error::output)
}

/// Flushes what is left of the product.
pub fn flush() -> Result<()> {
    std::io::stdout().lock().flush().map_err(Error::output)
}

/// Writes a status line to stderr. A closed stderr has nobody to tell.
pub fn status(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
}

/// Whether prompts may be shown: both stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a yes/no question on the terminal, `no` unless answered `y`.
pub fn confirm(question: &str) -> Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| {
            Error::usage(format!("prompt aborted: {e}"))
                .hint("answer the question, or pass `--yes`")
        })
}

/// Goes on with a destructive step only when confirmed: by `yes`, or on a
/// terminal by the user's answer to `question`; without a terminal,
/// refuses with `what` and a hint naming `--yes`. Nothing has changed when
/// it refuses (exit 2).
pub fn confirm_destruction(yes: bool, what: &str, question: &str, rerun: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !interactive() {
        return Err(Error::usage(what.to_string()).hint(format!("confirm with `--yes`: {rerun}")));
    }
    status(what);
    if confirm(question)? {
        return Ok(());
    }
    Err(
        Error::usage("not confirmed: nothing was changed").hint(format!(
            "run it again and answer `y`, or confirm with `--yes`: {rerun}"
        )),
    )
}

/// A progress bar on stderr for `n` steps, only on a terminal and when
/// `wanted` (not for machine-readable output), and only for two or more.
pub fn progress(n: usize, wanted: bool) -> Option<indicatif::ProgressBar> {
    if n < 2 || !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(n as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    Some(b)
}
