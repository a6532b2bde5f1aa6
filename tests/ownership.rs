//! vaultnet touches only the Vault objects it made (SECURITY.md V7), for
//! real (gated by `VAULTNET_E2E=1`): an operator's own AppRole role and
//! policy named like a tenant survive `add-user` and `remove-user` of that
//! name (vaultnet's are `vaultnet-NAME`); objects of vaultnet's naming it
//! did not make are refused, by `add-user` unless `--adopt`, by
//! `remove-user` unless `--leftovers`, changing nothing.

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::require_e2e;
use crate::support::tenant::{add_expect, tenant_name};

/// An AppRole role and a policy made by hand, as an operator would, and
/// one secret_id of the role; returns that secret_id's accessor.
fn hand_made(site: &Fixture, role: &str, policy: &str) -> String {
    site.root_api_expect(
        "PUT",
        &format!("sys/policies/acl/{policy}"),
        Some(json!({ "policy": "path \"secret/data/ci/*\" { capabilities = [\"read\"] }" })),
        204,
    );
    site.root_api_expect(
        "POST",
        &format!("auth/approle/role/{role}"),
        Some(json!({ "token_policies": [policy], "token_ttl": 7200 })),
        204,
    );
    let v = site.root_api_expect(
        "POST",
        &format!("auth/approle/role/{role}/secret-id"),
        None,
        200,
    );
    v["data"]["secret_id_accessor"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The role's body and its secret_id accessors, to show nothing changed.
fn role_of(site: &Fixture, role: &str) -> (Value, Vec<String>) {
    let (code, body) = site.root_api("GET", &format!("auth/approle/role/{role}"), None);
    assert_eq!(code, 200, "role {role}: {body}");
    (
        body["data"].clone(),
        site.list(&format!("auth/approle/role/{role}/secret-id")),
    )
}

#[test]
fn add_user_and_remove_user_leave_an_operators_own_role_and_policy_of_the_same_name_alone() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnown").openbao().build();
    let name = tenant_name("own");
    let accessor = hand_made(&site, &name, &name);
    let before = role_of(&site, &name);
    assert_eq!(before.1, [accessor]);

    // Not a tenant: nothing of vaultnet's naming is there, nothing to do.
    site.remove_user(&[name.as_str()]).run().expect(
        site.expect(0)
            .stdout(format!("tenant {name} was not there: nothing to remove\n")),
    );
    site.add_user(&["--no-unix-user", name.as_str()])
        .run()
        .expect(add_expect(&site, &[&name], false));
    assert_eq!(
        role_of(&site, &name),
        before,
        "add-user touched the operator's role"
    );
    site.remove_user(&[name.as_str()])
        .run()
        .expect(site.expect(0).stdout(format!(
            "removed tenant {name}: destroyed 1 secret_id(s), deleted role and policy, removed `tenants/{name}`\n"
        )));
    assert_eq!(
        role_of(&site, &name),
        before,
        "remove-user touched the operator's role"
    );
    let (code, _) = site.root_api("GET", &format!("sys/policies/acl/{name}"), None);
    assert_eq!(code, 200, "remove-user deleted the operator's policy");
    let (code, _) = site.root_api("GET", &format!("auth/approle/role/vaultnet-{name}"), None);
    assert_eq!(code, 404, "vaultnet's own role is gone");
}

#[test]
fn objects_of_vaultnets_naming_it_did_not_make_are_refused_unless_adopted_or_named_leftovers() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnadp").openbao().build();
    let name = tenant_name("adp");
    let role = format!("vaultnet-{name}");
    let accessor = hand_made(&site, &role, &role);
    let vault_before = role_of(&site, &role);
    let disk_before = site.snapshot();

    site.add_user(&["--no-unix-user", name.as_str()]).run().expect(site.rejected(
        &format!(
            "tenant `{name}`: Vault already has policy `{role}` and AppRole role `{role}`, which vaultnet did not make"
        ),
        &format!(
            "choose another name, or take them over with `vaultnet add-user {name} --adopt` (their secret_ids are destroyed)"
        ),
    ));
    site.remove_user(&[name.as_str()]).run().expect(site.rejected(
        &format!("vaultnet has no tenant `{name}`, but Vault has policy `{role}` and AppRole role `{role}`"),
        &format!(
            "if an earlier vaultnet left them, remove them with `vaultnet remove-user {name} --leftovers`; `vaultnet list` shows the tenants"
        ),
    ));
    assert_eq!(
        role_of(&site, &role),
        vault_before,
        "a refusal changed Vault"
    );
    disk_before
        .without(".vaultnet.lock")
        .assert_same(&site.snapshot().without(".vaultnet.lock"), "the refusals");

    // Adopted: the role gets vaultnet's limits, and the secret_id vaultnet
    // did not issue goes. (Its report lists each repaired field of the
    // hand-made objects; Vault's side is checked instead.)
    site.add_user(&["--no-unix-user", "--adopt", name.as_str()])
        .run()
        .expect_success();
    let (body, accessors) = role_of(&site, &role);
    assert_eq!(body["token_ttl"], 3600, "{body}");
    assert_eq!(body["token_policies"], json!([role]), "{body}");
    assert_eq!(accessors.len(), 1);
    assert_ne!(accessors[0], accessor, "the hand-made secret_id survived");
    site.login_bundle(&name);

    // Leftovers: state lost, Vault's objects of vaultnet's naming remain;
    // `--leftovers` removes them.
    let yaml = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    let kept: Vec<&str> = yaml.lines().collect();
    let start = kept
        .iter()
        .position(|l| *l == format!("  {name}:"))
        .unwrap();
    let end = kept[start + 1..]
        .iter()
        .position(|l| !l.starts_with("    "))
        .map_or(kept.len(), |i| start + 1 + i);
    let mut lines = kept[..start].to_vec();
    lines.extend_from_slice(&kept[end..]);
    let mut text = lines.join("\n") + "\n";
    if text.ends_with("tenants:\n") {
        text.truncate(text.len() - "tenants:\n".len());
    }
    crate::support::write_private(&site.path("vaultnet.yaml"), text.as_bytes());
    site.remove_user(&[name.as_str()]).run().expect(site.rejected(
        &format!("vaultnet has no tenant `{name}`, but Vault has policy `{role}` and AppRole role `{role}`"),
        &format!(
            "if an earlier vaultnet left them, remove them with `vaultnet remove-user {name} --leftovers`; `vaultnet list` shows the tenants"
        ),
    ));
    // (The token of the login above is revoked with them.)
    site.remove_user(&["--leftovers", name.as_str()])
        .run()
        .expect(site.expect(0).stdout(format!(
            "removed tenant {name}: destroyed 1 secret_id(s), deleted role and policy, revoked 1 token(s), removed `tenants/{name}`\n"
        )));
    for path in [
        format!("auth/approle/role/{role}"),
        format!("sys/policies/acl/{role}"),
    ] {
        let (code, _) = site.root_api("GET", &path, None);
        assert_eq!(code, 404, "{path} is left");
    }
}
