//! Talking to the user: the product on stdout, progress and "wrote" lines
//! on stderr, prompts only on a terminal. A closed stdout (a pipe to `head`)
//! ends the process quietly with status 0.

use std::io::{IsTerminal, Write};

/// Writes a line of the product to stdout.
pub fn out(line: impl AsRef<str>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = writeln!(o, "{}", line.as_ref())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Writes raw bytes of the product to stdout.
pub fn out_bytes(bytes: &[u8]) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_all(bytes).and_then(|()| o.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Writes a status line to stderr.
pub fn status(line: impl AsRef<str>) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line.as_ref());
}

/// Whether prompts may be shown: both stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
