//! A vaultnet site for tests: a state directory and a `HOME` of the test's
//! own, the `vaultnet init` command line for them — inside a [`Netns`]
//! playing the host when the test has one — and a real OpenBao started from
//! the listener file `init` wrote, with the operator's certificate.
//!
//! [`Snapshot`] records every entry of a state directory (kind, mode,
//! owner, inode, mtime, bytes) so a test can prove that a run changed
//! nothing at all, and [`assert_error_and_hint`] checks the two-line error
//! shape every rejected command must print.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::cmd::{Cmd, Output};
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

/// Asserts the shape of a rejected command's stderr: exactly one
/// `error: …` line followed by one `hint: …` line, and nothing on stdout.
#[track_caller]
pub fn assert_error_and_hint(out: &Output) {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 2
            && lines[0].starts_with("error: ")
            && lines[0].len() > "error: ".len()
            && lines[1].starts_with("hint: ")
            && lines[1].len() > "hint: ".len(),
        "expected exactly an `error: ` line and a `hint: ` line on stderr\n{out}"
    );
    assert!(out.stdout.is_empty(), "expected nothing on stdout\n{out}");
}
