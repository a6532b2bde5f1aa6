//! `doctor --probe`: Vault seen from a tenant's own containers. As the
//! tenant (`runuser`, its own rootless Podman, its own `containers.conf`),
//! a short-lived container of the site's agent image gets the bundle's
//! `extra_hosts` mapping and the bundle's CA and client certificate,
//! mounted read-only, and asks Vault's `sys/health` over mutual TLS through
//! the forwarder: the path the tenant's agent takes, network backend, gate
//! and all. Nothing secret is passed to Podman: the certificate is a file
//! the container reads, never an argument or a variable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Check;
use crate::layout::{self, Layout};
use crate::state::{HostMapping, Tenant};
use crate::sys::agents::{PodmanError, podman_output, why_line};
use crate::sys::fsx;
use crate::sys::podman::{self, Answer};
use crate::topology::Topology;

/// What a probe ran with: the tenant's rootless network as its Podman
/// says, and the mapping of the Vault name its bundle has (`--output json`:
/// `network` of the `probe.NAME` check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeNetwork {
    pub backend: String,
    pub podman: String,
    pub mapping: HostMapping,
    /// The `--add-host` entry, as the bundle's `extra_hosts` has it.
    pub extra_host: String,
}

/// Where the bundle's certificate files are in the container.
const MOUNT: &str = crate::render::bundle::BUNDLE_MOUNT;

/// Runs the probe for `name` (root only: it runs Podman as the tenant).
pub fn probe(
    layout: &Layout,
    topology: &Topology<'_>,
    name: &str,
    t: &Tenant,
    timeout: Duration,
) -> Check {
    let id = format!("probe.{name}");
    let title = format!("tenant `{name}`: Vault from its own containers");
    let Some(uid) = t.uid else {
        return Check::skip(id, title)
            .detail("no Unix user (`--no-unix-user`): no containers of its own to probe from");
    };
    let user = match crate::sys::users::lookup(name) {
        Ok(Some(u)) if u.uid == uid => u,
        Ok(Some(u)) => {
            return Check::fail(
                id,
                title,
                format!("run `vaultnet add-user {name}` to record its uid"),
            )
            .detail(format!(
                "Unix user `{name}` has uid {}, the state records {uid}",
                u.uid
            ));
        }
        Ok(None) => {
            return Check::skip(id, title)
                .detail(format!("there is no Unix user `{name}` on this machine"));
        }
        Err(e) => {
            return Check::fail(id, title, "check the user database (`getent passwd`)")
                .detail(e.message().to_string());
        }
    };
    if !rustix::process::geteuid().is_root() {
        return Check::fail(
            id,
            title,
            "run `vaultnet doctor --probe` as root: it runs the tenant's Podman as the tenant",
        )
        .detail("only root can run another user's Podman");
    }
    let (version, backend) = match podman::ask(name, &user) {
        Answer::Absent => {
            return Check::skip(id, title).detail(format!(
                "Podman is not installed for `{name}`: no containers to probe from"
            ));
        }
        Answer::Failed(why) => {
            return Check::fail(
                id,
                title,
                format!("run `podman info` as `{name}` and fix what it reports"),
            )
            .detail(format!("`{name}`'s Podman did not answer: {why}"));
        }
        Answer::Found { version, backend } => (version, backend),
    };
    let site = topology.site;
    let mapping = t
        .network
        .as_ref()
        .map(|n| n.mapping)
        .unwrap_or(topology.profile.host_mapping);
    let endpoint = topology.tenant_endpoint(name, t);
    let extra_host = endpoint.extra_host.clone().unwrap_or_default();
    let net = ProbeNetwork {
        backend: backend.clone(),
        podman: version.clone(),
        mapping,
        extra_host: extra_host.clone(),
    };
    let seen = format!("{backend} (Podman {version}), `--add-host {extra_host}`");
    let with = |c: Check| Check {
        network: Some(net.clone()),
        ..c
    };

    // The bundle's CA and certificate where the tenant's Podman can read
    // them: the installed copy, else a copy made for this probe.
    let files = match Files::for_tenant(layout, name, t, &user) {
        Ok(f) => f,
        Err(why) => {
            return with(
                Check::fail(
                    id,
                    title,
                    format!("run `vaultnet add-user {name}` (it repairs the bundle)"),
                )
                .detail(format!("{seen}: {why}")),
            );
        }
    };
    let prefix = site.flavor.env_prefix();
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--pull=never",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--user=0:0",
    ]
    .map(String::from)
    .to_vec();
    if !extra_host.is_empty() {
        args.push(format!("--add-host={extra_host}"));
    }
    args.extend([
        format!("--volume={}:{MOUNT}/ca.pem:ro", files.ca.display()),
        format!(
            "--volume={}:{MOUNT}/{}:ro",
            files.key.display(),
            layout::CLIENT_KEY
        ),
        format!("--env={prefix}_ADDR={}", endpoint.url),
        format!("--env={prefix}_CACERT={MOUNT}/ca.pem"),
        format!("--env={prefix}_CLIENT_CERT={MOUNT}/{}", layout::CLIENT_KEY),
        format!("--env={prefix}_CLIENT_KEY={MOUNT}/{}", layout::CLIENT_KEY),
        format!(
            "--env={prefix}_CLIENT_TIMEOUT={}ms",
            timeout.as_millis().max(1)
        ),
        format!("--env={prefix}_MAX_RETRIES=0"),
        format!("--entrypoint={}", site.flavor.image_binary_path()),
        site.agent_image.clone(),
        "read".into(),
        "-format=json".into(),
        // Any Vault that answers answers 200, and says what it is.
        "sys/health".into(),
        "standbyok=true".into(),
        "sealedcode=200".into(),
        "uninitcode=200".into(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let runtime = PathBuf::from(format!("/run/user/{}", user.uid));
    let out = podman_output(name, &user, &runtime, &argv);
    drop(files);
    let out = match out {
        Ok(o) => o,
        Err(PodmanError::NotInstalled) => {
            return Check::skip(id, title).detail(format!(
                "Podman is not installed for `{name}`: no containers to probe from"
            ));
        }
        Err(PodmanError::Failed(why)) => {
            return with(
                Check::fail(
                    id,
                    title,
                    format!("run `podman info` as `{name}` and fix what it reports"),
                )
                .detail(format!("{seen}: {why}")),
            );
        }
    };
    let why = why_line(&out.stderr);
    match out.status.code() {
        Some(0) => {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            let d = v.get("data").unwrap_or(&v);
            let state = match (d["sealed"].as_bool(), d["standby"].as_bool()) {
                (Some(true), _) => "sealed",
                (_, Some(true)) => "standby",
                (Some(false), _) => "active",
                _ => "state unknown",
            };
            let ver = d["version"].as_str().unwrap_or("?");
            with(Check::ok(id, title).detail(format!(
                "{seen}: Vault answered `sys/health` over mutual TLS through the forwarder ({} {ver}, {state})",
                site.flavor.binary()
            )))
        }
        // Podman's own failure: the container never ran.
        Some(125..=127) => {
            let hint = if why.contains("image not known") || why.contains("no such image") {
                format!(
                    "as `{name}`, `podman pull {}` (the agent image; the probe never pulls)",
                    site.agent_image
                )
            } else {
                format!("run `podman info` as `{name}` and fix what it reports")
            };
            with(
                Check::fail(id, title, hint)
                    .detail(format!("{seen}: the probe container did not start: {why}")),
            )
        }
        _ => {
            let hint = no_answer_hint(name, &backend, &version, mapping, topology, &why);
            let cause = cause(&backend, mapping, site.host_ip)
                .map(|c| format!(" — {c}"))
                .unwrap_or_default();
            with(
                Check::fail(id, title, hint)
                    .detail(format!("{seen}: no answer from Vault: {why}{cause}")),
            )
        }
    }
}

/// The fix when the request got no answer: the mapping that works on the
/// tenant's backend when the bundle has another, else what `add-user`
/// would say about that backend, else the bundle or the forwarder.
fn no_answer_hint(
    name: &str,
    backend: &str,
    version: &str,
    mapping: HostMapping,
    topology: &Topology<'_>,
    why: &str,
) -> String {
    let answer = Answer::Found {
        version: version.to_string(),
        backend: backend.to_string(),
    };
    let fits = crate::topology::tenant_network(
        name,
        topology.profile.host_mapping,
        None,
        None,
        Some(&answer),
    );
    match fits {
        Ok(n) if n.mapping != mapping => format!(
            "`vaultnet add-user {name} --host-mapping {}`, then restart `{name}`'s containers",
            n.mapping
        ),
        Err(e) => e.hint_text().unwrap_or("").to_string(),
        Ok(_) if why.contains("certificate") => {
            format!("run `vaultnet add-user {name}` (it repairs the bundle and Vault's side)")
        }
        Ok(_) => format!(
            "fix what the forwarder checks report; if they pass, look at the {} server log",
            topology.site.flavor.binary()
        ),
    }
}

/// Why a mapping cannot work on a backend, in words; `None` when it can.
fn cause(backend: &str, mapping: HostMapping, host_ip: std::net::IpAddr) -> Option<String> {
    match (backend, mapping) {
        ("pasta", HostMapping::Ip) => Some(format!(
            "under pasta the host address {host_ip} is the container's own address"
        )),
        ("slirp4netns", HostMapping::HostGateway) => Some(
            "under slirp4netns `host-gateway` is the host's loopback, which containers do not reach"
                .into(),
        ),
        _ => None,
    }
}

/// The bundle's `ca.pem` and `client-key.pem` where the tenant's Podman
/// reads them. A copy, when there is one, lives in a directory of its own
/// that only the tenant can read, and goes when this is dropped.
struct Files {
    ca: PathBuf,
    key: PathBuf,
    _copy: Option<CopyDir>,
}

/// A directory made for one probe, removed with what is in it when dropped
/// (without following links the tenant may have put there).
struct CopyDir(PathBuf);

impl Drop for CopyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Files {
    fn for_tenant(
        layout: &Layout,
        name: &str,
        t: &Tenant,
        user: &crate::sys::users::UnixUser,
    ) -> Result<Files, String> {
        if let Some(dir) = &t.installed_to
            && dir.join("ca.pem").is_file()
            && dir.join(layout::CLIENT_KEY).is_file()
        {
            return Ok(Files {
                ca: dir.join("ca.pem"),
                key: dir.join(layout::CLIENT_KEY),
                _copy: None,
            });
        }
        let src = layout.tenant(name);
        let read = |f: &str| match fsx::read_secret(&src.join(f), fsx::MAX_PEM_BYTES) {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(format!("`tenants/{name}/{f}` is missing")),
            Err(e) => Err(format!("`tenants/{name}/{f}`: {}", e.message())),
        };
        let (ca, key) = (read("ca.pem")?, read(layout::CLIENT_KEY)?);
        // A fresh name that `mkdir` creates (it never follows a link).
        let dir = std::env::temp_dir().join(format!(
            "vaultnet-probe-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("cannot make a directory for the probe's copy: {e}"))?;
        }
        let copy = CopyDir(dir);
        let own = |p: &Path, mode: u32| -> Result<(), String> {
            use std::os::unix::fs::PermissionsExt;
            std::os::unix::fs::chown(p, Some(user.uid), Some(user.gid))
                .and_then(|()| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)))
                .map_err(|e| format!("cannot hand the probe's copy to `{name}`: {e}"))
        };
        let write = |f: &str, data: &[u8]| -> Result<PathBuf, String> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let p = copy.0.join(f);
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
                .and_then(|mut file| file.write_all(data))
                .map_err(|e| format!("cannot copy `{f}` for the probe: {e}"))?;
            own(&p, 0o600)?;
            Ok(p)
        };
        let ca = write("ca.pem", &ca)?;
        let key = write(layout::CLIENT_KEY, &key)?;
        own(&copy.0, 0o700)?;
        Ok(Files {
            ca,
            key,
            _copy: Some(copy),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_that_cannot_work_on_its_backend_is_named() {
        let ip: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            cause("pasta", HostMapping::Ip, ip).as_deref(),
            Some("under pasta the host address 10.1.2.3 is the container's own address")
        );
        assert!(cause("slirp4netns", HostMapping::HostGateway, ip).is_some());
        assert_eq!(cause("pasta", HostMapping::HostGateway, ip), None);
        assert_eq!(cause("slirp4netns", HostMapping::Ip, ip), None);
    }
}
