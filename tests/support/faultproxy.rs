//! Faults between vaultnet and a real OpenBao, for the convergence tests
//! (SECURITY.md V3, S2, I3).
//!
//! A fixture built with `fault_proxy` has a `vaultnet.yaml` that points at
//! a proxy port while a real OpenBao (in-memory, initialised and unsealed)
//! listens on another loopback port, started from a copy of the listener
//! file `init` wrote with only the address changed. Between them runs
//! `tests/fixtures/faultproxy.py`: mutual TLS on both sides with the site's
//! own certificates, so vaultnet cannot tell it from Vault. The proxy counts
//! write requests and injects one [`Fault`] at the k-th — before the write
//! reaches Vault, or after it was applied so that only the answer is lost —
//! the faults a real server cannot be made to produce on cue (STYLE.md
//! "Tests"). Each run gets a fresh proxy (a fresh count); its log, one JSON
//! object per request without headers or bodies, tells the test what was
//! forwarded and where the fault struck.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cmd::is_scrubbed;
use super::fixture::Fixture;
use super::manifest_dir;

/// Time allowed for the proxy to listen after it was started.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// What the proxy does at the chosen write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: pass every request through (and count the writes).
    None,
    /// Answer this HTTP status with `{"errors":["injected"]}`.
    Status(u16),
    /// Answer 200 with the body `not json`.
    Malformed,
    /// Close the connection without an answer.
    Drop,
    /// Answer nothing for a minute (longer than any `--timeout` used here).
    Stall,
    /// Hold the request (before or after forwarding it) until
    /// [`FaultProxy::release`]; meanwhile the test acts (kills vaultnet,
    /// seals OpenBao).
    Hold,
}

/// One fault at one write: `at` counts POST, PUT, DELETE and PATCH
/// requests from 1; `applied` forwards the write to OpenBao first, so it
/// happened and only its answer is lost (or held).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inject {
    pub fault: Fault,
    pub at: usize,
    pub applied: bool,
    /// One request (`METHOD /v1/path?query`, as logged) answered with this
    /// status every time, never forwarded: an endpoint this Vault lacks
    /// (404) or whose operation it does not support (405).
    pub refuse: Option<(&'static str, u16)>,
}

impl Inject {
    /// Pass-through.
    pub fn none() -> Inject {
        Inject {
            fault: Fault::None,
            at: 0,
            applied: false,
            refuse: None,
        }
    }

    /// `fault` instead of write `at`: Vault never sees that write.
    pub fn before(fault: Fault, at: usize) -> Inject {
        Inject {
            fault,
            at,
            applied: false,
            refuse: None,
        }
    }

    /// Write `at` reaches Vault, then `fault` replaces its answer.
    pub fn after(fault: Fault, at: usize) -> Inject {
        Inject {
            fault,
            at,
            applied: true,
            refuse: None,
        }
    }

    /// Also answer `request` (`METHOD /v1/path?query`) with `status`,
    /// as a Vault without that endpoint would, every time it comes.
    pub fn refusing(self, request: &'static str, status: u16) -> Inject {
        Inject {
            refuse: Some((request, status)),
            ..self
        }
    }

    fn args(&self) -> Vec<String> {
        let (name, status) = match self.fault {
            Fault::None => ("none", None),
            Fault::Status(s) => ("status", Some(s)),
            Fault::Malformed => ("malformed", None),
            Fault::Drop => ("drop", None),
            Fault::Stall => ("stall", None),
            Fault::Hold => ("hold", None),
        };
        let mut a = vec![
            "--fault".to_string(),
            name.to_string(),
            "--at".to_string(),
            self.at.to_string(),
        ];
        if let Some(s) = status {
            a.extend(["--status".to_string(), s.to_string()]);
        }
        if self.applied {
            a.push("--apply".to_string());
        }
        if let Some((request, status)) = self.refuse {
            a.extend([
                "--refuse".to_string(),
                request.to_string(),
                "--refuse-status".to_string(),
                status.to_string(),
            ]);
        }
        a
    }
}

/// One request as the proxy logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `forwarded`, `upstream-failed`, `held`, `refused` (the request
    /// [`Inject::refusing`] names), or the fault's name (`status`,
    /// `malformed`, `drop`, `stall`).
    pub action: String,
    /// The write's number, `None` for reads.
    pub n: Option<usize>,
    pub method: String,
    /// Path and query, e.g. `/v1/auth/approle/role/vaultnet-alice/secret-id`.
    pub path: String,
    /// OpenBao's status, when the request was forwarded.
    pub upstream: Option<u16>,
    /// The client's source port: one per TCP connection.
    pub client_port: Option<u16>,
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.action, self.method, self.path)?;
        if let Some(n) = self.n {
            write!(f, " (write {n})")?;
        }
        if let Some(s) = self.upstream {
            write!(f, " -> {s}")?;
        }
        Ok(())
    }
}

/// The running proxy; killed when dropped.
pub struct FaultProxy {
    child: Option<Child>,
    inject: Inject,
    log: PathBuf,
    stderr: PathBuf,
    release: PathBuf,
    // Last: removed after the proxy is killed.
    dir: tempfile::TempDir,
}

impl FaultProxy {
    /// Starts the proxy on `listen` in front of OpenBao on `upstream`, with
    /// the TLS files of `site` (server certificate towards vaultnet,
    /// operator certificate towards OpenBao), and waits until it listens.
    #[track_caller]
    pub fn start(site: &Fixture, listen: u16, upstream: u16, inject: Inject) -> FaultProxy {
        let dir = tempfile::Builder::new()
            .prefix("vaultnet-faultproxy-")
            .tempdir()
            .expect("temp dir for the proxy");
        let log = dir.path().join("proxy.log");
        let stderr = dir.path().join("proxy.stderr");
        let release = dir.path().join("release");
        let mut cmd = Command::new("python3");
        cmd.arg(manifest_dir().join("tests/fixtures/faultproxy.py"))
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--upstream")
            .arg(upstream.to_string())
            .arg("--cert")
            .arg(site.path("vault/server.pem"))
            .arg("--key")
            .arg(site.path("vault/server-key.pem"))
            .arg("--ca")
            .arg(site.path("pki/ca.pem"))
            .arg("--client-cert")
            .arg(site.path("operator/client.pem"))
            .arg("--client-key")
            .arg(site.path("operator/client-key.pem"))
            .arg("--log")
            .arg(&log)
            .arg("--release")
            .arg(&release)
            .args(inject.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).expect("proxy stderr file"));
        for (name, _) in std::env::vars_os() {
            if is_scrubbed(&name) {
                cmd.env_remove(name);
            }
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?} (is python3 installed?): {e}"));
        let mut proxy = FaultProxy {
            child: Some(child),
            inject,
            log,
            stderr,
            release,
            dir,
        };
        proxy.wait_ready();
        proxy
    }

    #[track_caller]
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ready = std::fs::read_to_string(&self.log)
                .is_ok_and(|t| t.lines().any(|l| l.contains(r#""action": "ready""#)));
            if ready {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the fault proxy exited during start-up ({status})\n{}",
                    self.diagnostics()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "the fault proxy did not listen within {READY_TIMEOUT:?}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What this proxy injects.
    pub fn inject(&self) -> Inject {
        self.inject
    }

    /// Every request logged so far (the start-up line excluded).
    #[track_caller]
    pub fn events(&self) -> Vec<Event> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap_or_else(|e| panic!("proxy log line {l:?}: {e}"))
            })
            .filter(|v| v["action"] != "ready")
            .map(|v| Event {
                action: v["action"].as_str().unwrap_or_default().to_string(),
                n: v["n"].as_u64().map(|n| n as usize),
                method: v["method"].as_str().unwrap_or_default().to_string(),
                path: v["path"].as_str().unwrap_or_default().to_string(),
                upstream: v["upstream"].as_u64().map(|s| s as u16),
                client_port: v["client_port"].as_u64().map(|p| p as u16),
            })
            .collect()
    }

    /// The logged writes, in order.
    pub fn writes(&self) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.n.is_some())
            .collect()
    }

    /// The request the fault struck, if the run got that far.
    pub fn struck(&self) -> Option<Event> {
        let at = self.inject.at;
        self.events()
            .into_iter()
            .find(|e| e.n == Some(at) && e.action != "forwarded")
    }

    /// Waits until the proxy holds a request ([`Fault::Hold`]); returns it.
    #[track_caller]
    pub fn wait_held(&self, timeout: Duration) -> Event {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| e.action == "held") {
                return e;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the fault proxy held no request within {timeout:?}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Lets a held request go on.
    pub fn release(&self) {
        std::fs::write(&self.release, b"").expect("write the proxy's release file");
    }

    /// The log and stderr, for failure messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- fault proxy ({}) log ---\n{}--- stderr ---\n{}--- end of fault proxy ---",
            self.dir.path().display(),
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// The logged requests, one a line, for failure messages.
    pub fn transcript(&self) -> String {
        self.events().iter().map(|e| format!("  {e}\n")).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.diagnostics());
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Files under `dir` whose names mark an atomic write's temp file
/// (`.NAME.tmp-PID-RANDOM`), relative to `dir`.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if name.starts_with('.') && name.contains(".tmp-") {
                found.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
            }
        }
    }
    found.sort();
    found
}
