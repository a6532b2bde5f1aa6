//! A healthy vaultnet host for the `doctor` tests, and `doctor`'s JSON
//! report read back. [`Healthy::start`] builds the whole chain the way an
//! operator does, in a network namespace playing the host: `init` with the
//! namespace's veth address as host IP, a real OpenBao started from the
//! listener file `init` wrote and initialised and unsealed, `init` again
//! with the root token, `add-user` for two throw-away Unix users, the socat
//! forwarder from the generated unit's `ExecStart=`, and the nft gate
//! loaded in the namespace. Each test then breaks one link and reads what
//! `doctor` says about it through [`Report`], which finds a check by its
//! stable id anywhere in the tree. Every doctor run is also checked for the
//! operator token in its output (PROMISES S6).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;

use super::cmd::{Cmd, Output};
use super::init::{bootstrap_init, first_init};
use super::netns::Netns;
use super::openbao::{OpenBao, probe};
use super::site::Site;
use super::tenant::{add_expect, passwd_tool};
use super::{run_ok, wait_for};

/// The forwarder port `init` writes by default.
pub const FORWARDER_PORT: u16 = 22300;

/// The two tenants every doctor test provisions, as real Unix users
/// (`vnd<pid>a` and `vnd<pid>b`), shared by the tests running at the same
/// time and deleted when the last of them lets go.
static TENANTS: Mutex<Weak<Tenants>> = Mutex::new(Weak::new());

/// Two throw-away Unix users; deleted on drop.
#[derive(Debug)]
pub struct Tenants {
    pub alice: String,
    pub bob: String,
}

impl Tenants {
    /// The live pair, or a new one when no test holds it.
    #[track_caller]
    pub fn shared() -> Arc<Tenants> {
        let mut slot = TENANTS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = slot.upgrade() {
            return t;
        }
        let pid = std::process::id();
        let t = Arc::new(Tenants {
            alice: format!("vnd{pid}a"),
            bob: format!("vnd{pid}b"),
        });
        for name in [&t.alice, &t.bob] {
            // A user of this name can only be left by a crashed run that
            // had our pid: start from scratch.
            if nix::unistd::User::from_name(name).ok().flatten().is_some() {
                passwd_tool(Command::new("userdel").arg(name));
            }
            passwd_tool(Command::new("useradd").args(["-M", "-s", "/usr/sbin/nologin", name]));
        }
        *slot = Arc::downgrade(&t);
        t
    }
}

impl Drop for Tenants {
    fn drop(&mut self) {
        for name in [&self.alice, &self.bob] {
            passwd_tool(Command::new("userdel").arg(name));
        }
    }
}

/// A host where every link of the chain works.
pub struct Healthy {
    // Dropped in this order: OpenBao, then the site (its namespace kills
    // the forwarder and anything else still inside), then the users.
    pub bao: OpenBao,
    pub site: Site,
    pub tenants: Arc<Tenants>,
    forwarder: Option<u32>,
}

impl Healthy {
    /// The chain as `doctor`'s issue describes it, all of it working.
    #[track_caller]
    pub fn start(prefix: &str) -> Healthy {
        Healthy::start_with_listener(prefix, |_| {})
    }

    /// The same, but OpenBao runs with a copy of `vault/listener.json`
    /// changed by `edit` (its `tcp` block), for a listener an operator
    /// changed behind vaultnet's back.
    #[track_caller]
    pub fn start_with_listener(prefix: &str, edit: impl FnOnce(&mut Value)) -> Healthy {
        let tenants = Tenants::shared();
        let site = Site::in_netns(prefix);
        site.init().run().expect(first_init(&site));

        let listener = site.path("vault/listener.json");
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&listener).unwrap()).unwrap();
        let tcp = match &mut doc["listener"] {
            Value::Array(items) => items[0].get_mut("tcp"),
            other => other.get_mut("tcp"),
        }
        .unwrap_or_else(|| panic!("no tcp listener in {}", listener.display()));
        edit(tcp);
        let copy = site.scratch().join("listener.json");
        std::fs::write(&copy, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let bao = OpenBao::start(site.ns.as_ref(), &copy, site.operator_tls());

        let mut h = Healthy {
            bao,
            site,
            tenants,
            forwarder: None,
        };
        h.site
            .init()
            .env("BAO_TOKEN", &h.bao.root_token)
            .run()
            .expect(bootstrap_init(&h.site));
        h.vaultnet()
            .arg("add-user")
            .arg(&h.tenants.alice)
            .arg(&h.tenants.bob)
            .run()
            .expect(add_expect(
                &h.site,
                &[&h.tenants.alice, &h.tenants.bob],
                true,
            ));
        h.start_forwarder();
        h.load_nft();
        h
    }

    pub fn alice(&self) -> &str {
        &self.tenants.alice
    }

    pub fn bob(&self) -> &str {
        &self.tenants.bob
    }

    pub fn ns(&self) -> &Netns {
        self.site.ns.as_ref().expect("a site in a namespace")
    }

    /// Where the forwarder listens: the host IP and port 22300.
    pub fn forwarder_addr(&self) -> SocketAddr {
        SocketAddr::new(self.site.host_ip(), FORWARDER_PORT)
    }

    /// `vaultnet --dir D` in the namespace, with the root token in
    /// `BAO_TOKEN` (for `init`, `add-user` — the fixes doctor names).
    pub fn vaultnet(&self) -> Cmd {
        let mut c = self.site.vaultnet();
        c.env("BAO_TOKEN", &self.bao.root_token);
        c
    }

    /// `vaultnet --dir D doctor ARGS…` with the root token and a UTF-8
    /// locale.
    pub fn doctor(&self, args: &[&str]) -> Cmd {
        let mut c = self.vaultnet();
        c.env("LC_ALL", "C.UTF-8").arg("doctor").args(args);
        c
    }

    /// Runs `doctor ARGS… --output json`, expects exit `code` and nothing
    /// on stderr, checks the operator token is not in the output and
    /// parses the report.
    #[track_caller]
    pub fn report(&self, args: &[&str], code: i32) -> Report {
        let out = self
            .doctor(args)
            .args(["--output", "json"])
            .run()
            .expect(self.site.expect(code).stdout_any(REPORT_NOT_COMPARED));
        assert_no_token(&out, &self.bao.root_token);
        if std::env::var_os("DUMP").is_some() {
            let t = self.doctor(args).run();
            eprintln!(
                "=== {:?} {args:?}\n{}",
                std::thread::current().name(),
                t.stdout
            );
        }
        Report::parse(out)
    }

    /// Starts socat from `forwarder/vaultnet-forwarder.service`'s
    /// `ExecStart=` and waits until an mTLS request gets through it.
    #[track_caller]
    pub fn start_forwarder(&mut self) {
        let unit = std::fs::read_to_string(self.site.path("forwarder/vaultnet-forwarder.service"))
            .expect("read the forwarder unit");
        let argv = vaultnet::render::forwarder::exec_start(&unit)
            .unwrap_or_else(|| panic!("no ExecStart= in the forwarder unit:\n{unit}"));
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let log = self.site.scratch().join("forwarder.log");
        self.forwarder = Some(self.ns().spawn(&cmd, Some(&log)));
        self.wait_through_forwarder(&log);
    }

    /// Waits until `GET sys/health` with the operator certificate answers
    /// 200 through the forwarder address.
    #[track_caller]
    fn wait_through_forwarder(&self, log: &Path) {
        let tls = self.site.operator_tls();
        let addr = self.forwarder_addr().to_string();
        wait_for(
            "a request through the forwarder",
            Duration::from_secs(15),
            Duration::from_millis(50),
            || match probe(
                Some(self.ns().name()),
                &addr,
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

    /// Kills the forwarder (as `systemctl stop` would).
    pub fn stop_forwarder(&mut self) {
        if let Some(pid) = self.forwarder.take() {
            assert!(self.ns().kill(pid), "forwarder {pid} was not running");
        }
    }

    /// `nft -f forwarder/vaultnet.nft` in the namespace.
    #[track_caller]
    pub fn load_nft(&self) {
        run_ok(
            self.ns()
                .command("nft")
                .arg("-f")
                .arg(self.site.path("forwarder/vaultnet.nft")),
        );
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

    /// `vaultnet.yaml`, parsed.
    #[track_caller]
    pub fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.site.path("vaultnet.yaml")).unwrap();
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("vaultnet.yaml: {e}\n{text}"))
    }

    /// A root API call that must answer `want`.
    #[track_caller]
    pub fn root_api(&self, method: &str, path: &str, body: Option<Value>, want: u16) -> Value {
        let (code, answer) = self.bao.root_api(method, path, body);
        assert_eq!(code, want, "{method} {path}: {answer}");
        answer
    }

    /// Runs the fix a hint names as a `vaultnet` command line (`vaultnet
    /// add-user alice`, `vaultnet init …`) and expects exactly `out` and
    /// `err` of it, exit 0 (the site's paths and addresses redacted).
    #[track_caller]
    pub fn run_vaultnet_fix(&self, words: &[&str], out: &str, err: &str) -> Output {
        self.vaultnet()
            .args(words)
            .run()
            .expect(self.site.expect(0).stdout(out).stderr(err))
    }
}

/// Why doctor's reports are not compared whole: they hold timings
/// (`connected in N ms`) and a line per check of a host the test builds;
/// [`Report`] reads each check by its stable id instead, and the text
/// tests check the marks and lines they are about.
pub const REPORT_NOT_COMPARED: &str =
    "doctor's report holds timings; its checks are read by stable id or line";

/// Panics if the operator token shows anywhere in a run's output.
#[track_caller]
pub fn assert_no_token(out: &Output, token: &str) {
    assert!(!token.is_empty());
    assert!(
        !out.stdout.contains(token) && !out.stderr.contains(token),
        "the operator token appears in the output\n{out}"
    );
}

/// `doctor --output json`, parsed, with the run that produced it.
pub struct Report {
    pub out: Output,
    pub json: Value,
}

impl Report {
    #[track_caller]
    pub fn parse(out: Output) -> Report {
        let json = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor's JSON does not parse: {e}\n{out}"));
        Report { out, json }
    }

    /// The report's overall `status`.
    pub fn status(&self) -> &str {
        self.json["status"].as_str().unwrap_or("<none>")
    }

    /// `summary.KEY` (`ok`, `warn`, `fail`, `skip`).
    #[track_caller]
    pub fn summary(&self, key: &str) -> u64 {
        self.json["summary"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("no summary.{key}\n{}", self.out))
    }

    /// Every check in the tree, depth first.
    pub fn all(&self) -> Vec<&Value> {
        fn walk<'a>(c: &'a Value, out: &mut Vec<&'a Value>) {
            out.push(c);
            if let Some(children) = c["children"].as_array() {
                for ch in children {
                    walk(ch, out);
                }
            }
        }
        let mut out = Vec::new();
        for c in self.json["checks"].as_array().into_iter().flatten() {
            walk(c, &mut out);
        }
        out
    }

    /// Every check's id.
    pub fn ids(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    }

    /// Ids of the leaves (checks without children) whose status is `status`.
    pub fn leaves(&self, status: &str) -> Vec<String> {
        self.all()
            .iter()
            .filter(|c| c.get("children").is_none() && c["status"] == status)
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The check with this id; panics with the whole run if there is none.
    #[track_caller]
    pub fn check(&self, id: &str) -> &Value {
        self.all()
            .into_iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check `{id}` in the report\n{}", self.out))
    }

    /// The check with this id, after asserting its status.
    #[track_caller]
    pub fn expect(&self, id: &str, status: &str) -> &Value {
        let c = self.check(id);
        assert_eq!(
            c["status"], status,
            "check `{id}`: {c}\n--- whole run ---\n{}",
            self.out
        );
        c
    }

    /// Asserts the check failed (or warned) and its hint contains every
    /// one of `needles`; returns the hint.
    #[track_caller]
    pub fn expect_hint(&self, id: &str, status: &str, needles: &[&str]) -> String {
        let c = self.expect(id, status);
        let hint = c["hint"]
            .as_str()
            .unwrap_or_else(|| panic!("check `{id}` has no hint: {c}\n{}", self.out));
        for n in needles {
            assert!(
                hint.contains(n),
                "hint of `{id}` does not name {n:?}: {hint:?}\n{}",
                self.out
            );
        }
        hint.to_string()
    }

    /// The `detail` of a check ("" when it has none).
    #[track_caller]
    pub fn detail(&self, id: &str) -> String {
        self.check(id)["detail"].as_str().unwrap_or("").to_string()
    }
}
