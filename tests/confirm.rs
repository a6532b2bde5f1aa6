//! Destructive steps are confirmed (gated by `VAULTNET_E2E=1`, for the
//! real OpenBao they need): `remove-user` and `init --force` ask on a
//! terminal (`n` changes nothing, `y` goes on), refuse without one unless
//! `--yes`, and `remove-user --dry-run` says what it would remove, changing
//! nothing — driven through a real pseudo-terminal (`support::pty`). (How
//! dialoguer draws its question is its own: the test waits for the
//! question's text, then compares what follows the answer.)

use std::time::Duration;

use crate::support::fixture::Fixture;
use crate::support::init::ca_name;
use crate::support::pty::Terminal;
use crate::support::require_e2e;

const EXIT: Duration = Duration::from_secs(30);

#[test]
fn remove_user_asks_on_a_terminal_refuses_without_one_and_dry_run_changes_nothing() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vncf").tenants(1).build();
    let name = site.tenant(0).to_string();
    let role = format!("vaultnet-{name}");
    let before = site.snapshot();

    // No terminal, no `--yes`: refused.
    site.vaultnet()
        .args(["remove-user", &name])
        .run()
        .expect(site.rejected(
            &format!("`remove-user` takes away for good the access of: {name}"),
            &format!("confirm with `--yes`: `vaultnet remove-user {name} --yes`"),
        ));
    // The dry run reads and says.
    site.vaultnet()
        .args(["remove-user", "--dry-run", &name])
        .run()
        .expect(site.expect(0).stdout(format!(
            "tenant {name}: would destroy 1 secret_id(s), delete policy `{role}` and AppRole role `{role}`, revoke every token it holds or made, remove `tenants/{name}`\n"
        )));
    before.clone().without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "refused and dry runs",
    );

    // On a terminal: `n` keeps everything.
    let mut cmd = site.vaultnet();
    cmd.args(["remove-user", &name]);
    let mut term = Terminal::start(&cmd);
    term.wait_for("Remove them?");
    term.send("n");
    let s = term.finish(EXIT);
    assert_eq!(s.code, Some(2), "{}", s.transcript);
    assert!(
        s.rest.contains(
            "error: not confirmed: nothing was changed\nhint: run it again and answer `y`, or confirm with `--yes`"
        ),
        "{}",
        s.transcript
    );
    assert!(
        s.transcript.contains(&format!(
            "`remove-user` takes away for good the access of: {name}"
        )),
        "{}",
        s.transcript
    );
    let (code, _) = site.root_api("GET", &format!("auth/approle/role/{role}"), None);
    assert_eq!(code, 200, "a refused removal deleted the role");
    before
        .clone()
        .without(".vaultnet.lock")
        .assert_same(&site.snapshot().without(".vaultnet.lock"), "answered no");

    // `y` removes.
    let mut term = Terminal::start(&cmd);
    term.wait_for("Remove them?");
    term.send("y");
    let s = term.finish(EXIT);
    assert_eq!(s.code, Some(0), "{}", s.transcript);
    assert!(
        s.rest.contains(&format!(
            "removed tenant {name}: destroyed 1 secret_id(s), deleted role and policy, removed `tenants/{name}`"
        )),
        "{}",
        s.transcript
    );
    let (code, _) = site.root_api("GET", &format!("auth/approle/role/{role}"), None);
    assert_eq!(code, 404);
}

#[test]
fn init_force_asks_before_replacing_the_ca_and_refuses_without_a_terminal() {
    require_e2e!("runs init in a network namespace");
    let site = Fixture::host("vnff").init().build();
    let old = ca_name(&site);
    let before = site.snapshot();
    let force = || {
        let mut c = site.vaultnet_without_token();
        c.args(["init", "--force"]);
        c
    };
    force().run().expect(site.rejected(
        &format!(
            "`--force` replaces the CA `{old}`, which the certificates of 0 tenant(s) depend on, and the server and operator certificates (the old CA is kept in `pki/replaced/`)"
        ),
        "confirm with `--yes`: `vaultnet init --force --yes`",
    ));
    before.clone().without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "a refused --force",
    );

    let mut term = Terminal::start(&force());
    term.wait_for("Replace the CA?");
    term.send("n");
    let s = term.finish(EXIT);
    assert_eq!(s.code, Some(2), "{}", s.transcript);
    assert_eq!(ca_name(&site), old, "answered no, the CA was replaced");

    let mut term = Terminal::start(&force());
    term.wait_for("Replace the CA?");
    term.send("y");
    let s = term.finish(EXIT);
    assert_eq!(s.code, Some(0), "{}", s.transcript);
    assert_ne!(ca_name(&site), old, "answered yes, the CA was kept");
    assert!(
        s.rest
            .contains(&format!("replaced CA `pki/ca.pem`: `{old}`")),
        "{}",
        s.transcript
    );
}
