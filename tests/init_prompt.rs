//! `vaultnet init` on a terminal: it asks for every value no flag gave,
//! proposes the address of the default-route interface as the host IP, and
//! records the answers — driven through a real pseudo-terminal
//! (`support::pty`) inside a network namespace whose default route the test
//! sets. Each answer is typed only once its prompt is on the screen, and
//! what `init` prints after the last answer is compared exactly. (How the
//! prompts themselves are drawn — cursor moves, line clears — is
//! dialoguer's, not vaultnet's: the test waits for each prompt's text in
//! order instead of comparing those bytes.)

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use crate::support::cmd::Cmd;
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::init::{RENEWAL_STEPS, ca_name_of, install_steps};
use crate::support::pty::{Session, Terminal};
use crate::support::require_e2e;

/// How long `init` may take to finish once the last answer is typed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// `vaultnet --dir DIR init ARGS…` in the site's namespace, with its
/// `HOME`: `dir` is the site's state or another beside it.
fn init(site: &Fixture, dir: &Path, args: &[&str]) -> Cmd {
    let mut c = Cmd::vaultnet();
    c.home(site.home())
        .arg("--dir")
        .arg(dir)
        .arg("init")
        .args(args)
        .netns(site.ns().name());
    c
}

/// Runs `cmd` on a terminal, answering each prompt in turn: waits for the
/// prompt's text, then types the answer; then waits for `last` (the last
/// answer as the prompt shows it once taken) and for the program to exit.
#[track_caller]
fn answer(cmd: &Cmd, prompts: &[(&str, &str)], last: &str) -> Session {
    let mut term = Terminal::start(cmd);
    for (prompt, keys) in prompts {
        term.wait_for(prompt);
        term.send(keys);
    }
    term.wait_for(last);
    term.finish(EXIT_TIMEOUT)
}

/// What `init` in `dir` prints on the terminal after the prompts — stderr
/// and stdout as they interleave there — when Vault is at the default
/// address, where nothing listens: `files` are the lines about the
/// certificates and files, then the report for the host at `ip` and the
/// forwarder `forwarder` on `port`.
fn report(
    dir: &Path,
    ip: Ipv4Addr,
    files: &str,
    (changed, kept): (u32, u32),
    forwarder: &str,
    port: u16,
) -> Expect {
    Expect::success()
        .stdout(format!(
            "{files}vaultnet initialised in `[STATE]`: {changed} changed, {kept} kept
note: OpenBao at https://127.0.0.1:8200 is not reachable: cannot reach https://127.0.0.1:8200: connection refused

{profile}
Vault listener: 127.0.0.1:8200, mutual TLS required (`vault/listener.json`).
  The OpenBao server's user must be able to read `[STATE]/vault/server-key.pem`.
Forwarder ({forwarder}): [HOST_IP]:{port} -> 127.0.0.1:8200; install it from `[STATE]` with:
{steps}  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port
{RENEWAL_STEPS}Operator access:
  export BAO_ADDR=https://127.0.0.1:8200 BAO_CACERT=[STATE]/pki/trust.pem BAO_CLIENT_CERT=[STATE]/operator/client.pem BAO_CLIENT_KEY=[STATE]/operator/client-key.pem

Left to do:
  1. start OpenBao with the listener as an extra config: `bao server -config <your config> -config [STATE]/vault/listener.json`
  2. then run `vaultnet init` again with an operator token (`BAO_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2
",
            steps = install_steps(forwarder),
            profile = if forwarder == "nginx" {
                // The prompted run chose l6 (and nginx); `--yes` takes the defaults.
                "Profile l6 (pattern L6): host forwarder + DNS name + mTLS, pasta (host-gateway mapping)."
            } else {
                "Profile l1 (pattern L1): host forwarder + DNS name + mTLS."
            },
        ))
        .redact_path(dir, "[STATE]")
        .redact(ip, "[HOST_IP]")
}

/// The lines of a first `init` in `dir`, whose forwarder file is `file`.
fn created(dir: &Path, file: &str) -> String {
    format!(
        "created CA `pki/ca.pem` ({}, expires [DATE])
created next CA `pki/next-ca.pem` ({}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it
created Vault server certificate `vault/server.pem` (expires [DATE])
created operator certificate `operator/client.pem` (expires [DATE])
wrote `pki/trust.pem`
wrote `vault/listener.json`
wrote `vaultnet.yaml`
wrote `forwarder/{file}`
wrote `forwarder/vaultnet.nft`
wrote `renew/vaultnet-renew.service`
wrote `renew/vaultnet-renew.timer`
",
        ca_name_of(&dir.join("pki/ca.pem")),
        ca_name_of(&dir.join("pki/next-ca.pem"))
    )
}

#[test]
fn init_on_a_terminal_asks_for_each_value_and_proposes_the_default_route_address() {
    require_e2e!("needs a network namespace with a default route");
    let site = Fixture::host("vnpr").build();
    let ns = site.ns();
    let ip = ns.host_ip();
    let gw = format!(
        "{}.{}.{}.254",
        ip.octets()[0],
        ip.octets()[1],
        ip.octets()[2]
    );
    ns.run_ip(&["route", "add", "default", "via", &gw]);
    let dir = site.dir();
    let proposed = format!("Host address the forwarder listens on [{ip}]");
    // Every prompt in the order init asks, and what is typed at it:
    // profile (Down four times: l6, after l2, l3 and l4), flavor (Enter: openbao), DNS name (typed), host
    // IP (Enter: the proposed address, which must be the default route's),
    // port (typed), Vault address (Enter), forwarder (Down: nginx), image
    // (Enter), KV mount (typed), prefix (Enter).
    let prompts = [
        ("Deployment pattern (profile)", "\x1b[B\x1b[B\x1b[B\x1b[B\r"),
        ("Vault or OpenBao", "\r"),
        ("DNS name tenants use for Vault", "vault.example\r"),
        (proposed.as_str(), "\r"),
        ("Forwarder port", "22301\r"),
        ("Loopback address of Vault's listener", "\r"),
        ("Host forwarder", "\x1b[B\r"),
        ("Agent sidecar image", "\r"),
        ("KV v2 mount for tenant secrets", "kv\r"),
        ("Prefix under the mount", "\r"),
        // The answers once more, then Enter: yes.
        ("Write these settings and create the CA?", "\r"),
    ];
    let s = answer(
        &init(&site, dir, &[]),
        &prompts,
        // (dialoguer shows the cursor again once answered.)
        "Write these settings and create the CA? yes\n\x1b[?25h",
    );
    let summary = format!(
        "vaultnet will initialise `{}` with:
  profile         l6 (pattern L6): host forwarder + DNS name + mTLS, pasta (host-gateway mapping)
  Vault           OpenBao, listener 127.0.0.1:8200 (mutual TLS required)
  tenants reach   https://vault.example:22301 at {ip}:22301 (forwarder nginx)
  agent image     {}
  tenant secrets  kv/tenants/NAME/ (KV v2)
",
        dir.display(),
        site.state()["site"]["agent_image"]
            .as_str()
            .expect("the image init recorded")
    );
    assert!(s.transcript.contains(&summary), "{}", s.transcript);
    s.rest_output().expect(report(
        dir,
        ip,
        &created(dir, "vaultnet-stream.conf"),
        (11, 0),
        "nginx",
        22301,
    ));
    let state = std::fs::read_to_string(dir.join("vaultnet.yaml")).unwrap();
    for want in [
        "dns_name: vault.example".to_string(),
        format!("host_ip: {ip}"),
        "port: 22301".into(),
        "forwarder: nginx".into(),
        "flavor: openbao".into(),
        "profile: l6".into(),
        "kv_mount: kv".into(),
        "tenant_prefix: tenants".into(),
    ] {
        assert!(state.contains(&want), "`{want}` not recorded:\n{state}");
    }
    assert!(dir.join("forwarder/vaultnet-stream.conf").exists());

    // A second run on a terminal asks nothing: the settings are recorded.
    // Nothing is typed, so a prompt would wait until the deadline and fail
    // the test; the whole transcript is the report.
    let s = answer(&init(&site, dir, &[]), &[], "");
    let kept = format!(
        "kept CA `pki/ca.pem` ({}, expires [DATE])
kept next CA `pki/next-ca.pem` ({}, expires [DATE])
kept Vault server certificate `vault/server.pem` (expires [DATE])
kept operator certificate `operator/client.pem` (expires [DATE])
",
        ca_name_of(&dir.join("pki/ca.pem")),
        ca_name_of(&dir.join("pki/next-ca.pem"))
    );
    assert_eq!(s.rest, s.transcript);
    s.rest_output()
        .expect(report(dir, ip, &kept, (0, 4), "nginx", 22301));

    // With --yes it never prompts, even on a terminal: the defaults, and
    // the default route's address as the host IP.
    let fresh = site.scratch().join("fresh");
    let s = answer(&init(&site, &fresh, &["--yes"]), &[], "");
    assert_eq!(s.rest, s.transcript);
    s.rest_output().expect(report(
        &fresh,
        ip,
        &created(&fresh, "vaultnet-forwarder.service"),
        (11, 0),
        "socat",
        22300,
    ));
    let state = std::fs::read_to_string(fresh.join("vaultnet.yaml")).unwrap();
    assert!(state.contains(&format!("host_ip: {ip}")), "{state}");
}

/// Without a default route, `init --yes` names the addresses this host
/// has in its hint, and a terminal run proposes the first; answering `n`
/// at the summary leaves nothing behind. An address on no interface is
/// taken, with a note saying what that means (`--yes` too).
#[test]
fn without_a_default_route_init_proposes_the_hosts_addresses_and_no_leaves_nothing() {
    require_e2e!("needs a network namespace without a default route");
    let site = Fixture::host("vnnr").build();
    let ip = site.ns().host_ip();
    let dir = site.dir();

    init(&site, dir, &["--yes"]).run().expect(
        Expect::code(2).stderr(format!(
            "error: cannot find this host's address: there is no default route
hint: pass the address containers reach the host on, e.g. `--host-ip {ip}` (this host has {ip} on `vnhost`)
"
        )),
    );
    assert!(!dir.exists(), "a refused init wrote {}", dir.display());

    let proposed = format!(
        "Host address the forwarder listens on (no default route; this host has {ip} on `vnhost`) [{ip}]"
    );
    let prompts = [
        ("Deployment pattern (profile)", "\r"),
        ("Vault or OpenBao", "\r"),
        ("DNS name tenants use for Vault", "\r"),
        (proposed.as_str(), "\r"),
        ("Forwarder port", "\r"),
        ("Loopback address of Vault's listener", "\r"),
        ("Host forwarder", "\r"),
        ("Agent sidecar image", "\r"),
        ("KV v2 mount for tenant secrets", "\r"),
        ("Prefix under the mount", "\r"),
        (
            &format!("tenants reach   https://vault.lan:22300 at {ip}:22300 (forwarder socat)"),
            "",
        ),
        ("Write these settings and create the CA?", "n"),
    ];
    let s = answer(
        &init(&site, dir, &[]),
        &prompts,
        "Write these settings and create the CA? no\n",
    );
    assert_eq!(s.code, Some(2), "{}", s.transcript);
    assert!(
        s.rest.contains(
            "error: not confirmed: nothing was changed\nhint: run `vaultnet init` again and answer differently, or give every setting as a flag with `--yes`\n"
        ),
        "{}",
        s.transcript
    );
    assert!(!dir.exists(), "an unconfirmed init wrote {}", dir.display());

    // An address no interface has: taken, and said so.
    let out = init(&site, dir, &["--yes", "--host-ip", "10.77.0.9"]).run();
    assert_eq!(out.code, Some(0), "{out}");
    let note = "note: the host address 10.77.0.9 is on no interface of this host: nothing listens there, and tenants cannot connect, until an interface has it (`ip -brief address` lists them)\n";
    let lines: Vec<&str> = out.stdout.lines().take(2).collect();
    assert_eq!(lines[1], note.trim_end(), "{out}");
}
