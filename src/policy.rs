//! What a tenant is in Vault, as pure data: its AppRole limits, its policy
//! document and role body, how to tell the live objects drifted from them
//! (SECURITY.md V1, V2), and which response-wrapping tokens are the
//! tenant's (V4).

use serde_json::{Value, json};

use crate::state::Limits;
use crate::state::Site;

/// The tenant's policy: `vaultnet-` and its Vault name
/// ([`Site::vault_name`]: `SITE.TENANT` on a named site).
pub fn policy_name(site: &Site, tenant: &str) -> String {
    format!("vaultnet-{}", site.vault_name(tenant))
}

/// The name of a new tenant's role (AppRole's and cert's alike): prefixed,
/// so it cannot collide with a role the operator made on the shared mounts
/// (SECURITY.md V7). A tenant recorded before the prefix keeps the bare
/// name it has (`Tenant::role`). On a named site the site's name is in
/// it too, as in the policy's.
pub fn role_name(site: &Site, tenant: &str) -> String {
    format!("vaultnet-{}", site.vault_name(tenant))
}

/// Whether `role` is a name vaultnet gives tenant `tenant`'s role:
/// `vaultnet-TENANT`, `vaultnet-SITE.TENANT` on a named site, or the bare
/// `TENANT` of a tenant recorded before roles were prefixed. (`vaultnet
/// unwrap` runs as the tenant, with its bundle alone: it knows no site.)
pub fn names_tenant(role: &str, tenant: &str) -> bool {
    if role == tenant {
        return true;
    }
    let Some(rest) = role.strip_prefix("vaultnet-") else {
        return false;
    };
    rest == tenant
        || rest
            .strip_suffix(tenant)
            .and_then(|s| s.strip_suffix('.'))
            .is_some_and(|site| crate::state::validate::site_name(site).is_ok())
}

/// Where the AppRole role named `role` lives.
pub fn role_path(role: &str) -> String {
    format!("auth/approle/role/{role}")
}

/// The tenant's KV v2 prefix, e.g. `secret/data/tenants/alice/`
/// (`secret/data/tenants/b.alice/` on site `b`).
pub fn data_prefix(site: &Site, tenant: &str) -> String {
    format!(
        "{}/data/{}/{}/",
        site.kv_mount,
        site.tenant_prefix,
        site.vault_name(tenant)
    )
}

pub fn metadata_prefix(site: &Site, tenant: &str) -> String {
    format!(
        "{}/metadata/{}/{}/",
        site.kv_mount,
        site.tenant_prefix,
        site.vault_name(tenant)
    )
}

/// What a tenant's token may do to itself, in place of Vault's `default`
/// policy (the role sets `token_no_default_policy`). `default` also allows
/// `sys/wrapping/wrap` of any data and a cubbyhole: a secret copied there
/// is wrapped under a path that names no tenant, so `remove-user` could not
/// find it (SECURITY.md V4). `renew-self` is what `bao agent` calls to keep
/// its token (its lifetime watcher); `revoke-self` and
/// `sys/capabilities-self` are what `doctor --login` calls with the
/// tenant's token; `lookup-self` lets the tenant see its token's TTL and
/// policies.
const SELF_PATHS: [(&str, &str); 4] = [
    ("auth/token/lookup-self", "read"),
    ("auth/token/renew-self", "update"),
    ("auth/token/revoke-self", "update"),
    ("sys/capabilities-self", "update"),
];

/// The policy, as JSON (Vault's HCL parser reads it natively): read on
/// the tenant's data, read and list on its metadata, and what its token
/// needs to renew, look up and revoke itself ([`SELF_PATHS`]); nothing
/// else (V2).
pub fn policy_text(site: &Site, tenant: &str) -> String {
    let mut paths = serde_json::Map::new();
    paths.insert(
        format!("{}*", data_prefix(site, tenant)),
        json!({ "capabilities": ["read"] }),
    );
    paths.insert(
        format!("{}*", metadata_prefix(site, tenant)),
        json!({ "capabilities": ["read", "list"] }),
    );
    for (path, cap) in SELF_PATHS {
        paths.insert(path.to_string(), json!({ "capabilities": [cap] }));
    }
    serde_json::to_string_pretty(&json!({ "path": paths })).expect("policy serialises")
}

/// Whether a response-wrapping token created at `path` wraps something of
/// `tenant`'s: a read or list under its data or metadata prefix (what its
/// policy lets its token wrap), or a call on its role (a wrapped secret_id).
/// Wrapping tokens are orphans whose only trace of their maker is this
/// creation path: the token entry keeps `Path`, the fixed
/// `response-wrapping` policy and the maker's display name, which is the
/// auth mount's (`approle`) for every tenant (OpenBao
/// `internal/vault/wrapping.go`, `wrapInCubbyhole`).
pub fn wraps_for_tenant(site: &Site, tenant: &str, role: &str, path: &str) -> bool {
    let role = role_path(role);
    path.starts_with(&data_prefix(site, tenant))
        || path.starts_with(&metadata_prefix(site, tenant))
        || path == role
        || path
            .strip_prefix(&role)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The token fields every role of a tenant sets, AppRole's and cert's:
/// the tenant's policy alone, every limit explicit.
fn token_fields(site: &Site, tenant: &str, l: &Limits) -> serde_json::Map<String, Value> {
    let v = json!({
        "token_policies": [policy_name(site, tenant)],
        // No `default` policy: see [`SELF_PATHS`].
        "token_no_default_policy": true,
        "token_ttl": l.token_ttl,
        "token_max_ttl": l.token_max_ttl,
        "token_num_uses": l.token_num_uses,
        "token_type": "service",
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("a JSON object"),
    }
}

/// The AppRole role body.
pub fn role_body(site: &Site, tenant: &str, l: &Limits) -> Value {
    let mut m = token_fields(site, tenant, l);
    m.insert("bind_secret_id".into(), json!(true));
    m.insert("secret_id_ttl".into(), json!(l.secret_id_ttl));
    m.insert("secret_id_num_uses".into(), json!(l.secret_id_num_uses));
    Value::Object(m)
}

/// Where the `cert` auth role named `role` lives.
pub fn cert_role_path(role: &str) -> String {
    format!("auth/cert/certs/{role}")
}

/// The `cert` auth role: the vaultnet CA, the tenant's name as the only
/// common name it accepts, and the token fields of [`token_fields`].
pub fn cert_role_body(site: &Site, tenant: &str, l: &Limits, ca_pem: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("certificate".into(), json!(ca_pem.trim_end()));
    m.insert("allowed_common_names".into(), json!([tenant]));
    m.insert("display_name".into(), json!(site.vault_name(tenant)));
    m.extend(token_fields(site, tenant, l));
    Value::Object(m)
}

/// The fields of a live role that differ from what vaultnet wants, as
/// `field: live -> wanted`.
pub fn role_drift(live: &Value, site: &Site, tenant: &str, l: &Limits) -> Vec<String> {
    drift(live, &role_body(site, tenant, l))
}

/// [`role_drift`] for the `cert` role (the CA compared as text, without
/// the trailing newline Vault may drop or add).
pub fn cert_role_drift(
    live: &Value,
    site: &Site,
    tenant: &str,
    l: &Limits,
    ca_pem: &str,
) -> Vec<String> {
    let mut live = live.get("data").unwrap_or(live).clone();
    if let Some(c) = live.get_mut("certificate")
        && let Some(t) = c.as_str()
    {
        *c = Value::from(t.trim_end());
    }
    let mut d = drift(&live, &cert_role_body(site, tenant, l, ca_pem));
    // The CA's text is long: name the field, not its PEM.
    for line in &mut d {
        if line.starts_with("certificate:") {
            *line = "certificate: not the vaultnet CA".into();
        }
    }
    d
}

fn drift(live: &Value, want: &Value) -> Vec<String> {
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
    fn policy_grants_only_the_tenants_prefix_read_and_list_and_its_tokens_self_calls() {
        let v: Value = serde_json::from_str(&policy_text(&site(), "alice")).unwrap();
        let caps: Vec<(&str, &Value)> = v["path"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, c)| (p.as_str(), &c["capabilities"]))
            .collect();
        assert_eq!(
            caps,
            [
                ("secret/data/tenants/alice/*", &json!(["read"])),
                ("secret/metadata/tenants/alice/*", &json!(["read", "list"])),
                ("auth/token/lookup-self", &json!(["read"])),
                ("auth/token/renew-self", &json!(["update"])),
                ("auth/token/revoke-self", &json!(["update"])),
                ("sys/capabilities-self", &json!(["update"])),
            ]
        );
    }

    #[test]
    fn wrapping_tokens_are_the_tenants_by_creation_path_and_never_a_neighbours() {
        let s = site();
        for path in [
            "secret/data/tenants/alice/app",
            "secret/metadata/tenants/alice/",
            "secret/metadata/tenants/alice/app",
            "auth/approle/role/vaultnet-alice",
            "auth/approle/role/vaultnet-alice/secret-id",
            "auth/approle/role/vaultnet-alice/role-id",
        ] {
            assert!(
                wraps_for_tenant(&s, "alice", "vaultnet-alice", path),
                "{path}"
            );
        }
        for path in [
            // A tenant whose name starts with `alice`.
            "secret/data/tenants/alice2/app",
            "secret/metadata/tenants/alice2/",
            "auth/approle/role/vaultnet-alice2/secret-id",
            // A role of the bare name, not vaultnet's for this tenant.
            "auth/approle/role/alice/secret-id",
            // Shared paths that name no tenant.
            "secret/metadata/tenants/",
            "auth/approle/login",
            "auth/token/lookup-self",
            "sys/wrapping/wrap",
            "sys/wrapping/unwrap",
            "cubbyhole/response",
            // Another mount with the same layout.
            "kv/data/tenants/alice/app",
        ] {
            assert!(
                !wraps_for_tenant(&s, "alice", "vaultnet-alice", path),
                "{path}"
            );
        }
    }

    #[test]
    fn role_sets_every_limit_explicitly() {
        let b = role_body(
            &crate::state::site::sample_site("l1"),
            "alice",
            &Limits::default(),
        );
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
        assert_eq!(b["token_no_default_policy"], true);
    }

    #[test]
    fn drift_names_the_changed_fields() {
        let site = crate::state::site::sample_site("l1");
        let mut live = role_body(&site, "alice", &Limits::default());
        assert!(role_drift(&live, &site, "alice", &Limits::default()).is_empty());
        live["token_ttl"] = json!(7200);
        live["token_policies"] = json!(["vaultnet-alice", "admin"]);
        // A role written before vaultnet set it, as Vault reads it back.
        live["token_no_default_policy"] = json!(false);
        let d = role_drift(&json!({ "data": live }), &site, "alice", &Limits::default());
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(d.iter().any(|l| l.starts_with("token_ttl: 7200 -> 3600")));
        assert!(d.contains(&"token_no_default_policy: false -> true".to_string()));
    }
}
