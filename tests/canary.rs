//! No secret escapes (SECURITY.md S6), traced (gated by
//! `VAULTNET_E2E=1`): a site whose operator token is a canary (OpenBao
//! takes a token id the root token chooses) and a Unix-user tenant, so
//! `runuser` children run. `init`, `add-user --install`, `renew` (of a
//! certificate and secret_id that are due), `doctor --login` and
//! `remove-user --yes` each run under `strace -f -e trace=execve -v`, which
//! prints the whole argv and environment of every program any process of
//! the run executes. Neither the operator token, nor any secret_id the
//! tenant had, nor a line of any private key the site holds may appear in
//! a child's argv or environment, nor in stdout, stderr (the JSON reports
//! included) or `vaultnet.yaml`. The secret_ids and keys are the values
//! Vault and vaultnet issued, read after each run: random, each as
//! distinctive as a chosen canary. The trace must show the children each
//! run is known to start (`runuser`, `nft`), and vaultnet's own `execve`
//! with the token in its environment, so a trace that saw nothing fails.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cmd::{Cmd, Output};
use crate::support::doctor::{REPORT_NOT_COMPARED, Report};
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::init::bootstrap_init;
use crate::support::podman::{self, PodmanTenant};
use crate::support::require_e2e;
use crate::support::tenant::{created, created_wrapped, next};

/// The operator token: an id OpenBao accepts from the root token, found
/// nowhere else.
const CANARY_TOKEN: &str = "vaultnetCANARYoperator7Qx2Lw9Zr4Tk";

/// Why renew's report is not compared whole: it holds the new serial and
/// expiry times, compared by the renewal tests; here it is searched for
/// secrets.
const RENEW_REPORT: &str = "renew's report holds serials and times; searched for secrets here";

/// podman's own warnings depend on this host's setup.
const PODMAN: &str = "podman's warnings depend on this host's setup";

/// One `execve` of the trace: the pid that made it, its line (argv and
/// environment, as strace prints them) and whether it succeeded.
struct Exec {
    pid: u32,
    line: String,
    /// The program ran (execve returned 0, not ENOENT on a `PATH` entry).
    ran: bool,
}

/// The `execve` lines of a `strace -f -o FILE` trace.
fn execs(trace: &Path) -> Vec<Exec> {
    let text = std::fs::read_to_string(trace)
        .unwrap_or_else(|e| panic!("read the trace {}: {e}", trace.display()));
    // An execve another process interrupts is split: `<unfinished ...>`
    // with its arguments, then `<... execve resumed>) = RESULT`.
    let mut pending: BTreeMap<u32, usize> = BTreeMap::new();
    let mut out: Vec<Exec> = Vec::new();
    for l in text.lines() {
        let Some((pid, rest)) = l.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.parse() else { continue };
        if rest.starts_with("<... execve resumed>") {
            if let Some(i) = pending.remove(&pid) {
                out[i].ran = rest.ends_with("= 0");
            }
        } else if rest.contains("execve(") {
            if rest.ends_with("<unfinished ...>") {
                pending.insert(pid, out.len());
            }
            out.push(Exec {
                pid,
                line: rest.to_string(),
                ran: rest.ends_with("= 0"),
            });
        }
    }
    out
}

/// The program an `execve` line runs, by its file name (`runuser`, `nft`).
fn program(line: &str) -> String {
    let path = line
        .split_once("execve(\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(p, _)| p)
        .unwrap_or_default();
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every secret to look for now: the operator token, every secret_id the
/// tenant's bundle or installed copy has held so far (`seen` keeps them
/// across runs), and each base64 line of every private key in the state
/// and the installed copy.
fn secrets(site: &Fixture, copy: &Path, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    seen.insert(CANARY_TOKEN.to_string());
    let mut files = Vec::new();
    walk(site.dir(), &mut files);
    walk(copy, &mut files);
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        if name == "secret_id" && !text.trim().is_empty() {
            seen.insert(text.trim().to_string());
        }
        if text.contains("PRIVATE KEY-----") {
            let mut inside = false;
            for l in text.lines() {
                if l.starts_with("-----BEGIN") {
                    inside = l.contains("PRIVATE KEY");
                } else if l.starts_with("-----END") {
                    inside = false;
                } else if inside && l.len() >= 16 {
                    seen.insert(l.to_string());
                }
            }
        }
    }
    seen.clone()
}

/// Regular files under `dir`, links not followed.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), out);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

/// `cmd` run under strace, writing the trace to `trace`; `ip netns exec`
/// and `env -C /` inside it take the place of the namespace the fixture's
/// command would enter, and exec vaultnet in the same process.
fn traced(site: &Fixture, mut cmd: Cmd, trace: &Path) -> Cmd {
    let mut launcher: Vec<OsString> = [
        "strace",
        "-f",
        "-e",
        "trace=execve",
        "-s",
        "65536",
        "-v",
        "-o",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    launcher.push(trace.as_os_str().to_owned());
    for w in ["ip", "netns", "exec", site.ns().name(), "env", "-C"] {
        launcher.push(w.into());
    }
    // A run that leaves a traced process behind keeps strace waiting.
    cmd.within(launcher).timeout(Duration::from_secs(60));
    cmd
}

/// Checks one traced run: the token in vaultnet's own environment, and no
/// secret in any child's argv or environment, nor in the run's output or
/// `state`. Returns the programs its children ran.
#[track_caller]
fn check_run(
    what: &str,
    out: &Output,
    trace: &Path,
    secrets: &BTreeSet<String>,
    state: &str,
) -> BTreeSet<String> {
    let execs = execs(trace);
    let root = execs
        .first()
        .unwrap_or_else(|| panic!("{what}: the trace saw no execve"))
        .pid;
    // The launcher's chain (strace's child, `ip`, `env`, vaultnet) is one
    // process: vaultnet was given the token in its environment, as an
    // operator gives it; the trace must show it there, or it shows nothing.
    let own: Vec<&Exec> = execs.iter().filter(|e| e.pid == root).collect();
    let last = own.last().expect("the first exec");
    assert!(
        last.ran && program(&last.line) == "vaultnet",
        "{what}: the traced process last ran another program: {}",
        last.line
    );
    assert!(
        last.line.contains(&format!("BAO_TOKEN={CANARY_TOKEN}")),
        "{what}: the trace does not show vaultnet's environment: {}",
        last.line
    );
    let mut children = BTreeSet::new();
    for e in execs.iter().filter(|e| e.pid != root) {
        if e.ran {
            children.insert(program(&e.line));
        }
        for s in secrets {
            assert!(
                !e.line.contains(s.as_str()),
                "{what}: a secret ({} chars) is in the argv or environment of a child: {}",
                s.len(),
                e.line.replace(s.as_str(), "[SECRET]")
            );
        }
        assert!(
            !e.line.contains("PRIVATE KEY"),
            "{what}: a private key is in the argv or environment of a child"
        );
    }
    for s in secrets {
        for (stream, text) in [
            ("stdout", out.stdout.as_str()),
            ("stderr", out.stderr.as_str()),
            ("vaultnet.yaml", state),
        ] {
            assert!(
                !text.contains(s.as_str()),
                "{what}: a secret ({} chars) is in {stream}",
                s.len()
            );
        }
    }
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains("PRIVATE KEY"),
            "{what}: a private key shows\n{out}"
        );
    }
    eprintln!(
        "[canary] {what}: {} execve by children: {children:?}",
        execs.len() - own.len()
    );
    children
}

#[test]
fn no_secret_reaches_a_child_process_argv_or_environment_or_any_output() {
    require_e2e!(
        "runs OpenBao, socat, nft and runuser in a network namespace and adds a Unix user"
    );
    let site = Fixture::host("vncan")
        .openbao_without_token()
        .forwarder()
        .init_args(["--agent-image", podman::AGENT_IMAGE])
        .build();
    let (code, body) = site.root_api(
        "POST",
        "auth/token/create",
        Some(json!({ "id": CANARY_TOKEN, "policies": ["root"], "ttl": "1h" })),
    );
    assert_eq!(code, 200, "create the canary token: {body}");
    assert_eq!(body["auth"]["client_token"], CANARY_TOKEN, "{body}");
    // A Unix user with a session's runtime directory, so `renew` asks its
    // Podman for agents to nudge.
    podman::require_tools();
    let user = PodmanTenant::create(&format!("vnc{}", std::process::id()), site.ns().name());
    let t = user.name.clone();
    let copy = user.home.join(".config/vaultnet");
    let trace = |step: &str| site.scratch().join(format!("trace-{step}.txt"));
    let token = |mut c: Cmd| {
        c.env("BAO_TOKEN", CANARY_TOKEN);
        c
    };
    let state = || std::fs::read_to_string(site.path("vaultnet.yaml")).expect("read vaultnet.yaml");
    let mut seen = BTreeSet::new();
    let mut children: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();

    // init with the canary token: AppRole and KV v2 enabled.
    let out = traced(&site, token(site.init()), &trace("init"))
        .run()
        .expect(bootstrap_init(&site));
    let s = secrets(&site, &copy, &mut seen);
    children.insert(
        "init",
        check_run("init", &out, &trace("init"), &s, &state()),
    );

    // add-user --install: the tenant's Podman is asked through runuser.
    let mut add = site.vaultnet_without_token();
    add.args(["add-user", "--install", &t])
        .args(["--cert-ttl", "1m", "--secret-id-ttl", "1m"]);
    let out = traced(&site, token(add), &trace("add-user")).run().expect(
        site.expect(0)
            .stdout(format!(
                "added tenant {t}: bundle in tenants/{t}, installed in {} (cert expires [TIME])\n{}",
                copy.display(),
                next(&t)
            ))
            // Lifetimes under a day are shown to the second.
            .stderr(format!(
                "{}{t}: installed into `{}`\n{gate}",
                created(&t).replace("[DATE]", "[TIME]"),
                copy.display(),
                gate = site.gate_line()
            )),
    );
    let s = secrets(&site, &copy, &mut seen);
    children.insert(
        "add-user",
        check_run("add-user", &out, &trace("add-user"), &s, &state()),
    );

    // add-user --install of a tenant whose secret_id is response-wrapped:
    // `vaultnet unwrap` runs as that tenant, through runuser, and spends
    // the wrapping token through the tenant's own gate.
    let wrapped = PodmanTenant::create(&format!("vnw{}", std::process::id()), site.ns().name());
    let w = wrapped.name.clone();
    let wcopy = wrapped.home.join(".config/vaultnet");
    site.load_nft();
    let mut add = site.vaultnet_without_token();
    add.args(["add-user", "--install", "--wrap-ttl", "10m", &w]);
    let out = traced(&site, token(add), &trace("add-user-wrapped")).run().expect(
        site.expect(0)
            .stdout(format!(
                "added tenant {w}: bundle in tenants/{w}, installed in {} (cert expires [DATE])\n{}",
                wcopy.display(),
                next(&w)
            ))
            .stderr(format!(
                "{}{w}: installed into `{}`\n{w}: unwrapped the secret_id into `{}` as {w}\n{gate}",
                created_wrapped(&w),
                wcopy.display(),
                wcopy.join("secret_id").display(),
                gate = site.gate_line()
            )),
    );
    let installed =
        std::fs::read_to_string(wcopy.join("secret_id")).expect("the installed secret_id");
    let in_state =
        std::fs::read_to_string(site.bundle(&w).join("secret_id")).expect("the bundle's secret_id");
    assert_ne!(
        installed.trim(),
        in_state.trim(),
        "the installed copy holds the unwrapped secret_id"
    );
    let mut s = secrets(&site, &wcopy, &mut seen);
    s.extend(secrets(&site, &copy, &mut seen));
    children.insert(
        "add-user-wrapped",
        check_run(
            "add-user --install --wrap-ttl",
            &out,
            &trace("add-user-wrapped"),
            &s,
            &state(),
        ),
    );

    // renew, once the certificate and secret_id are due (about 40 s).
    site.wait_until_due(
        &[&t],
        2,
        Duration::from_secs(75),
        "the tenant's certificate and secret_id to be due",
    );
    // The tenant's rootless Podman keeps a pause process: started here,
    // untraced, so that strace (which waits for every process it follows)
    // ends with the run instead of with the pause process.
    user.podman(["ps", "-q"])
        .run()
        .expect(Expect::success().stderr_any(PODMAN));
    let before = site.state()["tenants"][&t].clone();
    let mut renew = site.vaultnet_without_token();
    renew.args(["renew", "--output", "json", &t]);
    let out = traced(&site, token(renew), &trace("renew")).run().expect(
        site.expect(0)
            .stdout_any(RENEW_REPORT)
            .stderr_any(RENEW_REPORT),
    );
    let after = site.state()["tenants"][&t].clone();
    assert_ne!(
        after["cert_serial"], before["cert_serial"],
        "renewed: {out}"
    );
    assert_ne!(
        after["secret_id_accessor"], before["secret_id_accessor"],
        "renewed: {out}"
    );
    let report: Value = serde_json::from_str(&out.stdout).expect("renew's JSON");
    assert_eq!(report["tenants"][0]["name"], t.as_str(), "{out}");
    let s = secrets(&site, &copy, &mut seen);
    children.insert(
        "renew",
        check_run("renew", &out, &trace("renew"), &s, &state()),
    );

    // doctor --login: the login runs as the tenant, through runuser.
    let mut doctor = site.vaultnet_without_token();
    doctor
        .env("LC_ALL", "C.UTF-8")
        .args(["doctor", "--login", "--output", "json"]);
    let out = traced(&site, token(doctor), &trace("doctor"))
        .run()
        .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
    let s = secrets(&site, &copy, &mut seen);
    children.insert(
        "doctor",
        check_run("doctor --login", &out, &trace("doctor"), &s, &state()),
    );
    let report = Report::parse(out);
    report.expect(&format!("login.{t}"), "ok");
    // Its bundle holds the spent wrapping token: doctor does not log in.
    report.expect(&format!("login.{w}"), "skip");

    // doctor --probe: a container of the agent image, run by the tenant's
    // own Podman through runuser, with the bundle's key mounted as a file.
    let kit = podman::Kit::build();
    user.import(&kit.bao_tar, podman::AGENT_IMAGE);
    let mut probe = site.vaultnet_without_token();
    probe
        .env("LC_ALL", "C.UTF-8")
        .args(["doctor", "--user", &t, "--probe", "--output", "json"]);
    let out = traced(&site, token(probe), &trace("probe"))
        .run()
        .expect(site.expect(0).stdout_any(REPORT_NOT_COMPARED));
    let s = secrets(&site, &copy, &mut seen);
    children.insert(
        "probe",
        check_run("doctor --probe", &out, &trace("probe"), &s, &state()),
    );
    Report::parse(out).expect(&format!("probe.{t}"), "ok");

    // remove-user: the old secret_id (still retiring) and the new one go.
    let mut remove = site.vaultnet_without_token();
    remove.args(["remove-user", "--yes", &t]);
    let out = traced(&site, token(remove), &trace("remove-user"))
        .run()
        .expect(
            site.expect(0)
                .stdout(format!(
                    "removed tenant {t}: destroyed 2 secret_id(s), deleted role and policy, removed `tenants/{t}`\n"
                ))
                .stderr(format!(
                    "{t}: the copy in `{}` is left in place (its credentials no longer work); `--purge` removes it\n{gate}",
                    copy.display(),
                    gate = site.gate_line()
                )),
        );
    children.insert(
        "remove-user",
        check_run("remove-user", &out, &trace("remove-user"), &seen, &state()),
    );

    // The children each run is known to start were seen.
    for (step, want) in [
        ("add-user", "runuser"),
        ("renew", "runuser"),
        ("doctor", "runuser"),
        ("doctor", "nft"),
        // The login probe, as the tenant.
        ("doctor", "vaultnet"),
        // `vaultnet unwrap`, as the tenant.
        ("add-user-wrapped", "runuser"),
        ("add-user-wrapped", "vaultnet"),
        // The new uid admitted to the loaded gate, then the gate reloaded.
        ("add-user-wrapped", "nft"),
        ("probe", "runuser"),
        ("probe", "podman"),
        ("probe", "conmon"),
    ] {
        assert!(
            children[step].contains(want),
            "{step}: the trace shows no `{want}`: {:?}",
            children[step]
        );
    }
    eprintln!(
        "[canary] {} secrets looked for in {} traced runs",
        seen.len(),
        children.len()
    );
}
