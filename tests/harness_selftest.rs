//! Self-test of the test harness in `tests/support`.
//!
//! Proves the pieces other tests stand on before they are used to judge
//! vaultnet: the command runner (against `/bin/sh`, so it works before the
//! binary does anything), the pseudo-terminal driver, the exact comparison
//! and its redaction, namespace set-up and tear-down, and a real
//! OpenBao behind an mTLS listener made here with `openssl` — initialised,
//! unsealed, refusing clients without the right certificate.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::cmd::{Cmd, Output, is_scrubbed};
use crate::support::expect::{Expect, line_diff, redact};
use crate::support::netns::Netns;
use crate::support::openbao::{ClientTls, OpenBao, free_port, probe};
use crate::support::pty::Terminal;
use crate::support::{self, require_e2e, run_ok, wait_for};

// ---------------------------------------------------------------- cmd.rs

#[test]
fn cmd_runs_program_with_args_stdin_env_and_home() {
    let home = tempfile::tempdir().unwrap();
    let out = Cmd::new("/bin/sh")
        .args([
            "-c",
            r#"printf 'home=%s\n' "$HOME"; printf 'extra=%s\n' "$VAULT_ADDR"; printf 'arg=%s\n' "$1"; cat; echo oops >&2; exit 3"#,
            "sh",
            "first arg",
        ])
        .home(home.path())
        .env("VAULT_ADDR", "https://set.explicitly")
        .stdin("from stdin\n")
        .run();
    // Explicit variables are applied after scrubbing, so they do arrive.
    let out = out.expect(
        Expect::code(3)
            .stdout("home=[HOME]\nextra=https://set.explicitly\narg=first arg\nfrom stdin\n")
            .stderr("oops\n")
            .redact_path(home.path(), "[HOME]"),
    );
    assert!(out.command.contains("'first arg'"), "{}", out.command);
}

#[test]
fn cmd_without_stdin_reads_eof() {
    // A program that unexpectedly prompts must see EOF, not hang.
    let out = Cmd::new("/bin/sh")
        .args(["-c", "cat; echo done"])
        .timeout(Duration::from_secs(10))
        .run();
    out.expect(Expect::success().stdout("done\n"));
}

#[test]
fn cmd_scrubs_vault_bao_vaultnet_xdg_locale_and_width_variables() {
    for name in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "BAO_ADDR",
        "BAO_CLIENT_CERT",
        "VAULTNET_CONFIG",
        "VAULTNET_E2E",
        "XDG_CONFIG_HOME",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "LC_MESSAGES",
        "COLUMNS",
    ] {
        assert!(is_scrubbed(name.as_ref()), "{name} should be scrubbed");
    }
    for name in [
        "PATH",
        "HOME",
        "MY_VAULT_ADDR",
        "VAULTADDR",
        "LANGX",
        "MY_LC_ALL",
    ] {
        assert!(!is_scrubbed(name.as_ref()), "{name} should be kept");
    }
    // And for real: whatever the test process inherited, none of it
    // reaches the child (VAULTNET_E2E is set under CI, for one; LANG in
    // most sessions).
    let out = Cmd::new("/usr/bin/env")
        .run()
        .expect(Expect::success().stdout_any("what is left of this machine's environment"));
    for line in out.stdout.lines() {
        let name = line.split('=').next().unwrap();
        assert!(!is_scrubbed(name.as_ref()), "leaked: {line}");
    }
    // A locale the test sets itself does arrive.
    let out = Cmd::new("/usr/bin/env")
        .env("LC_ALL", "C.UTF-8")
        .run()
        .expect(Expect::success().stdout_any("what is left of this machine's environment"));
    let locale: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("LC_") || l.starts_with("LANG"))
        .collect();
    assert_eq!(locale, ["LC_ALL=C.UTF-8"], "{out}");
}

#[test]
fn cmd_expect_code_panics_with_everything() {
    let out = Cmd::new("/bin/sh")
        .args(["-c", "echo to-out; echo to-err >&2; exit 2"])
        .run();
    let err = std::panic::catch_unwind(|| out.expect_code(0)).unwrap_err();
    let msg = err.downcast_ref::<String>().expect("string panic");
    for part in [
        "expected exit code 0",
        "/bin/sh",
        "exit status: 2",
        "to-out",
        "to-err",
    ] {
        assert!(msg.contains(part), "missing {part:?} in:\n{msg}");
    }
}

#[test]
fn cmd_kills_on_timeout() {
    let out = Cmd::new("/bin/sh")
        .args(["-c", "echo started; exec sleep 30"])
        .timeout(Duration::from_millis(500))
        .run();
    assert!(out.timed_out, "{out}");
    assert_eq!(out.code, None, "{out}");
    assert_eq!(out.stdout, "started\n");
}

// --------------------------------------------------------------- pty.rs

#[test]
fn terminal_waits_for_a_prompt_then_types_the_answer() {
    let sh = Cmd::new("/bin/sh")
        .args([
            "-c",
            r#"[ -t 0 ] && [ -t 1 ] && echo on-a-tty; printf 'name? '; read name; echo "hello $name"; exit 4"#,
        ])
        .clone();
    let mut term = Terminal::start(&sh);
    term.wait_for("name? ");
    term.send("bob\r");
    term.wait_for("hello bob\n");
    let s = term.finish(Duration::from_secs(10));
    assert_eq!(s.code, Some(4), "{s:?}");
    // The terminal echoes what was typed, as a terminal does.
    assert_eq!(s.transcript, "on-a-tty\nname? bob\nhello bob\n");
    assert_eq!(s.rest, "");
    let out = s.rest_output();
    assert_eq!((out.code, out.stdout.as_str()), (Some(4), ""));
}

#[test]
fn terminal_fails_at_the_deadline_with_what_it_showed() {
    let started = std::time::Instant::now();
    let sh = Cmd::new("/bin/sh")
        .args(["-c", "echo so far; exec sleep 30"])
        .clone();
    let mut term = Terminal::start(&sh);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        term.wait_for_within("a prompt that never comes", Duration::from_millis(300))
    }))
    .unwrap_err();
    drop(term);
    let msg = panic.downcast_ref::<String>().expect("string panic");
    for part in [
        "waiting for \"a prompt that never comes\"",
        "300ms passed",
        "--- the terminal so far ---\nso far\n",
    ] {
        assert!(msg.contains(part), "missing {part:?} in:\n{msg}");
    }
    // Dropping the terminal killed the sleeper.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn terminal_fails_when_the_program_ends_before_the_text() {
    let sh = Cmd::new("/bin/sh").args(["-c", "echo bye"]).clone();
    let mut term = Terminal::start(&sh);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        term.wait_for("a prompt that never comes")
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("the terminal closed"), "{msg}");
    assert!(msg.contains("\nbye\n"), "{msg}");
}

#[test]
fn terminal_kills_a_program_that_does_not_exit() {
    let sh = Cmd::new("/bin/sh")
        .args(["-c", "echo waiting; exec sleep 30"])
        .clone();
    let mut term = Terminal::start(&sh);
    term.wait_for("waiting\n");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        term.finish(Duration::from_millis(300))
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("string panic");
    assert!(msg.contains("did not exit within 300ms"), "{msg}");
    assert!(msg.contains("--- the terminal ---\nwaiting\n"), "{msg}");
}

// ------------------------------------------------------------ expect.rs

fn no_values() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn redact_replaces_dates_and_rfc3339_times_and_nothing_like_them() {
    for (text, want) in [
        ("expires 2036-11-28)", "expires [DATE])"),
        ("2027-02-26", "[DATE]"),
        (
            "from 2027-02-26 to 2028-01-01.\n",
            "from [DATE] to [DATE].\n",
        ),
        ("at 2027-02-26T12:34:56Z.", "at [TIME]."),
        ("2027-02-26t12:34:56z", "[TIME]"),
        ("2027-02-26T12:34:56.123456789+01:00", "[TIME]"),
        ("\"2027-02-26T12:34:56-05:30\"", "\"[TIME]\""),
        ("2027-02-26 12:34:56Z", "[TIME]"),
        // Not dates: glued to other digits or words, or the wrong shape.
        ("12027-02-26", "12027-02-26"),
        ("2027-02-261", "2027-02-261"),
        ("v2027-02-26", "v2027-02-26"),
        ("2027-2-26", "2027-2-26"),
        ("2027/02/26", "2027/02/26"),
        // A time without its offset is not RFC 3339, nor a bare date:
        // left alone, so a test sees it rather than a half redaction.
        ("2027-02-26T12:34:56", "2027-02-26T12:34:56"),
        ("2027-02-26T12:34Z", "2027-02-26T12:34Z"),
    ] {
        assert_eq!(redact(text, &no_values()), want, "in {text:?}");
    }
}

#[test]
fn redact_replaces_32_hex_digit_serials_only() {
    let serial = "5ae51fb457f555f41174e4bb1cc1d65e";
    for (text, want) in [
        (format!("serial {serial})"), "serial [SERIAL])".to_string()),
        (serial.to_uppercase(), "[SERIAL]".into()),
        (
            format!("{serial} -> {serial}"),
            "[SERIAL] -> [SERIAL]".into(),
        ),
        // 31 and 33 digits, a 64-digit digest, a serial glued to a word.
        (serial[1..].to_string(), serial[1..].to_string()),
        (format!("{serial}0"), format!("{serial}0")),
        (serial.repeat(2), serial.repeat(2)),
        (format!("x{serial}"), format!("x{serial}")),
        (format!("{serial}_"), format!("{serial}_")),
    ] {
        assert_eq!(redact(&text, &no_values()), want, "in {text:?}");
    }
}

#[test]
fn redact_replaces_pem_bodies_and_keeps_their_markers() {
    let text = "ca:\n-----BEGIN CERTIFICATE-----\nMIIB\nAbCd==\n-----END CERTIFICATE-----\n\
                key:\n  -----BEGIN PRIVATE KEY-----\n  MIGH\n  -----END PRIVATE KEY-----\nend\n";
    let want = "ca:\n-----BEGIN CERTIFICATE-----\n[PEM]\n-----END CERTIFICATE-----\n\
                key:\n  -----BEGIN PRIVATE KEY-----\n  [PEM]\n  -----END PRIVATE KEY-----\nend\n";
    assert_eq!(redact(text, &no_values()), want);
    // Unterminated, or closed with another label: not a PEM block.
    for text in [
        "-----BEGIN CERTIFICATE-----\nMIIB\n",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END PRIVATE KEY-----\n",
    ] {
        assert_eq!(redact(text, &no_values()), text);
    }
}

#[test]
fn redact_replaces_given_values_as_whole_words_longest_first() {
    let values = vec![
        ("/tmp/site-x".to_string(), "[DIR]".to_string()),
        ("/tmp/site-x/state".to_string(), "[STATE]".to_string()),
        ("10.0.0.1".to_string(), "[IP]".to_string()),
    ];
    for (text, want) in [
        (
            "in `/tmp/site-x/state/pki` beside /tmp/site-x/token",
            "in `[STATE]/pki` beside [DIR]/token",
        ),
        ("10.0.0.1:22300 and 10.0.0.1", "[IP]:22300 and [IP]"),
        // Another address, another directory: not these values.
        ("10.0.0.12 110.0.0.1", "10.0.0.12 110.0.0.1"),
        ("/tmp/site-xy/state", "/tmp/site-xy/state"),
        ("x10.0.0.1 10.0.0.1_", "x10.0.0.1 10.0.0.1_"),
        // A glued occurrence does not hide the whole one after it.
        ("10.0.0.123 10.0.0.1", "10.0.0.123 [IP]"),
    ] {
        assert_eq!(redact(text, &values), want, "in {text:?}");
    }
    // The given values go first: a date inside a path is the path's.
    let values = vec![("/tmp/run-2027-01-01".to_string(), "[DIR]".to_string())];
    assert_eq!(
        redact("/tmp/run-2027-01-01/x 2027-01-01", &values),
        "[DIR]/x [DATE]"
    );
}

#[test]
fn line_diff_marks_expected_and_actual_lines_with_context() {
    let want = "a\nb\nc\nd\ne\nf\ng\n";
    let got = "a\nb\nc\nD\ne\nf\ng\nh\n";
    assert_eq!(
        line_diff(want, got),
        "  …\n  b\n  c\n- d\n+ D\n  e\n  f\n  g\n+ h\n"
    );
    // Differences that would not show are quoted.
    assert_eq!(line_diff("x\n", "x"), "- x\n+ \"x\"\n");
    assert_eq!(line_diff("x\n", "x \n"), "- x\n+ \"x \\n\"\n");
}

/// A finished run, made up, for the expectation checks.
fn output(code: i32, stdout: &str, stderr: &str) -> Output {
    Output {
        command: "vaultnet frob".into(),
        code: Some(code),
        status: format!("exit status: {code}"),
        stdout: stdout.into(),
        stderr: stderr.into(),
        timed_out: false,
    }
}

#[test]
fn expect_compares_code_stdout_and_stderr_exactly_and_unsaid_means_empty() {
    let out = output(2, "", "error: bad\nhint: good\n");
    Expect::code(2)
        .stderr("error: bad\nhint: good\n")
        .check(&out)
        .unwrap();
    // Each part on its own makes it fail.
    for want in [
        Expect::code(1).stderr("error: bad\nhint: good\n"),
        Expect::code(2).stderr("error: bad\n"),
        Expect::code(2).stderr("error: bad\nhint: good"),
        Expect::code(2),
        Expect::code(2)
            .stdout("x\n")
            .stderr("error: bad\nhint: good\n"),
    ] {
        assert!(want.check(&out).is_err(), "{want:?} accepted {out}");
    }
    // Output that was not expected is a failure: unsaid means empty.
    let chatty = output(0, "hello\n", "");
    let err = Expect::success().check(&chatty).unwrap_err();
    assert!(err.contains("--- stdout differs"), "{err}");
    assert!(err.contains("\n+ hello\n"), "{err}");
    assert!(err.contains("--- stderr: as expected"), "{err}");
    // A killed run never passes, whatever it printed.
    let mut killed = output(0, "", "");
    killed.timed_out = true;
    assert!(Expect::success().check(&killed).is_err());
}

#[test]
fn expect_any_accepts_a_stream_only_with_a_reason() {
    let out = output(0, "anything\n", "progress\n");
    Expect::success()
        .stdout_any("made up")
        .stderr("progress\n")
        .check(&out)
        .unwrap();
    Expect::success()
        .stdout("anything\n")
        .stderr_any("made up")
        .check(&out)
        .unwrap();
    let err = Expect::code(1)
        .stdout_any("random report")
        .stderr("progress\n")
        .check(&out)
        .unwrap_err();
    assert!(err.contains("expected exit code 1"), "{err}");
    assert!(
        err.contains("--- stdout: not compared (random report)"),
        "{err}"
    );
    let no_reason = std::panic::catch_unwind(|| Expect::success().stdout_any(" "));
    assert!(no_reason.is_err(), "stdout_any took an empty reason");
}

#[test]
fn expect_redacts_before_comparing_and_panics_with_a_diff() {
    let out = output(
        1,
        "",
        "error: `/tmp/vx/state` is locked by process 4242 since 2027-01-01\n",
    );
    let want = Expect::code(1)
        .stderr("error: `[STATE]` is locked by process [PID] since [DATE]\n")
        .redact_path("/tmp/vx/state", "[STATE]")
        .redact(4242, "[PID]");
    out.clone().expect(want.clone());
    // Another pid is not redacted, so the comparison catches it.
    let other = output(1, "", &out.stderr.replace("4242", "4243"));
    let panic = std::panic::catch_unwind(|| other.expect(want)).unwrap_err();
    let msg = panic.downcast_ref::<String>().expect("string panic");
    for part in [
        "command: vaultnet frob",
        "status: exit status: 1 (as expected)",
        "--- stderr differs (- expected, + actual, after redaction):",
        "- error: `[STATE]` is locked by process [PID] since [DATE]\n",
        "+ error: `[STATE]` is locked by process 4243 since [DATE]\n",
        "[PID] = 4242",
    ] {
        assert!(msg.contains(part), "missing {part:?} in:\n{msg}");
    }
}

// ------------------------------------------------------------- netns.rs

/// Addresses configured in the machine's own namespace.
fn root_ns_addresses() -> String {
    run_ok(Command::new("ip").args(["-o", "addr", "show"]))
}

fn netns_list() -> String {
    run_ok(Command::new("ip").args(["netns", "list"]))
}

/// Starts a socat that answers `hello` on IP:PORT inside `ns`.
fn hello_server(ns: &support::netns::Namespace, ip: &str, port: u16) -> u32 {
    let mut socat = Command::new("socat");
    socat.args([
        &format!("TCP-LISTEN:{port},bind={ip},reuseaddr,fork"),
        "SYSTEM:echo hello",
    ]);
    ns.spawn(&socat, None)
}

/// Connects from `ns` to HOST:PORT with socat; Ok(reply) or Err(stderr).
fn hello_client(ns: &support::netns::Namespace, host: &str, port: u16) -> Result<String, String> {
    let out = ns.exec(Command::new("socat").args([
        "-T",
        "3",
        "-",
        &format!("TCP:{host}:{port},connect-timeout=2"),
    ]));
    if out.status.success() && !out.stdout.is_empty() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[test]
fn netns_host_and_tenant_lifecycle() {
    require_e2e!("creates network namespaces");
    let host = Netns::new("vnself");
    let host_ip = host.host_ip();
    let host_name = host.name().to_string();
    assert!(netns_list().contains(&host_name));
    assert_eq!(host_ip.octets()[0], 10);

    // lo is up and the host IP sits on the veth inside the namespace …
    let addrs = host.run_ip(&["-o", "addr", "show"]);
    assert!(addrs.contains("inet 127.0.0.1/8"), "{addrs}");
    assert!(addrs.contains(&format!("inet {host_ip}/24")), "{addrs}");
    let links = host.run_ip(&["-o", "link", "show"]);
    for ifname in ["lo", "vnhost", "vnpeer"] {
        let line = links
            .lines()
            .find(|l| l.contains(&format!(" {ifname}")))
            .unwrap_or_else(|| panic!("no {ifname} in {links}"));
        assert!(line.contains(",UP") || line.contains("<UP"), "{line}");
    }
    // … and never in the machine's own namespace.
    assert!(!root_ns_addresses().contains(&format!("inet {host_ip}/")));

    let tenant = host.add_tenant_ns("vnten", &[("vault.lan", IpAddr::V4(host_ip))]);
    let tenant_name = tenant.name().to_string();
    assert!(netns_list().contains(&tenant_name));
    let hosts = tenant.exec(Command::new("cat").arg("/etc/hosts"));
    let hosts = String::from_utf8_lossy(&hosts.stdout);
    assert!(hosts.contains(&format!("{host_ip}\tvault.lan")), "{hosts}");
    assert!(!root_ns_addresses().contains(&format!("inet {}/", tenant.ip())));

    // The tenant reaches a server on the host IP by name, through its
    // default route.
    let port = 4100;
    let socat_pid = hello_server(&host, &host_ip.to_string(), port);
    let reply = wait_for(
        "hello server via vault.lan",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || hello_client(&tenant, "vault.lan", port),
    );
    assert_eq!(reply, "hello\n");
    // The host namespace's loopback is not the tenant's.
    assert!(hello_client(&tenant, "127.0.0.1", port).is_err());

    // Without its address the host IP no longer answers; restored, it does.
    host.remove_address();
    assert!(
        !host
            .run_ip(&["-o", "addr"])
            .contains(&format!("inet {host_ip}/"))
    );
    assert!(hello_client(&tenant, "vault.lan", port).is_err());
    host.restore_address();
    wait_for(
        "hello server after restore",
        Duration::from_secs(10),
        Duration::from_millis(50),
        || hello_client(&tenant, "vault.lan", port),
    );

    let etc = tenant.etc_dir();
    assert!(etc.exists());
    drop(tenant);
    assert!(!netns_list().contains(&tenant_name));
    assert!(!etc.exists());

    drop(host);
    assert!(!netns_list().contains(&host_name));
    assert!(
        !Path::new(&format!("/proc/{socat_pid}")).exists(),
        "socat {socat_pid} survived the namespace"
    );
}

#[test]
fn netns_names_and_subnets_are_unique() {
    require_e2e!("creates network namespaces");
    let a = Netns::new("vnu");
    let b = Netns::new("vnu");
    assert_ne!(a.name(), b.name());
    assert_ne!(a.host_ip(), b.host_ip());
    // The same loopback port can be used in both: they are isolated.
    let pa = hello_server(&a, "127.0.0.1", 4200);
    let pb = hello_server(&b, "127.0.0.1", 4200);
    for ns in [&a, &b] {
        wait_for(
            "hello on loopback",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || hello_client(ns, "127.0.0.1", 4200),
        );
    }
    assert!(a.kill(pa));
    assert!(!a.kill(pa));
    assert!(hello_client(&a, "127.0.0.1", 4200).is_err());
    assert!(b.kill(pb));
}

// ----------------------------------------------------------- openbao.rs

/// Throw-away PKI made with `openssl`: a CA with a server and a client
/// certificate, and a second, unrelated CA with its own client certificate.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        pki.ca("ca");
        pki.leaf(
            "server",
            "ca",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        pki.leaf("client", "ca", "extendedKeyUsage=clientAuth\n");
        pki.ca("other-ca");
        pki.leaf("other-client", "other-ca", "extendedKeyUsage=clientAuth\n");
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ca(&self, name: &str) {
        run_ok(
            Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
                .arg("-keyout")
                .arg(self.path(&format!("{name}.key")))
                .arg("-out")
                .arg(self.path(&format!("{name}.pem")))
                .args(["-subj", &format!("/CN=vaultnet test {name}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        );
    }

    fn leaf(&self, name: &str, ca: &str, extensions: &str) {
        let ext = self.path(&format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{extensions}"),
        )
        .unwrap();
        let csr = self.path(&format!("{name}.csr"));
        run_ok(
            Command::new("openssl")
                .args(["req", "-new", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:P-256", "-nodes"])
                .arg("-keyout")
                .arg(self.path(&format!("{name}.key")))
                .arg("-out")
                .arg(&csr)
                .args(["-subj", &format!("/CN=vaultnet test {name}")]),
        );
        // A distinct serial per certificate, as a real CA would.
        let serial = format!(
            "0x{:x}{:08x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        run_ok(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "1", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(self.path(&format!("{ca}.pem")))
                .arg("-CAkey")
                .arg(self.path(&format!("{ca}.key")))
                .args(["-set_serial", &serial])
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(self.path(&format!("{name}.pem"))),
        );
    }

    /// A listener file of the shape `vaultnet init` writes.
    fn listener(&self, port: u16) -> PathBuf {
        let file = self.path("listener.json");
        let doc = json!({"listener": [{"tcp": {
            "address": format!("127.0.0.1:{port}"),
            "tls_cert_file": self.path("server.pem"),
            "tls_key_file": self.path("server.key"),
            "tls_client_ca_file": self.path("ca.pem"),
            "tls_require_and_verify_client_cert": true,
            "tls_min_version": "tls12",
        }}]});
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        file
    }

    fn client_tls(&self) -> ClientTls {
        ClientTls {
            ca_pem_path: self.path("ca.pem"),
            client_cert_path: self.path("client.pem"),
            client_key_path: self.path("client.key"),
        }
    }
}

#[test]
fn openbao_in_netns_with_mtls_listener() {
    require_e2e!("starts OpenBao in a network namespace");
    let pki = Pki::new();
    let ns = Netns::new("vnbao");
    let port = free_port();
    let bao = OpenBao::start(Some(&ns), &pki.listener(port), pki.client_tls());
    assert_eq!(bao.netns(), Some(ns.name()));
    assert_eq!(bao.addr().port(), port);
    assert!(bao.root_token.starts_with("s."), "{}", bao.root_token);
    assert!(!bao.unseal_key.is_empty());
    assert_eq!(bao.health(), 200);

    let addr = bao.addr().to_string();
    let ca = pki.path("ca.pem");
    // No client certificate: no HTTP answer at all. The error text varies
    // with timing (alert "certificate required" at the first read, or the
    // server's close seen first), so only the absence of a status counts.
    let err = probe(Some(ns.name()), &addr, &ca, None);
    eprintln!("probe without a client certificate: {err:?}");
    assert!(err.is_err(), "{err:?}");
    // The operator's certificate: 200.
    let ok = probe(
        Some(ns.name()),
        &addr,
        &ca,
        Some((&pki.path("client.pem"), &pki.path("client.key"))),
    );
    assert_eq!(ok, Ok(200));
    // A certificate from another CA: refused too.
    let err = probe(
        Some(ns.name()),
        &addr,
        &ca,
        Some((&pki.path("other-client.pem"), &pki.path("other-client.key"))),
    )
    .unwrap_err();
    eprintln!("probe with another CA's certificate: {err}");
    assert!(!err.is_empty());
    // The server lives in the namespace, not on the machine's loopback.
    assert!(
        probe(
            None,
            &addr,
            &ca,
            Some((&pki.path("client.pem"), &pki.path("client.key")))
        )
        .is_err()
    );

    // The API works with the root token, and refuses without it.
    let (code, body) = bao.api(
        "POST",
        "sys/auth/approle",
        Some(json!({"type": "approle"})),
        None,
    );
    assert_eq!(code, 403, "{body}");
    let (code, body) = bao.root_api("POST", "sys/auth/approle", Some(json!({"type": "approle"})));
    assert_eq!(code, 204, "{body}");
    let (code, body) = bao.root_api("GET", "sys/auth", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["approle/"]["type"], "approle", "{body}");

    // Seal and unseal round trip.
    bao.seal();
    assert_eq!(bao.health(), 503);
    bao.unseal();
    assert_eq!(bao.health(), 200);
    assert!(
        bao.log().contains("core: vault is unsealed"),
        "{}",
        bao.log()
    );
}

#[test]
fn openbao_on_loopback_through_reqwest() {
    require_e2e!("starts OpenBao");
    let pki = Pki::new();
    let port = free_port();
    let mut bao = OpenBao::start(None, &pki.listener(port), pki.client_tls());
    assert_eq!(bao.netns(), None);
    assert_eq!(bao.health(), 200);
    let (code, body) = bao.root_api("POST", "sys/auth/approle", Some(json!({"type": "approle"})));
    assert_eq!(code, 204, "{body}");
    let (code, body) = bao.root_api("GET", "/v1/sys/auth", None);
    assert_eq!(code, 200, "{body}");
    assert!(body["data"]["approle/"].is_object(), "{body}");

    let addr = bao.addr().to_string();
    let ca = pki.path("ca.pem");
    assert!(probe(None, &addr, &ca, None).is_err());
    assert_eq!(
        probe(
            None,
            &addr,
            &ca,
            Some((&pki.path("client.pem"), &pki.path("client.key")))
        ),
        Ok(200)
    );

    // The CLI reaches it with cli_env().
    let mut cli = Cmd::new(crate::support::openbao::bao_binary());
    cli.args(["read", "-format=json", "sys/auth"]);
    for (k, v) in bao.cli_env() {
        cli.env(k, v);
    }
    cli.run()
        .expect(Expect::success().stdout_any("bao's JSON of the mounts, with random accessors"))
        .expect_stdout_contains("approle/");

    assert!(bao.is_running());
    bao.kill();
    assert!(!bao.is_running());
    assert!(probe(None, &addr, &ca, None).is_err());
}
