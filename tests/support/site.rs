//! A vaultnet site for tests: a state directory and a `HOME` of the test's
//! own, the `vaultnet init` command line for them — inside a [`Netns`]
//! playing the host when the test has one — and a real OpenBao started from
//! the listener file `init` wrote, with the operator's certificate.
//!
//! [`rejected`] and [`refused`] are the exact expectations of a refused
//! run.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use super::cmd::Cmd;
use super::expect::Expect;
use super::netns::Netns;
use super::openbao::{ClientTls, OpenBao, free_port};
use super::snapshot::Snapshot;

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
