//! A real OpenBao raft cluster for tests: every node started inside the
//! namespace playing the host from the two files `vaultnet init` wrote for
//! it (`vault/nodes/NAME/raft.json` and `listener.json`) and nothing else,
//! initialised once on one node with `PUT sys/init`, unsealed node by node
//! (the others join through their `retry_join` stanzas, over mutual TLS with
//! their own join certificates), and checked until raft has every node as a
//! voter. Requests are `curl` inside the namespace — straight at a node with
//! the operator's certificate, or through the forwarder the way a tenant's
//! name resolves (`--resolve NAME:PORT:HOST_IP`) — with token and body in a
//! config on stdin, never in argv. [`RaftCluster::kill`] SIGKILLs a node's
//! server process and [`RaftCluster::restart`] starts it again from the same
//! files. A failing test prints every node's log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::netns::Netns;
use super::openbao::{ClientTls, bao_binary, curl_quote, run_curl_config};
use super::wait_for;

/// A raft node takes ~6–7 s from start to active; joins and elections on
/// a loaded machine take longer.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(60);

/// One request made with `curl` in namespace `ns`: `url` is the whole
/// URL; `resolve` pins a name to an address (`extra_hosts`); `identity` is
/// (CA, certificate, key). Returns the status and the body (JSON, `Null`
/// when empty, else the text), or curl's error when no HTTP answer came.
#[allow(clippy::too_many_arguments)]
pub fn curl(
    ns: &str,
    url: &str,
    resolve: Option<(&str, SocketAddr)>,
    (ca, cert, key): (&Path, &Path, &Path),
    method: &str,
    body: Option<&Value>,
    token: Option<&str>,
    max_time: Duration,
) -> Result<(u16, Value), String> {
    let mut config = String::new();
    let mut opt = |k: &str, v: &str| config.push_str(&format!("{k} = {}\n", curl_quote(v)));
    opt("url", url);
    opt("request", method);
    opt("cacert", &ca.to_string_lossy());
    opt("cert", &cert.to_string_lossy());
    opt("key", &key.to_string_lossy());
    opt("max-time", &format!("{:.1}", max_time.as_secs_f32()));
    opt("write-out", "\n%{http_code}");
    if let Some((name, addr)) = resolve {
        opt("resolve", &format!("{name}:{}:{}", addr.port(), addr.ip()));
    }
    if let Some(t) = token {
        opt("header", &format!("X-Vault-Token: {t}"));
    }
    if let Some(b) = body {
        opt("header", "Content-Type: application/json");
        opt("data-raw", &b.to_string());
    }
    run_curl_config(Some(ns), config)
}

/// One node of a [`RaftCluster`].
pub struct Node {
    pub name: String,
    pub addr: SocketAddr,
    raft: PathBuf,
    listener: PathBuf,
    log: PathBuf,
    pid: Option<u32>,
}

/// Three (or more) OpenBao nodes of one raft cluster in a host namespace.
pub struct RaftCluster<'a> {
    ns: &'a Netns,
    pub nodes: Vec<Node>,
    tls: ClientTls,
    pub root_token: String,
    pub unseal_key: String,
}

impl<'a> RaftCluster<'a> {
    /// Starts every node of `nodes` (name, API address) from the files of
    /// state directory `state`, its raft data under `raft_dir/NAME`
    /// (created here), logs in `logs`; waits until each answers.
    #[track_caller]
    pub fn start(
        ns: &'a Netns,
        state: &Path,
        raft_dir: &Path,
        logs: &Path,
        nodes: &[(&str, SocketAddr)],
        tls: ClientTls,
    ) -> RaftCluster<'a> {
        let nodes = nodes
            .iter()
            .map(|(name, addr)| {
                let dir = raft_dir.join(name);
                std::fs::create_dir_all(&dir)
                    .unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
                Node {
                    name: name.to_string(),
                    addr: *addr,
                    raft: state.join(format!("vault/nodes/{name}/raft.json")),
                    listener: state.join(format!("vault/nodes/{name}/listener.json")),
                    log: logs.join(format!("bao-{name}.log")),
                    pid: None,
                }
            })
            .collect();
        let mut c = RaftCluster {
            ns,
            nodes,
            tls,
            root_token: String::new(),
            unseal_key: String::new(),
        };
        for i in 0..c.nodes.len() {
            c.spawn(i);
        }
        for i in 0..c.nodes.len() {
            c.wait_answering(i);
        }
        c
    }

    fn spawn(&mut self, i: usize) {
        let n = &self.nodes[i];
        let mut cmd = Command::new(bao_binary());
        cmd.arg("server")
            .arg("-config")
            .arg(&n.raft)
            .arg("-config")
            .arg(&n.listener);
        for (name, _) in std::env::vars_os() {
            if super::cmd::is_scrubbed(&name) {
                cmd.env_remove(name);
            }
        }
        let pid = self.ns.spawn(&cmd, Some(&n.log));
        self.nodes[i].pid = Some(pid);
    }

    #[track_caller]
    fn wait_answering(&self, i: usize) {
        let _: u16 = wait_for(
            &format!("node {} to answer sys/health", self.nodes[i].name),
            CLUSTER_TIMEOUT,
            Duration::from_millis(200),
            || self.health(i).ok_or_else(|| self.logs()),
        );
    }

    /// A request straight at node `i` with the operator's certificate.
    pub fn api(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Result<(u16, Value), String> {
        curl(
            self.ns.name(),
            &format!("https://{}/v1/{path}", self.nodes[i].addr),
            None,
            (
                &self.tls.ca_pem_path,
                &self.tls.client_cert_path,
                &self.tls.client_key_path,
            ),
            method,
            body.as_ref(),
            token,
            Duration::from_secs(10),
        )
    }

    /// [`RaftCluster::api`] with the root token, which must answer.
    #[track_caller]
    pub fn root_api(
        &self,
        i: usize,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.api(i, method, path, body, Some(&self.root_token))
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {path} on {}: {e}\n{}",
                    self.nodes[i].name,
                    self.logs()
                )
            })
    }

    /// `sys/health` of node `i`: 200 active, 429 standby, 503 sealed, 501
    /// not initialised; `None` when it does not answer.
    pub fn health(&self, i: usize) -> Option<u16> {
        self.api(i, "GET", "sys/health", None, None)
            .ok()
            .map(|r| r.0)
    }

    /// The node answering `sys/health` with 200, if exactly one does.
    pub fn active(&self) -> Option<usize> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].pid.is_some() && self.health(*i) == Some(200))
            .collect();
        (up.len() == 1).then(|| up[0])
    }

    /// `PUT sys/init` on node 0 (one key share), then every node
    /// unsealed; waits for one active node and every node a voter.
    #[track_caller]
    pub fn init_and_unseal(&mut self) {
        let (code, init) = self
            .api(
                0,
                "PUT",
                "sys/init",
                Some(json!({"secret_shares": 1, "secret_threshold": 1})),
                None,
            )
            .unwrap_or_else(|e| panic!("sys/init: {e}\n{}", self.logs()));
        assert_eq!(code, 200, "sys/init: {init}\n{}", self.logs());
        self.root_token = init["root_token"].as_str().expect("root_token").into();
        self.unseal_key = init["keys"][0].as_str().expect("keys[0]").into();
        self.unseal(0);
        let _: () = wait_for(
            "the first node to become active",
            CLUSTER_TIMEOUT,
            Duration::from_millis(200),
            || match self.health(0) {
                Some(200) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
        for i in 1..self.nodes.len() {
            self.unseal(i);
        }
        self.wait_all_voters();
    }

    /// Unseals node `i` (a joining node needs the key once it has joined:
    /// retried until it says it is unsealed), and waits until it is active
    /// or standby.
    #[track_caller]
    pub fn unseal(&self, i: usize) {
        let name = &self.nodes[i].name;
        let _: () = wait_for(
            &format!("node {name} to unseal"),
            CLUSTER_TIMEOUT,
            Duration::from_millis(300),
            || {
                let r = self.api(
                    i,
                    "PUT",
                    "sys/unseal",
                    Some(json!({"key": self.unseal_key})),
                    None,
                );
                match r {
                    Ok((200, b)) if b["sealed"] == Value::Bool(false) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
        let _: () = wait_for(
            &format!("node {name} to be active or standby"),
            CLUSTER_TIMEOUT,
            Duration::from_millis(200),
            || match self.health(i) {
                Some(200 | 429) => Ok(()),
                other => Err(format!("{other:?}")),
            },
        );
    }

    /// The raft configuration's servers as (node_id, voter, leader),
    /// asked of the active node.
    #[track_caller]
    pub fn peers(&self) -> Vec<(String, bool, bool)> {
        let i = self
            .active()
            .unwrap_or_else(|| panic!("no active node\n{}", self.logs()));
        let (code, body) = self.root_api(i, "GET", "sys/storage/raft/configuration", None);
        assert_eq!(code, 200, "{body}");
        let mut out: Vec<(String, bool, bool)> = body
            .pointer("/data/config/servers")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("no servers in {body}"))
            .iter()
            .map(|s| {
                (
                    s["node_id"].as_str().unwrap_or("").to_string(),
                    s["voter"].as_bool().unwrap_or(false),
                    s["leader"].as_bool().unwrap_or(false),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Autopilot's view, from the active node.
    #[track_caller]
    pub fn autopilot(&self) -> Value {
        let i = self
            .active()
            .unwrap_or_else(|| panic!("no active node\n{}", self.logs()));
        let (code, body) = self.root_api(i, "GET", "sys/storage/raft/autopilot/state", None);
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Waits until raft has every node as a voter and autopilot calls the
    /// cluster healthy, every server at the leader's index.
    #[track_caller]
    pub fn wait_all_voters(&self) {
        let want: Vec<String> = {
            let mut v: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
            v.sort();
            v
        };
        let _: () = wait_for(
            "every node a voter of a healthy cluster",
            CLUSTER_TIMEOUT,
            Duration::from_millis(500),
            || {
                let Some(i) = self.active() else {
                    return Err("no active node".into());
                };
                let (_, cfg) = self.api(
                    i,
                    "GET",
                    "sys/storage/raft/configuration",
                    None,
                    Some(&self.root_token),
                )?;
                let voters: Vec<String> = {
                    let mut v: Vec<String> = cfg
                        .pointer("/data/config/servers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|s| s["voter"] == Value::Bool(true))
                        .filter_map(|s| s["node_id"].as_str().map(str::to_string))
                        .collect();
                    v.sort();
                    v
                };
                let (_, ap) = self.api(
                    i,
                    "GET",
                    "sys/storage/raft/autopilot/state",
                    None,
                    Some(&self.root_token),
                )?;
                let healthy = ap.pointer("/data/healthy") == Some(&Value::Bool(true));
                if voters == want && healthy {
                    Ok(())
                } else {
                    Err(format!("voters {voters:?}, autopilot {ap}"))
                }
            },
        );
    }

    /// SIGKILLs node `i`'s server process (`ip netns exec` execs `bao`, so
    /// the child is the server itself) and reaps it.
    #[track_caller]
    pub fn kill(&mut self, i: usize) {
        let pid = self.nodes[i].pid.take().expect("the node runs");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_eq!(comm.trim(), "bao", "pid {pid} is not the server");
        assert!(
            self.ns.kill(pid),
            "node {} was not running",
            self.nodes[i].name
        );
    }

    /// The pid of node `i`'s server, while it runs.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].pid
    }

    /// Starts node `i` again from the same files (its raft data kept);
    /// it comes up sealed.
    #[track_caller]
    pub fn restart(&mut self, i: usize) {
        self.spawn(i);
        self.wait_answering(i);
    }

    /// Every node's log.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "--- log of {} ---\n{}",
                    n.name,
                    std::fs::read_to_string(&n.log).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Seconds since `t`, for reports.
    pub fn since(t: Instant) -> f64 {
        t.elapsed().as_secs_f64()
    }
}

impl Drop for RaftCluster<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for n in &mut self.nodes {
            if let Some(pid) = n.pid.take() {
                self.ns.kill(pid);
            }
        }
    }
}
