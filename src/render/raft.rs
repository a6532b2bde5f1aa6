//! A cluster node's server stanza, as JSON: `storage "raft"` with a
//! `retry_join` for every node (itself included, as OpenBao documents it:
//! the node skips itself), presenting the node's own join client
//! certificate, since every API listener requires one (SECURITY.md T1);
//! its `api_addr` and `cluster_addr`; and `disable_standby_reads`, so a
//! standby never answers from its own, possibly stale, copy — a restarted
//! standby accepted a revoked token for ~8 s without it (NOTES.md, "OpenBao
//! raft cluster"). Usable as an extra `-config` beside the node's listener.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

/// Raft's timing, scaled: 1 is the fastest OpenBao allows. A new active
/// node took 1.4–3.0 s after the active one was killed, against ~10–13 s
/// with the default (5).
pub const PERFORMANCE_MULTIPLIER: u32 = 1;

pub struct Peer {
    /// `https://ADDR:PORT` of its API listener.
    pub api_addr: String,
}

pub struct RaftSpec<'a> {
    pub node_id: &'a str,
    pub path: &'a Path,
    pub api_addr: SocketAddr,
    pub cluster_addr: SocketAddr,
    pub peers: &'a [Peer],
    /// The CAs a peer's server certificate may come from.
    pub ca_file: &'a Path,
    /// The node's join identity: key and certificate in one file.
    pub join_identity: &'a Path,
}

pub fn render(spec: &RaftSpec<'_>) -> String {
    let joins: Vec<_> = spec
        .peers
        .iter()
        .map(|p| {
            json!({
                "leader_api_addr": p.api_addr,
                "leader_ca_cert_file": spec.ca_file,
                "leader_client_cert_file": spec.join_identity,
                "leader_client_key_file": spec.join_identity,
            })
        })
        .collect();
    let v = json!({
        "storage": {
            "raft": {
                "path": spec.path,
                "node_id": spec.node_id,
                "performance_multiplier": PERFORMANCE_MULTIPLIER,
                "retry_join": joins,
            }
        },
        "api_addr": format!("https://{}", spec.api_addr),
        "cluster_addr": format!("https://{}", spec.cluster_addr),
        "disable_standby_reads": true,
    });
    let mut s = serde_json::to_string_pretty(&v).expect("raft stanza serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_is_joined_with_the_nodes_own_client_certificate() {
        let peers = [
            Peer {
                api_addr: "https://127.0.0.1:8200".into(),
            },
            Peer {
                api_addr: "https://127.0.0.2:8200".into(),
            },
        ];
        let s = render(&RaftSpec {
            node_id: "bao2",
            path: Path::new("/var/lib/openbao/raft/bao2"),
            api_addr: "127.0.0.2:8200".parse().unwrap(),
            cluster_addr: "127.0.0.2:8201".parse().unwrap(),
            peers: &peers,
            ca_file: Path::new("/s/pki/trust.pem"),
            join_identity: Path::new("/s/vault/nodes/bao2/join-key.pem\"}"),
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let raft = &v["storage"]["raft"];
        assert_eq!(raft["node_id"], "bao2");
        assert_eq!(raft["path"], "/var/lib/openbao/raft/bao2");
        assert_eq!(raft["performance_multiplier"], 1);
        let joins = raft["retry_join"].as_array().unwrap();
        assert_eq!(joins.len(), 2);
        assert_eq!(joins[1]["leader_api_addr"], "https://127.0.0.2:8200");
        for j in joins {
            assert_eq!(j["leader_ca_cert_file"], "/s/pki/trust.pem");
            assert_eq!(
                j["leader_client_cert_file"],
                "/s/vault/nodes/bao2/join-key.pem\"}"
            );
            assert_eq!(j["leader_client_key_file"], j["leader_client_cert_file"]);
        }
        assert_eq!(v["api_addr"], "https://127.0.0.2:8200");
        assert_eq!(v["cluster_addr"], "https://127.0.0.2:8201");
        assert_eq!(v["disable_standby_reads"], true);
    }
}
