//! `add-user`, `remove-user` and `list` against the real chain (gated by
//! `VAULTNET_E2E=1`: root, network namespaces, throw-away Unix users): a
//! real OpenBao with mutual TLS on the loopback of a namespace playing the
//! host, the socat forwarder from the unit `init` wrote, and `bao agent`
//! run unchanged from a tenant's bundle in a tenant namespace joined by
//! veth, with the in-container paths `compose.yaml` declares. These tests
//! show that the agent renders exactly the tenant's own secret (0400) and
//! that the tenant's token is denied every other tenant's path (SECURITY.md
//! V2, V6); that the nft gate, loaded in the namespace, admits only tenant
//! uids to the forwarder and no tenant to Vault's own port; that
//! `remove-user` leaves no token or secret_id working, even after the name
//! is added again (V4); that `add-user` converges, repairs drift in Vault
//! and on disk, and rotates on request (V3); that a response-wrapped
//! secret_id still works end to end (V5); the `list` and `--output json`
//! field names, with no secret in any output or in `vaultnet.yaml` (S6);
//! secret file modes under `umask 000` (S1); `--install` that never writes
//! through a link the tenant planted (S4); and that `podman-compose`
//! accepts an app merged with the bundle's override.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vaultnet::pki::CertInfo;

use crate::support::cmd::{Cmd, Output};
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::manifest_dir;
use crate::support::netns::TenantNs;
use crate::support::snapshot::Snapshot;
use crate::support::tenant::{
    Agent, NFT, NFT_RELOADED, UnixUser, add_expect, added, bundle_files, connect_as, created,
    created_changes, created_wrapped, extra_hosts, json_report, list_json, list_json_installed,
    list_table, mode_owner, next, nft_set, readme_block, removed, tenant_name, tenant_request,
    up_to_date, updated,
};
use crate::support::{require_e2e, write_private};

/// How long the agent may take to log in and render (≈1 s here).
const AGENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bundle files that hold a secret, and must be 0600.
const SECRET_FILES: &[&str] = &["client-key.pem", "role_id", "secret_id"];

fn kv_path(tenant: &str) -> String {
    format!("secret/data/tenants/{tenant}/app")
}

/// The capabilities `sys/capabilities-self` gives `token` on `paths`,
/// asked the tenant's way (through the forwarder, with its certificate).
#[track_caller]
fn capabilities(ns: &TenantNs, bundle: &Path, token: &str, paths: &[String]) -> Value {
    let (code, body) = tenant_request(
        ns,
        bundle,
        "POST",
        "sys/capabilities-self",
        Some(json!({ "paths": paths })),
        Some(token),
    );
    assert_eq!(code, 200, "sys/capabilities-self: {body}");
    body["data"].clone()
}

/// The first base64 line of a PEM file: enough to spot the key anywhere.
#[track_caller]
fn pem_body_line(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find(|l| !l.starts_with("-----") && l.len() > 20)
        .unwrap_or_else(|| panic!("no PEM body in {}", path.display()))
        .to_string()
}

/// Fails if any secret shows in any output or in `vaultnet.yaml`.
#[track_caller]
fn assert_no_secret(site: &Fixture, outputs: &[&Output], secrets: &[(&str, String)]) {
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    for (what, secret) in secrets {
        let secret = secret.trim();
        assert!(secret.len() >= 8, "{what} is too short to search for");
        for out in outputs {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "the {what} appears in the output\n{out}"
            );
        }
        assert!(
            !state.contains(secret),
            "the {what} appears in vaultnet.yaml:\n{state}"
        );
    }
}

/// The secrets of a tenant's bundle, named.
fn bundle_secrets(site: &Fixture, tenant: &str) -> Vec<(&'static str, String)> {
    vec![
        ("role_id", site.bundle_text(tenant, "role_id")),
        ("secret_id", site.bundle_text(tenant, "secret_id")),
        (
            "client key",
            pem_body_line(&site.bundle(tenant).join("client-key.pem")),
        ),
    ]
}

#[track_caller]
fn parse_json(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{out}"))
}

#[track_caller]
fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn days_from_now(rfc3339: &str) -> i64 {
    let t = OffsetDateTime::parse(rfc3339, &Rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339:?} is not RFC 3339: {e}"));
    (t - OffsetDateTime::now_utc()).whole_days()
}

#[track_caller]
fn cert_serial(site: &Fixture, tenant: &str) -> String {
    CertInfo::parse(&site.bundle_text(tenant, "client.pem"))
        .unwrap_or_else(|e| panic!("client.pem: {}", e.message()))
        .serial
}

#[test]
fn agent_from_the_bundle_renders_only_the_tenants_secret_through_the_forwarder() {
    require_e2e!("runs OpenBao, the forwarder and bao agent in network namespaces");
    let site = Fixture::host("vnta").openbao().forwarder().build();
    let alice = UnixUser::create("aa");
    let bob = UnixUser::create("ab");
    let (a, b) = (alice.name.as_str(), bob.name.as_str());
    site.add_user(&[a, b])
        .run()
        .expect(add_expect(&site, &[a, b], true));
    let alice_value = format!("alice-s3cret-{}", std::process::id());
    site.write_secret(a, &alice_value);
    site.write_secret(b, "bob-s3cret-never-for-alice");

    // The tenant namespace's hosts file and the chroot's /etc/hosts both
    // play compose's `extra_hosts`: the bundle's entry, to the host IP.
    let compose = site.compose(a);
    let host_ip = site.host_ip();
    assert_eq!(
        extra_hosts(&compose),
        vec![("vault.lan".to_string(), host_ip)],
        "compose extra_hosts"
    );
    let ns = site.ns();
    let tenant_ns = ns.add_tenant_ns("vntt", &[("vault.lan", host_ip)]);
    let hosts = std::fs::read_to_string(tenant_ns.etc_dir().join("hosts")).unwrap();
    assert!(
        hosts
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [host_ip.to_string().as_str(), "vault.lan"]),
        "{hosts}"
    );

    let agent_json = site.bundle_text(a, "agent.json");
    let agent = Agent::start(&tenant_ns, &site.bundle(a), &compose);
    let (rendered, meta) = agent.wait_for_file("/secrets/app", AGENT_TIMEOUT);
    assert_eq!(
        String::from_utf8_lossy(&rendered),
        alice_value,
        "rendered secret\n{}",
        agent.log()
    );
    assert_eq!(meta.mode() & 0o7777, 0o400, "mode of /secrets/app");
    // compose runs the agent as `user: 0:0` (the tenant, under rootless
    // Podman); in the chroot that is root.
    assert_eq!(compose["services"]["vault-agent"]["user"], "0:0");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "owner of /secrets/app");
    let (token, sink) = agent.wait_for_file("/agent/token", AGENT_TIMEOUT);
    assert_eq!(sink.mode() & 0o7777, 0o600, "mode of the token sink");
    let token = String::from_utf8(token).unwrap();
    assert_eq!(
        site.bundle_text(a, "agent.json"),
        agent_json,
        "the agent must run the bundle's config unchanged"
    );

    // The agent's own token: alice's path yes, bob's never.
    let (code, body) = tenant_request(
        &tenant_ns,
        &site.bundle(a),
        "GET",
        &kv_path(a),
        None,
        Some(&token),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["data"]["value"], alice_value.as_str());
    let (code, body) = tenant_request(
        &tenant_ns,
        &site.bundle(a),
        "GET",
        &kv_path(b),
        None,
        Some(&token),
    );
    assert_eq!(code, 403, "alice's token read bob's secret: {body}");
    assert!(
        !body.to_string().contains("bob-s3cret"),
        "bob's secret leaked: {body}"
    );
    let (code, body) = tenant_request(
        &tenant_ns,
        &site.bundle(a),
        "LIST",
        "secret/metadata/tenants",
        None,
        Some(&token),
    );
    assert_eq!(code, 403, "alice may not list other tenants: {body}");

    // A login of alice's own, through the forwarder with her certificate.
    let (code, body) = tenant_request(
        &tenant_ns,
        &site.bundle(a),
        "POST",
        "auth/approle/login",
        Some(json!({
            "role_id": site.bundle_text(a, "role_id").trim(),
            "secret_id": site.bundle_text(a, "secret_id").trim(),
        })),
        None,
    );
    assert_eq!(code, 200, "alice's login through the forwarder: {body}");
    let login = body["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        body["auth"]["policies"],
        json!([format!("vaultnet-{a}")]),
        "alice's token policies"
    );
    for t in [&token, &login] {
        let (code, body) = tenant_request(
            &tenant_ns,
            &site.bundle(a),
            "GET",
            &kv_path(b),
            None,
            Some(t),
        );
        assert_eq!(code, 403, "{body}");
    }

    // sys/capabilities-self: read on her data, deny on bob's.
    let paths = [
        kv_path(a),
        kv_path(b),
        format!("secret/metadata/tenants/{a}/app"),
        format!("secret/metadata/tenants/{b}/app"),
    ];
    let caps = capabilities(&tenant_ns, &site.bundle(a), &token, &paths);
    assert_eq!(caps[&paths[0]], json!(["read"]), "{caps}");
    assert_eq!(caps[&paths[1]], json!(["deny"]), "{caps}");
    assert_eq!(caps[&paths[2]], json!(["list", "read"]), "{caps}");
    assert_eq!(caps[&paths[3]], json!(["deny"]), "{caps}");
    assert_eq!(
        capabilities(&tenant_ns, &site.bundle(a), &login, &paths),
        caps
    );

    // The agent's log names no secret either.
    let log = agent.log();
    for s in [alice_value.as_str(), token.trim()] {
        assert!(!log.contains(s), "the agent logged a secret:\n{log}");
    }
}

#[test]
fn nft_gate_admits_only_tenant_uids_to_the_forwarder_and_no_tenant_to_vaults_port() {
    require_e2e!("loads nftables in a network namespace and switches uids");
    let site = Fixture::host("vntn").openbao().forwarder().build();
    let alice = UnixUser::create("na");
    let stranger = UnixUser::create("ns");
    site.add_user(&[&alice.name])
        .run()
        .expect(add_expect(&site, &[&alice.name], true));

    let nft = site.path("forwarder/vaultnet.nft");
    let text = std::fs::read_to_string(&nft).unwrap();
    assert_eq!(nft_set(&text, "tenants"), vec![alice.uid], "{text}");
    assert_eq!(nft_set(&text, "allowed"), vec![0, alice.uid], "{text}");

    let ns = site.ns();
    site.load_nft();
    let host = site.host_ip().to_string();
    let fport = site.forwarder_port();
    let vault = site.bao().addr();
    let (vip, vport) = (vault.ip().to_string(), vault.port());

    connect_as(ns.name(), alice.uid, alice.gid, &host, fport)
        .unwrap_or_else(|e| panic!("alice must reach the forwarder: {e}"));
    let refused = |who: &str, r: Result<(), String>| match r {
        Err(e) if e.contains("Connection refused") => {}
        other => panic!("{who} must be refused with a reset, got {other:?}"),
    };
    refused(
        "a uid that is no tenant, at the forwarder",
        connect_as(ns.name(), stranger.uid, stranger.gid, &host, fport),
    );
    refused(
        "alice at Vault's loopback port",
        connect_as(ns.name(), alice.uid, alice.gid, &vip, vport),
    );
    connect_as(ns.name(), 0, 0, &host, fport)
        .unwrap_or_else(|e| panic!("root (the operator) must reach the forwarder: {e}"));
    connect_as(ns.name(), 0, 0, &vip, vport)
        .unwrap_or_else(|e| panic!("root must reach Vault: {e}"));
    // Vault's port is an allowlist: a uid that is no tenant is refused
    // there too, and the forwarder's own user is admitted.
    refused(
        "a uid that is no tenant, at Vault's loopback port",
        connect_as(ns.name(), stranger.uid, stranger.gid, &vip, vport),
    );
    let fwd = nix::unistd::User::from_name(vaultnet::render::forwarder::USER)
        .unwrap()
        .expect("the forwarder's user");
    connect_as(ns.name(), fwd.uid.as_raw(), fwd.gid.as_raw(), &vip, vport)
        .unwrap_or_else(|e| panic!("the forwarder's user must reach Vault: {e}"));

    // Nothing from outside the host: a tenant namespace across the veth.
    let tenant_ns = ns.add_tenant_ns("vntg", &[]);
    refused(
        "a client from another namespace",
        connect_as(tenant_ns.name(), 0, 0, &host, fport),
    );

    // remove-user takes alice out of the gate.
    site.remove_user(&[&alice.name]).run().expect(
        site.expect(0)
            .stdout(removed(&alice.name, false))
            .stderr(site.gate_line()),
    );
    let text = std::fs::read_to_string(&nft).unwrap();
    assert_eq!(nft_set(&text, "tenants"), Vec::<u32>::new(), "{text}");
    assert_eq!(nft_set(&text, "allowed"), vec![0], "{text}");
    // Reloaded by remove-user itself: the gate was loaded.
    refused(
        "alice after remove-user, at the forwarder",
        connect_as(ns.name(), alice.uid, alice.gid, &host, fport),
    );
    // A removed tenant cannot go round the forwarder with its old
    // certificate either: its uid is no longer anywhere in the gate, and
    // Vault's port admits only those named.
    refused(
        "alice after remove-user, at Vault's loopback port",
        connect_as(ns.name(), alice.uid, alice.gid, &vip, vport),
    );
}

#[test]
fn remove_user_leaves_no_token_or_secret_id_working_even_after_re_adding() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vntr").openbao().build();
    let alice = UnixUser::create("ra");
    let a = alice.name.as_str();
    site.add_user(&[a])
        .run()
        .expect(add_expect(&site, &[a], true));
    site.write_secret(a, "alice-value");
    let role_id = site.bundle_text(a, "role_id");
    let secret_id = site.bundle_text(a, "secret_id");
    let token = site.login_bundle(a);
    let read = |t: &str| site.bao().api("GET", &kv_path(a), None, Some(t));
    let lookup = |t: &str| {
        site.bao()
            .api("GET", "auth/token/lookup-self", None, Some(t))
    };
    assert_eq!(read(&token).0, 200);
    assert_eq!(lookup(&token).0, 200);
    let nft = site.path("forwarder/vaultnet.nft");
    assert_eq!(
        nft_set(&std::fs::read_to_string(&nft).unwrap(), "tenants"),
        vec![alice.uid]
    );

    let out = site.remove_user(&[a]).run().expect(
        site.expect(0)
            .stdout(removed(a, true))
            .stderr(site.gate_line()),
    );
    assert!(
        out.stdout.starts_with(&format!("removed tenant {a}: ")),
        "{out}"
    );
    for (code, body) in [lookup(&token), read(&token)] {
        assert_eq!(code, 403, "the old token still works: {body}\n{out}");
    }
    let denied = site
        .login(&role_id, &secret_id)
        .expect_err("login with the old secret_id after remove-user");
    assert_ne!(denied.0, 200);
    let (code, body) = site.root_api("GET", &format!("auth/approle/role/vaultnet-{a}"), None);
    assert_eq!(code, 404, "the role is still there: {body}");
    let (code, body) = site.root_api("GET", &format!("sys/policies/acl/vaultnet-{a}"), None);
    assert_eq!(code, 404, "the policy is still there: {body}");
    assert!(!site.bundle(a).exists(), "the bundle is still there");
    assert!(
        site.state()["tenants"].get(a).is_none(),
        "vaultnet.yaml still lists {a}: {}",
        site.state()
    );
    assert_eq!(
        nft_set(&std::fs::read_to_string(&nft).unwrap(), "tenants"),
        Vec::<u32>::new()
    );

    // Safe to run twice.
    let again = site.remove_user(&[a]).run().expect(
        site.expect(0)
            .stdout(format!("tenant {a} was not there: nothing to remove\n")),
    );
    assert!(
        again.stdout.contains("nothing to remove"),
        "second remove-user\n{again}"
    );

    // Adding the name again must not revive anything issued before.
    site.add_user(&[a])
        .run()
        .expect(add_expect(&site, &[a], true));
    for (code, body) in [lookup(&token), read(&token)] {
        assert_eq!(code, 403, "re-adding revived the old token: {body}");
    }
    assert!(site.login(&role_id, &secret_id).is_err());
    let new = site.login_bundle(a);
    assert_eq!(read(&new).0, 200, "the new bundle must work");
}

#[test]
fn add_user_twice_converges_and_repairs_drift_in_vault_and_on_disk() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vntd").openbao().build();
    let alice = UnixUser::create("da");
    let a = alice.name.as_str();
    site.add_user(&[a])
        .run()
        .expect(add_expect(&site, &[a], true));
    let bundle = site.bundle(a);
    let before = Snapshot::take(&bundle);
    let policy_path = format!("sys/policies/acl/vaultnet-{a}");
    let role_path = format!("auth/approle/role/vaultnet-{a}");
    let policy = site.root_api("GET", &policy_path, None).1["data"]["policy"].clone();
    let role = site.root_api("GET", &role_path, None).1["data"].clone();

    let out = site
        .add_user(&[a])
        .run()
        .expect(site.expect(0).stdout(up_to_date(a)));
    assert!(
        out.stdout.starts_with(&format!("tenant {a} is up to date")),
        "{out}"
    );
    assert!(
        out.stderr.is_empty(),
        "a converged run reports no change\n{out}"
    );
    before.assert_same(&Snapshot::take(&bundle), "second add-user");
    assert_eq!(
        site.list("auth/approle/role"),
        vec![format!("vaultnet-{a}")]
    );
    let policies = site.list("sys/policies/acl");
    assert_eq!(
        policies
            .iter()
            .filter(|n| n.contains(a))
            .collect::<Vec<_>>(),
        vec![&format!("vaultnet-{a}")]
    );
    assert_eq!(
        site.list(&format!("{role_path}/secret-id")).len(),
        1,
        "exactly one secret_id"
    );

    // Drift: a broader policy, a longer token_ttl, a changed agent.json.
    let broad = "path \"secret/*\" { capabilities = [\"read\", \"list\"] }";
    let (code, body) = site.root_api("PUT", &policy_path, Some(json!({ "policy": broad })));
    assert_eq!(code, 204, "{body}");
    let (code, body) = site.root_api("POST", &role_path, Some(json!({ "token_ttl": 7200 })));
    assert_eq!(code, 204, "{body}");
    let agent_json = bundle.join("agent.json");
    let wanted_agent = std::fs::read(&agent_json).unwrap();
    std::fs::write(
        &agent_json,
        b"{\"vault\": {\"address\": \"https://evil:1\"}}\n",
    )
    .unwrap();
    // Secrets made readable by others (a careless `chmod`, a restore).
    for f in SECRET_FILES {
        std::fs::set_permissions(
            bundle.join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
    }

    let out = site.add_user(&[a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", updated(a, ""), next(a)))
            .stderr(format!(
                "{a}: policy `vaultnet-{a}` had drifted and was repaired:
    - {broad}
    + {{
    +   \"path\": {{
    +     \"secret/data/tenants/{a}/*\": {{
    +       \"capabilities\": [
    +         \"read\"
    +       ]
    +     }},
    +     \"secret/metadata/tenants/{a}/*\": {{
    +       \"capabilities\": [
    +         \"read\",
    +         \"list\"
    +       ]
    +     }},
    +     \"auth/token/lookup-self\": {{
    +       \"capabilities\": [
    +         \"read\"
    +       ]
    +     }},
    +     \"auth/token/renew-self\": {{
    +       \"capabilities\": [
    +         \"update\"
    +       ]
    +     }},
    +     \"auth/token/revoke-self\": {{
    +       \"capabilities\": [
    +         \"update\"
    +       ]
    +     }},
    +     \"sys/capabilities-self\": {{
    +       \"capabilities\": [
    +         \"update\"
    +       ]
    +     }}
    +   }}
    + }}
{a}: AppRole role `vaultnet-{a}` had drifted and was repaired: token_ttl: 7200 -> 3600
{a}: repaired `tenants/{a}/role_id` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/agent.json` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/client-key.pem` (its mode was not 0600)
{a}: repaired `tenants/{a}/secret_id` (its mode was not 0600)
"
            )),
    );
    assert!(
        out.stdout.starts_with(&format!("updated tenant {a}")),
        "{out}"
    );
    for needle in [
        format!("policy `vaultnet-{a}` had drifted and was repaired"),
        format!("- {broad}"),
        format!(
            "AppRole role `vaultnet-{a}` had drifted and was repaired: token_ttl: 7200 -> 3600"
        ),
        format!("repaired `tenants/{a}/agent.json`"),
        format!("repaired `tenants/{a}/client-key.pem` (its mode was not 0600)"),
        format!("repaired `tenants/{a}/secret_id` (its mode was not 0600)"),
    ] {
        assert!(out.stderr.contains(&needle), "no {needle:?}\n{out}");
    }
    assert_eq!(
        site.root_api("GET", &policy_path, None).1["data"]["policy"],
        policy
    );
    assert_eq!(site.root_api("GET", &role_path, None).1["data"], role);
    assert_eq!(std::fs::read(&agent_json).unwrap(), wanted_agent);
    assert_eq!(mode_owner(&agent_json).0, 0o644);
    for f in SECRET_FILES {
        assert_eq!(
            mode_owner(&bundle.join(f)).0,
            0o600,
            "{f} was left readable by others\n{out}"
        );
    }
    assert_eq!(site.list(&format!("{role_path}/secret-id")).len(), 1);

    // Nothing left to repair.
    let out = site
        .add_user(&[a])
        .run()
        .expect(site.expect(0).stdout(up_to_date(a)));
    assert!(out.stdout.contains("is up to date"), "{out}");
}

#[test]
fn rotate_issues_a_new_certificate_and_secret_id_and_destroys_the_old_one() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnto").openbao().build();
    let name = tenant_name("o");
    let a = name.as_str();
    site.add_user(&["--no-unix-user", a])
        .run()
        .expect(add_expect(&site, &[a], false));
    let role_id = site.bundle_text(a, "role_id");
    let old_secret_id = site.bundle_text(a, "secret_id");
    let old_serial = cert_serial(&site, a);
    site.login(&role_id, &old_secret_id)
        .expect("the first secret_id works");

    let out = site
        .add_user(&["--no-unix-user", "--rotate", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!("{}{}", updated(a, ""), next(a)))
                .stderr(format!(
                    "{a}: client certificate rotated, expires [DATE]
{a}: secret_id issued, expires [DATE]
{a}: destroyed 1 other secret_id(s)
"
                )),
        );
    for needle in ["client certificate rotated", "secret_id issued"] {
        assert!(out.stderr.contains(needle), "no {needle:?}\n{out}");
    }
    let new_serial = cert_serial(&site, a);
    assert_ne!(new_serial, old_serial, "--rotate kept the certificate");
    let new_secret_id = site.bundle_text(a, "secret_id");
    assert_ne!(new_secret_id, old_secret_id, "--rotate kept the secret_id");
    assert_eq!(site.bundle_text(a, "role_id"), role_id, "role_id is stable");
    let (code, body) = site
        .login(&role_id, &old_secret_id)
        .expect_err("the old secret_id must be destroyed");
    assert_ne!(code, 200, "{body}");
    site.login(&role_id, &new_secret_id)
        .expect("the new secret_id works");
    assert_eq!(
        site.list(&format!("auth/approle/role/vaultnet-{a}/secret-id"))
            .len(),
        1,
        "one secret_id after --rotate"
    );
    let state = site.state();
    assert_eq!(state["tenants"][&a]["cert_serial"], new_serial.as_str());
}

/// A rerun knows the bundle's secret_id by the SHA-256 it recorded: a file
/// that holds anything else is asked of Vault by value. One Vault honours
/// for the tenant's role (made by hand, restored from elsewhere) is kept and
/// recorded, and the one it replaced goes; one Vault does not know is
/// replaced by a new secret_id.
#[test]
fn a_secret_id_file_vaultnet_did_not_write_is_asked_of_vault() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnts").openbao().build();
    let name = tenant_name("s");
    let a = name.as_str();
    site.add_user(&["--no-unix-user", a])
        .run()
        .expect(add_expect(&site, &[a], false));
    let role_id = site.bundle_text(a, "role_id");
    let first = site.bundle_text(a, "secret_id");
    let file = site.path(&format!("tenants/{a}/secret_id"));
    let role = format!("auth/approle/role/vaultnet-{a}");

    let by_hand = site.root_api_expect("POST", &format!("{role}/secret-id"), None, 200);
    let by_hand = by_hand["data"]["secret_id"].as_str().unwrap().to_string();
    write_private(&file, format!("{by_hand}\n"));
    site.add_user(&["--no-unix-user", a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", updated(a, ""), next(a)))
            .stderr(format!("{a}: destroyed 1 other secret_id(s)\n")),
    );
    assert_eq!(site.bundle_text(a, "secret_id").trim(), by_hand);
    site.login(&role_id, &by_hand)
        .expect("the kept secret_id works");
    site.login(&role_id, &first)
        .expect_err("the replaced secret_id is destroyed");
    site.add_user(&["--no-unix-user", a])
        .run()
        .expect(site.expect(0).stdout(up_to_date(a)));

    let unknown = "0f0e0d0c-0b0a-4909-8807-060504030201";
    write_private(&file, format!("{unknown}\n"));
    site.add_user(&["--no-unix-user", a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", updated(a, ""), next(a)))
            .stderr(format!(
                "{a}: secret_id issued, expires [DATE]\n{a}: destroyed 1 other secret_id(s)\n"
            )),
    );
    let issued = site.bundle_text(a, "secret_id");
    assert!(![unknown, by_hand.as_str(), first.as_str()].contains(&issued.as_str()));
    site.login(&role_id, &issued)
        .expect("the new secret_id works");
    site.login(&role_id, &by_hand)
        .expect_err("the one it replaced is destroyed");
    assert_eq!(site.list(&format!("{role}/secret-id")).len(), 1);
}

#[test]
fn wrapped_secret_id_names_the_roles_creation_path_and_the_agent_unwraps_it() {
    require_e2e!("runs OpenBao, the forwarder and bao agent in network namespaces");
    let site = Fixture::host("vntw").openbao().forwarder().build();
    let name = tenant_name("w");
    let a = name.as_str();
    let out = site
        .add_user(&["--no-unix-user", "--wrap-ttl", "5m", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!("{}{}", added(a), next(a)))
                .stderr(created_wrapped(a)),
        );
    assert!(
        out.stderr.contains("secret_id issued (response-wrapped)"),
        "{out}"
    );
    let creation_path = format!("auth/approle/role/vaultnet-{a}/secret-id");
    let wrapping = site.bundle_text(a, "secret_id");
    let (code, body) = site.root_api(
        "POST",
        "sys/wrapping/lookup",
        Some(json!({ "token": wrapping.trim() })),
    );
    assert_eq!(
        code, 200,
        "the secret_id file holds no wrapping token: {body}"
    );
    assert_eq!(body["data"]["creation_path"], creation_path.as_str());
    let ttl = body["data"]["creation_ttl"].as_u64().unwrap();
    assert_eq!(ttl, 300, "--wrap-ttl 5m: {body}");
    // The agent reads a plain secret_id: the tenant unwraps it once first.
    let agent: Value = serde_json::from_str(&site.bundle_text(a, "agent.json")).unwrap();
    let config = &agent["auto_auth"]["method"][0]["config"];
    assert!(
        config.get("secret_id_response_wrapping_path").is_none(),
        "{config}"
    );
    let value = format!("wrapped-{}", std::process::id());
    site.write_secret(a, &value);

    // The tenant's copy of the bundle, handed over by the operator.
    let copy = site.scratch().join("tenant-copy");
    std::fs::create_dir(&copy).unwrap();
    for f in std::fs::read_dir(site.bundle(a)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), copy.join(f.file_name())).unwrap();
    }
    let connect = format!("{}:22300", site.host_ip());
    let unwrap = || {
        let mut c = site.vaultnet_without_token();
        c.arg("unwrap").arg(&copy).args(["--connect", &connect]);
        c.run()
    };
    let sid_file = copy.join("secret_id");
    unwrap().expect(site.expect(0).stdout(
        "unwrapped the secret_id into `[DIR]/tenant-copy/secret_id`: the agent can start\n",
    ));
    let plain = std::fs::read_to_string(&sid_file).unwrap();
    assert!(
        vaultnet::vault::ops::is_plain_secret_id(&plain),
        "not a secret_id"
    );
    assert_eq!(std::fs::metadata(&sid_file).unwrap().mode() & 0o7777, 0o600);
    assert!(
        site.login(&site.bundle_text(a, "role_id"), &plain).is_ok(),
        "the unwrapped secret_id logs in"
    );
    // Spent: a second copy of the same token is refused, and says why.
    let before = std::fs::read(&sid_file).unwrap();
    unwrap().expect(site.expect(0).stdout(
        "`[DIR]/tenant-copy/secret_id` holds a plain secret_id already: nothing to unwrap\n",
    ));
    assert_eq!(std::fs::read(&sid_file).unwrap(), before);
    std::fs::write(&sid_file, &wrapping).unwrap();
    unwrap().expect(site.refused(
        1,
        "the wrapping token in `[DIR]/tenant-copy/secret_id` was already used or has expired; if you did not unwrap it, someone else may have",
        &format!("ask the operator for a new one: `vaultnet add-user {a} --rotate`"),
    ));
    std::fs::write(&sid_file, &plain).unwrap();

    let host_ip = site.host_ip();
    let tenant_ns = site.ns().add_tenant_ns("vntu", &[("vault.lan", host_ip)]);
    let compose = site.compose(a);
    let agent = Agent::start(&tenant_ns, &copy, &compose);
    let (rendered, meta) = agent.wait_for_file("/secrets/app", AGENT_TIMEOUT);
    assert_eq!(String::from_utf8_lossy(&rendered), value);
    assert_eq!(meta.mode() & 0o7777, 0o400);
    // The wrapping token is spent.
    let (code, body) = site.root_api(
        "POST",
        "sys/wrapping/lookup",
        Some(json!({ "token": wrapping.trim() })),
    );
    assert_ne!(code, 200, "the wrapping token was not used: {body}");
    let list = site.vaultnet().args(["list", "--output", "json"]).run();
    let rows = parse_json(&list.expect(site.expect(0).stdout(list_json(&[(a, "null", true)]))));
    assert_eq!(rows["tenants"][0]["wrapped_secret_id"], true, "{rows}");
}

#[test]
fn list_and_json_reports_have_stable_fields_and_never_show_a_secret() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vntl").openbao().build();
    let alice = UnixUser::create("la");
    let a = alice.name.as_str();
    let bob_name = tenant_name("lb");
    let b = bob_name.as_str();
    let mut outputs = Vec::new();

    let empty = site.vaultnet().arg("list").run().expect(
        site.expect(0)
            .stdout("no tenants yet: add one with `vaultnet add-user NAME`\n"),
    );
    assert!(empty.stdout.contains("no tenants yet"), "{empty}");
    let empty_json = site.vaultnet().args(["list", "--output", "json"]).run();
    let empty_json = empty_json.expect(
        site.expect(0)
            .stdout("{\n  \"schema_version\": 1,\n  \"tenants\": []\n}\n"),
    );
    assert_eq!(
        parse_json(&empty_json),
        json!({"schema_version": 1, "tenants": []}),
        "{empty_json}"
    );

    let added = site.add_user(&["--output", "json", a]).run().expect(
        site.expect(0)
            .stdout(json_report(
                a,
                &alice.uid.to_string(),
                false,
                &created_changes(a, ""),
            ))
            .stderr(format!("{}{}", created(a), site.gate_line())),
    );
    let report = parse_json(&added);
    let report_keys = set(&[
        "name",
        "uid",
        "bundle",
        "installed_to",
        "cert_serial",
        "cert_not_after",
        "secret_id_expires",
        "wrapped_secret_id",
        "auth",
        "network",
        "changes",
        "result",
    ]);
    assert_eq!(
        keys(&report),
        set(&["schema_version", "tenants", "totals"]),
        "{added}"
    );
    assert_eq!(report["schema_version"], 1, "{added}");
    assert_eq!(
        report["totals"],
        json!({"added": 1, "updated": 0, "up_to_date": 0, "failed": 0, "not_tried": 0}),
        "{added}"
    );
    let r = &report["tenants"][0];
    assert_eq!(report["tenants"].as_array().unwrap().len(), 1, "{added}");
    assert_eq!(r["result"], "added", "{added}");
    assert_eq!(keys(r), report_keys, "{added}");
    assert_eq!(r["name"], a);
    assert_eq!(r["uid"], alice.uid);
    assert_eq!(r["bundle"], site.bundle(a).to_string_lossy().as_ref());
    assert_eq!(r["installed_to"], Value::Null);
    assert_eq!(r["cert_serial"], cert_serial(&site, a).as_str());
    assert!(
        (89..=90).contains(&days_from_now(r["cert_not_after"].as_str().unwrap())),
        "{r}"
    );
    assert!(
        (29..=30).contains(&days_from_now(r["secret_id_expires"].as_str().unwrap())),
        "{r}"
    );
    assert_eq!(r["wrapped_secret_id"], false);
    assert!(!r["changes"].as_array().unwrap().is_empty(), "{r}");
    outputs.push(added);

    let again =
        site.add_user(&["--output", "json", a])
            .run()
            .expect(
                site.expect(0)
                    .stdout(json_report(a, &alice.uid.to_string(), false, "[]")),
            );
    assert_eq!(
        parse_json(&again)["tenants"][0]["changes"],
        json!([]),
        "{again}"
    );
    outputs.push(again);

    let bob = site
        .add_user(&["--no-unix-user", "--wrap-ttl", "10m", "--output", "json", b])
        .run()
        .expect(
            site.expect(0)
                .stdout(json_report(
                    b,
                    "null",
                    true,
                    &created_changes(b, " (response-wrapped)"),
                ))
                .stderr(created_wrapped(b)),
        );
    let r = parse_json(&bob);
    assert_eq!(r["tenants"][0]["uid"], Value::Null);
    assert_eq!(r["tenants"][0]["wrapped_secret_id"], true);
    outputs.push(bob);

    let listed = site.vaultnet().args(["list", "--output", "json"]).run();
    let listed = listed.expect(site.expect(0).stdout(list_json(&[
        (a, &alice.uid.to_string(), false),
        (b, "null", true),
    ])));
    let rows = parse_json(&listed);
    let row_keys = set(&[
        "name",
        "uid",
        "cert_not_after",
        "cert_days_left",
        "secret_id_expires",
        "secret_id_days_left",
        "wrapped_secret_id",
        "installed",
        "installed_to",
        "network",
        "endpoint",
    ]);
    assert_eq!(keys(&rows), set(&["schema_version", "tenants"]), "{listed}");
    let rows = rows["tenants"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(rows.len(), 2, "{listed}");
    for row in rows {
        assert_eq!(keys(row), row_keys, "{listed}");
    }
    let row = |n: &str| rows.iter().find(|r| r["name"] == n).unwrap().clone();
    let ra = row(a);
    assert_eq!(ra["uid"], alice.uid);
    assert!(
        (89..=90).contains(&ra["cert_days_left"].as_i64().unwrap()),
        "{ra}"
    );
    assert!(
        (29..=30).contains(&ra["secret_id_days_left"].as_i64().unwrap()),
        "{ra}"
    );
    assert_eq!(
        ra["cert_not_after"],
        site.state()["tenants"][a]["cert_not_after"]
    );
    assert_eq!(ra["wrapped_secret_id"], false);
    assert_eq!(ra["installed"], false);
    assert_eq!(ra["installed_to"], Value::Null);
    let rb = row(b);
    assert_eq!(rb["uid"], Value::Null);
    assert_eq!(rb["wrapped_secret_id"], true);
    outputs.push(listed);

    let text = site.vaultnet().arg("list").run().expect(
        site.expect(0)
            .stdout(list_table(&[(a, &alice.uid.to_string()), (b, "-")])),
    );
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a header and one line per tenant\n{text}");
    let head: Vec<&str> = lines[0].split("  ").filter(|w| !w.is_empty()).collect();
    assert_eq!(
        head.iter().map(|w| w.trim()).collect::<Vec<_>>(),
        [
            "TENANT",
            "UID",
            "CERT EXPIRES",
            "SECRET_ID EXPIRES",
            "MAPPING",
            "ENDPOINT",
            "INSTALLED"
        ],
        "{text}"
    );
    let line_a = lines.iter().find(|l| l.starts_with(a)).unwrap();
    let line_b = lines.iter().find(|l| l.starts_with(b)).unwrap();
    assert!(line_a.contains(&alice.uid.to_string()), "{text}");
    let words_b: Vec<&str> = line_b.split_whitespace().collect();
    assert_eq!(words_b[1], "-", "a tenant without Unix user\n{text}");
    assert_eq!(words_b.last(), Some(&"no"), "{text}");
    assert!(text.stderr.is_empty(), "{text}");
    outputs.push(text);

    let token = site.login_bundle(a);
    let mut secrets = bundle_secrets(&site, a);
    secrets.extend(bundle_secrets(&site, b));
    secrets.push(("root token", site.bao().root_token.clone()));
    secrets.push(("tenant token", token));
    secrets.push(("CA key", pem_body_line(&site.path("pki/ca-key.pem"))));
    secrets.push((
        "operator key",
        pem_body_line(&site.path("operator/client-key.pem")),
    ));
    let removed = site.remove_user(&[a, b]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", removed(a, true), removed(b, true)))
            .stderr(site.gate_line()),
    );
    outputs.push(removed);
    let refs: Vec<&Output> = outputs.iter().collect();
    assert_no_secret(&site, &refs, &secrets);
}

/// `vaultnet … ARGS` through `sh -c 'umask 000; exec …'`, in the site's
/// namespace, with the root token.
fn under_umask_000(site: &Fixture, args: &[&str]) -> Cmd {
    let mut c = Cmd::new("/bin/sh");
    c.home(site.home())
        .env("BAO_TOKEN", &site.bao().root_token)
        .args(["-c", "umask 000 && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_vaultnet"))
        .arg("--dir")
        .arg(site.dir())
        .args(args);
    if let Some(ns) = site.ns_name() {
        c.netns(ns);
    }
    c
}

#[test]
fn bundle_secrets_are_0600_in_0700_dirs_under_umask_000_and_install_gives_them_to_the_tenant() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vnti").openbao().build();
    let alice = UnixUser::create("ia");
    let a = alice.name.as_str();
    under_umask_000(&site, &["add-user", a])
        .run()
        .expect(add_expect(&site, &[a], true));
    let bundle = site.bundle(a);
    assert_eq!(mode_owner(&site.path("tenants")).0, 0o700);
    assert_eq!(mode_owner(&bundle).0, 0o700);
    for f in bundle_files(a) {
        let want = if SECRET_FILES.contains(&f.as_str()) {
            0o600
        } else {
            0o644
        };
        assert_eq!(mode_owner(&bundle.join(&f)), (want, 0, 0), "{f}");
    }
    assert_eq!(mode_owner(&site.path("vaultnet.yaml")).0, 0o600);

    let out = under_umask_000(&site, &["add-user", "--install", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!(
                    "{}{}",
                    updated(
                        a,
                        &format!(
                            ", installed in {}",
                            alice.home.join(".config/vaultnet").display()
                        )
                    ),
                    next(a)
                ))
                .stderr(format!(
                "{a}: repaired `tenants/{a}/compose.yaml` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/app.yaml` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/cli.env` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/{a}-vault-agent.container` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/README.md` (it differed from what vaultnet wrote)
{a}: installed into `{}`
",
                alice.home.join(".config/vaultnet").display()
            )),
        );
    let target = alice.home.join(".config/vaultnet");
    assert!(
        out.stdout
            .contains(&format!("installed in {}", target.display())),
        "{out}"
    );
    let (mode, uid, gid) = mode_owner(&alice.home.join(".config"));
    assert_eq!((mode, uid, gid), (0o700, alice.uid, alice.gid), ".config");
    assert_eq!(
        mode_owner(&target),
        (0o700, alice.uid, alice.gid),
        "{}",
        target.display()
    );
    for f in bundle_files(a) {
        let want = if SECRET_FILES.contains(&f.as_str()) {
            0o600
        } else {
            0o644
        };
        let installed = target.join(&f);
        assert_eq!(
            mode_owner(&installed),
            (want, alice.uid, alice.gid),
            "{}",
            installed.display()
        );
        assert_eq!(
            std::fs::read(&installed).unwrap(),
            std::fs::read(bundle.join(&f)).unwrap(),
            "{f} differs from the bundle"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !bundle_files(a).contains(n))
        .collect();
    assert!(leftovers.is_empty(), "stray files: {leftovers:?}");
    let listed = site.vaultnet().args(["list", "--output", "json"]).run();
    let listed = listed.expect(site.expect(0).stdout(list_json_installed(&[(
        a,
        &alice.uid.to_string(),
        false,
        Some(&target),
    )])));
    let rows = parse_json(&listed);
    assert_eq!(rows["tenants"][0]["installed"], true);
    assert_eq!(
        rows["tenants"][0]["installed_to"],
        target.to_string_lossy().as_ref()
    );
    // The installed compose override points at the installed bundle.
    let compose = std::fs::read_to_string(target.join("compose.yaml")).unwrap();
    assert!(
        compose.contains(&format!(
            "${{VAULTNET_BUNDLE:-{}}}:/vaultnet:ro",
            target.display()
        )),
        "{compose}"
    );
}

/// A directory owned by root, mode 0700, that must stay empty.
fn root_owned_dir(parent: &Path, name: &str) -> PathBuf {
    let d = parent.join(name);
    std::fs::create_dir(&d).unwrap();
    std::os::unix::fs::chown(&d, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    d
}

#[track_caller]
fn assert_empty_dir(d: &Path) {
    let entries: Vec<_> = std::fs::read_dir(d).unwrap().collect();
    assert!(entries.is_empty(), "{} was written to", d.display());
}

#[test]
fn install_never_writes_through_a_symlink_or_hardlink_the_tenant_planted() {
    require_e2e!("runs OpenBao in a network namespace and adds Unix users");
    let site = Fixture::host("vntk").openbao().build();
    let mallory = UnixUser::create("ka");
    let m = mallory.name.as_str();
    site.add_user(&[m])
        .run()
        .expect(add_expect(&site, &[m], true));
    let victims = tempfile::Builder::new()
        .prefix("vaultnet-victim-")
        .tempdir()
        .unwrap();
    let link_as_tenant = |target: &Path, link: &Path| {
        std::os::unix::fs::symlink(target, link).unwrap();
        std::os::unix::fs::lchown(link, Some(mallory.uid), Some(mallory.gid)).unwrap();
    };
    let config = mallory.home.join(".config");
    std::fs::create_dir(&config).unwrap();
    std::os::unix::fs::chown(&config, Some(mallory.uid), Some(mallory.gid)).unwrap();

    // ~/.config/vaultnet -> a root-owned directory.
    let t1 = root_owned_dir(victims.path(), "t1");
    link_as_tenant(&t1, &config.join("vaultnet"));
    let out = site
        .add_user(&["--install", m])
        .run()
        .expect(site.expect(1).stderr(format!(
            "{m}: repaired `tenants/{m}/compose.yaml` (it differed from what vaultnet wrote)
{m}: repaired `tenants/{m}/app.yaml` (it differed from what vaultnet wrote)
{m}: repaired `tenants/{m}/cli.env` (it differed from what vaultnet wrote)
{m}: repaired `tenants/{m}/{m}-vault-agent.container` (it differed from what vaultnet wrote)
{m}: repaired `tenants/{m}/README.md` (it differed from what vaultnet wrote)
error: tenant `{m}`: refusing to write into `{}`: it is a symbolic link or not a directory
hint: remove the link or fix the owner, then run the command again
",
            config.join("vaultnet").display()
        )));
    assert!(
        out.stderr.contains("refusing to write into") && out.stderr.contains("symbolic link"),
        "{out}"
    );
    assert_empty_dir(&t1);
    std::fs::remove_file(config.join("vaultnet")).unwrap();

    // A parent: ~/.config -> a root-owned directory.
    std::fs::remove_dir(&config).unwrap();
    let t2 = root_owned_dir(victims.path(), "t2");
    link_as_tenant(&t2, &config);
    let out = site
        .add_user(&["--install", m])
        .run()
        .expect(site.expect(1).stderr(format!(
        "error: tenant `{m}`: refusing to write into `{}`: it is a symbolic link or not a directory
hint: remove the link or fix the owner, then run the command again
",
        config.display()
    )));
    assert!(out.stderr.contains("refusing to write into"), "{out}");
    assert_empty_dir(&t2);
    std::fs::remove_file(&config).unwrap();

    // ~/.config/vaultnet/secret_id hard-linked to a root-owned file.
    let dir = config.join("vaultnet");
    std::fs::create_dir_all(&dir).unwrap();
    for d in [&config, &dir] {
        std::os::unix::fs::chown(d, Some(mallory.uid), Some(mallory.gid)).unwrap();
    }
    let victim = mallory.home.join("root-owned");
    std::fs::write(&victim, "root's own data\n").unwrap();
    std::os::unix::fs::chown(&victim, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&victim, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::hard_link(&victim, dir.join("secret_id")).unwrap();
    let victim_ino = std::fs::metadata(&victim).unwrap().ino();

    let out = site.add_user(&["--install", m]).run().expect(
        site.expect(0)
            .stdout(format!(
                "{}{}",
                updated(m, &format!(", installed in {}", dir.display())),
                next(m)
            ))
            .stderr(format!("{m}: installed into `{}`\n", dir.display())),
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's own data\n"
    );
    let vm = std::fs::metadata(&victim).unwrap();
    assert_eq!(
        (vm.uid(), vm.mode() & 0o7777, vm.nlink()),
        (0, 0o600, 1),
        "{out}"
    );
    let installed = std::fs::symlink_metadata(dir.join("secret_id")).unwrap();
    assert_ne!(installed.ino(), victim_ino, "written through the hard link");
    assert_eq!(
        (installed.uid(), installed.mode() & 0o7777),
        (mallory.uid, 0o600)
    );
    assert_eq!(
        std::fs::read(dir.join("secret_id")).unwrap(),
        std::fs::read(site.bundle(m).join("secret_id")).unwrap()
    );
}

/// The installed bundle's README, "The `bao` CLI": its lines, run as
/// written by the tenant in a shell of its own (a clean environment, its
/// uid, its home; `bao` on its PATH), log in through the forwarder — with
/// AppRole, and with the certificate alone for a cert-auth tenant — and
/// print the tenant's own secret; the token they keep reads nothing of
/// the other tenant's.
#[test]
fn the_installed_readmes_cli_lines_log_in_and_read_the_tenants_own_secret() {
    require_e2e!("runs OpenBao and socat in a network namespace and adds Unix users");
    let site = Fixture::host("vnrdm").openbao().forwarder().build();
    let approle = UnixUser::create("rd");
    let cert = UnixUser::create("rc");
    let (a, c) = (approle.name.as_str(), cert.name.as_str());
    let dir = |u: &UnixUser| u.home.join(".config/vaultnet");
    let installed = |u: &UnixUser| {
        format!(
            "added tenant {n}: bundle in tenants/{n}, installed in {} (cert expires [DATE])\n{}",
            dir(u).display(),
            next(&u.name),
            n = u.name
        )
    };
    site.add_user(&["--install", a]).run().expect(
        site.expect(0).stdout(installed(&approle)).stderr(format!(
            "{}{a}: installed into `{}`\n{gate}",
            created(a),
            dir(&approle).display(),
            gate = site.gate_line()
        )),
    );
    site.add_user(&["--install", "--auth", "cert", c])
        .run()
        .expect(site.expect(0).stdout(installed(&cert)).stderr(format!(
            "{c}: policy `vaultnet-{c}`: created\n\
             {c}: cert auth at `cert/`: enabled\n\
             {c}: cert role `vaultnet-{c}`: created\n\
             {c}: client certificate issued, expires [DATE]\n\
             {c}: installed into `{}`\n{gate}",
            dir(&cert).display(),
            gate = site.gate_line()
        )));
    let bao = std::fs::canonicalize(crate::support::openbao::bao_binary()).expect("bao");
    let path = format!(
        "{}:/usr/local/bin:/usr/bin:/bin",
        bao.parent().expect("bao's folder").display()
    );
    let as_tenant = |u: &UnixUser, script: &str| -> Output {
        let mut cmd = Cmd::new("runuser");
        cmd.netns(site.ns().name())
            .args(["-u", &u.name, "--", "env", "-i"])
            .arg(format!("HOME={}", u.home.display()))
            .arg(format!("USER={}", u.name))
            .arg(format!("PATH={path}"))
            .args(["sh", "-ec", script])
            .current_dir(&u.home);
        cmd.run()
    };
    for (u, other) in [(&approle, c), (&cert, a)] {
        let value = format!("readme-s3cret-{}-{}", u.name, std::process::id());
        site.write_secret(&u.name, &value);
        let readme = std::fs::read_to_string(dir(u).join("README.md")).expect("the README");
        let block = readme_block(&readme, "## The `bao` CLI");
        // `-field` prints the value alone, with no newline off a terminal.
        as_tenant(u, &block).expect(Expect::success().stdout(value.clone()));
        let token = u.home.join(".vault-token");
        let meta = std::fs::metadata(&token).expect("the CLI kept the token in ~/.vault-token");
        assert_eq!((meta.uid(), meta.mode() & 0o777), (u.uid, 0o600));
        // The same shell and token, the other tenant's path: denied.
        let source = block.lines().next().expect("the line sourcing cli.env");
        let denied = as_tenant(
            u,
            &format!("{source}\nbao kv get -mount=secret -field=value tenants/{other}/app"),
        )
        .expect(Expect::code(2).stderr_any("OpenBao's error text, checked below"));
        assert!(denied.stderr.contains("permission denied"), "{denied}");
    }
}

/// PyYAML, the YAML 1.1 reader podman-compose parses compose files with,
/// reads every string back unchanged from what the bundle's YAML writer
/// makes of it, as a key and as a list item: 2000 generated strings of
/// the characters YAML gives a meaning to, and any characters, plus the
/// YAML 1.1 forms a YAML 1.2 parser reads differently (`yes`, `0:0`,
/// `010`, `1.2.3`, `2001-12-14`, `<<`, …).
#[test]
fn pyyaml_reads_every_string_the_yaml_writer_writes_back_unchanged() {
    require_e2e!("reads YAML with the PyYAML of .deps/venv, which scripts/deps installs");
    use proptest::strategy::{Strategy, ValueTree};
    let python = manifest_dir().join(".deps/venv/bin/python3");
    assert!(
        python.exists(),
        "{} is missing: run scripts/deps",
        python.display()
    );
    let strings = proptest::prop_oneof![
        "[-?:,\\[\\]{}#&*!|>'\"%@` \t\n.0-9_+~=<eExXoObBnNyYsStTrRuUfFaAlLiIcdD\u{85}\u{2028}\u{feff}]{0,10}",
        proptest::arbitrary::any::<String>(),
    ];
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut cases: Vec<String> = [
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "n",
        "~",
        "null",
        "",
        "0:0",
        "22:22",
        "1:20:30.5",
        "010",
        "0b11",
        "0x1f",
        "1_000",
        "1.2.3",
        "10.9.0.1",
        ".inf",
        "-.Inf",
        ".NaN",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "<<",
        "=",
        "services",
        "no-new-privileges:true",
        "${VAULTNET_BUNDLE:-./vaultnet}:/vaultnet:ro",
        "a: b",
        "a #b",
        "x:",
        " x",
        "x ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for _ in 0..2000 {
        cases.push(strings.new_tree(&mut runner).expect("a string").current());
    }
    let docs: Vec<Value> = cases
        .iter()
        .map(|s| {
            let doc = json!({ s.clone(): [s.clone()] });
            json!([vaultnet::render::yaml::to_string(&doc), doc])
        })
        .collect();
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), serde_json::to_vec(&docs).unwrap()).unwrap();
    let check = "import json, sys, yaml\n\
                 docs = json.load(open(sys.argv[1], encoding='utf-8'))\n\
                 for text, want in docs:\n\
                 \x20   got = yaml.safe_load(text)\n\
                 \x20   if got != want: print(json.dumps([text, got], default=str))\n\
                 print(len(docs), 'read back')\n";
    Cmd::new(&python)
        .arg("-c")
        .arg(check)
        .arg(input.path())
        .run()
        .expect(Expect::success().stdout(format!("{} read back\n", cases.len())));
}

#[test]
fn podman_compose_config_accepts_an_app_merged_with_the_bundle_override() {
    require_e2e!("runs OpenBao in a network namespace");
    let podman_compose = manifest_dir().join(".deps/venv/bin/podman-compose");
    assert!(
        podman_compose.exists(),
        "{} is missing: run scripts/deps",
        podman_compose.display()
    );
    let site = Fixture::host("vntc").openbao().build();
    let name = tenant_name("c");
    let a = name.as_str();
    site.add_user(&["--no-unix-user", a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", added(a), next(a)))
            .stderr(created(a)),
    );

    let project = tempfile::Builder::new()
        .prefix("vaultnet-project-")
        .tempdir()
        .unwrap();
    let vn = project.path().join("vaultnet");
    std::fs::create_dir(&vn).unwrap();
    for f in bundle_files(a) {
        std::fs::copy(site.bundle(a).join(&f), vn.join(&f)).unwrap();
    }
    std::fs::write(
        project.path().join("app.yaml"),
        "services:\n  app:\n    image: docker.io/library/busybox\n    command: [\"sh\", \"-c\", \"cat \\\"$$APP_SECRET_FILE\\\"\"]\n",
    )
    .unwrap();

    // `--dry-run`: podman-compose then parses and merges without asking
    // `podman --version` (Podman itself is not needed to read compose files).
    let out = Cmd::new(&podman_compose)
        .current_dir(project.path())
        .args([
            "--dry-run",
            "-f",
            "app.yaml",
            "-f",
            "vaultnet/compose.yaml",
            "config",
        ])
        .run()
        .expect(Expect::success().stdout_any(
            "podman-compose's own rendering of the merged file: its content is checked as YAML below",
        ));
    let merged: Value = serde_saphyr::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("podman-compose config printed no YAML: {e}\n{out}"));
    let agent = &merged["services"]["vault-agent"];
    assert_eq!(agent["read_only"], true, "{out}");
    assert_eq!(agent["cap_drop"], json!(["ALL"]), "{out}");
    assert_eq!(
        agent["security_opt"],
        json!(["no-new-privileges:true"]),
        "{out}"
    );
    let host: IpAddr = site.host_ip();
    assert_eq!(
        agent["extra_hosts"],
        json!([format!("vault.lan:{host}")]),
        "{out}"
    );
    // The bundle's `${VAULTNET_BUNDLE:-./vaultnet}` resolves to the copy
    // beside app.yaml; the secrets volume is shared with the app.
    assert_eq!(
        agent["volumes"],
        json!(["./vaultnet:/vaultnet:ro", "vaultnet-secrets:/secrets"]),
        "{out}"
    );
    assert_eq!(agent["user"], "0:0", "{out}");
    let app = &merged["services"]["app"];
    assert_eq!(app["image"], "docker.io/library/busybox", "{out}");
    assert_eq!(
        app["environment"]["APP_SECRET_FILE"], "/secrets/app",
        "{out}"
    );
    // `$$` reaches the container's shell as one `$`.
    assert_eq!(
        app["command"],
        json!(["sh", "-c", "cat \"$APP_SECRET_FILE\""]),
        "{out}"
    );
    assert_eq!(
        app["volumes"],
        json!(["vaultnet-secrets:/secrets:ro"]),
        "{out}"
    );
    assert!(
        app["depends_on"].get("vault-agent").is_some(),
        "the app must start after the agent\n{out}"
    );
    assert_eq!(
        merged["volumes"]["vaultnet-secrets"]["driver_opts"]["type"], "tmpfs",
        "{out}"
    );
}

/// Cert auth logs in with the bundle's key file alone and gets the
/// tenant's policy only; moving a tenant between AppRole and cert auth
/// takes the old way in away (its role, its secret_ids), and back again.
#[test]
fn a_tenant_moved_to_cert_auth_logs_in_by_certificate_and_loses_its_approle() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vntc").openbao().build();
    let name = tenant_name("c");
    let a = name.as_str();
    site.add_user(&["--no-unix-user", a])
        .run()
        .expect(add_expect(&site, &[a], false));
    let (role_id, secret_id) = (
        site.bundle_text(a, "role_id"),
        site.bundle_text(a, "secret_id"),
    );
    assert!(site.login(&role_id, &secret_id).is_ok());

    // Moved to cert auth.
    site.add_user(&["--no-unix-user", "--auth", "cert", a])
        .run()
        .expect(
            site.expect(0)
                .stdout(format!("{}{}", updated(a, ""), next(a)))
                .stderr(format!(
                    "{a}: cert auth at `cert/`: enabled
{a}: cert role `vaultnet-{a}`: created
{a}: deleted AppRole role `vaultnet-{a}` and its 1 secret_id(s)
{a}: repaired `tenants/{a}/agent.json` (it differed from what vaultnet wrote)
{a}: repaired `tenants/{a}/README.md` (it differed from what vaultnet wrote)
"
                )),
        );
    let (code, _) = site.root_api("GET", &format!("auth/approle/role/vaultnet-{a}"), None);
    assert_eq!(code, 404, "the AppRole role is still there");
    assert!(
        site.login(&role_id, &secret_id).is_err(),
        "the old secret_id still logs in"
    );
    for f in ["role_id", "secret_id"] {
        assert!(
            !site.bundle(a).join(f).exists(),
            "{f} is still in the bundle"
        );
    }
    let (code, role) = site.root_api("GET", &format!("auth/cert/certs/vaultnet-{a}"), None);
    assert_eq!(code, 200, "{role}");
    assert_eq!(role["data"]["allowed_common_names"], json!([a]));
    assert_eq!(
        role["data"]["token_policies"],
        json!([format!("vaultnet-{a}")])
    );
    assert_eq!(role["data"]["token_no_default_policy"], true);

    // The key file alone logs in, as the tenant's policy only.
    let key = site.bundle(a).join("client-key.pem");
    let login = |key: &Path| {
        let port = site.vault_addr().port();
        let out = site.ns().exec(
            std::process::Command::new("curl")
                .args(["-s", "--cacert"])
                .arg(site.path("pki/ca.pem"))
                .arg("--cert")
                .arg(key)
                .arg("--key")
                .arg(key)
                .arg("--resolve")
                .arg(format!("localhost:{port}:127.0.0.1"))
                .args(["-X", "POST", "-d"])
                .arg(format!("{{\"name\":\"vaultnet-{a}\"}}"))
                .arg(format!("https://localhost:{port}/v1/auth/cert/login")),
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    let answer = login(&key);
    assert_eq!(
        answer["auth"]["policies"],
        json!([format!("vaultnet-{a}")]),
        "{answer}"
    );
    // The operator's certificate (another common name) is refused.
    let refused = login(&site.path("operator/client-key.pem"));
    assert!(refused["auth"].is_null(), "{refused}");
    let agent: Value = serde_json::from_str(&site.bundle_text(a, "agent.json")).unwrap();
    assert_eq!(agent["auto_auth"]["method"][0]["type"], "cert");

    // And back: the cert role goes, a new secret_id comes.
    site.add_user(&["--no-unix-user", "--auth", "approle", a])
        .run()
        .expect_success();
    let (code, _) = site.root_api("GET", &format!("auth/cert/certs/vaultnet-{a}"), None);
    assert_eq!(code, 404, "the cert role is still there");
    assert!(login(&key)["auth"].is_null(), "cert login still works");
    site.login_bundle(a);
}

/// The gate's uids as the kernel of the fixture's namespace holds them.
fn loaded_gate_set(site: &Fixture, set: &str) -> Vec<u32> {
    let out = site
        .ns()
        .command("nft")
        .args(["list", "set", "inet", "vaultnet", set])
        .output()
        .expect("run nft");
    assert!(out.status.success(), "nft list set {set}: {out:?}");
    nft_set(&String::from_utf8_lossy(&out.stdout), set)
}

/// `add-user` and `remove-user` reload a loaded gate from the file they
/// rewrote, never load one that is not loaded (that stays the operator's
/// step, and they say what it leaves open), and leave a loaded one as it
/// is with `--no-gate-reload`, saying so.
#[test]
fn the_gate_is_reloaded_when_loaded_never_loaded_otherwise_and_kept_with_no_gate_reload() {
    require_e2e!("runs OpenBao and nft in a network namespace and adds Unix users");
    let site = Fixture::host("vngr").openbao().build();
    let alice = UnixUser::create("ga");
    let bob = UnixUser::create("gb");
    let (a, b) = (alice.name.as_str(), bob.name.as_str());

    // Not loaded: written, not loaded, and what that leaves open is said.
    assert!(!site.gate_loaded());
    site.add_user(&[a]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", added(a), next(a)))
            .stderr(format!("{}{}", created(a), NFT)),
    );
    assert!(
        !site.gate_loaded(),
        "add-user loaded a gate that was not loaded"
    );

    // Loaded, with --no-gate-reload: the kernel keeps the old gate.
    site.load_nft();
    site.add_user(&["--no-gate-reload", b]).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", added(b), next(b)))
            .stderr(format!(
                "{}wrote `forwarder/vaultnet.nft`: the loaded gate is not updated (`--no-gate-reload`); load it with `nft -f [STATE]/forwarder/vaultnet.nft`\n",
                created(b)
            )),
    );
    assert_eq!(loaded_gate_set(&site, "tenants"), vec![alice.uid]);
    let file = std::fs::read_to_string(site.path("forwarder/vaultnet.nft")).unwrap();
    let mut both = vec![alice.uid, bob.uid];
    both.sort();
    assert_eq!(nft_set(&file, "tenants"), both);

    // Loaded: remove-user reloads it; the kernel holds what the file says.
    site.remove_user(&[a]).run().expect(
        site.expect(0)
            .stdout(removed(a, false))
            .stderr(NFT_RELOADED),
    );
    assert_eq!(loaded_gate_set(&site, "tenants"), vec![bob.uid]);
    assert_eq!(loaded_gate_set(&site, "allowed"), vec![0, bob.uid]);
    site.unload_nft();
}
