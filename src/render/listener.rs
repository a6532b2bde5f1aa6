//! The Vault/OpenBao `listener "tcp"` stanzas, as JSON: usable as an extra
//! `-config` of `vault server` / `bao server` (SECURITY.md T1). One stanza
//! per address, each with the same TLS settings: loopback, and under
//! `vault_bind: nic` the host address too.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

pub struct ListenerSpec<'a> {
    /// Every address Vault listens on; the first is the operator's.
    pub addresses: &'a [SocketAddr],
    pub cert_file: &'a Path,
    pub key_file: &'a Path,
    pub client_ca_file: &'a Path,
}

pub fn render(spec: &ListenerSpec<'_>) -> String {
    let listeners: Vec<_> = spec
        .addresses
        .iter()
        .map(|a| {
            json!({
                "tcp": {
                    "address": a.to_string(),
                    "tls_cert_file": spec.cert_file,
                    "tls_key_file": spec.key_file,
                    // Only vaultnet's CA may vouch for clients; no certificate, no handshake.
                    "tls_client_ca_file": spec.client_ca_file,
                    "tls_require_and_verify_client_cert": true,
                    "tls_min_version": "tls12",
                }
            })
        })
        .collect();
    let v = json!({ "listener": listeners });
    let mut s = serde_json::to_string_pretty(&v).expect("listener serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_requires_client_certs_from_the_vaultnet_ca_and_tls12() {
        let s = render(&ListenerSpec {
            addresses: &["127.0.0.1:8200".parse().unwrap()],
            cert_file: Path::new("/s/vault/server.pem"),
            key_file: Path::new("/s/vault/server-key.pem"),
            client_ca_file: Path::new("/s/pki/ca.pem"),
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let tcp = &v["listener"][0]["tcp"];
        assert_eq!(tcp["address"], "127.0.0.1:8200");
        assert_eq!(tcp["tls_require_and_verify_client_cert"], true);
        assert_eq!(tcp["tls_client_ca_file"], "/s/pki/ca.pem");
        assert_eq!(tcp["tls_min_version"], "tls12");
        assert!(tcp.get("tls_disable").is_none());
        assert_eq!(v["listener"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_second_address_gets_a_stanza_with_the_same_mutual_tls() {
        let s = render(&ListenerSpec {
            addresses: &[
                "127.0.0.1:8200".parse().unwrap(),
                "10.9.0.1:8200".parse().unwrap(),
            ],
            cert_file: Path::new("/s/vault/server-key.pem"),
            key_file: Path::new("/s/vault/server-key.pem"),
            client_ca_file: Path::new("/s/pki/trust.pem"),
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let l = v["listener"].as_array().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0]["tcp"]["address"], "127.0.0.1:8200");
        assert_eq!(l[1]["tcp"]["address"], "10.9.0.1:8200");
        let mut second = l[1]["tcp"].clone();
        second["address"] = l[0]["tcp"]["address"].clone();
        assert_eq!(second, l[0]["tcp"]);
    }

    #[test]
    fn odd_characters_in_paths_stay_inside_their_string() {
        let s = render(&ListenerSpec {
            addresses: &["127.0.0.1:8200".parse().unwrap()],
            cert_file: Path::new("/s/\"x\n}/server.pem"),
            key_file: Path::new("/k"),
            client_ca_file: Path::new("/c"),
        });
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(
            v["listener"][0]["tcp"]["tls_cert_file"],
            "/s/\"x\n}/server.pem"
        );
    }
}
