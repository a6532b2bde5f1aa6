//! `vaultnet init` against a real OpenBao, in a network namespace playing
//! the host (gated by `VAULTNET_E2E=1`: root and `ip netns`). OpenBao is
//! started from the listener file `init` wrote, then initialised and
//! unsealed for real. These tests show that the listener answers only a
//! valid client certificate of the vaultnet CA (SECURITY.md T1, T3: no
//! certificate, another CA's, an expired, a not-yet-valid and a
//! serverAuth-only one all get no answer); that `init` with an operator
//! token from each source enables AppRole and KV v2 on the server and a
//! further run changes nothing, on disk or in OpenBao; and that a wrong
//! token, a KV mount of another type, a sealed server and no server at all
//! each give the exit code and message the contract promises.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use vaultnet::pki::{Ca, Issued};

use crate::support::cmd::Output;
use crate::support::fixture::Fixture;
use crate::support::init::{
    KEPT_PKI, NEXT_ADD_USER, bootstrap_init, init_report, init_stdout_with_vault, initialised,
    kept_certificates, left_to_do, vault_setup,
};
use crate::support::openbao::{OpenBao, probe};
use crate::support::require_e2e;
use crate::support::write_private;

/// Files every `init` writes (default forwarder), relative to the state.
const WRITTEN: &[&str] = &[
    "vaultnet.yaml",
    "pki/ca.pem",
    "pki/ca-key.pem",
    "vault/server.pem",
    "vault/server-key.pem",
    "vault/listener.json",
    "operator/client.pem",
    "operator/client-key.pem",
    "forwarder/vaultnet-forwarder.service",
];

/// A wrong operator token, distinctive enough to spot in any output.
const WRONG_TOKEN: &str = "s.wrongTOKENvaultnetE2E4kq8Zr";

/// A site in its own namespace, after an `init` with no Vault running
/// (which must still write every file and say what is left), and OpenBao
/// started from what it wrote.
#[track_caller]
fn site_with_openbao(prefix: &str) -> Fixture {
    let site = Fixture::host(prefix).openbao_without_token().build();
    let out = site.init_output();
    for f in WRITTEN {
        assert!(site.path(f).is_file(), "`{f}` missing\n{out}");
    }
    site
}

/// Writes an issued pair under `dir` as NAME.pem and NAME-key.pem.
fn write_pair(dir: &Path, name: &str, issued: &Issued) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, &issued.cert_pem).unwrap();
    write_private(&key, issued.key_pem.as_bytes());
    (cert, key)
}

#[track_caller]
fn assert_refused(site: &Fixture, bao: &OpenBao, what: &str, cert: Option<(&Path, &Path)>) {
    let r = probe(
        site.ns_name(),
        &bao.addr().to_string(),
        &site.path("pki/ca.pem"),
        cert,
    );
    eprintln!("probe with {what}: {r:?}");
    assert!(r.is_err(), "OpenBao answered a client with {what}: {r:?}");
}

#[test]
fn openbao_with_the_init_listener_answers_only_valid_vaultnet_client_certificates() {
    require_e2e!("starts OpenBao in a network namespace");
    let site = site_with_openbao("vnie");
    let bao = site.bao();
    let addr = bao.addr().to_string();
    let ca_path = site.path("pki/ca.pem");
    let operator = (
        site.path("operator/client.pem"),
        site.path("operator/client-key.pem"),
    );
    assert_eq!(
        probe(
            site.ns_name(),
            &addr,
            &ca_path,
            Some((&operator.0, &operator.1))
        ),
        Ok(200),
        "the operator certificate must be let in"
    );
    assert_refused(&site, bao, "no certificate", None);

    // Vault listens on loopback only: not on the host address.
    let on_host_ip = format!("{}:{}", site.host_ip(), bao.addr().port());
    let r = probe(
        site.ns_name(),
        &on_host_ip,
        &ca_path,
        Some((&operator.0, &operator.1)),
    );
    assert!(r.is_err(), "Vault answered on {on_host_ip}: {r:?}");

    // Another install's CA, and its operator certificate.
    let other = Fixture::builder().init().build();
    assert_refused(
        &site,
        bao,
        "another CA's client certificate",
        Some((
            &other.path("operator/client.pem"),
            &other.path("operator/client-key.pem"),
        )),
    );

    // The vaultnet CA's own certificates that must still be refused. A
    // fresh, valid one issued the same way proves the others fail for the
    // reason named, not because the files are unusable.
    let ca = Ca::load(
        &std::fs::read_to_string(&ca_path).unwrap(),
        &std::fs::read_to_string(site.path("pki/ca-key.pem")).unwrap(),
    )
    .unwrap();
    let now = OffsetDateTime::now_utc();
    let certs = site.scratch().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let control = write_pair(
        &certs,
        "control",
        &ca.issue_client("control", Duration::days(1), now).unwrap(),
    );
    assert_eq!(
        probe(
            site.ns_name(),
            &addr,
            &ca_path,
            Some((&control.0, &control.1))
        ),
        Ok(200),
        "a valid client certificate from the vaultnet CA"
    );
    let expired = write_pair(
        &certs,
        "expired",
        &ca.issue_client("expired", Duration::days(1), now - Duration::days(3))
            .unwrap(),
    );
    assert_refused(
        &site,
        bao,
        "an expired certificate",
        Some((&expired.0, &expired.1)),
    );
    let future = write_pair(
        &certs,
        "future",
        &ca.issue_client("future", Duration::days(30), now + Duration::days(3))
            .unwrap(),
    );
    assert_refused(
        &site,
        bao,
        "a not-yet-valid certificate",
        Some((&future.0, &future.1)),
    );
    // The Vault server's own certificate: serverAuth only (SECURITY.md T3).
    assert_refused(
        &site,
        bao,
        "the serverAuth-only server certificate",
        Some((
            &site.path("vault/server.pem"),
            &site.path("vault/server-key.pem"),
        )),
    );
    // And still fine for the operator afterwards.
    assert_eq!(
        probe(
            site.ns_name(),
            &addr,
            &ca_path,
            Some((&operator.0, &operator.1))
        ),
        Ok(200)
    );
}

/// `sys/auth` and `sys/mounts` as root sees them.
fn vault_objects(bao: &OpenBao) -> (Value, Value) {
    let (code, auth) = bao.root_api("GET", "sys/auth", None);
    assert_eq!(code, 200, "{auth}");
    let (code, mounts) = bao.root_api("GET", "sys/mounts", None);
    assert_eq!(code, 200, "{mounts}");
    (auth["data"].clone(), mounts["data"].clone())
}

#[track_caller]
fn assert_bootstrapped(bao: &OpenBao, mount: &str) {
    let (auth, mounts) = vault_objects(bao);
    assert_eq!(auth["approle/"]["type"], "approle", "sys/auth: {auth}");
    let kv = &mounts[format!("{mount}/")];
    assert_eq!(kv["type"], "kv", "sys/mounts: {mounts}");
    assert_eq!(kv["options"]["version"], "2", "sys/mounts: {mounts}");
}

#[track_caller]
fn assert_not_bootstrapped(bao: &OpenBao) {
    let (auth, mounts) = vault_objects(bao);
    assert!(auth.get("approle/").is_none(), "sys/auth: {auth}");
    assert!(mounts.get("secret/").is_none(), "sys/mounts: {mounts}");
}

/// Removes what init enables, so the next token source starts from scratch.
fn unbootstrap(bao: &OpenBao) {
    for path in ["sys/auth/approle", "sys/mounts/secret"] {
        let (code, body) = bao.root_api("DELETE", path, None);
        assert_eq!(code, 204, "DELETE {path}: {body}");
    }
    assert_not_bootstrapped(bao);
}

#[track_caller]
fn assert_no_text(out: &Output, secret: &str) {
    assert!(!out.stdout.contains(secret), "token on stdout\n{out}");
    assert!(!out.stderr.contains(secret), "token on stderr\n{out}");
}

#[test]
fn init_bootstraps_approle_and_kv2_from_every_token_source_then_changes_nothing() {
    require_e2e!("starts OpenBao in a network namespace");
    let site = site_with_openbao("vnib");
    let bao = site.bao();
    let root = bao.root_token.clone();

    // Vault is up but there is no token: files only, and it says so.
    let out = site.init().run();
    out.expect(
        site.expect(0)
            .stdout(init_report(
                &site,
                &initialised(0, KEPT_PKI),
                "socat",
                &left_to_do(None),
            ))
            .stderr(kept_certificates(&site)),
    );
    assert_not_bootstrapped(bao);

    // A wrong token: exit 1, permission denied, the token never echoed.
    let out = site.init().env("BAO_TOKEN", WRONG_TOKEN).run();
    assert_no_text(&out, WRONG_TOKEN);
    out.expect(site.expect(1).stderr(format!(
        "{}error: GET sys/auth: permission denied
hint: use an operator token allowed to do this (`BAO_TOKEN`, `--token-file` or `~/.vault-token`); `bao token lookup` shows its policies
",
        kept_certificates(&site)
    )));
    assert_not_bootstrapped(bao);

    // The root token in BAO_TOKEN: AppRole and KV v2 enabled.
    let out = site.init().env("BAO_TOKEN", &root).run();
    assert_bootstrapped(bao, "secret");
    assert_no_text(&out, &root);
    out.expect(bootstrap_init(&site));

    // Once more: nothing changes on disk (bytes, inodes, mtimes) or in
    // OpenBao (same mounts, same accessors), and it says so. The lock
    // file is left out: every run writes its pid into it.
    let before = site.snapshot().without(".vaultnet.lock");
    let objects = vault_objects(bao);
    let out = site.init().env("BAO_TOKEN", &root).run();
    let out = out.expect(
        site.expect(0)
            .stdout(init_report(
                &site,
                "vaultnet is initialised in `[STATE]`: nothing changed (6 checked)\n",
                "socat",
                NEXT_ADD_USER,
            ))
            .stderr(format!(
                "{}{}",
                kept_certificates(&site),
                vault_setup("present", "present")
            )),
    );
    before.assert_same(&site.snapshot().without(".vaultnet.lock"), "a further init");
    assert_eq!(
        vault_objects(bao),
        objects,
        "a further init changed OpenBao"
    );
    assert_no_text(&out, &root);

    // `--token-file`.
    unbootstrap(bao);
    let file = site.scratch().join("operator-token");
    write_private(&file, format!("{root}\n"));
    let out = site.init().arg("--token-file").arg(&file).run();
    assert_bootstrapped(bao, "secret");
    assert_no_text(&out, &root);
    out.expect(bootstrap_init(&site));

    // `~/.vault-token` under the HOME vaultnet runs with.
    unbootstrap(bao);
    write_private(&site.home().join(".vault-token"), &root);
    let out = site.init().run();
    assert_bootstrapped(bao, "secret");
    assert_no_text(&out, &root);
    out.expect(bootstrap_init(&site));
    std::fs::remove_file(site.home().join(".vault-token")).unwrap();

    // `VAULT_TOKEN`, for Vault's own habit.
    unbootstrap(bao);
    let out = site.init().env("VAULT_TOKEN", &root).run();
    assert_bootstrapped(bao, "secret");
    assert_no_text(&out, &root);
    out.expect(bootstrap_init(&site));
}

#[test]
fn init_refuses_a_kv_mount_of_another_type_and_leaves_it_alone() {
    require_e2e!("starts OpenBao in a network namespace");
    let site = site_with_openbao("vnik");
    let bao = site.bao();
    let (code, body) = bao.root_api(
        "POST",
        "sys/mounts/secret2",
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    );
    assert_eq!(code, 204, "{body}");
    let (_, mounts) = vault_objects(bao);
    let v1 = mounts["secret2/"].clone();

    let out = site
        .init()
        .args(["--kv-mount", "secret2"])
        .env("BAO_TOKEN", &bao.root_token)
        .run();
    assert_no_text(&out, &bao.root_token);
    out.expect(site.expect(1).stderr(format!(
        "setting kv-mount: secret -> secret2
{}wrote `vaultnet.yaml`
AppRole auth at `approle/`: enabled
error: `secret2/` is mounted as `kv` version 1, not KV v2
hint: choose another mount with `vaultnet init --kv-mount NAME`
",
        kept_certificates(&site)
    )));
    let (_, mounts) = vault_objects(bao);
    assert_eq!(mounts["secret2/"], v1, "init touched the foreign mount");
    // The refused mount did not stick in the settings.
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    assert!(state.contains("kv_mount: secret\n"), "{state}");

    // A plain run goes back to the recorded mount and completes.
    site.init().env("BAO_TOKEN", &bao.root_token).run().expect(
        site.expect(0)
            .stdout(init_stdout_with_vault(&site, 1, KEPT_PKI + 1, "socat"))
            .stderr(format!(
                "{}{}",
                kept_certificates(&site),
                vault_setup("present", "enabled")
            )),
    );
    assert_bootstrapped(bao, "secret");
}

#[test]
fn init_against_a_sealed_openbao_exits_0_and_prints_the_unseal_step() {
    require_e2e!("starts OpenBao in a network namespace");
    let site = site_with_openbao("vnis");
    let bao = site.bao();
    bao.seal();
    assert_eq!(bao.health(), 503);
    let out = site.init().env("BAO_TOKEN", &bao.root_token).run();
    assert_no_text(&out, &bao.root_token);
    out.expect(
        site.expect(0)
            .stdout(init_report(
                &site,
                &initialised(0, KEPT_PKI),
                "socat",
                &left_to_do(Some("unseal it: `bao operator unseal`, with `BAO_ADDR`, `BAO_CACERT`, `BAO_CLIENT_CERT` and `BAO_CLIENT_KEY` set as `vaultnet init` printed")),
            ))
            .stderr(kept_certificates(&site)),
    );
    bao.unseal();
    assert_not_bootstrapped(bao);

    // Unsealed, the same command finishes the bootstrap.
    site.init()
        .env("BAO_TOKEN", &bao.root_token)
        .run()
        .expect(bootstrap_init(&site));
    assert_bootstrapped(bao, "secret");
}

/// The `note:` lines of `init`'s report.
fn notes(out: &Output) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("note: "))
        // The offline host's address is on no interface: a note of every
        // offline init, compared whole by the init tests.
        .filter(|l| !l.starts_with("note: the host address "))
        .collect()
}

/// Why `init`'s reports are not compared whole here: the init tests pin
/// them; this one is about which bundles its note names.
const SWITCH_REPORT: &str =
    "init's report is pinned by the init tests; the notes are compared here";

/// Switching the site's pattern with `init --profile` names exactly the
/// bundles it left stale — those whose endpoint moves, or all when a
/// setting every bundle carries changed — and `add-user` rerun for them
/// brings them in line: the next `init` names none.
#[test]
fn switching_the_profile_names_the_bundles_it_left_stale_and_add_user_brings_them_in_line() {
    require_e2e!("starts OpenBao");
    let site = Fixture::builder().openbao().build();
    let add = |args: &[&str]| {
        let mut c = site.vaultnet();
        c.args(["add-user", "--no-unix-user"]).args(args);
        c.run()
    };
    add(&["swa", "swb"]).expect(crate::support::tenant::add_expect(
        &site,
        &["swa", "swb"],
        false,
    ));
    // A tenant whose mapping the operator chose keeps it under any profile.
    let out = add(&["--host-mapping", "ip", "swc"]);
    assert_eq!(out.code, Some(0), "{out}");
    let init = |profile: &str| {
        let out = site.init().args(["--profile", profile]).run();
        out.expect(
            crate::support::expect::Expect::success()
                .stdout_any(SWITCH_REPORT)
                .stderr_any(SWITCH_REPORT),
        )
    };

    // l1 -> l6: the site's mapping becomes host-gateway; swa and swb
    // followed the site's, swc keeps `ip`.
    let out = init("l6");
    assert_eq!(
        notes(&out),
        [
            "note: the bundles of swa, swb hold the old settings: run `vaultnet add-user swa swb` to rewrite them"
        ],
        "{out}"
    );
    let out = add(&["swa", "swb"]);
    assert_eq!(out.code, Some(0), "{out}");
    let compose = std::fs::read_to_string(site.bundle("swa").join("compose.yaml")).unwrap();
    assert!(compose.contains("vault.lan:host-gateway"), "{compose}");
    let out = init("l6");
    assert_eq!(notes(&out), Vec::<&str>::new(), "{out}");

    // l6 -> l3: every tenant gets a port of its own, so every bundle moves.
    let out = init("l3");
    assert_eq!(
        notes(&out),
        [
            "note: the bundles of swa, swb, swc hold the old settings: run `vaultnet add-user swa swb swc` to rewrite them"
        ],
        "{out}"
    );
    let out = add(&["swa", "swb", "swc"]);
    assert_eq!(out.code, Some(0), "{out}");
    let out = init("l3");
    assert_eq!(notes(&out), Vec::<&str>::new(), "{out}");
}
