//! `vaultnet doctor` against a real chain (gated by `VAULTNET_E2E=1`): a
//! namespace playing the host, a real OpenBao started from the listener
//! `init` wrote, two tenants provisioned by `add-user` for throw-away Unix
//! users, the socat forwarder from the generated unit and the nft gate
//! loaded (see `support::fixture`). A healthy host gives all ✓ and exit 0;
//! then each test breaks one link — the forwarder stopped, pointed at
//! another TLS server or at a port where nothing listens, Vault sealed, a
//! listener that lets clients in without a certificate, the CA file
//! replaced, an expired or mismatched tenant certificate, a secret file at
//! 0644, the host IP gone, a policy edited, a role deleted, a secret_id
//! destroyed, a stale `extra_hosts`, a black-holed forwarder address — and
//! checks that doctor exits 1 and names the broken check by its stable id,
//! with a hint naming the fix. Where the fix is a command, the test runs it
//! and doctor is green again, so the hint is shown to be the fix and not
//! merely a suggestion; and a tenant's `--login` failure caused by the
//! forwarder or a sealed Vault must not send the operator to `add-user`.
//! Also: `--strict`, `--user`, the ASCII marks, bad usage (exit 2) and the
//! operator token never printed.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use vaultnet::pki::{Ca, CertInfo};
use vaultnet::state::rfc3339;

use crate::support::cmd::Output;
use crate::support::doctor::{REPORT_NOT_COMPARED, Report, assert_no_token};
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::init::{
    NEXT_ADD_USER, ca_name, init_report, kept_certificates, next_ca_name, vault_setup,
};
use crate::support::tenant::{UnixUser, created, next, next_each, totals, up_to_date, updated};
use crate::support::{require_e2e, run_ok, wait_for, write_private};

/// The chain as `doctor`'s issue describes it, all of it working: in a
/// host namespace named after `prefix`, OpenBao set up by `init`, two
/// tenants, the socat forwarder and the nft gate loaded.
#[track_caller]
fn healthy(prefix: &str) -> Fixture {
    Fixture::host(prefix).tenants(2).forwarder().nft().build()
}

/// Asserts a report is all ✓: status ok, nothing failed, warned or skipped.
#[track_caller]
fn assert_all_ok(r: &Report) {
    assert_eq!(r.status(), "ok", "{}", r.out);
    for key in ["fail", "warn", "skip"] {
        assert_eq!(r.summary(key), 0, "summary.{key}\n{}", r.out);
    }
    assert!(r.summary("ok") > 0, "{}", r.out);
}

/// Asserts doctor failed (exit 1 was checked by the run) with overall
/// status `fail`, and that `id` is among the failed checks.
#[track_caller]
fn assert_failed(r: &Report, id: &str) {
    assert_eq!(r.status(), "fail", "{}", r.out);
    assert!(r.summary("fail") > 0, "{}", r.out);
    r.expect(id, "fail");
}

/// Asserts each tenant's `--login` check failed for want of the forwarder,
/// with a hint that sends the operator to the forwarder checks and not to
/// `add-user` (which cannot fix a forwarder).
#[track_caller]
fn assert_logins_blame_the_forwarder(site: &Fixture, r: &Report) {
    assert_logins_not_tried(site, r, "the check `forwarder (socat) at ");
}

/// The tenants' logins were not tried, each naming the failed check that
/// stopped them (`because` starts its title); the cause and its hint are
/// reported once, by that check, never blamed on the tenants' bundles.
#[track_caller]
fn assert_logins_not_tried(site: &Fixture, r: &Report, because: &str) {
    for t in [site.tenant(0), site.tenant(1)] {
        let id = format!("login.{t}");
        let c = r.expect(&id, "skip");
        assert!(c["hint"].is_null(), "{}", r.out);
        assert!(
            r.detail(&id).starts_with(&format!("not tried: {because}")),
            "{}",
            r.out
        );
    }
}

/// `Ok` once something accepts TCP connections on `addr` in the host's
/// namespace.
fn tcp_open(site: &Fixture, addr: std::net::SocketAddr) -> Result<(), String> {
    let out = site.ns().exec(Command::new("bash").arg("-c").arg(format!(
        "exec 3<>/dev/tcp/{}/{}",
        addr.ip(),
        addr.port()
    )));
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Text lines whose mark is `mark` (the first word after indentation).
fn marked<'a>(out: &'a Output, mark: &str) -> Vec<&'a str> {
    out.stdout
        .lines()
        .filter(|l| l.trim_start().split(' ').next() == Some(mark))
        .collect()
}

/// A further `init` with the root token that keeps every certificate.
fn init_kept_all(site: &Fixture) -> Expect {
    site.expect(0)
        .stdout(init_report(
            site,
            "vaultnet is initialised in `[STATE]`: nothing changed (6 checked)\n",
            "socat",
            NEXT_ADD_USER,
        ))
        .stderr(format!(
            "{}{}",
            kept_certificates(site),
            vault_setup("present", "present")
        ))
}

/// The site's CA, able to issue certificates the way vaultnet does.
#[track_caller]
fn site_ca(site: &Fixture) -> Ca {
    Ca::load(
        &std::fs::read_to_string(site.path("pki/ca.pem")).unwrap(),
        &std::fs::read_to_string(site.path("pki/ca-key.pem")).unwrap(),
    )
    .unwrap()
}

/// A key file's two parts: the private key, and the certificate after it.
#[track_caller]
fn split_identity(pem: &str) -> (String, String) {
    let at = pem
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("no certificate after the key:\n{pem}"));
    (pem[..at].to_string(), pem[at..].to_string())
}

/// The first certificate in a file of the state (`vault/server-key.pem`).
#[track_caller]
fn cert_in(site: &Fixture, rel: &str) -> CertInfo {
    CertInfo::parse(&std::fs::read_to_string(site.path(rel)).unwrap()).unwrap()
}

/// Asserts a check's status, detail and hint exactly (`hint` `None`: it
/// has none) and returns it.
#[track_caller]
fn assert_check<'a>(
    r: &'a Report,
    id: &str,
    status: &str,
    detail: &str,
    hint: Option<&str>,
) -> &'a Value {
    let c = r.expect(id, status);
    assert_eq!(r.detail(id), detail, "detail of `{id}`\n{}", r.out);
    assert_eq!(c["hint"].as_str(), hint, "hint of `{id}`\n{}", r.out);
    c
}

/// The `seconds_left` of a validity check, after asserting that its
/// `not_after` is `at` and that the days and seconds left agree with it.
#[track_caller]
fn assert_expires(r: &Report, id: &str, at: OffsetDateTime) -> i64 {
    let c = r.check(id);
    assert_eq!(
        c["not_after"].as_str(),
        Some(rfc3339::format(at).as_str()),
        "not_after of `{id}`\n{}",
        r.out
    );
    let left = c["seconds_left"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seconds_left in `{id}`: {c}"));
    assert_eq!(
        c["days_left"].as_i64(),
        Some(left / 86_400),
        "days_left of `{id}`\n{}",
        r.out
    );
    let now = (at - OffsetDateTime::now_utc()).whole_seconds();
    // A second of slack below: doctor and the test each round their own
    // clock reading to whole seconds.
    assert!(
        (now - 1..=now + 120).contains(&left),
        "`{id}`: seconds_left {left}, {now} now\n{}",
        r.out
    );
    left
}

/// Asserts the text report has `line` (after its indentation), and
/// `next` as the line after it when given.
#[track_caller]
fn assert_line(out: &Output, line: &str, next: Option<&str>) {
    let lines: Vec<&str> = out.stdout.lines().map(str::trim_start).collect();
    let i = lines
        .iter()
        .position(|l| *l == line)
        .unwrap_or_else(|| panic!("no line {line:?}\n{out}"));
    if let Some(next) = next {
        assert_eq!(lines.get(i + 1), Some(&next), "after {line:?}\n{out}");
    }
}

#[test]
fn doctor_on_a_healthy_host_reports_every_check_ok_and_exits_0() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndok");
    let (a, b) = (site.tenant(0), site.tenant(1));

    let r = site.report(&["--login"], 0);
    assert_all_ok(&r);
    // The ids scripts rely on are there, and ok.
    let mut ids = vec![
        "files.state".to_string(),
        "files.ca".into(),
        "files.server.chain".into(),
        "files.server.sans".into(),
        "files.operator.chain".into(),
        "files.modes".into(),
        "vault.tcp".into(),
        "vault.tls".into(),
        "vault.mtls".into(),
        "vault.health".into(),
        "forwarder.host_ip".into(),
        "forwarder.tcp".into(),
        "forwarder.tls".into(),
        "forwarder.mtls".into(),
        "forwarder.health".into(),
        "forwarder.same".into(),
        "vaultcfg.approle".into(),
        "vaultcfg.kv".into(),
        "nft.file".into(),
        "nft.loaded".into(),
    ];
    for t in [a, b] {
        for suffix in ["chain", "usage", "key", "expiry", "secret_id"] {
            ids.push(format!("files.tenant.{t}.{suffix}"));
        }
        for id in [
            format!("name.{t}"),
            format!("vaultcfg.{t}.role"),
            format!("vaultcfg.{t}.policy"),
            format!("vaultcfg.{t}.secret_id"),
            format!("login.{t}"),
        ] {
            ids.push(id);
        }
    }
    for id in &ids {
        r.expect(id, "ok");
    }
    assert!(r.detail("forwarder.health").contains("active"), "{}", r.out);

    // The text report: only ✓ marks, the same counts as the JSON.
    let out = site
        .doctor(&["--login", "--verbose"])
        .run()
        .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
    assert_no_token(&out, &site.bao().root_token);
    assert!(!out.stdout.contains('✗'), "{out}");
    assert!(marked(&out, "!").is_empty(), "{out}");
    assert!(!out.stdout.contains("hint:"), "{out}");
    assert!(marked(&out, "✓").len() > ids.len(), "{out}");
    assert!(
        out.stdout
            .contains(&format!("{} ok, 0 warning(s), 0 failed", r.summary("ok"))),
        "{out}"
    );
    assert!(out.stderr.is_empty(), "{out}");
}

#[test]
fn doctor_names_a_stopped_forwarder_and_how_to_start_it() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let mut site = healthy("vndfs");
    site.stop_forwarder();

    let r = site.report(&["--login"], 1);
    assert_failed(&r, "forwarder.tcp");
    r.expect_hint(
        "forwarder.tcp",
        "fail",
        &["systemctl enable --now vaultnet-forwarder.service"],
    );
    assert!(r.detail("forwarder.tcp").contains("refused"), "{}", r.out);
    // Only the forwarder is at fault: Vault itself is fine, and what
    // depends on the TCP connection is skipped, not failed.
    r.expect("vault.health", "ok");
    for id in ["forwarder.tls", "forwarder.mtls", "forwarder.health"] {
        r.expect(id, "skip");
    }
    // The tenants cannot log in, and doctor does not blame their bundles:
    // one failure, the forwarder's.
    assert_logins_blame_the_forwarder(&site, &r);
    assert_eq!(r.leaves("fail"), ["forwarder.tcp"], "{}", r.out);

    site.start_forwarder();
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_forwarder_that_leads_to_another_tls_server() {
    require_e2e!("runs OpenBao, openssl s_server and nft in a network namespace");
    let mut site = healthy("vndfo");
    site.stop_forwarder();
    // Something else answers TLS on the forwarder address: a self-signed
    // certificate for the right name, as a stray test server would have.
    let dir = site.scratch();
    let (cert, key) = (dir.join("other.pem"), dir.join("other-key.pem"));
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=vault.lan", "-addext"])
            .arg("subjectAltName=DNS:vault.lan")
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null()),
    );
    let mut s_server = Command::new("openssl");
    s_server
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(site.forwarder_addr().to_string())
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key);
    site.ns().spawn(&s_server, Some(&dir.join("s_server.log")));
    let addr = site.forwarder_addr();
    wait_for(
        "openssl s_server to listen",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || tcp_open(&site, addr),
    );

    let r = site.report(&[], 1);
    assert_failed(&r, "forwarder.tls");
    r.expect("forwarder.tcp", "ok");
    r.expect_hint("forwarder.tls", "fail", &["vault/listener.json"]);
    assert!(
        r.detail("forwarder.tls")
            .contains("not issued by the vaultnet CA"),
        "{}",
        r.out
    );
    // The fix: point the forwarder back at Vault's address.
    let vault = site.vault_addr().to_string();
    r.expect_hint(
        "forwarder.same",
        "fail",
        &["point the forwarder at", &vault],
    );
    r.expect("vault.tls", "ok");
    r.expect("vault.health", "ok");
}

#[test]
fn doctor_names_a_forwarder_whose_upstream_does_not_answer() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let mut site = healthy("vndfu");
    site.stop_forwarder();
    // The forwarder runs but points at a port where nothing listens (Vault
    // moved, the unit was not reinstalled): it accepts, then hangs up.
    let unit = std::fs::read_to_string(site.path("forwarder/vaultnet-forwarder.service")).unwrap();
    let mut argv = vaultnet::render::forwarder::exec_start(&unit).unwrap();
    let vault = site.vault_addr().to_string();
    let stale = format!("127.0.0.1:{}", site.vault_addr().port() + 5);
    assert!(
        argv.iter().any(|w| w.contains(&vault)),
        "no {vault} in {argv:?}"
    );
    for w in &mut argv {
        *w = w.replace(&vault, &stale);
    }
    let mut socat = Command::new(&argv[0]);
    socat.args(&argv[1..]);
    site.ns().spawn(&socat, None);
    let addr = site.forwarder_addr();
    wait_for(
        "the stale forwarder to listen",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || tcp_open(&site, addr),
    );

    let r = site.report(&["--login"], 1);
    assert_failed(&r, "forwarder.tls");
    r.expect("forwarder.tcp", "ok");
    // Not "start the forwarder" (it runs) and not a certificate problem.
    let hint = r.expect_hint("forwarder.tls", "fail", &["point the forwarder at", &vault]);
    assert!(!hint.contains("systemctl"), "{}", r.out);
    assert!(
        r.detail("forwarder.tls").contains("no TLS server"),
        "{}",
        r.out
    );
    r.expect_hint(
        "forwarder.same",
        "fail",
        &["point the forwarder at", &vault],
    );
    r.expect("forwarder.health", "skip");
    assert_logins_blame_the_forwarder(&site, &r);
    r.expect("vault.health", "ok");
}

#[test]
fn doctor_names_a_sealed_vault_and_the_unseal_command() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndse");
    site.bao().seal();

    let r = site.report(&["--login"], 1);
    assert_failed(&r, "vault.health");
    r.expect_hint("vault.health", "fail", &["bao operator unseal"]);
    assert!(r.detail("vault.health").contains("sealed"), "{}", r.out);
    // Through the forwarder it is the same Vault, sealed too; the checks
    // that need an active Vault say why they were skipped.
    r.expect_hint("forwarder.health", "fail", &["bao operator unseal"]);
    r.expect("forwarder.tls", "ok");
    r.expect("vaultcfg", "skip");
    // The tenants' logins would meet the sealed Vault: not tried, the
    // cause named once.
    assert_logins_not_tried(&site, &r, "the check `OpenBao at ");

    site.bao().unseal();
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_listener_that_does_not_require_client_certificates() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    // The operator dropped the requirement from Vault's listener (and
    // restarted it); everything else is as vaultnet wrote it.
    let site = Fixture::host("vndml")
        .listener(|tcp| {
            tcp["tls_require_and_verify_client_cert"] = json!(false);
        })
        .tenants(2)
        .forwarder()
        .nft()
        .build();

    let r = site.report(&["--login"], 1);
    for id in ["vault.mtls", "forwarder.mtls"] {
        assert_failed(&r, id);
        r.expect_hint(id, "fail", &["vault/listener.json", "client certificates"]);
        assert!(
            r.detail(id)
                .contains("answered HTTP 200 to a client without a certificate"),
            "{}",
            r.out
        );
    }
    // Nothing else is wrong: the finding is precise.
    assert_eq!(
        r.leaves("fail"),
        ["vault.mtls", "forwarder.mtls"],
        "{}",
        r.out
    );
    r.expect("vault.tls", "ok");
    r.expect("forwarder.same", "ok");
}

#[test]
fn doctor_names_a_ca_file_replaced_by_another_ca() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndca");
    let other = Fixture::builder().init().build();
    let original = std::fs::read(site.path("pki/ca.pem")).unwrap();
    std::fs::copy(other.path("pki/ca.pem"), site.path("pki/ca.pem")).unwrap();

    let r = site.report(&[], 1);
    assert_failed(&r, "files.ca");
    // The key is intact and its file holds the right certificate: the fix
    // is a plain `init`, not a new CA.
    let ca = site.path("pki/ca.pem");
    r.expect_hint(
        "files.ca.key",
        "fail",
        &["run `vaultnet init`: it puts back `pki/ca.pem` from `pki/ca-key.pem`"],
    );
    assert!(
        r.detail("files.ca.key")
            .contains("does not match the CA certificate"),
        "{}",
        r.out
    );
    // The certificates the CA issued are not judged against the wrong
    // file (their hint would be to reissue them all).
    for id in [
        "files.server.chain".to_string(),
        "files.operator.chain".into(),
        format!("files.tenant.{}.chain", site.tenant(0)),
    ] {
        r.expect(&id, "skip");
    }
    // Vault's own certificate still verifies: it is judged against the
    // CAs trusted now (`pki/trust.pem`), which the swap did not touch.
    r.expect("vault.tls", "ok");

    let out = site.init().env("BAO_TOKEN", &site.bao().root_token).run();
    let out = out.expect_success();
    assert!(
        out.stderr.starts_with(&format!(
            "repaired `pki/ca.pem`: put back the certificate of `pki/ca-key.pem` ({})\n",
            crate::support::init::ca_name_of(&site.path("pki/ca-key.pem"))
        )),
        "init's first line names the repair\n{out}"
    );
    assert_eq!(std::fs::read(&ca).unwrap(), original);
    assert_all_ok(&site.report(&[], 0));
}

#[test]
fn doctor_names_an_expired_tenant_certificate() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndex");
    let a = site.tenant(0);
    // Valid for one day, three days ago, in the key file as vaultnet
    // writes it (the key followed by its certificate), and alone beside it.
    let issued = site_ca(&site)
        .issue_client(
            a,
            time::Duration::days(1),
            OffsetDateTime::now_utc() - time::Duration::days(3),
        )
        .unwrap();
    let bundle = site.path(&format!("tenants/{a}"));
    write_private(&bundle.join("client.pem"), &issued.cert_pem);
    write_private(
        &bundle.join("client-key.pem"),
        issued.identity_pem().as_bytes(),
    );

    let r = site.report(&["--login"], 1);
    let id = format!("files.tenant.{a}.expiry");
    assert_failed(&r, &id);
    assert_check(
        &r,
        &id,
        "fail",
        &format!("expired on {} (2 days ago)", issued.not_after.date()),
        Some(&format!("run `vaultnet renew {a}`")),
    );
    let left = assert_expires(&r, &id, issued.not_after);
    assert!(left < -2 * 86_400 + 120, "{left}");
    // The rest of the certificate is fine: it is the expiry, precisely.
    for suffix in ["chain", "usage", "key", "alone"] {
        r.expect(&format!("files.tenant.{a}.{suffix}"), "ok");
    }
    // Vault refuses the certificate, and the login says so.
    let login = format!("login.{a}");
    r.expect_hint(&login, "fail", &[&format!("vaultnet add-user {a}")]);
    assert!(
        r.detail(&login).contains("client certificate was refused"),
        "{}",
        r.out
    );

    // `add-user` reissues an expired certificate too (as `renew` does).
    site.run_vaultnet_fix(
        &["add-user", a],
        &format!("{}{}", updated(a, ""), next(a)),
        &format!("{a}: client certificate reissued because it expired on [DATE], expires [DATE]\n"),
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_tenant_key_that_does_not_match_its_certificate() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndky");
    let (a, b) = (site.tenant(0), site.tenant(1));
    let key_a = site.path(&format!("tenants/{a}/client-key.pem"));
    let key_b = site.path(&format!("tenants/{b}/client-key.pem"));
    let (pem_a, pem_b) = (
        std::fs::read_to_string(&key_a).unwrap(),
        std::fs::read_to_string(&key_b).unwrap(),
    );
    let ((only_key_a, cert_a), (only_key_b, _)) = (split_identity(&pem_a), split_identity(&pem_b));
    // a: b's key in front of a's own certificate, in one file.
    write_private(&key_a, format!("{only_key_b}{cert_a}"));
    // b: a key file as an earlier vaultnet wrote it (the key alone), with
    // a's key beside b's `client.pem`.
    write_private(&key_b, &only_key_a);

    let r = site.report(&[], 1);
    for (t, detail) in [
        (
            a,
            format!(
                "the key in `tenants/{a}/client-key.pem` is not the key of the certificate in it"
            ),
        ),
        (
            b,
            format!("`tenants/{b}/client-key.pem` is not the key of `tenants/{b}/client.pem`"),
        ),
    ] {
        let id = format!("files.tenant.{t}.key");
        assert_failed(&r, &id);
        assert_check(
            &r,
            &id,
            "fail",
            &detail,
            Some(&format!(
                "run `vaultnet add-user {t}` (it reissues what is wrong)"
            )),
        );
        r.expect(&format!("files.tenant.{t}.chain"), "ok");
    }
    r.expect(&format!("files.tenant.{b}.joined"), "warn");

    site.run_vaultnet_fix(
        &["add-user", a, b],
        &format!(
            "{}{}{}{}",
            updated(a, ""),
            updated(b, ""),
            next_each(a),
            totals(0, 2, 0, 0)
        ),
        &[a, b]
            .map(|t| {
                format!("{t}: client certificate reissued because its key does not match it, expires [DATE]\n")
            })
            .concat(),
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_says_when_each_certificate_and_secret_id_expires_as_fields_and_in_minutes() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vnddl");
    let (a, b) = (site.tenant(0), site.tenant(1));
    // a: a real three-minute certificate and a ten-minute secret_id.
    site.run_vaultnet_fix(
        &[
            "add-user",
            a,
            "--rotate",
            "--cert-ttl",
            "3m",
            "--secret-id-ttl",
            "10m",
        ],
        // Minute lifetimes show the time, not only the date.
        &format!("{}{}", updated(a, "").replace("[DATE]", "[TIME]"), next(a)),
        &format!(
            "{a}: AppRole role `vaultnet-{a}` had drifted and was repaired: secret_id_ttl: 2592000 -> 600
{a}: client certificate rotated, expires [TIME]
{a}: secret_id issued, expires [TIME]
{a}: destroyed 1 other secret_id(s)
"
        ),
    );
    // b: a 30-minute certificate with under five minutes left (renewal is
    // due), and a 30-day secret_id the state says ends in an hour.
    let now = OffsetDateTime::now_utc();
    let issued = site_ca(&site)
        .issue_client(
            b,
            time::Duration::minutes(30),
            now + time::Duration::seconds(290) - time::Duration::minutes(30),
        )
        .unwrap();
    let bundle = site.bundle(b);
    write_private(&bundle.join("client.pem"), &issued.cert_pem);
    write_private(
        &bundle.join("client-key.pem"),
        issued.identity_pem().as_bytes(),
    );
    let recorded = site.state()["tenants"][b]["secret_id_expires"]
        .as_str()
        .unwrap()
        .to_string();
    let b_secret_id = now + time::Duration::seconds(3630);
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    assert_eq!(state.matches(&recorded).count(), 1, "{state}");
    write_private(
        &site.path("vaultnet.yaml"),
        state.replace(&recorded, &rfc3339::format(b_secret_id)),
    );

    let r = site.report(&["--login"], 0);
    assert_eq!(r.status(), "warn", "{}", r.out);
    let mut warned = r.leaves("warn");
    warned.sort();
    let mut want = vec![
        format!("files.tenant.{b}.expiry"),
        format!("files.tenant.{b}.secret_id"),
    ];
    want.sort();
    assert_eq!(warned, want, "{}", r.out);
    assert_eq!(r.summary("fail"), 0, "{}", r.out);

    // Far off: the date and whole days.
    for (id, file) in [
        ("files.ca.expiry", "pki/ca.pem"),
        ("files.server.expiry", "vault/server-key.pem"),
        ("files.operator.expiry", "operator/client-key.pem"),
    ] {
        let at = cert_in(&site, file).not_after;
        let left = assert_expires(&r, id, at);
        let detail = format!("expires {} ({} days left)", at.date(), left / 86_400);
        assert_check(&r, id, "ok", &detail, None);
    }
    // Under a day: the time, and minutes.
    let a_cert = cert_in(&site, &format!("tenants/{a}/client-key.pem")).not_after;
    let id = format!("files.tenant.{a}.expiry");
    let left = assert_expires(&r, &id, a_cert);
    assert!((120..180).contains(&left), "{left}\n{}", r.out);
    let a_cert_line = format!("expires {} (2m left)", rfc3339::format(a_cert));
    assert_check(&r, &id, "ok", &a_cert_line, None);
    let a_secret_id = rfc3339::parse(
        site.state()["tenants"][a]["secret_id_expires"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let id = format!("files.tenant.{a}.secret_id");
    let left = assert_expires(&r, &id, a_secret_id);
    assert!((540..600).contains(&left), "{left}\n{}", r.out);
    let detail = format!("expires {} (9m left)", rfc3339::format(a_secret_id));
    assert_check(&r, &id, "ok", &detail, None);
    // Due by the one rule: a warning, and the command that renews it.
    let id = format!("files.tenant.{b}.expiry");
    let left = assert_expires(&r, &id, issued.not_after);
    assert!((240..=290).contains(&left), "{left}\n{}", r.out);
    let b_cert_line = format!(
        "expires {}: 4m left of 33m, less than a third",
        rfc3339::format(issued.not_after)
    );
    let renew_b = format!("run `vaultnet renew {b}`");
    assert_check(&r, &id, "warn", &b_cert_line, Some(&renew_b));
    let id = format!("files.tenant.{b}.secret_id");
    let left = assert_expires(&r, &id, b_secret_id);
    assert!((3600..3630).contains(&left), "{left}\n{}", r.out);
    let renew_b_secret_id = format!("run `vaultnet renew {b}` (it issues a new secret_id)");
    assert_check(
        &r,
        &id,
        "warn",
        &format!(
            "expires {}: 1h left of 30 days, less than a third",
            rfc3339::format(b_secret_id)
        ),
        Some(&renew_b_secret_id),
    );

    // The text report says the same.
    let out = site
        .doctor(&["--verbose"])
        .run()
        .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
    assert_line(&out, &format!("✓ validity: {a_cert_line}"), None);
    assert_line(
        &out,
        &format!("! validity: {b_cert_line}"),
        Some(&format!("hint: {renew_b}")),
    );
}

#[test]
fn doctor_judges_the_certificate_in_the_key_file_and_names_a_stale_one_beside_it() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndkf");
    let (a, b) = (site.tenant(0), site.tenant(1));
    // a: the key file holds an expired pair — what the agent presents —
    // while `client.pem` still holds the valid certificate of before.
    let before = cert_in(&site, &format!("tenants/{a}/client.pem"));
    let expired = site_ca(&site)
        .issue_client(
            a,
            time::Duration::days(1),
            OffsetDateTime::now_utc() - time::Duration::days(3),
        )
        .unwrap();
    let expired_serial = CertInfo::parse(&expired.cert_pem).unwrap().serial;
    write_private(
        &site.path(&format!("tenants/{a}/client-key.pem")),
        expired.identity_pem().as_bytes(),
    );
    // b: a key file as an earlier vaultnet wrote it, the key alone.
    let key_b = site.path(&format!("tenants/{b}/client-key.pem"));
    let (only_key, _) = split_identity(&std::fs::read_to_string(&key_b).unwrap());
    write_private(&key_b, &only_key);
    // `vault/server.pem` is not the certificate Vault reads.
    let server = cert_in(&site, "vault/server-key.pem");
    let stray = cert_in(&site, "operator/client.pem");
    std::fs::copy(
        site.path("operator/client.pem"),
        site.path("vault/server.pem"),
    )
    .unwrap();

    let r = site.report(&["--login"], 1);
    assert_check(
        &r,
        &format!("files.tenant.{a}.expiry"),
        "fail",
        &format!("expired on {} (2 days ago)", expired.not_after.date()),
        Some(&format!("run `vaultnet renew {a}`")),
    );
    let a_stale = format!(
        "the certificate alone in `tenants/{a}/client.pem` is stale: serial {}, the key file holds serial {expired_serial}",
        before.serial
    );
    let a_rewrite = format!(
        "run `vaultnet add-user {a}` (it rewrites `tenants/{a}/client.pem` from `tenants/{a}/client-key.pem`)"
    );
    assert_check(
        &r,
        &format!("files.tenant.{a}.alone"),
        "warn",
        &a_stale,
        Some(&a_rewrite),
    );
    // Vault judges the same certificate: the login is refused.
    assert!(
        r.detail(&format!("login.{a}"))
            .contains("client certificate was refused"),
        "{}",
        r.out
    );
    let b_joined = format!(
        "`tenants/{b}/client-key.pem` holds only the key (written by an earlier vaultnet): the next `vaultnet add-user {b}` joins them"
    );
    assert_check(
        &r,
        &format!("files.tenant.{b}.joined"),
        "warn",
        &b_joined,
        Some(&format!(
            "run `vaultnet add-user {b}` (it joins the certificate to its key)"
        )),
    );
    assert_check(
        &r,
        "files.server.alone",
        "warn",
        &format!(
            "the certificate alone in `vault/server.pem` is stale: serial {}, the key file holds serial {}",
            stray.serial, server.serial
        ),
        Some("run `vaultnet init` (it rewrites `vault/server.pem` from `vault/server-key.pem`)"),
    );
    // The server's usage is judged on what the listener reads, not on the
    // client certificate now beside it; so is b's, from `client.pem`.
    for id in [
        "files.server.usage".to_string(),
        "files.server.sans".into(),
        "vault.served".into(),
        format!("files.tenant.{b}.key"),
        format!("files.tenant.{b}.expiry"),
        format!("login.{b}"),
    ] {
        r.expect(&id, "ok");
    }
    let mut failed = r.leaves("fail");
    failed.sort();
    let mut want = vec![format!("files.tenant.{a}.expiry"), format!("login.{a}")];
    want.sort();
    assert_eq!(failed, want, "{}", r.out);

    let out = site
        .doctor(&["--verbose"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert_line(
        &out,
        &format!(
            "! `tenants/{a}/client.pem` is the certificate in `tenants/{a}/client-key.pem`: {a_stale}"
        ),
        Some(&format!("hint: {a_rewrite}")),
    );
    assert_line(
        &out,
        &format!("! the key file holds the key and its certificate: {b_joined}"),
        None,
    );

    site.run_vaultnet_fix(
        &["add-user", a, b],
        &format!(
            "{}{}{}{}",
            updated(a, ""),
            updated(b, ""),
            next_each(a),
            totals(0, 2, 0, 0)
        ),
        &format!(
            "{a}: client certificate reissued because it expired on [DATE], expires [DATE]
{b}: joined the client certificate to its key in `client-key.pem`, so the pair is read as one
"
        ),
    );
    // `init` rewrites the certificate file from the key file it keeps (and
    // counts nothing as changed: the certificate is the same).
    let mut init = site.init();
    init.env("BAO_TOKEN", &site.bao().root_token)
        .run()
        .expect(init_kept_all(&site));
    assert_eq!(
        cert_in(&site, "vault/server.pem").der,
        server.der,
        "`init` rewrote `vault/server.pem` from the key file"
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_fails_while_vault_serves_an_older_certificate_than_its_key_file_until_reloaded() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndrl");
    let token = site.bao().root_token.clone();
    // A renewal on disk that Vault has not loaded: `init` issues the
    // server certificate again (for five minutes now) in place of its
    // missing key file, and Vault keeps serving the one it loaded.
    let renew_on_disk = |extra: &[&str], setting: &str| {
        let old = cert_in(&site, "vault/server-key.pem");
        std::fs::remove_file(site.path("vault/server-key.pem")).unwrap();
        let stderr = format!(
            "setting {setting}
kept CA `pki/ca.pem` ({}, expires [DATE])
kept next CA `pki/next-ca.pem` ({}, expires [DATE])
replaced Vault server certificate `vault/server.pem` because its certificate or key is missing (new serial [SERIAL], expires [TIME])
kept operator certificate `operator/client.pem` (expires [DATE])
wrote `vaultnet.yaml`
{}",
            ca_name(&site),
            next_ca_name(&site),
            vault_setup("present", "present")
        );
        site.init()
            .env("BAO_TOKEN", &token)
            .args(["--server-cert-ttl", "5m"])
            .args(extra)
            .run()
            .expect(
                site.expect(0)
                    .stdout(init_report(
                        &site,
                        "vaultnet initialised in `[STATE]`: 3 changed, 5 kept\n",
                        "socat",
                        NEXT_ADD_USER,
                    ))
                    .stderr(stderr),
            );
        let new = cert_in(&site, "vault/server-key.pem");
        assert_ne!(old.serial, new.serial);
        let served = CertInfo::parse(&site.bao().served_certificate().unwrap()).unwrap();
        assert_eq!(served.serial, old.serial, "Vault reloaded by itself");
        (old, new)
    };
    let (old, new) = renew_on_disk(&[], "server-cert-ttl: 365d -> 5m");

    let r = site.report(&["--login"], 1);
    let reload = "reload OpenBao: `systemctl reload openbao` or `kill -HUP <pid of bao server>` (after `vaultnet init --vault-reload-command …` or `--vault-pid-file …`, `vaultnet renew` does it)";
    let older = format!(
        "OpenBao serves an older certificate than `vault/server-key.pem`: serial {} is served, the file holds serial {}",
        old.serial, new.serial
    );
    assert_check(&r, "vault.served", "fail", &older, Some(reload));
    // Tenants see the same through the forwarder.
    assert_check(
        &r,
        "forwarder.served",
        "fail",
        &format!("through it, {older}"),
        Some(reload),
    );
    assert_eq!(
        r.leaves("fail"),
        ["vault.served", "forwarder.served"],
        "{}",
        r.out
    );
    r.expect("forwarder.same", "ok");
    let left = assert_expires(&r, "files.server.expiry", new.not_after);
    assert!((240..300).contains(&left), "{left}\n{}", r.out);
    assert_check(
        &r,
        "files.server.expiry",
        "ok",
        &format!("expires {} (4m left)", rfc3339::format(new.not_after)),
        None,
    );
    let out = site
        .doctor(&["--verbose"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert_line(
        &out,
        &format!("✗ serves the certificate in `vault/server-key.pem`: {older}"),
        Some(&format!("hint: {reload}")),
    );

    // SIGHUP to the server, as `systemctl reload openbao` sends it.
    site.bao().reload();
    assert_all_ok(&site.report(&["--login"], 0));

    // With the reload recorded, the hint names it, and as it stands it is
    // the fix.
    let pid = site.bao().server_pid();
    let command = format!("kill -HUP {pid}");
    let (old, new) = renew_on_disk(
        &["--vault-reload-command", &command],
        &format!("vault-reload: (none) -> run `{command}`"),
    );
    let r = site.report(&[], 1);
    assert_check(
        &r,
        "vault.served",
        "fail",
        &format!(
            "OpenBao serves an older certificate than `vault/server-key.pem`: serial {} is served, the file holds serial {}",
            old.serial, new.serial
        ),
        Some(&format!(
            "reload OpenBao: run `{command}` (`vaultnet renew` runs it)"
        )),
    );
    let words: Vec<&str> = command.split(' ').collect();
    run_ok(Command::new(words[0]).args(&words[1..]));
    site.bao().wait_serving_its_certificate_file();
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_fails_an_installed_copy_that_differs_from_the_bundle_and_never_follows_its_links() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace and adds Unix users");
    let site = Fixture::host("vndin").forwarder().nft().build();
    let user = UnixUser::create("di");
    let t = user.name.as_str();
    let dir = user.home.join(".config/vaultnet");
    site.add_user(&["--install", t]).run().expect(
        site.expect(0)
            .stdout(format!(
                "added tenant {t}: bundle in tenants/{t}, installed in {} (cert expires [DATE])\n{}",
                dir.display(),
                next(t)
            ))
            .stderr(format!(
                "{}{t}: installed into `{}`\n{gate}",
                created(t),
                dir.display(),
                gate = site.gate_line()
            )),
    );
    site.load_nft();
    // `add-user` copies the bundle again on every run once installed (and
    // does not count that as a change).
    let reinstalled = format!(
        "tenant {t} is up to date: bundle in tenants/{t}, installed in {} (cert expires [DATE])\n",
        dir.display()
    );
    let id = format!("files.tenant.{t}.installed");
    let title = format!("installed copy `{}`", dir.display());
    let r = site.report(&["--login"], 0);
    assert_all_ok(&r);
    assert_check(
        &r,
        &id,
        "ok",
        &format!("12 files as in `tenants/{t}/`"),
        None,
    );

    // The tenant edits one file, removes another, and puts a link where
    // its secret_id was — to the state's own copy, so a reader that
    // followed it would find the right bytes.
    let compose = dir.join("compose.yaml");
    let mut text = std::fs::read_to_string(&compose).unwrap();
    text.push_str("# mine\n");
    std::fs::write(&compose, text).unwrap();
    std::fs::remove_file(dir.join("README.md")).unwrap();
    std::fs::remove_file(dir.join("secret_id")).unwrap();
    std::os::unix::fs::symlink(site.bundle(t).join("secret_id"), dir.join("secret_id")).unwrap();
    std::os::unix::fs::lchown(dir.join("secret_id"), Some(user.uid), Some(user.gid)).unwrap();

    let r = site.report(&[], 1);
    let detail = format!(
        "`compose.yaml` differs from `tenants/{t}/`; `README.md` is missing; `secret_id` is a symbolic link (not followed)"
    );
    let fix = format!("run `vaultnet add-user {t}` (it installs the bundle again)");
    assert_check(&r, &id, "fail", &detail, Some(&fix));
    // The modes check names the link too; nothing else is wrong.
    let link = format!("files.modes.{}", dir.join("secret_id").display());
    r.expect(&link, "fail");
    assert_eq!(r.leaves("fail"), [id.as_str(), &link], "{}", r.out);
    let out = site
        .doctor(&["--verbose"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert_line(
        &out,
        &format!("✗ {title}: {detail}"),
        Some(&format!("hint: {fix}")),
    );
    site.run_vaultnet_fix(&["add-user", t], &reinstalled, "");
    assert_all_ok(&site.report(&["--login"], 0));

    // A link in place of the directory itself: refused, not followed,
    // even to a directory holding the very same files.
    let elsewhere = user.home.join("elsewhere");
    std::fs::rename(&dir, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    std::os::unix::fs::lchown(&dir, Some(user.uid), Some(user.gid)).unwrap();
    let r = site.report(&[], 1);
    assert_check(
        &r,
        &id,
        "fail",
        &format!(
            "refusing to read `{}`: it is a symbolic link or not a directory",
            dir.display()
        ),
        Some(&format!(
            "remove the link or fix the owner the message names, then run `vaultnet add-user {t}`"
        )),
    );
    std::fs::remove_file(&dir).unwrap();
    site.run_vaultnet_fix(&["add-user", t], &reinstalled, "");
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_secret_file_readable_by_others_and_the_chmod_that_fixes_it() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndmo");
    let a = site.tenant(0);
    let secret = site.path(&format!("tenants/{a}/secret_id"));
    run_ok(Command::new("chmod").arg("0644").arg(&secret));

    let r = site.report(&[], 1);
    let id = format!("files.modes.tenants/{a}/secret_id");
    assert_failed(&r, &id);
    let hint = r.expect_hint(&id, "fail", &["chmod 600"]);
    assert_eq!(hint, format!("chmod 600 {}", secret.display()), "{}", r.out);
    assert!(r.detail(&id).contains("0644"), "{}", r.out);
    assert_eq!(r.leaves("fail"), [id.as_str()], "{}", r.out);

    // The hint is a command: run it as it stands.
    let words: Vec<&str> = hint.split(' ').collect();
    run_ok(Command::new(words[0]).args(&words[1..]));
    assert_all_ok(&site.report(&[], 0));
}

#[test]
fn doctor_names_a_host_ip_removed_from_its_interface() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndip");
    site.ns().remove_address();

    let r = site.report(&[], 1);
    assert_failed(&r, "forwarder.host_ip");
    r.expect_hint(
        "forwarder.host_ip",
        "fail",
        &["vaultnet init --host-ip", "add-user"],
    );
    assert!(
        r.detail("forwarder.host_ip")
            .contains("extra_hosts is stale"),
        "{}",
        r.out
    );
    // The forwarder's port is unreachable for the same reason, and the
    // hint says that, not "start the forwarder".
    let ip = site.host_ip().to_string();
    let hint = r.expect_hint("forwarder.tcp", "fail", &[&format!("no route to {ip}")]);
    assert!(!hint.contains("systemctl"), "{}", r.out);
    // Vault itself is untouched.
    r.expect("vault.health", "ok");

    site.ns().restore_address();
    assert_all_ok(&site.report(&[], 0));
}

#[test]
fn doctor_shows_a_policy_edited_in_vault_as_a_diff() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndpo");
    let (a, b) = (site.tenant(0), site.tenant(1));
    // Someone broadened it to every tenant's secrets.
    broaden_policy(&site, a);

    let r = site.report(&["--login"], 1);
    let id = format!("vaultcfg.{a}.policy");
    assert_failed(&r, &id);
    r.expect_hint(&id, "fail", &[&format!("vaultnet add-user {a}")]);
    let detail = r.detail(&id);
    assert!(detail.contains("edited in Vault"), "{}", r.out);
    assert!(
        detail.contains("- ") && detail.contains("\"secret/data/tenants/*\""),
        "the diff does not show the added path\n{}",
        r.out
    );
    // The login proves what the edit means: alice can read bob's secrets.
    let login = format!("login.{a}");
    r.expect_hint(&login, "fail", &[&format!("vaultnet add-user {a}")]);
    assert!(r.detail(&login).contains(b), "{}", r.out);
    r.expect(&format!("vaultcfg.{b}.policy"), "ok");

    site.run_vaultnet_fix(
        &["add-user", a],
        &format!("{}{}", updated(a, ""), next(a)),
        &format!(
            "{a}: policy `vaultnet-{a}` had drifted and was repaired:\n    -     \"secret/data/tenants/*\": {{\n"
        ),
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

/// A token that may do everything but what `deny` names: `path "P" {
/// capabilities = […] }` lines after the catch-all.
fn token_with(site: &Fixture, name: &str, except: &str) -> String {
    let text = format!(
        "path \"*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\", \"sudo\"] }}\n{except}\n"
    );
    site.root_api_expect(
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some(json!({ "policy": text })),
        204,
    );
    let t = site.root_api_expect(
        "POST",
        "auth/token/create",
        Some(json!({ "policies": [name], "ttl": "1h" })),
        200,
    );
    t["auth"]["client_token"].as_str().unwrap().to_string()
}

/// One tenant's policy broadened to every tenant's secrets: a path that
/// reads every tenant's, added to the text vaultnet wrote.
fn broaden_policy(site: &Fixture, tenant: &str) {
    let path = format!("sys/policies/acl/vaultnet-{tenant}");
    let live = site.root_api_expect("GET", &path, None, 200);
    let text = live["data"]["policy"].as_str().unwrap();
    let mut doc: BTreeMap<String, BTreeMap<String, Value>> = serde_json::from_str(text).unwrap();
    doc.get_mut("path").unwrap().insert(
        "secret/data/tenants/*".into(),
        json!({"capabilities": ["read"]}),
    );
    let broader = serde_json::to_string_pretty(&doc).unwrap();
    site.root_api_expect("PUT", &path, Some(json!({ "policy": broader })), 204);
}

/// Over several tenants, doctor and add-user take every policy's text
/// from one listing where Vault has it (OpenBao's detailed listing),
/// and read each policy where it has not: the same drift is found, and
/// repaired, either way. The first token may not read a policy on its
/// own, so what it finds came from the listing; the second may not use
/// the listing, so what it finds came from the reads.
#[test]
fn policies_are_checked_from_one_listing_or_one_by_one_with_the_same_result() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndpl");
    let (a, b) = (site.tenant(0), site.tenant(1));
    let listing = token_with(
        &site,
        "vndpl-listing",
        "path \"sys/policies/acl/vaultnet-*\" { capabilities = [\"create\", \"update\", \"delete\"] }",
    );
    let reads = token_with(
        &site,
        "vndpl-reads",
        "path \"sys/policies/detailed/*\" { capabilities = [\"deny\"] }",
    );
    let with = |token: &str, args: &[&str]| {
        let mut c = site.vaultnet_without_token();
        c.env("BAO_TOKEN", token)
            .env("LC_ALL", "C.UTF-8")
            .args(args);
        c
    };
    let report = |token: &str, code: i32| {
        let out = with(token, &["doctor", "--output", "json"])
            .run()
            .expect(site.expect(code).stdout_any(REPORT_NOT_COMPARED));
        assert_no_token(&out, token);
        Report::parse(out)
    };

    broaden_policy(&site, a);
    site.root_api_expect(
        "DELETE",
        &format!("sys/policies/acl/vaultnet-{b}"),
        None,
        204,
    );
    for token in [&listing, &reads] {
        let r = report(token, 1);
        let (pa, pb) = (
            format!("vaultcfg.{a}.policy"),
            format!("vaultcfg.{b}.policy"),
        );
        r.expect(&pa, "fail");
        let detail = r.detail(&pa);
        assert!(
            detail.contains("edited in Vault") && detail.contains("\"secret/data/tenants/*\""),
            "{}",
            r.out
        );
        r.expect(&pb, "fail");
        assert_eq!(r.detail(&pb), "deleted from Vault", "{}", r.out);
        // The token does everything else doctor asks.
        for t in [a, b] {
            r.expect(&format!("vaultcfg.{t}.role"), "ok");
            r.expect(&format!("vaultcfg.{t}.secret_id"), "ok");
        }
    }

    let repaired = format!(
        "{a}: policy `vaultnet-{a}` had drifted and was repaired:\n    -     \"secret/data/tenants/*\": {{\n"
    );
    let out = with(&listing, &["add-user", a, b]).run().expect(
        site.expect(0)
            .stdout(format!(
                "{}{}{}{}",
                updated(a, ""),
                updated(b, ""),
                next_each(a),
                totals(0, 2, 0, 0)
            ))
            .stderr(format!("{repaired}{b}: policy `vaultnet-{b}`: created\n")),
    );
    assert_no_token(&out, &listing);
    for token in [&listing, &reads] {
        assert_all_ok(&report(token, 0));
    }

    broaden_policy(&site, a);
    let out = with(&reads, &["add-user", a, b]).run().expect(
        site.expect(0)
            .stdout(format!(
                "{}{}{}{}",
                updated(a, ""),
                up_to_date(b),
                next(a),
                totals(0, 1, 1, 0)
            ))
            .stderr(repaired),
    );
    assert_no_token(&out, &reads);
    assert_all_ok(&report(&listing, 0));
}

#[test]
fn doctor_names_a_role_deleted_from_vault() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndro");
    let a = site.tenant(0);
    site.root_api_expect(
        "DELETE",
        &format!("auth/approle/role/vaultnet-{a}"),
        None,
        204,
    );

    let r = site.report(&["--login"], 1);
    let id = format!("vaultcfg.{a}.role");
    assert_failed(&r, &id);
    r.expect_hint(&id, "fail", &[&format!("vaultnet add-user {a}")]);
    assert!(r.detail(&id).contains("deleted from Vault"), "{}", r.out);
    r.expect(&format!("login.{a}"), "fail");
    r.expect(&format!("vaultcfg.{}.role", site.tenant(1)), "ok");

    // The role is made anew, with a new role_id in its bundle; vaultnet
    // knew the tenant, so it counts as updated, not added.
    site.run_vaultnet_fix(
        &["add-user", a],
        &format!("{}{}", updated(a, ""), next(a)),
        &format!(
            "{a}: AppRole role `vaultnet-{a}`: created
{a}: secret_id issued, expires [DATE]
{a}: repaired `tenants/{a}/role_id` (it differed from what vaultnet wrote)
"
        ),
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_destroyed_secret_id_in_config_and_login() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndsi");
    let a = site.tenant(0);
    let state = site.state();
    let accessor = state["tenants"][a]["secret_id_accessor"]
        .as_str()
        .unwrap_or_else(|| panic!("no secret_id_accessor for {a}: {state}"))
        .to_string();
    site.root_api_expect(
        "POST",
        &format!("auth/approle/role/vaultnet-{a}/secret-id-accessor/destroy"),
        Some(json!({ "secret_id_accessor": accessor })),
        204,
    );

    let r = site.report(&["--login"], 1);
    let fix = format!("vaultnet add-user {a}");
    for id in [format!("vaultcfg.{a}.secret_id"), format!("login.{a}")] {
        assert_failed(&r, &id);
        r.expect_hint(&id, "fail", &[&fix]);
    }
    assert!(
        r.detail(&format!("vaultcfg.{a}.secret_id"))
            .contains("no longer exists"),
        "{}",
        r.out
    );
    assert!(
        r.detail(&format!("login.{a}")).contains("login refused"),
        "{}",
        r.out
    );
    r.expect(&format!("vaultcfg.{a}.role"), "ok");
    r.expect(&format!("login.{}", site.tenant(1)), "ok");

    site.run_vaultnet_fix(
        &["add-user", a],
        &format!("{}{}", updated(a, ""), next(a)),
        &format!("{a}: secret_id issued, expires [DATE]\n"),
    );
    assert_all_ok(&site.report(&["--login"], 0));
}

#[test]
fn doctor_names_a_bundle_whose_extra_hosts_maps_the_wrong_address() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndnm");
    let a = site.tenant(0);
    let compose = site.path(&format!("tenants/{a}/compose.yaml"));
    let text = std::fs::read_to_string(&compose).unwrap();
    let right = format!("vault.lan:{}", site.host_ip());
    assert!(text.contains(&right), "{text}");
    std::fs::write(&compose, text.replace(&right, "vault.lan:10.99.99.99")).unwrap();

    let r = site.report(&[], 1);
    let id = format!("name.{a}");
    assert_failed(&r, &id);
    r.expect_hint(&id, "fail", &[&format!("vaultnet add-user {a}")]);
    assert!(r.detail(&id).contains("10.99.99.99"), "{}", r.out);
    assert_eq!(r.leaves("fail"), [id.as_str()], "{}", r.out);

    site.run_vaultnet_fix(
        &["add-user", a],
        &format!("{}{}", updated(a, ""), next(a)),
        &format!(
            "{a}: repaired `tenants/{a}/compose.yaml` (it differed from what vaultnet wrote)\n"
        ),
    );
    assert_all_ok(&site.report(&[], 0));
}

#[test]
fn doctor_finishes_within_the_timeout_when_the_forwarder_address_is_black_holed() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndbh");
    let addr = site.forwarder_addr();
    // Every packet to the forwarder is dropped without an answer.
    let rules = site.scratch().join("blackhole.nft");
    std::fs::write(
        &rules,
        format!(
            "table inet vndblackhole {{\n  chain out {{\n    type filter hook output priority -10; policy accept;\n    ip daddr {} tcp dport {} drop\n  }}\n}}\n",
            addr.ip(),
            addr.port()
        ),
    )
    .unwrap();
    run_ok(site.ns().command("nft").arg("-f").arg(&rules));

    let start = Instant::now();
    let r = site.report(&["--login", "--timeout", "1"], 1);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "doctor took {took:?} with --timeout 1\n{}",
        r.out
    );
    assert_failed(&r, "forwarder.tcp");
    // Not "start the forwarder": it runs, something drops its packets.
    let hint = r.expect_hint(
        "forwarder.tcp",
        "fail",
        &[&format!("drops packets to {addr}"), "nft list ruleset"],
    );
    assert!(!hint.contains("systemctl"), "{}", r.out);
    assert!(
        r.detail("forwarder.tcp").contains("no answer within 1 s"),
        "{}",
        r.out
    );
    assert_logins_blame_the_forwarder(&site, &r);
    r.expect("vault.health", "ok");

    // The hint's own commands find the rule.
    let ruleset = run_ok(site.ns().command("nft").args(["list", "ruleset"]));
    assert!(ruleset.contains("vndblackhole"), "{ruleset}");
    run_ok(
        site.ns()
            .command("nft")
            .args(["delete", "table", "inet", "vndblackhole"]),
    );
    assert_all_ok(&site.report(&["--login", "--timeout", "1"], 0));
}

#[test]
fn doctor_strict_turns_an_unloaded_nft_table_warning_into_exit_1() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndst");
    site.unload_nft();

    let r = site.report(&[], 0);
    assert_eq!(r.status(), "warn", "{}", r.out);
    assert_eq!(r.summary("warn"), 1, "{}", r.out);
    assert_eq!(r.summary("fail"), 0, "{}", r.out);
    let file = site.path("forwarder/vaultnet.nft");
    let hint = r.expect_hint("nft.loaded", "warn", &[]);
    assert_eq!(hint, format!("nft -f {}", file.display()), "{}", r.out);

    let strict = site.report(&["--strict"], 1);
    strict.expect("nft.loaded", "warn");

    // The hint, run as it stands in the host's namespace.
    let words: Vec<&str> = hint.split(' ').collect();
    run_ok(site.ns().command(words[0]).args(&words[1..]));
    assert_all_ok(&site.report(&["--strict"], 0));
}

#[test]
fn doctor_prints_ascii_marks_without_a_utf8_locale() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let mut site = healthy("vndas");
    site.stop_forwarder();
    site.unload_nft();
    let mut cmd = site.doctor(&["--verbose"]);
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        cmd.env(var, "C");
    }
    let out = cmd
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert_no_token(&out, &site.bao().root_token);
    for mark in ["[ok]", "[warn]", "[FAIL]", "[skip]"] {
        assert!(!marked(&out, mark).is_empty(), "no {mark} line\n{out}");
    }
    assert!(
        out.stdout.is_ascii(),
        "non-ASCII output in the C locale\n{out}"
    );
    let fail = marked(&out, "[FAIL]");
    assert!(
        fail.iter().any(|l| l.contains("TCP")),
        "the forwarder's TCP check is not marked [FAIL]\n{out}"
    );
    assert!(
        out.stdout.contains(
            "hint: start the forwarder: `systemctl enable --now vaultnet-forwarder.service`"
        ),
        "{out}"
    );

    // And with a UTF-8 locale, the symbols.
    let out = site
        .doctor(&["--verbose"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    for mark in ["✓", "!", "✗"] {
        assert!(!marked(&out, mark).is_empty(), "no {mark} line\n{out}");
    }
}

#[test]
fn doctor_user_flag_limits_tenant_checks_to_that_tenant() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndus");
    let (a, b) = (site.tenant(0), site.tenant(1));
    // Bob's bundle is broken; alice's is not.
    run_ok(
        Command::new("chmod")
            .arg("0644")
            .arg(site.path(&format!("tenants/{b}/secret_id"))),
    );
    site.report(&[], 1)
        .expect(&format!("files.modes.tenants/{b}/secret_id"), "fail");

    let r = site.report(&["--login", "--user", a], 0);
    assert_all_ok(&r);
    let ids = r.ids();
    assert!(
        ids.iter().any(|i| i.contains(a)),
        "no check of `{a}`: {ids:?}"
    );
    let about_b: Vec<&String> = ids.iter().filter(|i| i.contains(b)).collect();
    assert!(
        about_b.is_empty(),
        "--user {a} checked {about_b:?}\n{}",
        r.out
    );
    for id in [
        format!("files.tenant.{a}"),
        format!("login.{a}"),
        format!("vaultcfg.{a}"),
    ] {
        r.expect(&id, "ok");
    }

    let r = site.report(&["--user", b], 1);
    r.expect(&format!("files.modes.tenants/{b}/secret_id"), "fail");
    assert!(!r.ids().iter().any(|i| i.contains(a)), "{}", r.out);
}

#[test]
fn doctor_never_prints_the_operator_token_right_or_wrong() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let site = healthy("vndtk");
    let token_file = site.scratch().join("token");
    write_private(&token_file, format!("{}\n", site.bao().root_token));

    // From a file, in text and JSON: every check runs, nothing leaks.
    for output in ["text", "json"] {
        let out = site
            .vaultnet_without_token()
            .args(["doctor", "--login", "--output", output, "--token-file"])
            .arg(&token_file)
            .run()
            .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
        assert_no_token(&out, &site.bao().root_token);
        if output == "json" {
            assert_all_ok(&Report::parse(out));
        }
    }

    // A wrong token: Vault's config cannot be read, and doctor says so
    // without echoing the token.
    let wrong = "s.doctorWRONGtoken7Qx2";
    for output in ["text", "json"] {
        let out = site
            .vaultnet_without_token()
            .env("BAO_TOKEN", wrong)
            .args(["doctor", "--output", output])
            .run()
            .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
        assert_no_token(&out, wrong);
        assert_no_token(&out, &site.bao().root_token);
        if output == "json" {
            let r = Report::parse(out);
            let hint = r.expect_hint("vaultcfg.approle", "fail", &["token"]);
            assert!(!hint.is_empty());
            assert!(
                r.detail("vaultcfg.approle").contains("permission denied"),
                "{}",
                r.out
            );
        }
    }

    // No token at all: the Vault config checks are skipped, and say why.
    let out = site
        .vaultnet_without_token()
        .args(["doctor", "--output", "json"])
        .run()
        .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
    let r = Report::parse(out);
    r.expect("vaultcfg", "skip");
    assert!(r.detail("vaultcfg").contains("BAO_TOKEN"), "{}", r.out);
}

#[test]
fn doctor_rejects_bad_usage_with_exit_2_and_a_hint() {
    // No root needed: an offline site's files are enough to reach every
    // check of the arguments.
    let uninit = Fixture::offline();
    uninit
        .vaultnet()
        .arg("doctor")
        .run()
        .expect(uninit.rejected(
            "vaultnet is not initialised in `[STATE]`",
            "run `vaultnet init` first, or pass the right `--dir`",
        ));

    let site = Fixture::builder().init().build();
    let before = site.snapshot();
    for (args, error, hint) in [
        (
            vec!["--user", "A B"],
            "invalid tenant name `A B`: must start with a lower-case letter or `_`",
            "tenant names are Unix user names: a lower-case letter or `_`, then up to 30 lower-case letters, digits, `_` or `-`, e.g. `alice`",
        ),
        (
            vec!["--user", "nosuch"],
            "there is no tenant `nosuch`",
            "`vaultnet list` shows the tenants",
        ),
        (
            vec!["--probe"],
            "`--probe` needs the tenant to probe as: `--user NAME`",
            "`vaultnet doctor --user NAME --probe`; `vaultnet list` shows the tenants",
        ),
        (
            vec!["--timeout", "0"],
            "invalid timeout 0",
            "pass seconds between 0 and 300, e.g. `--timeout 3`",
        ),
        (
            vec!["--token-file", "/nonexistent/token"],
            "token file `/nonexistent/token` does not exist",
            "pass the path of a file holding the operator token",
        ),
    ] {
        let out = site.vaultnet().arg("doctor").args(&args).run();
        if let Err(msg) = site.rejected(error, hint).check(&out) {
            panic!("{args:?}:\n{msg}");
        }
    }
    // An unknown flag is clap's usage error: exit 2 too.
    site.vaultnet()
        .args(["doctor", "--no-such-flag"])
        .run()
        .expect(site.expect(2).stderr(
            "error: unexpected argument '--no-such-flag' found

Usage: vaultnet doctor [OPTIONS]

For more information, try '--help'.
",
        ));
    before.assert_same(&site.snapshot(), "doctor with bad usage");
}

/// doctor runs `nft` to read the loaded gate; the operator token in its own
/// environment must not reach that child (SECURITY.md S6). A stand-in `nft`
/// first on PATH records the environment it was given.
#[test]
fn doctor_never_passes_the_operator_token_to_programs_it_runs() {
    let site = Fixture::builder().init().build();
    let bin = site.scratch().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let seen = site.scratch().join("nft-env");
    let script = bin.join("nft");
    std::fs::write(
        &script,
        format!("#!/bin/sh\n/usr/bin/env > '{}'\nexit 1\n", seen.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let token = "s.vaultnet-test-token-not-for-children";
    let out = site
        .vaultnet()
        .args(["doctor", "--timeout", "1"])
        .env("PATH", &path)
        .env("BAO_TOKEN", token)
        .env("VAULT_TOKEN", token)
        .run();
    // Nothing listens at the site's Vault address, so doctor fails; what
    // it says about the forwarder's address depends on this machine's
    // network, which the test does not own.
    let out = out.expect(site.expect(1).stdout_any(
        "the forwarder checks report on this machine's own network at the offline host IP",
    ));
    let env = std::fs::read_to_string(&seen).expect("doctor ran the stand-in nft");
    assert!(
        !env.contains(token),
        "the token reached a child process:\n{env}"
    );
    assert!(
        !env.contains("BAO_TOKEN") && !env.contains("VAULT_TOKEN"),
        "{env}"
    );
    assert_no_token(&out, token);
}

/// Tenants of the large-site test: more than doctor runs at once, and
/// names that extend each other (`m1`, `m10`, `m100`), the neighbours a
/// policy that lost its trailing slash would reach.
const MANY: usize = 300;

/// `doctor --login` on a site of [`MANY`] tenants (no Unix users: the
/// probes run in doctor's own process, through the socat forwarder) says
/// every one of them logs in — no false failure from hundreds of logins at
/// once — in tenant order, each checking its token against a bounded set
/// of neighbours (`vaultcfg::neighbours`) rather than every other tenant.
/// Before the bound (a thread and a TLS client per tenant at once, each
/// asking about every other tenant's path), 231 and 272 of the 300 logins
/// failed with "timed out" in two runs; 150 tenants were not enough to
/// show it. The test takes about two minutes, most of it the one
/// `add-user` of 300 tenants (70–110 s in a debug build on two cores).
#[test]
fn doctor_login_with_300_tenants_reports_no_false_failures() {
    require_e2e!("runs OpenBao and socat in a network namespace");
    let site = Fixture::host("vndmany").forwarder().build();
    let names: Vec<String> = (0..MANY).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut args = vec!["--no-unix-user"];
    args.extend(&refs);
    let started = Instant::now();
    site.add_user(&args)
        .timeout(Duration::from_secs(300))
        .run()
        .expect(crate::support::tenant::add_expect(&site, &refs, false));
    eprintln!(
        "[many] add-user of {MANY} tenants in one run: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let out = site
        .doctor(&["--login", "--output", "json"])
        .timeout(Duration::from_secs(300))
        .run();
    let took = started.elapsed();
    assert_no_token(&out, &site.bao().root_token);
    let r = Report::parse(out);
    let logins: Vec<&Value> = r.children("login");
    let failed: Vec<String> = logins
        .iter()
        .filter(|c| c["status"] != "ok")
        .map(|c| c.to_string())
        .collect();
    eprintln!(
        "[many] doctor --login of {MANY} tenants: {} logins ok, {} failed, in {:.1} s",
        logins.len() - failed.len(),
        failed.len(),
        took.as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} false login failure(s) of {MANY}: {failed:#?}",
        failed.len()
    );
    let mut sorted = names.clone();
    sorted.sort();
    let ids: Vec<String> = logins
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_string())
        .collect();
    let want: Vec<String> = sorted.iter().map(|n| format!("login.{n}")).collect();
    assert_eq!(ids, want, "logins must be reported in tenant order");
    for c in &logins {
        assert_eq!(
            c["detail"], "reads its own path, denied on 16 other tenant(s); token revoked",
            "{c}"
        );
    }
    assert_eq!(r.leaves("fail"), Vec::<String>::new(), "{}", r.out);
    assert_eq!(r.out.code, Some(0), "{}", r.out);
}

/// With the forwarder stopped, the cause is reported once: its check fails
/// with its hint, and the tenants' logins, which go through it, are not
/// tried but counted as skipped in one line naming it — not one failure
/// and one hint per tenant. `--quiet` shows only what failed or warned;
/// `--verbose` every check, the skipped logins with their reason.
#[test]
fn doctor_reports_a_stopped_forwarder_once_and_skips_the_logins_through_it() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let mut site = Fixture::host("vnddp").tenants(3).forwarder().nft().build();
    site.stop_forwarder();
    let r = site.report(&["--login"], 1);
    let tenants: Vec<String> = (0..3).map(|i| site.tenant(i).to_string()).collect();
    for t in &tenants {
        r.expect(&format!("login.{t}"), "skip");
        assert!(
            r.detail(&format!("login.{t}"))
                .starts_with("not tried: the check `forwarder"),
            "{}",
            r.out
        );
    }
    let skipped = r.leaves("skip");
    assert_eq!(
        skipped.iter().filter(|id| id.starts_with("login.")).count(),
        3,
        "{}",
        r.out
    );

    let start_hint =
        "hint: start the forwarder: `systemctl enable --now vaultnet-forwarder.service`";
    let out = site
        .doctor(&["--login"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert_eq!(out.stdout.matches(start_hint).count(), 1, "{out}");
    assert_line(&out, "- tenant logins: 0 ok, 3 skipped", None);
    // A green section is one line.
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("✓ files: ") && l.ends_with(" ok")),
        "{out}"
    );
    let lines = out.stdout.lines().count();

    let quiet = site
        .doctor(&["--login", "--quiet"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    assert!(marked(&quiet, "✓").is_empty(), "{quiet}");
    assert!(marked(&quiet, "-").is_empty(), "{quiet}");
    assert_eq!(quiet.stdout.matches(start_hint).count(), 1, "{quiet}");

    let verbose = site
        .doctor(&["--login", "--verbose"])
        .run()
        .expect(site.expect(1).stdout_any(REPORT_NOT_COMPARED));
    for t in &tenants {
        assert!(
            verbose.stdout.contains(&format!(
                "- tenant `{t}`: login through the forwarder: not tried: the check `forwarder"
            )),
            "{verbose}"
        );
    }
    assert!(verbose.stdout.lines().count() > lines, "{verbose}\n{out}");
    assert!(out.stdout.lines().count() > quiet.stdout.lines().count());
}
