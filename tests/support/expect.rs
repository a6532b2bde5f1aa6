//! Exact expectations on a finished run, in the style of casey/just's
//! `tests/test.rs`: [`Expect`] names the exit code, the whole of stdout and
//! the whole of stderr, and a stream left unspecified must be empty. A test
//! that cannot know a stream says so with [`Expect::stdout_any`] /
//! [`Expect::stderr_any`] and a reason, so the weaker check is visible where
//! it is made.
//!
//! Before comparing, the actual output is redacted ([`redact`]), in this
//! order:
//!
//! 1. literal values the test passes with [`Expect::redact`] (its temporary
//!    directories, a random port, a tenant name with the test's pid, a
//!    lock holder's pid), longest first, each only where it stands as a
//!    whole word — `10.0.0.1` is not redacted inside `10.0.0.12`;
//! 2. the body of every PEM block, between its `-----BEGIN …-----` and
//!    `-----END …-----` lines (kept), becomes one line `[PEM]`;
//! 3. RFC 3339 timestamps (`2027-02-26T12:34:56Z`, with fractions and
//!    offsets) become `[TIME]`, then bare dates (`2027-02-26`) `[DATE]`;
//! 4. runs of exactly 32 hex digits (vaultnet's certificate serials, 16
//!    random bytes) become `[SERIAL]`.
//!
//! There is no generic rule for pids or other numbers: a test that expects
//! a pid in the output passes that pid with [`Expect::redact`], so the
//! comparison still proves it is the right one.
//!
//! On a mismatch the panic shows the command, its status, a line diff of
//! each stream that differs (`-` expected, `+` actual, after redaction) and
//! the redacted output in full.

use std::fmt::Write as _;
use std::path::Path;

use super::cmd::Output;

/// What one stream must hold.
#[derive(Clone, Debug)]
enum Stream {
    Exact(String),
    Any { why: String },
}

/// The exit code, stdout and stderr a run must produce.
#[derive(Clone, Debug)]
#[must_use = "an expectation does nothing until `Output::expect` checks it"]
pub struct Expect {
    code: i32,
    stdout: Stream,
    stderr: Stream,
    redactions: Vec<(String, String)>,
}

impl Expect {
    /// Exit `code`, nothing on stdout, nothing on stderr (add them).
    pub fn code(code: i32) -> Expect {
        Expect {
            code,
            stdout: Stream::Exact(String::new()),
            stderr: Stream::Exact(String::new()),
            redactions: Vec::new(),
        }
    }

    /// `Expect::code(0)`.
    pub fn success() -> Expect {
        Expect::code(0)
    }

    /// The whole of stdout, after redaction.
    pub fn stdout(mut self, text: impl Into<String>) -> Expect {
        self.stdout = Stream::Exact(text.into());
        self
    }

    /// The whole of stderr, after redaction.
    pub fn stderr(mut self, text: impl Into<String>) -> Expect {
        self.stderr = Stream::Exact(text.into());
        self
    }

    /// Accepts any stdout; `why` says why this test cannot know it (and
    /// shows in the failure message of the other checks).
    #[track_caller]
    pub fn stdout_any(mut self, why: &str) -> Expect {
        assert!(!why.trim().is_empty(), "stdout_any needs a reason");
        self.stdout = Stream::Any { why: why.into() };
        self
    }

    /// Accepts any stderr; `why` says why this test cannot know it.
    #[track_caller]
    pub fn stderr_any(mut self, why: &str) -> Expect {
        assert!(!why.trim().is_empty(), "stderr_any needs a reason");
        self.stderr = Stream::Any { why: why.into() };
        self
    }

    /// Replaces every whole-word occurrence of `value` in the actual output
    /// with `placeholder` before comparing (rule 1 of the module docs).
    /// An empty `value` is ignored.
    pub fn redact(mut self, value: impl ToString, placeholder: &str) -> Expect {
        let value = value.to_string();
        if !value.is_empty() {
            self.redactions.push((value, placeholder.to_string()));
        }
        self
    }

    /// [`Expect::redact`] for a path.
    pub fn redact_path(self, path: impl AsRef<Path>, placeholder: &str) -> Expect {
        let p = path.as_ref().display().to_string();
        self.redact(p, placeholder)
    }

    /// The exit code this expects.
    pub fn expected_code(&self) -> i32 {
        self.code
    }

    /// `text` as it is compared: redacted with this expectation's values.
    pub fn redacted(&self, text: &str) -> String {
        redact(text, &self.redactions)
    }

    /// `Ok` when `out` meets this expectation, else the whole report.
    pub fn check(&self, out: &Output) -> Result<(), String> {
        let stdout = self.redacted(&out.stdout);
        let stderr = self.redacted(&out.stderr);
        let code_ok = out.code == Some(self.code) && !out.timed_out;
        let stdout_diff = stream_diff(&self.stdout, &stdout);
        let stderr_diff = stream_diff(&self.stderr, &stderr);
        if code_ok && stdout_diff.is_none() && stderr_diff.is_none() {
            return Ok(());
        }
        let mut msg = String::new();
        let _ = writeln!(msg, "command: {}", out.command);
        let _ = write!(msg, "status: {}", out.status);
        if out.timed_out {
            let _ = write!(msg, " (killed after timeout)");
        }
        if code_ok {
            let _ = writeln!(msg, " (as expected)");
        } else {
            let _ = writeln!(msg, ", expected exit code {}", self.code);
        }
        for (name, want, diff) in [
            ("stdout", &self.stdout, &stdout_diff),
            ("stderr", &self.stderr, &stderr_diff),
        ] {
            match (want, diff) {
                (Stream::Any { why }, _) => {
                    let _ = writeln!(msg, "--- {name}: not compared ({why})");
                }
                (_, None) => {
                    let _ = writeln!(msg, "--- {name}: as expected");
                }
                (_, Some(d)) => {
                    let _ = writeln!(
                        msg,
                        "--- {name} differs (- expected, + actual, after redaction):\n{d}"
                    );
                }
            }
        }
        let _ = writeln!(msg, "--- stdout (redacted) ---\n{stdout}");
        let _ = write!(msg, "--- stderr (redacted) ---\n{stderr}");
        if !self.redactions.is_empty() {
            let _ = write!(msg, "\n--- redacted values ---");
            for (v, p) in &self.redactions {
                let _ = write!(msg, "\n{p} = {v}");
            }
        }
        Err(msg)
    }
}

impl Output {
    /// Panics with a diff unless the run matches `want` exactly (after
    /// redaction); returns the output, unredacted, for further checks.
    #[track_caller]
    pub fn expect(self, want: Expect) -> Output {
        if let Err(msg) = want.check(&self) {
            panic!("{msg}");
        }
        self
    }

    /// `expect(Expect::code(code).stdout(stdout).stderr(stderr))`, for a
    /// run with nothing to redact.
    #[track_caller]
    pub fn expect_exact(self, code: i32, stdout: &str, stderr: &str) -> Output {
        self.expect(Expect::code(code).stdout(stdout).stderr(stderr))
    }
}

/// `None` when `actual` meets `want`, else a readable diff.
fn stream_diff(want: &Stream, actual: &str) -> Option<String> {
    match want {
        Stream::Any { .. } => None,
        Stream::Exact(w) if w == actual => None,
        Stream::Exact(w) => Some(line_diff(w, actual)),
    }
}

// ------------------------------------------------------------ redaction

/// `text` with the rules of the module docs applied; `values` are
/// (literal, placeholder) pairs for rule 1.
pub fn redact(text: &str, values: &[(String, String)]) -> String {
    let mut values: Vec<&(String, String)> = values.iter().collect();
    // Longest first, so the state directory inside a temporary directory
    // gets its own placeholder.
    values.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
    let mut text = text.to_string();
    for (value, placeholder) in values {
        text = replace_words(&text, value, placeholder);
    }
    redact_scanned(&redact_pem(&text))
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Replaces `needle` where it is not glued to a word character on a side
/// where it itself begins or ends with one.
fn replace_words(text: &str, needle: &str, with: &str) -> String {
    let starts_word = needle.chars().next().is_some_and(is_word);
    let ends_word = needle.chars().next_back().is_some_and(is_word);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(needle) {
        let before = if i == 0 {
            prev
        } else {
            rest[..i].chars().next_back()
        };
        let after = rest[i + needle.len()..].chars().next();
        let glued = (starts_word && before.is_some_and(is_word))
            || (ends_word && after.is_some_and(is_word));
        if glued {
            // Step past one character and look again.
            let step = i + rest[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[..step]);
            prev = rest[..step].chars().next_back();
            rest = &rest[step..];
        } else {
            out.push_str(&rest[..i]);
            out.push_str(with);
            prev = needle.chars().next_back();
            rest = &rest[i + needle.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Every line strictly between a `-----BEGIN X-----` line and its
/// `-----END X-----` line becomes one `[PEM]` line. An unterminated block
/// is left as it is.
fn redact_pem(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out.push_str(line);
        i += 1;
        let Some(label) = line
            .trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        if let Some(j) = lines[i..].iter().position(|l| l.trim() == end) {
            if j > 0 {
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                out.push_str(&indent);
                out.push_str("[PEM]\n");
            }
            i += j;
        }
    }
    out
}

/// Rules 3 and 4, in one left-to-right scan.
fn redact_scanned(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    while i < b.len() {
        let boundary = i == 0 || !is_word_byte(b[i - 1]);
        if boundary && b[i].is_ascii_hexdigit() {
            let (placeholder, len) = if let Some(n) = timestamp_len(&b[i..]) {
                ("[TIME]", n)
            } else if let Some(n) = date_len(&b[i..]) {
                ("[DATE]", n)
            } else if let Some(n) = serial_len(&b[i..]) {
                ("[SERIAL]", n)
            } else {
                ("", 0)
            };
            if len > 0 {
                out.push_str(&text[copied..i]);
                out.push_str(placeholder);
                i += len;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn digits(b: &[u8], at: usize, n: usize) -> bool {
    b.len() >= at + n && b[at..at + n].iter().all(u8::is_ascii_digit)
}

/// `YYYY-MM-DD` not followed by a word character or another digit group.
fn date_len(b: &[u8]) -> Option<usize> {
    let shape = digits(b, 0, 4)
        && b.get(4) == Some(&b'-')
        && digits(b, 5, 2)
        && b.get(7) == Some(&b'-')
        && digits(b, 8, 2);
    let free = b.get(10).is_none_or(|&c| !is_word_byte(c));
    (shape && free).then_some(10)
}

/// `YYYY-MM-DD[Tt ]HH:MM:SS[.frac](Z|z|±HH:MM)`.
fn timestamp_len(b: &[u8]) -> Option<usize> {
    date_len(&b[..b.len().min(10)])?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let ok = digits(b, 11, 2)
        && b.get(13) == Some(&b':')
        && digits(b, 14, 2)
        && b.get(16) == Some(&b':')
        && digits(b, 17, 2);
    if !ok {
        return None;
    }
    let mut n = 19;
    if b.get(n) == Some(&b'.') && digits(b, n + 1, 1) {
        n += 1;
        while b.get(n).is_some_and(u8::is_ascii_digit) {
            n += 1;
        }
    }
    match b.get(n) {
        Some(b'Z' | b'z') => n += 1,
        Some(b'+' | b'-')
            if digits(b, n + 1, 2) && b.get(n + 3) == Some(&b':') && digits(b, n + 4, 2) =>
        {
            n += 6
        }
        _ => return None,
    }
    b.get(n).is_none_or(|&c| !is_word_byte(c)).then_some(n)
}

/// Exactly 32 hex digits, not part of a longer word.
fn serial_len(b: &[u8]) -> Option<usize> {
    let n = b.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    let free = b.get(n).is_none_or(|&c| !is_word_byte(c));
    (n == 32 && free).then_some(32)
}

// ----------------------------------------------------------------- diff

/// Lines of `want` and `got` as a diff: `-` only expected, `+` only
/// actual, ` ` both; two lines of context around each change. A line whose
/// difference would not show (trailing blanks, the final newline, control
/// characters) is printed quoted.
pub fn line_diff(want: &str, got: &str) -> String {
    let a: Vec<&str> = want.split_inclusive('\n').collect();
    let b: Vec<&str> = got.split_inclusive('\n').collect();
    // Common head and tail first: the quadratic part sees only the middle.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);

    // Longest common subsequence of the middle.
    let (n, m) = (am.len(), bm.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if am[i] == bm[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = a[..head].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push((' ', am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', am[i]));
            i += 1;
        } else {
            ops.push(('+', bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - tail..].iter().map(|l| (' ', *l)));

    const CONTEXT: usize = 2;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if !near(k) {
            if !skipped {
                out.push_str("  …\n");
                skipped = true;
            }
            continue;
        }
        skipped = false;
        let body = line.strip_suffix('\n');
        let plain = body.is_some_and(|l| {
            !l.ends_with([' ', '\t']) && !l.chars().any(|c| c.is_control() && c != '\t')
        });
        match body {
            Some(l) if plain || *op == ' ' => {
                let _ = writeln!(out, "{op} {l}");
            }
            _ => {
                let _ = writeln!(out, "{op} {line:?}");
            }
        }
    }
    out
}
