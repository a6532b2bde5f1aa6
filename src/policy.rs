//! What a tenant is in Vault, as pure data: its AppRole limits, its policy
//! document and role body, and how to tell the live objects drifted from
//! them (PROMISES V1, V2).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Site;
use crate::error::{Error, Result};

/// Every AppRole limit, explicit (PROMISES V1). Durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub token_ttl: u64,
    pub token_max_ttl: u64,
    /// 0: the agent's auto-auth token is used for many requests.
    pub token_num_uses: u64,
    pub secret_id_ttl: u64,
    /// 0: the agent must be able to log in again after a restart.
    pub secret_id_num_uses: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            token_ttl: 3600,
            token_max_ttl: 24 * 3600,
            token_num_uses: 0,
            secret_id_ttl: 30 * 24 * 3600,
            secret_id_num_uses: 0,
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<()> {
        if self.token_ttl == 0 || self.token_max_ttl == 0 {
            return Err(Error::usage("token TTLs must be more than 0").hint(
                "pass e.g. `--token-ttl 1h --token-max-ttl 24h`; 0 would mean the server default",
            ));
        }
        if self.token_ttl > self.token_max_ttl {
            return Err(Error::usage(format!(
                "`--token-ttl` ({}) is longer than `--token-max-ttl` ({})",
                show_duration(self.token_ttl),
                show_duration(self.token_max_ttl)
            ))
            .hint("make `--token-max-ttl` at least as long as `--token-ttl`"));
        }
        if self.secret_id_ttl == 0 {
            return Err(Error::usage("`--secret-id-ttl` must be more than 0").hint(
                "pass e.g. `--secret-id-ttl 30d`; secret_ids that never expire are refused",
            ));
        }
        Ok(())
    }
}

/// Parses `90s`, `30m`, `1h`, `30d` (or plain seconds) into seconds.
pub fn parse_duration(flag: &str, s: &str) -> Result<u64> {
    let bad = || {
        Error::usage(format!(
            "invalid duration `{}` for `{flag}`",
            s.escape_debug()
        ))
        .hint(format!("pass a number with s, m, h or d, e.g. `{flag} 1h`"))
    };
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(mul)
        .filter(|v| *v <= 100 * 365 * 86400)
        .ok_or_else(bad)
}

pub fn show_duration(secs: u64) -> String {
    if secs != 0 && secs.is_multiple_of(86400) {
        format!("{}d", secs / 86400)
    } else if secs != 0 && secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs != 0 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

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
    use crate::config::HostMapping;

    fn site() -> Site {
        crate::config::sample_site(HostMapping::Ip)
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

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("--x", "90").unwrap(), 90);
        assert_eq!(parse_duration("--x", "30m").unwrap(), 1800);
        assert_eq!(parse_duration("--x", "1h").unwrap(), 3600);
        assert_eq!(parse_duration("--x", "30d").unwrap(), 2_592_000);
        for bad in ["", "h", "1w", "-1h", "1.5h", "99999999999999999d"] {
            assert_eq!(
                parse_duration("--x", bad).unwrap_err().exit_code(),
                2,
                "{bad}"
            );
        }
        assert_eq!(show_duration(2_592_000), "30d");
    }

    #[test]
    fn limits_refuse_ttl_above_max_and_endless_secret_ids() {
        let mut l = Limits::default();
        l.token_ttl = l.token_max_ttl + 1;
        assert!(l.validate().is_err());
        let l = Limits {
            secret_id_ttl: 0,
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        assert!(Limits::default().validate().is_ok());
    }
}
