//! An OpenBao raft cluster behind the HAProxy forwarder, end to end (root,
//! `VAULTNET_E2E=1`): `vaultnet init --vault-node …` writes each node's
//! files, three real OpenBao nodes on 127.0.0.1–3 inside the namespace
//! playing the host run from exactly those files, are initialised once,
//! unsealed, and join one another over mutual TLS; `init` sets the cluster
//! up, `add-user` provisions tenants through whichever node is active,
//! HAProxy runs the config `init` wrote and the gate is loaded, and a
//! bundle's agent renders its secret through the forwarder. Then the
//! active node is SIGKILLed while logins and writes go through the
//! forwarder without pause: they succeed again within 3 s, the agent
//! renders a secret changed after the failover, every write
//! acknowledged before, during and after is on the survivors, the killed
//! node restarts and rejoins, `doctor` names the active node and the one
//! that is down, and `renew` renews and reloads every node's certificate.
//! Two sites share one cluster, each tenant reading only its own secrets.
//! Offline: a cluster with a forwarder that cannot tell the active node is
//! refused before anything is written, and so is a site joining a cluster
//! without what it needs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cluster::{RaftCluster, curl};
use crate::support::doctor::{REPORT_NOT_COMPARED, Report, assert_no_token};
use crate::support::fixture::Fixture;
use crate::support::init::{RENEWAL_STEPS, ca_name, next_ca_name};
use crate::support::tenant::{Agent, UnixUser, add_expect, removed};
use crate::support::{require_e2e, wait_for};

const NODES: [(&str, &str); 3] = [
    ("bao1", "127.0.0.1:8200"),
    ("bao2", "127.0.0.2:8200"),
    ("bao3", "127.0.0.3:8200"),
];
const DNS_NAME: &str = "vault.lan";
const PORT: u16 = 22300;
/// How long logins and writes through the forwarder may fail after the
/// active node is killed, at most: raft's election (1.4–3.0 s measured on
/// an idle machine, more on a loaded one) and the forwarder finding the
/// new active node.
const FAILOVER_BOUND: Duration = Duration::from_secs(10);
/// How long after the new active node took over (its own log says when)
/// logins and writes may still fail: the forwarder's part, which vaultnet
/// sets (a check every 100 ms, one good answer to mark a node up).
const SWITCH_BOUND: Duration = Duration::from_millis(1500);
/// How long a tenant's token of this test lives at most
/// (`--token-max-ttl 20s`): the agent logs in again at least this often.
const AGENT_RELOGIN: Duration = Duration::from_secs(20);
/// How long the agent may take to render its first secret.
const AGENT_TIMEOUT: Duration = Duration::from_secs(30);

fn node_args(f: &Fixture) -> Vec<String> {
    let mut args = vec![
        "init".to_string(),
        "--yes".into(),
        "--host-ip".into(),
        f.host_ip().to_string(),
        "--timeout".into(),
        "10".into(),
    ];
    for (name, addr) in NODES {
        args.extend(["--vault-node".into(), format!("{name}={addr}")]);
    }
    args.extend(["--raft-dir".into(), raft_dir(f).display().to_string()]);
    args
}

fn raft_dir(f: &Fixture) -> PathBuf {
    f.scratch().join("raft")
}

/// The part of `init`'s stdout between the summary and what is left to
/// do, for this test's cluster.
fn init_steps() -> String {
    let mut nodes = String::new();
    for (name, addr) in NODES {
        nodes.push_str(&format!(
            "  {name} at {addr}: `bao server -config [STATE]/vault/nodes/{name}/raft.json -config [STATE]/vault/nodes/{name}/listener.json`\n"
        ));
    }
    format!(
        "
Profile l1 (pattern L1): host forwarder + DNS name + mTLS.
OpenBao raft cluster of 3 nodes, mutual TLS required on each; start each with its raft stanza and listener:
{nodes}  Each node's user must be able to read `[STATE]/vault/nodes/NAME/server-key.pem` and `[STATE]/vault/nodes/NAME/join-key.pem`, and write `[DIR]/raft/NAME`; name that user with `--vault-client` so the gate lets nodes join one another.
  Raft timing: performance_multiplier = 1 (a new active node 1.4-3.0 s after the active one dies); standbys forward every request (disable_standby_reads).
Forwarder (haproxy): [HOST_IP]:22300 -> the active node of bao1, bao2, bao3; install it from `[STATE]` with:
  cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg
  haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy
  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port
{RENEWAL_STEPS}Operator access:
  export BAO_ADDR=https://127.0.0.1:8200 BAO_CACERT=[STATE]/pki/trust.pem BAO_CLIENT_CERT=[STATE]/operator/client.pem BAO_CLIENT_KEY=[STATE]/operator/client-key.pem

"
    )
}

/// Each leaf of the cluster site, `verb` (`created`, `kept`) with its
/// file, in the order `init` reports them.
fn leaves(verb: &str) -> String {
    let mut out = String::new();
    for (name, _) in NODES {
        out.push_str(&format!(
            "{verb} Vault server certificate `vault/nodes/{name}/server.pem` (expires [DATE])\n{verb} join certificate `vault/nodes/{name}/join.pem` (expires [DATE])\n"
        ));
    }
    out.push_str(&format!(
        "{verb} health-check certificate `forwarder/check.pem` (expires [DATE])\n{verb} operator certificate `operator/client.pem` (expires [DATE])\n"
    ));
    out
}

fn first_init_stderr(f: &Fixture) -> String {
    let mut files = String::from("wrote `pki/trust.pem`\n");
    for (name, _) in NODES {
        files.push_str(&format!(
            "wrote `vault/nodes/{name}/listener.json`\nwrote `vault/nodes/{name}/raft.json`\n"
        ));
    }
    format!(
        "created CA `pki/ca.pem` ({}, expires [DATE])
created next CA `pki/next-ca.pem` ({}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it
{}{files}wrote `vaultnet.yaml`
wrote `forwarder/vaultnet-haproxy.cfg`
wrote `forwarder/vaultnet.nft`
wrote `renew/vaultnet-renew.service`
wrote `renew/vaultnet-renew.timer`
",
        ca_name(f),
        next_ca_name(f),
        leaves("created"),
    )
}

/// A request through the forwarder, as a tenant's name resolves
/// (`vault.lan` pinned to the host address), with `identity` = (CA,
/// certificate, key); a short timeout, so a stalled request never hides
/// the recovery.
fn via_forwarder(
    f: &Fixture,
    identity: (&Path, &Path, &Path),
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Result<(u16, Value), String> {
    via_port(f, PORT, identity, method, path, body, token)
}

/// [`via_forwarder`] through the forwarder on `port`.
fn via_port(
    f: &Fixture,
    port: u16,
    identity: (&Path, &Path, &Path),
    method: &str,
    path: &str,
    body: Option<&Value>,
    token: Option<&str>,
) -> Result<(u16, Value), String> {
    curl(
        f.ns().name(),
        &format!("https://{DNS_NAME}:{port}/v1/{path}"),
        Some((DNS_NAME, SocketAddr::new(f.host_ip(), port))),
        identity,
        method,
        body,
        token,
        Duration::from_secs(2),
    )
}

/// How long after `kill` the node whose log is `log` took over as the
/// active node (its first "enabling active operation" after it).
fn took_over_after(log: &Path, kill: time::OffsetDateTime) -> Option<time::Duration> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter(|l| l.contains("acquired lock, enabling active operation"))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|ts| {
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()
        })
        .find(|t| *t > kill)
        .map(|t| t - kill)
}

/// `doctor --output json` with the root token: exit `code`, nothing on
/// stderr, the token nowhere in the output.
#[track_caller]
fn doctor(f: &Fixture, token: &str, code: i32) -> Report {
    let mut c = f.vaultnet_without_token();
    c.env("LC_ALL", "C.UTF-8")
        .env("BAO_TOKEN", token)
        .args(["doctor", "--output", "json"]);
    let out = c
        .run()
        .expect(f.expect(code).stdout_any(REPORT_NOT_COMPARED));
    assert_no_token(&out, token);
    if std::env::var_os("DUMP").is_some() {
        let mut t = f.vaultnet_without_token();
        t.env("LC_ALL", "C.UTF-8")
            .env("BAO_TOKEN", token)
            .arg("doctor");
        eprintln!("{}", t.run().stdout);
    }
    Report::parse(out)
}

/// The certificate a node presents (PEM), as `openssl s_client` sees it
/// in the host namespace.
fn served_certificate(f: &Fixture, addr: &str) -> String {
    let tls = f.operator_tls();
    let out = f.ns().exec(
        Command::new("timeout")
            .args(["10", "openssl", "s_client", "-connect", addr])
            .arg("-CAfile")
            .arg(&tls.ca_pem_path)
            .arg("-cert")
            .arg(&tls.client_cert_path)
            .arg("-key")
            .arg(&tls.client_key_path),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tenant's bundle files as curl's identity.
struct Bundle {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    role_id: String,
    secret_id: String,
}

impl Bundle {
    fn of(f: &Fixture, tenant: &str) -> Bundle {
        Bundle::at(&f.bundle(tenant))
    }

    /// The bundle in directory `dir`.
    fn at(dir: &Path) -> Bundle {
        let text = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("read {}/{name}: {e}", dir.display()))
                .trim()
                .to_string()
        };
        Bundle {
            ca: dir.join("ca.pem"),
            cert: dir.join("client.pem"),
            key: dir.join("client-key.pem"),
            role_id: text("role_id"),
            secret_id: text("secret_id"),
        }
    }

    fn identity(&self) -> (&Path, &Path, &Path) {
        (&self.ca, &self.cert, &self.key)
    }

    /// AppRole login through the forwarder: the token.
    fn login(&self, f: &Fixture) -> Result<String, String> {
        self.login_via(f, PORT)
    }

    /// AppRole login through the forwarder on `port`.
    fn login_via(&self, f: &Fixture, port: u16) -> Result<String, String> {
        let body = json!({"role_id": self.role_id, "secret_id": self.secret_id});
        match via_port(
            f,
            port,
            self.identity(),
            "POST",
            "auth/approle/login",
            Some(&body),
            None,
        )? {
            (200, b) => b
                .pointer("/auth/client_token")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("login without a token: {b}")),
            (code, b) => Err(format!("login answered {code}: {b}")),
        }
    }
}

/// One login and one write through the forwarder, as the test's writer
/// makes them.
struct Attempt {
    started: Instant,
    done: Instant,
    /// The key written, when the write was acknowledged.
    acked: Option<u64>,
}

#[test]
fn a_raft_cluster_behind_haproxy_survives_the_loss_of_its_active_node() {
    require_e2e!("runs three OpenBao nodes, HAProxy and nftables in a network namespace");
    let test_start = Instant::now();
    let f = Fixture::host("vncl").build();
    std::fs::create_dir_all(raft_dir(&f)).unwrap();
    let nodes: Vec<(&str, SocketAddr)> = NODES
        .iter()
        .map(|(n, a)| (*n, a.parse().unwrap()))
        .collect();

    // init before any node runs: every file, and what is left to do.
    let out = f.vaultnet_without_token().args(node_args(&f)).run();
    out.expect(
        f.expect(0)
            .stdout(format!(
                "vaultnet initialised in `[STATE]`: 22 changed, 0 kept
note: OpenBao at https://127.0.0.1:8200 is not reachable: cannot reach https://127.0.0.1:8200: connection refused
{}Left to do:
  1. start every node with its raft stanza and listener: `bao server -config [STATE]/vault/nodes/NAME/raft.json -config [STATE]/vault/nodes/NAME/listener.json` for NAME in bao1, bao2, bao3
  2. then run `vaultnet init` again with an operator token (`BAO_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2
",
                init_steps()
            ))
            .stderr(first_init_stderr(&f)),
    );

    // Three nodes from those files alone; one init, every node unsealed
    // and joined over mutual TLS.
    let t = Instant::now();
    let mut cluster = RaftCluster::start(
        f.ns(),
        f.dir(),
        &raft_dir(&f),
        f.scratch(),
        &nodes,
        f.operator_tls(),
    );
    cluster.init_and_unseal();
    eprintln!(
        "timing: cluster started, initialised, unsealed and joined in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        cluster
            .peers()
            .into_iter()
            .map(|(n, v, _)| (n, v))
            .collect::<Vec<_>>(),
        [
            ("bao1".into(), true),
            ("bao2".into(), true),
            ("bao3".into(), true)
        ]
    );
    let token = cluster.root_token.clone();

    // init with a token sets the cluster up through its active node.
    let mut init = f.vaultnet_without_token();
    init.args(node_args(&f)).env("BAO_TOKEN", &token);
    init.run().expect(
        f.expect(0)
            .stdout(format!(
                "vaultnet initialised in `[STATE]`: 2 changed, 10 kept\n{}Next: `vaultnet add-user NAME` for each tenant.\n",
                init_steps()
            ))
            .stderr(format!(
                "kept CA `pki/ca.pem` ({}, expires [DATE])\nkept next CA `pki/next-ca.pem` ({}, expires [DATE])\n{}AppRole auth at `approle/`: enabled\nKV v2 at `secret/`: enabled\n",
                ca_name(&f),
                next_ca_name(&f),
                leaves("kept")
            )),
    );

    // Tenants, provisioned through whichever node is active.
    let users = [UnixUser::create("ca"), UnixUser::create("cb")];
    let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    // Tokens that end within seconds: the agent logs in again every
    // AGENT_RELOGIN at most, and renders afresh with each new token, so a
    // changed secret shows within the test (its own render interval is
    // minutes).
    let mut add = f.add_user(&names);
    add.env("BAO_TOKEN", &token)
        .args(["--token-ttl", "10s", "--token-max-ttl", "20s"]);
    add.run().expect(add_expect(&f, &names, true));

    // HAProxy from the config init wrote; then the gate.
    let cfg = f.path("forwarder/vaultnet-haproxy.cfg");
    let check = f
        .ns()
        .exec(Command::new("haproxy").arg("-c").arg("-f").arg(&cfg));
    assert!(
        check.status.success(),
        "haproxy -c: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let haproxy_log = f.scratch().join("haproxy.log");
    f.ns().spawn(
        Command::new("haproxy").arg("-db").arg("-f").arg(&cfg),
        Some(&haproxy_log),
    );
    f.load_nft();
    let operator = f.operator_tls();
    let op_id = (
        operator.ca_pem_path.as_path(),
        operator.client_cert_path.as_path(),
        operator.client_key_path.as_path(),
    );
    let _: () = wait_for(
        "HAProxy to send requests to the active node",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || match via_forwarder(&f, op_id, "GET", "sys/health", None, None) {
            Ok((200, _)) => Ok(()),
            other => Err(format!(
                "{other:?}\n{}",
                std::fs::read_to_string(&haproxy_log).unwrap_or_default()
            )),
        },
    );

    // Each tenant logs in through the forwarder and reads its own secret,
    // not its neighbour's.
    let bundles: Vec<Bundle> = names.iter().map(|n| Bundle::of(&f, n)).collect();
    for (i, (name, b)) in names.iter().zip(&bundles).enumerate() {
        let write = json!({"data": {"value": format!("v-{name}")}});
        let path = format!("secret/data/tenants/{name}/app");
        assert_eq!(
            via_forwarder(&f, op_id, "POST", &path, Some(&write), Some(&token)).map(|r| r.0),
            Ok(200)
        );
        let t = b.login(&f).unwrap();
        let (code, body) = via_forwarder(&f, b.identity(), "GET", &path, None, Some(&t)).unwrap();
        assert_eq!(code, 200, "{body}");
        assert_eq!(
            body.pointer("/data/data/value"),
            Some(&json!(format!("v-{name}")))
        );
        let other = names[1 - i];
        let (code, _) = via_forwarder(
            &f,
            b.identity(),
            "GET",
            &format!("secret/data/tenants/{other}/app"),
            None,
            Some(&t),
        )
        .unwrap();
        assert_eq!(code, 403, "{name} read {other}'s secret");
    }

    // The first tenant's agent, from its bundle unchanged, in a network
    // of its own that reaches the host address: it renders its secret
    // through the forwarder. The gate admits only local tenant uids to
    // the forwarder (rootless Podman's traffic is local: the Podman tests
    // run agents under it); this agent's traffic arrives from another
    // namespace, so the gate is out while it runs, and back after.
    f.unload_nft();
    let tenant_ns = f.ns().add_tenant_ns("vnca", &[(DNS_NAME, f.host_ip())]);
    let agent = Agent::start(&tenant_ns, &f.bundle(names[0]), &f.compose(names[0]));
    let rendered = |want: &str, within: Duration, why: &str| {
        let _: () = wait_for(why, within, Duration::from_millis(200), || {
            let got = std::fs::read_to_string(agent.path("/secrets/app")).unwrap_or_default();
            (got == want)
                .then_some(())
                .ok_or_else(|| format!("{got:?}\n--- agent log ---\n{}", agent.log()))
        });
    };
    rendered(
        &format!("v-{}", names[0]),
        AGENT_TIMEOUT,
        "the agent to render its secret through the forwarder",
    );

    // The writer: one login and one write after the other, through the
    // forwarder, for as long as the test runs; the active node is killed
    // in the middle.
    let attempts: Mutex<Vec<Attempt>> = Mutex::new(Vec::new());
    let stop = AtomicBool::new(false);
    let tenant = names[0];
    let b = &bundles[0];
    let killed_wall: Mutex<Option<time::OffsetDateTime>> = Mutex::new(None);
    let (killed, kill_at) = std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let ok = b.login(&f).is_ok() && {
                    let body = json!({"data": {"value": n}});
                    via_forwarder(
                        &f,
                        op_id,
                        "POST",
                        &format!("secret/data/tenants/{tenant}/w{n}"),
                        Some(&body),
                        Some(&token),
                    )
                    .is_ok_and(|r| r.0 == 200)
                };
                attempts.lock().unwrap().push(Attempt {
                    started,
                    done: Instant::now(),
                    acked: ok.then_some(n),
                });
                n += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let acked = || {
            attempts
                .lock()
                .unwrap()
                .iter()
                .filter(|a| a.acked.is_some())
                .count()
        };
        let _: () = wait_for(
            "10 writes before the kill",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                (acked() >= 10)
                    .then_some(())
                    .ok_or_else(|| "fewer".to_string())
            },
        );
        let active = cluster.active().expect("one active node");
        cluster.kill(active);
        let kill_at = Instant::now();
        *killed_wall.lock().unwrap() = Some(time::OffsetDateTime::now_utc());
        // Recovered: an attempt begun after the kill succeeded.
        let _: () = wait_for(
            "a login and a write through the forwarder after the kill",
            Duration::from_secs(30),
            Duration::from_millis(20),
            || {
                let a = attempts.lock().unwrap();
                a.iter()
                    .any(|a| a.started > kill_at && a.acked.is_some())
                    .then_some(())
                    .ok_or_else(|| "not yet".to_string())
            },
        );
        let at_recovery = acked();
        let _: () = wait_for(
            "10 writes after recovering",
            Duration::from_secs(30),
            Duration::from_millis(50),
            || {
                (acked() >= at_recovery + 10)
                    .then_some(())
                    .ok_or_else(|| "fewer".to_string())
            },
        );
        stop.store(true, Ordering::Relaxed);
        (active, kill_at)
    });
    let attempts = attempts.into_inner().unwrap();
    let recovered = attempts
        .iter()
        .find(|a| a.started > kill_at && a.acked.is_some())
        .expect("a success after the kill")
        .done;
    let failover = recovered - kill_at;
    let failed = attempts.iter().filter(|a| a.acked.is_none()).count();
    // When the new active node took over, from its own log: what the
    // election took, apart from the forwarder's part.
    let new_active = cluster.active().expect("a new active node");
    let took_over = took_over_after(
        &f.scratch().join(format!("bao-{}.log", NODES[new_active].0)),
        killed_wall.lock().unwrap().expect("the kill's time"),
    );
    eprintln!(
        "timing: killed {} ; {} active {} after the kill; logins and writes through the forwarder succeeded again after {:.2} s ({} attempts, {failed} failed)",
        NODES[killed].0,
        NODES[new_active].0,
        took_over.map_or("?".to_string(), |d| format!("{:.2} s", d.as_seconds_f64())),
        failover.as_secs_f64(),
        attempts.len()
    );
    assert!(
        failover <= FAILOVER_BOUND,
        "logins and writes failed for {failover:?} after the active node was killed (bound {FAILOVER_BOUND:?})\n{}",
        std::fs::read_to_string(&haproxy_log).unwrap_or_default()
    );
    let took_over = took_over.expect("the new active node logs when it took over");
    let after =
        failover.saturating_sub(Duration::from_secs_f64(took_over.as_seconds_f64().max(0.0)));
    assert!(
        after <= SWITCH_BOUND,
        "logins and writes still failed {after:?} after {} took over (bound {SWITCH_BOUND:?})\n{}",
        NODES[new_active].0,
        std::fs::read_to_string(&haproxy_log).unwrap_or_default()
    );

    // The agent kept going through the loss of the active node: a secret
    // changed after it shows in its file, from the new active node.
    let changed = format!("v-{}-after-failover", names[0]);
    let body = json!({"data": {"value": changed}});
    assert_eq!(
        via_forwarder(
            &f,
            op_id,
            "POST",
            &format!("secret/data/tenants/{}/app", names[0]),
            Some(&body),
            Some(&token)
        )
        .map(|r| r.0),
        Ok(200)
    );
    let t = Instant::now();
    rendered(
        &changed,
        AGENT_RELOGIN * 3,
        "the agent to render the secret changed after the failover",
    );
    eprintln!(
        "timing: the agent rendered the changed secret {:.1} s after it was written",
        t.elapsed().as_secs_f64()
    );
    drop(agent);
    f.load_nft();

    // Every acknowledged write, on every survivor.
    let acked: Vec<u64> = attempts.iter().filter_map(|a| a.acked).collect();
    let survivors: Vec<usize> = (0..NODES.len()).filter(|i| *i != killed).collect();
    assert_ne!(new_active, killed);
    for i in &survivors {
        for n in &acked {
            let (code, body) = cluster.root_api(
                *i,
                "GET",
                &format!("secret/data/tenants/{tenant}/w{n}"),
                None,
            );
            assert_eq!(code, 200, "write {n} missing on {}: {body}", NODES[*i].0);
            assert_eq!(body.pointer("/data/data/value"), Some(&json!(n)));
        }
    }

    // doctor names the new active node and the one that is down, and sees
    // the forwarder send every connection to the new active node.
    let down = NODES[killed].0;
    let up = NODES[new_active].0;
    let standby = NODES[survivors
        .iter()
        .copied()
        .find(|i| *i != new_active)
        .unwrap()]
    .0;
    let r = doctor(&f, &token, 1);
    assert_eq!(
        r.detail("vault.active"),
        format!("active: {up}; standby: {standby}; sealed or not ready: none; down: {down}")
    );
    r.expect("vault.active", "ok");
    r.expect_hint(
        &format!("vault.{down}.tcp"),
        "fail",
        &[&format!("start node `{down}`")],
    );
    r.expect(&format!("vault.{up}.health",), "ok");
    assert!(
        r.detail(&format!("vault.{up}.health"))
            .starts_with("active, OpenBao ")
    );
    assert!(
        r.detail(&format!("vault.{standby}.health"))
            .starts_with("standby (HTTP 429)")
    );
    r.expect("vault.raft.autopilot", "fail");
    assert_eq!(
        r.detail("vault.raft.autopilot"),
        format!("unhealthy: {down}; failure tolerance 0")
    );
    r.expect("forwarder.active", "ok");
    assert_eq!(
        r.detail("forwarder.active"),
        format!("4 of 4 new connections reached `{up}`, the active node")
    );
    for (name, _) in NODES {
        r.expect(&format!("files.node.{name}.sans"), "ok");
    }
    // Every failure is about the node that is down.
    for id in r.leaves("fail") {
        assert!(
            id.starts_with(&format!("vault.{down}.")) || id == "vault.raft.autopilot",
            "{id} failed
{}",
            r.out
        );
    }

    // The killed node restarts, is unsealed and rejoins: three voters,
    // autopilot healthy, every server at the leader's index.
    let t = Instant::now();
    cluster.restart(killed);
    cluster.unseal(killed);
    cluster.wait_all_voters();
    eprintln!(
        "timing: {} restarted and rejoined in {:.1} s",
        NODES[killed].0,
        t.elapsed().as_secs_f64()
    );
    // Every server healthy and at the leader's index. Autopilot's view is
    // a snapshot and the cluster keeps writing (tokens of these tests
    // expire within seconds and are revoked), so it is asked until a
    // snapshot shows every follower caught up.
    let _: () = wait_for(
        "every server healthy and at the leader's index",
        Duration::from_secs(20),
        Duration::from_millis(250),
        || {
            let ap = cluster.autopilot();
            let servers = ap
                .pointer("/data/servers")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let leader_index = servers
                .values()
                .find(|s| s["status"] == "leader")
                .and_then(|s| s["last_index"].as_u64())
                .unwrap_or(0);
            let ok = servers.len() == 3
                && servers.values().all(|s| {
                    s["healthy"] == true
                        && s["last_index"].as_u64().unwrap_or(0) + 2 >= leader_index
                });
            ok.then_some(()).ok_or_else(|| ap.to_string())
        },
    );

    // With every node back, doctor finds nothing wrong.
    let r = doctor(&f, &token, 0);
    let raft = r.detail("vault.raft.peers");
    for (name, _) in NODES {
        assert!(raft.contains(&format!("{name} (voter")), "{raft}");
    }
    assert_eq!(
        r.detail("vault.raft.autopilot"),
        "healthy, failure tolerance 1"
    );
    r.expect("forwarder.active", "ok");

    // add-user and remove-user, each started right after the active node
    // is killed: they wait out the election, retry what it answers, and
    // converge as on one node.
    let extra = UnixUser::create("cc");
    for step in ["add-user", "remove-user"] {
        let active = cluster.active().expect("one active node");
        cluster.kill(active);
        let t = Instant::now();
        let mut c = match step {
            "add-user" => f.add_user(&[&extra.name]),
            _ => f.remove_user(&[&extra.name]),
        };
        c.env("BAO_TOKEN", &token);
        let out = c.run();
        eprintln!(
            "timing: {step} started as {} was killed took {:.2} s",
            NODES[active].0,
            t.elapsed().as_secs_f64()
        );
        match step {
            "add-user" => out.expect(add_expect(&f, &[&extra.name], true)),
            _ => out.expect(
                f.expect(0)
                    .stdout(removed(&extra.name, false))
                    .stderr(f.gate_line()),
            ),
        };
        cluster.restart(active);
        cluster.unseal(active);
        cluster.wait_all_voters();
    }
    let (code, _) = cluster.root_api(
        cluster.active().unwrap(),
        "GET",
        &format!("auth/approle/role/{}", extra.name),
        None,
    );
    assert_eq!(code, 404, "remove-user left the role behind");

    // renew: every node's certificate, each node reloaded by the pid file
    // `%n` names, and each serving its new one.
    let pids = f.scratch().join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let mut expect_pids = f.expect(0);
    for (i, (name, _)) in NODES.iter().enumerate() {
        let pid = cluster.pid(i).unwrap();
        std::fs::write(pids.join(format!("{name}.pid")), pid.to_string()).unwrap();
        expect_pids = expect_pids.redact(pid, &format!("[PID_{name}]"));
    }
    let mut init = f.vaultnet_without_token();
    init.args(node_args(&f))
        .arg("--vault-pid-file")
        .arg(pids.join("%n.pid"))
        .env("BAO_TOKEN", &token);
    let out = init.run();
    assert!(
        out.stderr
            .contains("setting vault-reload: (none) -> SIGHUP to the pid in `"),
        "{out}"
    );
    for (name, _) in NODES {
        for file in ["server.pem", "server-key.pem"] {
            std::fs::remove_file(f.path(&format!("vault/nodes/{name}/{file}"))).unwrap();
        }
    }
    let mut renew = f.vaultnet_without_token();
    renew.arg("renew").env("BAO_TOKEN", &token);
    let t = Instant::now();
    let out = renew.run();
    eprintln!(
        "timing: renew of three node certificates took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut stderr = String::new();
    for (name, _) in NODES {
        stderr.push_str(&format!(
            "site: created Vault server certificate `vault/nodes/{name}/server.pem` (expires [DATE])
"
        ));
    }
    for (name, _) in NODES {
        stderr.push_str(&format!(
            "site: OpenBao node `{name}` reloaded (sent SIGHUP to pid [PID_{name}]) and serves the new certificate
"
        ));
    }
    let stdout: String = names
        .iter()
        .map(|n| {
            format!(
                "tenant {n}: nothing due (cert expires [DATE], secret_id expires [DATE])
"
            )
        })
        .collect();
    out.expect(expect_pids.stdout(stdout).stderr(stderr));
    for (i, (name, _)) in NODES.iter().enumerate() {
        let served = served_certificate(&f, NODES[i].1);
        let file =
            std::fs::read_to_string(f.path(&format!("vault/nodes/{name}/server.pem"))).unwrap();
        assert_eq!(
            vaultnet::pki::first_pem_der(&served, "CERTIFICATE").unwrap(),
            vaultnet::pki::first_pem_der(&file, "CERTIFICATE").unwrap(),
            "{name} does not serve its renewed certificate"
        );
    }
    // Through the forwarder, tenants still log in.
    assert!(bundles[1].login(&f).is_ok());

    eprintln!(
        "timing: the whole test took {:.1} s",
        test_start.elapsed().as_secs_f64()
    );
}

#[test]
fn a_cluster_with_a_forwarder_that_cannot_tell_the_active_node_is_refused_and_nothing_is_written() {
    let nodes: Vec<String> = NODES
        .iter()
        .flat_map(|(n, a)| ["--vault-node".to_string(), format!("{n}={a}")])
        .collect();
    for kind in ["socat", "nginx", "socket-proxyd"] {
        init_refused(
            &[
                vec!["--forwarder".to_string(), kind.to_string()],
                nodes.clone(),
            ]
            .concat(),
            &format!(
                "a cluster needs a forwarder that checks which node is active, and {kind} does not"
            ),
            "pass `--forwarder haproxy`: it checks `sys/health` on every node over mutual TLS and sends tenants to the active one only",
        );
    }
    // Without `--forwarder`, a cluster gets HAProxy. (The words of such a
    // run are compared whole in the end-to-end test above; here only the
    // choice matters.)
    let f = Fixture::offline();
    let mut c = f.vaultnet_without_token();
    c.args(["init", "--yes", "--host-ip", "10.77.0.1", "--timeout", "1"]);
    for (name, addr) in NODES {
        c.args(["--vault-node", &format!("{name}={addr}")]);
    }
    c.run().expect_success();
    assert_eq!(f.state()["site"]["forwarder"], "haproxy");
}

/// Site B's port on the host address: its own HAProxy, beside site A's.
const PORT_B: u16 = 22301;

/// `init` of site B, joining the cluster site A runs: its name, A's CAs
/// and the same nodes.
fn site_b_init(f: &Fixture, dir_b: &Path) -> crate::support::cmd::Cmd {
    let mut c = f.vaultnet_at(dir_b);
    c.args([
        "init",
        "--yes",
        "--host-ip",
        &f.host_ip().to_string(),
        "--port",
        &PORT_B.to_string(),
        "--timeout",
        "10",
        "--site-name",
        "b",
        "--cluster-ca",
    ])
    .arg(f.path("pki/trust.pem"));
    for (name, addr) in NODES {
        c.args(["--vault-node", &format!("{name}={addr}")]);
    }
    c
}

/// Two sites, one cluster (root, `VAULTNET_E2E=1`): site A runs the three
/// nodes, site B joins with A's CAs (`init --site-name b --cluster-ca`),
/// A trusts B's CAs (`vaultnet sites add`), and each site adds a tenant
/// of the same name. Each tenant logs in through its own site's HAProxy
/// and reads its own secret, never the other's: B's tenant is
/// `vaultnet-b.ta` in Vault, under `tenants/b.ta/`. Once A trusts B no
/// more and each node has restarted, B's certificates are refused and
/// A's tenant still logs in.
#[test]
fn two_sites_share_one_cluster_and_each_tenant_reads_only_its_own_secrets() {
    require_e2e!("runs three OpenBao nodes and two HAProxy in a network namespace");
    let f = Fixture::host("vnst").build();
    std::fs::create_dir_all(raft_dir(&f)).unwrap();
    let dir_b = f.scratch().join("site-b");
    let nodes: Vec<(&str, SocketAddr)> = NODES
        .iter()
        .map(|(n, a)| (*n, a.parse().unwrap()))
        .collect();

    // Site A writes the nodes' files; site B joins before any node runs.
    f.vaultnet_without_token()
        .args(node_args(&f))
        .run()
        .expect_success();
    let out = site_b_init(&f, &dir_b).run();
    out.expect(
        f.expect(0)
            .stdout(format!(
                "vaultnet initialised in `[DIR]/site-b`: 11 changed, 0 kept
note: OpenBao at https://127.0.0.1:8200 is not reachable: cannot reach https://127.0.0.1:8200: connection refused

Profile l1 (pattern L1): host forwarder + DNS name + mTLS.
OpenBao raft cluster of 3 nodes run by another site (bao1 at 127.0.0.1:8200, bao2 at 127.0.0.2:8200, bao3 at 127.0.0.3:8200), verified by `[DIR]/site-b/pki/cluster-ca.pem`; tenants' Vault names start with `b.`.
  That site must trust this one's CAs: there, `vaultnet sites add b [DIR]/site-b/pki/trust.pem`, then restart its nodes one at a time.
Forwarder (haproxy): [HOST_IP]:{PORT_B} -> the active node of bao1, bao2, bao3; install it from `[DIR]/site-b` with:
  cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg
  haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy
  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port
{}Operator access:
  export BAO_ADDR=https://127.0.0.1:8200 BAO_CACERT=[DIR]/site-b/pki/cluster-ca.pem BAO_CLIENT_CERT=[DIR]/site-b/operator/client.pem BAO_CLIENT_KEY=[DIR]/site-b/operator/client-key.pem

Left to do:
  1. have the site that runs the cluster trust this one: there, `vaultnet sites add b [DIR]/site-b/pki/trust.pem`, then restart its nodes one at a time
  2. then run `vaultnet init` again with an operator token (`BAO_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2
",
                RENEWAL_STEPS.replace("[STATE]", "[DIR]/site-b")
            ))
            .stderr(format!(
                "wrote `pki/cluster-ca.pem`
created CA `pki/ca.pem` ({}, expires [DATE])
created next CA `pki/next-ca.pem` ({}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it
created health-check certificate `forwarder/check.pem` (expires [DATE])
created operator certificate `operator/client.pem` (expires [DATE])
wrote `pki/trust.pem`
wrote `vaultnet.yaml`
wrote `forwarder/vaultnet-haproxy.cfg`
wrote `forwarder/vaultnet.nft`
wrote `renew/vaultnet-renew.service`
wrote `renew/vaultnet-renew.timer`
",
                ca_name_at(&dir_b),
                ca_name_at_next(&dir_b)
            )),
    );
    // B wrote no node file and holds A's CAs to verify the nodes by.
    assert!(!dir_b.join("vault/nodes").exists());
    assert_eq!(
        std::fs::read_to_string(dir_b.join("pki/cluster-ca.pem")).unwrap(),
        std::fs::read_to_string(f.path("pki/trust.pem")).unwrap()
    );

    // A trusts B: the nodes' listeners name `pki/clients.pem`, A's CAs
    // and B's.
    let b_trust = dir_b.join("pki/trust.pem");
    let mut add = f.vaultnet_without_token();
    add.args(["sites", "add", "b"]).arg(&b_trust);
    let mut listeners = String::new();
    for (name, _) in NODES {
        listeners.push_str(&format!("updated `vault/nodes/{name}/listener.json`\n"));
    }
    add.run().expect(
        f.expect(0)
            .stdout(format!(
                "trusted site `b`: CA `{}` (expires [DATE]) in `pki/sites/b.pem`
its tenants can log in once each node restarts: it reads `pki/clients.pem` only when it starts. Restart the nodes one at a time, standbys first, unsealing each.
",
                ca_name_at(&dir_b)
            ))
            .stderr(format!(
                "wrote `pki/sites/b.pem`\nwrote `vaultnet.yaml`\nwrote `pki/clients.pem`\n{listeners}"
            )),
    );
    let clients = std::fs::read_to_string(f.path("pki/clients.pem")).unwrap();
    assert_eq!(
        clients,
        std::fs::read_to_string(f.path("pki/trust.pem")).unwrap()
            + &std::fs::read_to_string(&b_trust).unwrap()
    );
    let listener: Value = serde_json::from_str(
        &std::fs::read_to_string(f.path("vault/nodes/bao1/listener.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        listener.pointer("/listener/0/tcp/tls_client_ca_file"),
        Some(&json!(f.path("pki/clients.pem")))
    );
    // Again: nothing changes. Refused: B under another name, A's own CA.
    let mut again = f.vaultnet_without_token();
    again.args(["sites", "add", "b"]).arg(&b_trust);
    again.run().expect(
        f.expect(0)
            .stdout("site `b` is trusted already: nothing changed\n"),
    );
    let mut twice = f.vaultnet_without_token();
    twice.args(["sites", "add", "c"]).arg(&b_trust);
    twice.run().expect(f.rejected(
        "`[DIR]/site-b/pki/trust.pem` holds a CA site `b` is trusted with already",
        "each site has CAs of its own: pass that site's `pki/trust.pem`",
    ));
    let mut own = f.vaultnet_without_token();
    own.args(["sites", "add", "c"]).arg(f.path("pki/trust.pem"));
    own.run().expect(f.rejected(
        "`[STATE]/pki/trust.pem` holds this site's own CA",
        "pass the other site's `pki/trust.pem`, e.g. `vaultnet sites add c /tmp/c-trust.pem`",
    ));
    let mut joined = f.vaultnet_at(&dir_b);
    joined.args(["sites", "list"]);
    joined.run().expect(f.rejected(
        "this site joined another site's cluster: that site decides what its nodes trust",
        "run `vaultnet sites` on the site that runs the cluster",
    ));
    let mut list = f.vaultnet_without_token();
    list.args(["sites", "list"]);
    list.run().expect(f.expect(0).stdout(format!(
        "b: CA `{}` (expires [DATE]) in `pki/sites/b.pem`\n",
        ca_name_at(&dir_b)
    )));

    // The cluster from A's files; each site set up through it.
    let mut cluster = RaftCluster::start(
        f.ns(),
        f.dir(),
        &raft_dir(&f),
        f.scratch(),
        &nodes,
        f.operator_tls(),
    );
    cluster.init_and_unseal();
    let token = cluster.root_token.clone();
    let mut init_a = f.vaultnet_without_token();
    init_a.args(node_args(&f)).env("BAO_TOKEN", &token);
    init_a.run().expect_success();
    let mut init_b = site_b_init(&f, &dir_b);
    init_b.env("BAO_TOKEN", &token);
    let out = init_b.run().expect(
        f.expect(0)
            .stdout_any("the summary compared whole above, without its notes")
            .stderr_any("kept files, and what Vault had"),
    );
    assert!(
        out.stdout
            .contains("Next: `vaultnet add-user NAME` for each tenant.\n"),
        "{out}"
    );

    // One tenant of the same name on each site.
    let user = UnixUser::create("ta");
    let name = user.name.as_str();
    let mut add_a = f.add_user(&[name]);
    add_a.env("BAO_TOKEN", &token);
    add_a.run().expect(add_expect(&f, &[name], true));
    let mut add_b = f.vaultnet_at(&dir_b);
    add_b.args(["add-user", name]).env("BAO_TOKEN", &token);
    // The same words as site A's, but the secrets' path carries site b.
    add_b.run().expect(
        f.expect(0)
            .stdout(format!(
                "{}next: write secrets under `secret/tenants/b.{name}/` and start the bundle's compose.yaml\n",
                crate::support::tenant::added(name)
            ))
            .stderr(format!(
                "{}wrote `forwarder/vaultnet.nft`: load it with `nft -f [DIR]/site-b/forwarder/vaultnet.nft` (not loaded: until it is, nothing gates who connects to Vault)\n",
                crate::support::tenant::created(name)
                    .replace(&format!("`vaultnet-{name}`"), &format!("`vaultnet-b.{name}`"))
            )),
    );
    let active = cluster.active().expect("one active node");
    let (_, policies) = cluster.root_api(active, "GET", "sys/policies/acl?list=true", None);
    let keys = policies.pointer("/data/keys").cloned().unwrap_or_default();
    for p in [format!("vaultnet-{name}"), format!("vaultnet-b.{name}")] {
        assert!(
            keys.as_array().unwrap().contains(&json!(p)),
            "{p} missing: {keys}"
        );
    }
    let state_b: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir_b.join("vaultnet.yaml")).unwrap())
            .unwrap();
    assert_eq!(
        state_b["tenants"][name]["role"],
        json!(format!("vaultnet-b.{name}"))
    );

    // Each site's HAProxy, from its own config.
    for (dir, log) in [
        (f.dir().to_path_buf(), "haproxy-a.log"),
        (dir_b.clone(), "haproxy-b.log"),
    ] {
        let cfg = dir.join("forwarder/vaultnet-haproxy.cfg");
        f.ns().spawn(
            Command::new("haproxy").arg("-db").arg("-f").arg(&cfg),
            Some(&f.scratch().join(log)),
        );
    }
    let a = Bundle::of(&f, name);
    let b = Bundle::at(&dir_b.join("tenants").join(name));
    let ta = wait_login(&f, &a, PORT);
    let tb = wait_login(&f, &b, PORT_B);
    let op_id = {
        let o = f.operator_tls();
        (o.ca_pem_path, o.client_cert_path, o.client_key_path)
    };
    let op = (op_id.0.as_path(), op_id.1.as_path(), op_id.2.as_path());
    let path_a = format!("secret/data/tenants/{name}/app");
    let path_b = format!("secret/data/tenants/b.{name}/app");
    for (path, v) in [(&path_a, "of-a"), (&path_b, "of-b")] {
        let body = json!({"data": {"value": v}});
        assert_eq!(
            via_forwarder(&f, op, "POST", path, Some(&body), Some(&token)).map(|r| r.0),
            Ok(200)
        );
    }
    let read = |bundle: &Bundle, port: u16, t: &str, path: &str| {
        via_port(&f, port, bundle.identity(), "GET", path, None, Some(t)).unwrap()
    };
    let (code, body) = read(&a, PORT, &ta, &path_a);
    assert_eq!(
        (code, body.pointer("/data/data/value")),
        (200, Some(&json!("of-a")))
    );
    let (code, body) = read(&b, PORT_B, &tb, &path_b);
    assert_eq!(
        (code, body.pointer("/data/data/value")),
        (200, Some(&json!("of-b")))
    );
    assert_eq!(
        read(&a, PORT, &ta, &path_b).0,
        403,
        "A's tenant read B's secret"
    );
    assert_eq!(
        read(&b, PORT_B, &tb, &path_a).0,
        403,
        "B's tenant read A's secret"
    );

    // B's doctor checks every node against A's CAs, and that its own
    // HAProxy leads to the active one; the nodes' certificates are A's.
    let mut d = f.vaultnet_at(&dir_b);
    d.env("LC_ALL", "C.UTF-8")
        .env("BAO_TOKEN", &token)
        .args(["doctor", "--output", "json"]);
    let r = Report::parse(d.run().expect(f.expect(0).stdout_any(REPORT_NOT_COMPARED)));
    assert_eq!(r.summary("fail"), 0);
    assert_eq!(
        r.leaves("warn"),
        ["nft.loaded"],
        "only the gate B's test leaves unloaded"
    );
    let active = NODES[cluster.active().expect("one active node")].0;
    assert!(
        r.detail("vault.active")
            .starts_with(&format!("active: {active}; ")),
        "{}",
        r.detail("vault.active")
    );
    for (name, _) in NODES {
        r.expect(&format!("vault.{name}.tls"), "ok");
        assert_eq!(
            r.check(&format!("vault.{name}.tls"))["title"],
            json!(
                "TLS: server certificate verifies for `vault.lan` against the cluster's CAs (`pki/cluster-ca.pem`)"
            )
        );
        r.expect(&format!("vault.{name}.served"), "skip");
    }
    r.expect("forwarder.active", "ok");
    // A trusts B no more; once every node has restarted, B's certificates
    // are refused at the handshake and A's tenant still logs in.
    let mut remove = f.vaultnet_without_token();
    remove.args(["sites", "remove", "b"]);
    remove.run().expect(
        f.expect(0)
            .stdout(
                "site `b` is no longer trusted
its certificates are refused once each node restarts: it reads `pki/clients.pem` only when it starts. Restart the nodes one at a time, standbys first, unsealing each.
Its tenants' Vault objects (`vaultnet-b.*`) are that site's: remove its tenants there with `vaultnet remove-user`.
",
            )
            .stderr(format!(
                "wrote `vaultnet.yaml`\nremoved `pki/clients.pem`\n{listeners}removed `pki/sites/b.pem`\n"
            )),
    );
    let active = cluster.active().expect("one active node");
    let order: Vec<usize> = (0..NODES.len())
        .filter(|i| *i != active)
        .chain([active])
        .collect();
    for i in order {
        cluster.kill(i);
        cluster.restart(i);
        cluster.unseal(i);
    }
    let _: () = wait_for(
        "a login of A's tenant after the restarts",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || a.login_via(&f, PORT).map(drop),
    );
    let refused = b.login_via(&f, PORT_B);
    assert!(refused.is_err(), "B's tenant logged in: {refused:?}");
    let direct = curl(
        f.ns().name(),
        &format!("https://{}/v1/sys/health", NODES[0].1),
        None,
        (
            &dir_b.join("pki/cluster-ca.pem"),
            &dir_b.join("operator/client.pem"),
            &dir_b.join("operator/client-key.pem"),
        ),
        "GET",
        None,
        None,
        Duration::from_secs(2),
    );
    assert!(
        direct.is_err(),
        "B's operator certificate is still accepted: {direct:?}"
    );
}

/// The common name of the next CA in state directory `dir`.
fn ca_name_at_next(dir: &Path) -> String {
    let pem = std::fs::read_to_string(dir.join("pki/next-ca.pem")).unwrap();
    vaultnet::pki::CertInfo::parse(&pem)
        .unwrap()
        .common_name
        .unwrap()
}

/// The common name of the CA in state directory `dir`.
fn ca_name_at(dir: &Path) -> String {
    let pem = std::fs::read_to_string(dir.join("pki/ca.pem")).unwrap();
    vaultnet::pki::CertInfo::parse(&pem)
        .unwrap()
        .common_name
        .unwrap()
}

/// The tenant's token, once a login through the forwarder on `port`
/// succeeds (HAProxy has found the active node).
fn wait_login(f: &Fixture, b: &Bundle, port: u16) -> String {
    wait_for(
        "a login through the forwarder",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || b.login_via(f, port),
    )
}

/// An offline `init --yes --host-ip 10.77.0.1 ARGS…`: refused (exit 2)
/// with `error` and `hint`, and nothing written.
#[track_caller]
fn init_refused(args: &[String], error: &str, hint: &str) {
    let f = Fixture::offline();
    let mut c = f.vaultnet_without_token();
    c.args(["init", "--yes", "--host-ip", "10.77.0.1", "--timeout", "1"])
        .args(args);
    c.run().expect(f.rejected(error, hint));
    assert!(
        !f.dir().exists(),
        "{args:?}: init wrote {}",
        f.dir().display()
    );
}

/// Joining another site's cluster needs the nodes, a site name and that
/// site's CAs; each fault is refused in one line with its fix, and
/// nothing is written. A site's name cannot change under its tenants,
/// and only a site that runs a cluster trusts other sites.
#[test]
fn joining_a_cluster_without_what_it_needs_is_refused_and_nothing_is_written() {
    let other = Fixture::builder().init().build();
    let ca = other.path("pki/trust.pem");
    let leaf = other.path("operator/client.pem");
    let nodes: Vec<String> = NODES
        .iter()
        .flat_map(|(n, a)| ["--vault-node".to_string(), format!("{n}={a}")])
        .collect();
    let hint_ca = "pass the `pki/trust.pem` of the site that runs the cluster, e.g. `--cluster-ca /tmp/site-a-trust.pem`";
    let cases: Vec<(Vec<String>, String, String)> = vec![
        (
            vec![
                "--site-name".into(),
                "b".into(),
                "--cluster-ca".into(),
                ca.display().to_string(),
            ],
            "`--cluster-ca` without the cluster's nodes".into(),
            "give each node of that cluster with `--vault-node NAME=IP:PORT`, as its site has them"
                .into(),
        ),
        (
            [
                vec!["--cluster-ca".into(), ca.display().to_string()],
                nodes.clone(),
            ]
            .concat(),
            "a site that joins another site's cluster needs a name of its own".into(),
            "name it with `--site-name NAME`, a name no other site of the cluster has".into(),
        ),
        (
            [
                vec![
                    "--site-name".into(),
                    "b".into(),
                    "--cluster-ca".into(),
                    "/nonexistent/trust.pem".into(),
                ],
                nodes.clone(),
            ]
            .concat(),
            "cannot take the CAs in `/nonexistent/trust.pem`: no such file".into(),
            hint_ca.into(),
        ),
        (
            [
                vec![
                    "--site-name".into(),
                    "b".into(),
                    "--cluster-ca".into(),
                    leaf.display().to_string(),
                ],
                nodes.clone(),
            ]
            .concat(),
            format!(
                "cannot take the CAs in `{}`: `O=vaultnet, CN=vaultnet-operator` is not a CA certificate",
                leaf.display()
            ),
            hint_ca.into(),
        ),
        (
            [
                vec![
                    "--site-name".into(),
                    "b".into(),
                    "--cluster-ca".into(),
                    ca.display().to_string(),
                    "--raft-dir".into(),
                    "/var/lib/x".into(),
                ],
                nodes.clone(),
            ]
            .concat(),
            "`--raft-dir /var/lib/x` on a site that joined another site's cluster".into(),
            "drop `--raft-dir`: the site that runs the cluster keeps its nodes' raft data".into(),
        ),
        (
            vec!["--site-name".into(), "B.x".into()],
            "invalid site name `B.x`: use lower-case letters, digits and inner `-`, at most 32"
                .into(),
            "pass a short label, e.g. `--site-name b`".into(),
        ),
    ];
    for (args, error, hint) in cases {
        init_refused(&args, &error, &hint);
    }

    // A named site keeps its name while it has tenants (one pending here).
    let f = Fixture::offline();
    let mut c = f.vaultnet_without_token();
    c.args([
        "init",
        "--yes",
        "--host-ip",
        "10.77.0.1",
        "--timeout",
        "1",
        "--site-name",
        "a",
    ]);
    c.run().expect_success();
    let state = f.path("vaultnet.yaml");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(&state, format!("{text}pending:\n- alice\n")).unwrap();
    let before = f.snapshot();
    let mut c = f.vaultnet_without_token();
    c.args(["init", "--yes", "--timeout", "1", "--site-name", "c"]);
    c.run().expect(f.rejected(
        "the site's name is in the Vault names of its 1 tenant(s): it cannot change from a to c",
        "keep `--site-name a`, or remove every tenant first",
    ));
    before.assert_same(&f.snapshot(), "a refused run");

    // `sites` belongs to a site that runs a cluster.
    let mut c = f.vaultnet_without_token();
    c.args(["sites", "add", "b"]).arg(&ca);
    c.run().expect(f.rejected(
        "this site runs no cluster: its Vault is its own",
        "other sites share a raft cluster: `vaultnet init --vault-node NAME=IP:PORT …`",
    ));
    // (Its lock is taken and let go: the lock file's pid changes.)
    before
        .without(".vaultnet.lock")
        .assert_same(&f.snapshot().without(".vaultnet.lock"), "a refused run");
}
