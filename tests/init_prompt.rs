//! `vaultnet init` on a terminal: it asks for every value no flag gave,
//! proposes the address of the default-route interface as the host IP, and
//! records the answers — driven through a real pseudo-terminal (`script`)
//! inside a network namespace whose default route the test sets.

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use crate::support::netns::Netns;
use crate::support::require_e2e;

/// Keys typed at the prompts, one answer each, with a pause so each prompt
/// is drawn before its answer arrives.
fn type_answers(ns: &Netns, dir: &std::path::Path, args: &str, answers: &[&str]) -> (bool, String) {
    let cmd = format!(
        "{} --dir {} init {args}",
        env!("CARGO_BIN_EXE_vaultnet"),
        dir.display()
    );
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "script",
            "-q",
            "-e",
            "-c",
            &cmd,
            "/dev/null",
        ])
        .env_remove("VAULT_TOKEN")
        .env_remove("BAO_TOKEN")
        .env_remove("VAULTNET_DIR")
        .env("HOME", dir.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script runs");
    let mut stdin = child.stdin.take().unwrap();
    sleep(Duration::from_millis(800));
    for a in answers {
        stdin.write_all(a.as_bytes()).unwrap();
        stdin.flush().unwrap();
        sleep(Duration::from_millis(250));
    }
    sleep(Duration::from_millis(500));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn init_on_a_terminal_asks_for_each_value_and_proposes_the_default_route_address() {
    require_e2e!("needs a network namespace with a default route");
    let ns = Netns::new("vnpr");
    let ip = ns.host_ip();
    let gw = format!(
        "{}.{}.{}.254",
        ip.octets()[0],
        ip.octets()[1],
        ip.octets()[2]
    );
    ns.run_ip(&["route", "add", "default", "via", &gw]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    // profile (Down: l6), flavor (Enter: openbao), DNS name (typed), host IP
    // (Enter: proposed), port (typed), Vault address (Enter), forwarder
    // (Down: nginx), image (Enter), KV mount (typed), prefix (Enter).
    let answers = [
        "\x1b[B\r",
        "\r",
        "vault.example\r",
        "\r",
        "22301\r",
        "\r",
        "\x1b[B\r",
        "\r",
        "kv\r",
        "\r",
    ];
    let (ok, text) = type_answers(&ns, &dir, "", &answers);
    assert!(ok, "init on a terminal failed:\n{text}");
    for question in [
        "Deployment pattern (profile)",
        "Vault or OpenBao",
        "DNS name tenants use for Vault",
        "Host address the forwarder listens on",
        "Forwarder port",
        "Loopback address of Vault's listener",
        "Host forwarder",
        "Agent sidecar image",
        "KV v2 mount for tenant secrets",
        "Prefix under the mount",
    ] {
        assert!(text.contains(question), "no prompt `{question}`:\n{text}");
    }
    assert!(
        text.contains(&format!("Host address the forwarder listens on [{ip}]")),
        "the default-route address {ip} was not proposed:\n{text}"
    );
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
    let (ok, text) = type_answers(&ns, &dir, "", &[]);
    assert!(ok, "{text}");
    assert!(
        !text.contains("DNS name tenants use"),
        "asked again:\n{text}"
    );

    // With --yes it never prompts, even on a terminal.
    let fresh = tmp.path().join("fresh");
    let (ok, text) = type_answers(&ns, &fresh, "--yes", &[]);
    assert!(ok, "{text}");
    assert!(
        !text.contains("Vault or OpenBao"),
        "prompted despite --yes:\n{text}"
    );
    let state = std::fs::read_to_string(fresh.join("vaultnet.yaml")).unwrap();
    assert!(state.contains(&format!("host_ip: {ip}")), "{state}");
}
