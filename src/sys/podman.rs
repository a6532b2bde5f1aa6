//! What a tenant's own Podman says about the network its rootless
//! containers get, asked as the tenant (its `~/.config/containers` may
//! choose): the version (`podman --version`) and, from Podman 4.4 on, where
//! the choice exists, the rootless network command (`podman info`). Before
//! 4.4 rootless Podman always used slirp4netns. Nothing is written; Podman
//! may start its per-user pause process, as any Podman command of the
//! tenant's would.

use std::path::PathBuf;

use super::agents::{PodmanError, podman_as};
use super::users::UnixUser;

/// The answer of a tenant's Podman.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// No `podman` for the tenant: the bundle is for another machine.
    Absent,
    /// Podman could not be asked, or failed: why, in one line.
    Failed(String),
    /// The version (`5.4.2`) and the rootless network (`pasta`, `slirp4netns`).
    Found { version: String, backend: String },
}

/// Asks `tenant`'s Podman, as the tenant (root only: `runuser`).
pub fn ask(tenant: &str, user: &UnixUser) -> Answer {
    if !rustix::process::geteuid().is_root() {
        return Answer::Failed("only root can ask another user's Podman".into());
    }
    let runtime = PathBuf::from(format!("/run/user/{}", user.uid));
    let run = |args: &[&str]| podman_as(tenant, user, &runtime, args);
    let version = match run(&["--version"]) {
        Ok(out) => match out.split_whitespace().last() {
            Some(v) if parse_version(v).is_some() => v.to_string(),
            _ => return Answer::Failed(format!("`podman --version` said `{}`", out.trim())),
        },
        Err(PodmanError::NotInstalled) => return Answer::Absent,
        Err(PodmanError::Failed(why)) => return Answer::Failed(why),
    };
    if parse_version(&version).is_some_and(|v| v < (4, 4)) {
        return Answer::Found {
            version,
            backend: "slirp4netns".into(),
        };
    }
    match run(&["info", "--format", "{{.Host.RootlessNetworkCmd}}"]) {
        Ok(out) => Answer::Found {
            version,
            backend: out.trim().to_string(),
        },
        Err(PodmanError::NotInstalled) => Answer::Absent,
        Err(PodmanError::Failed(why)) => Answer::Failed(why),
    }
}

/// `(major, minor)` of a Podman version such as `5.4.2` or `5.3.0-rc1`.
pub fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert_eq!(parse_version("5.4.2"), Some((5, 4)));
        assert_eq!(parse_version("5.3.0-rc1"), Some((5, 3)));
        assert_eq!(parse_version("4.3.1"), Some((4, 3)));
        assert!(parse_version("4.3.1").unwrap() < (4, 4));
        assert_eq!(parse_version("dev"), None);
        assert_eq!(parse_version("5"), None);
    }
}
