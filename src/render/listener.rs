//! The Vault/OpenBao `listener "tcp"` stanza, as JSON: usable as an extra
//! `-config` of `vault server` / `bao server` (SECURITY.md T1).

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

pub struct ListenerSpec<'a> {
    pub address: SocketAddr,
    pub cert_file: &'a Path,
    pub key_file: &'a Path,
    pub client_ca_file: &'a Path,
}

pub fn render(spec: &ListenerSpec<'_>) -> String {
    let v = json!({
        "listener": [{
            "tcp": {
                "address": spec.address.to_string(),
                "tls_cert_file": spec.cert_file,
                "tls_key_file": spec.key_file,
                // Only vaultnet's CA may vouch for clients; no certificate, no handshake.
                "tls_client_ca_file": spec.client_ca_file,
                "tls_require_and_verify_client_cert": true,
                "tls_min_version": "tls12",
            }
        }]
    });
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
            address: "127.0.0.1:8200".parse().unwrap(),
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
    }

    #[test]
    fn odd_characters_in_paths_stay_inside_their_string() {
        let s = render(&ListenerSpec {
            address: "127.0.0.1:8200".parse().unwrap(),
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
