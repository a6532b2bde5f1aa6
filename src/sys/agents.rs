//! A tenant's running agents, reached as the tenant: the rootless Podman
//! containers labelled [`LABEL`]`=NAME` in the tenant's own Podman, told to
//! reload (SIGHUP) or restarted. Root runs `podman` through `runuser` with a
//! clean environment; nothing secret is passed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::users::UnixUser;

/// The label the bundle's compose service and Quadlet unit give the agent.
pub const LABEL: &str = "io.vaultnet.agent";

/// How long one `podman` call may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the agent must do to use renewed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nudge {
    /// SIGHUP: it reloads its TLS material (OpenBao's agent ≥ 2.6).
    Reload,
    /// A restart: it reads everything again.
    Restart,
}

/// What reaching a tenant's agents came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reached {
    /// Told, this many containers.
    Nudged(Nudge, usize),
    /// No agent of the tenant is running: it reads the new files when it starts.
    NotRunning,
    /// Could not look: why.
    NotReached(String),
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reached::Nudged(Nudge::Reload, n) => write!(f, "sent SIGHUP to {n} agent container(s)"),
            Reached::Nudged(Nudge::Restart, n) => write!(f, "restarted {n} agent container(s)"),
            Reached::NotRunning => {
                f.write_str("no agent running (it reads the new files when it starts)")
            }
            Reached::NotReached(why) => write!(f, "agent not reached: {why}"),
        }
    }
}

/// Finds the tenant's agent containers and nudges each.
pub fn reach(tenant: &str, user: &UnixUser, nudge: Nudge) -> Reached {
    if !rustix::process::geteuid().is_root() {
        return Reached::NotReached("only root can reach another user's containers".into());
    }
    let runtime = PathBuf::from(format!("/run/user/{}", user.uid));
    if !runtime.is_dir() {
        // No session, so no rootless Podman of the tenant is running.
        return Reached::NotRunning;
    }
    let filter = format!("label={LABEL}={tenant}");
    let ids = match podman(tenant, user, &runtime, &["ps", "-q", "--filter", &filter]) {
        Ok(out) => out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_string)
            .collect::<Vec<_>>(),
        Err(why) => return Reached::NotReached(why),
    };
    if ids.is_empty() {
        return Reached::NotRunning;
    }
    let mut args: Vec<&str> = match nudge {
        Nudge::Reload => vec!["kill", "--signal", "HUP"],
        Nudge::Restart => vec!["restart", "--time", "10"],
    };
    args.extend(ids.iter().map(String::as_str));
    match podman(tenant, user, &runtime, &args) {
        Ok(_) => Reached::Nudged(nudge, ids.len()),
        Err(why) => Reached::NotReached(why),
    }
}

/// `podman ARGS` as the tenant; its stdout, or why it failed (one line).
fn podman(tenant: &str, user: &UnixUser, runtime: &Path, args: &[&str]) -> Result<String, String> {
    podman_as(tenant, user, runtime, args).map_err(|e| match e {
        PodmanError::NotInstalled => "`podman` is not installed".into(),
        PodmanError::Failed(why) => why,
    })
}

/// Why `podman` as a tenant gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodmanError {
    /// There is no `podman` on the tenant's `PATH`.
    NotInstalled,
    /// It ran and failed, or could not be run: why, in one line.
    Failed(String),
}

/// `podman ARGS` as the tenant, with `XDG_RUNTIME_DIR=runtime`; its stdout.
pub fn podman_as(
    tenant: &str,
    user: &UnixUser,
    runtime: &Path,
    args: &[&str],
) -> Result<String, PodmanError> {
    let out = podman_output(tenant, user, runtime, args)?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    Err(PodmanError::Failed(format!(
        "`podman {}` failed: {}",
        args[0],
        why_line(&out.stderr)
    )))
}

/// `podman ARGS` as the tenant, with `XDG_RUNTIME_DIR=runtime`, whatever
/// its exit status: what it printed and how it ended. At most [`TIMEOUT`];
/// a `podman` missing from the tenant's `PATH` is [`PodmanError::NotInstalled`].
pub fn podman_output(
    tenant: &str,
    user: &UnixUser,
    runtime: &Path,
    args: &[&str],
) -> Result<std::process::Output, PodmanError> {
    use PodmanError::Failed;
    let runtime_dir = ("XDG_RUNTIME_DIR", runtime.display().to_string());
    let mut cmd = super::users::as_tenant(tenant, user, &[runtime_dir], "podman");
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Failed(format!("cannot run `runuser`: {e}")))?;
    // Both pipes are drained while it runs: a chatty podman never blocks.
    let out_reader = drain(child.stdout.take());
    let err_reader = drain(child.stderr.take());
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failed(format!(
                    "`podman {}` took longer than {}s",
                    args[0],
                    TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(Failed(format!("waiting for `podman`: {e}"))),
        }
    };
    let out = std::process::Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    };
    if out.status.code() == Some(127) {
        return Err(PodmanError::NotInstalled);
    }
    Ok(out)
}

/// Reads a pipe to its end on a thread of its own.
fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// The line of a program's stderr that says why it failed: the last
/// `Error…` line, else the last line; control characters dropped, at most
/// 200 characters.
pub fn why_line(stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| l.trim_start().starts_with("Error"))
        .or(lines.last())
        .copied()
        .unwrap_or("no message")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}
