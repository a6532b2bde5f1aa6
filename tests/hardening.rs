//! Regression tests for what an attack review of vaultnet found: each
//! replays the attack or the mistake and shows it no longer works
//! (SECURITY.md G2, S8, and doctor meeting the gate tenants meet).

use std::process::Command;

use crate::support::cmd::Cmd;
use crate::support::fixture::Fixture;
use crate::support::init::{KEPT_PKI, init_stdout_with_vault, kept_certificates, vault_setup};
use crate::support::require_e2e;
use crate::support::run_ok;
use crate::support::tenant::{UnixUser, connect_as};

#[test]
fn init_refuses_a_forwarder_port_equal_to_vaults_and_creates_nothing() {
    let f = Fixture::offline();
    let port = f.vault_addr().port();
    let out = f.init().args(["--port", &port.to_string()]).run();
    out.expect(f.rejected(
        &format!("the forwarder port {port} is Vault's own port (`--vault-listen [VAULT_ADDR]`)"),
        "pick another `--port`, e.g. `--port 22300`",
    ));
    assert!(
        !f.dir().exists(),
        "a rejected init created the state directory"
    );
}

#[test]
fn a_state_directory_that_belongs_to_another_user_is_refused_by_every_command() {
    require_e2e!("gives the state directory to another uid");
    let f = Fixture::builder().init().build();
    let before = f.snapshot();
    // Whoever owns the directory could swap in its own CA; as root, chown
    // plays that user.
    run_ok(Command::new("chown").args(["-R", "54321"]).arg(f.dir()));
    let refused = f.rejected(
        "refusing the state directory `[STATE]`: it belongs to uid 54321, not to you (uid 0)",
        "use a state directory of your own (`--dir DIR`), or give this one back to you with `chown -R`",
    );
    f.init().run().expect(refused.clone());
    let mut list = f.vaultnet();
    list.arg("list").run().expect(refused.clone());
    let mut doctor = f.vaultnet();
    doctor.arg("doctor").run().expect(refused.clone());
    f.add_user(&["someone", "--no-unix-user"])
        .run()
        .expect(refused);
    run_ok(Command::new("chown").args(["-R", "0"]).arg(f.dir()));
    before.assert_same(&f.snapshot(), "refused state directory");
}

#[test]
fn a_state_directory_under_a_directory_anyone_may_write_is_refused() {
    require_e2e!("makes a world-writable directory");
    let f = Fixture::offline();
    let open = f.scratch().join("open");
    std::fs::create_dir(&open).unwrap();
    run_ok(Command::new("chmod").arg("0777").arg(&open));
    let mut init = Cmd::vaultnet();
    let dir = open.join("state");
    let out = init
        .home(f.home())
        .args(["--dir"])
        .arg(&dir)
        .args(["init", "--yes", "--host-ip", "10.77.0.1"])
        .run();
    out.expect(f.rejected(
        "refusing the state directory `[DIR]/open/state`: `[DIR]/open` above it is writable by others (mode 0777)",
        "`chmod go-w [DIR]/open`, or choose another `--dir`",
    ));
    assert!(!dir.exists());
}

#[test]
fn doctor_login_fails_when_the_gate_locks_the_tenant_out_even_though_root_gets_through() {
    require_e2e!("loads nftables in a network namespace and switches uids");
    let f = Fixture::host("vnlk").tenants(1).forwarder().nft().build();
    let t = f.tenant(0).to_string();
    let r = f.report(&["--login"], 0);
    r.expect(&format!("login.{t}"), "ok");

    // A gate that admits root to the forwarder but not the tenant: the
    // operator's own connection gets through, the tenant's does not, and
    // doctor logs in as the tenant.
    let text = std::fs::read_to_string(f.path("forwarder/vaultnet.nft")).unwrap();
    let uid = f.state()["tenants"][&t]["uid"].as_u64().unwrap();
    let locked = text.replace(&format!("elements = {{ 0, {uid} }}"), "elements = { 0 }");
    assert_ne!(locked, text, "the gate lists the tenant:\n{text}");
    let file = f.scratch().join("locked.nft");
    std::fs::write(&file, locked).unwrap();
    run_ok(f.ns().command("nft").arg("-f").arg(&file));
    let r = f.report(&["--login"], 1);
    r.expect(&format!("login.{t}"), "fail");
    let detail = r.detail(&format!("login.{t}"));
    assert!(
        detail.starts_with("no answer through the forwarder"),
        "{detail}"
    );
}

#[test]
fn the_token_file_the_operator_names_wins_over_a_stale_vault_token() {
    require_e2e!("runs OpenBao in a network namespace");
    let f = Fixture::host("vntf").openbao_without_token().build();
    let file = f.scratch().join("operator-token");
    crate::support::write_private(&file, &f.bao().root_token);
    // A token left in the environment from another session would be
    // refused (403); the file given on the command line is the one used.
    let out = f
        .init()
        .env("VAULT_TOKEN", "s.stale-token-from-another-session")
        .arg("--token-file")
        .arg(&file)
        .run();
    out.expect(crate::support::init::bootstrap_init(&f));
}

#[test]
fn a_user_the_operator_names_joins_root_on_vaults_port_and_nobody_else_does() {
    require_e2e!("loads nftables in a network namespace and switches uids");
    let f = Fixture::host("vnvc").openbao().build();
    let backup = UnixUser::create("vb");
    let stranger = UnixUser::create("vs");
    let out = f
        .init()
        .env("BAO_TOKEN", &f.bao().root_token)
        .args(["--vault-client", &backup.name])
        .run();
    out.expect(
        f.expect(0)
            .stdout(init_stdout_with_vault(&f, 3, KEPT_PKI + 2, "socat"))
            .stderr(format!(
                "setting vault-clients: (none) -> {}\n{}wrote `vaultnet.yaml`\nupdated `forwarder/vaultnet.nft`\n{}",
                backup.name,
                kept_certificates(&f),
                vault_setup("present", "present")
            )),
    );
    f.load_nft();
    let vault = f.vault_addr();
    let (ip, port) = (vault.ip().to_string(), vault.port());
    connect_as(f.ns_name().unwrap(), backup.uid, backup.gid, &ip, port)
        .unwrap_or_else(|e| panic!("the named user must reach Vault: {e}"));
    match connect_as(f.ns_name().unwrap(), stranger.uid, stranger.gid, &ip, port) {
        Err(e) if e.contains("Connection refused") => {}
        other => panic!("a user nobody named must be refused at Vault's port, got {other:?}"),
    }
    // An unknown name would keep nft from loading the whole gate.
    let before = f.snapshot();
    let out = f.init().args(["--vault-client", "no-such-user-vn"]).run();
    out.expect(f.rejected(
        "there is no Unix user `no-such-user-vn`",
        "create it first, or pass its uid: `--vault-client UID`",
    ));
    before
        .without(".vaultnet.lock")
        .assert_same(&f.snapshot().without(".vaultnet.lock"), "unknown user");
}

#[test]
fn the_login_probe_never_repeats_the_credentials_it_was_handed() {
    // The probe doctor runs as a tenant reads credentials on stdin; input
    // it cannot use is refused without quoting any of it back.
    let canary = "canary-secret-id-3f9a";
    let input = format!(r#"{{"tenant": "t", "secret_id": "{canary}", "timeout_ms": "{canary}"}}"#);
    let out = Cmd::vaultnet().arg("__login-probe").stdin(&input).run();
    out.expect(crate::support::expect::Expect::code(2).stderr(
        "error: not a login probe (line 1, column 91)\n\
         hint: `vaultnet doctor --login` runs it; it is not for use by hand\n",
    ));
}
