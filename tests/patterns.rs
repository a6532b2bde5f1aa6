//! Patterns L4 (the forwarder open to listed networks), R1 (Vault
//! itself on the host address) and R7 (nftables DNAT to Vault's loopback
//! listener, no userspace proxy), for real (gated by `VAULTNET_E2E=1`): a
//! namespace playing the host, OpenBao started from the listener file
//! `init --profile` wrote, the socat forwarder for L4, the nft gate
//! loaded, and client namespaces joined to the host by veth pairs — each
//! a machine of the LAN. From an admitted namespace the tenant's bundle
//! runs unchanged (`bao agent` with its own config) and renders the
//! tenant's secret and not its neighbour's; a namespace outside
//! `--allow-cidr` is reset; an admitted client without a client
//! certificate gets no answer (the TLS handshake fails); local tenants
//! keep the per-uid gate, a stranger uid is refused. Unloading the gate
//! lets the outside namespace in, so its refusal is the gate's. The doctor
//! tests break each pattern's own link: the allowlist not loaded, or not
//! the site's, and Vault exposed on the network (R1); `route_localnet`
//! off, a DNAT chain emptied and the rules unloaded (R7). Under R7 a
//! neighbour on the ingress link that sends to 127.0.0.1:VAULT_PORT gets
//! nothing back, and without the gate it does — so the guard is what
//! stops it.
//!
//! The input checks (`--allow-cidr` refused with the fix, nothing made)
//! run without root.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::fixture::Fixture;
use crate::support::init::{KEPT_PKI, init_stdout_with_vault, kept_certificates, vault_setup};
use crate::support::netns::TenantNs;
use crate::support::openbao::probe;
use crate::support::tenant::{Agent, NFT_RELOADED, UnixUser, connect_as, removed, tenant_request};
use crate::support::{require_e2e, run_ok};

const DNS_NAME: &str = "vault.lan";
const AGENT_TIMEOUT: Duration = Duration::from_secs(30);
/// A documentation network (RFC 5737) no test namespace is in: the first
/// `init` of an L4 site needs one network, and nothing from it connects.
const DOC_NET: &str = "192.0.2.0/24";

#[test]
fn bad_allow_cidrs_are_refused_with_the_fix_and_nothing_is_made() {
    for (args, error, hint) in [
        (
            &["--profile", "l4"][..],
            "profile l4 admits clients from outside this host only from the networks `--allow-cidr` lists, and none is listed",
            "pass `--allow-cidr NETWORK` for each client network, e.g. `--allow-cidr 192.168.1.0/24`; or `--profile l1` for local tenants only",
        ),
        (
            &["--profile", "l4", "--allow-cidr", "10.78.0.9/24"],
            "invalid `--allow-cidr 10.78.0.9/24`: host bits are set below the /24 prefix",
            "pass the network itself, `--allow-cidr 10.78.0.0/24`, or one host, `--allow-cidr 10.78.0.9`",
        ),
        (
            &["--profile", "r1", "--allow-cidr", "lan"],
            "invalid `--allow-cidr lan`: `lan` is not an IP address",
            "pass a network as ADDRESS/PREFIX, e.g. `--allow-cidr 192.168.1.0/24` or `--allow-cidr fd00:1::/64`",
        ),
        (
            &["--profile", "r1", "--allow-cidr", "0.0.0.0/0"],
            "invalid `--allow-cidr 0.0.0.0/0`: a /0 admits every address, which is no allowlist",
            "list the networks your clients are in, e.g. `--allow-cidr 192.168.1.0/24`",
        ),
        (
            &[
                "--profile",
                "l4",
                "--allow-cidr",
                "10.0.0.0/8",
                "--allow-cidr",
                "10.78.0.2",
            ],
            "`--allow-cidr 10.78.0.2/32` is inside `--allow-cidr 10.0.0.0/8`: nft cannot load overlapping networks",
            "drop `--allow-cidr 10.78.0.2/32`: `10.0.0.0/8` admits it already",
        ),
        (
            &["--profile", "l4", "--allow-cidr", "fd00:1::/64"],
            "`--allow-cidr fd00:1::/64` is IPv6, and the entry's host address 10.77.0.1 is IPv4: no client from it can connect",
            "pass IPv4 networks with `--allow-cidr`, or an IPv6 `--host-ip`",
        ),
        (
            &["--allow-cidr", "10.78.0.0/24"],
            "`--allow-cidr 10.78.0.0/24` does not apply to profile l1: its gate admits no client from outside this host",
            "drop `--allow-cidr`, or choose a profile that admits remote clients: `--profile l4` or `--profile r1` or `--profile r7`",
        ),
    ] {
        let f = Fixture::offline();
        f.init().args(args).run().expect(f.rejected(error, hint));
        assert!(!f.dir().exists(), "{args:?} created the state directory");
    }
    // Over a site that exists: refused, and nothing changes.
    let f = Fixture::builder().init().build();
    let before = f.snapshot();
    f.init()
        .args(["--allow-cidr", "10.78.0.0/24"])
        .run()
        .expect(f.rejected(
            "`--allow-cidr 10.78.0.0/24` does not apply to profile l1: its gate admits no client from outside this host",
            "drop `--allow-cidr`, or choose a profile that admits remote clients: `--profile l4` or `--profile r1` or `--profile r7`",
        ));
    before.without(".vaultnet.lock").assert_same(
        &f.snapshot().without(".vaultnet.lock"),
        "refused --allow-cidr",
    );
}

/// The uid and gid of a Unix user.
fn ids(name: &str) -> (u32, u32) {
    let u = nix::unistd::User::from_name(name)
        .expect("read passwd")
        .unwrap_or_else(|| panic!("no user {name}"));
    (u.uid.as_raw(), u.gid.as_raw())
}

/// `GET sys/health` from `ns` to `https://vault.lan:PORT` (the namespace's
/// hosts file maps the name) with the tenant's bundle: its CA, and its
/// client certificate when `with_cert`.
fn from_ns(ns: &str, f: &Fixture, tenant: &str, port: u16, with_cert: bool) -> Result<u16, String> {
    let b = f.bundle(tenant);
    let (cert, key) = (b.join("client.pem"), b.join("client-key.pem"));
    probe(
        Some(ns),
        &format!("{DNS_NAME}:{port}"),
        &b.join("ca.pem"),
        with_cert.then_some((cert.as_path(), key.as_path())),
    )
}

/// Asserts a probe got a TCP reset — the gate's answer: curl could not
/// connect (exit 7) and was told so at once (a dropped SYN would wait out
/// curl's 10 s and exit 28).
#[track_caller]
fn assert_reset(got: Result<u16, String>, who: &str) {
    let waited = |e: &str| -> Option<u64> {
        let (_, rest) = e.split_once(" after ")?;
        rest.split_once(" ms")?.0.parse().ok()
    };
    match got {
        Err(e) if e.contains("curl: (7)") && waited(&e).is_some_and(|ms| ms < 2000) => {}
        other => panic!("{who} must be reset by the gate, got {other:?}"),
    }
}

/// Asserts a probe without a client certificate got no HTTP answer: the
/// TCP connection was made (curl's exit is neither 7, could not connect,
/// nor 28, timed out) and the server ended it in the TLS handshake.
#[track_caller]
fn assert_no_answer_without_cert(got: Result<u16, String>, who: &str) {
    match got {
        Err(e) if !e.contains("curl: (7)") && !e.contains("curl: (28)") => {}
        other => panic!("{who} without a client certificate must get no answer, got {other:?}"),
    }
}

/// The same request as uid `uid` from the host namespace, with copies of
/// the tenant's certificates it may read: what the tenant's rootless
/// containers do (slirp4netns connects from the host's stack as the
/// tenant's own uid, which is all the gate sees).
fn as_uid(
    f: &Fixture,
    tenant: &str,
    (uid, gid): (u32, u32),
    addr: SocketAddr,
) -> Result<u16, String> {
    let dir = tempfile::Builder::new()
        .prefix("vaultnet-as-uid-")
        .tempdir()
        .unwrap();
    for file in ["ca.pem", "client.pem", "client-key.pem"] {
        let to = dir.path().join(file);
        std::fs::copy(f.bundle(tenant).join(file), &to).unwrap();
        std::os::unix::fs::chown(&to, Some(uid), Some(gid)).unwrap();
    }
    std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let d = |n: &str| dir.path().join(n);
    let out = Command::new("ip")
        .args(["netns", "exec", f.ns_name().unwrap(), "setpriv"])
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .args(["--clear-groups", "curl", "-q", "-sS", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "--max-time", "10", "--resolve"])
        .arg(format!("{DNS_NAME}:{}:{}", addr.port(), addr.ip()))
        .arg("--cacert")
        .arg(d("ca.pem"))
        .arg("--cert")
        .arg(d("client.pem"))
        .arg("--key")
        .arg(d("client-key.pem"))
        .arg(format!("https://{DNS_NAME}:{}/v1/sys/health", addr.port()))
        .stdin(Stdio::null())
        .output()
        .expect("run curl as the uid");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}

/// The tenant's bundle, unchanged, run by `bao agent` in `ns`: it renders
/// the tenant's own secret, and its token is denied the neighbour's.
#[track_caller]
fn bundle_renders_own_secret_only(f: &Fixture, ns: &TenantNs, own: &str, neighbour: &str) {
    let value = format!("{own}-s3cret");
    f.write_secret(own, &value);
    f.write_secret(neighbour, "never-for-the-neighbour");
    let agent = Agent::start(ns, &f.bundle(own), &f.compose(own));
    let (rendered, _) = agent.wait_for_file("/secrets/app", AGENT_TIMEOUT);
    assert_eq!(String::from_utf8_lossy(&rendered), value, "{}", agent.log());
    let (token, _) = agent.wait_for_file("/agent/token", AGENT_TIMEOUT);
    let token = String::from_utf8(token).unwrap();
    let (code, body) = tenant_request(
        ns,
        &f.bundle(own),
        "GET",
        &format!("secret/data/tenants/{neighbour}/app"),
        None,
        Some(token.trim()),
    );
    assert_eq!(code, 403, "the neighbour's secret: {body}");
}

/// `init` again with `--allow-cidr` for each of `nets` (besides the
/// fixture's own): the site's networks change, and the gate file with them.
#[track_caller]
fn allow(f: &Fixture, old: &str, nets: &[String]) {
    let mut init = f.init();
    init.env("BAO_TOKEN", &f.bao().root_token);
    for n in nets {
        init.args(["--allow-cidr", n]);
    }
    let mut all: Vec<String> = nets.to_vec();
    all.extend(
        f.init_args()
            .windows(2)
            .filter(|w| w[0] == "--allow-cidr")
            .map(|w| format!("{}", w[1].to_string_lossy())),
    );
    let mut shown: Vec<vaultnet::state::cidr::Cidr> = all
        .iter()
        .map(|c| vaultnet::state::cidr::Cidr::parse(c).unwrap())
        .collect();
    shown.sort();
    let new = shown
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let out = init.run();
    out.expect(
        f.expect(0)
            .stdout(init_stdout_with_vault(f, 3, KEPT_PKI + 2, "socat"))
            .stderr(format!(
                "setting allow-cidrs: {old} -> {new}\n{}wrote `vaultnet.yaml`\nupdated `forwarder/vaultnet.nft`\n{}",
                kept_certificates(f),
                vault_setup("present", "present")
            )),
    );
    f.load_nft();
}

/// `list --output json`: each tenant's endpoint.
#[track_caller]
fn endpoints(f: &Fixture) -> Vec<(String, String, String)> {
    let out = f.vaultnet().args(["list", "--output", "json"]).run();
    let rows: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{out}"));
    rows["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r["endpoint"][k].as_str().unwrap().to_string();
            (
                r["name"].as_str().unwrap().to_string(),
                s("url"),
                s("connect"),
            )
        })
        .collect()
}

#[test]
fn l4_admits_the_listed_networks_resets_the_others_and_keeps_the_uid_gate_for_local_tenants() {
    require_e2e!("runs OpenBao, socat, nft and bao agent in network namespaces");
    let f = Fixture::host("vnl4")
        .init_args(["--profile", "l4", "--allow-cidr", DOC_NET])
        .tenants(2)
        .forwarder()
        .nft()
        .build();
    let (a, b) = (f.tenant(0).to_string(), f.tenant(1).to_string());
    let host_ip = f.host_ip();
    let port = f.forwarder_port();
    assert_eq!(port, 22300);
    let admitted = f.ns().add_tenant_ns("vnla", &[(DNS_NAME, host_ip)]);
    let outside = f.ns().add_tenant_ns("vnlo", &[(DNS_NAME, host_ip)]);
    // Only the documentation network is listed: both are reset.
    assert_reset(
        from_ns(admitted.name(), &f, &a, port, true),
        "an unlisted namespace",
    );

    allow(&f, DOC_NET, &[format!("{}/32", admitted.ip())]);
    let nft = std::fs::read_to_string(f.path("forwarder/vaultnet.nft")).unwrap();
    assert!(
        nft.contains(&format!("elements = {{ {}/32, {DOC_NET} }}", admitted.ip())),
        "{nft}"
    );
    assert_eq!(from_ns(admitted.name(), &f, &a, port, true), Ok(200));
    bundle_renders_own_secret_only(&f, &admitted, &a, &b);
    assert_reset(
        from_ns(outside.name(), &f, &a, port, true),
        "a namespace outside the list",
    );
    assert_no_answer_without_cert(
        from_ns(admitted.name(), &f, &a, port, false),
        "an admitted namespace",
    );

    // Local tenants meet the uid gate: the tenant's uid gets through, a
    // stranger's is refused on the same address.
    let entry = SocketAddr::new(host_ip, port);
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));
    let stranger = UnixUser::create("l4s");
    match connect_as(
        f.ns_name().unwrap(),
        stranger.uid,
        stranger.gid,
        &host_ip.to_string(),
        port,
    ) {
        Err(e) if e.contains("Connection refused") => {}
        other => panic!("a stranger uid must be refused at the entry, got {other:?}"),
    }
    assert_eq!(
        endpoints(&f),
        [a.clone(), b.clone()].map(|t| (
            t,
            format!("https://{DNS_NAME}:22300"),
            format!("{host_ip}:22300")
        ))
    );

    // The gate is what refused the outside namespace: without it, in.
    f.unload_nft();
    assert_eq!(from_ns(outside.name(), &f, &a, port, true), Ok(200));
}

#[test]
fn doctor_names_an_l4_allowlist_that_is_not_loaded_or_not_the_sites() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let f = Fixture::host("vnd4")
        .init_args(["--profile", "l4", "--allow-cidr", DOC_NET])
        .tenants(1)
        .forwarder()
        .nft()
        .build();
    let r = f.report(&[], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
    r.expect("nft.allowlist", "ok");
    assert_eq!(r.detail("nft.allowlist.loaded"), DOC_NET);
    assert!(r.ids().iter().all(|i| i != "exposure"), "{}", r.out);

    let file = f.path("forwarder/vaultnet.nft");
    let load = format!("nft -f {}", file.display());
    // The networks taken out of the kernel's set behind vaultnet's back.
    run_ok(f.ns().command("nft").args([
        "delete",
        "element",
        "inet",
        "vaultnet",
        "clients4",
        &format!("{{ {DOC_NET} }}"),
    ]));
    let r = f.report(&[], 1);
    assert_eq!(
        r.expect_hint("nft.allowlist.loaded", "fail", &[&load]),
        load
    );
    assert_eq!(
        r.detail("nft.allowlist.loaded"),
        format!("the loaded gate admits none, the site lists {DOC_NET}")
    );
    // The gate not loaded at all: the forwarder is open to everyone.
    f.unload_nft();
    let r = f.report(&[], 1);
    r.expect_hint("nft.loaded", "fail", &[&load]);
    assert_eq!(
        r.detail("nft.loaded"),
        format!(
            "table inet vaultnet is not loaded: {}:22300 is open to every network and every local user",
            f.host_ip()
        )
    );
    // The hint is the fix.
    run_ok(f.ns().command("nft").arg("-f").arg(&file));
    let r = f.report(&[], 0);
    r.expect("nft.allowlist.loaded", "ok");
    r.expect("nft.loaded", "ok");
}

#[test]
fn r1_serves_remote_and_local_tenants_from_vaults_own_listener_and_requires_a_certificate() {
    require_e2e!("runs OpenBao, nft and bao agent in network namespaces");
    let f = Fixture::host("vnr1")
        .init_args(["--profile", "r1"])
        .tenants(2)
        .nft()
        .build();
    let (a, b) = (f.tenant(0).to_string(), f.tenant(1).to_string());
    let host_ip = f.host_ip();
    // No forwarder: the bundle points at Vault's own port on the host.
    assert_eq!(f.forwarder_port(), 8200);
    let entry = SocketAddr::new(host_ip, 8200);
    let listener: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("vault/listener.json")).unwrap())
            .unwrap();
    let addrs: Vec<&str> = listener["listener"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tcp"]["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, [f.vault_addr().to_string(), entry.to_string()]);
    assert!(
        !f.path("forwarder/vaultnet-forwarder.service").exists(),
        "r1 writes no forwarder"
    );
    let agent_json: Value = serde_json::from_str(&f.bundle_text(&a, "agent.json")).unwrap();
    assert_eq!(agent_json["vault"]["address"], "https://vault.lan:8200");
    let served = vaultnet::pki::CertInfo::parse(
        &std::fs::read_to_string(f.path("vault/server.pem")).unwrap(),
    )
    .unwrap();
    assert!(served.ip_sans.contains(&host_ip), "{:?}", served.ip_sans);
    assert!(served.dns_sans.iter().any(|d| d == DNS_NAME));

    let remote = f.ns().add_tenant_ns("vnrr", &[(DNS_NAME, host_ip)]);
    assert_eq!(from_ns(remote.name(), &f, &a, 8200, true), Ok(200));
    bundle_renders_own_secret_only(&f, &remote, &a, &b);
    assert_no_answer_without_cert(
        from_ns(remote.name(), &f, &a, 8200, false),
        "a remote client",
    );
    // A local tenant, as its rootless containers connect: its own uid on
    // the host address. A stranger is refused there, and the tenant on
    // Vault's loopback port (the operator's).
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));
    let stranger = UnixUser::create("r1s");
    let refused = |uid: u32, gid: u32, addr: SocketAddr, who: &str| match connect_as(
        f.ns_name().unwrap(),
        uid,
        gid,
        &addr.ip().to_string(),
        addr.port(),
    ) {
        Err(e) if e.contains("Connection refused") => {}
        other => panic!("{who} must be refused at {addr}, got {other:?}"),
    };
    refused(stranger.uid, stranger.gid, entry, "a stranger uid");
    let (uid, gid) = ids(&a);
    refused(
        uid,
        gid,
        f.vault_addr(),
        "a tenant on Vault's loopback port",
    );
    assert_eq!(
        endpoints(&f),
        [a.clone(), b.clone()].map(|t| (t, format!("https://{DNS_NAME}:8200"), entry.to_string()))
    );

    // An allowlist that does not list the remote namespace: reset, while
    // the local tenant still gets through.
    allow_r1(&f, DOC_NET);
    assert_reset(
        from_ns(remote.name(), &f, &a, 8200, true),
        "an unlisted remote client",
    );
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));
}

/// `init --allow-cidr NET` on an r1 or r7 site that had none.
#[track_caller]
fn allow_r1(f: &Fixture, net: &str) {
    let out = f
        .init()
        .env("BAO_TOKEN", &f.bao().root_token)
        .args(["--allow-cidr", net])
        .run();
    out.expect(
        f.expect(0)
            .stdout(init_stdout_with_vault(f, 3, KEPT_PKI + 2, "socat"))
            .stderr(format!(
                "setting allow-cidrs: (none) -> {net}\n{}wrote `vaultnet.yaml`\nupdated `forwarder/vaultnet.nft`\n{}",
                kept_certificates(f),
                vault_setup("present", "present")
            )),
    );
    f.load_nft();
}

#[test]
fn doctor_warns_that_r1_exposes_vault_and_names_an_allowlist_that_is_not_loaded() {
    require_e2e!("runs OpenBao and nft in a network namespace");
    let f = Fixture::host("vnd1")
        .init_args(["--profile", "r1"])
        .tenants(1)
        .nft()
        .build();
    let entry = format!("{}:8200", f.host_ip());
    let r = f.report(&["--login"], 0);
    assert_eq!(r.status(), "warn", "{}", r.out);
    assert_eq!(r.leaves("warn"), ["exposure"], "{}", r.out);
    r.expect_hint("exposure", "warn", &["--allow-cidr NETWORK"]);
    assert_eq!(
        r.detail("exposure"),
        format!(
            "every network that reaches {} reaches OpenBao's listener; mutual TLS is the only lock",
            f.host_ip()
        )
    );
    r.expect("entry.mtls", "ok");
    r.expect(&format!("login.{}", f.tenant(0)), "ok");

    allow_r1(&f, DOC_NET);
    let r = f.report(&[], 0);
    r.expect_hint("exposure", "warn", &["--allow-cidr"]);
    assert_eq!(
        r.detail("exposure"),
        format!("clients from {DOC_NET} reach OpenBao's listener; mutual TLS is what stops them")
    );
    r.expect("nft.allowlist.loaded", "ok");
    // Vault's own port open to everyone: the gate not loaded.
    f.unload_nft();
    let r = f.report(&[], 1);
    let load = format!("nft -f {}", f.path("forwarder/vaultnet.nft").display());
    r.expect_hint("nft.loaded", "fail", &[&load]);
    assert_eq!(
        r.detail("nft.loaded"),
        format!(
            "table inet vaultnet is not loaded: {entry} is open to every network and every local user"
        )
    );
}

/// The host side of the veth pair of the first client namespace a host
/// namespace adds: where remote clients arrive, so the r7 sites of these
/// tests name it `--ingress-interface`.
const INGRESS: &str = "vnt0";

/// `sysctl -w net.ipv4.conf.vnt0.route_localnet=VALUE` in the host
/// namespace (the command `init` prints, with `value`).
#[track_caller]
fn route_localnet(f: &Fixture, value: u8) {
    run_ok(f.ns().command("sysctl").args([
        "-q",
        "-w",
        &format!("net.ipv4.conf.{INGRESS}.route_localnet={value}"),
    ]));
}

/// A neighbour on the link of `ns` sends a TCP SYN to 127.0.0.1:`port` of
/// the host through the NIC (its own egress hook rewrites the destination
/// of a connection to the host's link address); returns how many packets
/// the SYN took out and how many came back from 127.0.0.1.
#[track_caller]
fn loopback_from_the_link(ns: &TenantNs, port: u16) -> (u64, u64) {
    let table = format!(
        "table netdev vnprobe\n\
         delete table netdev vnprobe\n\
         table netdev vnprobe {{\n\
         \x20   chain egress {{\n\
         \x20       type filter hook egress device \"eth0\" priority 0; policy accept;\n\
         \x20       ip daddr {gw} tcp dport {port} ip daddr set 127.0.0.1 counter\n\
         \x20   }}\n\
         \x20   chain ingress {{\n\
         \x20       type filter hook ingress device \"eth0\" priority 0; policy accept;\n\
         \x20       ip saddr 127.0.0.1 counter\n\
         \x20   }}\n\
         }}\n",
        gw = ns.gateway()
    );
    let mut load = ns.command("nft");
    load.args(["-f", "-"]).stdin(Stdio::piped());
    let mut child = load.spawn().expect("run nft");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), table.as_bytes()).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "load the neighbour's probe table"
    );
    // The SYN goes out, and its retries; the reply, if any, is counted.
    let _ = ns.exec(
        Command::new("curl")
            .args(["-q", "-sS", "--max-time", "2", "-o", "/dev/null"])
            .arg(format!("http://{}:{port}/", ns.gateway())),
    );
    let listed = run_ok(
        ns.command("nft")
            .args(["list", "table", "netdev", "vnprobe"]),
    );
    let count = |chain: &str| -> u64 {
        let block = &listed[listed.find(&format!("chain {chain}")).unwrap()..];
        let at = block.find("counter packets ").unwrap() + "counter packets ".len();
        block[at..].split(' ').next().unwrap().parse().unwrap()
    };
    let counts = (count("egress"), count("ingress"));
    run_ok(
        ns.command("nft")
            .args(["delete", "table", "netdev", "vnprobe"]),
    );
    counts
}

#[test]
fn r7_dnats_remote_and_local_tenants_to_vaults_loopback_listener_and_its_gate_holds() {
    require_e2e!("runs OpenBao, nft DNAT and bao agent in network namespaces");
    let f = Fixture::host("vnr7")
        .init_args(["--profile", "r7", "--ingress-interface", INGRESS])
        .tenants(2)
        .nft()
        .build();
    let (a, b) = (f.tenant(0).to_string(), f.tenant(1).to_string());
    let host_ip = f.host_ip();
    let port = f.forwarder_port();
    assert_eq!(port, 22300);
    let entry = SocketAddr::new(host_ip, port);
    // Vault stays on loopback; no forwarder runs or is written.
    let listener: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("vault/listener.json")).unwrap())
            .unwrap();
    let addrs: Vec<&str> = listener["listener"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tcp"]["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, [f.vault_addr().to_string()]);
    assert!(!f.path("forwarder/vaultnet-forwarder.service").exists());
    let agent_json: Value = serde_json::from_str(&f.bundle_text(&a, "agent.json")).unwrap();
    assert_eq!(agent_json["vault"]["address"], "https://vault.lan:22300");
    assert_eq!(
        std::fs::read_to_string(f.path("forwarder/vaultnet-route-localnet.conf"))
            .unwrap()
            .lines()
            .last(),
        Some("net.ipv4.conf.vnt0.route_localnet = 1")
    );

    let remote = f.ns().add_tenant_ns("vnr7r", &[(DNS_NAME, host_ip)]);
    assert_eq!(remote.host_if(), INGRESS);
    // Without route_localnet the DNATed packet dies as martian: no answer.
    match from_ns(remote.name(), &f, &a, port, true) {
        Err(e) if e.contains("curl: (28)") => {}
        other => panic!("route_localnet off must time the remote client out, got {other:?}"),
    }
    route_localnet(&f, 1);
    assert_eq!(from_ns(remote.name(), &f, &a, port, true), Ok(200));
    bundle_renders_own_secret_only(&f, &remote, &a, &b);
    assert_no_answer_without_cert(
        from_ns(remote.name(), &f, &a, port, false),
        "a remote client",
    );

    // Local tenants, as their rootless containers connect (slirp4netns
    // from the host's stack as the tenant's uid): through the output
    // hook's DNAT. The uid gate runs before it: a stranger is refused at
    // the entry, and a tenant straight at Vault's port is refused although
    // every DNATed connection ends there too.
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));
    assert_eq!(as_uid(&f, &b, ids(&b), entry), Ok(200));
    let stranger = UnixUser::create("r7s");
    let refused = |uid: u32, gid: u32, addr: SocketAddr, who: &str| match connect_as(
        f.ns_name().unwrap(),
        uid,
        gid,
        &addr.ip().to_string(),
        addr.port(),
    ) {
        Err(e) if e.contains("Connection refused") => {}
        other => panic!("{who} must be refused at {addr}, got {other:?}"),
    };
    refused(stranger.uid, stranger.gid, entry, "a stranger uid");
    let (uid, gid) = ids(&a);
    refused(
        uid,
        gid,
        f.vault_addr(),
        "a tenant straight at Vault's port",
    );
    assert_eq!(
        endpoints(&f),
        [a.clone(), b.clone()].map(|t| (t, format!("https://{DNS_NAME}:22300"), entry.to_string()))
    );
    // remove-user keeps the loaded gate in step: the removed tenant's
    // uid is refused at the entry at once.
    f.remove_user(&[&b])
        .run()
        .expect(f.expect(0).stdout(removed(&b, false)).stderr(NFT_RELOADED));
    let (uid_b, gid_b) = ids(&b);
    refused(uid_b, gid_b, entry, "a removed tenant");
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));

    // An allowlist that does not list the remote namespace: its DNATed
    // connection is reset by its original destination, while the local
    // tenant still gets through.
    allow_r1(&f, DOC_NET);
    assert_reset(
        from_ns(remote.name(), &f, &a, port, true),
        "an unlisted remote client",
    );
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));

    // The naive table, its uid chain at priority 0, after NAT: every
    // DNATed tenant looks like one straight at Vault's port, and the entry
    // rule never matches — the tenant is locked out (and an entry rule of
    // its own would never see it). The site's gate runs before NAT.
    let naive = f.scratch().join("naive.nft");
    std::fs::write(
        &naive,
        std::fs::read_to_string(f.path("forwarder/vaultnet.nft"))
            .unwrap()
            .replace(
                "type filter hook output priority -150;",
                "type filter hook output priority filter;",
            ),
    )
    .unwrap();
    run_ok(f.ns().command("nft").arg("-f").arg(&naive));
    assert_reset(
        as_uid(&f, &a, ids(&a), entry),
        "a tenant through the entry under the naive table",
    );
    f.load_nft();
    assert_eq!(as_uid(&f, &a, ids(&a), entry), Ok(200));

    // A neighbour on the ingress link sends to 127.0.0.1:VAULT_PORT
    // through the NIC: route_localnet lets it in, the guard drops it, and
    // nothing comes back.
    let vault_port = f.vault_addr().port();
    let (out, back) = loopback_from_the_link(&remote, vault_port);
    assert!(out > 0, "the neighbour's SYN left");
    assert_eq!(back, 0, "the host answered from 127.0.0.1 onto the link");
    // The gate is what stopped it: without the table the host answers
    // from loopback (and the DNAT is gone with it).
    f.unload_nft();
    let (_, back) = loopback_from_the_link(&remote, vault_port);
    assert!(back > 0, "without the guard the neighbour gets an answer");
    assert!(from_ns(remote.name(), &f, &a, port, true).is_err());
}

#[test]
fn doctor_names_r7s_broken_link_route_localnet_off_a_dnat_chain_flushed_the_rules_unloaded() {
    require_e2e!("runs OpenBao and nft DNAT in network namespaces");
    let f = Fixture::host("vnd7")
        .init_args(["--profile", "r7", "--ingress-interface", INGRESS])
        .tenants(1)
        .nft()
        .build();
    let file = f.path("forwarder/vaultnet.nft");
    let entry = format!("{}:22300", f.host_ip());
    let vault = f.vault_addr();
    // The ingress interface does not exist yet.
    let r = f.report(&[], 1);
    r.expect_hint(
        "host.route_localnet",
        "fail",
        &["`vaultnet init --ingress-interface IFACE`"],
    );
    assert_eq!(
        r.detail("host.route_localnet"),
        "there is no `net.ipv4.conf.vnt0.route_localnet`: no such interface here"
    );
    let _remote = f.ns().add_tenant_ns("vnd7r", &[(DNS_NAME, f.host_ip())]);
    route_localnet(&f, 1);
    let r = f.report(&["--login"], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
    for id in [
        "host.dnat.output",
        "host.dnat.prerouting",
        "host.guard",
        "host.route_localnet",
        "dnat.mtls",
        "nft.loaded",
    ] {
        r.expect(id, "ok");
    }
    r.expect(&format!("login.{}", f.tenant(0)), "ok");
    assert_eq!(
        r.check("host.dnat.output")["title"],
        format!("DNAT {entry} -> {vault} for local clients (nat output)")
    );

    // route_localnet off: remote clients' packets die as martian.
    route_localnet(&f, 0);
    let r = f.report(&[], 1);
    assert_eq!(r.leaves("fail"), ["host.route_localnet"], "{}", r.out);
    assert_eq!(
        r.expect_hint("host.route_localnet", "fail", &[]),
        "sysctl -w net.ipv4.conf.vnt0.route_localnet=1 (and install `forwarder/vaultnet-route-localnet.conf` in /etc/sysctl.d/ for the next boot)"
    );
    assert_eq!(
        r.detail("host.route_localnet"),
        format!(
            "net.ipv4.conf.vnt0.route_localnet = 0: off: the kernel drops remote clients' DNATed packets to {} as martian",
            vault.ip()
        )
    );
    route_localnet(&f, 1);

    // The output chain emptied behind vaultnet's back: local clients
    // reach nothing at the entry.
    run_ok(
        f.ns()
            .command("nft")
            .args(["flush", "chain", "inet", "vaultnet", "dnat_output"]),
    );
    let r = f.report(&[], 1);
    let load = "`nft -f forwarder/vaultnet.nft`";
    r.expect_hint("host.dnat.output", "fail", &[load]);
    assert_eq!(
        r.detail("host.dnat.output"),
        format!(
            "chain `dnat_output` of table inet vaultnet lacks `ip daddr {entry_ip} tcp dport 22300 dnat ip to {vault}`",
            entry_ip = f.host_ip()
        )
    );
    r.expect_hint("dnat.tcp", "fail", &[load]);
    r.expect("host.dnat.prerouting", "ok");

    // The rules unloaded: every link of the kernel named.
    f.unload_nft();
    let r = f.report(&[], 1);
    for id in ["host.dnat.output", "host.dnat.prerouting", "host.guard"] {
        r.expect_hint(id, "fail", &[load]);
    }
    assert_eq!(
        r.detail("host.guard"),
        "chain `input` of table inet vaultnet is not in the kernel"
    );
    r.expect("nft.loaded", "warn");
    assert_eq!(
        r.detail("nft.loaded"),
        format!(
            "table inet vaultnet is not loaded: nothing gates who connects to {entry} or to Vault's port"
        )
    );
    // The hint is the fix.
    run_ok(f.ns().command("nft").arg("-f").arg(&file));
    let r = f.report(&[], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
}

#[test]
fn r7_bad_ingress_interfaces_and_ipv6_are_refused_with_the_fix_and_nothing_is_made() {
    for (args, error, hint) in [
        (
            &["--profile", "r7"][..],
            "profile r7 needs the interface remote clients arrive on, and no interface of this host holds 10.77.0.1",
            "pass it, e.g. `--ingress-interface eth0` (`ip -brief address` lists them)",
        ),
        (
            &["--profile", "r7", "--ingress-interface", "all"],
            "`--ingress-interface all` would set `route_localnet` on every interface",
            "pass the one interface remote clients arrive on, e.g. `--ingress-interface eth0`",
        ),
        (
            &["--profile", "r7", "--ingress-interface", "eth0/1"],
            "invalid `--ingress-interface eth0/1`: not an interface name",
            "pass the interface remote clients arrive on, as `ip -brief link` names it, e.g. `--ingress-interface eth0`",
        ),
        (
            &["--ingress-interface", "eth0"],
            "`--ingress-interface eth0` does not apply to profile l1: no remote client is DNATed to Vault's loopback listener",
            "drop `--ingress-interface`, or choose `--profile r7`",
        ),
    ] {
        let f = Fixture::offline();
        f.init().args(args).run().expect(f.rejected(error, hint));
        assert!(!f.dir().exists(), "{args:?} created the state directory");
    }
    // An IPv6 host address: nothing from outside is DNATed to [::1].
    let f = Fixture::offline();
    f.vaultnet_without_token()
        .args(["init", "--yes", "--host-ip", "fd00::1", "--profile", "r7"])
        .args(["--ingress-interface", "eth0"])
        .run()
        .expect(f.rejected(
            "profile r7 needs an IPv4 host address, and fd00::1 is IPv6: IPv6 has no `route_localnet`, so nothing from outside can be DNATed to Vault's loopback listener",
            "pass an IPv4 `--host-ip`, or `--profile l1` (a forwarder) for an IPv6 address",
        ));
    assert!(!f.dir().exists());
}

/// An address (TEST-NET-1) on `lo` of the host namespace: `lo` is the
/// first interface, so this becomes the host's first non-loopback IPv4
/// address — where Podman then points `host.containers.internal`.
const FIRST_ON_LO: &str = "192.0.2.7";

#[test]
fn doctor_warns_when_l2s_host_address_is_no_longer_the_first_ipv4_address() {
    require_e2e!("runs OpenBao, socat and nft in a network namespace");
    let f = Fixture::host("vnd2")
        .init_args(["--profile", "l2"])
        .tenants(1)
        .forwarder()
        .nft()
        .build();
    let t = f.tenant(0).to_string();
    let host_ip = f.host_ip();
    // The bundle: Podman's name for the host, no extra_hosts.
    let compose = f.compose(&t);
    assert!(
        compose["services"]["vault-agent"]
            .get("extra_hosts")
            .is_none(),
        "{compose}"
    );
    let agent_json: Value = serde_json::from_str(&f.bundle_text(&t, "agent.json")).unwrap();
    assert_eq!(
        agent_json["vault"]["address"],
        "https://host.containers.internal:22300"
    );
    assert_eq!(
        endpoints(&f),
        [(
            t.clone(),
            "https://host.containers.internal:22300".to_string(),
            format!("{host_ip}:22300")
        )]
    );
    let r = f.report(&["--login"], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
    r.expect("host.first_address", "ok");
    assert_eq!(
        r.detail("host.first_address"),
        format!("first is {host_ip}")
    );
    r.expect(&format!("name.{t}"), "ok");
    r.expect(&format!("login.{t}"), "ok");

    // Another address comes first: the mapping moved with nothing changed.
    f.ns()
        .run_ip(&["addr", "add", &format!("{FIRST_ON_LO}/32"), "dev", "lo"]);
    let r = f.report(&[], 0);
    assert_eq!(r.status(), "warn", "{}", r.out);
    assert_eq!(r.leaves("warn"), ["host.first_address"], "{}", r.out);
    assert_eq!(
        r.expect_hint("host.first_address", "warn", &[]),
        format!(
            "tenants' containers now reach {FIRST_ON_LO} by `host.containers.internal`: make {host_ip} the first address again, or move the site there with `vaultnet init --host-ip {FIRST_ON_LO}` and reinstall the forwarder"
        )
    );
    assert_eq!(
        r.detail("host.first_address"),
        format!("the first IPv4 address is {FIRST_ON_LO} now")
    );
    f.ns()
        .run_ip(&["addr", "del", &format!("{FIRST_ON_LO}/32"), "dev", "lo"]);
    let r = f.report(&[], 0);
    assert_eq!(r.status(), "ok", "{}", r.out);
}

#[test]
fn l2_init_proposes_the_first_ipv4_address_where_podman_points_its_name() {
    require_e2e!("runs init in a network namespace");
    // A host namespace with no default route: l1 would have no address
    // to propose; l2 takes the first non-loopback IPv4 address.
    let f = Fixture::host("vnl2i").build();
    let init = |extra: &[&str]| {
        let mut c = f.vaultnet_without_token();
        c.args(["init", "--yes", "--profile", "l2", "--timeout", "1"])
            .arg("--vault-listen")
            .arg(f.vault_addr().to_string())
            .args(extra);
        c
    };
    init(&[]).run().expect(crate::support::init::first_init(&f));
    assert_eq!(f.state()["site"]["host_ip"], f.host_ip().to_string());
    // Another address first: that is what Podman would resolve, and what
    // a new site proposes.
    f.ns()
        .run_ip(&["addr", "add", &format!("{FIRST_ON_LO}/32"), "dev", "lo"]);
    std::fs::remove_dir_all(f.dir()).unwrap();
    // Not compared whole: the report is the first one's with the new
    // address, which the state shows below.
    let out = init(&[]).run();
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(f.state()["site"]["host_ip"], FIRST_ON_LO);
}

#[test]
fn switching_to_r7_and_back_reports_the_ingress_interface_and_retires_the_sysctl_file() {
    use crate::support::init::init_stdout;
    let f = Fixture::builder().init().build();
    f.init()
        .args(["--profile", "r7", "--ingress-interface", "eth1"])
        .run()
        .expect(f.expect(0).stdout(init_stdout(&f, 6, KEPT_PKI, "socat")).stderr(format!(
            "setting profile: l1 -> r7\nsetting ingress-interface: (none) -> eth1\n{}wrote `vaultnet.yaml`\nupdated `forwarder/vaultnet.nft`\nwrote `forwarder/vaultnet-route-localnet.conf`\nremoved `forwarder/vaultnet-forwarder.service` (socat is no longer the forwarder)\n",
            kept_certificates(&f)
        )));
    assert_eq!(
        std::fs::read_to_string(f.path("forwarder/vaultnet-route-localnet.conf"))
            .unwrap()
            .lines()
            .last(),
        Some("net.ipv4.conf.eth1.route_localnet = 1")
    );
    // Back to l1: the interface is dropped, the sysctl file retired.
    f.init()
        .args(["--profile", "l1"])
        .run()
        .expect(f.expect(0).stdout(init_stdout(&f, 6, KEPT_PKI, "socat")).stderr(format!(
            "setting profile: r7 -> l1\nsetting ingress-interface: eth1 -> (none)\n{}wrote `vaultnet.yaml`\nwrote `forwarder/vaultnet-forwarder.service`\nupdated `forwarder/vaultnet.nft`\nremoved `forwarder/vaultnet-route-localnet.conf` (no DNAT entry admits remote clients any more; set the interface's route_localnet back to 0)\n",
            kept_certificates(&f)
        )));
    assert!(!f.path("forwarder/vaultnet-route-localnet.conf").exists());
}
