//! `remove-user` leaves nothing of the tenant's working (SECURITY.md V4),
//! against a real OpenBao (gated by `VAULTNET_E2E=1`). Before the removal
//! the tenant holds login tokens and has made a response-wrapping token of
//! everything its token may call, and the operator has delivered it a
//! wrapped secret_id. After it, no login token works and no wrapping token
//! of the tenant's paths or role unwraps; the wrapping tokens whose
//! creation path names no tenant (its token's calls on itself, a login)
//! outlive it but hold only revoked tokens. A neighbour whose name starts
//! with the tenant's keeps all of its own. The tenant's token carries no
//! `default` policy, so it cannot wrap arbitrary data (`sys/wrapping/wrap`)
//! or use a cubbyhole; what it may call on itself instead is enough for
//! `bao agent` to keep renewing its token, which the second test shows with
//! the agent run from the bundle.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::require_e2e;
use crate::support::tenant::{
    Agent, UnixUser, add_expect, added, created, next, tenant_name, updated,
};
use crate::support::wait_for;

/// How long the agent may take to log in and render (≈1 s here).
const AGENT_TIMEOUT: Duration = Duration::from_secs(30);

/// What OpenBao answers a spent, revoked or unknown wrapping token.
const NOT_A_WRAPPING_TOKEN: &str = "wrapping token is not valid or does not exist";

fn kv_path(tenant: &str) -> String {
    format!("secret/data/tenants/{tenant}/app")
}

/// `method path` with `token`, its answer response-wrapped: the wrapping
/// token, after checking Vault recorded `creation_path` for it.
#[track_caller]
fn wrap(
    site: &Fixture,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    creation_path: &str,
) -> String {
    let (code, v) = site.bao().api_with_headers(
        method,
        path,
        body,
        Some(token),
        &[("X-Vault-Wrap-TTL", "10m")],
    );
    assert_eq!(code, 200, "{method} {path} wrapped: {v}");
    assert_eq!(
        v["wrap_info"]["creation_path"], creation_path,
        "{method} {path} wrapped: {v}"
    );
    v["wrap_info"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{method} {path}: no wrapping token in {v}"))
        .to_string()
}

/// Unwraps `wrapping` with itself as the token, as its holder would.
fn unwrap(site: &Fixture, wrapping: &str) -> (u16, Value) {
    site.bao()
        .api("POST", "sys/wrapping/unwrap", None, Some(wrapping))
}

/// The first error OpenBao gave, or the whole body.
fn error(body: &Value) -> String {
    body.pointer("/errors/0")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string())
}

#[test]
fn remove_user_revokes_every_token_the_tenant_holds_or_made_and_none_of_a_neighbours() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vnrv").openbao().build();
    let alice = UnixUser::create("rv");
    let a = alice.name.as_str();
    // Bob's name starts with alice's: nothing of his may look like hers.
    let bob = tenant_name("rvx");
    let b = bob.as_str();
    assert!(b.starts_with(a), "{b} must start with {a}");
    site.add_user(&[a])
        .run()
        .expect(add_expect(&site, &[a], true));
    site.add_user(&["--no-unix-user", b])
        .run()
        .expect(add_expect(&site, &[b], false));
    let alice_value = format!("alice-s3cret-{}", std::process::id());
    let bob_value = format!("bob-s3cret-{}", std::process::id());
    site.write_secret(a, &alice_value);
    site.write_secret(b, &bob_value);

    // What alice holds: two logins.
    let login1 = site.login_bundle(a);
    let login2 = site.login_bundle(a);
    let (code, me) = site
        .bao()
        .api("GET", "auth/token/lookup-self", None, Some(&login1));
    assert_eq!(code, 200, "lookup-self: {me}");
    assert_eq!(
        me["data"]["policies"],
        json!([format!("vaultnet-{a}")]),
        "alice's token must carry her policy and no `default`: {me}"
    );

    // What alice made: a wrapping token of each thing her policy lets her
    // read — her secret, its metadata, the list of her keys.
    let meta = format!("secret/metadata/tenants/{a}");
    let of_secret = wrap(&site, &login1, "GET", &kv_path(a), None, &kv_path(a));
    let of_metadata = wrap(
        &site,
        &login2,
        "GET",
        &format!("{meta}/app"),
        None,
        &format!("{meta}/app"),
    );
    let of_list = wrap(&site, &login1, "LIST", &meta, None, &format!("{meta}/"));
    // What she may not make: a wrapping token of arbitrary data (where she
    // could put her secret under a path that names nobody), or a cubbyhole.
    let copy = json!({ "value": alice_value });
    for (path, t) in [("sys/wrapping/wrap", &login1), ("cubbyhole/copy", &login2)] {
        let (code, body) = site.bao().api("POST", path, Some(copy.clone()), Some(t));
        assert_eq!(
            (code, error(&body).contains("permission denied")),
            (403, true),
            "{path} must be denied to alice's token: {body}"
        );
    }
    // Her token may also wrap what it asks about itself, and whoever holds
    // her role_id and secret_id a login. Those creation paths name no
    // tenant, so these outlive her — holding only her tokens, which the
    // removal revokes, and her capabilities.
    let of_lookup_self = wrap(
        &site,
        &login2,
        "GET",
        "auth/token/lookup-self",
        None,
        "auth/token/lookup-self",
    );
    let of_renew_self = wrap(
        &site,
        &login1,
        "POST",
        "auth/token/renew-self",
        None,
        "auth/token/renew-self",
    );
    let of_capabilities = wrap(
        &site,
        &login1,
        "POST",
        "sys/capabilities-self",
        Some(json!({ "paths": [kv_path(a)] })),
        "sys/capabilities-self",
    );
    let (code, body) = site.bao().api_with_headers(
        "POST",
        "auth/approle/login",
        Some(json!({
            "role_id": site.bundle_text(a, "role_id").trim(),
            "secret_id": site.bundle_text(a, "secret_id").trim(),
        })),
        None,
        &[("X-Vault-Wrap-TTL", "10m")],
    );
    assert_eq!(code, 200, "wrapped login: {body}");
    let of_login = body["wrap_info"]["token"].as_str().unwrap().to_string();
    // `revoke-self` answers nothing, so there is nothing to wrap.
    let login3 = site.login_bundle(a);
    let (code, body) = site.bao().api_with_headers(
        "POST",
        "auth/token/revoke-self",
        None,
        Some(&login3),
        &[("X-Vault-Wrap-TTL", "10m")],
    );
    assert_eq!((code, &body), (204, &Value::Null), "wrapped revoke-self");

    // What the operator made for her: a response-wrapped secret_id.
    site.add_user(&["--rotate", "--wrap-ttl", "5m", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!("{}{}", updated(a, ""), next(a)))
                .stderr(format!(
                    "{a}: client certificate rotated, expires [DATE]
{a}: secret_id issued (response-wrapped), expires [DATE]
{a}: destroyed 1 other secret_id(s)
"
                )),
        );
    let wrapped_secret_id = site.bundle_text(a, "secret_id").trim().to_string();
    let (code, body) = site.root_api(
        "POST",
        "sys/wrapping/lookup",
        Some(json!({ "token": wrapped_secret_id })),
    );
    assert_eq!(code, 200, "the bundle holds no live wrapping token: {body}");
    assert_eq!(
        body["data"]["creation_path"],
        format!("auth/approle/role/vaultnet-{a}/secret-id")
    );

    // Bob's own: a login and a wrapping token of his secret.
    let bob_login = site.login_bundle(b);
    let bob_wrapped = wrap(&site, &bob_login, "GET", &kv_path(b), None, &kv_path(b));

    let alices = [
        ("login 1", &login1),
        ("login 2", &login2),
        ("the wrapped secret", &of_secret),
        ("the wrapped metadata", &of_metadata),
        ("the wrapped key list", &of_list),
        ("the wrapped lookup-self", &of_lookup_self),
        ("the wrapped renew-self", &of_renew_self),
        ("the wrapped capabilities", &of_capabilities),
        ("the wrapped login", &of_login),
        ("the wrapped secret_id", &wrapped_secret_id),
    ];
    for (what, t) in alices.iter().chain(&[
        ("bob's login", &bob_login),
        ("bob's wrapped secret", &bob_wrapped),
    ]) {
        let (code, body) = site.root_api("POST", "auth/token/lookup", Some(json!({ "token": t })));
        assert_eq!(code, 200, "{what} must be alive before the removal: {body}");
    }

    // Seven of them are alice's: her three live logins (by role and
    // policy; the third is inside the wrapped login), the three wrapping
    // tokens of her paths and the one of her role's secret_id.
    let out = site.remove_user(&[a]).run().expect(
        site.expect(0)
            .stdout(format!(
                "removed tenant {a}: destroyed 1 secret_id(s), deleted role and policy, \
                 revoked 7 token(s), removed `tenants/{a}`\n"
            ))
            .stderr(site.gate_line()),
    );

    for (what, t) in [("login 1", &login1), ("login 2", &login2)] {
        for (method, path) in [
            ("GET", "auth/token/lookup-self".to_string()),
            ("GET", kv_path(a)),
        ] {
            let (code, body) = site.bao().api(method, &path, None, Some(t));
            assert_eq!(
                (code, error(&body).contains("permission denied")),
                (403, true),
                "{what} still works for {method} {path} after remove-user: {body}\n{out}"
            );
        }
    }
    for (what, t) in [
        ("the wrapped secret", &of_secret),
        ("the wrapped metadata", &of_metadata),
        ("the wrapped key list", &of_list),
        ("the wrapped secret_id", &wrapped_secret_id),
    ] {
        let (code, body) =
            site.root_api("POST", "sys/wrapping/lookup", Some(json!({ "token": t })));
        assert_eq!(
            (code, error(&body)),
            (400, NOT_A_WRAPPING_TOKEN.to_string()),
            "{what}: lookup after remove-user: {body}\n{out}"
        );
        let (code, body) = unwrap(&site, t);
        assert_eq!(
            (code, error(&body)),
            (400, NOT_A_WRAPPING_TOKEN.to_string()),
            "{what} still unwraps after remove-user: {body}\n{out}"
        );
        assert!(
            !body.to_string().contains(&alice_value),
            "{what} gave alice's secret: {body}"
        );
    }
    // What outlives her holds nothing that works, and not her secret.
    let outlived = |what: &str, t: &str| {
        let (code, body) = unwrap(&site, t);
        assert_eq!(code, 200, "{what}: {body}");
        assert!(
            !body.to_string().contains(&alice_value),
            "{what} gave alice's secret: {body}"
        );
        body
    };
    let body = outlived("the wrapped lookup-self", &of_lookup_self);
    assert_eq!(body["data"]["id"], login2.as_str(), "{body}");
    let body = outlived("the wrapped renew-self", &of_renew_self);
    assert_eq!(body["auth"]["client_token"], login1.as_str(), "{body}");
    let body = outlived("the wrapped capabilities", &of_capabilities);
    assert_eq!(body["data"][kv_path(a)], json!(["read"]), "{body}");
    let body = outlived("the wrapped login", &of_login);
    let wrapped_login = body["auth"]["client_token"].as_str().unwrap().to_string();
    for t in [&login1, &login2, &wrapped_login, &login3] {
        let (code, body) = site.root_api("POST", "auth/token/lookup", Some(json!({ "token": t })));
        assert_eq!(
            (code, error(&body).contains("bad token")),
            (403, true),
            "a token of alice's is alive after remove-user: {body}"
        );
    }

    // Bob keeps everything of his.
    let (code, body) = site.bao().api("GET", &kv_path(b), None, Some(&bob_login));
    assert_eq!(code, 200, "bob's login was revoked with alice: {body}");
    assert_eq!(body["data"]["data"]["value"], bob_value.as_str());
    let (code, body) = unwrap(&site, &bob_wrapped);
    assert_eq!(
        code, 200,
        "bob's wrapping token was revoked with alice: {body}"
    );
    assert_eq!(body["data"]["data"]["value"], bob_value.as_str());
}

#[test]
fn the_agent_renews_its_token_with_only_the_tenants_policy() {
    require_e2e!("runs OpenBao, the forwarder and bao agent in network namespaces");
    let site = Fixture::host("vnrg").openbao().forwarder().build();
    let name = tenant_name("rg");
    let a = name.as_str();
    // A short token TTL: the agent's lifetime watcher renews at about two
    // thirds of it.
    site.add_user(&["--no-unix-user", "--token-ttl", "6s", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!("{}{}", added(a), next(a)))
                .stderr(created(a)),
        );
    let value = format!("renewed-{}", std::process::id());
    site.write_secret(a, &value);

    let tenant_ns = site
        .ns()
        .add_tenant_ns("vnrh", &[("vault.lan", site.host_ip())]);
    let agent = Agent::start(&tenant_ns, &site.bundle(a), &site.compose(a));
    let (rendered, _) = agent.wait_for_file("/secrets/app", AGENT_TIMEOUT);
    assert_eq!(String::from_utf8_lossy(&rendered), value, "{}", agent.log());
    let (token, _) = agent.wait_for_file("/agent/token", AGENT_TIMEOUT);
    let token = String::from_utf8(token).unwrap();
    // Its token outlives its 6 s TTL only by being renewed.
    let lookup = || {
        site.root_api(
            "POST",
            "auth/token/lookup",
            Some(json!({ "token": token.trim() })),
        )
    };
    let at = |me: &Value, key: &str| {
        let s = me["data"][key].as_str().unwrap_or("");
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("{key} {s:?}: {e}: {me}"))
    };
    let me: Value = wait_for(
        "the agent to renew its token past its first TTL",
        AGENT_TIMEOUT,
        Duration::from_millis(500),
        || {
            let (code, me) = lookup();
            if code != 200 {
                return Err(format!("the agent's token: {code} {me}\n{}", agent.log()));
            }
            match at(&me, "last_renewal")? - at(&me, "issue_time")? {
                d if d > time::Duration::seconds(7) => Ok(me),
                d => Err(format!("last renewed {d} after issue: {me}")),
            }
        },
    );
    assert_eq!(
        me["data"]["policies"],
        json!([format!("vaultnet-{a}")]),
        "{me}"
    );
    let log = agent.log();
    assert!(
        log.matches("renewed auth token").count() >= 2,
        "the agent did not renew:\n{log}"
    );
    assert_eq!(
        log.matches("authentication successful").count(),
        1,
        "the agent logged in again instead of renewing:\n{log}"
    );
    for bad in ["error renewing token", "permission denied"] {
        assert!(!log.contains(bad), "the agent logged {bad:?}:\n{log}");
    }
}

#[test]
fn add_user_takes_default_away_from_a_tenant_provisioned_before() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnru").openbao().build();
    let name = tenant_name("ru");
    let a = name.as_str();
    site.add_user(&["--no-unix-user", a])
        .run()
        .expect(add_expect(&site, &[a], false));
    // The policy and role as vaultnet wrote them before: no calls on the
    // token itself, and Vault's `default` policy on every login.
    let old_policy = serde_json::to_string_pretty(&json!({
        "path": {
            format!("secret/data/tenants/{a}/*"): { "capabilities": ["read"] },
            format!("secret/metadata/tenants/{a}/*"): { "capabilities": ["read", "list"] },
        }
    }))
    .unwrap();
    site.root_api_expect(
        "PUT",
        &format!("sys/policies/acl/vaultnet-{a}"),
        Some(json!({ "policy": old_policy })),
        204,
    );
    site.root_api_expect(
        "POST",
        &format!("auth/approle/role/vaultnet-{a}"),
        Some(json!({ "token_no_default_policy": false })),
        204,
    );
    let before = site.login_bundle(a);
    let policies = |t: &str| {
        let (code, me) = site.root_api("POST", "auth/token/lookup", Some(json!({ "token": t })));
        assert_eq!(code, 200, "{me}");
        me["data"]["policies"].clone()
    };
    assert_eq!(
        policies(&before),
        json!(["default", format!("vaultnet-{a}")])
    );

    site.add_user(&["--no-unix-user", a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", updated(a, ""), next(a)))
            .stderr(format!(
                "{a}: policy `vaultnet-{a}` had drifted and was repaired:
    +     \"auth/token/lookup-self\": {{
    +     \"auth/token/renew-self\": {{
    +         \"update\"
    +     \"auth/token/revoke-self\": {{
    +         \"update\"
    +     \"sys/capabilities-self\": {{
    +         \"update\"
{a}: AppRole role `vaultnet-{a}` had drifted and was repaired: token_no_default_policy: false -> true
"
            )),
    );
    let after = site.login_bundle(a);
    assert_eq!(policies(&after), json!([format!("vaultnet-{a}")]));
    // A token issued before the repair keeps `default` until it expires
    // or the tenant is removed, which revokes it like any other.
    assert_eq!(
        policies(&before),
        json!(["default", format!("vaultnet-{a}")])
    );
    site.remove_user(&[a])
        .run()
        .expect(site.expect(0).stdout(format!(
            "removed tenant {a}: destroyed 1 secret_id(s), deleted role and policy, \
         revoked 2 token(s), removed `tenants/{a}`\n"
        )));
    for t in [&before, &after] {
        let (code, body) = site.root_api("POST", "auth/token/lookup", Some(json!({ "token": t })));
        assert_eq!(
            code, 403,
            "a token of {a}'s is alive after remove-user: {body}"
        );
    }
}
