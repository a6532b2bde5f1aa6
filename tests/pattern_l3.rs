//! Pattern L3 (a forwarder port per tenant), for real (gated by
//! `VAULTNET_E2E=1`): a namespace playing the host, OpenBao started from
//! the listener file `init --profile l3` wrote, one socat instance per
//! tenant port started from the template unit's `ExecStart=` (what
//! `systemctl enable --now vaultnet-forwarder@PORT.service` runs), and the
//! nft gate loaded. The tenants are Unix users with rootless Podman
//! (slirp4netns, whose sockets are the tenant's own uid on the host's
//! stack — what the per-port gate sees). Alice's bundle, installed in her
//! home, runs under `podman-compose` unchanged: its agent renders her
//! secret through her own port; her token is denied bob's secret. From
//! bob's own rootless container his uid is refused on alice's port and
//! served on his own; alice's bundle against bob's port fails at the gate;
//! a stranger uid is refused on both ports; a client from another machine
//! of the LAN is refused on them too; and root (the operator's doctor) is
//! admitted. Removing bob keeps his port reserved: the next tenant gets
//! another one.
//!
//! The doctor test breaks the pattern's own links: one tenant's forwarder
//! entry stopped, and its rule taken out of the loaded gate; each is named
//! with the fix.

use serde_json::Value;

use crate::podman_e2e::{
    HEALTH_SCRIPT, OWN_BUNDLE_SCRIPT, PROJECT, app_yaml, marker, probe_container, run_markers,
    secret_value,
};
use crate::support::fixture::Fixture;
use crate::support::podman::{self, AGENT_IMAGE, APP_IMAGE, Kit, PodmanTenant, markers};
use crate::support::tenant::{
    UnixUser, connect_as, created, next_each, port_next, removed, totals,
};
use crate::support::{require_e2e, run_ok, write_private};

const DNS_NAME: &str = "vault.lan";

/// Asserts a container's `bao read sys/health` was refused at the TCP
/// level (the gate's reset), not answered and not timed out.
#[track_caller]
fn assert_refused(
    out: &crate::support::cmd::Output,
    m: &std::collections::BTreeMap<String, String>,
    who: &str,
) {
    let rc = marker(m, "RC", out);
    let text = marker(m, "OUT", out);
    assert!(
        rc != "0" && (text.contains("connection reset") || text.contains("connection refused")),
        "{who} must be refused by the gate\n{out}"
    );
}

#[test]
fn l3_gives_each_rootless_tenant_its_own_port_and_the_gate_admits_only_that_tenant_there() {
    require_e2e!(
        "creates Unix users and runs their rootless Podman, OpenBao, socat and nft in network namespaces"
    );
    podman::require_tools();
    podman::ensure_tun_usable();
    let kit = Kit::build();
    let site = Fixture::host("vnl3")
        .init_args(["--profile", "l3", "--agent-image", AGENT_IMAGE])
        .openbao()
        .build();
    let host = site.ns();
    let host_ip = site.host_ip();
    let token = site.scratch().join("operator-token");
    write_private(&token, &site.bao().root_token);

    let tag = std::process::id();
    let alice = PodmanTenant::create(&format!("vn3a{tag}"), host.name());
    let bob = PodmanTenant::create(&format!("vn3b{tag}"), host.name());
    let (a, b) = (alice.name.clone(), bob.name.clone());
    let dir = |t: &PodmanTenant| t.home.join(".config/vaultnet");
    site.vaultnet_without_token()
        .args(["add-user", &a, &b, "--install", "--token-file"])
        .arg(&token)
        .run()
        .expect({
            let added: String = [&alice, &bob]
                .map(|t| {
                    format!(
                        "added tenant {n}: bundle in tenants/{n}, installed in {} (cert expires [DATE])\n",
                        dir(t).display(),
                        n = t.name
                    )
                })
                .concat();
            let created: String = [&alice, &bob]
                .map(|t| format!("{}{}: installed into `{}`\n", created(&t.name), t.name, dir(t).display()))
                .concat();
            site.expect(0)
                .stdout(format!(
                    "{added}{}{}{}{}",
                    port_next(&a, 22301),
                    port_next(&b, 22302),
                    next_each(&a),
                    totals(2, 0, 0, 0)
                ))
                .stderr(format!("{created}{}", site.gate_line()))
        });
    // Each bundle points at its tenant's own port, and list says so.
    for (t, port) in [(&alice, 22301), (&bob, 22302)] {
        let agent: Value =
            serde_json::from_str(&std::fs::read_to_string(dir(t).join("agent.json")).unwrap())
                .unwrap();
        assert_eq!(
            agent["vault"]["address"],
            format!("https://{DNS_NAME}:{port}")
        );
    }
    let listed = site.vaultnet().args(["list", "--output", "json"]).run();
    let rows: Value =
        serde_json::from_str(&listed.stdout).unwrap_or_else(|e| panic!("{e}\n{listed}"));
    let endpoints: Vec<(String, String)> = rows["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["endpoint"]["url"].as_str().unwrap().to_string(),
                r["endpoint"]["connect"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [22301, 22302].map(|p| (format!("https://{DNS_NAME}:{p}"), format!("{host_ip}:{p}")))
    );
    // The gate: only alice's uid (and root) on 22301, only bob's on 22302.
    let gate = std::fs::read_to_string(site.path("forwarder/vaultnet.nft")).unwrap();
    for (uid, port) in [(alice.uid, 22301), (bob.uid, 22302)] {
        let rule = format!(
            "ip daddr {host_ip} tcp dport {port} meta skuid != {{ 0, {uid} }} reject with tcp reset"
        );
        assert!(gate.lines().any(|l| l.trim() == rule), "{rule}\n{gate}");
    }
    site.start_port_forwarder(22301);
    site.start_port_forwarder(22302);
    site.load_nft();
    let (secret_a, secret_b) = (secret_value("alice"), secret_value("bob"));
    site.write_secret(&a, &secret_a);
    site.write_secret(&b, &secret_b);
    alice.import(&kit.bao_tar, AGENT_IMAGE);
    alice.import(&kit.app_tar, APP_IMAGE);
    bob.import(&kit.app_tar, APP_IMAGE);

    // Alice's bundle, unchanged: its agent renders her secret through her
    // own port, from her rootless containers.
    let project = alice.dir(PROJECT);
    alice.write_file(&format!("{PROJECT}/app.yaml"), &app_yaml(), 0o644);
    let mut up = alice.cmd(&kit.compose);
    up.arg("-f")
        .arg("app.yaml")
        .arg("-f")
        .arg(dir(&alice).join("compose.yaml"))
        .args(["up", "--exit-code-from", "app"])
        .current_dir(&project);
    let out = up.run();
    assert_eq!(out.code, Some(0), "podman-compose up failed\n{out}");
    let m = markers(&format!("{}\n{}", out.stdout, out.stderr));
    assert_eq!(marker(&m, "SECRET", &out), secret_a, "{out}");

    let with_bundle = |bundle: &std::path::Path, port: u16| -> Vec<String> {
        vec![
            format!("--add-host={DNS_NAME}:{host_ip}"),
            format!("--volume={}:/vaultnet:ro", bundle.display()),
            format!("--env=BAO_ADDR=https://{DNS_NAME}:{port}"),
            "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
            "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
            "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
        ]
    };
    let (path_a, path_b) = (
        format!("secret/data/tenants/{a}/app"),
        format!("secret/data/tenants/{b}/app"),
    );
    // Alice, logged in through her port, is denied bob's secret.
    let (out, m) = run_markers(probe_container(
        &alice,
        &kit,
        &with_bundle(&dir(&alice), 22301),
        OWN_BUNDLE_SCRIPT,
        &[&path_a, &path_b],
    ));
    assert_eq!(marker(&m, "LOGIN", &out), "ok", "{out}");
    assert!(marker(&m, "OWN", &out).contains(&secret_a), "{out}");
    assert!(
        marker(&m, "OTHER", &out).contains("permission denied"),
        "{out}"
    );
    assert!(!out.stdout.contains(&secret_b), "{out}");

    // Bob's uid, from his own rootless container: served on his port,
    // refused on alice's.
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle(&dir(&bob), 22302),
        HEALTH_SCRIPT,
        &[],
    ));
    assert!(
        marker(&m, "RC", &out) == "0" && marker(&m, "OUT", &out).contains("initialized"),
        "{out}"
    );
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle(&dir(&bob), 22301),
        HEALTH_SCRIPT,
        &[],
    ));
    assert_refused(&out, &m, "bob's container on alice's port");
    // Alice's bundle against bob's port: refused too.
    let (out, m) = run_markers(probe_container(
        &alice,
        &kit,
        &with_bundle(&dir(&alice), 22302),
        HEALTH_SCRIPT,
        &[],
    ));
    assert_refused(&out, &m, "alice's bundle on bob's port");

    // A stranger uid on this host: refused on both ports.
    let stranger = UnixUser::create("l3s");
    for port in [22301, 22302] {
        match connect_as(
            host.name(),
            stranger.uid,
            stranger.gid,
            &host_ip.to_string(),
            port,
        ) {
            Err(e) if e.contains("Connection refused") => {}
            other => panic!("a stranger uid must be refused on port {port}, got {other:?}"),
        }
    }
    // Another machine of the LAN: refused on the tenants' ports.
    let remote = host.add_tenant_ns("vn3r", &[(DNS_NAME, host_ip)]);
    let tls = site.operator_tls();
    for port in [22301, 22302] {
        match crate::support::openbao::probe(
            Some(remote.name()),
            &format!("{DNS_NAME}:{port}"),
            &tls.ca_pem_path,
            Some((&tls.client_cert_path, &tls.client_key_path)),
        ) {
            Err(e) if e.contains("curl: (7)") => {}
            other => panic!("a remote client must be refused on port {port}, got {other:?}"),
        }
    }
    // Root, the operator: doctor's entries pass through every port.
    let r = site.report(&[], 0);
    for t in [&a, &b] {
        r.expect(&format!("forwarder.{t}.mtls"), "ok");
        r.expect(&format!("nft.port.{t}"), "ok");
    }

    // Bob removed: his port stays reserved (root only), and the next
    // tenant gets another.
    site.remove_user(&[&b]).run().expect(site.expect(0).stdout(format!(
        "{}next: {b}: port 22302 stays reserved (refused to all but root) until its last certificate expires; stop the forwarder's entry for it with: systemctl disable --now vaultnet-forwarder@22302.service\n",
        removed(&b, false)
    )).stderr(format!(
        "{b}: the copy in `{}` is left in place (its credentials no longer work); `--purge` removes it\n{}",
        dir(&bob).display(),
        site.gate_line()
    )));
    let state = site.state();
    assert_eq!(state["reserved_ports"][0]["port"], 22302, "{state}");
    assert_eq!(state["reserved_ports"][0]["tenant"], b.as_str(), "{state}");
    let gate = std::fs::read_to_string(site.path("forwarder/vaultnet.nft")).unwrap();
    let reserved =
        format!("ip daddr {host_ip} tcp dport 22302 meta skuid != 0 reject with tcp reset");
    assert!(gate.lines().any(|l| l.trim() == reserved), "{gate}");
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle(&dir(&bob), 22302),
        HEALTH_SCRIPT,
        &[],
    ));
    assert_refused(&out, &m, "removed bob's container on his reserved port");
    site.add_user(&["carol", "--no-unix-user"])
        .run()
        .expect_success();
    assert_eq!(site.state()["tenants"]["carol"]["port"], 22303);
}

#[test]
fn doctor_names_an_l3_tenants_stopped_forwarder_entry_and_its_missing_gate_rule() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let f = Fixture::host("vnd3")
        .init_args(["--profile", "l3"])
        .tenants(2)
        .nft()
        .build();
    let (a, b) = (f.tenant(0).to_string(), f.tenant(1).to_string());
    let pid_a = f.start_port_forwarder(22301);
    f.start_port_forwarder(22302);
    let r = f.report(&[], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
    r.expect(&format!("forwarder.{a}.mtls"), "ok");
    r.expect(&format!("forwarder.{b}.mtls"), "ok");
    let (uid_a, _) = ids(&a);
    assert_eq!(
        r.detail(&format!("nft.port.{a}")),
        format!(
            "ip daddr {} tcp dport 22301 meta skuid != {{ 0, {uid_a} }} reject with tcp reset",
            f.host_ip()
        )
    );

    // Alice's entry stopped: named, with the command that starts it.
    assert!(f.ns().kill(pid_a));
    let r = f.report(&[], 1);
    r.expect_hint(
        &format!("forwarder.{a}.tcp"),
        "fail",
        &["systemctl enable --now vaultnet-forwarder@22301.service"],
    );
    r.expect(&format!("forwarder.{b}.mtls"), "ok");
    f.start_port_forwarder(22301);

    // Alice's rule taken out of the kernel's gate: named, with the fix.
    let listed = run_ok(
        f.ns()
            .command("nft")
            .args(["-a", "list", "chain", "inet", "vaultnet", "output"]),
    );
    let handle = listed
        .lines()
        .find(|l| l.contains("tcp dport 22301 meta skuid"))
        .and_then(|l| l.rsplit_once("# handle "))
        .map(|(_, h)| h.trim().to_string())
        .unwrap_or_else(|| panic!("no rule for 22301:\n{listed}"));
    run_ok(f.ns().command("nft").args([
        "delete", "rule", "inet", "vaultnet", "output", "handle", &handle,
    ]));
    let load = format!("nft -f {}", f.path("forwarder/vaultnet.nft").display());
    let r = f.report(&[], 1);
    assert_eq!(
        r.expect_hint(&format!("nft.port.{a}"), "fail", &[&load]),
        load
    );
    assert_eq!(
        r.detail(&format!("nft.port.{a}")),
        format!(
            "the loaded gate lacks `ip daddr {} tcp dport 22301 meta skuid != {{ 0, {uid_a} }} reject with tcp reset`: port 22301 is open to every local user",
            f.host_ip()
        )
    );
    r.expect(&format!("nft.port.{b}"), "ok");
    // The hint is the fix.
    run_ok(
        f.ns()
            .command("nft")
            .arg("-f")
            .arg(f.path("forwarder/vaultnet.nft")),
    );
    f.report(&[], 0).expect(&format!("nft.port.{a}"), "ok");
}

/// The uid and gid of a Unix user.
fn ids(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name)
        .expect("read passwd")
        .unwrap_or_else(|| panic!("no user {name}"));
    (u.uid.as_raw(), u.gid.as_raw())
}

#[test]
fn l3_init_writes_the_socat_template_unit_and_no_single_port_unit() {
    let f = Fixture::builder()
        .init_args(["--profile", "l3"])
        .init()
        .build();
    let unit = std::fs::read_to_string(f.path("forwarder/vaultnet-forwarder@.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/socat TCP4-LISTEN:%i,bind=10.77.0.1,"),
        "{unit}"
    );
    assert!(!f.path("forwarder/vaultnet-forwarder.service").exists());
}
