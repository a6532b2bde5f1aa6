//! Running programs — above all the `vaultnet` binary — from tests.
//!
//! [`Cmd`] is a small builder in the style of ripgrep's `tests/util.rs`: it
//! starts the program with a scrubbed environment (no `VAULT_*`, `BAO_*` or
//! `VAULTNET_*` variables leak in from the developer's shell, nor the
//! locale or terminal width, and `HOME` points at a directory the test
//! owns), optionally inside a network namespace, feeds it stdin, and
//! collects an [`Output`]. Tests compare it exactly with `Output::expect`
//! (`support::expect`); [`Output::expect_code`] and the `contains` checks
//! are the looser tools the harness's self-test is built from. Each
//! prints everything needed to debug a failure.
//! Every run has a timeout so a program waiting on a prompt or a dead server
//! fails the test instead of hanging the suite.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Prefixes of variables removed from the inherited environment: the first
/// three would change which server, token or config the program under test
/// uses; `LC_*` would change its text (doctor prints ✓ only in a UTF-8
/// locale), so output compared exactly would depend on the developer's
/// session. A test that wants UTF-8 sets `LC_ALL=C.UTF-8` itself.
pub const SCRUBBED_PREFIXES: &[&str] = &["VAULT_", "BAO_", "VAULTNET_", "LC_"];

/// Variables removed so that per-user directories derive from the test's
/// `HOME` rather than from the developer's session, the locale is the
/// program's default (`C`) unless the test sets one, and help and usage
/// errors are wrapped at clap's default width rather than at the
/// developer's terminal (`COLUMNS`).
pub const SCRUBBED_VARS: &[&str] = &[
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "LANG",
    "LANGUAGE",
    "COLUMNS",
    // Colour is the test's choice (`--color`, `NO_COLOR`, a terminal).
    "NO_COLOR",
    "TERM",
];

/// Default time a command may run before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// True if an inherited variable of this name must not reach the program.
pub fn is_scrubbed(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    SCRUBBED_PREFIXES.iter().any(|p| name.starts_with(p)) || SCRUBBED_VARS.contains(&&*name)
}

/// Builder for one program run.
#[derive(Clone, Debug)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    env: Vec<(OsString, OsString)>,
    home: Option<PathBuf>,
    netns: Option<String>,
    launcher: Option<Vec<OsString>>,
    cwd: Option<PathBuf>,
    timeout: Duration,
}

impl Cmd {
    /// The `vaultnet` binary that cargo built for this test run.
    pub fn vaultnet() -> Cmd {
        Cmd::new(env!("CARGO_BIN_EXE_vaultnet"))
    }

    /// Any program; used for `vaultnet` via [`Cmd::vaultnet`], and for
    /// `/bin/sh` in the harness self-test.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: PathBuf::from(program.as_ref()),
            args: Vec::new(),
            stdin: None,
            env: Vec::new(),
            home: None,
            netns: None,
            launcher: None,
            cwd: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Bytes written to the program's stdin (then closed). Without it stdin
    /// is `/dev/null`, so an unexpected prompt sees EOF instead of hanging.
    pub fn stdin(&mut self, input: impl AsRef<[u8]>) -> &mut Cmd {
        self.stdin = Some(input.as_ref().to_vec());
        self
    }

    /// An extra variable, set after scrubbing (so `VAULT_ADDR` set here does
    /// reach the program).
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Cmd {
        self.env
            .push((key.as_ref().to_owned(), val.as_ref().to_owned()));
        self
    }

    /// `HOME` for the program: normally a `tempfile::TempDir` of the test.
    pub fn home(&mut self, dir: impl AsRef<Path>) -> &mut Cmd {
        self.home = Some(dir.as_ref().to_owned());
        self
    }

    /// Run inside this network namespace (`ip netns exec NAME …`).
    pub fn netns(&mut self, name: impl Into<String>) -> &mut Cmd {
        self.netns = Some(name.into());
        self
    }

    /// Run through `launcher`, as `LAUNCHER… DIR PROGRAM ARGS…`: a program
    /// that enters another root (`support::tree`), changes to DIR there
    /// (the [`Cmd::current_dir`], else `/`) and execs the rest. It takes
    /// the place of [`Cmd::netns`]: the launcher enters the namespace too.
    pub fn within(&mut self, launcher: Vec<OsString>) -> &mut Cmd {
        self.launcher = Some(launcher);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    pub fn timeout(&mut self, timeout: Duration) -> &mut Cmd {
        self.timeout = timeout;
        self
    }

    /// This command run on a pseudo-terminal: util-linux `script -q -e -c
    /// LINE /dev/null` with the same environment, `HOME`, namespace and
    /// directory (`script` passes its environment on). `SHELL` is set to
    /// `/bin/sh`, which `script` runs LINE with, and `TERM` to a plain
    /// `xterm`, so neither comes from the developer's session. Driven by
    /// `support::pty::Terminal`.
    pub fn on_terminal(&self) -> Cmd {
        let line = std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|w| shell_quote(&w.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let mut outer = self.clone();
        outer.program = PathBuf::from("script");
        outer.args = ["-q", "-e", "-c", &line, "/dev/null"]
            .iter()
            .map(OsString::from)
            .collect();
        outer.stdin = None;
        outer.env("SHELL", "/bin/sh").env("TERM", "xterm");
        outer
    }

    /// The command line as a shell would show it, for failure messages.
    pub fn display(&self) -> String {
        let mut words = Vec::new();
        if let Some(l) = &self.launcher {
            words.extend(l.iter().map(|w| w.to_string_lossy().into_owned()));
            words.push(self.dir_inside().display().to_string());
        } else if let Some(ns) = &self.netns {
            words.extend(["ip", "netns", "exec", ns.as_str()].map(String::from));
        }
        words.push(self.program.display().to_string());
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `std::process::Command` this builder describes (stdio not set).
    pub fn to_command(&self) -> Command {
        let mut cmd = match (&self.launcher, &self.netns) {
            (Some(l), _) => {
                let mut c = Command::new(&l[0]);
                c.args(&l[1..]).arg(self.dir_inside()).arg(&self.program);
                c
            }
            (None, Some(ns)) => {
                // `ip netns exec` execs the program (same pid) and keeps the
                // environment, so scrubbing below still applies to it.
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(&self.program);
                c
            }
            (None, None) => Command::new(&self.program),
        };
        cmd.args(&self.args);
        for (name, _) in std::env::vars_os() {
            if is_scrubbed(&name) {
                cmd.env_remove(name);
            }
        }
        if let Some(home) = &self.home {
            cmd.env("HOME", home);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let (Some(dir), None) = (&self.cwd, &self.launcher) {
            cmd.current_dir(dir);
        }
        cmd
    }

    /// Where a launched program starts: the working directory, else `/`.
    fn dir_inside(&self) -> PathBuf {
        self.cwd.clone().unwrap_or_else(|| PathBuf::from("/"))
    }

    /// Runs the program to completion (or until the timeout, when it is
    /// killed and [`Output::timed_out`] is set).
    #[track_caller]
    pub fn run(&self) -> Output {
        let mut cmd = self.to_command();
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.display()));

        // Feed stdin and drain both pipes on their own threads: a program
        // that fills one pipe while we block on another would deadlock.
        let stdin_thread = match (child.stdin.take(), self.stdin.clone()) {
            (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
                // A program may exit without reading all of its input;
                // the broken pipe is not the test's concern.
                let _ = pipe.write_all(&input);
            })),
            _ => None,
        };
        let stdout_thread = drain(child.stdout.take());
        let stderr_thread = drain(child.stderr.take());

        let deadline = Instant::now() + self.timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait for killed child");
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("wait for `{}`: {e}", self.display()),
            }
        };
        if let Some(t) = stdin_thread {
            let _ = t.join();
        }
        let stdout = stdout_thread.join().expect("stdout reader");
        let stderr = stderr_thread.join().expect("stderr reader");
        Output {
            command: self.display(),
            code: status.code(),
            status: status.to_string(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            timed_out,
        }
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // A grandchild may keep the pipe open after a timeout kill; we
            // accept whatever arrived before it closes.
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Quotes a word for a POSIX shell: for display, and for the command line
/// [`Cmd::on_terminal`] hands to `script`.
fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What a finished run produced.
#[derive(Clone, Debug)]
pub struct Output {
    /// The command line, for messages.
    pub command: String,
    /// Exit code; `None` when killed by a signal (including the timeout).
    pub code: Option<i32>,
    /// Human-readable exit status.
    pub status: String,
    pub stdout: String,
    pub stderr: String,
    /// True when the run hit its timeout and was killed.
    pub timed_out: bool,
}

impl Output {
    /// Panics, showing everything about the run, unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Output {
        if self.code != Some(code) || self.timed_out {
            panic!("expected exit code {code}\n{self}");
        }
        self
    }

    /// Shorthand for `expect_code(0)`.
    #[track_caller]
    pub fn expect_success(self) -> Output {
        self.expect_code(0)
    }

    /// Panics unless stdout contains `needle`.
    #[track_caller]
    pub fn expect_stdout_contains(self, needle: &str) -> Output {
        if !self.stdout.contains(needle) {
            panic!("expected stdout to contain {needle:?}\n{self}");
        }
        self
    }

    /// Panics unless stderr contains `needle`.
    #[track_caller]
    pub fn expect_stderr_contains(self, needle: &str) -> Output {
        if !self.stderr.contains(needle) {
            panic!("expected stderr to contain {needle:?}\n{self}");
        }
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        write!(f, "status: {}", self.status)?;
        if self.timed_out {
            write!(f, " (killed after timeout)")?;
        }
        writeln!(f)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}
