//! The one fixture of the integration tests: a vaultnet site as far along
//! as a test needs it, built in the order an operator builds one — offline
//! files, a host namespace, OpenBao, the forwarder, tenants, the nft gate.
//!
//! [`Fixture::offline`] is a state directory (not yet created) and a `HOME`
//! of the test's own, outside any namespace. [`Fixture::builder`] (no
//! namespace) and [`Fixture::host`] (a fresh [`Netns`] playing the host)
//! start a [`Builder`] whose steps each add one capability:
//!
//! - [`Builder::init`]: `init` has run once, with no Vault reachable;
//! - [`Builder::openbao`]: a real OpenBao started from the listener file
//!   `init` wrote, and `init` run again with its root token (AppRole and KV
//!   v2 enabled); [`Builder::openbao_without_token`] stops before that run;
//! - [`Builder::listener`]: OpenBao runs with a copy of that listener file
//!   changed behind vaultnet's back;
//! - [`Builder::fault_proxy`]: vaultnet's Vault address is the port of a
//!   fault-injecting proxy ([`super::faultproxy`]) in front of OpenBao;
//!   [`Builder::raft`] gives that OpenBao raft storage, so that a test can
//!   SIGKILL and restart it ([`Fixture::bao_mut`]) with its data kept;
//! - [`Builder::forwarder`]: the socat forwarder started from the unit's
//!   `ExecStart=`, carrying an mTLS request to Vault;
//! - [`Builder::tenants`]: `add-user` for throw-away Unix users;
//! - [`Builder::nft`]: the nft gate `init` wrote loaded in the namespace.
//!
//! Every step checks what the command it runs prints, exactly. The fixture
//! then runs `vaultnet` for the site ([`Fixture::vaultnet`], with the root
//! token once OpenBao runs), reads its state ([`Fixture::state`]), calls
//! Vault as root ([`Fixture::root_api`]) and redacts the site's own paths
//! and addresses from what a run prints ([`Fixture::expect`]).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::{Value, json};

use super::cmd::{Cmd, Output};
use super::expect::Expect;
use super::faultproxy::{FaultProxy, Inject};
use super::init::{bootstrap_init_with, first_init_with};
use super::netns::Netns;
use super::openbao::{ClientTls, OpenBao, free_port, probe};
use super::snapshot::Snapshot;
use super::tenant::{add_expect, approle_login, passwd_tool};
use super::{run_ok, wait_for};

/// Host address used when a test runs `init` outside any namespace: it is
/// only written into files and certificates, never contacted.
pub const OFFLINE_HOST_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// How long the forwarder may take to carry its first request.
const FORWARDER_TIMEOUT: Duration = Duration::from_secs(15);

/// A change to the `tcp` block of the listener file OpenBao runs with.
type ListenerEdit = Box<dyn FnOnce(&mut Value)>;

/// What the fixture has of OpenBao.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Vault {
    /// Nothing listens at the Vault address.
    None,
    /// Started, and `init` never ran with a token.
    Started,
    /// Started, and `init` enabled AppRole and KV v2 with the root token.
    SetUp,
}

/// The steps of a fixture, run by [`Builder::build`] in the order of the
/// module docs whatever order they were asked in.
#[must_use = "a builder does nothing until `build`"]
pub struct Builder {
    netns: Option<String>,
    init_args: Vec<OsString>,
    init: bool,
    vault: Vault,
    listener_edits: Vec<ListenerEdit>,
    fault_proxy: bool,
    raft: bool,
    forwarder: bool,
    tenants: usize,
    nft: bool,
}

impl Builder {
    /// Runs `init` (and the fixture's later `init`s) in a fresh [`Netns`]
    /// named after `prefix`, whose veth address is the host IP.
    pub fn netns(mut self, prefix: &str) -> Builder {
        self.netns = Some(prefix.to_string());
        self
    }

    /// Flags every `init` of the fixture gets after its own (`--forwarder
    /// nginx`, `--flavor openbao`, …). A `--forwarder` among them decides
    /// which files the first `init` is expected to write.
    pub fn init_args<I, S>(mut self, args: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.init_args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// `init` has run once, with nothing listening at the Vault address.
    pub fn init(mut self) -> Builder {
        self.init = true;
        self
    }

    /// A real OpenBao, initialised and unsealed, started from the listener
    /// file of the first `init` (in the namespace, if any); then `init` with
    /// its root token, which enables AppRole and KV v2.
    pub fn openbao(mut self) -> Builder {
        self.vault = Vault::SetUp;
        self.init()
    }

    /// [`Builder::openbao`] without the second `init`: Vault runs, and
    /// vaultnet has not set it up.
    pub fn openbao_without_token(mut self) -> Builder {
        self.vault = Vault::Started;
        self.init()
    }

    /// OpenBao runs with a copy of `vault/listener.json` whose `tcp` block
    /// `edit` changed, as an operator might change it behind vaultnet's
    /// back. Implies [`Builder::openbao`] unless a token-less one was asked.
    pub fn listener(mut self, edit: impl FnOnce(&mut Value) + 'static) -> Builder {
        self.listener_edits.push(Box::new(edit));
        self.with_openbao()
    }

    /// vaultnet's Vault address is where [`Fixture::proxy`] listens:
    /// OpenBao itself listens on another loopback port (a copy of the
    /// listener file with only the address changed), and `init` sets it up
    /// through a pass-through proxy. Not in a namespace: the proxy runs on
    /// the test's own loopback.
    pub fn fault_proxy(mut self) -> Builder {
        self.fault_proxy = true;
        self.listener(|tcp| {
            let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            tcp["address"] = Value::String(upstream.to_string());
        })
    }

    /// OpenBao keeps its data in raft storage, not in memory
    /// ([`OpenBao::start_raft`]): it survives a SIGKILL and a restart.
    /// Implies [`Builder::openbao`] unless a token-less one was asked.
    pub fn raft(mut self) -> Builder {
        self.raft = true;
        self.with_openbao()
    }

    /// The socat forwarder of `forwarder/vaultnet-forwarder.service`,
    /// started from its `ExecStart=` in the namespace; it has carried an
    /// mTLS request to Vault. Implies [`Builder::openbao`].
    pub fn forwarder(mut self) -> Builder {
        self.forwarder = true;
        self.with_openbao()
    }

    /// `n` throw-away Unix users, provisioned by one `add-user`; see
    /// [`Fixture::tenant`]. Implies [`Builder::openbao`].
    pub fn tenants(mut self, n: usize) -> Builder {
        self.tenants = n;
        self.openbao()
    }

    /// `nft -f forwarder/vaultnet.nft` in the namespace, after the tenants.
    pub fn nft(mut self) -> Builder {
        self.nft = true;
        self.init()
    }

    fn with_openbao(self) -> Builder {
        match self.vault {
            Vault::None => self.openbao(),
            _ => self,
        }
    }

    /// The forwarder the first `init` is given (`--forwarder`), else socat.
    fn forwarder_kind(&self) -> String {
        self.init_args
            .iter()
            .position(|a| a == "--forwarder")
            .and_then(|i| self.init_args.get(i + 1))
            .map(|k| k.to_string_lossy().into_owned())
            .unwrap_or_else(|| "socat".into())
    }

    /// Runs every step asked for, checking what each prints.
    #[track_caller]
    pub fn build(self) -> Fixture {
        assert!(
            !(self.fault_proxy && self.netns.is_some()),
            "the fault proxy runs on the test's loopback, not in a namespace"
        );
        assert!(
            self.netns.is_some() || !(self.forwarder || self.nft),
            "the forwarder and the nft gate need a namespace playing the host"
        );
        let forwarder = self.forwarder_kind();
        assert!(
            !self.forwarder || forwarder == "socat",
            "only the socat forwarder is started by the fixture"
        );
        let ns = self.netns.as_deref().map(Netns::new);
        let host_ip = match &ns {
            Some(ns) => IpAddr::V4(ns.host_ip()),
            None => IpAddr::V4(OFFLINE_HOST_IP),
        };
        let root = tempfile::Builder::new()
            .prefix("vaultnet-site-")
            .tempdir()
            .expect("temp dir for the site");
        let home = tempfile::Builder::new()
            .prefix("vaultnet-home-")
            .tempdir()
            .expect("temp dir for HOME");
        let mut f = Fixture {
            bao: None,
            forwarder_pid: None,
            fault_proxy: self.fault_proxy,
            ns,
            tenants: Vec::new(),
            host_ip,
            vault_addr: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port()),
            dir: root.path().join("state"),
            init_args: self.init_args,
            init_output: None,
            home,
            root,
        };
        if !self.init {
            return f;
        }
        let out = f.init().run().expect(first_init_with(&f, &forwarder));
        f.init_output = Some(out);
        if self.vault == Vault::None {
            return f;
        }
        f.bao = Some(f.start_openbao(self.listener_edits, self.raft));
        if self.vault == Vault::SetUp {
            let mut init = f.init();
            init.env("BAO_TOKEN", &f.bao().root_token);
            let out = match f.fault_proxy {
                true => f.run_through(Inject::none(), &mut init).0,
                false => init.run(),
            };
            out.expect(bootstrap_init_with(&f, &forwarder));
        }
        if self.tenants > 0 {
            f.tenants = (0..self.tenants).map(SharedUser::nth).collect();
            let names = f.tenant_names();
            f.add_user(&names)
                .run()
                .expect(add_expect(&f, &names, true));
        }
        if self.forwarder {
            f.start_forwarder();
        }
        if self.nft {
            f.load_nft();
        }
        f
    }
}

/// A vaultnet site for one test; see the module docs. Dropping it stops
/// everything it started and removes everything it made.
pub struct Fixture {
    // Dropped in this order: OpenBao, the namespace (which kills the
    // forwarder and anything else still inside), the tenants' Unix users,
    // HOME, and last the directory around the state.
    bao: Option<OpenBao>,
    forwarder_pid: Option<u32>,
    fault_proxy: bool,
    ns: Option<Netns>,
    tenants: Vec<Arc<SharedUser>>,
    host_ip: IpAddr,
    vault_addr: SocketAddr,
    dir: PathBuf,
    init_args: Vec<OsString>,
    init_output: Option<Output>,
    home: tempfile::TempDir,
    root: tempfile::TempDir,
}

impl Fixture {
    /// A state directory (not yet created) and a `HOME`, outside any
    /// namespace: `--host-ip` is [`OFFLINE_HOST_IP`], `--vault-listen` a free
    /// loopback port where nothing listens.
    #[track_caller]
    pub fn offline() -> Fixture {
        Fixture::builder().build()
    }

    /// A builder for a site outside any namespace (the offline host IP).
    pub fn builder() -> Builder {
        Builder {
            netns: None,
            init_args: Vec::new(),
            init: false,
            vault: Vault::None,
            listener_edits: Vec::new(),
            fault_proxy: false,
            raft: false,
            forwarder: false,
            tenants: 0,
            nft: false,
        }
    }

    /// A builder for a site whose host is a fresh [`Netns`] named after
    /// `prefix`: `--host-ip` is its veth address, and `init`, OpenBao and
    /// the forwarder run inside it.
    pub fn host(prefix: &str) -> Builder {
        Fixture::builder().netns(prefix)
    }

    // ------------------------------------------------- paths and addresses

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

    /// Vault's address as vaultnet knows it (the proxy's, with
    /// [`Builder::fault_proxy`]).
    pub fn vault_addr(&self) -> SocketAddr {
        self.vault_addr
    }

    /// The namespace playing the host; panics if the fixture has none.
    #[track_caller]
    pub fn ns(&self) -> &Netns {
        self.ns.as_ref().expect("a fixture with a host namespace")
    }

    /// The namespace's name, if the fixture has one.
    pub fn ns_name(&self) -> Option<&str> {
        self.ns.as_ref().map(|n| n.name())
    }

    /// The operator's mTLS files as `init` wrote them.
    pub fn operator_tls(&self) -> ClientTls {
        ClientTls {
            // Every CA trusted now: during a CA rotation Vault may serve a
            // certificate of either.
            ca_pem_path: self.path("pki/trust.pem"),
            client_cert_path: self.path("operator/client.pem"),
            client_key_path: self.path("operator/client-key.pem"),
        }
    }

    // ------------------------------------------------------ running vaultnet

    /// `vaultnet --dir DIR` with this site's `HOME`, in its namespace, and
    /// the root token in `BAO_TOKEN` once OpenBao runs.
    pub fn vaultnet(&self) -> Cmd {
        let mut c = self.vaultnet_without_token();
        if let Some(bao) = &self.bao {
            c.env("BAO_TOKEN", &bao.root_token);
        }
        c
    }

    /// `vaultnet --dir DIR` for another site's state directory `dir` on
    /// this host (its namespace and `HOME`), without any token.
    pub fn vaultnet_at(&self, dir: &Path) -> Cmd {
        let mut c = self.program();
        c.arg("--dir").arg(dir);
        c
    }

    /// [`Fixture::vaultnet`] without any token.
    pub fn vaultnet_without_token(&self) -> Cmd {
        let mut c = self.program();
        c.arg("--dir").arg(&self.dir);
        c
    }

    /// Arguments after the program for `init --yes` with this site's host
    /// IP, Vault address and the builder's [`Builder::init_args`]
    /// (repeating them on a re-run changes nothing).
    pub fn init_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--dir".into(), self.dir.clone().into()];
        let (host_ip, vault_addr) = (self.host_ip.to_string(), self.vault_addr.to_string());
        for a in [
            "init",
            "--yes",
            "--host-ip",
            &host_ip,
            "--vault-listen",
            &vault_addr,
        ] {
            args.push(a.into());
        }
        args.extend(["--timeout".into(), "10".into()]);
        args.extend(self.init_args.iter().cloned());
        args
    }

    /// `vaultnet … init --yes --host-ip … --vault-listen …`, without a token;
    /// add flags to it.
    pub fn init(&self) -> Cmd {
        let mut c = self.program();
        c.args(self.init_args());
        c
    }

    /// The `vaultnet` binary with this site's `HOME`, in its namespace.
    fn program(&self) -> Cmd {
        let mut c = Cmd::vaultnet();
        c.home(self.home());
        if let Some(ns) = &self.ns {
            c.netns(ns.name());
        }
        c
    }

    /// The first `init`'s run, checked by the builder.
    #[track_caller]
    pub fn init_output(&self) -> &Output {
        self.init_output
            .as_ref()
            .expect("a fixture built with `init`")
    }

    /// `vaultnet add-user ARGS…` (with the root token once OpenBao runs).
    pub fn add_user<S: AsRef<OsStr>>(&self, args: &[S]) -> Cmd {
        let mut c = self.vaultnet();
        c.arg("add-user").args(args);
        c
    }

    /// Waits up to `within` until `renew --dry-run --output json` (for
    /// `names`, or the whole site when empty) lists exactly `count` things
    /// due; returns that list. (`why` names the wait in a failure.)
    #[track_caller]
    pub fn wait_until_due(
        &self,
        names: &[&str],
        count: usize,
        within: Duration,
        why: &str,
    ) -> Value {
        wait_for(why, within, Duration::from_secs(1), || {
            // A dry run reads files and the state alone: no token.
            let out = self
                .vaultnet_without_token()
                .args(["renew", "--dry-run", "--output", "json"])
                .args(names)
                .run();
            let v: Value = serde_json::from_str(&out.stdout).map_err(|e| format!("{e}: {out}"))?;
            match v["due"].as_array().map(Vec::len) {
                Some(n) if n == count => Ok(v["due"].clone()),
                _ => Err(out.to_string()),
            }
        })
    }

    /// Records OpenBao's pid in a file and tells the site (`init
    /// --vault-pid-file`), so `renew` can have it reload; returns the pid
    /// and the file. (init's whole report is compared by its own tests.)
    #[track_caller]
    pub fn record_vault_pid_file(&self) -> (u32, PathBuf) {
        let pid = self.bao().pid().expect("OpenBao runs");
        let pid_file = self.scratch().join("bao.pid");
        super::write_private(&pid_file, format!("{pid}\n").as_bytes());
        self.init()
            .env("BAO_TOKEN", &self.bao().root_token)
            .arg("--vault-pid-file")
            .arg(&pid_file)
            .run()
            .expect_success();
        (pid, pid_file)
    }

    /// `vaultnet remove-user --yes ARGS…` (with the root token once OpenBao
    /// runs).
    pub fn remove_user<S: AsRef<OsStr>>(&self, args: &[S]) -> Cmd {
        let mut c = self.vaultnet();
        // Confirmed: the tests run without a terminal.
        c.args(["remove-user", "--yes"]).args(args);
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

    /// A refused run: exit `code`, nothing on stdout, and on stderr exactly
    /// `error: {error}` and `hint: {hint}`.
    pub fn refused(&self, code: i32, error: &str, hint: &str) -> Expect {
        self.expect(code)
            .stderr(format!("error: {error}\nhint: {hint}\n"))
    }

    /// [`Fixture::refused`] with exit 2: bad input.
    pub fn rejected(&self, error: &str, hint: &str) -> Expect {
        self.refused(2, error, hint)
    }

    // ------------------------------------------------------------- the state

    /// Every entry of the state directory, now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::take(&self.dir)
    }

    /// The state as vaultnet reads it: `vaultnet.yaml`, parsed, with what
    /// `vaultnet.journal` recorded since it was written (a run cut short
    /// leaves one) applied as docs/ARCHITECTURE.md describes it.
    #[track_caller]
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.path("vaultnet.yaml")).expect("vaultnet.yaml");
        let mut state: Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("vaultnet.yaml: {e}\n{text}"));
        if let Ok(journal) = std::fs::read_to_string(self.path("vaultnet.journal")) {
            apply_journal(&mut state, text.as_bytes(), &journal);
        }
        state
    }

    /// The bundle directory of `tenant` in the state.
    pub fn bundle(&self, tenant: &str) -> PathBuf {
        self.path(&format!("tenants/{tenant}"))
    }

    /// A bundle file as text.
    #[track_caller]
    pub fn bundle_text(&self, tenant: &str, file: &str) -> String {
        let p = self.bundle(tenant).join(file);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
    }

    /// The bundle's `compose.yaml`, parsed.
    #[track_caller]
    pub fn compose(&self, tenant: &str) -> Value {
        let text = self.bundle_text(tenant, "compose.yaml");
        serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("compose.yaml of {tenant} is not YAML: {e}\n{text}"))
    }

    // ----------------------------------------------------------------- Vault

    /// The running OpenBao; panics if the fixture has none.
    #[track_caller]
    pub fn bao(&self) -> &OpenBao {
        self.bao.as_ref().expect("a fixture with OpenBao")
    }

    /// The running OpenBao, to kill and restart it ([`Builder::raft`]);
    /// panics if the fixture has none.
    #[track_caller]
    pub fn bao_mut(&mut self) -> &mut OpenBao {
        self.bao.as_mut().expect("a fixture with OpenBao")
    }

    /// The running OpenBao, if any.
    pub fn openbao(&self) -> Option<&OpenBao> {
        self.bao.as_ref()
    }

    /// A root API call straight at OpenBao: the status and the body.
    #[track_caller]
    pub fn root_api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.bao().root_api(method, path, body)
    }

    /// A root API call that must answer `want`; the body.
    #[track_caller]
    pub fn root_api_expect(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> Value {
        let (code, answer) = self.root_api(method, path, body);
        assert_eq!(code, want, "{method} {path}: {answer}");
        answer
    }

    /// `LIST` on `path` as root: the keys; a missing path (404, or
    /// AppRole's 400 for a role that does not exist) is empty.
    #[track_caller]
    pub fn list(&self, path: &str) -> Vec<String> {
        let (code, body) = self.root_api("LIST", path, None);
        match code {
            404 => Vec::new(),
            400 if body.to_string().contains("does not exist") => Vec::new(),
            200 => vaultnet::vault::strings_at(&body, "/data/keys"),
            _ => panic!("LIST {path} answered {code}: {body}"),
        }
    }

    /// Writes `{"value": value}` to `<kv>/data/tenants/TENANT/app` as root.
    #[track_caller]
    pub fn write_secret(&self, tenant: &str, value: &str) {
        self.root_api_expect(
            "POST",
            &format!("secret/data/tenants/{tenant}/app"),
            Some(json!({ "data": { "value": value } })),
            200,
        );
    }

    /// AppRole login straight at OpenBao; the token, or the status and
    /// body of the refusal.
    pub fn login(&self, role_id: &str, secret_id: &str) -> Result<String, (u16, Value)> {
        approle_login(self.bao(), role_id, secret_id)
    }

    /// Logs in with the credentials in the tenant's bundle as they are on
    /// disk now.
    #[track_caller]
    pub fn login_bundle(&self, tenant: &str) -> String {
        self.login(
            &self.bundle_text(tenant, "role_id"),
            &self.bundle_text(tenant, "secret_id"),
        )
        .unwrap_or_else(|(code, body)| panic!("login as {tenant} answered {code}: {body}"))
    }

    /// Starts OpenBao from `vault/listener.json`, or from a copy beside the
    /// state changed by `edits`.
    #[track_caller]
    fn start_openbao(&self, edits: Vec<ListenerEdit>, raft: bool) -> OpenBao {
        let mut listener = self.path("vault/listener.json");
        if !edits.is_empty() {
            let text = std::fs::read_to_string(&listener).expect("read vault/listener.json");
            let mut doc: Value = serde_json::from_str(&text).expect("listener.json is JSON");
            let tcp = match &mut doc["listener"] {
                Value::Array(items) => items.iter_mut().find_map(|i| i.get_mut("tcp")),
                other => other.get_mut("tcp"),
            }
            .unwrap_or_else(|| panic!("no tcp listener in vault/listener.json: {text}"));
            for edit in edits {
                edit(tcp);
            }
            listener = self.scratch().join("listener.json");
            std::fs::write(&listener, serde_json::to_vec_pretty(&doc).unwrap())
                .unwrap_or_else(|e| panic!("write {}: {e}", listener.display()));
        }
        match raft {
            true => OpenBao::start_raft(self.ns.as_ref(), &listener, self.operator_tls()),
            false => OpenBao::start(self.ns.as_ref(), &listener, self.operator_tls()),
        }
    }

    // ----------------------------------------------------- the fault proxy

    /// A fault proxy injecting `inject` at the Vault address, in front of
    /// OpenBao, for the duration of one run (a fresh count of writes).
    #[track_caller]
    pub fn proxy(&self, inject: Inject) -> FaultProxy {
        assert!(self.fault_proxy, "a fixture built with `fault_proxy`");
        FaultProxy::start(
            self,
            self.vault_addr.port(),
            self.bao().addr().port(),
            inject,
        )
    }

    /// Runs `cmd` with a fresh proxy injecting `inject`; returns the output
    /// and the proxy (stopped when dropped) for its log.
    #[track_caller]
    pub fn run_through(&self, inject: Inject, cmd: &mut Cmd) -> (Output, FaultProxy) {
        let proxy = self.proxy(inject);
        (cmd.run(), proxy)
    }

    // ----------------------------------------------------------- forwarder

    /// The forwarder port from `vaultnet.yaml`.
    #[track_caller]
    pub fn forwarder_port(&self) -> u16 {
        let state = self.state();
        state
            .pointer("/site/port")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("no site.port in vaultnet.yaml: {state}")) as u16
    }

    /// Where the forwarder listens: the host IP and the forwarder port.
    pub fn forwarder_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.forwarder_port())
    }

    /// Starts socat from `forwarder/vaultnet-forwarder.service`'s
    /// `ExecStart=` in the namespace and waits until an mTLS request with
    /// the operator certificate gets through it to Vault.
    #[track_caller]
    pub fn start_forwarder(&mut self) {
        let unit = std::fs::read_to_string(self.path("forwarder/vaultnet-forwarder.service"))
            .expect("read the forwarder unit");
        let argv = vaultnet::render::forwarder::exec_start(&unit)
            .unwrap_or_else(|| panic!("no ExecStart= in the forwarder unit:\n{unit}"));
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let log = self.scratch().join("forwarder.log");
        self.forwarder_pid = Some(self.ns().spawn(&cmd, Some(&log)));
        let addr = self.forwarder_addr().to_string();
        self.wait_through_forwarder("a request through the forwarder", &addr, &log);
    }

    /// Waits until an mTLS request with the operator certificate gets
    /// through the forwarder at `addr` to Vault; fails with its log.
    #[track_caller]
    fn wait_through_forwarder(&self, what: &str, addr: &str, log: &Path) {
        let tls = self.operator_tls();
        wait_for(
            what,
            FORWARDER_TIMEOUT,
            Duration::from_millis(50),
            || match probe(
                Some(self.ns().name()),
                addr,
                &tls.ca_pem_path,
                Some((&tls.client_cert_path, &tls.client_key_path)),
            ) {
                Ok(200) => Ok(()),
                other => Err(format!(
                    "{other:?}; forwarder log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )),
            },
        )
    }

    /// Starts the instance for `port` of the socat template unit
    /// `forwarder/vaultnet-forwarder@.service` (profile l3) from its
    /// `ExecStart=`, `%i` being the port, as `systemctl start
    /// vaultnet-forwarder@PORT.service` would; waits until an mTLS request
    /// with the operator certificate (root: the gate admits it on every
    /// port) gets through it to Vault. Returns its pid.
    #[track_caller]
    pub fn start_port_forwarder(&self, port: u16) -> u32 {
        let unit = std::fs::read_to_string(self.path("forwarder/vaultnet-forwarder@.service"))
            .expect("read the forwarder's template unit");
        let argv = vaultnet::render::forwarder::exec_start(&unit)
            .unwrap_or_else(|| panic!("no ExecStart= in the template unit:\n{unit}"));
        let mut cmd = Command::new(&argv[0]);
        cmd.args(argv[1..].iter().map(|a| a.replace("%i", &port.to_string())));
        let log = self.scratch().join(format!("forwarder-{port}.log"));
        let pid = self.ns().spawn(&cmd, Some(&log));
        let addr = SocketAddr::new(self.host_ip, port).to_string();
        self.wait_through_forwarder("a request through the port's forwarder", &addr, &log);
        pid
    }

    /// Kills the forwarder (as `systemctl stop` would).
    #[track_caller]
    pub fn stop_forwarder(&mut self) {
        if let Some(pid) = self.forwarder_pid.take() {
            assert!(self.ns().kill(pid), "forwarder {pid} was not running");
        }
    }

    // ------------------------------------------------------------- the gate

    /// `nft -f forwarder/vaultnet.nft` in the namespace.
    #[track_caller]
    pub fn load_nft(&self) {
        run_ok(
            self.ns()
                .command("nft")
                .arg("-f")
                .arg(self.path("forwarder/vaultnet.nft")),
        );
    }

    /// Whether the gate (table inet vaultnet) is loaded in the
    /// fixture's namespace (the machine's own, for a fixture without one:
    /// read, never changed).
    pub fn gate_loaded(&self) -> bool {
        let mut c = match &self.ns {
            Some(ns) => ns.command("nft"),
            None => std::process::Command::new("nft"),
        };
        c.args(["list", "table", "inet", "vaultnet"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The line a command that rewrites the gate prints: the gate is
    /// reloaded when it is loaded, else the operator is told to load it.
    pub fn gate_line(&self) -> &'static str {
        if self.gate_loaded() {
            crate::support::tenant::NFT_RELOADED
        } else {
            crate::support::tenant::NFT
        }
    }

    /// `nft delete table inet vaultnet` in the namespace.
    #[track_caller]
    pub fn unload_nft(&self) {
        run_ok(
            self.ns()
                .command("nft")
                .args(["delete", "table", "inet", "vaultnet"]),
        );
    }

    // ------------------------------------------------------------- tenants

    /// The name of the `i`-th tenant of [`Builder::tenants`].
    #[track_caller]
    pub fn tenant(&self, i: usize) -> &str {
        &self.tenants[i].name
    }

    /// The names of the tenants of [`Builder::tenants`], in order.
    pub fn tenant_names(&self) -> Vec<&str> {
        self.tenants.iter().map(|t| t.name.as_str()).collect()
    }
}

/// The Unix users of [`Builder::tenants`] (`vnf<pid>a`, `vnf<pid>b`, …),
/// shared by the tests running at the same time — each provisions them in
/// its own site — and deleted when the last of them lets go.
static SHARED_USERS: Mutex<BTreeMap<usize, Weak<SharedUser>>> = Mutex::new(BTreeMap::new());

/// One throw-away Unix user without a home (`useradd -M`); deleted on drop.
#[derive(Debug)]
struct SharedUser {
    index: usize,
    name: String,
}

impl SharedUser {
    /// The live `i`-th user, or a new one when no test holds it.
    #[track_caller]
    fn nth(i: usize) -> Arc<SharedUser> {
        let mut users = SHARED_USERS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = users.get(&i).and_then(Weak::upgrade) {
            return u;
        }
        let letter = char::from(b'a' + u8::try_from(i).expect("at most 26 tenants"));
        let name = format!("vnf{}{letter}", std::process::id());
        // A user of this name can only be left by a crashed run that had
        // our pid: start from scratch.
        if nix::unistd::User::from_name(&name).ok().flatten().is_some() {
            passwd_tool(Command::new("userdel").arg(&name));
        }
        passwd_tool(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", &name]));
        let u = Arc::new(SharedUser { index: i, name });
        users.insert(i, Arc::downgrade(&u));
        u
    }
}

impl Drop for SharedUser {
    fn drop(&mut self) {
        let users = SHARED_USERS.lock().unwrap_or_else(|e| e.into_inner());
        // Between the last test letting go and this, another may have found
        // the user unheld and made it afresh: that one is not ours.
        if users.get(&self.index).and_then(Weak::upgrade).is_none() {
            passwd_tool(Command::new("userdel").arg(&self.name));
        }
    }
}

/// Applies a journal's whole lines to the parsed state when its header
/// names the digest of `yaml` (else it is spent and changes nothing).
#[track_caller]
fn apply_journal(state: &mut Value, yaml: &[u8], journal: &str) {
    let whole = journal.rfind('\n').map_or("", |end| &journal[..=end]);
    let mut lines = whole.lines();
    let Some(head) = lines.next() else { return };
    let head: Value = serde_json::from_str(head).expect("journal header");
    let digest: String = ring::digest::digest(&ring::digest::SHA256, yaml)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(head["vaultnet_journal"], 1, "journal version");
    if head["base"] != digest.as_str() {
        return;
    }
    let map = state.as_object_mut().expect("the state is a map");
    for line in lines {
        let e: Value = serde_json::from_str(line).expect("journal entry");
        let name = e["tenant"]
            .as_str()
            .expect("entry names a tenant")
            .to_string();
        let tenants = map.entry("tenants").or_insert_with(|| json!({}));
        let tenants = tenants.as_object_mut().expect("tenants is a map");
        match &e["record"] {
            Value::Null => tenants.remove(&name),
            r => tenants.insert(name.clone(), r.clone()),
        };
        let pending = map.entry("pending").or_insert_with(|| json!([]));
        let list = pending.as_array_mut().expect("pending is a list");
        list.retain(|n| *n != name.as_str());
        if e["pending"] == true {
            list.push(json!(name));
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    for key in ["tenants", "pending"] {
        let empty = match &map.get(key) {
            Some(Value::Object(o)) => o.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if empty {
            map.remove(key);
        }
    }
}
