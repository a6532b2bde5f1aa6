//! Day two, for real (gated by `VAULTNET_E2E=1`), for AppRole and for cert
//! auth: lifetimes of minutes,
//! a bundle's agent started once under the tenant's rootless Podman, and
//! an operator who keeps changing the tenant's secret. The agent keeps
//! rendering it through its token reaching max TTL again and again,
//! through `vaultnet renew` renewing the server certificate (and having
//! OpenBao reload it), the tenant's client certificate (the agent is sent
//! SIGHUP and uses the new one once the old has expired and every
//! connection is cut) and, with AppRole, its secret_id (the old one keeps
//! working until the agent has logged in again, then goes), and through
//! an agent restart, and through a CA rotation (`renew --rotate-ca`).
//! `renew --dry-run` says what is due and changes nothing; a second
//! `renew` destroys the retired secret_id; a third does nothing.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cmd::Output;
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::podman::{self, AGENT_IMAGE, APP_IMAGE, Kit, PodmanTenant};
use crate::support::{require_e2e, wait_for, write_private};

/// Lifetimes: every certificate and the secret_id live two minutes, so
/// renewal is due after about 76 s (less than a third left, counting the
/// tenth of the lifetime leaves are backdated by); tokens live 15 s and at
/// most 30 s, so the agent logs in again every 30 s.
const CERT_TTL: &str = "2m";
const SECRET_ID_TTL: &str = "2m";
const TOKEN_TTL: &str = "15s";
const TOKEN_MAX_TTL: &str = "30s";
/// Longer than a token's max TTL plus the agent's back-off.
const RENDER_TIMEOUT: Duration = Duration::from_secs(90);
const PROJECT: &str = "vnrenew";
/// podman's own warnings depend on this host's setup.
const PODMAN: &str = "podman's warnings depend on this host's setup";

/// The tenant's project: an app that only keeps the secrets volume open,
/// so the test can read what the agent rendered.
fn app_yaml() -> String {
    format!(
        "services:\n  app:\n    image: {APP_IMAGE}\n    read_only: true\n    cap_drop: [ALL]\n    command: [\"/bin/sh\", \"-c\", \"while :; do sleep 1; done\"]\n"
    )
}

fn state(site: &Fixture) -> Value {
    site.state()
}

fn container(tenant: &PodmanTenant, part: &str) -> String {
    let out = tenant
        .podman(["ps", "--format", "{{.Names}}"])
        .run()
        .expect(
            Expect::success()
                .stdout_any("container names podman-compose chose")
                .stderr_any(PODMAN),
        );
    out.stdout
        .lines()
        .find(|n| n.contains(part))
        .unwrap_or_else(|| panic!("no running {part} container\n{out}"))
        .to_string()
}

/// Waits until the app sees `value` in `/secrets/app`; on timeout, panics
/// with the agent's log.
#[track_caller]
fn wait_rendered(tenant: &PodmanTenant, app: &str, agent: &str, value: &str, why: &str) {
    let start = Instant::now();
    let deadline = start + RENDER_TIMEOUT;
    loop {
        let out = tenant.podman(["exec", app, "cat", "/secrets/app"]).run();
        if out.code == Some(0) && out.stdout == value {
            eprintln!(
                "[renewal] {why}: rendered after {:.1} s",
                start.elapsed().as_secs_f64()
            );
            return;
        }
        if Instant::now() > deadline {
            let logs = tenant.podman(["logs", agent]).run();
            panic!(
                "{why}: `{value}` not rendered within {RENDER_TIMEOUT:?}; last read:\n{out}\nagent log:\n{logs}"
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn accessors(site: &Fixture, tenant: &str) -> Vec<String> {
    let (code, body) = site.root_api(
        "LIST",
        &format!("auth/approle/role/vaultnet-{tenant}/secret-id"),
        None,
    );
    assert_eq!(code, 200, "{body}");
    let mut v: Vec<String> = body["data"]["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("no keys: {body}"))
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn sleep_until(t: time::OffsetDateTime) {
    let wait = t - time::OffsetDateTime::now_utc();
    if wait.is_positive() {
        std::thread::sleep(Duration::from_secs_f64(wait.as_seconds_f64()));
    }
}

fn dry_run(site: &Fixture) -> Output {
    site.vaultnet().args(["renew", "--dry-run"]).run()
}

#[test]
fn renew_keeps_an_approle_agent_rendering_through_expiry_renewal_reload_and_restart() {
    renewal("approle");
}

#[test]
fn renew_keeps_a_wrapped_approle_agent_rendering_through_expiry_renewal_reload_and_restart() {
    renewal("wrapped");
}

#[test]
fn renew_keeps_a_cert_auth_agent_rendering_through_expiry_renewal_reload_and_restart() {
    renewal("cert");
}

/// The whole run for a tenant logging in by `auth` (`approle`: with a
/// secret_id to rotate; `wrapped`: the same, delivered response-wrapped
/// and unwrapped as the tenant into its installed copy; `cert`: the
/// certificate alone).
fn renewal(auth: &str) {
    require_e2e!("creates a Unix user and runs its rootless Podman in a network namespace");
    let wrapped = auth == "wrapped";
    let approle = auth == "approle" || wrapped;
    let tag = &auth[..1];
    podman::require_tools();
    podman::ensure_tun_usable();
    let kit = Kit::build();
    let pid_file =
        std::env::temp_dir().join(format!("vaultnet-renewal-{tag}{}.pid", std::process::id()));
    let site = Fixture::host(&format!("vnr{tag}"))
        .init_args([
            "--flavor",
            "openbao",
            "--agent-image",
            AGENT_IMAGE,
            "--server-cert-ttl",
            CERT_TTL,
        ])
        .init_args([
            std::ffi::OsStr::new("--vault-pid-file"),
            pid_file.as_os_str(),
        ])
        .openbao()
        .forwarder()
        .build();
    let pid = site.bao().pid().expect("OpenBao runs");
    write_private(&pid_file, format!("{pid}\n").as_bytes());
    let host = site.ns();

    let t = PodmanTenant::create(&format!("vnr{tag}{}", std::process::id()), host.name());
    let name = t.name.clone();
    site.add_user(&[
        name.as_str(),
        "--install",
        "--cert-ttl",
        CERT_TTL,
        "--secret-id-ttl",
        SECRET_ID_TTL,
        "--token-ttl",
        TOKEN_TTL,
        "--token-max-ttl",
        TOKEN_MAX_TTL,
        "--auth",
        if approle { "approle" } else { "cert" },
        "--wrap-ttl",
        if wrapped { "5m" } else { "0" },
    ])
    .run()
    .expect_success();
    let added = Instant::now();
    t.import(&kit.bao_tar, AGENT_IMAGE);
    t.import(&kit.app_tar, APP_IMAGE);
    let bundle = t.home.join(".config/vaultnet");
    let project = t.dir(PROJECT);
    t.write_file(&format!("{PROJECT}/app.yaml"), &app_yaml(), 0o644);
    site.write_secret(&name, "v1");
    let mut up = t.cmd(&kit.compose);
    up.args(["-f", "app.yaml", "-f"])
        .arg(bundle.join("compose.yaml"))
        .args(["up", "-d"])
        .current_dir(&project);
    let out = up.run();
    assert_eq!(out.code, Some(0), "podman-compose up -d failed\n{out}");
    let (app, agent) = (container(&t, "_app_"), container(&t, "vault-agent"));
    wait_rendered(&t, &app, &agent, "v1", "first login");

    // Nothing is due yet: a dry run says so and renew changes nothing.
    dry_run(&site).expect(site.expect(0).stdout("nothing is due\n"));
    // The token reaches its max TTL: the agent logs in again (the only way
    // a static secret is rendered again within 5 minutes).
    site.write_secret(&name, "v2");
    wait_rendered(&t, &app, &agent, "v2", "re-login at token max TTL");

    // Renewal due: the server certificate, the client certificate and (for
    // AppRole) the secret_id. The dry run names each and changes nothing.
    let due_count = if approle { 3 } else { 2 };
    let sid_when = if approle {
        ", secret_id expires [TIME]"
    } else {
        ""
    };
    let due = site.wait_until_due(
        &[],
        due_count,
        Duration::from_secs(150),
        "renewal to be due for the server, the client certificate and the secret_id",
    );
    eprintln!(
        "[renewal] due after {:.0} s: {due}",
        added.elapsed().as_secs_f64()
    );
    let before = site.snapshot();
    dry_run(&site).expect(site.expect(0).stdout(format!(
        "vault: would renew the server certificate because it expires on [TIME]
{name}: would renew the client certificate because it expires on [TIME]
{}",
        if approle {
            format!("{name}: would issue a new secret_id (the current one expires [TIME])\n")
        } else {
            String::new()
        }
    )));
    before.assert_same(&site.snapshot(), "renew --dry-run");
    let old = state(&site)["tenants"][&name].clone();
    let old_accessor = old["secret_id_accessor"].as_str().unwrap_or("").to_string();
    assert_eq!(old_accessor.is_empty(), !approle, "{old}");
    let old_not_after =
        vaultnet::state::rfc3339::parse(old["cert_not_after"].as_str().unwrap()).unwrap();

    site.vaultnet().args(["renew"]).run().expect(
        site.expect(0)
            .redact(pid, "[PID]")
            .redact_path(&bundle, "[BUNDLE]")
            .stdout(format!(
                "renewed tenant {name} (cert expires [TIME]{sid_when}); sent SIGHUP to 1 agent container(s)\n"
            ))
            .stderr(format!(
                "site: replaced Vault server certificate `vault/server.pem` because it expires on [TIME] (new serial [SERIAL], expires [TIME])
site: OpenBao reloaded (sent SIGHUP to pid [PID]) and serves the new certificate
{name}: client certificate reissued because it expires on [TIME], expires [TIME]
{}{name}: sent SIGHUP to 1 agent container(s)
",
                match (approle, wrapped) {
                    (true, false) => format!("{name}: secret_id issued, expires [TIME]; the previous one works until [TIME] so running agents log in with the new one first\n"),
                    (true, true) => format!("{name}: secret_id issued (response-wrapped), expires [TIME]; the previous one works until [TIME] so running agents log in with the new one first\n{name}: unwrapped the secret_id into `[BUNDLE]/secret_id` as {name}\n"),
                    _ => String::new(),
                }
            )),
    );
    let new = state(&site)["tenants"][&name].clone();
    assert_ne!(new["cert_serial"], old["cert_serial"]);
    let new_accessor = new["secret_id_accessor"].as_str().unwrap_or("").to_string();
    let mut both = vec![old_accessor.clone(), new_accessor.clone()];
    both.sort();
    if approle {
        assert_eq!(
            new["retiring"][0]["accessor"],
            old_accessor.as_str(),
            "{new}"
        );
        assert_eq!(
            accessors(&site, &name),
            both,
            "the old secret_id overlaps the new one"
        );
    } else {
        // Cert auth has neither an AppRole role nor a secret_id.
        let (code, _) = site.root_api("GET", &format!("auth/approle/role/vaultnet-{name}"), None);
        assert_eq!(code, 404);
    }
    // The installed copy has the new pair, in one file.
    let installed = std::fs::read_to_string(bundle.join("client-key.pem")).unwrap();
    assert!(
        installed
            .ends_with(&std::fs::read_to_string(site.bundle(&name).join("client.pem")).unwrap())
    );
    let logs = t.podman(["logs", &agent]).run();
    assert!(
        format!("{}{}", logs.stdout, logs.stderr)
            .contains("reloading vault stanza TLS configuration"),
        "the agent did not reload its TLS material on SIGHUP\n{logs}"
    );

    // Re-run at once: nothing is due, and the old secret_id still works.
    let before = site.snapshot();
    site.vaultnet()
        .args(["renew"])
        .run()
        .expect(site.expect(0).stdout(format!(
            "tenant {name}: nothing due (cert expires [TIME]{sid_when})\nsite: nothing due\n"
        )));
    // The same as JSON: stable fields, nothing secret.
    let uid = t.uid;
    let installed = bundle.display();
    let (sid_expires, wrapped_json) = match (approle, wrapped) {
        (true, w) => ("\"[TIME]\"", w),
        (false, _) => ("null", false),
    };
    let auth_json = if approle { "approle" } else { "cert" };
    // What `add-user` recorded of the tenant's Podman, which renew keeps.
    let network = crate::support::tenant::network_json(&uid.to_string(), "      ");
    site.vaultnet()
        .args(["renew", "--output", "json"])
        .run()
        .expect(site.expect(0).stdout(format!(
            r#"{{
  "schema_version": 1,
  "site": [],
  "vault_reload": null,
  "tenants": [
    {{
      "name": "{name}",
      "uid": {uid},
      "bundle": "[STATE]/tenants/{name}",
      "installed_to": "{installed}",
      "cert_serial": "[SERIAL]",
      "cert_not_after": "[TIME]",
      "secret_id_expires": {sid_expires},
      "wrapped_secret_id": {wrapped_json},
      "auth": "{auth_json}",
      "network": {network},
      "changes": [],
      "agent": null
    }}
  ]
}}
"#
        )));
    // (Its lock file names the last run: the only thing it may change.)
    before.without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "a renew with nothing due",
    );
    if approle {
        assert_eq!(accessors(&site, &name), both);
        // Past the overlap (the token's max TTL: the agent has logged in
        // again since, reading the new secret_id), the next renew destroys
        // the old one.
        let until =
            vaultnet::state::rfc3339::parse(new["retiring"][0]["until"].as_str().unwrap()).unwrap();
        sleep_until(until + time::Duration::seconds(1));
        site.vaultnet().args(["renew", &name]).run().expect(
            site.expect(0)
                .stdout(format!(
                    "renewed tenant {name} (cert expires [TIME], secret_id expires [TIME])\n"
                ))
                .stderr(format!("{name}: destroyed 1 other secret_id(s)\n")),
        );
        assert_eq!(accessors(&site, &name), vec![new_accessor.clone()]);
        assert!(state(&site)["tenants"][&name].get("retiring").is_none());
    }

    // Past the old certificate's expiry, every connection to Vault is cut:
    // the agent's next handshake must present the new certificate, and its
    // next login use the new certificate (cert auth) or the new secret_id
    // (AppRole: the old one is gone).
    sleep_until(old_not_after + time::Duration::seconds(3));
    let port = site.vault_addr().port().to_string();
    let out = host.exec(Command::new("ss").args(["-K", "dst", "127.0.0.1", "dport", "=", &port]));
    assert!(
        out.status.success(),
        "ss -K: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    site.write_secret(&name, "v3");
    wait_rendered(&t, &app, &agent, "v3", "after the old certificate expired");

    // An agent restart: it logs in from the files alone.
    t.podman(["restart", "--time", "2", &agent]).run().expect(
        Expect::success()
            .stdout(format!("{agent}\n"))
            .stderr_any(PODMAN),
    );
    site.write_secret(&name, "v4");
    wait_rendered(&t, &app, &agent, "v4", "after an agent restart");

    // A CA rotation: the next CA, which OpenBao has trusted since it
    // started, takes over. The tenant goes first — a certificate of the new
    // CA and the CAs trusted now, its agent sent SIGHUP — then OpenBao
    // serves a server certificate of the new CA. Nothing else is due yet
    // (everything was renewed about 45 s ago, with 80 s left) — unless the
    // steps above took long enough for the secret_id to fall due: then it
    // is renewed too, which the state shows by a new accessor.
    let ca_name = |rel: &str| crate::support::init::ca_name_of(&site.path(rel));
    let (old_ca, next_ca) = (ca_name("pki/ca.pem"), ca_name("pki/next-ca.pem"));
    let old_serial =
        vaultnet::pki::CertInfo::parse(&std::fs::read_to_string(site.path("pki/ca.pem")).unwrap())
            .unwrap()
            .serial;
    let out = site.vaultnet().args(["renew", "--rotate-ca"]).run();
    let rotated_accessor = state(&site)["tenants"][&name]["secret_id_accessor"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let (sid_issued, sid_unwrapped) = match (approle && rotated_accessor != new_accessor, wrapped) {
        (false, _) => (String::new(), String::new()),
        (true, false) => (
            format!(
                "{name}: secret_id issued, expires [TIME]; the previous one works until [TIME] so running agents log in with the new one first\n"
            ),
            String::new(),
        ),
        (true, true) => (
            format!(
                "{name}: secret_id issued (response-wrapped), expires [TIME]; the previous one works until [TIME] so running agents log in with the new one first\n"
            ),
            format!("{name}: unwrapped the secret_id into `[BUNDLE]/secret_id` as {name}\n"),
        ),
    };
    if !sid_issued.is_empty() {
        eprintln!(
            "[renewal] the secret_id fell due before the CA rotation and was renewed with it"
        );
    }
    out.expect(
        site.expect(0)
            .redact(pid, "[PID]")
            .redact_path(&bundle, "[BUNDLE]")
            .redact(&old_serial[..16], "[OLD]")
            .stdout(format!(
                "renewed tenant {name} (cert expires [TIME]{sid_when}); sent SIGHUP to 1 agent container(s)\n"
            ))
            .stderr(format!(
                "site: rotated the CA: `{old_ca}` -> `{next_ca}`; the old one is kept in `pki/replaced/ca-[DATE]-[OLD]-key.pem` and trusted until [TIME]
site: created next CA `pki/next-ca.pem` ({}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it
site: updated `pki/trust.pem`
{}{name}: client certificate reissued because it was issued by another CA, expires [TIME]
{sid_issued}{name}: updated `tenants/{name}/ca.pem` to the CAs trusted now
{sid_unwrapped}{name}: sent SIGHUP to 1 agent container(s)
site: replaced Vault server certificate `vault/server.pem` because it was issued by another CA (new serial [SERIAL], expires [TIME])
site: replaced operator certificate `operator/client.pem` because it was issued by another CA (new serial [SERIAL], expires [DATE])
site: OpenBao reloaded (sent SIGHUP to pid [PID]) and serves the new certificate
",
                ca_name("pki/next-ca.pem"),
                if approle {
                    String::new()
                } else {
                    format!("{name}: cert role `vaultnet-{name}`: updated to the CAs trusted now\n")
                }
            )),
    );
    // Every connection cut: the agent's next handshake verifies a server
    // certificate of the new CA and presents its own new certificate.
    let out = host.exec(Command::new("ss").args(["-K", "dst", "127.0.0.1", "dport", "=", &port]));
    assert!(out.status.success());
    site.write_secret(&name, "v5");
    wait_rendered(&t, &app, &agent, "v5", "after a CA rotation");
    let _ = std::fs::remove_file(&pid_file);
}

/// A renewed server certificate Vault has not loaded is not forgotten:
/// `renew` fails (exit 1) while it does not know how to reload Vault,
/// saying how to tell it; once `init` recorded the pid file, the next
/// `renew` — with nothing left to renew — has Vault load the waiting
/// certificate and checks it is served; the one after does nothing.
#[test]
fn renew_keeps_at_a_server_certificate_vault_has_not_loaded_until_it_serves_it() {
    require_e2e!("runs OpenBao in a network namespace");
    let site = Fixture::host("vnrr")
        .init_args(["--server-cert-ttl", "1m"])
        .openbao()
        .build();
    // A minute (and a backdated tenth): due about 44 s after init.
    wait_for(
        "the server certificate to be due",
        Duration::from_secs(90),
        Duration::from_secs(1),
        || {
            let out = dry_run(&site);
            match out
                .stdout
                .starts_with("vault: would renew the server certificate")
            {
                true => Ok(()),
                false => Err(out.to_string()),
            }
        },
    );
    let served = |site: &Fixture| site.bao().served_certificate();
    let before = served(&site);
    site.vaultnet().arg("renew").run().expect(
        site.refused(
            1,
            "OpenBao still serves its previous certificate: vaultnet does not know how to reload it",
            "reload it now (`systemctl reload openbao` or `kill -HUP` its pid), and record how once: `vaultnet init --vault-pid-file FILE` or `--vault-reload-command CMD`",
        )
        .stderr(
            "site: replaced Vault server certificate `vault/server.pem` because it expires on [TIME] (new serial [SERIAL], expires [TIME])
error: OpenBao still serves its previous certificate: vaultnet does not know how to reload it
hint: reload it now (`systemctl reload openbao` or `kill -HUP` its pid), and record how once: `vaultnet init --vault-pid-file FILE` or `--vault-reload-command CMD`
",
        ),
    );
    assert_eq!(served(&site), before, "nothing reloaded Vault");

    let (pid, _) = site.record_vault_pid_file();
    site.vaultnet()
        .arg("renew")
        .run()
        .expect(site.expect(0).redact(pid, "[PID]").stderr(
            "site: OpenBao reloaded (sent SIGHUP to pid [PID]) and serves the new certificate\n",
        ));
    assert_ne!(
        served(&site),
        before,
        "Vault still serves the old certificate"
    );
    site.vaultnet()
        .arg("renew")
        .run()
        .expect(site.expect(0).stdout("site: nothing due\n"));
}
