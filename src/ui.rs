//! Talking to the user: the product on stdout, progress and "wrote" lines
//! on stderr, prompts only on a terminal. A failed write to stdout is an
//! error the caller returns: `main` ends quietly with status 0 on a closed
//! pipe (`| head`) and reports any other failure (`> /dev/full`).

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// `--color`: when the report and the errors are coloured (`auto`: on a
/// terminal, unless `NO_COLOR` is set or `TERM=dumb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// How this run talks: set once, from the global flags, before any
/// output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// Colour on stdout (the report) and on stderr (errors).
    pub color_out: bool,
    pub color_err: bool,
    /// `-q`: no status lines on stderr (errors still).
    pub quiet: bool,
    /// `-v`: more detail (doctor: every check).
    pub verbose: bool,
    /// `-vv`: each Vault request and where the token came from, on stderr.
    pub trace: bool,
}

static STYLE: OnceLock<Style> = OnceLock::new();

/// Sets this run's style from `--color`, `-q`, `-v` and `NO_COLOR`.
pub fn set_style(color: ColorChoice, no_color: bool, quiet: bool, verbose: u8) {
    let on = |terminal: bool| match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color,
    };
    let _ = STYLE.set(Style {
        color_out: on(std::io::stdout().is_terminal()),
        color_err: on(std::io::stderr().is_terminal()),
        quiet,
        verbose: verbose >= 1,
        trace: verbose >= 2,
    });
}

pub fn style() -> Style {
    STYLE.get().copied().unwrap_or_default()
}

/// The colours vaultnet uses, as ANSI SGR codes.
#[derive(Debug, Clone, Copy)]
pub enum Paint {
    Green,
    Yellow,
    Red,
    Dim,
    Bold,
}

/// `text` in `paint` when `on`, else as it is.
pub fn paint(text: &str, paint: Paint, on: bool) -> String {
    if !on {
        return text.to_string();
    }
    let code = match paint {
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "1;31",
        Paint::Dim => "2",
        Paint::Bold => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// With `-vv`: a line about what vaultnet does (a Vault request, where the
/// token came from) on stderr. Never a secret.
pub fn trace(line: impl AsRef<str>) {
    if style().trace {
        let _ = writeln!(std::io::stderr().lock(), "vaultnet: {}", line.as_ref());
    }
}

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

/// Writes a status line to stderr, unless `-q`. A closed stderr has
/// nobody to tell.
pub fn status(line: impl AsRef<str>) {
    if !style().quiet {
        let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
    }
}

/// The error and its hint, on stderr, whatever `-q` says.
pub fn error(message: &str, hint: Option<&str>) {
    let on = style().color_err;
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{} {message}", paint("error:", Paint::Red, on));
    if let Some(h) = hint {
        let _ = writeln!(e, "{} {h}", paint("hint:", Paint::Bold, on));
    }
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
