//! Network namespaces that play the host and its tenants.
//!
//! These kernels have no `dummy` link type, so a [`Netns`] gets its "host
//! IP" — the non-loopback address forwarders listen on — from one end of a
//! veth pair whose both ends live inside the namespace. A [`TenantNs`] is a
//! second namespace joined to the host by its own veth pair, with a default
//! route through the host side and an `/etc/netns/NAME/hosts` file that
//! `ip netns exec` bind-mounts over `/etc/hosts` (the effect of compose's
//! `extra_hosts`).
//!
//! Every link is created with `ip -n NAME` so nothing, least of all a
//! private-range address, is ever added to the machine's own namespace.
//! Names are unique per process and counter, so parallel tests (and
//! parallel test processes) never share a namespace. Dropping a namespace
//! kills every process still inside it, deletes it and its `/etc/netns`
//! directory.

use std::ffi::OsStr;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::run_ok;

/// Counter behind namespace names: one per `Netns`/`TenantNs` made by this
/// process.
static NS_COUNTER: AtomicU32 = AtomicU32::new(0);
/// Counter behind subnets: one /24 per veth pair made by this process.
static SUBNET_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Name of the interface carrying the host IP inside a [`Netns`].
pub const HOST_IF: &str = "vnhost";
/// Its peer, also inside the namespace; it only exists to keep the link up.
pub const HOST_PEER_IF: &str = "vnpeer";
/// The tenant's end of its veth pair, inside the tenant namespace.
pub const TENANT_IF: &str = "eth0";

/// A fresh `10.A.B.0/24`: `A` from the pid, `B` from a counter.
///
/// Namespaces are isolated, so equal subnets in unconnected namespaces
/// would not actually clash; distinct ones keep logs unambiguous and make
/// an accidental route between two tests' namespaces fail loudly.
fn next_subnet() -> (u8, u8) {
    let a = 100 + (std::process::id() % 150) as u8;
    let b = (SUBNET_COUNTER.fetch_add(1, Ordering::Relaxed) % 256) as u8;
    (a, b)
}

/// A unique namespace name: `PREFIX<pid>-<n>`.
fn unique_name(prefix: &str) -> String {
    let n = NS_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}-{n}", std::process::id())
}

/// One network namespace owned by a test: the common part of [`Netns`] and
/// [`TenantNs`]. Dropping it ends everything inside and deletes it.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    children: Mutex<Vec<Child>>,
}

impl Namespace {
    /// Creates the namespace and brings `lo` up.
    #[track_caller]
    fn create(prefix: &str) -> Namespace {
        let name = unique_name(prefix);
        // A namespace of this name can only be left over from a crashed
        // earlier process that had our pid: it is stale, remove it.
        if Path::new("/run/netns").join(&name).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Namespace {
            name,
            children: Mutex::new(Vec::new()),
        };
        ns.run_ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS…`, panicking on failure; returns stdout.
    #[track_caller]
    pub fn run_ip(&self, args: &[&str]) -> String {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// A command that runs `program` inside the namespace; add arguments,
    /// environment and stdio to it as usual.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// The same command, run inside the namespace.
    ///
    /// Copies program, arguments, explicitly set or removed variables and
    /// the working directory; `env_clear()` and stdio cannot be read back
    /// from a `Command` and are not carried over.
    pub fn wrap(&self, cmd: &Command) -> Command {
        let mut c = self.command(cmd.get_program());
        c.args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(dir) = cmd.get_current_dir() {
            c.current_dir(dir);
        }
        c
    }

    /// Runs `cmd` inside the namespace to completion (stdin `/dev/null`)
    /// and returns its output, whatever the exit status.
    #[track_caller]
    pub fn exec(&self, cmd: &mut Command) -> std::process::Output {
        let mut c = self.wrap(cmd);
        c.stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
    }

    /// Starts `cmd` inside the namespace in the background, its stdout and
    /// stderr appended to `log` (or discarded). The child is killed when the
    /// namespace is dropped, or earlier by [`Namespace::kill`]. Returns its pid.
    #[track_caller]
    pub fn spawn(&self, cmd: &Command, log: Option<&Path>) -> u32 {
        let mut c = self.wrap(cmd);
        c.stdin(Stdio::null());
        match log {
            Some(path) => {
                let f = File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap_or_else(|e| panic!("open log {}: {e}", path.display()));
                let f2 = f.try_clone().expect("clone log handle");
                c.stdout(f).stderr(f2);
            }
            None => {
                c.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
        self.adopt(child)
    }

    /// Hands a child already started inside the namespace (for instance via
    /// [`Namespace::command`]) to the namespace, which kills it on drop.
    pub fn adopt(&self, child: Child) -> u32 {
        let pid = child.id();
        self.children.lock().unwrap().push(child);
        pid
    }

    /// Kills and reaps one child started by [`Namespace::spawn`] or adopted.
    /// Returns false if no such child is tracked.
    pub fn kill(&self, pid: u32) -> bool {
        let mut children = self.children.lock().unwrap();
        let Some(i) = children.iter().position(|c| c.id() == pid) else {
            return false;
        };
        let mut child = children.swap_remove(i);
        let _ = child.kill();
        let _ = child.wait();
        true
    }

    /// Pids of all processes whose network namespace is this one.
    pub fn pids(&self) -> Vec<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Writes `/etc/netns/NAME/hosts` (localhost plus `entries`), which
    /// `ip netns exec` bind-mounts over `/etc/hosts` for every later
    /// command run in the namespace.
    pub fn write_hosts(&self, entries: &[(&str, IpAddr)]) {
        let mut hosts = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost\n");
        for (name, addr) in entries {
            hosts.push_str(&format!("{addr}\t{name}\n"));
        }
        let dir = self.etc_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        let path = dir.join("hosts");
        std::fs::write(&path, hosts).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// `/etc/netns/NAME`: files here replace `/etc/FILE` under `ip netns exec`.
    pub fn etc_dir(&self) -> PathBuf {
        Path::new("/etc/netns").join(&self.name)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Children we started first, so they are reaped (no zombies) …
        let children =
            std::mem::take(&mut *self.children.lock().unwrap_or_else(|e| e.into_inner()));
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // … then anything else still inside: daemons that forked away from
        // the pid we know (nginx, haproxy), or grandchildren. A namespace is
        // only freed once its last process is gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(self.etc_dir());
    }
}

/// The namespace playing the host: loopback plus a veth "host IP".
#[derive(Debug)]
pub struct Netns {
    ns: Namespace,
    host_ip: Ipv4Addr,
    subnet_a: u8,
    tenants: AtomicU32,
}

impl Netns {
    /// Creates a namespace named `PREFIX<pid>-<n>` with `lo` up and a veth
    /// pair (`vnhost`, `vnpeer`), both ends inside and up, `vnhost`
    /// carrying a fresh `10.A.B.1/24`.
    #[track_caller]
    pub fn new(prefix: &str) -> Netns {
        let ns = Namespace::create(prefix);
        let (a, b) = next_subnet();
        let host_ip = Ipv4Addr::new(10, a, b, 1);
        ns.run_ip(&[
            "link",
            "add",
            HOST_IF,
            "type",
            "veth",
            "peer",
            "name",
            HOST_PEER_IF,
        ]);
        ns.run_ip(&["addr", "add", &format!("{host_ip}/24"), "dev", HOST_IF]);
        ns.run_ip(&["link", "set", HOST_PEER_IF, "up"]);
        ns.run_ip(&["link", "set", HOST_IF, "up"]);
        Netns {
            ns,
            host_ip,
            subnet_a: a,
            tenants: AtomicU32::new(0),
        }
    }

    /// The non-loopback address on `vnhost`.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.host_ip
    }

    /// A default route via `10.A.B.2` on `vnhost` (an address nothing
    /// holds): pasta copies the host's routes into its containers and
    /// refuses to start without a default one ("Network is unreachable").
    /// Nothing leaves the namespace by it.
    #[track_caller]
    pub fn add_default_route(&self) {
        let via = self.default_gateway().to_string();
        self.ns
            .run_ip(&["route", "add", "default", "via", &via, "dev", HOST_IF]);
    }

    /// The address [`Netns::add_default_route`] routes through.
    pub fn default_gateway(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.host_ip.octets()[1], self.host_ip.octets()[2], 2)
    }

    /// Deletes the host IP from `vnhost` (the interface stays up), so tests
    /// can see what happens when the host's address disappears.
    #[track_caller]
    pub fn remove_address(&self) {
        self.ns.run_ip(&[
            "addr",
            "del",
            &format!("{}/24", self.host_ip),
            "dev",
            HOST_IF,
        ]);
    }

    /// Puts the host IP back after [`Netns::remove_address`].
    #[track_caller]
    pub fn restore_address(&self) {
        self.ns.run_ip(&[
            "addr",
            "add",
            &format!("{}/24", self.host_ip),
            "dev",
            HOST_IF,
        ]);
    }

    /// A second namespace joined to this one by a veth pair: `vntK` here
    /// (`10.A.C.1/24`), `eth0` there (`10.A.C.2/24`, default route via
    /// `10.A.C.1`), and `hosts` written to its `/etc/netns/NAME/hosts`.
    ///
    /// From the tenant, every address of the host namespace — the host IP
    /// above all — is reachable; the host namespace does not forward, so
    /// the tenant reaches nothing beyond it.
    #[track_caller]
    pub fn add_tenant_ns(&self, prefix: &str, hosts: &[(&str, IpAddr)]) -> TenantNs {
        let tenant = Namespace::create(prefix);
        let k = self.tenants.fetch_add(1, Ordering::Relaxed);
        let host_if = format!("vnt{k}");
        let (_, c) = next_subnet();
        let gateway = Ipv4Addr::new(10, self.subnet_a, c, 1);
        let ip = Ipv4Addr::new(10, self.subnet_a, c, 2);
        // Created from inside the host namespace, the peer moved straight
        // into the tenant: no end ever appears in the root namespace.
        self.ns.run_ip(&[
            "link",
            "add",
            &host_if,
            "type",
            "veth",
            "peer",
            "name",
            TENANT_IF,
            "netns",
            tenant.name(),
        ]);
        self.ns
            .run_ip(&["addr", "add", &format!("{gateway}/24"), "dev", &host_if]);
        self.ns.run_ip(&["link", "set", &host_if, "up"]);
        tenant.run_ip(&["addr", "add", &format!("{ip}/24"), "dev", TENANT_IF]);
        tenant.run_ip(&["link", "set", TENANT_IF, "up"]);
        tenant.run_ip(&["route", "add", "default", "via", &gateway.to_string()]);
        tenant.write_hosts(hosts);
        TenantNs {
            ns: tenant,
            ip,
            gateway,
            host_if,
        }
    }
}

impl Deref for Netns {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.ns
    }
}

/// A tenant's namespace, joined to a [`Netns`].
#[derive(Debug)]
pub struct TenantNs {
    ns: Namespace,
    ip: Ipv4Addr,
    gateway: Ipv4Addr,
    host_if: String,
}

impl TenantNs {
    /// The tenant's own address (on its `eth0`).
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The host namespace's address on this tenant's link.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The name of this tenant's veth end inside the host namespace.
    pub fn host_if(&self) -> &str {
        &self.host_if
    }
}

impl Deref for TenantNs {
    type Target = Namespace;
    fn deref(&self) -> &Namespace {
        &self.ns
    }
}
