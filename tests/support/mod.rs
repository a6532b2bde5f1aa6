//! Shared support code for the integration tests.
//!
//! The suite runs against real software (OpenBao, forwarders, network
//! namespaces) that the tests start themselves; see "Real components in
//! tests" in the design notes. This module holds the gate that decides
//! whether such end-to-end tests run (`VAULTNET_E2E=1`), and a few small
//! helpers used by the submodules: [`cmd`] runs programs (the `vaultnet`
//! binary above all) in a scrubbed environment, [`expect`] compares a run's
//! exit code, stdout and stderr exactly (after redacting dates, serials, PEM
//! bodies and the test's own paths), [`netns`] builds network
//! namespaces playing the host and its tenants, and [`openbao`] starts,
//! initialises and unseals a real OpenBao server. [`fixture`] is the one
//! fixture every test builds on: a vaultnet site of the test's own, taken
//! as far as the test needs — offline, in a namespace playing the host,
//! with OpenBao, the forwarder, tenants and the nft gate, or behind the
//! fault-injecting mTLS proxy of [`faultproxy`] — which runs `vaultnet` for
//! the site, reads its state and calls Vault as root.
//! [`snapshot`] records a state directory to prove a run changed nothing;
//! [`init`] holds what `init` says, [`tenant`] what `add-user`,
//! `remove-user` and `list` say, and [`doctor`] reads `doctor`'s report.
//! [`tenant`] also makes throw-away Unix users, requests made the way a
//! tenant makes them, and runs `bao agent` unchanged from a bundle;
//! [`podman`] makes tenant users with rootless Podman, images imported
//! without a registry, and a `podman-compose` they can run.
//! [`tree`] enters the Debian 13 tree (Podman 5.4, pasta) as a second host.
//! [`pty`] drives a program on a pseudo-terminal, waiting for each prompt.

// Not every test uses every helper, and each test file only sees the ones
// it calls: without this, every unused helper would warn.
#![allow(dead_code)]

pub mod cluster;
pub mod cmd;
pub mod doctor;
pub mod expect;
pub mod faultproxy;
pub mod fixture;
pub mod init;
pub mod netns;
pub mod openbao;
pub mod podman;
pub mod pty;
pub mod snapshot;
pub mod tenant;
pub mod tree;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Name of the variable that switches the end-to-end tests on.
pub const E2E_VAR: &str = "VAULTNET_E2E";

/// True when the end-to-end tests (root, namespaces, real servers) must run.
///
/// Only the exact value `1` counts, so that `VAULTNET_E2E=0` or an empty
/// value does not switch them on by accident.
pub fn e2e_required() -> bool {
    std::env::var_os(E2E_VAR).is_some_and(|v| v == "1")
}

/// Gate for tests that need root and network namespaces.
///
/// Returns `true` when the test should go on. Without `VAULTNET_E2E=1` it
/// prints why the test is skipped and returns `false`; with it, a missing
/// prerequisite panics, because a CI run that silently skips its end-to-end
/// tests would look green while testing nothing.
///
/// Prefer the [`require_e2e!`] macro, which returns from the test itself.
#[track_caller]
#[must_use]
pub fn require_root_or_skip(why: &str) -> bool {
    if !e2e_required() {
        eprintln!("skipped: {why} (set {E2E_VAR}=1)");
        return false;
    }
    if let Err(problem) = e2e_prerequisites() {
        panic!("{E2E_VAR}=1 but the end-to-end prerequisites are missing: {problem}");
    }
    true
}

/// Returns from the calling test (after printing why) unless the end-to-end
/// tests are enabled; panics if they are enabled but root or `ip netns` is
/// missing. Use as `support::require_e2e!("starts OpenBao in a namespace");`.
macro_rules! require_e2e {
    ($why:expr) => {
        if !$crate::support::require_root_or_skip($why) {
            return;
        }
    };
}
pub(crate) use require_e2e;

/// Checks once per process that we are root and that `ip netns` works.
///
/// The result is cached: every e2e test calls the gate, and the answer
/// cannot change while the tests run.
fn e2e_prerequisites() -> Result<(), String> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let uid = effective_uid()?;
            if uid != 0 {
                return Err(format!("not running as root (euid {uid})"));
            }
            let out = Command::new("ip")
                .args(["netns", "list"])
                .output()
                .map_err(|e| format!("cannot run `ip netns list`: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "`ip netns list` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            forwarder_user()
        })
        .clone()
}

/// The system user the gate names as the forwarder's identity must exist
/// for `nft -f` to load the gate; made as `vaultnet init` tells operators
/// to make it (a system account, no home, no shell). Other tests may be
/// running `useradd` at the same moment: a locked passwd is retried.
fn forwarder_user() -> Result<(), String> {
    let user = vaultnet::render::forwarder::USER;
    for _ in 0..50 {
        if nix::unistd::User::from_name(user).ok().flatten().is_some() {
            return Ok(());
        }
        let _ = Command::new("useradd")
            .args(["--system", "--no-create-home", "--home-dir", "/nonexistent"])
            .args(["--shell", "/usr/sbin/nologin", user])
            .output();
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("cannot create the system user `{user}`"))
}

/// The effective uid, read from `/proc/self/status` (the crate forbids
/// `unsafe`, so no `geteuid()`).
fn effective_uid() -> Result<u32, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|euid| euid.parse().ok())
        .ok_or_else(|| "no Uid line in /proc/self/status".to_string())
}

/// The repository root (where `Cargo.toml` is).
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Polls `probe` every `interval` until it returns `Some`, or panics with
/// `what` and the last error once `timeout` has passed.
///
/// Servers started by the tests need a moment before they answer; a bounded
/// poll keeps a broken server from hanging the suite.
#[track_caller]
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}: {e}")
            }
            Err(_) => std::thread::sleep(interval),
        }
    }
}

/// Writes `contents` to `path` with mode 0600, creating parent directories.
///
/// Keys and tokens written by tests should not be world-readable even on a
/// throw-away machine: tenants (other Unix users) run in some tests.
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all(contents.as_ref())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Runs a helper program to completion and panics with its output if it
/// fails. For setup steps (`ip`, `openssl`, …) whose failure means the test
/// environment is broken, not that vaultnet is.
#[track_caller]
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
