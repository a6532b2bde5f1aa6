//! A program on a pseudo-terminal, driven the way a person types at it.
//!
//! [`Terminal::start`] runs a [`Cmd`] under util-linux `script`, which
//! gives it a real pty (so `isatty` is true and prompts are drawn) while
//! the test talks to `script` through plain pipes. A thread reads what the
//! terminal shows as it arrives; [`Terminal::wait_for`] blocks until a text
//! appears after everything already waited for, or fails at a deadline
//! showing all that was seen; [`Terminal::send`] types keys. A test waits
//! for each prompt before answering it, so it never depends on how fast
//! the program draws (no fixed sleeps), and a prompt that never comes
//! fails with the screen so far instead of an answer typed into the void.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::cmd::{Cmd, Output};

/// How long a prompt may take to appear, by default.
pub const PROMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the terminal showed so far, shared with the reader thread.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    closed: bool,
}

/// A program running on a pty; killed when dropped.
pub struct Terminal {
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    reader: Option<JoinHandle<()>>,
    /// Bytes of the screen already matched by `wait_for`.
    cursor: usize,
}

/// How a terminal session ended.
#[derive(Debug)]
pub struct Session {
    pub command: String,
    /// Exit code (`script -e` passes the program's on).
    pub code: Option<i32>,
    /// Everything the terminal showed, with `\r\n` as `\n` and colours
    /// (SGR sequences) taken out: the words, as a reader sees them.
    pub transcript: String,
    /// Everything the terminal showed, colours included.
    pub raw: String,
    /// The part of `transcript` after the last text waited for: what the
    /// program printed once the conversation was over.
    pub rest: String,
}

impl Session {
    /// [`Session::rest`] as an [`Output`] (as stdout; a terminal has one
    /// stream), to compare exactly with `support::expect`.
    pub fn rest_output(&self) -> Output {
        Output {
            command: format!("{} (on a terminal)", self.command),
            code: self.code,
            status: match self.code {
                Some(c) => format!("exit status: {c}"),
                None => "killed by a signal".into(),
            },
            stdout: self.rest.clone(),
            stderr: String::new(),
            timed_out: false,
        }
    }
}

impl Terminal {
    /// Starts `cmd` (program, arguments, scrubbed environment, `HOME`,
    /// namespace) on a fresh pty.
    #[track_caller]
    pub fn start(cmd: &Cmd) -> Terminal {
        let outer = cmd.on_terminal();
        let command = cmd.display();
        let mut child = outer
            .to_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // `script -q` writes only its own errors here; they belong
            // with what the terminal showed.
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", outer.display()));
        let screen = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        let stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped stdout");
        let err = child.stderr.take().expect("piped stderr");
        let reader = {
            let screen = Arc::clone(&screen);
            std::thread::spawn(move || pump(out, err, &screen))
        };
        Terminal {
            command,
            child,
            stdin,
            screen,
            reader: Some(reader),
            cursor: 0,
        }
    }

    /// Waits until `text` shows after what was already waited for, then
    /// moves past it. A `\n` in `text` matches the terminal's `\r\n`.
    /// Panics after `timeout`, or when the program ends first, with
    /// everything seen.
    #[track_caller]
    pub fn wait_for_within(&mut self, text: &str, timeout: Duration) {
        let needle = text.replace('\n', "\r\n");
        let deadline = Instant::now() + timeout;
        let (lock, ready) = &*self.screen;
        let mut screen = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(i) = find(&screen.bytes[self.cursor..], needle.as_bytes()) {
                self.cursor += i + needle.len();
                return;
            }
            let now = Instant::now();
            if screen.closed || now >= deadline {
                let why = if screen.closed {
                    "the terminal closed".to_string()
                } else {
                    format!("{timeout:?} passed")
                };
                let seen = show(&screen.bytes);
                drop(screen);
                panic!(
                    "waiting for {text:?} on the terminal of `{}`: {why}\n--- the terminal so far ---\n{seen}",
                    self.command
                );
            }
            screen = ready
                .wait_timeout(screen, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// [`Terminal::wait_for_within`] with [`PROMPT_TIMEOUT`].
    #[track_caller]
    pub fn wait_for(&mut self, text: &str) {
        self.wait_for_within(text, PROMPT_TIMEOUT);
    }

    /// Types `keys` (`\r` is Enter, `\x1b[B` the Down arrow).
    #[track_caller]
    pub fn send(&mut self, keys: &str) {
        let stdin = self.stdin.as_mut().expect("the terminal's input is open");
        stdin
            .write_all(keys.as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("typing {keys:?} into `{}`: {e}", self.command));
    }

    /// Waits for the program to exit (killing it after `timeout`, which
    /// fails the test) and returns how it ended with the whole transcript.
    #[track_caller]
    pub fn finish(mut self, timeout: Duration) -> Session {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let seen = self.join_reader();
                    panic!(
                        "`{}` did not exit within {timeout:?}\n--- the terminal ---\n{}",
                        self.command,
                        show(&seen)
                    );
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("wait for `{}`: {e}", self.command),
            }
        };
        let seen = self.join_reader();
        let text = |b: &[u8]| String::from_utf8_lossy(b).replace("\r\n", "\n");
        Session {
            command: self.command.clone(),
            code: status.code(),
            rest: strip_sgr(&text(&seen[self.cursor..])),
            transcript: strip_sgr(&text(&seen)),
            raw: text(&seen),
        }
    }

    /// Closes the input, waits for the reader to see the end of the
    /// output, and returns all of it.
    fn join_reader(&mut self) -> Vec<u8> {
        drop(self.stdin.take());
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let (lock, _) = &*self.screen;
        let screen = lock.lock().unwrap_or_else(|e| e.into_inner());
        screen.bytes.clone()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copies `script`'s stdout and stderr into `screen` as they arrive.
fn pump(
    mut out: impl Read + Send + 'static,
    mut err: impl Read + Send + 'static,
    screen: &Arc<(Mutex<Screen>, Condvar)>,
) {
    let append = |screen: &Arc<(Mutex<Screen>, Condvar)>, bytes: &[u8]| {
        let (lock, ready) = &**screen;
        lock.lock()
            .unwrap_or_else(|e| e.into_inner())
            .bytes
            .extend_from_slice(bytes);
        ready.notify_all();
    };
    let errors = {
        let screen = Arc::clone(screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = err.read(&mut buf) {
                append(&screen, &buf[..n]);
            }
        })
    };
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = out.read(&mut buf) {
        append(screen, &buf[..n]);
    }
    let _ = errors.join();
    let (lock, ready) = &**screen;
    lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    ready.notify_all();
}

/// `text` without its SGR sequences (`ESC [ … m`: colour and weight).
fn strip_sgr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\x1b[") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find(|c: char| !(c.is_ascii_digit() || c == ';')) {
            Some(j) if after[j..].starts_with('m') => rest = &after[j + 1..],
            _ => {
                out.push_str("\x1b[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The screen as text for a failure message: control characters other
/// than newlines shown escaped, carriage returns dropped.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' => "\n".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}
