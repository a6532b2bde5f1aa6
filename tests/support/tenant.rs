//! Tenants for the `add-user` / `remove-user` / `list` tests: throw-away
//! Unix users, requests made the way a tenant makes them (through the
//! forwarder, from a tenant namespace, with the bundle's client
//! certificate), and [`Agent`]: `bao
//! agent` run unchanged from a bundle, in a chroot laid out the way the
//! bundle's `compose.yaml` declares the container (bundle mounted
//! read-only, tmpfs for the token and the rendered secrets, `extra_hosts`
//! as the chroot's `/etc/hosts`). At the end: what `add-user`,
//! `remove-user` and `list` print, for exact comparisons.

use std::fs::File;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::expect::Expect;
use super::fixture::Fixture;
use super::netns::TenantNs;
use super::openbao::{OpenBao, bao_binary};

/// `useradd` and `userdel` lock `/etc/passwd`; parallel tests take turns.
static PASSWD: Mutex<()> = Mutex::new(());

/// A tenant name unique to this process: `vnt<pid><tag>`.
pub fn tenant_name(tag: &str) -> String {
    let name = format!("vnt{}{tag}", std::process::id());
    assert!(name.len() <= 31, "tenant name {name} too long");
    name
}

/// A Unix account made for one test (`useradd -m`), deleted with its home
/// (`userdel -r`) when dropped.
#[derive(Debug)]
pub struct UnixUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl UnixUser {
    /// Creates `vnt<pid><tag>`; a stale account of that name (left by a
    /// crashed run that had our pid) is deleted first.
    #[track_caller]
    pub fn create(tag: &str) -> UnixUser {
        let name = tenant_name(tag);
        if nix::unistd::User::from_name(&name).ok().flatten().is_some() {
            userdel(&name);
        }
        passwd_tool(Command::new("useradd").args(["-m", "-s", "/bin/sh", &name]));
        let u = nix::unistd::User::from_name(&name)
            .expect("read passwd")
            .unwrap_or_else(|| panic!("useradd made no user {name}"));
        UnixUser {
            name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
        }
    }
}

impl Drop for UnixUser {
    fn drop(&mut self) {
        userdel(&self.name);
    }
}

fn userdel(name: &str) {
    let _guard = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..50 {
        let out = Command::new("userdel")
            .args(["-r", name])
            .stdin(Stdio::null())
            .output();
        match out.map(|o| o.status.code()) {
            // 1 and 10: the passwd or group file is locked (another
            // process adds a user): try again.
            Ok(Some(1)) | Ok(Some(10)) => std::thread::sleep(Duration::from_millis(50)),
            _ => return,
        }
    }
}

/// Runs `useradd`-like tools under the lock, retrying while another process
/// holds `/etc/passwd`. Every helper that makes Unix users goes through it.
#[track_caller]
pub fn passwd_tool(cmd: &mut Command) {
    let _guard = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = None;
    for _ in 0..50 {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        if out.status.success() {
            return;
        }
        if !matches!(out.status.code(), Some(1) | Some(10)) {
            panic!(
                "{cmd:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        last = Some(out);
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = last.expect("ran");
    panic!(
        "{cmd:?} kept failing ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One request the way a tenant makes it: `curl` inside the tenant's
/// namespace (its `/etc/hosts` maps the DNS name), at the URL of the
/// bundle's `agent.json`, through the forwarder, with the bundle's client
/// certificate. Token and body go through a config on stdin, never argv.
#[track_caller]
pub fn tenant_request(
    ns: &TenantNs,
    bundle: &Path,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let agent: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle.join("agent.json")).unwrap())
            .expect("agent.json is JSON");
    let base = agent["vault"]["address"].as_str().expect("vault.address");
    let mut config = String::new();
    let mut opt = |k: &str, v: &str| config.push_str(&format!("{k} = {}\n", quote(v)));
    opt("url", &format!("{base}/v1/{path}"));
    opt("request", method);
    opt("cacert", &bundle.join("ca.pem").to_string_lossy());
    opt("cert", &bundle.join("client.pem").to_string_lossy());
    opt("key", &bundle.join("client-key.pem").to_string_lossy());
    opt("max-time", "20");
    opt("write-out", "\n%{http_code}");
    if let Some(t) = token {
        opt("header", &format!("X-Vault-Token: {t}"));
    }
    if let Some(b) = body {
        opt("header", "Content-Type: application/json");
        opt("data-raw", &b.to_string());
    }
    config.push_str("silent\nshow-error\n");
    let mut child = ns
        .command("curl")
        .args(["-q", "--config", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start curl");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("curl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl {method} {path} from the tenant namespace failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let (text, code) = stdout.rsplit_once('\n').expect("status line");
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    };
    (code.trim().parse().expect("status code"), body)
}

/// Quotes a value for a curl config file (`--config`).
fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    format!("\"{escaped}\"")
}

/// Single-quotes a word for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `extra_hosts` entries of the bundle's agent service, as
/// (name, address) pairs.
#[track_caller]
pub fn extra_hosts(compose: &Value) -> Vec<(String, IpAddr)> {
    compose["services"]["vault-agent"]["extra_hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("agent service without extra_hosts: {compose}"))
        .iter()
        .map(|e| {
            let e = e.as_str().expect("extra_hosts entry is a string");
            let (name, addr) = e
                .split_once(':')
                .unwrap_or_else(|| panic!("extra_hosts entry {e:?}"));
            let addr = addr
                .parse()
                .unwrap_or_else(|_| panic!("extra_hosts entry {e:?} maps to no IP"));
            (name.to_string(), addr)
        })
        .collect()
}

/// `bao agent` run from a bundle, with its config unchanged, in a chroot
/// that gives it the in-container paths the bundle's `compose.yaml`
/// declares, inside a tenant namespace. Killed when dropped.
pub struct Agent<'a> {
    ns: &'a TenantNs,
    pid: u32,
    log: PathBuf,
    // The chroot (`root/`) and `agent.log`; removed after the agent is
    // killed (fields drop after `Drop::drop`).
    _base: tempfile::TempDir,
}

impl<'a> Agent<'a> {
    /// Lays out the chroot from `compose` (the bundle's, parsed) and starts
    /// the agent service's entrypoint and command in it, in `ns`:
    /// the bundle volume bind-mounted read-only from `bundle`, the named
    /// secrets volume and every `tmpfs` entry as tmpfs, the `bao` binary at
    /// the entrypoint's path, `extra_hosts` as `/etc/hosts`, and the
    /// service's `environment`.
    #[track_caller]
    pub fn start(ns: &'a TenantNs, bundle: &Path, compose: &Value) -> Agent<'a> {
        let svc = &compose["services"]["vault-agent"];
        let base = tempfile::Builder::new()
            .prefix("vaultnet-agent-")
            .tempdir()
            .expect("temp dir for the agent");
        let r = &base.path().join("root");
        let mut script = String::from("set -e\n");
        let mkdir = |p: &Path| {
            std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()))
        };
        mkdir(&r.join("etc"));

        // Volumes: `${VAULTNET_BUNDLE:-…}:/vaultnet:ro` and named volumes.
        for v in svc["volumes"].as_array().expect("agent volumes") {
            let v = v.as_str().expect("short volume syntax");
            let (src, rest) = if v.starts_with("${") {
                let end = v.find('}').expect("closing brace") + 1;
                (&v[..end], v[end..].trim_start_matches(':'))
            } else {
                v.split_once(':').expect("SRC:DST")
            };
            let mut parts = rest.split(':');
            let dst = parts.next().expect("container path");
            let ro = parts.any(|o| o == "ro");
            let target = r.join(dst.trim_start_matches('/'));
            mkdir(&target);
            let t = sh_quote(&target.to_string_lossy());
            if src.starts_with("${VAULTNET_BUNDLE") {
                script.push_str(&format!(
                    "mount --bind {} {t}\n",
                    sh_quote(&bundle.to_string_lossy())
                ));
                if ro {
                    script.push_str(&format!("mount -o remount,bind,ro {t}\n"));
                }
            } else {
                let driver = &compose["volumes"][src]["driver_opts"];
                assert_eq!(
                    driver["type"], "tmpfs",
                    "named volume {src} is not tmpfs-backed: {compose}"
                );
                script.push_str(&format!("mount -t tmpfs tmpfs {t}\n"));
            }
        }
        for t in svc["tmpfs"].as_array().cloned().unwrap_or_default() {
            let t = t.as_str().expect("tmpfs entry");
            let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
            let target = r.join(dst.trim_start_matches('/'));
            mkdir(&target);
            let o = if opts.is_empty() {
                String::new()
            } else {
                format!("-o {} ", sh_quote(opts))
            };
            script.push_str(&format!(
                "mount -t tmpfs {o}tmpfs {}\n",
                sh_quote(&target.to_string_lossy())
            ));
        }

        // The image: the `bao` binary where the entrypoint expects it.
        let entry = svc["entrypoint"][0].as_str().expect("agent entrypoint");
        let bin = r.join(entry.trim_start_matches('/'));
        mkdir(bin.parent().unwrap());
        File::create(&bin).expect("mount point for bao");
        script.push_str(&format!(
            "mount --bind {} {}\n",
            sh_quote(
                &bao_binary()
                    .canonicalize()
                    .expect("bao binary")
                    .to_string_lossy()
            ),
            sh_quote(&bin.to_string_lossy())
        ));

        // extra_hosts plays the container's /etc/hosts.
        let mut hosts = String::from("127.0.0.1\tlocalhost\n");
        for (name, addr) in extra_hosts(compose) {
            hosts.push_str(&format!("{addr}\t{name}\n"));
        }
        std::fs::write(r.join("etc/hosts"), hosts).unwrap();

        let mut argv = vec![sh_quote(entry)];
        for a in svc["command"].as_array().expect("agent command") {
            argv.push(sh_quote(a.as_str().expect("command word")));
        }
        script.push_str(&format!(
            "exec chroot {} {}\n",
            sh_quote(&r.to_string_lossy()),
            argv.join(" ")
        ));

        let log = base.path().join("agent.log");
        let logf = File::create(&log).expect("agent log");
        let mut cmd = ns.command("unshare");
        cmd.args(["-m", "sh", "-c", &script])
            // Nothing of the test's environment (VAULT_*, BAO_*) reaches
            // the agent: only what the compose service sets.
            .env_clear()
            // What the container runtime sets (Podman: PATH, and HOME from
            // the image's passwd, else `/`; the agent expands `~`).
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/")
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf);
        for (k, v) in svc["environment"].as_object().cloned().unwrap_or_default() {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the agent: {e}"));
        // `ip netns exec`, `unshare`, `sh` (`exec`) and `chroot` all exec:
        // the child's pid is the agent's.
        let pid = ns.adopt(child);
        Agent {
            ns,
            pid,
            log,
            _base: base,
        }
    }

    /// The agent's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A path inside the agent's root, seen from outside its private mount
    /// namespace (`/proc/PID/root`).
    pub fn path(&self, in_container: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid)).join(in_container.trim_start_matches('/'))
    }

    /// Waits until `in_container` exists and is not empty; returns its
    /// bytes and metadata. Panics with the agent log on timeout.
    #[track_caller]
    pub fn wait_for_file(
        &self,
        in_container: &str,
        timeout: Duration,
    ) -> (Vec<u8>, std::fs::Metadata) {
        let p = self.path(in_container);
        let deadline = Instant::now() + timeout;
        loop {
            if let (Ok(m), Ok(b)) = (std::fs::metadata(&p), std::fs::read(&p))
                && !b.is_empty()
            {
                return (b, m);
            }
            if Instant::now() >= deadline {
                panic!(
                    "the agent rendered no {in_container} within {timeout:?}\n--- agent log ---\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- agent log ---\n{}--- end of agent log ---", self.log());
        }
        self.ns.kill(self.pid);
    }
}

/// Mode bits (`0o7777`) and owner of a path (not following a final link).
#[track_caller]
pub fn mode_owner(p: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// The uids in `set NAME { … elements = { … } }` of an nft file.
#[track_caller]
pub fn nft_set(text: &str, set: &str) -> Vec<u32> {
    let start = text
        .find(&format!("set {set} {{"))
        .unwrap_or_else(|| panic!("no set {set} in:\n{text}"));
    let block = &text[start..];
    let block = &block[..block.find('}').expect("end of set")];
    match block.find("elements = {") {
        None => Vec::new(),
        Some(i) => block[i + "elements = {".len()..]
            .split(',')
            .map(|u| {
                u.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("uid {u:?} in {block}"))
            })
            .collect(),
    }
}

/// Connects to `addr` (`ip:port`) as `uid` inside namespace `ns` with
/// bash's `/dev/tcp`: `Ok` when the connection was accepted, `Err(text)`
/// with bash's message otherwise.
pub fn connect_as(ns: &str, uid: u32, gid: u32, ip: &str, port: u16) -> Result<(), String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "10", "setpriv"])
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "/bin/bash", "-c"])
        .arg(format!("exec 3<>/dev/tcp/{ip}/{port} && echo connected"))
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.trim() == "connected" {
        Ok(())
    } else {
        Err(format!(
            "{} {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// AppRole login straight at OpenBao; the token, or the status and body of
/// the refusal.
pub fn approle_login(
    bao: &OpenBao,
    role_id: &str,
    secret_id: &str,
) -> Result<String, (u16, Value)> {
    let (code, body) = bao.api(
        "POST",
        "auth/approle/login",
        Some(json!({ "role_id": role_id.trim(), "secret_id": secret_id.trim() })),
        None,
    );
    match body.pointer("/auth/client_token").and_then(Value::as_str) {
        Some(t) if code == 200 => Ok(t.to_string()),
        _ => Err((code, body)),
    }
}

/// Every file of a tenant's bundle, as `add-user` documents them. Written
/// out here rather than taken from vaultnet, so a changed bundle shows.
pub fn bundle_files(tenant: &str) -> Vec<String> {
    [
        "ca.pem",
        "client.pem",
        "client-key.pem",
        "role_id",
        "secret_id",
        "agent.json",
        "compose.yaml",
        "app.yaml",
        "cli.env",
        "README.md",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("{tenant}-vault-agent.container"),
        format!("{tenant}-vaultnet-secrets.volume"),
    ])
    .collect()
}

// ------------------------------------------------ what the commands say

/// The line after an `add-user` that added or updated one tenant, `t`.
pub fn next(t: &str) -> String {
    format!("next: write secrets under `secret/tenants/{t}/` and start the bundle's compose.yaml\n")
}

/// The line after an `add-user` that added or updated several tenants,
/// `first` the first of them.
pub fn next_each(first: &str) -> String {
    format!(
        "next: write each tenant's secrets under its own `secret/tenants/<tenant>/`, e.g. `secret/tenants/{first}/`, and start its bundle's compose.yaml\n"
    )
}

/// What `add-user` of new tenants prints after their lines: the `next:`
/// line, and for several the totals.
pub fn added_end(tenants: &[&str]) -> String {
    match tenants {
        [] => String::new(),
        [one] => next(one),
        [first, ..] => next_each(first) + &totals(tenants.len(), 0, 0, 0),
    }
}

/// The line that ends an `add-user` of several tenants.
pub fn totals(added: usize, updated: usize, up_to_date: usize, failed: usize) -> String {
    format!("{added} added, {updated} updated, {up_to_date} up to date, {failed} failed\n")
}

/// What a run that changed the tenant uids says about the nft gate.
pub const NFT: &str = "wrote `forwarder/vaultnet.nft`: load it with `nft -f [STATE]/forwarder/vaultnet.nft` (not loaded: until it is, nothing gates who connects to Vault)\n";

/// The same when the gate is loaded: vaultnet reloads it.
pub const NFT_RELOADED: &str = "wrote `forwarder/vaultnet.nft` and reloaded the gate from it\n";

/// `add-user`'s stdout line for a tenant it created.
pub fn added(t: &str) -> String {
    format!("added tenant {t}: bundle in tenants/{t} (cert expires [DATE])\n")
}

/// `add-user`'s stdout line for a tenant it changed; `installed` is
/// `, installed in DIR` after `--install`, else empty.
pub fn updated(t: &str, installed: &str) -> String {
    format!("updated tenant {t}: bundle in tenants/{t}{installed} (cert expires [DATE])\n")
}

/// `add-user`'s stdout for a tenant that needed nothing.
pub fn up_to_date(t: &str) -> String {
    format!("tenant {t} is up to date: bundle in tenants/{t} (cert expires [DATE])\n")
}

/// What `add-user` did for a new tenant, each change as it is reported;
/// `wrapped` is ` (response-wrapped)` for a wrapped secret_id.
pub fn changes(t: &str, wrapped: &str) -> [String; 4] {
    [
        format!("policy `vaultnet-{t}`: created"),
        format!("AppRole role `vaultnet-{t}`: created"),
        "client certificate issued, expires [DATE]".into(),
        format!("secret_id issued{wrapped}, expires [DATE]"),
    ]
}

/// [`changes`] as stderr lines, each after the tenant's name.
pub fn created_lines(t: &str, wrapped: &str) -> String {
    changes(t, wrapped)
        .iter()
        .map(|c| format!("{t}: {c}\n"))
        .collect()
}

pub fn created(t: &str) -> String {
    created_lines(t, "")
}

pub fn created_wrapped(t: &str) -> String {
    created_lines(t, " (response-wrapped)")
}

/// [`changes`] as the JSON array of `--output json`, indented as there.
pub fn created_changes(t: &str, wrapped: &str) -> String {
    let items: Vec<String> = changes(t, wrapped)
        .iter()
        .map(|c| format!("        {}", serde_json::to_string(c).unwrap()))
        .collect();
    format!("[\n{}\n      ]", items.join(",\n"))
}

/// `add-user` of new tenants: each added and created; `nft` when they
/// have Unix users (the gate is rewritten), not with `--no-unix-user`.
pub fn add_expect(f: &Fixture, tenants: &[&str], nft: bool) -> Expect {
    let mut stdout: String = tenants.iter().map(|t| added(t)).collect();
    // A site that gives each tenant a port of its own says which.
    let ports = super::init::tenant_ports(f);
    for t in tenants {
        if let Some((_, p)) = ports.iter().find(|(n, _)| n == t) {
            stdout.push_str(&port_next(t, *p));
        }
    }
    let mut stderr: String = tenants.iter().map(|t| created(t)).collect();
    if nft {
        stderr.push_str(f.gate_line());
    }
    stdout.push_str(&added_end(tenants));
    f.expect(0).stdout(stdout).stderr(stderr)
}

/// `add-user`'s line for a tenant it gave port `port` (profile l3, socat).
pub fn port_next(t: &str, port: u16) -> String {
    format!(
        "next: {t}: its own port is {port}; start the forwarder's entry for it from the state directory with: systemctl enable --now vaultnet-forwarder@{port}.service\n"
    )
}

/// `remove-user`'s line for a tenant it removed; `revoked` when a token
/// of the tenant's was alive to revoke.
pub fn removed(t: &str, revoked: bool) -> String {
    let tokens = if revoked { ", revoked 1 token(s)" } else { "" };
    format!(
        "removed tenant {t}: destroyed 1 secret_id(s), deleted role and policy{tokens}, removed `tenants/{t}`\n"
    )
}

/// This machine's Podman version (`podman --version`), asked once.
pub fn host_podman_version() -> String {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            let out = super::run_ok(Command::new("podman").arg("--version"));
            out.split_whitespace()
                .last()
                .unwrap_or_default()
                .to_string()
        })
        .clone()
}

/// The `network` a tenant gets, as `add-user` and `list` print it in JSON,
/// indented by `pad`: for a tenant without Unix user (`uid` is `null`) the
/// site's `ip`; for one with a home, what this machine's Podman (4.3, whose
/// rootless network is always slirp4netns) says.
pub fn network_json(uid: &str, pad: &str) -> String {
    let (backend, podman, source, reason) = if uid == "null" {
        (
            "null".to_string(),
            "null".to_string(),
            "site",
            "no Unix user whose Podman to ask: the site's mapping".to_string(),
        )
    } else {
        let v = host_podman_version();
        (
            "\"slirp4netns\"".into(),
            format!("\"{v}\""),
            "detected",
            format!("Podman {v} uses slirp4netns, which reaches the host address"),
        )
    };
    format!(
        "{{\n{pad}  \"mapping\": \"ip\",\n{pad}  \"backend\": {backend},\n{pad}  \"podman\": {podman},\n{pad}  \"source\": \"{source}\",\n{pad}  \"reason\": \"{reason}\"\n{pad}}}"
    )
}

/// `add-user --output json` for one new tenant `t` (`uid` as JSON) with a
/// 90-day certificate and a 30-day secret_id; `changes` as JSON; its
/// network as [`network_json`] says.
pub fn json_report(t: &str, uid: &str, wrapped: bool, changes: &str) -> String {
    let network = network_json(uid, "      ");
    let (result, totals) = match changes {
        "[]" => ("up_to_date", (0, 1)),
        _ => ("added", (1, 0)),
    };
    format!(
        r#"{{
  "schema_version": 1,
  "tenants": [
    {{
      "name": "{t}",
      "uid": {uid},
      "bundle": "[STATE]/tenants/{t}",
      "installed_to": null,
      "cert_serial": "[SERIAL]",
      "cert_not_after": "[TIME]",
      "secret_id_expires": "[TIME]",
      "wrapped_secret_id": {wrapped},
      "auth": "approle",
      "network": {network},
      "changes": {changes},
      "result": "{result}"
    }}
  ],
  "totals": {{
    "added": {},
    "updated": 0,
    "up_to_date": {},
    "failed": 0,
    "not_tried": 0
  }}
}}
"#,
        totals.0, totals.1
    )
}

/// `list --output json` of fresh tenants (name, uid as JSON, wrapped),
/// none installed.
pub fn list_json(rows: &[(&str, &str, bool)]) -> String {
    let rows: Vec<(&str, &str, bool, Option<&Path>)> =
        rows.iter().map(|&(t, u, w)| (t, u, w, None)).collect();
    list_json_installed(&rows)
}

/// `list --output json` of fresh tenants (name, uid as JSON, wrapped,
/// where the bundle is installed).
pub fn list_json_installed(rows: &[(&str, &str, bool, Option<&Path>)]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|(t, uid, wrapped, to)| {
            let installed = to.is_some();
            let network = network_json(uid, "    ");
            let to = match to {
                Some(p) => serde_json::to_string(&p.display().to_string()).unwrap(),
                None => "null".into(),
            };
            format!(
                r#"  {{
    "name": "{t}",
    "uid": {uid},
    "cert_not_after": "[TIME]",
    "cert_days_left": 89,
    "secret_id_expires": "[TIME]",
    "secret_id_days_left": 29,
    "wrapped_secret_id": {wrapped},
    "installed": {installed},
    "installed_to": {to},
    "network": {network},
    "endpoint": {{
      "url": "https://vault.lan:22300",
      "connect": "[HOST_IP]:22300"
    }}
  }}"#
            )
        })
        .collect();
    let tenants = format!("[\n{}\n]", rows.join(",\n")).replace('\n', "\n  ");
    format!("{{\n  \"schema_version\": 1,\n  \"tenants\": {tenants}\n}}\n")
}

/// `list` of fresh tenants (name, uid or `-`), none installed, mapped as
/// [`network_json`] says. The first two columns are as wide as their
/// longest entry (tenant names carry the test's pid); the dates are
/// redacted, the days left are not.
pub fn list_table(rows: &[(&str, &str)]) -> String {
    let nw = rows.iter().map(|r| r.0.len()).chain([6]).max().unwrap();
    let uw = rows.iter().map(|r| r.1.len()).chain([3]).max().unwrap();
    let mapping = |uid: &str| match uid {
        "-" => "ip (site)",
        _ => "ip (slirp4netns)",
    };
    let mw = rows
        .iter()
        .map(|r| mapping(r.1).len())
        .chain([7])
        .max()
        .unwrap();
    let mut text = format!(
        "{:<nw$}  {:<uw$}  CERT EXPIRES      SECRET_ID EXPIRES  {:<mw$}  ENDPOINT                 INSTALLED\n",
        "TENANT", "UID", "MAPPING"
    );
    for (t, uid) in rows {
        text.push_str(&format!(
            "{t:<nw$}  {uid:<uw$}  [DATE] (89d)  [DATE] (29d)   {:<mw$}  https://vault.lan:22300  no\n",
            mapping(uid)
        ));
    }
    text
}

/// The first fenced `sh` block after the heading `heading` (a whole line)
/// of a bundle's README: the commands a tenant is told to run, as
/// written. Panics with the README when there is none.
#[track_caller]
pub fn readme_block(readme: &str, heading: &str) -> String {
    let after = readme
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading:?} in the README:\n{readme}"))
        .1;
    after
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(block, _)| block.to_string())
        .unwrap_or_else(|| panic!("no sh block after {heading:?} in the README:\n{readme}"))
}
