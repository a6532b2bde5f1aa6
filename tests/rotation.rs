//! CA rotation, for real (gated by `VAULTNET_E2E=1`): `renew --rotate-ca`
//! switches to the next CA only once OpenBao trusts it (OpenBao reads its
//! client CA file only when it starts), reissues every certificate under
//! it, has OpenBao load its new server certificate, and keeps the old CA
//! trusted while a certificate it issued may still be in use. The agent's
//! side of a rotation is in `tests/renewal.rs`.

use serde_json::json;

use crate::support::fixture::Fixture;
use crate::support::init::ca_name_of;
use crate::support::openbao::probe;
use crate::support::require_e2e;

fn ca_name(site: &Fixture, rel: &str) -> String {
    ca_name_of(&site.path(rel))
}

fn issuer_of(pem: &str) -> String {
    vaultnet::pki::CertInfo::parse(pem).unwrap().issuer
}

fn subject_of(site: &Fixture, rel: &str) -> String {
    vaultnet::pki::CertInfo::parse(&std::fs::read_to_string(site.path(rel)).unwrap())
        .unwrap()
        .subject
}

/// A site whose OpenBao was started before the next CA was trusted (its
/// client CA file is `pki/ca.pem`, the current CA alone): the rotation is
/// refused with the restart that fixes it, and nothing changes.
#[test]
fn renew_rotate_ca_is_refused_while_vault_does_not_trust_the_next_ca() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnrca")
        .listener(|tcp| {
            let key = tcp["tls_key_file"].as_str().unwrap().to_string();
            let ca = key.replace("vault/server-key.pem", "pki/ca.pem");
            tcp["tls_client_ca_file"] = json!(ca);
        })
        .tenants(1)
        .build();
    let name = site.tenant(0).to_string();
    let before = site.snapshot();
    site.vaultnet().args(["renew", "--rotate-ca"]).run().expect(site.refused(
        1,
        "OpenBao does not trust the next CA yet: it reads its client CA file `pki/trust.pem` only when it starts",
        "restart OpenBao (`systemctl restart openbao`), then run `vaultnet renew --rotate-ca` again",
    ));
    let after = site.snapshot();
    before.clone().without(".vaultnet.lock").assert_same(
        &after.clone().without(".vaultnet.lock"),
        "a refused rotation",
    );
    site.vaultnet()
        .args(["renew", "--rotate-ca", &name])
        .run()
        .expect(site.rejected(
            "`--rotate-ca` reissues every certificate of the site: it takes no tenant names",
            "run `vaultnet renew --rotate-ca` alone",
        ));
    after.assert_same(&site.snapshot(), "a rotation with names");
}

/// The rotation itself: a dry run names what it would do; the real run
/// switches, reissues the server, operator and tenant certificates under
/// the new CA, and OpenBao serves the new server certificate; the bundle
/// trusts the new, the next and the old CA; the old CA's key is kept,
/// 0600; the tenant logs in with its new bundle, and its old certificate
/// still passes OpenBao's handshake (a copy may be in use elsewhere until
/// it expires); a second rotation waits for that expiry; doctor is green.
#[test]
fn renew_rotate_ca_reissues_every_certificate_under_the_next_ca() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnrcb").tenants(1).build();
    let (pid, _) = site.record_vault_pid_file();
    let name = site.tenant(0).to_string();
    let (old, next) = (
        ca_name(&site, "pki/ca.pem"),
        ca_name(&site, "pki/next-ca.pem"),
    );
    let old_subject = subject_of(&site, "pki/ca.pem");
    let old_serial =
        vaultnet::pki::CertInfo::parse(&std::fs::read_to_string(site.path("pki/ca.pem")).unwrap())
            .unwrap()
            .serial;
    let old_client = site.scratch().join("old-client-key.pem");
    std::fs::copy(site.bundle(&name).join("client-key.pem"), &old_client).unwrap();
    let old_not_after = site.state()["tenants"][&name]["cert_not_after"]
        .as_str()
        .unwrap()
        .to_string();

    let before = site.snapshot();
    site.vaultnet()
        .args(["renew", "--rotate-ca", "--dry-run"])
        .run()
        .expect(site.expect(0).stdout(format!(
            "ca: would switch from `{old}` to the next CA `{next}` (if Vault trusts it) and make a new next one
vault: would renew the server certificate because the CA rotates
operator: would renew the operator certificate because the CA rotates
{name}: would renew the client certificate because the CA rotates
"
        )));
    before.assert_same(&site.snapshot(), "renew --rotate-ca --dry-run");

    let out = site.vaultnet().args(["renew", "--rotate-ca"]).run();
    let newest = ca_name(&site, "pki/next-ca.pem");
    out.expect(
        site.expect(0)
            .redact(pid, "[PID]")
            .redact(&old_serial[..16], "[OLD]")
            .stdout(format!(
                "renewed tenant {name} (cert expires [DATE], secret_id expires [DATE]); no agent running (it reads the new files when it starts)\n"
            ))
            .stderr(format!(
                "site: rotated the CA: `{old}` -> `{next}`; the old one is kept in `pki/replaced/ca-[DATE]-[OLD]-key.pem` and trusted until [DATE]
site: created next CA `pki/next-ca.pem` ({newest}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it
site: updated `pki/trust.pem`
{name}: client certificate reissued because it was issued by another CA, expires [DATE]
{name}: updated `tenants/{name}/ca.pem` to the CAs trusted now
{name}: no agent running (it reads the new files when it starts)
site: replaced Vault server certificate `vault/server.pem` because it was issued by another CA (new serial [SERIAL], expires [DATE])
site: replaced operator certificate `operator/client.pem` because it was issued by another CA (new serial [SERIAL], expires [DATE])
site: OpenBao reloaded (sent SIGHUP to pid [PID]) and serves the new certificate
"
            )),
    );
    let new_subject = subject_of(&site, "pki/ca.pem");
    assert_ne!(new_subject, old_subject);
    assert_eq!(ca_name(&site, "pki/ca.pem"), next);
    assert_eq!(ca_name(&site, "pki/previous-ca.pem"), old);
    let served = site.bao().served_certificate().unwrap();
    assert_eq!(
        issuer_of(&served),
        new_subject,
        "OpenBao serves the new server certificate"
    );
    // The bundle trusts the new CA, the next one and the old one, in that
    // order; its certificate is the new CA's.
    let names: Vec<String> = std::fs::read_to_string(site.bundle(&name).join("ca.pem"))
        .unwrap()
        .split_inclusive("-----END CERTIFICATE-----\n")
        .map(|pem| {
            vaultnet::pki::CertInfo::parse(pem)
                .unwrap()
                .common_name
                .unwrap()
        })
        .collect();
    assert_eq!(names, [next.clone(), newest.clone(), old.clone()]);
    assert_eq!(
        issuer_of(&site.bundle_text(&name, "client.pem")),
        new_subject
    );
    // The old CA is kept, key and certificate, for the operator only.
    let kept: Vec<_> = std::fs::read_dir(site.path("pki/replaced"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(ca_name_of(&kept[0]), old);
    assert_eq!(
        site.state()["previous_ca"]["until"].as_str().unwrap(),
        old_not_after,
        "the old CA is trusted until the old tenant certificate expires"
    );
    // The tenant logs in with its new bundle; its old certificate still
    // passes the handshake.
    site.login_bundle(&name);
    let trust = site.path("pki/trust.pem");
    let addr = site.vault_addr().to_string();
    assert_eq!(
        probe(
            site.ns_name(),
            &addr,
            &trust,
            Some((&old_client, &old_client))
        ),
        Ok(200),
        "OpenBao still accepts a certificate of the old CA"
    );
    assert_eq!(
        probe(
            site.ns_name(),
            &addr,
            &trust,
            Some((
                &site.bundle(&name).join("client-key.pem"),
                &site.bundle(&name).join("client-key.pem")
            ))
        ),
        Ok(200)
    );

    // Again at once: the old CA is still in use until its last certificate
    // expires, and a second switch would drop it.
    let before = site.snapshot();
    site.vaultnet().args(["renew", "--rotate-ca"]).run().expect(site.rejected(
        "the CA before the current one is still trusted until [DATE], when the last certificate it issued expires",
        "run `vaultnet renew --rotate-ca` after [DATE]",
    ));
    before.without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "a refused second rotation",
    );
    // And a plain renew has nothing to do.
    site.vaultnet()
        .arg("renew")
        .run()
        .expect(site.expect(0).stdout(format!(
            "tenant {name}: nothing due (cert expires [DATE], secret_id expires [DATE])\nsite: nothing due\n"
        )));
}
