//! The four L1 forwarders, started for real from the files `vaultnet init`
//! wrote in `forwarder/` (gated by `VAULTNET_E2E=1`). Each test makes a
//! namespace playing the host, runs `init --forwarder KIND` there, starts
//! OpenBao from the listener file, then the forwarder — socat from its
//! unit's `ExecStart=`, nginx after `nginx -t` with the stream file
//! included from a minimal nginx.conf, HAProxy after `haproxy -c`,
//! systemd-socket-proxyd under `systemd-socket-activate` with the
//! `.socket`'s `ListenStream=` — and, from a tenant namespace whose
//! `/etc/hosts` maps `vault.lan` to the host address (compose's
//! `extra_hosts`), shows that an mTLS request with the operator certificate
//! gets through to OpenBao, one without a certificate gets no answer, and
//! the certificate seen through the forwarder is Vault's own (TLS is not
//! terminated) and verifies for `vault.lan` against `pki/ca.pem`.
//! Dropping the namespace kills the forwarder and anything it forked.
//!
//! The load tests (`…_carries_300_concurrent_mtls_logins`) start each
//! forwarder the same way in front of an OpenBao that vaultnet set up, with
//! one tenant added, and fire a burst of 300 AppRole logins at once from
//! the tenant's namespace (`tests/fixtures/loadgen.py`: one thread and one
//! TCP connection each, released together by a barrier, each with its own
//! TLS handshake presenting the tenant's client certificate). Every login
//! must get a token, none be refused, reset or cut, and the host's kernel
//! must count no accept-queue overflow (`TcpExtListenOverflows`,
//! `ListenDrops`) meanwhile: an overflow is a dropped SYN, which the client
//! only survives by retrying a second later. The listening socket must
//! carry the backlog the forwarder's files set (`ss -lt`, Send-Q). For
//! socat the test also runs the unit's command without `backlog=` first
//! and shows the burst overflowing socat's default backlog of 5, so the
//! check is real.

use std::process::Command;
use std::time::Duration;

use vaultnet::render::forwarder::exec_start;

use serde_json::{Value, json};

use crate::support::fixture::Fixture;
use crate::support::netns::TenantNs;
use crate::support::openbao::probe;
use crate::support::tenant::add_expect;
use crate::support::{manifest_dir, require_e2e, wait_for};

const DNS_NAME: &str = "vault.lan";
const PORT: u16 = 22300;
/// Logins fired at once by the load tests.
const BURST: usize = 300;
/// The tenant whose bundle the load tests log in with.
const LOAD_TENANT: &str = "loadtenant";

/// A host namespace with init's files for `kind`, OpenBao running, and a
/// tenant namespace that resolves `vault.lan` to the host address.
struct Setup {
    // Dropped first: the tenant's namespace, then OpenBao and the host.
    tenant: TenantNs,
    site: Fixture,
}

impl Setup {
    #[track_caller]
    fn new(kind: &str) -> Setup {
        let site = Fixture::host("vnfw")
            .init_args(["--forwarder", kind])
            .openbao_without_token()
            .build();
        Setup::around(site, kind)
    }

    /// [`Setup::new`] with Vault set up by `init` and [`LOAD_TENANT`]
    /// added (no Unix user: only its bundle is used).
    #[track_caller]
    fn with_tenant(kind: &str) -> Setup {
        let site = Fixture::host("vnld")
            .init_args(["--forwarder", kind])
            .openbao()
            .build();
        site.add_user(&["--no-unix-user", LOAD_TENANT])
            .run()
            .expect(add_expect(&site, &[LOAD_TENANT], false));
        Setup::around(site, kind)
    }

    #[track_caller]
    fn around(site: Fixture, kind: &str) -> Setup {
        let out = site.init_output();
        let listen = format!("{}:{PORT}", site.host_ip());
        assert!(
            out.stdout.contains(&format!(
                "Forwarder ({kind}): {listen} -> {}",
                site.vault_addr()
            )),
            "{out}"
        );
        let tenant = site
            .ns()
            .add_tenant_ns("vnft", &[(DNS_NAME, site.host_ip())]);
        let setup = Setup { tenant, site };
        // Nothing answers on the host address before the forwarder runs,
        // so what answers later is the forwarder.
        assert!(
            setup.probe(true).is_err(),
            "something already listens on {listen}"
        );
        setup
    }

    fn host(&self) -> &crate::support::netns::Netns {
        self.site.ns()
    }

    /// The text of a file `init` wrote under `forwarder/`.
    #[track_caller]
    fn forwarder_file(&self, name: &str) -> String {
        let path = self.site.path("forwarder").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Starts `argv` inside the host namespace, logging to the scratch dir.
    fn spawn(&self, argv: &[String]) -> u32 {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        self.host()
            .spawn(&c, Some(&self.site.scratch().join("forwarder.log")))
    }

    /// `GET sys/health` from the tenant to `https://vault.lan:22300`.
    fn probe(&self, with_cert: bool) -> Result<u16, String> {
        let cert = self.site.path("operator/client.pem");
        let key = self.site.path("operator/client-key.pem");
        probe(
            Some(self.tenant.name()),
            &format!("{DNS_NAME}:{PORT}"),
            &self.site.path("pki/ca.pem"),
            with_cert.then_some((cert.as_path(), key.as_path())),
        )
    }

    /// The same request from the host namespace with `curl --resolve
    /// vault.lan:22300:HOST_IP`; returns the HTTP status or curl's error.
    fn probe_resolved(&self) -> String {
        let mut c = self.host().command("curl");
        c.args(["-q", "-sS", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["--max-time", "10", "--resolve"])
            .arg(format!("{DNS_NAME}:{PORT}:{}", self.site.host_ip()))
            .arg("--cacert")
            .arg(self.site.path("pki/ca.pem"))
            .arg("--cert")
            .arg(self.site.path("operator/client.pem"))
            .arg("--key")
            .arg(self.site.path("operator/client-key.pem"))
            .arg(format!("https://{DNS_NAME}:{PORT}/v1/sys/health"));
        let out = c.output().expect("run curl");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    }

    /// Everything a forwarder must do, once it has been started.
    #[track_caller]
    fn assert_carries_mtls(&self, kind: &str) {
        let log = self.site.scratch().join("forwarder.log");
        let ok = wait_for(
            &format!("{kind} to carry a request to OpenBao"),
            Duration::from_secs(15),
            Duration::from_millis(100),
            || match self.probe(true) {
                Ok(200) => Ok(200),
                other => Err(format!(
                    "{other:?}; forwarder log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )),
            },
        );
        assert_eq!(ok, 200);
        let refused = self.probe(false);
        assert!(
            refused.is_err(),
            "{kind}: a client without a certificate got an answer: {refused:?}"
        );
        // From the host namespace too, with the name pinned to the host
        // address the way `extra_hosts` pins it.
        let resolved = self.probe_resolved();
        if resolved != "200" {
            let listening = self.host().exec(Command::new("ss").args(["-ltnp"]));
            panic!(
                "{kind}: via --resolve: {resolved}\nforwarder log:\n{}\nlistening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                String::from_utf8_lossy(&listening.stdout)
            );
        }

        // The certificate seen through the forwarder is Vault's own, and it
        // verifies for the DNS name against the vaultnet CA only.
        let (code, text) = self.s_client(DNS_NAME);
        assert_eq!(code, "0", "{kind}: verification failed:\n{text}");
        let seen = first_pem_cert(&text)
            .unwrap_or_else(|| panic!("{kind}: no certificate in s_client output:\n{text}"));
        let server = std::fs::read_to_string(self.site.path("vault/server.pem")).unwrap();
        assert_eq!(
            vaultnet::pki::first_pem_der(&seen, "CERTIFICATE").unwrap(),
            vaultnet::pki::first_pem_der(&server, "CERTIFICATE").unwrap(),
            "{kind}: the certificate through the forwarder is not vault/server.pem (TLS terminated?)"
        );
        // The check is real: another name does not verify.
        let (code, text) = self.s_client("other.lan");
        assert_ne!(code, "0", "{kind}: `other.lan` verified:\n{text}");
    }

    /// `openssl s_client` from the tenant to vault.lan:22300 with SNI
    /// vault.lan, checking the name `verify_name`; returns the verify
    /// return code and the whole output.
    fn s_client(&self, verify_name: &str) -> (String, String) {
        let out = self.tenant.exec(
            Command::new("timeout")
                .args(["20", "openssl", "s_client", "-connect"])
                .arg(format!("{DNS_NAME}:{PORT}"))
                .args(["-servername", DNS_NAME, "-verify_hostname", verify_name])
                .arg("-CAfile")
                .arg(self.site.path("pki/ca.pem"))
                .arg("-cert")
                .arg(self.site.path("operator/client.pem"))
                .arg("-key")
                .arg(self.site.path("operator/client-key.pem")),
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let code = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Verify return code: "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("<none>")
            .to_string();
        (code, text)
    }

    /// `BURST` logins at once from the tenant namespace through the
    /// forwarder, with [`LOAD_TENANT`]'s bundle; the load generator's
    /// report and the host namespace's accept-queue overflows meanwhile.
    #[track_caller]
    fn burst(&self) -> (Value, u64) {
        use std::io::Write;
        let before = listen_overflows(self.host());
        let bundle = self.site.bundle(LOAD_TENANT);
        let mut child = self
            .tenant
            .command("python3")
            .arg(manifest_dir().join("tests/fixtures/loadgen.py"))
            .arg("--connect")
            .arg(format!("{DNS_NAME}:{PORT}"))
            .args(["--name", DNS_NAME, "-n", &BURST.to_string()])
            .arg("--ca")
            .arg(bundle.join("ca.pem"))
            .arg("--cert")
            .arg(bundle.join("client.pem"))
            .arg("--key")
            .arg(bundle.join("client-key.pem"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the load generator");
        let creds = json!({
            "role_id": self.site.bundle_text(LOAD_TENANT, "role_id").trim(),
            "secret_id": self.site.bundle_text(LOAD_TENANT, "secret_id").trim(),
        });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(creds.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("the load generator");
        assert!(
            out.status.success(),
            "the load generator failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "load generator report: {e}\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (report, listen_overflows(self.host()) - before)
    }

    /// The burst through a forwarder started from vaultnet's files: every
    /// login gets a token, no connection is refused, reset or cut, the
    /// kernel drops no SYN at the accept queue, and the listening socket
    /// has the backlog vaultnet set.
    #[track_caller]
    fn assert_carries_a_burst(&self, kind: &str) {
        let backlogs = self.listen_backlogs();
        let want = vaultnet::render::forwarder::BACKLOG;
        assert!(
            !backlogs.is_empty() && backlogs.iter().all(|b| *b == want),
            "{kind}: listen backlogs on port {PORT}: {backlogs:?}, want {want}"
        );
        let (report, overflows) = self.burst();
        eprintln!(
            "[load] {kind}: {}/{} logins, failures {}, listen overflows {overflows}, connect ms {}, total ms {}, {} s",
            report["ok"],
            report["n"],
            report["failures"],
            report["connect_ms"],
            report["total_ms"],
            report["wall_s"]
        );
        assert_eq!(
            report["ok"].as_u64(),
            Some(BURST as u64),
            "{kind}: not every login got a token: {report}\nforwarder log:\n{}",
            std::fs::read_to_string(self.site.scratch().join("forwarder.log")).unwrap_or_default()
        );
        assert_eq!(report["failures"], json!({}), "{kind}: {report}");
        assert_eq!(
            overflows, 0,
            "{kind}: the accept queue overflowed {overflows} time(s): {report}"
        );
    }

    /// The backlog (`ss -lt` Send-Q) of every socket listening on [`PORT`]
    /// in the host namespace.
    fn listen_backlogs(&self) -> Vec<u32> {
        let out = self
            .host()
            .exec(Command::new("ss").args(["-ltnH", &format!("sport = :{PORT}")]));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
            .collect()
    }
}

/// `TcpExtListenOverflows + TcpExtListenDrops` in `ns` (the counters are
/// per network namespace).
#[track_caller]
fn listen_overflows(ns: &crate::support::netns::Netns) -> u64 {
    let out = ns.exec(Command::new("cat").arg("/proc/net/netstat"));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    assert_eq!(lines.len(), 2, "TcpExt lines in /proc/net/netstat:\n{text}");
    let names = lines[0].split_whitespace();
    let values = lines[1].split_whitespace();
    names
        .zip(values)
        .filter(|(n, _)| matches!(*n, "ListenOverflows" | "ListenDrops"))
        .map(|(_, v)| v.parse::<u64>().expect("a counter"))
        .sum()
}

/// The first PEM certificate block in `text`.
fn first_pem_cert(text: &str) -> Option<String> {
    let begin = text.find("-----BEGIN CERTIFICATE-----")?;
    let end_marker = "-----END CERTIFICATE-----";
    let end = text[begin..].find(end_marker)? + begin + end_marker.len();
    Some(text[begin..end].to_string())
}

/// The value of `key=` in a systemd unit.
#[track_caller]
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{unit}"))
        .trim()
        .to_string()
}

/// Starts the `kind` forwarder from the files `init` wrote, the way each
/// of its tests below describes; returns its pid.
#[track_caller]
fn start(s: &Setup, kind: &str) -> u32 {
    match kind {
        "socat" => {
            let unit = s.forwarder_file("vaultnet-forwarder.service");
            let argv = exec_start(&unit).expect("ExecStart= in the socat unit");
            assert!(argv[0].ends_with("/socat"), "{argv:?}");
            s.spawn(&argv)
        }
        "nginx" => start_nginx(s),
        "haproxy" => {
            let cfg = s.site.path("forwarder/vaultnet-haproxy.cfg");
            let out = s
                .host()
                .exec(Command::new("haproxy").arg("-c").arg("-f").arg(&cfg));
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "haproxy -c failed:\n{text}");
            assert!(text.contains("Configuration file is valid"), "{text}");
            s.spawn(&[
                "haproxy".into(),
                "-db".into(),
                "-f".into(),
                cfg.display().to_string(),
            ])
        }
        "socket-proxyd" => start_socket_proxyd(s),
        other => panic!("no forwarder `{other}`"),
    }
}

/// nginx after `nginx -t`, with the stream file included from a minimal
/// nginx.conf whose `events {}` are Debian's packaged ones
/// (`worker_processes auto`, `worker_connections 768`).
#[track_caller]
fn start_nginx(s: &Setup) -> u32 {
    let stream = s.site.path("forwarder/vaultnet-stream.conf");
    assert!(stream.is_file());
    let dir = s.site.scratch().join("nginx");
    std::fs::create_dir(&dir).unwrap();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "load_module /usr/lib/nginx/modules/ngx_stream_module.so;\n\
             worker_processes auto;\n\
             pid {pid};\n\
             error_log {log};\n\
             events {{\n\
             \x20   worker_connections 768;\n\
             }}\n\
             include {stream};\n",
            pid = dir.join("nginx.pid").display(),
            log = dir.join("error.log").display(),
            stream = stream.display(),
        ),
    )
    .unwrap();
    let base = |c: &mut Command| {
        c.arg("-p")
            .arg(format!("{}/", dir.display()))
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf);
    };
    // `nginx -t` binds the listen address: it runs in the host namespace.
    let mut t = Command::new("nginx");
    base(&mut t);
    t.arg("-t");
    let out = s.host().exec(&mut t);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nginx -t failed:\n{text}");
    assert!(text.contains("test is successful"), "{text}");

    let mut c = Command::new("nginx");
    base(&mut c);
    c.args(["-g", "daemon off;"]);
    s.host()
        .spawn(&c, Some(&s.site.scratch().join("forwarder.log")))
}

/// systemd-socket-proxyd under `systemd-socket-activate` with the
/// `.socket`'s `ListenStream=`. systemd-socket-activate listens with a
/// backlog of `SOMAXCONN` (4096), which is what the `.socket`'s
/// `Backlog=` asks systemd for: the test checks that line.
#[track_caller]
fn start_socket_proxyd(s: &Setup) -> u32 {
    let socket = s.forwarder_file("vaultnet-forwarder.socket");
    let service = s.forwarder_file("vaultnet-forwarder.service");
    let listen = unit_value(&socket, "ListenStream");
    assert_eq!(listen, format!("{}:{PORT}", s.site.host_ip()));
    assert_eq!(
        unit_value(&socket, "Backlog"),
        vaultnet::render::forwarder::BACKLOG.to_string()
    );
    let exec = exec_start(&service).expect("ExecStart= in the proxyd service");
    assert!(exec[0].ends_with("/systemd-socket-proxyd"), "{exec:?}");
    assert_eq!(exec.last(), Some(&s.site.vault_addr().to_string()));
    // systemd starts every service with SIGPIPE ignored (`IgnoreSIGPIPE=`
    // defaults to yes); started by hand, proxyd would die of the first
    // write to a client that already hung up, and the port with it. An
    // ignored signal stays ignored across `exec`, so the shell sets it.
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        "trap '' PIPE; exec \"$@\"".into(),
        "sh".into(),
        "systemd-socket-activate".into(),
        "-l".into(),
        listen,
    ];
    argv.extend(exec);
    s.spawn(&argv)
}

#[test]
fn socat_unit_carries_mtls_to_openbao() {
    require_e2e!("runs socat and OpenBao in network namespaces");
    let s = Setup::new("socat");
    start(&s, "socat");
    s.assert_carries_mtls("socat");
}

#[test]
fn nginx_stream_config_passes_nginx_t_and_carries_mtls_to_openbao() {
    require_e2e!("runs nginx and OpenBao in network namespaces");
    let s = Setup::new("nginx");
    start(&s, "nginx");
    s.assert_carries_mtls("nginx");
}

#[test]
fn haproxy_config_passes_haproxy_c_and_carries_mtls_to_openbao() {
    require_e2e!("runs HAProxy and OpenBao in network namespaces");
    let s = Setup::new("haproxy");
    start(&s, "haproxy");
    s.assert_carries_mtls("haproxy");
}

#[test]
fn socket_proxyd_units_carry_mtls_to_openbao_under_socket_activation() {
    require_e2e!("runs systemd-socket-proxyd and OpenBao in network namespaces");
    let s = Setup::new("socket-proxyd");
    start(&s, "socket-proxyd");
    s.assert_carries_mtls("socket-proxyd");
}

#[test]
fn socat_unit_carries_300_concurrent_mtls_logins() {
    require_e2e!("runs socat and OpenBao in network namespaces");
    let s = Setup::with_tenant("socat");
    // The control: the unit's command without `backlog=` (socat's default
    // is 5) overflows the accept queue under the same burst.
    let unit = s.forwarder_file("vaultnet-forwarder.service");
    let mut argv = exec_start(&unit).expect("ExecStart= in the socat unit");
    let with = format!(",backlog={}", vaultnet::render::forwarder::BACKLOG);
    assert!(argv[1].ends_with(&with), "{argv:?}");
    argv[1] = argv[1].replace(&with, "");
    let pid = s.spawn(&argv);
    s.assert_carries_mtls("socat");
    assert_eq!(s.listen_backlogs(), [5], "socat's default backlog");
    let (report, overflows) = s.burst();
    eprintln!(
        "[load] socat without backlog=: {}/{} logins, failures {}, listen overflows {overflows}, connect ms {}, {} s",
        report["ok"], report["n"], report["failures"], report["connect_ms"], report["wall_s"]
    );
    assert!(
        overflows > 0,
        "the burst did not overflow a backlog of 5, so it proves nothing: {report}"
    );
    assert!(s.host().kill(pid), "the control socat was not running");

    start(&s, "socat");
    s.assert_carries_mtls("socat");
    s.assert_carries_a_burst("socat");
}

#[test]
fn nginx_stream_config_carries_300_concurrent_mtls_logins() {
    require_e2e!("runs nginx and OpenBao in network namespaces");
    let s = Setup::with_tenant("nginx");
    start(&s, "nginx");
    s.assert_carries_mtls("nginx");
    s.assert_carries_a_burst("nginx");
}

#[test]
fn haproxy_config_carries_300_concurrent_mtls_logins() {
    require_e2e!("runs HAProxy and OpenBao in network namespaces");
    let s = Setup::with_tenant("haproxy");
    start(&s, "haproxy");
    s.assert_carries_mtls("haproxy");
    s.assert_carries_a_burst("haproxy");
}

#[test]
fn socket_proxyd_units_carry_300_concurrent_mtls_logins() {
    require_e2e!("runs systemd-socket-proxyd and OpenBao in network namespaces");
    let s = Setup::with_tenant("socket-proxyd");
    let exec = exec_start(&s.forwarder_file("vaultnet-forwarder.service")).unwrap();
    assert!(
        exec.contains(&format!(
            "--connections-max={}",
            vaultnet::render::forwarder::PROXYD_CONNECTIONS
        )),
        "{exec:?}"
    );
    start(&s, "socket-proxyd");
    s.assert_carries_mtls("socket-proxyd");
    s.assert_carries_a_burst("socket-proxyd");
}
