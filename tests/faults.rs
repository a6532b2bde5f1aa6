//! Convergence under faults (SECURITY.md V3, S2, I3 and the "Faults" of the
//! negative tests): `add-user` and `remove-user` run against a real OpenBao
//! through a fault-injecting mTLS proxy (`support::faultproxy`), which at
//! each write in turn loses the answer of a write Vault applied, answers
//! 500, a malformed body, nothing at all or nothing for longer than
//! `--timeout`, or holds the request while the test kills vaultnet
//! (SIGKILL), seals OpenBao or SIGKILLs OpenBao itself (raft storage) and
//! restarts it. Every failed run must exit 1 with one
//! `error:` line naming the cause and one `hint:` line, never panic, never
//! show a secret, and leave no temp file, nothing outside the bundle and no
//! secret file without a record of its tenant that names the certificate
//! on disk; run again without the fault, it must adopt what was left and
//! reach exactly the end state of a clean run — one policy, one role, one
//! secret_id that logs in and that vaultnet.yaml names, a key that matches
//! its certificate — with no orphan secret_id and no token left behind,
//! response-wrapping tokens included. A wrong operator token fails with
//! `permission denied` and changes nothing, on disk or in Vault.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::cmd::{Cmd, Output};
use crate::support::expect::Expect;
use crate::support::faultproxy::{Event, Fault, Inject, temp_files};
use crate::support::fixture::Fixture;
use crate::support::openbao::OpenBao;
use crate::support::require_e2e;
use crate::support::tenant::{
    add_expect, added, added_end, created, created_wrapped, next, removed, up_to_date, updated,
};

/// The lock file every state-changing run rewrites with its pid.
const LOCK: &str = ".vaultnet.lock";

/// `--timeout` of the runs that meet a stalled Vault, and how much longer
/// than that such a run may take to exit.
const STALL_TIMEOUT_SECS: u64 = 2;
const STALL_MARGIN: Duration = Duration::from_secs(6);

/// Why a rerun after a fault is not compared whole: what it repairs,
/// adopts or still has to remove depends on where the fault struck. The
/// end state it reaches is what these tests compare.
const RERUN: &str = "the rerun's report depends on where the fault struck";

/// A run Vault refused: exit 1, nothing on stdout, one error and a hint.
fn refused_by_vault(site: &Fixture, error: &str, hint: &str) -> Expect {
    site.refused(1, error, hint)
}

/// What a first `add-user NAME` reports before it asks for a secret_id.
fn before_secret_id(name: &str) -> String {
    format!(
        "{name}: policy `vaultnet-{name}`: created
{name}: AppRole role `vaultnet-{name}`: created
{name}: client certificate issued, expires [DATE]
"
    )
}

/// A wrong operator token, distinctive enough to spot in any output.
const WRONG_TOKEN: &str = "s.wrongTOKENfaultsE2E7qW3xk";

/// The bundle's file names for `tenant`, as a set.
fn bundle_files(tenant: &str) -> BTreeSet<String> {
    crate::support::tenant::bundle_files(tenant)
        .into_iter()
        .collect()
}

/// Bundle files compared, name-normalised, with the clean run's.
fn rendered_files(tenant: &str) -> Vec<String> {
    vec![
        "ca.pem".into(),
        "agent.json".into(),
        "compose.yaml".into(),
        format!("{tenant}-vault-agent.container"),
        format!("{tenant}-vaultnet-secrets.volume"),
    ]
}

fn add_user(site: &Fixture, name: &str) -> Cmd {
    let mut c = site.vaultnet();
    c.args(["add-user", "--no-unix-user", name]);
    c
}

fn remove_user(site: &Fixture, name: &str) -> Cmd {
    let mut c = site.vaultnet();
    c.args(["remove-user", "--yes", name]);
    c
}

/// The tenant's record in `vaultnet.yaml`, if any.
fn record(site: &Fixture, name: &str) -> Option<Value> {
    site.state()
        .pointer(&format!("/tenants/{name}"))
        .filter(|v| !v.is_null())
        .cloned()
}

/// Every token accessor in OpenBao (the root token's included).
#[track_caller]
fn tokens(site: &Fixture) -> BTreeSet<String> {
    site.list("auth/token/accessors").into_iter().collect()
}

/// The tenant's secret_id accessors.
#[track_caller]
fn secret_ids(site: &Fixture, name: &str) -> Vec<String> {
    site.list(&format!("auth/approle/role/vaultnet-{name}/secret-id"))
}

/// What vaultnet may change in Vault, for "nothing changed" checks.
#[track_caller]
fn vault_objects(site: &Fixture, tenants: &[&str]) -> Value {
    let mut v = json!({
        "policies": site.list("sys/policies/acl"),
        "roles": site.list("auth/approle/role"),
        "tokens": tokens(site),
    });
    for t in tenants {
        v[format!("secret_ids/{t}")] = json!(secret_ids(site, t));
    }
    v
}

#[track_caller]
fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `openssl ARGS… -in PATH`'s stdout.
#[track_caller]
fn openssl(args: &[&str], path: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .arg("-in")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Revokes a token the test made.
#[track_caller]
fn revoke(bao: &OpenBao, token: &str) {
    let (code, body) = bao.root_api("POST", "auth/token/revoke", Some(json!({ "token": token })));
    assert!(code == 204 || code == 200, "revoke answered {code}: {body}");
}

/// Everything a converged tenant is, with its name replaced by `NAME` so
/// that two tenants provisioned the same way compare equal.
#[derive(Debug, PartialEq, Eq)]
struct Converged {
    /// Policy text and role settings.
    vault: String,
    /// Bundle file name -> mode.
    modes: BTreeMap<String, u32>,
    /// Rendered, non-secret bundle files.
    rendered: BTreeMap<String, String>,
    /// The state record without what differs per issuance (serial, expiry
    /// dates, accessor), plus whether a secret_id expiry is recorded.
    record: String,
}

/// Checks that `name` is fully provisioned — exactly one policy of its
/// name, its role, exactly one secret_id accessor, the one vaultnet.yaml
/// names, whose secret_id (from the bundle) logs in; `client.pem` matches
/// `client-key.pem` and the serial the state records — and returns it
/// normalised. The test's login token is revoked again.
#[track_caller]
fn converged(site: &Fixture, name: &str) -> Converged {
    end_state(site, name, None)
}

/// [`converged`] after a `renew` of `name`, whose record was `before`: a
/// new certificate and a new live secret_id, and besides it exactly the
/// secret_ids the state names as retiring — the replaced one, still
/// honoured until its `until` — and no other. The record is normalised
/// with the replaced accessor shown as `OLD` and its `until` (counted from
/// the run's own clock) as `[LATER]` once checked to lie ahead.
#[track_caller]
fn renewed(site: &Fixture, name: &str, before: &Value) -> Converged {
    end_state(site, name, Some(before))
}

/// [`converged`], or with `renewed_from` [`renewed`].
#[track_caller]
fn end_state(site: &Fixture, name: &str, renewed_from: Option<&Value>) -> Converged {
    let bao = site.bao();
    let norm = |s: String| s.replace(name, "NAME");
    let policy_name = format!("vaultnet-{name}");
    let policies: Vec<String> = site
        .list("sys/policies/acl")
        .into_iter()
        .filter(|p| p.contains(name))
        .collect();
    assert_eq!(policies, [policy_name.as_str()], "policies of {name}");
    let (code, policy) = bao.root_api("GET", &format!("sys/policies/acl/{policy_name}"), None);
    assert_eq!(code, 200, "policy {policy_name}: {policy}");
    let (code, role) = bao.root_api("GET", &format!("auth/approle/role/vaultnet-{name}"), None);
    assert_eq!(code, 200, "role {name}: {role}");
    let roles: Vec<String> = site
        .list("auth/approle/role")
        .into_iter()
        .filter(|r| *r == format!("vaultnet-{name}"))
        .collect();
    assert_eq!(roles.len(), 1, "roles named vaultnet-{name}");

    let mut rec =
        record(site, name).unwrap_or_else(|| panic!("no record of {name} in vaultnet.yaml"));
    let live = rec["secret_id_accessor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let retiring: Vec<String> = rec["retiring"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|e| e["accessor"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut accessors = secret_ids(site, name);
    accessors.sort();
    let mut named: Vec<String> = std::iter::once(live.clone())
        .chain(retiring.iter().cloned())
        .collect();
    named.sort();
    assert_eq!(
        accessors, named,
        "{name} must have exactly the secret_ids vaultnet.yaml names: the live one and those retiring"
    );
    // The bundle's secret_id is the live one (a retiring one logs in too).
    let (code, sid) = bao.root_api(
        "POST",
        &format!("auth/approle/role/vaultnet-{name}/secret-id/lookup"),
        Some(json!({ "secret_id": read_text(&site.bundle(name).join("secret_id")).trim() })),
    );
    assert_eq!(code, 200, "look up {name}'s secret_id: {sid}");
    assert_eq!(
        sid["data"]["secret_id_accessor"].as_str(),
        Some(live.as_str()),
        "{name}: the bundle's secret_id is not the one vaultnet.yaml names as live"
    );
    match renewed_from {
        None => assert!(
            retiring.is_empty(),
            "{name}: retiring after add-user: {rec}"
        ),
        Some(before) => {
            let old = before["secret_id_accessor"].as_str().unwrap_or_default();
            assert_ne!(live, old, "{name}: renew kept the secret_id that was due");
            assert_ne!(
                rec["cert_serial"], before["cert_serial"],
                "{name}: renew kept the certificate that was due"
            );
            let now = time::OffsetDateTime::now_utc();
            for r in rec["retiring"].as_array_mut().into_iter().flatten() {
                if r["accessor"] == old {
                    r["accessor"] = json!("OLD");
                }
                let until = r["until"].as_str().unwrap_or_default();
                if vaultnet::state::rfc3339::parse(until).is_some_and(|u| u > now) {
                    r["until"] = json!("[LATER]");
                }
            }
        }
    }

    let token = site.login_bundle(name);
    let (code, me) = bao.api("GET", "auth/token/lookup-self", None, Some(&token));
    assert_eq!(code, 200, "lookup-self: {me}");
    assert!(
        me["data"]["policies"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == policy_name.as_str())),
        "{name}'s token lacks its policy: {me}"
    );
    revoke(bao, &token);

    let dir = site.bundle(name);
    let cert_key = openssl(&["x509", "-noout", "-pubkey"], &dir.join("client.pem"));
    let key_key = openssl(&["pkey", "-pubout"], &dir.join("client-key.pem"));
    assert_eq!(
        cert_key, key_key,
        "{name}: client.pem does not match client-key.pem"
    );
    let serial = openssl(&["x509", "-noout", "-serial"], &dir.join("client.pem"));
    let serial = serial.trim().trim_start_matches("serial=");
    let recorded = rec["cert_serial"].as_str().unwrap_or_default();
    assert_eq!(
        serial.trim_start_matches('0').to_lowercase(),
        recorded.trim_start_matches('0').to_lowercase(),
        "{name}: vaultnet.yaml records another certificate than client.pem"
    );

    let mut modes = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("list the bundle") {
        let e = e.expect("bundle entry");
        let mode = e.metadata().expect("stat bundle file").mode() & 0o7777;
        modes.insert(norm(e.file_name().to_string_lossy().into_owned()), mode);
    }
    let rendered = rendered_files(name)
        .into_iter()
        .map(|f| (norm(f.clone()), norm(read_text(&dir.join(&f)))))
        .collect();
    let expires = rec["secret_id_expires"].is_string();
    // The recorded SHA-256 is the bundle's plain secret_id's (a wrapped one
    // has none): compared here, then left out like the accessor.
    let sha256 = rec["secret_id_sha256"].as_str().map(str::to_string);
    let plain = read_text(&dir.join("secret_id"));
    let plain = vaultnet::vault::ops::is_plain_secret_id(plain.trim()).then_some(plain);
    assert_eq!(
        sha256,
        plain.map(|p| vaultnet::secret::sha256_hex(p.trim().as_bytes())),
        "{name}: vaultnet.yaml records another secret_id's SHA-256 than the bundle's"
    );
    for k in [
        "cert_serial",
        "cert_not_after",
        "secret_id_accessor",
        "secret_id_expires",
        "secret_id_sha256",
    ] {
        rec.as_object_mut().expect("record is a map").remove(k);
    }
    Converged {
        vault: norm(
            json!({ "policy": policy["data"]["policy"], "role": role["data"] }).to_string(),
        ),
        modes,
        rendered,
        record: norm(format!("{rec} secret_id_expires recorded: {expires}")),
    }
}

/// A clean `add-user` of `t-ref` through a pass-through proxy: its end
/// state and the writes it made.
#[track_caller]
fn reference(site: &Fixture) -> (Converged, Vec<Event>) {
    let (out, proxy) = site.run_through(Inject::none(), &mut add_user(site, "t-ref"));
    out.expect(add_expect(site, &["t-ref"], false));
    let writes = proxy.writes();
    let paths: Vec<String> = writes
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    for want in [
        "PUT /v1/sys/policies/acl/vaultnet-t-ref",
        "POST /v1/auth/approle/role/vaultnet-t-ref",
        "POST /v1/auth/approle/role/vaultnet-t-ref/secret-id",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "a clean add-user makes the write `{want}`; the proxy saw:\n{}",
            proxy.transcript()
        );
    }
    (converged(site, "t-ref"), writes)
}

/// Exit 1, nothing on stdout, no panic, and exactly one `error:` line —
/// naming every one of `causes` — followed by one `hint:` line, the last
/// two lines of stderr (progress lines may come before). Returns the
/// error and hint lines.
#[track_caller]
fn assert_fails_with(out: &Output, causes: &[&str]) -> (String, String) {
    assert!(
        out.code == Some(1) && !out.timed_out,
        "expected exit code 1\n{out}"
    );
    assert!(!out.stderr.contains("panicked"), "vaultnet panicked\n{out}");
    assert!(out.stdout.is_empty(), "expected nothing on stdout\n{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    let errors: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("error:"))
        .collect();
    let hints = lines.iter().filter(|l| l.starts_with("hint:")).count();
    assert!(
        errors.len() == 1
            && hints == 1
            && errors[0] + 2 == lines.len()
            && lines[errors[0] + 1].len() > "hint: ".len()
            && lines[errors[0] + 1].starts_with("hint: "),
        "expected one `error:` line then one `hint:` line at the end of stderr\n{out}"
    );
    let error = lines[errors[0]];
    for c in causes {
        assert!(error.contains(c), "the error must name {c:?}\n{out}");
    }
    (error.to_string(), lines[errors[0] + 1].to_string())
}

/// None of `secrets`, and no private key, in stdout or stderr.
#[track_caller]
fn assert_no_secret(out: &Output, secrets: &[&str]) {
    for s in secrets.iter().filter(|s| !s.trim().is_empty()) {
        assert!(
            !out.stdout.contains(s.trim()) && !out.stderr.contains(s.trim()),
            "a secret appears in the output of `{}`",
            out.command
        );
    }
    assert!(
        !out.stdout.contains("PRIVATE KEY") && !out.stderr.contains("PRIVATE KEY"),
        "a private key appears in the output\n{out}"
    );
}

/// After a failed or killed first-time `add-user NAME`: no temp file
/// anywhere in the state; vaultnet.yaml whole, the site and every other
/// tenant as before; in the bundle directory (if any) only bundle files,
/// the secret ones 0600; and a secret file only with a record of the
/// tenant that names the certificate on disk (add-user records a tenant as
/// soon as a secret file of it exists, so `remove-user` and a re-run know
/// it). Returns the secret files left, to check that the rerun adopts them.
#[track_caller]
fn assert_failed_run_left_no_debris(
    site: &Fixture,
    name: &str,
    state_before: &Value,
    what: &str,
) -> BTreeMap<String, Vec<u8>> {
    let tmp = temp_files(site.dir());
    assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
    let mut now = site.state();
    let rec = now["tenants"]
        .as_object_mut()
        .and_then(|t| t.remove(name))
        .filter(|r| !r.is_null());
    if now["tenants"].as_object().is_some_and(|t| t.is_empty()) {
        now["tenants"] = Value::Null;
    }
    // The tenant is either recorded or marked pending — what a cut-short
    // run made in Vault is vaultnet's own, and the rerun takes it over
    // (SECURITY.md V7) — never neither, once a Vault write went through.
    let pending = now
        .as_object_mut()
        .and_then(|o| o.remove("pending"))
        .unwrap_or(Value::Null);
    assert!(
        pending.is_null() || pending == serde_json::json!([name]),
        "{what}: pending holds more than the tenant: {pending}"
    );
    assert!(
        rec.is_none() || pending.is_null(),
        "{what}: recorded and still pending"
    );
    let mut before = state_before.clone();
    if before["tenants"].as_object().is_some_and(|t| t.is_empty()) {
        before["tenants"] = Value::Null;
    }
    assert_eq!(
        now, before,
        "{what}: vaultnet.yaml changed beyond the tenant's own record"
    );

    let allowed = bundle_files(name);
    let mut secrets = BTreeMap::new();
    let dir = site.bundle(name);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let e = e.expect("bundle entry");
            let f = e.file_name().to_string_lossy().into_owned();
            assert!(
                allowed.contains(&f),
                "{what}: `{f}` in {} is no bundle file",
                dir.display()
            );
            if matches!(f.as_str(), "client-key.pem" | "role_id" | "secret_id") {
                let mode = e.metadata().expect("stat").mode() & 0o7777;
                assert_eq!(mode, 0o600, "{what}: `{f}` has mode {mode:o}");
                secrets.insert(f, std::fs::read(e.path()).expect("read secret file"));
            }
        }
    }
    if !secrets.is_empty() {
        let rec = rec.unwrap_or_else(|| {
            panic!(
                "{what}: {:?} left in {} but vaultnet.yaml has no record of {name}",
                secrets.keys().collect::<Vec<_>>(),
                dir.display()
            )
        });
        let serial = openssl(&["x509", "-noout", "-serial"], &dir.join("client.pem"));
        let serial = serial.trim().trim_start_matches("serial=");
        assert_eq!(
            serial.trim_start_matches('0').to_lowercase(),
            rec["cert_serial"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('0')
                .to_lowercase(),
            "{what}: the record of {name} names another certificate than the one on disk"
        );
    }
    secrets
}

/// Reruns `add-user NAME` (through the proxy already running, whose one
/// fault has struck) and checks it converges to `reference`, adopting the
/// secret files the failed run left (a key and a secret_id on disk are
/// kept, not replaced by new ones that would orphan them), with every
/// token as `tokens_before`. Returns the rerun's output.
#[track_caller]
fn rerun_converges(
    site: &Fixture,
    name: &str,
    reference: &Converged,
    left: &BTreeMap<String, Vec<u8>>,
    tokens_before: &BTreeSet<String>,
    what: &str,
) -> Output {
    // What the rerun reports repairing and adopting depends on where the
    // fault struck; the end state it reaches is compared below instead.
    let out = add_user(site, name)
        .run()
        .expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
    assert!(
        out.stderr.lines().all(|l| !l.starts_with("error")),
        "{what}: rerun\n{out}"
    );
    let got = converged(site, name);
    assert_eq!(
        &got, reference,
        "{what}: the rerun must reach a clean run's end state"
    );
    for (f, bytes) in left {
        let now = std::fs::read(site.bundle(name).join(f)).expect("read bundle file");
        assert!(
            &now == bytes,
            "{what}: the rerun replaced `{f}` that the failed run left instead of adopting it"
        );
    }
    assert_eq!(
        &tokens(site),
        tokens_before,
        "{what}: tokens left behind (or revoked)"
    );
    let dir = site.bundle(name);
    assert_no_secret(
        &out,
        &[
            &site.bao().root_token,
            &read_text(&dir.join("role_id")),
            &read_text(&dir.join("secret_id")),
        ],
    );
    out
}

/// One fault during a first-time `add-user NAME`, then the rerun through
/// the same proxy (its fault strikes once): the run fails as
/// [`assert_fails_with`] says, naming the tenant, with a hint that does not
/// blame a certificate (Vault failed, not TLS), leaves no debris, and the
/// rerun converges.
#[track_caller]
fn fault_then_converge(
    site: &Fixture,
    name: &str,
    inject: Inject,
    causes: &[&str],
    timeout: Option<u64>,
    reference: &Converged,
) {
    let what = format!("add-user {name} with {inject:?}");
    let tokens_before = tokens(site);
    let state_before = site.state();
    let mut cmd = add_user(site, name);
    if let Some(t) = timeout {
        cmd.args(["--timeout", &t.to_string()]);
    }
    let proxy = site.proxy(inject);
    let started = Instant::now();
    let out = cmd.run();
    let took = started.elapsed();
    let struck = proxy.struck().unwrap_or_else(|| {
        panic!(
            "{what}: the fault never struck; the proxy saw:\n{}\n{out}",
            proxy.transcript()
        )
    });
    let (error, hint) = assert_fails_with(&out, causes);
    if let Some(t) = timeout {
        assert!(
            took < Duration::from_secs(t) + STALL_MARGIN,
            "{what}: took {took:?} with `--timeout {t}`\n{out}"
        );
    }
    assert!(
        error.contains(&format!("tenant `{name}`")),
        "{what}: the error must name the tenant (the fault struck {struck})\n{out}"
    );
    assert!(
        !hint.contains("certificate"),
        "{what}: Vault failed, yet the hint blames a certificate\n{out}"
    );
    let left = assert_failed_run_left_no_debris(site, name, &state_before, &what);
    assert_no_secret(&out, &[&site.bao().root_token]);
    rerun_converges(site, name, reference, &left, &tokens_before, &what);
    // The role_id is the same across both runs: the failed one never shows it.
    assert_no_secret(&out, &[&read_text(&site.bundle(name).join("role_id"))]);
}

#[test]
fn add_user_whose_answer_is_lost_after_each_write_converges_on_rerun() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (reference, writes) = reference(&site);
    for k in 1..=writes.len() {
        for (fault, tag, causes) in [
            (Fault::Status(500), "l", &["HTTP 500", "injected"][..]),
            (Fault::Drop, "d", &["hung up"][..]),
        ] {
            fault_then_converge(
                &site,
                &format!("t-{tag}{k}"),
                Inject::after(fault, k),
                causes,
                None,
                &reference,
            );
        }
    }
}

#[test]
fn add_user_killed_while_waiting_after_each_write_converges_on_rerun() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (reference, writes) = reference(&site);
    for k in 1..=writes.len() {
        let name = format!("t-k{k}");
        let what = format!("add-user {name} killed after write {k}");
        let tokens_before = tokens(&site);
        let state_before = site.state();
        let proxy = site.proxy(Inject::after(Fault::Hold, k));
        let mut child = add_user(&site, &name)
            .to_command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vaultnet");
        let held = proxy.wait_held(Duration::from_secs(30));
        assert_eq!(held.n, Some(k), "{what}: {held}");
        assert!(
            held.upstream.is_some_and(|s| s < 300),
            "{what}: the write must have been applied: {held}"
        );
        // SIGKILL: no chance to clean up, the way a crash or an OOM kill ends it.
        child.kill().expect("kill vaultnet");
        let status = child.wait().expect("reap vaultnet");
        assert!(status.code().is_none(), "{what}: vaultnet was not killed");
        let left = assert_failed_run_left_no_debris(&site, &name, &state_before, &what);
        // The held request stays held; the rerun's writes pass.
        rerun_converges(&site, &name, &reference, &left, &tokens_before, &what);
        drop(proxy);
    }
}

#[test]
fn vault_failures_during_add_user_give_one_line_cause_and_hint_and_rerun_converges() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (reference, writes) = reference(&site);
    for k in 1..=writes.len() {
        for (fault, tag, causes, timeout) in [
            (Fault::Status(500), "s", &["HTTP 500", "injected"][..], None),
            (Fault::Malformed, "m", &["malformed", "not JSON"][..], None),
            (Fault::Drop, "d", &["hung up"][..], None),
            (
                Fault::Stall,
                "w",
                &["timed out"][..],
                Some(STALL_TIMEOUT_SECS),
            ),
        ] {
            fault_then_converge(
                &site,
                &format!("t-{tag}{k}"),
                Inject::before(fault, k),
                causes,
                timeout,
                &reference,
            );
        }
    }
}

#[test]
fn remove_user_failing_after_each_write_converges_on_rerun_and_leaves_no_access() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let bao = site.bao();
    let mut clean_writes = None;
    for k in 1..=40 {
        let name = format!("r-{k}");
        let what = format!("remove-user {name} with a 500 after write {k}");
        let tokens_before = tokens(&site);
        let (out, proxy) = site.run_through(Inject::none(), &mut add_user(&site, &name));
        out.expect(add_expect(&site, &[&name], false));
        drop(proxy);
        // A token issued before the removal: it must not survive it.
        let token = site.login_bundle(&name);
        let secrets = [
            bao.root_token.clone(),
            token.clone(),
            read_text(&site.bundle(&name).join("role_id")),
            read_text(&site.bundle(&name).join("secret_id")),
        ];
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();

        let proxy = site.proxy(Inject::after(Fault::Status(500), k));
        let out = remove_user(&site, &name).run();
        assert_no_secret(&out, &secrets);
        if proxy.struck().is_none() {
            // Past the last write: this was a clean removal.
            out.expect(site.expect(0).stdout(removed(&name, true)));
            assert_gone(&site, &name, &token, &what);
            clean_writes = Some(proxy.writes());
            break;
        }
        assert_fails_with(&out, &["HTTP 500", "injected"]);
        let tmp = temp_files(site.dir());
        assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
        // The same proxy: its one fault has struck.
        // What is left to remove depends on where the fault struck;
        // assert_gone checks that nothing is left.
        let out = remove_user(&site, &name)
            .run()
            .expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
        drop(proxy);
        assert_no_secret(&out, &secrets);
        assert_gone(&site, &name, &token, &what);
        assert_eq!(
            tokens(&site),
            tokens_before,
            "{what}: tokens left behind after the rerun"
        );
    }
    let writes = clean_writes.expect("remove-user never finished without the fault");
    let paths: Vec<String> = writes
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    for want in [
        "secret-id-accessor/destroy",
        "auth/token/revoke-accessor",
        "DELETE /v1/auth/approle/role/",
        "DELETE /v1/sys/policies/acl/vaultnet-",
    ] {
        assert!(
            paths.iter().any(|p| p.contains(want)),
            "a clean remove-user makes the write `{want}`; it made {paths:#?}"
        );
    }
}

/// `name` is gone everywhere and `token` (issued before the removal) is dead.
#[track_caller]
fn assert_gone(site: &Fixture, name: &str, token: &str, what: &str) {
    let bao = site.bao();
    let (code, body) = bao.root_api("GET", &format!("auth/approle/role/vaultnet-{name}"), None);
    assert_eq!(code, 404, "{what}: the role is still there: {body}");
    let (code, body) = bao.root_api("GET", &format!("sys/policies/acl/vaultnet-{name}"), None);
    assert_eq!(code, 404, "{what}: the policy is still there: {body}");
    assert!(
        secret_ids(site, name).is_empty(),
        "{what}: secret_ids are still there"
    );
    assert!(
        !site.bundle(name).exists(),
        "{what}: the bundle is still there"
    );
    assert!(
        record(site, name).is_none(),
        "{what}: vaultnet.yaml still has the tenant"
    );
    let (code, body) = bao.api("GET", "auth/token/lookup-self", None, Some(token));
    assert_eq!(
        code, 403,
        "{what}: the token issued before the removal still works: {body}"
    );
    let tmp = temp_files(site.dir());
    assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
}

#[test]
fn a_wrong_token_fails_add_user_and_remove_user_with_permission_denied_and_changes_nothing() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let (out, proxy) = site.run_through(Inject::none(), &mut add_user(&site, "t-keep"));
    out.expect(add_expect(&site, &["t-keep"], false));
    drop(proxy);
    let vault = vault_objects(&site, &["t-keep"]);
    let disk = site.snapshot().without(LOCK);
    // Each command, and the first request Vault refuses it.
    for (args, refused) in [
        (
            &["add-user", "--no-unix-user", "t-new"][..],
            // A new name: the names Vault has are listed once for the run.
            "LIST sys/policies/acl",
        ),
        (
            &["add-user", "--no-unix-user", "t-keep"][..],
            "tenant `t-keep`: GET sys/policies/acl/vaultnet-t-keep",
        ),
        (
            &["remove-user", "t-keep"][..],
            "tenant `t-keep`: LIST auth/approle/role/vaultnet-t-keep/secret-id",
        ),
    ] {
        let mut cmd = site.vaultnet_without_token();
        cmd.env("BAO_TOKEN", WRONG_TOKEN).args(args);
        let (out, proxy) = site.run_through(Inject::none(), &mut cmd);
        drop(proxy);
        assert_fails_with(&out, &["permission denied"]);
        let out = out.expect(refused_by_vault(
            &site,
            &format!("{refused}: permission denied"),
            "use an operator token allowed to do this (`BAO_TOKEN`, `--token-file` or `~/.vault-token`); `bao token lookup` shows its policies",
        ));
        assert!(out.stderr.contains("hint: use an operator token"), "{out}");
        assert_no_secret(&out, &[WRONG_TOKEN, &site.bao().root_token]);
        disk.assert_same(
            &site.snapshot().without(LOCK),
            format!("`{}` with a wrong token", args.join(" ")),
        );
    }
    assert_eq!(
        vault_objects(&site, &["t-keep"]),
        vault,
        "Vault changed with a wrong token"
    );
    // The kept tenant still works.
    let token = site.login_bundle("t-keep");
    revoke(site.bao(), &token);
}

#[test]
fn vault_sealed_in_the_middle_of_add_user_exits_1_and_rerun_after_unseal_converges() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy and seals it");
    let site = Fixture::builder().fault_proxy().build();
    let (reference, writes) = reference(&site);
    // Sealed just before the secret_id is created: policy and role exist.
    let k = writes
        .iter()
        .position(|e| e.method == "POST" && e.path.ends_with("/secret-id"))
        .expect("a secret-id write")
        + 1;
    let name = "t-sealed";
    let tokens_before = tokens(&site);
    let state_before = site.state();
    let proxy = site.proxy(Inject::before(Fault::Hold, k));
    let cmd = add_user(&site, name);
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| cmd.run());
        let held = proxy.wait_held(Duration::from_secs(30));
        assert!(held.path.ends_with("/secret-id"), "{held}");
        site.bao().seal();
        proxy.release();
        run.join().expect("the vaultnet run")
    });
    let (_, hint) = assert_fails_with(&out, &["sealed", name]);
    let out = out.expect(site.expect(1).stderr(format!(
        "{}error: tenant `{name}`: POST auth/approle/role/vaultnet-{name}/secret-id: Vault is sealed or unavailable
hint: unseal it: `bao operator unseal`, with `BAO_ADDR`, `BAO_CACERT`, `BAO_CLIENT_CERT` and `BAO_CLIENT_KEY` set as `vaultnet init` printed
",
        before_secret_id(name)
    )));
    assert!(hint.contains("operator unseal"), "{out}");
    assert_no_secret(&out, &[&site.bao().root_token]);
    let left = assert_failed_run_left_no_debris(&site, name, &state_before, "sealed mid-run");
    // Still sealed: a rerun stops before changing anything.
    let out = add_user(&site, name).run();
    assert_fails_with(&out, &["is sealed"]);
    out.expect(refused_by_vault(
        &site,
        "OpenBao at https://[VAULT_ADDR] is sealed",
        "unseal it: `bao operator unseal`, with `BAO_ADDR`, `BAO_CACERT`, `BAO_CLIENT_CERT` and `BAO_CLIENT_KEY` set as `vaultnet init` printed",
    ));
    site.bao().unseal();
    rerun_converges(
        &site,
        name,
        &reference,
        &left,
        &tokens_before,
        "sealed mid-run",
    );
    drop(proxy);
}

/// The accessor of a token as root sees it, if Vault still knows it.
#[track_caller]
fn token_accessor(bao: &OpenBao, token: &str) -> Option<String> {
    let (code, body) = bao.root_api(
        "POST",
        "auth/token/lookup",
        Some(json!({ "token": token.trim() })),
    );
    (code == 200).then(|| {
        body["data"]["accessor"]
            .as_str()
            .expect("accessor")
            .to_string()
    })
}

#[test]
fn wrapped_add_user_whose_secret_id_answer_is_lost_leaves_no_wrapping_token_behind() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let bao = site.bao();
    let wrapped = |name: &str| {
        let mut c = add_user(&site, name);
        c.args(["--wrap-ttl", "10m"]);
        c
    };
    let tokens_before = tokens(&site);
    // A bystander whose unused wrapping token must survive all of this.
    let (out, proxy) = site.run_through(Inject::none(), &mut wrapped("t-other"));
    out.expect(
        site.expect(0)
            .stdout(format!("{}{}", added("t-other"), next("t-other")))
            .stderr(created_wrapped("t-other")),
    );
    drop(proxy);
    let other = token_accessor(bao, &read_text(&site.bundle("t-other").join("secret_id")))
        .expect("t-other's wrapping token is live");

    let name = "t-wrap";
    let proxy = site.proxy(Inject::after(Fault::Status(500), 3));
    let out = wrapped(name).run();
    let struck = proxy.struck().expect("the fault struck");
    assert!(
        struck.method == "POST" && struck.path.ends_with(&format!("{name}/secret-id")),
        "write 3 of a first add-user creates the secret_id; it was {struck}"
    );
    assert_fails_with(&out, &["HTTP 500", "injected"]);
    out.expect(site.expect(1).stderr(format!(
        "{}error: tenant `{name}`: POST auth/approle/role/vaultnet-{name}/secret-id: HTTP 500: injected
hint: look at the bao server log, then run the command again
",
        before_secret_id(name)
    )));
    // The rerun: one secret_id, one wrapping token — the bundle's.
    let out = wrapped(name).run().expect(
        site.expect(0)
            .stdout(format!("{}{}", updated(name, ""), next(name)))
            .stderr(format!(
                "{name}: secret_id issued (response-wrapped), expires [DATE]
{name}: revoked 1 unused wrapping token(s)
{name}: destroyed 1 other secret_id(s)
"
            )),
    );
    drop(proxy);
    assert!(
        out.stderr.contains("revoked 1 unused wrapping token(s)"),
        "{out}"
    );
    assert_eq!(secret_ids(&site, name).len(), 1, "secret_ids of {name}");
    let mine = token_accessor(bao, &read_text(&site.bundle(name).join("secret_id")))
        .expect("the bundle's wrapping token is live");
    let expected: BTreeSet<String> = tokens_before
        .iter()
        .cloned()
        .chain([other.clone(), mine])
        .collect();
    assert_eq!(
        tokens(&site),
        expected,
        "after the rerun only the two bundles' wrapping tokens may be new"
    );

    // Removed, the tenant keeps no token either, not even an unused
    // wrapping token; the bystander's stays.
    let (out, proxy) = site.run_through(Inject::none(), &mut remove_user(&site, name));
    out.expect(site.expect(0).stdout(removed(name, true)));
    drop(proxy);
    let expected: BTreeSet<String> = tokens_before.iter().cloned().chain([other]).collect();
    assert_eq!(tokens(&site), expected, "tokens left by the removal");
}

/// Bulk runs share keep-alive mutual-TLS connections to Vault, a TLS
/// handshake each, not one per tenant or per request: one connection for a
/// run that provisions one tenant at a time; with `--jobs N`, one per
/// worker, and at times one more for a request sent while the connection
/// its answer came over is still going back to the pool (the pool keeps
/// it), so at most 2 N — here 6 for 12 tenants and over 48 requests.
#[test]
fn add_user_of_many_tenants_shares_a_keep_alive_connection_per_job() {
    require_e2e!("starts OpenBao behind the logging proxy");
    let site = Fixture::builder().fault_proxy().build();
    let one_at_a_time: Vec<String> = (1..=5).map(|i| format!("bulk{i}")).collect();
    let three_at_a_time: Vec<String> = (6..=17).map(|i| format!("bulk{i}")).collect();
    for (names, jobs) in [(&one_at_a_time, 1), (&three_at_a_time, 3)] {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let names = &names[..];
        let mut cmd = site.vaultnet();
        cmd.args(["add-user", "--no-unix-user", "--jobs", &jobs.to_string()])
            .args(names);
        let (out, proxy) = site.run_through(Inject::none(), &mut cmd);
        out.expect(add_expect(&site, names, false));
        let events = proxy.events();
        let writes = proxy.writes();
        assert!(
            writes.len() >= names.len() * 3,
            "expected the tenants' writes to pass the proxy:\n{}",
            proxy.transcript()
        );
        let connections: BTreeSet<u16> = events.iter().filter_map(|e| e.client_port).collect();
        let most = if jobs == 1 { 1 } else { 2 * jobs };
        assert!(
            (1..=most).contains(&connections.len()),
            "--jobs {jobs}: {} requests came over {} connections:\n{}",
            events.len(),
            connections.len(),
            proxy.transcript()
        );
    }
}

/// Tenants of one bulk `add-user` in the kill runs, and how many times it
/// is killed. Once every tenant is up to date a run is far shorter; the
/// kill window then shrinks to the shortest run seen to end on its own,
/// so the runs after it are killed too.
const KILL_TENANTS: usize = 200;
const KILL_RUNS: usize = 100;
/// Each run is killed at a random moment of its first this many ms (at
/// first; then within the shortest run that ended before its kill): long
/// enough for a run to check the names and provision a few tenants, so
/// the kills fall on Vault writes, key files and state writes alike, and
/// the runs together make progress.
const KILL_WITHIN_MS: u64 = 800;

/// Every file under `dir` is whole: what is there parses as what it is (a
/// PEM block with its end line, JSON, YAML, a non-empty credential). An
/// atomic write leaves either the old file or the new one, never a part.
#[track_caller]
fn assert_whole_files(site: &Fixture, what: &str) {
    let _ = site.state();
    let Ok(tenants) = std::fs::read_dir(site.path("tenants")) else {
        return;
    };
    for t in tenants.flatten() {
        for e in std::fs::read_dir(t.path())
            .expect("list a bundle")
            .flatten()
        {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // a temp file: checked on its own
            }
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let whole = match name.as_str() {
                n if n.ends_with(".pem") => text.trim_end().ends_with("-----"),
                "agent.json" => serde_json::from_str::<Value>(&text).is_ok(),
                "compose.yaml" => serde_saphyr::from_str::<Value>(&text).is_ok(),
                "role_id" | "secret_id" => !text.trim().is_empty(),
                _ => !text.is_empty(),
            };
            assert!(whole, "{what}: `{}` is half-written", e.path().display());
        }
    }
}

/// A tiny xorshift: the kill moments are random but reproducible from the
/// printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// vaultnet SIGKILLed at random moments of one bulk `add-user` of 200
/// tenants, 100 times in a row (SECURITY.md S2, V3): after every kill each
/// file in the state is whole, and a temp file can only be one of the runs
/// since the last that took the lock — that run removed what earlier ones
/// left; a run that
/// ends before its kill must succeed. The last run, left to finish,
/// reaches for every tenant the end state of a clean run (one policy, one
/// role, one secret_id that logs in and that vaultnet.yaml names, a key
/// matching its certificate), with no temp file and no token left behind.
#[test]
fn bulk_add_user_killed_at_100_random_moments_converges_with_no_debris() {
    require_e2e!("starts OpenBao");
    let site = Fixture::builder().openbao().build();
    // Three digits: no name extends another, as `converged` needs.
    let names: Vec<String> = (0..KILL_TENANTS).map(|i| format!("kill{i:03}")).collect();
    let bulk = || {
        let mut c = site.vaultnet();
        c.args(["add-user", "--no-unix-user"]).args(&names);
        c
    };
    let tokens_before = tokens(&site);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut killed, mut finished) = (0, 0);
    let mut pids = Vec::new();
    // The runs whose temp files may be left: the last one that took the
    // lock (and so removed every earlier one's) and those after it.
    let mut sweepers: Vec<u32> = Vec::new();
    let mut window = KILL_WITHIN_MS;
    for run in 1..=KILL_RUNS {
        let what = format!("kill run {run} (seed {seed})");
        let delay = Duration::from_millis(rng.next() % window);
        let mut child = bulk()
            .to_command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start vaultnet");
        let spawned = Instant::now();
        pids.push(child.id());
        let ended = loop {
            if let Some(status) = child.try_wait().expect("poll vaultnet") {
                break Some(status);
            }
            if spawned.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match ended {
            Some(status) => {
                assert!(status.success(), "{what}: ended on its own with {status}");
                finished += 1;
                // Less left to do, a shorter run: the next kills fall
                // within one this long.
                let took = spawned.elapsed().as_millis() as u64;
                window = window.min((took * 9 / 10).max(1));
            }
            None => {
                child.kill().expect("kill vaultnet");
                child.wait().expect("reap vaultnet");
                killed += 1;
            }
        }
        assert_whole_files(&site, &what);
        // The lock file names the last run that took the lock; a run
        // killed before it did (in its first milliseconds) removed nothing,
        // so what the runs before it left may still be there.
        let holder = std::fs::read_to_string(site.path(".vaultnet.lock")).unwrap_or_default();
        if holder.trim() == child.id().to_string() {
            sweepers.clear();
        }
        sweepers.push(child.id());
        let stale: Vec<_> = temp_files(site.dir())
            .into_iter()
            .filter(|p| {
                let p = p.to_string_lossy();
                !sweepers
                    .iter()
                    .any(|pid| p.contains(&format!(".tmp-{pid}-")))
            })
            .collect();
        assert!(
            stale.is_empty(),
            "{what}: temp files of runs before the last one that took the lock are left: {stale:?}"
        );
    }
    let recorded = site.state()["tenants"].as_object().map_or(0, |t| t.len());
    let out = bulk()
        .run()
        .expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
    eprintln!(
        "[kill] {KILL_RUNS} runs of add-user of {KILL_TENANTS} (seed {seed}): {killed} killed, {finished} ended before their kill (kill window {window} ms at the end), {recorded} tenants recorded before the last run, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        killed >= KILL_RUNS * 9 / 10,
        "only {killed} of {KILL_RUNS} runs were killed"
    );
    let tmp = temp_files(site.dir());
    assert!(
        tmp.is_empty(),
        "temp files left after the rerun: {tmp:?}\n{out}"
    );
    let first = converged(&site, &names[0]);
    for n in &names[1..] {
        assert_eq!(converged(&site, n), first, "{n} differs from {}", names[0]);
    }
    assert_eq!(tokens(&site), tokens_before, "tokens left behind");
}

/// Tenants of each bulk `add-user` OpenBao is killed under.
const VAULTKILL_TENANTS: usize = 3;
/// `--timeout` of the runs whose Vault dies under them.
const VAULTKILL_TIMEOUT_SECS: &str = "5";

/// The secret files in `name`'s bundle, to check that a rerun adopts them.
fn secret_files(site: &Fixture, name: &str) -> BTreeMap<String, Vec<u8>> {
    ["client-key.pem", "role_id", "secret_id"]
        .into_iter()
        .filter_map(|f| {
            let bytes = std::fs::read(site.bundle(name).join(f)).ok()?;
            Some((f.to_string(), bytes))
        })
        .collect()
}

/// A bulk run whose Vault died under it: exit 1, no panic, one `error:`
/// line naming a tenant, then one `hint:` line, the last two of stderr;
/// on stdout only the tenants it finished. Returns the error line.
#[track_caller]
fn assert_bulk_run_failed(out: &Output, what: &str, tenants: usize) -> String {
    assert!(
        out.code == Some(1) && !out.timed_out,
        "{what}: expected exit code 1\n{out}"
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: vaultnet panicked\n{out}"
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    let errors = lines.iter().filter(|l| l.starts_with("error:")).count();
    let n = lines.len();
    assert!(
        errors == 1
            && n >= 2
            && lines[n - 2].starts_with("error: tenant `")
            && lines[n - 1].starts_with("hint: ")
            && lines[n - 1].len() > "hint: ".len(),
        "{what}: expected one `error:` line naming a tenant, then one `hint:` line\n{out}"
    );
    // The last line is the totals; before it, only what was finished.
    let mut report: Vec<&str> = out.stdout.lines().collect();
    let totals = report.pop().unwrap_or_default();
    assert!(
        report
            .iter()
            .all(|l| l.starts_with("added tenant ") || l.starts_with("next: ")),
        "{what}: stdout may only report the tenants finished\n{out}"
    );
    // Then the totals: the finished ones added, the one at the failure
    // failed, the rest not tried.
    let added = report
        .iter()
        .filter(|l| l.starts_with("added tenant "))
        .count();
    let not_tried = match tenants - added - 1 {
        0 => String::new(),
        n => format!(", {n} not tried"),
    };
    assert_eq!(
        totals,
        format!("{added} added, 0 updated, 0 up to date, 1 failed{not_tried}"),
        "{what}: the totals line\n{out}"
    );
    lines[n - 2].to_string()
}

/// OpenBao itself (raft storage, so its data survives) SIGKILLed in the
/// middle of a bulk `add-user` of three tenants (SECURITY.md V3, S2), once
/// after each write of the run in turn: the fault proxy lets the run's
/// k-th write reach OpenBao, which applies it; while its answer is held,
/// OpenBao is killed, then the proxy goes too, so the run sees its
/// connection cut and nothing listening — a server that died before it
/// could answer. The kill points are counted writes rather than random
/// delays because they are reproducible and cover every step of the run
/// — each tenant's policy, role and secret_id — once, where random delays
/// would mostly fall on local work or between requests. The run must exit
/// 1 with one error (naming the tenant it was at) and a hint, report only
/// the tenants it finished and the totals (the rest failed or not tried),
/// and leave no temp file and no half-written file; OpenBao, restarted on
/// the same listener and data and unsealed
/// with the same key (the same root token), must still hold what it
/// applied; the rerun must reach for every tenant a clean run's end state
/// — policy, role, exactly one secret_id that logs in and that
/// vaultnet.yaml names, the record, the bundle files — keep the secret
/// files the killed run left, and leave no temp file and no token behind.
#[test]
fn bulk_add_user_with_openbao_killed_after_each_write_converges_after_restart() {
    require_e2e!("starts OpenBao with raft storage behind a fault-injecting proxy and kills it");
    let mut site = Fixture::builder().fault_proxy().raft().build();
    let started = Instant::now();
    // One letter per tenant: no name extends another, as `converged` needs.
    let bulk_names = |tag: usize| -> Vec<String> {
        (0..VAULTKILL_TENANTS)
            .map(|i| format!("vk{tag}{}", (b'a' + i as u8) as char))
            .collect()
    };
    // One tenant at a time: the k-th write is then always the same step
    // of the same tenant, so the kills cover each step once.
    let bulk = |site: &Fixture, names: &[String]| {
        let mut c = site.vaultnet();
        c.args([
            "add-user",
            "--no-unix-user",
            "--jobs",
            "1",
            "--timeout",
            VAULTKILL_TIMEOUT_SECS,
        ])
        .args(names);
        c
    };

    // The clean run: the end state every rerun must reach, and its writes.
    let names = bulk_names(0);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (out, proxy) = site.run_through(Inject::none(), &mut bulk(&site, &names));
    out.expect(add_expect(&site, &refs, false));
    let writes = proxy.writes();
    drop(proxy);
    let reference = converged(&site, &names[0]);
    for n in &names[1..] {
        assert_eq!(
            converged(&site, n),
            reference,
            "{n} differs from {}",
            names[0]
        );
    }
    for k in 1..=writes.len() {
        let i = k - 1;
        let names = bulk_names(i + 1);
        let tokens_before = tokens(&site);
        let cmd = bulk(&site, &names);
        let what = format!(
            "add-user {} with OpenBao killed after write {k}",
            names.join(" ")
        );
        let (out, held) = run_with_openbao_killed_after(&mut site, k, &cmd, &what);
        let error = assert_bulk_run_failed(&out, &what, names.len());
        assert_no_secret(&out, &[&site.bao().root_token]);
        let tmp = temp_files(site.dir());
        assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
        assert_whole_files(&site, &what);
        let left: BTreeMap<&str, BTreeMap<String, Vec<u8>>> = names
            .iter()
            .map(|n| (n.as_str(), secret_files(&site, n)))
            .collect();

        let restart = Instant::now();
        let iteration = restart;
        site.bao_mut().restart();
        let restart = restart.elapsed();
        // What OpenBao applied before it died is still there.
        let (code, body) = site.bao().root_api(
            "GET",
            &format!("sys/policies/acl/vaultnet-{}", names[0]),
            None,
        );
        assert_eq!(
            code, 200,
            "{what}: the first write is gone after the restart: {body}"
        );

        let (out, proxy) = site.run_through(Inject::none(), &mut bulk(&site, &names));
        let out = out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
        let rerun_writes = proxy.writes().len();
        drop(proxy);
        assert!(
            out.stderr.lines().all(|l| !l.starts_with("error")),
            "{what}: rerun\n{out}"
        );
        assert_no_secret(&out, &[&site.bao().root_token]);
        let tmp = temp_files(site.dir());
        assert!(
            tmp.is_empty(),
            "{what}: temp files left after the rerun: {tmp:?}"
        );
        for n in &names {
            assert_eq!(
                converged(&site, n),
                reference,
                "{what}: {n} must reach a clean run's end state"
            );
            for (f, bytes) in &left[n.as_str()] {
                assert!(
                    std::fs::read(site.bundle(n).join(f)).ok().as_ref() == Some(bytes),
                    "{what}: the rerun replaced {n}'s `{f}` instead of adopting it"
                );
            }
        }
        assert_eq!(
            tokens(&site),
            tokens_before,
            "{what}: tokens left behind (or revoked)"
        );
        let adopted: usize = left.values().map(BTreeMap::len).sum();
        eprintln!(
            "[vaultkill] kill {}: after write {k} of {} ({} {}, applied {}); the run: {}; restart and unseal {:.1} s; rerun: {rerun_writes} writes, {adopted} secret files adopted, converged in {:.1} s",
            i + 1,
            writes.len(),
            held.method,
            held.path,
            held.upstream.unwrap_or_default(),
            error,
            restart.as_secs_f64(),
            iteration.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "[vaultkill] OpenBao (raft) SIGKILLed {n} times, after each write of a {n}-write add-user of {VAULTKILL_TENANTS} tenants, restarted and unsealed; every rerun converged, in {:.1} s",
        started.elapsed().as_secs_f64(),
        n = writes.len(),
    );
}

/// Lifetime of the certificate and secret_id of the tenants `renew` is
/// faulted on: both fall due about 40 s after `add-user` (less than a third
/// left), and the replaced secret_id still works for 20 s after that — the
/// window every fault point and its rerun run in, so that each renewal
/// replaces a secret_id Vault still honours, as the clean one does.
const RENEW_TTL: &str = "1m";
/// Fault points provisioned for, per fault: at least the writes of one
/// `renew NAME` (checked).
const RENEW_POINTS: usize = 4;

/// Tenants `names` added (through the proxy) with certificates and
/// secret_ids of [`RENEW_TTL`], then waited for until both are due: each
/// tenant's record before any renewal, and the first secret_id expiry,
/// before which every renewal must run for the comparisons to hold.
fn due_tenants(
    site: &Fixture,
    names: &[String],
) -> (BTreeMap<String, Value>, time::OffsetDateTime) {
    let mut add = site.vaultnet();
    add.args(["add-user", "--no-unix-user", "--cert-ttl", RENEW_TTL])
        .args(["--secret-id-ttl", RENEW_TTL])
        .args(names);
    let (out, proxy) = site.run_through(Inject::none(), &mut add);
    // Lifetimes under a day are shown to the second.
    let stdout: String = names.iter().map(|t| added(t)).collect();
    let stderr: String = names.iter().map(|t| created(t)).collect();
    out.expect(
        site.expect(0)
            .stdout(
                (stdout + &added_end(&names.iter().map(String::as_str).collect::<Vec<_>>()))
                    .replace("[DATE]", "[TIME]"),
            )
            .stderr(stderr.replace("[DATE]", "[TIME]")),
    );
    drop(proxy);
    let before: BTreeMap<String, Value> = names
        .iter()
        .map(|n| (n.clone(), record(site, n).expect("recorded")))
        .collect();
    let first_expiry = before
        .values()
        .map(|r| {
            vaultnet::state::rfc3339::parse(r["secret_id_expires"].as_str().expect("expiry"))
                .expect("an RFC 3339 expiry")
        })
        .min()
        .expect("tenants");
    // Due: both the certificate and the secret_id of every tenant.
    site.wait_until_due(
        &[],
        2 * names.len(),
        Duration::from_secs(75),
        "the tenants' certificates and secret_ids to be due",
    );
    (before, first_expiry)
}

fn renew(site: &Fixture, name: &str) -> Cmd {
    let mut c = site.vaultnet();
    c.args(["renew", name]);
    c
}

/// `renew NAME` of a tenant whose certificate and secret_id are due,
/// failing at each write in turn — its answer lost after Vault applied it
/// (the connection cut), or a 500 before Vault saw it — then rerun: it
/// exits 1 with one cause and a hint, shows no secret, leaves no temp
/// file, and the rerun reaches the end state of an uninterrupted renew —
/// the role and policy, a new certificate and a new live secret_id (the
/// one in the bundle), exactly the replaced one besides it as the state's
/// retiring one, no orphan of the faulted run, the same record and bundle
/// files, no token left. One tenant per fault point, all added up front,
/// so one wait for the due date serves them all.
#[test]
fn renew_failing_at_each_write_converges_on_rerun() {
    require_e2e!("starts OpenBao behind a fault-injecting proxy");
    let site = Fixture::builder().fault_proxy().build();
    let mut names = vec!["n-ref".to_string()];
    for k in 1..=RENEW_POINTS {
        names.extend([format!("n-d{k}"), format!("n-s{k}")]);
    }
    let start = Instant::now();
    let (before, first_expiry) = due_tenants(&site, &names);
    let due_after = start.elapsed();
    let tokens_before = tokens(&site);

    let (out, proxy) = site.run_through(Inject::none(), &mut renew(&site, "n-ref"));
    let out = out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
    assert!(
        out.stderr.contains("n-ref: client certificate reissued")
            && out.stderr.contains("n-ref: secret_id issued")
            && out.stderr.contains("the previous one works until"),
        "a clean renew of a due tenant replaces its certificate and secret_id\n{out}"
    );
    let writes = proxy.writes();
    drop(proxy);
    let paths: Vec<String> = writes
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(
        paths
            .iter()
            .any(|p| p == "POST /v1/auth/approle/role/vaultnet-n-ref/secret-id"),
        "a renew with a due secret_id creates one; it wrote {paths:#?}"
    );
    assert!(
        writes.len() <= RENEW_POINTS,
        "renew made {} writes; provision RENEW_POINTS for each: {paths:#?}",
        writes.len()
    );
    let reference = renewed(&site, "n-ref", &before["n-ref"]);

    for k in 1..=writes.len() {
        for (inject, tag, causes) in [
            (Inject::after(Fault::Drop, k), "d", &["hung up"][..]),
            (
                Inject::before(Fault::Status(500), k),
                "s",
                &["HTTP 500", "injected"][..],
            ),
        ] {
            let name = format!("n-{tag}{k}");
            let what = format!("renew {name} with {inject:?}");
            let secrets = [
                site.bao().root_token.clone(),
                read_text(&site.bundle(&name).join("secret_id")),
                read_text(&site.bundle(&name).join("role_id")),
            ];
            let proxy = site.proxy(inject);
            let out = renew(&site, &name).run();
            let struck = proxy.struck().unwrap_or_else(|| {
                panic!(
                    "{what}: the fault never struck; the proxy saw:\n{}\n{out}",
                    proxy.transcript()
                )
            });
            let (error, _) = assert_fails_with(&out, causes);
            eprintln!("[faults] {what}: struck {struck}: {error}");
            assert!(
                error.contains(&format!("tenant `{name}`")),
                "{what}: the error must name the tenant (the fault struck {struck})\n{out}"
            );
            let tmp = temp_files(site.dir());
            assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            assert_no_secret(&out, &secrets);
            // The same proxy: its one fault has struck.
            let out = renew(&site, &name)
                .run()
                .expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
            drop(proxy);
            assert_no_secret(&out, &secrets);
            assert!(
                time::OffsetDateTime::now_utc() < first_expiry,
                "{what}: the run took too long; the secret_id being replaced has expired \
                 ({:.0} s after add-user, due after {:.0} s)",
                start.elapsed().as_secs_f64(),
                due_after.as_secs_f64()
            );
            assert_eq!(
                renewed(&site, &name, &before[name.as_str()]),
                reference,
                "{what}: the rerun must reach an uninterrupted renew's end state"
            );
            assert_eq!(
                tokens(&site),
                tokens_before,
                "{what}: tokens left behind (or revoked)"
            );
        }
    }
    eprintln!(
        "[faults] renew: {} fault points at the writes {paths:?}, due after {:.0} s, done after {:.0} s",
        2 * writes.len(),
        due_after.as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
}

/// Runs `cmd` and SIGKILLs OpenBao once the proxy let write `k` through
/// and OpenBao applied it, its answer held and never sent, then the proxy
/// goes too, so the run sees its connection cut and nothing listening — a
/// server that died before it could answer: the run's output and the write
/// it died after. OpenBao stays down for the caller to look, then restart.
fn run_with_openbao_killed_after(
    site: &mut Fixture,
    k: usize,
    cmd: &Cmd,
    what: &str,
) -> (Output, Event) {
    let proxy = site.proxy(Inject::after(Fault::Hold, k));
    let (out, held) = std::thread::scope(|s| {
        let run = s.spawn(|| cmd.run());
        let held = proxy.wait_held(Duration::from_secs(30));
        assert_eq!(held.n, Some(k), "{what}: {held}");
        assert!(
            held.upstream.is_some_and(|s| s < 300),
            "{what}: OpenBao must have applied the write: {held}"
        );
        // SIGKILL: no chance to flush or step down, as in a crash.
        site.bao_mut().kill();
        // The answer is never sent; the next connection finds nothing.
        drop(proxy);
        (run.join().expect("the vaultnet run"), held)
    });
    assert!(!site.bao_mut().is_running(), "{what}: OpenBao still runs");
    (out, held)
}

/// OpenBao (raft storage) SIGKILLed after each write of a `remove-user`
/// in turn, its answer never sent, then restarted and unsealed
/// (SECURITY.md V3, S2): the run exits 1 with one cause and a hint and
/// leaves no temp file; the rerun removes everything — role, policy,
/// secret_ids, the bundle, the record — and the token the tenant held
/// before the removal is dead, no other token left or revoked.
#[test]
fn remove_user_with_openbao_killed_after_each_write_converges_after_restart() {
    require_e2e!("starts OpenBao with raft storage behind a fault-injecting proxy and kills it");
    let mut site = Fixture::builder().fault_proxy().raft().build();
    let started = Instant::now();
    // The clean removal: its writes are the kill points.
    let (out, proxy) = site.run_through(Inject::none(), &mut add_user(&site, "rk-ref"));
    out.expect(add_expect(&site, &["rk-ref"], false));
    drop(proxy);
    let token = site.login_bundle("rk-ref");
    let (out, proxy) = site.run_through(Inject::none(), &mut remove_user(&site, "rk-ref"));
    out.expect(site.expect(0).stdout(removed("rk-ref", true)));
    let writes = proxy.writes();
    drop(proxy);
    assert_gone(&site, "rk-ref", &token, "a clean remove-user");
    assert!(
        writes.len() >= 4,
        "remove-user made {} writes",
        writes.len()
    );

    let names: Vec<String> = (1..=writes.len()).map(|k| format!("rk-{k}")).collect();
    let mut add = site.vaultnet();
    add.args(["add-user", "--no-unix-user"]).args(&names);
    let (out, proxy) = site.run_through(Inject::none(), &mut add);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    out.expect(add_expect(&site, &refs, false));
    drop(proxy);
    for (i, name) in names.iter().enumerate() {
        let k = i + 1;
        let what = format!("remove-user {name} with OpenBao killed after write {k}");
        let token = site.login_bundle(name);
        let accessor = token_accessor(site.bao(), &token).expect("the tenant's token");
        let tokens_before: BTreeSet<String> = tokens(&site)
            .into_iter()
            .filter(|a| *a != accessor)
            .collect();
        let secrets = [
            site.bao().root_token.clone(),
            token.clone(),
            read_text(&site.bundle(name).join("secret_id")),
        ];
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let cmd = remove_user(&site, name);
        let (out, held) = run_with_openbao_killed_after(&mut site, k, &cmd, &what);
        let (error, _) = assert_fails_with(&out, &[]);
        assert_no_secret(&out, &secrets);
        let tmp = temp_files(site.dir());
        assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
        assert_whole_files(&site, &what);
        site.bao_mut().restart();

        let (out, proxy) = site.run_through(Inject::none(), &mut remove_user(&site, name));
        out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
        drop(proxy);
        assert_gone(&site, name, &token, &what);
        assert_eq!(
            tokens(&site),
            tokens_before,
            "{what}: tokens left behind (or revoked)"
        );
        eprintln!(
            "[vaultkill] remove-user: kill {k} of {}: after {} {} (applied {}); the run: {error}",
            writes.len(),
            held.method,
            held.path,
            held.upstream.unwrap_or_default()
        );
    }
    eprintln!(
        "[vaultkill] OpenBao (raft) SIGKILLed after each of the {} writes of remove-user, restarted; every rerun converged, in {:.1} s",
        writes.len(),
        started.elapsed().as_secs_f64()
    );
}

/// OpenBao (raft storage) SIGKILLed after each write of `renew NAME` for
/// a tenant whose certificate and secret_id are due, then restarted and
/// unsealed (SECURITY.md V3, S2): the run exits 1 with one cause naming
/// the tenant and a hint, leaves no temp file; the rerun reaches an
/// uninterrupted renew's end state — a new certificate, a new live
/// secret_id, the replaced one kept as the retiring one, no orphan, the
/// same record and bundle files — and leaves no token behind.
#[test]
fn renew_with_openbao_killed_after_each_write_converges_after_restart() {
    require_e2e!("starts OpenBao with raft storage behind a fault-injecting proxy and kills it");
    let mut site = Fixture::builder().fault_proxy().raft().build();
    let mut names = vec!["k-ref".to_string()];
    names.extend((1..=RENEW_POINTS).map(|k| format!("k-{k}")));
    let start = Instant::now();
    let (before, first_expiry) = due_tenants(&site, &names);
    let tokens_before = tokens(&site);
    let (out, proxy) = site.run_through(Inject::none(), &mut renew(&site, "k-ref"));
    out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
    let writes = proxy.writes();
    drop(proxy);
    assert!(
        (1..=RENEW_POINTS).contains(&writes.len()),
        "renew made {} writes",
        writes.len()
    );
    let reference = renewed(&site, "k-ref", &before["k-ref"]);
    for k in 1..=writes.len() {
        let name = format!("k-{k}");
        let what = format!("renew {name} with OpenBao killed after write {k}");
        let secrets = [
            site.bao().root_token.clone(),
            read_text(&site.bundle(&name).join("secret_id")),
        ];
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let cmd = renew(&site, &name);
        let (out, held) = run_with_openbao_killed_after(&mut site, k, &cmd, &what);
        let (error, _) = assert_fails_with(&out, &[&format!("tenant `{name}`")]);
        assert_no_secret(&out, &secrets);
        let tmp = temp_files(site.dir());
        assert!(tmp.is_empty(), "{what}: temp files left behind: {tmp:?}");
        assert_whole_files(&site, &what);
        site.bao_mut().restart();

        let (out, proxy) = site.run_through(Inject::none(), &mut renew(&site, &name));
        out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
        drop(proxy);
        assert!(
            time::OffsetDateTime::now_utc() < first_expiry,
            "{what}: the run took too long; the secret_id being replaced has expired ({:.0} s after add-user)",
            start.elapsed().as_secs_f64()
        );
        assert_eq!(
            renewed(&site, &name, &before[&name]),
            reference,
            "{what}: the rerun must reach an uninterrupted renew's end state"
        );
        assert_eq!(
            tokens(&site),
            tokens_before,
            "{what}: tokens left behind (or revoked)"
        );
        eprintln!(
            "[vaultkill] renew: kill {k} of {}: after {} {} (applied {}); the run: {error}",
            writes.len(),
            held.method,
            held.path,
            held.upstream.unwrap_or_default()
        );
    }
    eprintln!(
        "[vaultkill] OpenBao (raft) SIGKILLed after each of the {} writes of renew, restarted; every rerun converged, {:.0} s after add-user",
        writes.len(),
        start.elapsed().as_secs_f64()
    );
}

/// The requests of a bulk `add-user`: the run's own (health, the mounts,
/// the three lists of the names Vault has), then for each new tenant
/// exactly four — its policy written, its role written, its role_id read,
/// a secret_id made — with no read of what cannot exist yet. A rerun with
/// nothing to change only reads, three a tenant: the role, the role_id,
/// the role's secret_ids listed (which shows the recorded secret_id is
/// still there, and finds an orphan of a run killed while renewing); the
/// policies' texts come from one listing for the run, and the bundle's
/// secret_id is known by its recorded SHA-256, not sent to Vault. A record
/// from before the SHA-256 was kept costs one lookup by value, once.
#[test]
fn a_new_tenant_costs_four_requests_and_an_unchanged_one_only_reads() {
    require_e2e!("starts OpenBao behind the logging proxy");
    let site = Fixture::builder().fault_proxy().build();
    let names = ["rq1", "rq2", "rq3"];
    let mut cmd = site.vaultnet();
    cmd.args(["add-user", "--no-unix-user"]).args(names);
    let (out, proxy) = site.run_through(Inject::none(), &mut cmd);
    out.expect(add_expect(&site, &names, false));
    let paths: Vec<String> = proxy
        .events()
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    for n in names {
        let own: Vec<&str> = paths
            .iter()
            .map(String::as_str)
            .filter(|p| p.contains(&format!("vaultnet-{n}")))
            .collect();
        assert_eq!(
            own,
            [
                format!("PUT /v1/sys/policies/acl/vaultnet-{n}"),
                format!("POST /v1/auth/approle/role/vaultnet-{n}"),
                format!("GET /v1/auth/approle/role/vaultnet-{n}/role-id"),
                format!("POST /v1/auth/approle/role/vaultnet-{n}/secret-id"),
            ],
            "{paths:#?}"
        );
    }
    let run: Vec<&String> = paths
        .iter()
        .filter(|p| !names.iter().any(|n| p.contains(&format!("vaultnet-{n}"))))
        .collect();
    assert!(run.len() <= 6, "the run's own requests: {run:#?}");
    drop(proxy);

    let mut cmd = site.vaultnet();
    cmd.args(["add-user", "--no-unix-user"]).args(names);
    let (out, proxy) = site.run_through(Inject::none(), &mut cmd);
    out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
    let events = proxy.events();
    for n in names {
        let own: Vec<String> = events
            .iter()
            .filter(|e| e.path.contains(&format!("vaultnet-{n}")))
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        let role = format!("/v1/auth/approle/role/vaultnet-{n}");
        assert_eq!(
            own,
            [
                format!("GET {role}"),
                format!("GET {role}/role-id"),
                format!("GET {role}/secret-id?list=true"),
            ],
            "{}",
            proxy.transcript()
        );
    }
    // The policies' texts came from one listing for the whole run.
    let run: Vec<String> = events
        .iter()
        .filter(|e| {
            !names
                .iter()
                .any(|n| e.path.contains(&format!("vaultnet-{n}")))
        })
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert_eq!(
        run.iter()
            .filter(|p| p.contains("/sys/policies/"))
            .collect::<Vec<_>>(),
        ["GET /v1/sys/policies/detailed/acl?list=true"],
        "{}",
        proxy.transcript()
    );
    drop(proxy);

    // rq2's record as an earlier vaultnet wrote it, without the SHA-256:
    // its secret_id is looked up by value once, and the SHA-256 recorded.
    let state = site.path("vaultnet.yaml");
    let yaml = std::fs::read_to_string(&state).unwrap();
    let mut within = false;
    let older: String = yaml
        .lines()
        .filter(|l| {
            if l.starts_with("  ") && !l.starts_with("   ") {
                within = *l == "  rq2:";
            }
            !(within && l.trim_start().starts_with("secret_id_sha256:"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        yaml.len() - older.len(),
        "    secret_id_sha256: \n".len() + 64,
        "{yaml}"
    );
    crate::support::write_private(&state, older.as_bytes());
    for (run, lookups) in [(3, ["rq2"].as_slice()), (4, [].as_slice())] {
        let mut cmd = site.vaultnet();
        cmd.args(["add-user", "--no-unix-user"]).args(names);
        let (out, proxy) = site.run_through(Inject::none(), &mut cmd);
        out.expect(Expect::success().stdout_any(RERUN).stderr_any(RERUN));
        let looked_up: Vec<String> = proxy
            .events()
            .iter()
            .filter(|e| e.path.ends_with("/secret-id/lookup"))
            .map(|e| e.path.clone())
            .collect();
        let want: Vec<String> = lookups
            .iter()
            .map(|n| format!("/v1/auth/approle/role/vaultnet-{n}/secret-id/lookup"))
            .collect();
        assert_eq!(looked_up, want, "run {run}\n{}", proxy.transcript());
    }
    assert_eq!(std::fs::read_to_string(&state).unwrap(), yaml);
}

/// A Vault without the one listing of every policy's text (an older
/// OpenBao: no such path, 404, or no LIST on it, 405) has each tenant's
/// policy read on its own: add-user's rerun and doctor find what they find
/// with the listing, one more request a tenant.
#[test]
fn without_the_policy_listing_each_policy_is_read_on_its_own_with_the_same_result() {
    require_e2e!("starts OpenBao behind the logging proxy");
    let site = Fixture::builder().fault_proxy().build();
    let names = ["pl1", "pl2", "pl3"];
    let add = || {
        let mut cmd = site.vaultnet();
        cmd.args(["add-user", "--no-unix-user"]).args(names);
        cmd
    };
    let (out, _) = site.run_through(Inject::none(), &mut add());
    out.expect(add_expect(&site, &names, false));
    const LISTING: &str = "GET /v1/sys/policies/detailed/acl?list=true";
    let doctor = || {
        let mut cmd = site.vaultnet();
        cmd.args(["doctor", "--output", "json"]);
        cmd
    };
    let (with_rerun, _) = site.run_through(Inject::none(), &mut add());
    let with_rerun = with_rerun.expect(
        site.expect(0)
            .stdout(format!(
                "{}{}",
                names.map(up_to_date).concat(),
                crate::support::tenant::totals(0, 0, 3, 0)
            ))
            .stderr(""),
    );
    let (with_doctor, _) = site.run_through(Inject::none(), &mut doctor());
    // (No forwarder runs for this site: doctor fails on its checks, the
    // same with and without the listing; its report goes to stdout alone.)
    assert_eq!(
        (with_doctor.code, with_doctor.stderr.as_str()),
        (Some(1), ""),
        "{with_doctor}"
    );
    // Each tenant's policy checked ok from the listing.
    let report: Value = serde_json::from_str(&with_doctor.stdout).expect("doctor's JSON");
    fn status_of<'v>(v: &'v Value, id: &str) -> Option<&'v Value> {
        if v["id"] == id {
            return Some(&v["status"]);
        }
        let kids = v
            .as_array()
            .or(v["checks"].as_array())
            .or(v["children"].as_array());
        kids.into_iter().flatten().find_map(|c| status_of(c, id))
    }
    for n in names {
        assert_eq!(
            status_of(&report, &format!("vaultcfg.{n}.policy")),
            Some(&json!("ok")),
            "{with_doctor}"
        );
    }
    // doctor's report counts certificates' seconds left: the runs differ
    // by the second or two between them, and in nothing else.
    fn unclocked(stdout: &str) -> String {
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.remove("seconds_left");
                    m.values_mut().for_each(strip);
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        match serde_json::from_str::<Value>(stdout) {
            Ok(mut v) => {
                strip(&mut v);
                v.to_string()
            }
            Err(_) => stdout.to_string(),
        }
    }
    for status in [404, 405] {
        let inject = Inject::none().refusing(LISTING, status);
        for (cmd, with, what) in [
            (add(), &with_rerun, "add-user"),
            (doctor(), &with_doctor, "doctor"),
        ] {
            let mut cmd = cmd;
            let (out, proxy) = site.run_through(inject, &mut cmd);
            assert_eq!(
                (&out.code, unclocked(&out.stdout), &out.stderr),
                (&with.code, unclocked(&with.stdout), &with.stderr),
                "{what} without the listing ({status})\n{out}\n{}",
                proxy.transcript()
            );
            let events = proxy.events();
            let refused: Vec<String> = events
                .iter()
                .filter(|e| e.action == "refused")
                .map(|e| format!("{} {}", e.method, e.path))
                .collect();
            assert_eq!(refused, [LISTING], "{}", proxy.transcript());
            for n in names {
                let reads = events
                    .iter()
                    .filter(|e| {
                        e.method == "GET" && e.path == format!("/v1/sys/policies/acl/vaultnet-{n}")
                    })
                    .count();
                assert_eq!(
                    reads,
                    1,
                    "{what}: {n}'s policy read once\n{}",
                    proxy.transcript()
                );
            }
        }
    }
}
