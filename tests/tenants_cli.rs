//! `add-user`, `remove-user` and `list` refusing what they must refuse
//! (SECURITY.md I1, DESIGN "Exit codes"): every bad tenant name of the
//! promises, an unknown or system Unix user, a directory that was never
//! initialised and a missing operator token each exit 2 with one `error:`
//! and one `hint:` line, leave the state directory byte for byte as it was
//! and — checked against a real OpenBao on loopback when `VAULTNET_E2E=1`
//! (policies, AppRole roles, token accessors listed before and after) —
//! change nothing in Vault; a sealed Vault exits 1 and changes nothing.
//! Names are validated before any file is read or any request is made, so
//! without `VAULTNET_E2E` these tests still run against the disk alone.
//! Every run's exit code, stdout and stderr are compared exactly.

use std::path::Path;

use serde_json::Value;

use crate::support::cmd::Cmd;
use crate::support::e2e_required;
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::require_e2e;
use crate::support::tenant::tenant_name;

/// The lock file every state-changing run rewrites with its pid, before it
/// looks at a tenant: excluded when comparing runs that got that far.
const LOCK: &str = ".vaultnet.lock";

/// An initialised site; with `VAULTNET_E2E=1` also a real OpenBao on
/// loopback, started from the listener `init` wrote, on which `init` with
/// the root token enabled AppRole and KV v2.
#[track_caller]
fn initialised() -> Fixture {
    match e2e_required() {
        true => Fixture::builder().openbao().build(),
        false => Fixture::builder().init().build(),
    }
}

/// The token commands get: the root token, or (without a server) one that
/// is never used, because every case here stops before Vault.
fn token(site: &Fixture) -> String {
    site.openbao()
        .map(|b| b.root_token.clone())
        .unwrap_or_else(|| "s.never-used-without-a-server".into())
}

fn cmd(site: &Fixture, sub: &str) -> Cmd {
    let mut c = site.vaultnet_without_token();
    c.env("BAO_TOKEN", token(site)).arg(sub);
    c
}

/// What vaultnet could have changed in Vault: ACL policies, AppRole roles,
/// token accessors. `Null` without a server.
#[track_caller]
fn vault_objects(site: &Fixture) -> Value {
    if site.openbao().is_none() {
        return Value::Null;
    }
    serde_json::json!({
        "policies": site.list("sys/policies/acl"),
        "roles": site.list("auth/approle/role"),
        "tokens": site.list("auth/token/accessors"),
    })
}

/// The hint of every invalid tenant name.
const NAME_HINT: &str = "tenant names are Unix user names: a lower-case letter or `_`, then up to 30 lower-case letters, digits, `_` or `-`, e.g. `alice`";

/// The error for a refused name, shown as vaultnet shows it (escaped).
fn bad_name(shown: &str, why: &str) -> String {
    format!("invalid tenant name `{shown}`: {why}")
}

const FIRST: &str = "must start with a lower-case letter or `_`";
const CHARS: &str = "only lower-case letters, digits, `_` and `-` are allowed";

/// Every bad name of SECURITY.md that argv can carry (`a\0b` cannot: it
/// goes through `--from`), with the error and hint it gets.
fn bad_names() -> Vec<(String, String, &'static str)> {
    let long = "a".repeat(33);
    let mut names: Vec<(String, String, &str)> = [
        ("", bad_name("", "it is empty")),
        (".", bad_name(".", FIRST)),
        ("..", bad_name("..", FIRST)),
        ("-a", bad_name("-a", FIRST)),
        ("1abc", bad_name("1abc", FIRST)),
        ("a/b", bad_name("a/b", CHARS)),
        ("../etc", bad_name("../etc", FIRST)),
        ("a b", bad_name("a b", CHARS)),
        ("a\n", bad_name("a\\n", CHARS)),
        ("a:b", bad_name("a:b", CHARS)),
        ("a.b", bad_name("a.b", CHARS)),
        ("A", bad_name("A", FIRST)),
        ("é", bad_name("é", FIRST)),
    ]
    .into_iter()
    .map(|(n, e)| (n.to_string(), e, NAME_HINT))
    .collect();
    names.push((
        "root".into(),
        "tenant name `root` is reserved".into(),
        "choose another name; reserved names are Vault's own policies and system accounts",
    ));
    names.push((
        long.clone(),
        bad_name(&long, "longer than 31 characters"),
        NAME_HINT,
    ));
    names
}

#[test]
fn every_bad_tenant_name_exits_2_with_an_error_and_a_hint_and_changes_nothing() {
    let site = initialised();
    let disk = site.snapshot();
    let vault = vault_objects(&site);
    for sub in ["add-user", "remove-user"] {
        for (name, error, hint) in bad_names() {
            // After `--`, so that `-a` reaches the name check, not clap.
            let out = cmd(&site, sub).arg("--").arg(&name).run();
            out.expect(site.rejected(&error, hint));
            disk.assert_same(&site.snapshot(), format!("{sub} {name:?}"));
        }
        // A NUL cannot be in argv; `--from FILE` can carry one.
        let from = site.scratch().join("names-with-nul");
        std::fs::write(&from, "a\0b\n").unwrap();
        let out = cmd(&site, sub).arg("--from").arg(&from).run();
        out.expect(site.rejected(&bad_name("a\\0b", CHARS), NAME_HINT));
        disk.assert_same(&site.snapshot(), format!("{sub} --from (a NUL)"));
    }
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

#[test]
fn a_bad_name_anywhere_in_the_list_stops_the_good_names_too() {
    let site = initialised();
    let disk = site.snapshot();
    let vault = vault_objects(&site);
    let good = tenant_name("g");
    let out = cmd(&site, "add-user")
        .args(["--no-unix-user", &good, "a/b"])
        .run();
    out.expect(site.rejected(&bad_name("a/b", CHARS), NAME_HINT));
    let from = site.scratch().join("names");
    std::fs::write(&from, format!("{good}\n../etc\n")).unwrap();
    let out = cmd(&site, "add-user")
        .args(["--no-unix-user", "--from"])
        .arg(&from)
        .run();
    out.expect(site.rejected(&bad_name("../etc", FIRST), NAME_HINT));
    disk.assert_same(&site.snapshot(), "good and bad names");
    assert!(!site.path(&format!("tenants/{good}")).exists());
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

#[test]
fn an_unknown_or_system_unix_user_exits_2_and_changes_nothing() {
    let site = initialised();
    let disk = site.snapshot().without(LOCK);
    let vault = vault_objects(&site);
    let ghost = tenant_name("nouser");
    let out = cmd(&site, "add-user").arg(&ghost).run();
    out.expect(site.rejected(&format!("there is no Unix user `{ghost}`"),
        &format!(
            "create it first (`useradd -m {ghost}`), or pass `--no-unix-user` for a tenant without an account"
        ),
    ));
    disk.assert_same(&site.snapshot().without(LOCK), "unknown Unix user");

    // A system account (uid below UID_MIN) is no tenant either.
    let system = ["mail", "news", "uucp", "proxy", "backup", "list"]
        .into_iter()
        .find_map(|n| {
            let uid = nix::unistd::User::from_name(n).ok().flatten()?.uid.as_raw();
            (uid > 0 && uid < 1000).then_some((n, uid))
        });
    match system {
        Some((name, uid)) => {
            let out = cmd(&site, "add-user").arg(name).run();
            out.expect(site.rejected(
                &format!(
                    "Unix user `{name}` has uid {uid}, a system account (tenants need uid >= 1000)"
                ),
                "choose a regular user as the tenant",
            ));
            disk.assert_same(&site.snapshot().without(LOCK), "system account");
        }
        None => eprintln!("no system account to try on this machine"),
    }
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

#[test]
fn tenant_commands_on_a_directory_never_initialised_exit_2_and_create_nothing() {
    let site = Fixture::offline();
    let name = tenant_name("n");
    for args in [
        vec!["add-user", "--no-unix-user", name.as_str()],
        vec!["remove-user", name.as_str()],
        vec!["renew"],
        vec!["renew", "--dry-run"],
        vec!["list"],
        vec!["list", "--output", "json"],
    ] {
        let out = site
            .vaultnet()
            .env("BAO_TOKEN", "s.never-used")
            .args(&args)
            .run();
        out.expect(site.rejected(
            "vaultnet is not initialised in `[STATE]`",
            "run `vaultnet init` first, or pass the right `--dir`",
        ));
        assert!(
            !site.dir().exists(),
            "`{}` created the state directory",
            args.join(" ")
        );
    }
}

#[test]
fn tenant_commands_without_an_operator_token_exit_2_and_change_nothing() {
    let site = initialised();
    let disk = site.snapshot().without(LOCK);
    let vault = vault_objects(&site);
    let name = tenant_name("t");
    // renew of the whole site needs the token as much as for one tenant.
    site.vaultnet_without_token()
        .arg("renew")
        .run()
        .expect(site.rejected(
            "no operator token",
            "set `BAO_TOKEN`, pass `--token-file FILE`, or log in so `~/.vault-token` exists",
        ));
    for sub in ["add-user", "remove-user"] {
        // No BAO_TOKEN/VAULT_TOKEN (the harness scrubs them) and no
        // ~/.vault-token in the test's HOME.
        let mut c = site.vaultnet_without_token();
        c.arg(sub);
        if sub == "add-user" {
            c.arg("--no-unix-user");
        }
        c.arg(&name).run().expect(site.rejected(
            "no operator token",
            "set `BAO_TOKEN`, pass `--token-file FILE`, or log in so `~/.vault-token` exists",
        ));
        let missing = site.scratch().join("no-such-token");
        let mut c = site.vaultnet_without_token();
        c.arg(sub).arg("--token-file").arg(&missing);
        if sub == "add-user" {
            c.arg("--no-unix-user");
        }
        c.arg(&name).run().expect(site.rejected(
            "token file `[DIR]/no-such-token` does not exist",
            "pass the path of a file holding the operator token",
        ));
    }
    disk.assert_same(&site.snapshot().without(LOCK), "no token");
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

/// `renew` of a tenant vaultnet does not know, or of a bad name, changes
/// nothing, with or without `--dry-run`; a dry run of a site with nothing
/// issued yet says nothing is due, without a token.
#[test]
fn renew_refuses_unknown_tenants_and_a_dry_run_needs_no_token() {
    let site = initialised();
    let disk = site.snapshot().without(LOCK);
    let vault = vault_objects(&site);
    let name = tenant_name("u");
    for extra in [&[][..], &["--dry-run"][..]] {
        cmd(&site, "renew")
            .args(extra)
            .arg(&name)
            .run()
            .expect(site.rejected(
                &format!("vaultnet has no tenant `{name}`"),
                &format!(
                    "add it with `vaultnet add-user {name}`; `vaultnet list` shows the tenants"
                ),
            ));
        cmd(&site, "renew").args(extra).arg("Bad/Name").run().expect(site.rejected(
            "invalid tenant name `Bad/Name`: must start with a lower-case letter or `_`",
            "tenant names are Unix user names: a lower-case letter or `_`, then up to 30 lower-case letters, digits, `_` or `-`, e.g. `alice`",
        ));
    }
    site.vaultnet_without_token()
        .args(["renew", "--dry-run"])
        .run()
        .expect(site.expect(0).stdout("nothing is due\n"));
    site.vaultnet_without_token()
        .args(["renew", "--dry-run", "--output", "json"])
        .run()
        .expect(
            site.expect(0)
                .stdout("{\n  \"schema_version\": 1,\n  \"due\": []\n}\n"),
        );
    disk.assert_same(&site.snapshot().without(LOCK), "renew refused");
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

#[test]
fn list_reads_the_state_alone_and_needs_no_vault_or_token() {
    let site = Fixture::builder().init().build();
    let disk = site.snapshot();
    site.vaultnet().arg("list").run().expect(
        site.expect(0)
            .stdout("no tenants yet: add one with `vaultnet add-user NAME`\n"),
    );
    let out = site
        .vaultnet()
        .args(["list", "--output", "json"])
        .run()
        .expect(
            site.expect(0)
                .stdout("{\n  \"schema_version\": 1,\n  \"tenants\": []\n}\n"),
        );
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    assert_eq!(
        v,
        serde_json::json!({"schema_version": 1, "tenants": []}),
        "{out}"
    );
    disk.assert_same(&site.snapshot(), "list");
}

#[test]
fn a_sealed_vault_fails_add_user_and_remove_user_with_exit_1_and_changes_nothing() {
    require_e2e!("starts a real OpenBao and seals it");
    let site = initialised();
    let bao = site.bao();
    let vault = vault_objects(&site);
    let disk = site.snapshot().without(LOCK);
    bao.seal();
    let name = tenant_name("s");
    for args in [
        vec!["add-user", "--no-unix-user", name.as_str()],
        vec!["remove-user", name.as_str()],
    ] {
        let out = site.vaultnet().args(&args).run();
        assert!(!out.stderr.contains(&bao.root_token), "{out}");
        out.expect(site.refused(
            1,
            "OpenBao at https://[VAULT_ADDR] is sealed",
            "unseal it: `bao operator unseal`, with `BAO_ADDR`, `BAO_CACERT`, `BAO_CLIENT_CERT` and `BAO_CLIENT_KEY` set as `vaultnet init` printed",
        ));
        disk.assert_same(
            &site.snapshot().without(LOCK),
            format!("{} on a sealed Vault", args[0]),
        );
    }
    assert!(!site.path(&format!("tenants/{name}")).exists());
    bao.unseal();
    assert_eq!(vault_objects(&site), vault, "Vault changed");
}

#[test]
fn tenant_commands_help_shows_examples_and_exit_codes() {
    for (sub, exit_codes) in [("add-user", true), ("remove-user", true), ("list", false)] {
        // The whole text is the reviewed snapshot of `tests/help.rs`, at
        // the width it was taken.
        let snapshot =
            crate::support::manifest_dir().join(format!("tests/snapshots/help-{sub}.txt"));
        let out = Cmd::vaultnet()
            .home(Path::new("/nonexistent"))
            .args([sub, "--help"])
            .env("COLUMNS", "100")
            .run()
            .expect(Expect::success().stdout(std::fs::read_to_string(snapshot).unwrap()));
        assert!(out.stdout.contains("EXAMPLES:"), "{out}");
        assert!(
            out.stdout.contains(&format!("vaultnet {sub}")),
            "examples must show the command\n{out}"
        );
        if exit_codes {
            for code in ["0  ", "1  ", "2  "] {
                assert!(
                    out.stdout.contains("EXIT CODES:") && out.stdout.contains(code),
                    "{out}"
                );
            }
        }
    }
}

#[test]
fn a_command_given_no_tenant_name_names_itself_in_the_hint() {
    let site = Fixture::offline();
    for command in ["add-user", "remove-user"] {
        site.vaultnet().arg(command).run().expect(site.rejected(
            "no tenant name given",
            &format!("pass one or more names, e.g. `vaultnet {command} alice`, or `--from FILE`"),
        ));
    }
}
