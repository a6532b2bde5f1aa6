//! How vaultnet talks on a terminal and in a pipe (global flags): colour
//! on a terminal and never under `NO_COLOR` or in a pipe unless `--color
//! always`; `-q` leaves the product and errors alone; `-vv` shows each
//! Vault request and where the operator token came from, never a secret.
//! The terminal runs are real ptys (`support::pty`).

use std::time::Duration;

use crate::support::fixture::Fixture;
use crate::support::pty::Terminal;
use crate::support::require_e2e;
use crate::support::tenant::UnixUser;

/// The colour codes vaultnet uses: ✓ green, ✗ red (bold), `error:` red.
const GREEN_OK: &str = "\x1b[32m✓\x1b[0m";
const RED_FAIL: &str = "\x1b[1;31m✗\x1b[0m";
const RED_ERROR: &str = "\x1b[1;31merror:\x1b[0m";
const ESC: char = '\x1b';

/// doctor on an offline site (Vault is not there: some checks fail), on
/// a terminal with `extra` flags and environment.
fn doctor_on_terminal(f: &Fixture, flags: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = f.vaultnet_without_token();
    c.env("LC_ALL", "C.UTF-8")
        .args(flags)
        .args(["doctor", "--timeout", "1"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let t = Terminal::start(&c);
    let s = t.finish(Duration::from_secs(60));
    assert_eq!(s.code, Some(1), "{}", s.transcript);
    s.raw
}

#[test]
fn colour_on_a_terminal_none_under_no_color_never_or_in_a_pipe_unless_always() {
    let f = Fixture::builder().init().build();

    // On a terminal: the marks in colour.
    let shown = doctor_on_terminal(&f, &[], &[]);
    assert!(shown.contains(GREEN_OK), "{shown}");
    assert!(shown.contains(RED_FAIL), "{shown}");
    // NO_COLOR (any value but empty), `--color never`: none at all.
    for (flags, env) in [
        (&[][..], &[("NO_COLOR", "1")][..]),
        (&["--color", "never"][..], &[][..]),
    ] {
        let shown = doctor_on_terminal(&f, flags, env);
        assert!(
            shown.contains('✓') && !shown.contains(ESC),
            "{flags:?} {env:?}: {shown:?}"
        );
    }
    // `--color always` wins over NO_COLOR.
    let shown = doctor_on_terminal(&f, &["--color", "always"], &[("NO_COLOR", "1")]);
    assert!(shown.contains(GREEN_OK), "{shown}");

    // In a pipe: none, unless `--color always`.
    let mut c = f.vaultnet_without_token();
    c.env("LC_ALL", "C.UTF-8")
        .args(["doctor", "--timeout", "1"]);
    let out = c.run();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        !out.stdout.contains(ESC) && !out.stderr.contains(ESC),
        "{out}"
    );
    let mut c = f.vaultnet_without_token();
    c.env("LC_ALL", "C.UTF-8")
        .args(["--color", "always", "doctor", "--timeout", "1"]);
    let out = c.run();
    assert!(
        out.stdout.contains(GREEN_OK) && out.stdout.contains(RED_FAIL),
        "{out}"
    );

    // An error: red `error:` on a terminal, plain text in a pipe.
    let missing = f.scratch().join("nowhere");
    let mut c = f.vaultnet_at(&missing);
    c.arg("list");
    let s = Terminal::start(&c).finish(Duration::from_secs(30));
    assert_eq!(s.code, Some(2), "{}", s.transcript);
    assert!(s.raw.starts_with(RED_ERROR), "{:?}", s.raw);
    let out = c.run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.starts_with("error: "), "{out}");
}

/// `-q` prints the product and nothing else; `-vv` prints each request,
/// as method, URL, status and time, and where the token came from; the
/// token never shows. (The times vary: the `-v` lines are compared
/// without them.) A single `-v` adds nothing to add-user's output.
#[test]
fn quiet_keeps_only_the_product_and_very_verbose_shows_each_request_never_the_token() {
    require_e2e!("adds a tenant for real");
    let f = Fixture::host("vnsy").openbao().build();
    let users = [UnixUser::create("sq"), UnixUser::create("sv")];
    let names = [users[0].name.clone(), users[1].name.clone()];
    let token = f.bao().root_token.clone();

    let mut q = f.vaultnet();
    q.args(["-q", "add-user", &names[0]]);
    let out = q.run();
    out.expect(f.expect(0).stdout(
        crate::support::tenant::added(&names[0]) + &crate::support::tenant::next(&names[0]),
    ));

    let mut once = f.vaultnet();
    once.args(["add-user", "-v", &names[0]]);
    once.run().expect(
        f.expect(0)
            .stdout(crate::support::tenant::up_to_date(&names[0])),
    );

    let mut v = f.vaultnet();
    v.args(["add-user", "-vv", &names[1]]);
    let out = v.run();
    assert_eq!(out.code, Some(0), "{out}");
    assert!(
        !out.stdout.contains(&token) && !out.stderr.contains(&token),
        "{out}"
    );
    let requests: Vec<String> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("vaultnet: "))
        .map(|l| match l.rsplit_once(" (") {
            Some((head, ms)) if ms.ends_with(" ms)") => head.to_string(),
            _ => l.to_string(),
        })
        .collect();
    let base = format!("https://{}/v1", f.vault_addr());
    let role = format!("auth/approle/role/vaultnet-{}", names[1]);
    let policy = format!("sys/policies/acl/vaultnet-{}", names[1]);
    let want: Vec<String> = [
        "operator token: from BAO_TOKEN".to_string(),
        format!("GET {base}/sys/health?standbyok=false&perfstandbyok=false -> 200"),
        format!("GET {base}/sys/policies/acl?list=true -> 200"),
        format!("GET {base}/auth/approle/role?list=true -> 200"),
        format!("GET {base}/auth/cert/certs?list=true -> 404"),
        format!("PUT {base}/{policy} -> 204"),
        format!("POST {base}/{role} -> 204"),
        format!("GET {base}/{role}/role-id -> 200"),
        format!("POST {base}/{role}/secret-id -> 200"),
    ]
    .iter()
    .map(|l| format!("vaultnet: {l}"))
    .collect();
    assert_eq!(requests, want, "{out}");
    // Each request line is whole: a method, the URL, a status, a time.
    for l in out
        .stderr
        .lines()
        .filter(|l| l.starts_with("vaultnet: ") && l.contains(" -> "))
    {
        assert!(l.ends_with(" ms)"), "{l}");
    }
}
