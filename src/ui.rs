//! Talking to the user: the product on stdout, progress and "wrote" lines
//! on stderr, prompts only on a terminal. A failed write to stdout is an
//! error the caller returns: `main` ends quietly with status 0 on a closed
//! pipe (`| head`) and reports any other failure (`> /dev/full`).
//!
//! On a terminal, stderr may also carry a progress bar ([`progress`]),
//! above which status lines are printed so they never scroll through it,
//! and a notice while a request to Vault goes unanswered ([`waiting`]).

use std::io::{IsTerminal, Write};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

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

/// Writes a status line to stderr, above the progress bar when one is
/// shown, unless `-q`. A closed stderr has nobody to tell.
pub fn status(line: impl AsRef<str>) {
    if style().quiet {
        return;
    }
    match lock(&BAR).as_ref() {
        Some(shown) => shown.bar.println(line.as_ref()),
        None => {
            let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
        }
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

/// The progress bar on the screen, and its message without the wait.
struct Shown {
    bar: indicatif::ProgressBar,
    message: String,
}

static BAR: Mutex<Option<Shown>> = Mutex::new(None);

/// A progress bar on stderr; status lines go above it while it is shown.
pub struct Progress(());

impl Progress {
    /// What the bar names now (the tenant being worked on).
    pub fn set_message(&self, message: &str) {
        if let Some(shown) = lock(&BAR).as_mut() {
            shown.message = message.to_string();
            shown.bar.set_message(message.to_string());
        }
    }

    pub fn inc(&self) {
        if let Some(shown) = lock(&BAR).as_ref() {
            shown.bar.inc(1);
        }
    }
}

impl Drop for Progress {
    /// Clears the bar: what follows is printed where it was.
    fn drop(&mut self) {
        if let Some(shown) = lock(&BAR).take() {
            shown.bar.finish_and_clear();
        }
    }
}

/// A progress bar on stderr for `n` steps, only on a terminal and when
/// `wanted` (not for machine-readable output), and only for two or more.
pub fn progress(n: usize, wanted: bool) -> Option<Progress> {
    if n < 2 || !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .expect("valid template"),
    );
    *lock(&BAR) = Some(Shown {
        bar,
        message: String::new(),
    });
    Some(Progress(()))
}

/// How long a request goes unanswered before the notice shows.
const WAIT_NOTICE_AFTER: Duration = Duration::from_secs(1);

/// The notice of requests waiting for Vault, once [`show_waits`] turned it
/// on (stderr is a terminal); a thread draws it.
struct Waits {
    state: Mutex<Wait>,
    wake: Condvar,
    ellipsis: &'static str,
}

#[derive(Default)]
struct Wait {
    /// Requests sent and not yet answered.
    in_flight: usize,
    /// When the first of them was sent.
    since: Option<Instant>,
    /// Whether the notice is on the screen.
    shown: bool,
}

static WAITS: OnceLock<Waits> = OnceLock::new();

/// Turns on the notice of [`waiting`] for this run when stderr is a
/// terminal; without one it stays off (nothing is ever drawn into a pipe
/// or a log).
pub fn show_waits(utf8: bool) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let waits = Waits {
        state: Mutex::new(Wait::default()),
        wake: Condvar::new(),
        ellipsis: if utf8 { "…" } else { "..." },
    };
    if WAITS.set(waits).is_ok() {
        std::thread::spawn(|| WAITS.get().expect("set above").draw_while_waiting());
    }
}

/// A request to Vault under way: while it goes unanswered for more than a
/// second, a terminal shows `waiting for Vault (N s)…`, counting, on
/// stderr (in the progress bar's message when there is one). Dropping it —
/// the answer or the failure came — clears the notice before anything
/// else is printed.
pub struct Waiting(bool);

pub fn waiting() -> Waiting {
    let Some(w) = WAITS.get() else {
        return Waiting(false);
    };
    let mut s = lock(&w.state);
    s.in_flight += 1;
    if s.since.is_none() {
        s.since = Some(Instant::now());
    }
    w.wake.notify_all();
    Waiting(true)
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(w) = WAITS.get().filter(|_| self.0) else {
            return;
        };
        let mut s = lock(&w.state);
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 {
            s.since = None;
            if s.shown {
                s.shown = false;
                w.notice(None);
            }
            w.wake.notify_all();
        }
    }
}

impl Waits {
    /// The drawing thread: sleeps until a request has waited a second,
    /// then redraws the notice each whole second until it is answered.
    fn draw_while_waiting(&self) {
        let mut s = lock(&self.state);
        loop {
            let Some(since) = s.since else {
                s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let waited = since.elapsed();
            if waited >= WAIT_NOTICE_AFTER {
                s.shown = true;
                self.notice(Some(waited.as_secs()));
            }
            let next = Duration::from_secs(waited.as_secs() + 1) - waited;
            s = self
                .wake
                .wait_timeout(s, next)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Draws the notice for `secs` seconds of waiting, or clears it.
    fn notice(&self, secs: Option<u64>) {
        let text = secs.map(|n| format!("waiting for Vault ({n} s){}", self.ellipsis));
        if let Some(shown) = lock(&BAR).as_ref() {
            shown.bar.set_message(match text {
                Some(t) if shown.message.is_empty() => t,
                Some(t) => format!("{}: {t}", shown.message),
                None => shown.message.clone(),
            });
            return;
        }
        // `\r` and erase-line: the notice stays on one line and leaves none.
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[2K{}", text.unwrap_or_default());
        let _ = e.flush();
    }
}
