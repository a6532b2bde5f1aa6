//! Unix users: tenants are existing accounts with a non-system uid
//! (SECURITY.md I1). Reads the passwd database and `/etc/login.defs`.

use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixUser {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// `UID_MIN` from `/etc/login.defs`, else 1000.
pub fn uid_min() -> u32 {
    std::fs::read_to_string("/etc/login.defs")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut f = l.split_whitespace();
                (f.next() == Some("UID_MIN"))
                    .then(|| f.next().and_then(|v| v.parse().ok()))
                    .flatten()
            })
        })
        .unwrap_or(1000)
}

pub fn lookup(name: &str) -> Result<Option<UnixUser>> {
    let u = nix::unistd::User::from_name(name)
        .map_err(|e| Error::failed(format!("cannot read the user database: {e}")))?;
    Ok(u.map(|u| UnixUser {
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        home: u.dir,
    }))
}

/// The tenant's Unix account, which must exist and not be a system account.
pub fn require_tenant_user(name: &str) -> Result<UnixUser> {
    let Some(u) = lookup(name)? else {
        return Err(Error::usage(format!("there is no Unix user `{name}`"))
            .hint(format!("create it first (`useradd -m {name}`), or pass `--no-unix-user` for a tenant without an account")));
    };
    let min = uid_min();
    if u.uid < min || u.uid == 65534 {
        return Err(Error::usage(format!(
            "Unix user `{name}` has uid {}, a system account (tenants need uid >= {min})",
            u.uid
        ))
        .hint("choose a regular user as the tenant"));
    }
    Ok(u)
}

/// A command run as the tenant: `runuser -u NAME -- env -i HOME=… USER=…
/// LOGNAME=… PATH=… [VARS…] PROGRAM`, from `/`, stdin closed. `runuser`
/// gives it the tenant's uid and groups (none of root's left) and `env -i`
/// a clean environment: nothing of the caller's, nothing secret. Add the
/// program's arguments to it.
pub fn as_tenant(
    name: &str,
    user: &UnixUser,
    vars: &[(&str, String)],
    program: impl AsRef<std::ffi::OsStr>,
) -> std::process::Command {
    let mut c = std::process::Command::new("runuser");
    c.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .args(["-u", name, "--", "env", "-i"])
        .arg(format!("HOME={}", user.home.display()))
        .arg(format!("USER={name}"))
        .arg(format!("LOGNAME={name}"))
        .arg("PATH=/usr/local/bin:/usr/bin:/bin");
    for (k, v) in vars {
        c.arg(format!("{k}={v}"));
    }
    c.arg(program)
        .current_dir("/")
        .stdin(std::process::Stdio::null());
    c
}
