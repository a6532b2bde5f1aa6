//! What `add-user` shows while it runs and when it ends. A run of several
//! tenants ends with one line of totals, counted from each tenant's
//! outcomes. While it waits for Vault: on a terminal, once a
//! request has gone a second without an answer, `waiting for Vault (N s)…`
//! on stderr, counting, and cleared when the answer comes (in the progress
//! bar's message when a bulk run draws one); without a terminal, nothing
//! ever. The request is held by the fault proxy in front of a real
//! OpenBao (`support::faultproxy`, `Fault::Hold`) and the terminal is a
//! real pty (`support::pty`).

use std::time::Duration;

use crate::support::cmd::{Cmd, Output};
use crate::support::faultproxy::{Event, Fault, FaultProxy, Inject};
use crate::support::fixture::Fixture;
use crate::support::pty::Terminal;
use crate::support::require_e2e;
use crate::support::tenant::{add_expect, added, created, next, next_each, totals, up_to_date};

/// How long a test may take to see each notice, and the run to end.
const SEEN_WITHIN: Duration = Duration::from_secs(20);

/// The notice's erase-line: `\r` then `ESC [2K`.
const ERASE: &str = "\r\x1b[2K";

fn add_user(site: &Fixture, names: &[&str]) -> Cmd {
    let mut c = site.vaultnet();
    c.env("LC_ALL", "C.UTF-8")
        .args(["add-user", "--no-unix-user"])
        .args(names);
    c
}

/// The terminal's transcript without the notice: every erase-line, with
/// the `waiting for Vault (N s)…` it drew, taken out; what is left is what
/// the run printed, which must be what it prints without a terminal.
fn without_notice(transcript: &str) -> String {
    let mut out = String::new();
    let mut rest = transcript;
    while let Some(i) = rest.find(ERASE) {
        out.push_str(&rest[..i]);
        rest = &rest[i + ERASE.len()..];
        if rest.starts_with("waiting for Vault (") {
            let end = rest.find('…').map_or(rest.len(), |e| e + '…'.len_utf8());
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn without_notice_takes_out_only_the_notice_and_its_erasing() {
    assert_eq!(
        without_notice(
            "a: x\n\r\x1b[2Kwaiting for Vault (1 s)…\r\x1b[2Kwaiting for Vault (2 s)…\r\x1b[2Kb: y\n"
        ),
        "a: x\nb: y\n"
    );
    assert_eq!(without_notice("no notice\n"), "no notice\n");
}

#[test]
fn add_user_on_a_terminal_says_it_waits_for_vault_while_a_request_hangs_and_clears_it() {
    require_e2e!("holds a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let name = "t-wait";
    // The first write (the tenant's policy) is held before it reaches
    // OpenBao; the reads before it pass.
    let proxy = site.proxy(Inject::before(Fault::Hold, 1));
    let mut term = Terminal::start(&add_user(&site, &[name]));
    let held = proxy.wait_held(SEEN_WITHIN);
    assert_eq!(held.n, Some(1), "{held}");
    // It counts: the notice is redrawn each second.
    term.wait_for_within("\r\x1b[2Kwaiting for Vault (1 s)…", SEEN_WITHIN);
    term.wait_for_within("\r\x1b[2Kwaiting for Vault (2 s)…", SEEN_WITHIN);
    proxy.release();
    let session = term.finish(SEEN_WITHIN);
    // Cleared before the next line: nothing but the run's own lines is
    // left, in the order the terminal showed them (stderr's as it went,
    // then the report).
    let shown = Output {
        stdout: without_notice(&session.transcript),
        ..session.rest_output()
    };
    shown.expect(
        site.expect(0)
            .stdout(format!("{}{}{}", created(name), added(name), next(name))),
    );
    assert!(
        session.transcript.ends_with(&next(name)),
        "the notice is cleared, not left after the report:\n{:?}",
        session.transcript
    );
}

/// `cmd` run while the proxy holds a request: `during` gets the held
/// request, then it is let go; the run's output.
fn run_while_held(cmd: &Cmd, proxy: &FaultProxy, during: impl FnOnce(Event)) -> Output {
    std::thread::scope(|s| {
        let run = s.spawn(|| cmd.run());
        during(proxy.wait_held(SEEN_WITHIN));
        proxy.release();
        run.join().expect("the vaultnet run")
    })
}

#[test]
fn add_user_without_a_terminal_never_shows_the_wait_notice() {
    require_e2e!("holds a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let name = "t-nowait";
    let proxy = site.proxy(Inject::before(Fault::Hold, 1));
    let out = run_while_held(&add_user(&site, &[name]), &proxy, |_| {
        // Long enough for the notice to have been drawn twice on a
        // terminal (after 1 s, then each second).
        std::thread::sleep(Duration::from_millis(2500));
    });
    // stderr exactly: the steps, no notice, no erase-line.
    out.expect(add_expect(&site, &[name], false));
}

#[test]
fn bulk_add_user_on_a_terminal_shows_the_wait_in_the_progress_bar_and_ends_with_the_totals() {
    require_e2e!("holds a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (a, b) = ("t-bulk1", "t-bulk2");
    let proxy = site.proxy(Inject::before(Fault::Hold, 1));
    // One at a time, so the first write, the one held, is `a`'s.
    let mut term = Terminal::start(add_user(&site, &[a, b]).args(["--jobs", "1"]));
    proxy.wait_held(SEEN_WITHIN);
    // The bar names the tenant being worked on, and the wait after it.
    term.wait_for_within(&format!("0/2 {a}: waiting for Vault (1 s)…"), SEEN_WITHIN);
    term.wait_for_within(&format!("0/2 {a}: waiting for Vault (2 s)…"), SEEN_WITHIN);
    proxy.release();
    let session = term.finish(SEEN_WITHIN);
    let shown = Output {
        stdout: above_the_bar(&session.transcript),
        ..session.rest_output()
    };
    // The steps went above the bar, each whole on a line of its own, in
    // order; the report and the totals came once the bar was cleared.
    shown.expect(site.expect(0).stdout(format!(
        "{}{}{}{}{}{}",
        created(a),
        created(b),
        added(a),
        added(b),
        next_each(a),
        totals(2, 0, 0, 0)
    )));
}

/// Tenants provisioned at once (`--jobs 2`): while the run's first write
/// (one tenant's policy) hangs, the other tenant is provisioned whole —
/// its three writes reach Vault and its bundle is on disk — and once the
/// held one is answered the run prints exactly what one tenant after the
/// other prints, in the order they were named, whichever was held.
#[test]
fn bulk_add_user_provisions_tenants_at_once_and_reports_them_in_order() {
    require_e2e!("holds a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (a, b) = ("t-jobs-a", "t-jobs-b");
    let proxy = site.proxy(Inject::before(Fault::Hold, 1));
    let mut cmd = add_user(&site, &[a, b]);
    cmd.args(["--jobs", "2"]);
    let out = run_while_held(&cmd, &proxy, |held| {
        let (held_tenant, other) = match held.path.ends_with(a) {
            true => (a, b),
            false => (b, a),
        };
        assert_eq!(
            held.path,
            format!("/v1/sys/policies/acl/vaultnet-{held_tenant}"),
            "{held}"
        );
        let deadline = std::time::Instant::now() + SEEN_WITHIN;
        loop {
            let forwarded: Vec<String> = proxy
                .writes()
                .into_iter()
                .filter(|e| e.action == "forwarded")
                .map(|e| e.path)
                .collect();
            let whole = forwarded.len() == 3
                && forwarded
                    .iter()
                    .all(|p| p.contains(&format!("vaultnet-{other}")))
                && site.bundle(other).join("compose.yaml").exists();
            if whole {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "`{other}` was not provisioned while `{held_tenant}`'s policy was held: {forwarded:?}\n{}",
                proxy.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !site.bundle(held_tenant).exists(),
            "`{held_tenant}` has a bundle before its policy was written"
        );
    });
    out.expect(add_expect(&site, &[a, b], false));
}

/// What a terminal with a progress bar (indicatif's, one line) kept, as
/// lines: each draw starts with an erase-line; a draw that starts with the
/// bar (`░`, `█`) is the bar alone, any other is a line printed above it —
/// padded to the terminal's width, the bar drawn after it — and what
/// follows the last erase is what was printed once the bar was cleared.
fn above_the_bar(transcript: &str) -> String {
    let draws: Vec<&str> = transcript.split(ERASE).collect();
    let (last, before) = draws.split_last().expect("at least one draw");
    let bar = |c: char| c == '░' || c == '█';
    let mut out = String::new();
    for d in before {
        if d.is_empty() || d.starts_with(bar) {
            continue;
        }
        let line = d.find(bar).map_or(*d, |i| &d[..i]);
        out.push_str(line.trim_end_matches(' '));
        out.push('\n');
    }
    out.push_str(last);
    out
}

#[test]
fn bulk_add_user_counts_added_up_to_date_and_failed_tenants_in_one_totals_line() {
    require_e2e!("fails a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (a, b, c, d) = ("t-tot-a", "t-tot-b", "t-tot-c", "t-tot-d");
    let (out, proxy) = site.run_through(Inject::none(), &mut add_user(&site, &[a]));
    out.expect(add_expect(&site, &[a], false));
    drop(proxy);
    // One at a time (`--jobs 1`), so the fourth write is `c`'s first: `a`
    // is up to date (it only reads), `b` takes writes 1 to 3, `c`'s first
    // write fails, `d` is not tried.
    let (out, proxy) = site.run_through(
        Inject::before(Fault::Status(500), 4),
        add_user(&site, &[a, b, c, d]).args(["--jobs", "1"]),
    );
    out.expect(
        site.expect(1)
            .stdout(format!(
                "{}{}{}1 added, 0 updated, 1 up to date, 1 failed, 1 not tried\n",
                up_to_date(a),
                added(b),
                next(b)
            ))
            .stderr(format!(
                "{}error: tenant `{c}`: PUT sys/policies/acl/vaultnet-{c}: HTTP 500: injected
hint: look at the bao server log, then run the command again
",
                created(b)
            )),
    );
    let struck = proxy.struck().expect("the fault struck");
    assert_eq!(
        struck.path,
        format!("/v1/sys/policies/acl/vaultnet-{c}"),
        "{struck}"
    );
    drop(proxy);
    // Run again: the three done are kept or finished, the rest added.
    let (out, _proxy) = site.run_through(Inject::none(), &mut add_user(&site, &[a, b, c, d]));
    out.expect(
        site.expect(0)
            .stdout(format!(
                "{}{}{}{}{}{}",
                up_to_date(a),
                up_to_date(b),
                added(c),
                added(d),
                next_each(c),
                totals(2, 0, 2, 0)
            ))
            .stderr(format!("{}{}", created(c), created(d))),
    );
}

/// A failure with tenants in flight (`--jobs 3`): the run's first write
/// fails, which is one tenant's policy, whichever's came first. The
/// tenants under way finish and are reported, in the order they were
/// named; the totals count each; and a rerun finishes the rest. Which tenants were under way depends on
/// the threads' timing, so the expected output is built from the ones the
/// report names, and compared whole.
#[test]
fn a_failure_with_tenants_in_flight_lets_them_finish_and_a_rerun_adds_the_rest() {
    require_e2e!("fails a request to a real OpenBao behind the fault proxy");
    let site = Fixture::builder().fault_proxy().build();
    let names = ["t-fly-a", "t-fly-b", "t-fly-c", "t-fly-d", "t-fly-e"];
    let (out, proxy) = site.run_through(
        Inject::before(Fault::Status(500), 1),
        add_user(&site, &names).args(["--jobs", "3"]),
    );
    let struck = proxy.struck().expect("the fault struck");
    let failed = names
        .iter()
        .copied()
        .find(|n| struck.path == format!("/v1/sys/policies/acl/vaultnet-{n}"))
        .unwrap_or_else(|| panic!("the first write is a tenant's policy: {struck}"));
    let done: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| out.stdout.contains(&format!("added tenant {n}:")))
        .collect();
    assert!(!done.contains(&failed), "`{failed}` failed\n{out}");
    let next_line = match done[..] {
        [] => String::new(),
        [one] => next(one),
        [first, ..] => next_each(first),
    };
    let not_tried = names.len() - done.len() - 1;
    out.expect(
        site.expect(1)
            .stdout(format!(
                "{}{next_line}{} added, 0 updated, 0 up to date, 1 failed, {not_tried} not tried\n",
                done.iter().map(|n| added(n)).collect::<String>(),
                done.len(),
            ))
            .stderr(format!(
                "{}error: tenant `{failed}`: PUT sys/policies/acl/vaultnet-{failed}: HTTP 500: injected
hint: look at the bao server log, then run the command again
",
                done.iter().map(|n| created(n)).collect::<String>(),
            )),
    );
    drop(proxy);
    let rest: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !done.contains(n))
        .collect();
    let (out, _proxy) = site.run_through(Inject::none(), &mut add_user(&site, &names));
    out.expect(
        site.expect(0)
            .stdout(format!(
                "{}{}{}",
                names
                    .iter()
                    .map(|n| match done.contains(n) {
                        true => up_to_date(n),
                        false => added(n),
                    })
                    .collect::<String>(),
                match rest[..] {
                    [one] => next(one),
                    [first, ..] => next_each(first),
                    [] => unreachable!("the failed one is left"),
                },
                totals(rest.len(), 0, done.len(), 0)
            ))
            .stderr(rest.iter().map(|n| created(n)).collect::<String>()),
    );
}
