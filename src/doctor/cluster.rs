//! doctor for a raft cluster: every node as a packet meets it (TCP, TLS
//! for the name tenants use, mutual TLS enforced, `sys/health`: active,
//! standby, sealed, its version; the certificate it serves against the
//! one on disk), then the cluster as a whole (exactly one active node, the
//! raft peer set against the nodes `init` was given, autopilot's health),
//! and whether the forwarder sends every new connection to the active
//! node — each node presents a certificate of its own, so the certificate
//! seen through the forwarder says which node it reached.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use super::Check;
use super::files::OnDisk;
use super::network;
use crate::state::Site;
use crate::state::cluster::{Cluster, VaultNode};
use crate::topology::EntryProbe;
use crate::vault::{Client, Health, Target};

/// What the node probes found, for the checks after them.
pub struct Seen {
    /// Per node, in the cluster's order: its health and the certificate
    /// it serves.
    pub nodes: Vec<(Option<Health>, Option<Vec<u8>>)>,
}

impl Seen {
    /// The one active node, if exactly one is.
    pub fn active(&self) -> Option<usize> {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].0 == Some(Health::Active))
            .collect();
        (up.len() == 1).then(|| up[0])
    }
}

/// One node: the probe of [`network::probe`] at its address, a standby
/// being as good as the active node here, and the certificate it serves.
fn node(
    site: &Site,
    n: &VaultNode,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    on_disk: Option<&OnDisk>,
    timeout: Duration,
) -> (Check, Option<Health>, Option<Vec<u8>>) {
    let id = format!("vault.{}", n.name);
    let cli = site.flavor.binary();
    let prefix = site.flavor.env_prefix();
    let start = format!(
        "start node `{0}`: `{cli} server -config vault/nodes/{0}/raft.json -config vault/nodes/{0}/listener.json`",
        n.name
    );
    let mut p = network::probe(
        &id,
        site,
        &site.dns_name,
        n.addr,
        ca_pem,
        operator,
        timeout,
        &start,
        &format!(
            "make sure {} is the listener of `vault/nodes/{}/listener.json`, not another server",
            n.addr, n.name
        ),
    );
    let health = p.health_status.map(Health::from_status);
    match health {
        // In a cluster a standby is where it should be.
        Some(Health::Standby) => {
            p.health = Check::ok(p.health.id.clone(), p.health.title.clone()).detail(format!(
                "standby (HTTP 429), {}",
                site.flavor.display_name()
            ));
        }
        Some(Health::Sealed) => {
            p.health.hint = Some(format!(
                "unseal it: `{prefix}_ADDR={} {cli} operator unseal`",
                n.url()
            ));
        }
        _ => {}
    }
    let who = format!("node `{}`", n.name);
    let served = network::served(&id, site, &who, p.peer_cert.as_deref(), on_disk);
    let peer = p.peer_cert.clone();
    let state = match health {
        Some(Health::Active) => "active",
        Some(Health::Standby) => "standby",
        Some(Health::Sealed) => "sealed",
        Some(_) => "not ready",
        None => "down",
    };
    (
        Check::group(
            id,
            format!("node `{}` at {}: {state}", n.name, n.addr),
            vec![p.tcp, p.tls, p.mtls, p.health, served],
        ),
        health,
        peer,
    )
}

/// Every node, then the cluster: exactly one active node and, with a
/// token, the raft peers and autopilot's health.
#[allow(clippy::too_many_arguments)]
pub fn nodes(
    site: &Site,
    cluster: &Cluster,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    on_disk: &[Option<OnDisk>],
    client: Option<&Client>,
    timeout: Duration,
) -> (Check, Seen) {
    let probes: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cluster
            .nodes
            .iter()
            .zip(on_disk)
            .map(|(n, d)| s.spawn(move || node(site, n, ca_pem, operator, d.as_ref(), timeout)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check thread"))
            .collect()
    });
    let mut children = Vec::new();
    let mut seen = Seen { nodes: Vec::new() };
    for (c, h, peer) in probes {
        children.push(c);
        seen.nodes.push((h, peer));
    }
    children.push(active_check(site, cluster, &seen));
    match client {
        Some(c) if seen.active().is_some() => {
            children.push(peers_check(site, cluster, c));
            children.push(autopilot_check(site, c));
        }
        Some(_) => {
            for (id, title) in [
                ("vault.raft.peers", "raft peers"),
                ("vault.raft.autopilot", "autopilot"),
            ] {
                children.push(Check::skip(id, title).detail("no active node to ask"));
            }
        }
        None => {
            let prefix = site.flavor.env_prefix();
            for (id, title) in [
                ("vault.raft.peers", "raft peers"),
                ("vault.raft.autopilot", "autopilot"),
            ] {
                children.push(Check::skip(id, title).detail(format!(
                    "no operator token (`{prefix}_TOKEN`, `--token-file` or `~/.vault-token`)"
                )));
            }
        }
    }
    (
        Check::group(
            "vault",
            format!(
                "{} raft cluster of {} nodes",
                site.flavor.display_name(),
                cluster.nodes.len()
            ),
            children,
        ),
        seen,
    )
}

fn names(cluster: &Cluster, seen: &Seen, want: impl Fn(&Option<Health>) -> bool) -> Vec<String> {
    cluster
        .nodes
        .iter()
        .zip(&seen.nodes)
        .filter(|(_, (h, _))| want(h))
        .map(|(n, _)| n.name.clone())
        .collect()
}

fn active_check(site: &Site, cluster: &Cluster, seen: &Seen) -> Check {
    let title = "exactly one active node";
    let active = names(cluster, seen, |h| *h == Some(Health::Active));
    let standby = names(cluster, seen, |h| *h == Some(Health::Standby));
    let down = names(cluster, seen, |h| h.is_none());
    let other = names(cluster, seen, |h| {
        !matches!(h, None | Some(Health::Active | Health::Standby))
    });
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let detail = format!(
        "active: {}; standby: {}; sealed or not ready: {}; down: {}",
        list(&active),
        list(&standby),
        list(&other),
        list(&down)
    );
    let cli = site.flavor.binary();
    match active.len() {
        1 => Check::ok("vault.active", title).detail(detail),
        0 => Check::fail(
            "vault.active",
            title,
            format!(
                "a majority of nodes must run unsealed to elect one: start and unseal the nodes above (`{cli} operator unseal`)"
            ),
        )
        .detail(detail),
        _ => Check::fail(
            "vault.active",
            title,
            "each node must have only its own raft stanza (`vault/nodes/NAME/raft.json`) and one raft data directory",
        )
        .detail(detail),
    }
}

fn servers(v: &Value, pointer: &str) -> Vec<Value> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn peers_check(site: &Site, cluster: &Cluster, c: &Client) -> Check {
    let title = "raft peers: every node a voter, no other";
    let id = "vault.raft.peers";
    let v = match c.get("sys/storage/raft/configuration") {
        Ok(v) => v,
        Err(e) => {
            return Check::fail(id, title, e.hint_text().unwrap_or("").to_string())
                .detail(e.message().to_string());
        }
    };
    let list = servers(&v, "/data/config/servers");
    let id_of = |s: &Value| s["node_id"].as_str().unwrap_or("").to_string();
    let shown: Vec<String> = list
        .iter()
        .map(|s| {
            let mut roles = vec![if s["voter"] == Value::Bool(true) {
                "voter"
            } else {
                "non-voter"
            }];
            if s["leader"] == Value::Bool(true) {
                roles.push("leader");
            }
            format!("{} ({})", id_of(s), roles.join(", "))
        })
        .collect();
    let missing: Vec<&str> = cluster
        .nodes
        .iter()
        .filter(|n| {
            !list
                .iter()
                .any(|s| id_of(s) == n.name && s["voter"] == Value::Bool(true))
        })
        .map(|n| n.name.as_str())
        .collect();
    let unknown: Vec<String> = list
        .iter()
        .map(id_of)
        .filter(|i| cluster.node(i).is_none())
        .collect();
    let cli = site.flavor.binary();
    if !missing.is_empty() {
        Check::fail(
            id,
            title,
            format!(
                "start and unseal {}: it joins through its `retry_join` stanzas",
                missing.join(", ")
            ),
        )
        .detail(format!(
            "{}; not a voter: {}",
            shown.join(", "),
            missing.join(", ")
        ))
    } else if !unknown.is_empty() {
        Check::warn(
            id,
            title,
            format!(
                "remove what is no node of this site: `{cli} operator raft remove-peer {}`, or add it with `vaultnet init --vault-node …`",
                unknown[0]
            ),
        )
        .detail(format!("{}; unknown: {}", shown.join(", "), unknown.join(", ")))
    } else {
        Check::ok(id, title).detail(shown.join(", "))
    }
}

fn autopilot_check(site: &Site, c: &Client) -> Check {
    let title = "autopilot: the cluster is healthy";
    let id = "vault.raft.autopilot";
    let v = match c.get("sys/storage/raft/autopilot/state") {
        Ok(v) => v,
        Err(e) => {
            return Check::fail(id, title, e.hint_text().unwrap_or("").to_string())
                .detail(e.message().to_string());
        }
    };
    let d = v.get("data").unwrap_or(&v);
    let tolerance = d["failure_tolerance"].as_u64().unwrap_or(0);
    let mut unhealthy: Vec<String> = d["servers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, s)| s["healthy"] != Value::Bool(true))
        .map(|(name, _)| name.clone())
        .collect();
    unhealthy.sort();
    if d["healthy"] == Value::Bool(true) {
        Check::ok(id, title).detail(format!("healthy, failure tolerance {tolerance}"))
    } else {
        Check::fail(
            id,
            title,
            format!(
                "start and unseal the unhealthy nodes, then look at their logs (`{} server` prints why it cannot follow)",
                site.flavor.binary()
            ),
        )
        .detail(format!(
            "unhealthy: {}; failure tolerance {tolerance}",
            if unhealthy.is_empty() {
                "the cluster".to_string()
            } else {
                unhealthy.join(", ")
            }
        ))
    }
}

/// How many fresh connections through the forwarder must all reach the
/// active node.
const SAMPLES: usize = 4;

/// The forwarder sends every new connection to the active node and none to
/// a standby, a sealed or a dead one: the certificate each connection sees
/// names the node it reached.
pub fn selects_active(
    site: &Site,
    cluster: &Cluster,
    entry: &EntryProbe,
    seen: &Seen,
    ca_pem: &str,
    operator: Option<&Zeroizing<Vec<u8>>>,
    timeout: Duration,
) -> Check {
    let id = format!("{}.active", entry.id);
    let title = "sends tenants to the active node only";
    let Some(active) = seen.active() else {
        return Check::skip(id, title).detail("no single active node to compare with");
    };
    let mut reached: Vec<String> = Vec::new();
    for _ in 0..SAMPLES {
        let who = Client::new(
            Target {
                url: format!("https://{}:{}", entry.name, entry.addr.port()),
                resolve: Some((&entry.name, entry.addr)),
                timeout,
            },
            ca_pem,
            operator,
            site.flavor.binary(),
        )
        .and_then(|c| c.raw(Method::GET, "sys/health", None, None));
        reached.push(match who {
            Ok(r) => match r.peer_cert {
                Some(cert) => cluster
                    .nodes
                    .iter()
                    .zip(&seen.nodes)
                    .find(|(_, (_, served))| served.as_deref() == Some(cert.as_slice()))
                    .map_or("an unknown server".to_string(), |(n, _)| n.name.clone()),
                None => "no certificate".into(),
            },
            Err(e) => format!("no answer ({})", e.message()),
        });
    }
    let want = &cluster.nodes[active].name;
    let hits = reached.iter().filter(|r| *r == want).count();
    if hits == SAMPLES {
        return Check::ok(id, title).detail(format!(
            "{SAMPLES} of {SAMPLES} new connections reached `{want}`, the active node"
        ));
    }
    let mut others: Vec<&String> = reached.iter().filter(|r| *r != want).collect();
    others.sort();
    others.dedup();
    Check::fail(
        id,
        title,
        "run HAProxy with `forwarder/vaultnet-haproxy.cfg` as `vaultnet init` wrote it (its checks admit only the node answering `sys/health` with 200), then `systemctl reload haproxy`",
    )
    .detail(format!(
        "{hits} of {SAMPLES} new connections reached `{want}`, the active node; the others: {}",
        others
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
