//! An OpenBao raft cluster behind the HAProxy forwarder, end to end (root,
//! `VAULTNET_E2E=1`): `vaultnet init --vault-node …` writes each node's
//! files, three real OpenBao nodes on 127.0.0.1–3 inside the namespace
//! playing the host run from exactly those files, are initialised once,
//! unsealed, and join one another over mutual TLS; `init` sets the cluster
//! up, `add-user` provisions tenants through whichever node is active,
//! HAProxy runs the config `init` wrote and the gate is loaded. Then the
//! active node is SIGKILLed while logins and writes go through the
//! forwarder without pause: they succeed again within 3 s, every write
//! acknowledged before, during and after is on the survivors, the killed
//! node restarts and rejoins, `doctor` names the active node and the one
//! that is down, and `renew` renews and reloads every node's certificate.
//! Offline: a cluster with a forwarder that cannot tell the active node is
//! refused before anything is written.

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
use crate::support::tenant::{UnixUser, add_expect, removed};
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
    curl(
        f.ns().name(),
        &format!("https://{DNS_NAME}:{PORT}/v1/{path}"),
        Some((DNS_NAME, SocketAddr::new(f.host_ip(), PORT))),
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
        let dir = f.bundle(tenant);
        Bundle {
            ca: dir.join("ca.pem"),
            cert: dir.join("client.pem"),
            key: dir.join("client-key.pem"),
            role_id: f.bundle_text(tenant, "role_id"),
            secret_id: f.bundle_text(tenant, "secret_id"),
        }
    }

    fn identity(&self) -> (&Path, &Path, &Path) {
        (&self.ca, &self.cert, &self.key)
    }

    /// AppRole login through the forwarder: the token.
    fn login(&self, f: &Fixture) -> Result<String, String> {
        let body = json!({"role_id": self.role_id, "secret_id": self.secret_id});
        match via_forwarder(
            f,
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
    let mut add = f.add_user(&names);
    add.env("BAO_TOKEN", &token);
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
    let ap = cluster.autopilot();
    let servers = ap
        .pointer("/data/servers")
        .and_then(Value::as_object)
        .unwrap();
    let leader_index = servers
        .values()
        .find(|s| s["status"] == "leader")
        .and_then(|s| s["last_index"].as_u64())
        .unwrap();
    assert_eq!(servers.len(), 3, "{ap}");
    for (id, s) in servers {
        assert_eq!(s["healthy"], true, "{id}: {s}");
        assert!(
            s["last_index"].as_u64().unwrap() + 2 >= leader_index,
            "{id} lags the leader: {s}"
        );
    }

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
    for kind in ["socat", "nginx", "socket-proxyd"] {
        let f = Fixture::offline();
        let mut c = f.vaultnet_without_token();
        c.args([
            "init",
            "--yes",
            "--host-ip",
            "10.77.0.1",
            "--forwarder",
            kind,
        ]);
        for (name, addr) in NODES {
            c.args(["--vault-node", &format!("{name}={addr}")]);
        }
        c.run().expect(f.rejected(
            &format!(
                "a cluster needs a forwarder that checks which node is active, and {kind} does not"
            ),
            "pass `--forwarder haproxy`: it checks `sys/health` on every node over mutual TLS and sends tenants to the active one only",
        ));
        assert!(
            !f.dir().exists(),
            "{kind}: init wrote {}",
            f.dir().display()
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
