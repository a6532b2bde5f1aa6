//! The Vault objects vaultnet owns, made to converge: the AppRole auth
//! method and the KV v2 mount (init); each tenant's policy, role and
//! secret_ids (add-user, remove-user). Each function says what it changed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::outcome::{Change, Outcome};
use crate::policy;
use crate::secret::Secret;
use crate::state::{Limits, Site};
use crate::sys::fsx;
use crate::vault::{Client, Target};

/// A client for the operator: straight at the loopback listener, with the
/// operator certificate, trusting only the vaultnet CAs (`pki/trust.pem`).
pub fn operator_client(
    layout: &Layout,
    site: &Site,
    token: Option<Secret>,
    timeout: Duration,
) -> Result<Client> {
    let ca = crate::provision::ca::server_trust_pem(layout, site)?;
    let identity = operator_identity(layout)?;
    let c = Client::new(
        Target {
            url: site.vault_url(),
            resolve: None,
            timeout,
        },
        &ca,
        Some(&identity),
        site.flavor.binary(),
    )?;
    // A cluster: whichever node is active, through leader changes.
    let c = match &site.cluster {
        Some(cl) => c.with_nodes(cl.nodes.iter().map(|n| n.url()).collect()),
        None => c,
    };
    Ok(match token {
        Some(t) => c.with_token(t),
        None => c,
    })
}

/// The operator's key and certificate for reqwest, from the key file that
/// holds both (or, written before that, the two files); read without
/// following a link.
pub fn operator_identity(layout: &Layout) -> Result<Zeroizing<Vec<u8>>> {
    let read = |path: std::path::PathBuf| {
        fsx::read_secret(&path, fsx::MAX_PEM_BYTES)?.ok_or_else(|| {
            // ENOENT: the same words as any other unreadable file.
            Error::io("read", &path, std::io::Error::from_raw_os_error(2))
        })
    };
    let key = read(layout.operator_key())?;
    if crate::pki::has_certificate(&String::from_utf8_lossy(&key)) {
        return Ok(key);
    }
    let mut id = read(layout.operator_cert())?;
    id.push(b'\n');
    id.extend_from_slice(&key);
    Ok(id)
}

/// Enables AppRole at `approle/` unless it is there.
pub fn ensure_approle(c: &Client) -> Result<Outcome> {
    let auths = c.get("sys/auth")?;
    let mounts = auths.get("data").unwrap_or(&auths);
    if let Some(m) = mounts.get("approle/") {
        if m.get("type").and_then(Value::as_str) == Some("approle") {
            return Ok(Outcome::new(
                Change::Kept,
                "AppRole auth at `approle/`: present",
            ));
        }
        return Err(
            Error::failed("`auth/approle/` is mounted but is not AppRole")
                .hint("move that auth method elsewhere; vaultnet expects AppRole at `approle/`"),
        );
    }
    c.post(
        "sys/auth/approle",
        &json!({"type": "approle", "description": "vaultnet tenants"}),
    )?;
    Ok(Outcome::new(
        Change::Created,
        "AppRole auth at `approle/`: enabled",
    ))
}

/// Enables the `cert` auth method at `cert/` unless it is there; refuses
/// another method mounted at that path.
pub fn ensure_cert_auth(c: &Client) -> Result<Outcome> {
    let auths = c.get("sys/auth")?;
    let mounts = auths.get("data").unwrap_or(&auths);
    if let Some(m) = mounts.get("cert/") {
        if m.get("type").and_then(Value::as_str) == Some("cert") {
            return Ok(Outcome::new(Change::Kept, "cert auth at `cert/`: present"));
        }
        return Err(
            Error::failed("`auth/cert/` is mounted but is not the cert auth method")
                .hint("move that auth method elsewhere; vaultnet expects cert auth at `cert/`"),
        );
    }
    c.post(
        "sys/auth/cert",
        &json!({"type": "cert", "description": "vaultnet tenants (client certificates)"}),
    )?;
    Ok(Outcome::new(
        Change::Created,
        "cert auth at `cert/`: enabled",
    ))
}

/// Creates the tenant's `cert` auth role or repairs the fields that drifted.
pub fn ensure_cert_role(
    c: &Client,
    site: &Site,
    tenant: &str,
    role: &str,
    limits: &Limits,
    ca_pem: &str,
) -> Result<Outcome> {
    let path = policy::cert_role_path(role);
    let body = policy::cert_role_body(site, tenant, limits, ca_pem);
    match c.get_opt(&path)? {
        Some(live) => {
            let drift = policy::cert_role_drift(&live, site, tenant, limits, ca_pem);
            if drift.is_empty() {
                return Ok(Outcome::new(
                    Change::Kept,
                    format!("cert role `{role}`: as expected"),
                ));
            }
            c.post(&path, &body)?;
            // The CAs alone follow the site's trust (a CA rotation, a
            // retired CA): that is no repair.
            if drift.len() == 1 && drift[0].starts_with("certificate:") {
                return Ok(Outcome::new(
                    Change::Repaired,
                    format!("cert role `{role}`: updated to the CAs trusted now"),
                ));
            }
            Ok(Outcome::new(
                Change::Repaired,
                format!(
                    "cert role `{role}` had drifted and was repaired: {}",
                    drift.join(", ")
                ),
            ))
        }
        None => {
            c.post(&path, &body)?;
            Ok(Outcome::new(
                Change::Created,
                format!("cert role `{role}`: created"),
            ))
        }
    }
}

/// `DELETE path`, where 404 (nothing there, or the method not mounted)
/// is success; whether something was there.
fn delete_if_there(c: &Client, path: &str) -> Result<bool> {
    if c.get_opt(path)?.is_none() {
        return Ok(false);
    }
    c.delete(path)?;
    Ok(true)
}

/// The tenant's `cert` role deleted, if it has one (a tenant moved to
/// AppRole, or removed).
pub fn delete_cert_role(c: &Client, role: &str) -> Result<Option<Outcome>> {
    Ok(delete_if_there(c, &policy::cert_role_path(role))?
        .then(|| Outcome::new(Change::Removed, format!("deleted cert role `{role}`"))))
}

/// The tenant's AppRole role deleted with its secret_ids, if it has one (a
/// tenant moved to cert auth): no login by secret_id is left.
pub fn delete_approle(c: &Client, role: &str) -> Result<Option<Outcome>> {
    let accessors = list_secret_id_accessors(c, role)?;
    for a in &accessors {
        destroy_accessor(c, role, a)?;
    }
    Ok(delete_if_there(c, &policy::role_path(role))?.then(|| {
        Outcome::new(
            Change::Removed,
            format!(
                "deleted AppRole role `{role}` and its {} secret_id(s)",
                accessors.len()
            ),
        )
    }))
}

/// Mounts KV v2 at `mount` unless it is there; refuses a different engine.
pub fn ensure_kv2(c: &Client, mount: &str) -> Result<Outcome> {
    let mounts = c.get("sys/mounts")?;
    let mounts = mounts.get("data").unwrap_or(&mounts);
    let key = format!("{mount}/");
    if let Some(m) = mounts.get(&key) {
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        let version = m
            .get("options")
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
            .unwrap_or("1");
        if ty == "kv" && version == "2" {
            return Ok(Outcome::new(
                Change::Kept,
                format!("KV v2 at `{key}`: present"),
            ));
        }
        return Err(Error::failed(format!(
            "`{key}` is mounted as `{ty}` version {version}, not KV v2"
        ))
        .hint("choose another mount with `vaultnet init --kv-mount NAME`"));
    }
    c.post(
        &format!("sys/mounts/{mount}"),
        &json!({"type": "kv", "options": {"version": "2"}, "description": "vaultnet tenant secrets"}),
    )?;
    Ok(Outcome::new(
        Change::Created,
        format!("KV v2 at `{key}`: enabled"),
    ))
}

/// What a run saw of a policy at its start, so it need not read it again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Seen {
    /// Not seen: read it.
    #[default]
    Ask,
    /// Vault had no policy of this name.
    Absent,
    /// Vault had this text.
    Text(String),
}

/// The ACL policies a run asks about, with their texts, from one request:
/// OpenBao's detailed listing (`LIST sys/policies/detailed/acl`, OpenBao
/// 2.3.1 and later), so a run or a check over many tenants does not read
/// each policy on its own. The answer holds every policy in Vault; only
/// the wanted ones are kept.
#[derive(Debug, Default)]
pub struct PolicyTexts {
    /// The policies asked about; any other is [`Seen::Ask`].
    wanted: BTreeSet<String>,
    /// Those of them listed, and of those the texts the listing carried.
    names: BTreeSet<String>,
    texts: BTreeMap<String, String>,
}

impl PolicyTexts {
    /// `None` where the server has no such listing (HashiCorp Vault, older
    /// OpenBao: 404 or 405) or the token may not use it (403): each policy
    /// is then read on its own, as before.
    pub fn list(c: &Client, wanted: BTreeSet<String>) -> Result<Option<PolicyTexts>> {
        let path = "sys/policies/detailed/acl?list=true";
        let r = c.raw_bytes(path)?;
        if (403..=405).contains(&r.status) {
            return Ok(None);
        }
        if !(200..300).contains(&r.status) {
            let body = serde_json::from_slice(&r.bytes).unwrap_or(Value::Null);
            let r = crate::vault::Response { body, ..r };
            return c.check(reqwest::Method::GET, path, r).map(|_| None);
        }
        PolicyTexts::parse(&r.bytes, wanted).map(Some).map_err(|_| {
            Error::failed(format!(
                "malformed answer to LIST {} (HTTP {}, not a policy listing)",
                path.trim_end_matches("?list=true"),
                r.status
            ))
            .hint("check that `--vault-listen` points at Vault or OpenBao, not another server")
        })
    }

    /// The listing's answer read straight into the wanted names and texts:
    /// every other policy's text is skipped unread, never kept.
    fn parse(bytes: &[u8], wanted: BTreeSet<String>) -> serde_json::Result<PolicyTexts> {
        use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
        use std::fmt;
        #[derive(serde::Deserialize)]
        struct Info {
            policy: Option<String>,
        }
        /// `{"data": LISTING, …}`, `{"keys": […], "key_info": {…}, …}`
        /// and `key_info` itself, each read with the wanted names.
        #[derive(Clone, Copy)]
        enum Level<'w> {
            Answer(&'w BTreeSet<String>),
            Listing(&'w BTreeSet<String>),
            KeyInfo(&'w BTreeSet<String>),
        }
        #[derive(Default)]
        struct Found {
            names: BTreeSet<String>,
            texts: BTreeMap<String, String>,
            data: bool,
        }
        impl<'de> DeserializeSeed<'de> for Level<'_> {
            type Value = Found;
            fn deserialize<D: serde::Deserializer<'de>>(
                self,
                d: D,
            ) -> std::result::Result<Found, D::Error> {
                d.deserialize_map(self)
            }
        }
        impl<'de> Visitor<'de> for Level<'_> {
            type Value = Found;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a policy listing")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<Found, A::Error> {
                let mut found = Found::default();
                while let Some(key) = m.next_key::<String>()? {
                    match (self, key.as_str()) {
                        (Level::Answer(w), "data") => {
                            found = m.next_value_seed(Level::Listing(w))?;
                            found.data = true;
                        }
                        (Level::Listing(w), "keys") => {
                            let keys: Vec<String> = m.next_value()?;
                            found.names = keys.into_iter().filter(|k| w.contains(k)).collect();
                        }
                        (Level::Listing(w), "key_info") => {
                            found.texts = m.next_value_seed(Level::KeyInfo(w))?.texts;
                        }
                        (Level::KeyInfo(w), _) if w.contains(&key) => {
                            if let Some(text) = m.next_value::<Info>()?.policy {
                                found.texts.insert(key, text);
                            }
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(found)
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let found = Level::Answer(&wanted).deserialize(&mut de)?;
        de.end()?;
        if !found.data {
            return Err(serde::de::Error::missing_field("data"));
        }
        Ok(PolicyTexts {
            wanted,
            names: found.names,
            texts: found.texts,
        })
    }

    /// [`PolicyTexts::list`] for a run or a check over `tenants`: not asked
    /// for fewer than two, where one listing saves no request.
    pub fn for_tenants<'t>(
        c: &Client,
        site: &Site,
        tenants: impl IntoIterator<Item = &'t str>,
    ) -> Result<Option<PolicyTexts>> {
        let wanted: BTreeSet<String> = tenants
            .into_iter()
            .map(|t| policy::policy_name(site, t))
            .collect();
        match wanted.len() {
            0 | 1 => Ok(None),
            _ => PolicyTexts::list(c, wanted),
        }
    }

    /// What the listing showed of tenant `tenant`'s policy.
    pub fn seen_for(&self, site: &Site, tenant: &str) -> Seen {
        self.seen(&policy::policy_name(site, tenant))
    }

    /// What the listing showed of policy `name`: one not asked about, or
    /// listed without its text (OpenBao leaves out one it could not read),
    /// is asked again.
    pub fn seen(&self, name: &str) -> Seen {
        match self.texts.get(name) {
            Some(t) => Seen::Text(t.clone()),
            None if self.names.contains(name) || !self.wanted.contains(name) => Seen::Ask,
            None => Seen::Absent,
        }
    }
}

/// Policy `name`'s text as Vault has it (`None`: absent): what the run saw
/// of it, else read.
pub fn live_policy(c: &Client, name: &str, seen: &Seen) -> Result<Option<String>> {
    Ok(match seen {
        Seen::Absent => None,
        Seen::Text(t) => Some(t.clone()),
        Seen::Ask => c.get_opt(&format!("sys/policies/acl/{name}"))?.map(|v| {
            v.pointer("/data/policy")
                .or_else(|| v.get("policy"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        }),
    })
}

/// Writes the tenant's policy unless Vault already holds exactly that text;
/// a drifted policy is repaired and its diff reported.
/// `seen`: what the run saw of it at its start (a new tenant's: absent,
/// [`Seen::Absent`]); only [`Seen::Ask`] reads it first.
pub fn ensure_policy(c: &Client, site: &Site, tenant: &str, seen: &Seen) -> Result<Outcome> {
    let name = policy::policy_name(site, tenant);
    let want = policy::policy_text(site, tenant);
    let path = format!("sys/policies/acl/{name}");
    let live = live_policy(c, &name, seen)?;
    match live {
        Some(l) if l == want => Ok(Outcome::new(
            Change::Kept,
            format!("policy `{name}`: as expected"),
        )),
        Some(l) => {
            c.call(
                reqwest::Method::PUT,
                &path,
                Some(&json!({ "policy": want })),
            )?;
            let diff = policy::text_diff(&l, &want).join("\n    ");
            Ok(Outcome::new(
                Change::Repaired,
                format!("policy `{name}` had drifted and was repaired:\n    {diff}"),
            ))
        }
        None => {
            c.call(
                reqwest::Method::PUT,
                &path,
                Some(&json!({ "policy": want })),
            )?;
            Ok(Outcome::new(
                Change::Created,
                format!("policy `{name}`: created"),
            ))
        }
    }
}

/// Creates the tenant's AppRole role or repairs the fields that drifted.
/// `fresh`: as for [`ensure_policy`], no role of this name was there.
pub fn ensure_role(
    c: &Client,
    site: &Site,
    tenant: &str,
    role: &str,
    limits: &Limits,
    fresh: bool,
) -> Result<Outcome> {
    let path = policy::role_path(role);
    let live = if fresh { None } else { c.get_opt(&path)? };
    let body = policy::role_body(site, tenant, limits);
    match live {
        Some(l) => {
            let drift = policy::role_drift(&l, site, tenant, limits);
            if drift.is_empty() {
                return Ok(Outcome::new(
                    Change::Kept,
                    format!("AppRole role `{role}`: as expected"),
                ));
            }
            c.post(&path, &body)?;
            Ok(Outcome::new(
                Change::Repaired,
                format!(
                    "AppRole role `{role}` had drifted and was repaired: {}",
                    drift.join(", ")
                ),
            ))
        }
        None => {
            c.post(&path, &body)?;
            Ok(Outcome::new(
                Change::Created,
                format!("AppRole role `{role}`: created"),
            ))
        }
    }
}

pub fn role_id(c: &Client, role: &str) -> Result<String> {
    let v = c.get(&format!("{}/role-id", policy::role_path(role)))?;
    v.pointer("/data/role_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Error::failed(format!("no role_id in Vault's answer for `{role}`")))
}

/// A secret_id as Vault describes it (no secret in here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretIdInfo {
    pub accessor: String,
    /// `None` for a secret_id that never expires.
    pub expires: Option<time::OffsetDateTime>,
}

fn secret_id_info(v: &Value) -> Option<SecretIdInfo> {
    let d = v.get("data")?;
    let accessor = d.get("secret_id_accessor")?.as_str()?.to_string();
    let expires = d
        .get("expiration_time")
        .and_then(Value::as_str)
        .filter(|s| !s.starts_with("0001-01-01"))
        .and_then(crate::state::rfc3339::parse);
    Some(SecretIdInfo { accessor, expires })
}

/// Looks up a secret_id by its value; `None` when Vault does not know it.
pub fn lookup_secret_id(
    c: &Client,
    role: &str,
    secret_id: &Secret,
) -> Result<Option<SecretIdInfo>> {
    let path = format!("{}/secret-id/lookup", policy::role_path(role));
    let r = c.raw(
        reqwest::Method::POST,
        &path,
        Some(&json!({ "secret_id": secret_id.expose() })),
        None,
    )?;
    match r.status {
        200 => Ok(secret_id_info(&r.body)),
        204 | 404 => Ok(None),
        // Vault answers 400/500 for unknown ids on some versions.
        400 | 500 if r.body.to_string().contains("failed to find") => Ok(None),
        _ => c.check(reqwest::Method::POST, &path, r).map(|_| None),
    }
}

/// `POST auth/approle/role/ROLE/secret-id-accessor/OP` for one
/// accessor; the path and any HTTP answer.
fn on_accessor(
    c: &Client,
    role: &str,
    op: &str,
    accessor: &str,
) -> Result<(String, crate::vault::Response)> {
    let path = format!("{}/secret-id-accessor/{op}", policy::role_path(role));
    let body = json!({ "secret_id_accessor": accessor });
    let r = c.raw(reqwest::Method::POST, &path, Some(&body), None)?;
    Ok((path, r))
}

/// Looks up a secret_id by accessor; `None` when it is gone.
pub fn lookup_accessor(c: &Client, role: &str, accessor: &str) -> Result<Option<SecretIdInfo>> {
    let (path, r) = on_accessor(c, role, "lookup", accessor)?;
    match r.status {
        200 => Ok(secret_id_info(&r.body)),
        204 | 404 | 400 => Ok(None),
        // A missing role is a 500 `role "NAME" does not exist` (and some
        // Vault versions answer 500 `failed to find` for an unknown
        // accessor); any other 5xx is a failure to report, not an absent
        // secret_id (SECURITY.md I3).
        500 if ["does not exist", "failed to find"]
            .iter()
            .any(|m| r.body.to_string().contains(m)) =>
        {
            Ok(None)
        }
        _ => c.check(reqwest::Method::POST, &path, r).map(|_| None),
    }
}

/// A plain secret_id is a UUID; a wrapping token is not.
pub fn is_plain_secret_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A new secret_id, plain or response-wrapped (SECURITY.md V5).
pub struct NewSecretId {
    /// The secret_id, or the wrapping token when wrapped.
    pub value: Secret,
    pub accessor: String,
    /// Seconds until it expires, when the answer says (plain secret_ids).
    pub ttl: Option<u64>,
}

pub fn create_secret_id(
    c: &Client,
    tenant: &str,
    role: &str,
    wrap_ttl: Option<u64>,
) -> Result<NewSecretId> {
    let path = format!("{}/secret-id", policy::role_path(role));
    let body = json!({ "metadata": json!({ "vaultnet_tenant": tenant }).to_string() });
    let ttl = wrap_ttl.map(|t| format!("{t}s"));
    let r = c.raw(reqwest::Method::POST, &path, Some(&body), ttl.as_deref())?;
    let v = c.check(reqwest::Method::POST, &path, r)?;
    let malformed = || Error::failed(format!("malformed answer to POST {path}"));
    // Wrapped, the answer holds a wrapping token for the secret_id instead.
    let (section, value_key, accessor_key) = if wrap_ttl.is_some() {
        ("wrap_info", "token", "wrapped_accessor")
    } else {
        ("data", "secret_id", "secret_id_accessor")
    };
    let field = |key: &str| {
        v.get(section)
            .and_then(|s| s.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(malformed)
    };
    Ok(NewSecretId {
        value: Secret::new(field(value_key)?),
        accessor: field(accessor_key)?,
        ttl: v.pointer("/data/secret_id_ttl").and_then(Value::as_u64),
    })
}

/// Accessors of every secret_id of the role (none when the role is gone).
pub fn list_secret_id_accessors(c: &Client, role: &str) -> Result<Vec<String>> {
    let path = format!("{}/secret-id?list=true", policy::role_path(role));
    let r = c.raw(reqwest::Method::GET, &path, None, None)?;
    // AppRole answers a LIST of a missing role's secret_ids with 400
    // `role "NAME" does not exist`, not 404 (builtin/credential/approle/
    // path_role.go): `remove-user` run twice must find nothing to do.
    let gone =
        r.status == 404 || (r.status == 400 && r.body.to_string().contains("does not exist"));
    if gone {
        return Ok(Vec::new());
    }
    let v = c.check(reqwest::Method::GET, &path, r)?;
    Ok(crate::vault::strings_at(&v, "/data/keys"))
}

pub fn destroy_accessor(c: &Client, role: &str, accessor: &str) -> Result<()> {
    let (path, r) = on_accessor(c, role, "destroy", accessor)?;
    if r.status == 404 || (200..300).contains(&r.status) {
        return Ok(());
    }
    c.check(reqwest::Method::POST, &path, r).map(drop)
}

/// Revokes every live token `tenant` holds or made (SECURITY.md V4):
/// deleting a role or policy does not revoke them, and a policy of the
/// same name re-created later would give them access again. That is its
/// AppRole logins (by role or by policy) and the response-wrapping tokens
/// of what it may read — its data and metadata prefixes — and of its role
/// (wrapped secret_ids). A wrapping token is an orphan: revoking the token
/// that made it leaves it, and whatever it wraps, alive until its TTL.
pub fn revoke_tenant_tokens(c: &Client, site: &Site, tenant: &str, role: &str) -> Result<usize> {
    let policy = policy::policy_name(site, tenant);
    revoke_tokens_where(c, |_, d| {
        let path = d.get("path").and_then(Value::as_str).unwrap_or("");
        let by_role = d.pointer("/meta/role_name").and_then(Value::as_str) == Some(role)
            && path.starts_with("auth/approle/login");
        let by_policy = has_policy(d, &policy);
        let wrapped = is_wrapping(d) && policy::wraps_for_tenant(site, tenant, role, path);
        by_role || by_policy || wrapped
    })
}

/// Whether a token's `policies` (from lookup-accessor) include `name`.
fn has_policy(d: &Value, name: &str) -> bool {
    d.get("policies")
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|x| x.as_str() == Some(name)))
}

/// A response-wrapping token: Vault gives it the fixed `response-wrapping`
/// policy and nothing else.
fn is_wrapping(d: &Value) -> bool {
    d.get("policies")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        == Some(&[Value::from("response-wrapping")][..])
}

/// Revokes the response-wrapping tokens made when `tenant`'s secret_ids
/// were created, except the one whose accessor is `keep`: a run that lost
/// the answer to a wrapped creation leaves its wrapping token alive until
/// the wrap TTL (SECURITY.md V3).
pub fn revoke_wrapping_tokens(c: &Client, role: &str, keep: Option<&str>) -> Result<usize> {
    let wrapping_path = format!("{}/secret-id", policy::role_path(role));
    revoke_tokens_where(c, |a, d| {
        Some(a) != keep && d.get("path").and_then(Value::as_str) == Some(wrapping_path.as_str())
    })
}

/// The accessor of a token Vault still knows (a wrapping token not yet
/// unwrapped); `None` when it is spent or expired.
pub fn token_accessor(c: &Client, token: &Secret) -> Result<Option<String>> {
    let path = "auth/token/lookup";
    let r = c.raw(
        reqwest::Method::POST,
        path,
        Some(&json!({ "token": token.expose() })),
        None,
    )?;
    match r.status {
        200 => Ok(r
            .body
            .pointer("/data/accessor")
            .and_then(Value::as_str)
            .map(str::to_string)),
        400 | 403 if r.body.to_string().contains("bad token") => Ok(None),
        _ => c.check(reqwest::Method::POST, path, r).map(|_| None),
    }
}

/// Looks up every token by accessor and revokes those `pick(accessor,
/// data)` selects; returns how many.
fn revoke_tokens_where(c: &Client, pick: impl Fn(&str, &Value) -> bool) -> Result<usize> {
    let Some(v) = c.get_opt("auth/token/accessors?list=true")? else {
        return Ok(0);
    };
    let mut revoked = 0;
    for a in crate::vault::strings_at(&v, "/data/keys") {
        let r = c.raw(
            reqwest::Method::POST,
            "auth/token/lookup-accessor",
            Some(&json!({ "accessor": a })),
            None,
        )?;
        match r.status {
            200 => {}
            // Expired or revoked since the LIST: `invalid accessor`.
            400 | 404 => continue,
            // Skipping a token Vault failed to describe could leave a
            // tenant's token alive (SECURITY.md V4): report it instead.
            _ => {
                c.check(reqwest::Method::POST, "auth/token/lookup-accessor", r)?;
                continue;
            }
        }
        if pick(&a, &r.body["data"]) {
            c.post("auth/token/revoke-accessor", &json!({ "accessor": a }))?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

/// Deletes the roles (AppRole, cert) named `role` and the tenant's policy.
pub fn delete_tenant_objects(c: &Client, site: &Site, tenant: &str, role: &str) -> Result<()> {
    c.delete(&policy::role_path(role))?;
    delete_if_there(c, &policy::cert_role_path(role))?;
    c.delete(&format!(
        "sys/policies/acl/{}",
        policy::policy_name(site, tenant)
    ))?;
    Ok(())
}

/// The Vault objects of a tenant's names that exist already: for a tenant
/// vaultnet does not know, each is someone else's (SECURITY.md V7).
/// The names Vault has for the objects a tenant's names could collide
/// with, listed once for a whole run: ACL policies, AppRole roles and cert
/// roles (empty where the method is not mounted or has none).
#[derive(Debug, Default)]
pub struct VaultNames {
    policies: std::collections::BTreeSet<String>,
    approle_roles: std::collections::BTreeSet<String>,
    cert_roles: std::collections::BTreeSet<String>,
}

impl VaultNames {
    pub fn list(c: &Client) -> Result<VaultNames> {
        let keys = |path: &str| -> Result<std::collections::BTreeSet<String>> {
            let path = format!("{path}?list=true");
            let r = c.raw(reqwest::Method::GET, &path, None, None)?;
            // 404: none there, or the method is not mounted.
            if r.status == 404 {
                return Ok(Default::default());
            }
            let v = c.check(reqwest::Method::GET, &path, r)?;
            Ok(crate::vault::strings_at(&v, "/data/keys")
                .into_iter()
                .collect())
        };
        Ok(VaultNames {
            policies: keys("sys/policies/acl")?,
            approle_roles: keys("auth/approle/role")?,
            cert_roles: keys("auth/cert/certs")?,
        })
    }

    /// What Vault already has of a tenant's names (see [`existing_objects`]).
    pub fn objects_of(&self, site: &Site, tenant: &str, role: &str) -> Vec<String> {
        let policy = policy::policy_name(site, tenant);
        let mut found = Vec::new();
        if self.policies.contains(&policy) {
            found.push(format!("policy `{policy}`"));
        }
        if self.approle_roles.contains(role) {
            found.push(format!("AppRole role `{role}`"));
        }
        if self.cert_roles.contains(role) {
            found.push(format!("cert role `{role}`"));
        }
        found
    }
}

pub fn existing_objects(c: &Client, site: &Site, tenant: &str, role: &str) -> Result<Vec<String>> {
    let policy = policy::policy_name(site, tenant);
    let mut found = Vec::new();
    if c.get_opt(&format!("sys/policies/acl/{policy}"))?.is_some() {
        found.push(format!("policy `{policy}`"));
    }
    if c.get_opt(&policy::role_path(role))?.is_some() {
        found.push(format!("AppRole role `{role}`"));
    }
    // 404 also when the cert method is not mounted.
    if c.get_opt(&policy::cert_role_path(role))?.is_some() {
        found.push(format!("cert role `{role}`"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::{PolicyTexts, Seen};
    use std::collections::BTreeSet;

    #[test]
    fn a_listed_policy_is_its_text_an_unlisted_one_absent_and_one_without_text_asked_again() {
        // As OpenBao answers, with a policy no tenant has (its text is
        // not kept) and vaultnet-b listed without its text.
        let answer = br#"{"request_id":"x","data":{"key_info":{
            "other":{"name":"other","policy":"path \"secret/*\" {}"},
            "vaultnet-a":{"name":"vaultnet-a","policy":"path {}","extra":[1,{"x":null}]},
            "vaultnet-b":{"name":"vaultnet-b"}},
            "keys":["other","vaultnet-a","vaultnet-b"]},"warnings":null}"#;
        let wanted = ["vaultnet-a", "vaultnet-b", "vaultnet-c"]
            .map(String::from)
            .into();
        let texts = PolicyTexts::parse(answer, wanted).unwrap();
        assert_eq!(texts.seen("vaultnet-a"), Seen::Text("path {}".into()));
        assert_eq!(texts.seen("vaultnet-b"), Seen::Ask);
        assert_eq!(texts.seen("vaultnet-c"), Seen::Absent);
        // Not asked about: neither its text nor its absence is known.
        assert_eq!(texts.seen("other"), Seen::Ask);
        assert_eq!(texts.seen("vaultnet-d"), Seen::Ask);
        assert_eq!(
            (texts.names.len(), texts.texts.len()),
            (2, 1),
            "only wanted policies kept"
        );
        // Not a listing: no `data`, or not JSON.
        for bad in [&br#"{"errors":[]}"#[..], b"not json", br#"{"data":{}} x"#] {
            assert!(PolicyTexts::parse(bad, BTreeSet::new()).is_err(), "{bad:?}");
        }
    }
}
