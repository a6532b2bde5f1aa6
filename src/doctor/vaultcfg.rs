//! Vault's side of each tenant, as vaultnet wrote it: the AppRole and KV v2
//! mounts, each role's limits and each policy's text (drift shown as a
//! diff), each recorded secret_id still alive; and with `--login`, a real
//! login as each tenant through the forwarder. Also the bundles' name
//! mapping and the nft gate, which follow the same tenant list.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::Check;
use super::network::{TlsFailure, classify};
use crate::layout::{self, Layout};
use crate::policy;
use crate::render::bundle::AGENT_SERVICE;
use crate::render::nft::Remote;
use crate::secret::Secret;
use crate::state::cidr::Cidr;
use crate::state::{Site, Tenant};
use crate::sys::fsx;
use crate::topology::{Endpoint, Topology};
use crate::vault::ops;
use crate::vault::{Client, Target};

pub fn mounts(c: &Client, site: &Site) -> Check {
    let mut children = Vec::new();
    let fix = "run `vaultnet init` with an operator token: it enables what is missing";
    match c.get("sys/auth") {
        Ok(v) => {
            let d = v.get("data").unwrap_or(&v);
            if d.pointer("/approle~1/type").and_then(Value::as_str) == Some("approle") {
                children.push(Check::ok("vaultcfg.approle", "AppRole auth at `approle/`"));
            } else {
                children.push(
                    Check::fail("vaultcfg.approle", "AppRole auth at `approle/`", fix)
                        .detail("not enabled"),
                );
            }
        }
        Err(e) => children.push(
            Check::fail(
                "vaultcfg.approle",
                "AppRole auth at `approle/`",
                e.hint_text().unwrap_or(fix).to_string(),
            )
            .detail(e.message().to_string()),
        ),
    }
    let key = format!("{}/", site.kv_mount);
    match c.get("sys/mounts") {
        Ok(v) => {
            let d = v.get("data").unwrap_or(&v);
            let m = d.get(&key);
            let ty = m.and_then(|m| m.get("type")).and_then(Value::as_str);
            let ver = m
                .and_then(|m| m.pointer("/options/version"))
                .and_then(Value::as_str);
            if ty == Some("kv") && ver == Some("2") {
                children.push(Check::ok("vaultcfg.kv", format!("KV v2 at `{key}`")));
            } else {
                children.push(
                    Check::fail("vaultcfg.kv", format!("KV v2 at `{key}`"), fix)
                        .detail(format!("found {:?} version {:?}", ty, ver)),
                );
            }
        }
        Err(e) => children.push(
            Check::fail(
                "vaultcfg.kv",
                format!("KV v2 at `{key}`"),
                e.hint_text().unwrap_or(fix).to_string(),
            )
            .detail(e.message().to_string()),
        ),
    }
    Check::group("vaultcfg.mounts", "mounts", children)
}

/// What a tenant's checks of its role and secret_id need of Vault: one
/// read each. Its policy is checked apart ([`tenant_policy`]), from the
/// listing of every policy's text where Vault has one.
pub struct RoleAndSecretId {
    role: Check,
    secret_id: Option<Check>,
}

/// The tenant's role and secret_id as Vault has them.
pub fn tenant_role_and_secret_id(
    c: &Client,
    site: &Site,
    name: &str,
    rec: &Tenant,
    ca_pem: &str,
) -> RoleAndSecretId {
    let fix = fix_of(name);
    RoleAndSecretId {
        role: role_check(c, site, name, rec, ca_pem, &fix),
        secret_id: secret_id_check(c, name, rec, &fix),
    }
}

/// The tenant's policy as Vault has it. `policies`: every policy's text,
/// listed once for all tenants where Vault can ([`ops::PolicyTexts`]);
/// else the tenant's policy is read.
pub fn tenant_policy(
    c: &Client,
    site: &Site,
    name: &str,
    policies: Option<&ops::PolicyTexts>,
) -> Check {
    policy_check(c, site, name, policies, &fix_of(name))
}

/// The tenant's group: its role, policy and secret_id, in that order.
pub fn tenant_objects(name: &str, found: RoleAndSecretId, policy: Check) -> Check {
    let mut children = vec![found.role, policy];
    children.extend(found.secret_id);
    Check::group(
        format!("vaultcfg.{name}"),
        format!("tenant `{name}`"),
        children,
    )
}

fn fix_of(name: &str) -> String {
    format!("run `vaultnet add-user {name}` to repair it")
}

/// The role exists with the limits vaultnet set (drift named): the
/// AppRole role, or the cert role for a tenant on cert auth.
fn role_check(c: &Client, site: &Site, name: &str, rec: &Tenant, ca_pem: &str, fix: &str) -> Check {
    let id = format!("vaultcfg.{name}.role");
    let (title, path) = match rec.auth {
        crate::state::Auth::Approle => ("AppRole role", policy::role_path(&rec.role)),
        crate::state::Auth::Cert => ("cert role", policy::cert_role_path(&rec.role)),
    };
    match c.get_opt(&path) {
        Ok(None) => Check::fail(id, title, fix).detail("deleted from Vault"),
        Ok(Some(live)) => {
            let drift = match rec.auth {
                crate::state::Auth::Approle => policy::role_drift(&live, site, name, &rec.limits),
                crate::state::Auth::Cert => {
                    policy::cert_role_drift(&live, site, name, &rec.limits, ca_pem)
                }
            };
            if drift.is_empty() {
                Check::ok(id, title).detail("limits as vaultnet set them")
            } else {
                Check::fail(id, title, fix).detail(format!("drifted: {}", drift.join("; ")))
            }
        }
        Err(e) => Check::fail(id, title, e.hint_text().unwrap_or(fix).to_string())
            .detail(e.message().to_string()),
    }
}

/// The policy's text is what vaultnet wrote (drift shown as a diff).
fn policy_check(
    c: &Client,
    site: &Site,
    name: &str,
    policies: Option<&ops::PolicyTexts>,
    fix: &str,
) -> Check {
    let pname = policy::policy_name(site, name);
    let want = policy::policy_text(site, name);
    let (id, title) = (
        format!("vaultcfg.{name}.policy"),
        format!("policy `{pname}`"),
    );
    let seen = policies.map_or(ops::Seen::Ask, |p| p.seen(&pname));
    match ops::live_policy(c, &pname, &seen) {
        Ok(None) => Check::fail(id, title, fix).detail("deleted from Vault"),
        Ok(Some(live)) => {
            if live == want {
                Check::ok(id, title).detail("as vaultnet wrote it")
            } else {
                let diff = policy::text_diff(&live, &want).join(" | ");
                Check::fail(id, title, fix).detail(format!("edited in Vault: {diff}"))
            }
        }
        Err(e) => Check::fail(id, title, e.hint_text().unwrap_or(fix).to_string())
            .detail(e.message().to_string()),
    }
}

/// The secret_id the state records is still known to Vault.
fn secret_id_check(c: &Client, name: &str, rec: &Tenant, fix: &str) -> Option<Check> {
    let acc = rec.secret_id_accessor.as_ref()?;
    let (id, title) = (
        format!("vaultcfg.{name}.secret_id"),
        "secret_id known to Vault",
    );
    Some(match ops::lookup_accessor(c, &rec.role, acc) {
        Ok(Some(_)) => Check::ok(id, title),
        Ok(None) => Check::fail(
            id,
            title,
            format!("run `vaultnet add-user {name}` to issue a new one"),
        )
        .detail("the bundle's secret_id no longer exists in Vault (destroyed or expired)"),
        Err(e) => Check::fail(id, title, e.hint_text().unwrap_or(fix).to_string())
            .detail(e.message().to_string()),
    })
}

/// The bundle's name mapping and Vault address match the current settings.
pub fn bundle_name(layout: &Layout, endpoint: &Endpoint, name: &str) -> Check {
    let dir = layout.tenant(name);
    let fix = format!(
        "run `vaultnet add-user {name}` (it rewrites the bundle), then restart the tenant's containers"
    );
    let want = endpoint.extra_host.clone();
    let id = format!("name.{name}");
    let title = match &want {
        Some(w) => format!("tenant `{name}`: extra_hosts `{w}`"),
        None => format!(
            "tenant `{name}`: no extra_hosts, `{}` as Podman resolves it",
            endpoint.name
        ),
    };
    let compose = match fsx::read_text(&dir.join(layout::COMPOSE), fsx::MAX_FILE_BYTES) {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Check::fail(id, title, fix).detail("cannot read compose.yaml: it is missing");
        }
        Err(e) => {
            return Check::fail(id, title, fix)
                .detail(format!("cannot read compose.yaml: {}", e.message()));
        }
    };
    let doc: Value = match serde_saphyr::from_str(&compose) {
        Ok(v) => v,
        Err(_) => return Check::fail(id, title, fix).detail("compose.yaml is not valid YAML"),
    };
    let hosts = crate::vault::strings_at(&doc, &format!("/services/{AGENT_SERVICE}/extra_hosts"));
    // Without a mapping any entry is stale, and one for the name would
    // override Podman's.
    let mapped = match &want {
        Some(w) => hosts.contains(w),
        None => hosts.is_empty(),
    };
    if !mapped {
        return Check::fail(id, title, fix).detail(format!("the bundle maps {hosts:?}"));
    }
    let agent: Option<Value> = fsx::read_text(&dir.join(layout::AGENT), fsx::MAX_FILE_BYTES)
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok());
    let addr = agent
        .as_ref()
        .and_then(|a| a.pointer("/vault/address"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if addr != endpoint.url {
        return Check::fail(id, title, fix).detail(format!(
            "agent.json talks to `{addr}`, not `{}`",
            endpoint.url
        ));
    }
    Check::ok(id, title)
}

/// The most other tenants whose paths one login checks.
pub const MAX_NEIGHBOURS: usize = 16;

/// The other tenants whose paths `name`'s token must be denied, in name
/// order: every one on a site of up to [`MAX_NEIGHBOURS`] others. On a
/// larger site, checking every pair was quadratic (300 tenants: 89,700
/// paths); instead, the names that extend `name` (`m1` → `m10`, `m1-b`),
/// which sort right after it and are the only ones a policy that lost its
/// trailing slash (`tenants/m1*`) would reach, then the names on either
/// side of it, then an even spread of the rest up to the bound. That still
/// proves isolation: every tenant's policy comes from one template that
/// differs only in the name, and the Vault config checks (with an operator
/// token) compare each policy's text and each role's `token_policies`
/// with what vaultnet writes, so a grant beyond the tenant's own prefix
/// shows there for every tenant; the login shows Vault enforcing it for
/// the paths a slip in the template would reach first.
pub fn neighbours(all: &[String], name: &str) -> Vec<String> {
    let mut others: Vec<&String> = all.iter().filter(|o| *o != name).collect();
    others.sort();
    if others.len() <= MAX_NEIGHBOURS {
        return others.into_iter().cloned().collect();
    }
    let len = others.len();
    let after = others.partition_point(|o| o.as_str() < name);
    let extending = (after..len)
        .take_while(|&i| others[i].starts_with(name))
        .take(MAX_NEIGHBOURS / 4);
    let beside = after.saturating_sub(2)..(after + 2).min(len);
    let spread = (0..MAX_NEIGHBOURS).map(|k| k * len / MAX_NEIGHBOURS);
    let mut picked = std::collections::BTreeSet::new();
    for i in extending.chain(beside).chain(spread) {
        if picked.len() == MAX_NEIGHBOURS {
            break;
        }
        picked.insert(i);
    }
    // The spread may have met names already picked: fill up in order.
    let mut i = 0;
    while picked.len() < MAX_NEIGHBOURS {
        picked.insert(i);
        i += 1;
    }
    picked.into_iter().map(|i| others[i].clone()).collect()
}

/// How doctor reaches Vault as a tenant: the tenant's endpoint, the CA
/// that vouches for Vault, and how long a probe may take.
pub struct Reach<'a> {
    pub endpoint: &'a Endpoint,
    pub ca_pem: &'a str,
    pub timeout: Duration,
}

/// Everything one login probe needs. A probe for a tenant with a Unix user
/// runs in a child process with that user's uid (when doctor is root), so
/// its connection meets the gate the tenant's own connections meet; the
/// child reads this from its stdin, never from argv or the environment.
#[derive(Serialize, Deserialize)]
pub struct LoginProbe {
    pub tenant: String,
    /// Its role's name (cert auth logs in naming it).
    pub role: String,
    pub url: String,
    pub name: String,
    pub connect: SocketAddr,
    pub ca_pem: String,
    /// The bundle's certificate and key, one PEM.
    pub identity: Zeroizing<String>,
    pub auth: crate::state::Auth,
    /// Empty for cert auth.
    pub role_id: Zeroizing<String>,
    pub secret_id: Zeroizing<String>,
    /// The tenant's own example path, and each other tenant's.
    pub own_path: String,
    pub others: Vec<(String, String)>,
    pub cli: String,
    pub timeout_ms: u64,
}

fn login_names(name: &str) -> (String, String) {
    (
        format!("login.{name}"),
        format!("tenant `{name}`: login through the forwarder"),
    )
}

/// A tenant's login not tried, because a check it depends on failed:
/// `because` names that check (it is reported, with its hint, once).
pub fn login_skipped(name: &str, because: &str) -> Check {
    let (id, title) = login_names(name);
    Check::skip(id, title).detail(format!("not tried: {because}"))
}

/// Logs in as the tenant through its entry with the bundle's credentials,
/// checks what its token may read, and revokes the token — as the tenant's
/// uid when doctor can take it.
pub fn login(
    layout: &Layout,
    site: &Site,
    reach: &Reach<'_>,
    name: &str,
    rec: &Tenant,
    others: &[String],
) -> Check {
    let (id, title) = login_names(name);
    let fix = fix_for(name);
    if rec.wrapped_secret_id {
        return Check::skip(id, title)
            .detail("secret_id is response-wrapped: logging in would consume it");
    }
    let dir = layout.tenant(name);
    let read = |f: &str| match fsx::read_secret(&dir.join(f), fsx::MAX_PEM_BYTES) {
        Ok(Some(b)) => Ok(Zeroizing::new(
            String::from_utf8_lossy(&b).trim().to_string(),
        )),
        _ => Err(()),
    };
    // Cert auth logs in with the certificate alone.
    let approle = |f: &str| match rec.auth {
        crate::state::Auth::Approle => read(f),
        crate::state::Auth::Cert => Ok(Zeroizing::new(String::new())),
    };
    let (cert, key, role_id, secret_id) = match (
        read(layout::CLIENT_CERT),
        read(layout::CLIENT_KEY),
        approle(layout::ROLE_ID),
        approle(layout::SECRET_ID),
    ) {
        (Ok(c), Ok(k), Ok(r), Ok(s)) => (c, k, r, s),
        _ => return Check::fail(id, title, fix).detail("the bundle is incomplete"),
    };
    let example = |t: &str| {
        format!(
            "{}{}",
            policy::data_prefix(site, t),
            crate::render::bundle::EXAMPLE_SECRET
        )
    };
    let probe = LoginProbe {
        tenant: name.to_string(),
        role: rec.role.clone(),
        url: reach.endpoint.url.clone(),
        name: reach.endpoint.name.clone(),
        connect: reach.endpoint.connect,
        ca_pem: reach.ca_pem.to_string(),
        identity: Zeroizing::new(match crate::pki::has_certificate(&key) {
            true => format!("{}\n", key.as_str()),
            false => format!("{}\n{}\n", cert.as_str(), key.as_str()),
        }),
        auth: rec.auth,
        role_id,
        secret_id,
        own_path: example(name),
        others: others.iter().map(|o| (o.clone(), example(o))).collect(),
        cli: site.flavor.binary().to_string(),
        timeout_ms: reach.timeout.as_millis().min(u128::from(u64::MAX)) as u64,
    };
    match rec.uid.filter(|_| rustix::process::geteuid().is_root()) {
        Some(uid) => as_tenant(&probe, uid, (id, title)),
        None => run_probe(&probe),
    }
}

fn fix_for(name: &str) -> String {
    format!("run `vaultnet add-user {name}` (it repairs the bundle and Vault's side)")
}

/// Runs the probe in a child process with the tenant's uid and gid.
fn as_tenant(probe: &LoginProbe, uid: u32, (id, title): (String, String)) -> Check {
    use std::io::Write;
    let failed = |why: String| {
        Check::fail(
            id.clone(),
            title.clone(),
            "run `vaultnet doctor` as root, with the vaultnet binary readable by tenants",
        )
        .detail(format!("cannot run the login as uid {uid}: {why}"))
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return failed(e.to_string()),
    };
    let user = match crate::sys::users::lookup(&probe.tenant) {
        Ok(Some(u)) if u.uid == uid => u,
        _ => {
            return failed(format!(
                "there is no Unix user `{}` with that uid",
                probe.tenant
            ));
        }
    };
    // The tenant's uid and groups, none of root's, a clean environment.
    let child = crate::sys::users::as_tenant(&probe.tenant, &user, &[], exe)
        .arg(PROBE_COMMAND)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return failed(e.to_string()),
    };
    let input = Zeroizing::new(serde_json::to_vec(probe).expect("probe serialises"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&input);
    }
    match child.wait_with_output() {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| failed(format!("unreadable answer: {e}"))),
        Ok(o) => failed(format!(
            "it ended with {}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => failed(e.to_string()),
    }
}

/// The hidden subcommand doctor runs as a tenant's uid.
pub const PROBE_COMMAND: &str = "__login-probe";

/// The login and what the token may read (in-process or in the child).
/// (Long: the login and its three kinds of failure each need their own
/// words; what the token may read is `access`.)
pub fn run_probe(p: &LoginProbe) -> Check {
    let id = format!("login.{}", p.tenant);
    let title = format!("tenant `{}`: login through the forwarder", p.tenant);
    let fix = fix_for(&p.tenant);
    let identity = Zeroizing::new(p.identity.as_bytes().to_vec());
    let client = match Client::new(
        Target {
            url: p.url.clone(),
            resolve: Some((&p.name, p.connect)),
            timeout: Duration::from_millis(p.timeout_ms),
        },
        &p.ca_pem,
        Some(&identity),
        &p.cli,
    ) {
        Ok(c) => c,
        Err(e) => return Check::fail(id, title, fix).detail(e.message().to_string()),
    };
    let (path, body) = match p.auth {
        crate::state::Auth::Approle => (
            "auth/approle/login",
            json!({
                "role_id": p.role_id.as_str(),
                "secret_id": p.secret_id.as_str(),
            }),
        ),
        crate::state::Auth::Cert => ("auth/cert/login", json!({ "name": p.role })),
    };
    let answer = match client.raw(Method::POST, path, Some(&body), None) {
        Ok(r) => {
            // 400 and 403 refuse the bundle's credentials; any other
            // status (503 sealed, 5xx) is Vault's, with its own fix.
            let refused = matches!(r.status, 400 | 403);
            match client.check(Method::POST, path, r) {
                Err(e) if !refused => {
                    return Check::fail(id, title, e.hint_text().unwrap_or(&fix).to_string())
                        .detail(e.message().to_string());
                }
                answer => answer,
            }
        }
        // No HTTP answer. Only a refused client certificate is the
        // bundle's fault; a forwarder that drops, refuses or leads nowhere
        // is the forwarder checks' finding, and `add-user` cannot fix it.
        Err(e) => {
            let (hint, what) = if matches!(classify(&e), TlsFailure::ClientCertRejected) {
                (fix, "the bundle's client certificate was refused")
            } else {
                (
                    format!(
                        "fix what the forwarder checks report; if they pass, look at the {} server log",
                        p.cli
                    ),
                    "no answer through the forwarder",
                )
            };
            return Check::fail(id, title, hint).detail(format!("{what}: {}", e.message()));
        }
    };
    let token = match answer {
        Ok(v) => match v.pointer("/auth/client_token").and_then(Value::as_str) {
            Some(t) => Secret::new(t.to_string()),
            None => return Check::fail(id, title, fix).detail("login answered without a token"),
        },
        Err(e) => {
            return Check::fail(id, title, fix).detail(format!("login refused: {}", e.message()));
        }
    };
    access(&client.with_token(token), p, (id, title, fix))
}

/// What a tenant's token may read: its own path, and none of the other
/// tenants'. The token is revoked whatever the answer.
fn access(client: &Client, p: &LoginProbe, (id, title, fix): (String, String, String)) -> Check {
    let own = &p.own_path;
    let mut paths = vec![own.clone()];
    paths.extend(p.others.iter().map(|(_, path)| path.clone()));
    let caps = client.post("sys/capabilities-self", &json!({ "paths": paths }));
    // Never leave the token behind, whatever the answer was.
    let _ = client.raw(Method::POST, "auth/token/revoke-self", None, None);
    let caps = match caps {
        Ok(v) => v,
        Err(e) => {
            return Check::fail(id, title, fix)
                .detail(format!("sys/capabilities-self: {}", e.message()));
        }
    };
    let of = |path: &str| -> Vec<String> {
        let top = crate::vault::strings_at(&caps, &crate::vault::pointer_to(path));
        if top.is_empty() {
            crate::vault::strings_at(&caps, &format!("/data{}", crate::vault::pointer_to(path)))
        } else {
            top
        }
    };
    let own_caps = of(own);
    if !own_caps.iter().any(|c| c == "read") {
        return Check::fail(id, title, fix)
            .detail(format!("cannot read its own `{own}` ({own_caps:?})"));
    }
    for (o, path) in &p.others {
        let c = of(path);
        if c.iter().any(|c| c != "deny") {
            let name = &p.tenant;
            return Check::fail(id, title, format!("run `vaultnet add-user {name}` to restore its policy; check what else grants `{path}`"))
                .detail(format!("may access tenant `{o}`'s `{path}`: {c:?}"));
        }
    }
    Check::ok(id, title).detail(format!(
        "reads its own path, denied on {} other tenant(s); token revoked",
        p.others.len()
    ))
}

/// The nft allowlist holds every tenant's uid — in the file, and in the
/// kernel when the table is loaded — and, where the gate admits clients
/// from outside this host, exactly the site's `--allow-cidr` networks.
pub fn nft(layout: &Layout, tenants: &[(String, Tenant)], topology: &Topology<'_>) -> Check {
    let path = layout.forwarder().join(crate::topology::gate::FILE);
    let shown = format!("`forwarder/{}`", crate::topology::gate::FILE);
    let fix = format!(
        "run `vaultnet add-user NAME` (it rewrites the file), then `nft -f {}`",
        path.display()
    );
    let Ok(Some(text)) = fsx::read_text(&path, fsx::MAX_FILE_BYTES) else {
        return Check::fail("nft.file", shown, fix).detail("missing");
    };
    let set = set_elements(&text);
    let mut children = Vec::new();
    let missing: Vec<String> = tenants
        .iter()
        .filter_map(|(n, t)| {
            t.uid
                .filter(|u| !set.contains(u))
                .map(|u| format!("{n} ({u})"))
        })
        .collect();
    if missing.is_empty() {
        children.push(
            Check::ok("nft.file", format!("{shown} lists every tenant uid"))
                .detail(format!("{} uid(s)", set.len())),
        );
    } else {
        children.push(
            Check::fail("nft.file", format!("{shown} lists every tenant uid"), &fix)
                .detail(format!("missing {}", missing.join(", "))),
        );
    }
    let live = nft_list(&["list", "table", "inet", crate::render::nft::TABLE]);
    children.extend(port_rules(&text, &live, tenants, topology, &path));
    let listed = match topology.remote() {
        Remote::Listed(list) => Some(list),
        _ => None,
    };
    if let Some(list) = listed {
        children.push(allowlist_in_file(&text, list, &shown, &path));
    }
    let load = format!("nft -f {}", path.display());
    match live {
        Some(Ok(live)) => {
            if set_elements(&live) == set {
                children.push(Check::ok("nft.loaded", "loaded in the kernel"));
            } else {
                children.push(
                    Check::fail("nft.loaded", "loaded in the kernel", &load)
                        .detail("the loaded table differs from the file"),
                );
            }
            if let Some(list) = listed {
                let title = "the kernel admits from outside only the `--allow-cidr` networks";
                let seen = cidr_elements(&live);
                let want = crate::state::cidr::normalise(list).unwrap_or_default();
                let c = if seen.as_ref() == Some(&want) {
                    Check::ok("nft.allowlist.loaded", title).detail(show_cidrs(&want))
                } else {
                    let found = match &seen {
                        Some(v) if v.is_empty() => "none".to_string(),
                        Some(v) => show_cidrs(v),
                        None => "no allowlist sets".to_string(),
                    };
                    Check::fail("nft.allowlist.loaded", title, &load).detail(format!(
                        "the loaded gate admits {found}, the site lists {}",
                        show_cidrs(&want)
                    ))
                };
                children.push(c);
            }
        }
        Some(Err(())) => {
            let entry = topology
                .entry_probes()
                .first()
                .map(|e| e.addr.to_string())
                .unwrap_or_default();
            children.push(match listed {
                // Not gated, a port meant for listed networks is open to all.
                Some(_) => Check::fail("nft.loaded", "loaded in the kernel", &load).detail(format!(
                    "table inet vaultnet is not loaded: {entry} is open to every network and every local user"
                )),
                None => Check::warn("nft.loaded", "loaded in the kernel", &load)
                    .detail(format!(
                        "table inet vaultnet is not loaded: nothing gates who connects to {entry} or to Vault's port"
                    )),
            })
        }
        None => children.push(
            Check::skip("nft.loaded", "loaded in the kernel").detail("`nft` is not installed"),
        ),
    }
    Check::group("nft", "forwarder gate (nftables)", children)
}

/// Where each tenant has a port of its own: the gate's rule that admits
/// only its uid there, in the file and in the kernel (when loaded).
fn port_rules(
    text: &str,
    live: &Option<std::result::Result<String, ()>>,
    tenants: &[(String, Tenant)],
    topology: &Topology<'_>,
    path: &std::path::Path,
) -> Vec<Check> {
    let has = |hay: &str, rule: &str| hay.lines().any(|l| l.trim() == rule);
    topology
        .port_rules()
        .into_iter()
        .filter(|(n, _, _)| tenants.iter().any(|(t, _)| t == n))
        .map(|(name, port, rule)| {
            let id = format!("nft.port.{name}");
            let title = format!("the gate admits only {name}'s uid (and root) on port {port}");
            if !has(text, &rule) {
                return Check::fail(
                    id,
                    title,
                    format!(
                        "run `vaultnet add-user {name}` (it rewrites the file), then `nft -f {}`",
                        path.display()
                    ),
                )
                .detail(format!(
                    "`forwarder/{}` lacks `{rule}`",
                    crate::topology::gate::FILE
                ));
            }
            match live {
                Some(Ok(l)) if !has(l, &rule) => {
                    Check::fail(id, title, format!("nft -f {}", path.display())).detail(format!(
                        "the loaded gate lacks `{rule}`: port {port} is open to every local user"
                    ))
                }
                Some(Ok(_)) => Check::ok(id, title).detail(rule),
                _ => Check::skip(id, title).detail("the gate is not loaded in the kernel"),
            }
        })
        .collect()
}

/// The file's allowlist sets hold the site's networks.
fn allowlist_in_file(text: &str, list: &[Cidr], shown: &str, path: &std::path::Path) -> Check {
    let title = format!("{shown} admits from outside only the `--allow-cidr` networks");
    let want = crate::state::cidr::normalise(list).unwrap_or_default();
    match cidr_elements(text) {
        Some(v) if v == want => Check::ok("nft.allowlist", title).detail(show_cidrs(&want)),
        other => Check::fail(
            "nft.allowlist",
            title,
            format!(
                "run `vaultnet init` (it rewrites the file), then `nft -f {}`",
                path.display()
            ),
        )
        .detail(format!(
            "the file admits {}, the site lists {}",
            other.map_or("no allowlist sets".into(), |v| show_cidrs(&v)),
            show_cidrs(&want)
        )),
    }
}

fn show_cidrs(v: &[Cidr]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `nft ARGS…`: its stdout, `Err` when nft ran and failed (no such
/// table), `None` when it cannot run. The operator token may be in our
/// environment; it never reaches a child (SECURITY.md S6).
fn nft_list(args: &[&str]) -> Option<std::result::Result<String, ()>> {
    let out = std::process::Command::new("nft")
        .env_remove("VAULT_TOKEN")
        .env_remove("BAO_TOKEN")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    Some(if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(())
    })
}

/// The networks of sets `clients4` and `clients6`, sorted, as the file
/// writes them or `nft list` prints them (a host without `/32`); `None`
/// when neither set is there.
fn cidr_elements(text: &str) -> Option<Vec<Cidr>> {
    let mut found = false;
    let mut v = Vec::new();
    for name in ["set clients4 {", "set clients6 {"] {
        let Some(start) = text.find(name) else {
            continue;
        };
        found = true;
        let rest = &text[start + name.len()..];
        let block = &rest[..rest.find('}').unwrap_or(rest.len())];
        let Some(e) = block.find("elements") else {
            continue;
        };
        let list = block[e..].split_once('{').map_or("", |(_, l)| l);
        v.extend(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .filter_map(|s| Cidr::parse(s).ok()),
        );
    }
    v.sort();
    found.then_some(v)
}

/// Vault itself open to other hosts (`vault_bind: nic`): always said, with
/// who may connect, since mutual TLS is then all that keeps the network out.
pub fn exposure(topology: &Topology<'_>) -> Option<Check> {
    let addr = topology.vault_exposed()?;
    let name = topology.site.flavor.display_name();
    let title = format!("{name} is exposed to the network at {addr}");
    Some(match topology.remote() {
        Remote::Listed(list) => Check::warn(
            "exposure",
            title,
            "keep `--allow-cidr` to your clients' networks; to keep Vault off the network, `vaultnet init --profile l1` puts a forwarder in front",
        )
        .detail(format!(
            "clients from {} reach {name}'s listener; mutual TLS is what stops them",
            show_cidrs(list)
        )),
        _ => Check::warn(
            "exposure",
            title,
            format!(
                "admit only your clients' networks: `vaultnet init --allow-cidr NETWORK` (repeat for each), then `nft -f {}`",
                "forwarder/vaultnet.nft"
            ),
        )
        .detail(format!(
            "every network that reaches {} reaches {name}'s listener; mutual TLS is the only lock",
            addr.ip()
        )),
    })
}

fn set_elements(text: &str) -> Vec<u32> {
    let Some(start) = text.find("set tenants") else {
        return Vec::new();
    };
    let rest = &text[start..];
    let end = rest.find('}').unwrap_or(rest.len());
    let block = &rest[..end];
    let Some(e) = block.find("elements") else {
        return Vec::new();
    };
    let mut v: Vec<u32> = block[e..]
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_checks_every_neighbour_on_a_small_site_and_a_bounded_set_on_a_large_one() {
        let small: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(neighbours(&small, "b"), ["a", "c"]);
        let exactly: Vec<String> = (0..=MAX_NEIGHBOURS).map(|i| format!("t{i}")).collect();
        assert_eq!(neighbours(&exactly, "t3").len(), MAX_NEIGHBOURS);

        let mut many: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
        many.sort();
        for name in &many {
            let picked = neighbours(&many, name);
            assert_eq!(picked.len(), MAX_NEIGHBOURS, "{name}: {picked:?}");
            assert!(!picked.contains(name), "{name} checks itself");
            let mut sorted = picked.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted, picked, "{name}: in order, once each");
            // The names a lost trailing slash would reach come first.
            let extending: Vec<&String> = many
                .iter()
                .filter(|o| *o != name && o.starts_with(name.as_str()))
                .take(MAX_NEIGHBOURS / 4)
                .collect();
            for e in extending {
                assert!(picked.contains(e), "{name} does not check {e}: {picked:?}");
            }
            // And the names on either side of it.
            let at = many.iter().position(|o| o == name).unwrap();
            for i in [at.checked_sub(1), Some(at + 1)].into_iter().flatten() {
                if let Some(o) = many.get(i) {
                    assert!(picked.contains(o), "{name} does not check {o}");
                }
            }
        }
        // Every tenant is checked by some other tenant's login.
        let checked: std::collections::BTreeSet<String> =
            many.iter().flat_map(|n| neighbours(&many, n)).collect();
        assert_eq!(checked.len(), many.len());
    }

    #[test]
    fn nft_set_elements_are_read_from_the_file_and_from_nft_list() {
        let file = crate::render::nft::render(&crate::render::nft::NftSpec {
            entries: &["10.0.0.1:22300".parse().unwrap()],
            own_ports: &[],
            vault_clients: &[],
            vaults: &["127.0.0.1:8200".parse().unwrap()],
            tenant_uids: &[1002, 1001],
            remote: crate::render::nft::Remote::None,
            dnat_to: None,
        });
        assert_eq!(set_elements(&file), [1001, 1002]);
        let listed = "table inet vaultnet {\n\tset tenants {\n\t\ttype uid\n\t\telements = { 1001, 1002 }\n\t}\n}\n";
        assert_eq!(set_elements(listed), [1001, 1002]);
        assert!(
            set_elements("table inet vaultnet {\n\tset tenants {\n\t\ttype uid\n\t}\n}").is_empty()
        );
    }
}
