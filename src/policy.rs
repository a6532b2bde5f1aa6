//! What a tenant is in Vault, as pure data: its AppRole limits, its policy
//! document and role body, and how to tell the live objects drifted from
//! them (SECURITY.md V1, V2).

use serde_json::{Value, json};

use crate::state::Limits;
use crate::state::Site;

pub fn policy_name(tenant: &str) -> String {
    format!("vaultnet-{tenant}")
}

pub fn role_path(tenant: &str) -> String {
    format!("auth/approle/role/{tenant}")
}

/// The tenant's KV v2 prefix, e.g. `secret/data/tenants/alice/`.
pub fn data_prefix(site: &Site, tenant: &str) -> String {
    format!("{}/data/{}/{tenant}/", site.kv_mount, site.tenant_prefix)
}

pub fn metadata_prefix(site: &Site, tenant: &str) -> String {
    format!(
        "{}/metadata/{}/{tenant}/",
        site.kv_mount, site.tenant_prefix
    )
}

/// The policy, as JSON (Vault's HCL parser reads it natively): read on
/// the tenant's data, read and list on its metadata, nothing else (V2).
pub fn policy_text(site: &Site, tenant: &str) -> String {
    let doc = json!({
        "path": {
            format!("{}*", data_prefix(site, tenant)): { "capabilities": ["read"] },
            format!("{}*", metadata_prefix(site, tenant)): { "capabilities": ["read", "list"] },
        }
    });
    serde_json::to_string_pretty(&doc).expect("policy serialises")
}

/// The AppRole role body.
pub fn role_body(tenant: &str, l: &Limits) -> Value {
    json!({
        "token_policies": [policy_name(tenant)],
        "token_ttl": l.token_ttl,
        "token_max_ttl": l.token_max_ttl,
        "token_num_uses": l.token_num_uses,
        "token_type": "service",
        "bind_secret_id": true,
        "secret_id_ttl": l.secret_id_ttl,
        "secret_id_num_uses": l.secret_id_num_uses,
    })
}

/// The fields of a live role that differ from what vaultnet wants, as
/// `field: live -> wanted`.
pub fn role_drift(live: &Value, tenant: &str, l: &Limits) -> Vec<String> {
    let want = role_body(tenant, l);
    let data = live.get("data").unwrap_or(live);
    let mut d = Vec::new();
    for (k, w) in want.as_object().expect("object") {
        let got = data.get(k).cloned().unwrap_or(Value::Null);
        let same = match (k.as_str(), &got) {
            // An unset token_type reads back as "default" on some servers.
            ("token_type", Value::String(s)) => s == "service",
            _ => &got == w,
        };
        if !same {
            d.push(format!("{k}: {got} -> {w}"));
        }
    }
    d
}

/// A line diff of two policy texts, `-` live and `+` wanted.
pub fn text_diff(live: &str, want: &str) -> Vec<String> {
    let l: Vec<&str> = live.lines().collect();
    let w: Vec<&str> = want.lines().collect();
    let mut out = Vec::new();
    for line in &l {
        if !w.contains(line) {
            out.push(format!("- {line}"));
        }
    }
    for line in &w {
        if !l.contains(line) {
            out.push(format!("+ {line}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        crate::state::site::sample_site("l1")
    }

    #[test]
    fn policy_grants_only_the_tenants_prefix_read_and_list() {
        let v: Value = serde_json::from_str(&policy_text(&site(), "alice")).unwrap();
        let paths = v["path"].as_object().unwrap();
        assert_eq!(paths.len(), 2);
        assert_eq!(
            paths["secret/data/tenants/alice/*"]["capabilities"],
            json!(["read"])
        );
        assert_eq!(
            paths["secret/metadata/tenants/alice/*"]["capabilities"],
            json!(["read", "list"])
        );
    }

    #[test]
    fn role_sets_every_limit_explicitly() {
        let b = role_body("alice", &Limits::default());
        for k in [
            "token_policies",
            "token_ttl",
            "token_max_ttl",
            "token_num_uses",
            "secret_id_ttl",
            "secret_id_num_uses",
        ] {
            assert!(b.get(k).is_some(), "{k}");
        }
        assert_eq!(b["token_ttl"], 3600);
        assert_eq!(b["token_max_ttl"], 86400);
        assert_eq!(b["secret_id_ttl"], 2_592_000);
        assert_eq!(b["token_num_uses"], 0);
    }

    #[test]
    fn drift_names_the_changed_fields() {
        let mut live = role_body("alice", &Limits::default());
        assert!(role_drift(&live, "alice", &Limits::default()).is_empty());
        live["token_ttl"] = json!(7200);
        live["token_policies"] = json!(["vaultnet-alice", "admin"]);
        let d = role_drift(&json!({ "data": live }), "alice", &Limits::default());
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("token_ttl: 7200 -> 3600")));
    }
}
