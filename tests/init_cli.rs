//! `vaultnet init` on its own, without a Vault: what it writes and what it
//! refuses. These tests need neither root nor a network namespace (Vault's
//! address is a loopback port where nothing listens). They check the PKI
//! with `openssl` and x509-parser (`vaultnet::pki::CertInfo`) — CA path
//! length 0 and ten years, exact EKUs and SANs, random serials — the modes
//! of every file under `umask 000`, that bad flags, an unwritable directory
//! and a corrupt `vaultnet.yaml` exit 2 with one error and one hint and
//! leave the disk byte-for-byte as it was, that a re-run keeps the CA and
//! `--force` says what it replaced, the lock, and that the operator token
//! never shows in any output. Every run's exit code, stdout and stderr are
//! compared whole ([`Expect`]): the summary `init` prints is what an
//! operator follows.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use vaultnet::pki::CertInfo;

use crate::support::cmd::{Cmd, Output};
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::init::{
    KEPT_PKI, ca_name, created_next_ca, first_init, init_stdout, kept_certificates, unchanged_init,
};
use crate::support::openbao::parse_listener;
use crate::support::snapshot::Snapshot;
use crate::support::{run_ok, wait_for, write_private};

/// A site where `init` has run once, successfully.
#[track_caller]
fn initialised() -> Fixture {
    Fixture::builder().init().build()
}

#[track_caller]
fn cert(site: &Fixture, rel: &str) -> CertInfo {
    let pem = std::fs::read_to_string(site.path(rel)).unwrap();
    CertInfo::parse(&pem).unwrap_or_else(|e| panic!("{rel}: {}", e.message()))
}

/// `openssl x509 -noout -text` of a certificate.
#[track_caller]
fn openssl_text(path: &Path) -> String {
    run_ok(
        Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(path),
    )
}

/// The trimmed line after the line that is exactly `header` (trimmed), in
/// `openssl x509 -text` output; with whether the header says `critical`.
#[track_caller]
fn extension(text: &str, name: &str) -> (bool, String) {
    let mut lines = text.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if let Some(rest) = l.strip_prefix(name) {
            let critical = rest.trim_start_matches(':').trim() == "critical";
            return (critical, lines.next().unwrap_or("").to_string());
        }
    }
    panic!("no `{name}` extension in:\n{text}")
}

/// `openssl verify -CAfile CA [-purpose P] CERT`: Ok(stdout) or Err(output).
fn openssl_verify(ca: &Path, cert: &Path, purpose: Option<&str>) -> Result<String, String> {
    let mut c = Command::new("openssl");
    c.arg("verify").arg("-CAfile").arg(ca);
    if let Some(p) = purpose {
        c.args(["-purpose", p]);
    }
    let out = c.arg(cert).output().expect("run openssl verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
    v.iter().cloned().collect()
}

// ------------------------------------------------------------------ PKI

#[test]
fn ca_is_a_critical_path_length_zero_p256_ca_valid_ten_years() {
    let site = initialised();
    let text = openssl_text(&site.path("pki/ca.pem"));
    let (critical, value) = extension(&text, "X509v3 Basic Constraints");
    assert!(critical, "basicConstraints must be critical:\n{text}");
    assert_eq!(value, "CA:TRUE, pathlen:0", "{text}");
    let (critical, usage) = extension(&text, "X509v3 Key Usage");
    assert!(critical, "{text}");
    assert!(usage.contains("Certificate Sign"), "{text}");
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    assert!(
        !text.contains("X509v3 Extended Key Usage"),
        "a CA needs no EKU: {text}"
    );

    let ca = cert(&site, "pki/ca.pem");
    assert!(ca.is_ca);
    assert_eq!(ca.path_len, Some(0));
    assert_eq!(ca.subject, ca.issuer, "self-signed");
    let days = (ca.not_after - ca.not_before).whole_days();
    assert!((3650..=3651).contains(&days), "CA valid {days} days");
    let now = OffsetDateTime::now_utc();
    assert!(ca.not_before <= now && ca.not_after > now + time::Duration::days(3649));
    // It signs itself with the key init wrote beside it.
    let key = std::fs::read_to_string(site.path("pki/ca-key.pem")).unwrap();
    let pem = std::fs::read_to_string(site.path("pki/ca.pem")).unwrap();
    assert!(vaultnet::pki::key_matches(&pem, &key).unwrap());
    openssl_verify(&site.path("pki/ca.pem"), &site.path("pki/ca.pem"), None)
        .expect("the CA verifies against itself");
}

#[test]
fn server_certificate_is_server_auth_only_with_exactly_its_four_sans() {
    let site = initialised();
    let path = site.path("vault/server.pem");
    let text = openssl_text(&path);
    let (_, eku) = extension(&text, "X509v3 Extended Key Usage");
    assert_eq!(eku, "TLS Web Server Authentication", "{text}");
    let (_, san) = extension(&text, "X509v3 Subject Alternative Name");
    let sans: BTreeSet<&str> = san.split(", ").collect();
    let host_ip = format!("IP Address:{}", site.host_ip());
    let want: BTreeSet<&str> = [
        "DNS:vault.lan",
        "DNS:localhost",
        host_ip.as_str(),
        "IP Address:127.0.0.1",
    ]
    .into();
    assert_eq!(sans, want, "{text}");
    let (critical, bc) = extension(&text, "X509v3 Basic Constraints");
    assert!(critical && bc == "CA:FALSE", "{text}");

    let info = cert(&site, "vault/server.pem");
    assert!(info.server_auth && !info.client_auth && !info.any_eku && !info.is_ca);
    assert_eq!(
        set(&info.dns_sans),
        set(&["vault.lan".to_string(), "localhost".to_string()])
    );
    assert_eq!(
        set(&info.ip_sans),
        set(&[site.host_ip(), "127.0.0.1".parse::<IpAddr>().unwrap()])
    );
    let ca = cert(&site, "pki/ca.pem");
    assert_eq!(info.issuer, ca.subject);
    assert!(info.not_after <= ca.not_after, "leaf outlives the CA");
    let days = (info.not_after - info.not_before).whole_days();
    assert!((365..=366).contains(&days), "server cert valid {days} days");
    let key = std::fs::read_to_string(site.path("vault/server-key.pem")).unwrap();
    assert!(vaultnet::pki::key_matches(&std::fs::read_to_string(&path).unwrap(), &key).unwrap());

    let ca_path = site.path("pki/ca.pem");
    let ok = openssl_verify(&ca_path, &path, None).unwrap();
    assert!(ok.contains(": OK"), "{ok}");
    openssl_verify(&ca_path, &path, Some("sslserver")).unwrap();
    let refused = openssl_verify(&ca_path, &path, Some("sslclient"))
        .expect_err("a serverAuth-only certificate must not pass as a client");
    assert!(
        refused.contains("unsuitable certificate purpose"),
        "{refused}"
    );

    // `--dns-name` replaces vault.lan; the other SANs stay exactly as they were.
    let other = Fixture::offline();
    let out = other
        .init()
        .args(["--dns-name", "bao.example.lan", "--server-cert-ttl", "30d"])
        .run();
    out.expect(first_init(&other));
    let info = cert(&other, "vault/server.pem");
    assert_eq!(
        set(&info.dns_sans),
        set(&["bao.example.lan".to_string(), "localhost".to_string()])
    );
    assert_eq!(info.ip_sans.len(), 2, "{:?}", info.ip_sans);
    let days = (info.not_after - info.not_before).whole_days();
    assert!(
        (30..=31).contains(&days),
        "--server-cert-ttl 30d gave {days}"
    );
}

#[test]
fn operator_certificate_is_client_auth_only_and_signed_by_the_ca() {
    let site = initialised();
    let path = site.path("operator/client.pem");
    let text = openssl_text(&path);
    let (_, eku) = extension(&text, "X509v3 Extended Key Usage");
    assert_eq!(eku, "TLS Web Client Authentication", "{text}");
    assert!(!text.contains("Subject Alternative Name"), "{text}");

    let info = cert(&site, "operator/client.pem");
    assert!(info.client_auth && !info.server_auth && !info.any_eku && !info.is_ca);
    let ca = cert(&site, "pki/ca.pem");
    assert_eq!(info.issuer, ca.subject);
    assert!(info.not_after <= ca.not_after);
    let key = std::fs::read_to_string(site.path("operator/client-key.pem")).unwrap();
    assert!(vaultnet::pki::key_matches(&std::fs::read_to_string(&path).unwrap(), &key).unwrap());

    let ca_path = site.path("pki/ca.pem");
    openssl_verify(&ca_path, &path, Some("sslclient")).unwrap();
    let refused = openssl_verify(&ca_path, &path, Some("sslserver"))
        .expect_err("a clientAuth-only certificate must not pass as a server");
    assert!(
        refused.contains("unsuitable certificate purpose"),
        "{refused}"
    );
}

#[test]
fn every_install_gets_its_own_ca_subject_and_random_serials() {
    let a = initialised();
    let b = initialised();
    let files = ["pki/ca.pem", "vault/server.pem", "operator/client.pem"];
    let mut serials = BTreeSet::new();
    for site in [&a, &b] {
        for f in files {
            let serial = cert(site, f).serial;
            // 16 random bytes, positive in DER (rcgen's default would be
            // derived from the public key).
            assert_eq!(serial.len(), 32, "{f}: serial {serial}");
            assert!(
                serials.insert(serial.clone()),
                "{f}: serial {serial} repeats"
            );
        }
    }
    assert_ne!(
        cert(&a, "pki/ca.pem").subject,
        cert(&b, "pki/ca.pem").subject,
        "each install needs a CA subject of its own"
    );
    // One install's CA does not vouch for the other's certificates.
    for f in ["vault/server.pem", "operator/client.pem"] {
        openssl_verify(&a.path("pki/ca.pem"), &b.path(f), None)
            .expect_err("another install's certificate must not verify");
    }
}

// ----------------------------------------------------------- the files

/// What `init` writes with the default (socat) forwarder; the lock file
/// stays beside vaultnet.yaml.
const LAYOUT: &[&str] = &[
    ".vaultnet.lock",
    "forwarder",
    "forwarder/vaultnet-forwarder.service",
    "forwarder/vaultnet.nft",
    "operator",
    "operator/client-key.pem",
    "operator/client.pem",
    "pki",
    "pki/ca-key.pem",
    "pki/ca.pem",
    "pki/next-ca-key.pem",
    "pki/next-ca.pem",
    "pki/trust.pem",
    "renew",
    "renew/vaultnet-renew.service",
    "renew/vaultnet-renew.timer",
    "tenants",
    "vault",
    "vault/listener.json",
    "vault/server-key.pem",
    "vault/server.pem",
    "vaultnet.yaml",
];

const SECRET_FILES: &[&str] = &[
    "pki/ca-key.pem",
    "pki/next-ca-key.pem",
    "vault/server-key.pem",
    "operator/client-key.pem",
];

#[test]
fn keys_are_0600_and_directories_0700_even_under_umask_000() {
    let site = Fixture::offline();
    // `umask` is printed first to prove the wrapper really cleared it.
    let out = Cmd::new("/bin/sh")
        .home(site.home())
        .args(["-c", "umask 000 && umask && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_vaultnet"))
        .args(site.init_args())
        .run();
    let first = first_init(&site);
    let stdout = format!("0000\n{}", init_stdout(&site, 11, 0, "socat"));
    out.expect(first.stdout(stdout));

    let snap = site.snapshot();
    assert_eq!(snap.paths(), LAYOUT, "unexpected files (temp files left?)");
    for (rel, entry) in &snap.entries {
        let rel = rel.display().to_string();
        let mode = entry.mode();
        match entry {
            crate::support::snapshot::Entry::Dir { .. } => {
                assert_eq!(mode, 0o700, "directory `{rel}` has mode {mode:o}")
            }
            crate::support::snapshot::Entry::File { .. } => {
                if SECRET_FILES.contains(&rel.as_str()) {
                    assert!(
                        mode == 0o600 || mode == 0o400,
                        "secret `{rel}` has mode {mode:o}"
                    );
                } else {
                    assert_eq!(mode & 0o022, 0, "`{rel}` is writable by others: {mode:o}");
                    assert_eq!(mode & 0o111, 0, "`{rel}` is executable: {mode:o}");
                }
            }
            other => panic!("`{rel}` is not a plain file or directory: {other:?}"),
        }
    }
    // Certificates and configs are meant to be read by the Vault user and
    // copied around; the state file keeps to its owner.
    for rel in ["pki/ca.pem", "vault/server.pem", "vault/listener.json"] {
        assert_eq!(snap.get(rel).unwrap().mode(), 0o644, "{rel}");
    }
    assert_eq!(snap.get("vaultnet.yaml").unwrap().mode(), 0o600);
    // The state directory holds keys: it is 0700 too.
    assert_eq!(snap.get("").unwrap().mode(), 0o700);
}

#[test]
fn without_vault_init_writes_every_file_and_lists_what_is_left() {
    let site = Fixture::offline();
    let out = site.init().run();
    out.expect(first_init(&site));
    assert_eq!(site.snapshot().paths(), LAYOUT);
    let yaml = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    for setting in [
        "schema: 4".to_string(),
        "server_cert_ttl: 31536000".into(),
        format!("host_ip: {}", site.host_ip()),
        format!("vault_addr: {}", site.vault_addr()),
        "dns_name: vault.lan".into(),
        "port: 22300".into(),
        "forwarder: socat".into(),
        "kv_mount: secret".into(),
    ] {
        assert!(
            yaml.contains(&setting),
            "no {setting:?} in vaultnet.yaml:\n{yaml}"
        );
    }
    assert!(!yaml.contains("PRIVATE KEY"), "{yaml}");
}

#[test]
fn listener_file_requires_client_certificates_from_the_vaultnet_ca() {
    let site = initialised();
    let l = parse_listener(&site.path("vault/listener.json"));
    assert_eq!(l.address, site.vault_addr().to_string());
    assert!(l.require_client_cert, "{}", l.raw);
    // Every CA trusted now, the next one included (Vault reads this file
    // only when it starts).
    assert_eq!(l.tls_client_ca_file, Some(site.path("pki/trust.pem")));
    // One file holds the key and its certificate, so a renewal and a
    // reload never meet a torn pair; server.pem is the certificate alone.
    assert_eq!(l.tls_cert_file, Some(site.path("vault/server-key.pem")));
    assert_eq!(l.tls_key_file, Some(site.path("vault/server-key.pem")));
    let identity = std::fs::read_to_string(site.path("vault/server-key.pem")).unwrap();
    let cert = std::fs::read_to_string(site.path("vault/server.pem")).unwrap();
    assert!(
        identity.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "key first"
    );
    assert!(
        identity.ends_with(&cert),
        "the key file ends with server.pem's certificate"
    );
    assert_eq!(cert.matches("-----BEGIN").count(), 1, "{cert}");
    let min = l.raw["tls_min_version"].as_str().unwrap_or("");
    assert!(min == "tls12" || min == "tls13", "{}", l.raw);
    assert!(l.raw.get("tls_disable").is_none(), "{}", l.raw);
    assert!(l.raw.get("tls_disable_client_certs").is_none(), "{}", l.raw);
}

#[test]
fn switching_forwarder_replaces_the_previous_forwarder_files() {
    let site = initialised();
    let listen = format!("{}:22300", site.host_ip());
    let upstream = site.vault_addr().to_string();
    // Each switch: the files left, how many files changed, and what init
    // reports writing and removing after the certificates it kept.
    let steps: &[(&str, &[&str], u32, &str)] = &[
        (
            "nginx",
            &["vaultnet-stream.conf", "vaultnet.nft"],
            5,
            "wrote `forwarder/vaultnet-stream.conf`
updated `forwarder/vaultnet.nft`
removed `forwarder/vaultnet-forwarder.service` (socat is no longer the forwarder)
",
        ),
        (
            "haproxy",
            &["vaultnet-haproxy.cfg", "vaultnet.nft"],
            5,
            "wrote `forwarder/vaultnet-haproxy.cfg`
updated `forwarder/vaultnet.nft`
removed `forwarder/vaultnet-stream.conf` (nginx is no longer the forwarder)
",
        ),
        (
            "socket-proxyd",
            &[
                "vaultnet-forwarder.service",
                "vaultnet-forwarder.socket",
                "vaultnet.nft",
            ],
            6,
            "wrote `forwarder/vaultnet-forwarder.socket`
wrote `forwarder/vaultnet-forwarder.service`
updated `forwarder/vaultnet.nft`
removed `forwarder/vaultnet-haproxy.cfg` (haproxy is no longer the forwarder)
",
        ),
        (
            "socat",
            &["vaultnet-forwarder.service", "vaultnet.nft"],
            4,
            "updated `forwarder/vaultnet-forwarder.service`
removed `forwarder/vaultnet-forwarder.socket` (socket-proxyd is no longer the forwarder)
",
        ),
    ];
    let mut previous = "socat";
    for (kind, files, changed, written) in steps {
        let out = site.init().args(["--forwarder", kind]).run();
        let out = out.expect(
            site.expect(0)
                .stdout(init_stdout(&site, *changed, KEPT_PKI, kind))
                .stderr(format!(
                    "setting forwarder: {previous} -> {kind}\n{}wrote `vaultnet.yaml`\n{written}",
                    kept_certificates(&site)
                )),
        );
        previous = kind;
        let mut names: Vec<String> = std::fs::read_dir(site.path("forwarder"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, *files, "forwarder files for {kind}\n{out}");
        let all: String = files
            .iter()
            .map(|f| std::fs::read_to_string(site.path("forwarder").join(f)).unwrap())
            .collect();
        assert!(
            all.contains(&listen),
            "{kind} does not listen on {listen}:\n{all}"
        );
        assert!(
            all.contains(&upstream),
            "{kind} does not forward to {upstream}:\n{all}"
        );
        let yaml = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
        assert!(yaml.contains(&format!("forwarder: {kind}")), "{yaml}");
    }
}

#[test]
fn without_a_terminal_init_never_prompts() {
    let site = Fixture::offline();
    // No `--yes`, stdin is /dev/null: defaults and flags, no prompt.
    let out = site
        .vaultnet()
        .args(["init", "--host-ip"])
        .arg(site.host_ip().to_string())
        // The flag's earlier name still works.
        .arg("--vault-addr")
        .arg(site.vault_addr().to_string())
        .timeout(Duration::from_secs(60))
        .run();
    out.expect(first_init(&site));
    assert!(site.path("pki/ca.pem").is_file());
}

/// A lock file left by a crashed run holds no lock: `flock` locks die with
/// their process, so a stale file never blocks the next run (SECURITY.md S5).
#[test]
fn a_stale_lock_file_from_a_dead_run_does_not_block() {
    let site = initialised();
    std::fs::write(site.path(".vaultnet.lock"), "999999\n").unwrap();
    let out = site.init().timeout(Duration::from_secs(30)).run();
    out.expect(unchanged_init(&site));
}

#[test]
fn profile_l6_maps_tenants_to_host_gateway_and_a_switch_is_reported() {
    let site = initialised();
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    assert!(state.contains("profile: l1"), "{state}");

    let out = site.init().arg("--profile").arg("l6").run();
    out.expect(
        site.expect(0)
            .stdout(init_stdout(&site, 2, KEPT_PKI, "socat"))
            .stderr(format!(
                "setting profile: l1 -> l6\n{}wrote `vaultnet.yaml`\n",
                kept_certificates(&site)
            )),
    );
    let state = std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap();
    assert!(state.contains("profile: l6"), "{state}");

    // A flag that contradicts the profile is refused: the profile's name
    // would no longer describe the site.
    let before = site.snapshot();
    let out = site
        .init()
        .args(["--profile", "l6", "--host-mapping", "ip"])
        .run();
    out.expect(site.rejected(
        "`--host-mapping ip` contradicts profile `l6`, which maps the name to `host-gateway`",
        "drop `--host-mapping`, or choose the profile that maps to `ip`: `--profile l1`",
    ));
    before.without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "contradicting flag",
    );

    let before = site.snapshot();
    let out = site.init().args(["--profile", "l9"]).run();
    out.expect(site.rejected(
        "unknown profile `l9`",
        "known profiles: l1, l2, l3, l4, l6, r1, r7",
    ));
    before.without(".vaultnet.lock").assert_same(
        &site.snapshot().without(".vaultnet.lock"),
        "unknown profile",
    );
}

// ----------------------------------------------------------- bad input

/// Flags `init` must reject before touching anything, with the error and
/// the hint it prints. Each replaces the site's own value of that flag.
const BAD_FLAGS: &[(&str, &str, &str, &str)] = &[
    (
        "--host-ip",
        "300.1.1.1",
        "invalid host IP `300.1.1.1`: not an IP address",
        "pass the host's address, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "127.0.0.1",
        "invalid host IP `127.0.0.1`: containers cannot reach the host's loopback through it",
        "pass an address of a host interface, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "0.0.0.0",
        "invalid host IP `0.0.0.0`: containers need a unicast address of this host",
        "pass the host's address, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "224.0.0.1",
        "invalid host IP `224.0.0.1`: containers need a unicast address of this host",
        "pass the host's address, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "vault.lan",
        "invalid host IP `vault.lan`: not an IP address",
        "pass the host's address, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "255.255.255.255",
        "invalid host IP `255.255.255.255`: containers need a unicast address of this host",
        "pass the host's address, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--host-ip",
        "fe80::1",
        "invalid host IP `fe80::1`: a link-local address needs an interface scope no forwarder or certificate can carry",
        "pass a global or unique-local address of a host interface, e.g. `--host-ip 192.168.1.10`",
    ),
    (
        "--port",
        "0",
        "invalid port `0`: must be a number from 1 to 65535",
        "pass e.g. `--port 22300`",
    ),
    (
        "--port",
        "70000",
        "invalid port `70000`: must be a number from 1 to 65535",
        "pass e.g. `--port 22300`",
    ),
    (
        "--port",
        "-1",
        "invalid port `-1`: must be a number from 1 to 65535",
        "pass e.g. `--port 22300`",
    ),
    (
        "--port",
        "x",
        "invalid port `x`: must be a number from 1 to 65535",
        "pass e.g. `--port 22300`",
    ),
    (
        "--dns-name",
        "bad_name!",
        "invalid DNS name `bad_name!`: only lower-case letters, digits and `-` are allowed in a label",
        "pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)",
    ),
    (
        "--dns-name",
        "",
        "invalid DNS name ``: must be 1 to 253 characters",
        "pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)",
    ),
    (
        "--dns-name",
        "Vault.LAN",
        "invalid DNS name `Vault.LAN`: only lower-case letters, digits and `-` are allowed in a label",
        "pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)",
    ),
    (
        "--dns-name",
        "-vault.lan",
        "invalid DNS name `-vault.lan`: a label cannot start or end with `-`",
        "pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)",
    ),
    (
        "--dns-name",
        "10.0.0.1",
        "invalid DNS name `10.0.0.1`: it is an IP address; use `--host-ip` for addresses",
        "pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)",
    ),
    (
        "--vault-listen",
        "10.0.0.1:8200",
        "invalid Vault address `10.0.0.1:8200`: profile L1 keeps Vault on loopback",
        "pass a loopback address, e.g. `--vault-listen 127.0.0.1:8200`",
    ),
    (
        "--vault-listen",
        "127.0.0.1",
        "invalid Vault address `127.0.0.1`: expected IP:PORT",
        "pass e.g. `--vault-listen 127.0.0.1:8200`",
    ),
    (
        "--vault-listen",
        "127.0.0.1:0",
        "invalid Vault address `127.0.0.1:0`: port 0",
        "pass a port from 1 to 65535, e.g. `--vault-listen 127.0.0.1:8200`",
    ),
    (
        "--kv-mount",
        "a/b",
        "invalid KV mount `a/b`: use 1 to 64 lower-case letters, digits, `-` or `_`",
        "pass e.g. `--kv-mount secret`",
    ),
    (
        "--kv-mount",
        "",
        "invalid KV mount ``: use 1 to 64 lower-case letters, digits, `-` or `_`",
        "pass e.g. `--kv-mount secret`",
    ),
    (
        "--tenant-prefix",
        "../x",
        "invalid tenant prefix `../x`: use 1 to 64 lower-case letters, digits, `-` or `_`",
        "pass e.g. `--tenant-prefix tenants`",
    ),
    (
        "--agent-image",
        "bad image",
        "invalid image reference `bad image`",
        "pass e.g. `--agent-image quay.io/openbao/openbao:2.7.2`",
    ),
    (
        "--server-cert-ttl",
        "0",
        "invalid certificate lifetime `0s` for `--server-cert-ttl`",
        "pass a duration from 1m to 3650d, e.g. `--server-cert-ttl 90d`",
    ),
    (
        "--server-cert-ttl",
        "3651d",
        "invalid certificate lifetime `3651d` for `--server-cert-ttl`",
        "pass a duration from 1m to 3650d, e.g. `--server-cert-ttl 90d`",
    ),
    (
        "--server-cert-ttl",
        "1y",
        "invalid duration `1y` for `--server-cert-ttl`",
        "pass a number with s, m, h or d, e.g. `--server-cert-ttl 1h`",
    ),
    (
        "--vault-pid-file",
        "run/bao.pid",
        "invalid `--vault-pid-file` `run/bao.pid`: not an absolute path",
        "pass the server's pid file, e.g. `--vault-pid-file /run/openbao/openbao.pid`",
    ),
];

/// `init --yes` with the site's settings except `flag`, which gets `value`.
fn init_with(site: &Fixture, flag: &str, value: &str) -> Cmd {
    let mut c = site.vaultnet();
    c.args(["init", "--yes", "--timeout", "10"]);
    if flag != "--host-ip" {
        c.arg("--host-ip").arg(site.host_ip().to_string());
    }
    if flag != "--vault-listen" {
        c.arg("--vault-listen").arg(site.vault_addr().to_string());
    }
    // `--flag=value` so that empty values and leading dashes stay values.
    c.arg(format!("{flag}={value}"));
    c
}

#[test]
fn bad_flags_exit_2_with_an_error_and_a_hint_and_create_nothing() {
    let site = Fixture::offline();
    let parent = Snapshot::take(site.scratch());
    let missing_token = site.scratch().join("no-such-token");
    let mut cases: Vec<[String; 4]> = BAD_FLAGS
        .iter()
        .map(|(f, v, e, h)| [f, v, e, h].map(|s| s.to_string()))
        .collect();
    cases.push([
        "--token-file".into(),
        missing_token.display().to_string(),
        "token file `[DIR]/no-such-token` does not exist".into(),
        "pass the path of a file holding the operator token".into(),
    ]);
    for [flag, value, error, hint] in &cases {
        let out = init_with(&site, flag, value).run();
        out.expect(site.rejected(error, hint));
        assert!(
            !site.dir().exists(),
            "{flag}={value} created the state directory"
        );
        parent.assert_same(&Snapshot::take(site.scratch()), format!("{flag}={value:?}"));
    }
    // The same command line with good values works: the flag was the cause.
    let out = init_with(&site, "--port", "22300").run();
    out.expect(first_init(&site));
}

#[test]
fn bad_flags_leave_an_initialised_state_byte_for_byte_unchanged() {
    let site = initialised();
    let before = site.snapshot();
    for (flag, value, error, hint) in BAD_FLAGS {
        for force in [false, true] {
            let mut cmd = init_with(&site, flag, value);
            if force {
                cmd.arg("--force");
            }
            cmd.run().expect(site.rejected(error, hint));
            before.assert_same(&site.snapshot(), format!("{flag}={value:?} force={force}"));
        }
    }
}

#[test]
fn an_unwritable_state_directory_exits_2_with_a_hint_and_writes_nothing() {
    let site = Fixture::offline();
    let regular = site.scratch().join("regular-file");
    std::fs::write(&regular, "not a directory\n").unwrap();
    let proc_dir = PathBuf::from(format!("/proc/vaultnet-test-{}", std::process::id()));
    let parent = Snapshot::take(site.scratch());
    let proc = proc_dir.display();
    let cannot_create =
        |d: &str| format!("cannot create directory `{d}`: No such file or directory (os error 2)");
    let not_a_directory = |d: &str| {
        format!("state directory `{d}` is not writable: `[DIR]/regular-file` is not a directory")
    };
    for (dir, error) in [
        (proc_dir.clone(), cannot_create(&proc.to_string())),
        (
            proc_dir.join("deeper"),
            cannot_create(&format!("{proc}/deeper")),
        ),
        (
            regular.join("state"),
            not_a_directory("[DIR]/regular-file/state"),
        ),
        (regular.clone(), not_a_directory("[DIR]/regular-file")),
    ] {
        let out = Cmd::vaultnet()
            .home(site.home())
            .arg("--dir")
            .arg(&dir)
            .args(["init", "--yes", "--host-ip"])
            .arg(site.host_ip().to_string())
            .arg("--vault-listen")
            .arg(site.vault_addr().to_string())
            .run();
        out.expect(site.rejected(
            &error,
            "choose a writable directory with `--dir DIR` (or `VAULTNET_DIR`)",
        ));
        parent.assert_same(&Snapshot::take(site.scratch()), dir.display());
    }
    assert!(!proc_dir.exists());
}

/// A valid state file, as `init` wrote it for a site.
fn good_state(site: &Fixture) -> String {
    std::fs::read_to_string(site.path("vaultnet.yaml")).unwrap()
}

#[test]
fn a_corrupt_state_file_is_rejected_with_exit_2_and_never_rewritten() {
    let site = initialised();
    let good = good_state(&site);
    // Each case: what is wrong, the file, and the cause `init` names.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage bytes",
            b"\x00\x01\xfe\xff{{{\x00".to_vec(),
            "not UTF-8",
        ),
        (
            "garbage text",
            b"}}} this is: [not yaml\n".to_vec(),
            "misplaced bracket at line 1, column 1",
        ),
        (
            "truncated",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "invalid IP address syntax",
        ),
        ("empty", Vec::new(), "the file is empty"),
        (
            "only a comment",
            b"# nothing here\n".to_vec(),
            "unexpected end of input at line 2, column 1",
        ),
        (
            "unknown top-level key",
            format!("{good}extra: 1\n").into_bytes(),
            "unknown field `extra`, expected one of schema, site, previous_ca, pending, tenants, reserved_ports at line 3, column 1",
        ),
        (
            "unknown site key",
            good.replacen("  port: 22300\n", "  port: 22300\n  bogus: x\n", 1)
                .into_bytes(),
            "unknown field `bogus`, expected one of name, profile, dns_name, host_ip, port, vault_addr, forwarder, flavor, agent_image, kv_mount, tenant_prefix, auth, server_cert_ttl, vault_reload, vault_clients, allow_cidrs, cluster, ingress_interface, host_mapping at line 5, column 3",
        ),
        (
            "schema 99",
            good.replacen("schema: 4", "schema: 99", 1).into_bytes(),
            "schema version 99 is not supported (this vaultnet reads version 4)",
        ),
        (
            "no schema",
            good.replacen("schema: 4\n", "", 1).into_bytes(),
            "missing field `schema` at line 3, column 1",
        ),
        (
            "invalid setting",
            good.replacen("port: 22300", "port: 0", 1).into_bytes(),
            "invalid port 0",
        ),
        (
            "loopback host ip",
            good.replacen(
                &format!("host_ip: {}", site.host_ip()),
                "host_ip: 127.0.0.1",
                1,
            )
            .into_bytes(),
            "invalid host IP `127.0.0.1`: containers cannot reach the host's loopback through it",
        ),
        (
            "deeply nested",
            format!(
                "{good}tenants: {}{}\n",
                "[".repeat(20_000),
                "]".repeat(20_000)
            )
            .into_bytes(),
            "recursion limit exceeded at line 16, column 265",
        ),
        (
            "deeply nested mapping",
            format!(
                "schema: 4\nsite: {}1{}\n",
                "{a: ".repeat(20_000),
                "}".repeat(20_000)
            )
            .into_bytes(),
            "nested too deeply at line 2, column 67",
        ),
        (
            "larger than 64 MiB",
            format!("{good}# {}\n", "x".repeat(64 << 20)).into_bytes(),
            "",
        ),
        (
            // A complete record, so that the name is what gets refused.
            "bad tenant name",
            format!(
                "{good}tenants:
  ../etc:
    role: vaultnet-etc
    cert_ttl: 31536000
    cert_serial: '00'
    cert_not_after: 2027-01-01T00:00:00Z
    limits:
      token_ttl: 3600
      token_max_ttl: 86400
      token_num_uses: 0
      secret_id_ttl: 0
      secret_id_num_uses: 0
"
            )
            .into_bytes(),
            "invalid tenant name `../etc`: must start with a lower-case letter or `_`",
        ),
    ];
    assert!(
        good.contains("  port: 22300\n") && good.contains(&format!("host_ip: {}", site.host_ip())),
        "the fixtures need these lines:\n{good}"
    );
    let file = "`[STATE]/vaultnet.yaml`";
    for (what, bytes, cause) in cases {
        write_private(&site.path("vaultnet.yaml"), &bytes);
        let before = site.snapshot();
        let want = if cause.is_empty() {
            // Too large to read: refused before it is parsed.
            site.rejected(
                &format!("{file} is larger than 67108864 bytes"),
                &format!("restore {file} from a backup"),
            )
        } else {
            site.rejected(&format!("{file} is not a valid state file: {cause}"),
                &format!(
                    "restore {file} from a backup; vaultnet never overwrites a state file it cannot read"
                ),
            )
        };
        for extra in [&[][..], &["--force"][..], &["--port", "22301"][..]] {
            let out = site.init().args(extra).run();
            if let Err(msg) = want.check(&out) {
                panic!("{what} {extra:?}:\n{msg}");
            }
            before.assert_same(&site.snapshot(), format!("{what} {extra:?}"));
        }
    }
    // Restored, the state is accepted again and nothing else was lost.
    write_private(&site.path("vaultnet.yaml"), &good);
    site.init().run().expect(unchanged_init(&site));
}

/// A journal a killed run left that does not parse: every command that
/// reads the state refuses with exit 2, names the line, says how to
/// restore, and leaves both files as they are; a spent one (written
/// against an earlier `vaultnet.yaml`) is ignored and removed by the next
/// run that takes the lock.
#[test]
fn a_damaged_journal_is_refused_with_exit_2_and_a_spent_one_is_removed() {
    let site = initialised();
    let yaml = std::fs::read(site.path("vaultnet.yaml")).unwrap();
    let base: String = ring::digest::digest(&ring::digest::SHA256, &yaml)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let damaged = format!(
        "{{\"vaultnet_journal\":1,\"base\":\"{base}\"}}\n{{\"tenant\":\"alice\",\"pending\":true}}\n{{\"tenant\":\"bob\",\"oops\":1}}\n"
    );
    write_private(&site.path("vaultnet.journal"), &damaged);
    // (The lock file names the last run that took it.)
    let before = site.snapshot().without(".vaultnet.lock");
    let want = site.rejected(
        "`[STATE]/vaultnet.journal` is not a valid journal: line 3, column 22: unknown field `oops`, expected one of `tenant`, `pending`, `record`",
        "restore `[STATE]/vaultnet.yaml` and `vaultnet.journal` from a backup; vaultnet never discards a journal it cannot read",
    );
    for args in [
        &["list"][..],
        &["init", "--yes"][..],
        &["remove-user", "alice"][..],
    ] {
        let out = site.vaultnet().args(args).run();
        if let Err(msg) = want.check(&out) {
            panic!("{args:?}:\n{msg}");
        }
        before.assert_same(
            &site.snapshot().without(".vaultnet.lock"),
            format!("{args:?}"),
        );
    }
    // Spent: its base names another file. `list` (no lock) ignores it and
    // leaves it; `init` (the lock) removes it and changes nothing else.
    let spent = format!(
        "{{\"vaultnet_journal\":1,\"base\":\"{}\"}}\n{{\"tenant\":\"bob\",\"pending\":true,\"record\":null}}\n",
        "0".repeat(64)
    );
    write_private(&site.path("vaultnet.journal"), &spent);
    site.vaultnet().args(["list"]).run().expect(
        site.expect(0)
            .stdout("no tenants yet: add one with `vaultnet add-user NAME`\n"),
    );
    assert!(site.path("vaultnet.journal").exists());
    site.init().run().expect(unchanged_init(&site));
    assert!(
        !site.path("vaultnet.journal").exists(),
        "a spent journal stays behind"
    );
    assert_eq!(std::fs::read(site.path("vaultnet.yaml")).unwrap(), yaml);
}

// ------------------------------------------------------------- re-runs

#[test]
fn a_second_init_keeps_the_ca_and_every_key_and_rewrites_nothing() {
    let site = initialised();
    let before = site.snapshot().without(".vaultnet.lock");
    site.init().run().expect(unchanged_init(&site));
    // Same bytes, same inodes, same mtimes: nothing was even rewritten.
    before.assert_same(&site.snapshot().without(".vaultnet.lock"), "second init");
}

#[test]
fn force_replaces_the_ca_and_names_the_old_and_new_serials() {
    let site = initialised();
    let old_ca = cert(&site, "pki/ca.pem");
    let old_server = site.scratch().join("old-server.pem");
    std::fs::copy(site.path("vault/server.pem"), &old_server).unwrap();
    let old_operator_serial = cert(&site, "operator/client.pem").serial;

    let old_name = ca_name(&site);
    let out = site.init().arg("--force").run();
    let new_ca = cert(&site, "pki/ca.pem");
    // The serials are redacted by name, so each must stand where it belongs.
    out.clone().expect(
        site.expect(0)
            .stdout(init_stdout(&site, 5, 0, "socat"))
            .stderr(format!(
                "replaced CA `pki/ca.pem`: `{old_name}` (serial [OLD CA]) -> `{}` (serial [NEW CA]), expires [DATE]; the old one is kept in `pki/replaced/ca-[DATE]-[OLD SHORT]-key.pem`
{}replaced Vault server certificate `vault/server.pem` because `--force` or a new CA (new serial [SERVER], expires [DATE])
replaced operator certificate `operator/client.pem` because `--force` or a new CA (new serial [OPERATOR], expires [DATE])
updated `pki/trust.pem`
",
                ca_name(&site),
                created_next_ca(&site)
            ))
            .redact(&old_ca.serial[..16], "[OLD SHORT]")
            .redact(&old_ca.serial, "[OLD CA]")
            .redact(&new_ca.serial, "[NEW CA]")
            .redact(cert(&site, "vault/server.pem").serial, "[SERVER]")
            .redact(cert(&site, "operator/client.pem").serial, "[OPERATOR]"),
    );
    assert_ne!(old_ca.serial, new_ca.serial);
    assert_ne!(
        old_ca.public_key, new_ca.public_key,
        "the CA key was not replaced"
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("replaced CA"))
        .unwrap_or_else(|| panic!("no `replaced CA` line\n{out}"));
    assert!(line.contains(&old_ca.serial), "old serial missing: {line}");
    assert!(line.contains(&new_ca.serial), "new serial missing: {line}");
    assert_ne!(
        cert(&site, "operator/client.pem").serial,
        old_operator_serial
    );

    // The new leaves chain to the new CA; the old server certificate no longer does.
    let ca = site.path("pki/ca.pem");
    openssl_verify(&ca, &site.path("vault/server.pem"), Some("sslserver")).unwrap();
    openssl_verify(&ca, &site.path("operator/client.pem"), Some("sslclient")).unwrap();
    openssl_verify(&ca, &old_server, None).expect_err("old server cert still chains");
    for key in SECRET_FILES {
        let mode = site.snapshot().get(key).unwrap().mode();
        assert!(mode == 0o600 || mode == 0o400, "{key}: {mode:o}");
    }
}

// ----------------------------------------------------------------- lock

/// Holds the state's lock with util-linux `flock` the way a second vaultnet
/// would: the holder's pid written into the lock file first. Returns the
/// holder; closing its stdin releases the lock.
fn hold_lock(lock: &Path, write_pid: bool) -> std::process::Child {
    let script = if write_pid {
        r#"echo $$ > "$1" && exec flock -o "$1" cat"#
    } else {
        r#"exec flock -o "$1" cat"#
    };
    let child = Command::new("/bin/sh")
        .args(["-c", script, "sh"])
        .arg(lock)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start flock");
    wait_for(
        "flock to hold the lock",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let free = Command::new("flock")
                .args(["-n"])
                .arg(lock)
                .arg("true")
                .status()
                .map_err(|e| e.to_string())?
                .success();
            if free {
                Err("still free".into())
            } else {
                Ok(())
            }
        },
    );
    child
}

fn release(mut holder: std::process::Child) {
    drop(holder.stdin.take());
    let _ = holder.wait();
}

#[track_caller]
fn init_fails_fast_on_the_lock(site: &Fixture, holder: &std::process::Child) -> Output {
    let started = Instant::now();
    let out = site.init().run();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "init waited {:?} for the lock instead of failing fast",
        started.elapsed()
    );
    // Only the holder's own pid is redacted: any other pid shows.
    out.expect(
        site.expect(1)
            .stderr(
                "error: state `[STATE]` is locked by process [HOLDER]
hint: wait for the other vaultnet command to finish, then run this one again
",
            )
            .redact(holder.id(), "[HOLDER]"),
    )
}

#[test]
fn a_held_lock_makes_init_fail_fast_naming_the_holder() {
    // A holder that wrote its pid, as vaultnet itself does.
    let site = initialised();
    let lock = site.path(".vaultnet.lock");
    let holder = hold_lock(&lock, true);
    let before = site.snapshot();
    let out = init_fails_fast_on_the_lock(&site, &holder);
    assert!(
        out.stderr.contains(&format!("process {}", holder.id())),
        "the holder {} is not named\n{out}",
        holder.id()
    );
    before.assert_same(&site.snapshot(), "init refused by the lock");
    release(holder);

    // A holder that did not (an operator's `flock` around a backup): the
    // pid an earlier init left in the file is not the holder's.
    let stale = std::fs::read_to_string(&lock).unwrap().trim().to_string();
    let holder = hold_lock(&lock, false);
    let out = init_fails_fast_on_the_lock(&site, &holder);
    assert!(
        out.stderr.contains(&format!("process {}", holder.id())),
        "the holder {} is not named (the lock file says {stale:?})\n{out}",
        holder.id()
    );
    release(holder);

    // Released, init runs again.
    site.init().run().expect(unchanged_init(&site));
}

#[test]
fn a_lock_on_a_new_state_directory_leaves_it_empty() {
    let site = Fixture::offline();
    // 0700 already, so init has no reason to touch it before the lock.
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
        .create(site.dir())
        .unwrap();
    let lock = site.path(".vaultnet.lock");
    let holder = hold_lock(&lock, false);
    let before = site.snapshot();
    init_fails_fast_on_the_lock(&site, &holder);
    before.assert_same(&site.snapshot(), "init refused by the lock");
    assert_eq!(site.snapshot().paths(), [".vaultnet.lock"]);
    release(holder);
}

// --------------------------------------------------------------- tokens

/// A token distinctive enough that any echo of it is found.
const TOKEN: &str = "s.vaultnetTESTtoken7QxZ93kLmN0pR";

#[track_caller]
fn assert_no_token(site: &Fixture, out: &Output) {
    assert!(!out.stdout.contains(TOKEN), "token on stdout\n{out}");
    assert!(!out.stderr.contains(TOKEN), "token on stderr\n{out}");
    for (rel, entry) in &site.snapshot().entries {
        if let crate::support::snapshot::Entry::File { bytes, .. } = entry {
            assert!(
                !String::from_utf8_lossy(bytes).contains(TOKEN),
                "token written to `{}`",
                rel.display()
            );
        }
    }
}

#[test]
fn the_operator_token_never_appears_in_output_or_state() {
    let site = Fixture::offline();
    // Vault is not reachable, so every run says the same as without a
    // token: the token changes nothing that is printed.
    for (i, var) in ["BAO_TOKEN", "VAULT_TOKEN"].into_iter().enumerate() {
        let out = site.init().env(var, TOKEN).run();
        assert_no_token(&site, &out);
        out.expect(if i == 0 {
            first_init(&site)
        } else {
            unchanged_init(&site)
        });
    }
    let file = site.scratch().join("token");
    write_private(&file, format!("{TOKEN}\n"));
    let out = site.init().arg("--token-file").arg(&file).run();
    assert_no_token(&site, &out);
    out.expect(unchanged_init(&site));
    write_private(&site.home().join(".vault-token"), TOKEN);
    let out = site.init().run();
    assert_no_token(&site, &out);
    out.expect(unchanged_init(&site));

    // A token file that is not text is rejected without echoing it.
    let mut f = std::fs::File::create(&file).unwrap();
    f.write_all(TOKEN.as_bytes()).unwrap();
    f.write_all(b"\xff\xfe\n").unwrap();
    drop(f);
    let before = site.snapshot();
    let out = site.init().arg("--token-file").arg(&file).run();
    assert_no_token(&site, &out);
    out.expect(site.rejected(
        "token file `[DIR]/token` is not text",
        "write the operator token into it as one line of text, or set `VAULT_TOKEN` or `BAO_TOKEN`",
    ));
    before.assert_same(&site.snapshot(), "rejected token file");

    // Never from the command line: clap's usage error, without the value.
    let out = site.init().args(["--token", TOKEN]).run();
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "{out}"
    );
    out.expect(site.expect(2).stderr(
        "error: unexpected argument '--token' found

  tip: a similar argument exists: '--token-file'

Usage: vaultnet init --yes --host-ip <IP> --vault-listen <IP:PORT> --timeout <SECONDS> --token-file <FILE>

For more information, try '--help'.
",
    ));
    before.assert_same(&site.snapshot(), "`--token` refused");
}

// ----------------------------------------------------------------- help

#[test]
fn init_help_shows_examples_and_exit_codes() {
    // The whole text is the reviewed snapshot of `tests/help.rs`, at the
    // width it was taken.
    let snapshot = crate::support::manifest_dir().join("tests/snapshots/help-init.txt");
    let out = Cmd::vaultnet()
        .args(["init", "--help"])
        .env("COLUMNS", "100")
        .run();
    let out = out.expect(Expect::success().stdout(std::fs::read_to_string(snapshot).unwrap()));
    for needle in [
        "EXAMPLES:",
        "vaultnet init --yes --host-ip",
        "EXIT CODES:",
        "0  ",
        "1  ",
        "2  ",
        "--dns-name",
        "--host-ip",
        "--port",
        "--vault-listen",
        "--forwarder",
        "--flavor",
        "--agent-image",
        "--kv-mount",
        "--token-file",
        "--force",
        "--yes",
    ] {
        assert!(out.stdout.contains(needle), "no {needle:?} in help\n{out}");
    }
    assert!(
        !out.stdout.contains("--token "),
        "a token flag would put it in argv\n{out}"
    );
    let exit = out.stdout.split("EXIT CODES:").nth(1).unwrap();
    for code in ["0", "1", "2"] {
        assert!(
            exit.lines()
                .any(|l| l.trim_start().starts_with(&format!("{code} "))),
            "exit code {code} is not explained\n{out}"
        );
    }
}

#[test]
fn completions_bash_prints_a_script_for_vaultnet() {
    // Exactly the script the package ships in `completions/`.
    let shipped = crate::support::manifest_dir().join("completions/vaultnet.bash");
    let out = Cmd::vaultnet().args(["completions", "bash"]).run();
    let out = out.expect(Expect::success().stdout(std::fs::read_to_string(shipped).unwrap()));
    // A registration that asks vaultnet for the candidates at each TAB.
    assert!(out.stdout.contains("_clap_complete_vaultnet()"), "{out}");
    assert!(
        out.stdout.contains(
            "complete -o nospace -o bashdefault -o nosort -F _clap_complete_vaultnet vaultnet"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("COMPLETE=\"bash\""), "{out}");
    // And bash can parse it.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("vaultnet.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    run_ok(Command::new("bash").arg("-n").arg(&script));
    Cmd::vaultnet()
        .args(["completions", "no-such-shell"])
        .run()
        .expect(Expect::code(2).stderr(
            "error: invalid value 'no-such-shell' for '<SHELL>'
  [possible values: bash, zsh, fish, elvish, powershell, nushell]

For more information, try '--help'.
",
        ));
}

/// The renewal timer and service `init` writes pass `systemd-analyze
/// verify` (which fails on a bad calendar or a missing binary, shown on a
/// copy), run this vaultnet against this state directory, and carry no
/// token: it comes as a credential.
#[test]
fn the_renewal_timer_and_service_pass_systemd_analyze_verify() {
    let site = Fixture::offline();
    site.init().run().expect(first_init(&site));
    let (service, timer) = (
        site.path("renew/vaultnet-renew.service"),
        site.path("renew/vaultnet-renew.timer"),
    );
    let verify = |files: &[&Path]| {
        let mut c = Cmd::new("systemd-analyze");
        c.arg("verify").args(files).home(site.home());
        c.run()
    };
    // verify's own notes about this host's units vary: only its silence
    // about ours and its exit code count.
    let ok = verify(&[&service, &timer]).expect_success();
    assert!(!ok.stderr.contains("vaultnet-renew"), "{ok}");
    let text = std::fs::read_to_string(&service).unwrap();
    assert!(
        text.contains(&format!(
            "\nExecStart={} --dir {} renew --token-file %d/operator-token\n",
            env!("CARGO_BIN_EXE_vaultnet"),
            site.dir().display()
        )),
        "{text}"
    );
    assert!(text.contains("\nLoadCredential=operator-token:/etc/vaultnet/operator-token\n"));
    assert!(
        !text.to_lowercase().contains("token=") && !text.contains("Environment"),
        "{text}"
    );
    let timer_text = std::fs::read_to_string(&timer).unwrap();
    for line in [
        "OnCalendar=daily",
        "RandomizedDelaySec=1h",
        "Persistent=true",
    ] {
        assert!(
            timer_text.lines().any(|l| l == line),
            "{line}:\n{timer_text}"
        );
    }

    // The same check fails on a broken copy: it is not vacuous.
    let bad = site.scratch().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("vaultnet-renew.service"),
        text.replace(env!("CARGO_BIN_EXE_vaultnet"), "/nonexistent/vaultnet"),
    )
    .unwrap();
    std::fs::write(
        bad.join("vaultnet-renew.timer"),
        timer_text.replace("OnCalendar=daily", "OnCalendar=dailyy"),
    )
    .unwrap();
    for f in ["vaultnet-renew.service", "vaultnet-renew.timer"] {
        verify(&[&bad.join(f)]).expect_code(1);
    }
}
