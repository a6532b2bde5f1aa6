//! The one error type of vaultnet: what went wrong, the exact fix as a hint,
//! and the exit code the process ends with. Messages are lower-case, names
//! and paths in backticks; no message ever carries secret material.

use std::fmt;
use std::path::Path;

/// Exit codes are a public contract (DESIGN.md): 0 success, 1 ran and
/// failed, 2 rejected before any change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad usage, bad input or missing prerequisite: nothing was changed.
    Usage,
    /// The command ran and something failed.
    Failed,
}

#[derive(Debug)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    /// The reader of stdout went away: not a failure of the command.
    broken_pipe: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Failed,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    /// A failed write of the product to stdout.
    pub fn output(err: std::io::Error) -> Self {
        let mut e = Self::failed(format!("cannot write the output: {err}"));
        e.broken_pipe = err.kind() == std::io::ErrorKind::BrokenPipe;
        e
    }

    /// Whether the error is only that stdout's reader went away (`| head`).
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done: `cannot write `x`: …`.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Usage => 2,
            Kind::Failed => 1,
        }
    }

    /// An I/O failure on `path`, with the hint a user needs for the usual causes.
    pub fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        let hint = match err.kind() {
            std::io::ErrorKind::PermissionDenied => {
                Some("run as a user that may write there, or choose another `--dir`".to_string())
            }
            std::io::ErrorKind::ReadOnlyFilesystem => {
                Some("choose a writable state directory with `--dir`".to_string())
            }
            _ => None,
        };
        let mut e = Self::failed(format!("cannot {what} `{}`: {err}", path.display()));
        e.hint = hint;
        e
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for mapping I/O results onto [`Error::io`].
pub trait IoContext<T> {
    fn io_ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}
