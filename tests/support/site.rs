//! A vaultnet site for tests: a state directory and a `HOME` of the test's
//! own, the `vaultnet init` command line for them — inside a [`Netns`]
//! playing the host when the test has one — and a real OpenBao started from
//! the listener file `init` wrote, with the operator's certificate.
//!
//! [`Snapshot`] records every entry of a state directory (kind, mode,
//! owner, inode, mtime, bytes) so a test can prove that a run changed
//! nothing at all. [`first_init`], [`unchanged_init`], [`bootstrap_init`]
//! and [`rejected`] are the exact expectations of the runs many tests start
//! with: what `init` prints on a site whose Vault is not reachable yet or
//! is set up for the first time, and a refusal.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use vaultnet::pki::CertInfo;

use super::cmd::Cmd;
use super::expect::Expect;
use super::netns::Netns;
use super::openbao::{ClientTls, OpenBao, free_port};

/// Host address used when a test runs `init` outside any namespace: it is
/// only written into files and certificates, never contacted.
pub const OFFLINE_HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// A state directory (not yet created), a `HOME`, and where Vault listens.
pub struct Site {
    /// The namespace playing the host, when the test made one.
    pub ns: Option<Netns>,
    host_ip: IpAddr,
    vault_addr: SocketAddr,
    dir: PathBuf,
    home: tempfile::TempDir,
    // Last: removed after everything that lives in it.
    root: tempfile::TempDir,
}

impl Site {
    /// A site outside any namespace: `--host-ip` is [`OFFLINE_HOST_IP`],
    /// `--vault-addr` a free loopback port where nothing listens.
    pub fn offline() -> Site {
        Site::build(None, IpAddr::V4(OFFLINE_HOST_IP))
    }

    /// A site whose host is a fresh [`Netns`]: `--host-ip` is its veth
    /// address, and `init` (and OpenBao) run inside it.
    #[track_caller]
    pub fn in_netns(prefix: &str) -> Site {
        let ns = Netns::new(prefix);
        let ip = IpAddr::V4(ns.host_ip());
        Site::build(Some(ns), ip)
    }

    fn build(ns: Option<Netns>, host_ip: IpAddr) -> Site {
        let root = tempfile::Builder::new()
            .prefix("vaultnet-site-")
            .tempdir()
            .expect("temp dir for the site");
        let home = tempfile::Builder::new()
            .prefix("vaultnet-home-")
            .tempdir()
            .expect("temp dir for HOME");
        Site {
            ns,
            host_ip,
            vault_addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port()),
            dir: root.path().join("state"),
            home,
            root,
        }
    }

    /// The state directory (`--dir`); it does not exist before `init`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the state directory, e.g. `pki/ca.pem`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A scratch directory beside the state (not inside it).
    pub fn scratch(&self) -> &Path {
        self.root.path()
    }

    /// `HOME` of every command run for this site.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn host_ip(&self) -> IpAddr {
        self.host_ip
    }

    pub fn vault_addr(&self) -> SocketAddr {
        self.vault_addr
    }

    /// The namespace's name, if the site has one.
    pub fn ns_name(&self) -> Option<&str> {
        self.ns.as_ref().map(|n| n.name())
    }

    /// `vaultnet --dir DIR` with this site's `HOME`, in its namespace.
    pub fn vaultnet(&self) -> Cmd {
        let mut c = Cmd::vaultnet();
        c.home(self.home()).arg("--dir").arg(&self.dir);
        if let Some(ns) = &self.ns {
            c.netns(ns.name());
        }
        c
    }

    /// Arguments after the program for `init --yes` with this site's host
    /// IP and Vault address (repeating them on a re-run changes nothing).
    pub fn init_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--dir".into(), self.dir.clone().into()];
        for a in ["init", "--yes", "--host-ip"] {
            args.push(a.into());
        }
        args.push(self.host_ip.to_string().into());
        args.push("--vault-addr".into());
        args.push(self.vault_addr.to_string().into());
        args.push("--timeout".into());
        args.push("10".into());
        args
    }

    /// `vaultnet … init --yes --host-ip … --vault-addr …`; add flags to it.
    pub fn init(&self) -> Cmd {
        let mut c = Cmd::vaultnet();
        c.home(self.home()).args(self.init_args());
        if let Some(ns) = &self.ns {
            c.netns(ns.name());
        }
        c
    }

    /// An [`Expect`] for this site's commands (exit `code`, empty streams)
    /// with its own values redacted: the state directory shows as
    /// `[STATE]`, the scratch directory around it as `[DIR]`, `HOME` as
    /// `[HOME]`, Vault's address as `[VAULT_ADDR]` and, when the host is a
    /// namespace (its address differs per test), the host IP as
    /// `[HOST_IP]`. The offline host IP is fixed and stays as it is.
    pub fn expect(&self, code: i32) -> Expect {
        let e = Expect::code(code)
            .redact_path(&self.dir, "[STATE]")
            .redact_path(self.scratch(), "[DIR]")
            .redact_path(self.home(), "[HOME]")
            .redact(self.vault_addr, "[VAULT_ADDR]");
        match &self.ns {
            Some(_) => e.redact(self.host_ip, "[HOST_IP]"),
            None => e,
        }
    }

    /// The operator's mTLS files as `init` wrote them.
    pub fn operator_tls(&self) -> ClientTls {
        ClientTls {
            ca_pem_path: self.path("pki/ca.pem"),
            client_cert_path: self.path("operator/client.pem"),
            client_key_path: self.path("operator/client-key.pem"),
        }
    }

    /// A real OpenBao (initialised and unsealed, not dev mode) started with
    /// `vault/listener.json` as written by `init`, in the site's namespace.
    #[track_caller]
    pub fn start_openbao(&self) -> OpenBao {
        OpenBao::start(
            self.ns.as_ref(),
            &self.path("vault/listener.json"),
            self.operator_tls(),
        )
    }

    /// Every entry of the state directory, now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::take(&self.dir)
    }
}

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir {
        mode: u32,
        uid: u32,
        mtime: SystemTime,
    },
    File {
        mode: u32,
        uid: u32,
        ino: u64,
        mtime: SystemTime,
        bytes: Vec<u8>,
    },
    Symlink {
        target: PathBuf,
    },
    Other {
        mode: u32,
    },
}

impl Entry {
    /// Permission bits (`0o7777`); 0 for a symlink.
    pub fn mode(&self) -> u32 {
        match self {
            Entry::Dir { mode, .. } | Entry::File { mode, .. } | Entry::Other { mode } => {
                mode & 0o7777
            }
            Entry::Symlink { .. } => 0,
        }
    }
}

/// Every entry under a directory (the directory itself is `""`), never
/// following symlinks. A directory that does not exist gives an empty
/// snapshot with `exists == false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub root: PathBuf,
    pub exists: bool,
    pub entries: BTreeMap<PathBuf, Entry>,
}

impl Snapshot {
    #[track_caller]
    pub fn take(root: &Path) -> Snapshot {
        let mut snap = Snapshot {
            root: root.to_path_buf(),
            exists: std::fs::symlink_metadata(root).is_ok(),
            entries: BTreeMap::new(),
        };
        if snap.exists {
            snap.walk(root, Path::new(""));
        }
        snap
    }

    #[track_caller]
    fn walk(&mut self, path: &Path, rel: &Path) {
        let m = std::fs::symlink_metadata(path)
            .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        let ft = m.file_type();
        let entry = if ft.is_symlink() {
            Entry::Symlink {
                target: std::fs::read_link(path).unwrap_or_default(),
            }
        } else if ft.is_dir() {
            Entry::Dir {
                mode: m.mode(),
                uid: m.uid(),
                mtime: m.modified().expect("mtime"),
            }
        } else if ft.is_file() {
            Entry::File {
                mode: m.mode(),
                uid: m.uid(),
                ino: m.ino(),
                mtime: m.modified().expect("mtime"),
                bytes: std::fs::read(path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
            }
        } else {
            Entry::Other { mode: m.mode() }
        };
        self.entries.insert(rel.to_path_buf(), entry);
        if ft.is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(path)
                .unwrap_or_else(|e| panic!("list {}: {e}", path.display()))
                .map(|e| e.expect("dir entry").file_name())
                .collect();
            children.sort();
            for name in children {
                self.walk(&path.join(&name), &rel.join(&name));
            }
        }
    }

    /// The same snapshot without one entry (e.g. the lock file, which every
    /// run rewrites with its pid).
    pub fn without(mut self, rel: &str) -> Snapshot {
        self.entries.remove(Path::new(rel));
        self
    }

    /// Relative paths of all entries, the root (`""`) excluded.
    pub fn paths(&self) -> Vec<String> {
        self.entries
            .keys()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .collect()
    }

    pub fn get(&self, rel: &str) -> Option<&Entry> {
        self.entries.get(Path::new(rel))
    }

    /// One line per difference between `self` (before) and `after`.
    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
        let mut d = Vec::new();
        if self.exists != after.exists {
            d.push(format!(
                "`{}` existed before: {}, after: {}",
                self.root.display(),
                self.exists,
                after.exists
            ));
        }
        for (p, e) in &self.entries {
            match after.entries.get(p) {
                None => d.push(format!("removed `{}`", p.display())),
                Some(a) if a != e => d.push(format!("changed `{}`: {}", p.display(), what(e, a))),
                Some(_) => {}
            }
        }
        for p in after.entries.keys() {
            if !self.entries.contains_key(p) {
                d.push(format!("created `{}`", p.display()));
            }
        }
        d
    }

    /// Panics, listing every difference, unless `after` equals `self`.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, context: impl std::fmt::Display) {
        let d = self.diff(after);
        assert!(
            d.is_empty(),
            "state directory `{}` changed ({context}):\n  {}",
            self.root.display(),
            d.join("\n  ")
        );
    }
}

fn what(before: &Entry, after: &Entry) -> String {
    match (before, after) {
        (
            Entry::File {
                mode: m1,
                uid: u1,
                ino: i1,
                mtime: t1,
                bytes: b1,
            },
            Entry::File {
                mode: m2,
                uid: u2,
                ino: i2,
                mtime: t2,
                bytes: b2,
            },
        ) => {
            let mut w = Vec::new();
            if b1 != b2 {
                w.push("contents".to_string());
            }
            if m1 != m2 {
                w.push(format!("mode {:o} -> {:o}", m1 & 0o7777, m2 & 0o7777));
            }
            if u1 != u2 {
                w.push(format!("owner {u1} -> {u2}"));
            }
            if i1 != i2 {
                w.push("inode (rewritten)".into());
            }
            if t1 != t2 {
                w.push("mtime".into());
            }
            w.join(", ")
        }
        (
            Entry::Dir {
                mode: m1,
                uid: u1,
                mtime: t1,
            },
            Entry::Dir {
                mode: m2,
                uid: u2,
                mtime: t2,
            },
        ) => {
            let mut w = Vec::new();
            if m1 != m2 {
                w.push(format!("mode {:o} -> {:o}", m1 & 0o7777, m2 & 0o7777));
            }
            if u1 != u2 {
                w.push(format!("owner {u1} -> {u2}"));
            }
            if t1 != t2 {
                w.push("mtime (an entry was added or removed)".into());
            }
            w.join(", ")
        }
        (a, b) => format!("{a:?} -> {b:?}").chars().take(300).collect(),
    }
}

// ------------------------------------------------------ what init says

/// The CA's common name (`vaultnet CA <host> <random>`), as `init` names
/// it; a placeholder when there is no CA, so the diff shows the run.
pub fn ca_name(site: &Site) -> String {
    ca_name_of(&site.path("pki/ca.pem"))
}

/// [`ca_name`] of the CA certificate at `path`.
pub fn ca_name_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|pem| CertInfo::parse(&pem).ok())
        .and_then(|c| c.common_name)
        .unwrap_or_else(|| "<no CA in pki/ca.pem>".into())
}

/// How `init` tells the operator to install each forwarder, from the
/// state directory.
pub fn install_steps(forwarder: &str) -> &'static str {
    match forwarder {
        "socat" => {
            "  id -u vaultnet-forwarder >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vaultnet-forwarder
  install -m 0644 forwarder/vaultnet-forwarder.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now vaultnet-forwarder.service
"
        }
        "nginx" => {
            "  install -m 0644 forwarder/vaultnet-stream.conf /etc/nginx/
  grep -q vaultnet-stream.conf /etc/nginx/nginx.conf || echo 'include /etc/nginx/vaultnet-stream.conf;' >> /etc/nginx/nginx.conf
  nginx -t && systemctl reload nginx
"
        }
        "haproxy" => {
            "  cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg
  haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy
"
        }
        "socket-proxyd" => {
            "  id -u vaultnet-forwarder >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vaultnet-forwarder
  install -m 0644 forwarder/vaultnet-forwarder.socket forwarder/vaultnet-forwarder.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now vaultnet-forwarder.socket
"
        }
        other => panic!("no install steps known for forwarder {other}"),
    }
}

/// The host IP as [`Site::expect`] shows it: the offline address itself,
/// `[HOST_IP]` for a namespace's.
fn shown_host_ip(site: &Site) -> String {
    match site.ns {
        Some(_) => "[HOST_IP]".into(),
        None => site.host_ip.to_string(),
    }
}

/// What `init` leaves to do once it has a token good enough to set Vault
/// up (the last step of "Left to do").
pub const TOKEN_STEP: &str = "run `vaultnet init` again with an operator token (`BAO_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2";

/// The end of `init`'s report when Vault could not be set up: `first`
/// (what the operator must do to Vault), then [`TOKEN_STEP`].
pub fn left_to_do(first: Option<&str>) -> String {
    match first {
        Some(step) => format!("Left to do:\n  1. {step}\n  2. then {TOKEN_STEP}\n"),
        None => format!("Left to do:\n  1. {TOKEN_STEP}\n"),
    }
}

/// The end of `init`'s report once Vault is set up.
pub const NEXT_ADD_USER: &str = "Next: `vaultnet add-user NAME` for each tenant.\n";

/// `init`'s summary line for a run that changed or kept files.
pub fn initialised(changed: u32, kept: u32) -> String {
    format!("vaultnet initialised in `[STATE]`: {changed} changed, {kept} kept\n")
}

/// The note `init` adds when nothing listens at Vault's address.
pub const UNREACHABLE: &str = "note: OpenBao at https://[VAULT_ADDR] is not reachable: cannot reach https://[VAULT_ADDR]: connection refused\n";

/// stdout of `init`: `head` (the summary, and a note if any), the
/// listener, the forwarder's install steps and the operator's access,
/// then `ending` (what is left to do, or the next command).
pub fn init_report(site: &Site, head: &str, forwarder: &str, ending: &str) -> String {
    format!("{head}{}\n{ending}", init_steps(site, forwarder))
}

/// stdout of `init` while nothing listens at Vault's address (so no token
/// reaches Vault): the summary, the unreachable Vault, the files to
/// install, and what is left to do.
pub fn init_stdout(site: &Site, changed: u32, kept: u32, forwarder: &str) -> String {
    init_report(
        site,
        &format!("{}{UNREACHABLE}", initialised(changed, kept)),
        forwarder,
        &left_to_do(Some(
            "start OpenBao with the listener as an extra config: `bao server -config <your config> -config [STATE]/vault/listener.json`",
        )),
    )
}

/// stdout of `init` that reached Vault with a token good enough to set
/// it up: the summary, the files to install, and the next command.
pub fn init_stdout_with_vault(site: &Site, changed: u32, kept: u32, forwarder: &str) -> String {
    init_report(site, &initialised(changed, kept), forwarder, NEXT_ADD_USER)
}

/// The part of `init`'s report between the summary and what to do next:
/// the listener, the forwarder's install steps and the operator's access.
fn init_steps(site: &Site, forwarder: &str) -> String {
    format!(
        "
{profile}
Vault listener: [VAULT_ADDR], mutual TLS required (`vault/listener.json`).
  The OpenBao server's user must be able to read `[STATE]/vault/server-key.pem`.
Forwarder ({forwarder}): {host}:22300 -> [VAULT_ADDR]; install it from `[STATE]` with:
{steps}  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port
Operator access:
  export BAO_ADDR=https://[VAULT_ADDR] BAO_CACERT=[STATE]/pki/ca.pem BAO_CLIENT_CERT=[STATE]/operator/client.pem BAO_CLIENT_KEY=[STATE]/operator/client-key.pem
",
        host = shown_host_ip(site),
        steps = install_steps(forwarder),
        profile = profile_line(site),
    )
}

/// The profile line of `init`'s report, for the profile the site's state
/// records (l1 before the first run).
fn profile_line(site: &Site) -> &'static str {
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap_or_default();
    if state.lines().any(|l| l.trim() == "profile: l6") {
        "Profile l6 (pattern L6): host forwarder + DNS name + mTLS, pasta (host-gateway mapping)."
    } else {
        "Profile l1 (pattern L1): host forwarder + DNS name + mTLS."
    }
}

/// The three lines of a run that kept the CA and both certificates.
pub fn kept_certificates(site: &Site) -> String {
    format!(
        "kept CA `pki/ca.pem` ({}, expires [DATE])
kept Vault server certificate `vault/server.pem` (expires [DATE])
kept operator certificate `operator/client.pem` (expires [DATE])
",
        ca_name(site)
    )
}

/// The first `init` of a site whose Vault is not reachable yet: every
/// file created. Build it after the run: it names the CA the run made.
pub fn first_init(site: &Site) -> Expect {
    first_init_with(site, "socat")
}

/// The files `init` writes for each forwarder, in the order it reports
/// them.
pub fn forwarder_files(forwarder: &str) -> &'static [&'static str] {
    match forwarder {
        "socat" => &["vaultnet-forwarder.service"],
        "nginx" => &["vaultnet-stream.conf"],
        "haproxy" => &["vaultnet-haproxy.cfg"],
        "socket-proxyd" => &["vaultnet-forwarder.socket", "vaultnet-forwarder.service"],
        other => panic!("no files known for forwarder {other}"),
    }
}

/// [`first_init`] with `--forwarder FORWARDER`.
pub fn first_init_with(site: &Site, forwarder: &str) -> Expect {
    let files: String = forwarder_files(forwarder)
        .iter()
        .map(|f| format!("wrote `forwarder/{f}`\n"))
        .collect();
    let changed = 6 + forwarder_files(forwarder).len() as u32;
    site.expect(0)
        .stdout(init_stdout(site, changed, 0, forwarder))
        .stderr(format!(
            "created CA `pki/ca.pem` ({}, expires [DATE])
created Vault server certificate `vault/server.pem` (expires [DATE])
created operator certificate `operator/client.pem` (expires [DATE])
wrote `vault/listener.json`
wrote `vaultnet.yaml`
{files}wrote `forwarder/vaultnet.nft`
",
            ca_name(site)
        ))
}

/// `init` again with the same settings, Vault still not reachable:
/// everything kept, nothing written.
pub fn unchanged_init(site: &Site) -> Expect {
    site.expect(0)
        .stdout(init_stdout(site, 0, 3, "socat"))
        .stderr(kept_certificates(site))
}

/// What `init` says of Vault's AppRole auth method and KV v2 mount
/// (`enabled` or `present` each).
pub fn vault_setup(approle: &str, kv: &str) -> String {
    format!("AppRole auth at `approle/`: {approle}\nKV v2 at `secret/`: {kv}\n")
}

/// `init` with the root token the first time it reaches a real OpenBao
/// (after a first `init` without one): certificates kept, AppRole and KV
/// v2 enabled.
pub fn bootstrap_init(site: &Site) -> Expect {
    site.expect(0)
        .stdout(init_stdout_with_vault(site, 2, 3, "socat"))
        .stderr(format!(
            "{}{}",
            kept_certificates(site),
            vault_setup("enabled", "enabled")
        ))
}

/// A refused run: exit `code`, nothing on stdout, and on stderr exactly
/// `error: {error}` and `hint: {hint}`.
pub fn refused(site: &Site, code: i32, error: &str, hint: &str) -> Expect {
    site.expect(code)
        .stderr(format!("error: {error}\nhint: {hint}\n"))
}

/// [`refused`] with exit 2: bad input.
pub fn rejected(site: &Site, error: &str, hint: &str) -> Expect {
    refused(site, 2, error, hint)
}
