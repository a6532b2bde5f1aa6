//! The tenant bundle under real rootless Podman, as the tenant, end to end
//! (gated by `VAULTNET_E2E=1`; needs root and the packages `scripts/deps`
//! installs). A network namespace plays the host: OpenBao on its loopback
//! with the listener `vaultnet init` wrote, the socat forwarder from the
//! generated unit on the namespace's veth address, `init` bootstrapping
//! AppRole and KV v2, and `add-user --install` for two throw-away Unix users
//! whose rootless Podman (runc, slirp4netns) is started from inside that
//! namespace. The first tenant runs the lines of its installed bundle's
//! README ("Try the example app") as written: the bundle's `app.yaml`
//! copied into a folder of its own and `podman-compose -f app.yaml -f
//! <installed bundle>/compose.yaml up --exit-code-from app`: the agent
//! sidecar (image imported from the pinned `bao` binary) logs in through
//! the forwarder with mTLS and AppRole and renders the secret the operator
//! wrote; the example app (busybox, imported under the example's image
//! name) reads it through `$APP_SECRET_FILE` and prints its mode (0400)
//! and digest. Both containers are inspected — read-only root, no
//! capabilities, `no_new_privs` — and the agent's live process read from
//! the host's `/proc`. The
//! second tenant's container, logged in with its own bundle, is denied the
//! first tenant's secret; a container without the client certificate gets
//! no answer from Vault; and the nft gate `add-user` wrote closes the
//! slirp4netns `allow_host_loopback` path to Vault's own port, which is
//! open before the gate is loaded. Users, storage, processes and the
//! namespace are removed at the end whatever happens.
//!
//! The test runs in two variants that share every step ([`Variant`]):
//! this machine's Podman 4.3 with slirp4netns, and Podman 5.4 with pasta
//! in the Debian 13 tree (`support::tree`), where `vaultnet add-user` runs
//! too (it asks the tenants' own Podman) and the tenants are users of the
//! tree. Under pasta the bundle maps the name to `host-gateway`, the
//! loopback bypass is pasta's `--map-gw` (the container's gateway is the
//! host's loopback), and a user of the tree who is no tenant is refused at
//! the forwarder port: pasta's host-side sockets are the user's, which is
//! what the per-uid gate sees.
//!
//! In both variants `vaultnet doctor --user NAME --probe` runs as root
//! where the tenants' Podman is (in the tree for pasta) and passes for the
//! first tenant: its own container, with its bundle's mapping and
//! certificate, gets Vault's answer through the forwarder. Under pasta, once
//! `add-user --host-mapping ip` forces the host address on that tenant, the
//! probe fails, names the cause (the host address is the container's own)
//! and gives `--host-mapping host-gateway` as the fix.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cmd::Output;
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::podman::{
    self, AGENT_IMAGE, APP_IMAGE, BAO_IN_APP, Kit, PodmanTenant, markers,
};
use crate::support::tenant::{created, next_each, readme_block, totals};
use crate::support::tree::{self, Tree};
use crate::support::{require_e2e, wait_for, write_private};

const DNS_NAME: &str = "vault.lan";
const PORT: u16 = 22300;
/// The compose project (the project directory's name).
pub(crate) const PROJECT: &str = "vnapp";

/// Phase timings, printed as the test goes (CI time matters: 2 cores).
struct Clock {
    start: Instant,
    last: Instant,
}

impl Clock {
    fn start() -> Clock {
        let now = Instant::now();
        Clock {
            start: now,
            last: now,
        }
    }

    fn lap(&mut self, what: &str) {
        let now = Instant::now();
        eprintln!(
            "[podman e2e] {what}: {:.1} s (total {:.1} s)",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }
}

/// The app stand-in's compose file. It waits for the agent to render the
/// secret, then prints `VN_*` markers: the secret (read through
/// `$APP_SECRET_FILE`), its mode, its own capabilities and `no_new_privs`,
/// whether `/` and the secrets volume are writable, and whether the secret
/// leaked into its environment. `$$` is compose's escape for `$`.
pub(crate) fn app_yaml() -> String {
    format!(
        r#"# The tenant's own project: an app that reads its secret from a file.
services:
  app:
    image: {APP_IMAGE}
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    command:
      - /bin/sh
      - -c
      - |
        f="$$APP_SECRET_FILE"
        i=0
        while [ ! -s "$$f" ]; do
          i=$$((i + 1))
          if [ "$$i" -gt 600 ]; then echo "VN_ERROR=nothing at '$$f' after 60 s"; exit 3; fi
          sleep 0.1
        done
        echo "VN_FILE=$$f"
        echo "VN_SECRET=$$(cat "$$f")"
        echo "VN_MODE=$$(stat -c %a "$$f")"
        grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status | sed -e 's/^/VN_/' -e 's/:[[:space:]]*/=/'
        if touch /vaultnet-probe 2>/dev/null; then echo VN_ROOT_WRITABLE=yes; else echo VN_ROOT_WRITABLE=no; fi
        if touch "$$(dirname "$$f")/probe" 2>/dev/null; then echo VN_SECRETS_WRITABLE=yes; else echo VN_SECRETS_WRITABLE=no; fi
        if env | grep -qF "$$(cat "$$f")"; then echo VN_SECRET_IN_ENV=yes; else echo VN_SECRET_IN_ENV=no; fi
        echo VN_DONE
"#
    )
}

/// Logs in with the bundle mounted at `/vaultnet` (AppRole over mTLS),
/// then reads `$1` (its own secret) and `$2` (another tenant's).
pub(crate) const OWN_BUNDLE_SCRIPT: &str = r#"
login=$(bao write -field=token auth/approle/login role_id=@/vaultnet/role_id secret_id=@/vaultnet/secret_id 2>&1)
if [ $? -ne 0 ]; then echo "VN_LOGIN=failed: $(echo "$login" | tr '\n' ' ')"; exit 0; fi
echo VN_LOGIN=ok
export BAO_TOKEN="$login"
out=$(bao read -field=data "$1" 2>&1); echo "VN_OWN_RC=$?"; echo "VN_OWN=$(echo "$out" | tr '\n' ' ')"
out=$(bao read -field=data "$2" 2>&1); echo "VN_OTHER_RC=$?"; echo "VN_OTHER=$(echo "$out" | tr '\n' ' ')"
"#;

/// One request to `$BAO_ADDR` (`sys/health`), with whatever TLS settings
/// the environment gives.
pub(crate) const HEALTH_SCRIPT: &str = r#"
out=$(bao read sys/health 2>&1); echo "VN_RC=$?"; echo "VN_OUT=$(echo "$out" | tr '\n' ' ')"
"#;

/// `podman run` of the app image as `tenant`, hardened like the app, with
/// the kit's `bao` binary mounted, running `script` under `sh -c`.
#[track_caller]
pub(crate) fn probe_container(
    tenant: &PodmanTenant,
    kit: &Kit,
    options: &[String],
    script: &str,
    args: &[&str],
) -> Output {
    let mut c = tenant.podman([
        "run",
        "--rm",
        "--read-only",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
    ]);
    c.arg(format!("--volume={}:{BAO_IN_APP}:ro", kit.bao.display()))
        .args(options)
        .arg(APP_IMAGE)
        .args(["/bin/sh", "-c", script, "sh"])
        .args(args);
    c.run()
}

/// Why Podman's own stderr is not compared: its warnings depend on the
/// host (cgroup manager, storage driver, user namespaces).
pub(crate) const PODMAN: &str = "podman's warnings depend on this host's setup";

/// Why a probe container's stdout is not compared whole: the test reads
/// the `VN_KEY=value` markers it prints.
pub(crate) const PROBE: &str = "the probe's VN_ markers are read one by one";

/// Markers of a run that must have exited 0.
#[track_caller]
pub(crate) fn run_markers(out: Output) -> (Output, std::collections::BTreeMap<String, String>) {
    let out = out.expect(Expect::success().stdout_any(PROBE).stderr_any(PODMAN));
    eprintln!("{out}");
    let m = markers(&format!("{}\n{}", out.stdout, out.stderr));
    (out, m)
}

#[track_caller]
pub(crate) fn marker<'a>(
    m: &'a std::collections::BTreeMap<String, String>,
    key: &str,
    out: &Output,
) -> &'a str {
    m.get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no VN_{key}= in the container's output\n{out}"))
}

/// The SHA-256 of `value`, in hex, from `sha256sum` (the secret on its
/// stdin, never in an argument).
pub(crate) fn sha256_hex(value: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    child
        .stdin
        .take()
        .expect("sha256sum's stdin")
        .write_all(value.as_bytes())
        .expect("write to sha256sum");
    let out = child.wait_with_output().expect("sha256sum's output");
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a digest")
        .to_string()
}

/// A fresh secret value, distinctive in any output.
pub(crate) fn secret_value(who: &str) -> String {
    format!("{who}-s3cret-{:016x}", rand::random::<u64>())
}

/// Runs `doctor --user NAME --probe --output json` with `cmd` (vaultnet
/// where the tenant's Podman is), expects exit `code`, and returns the
/// `probe.NAME` check. Why the report is not compared whole:
/// `support::doctor::REPORT_NOT_COMPARED`; the probe's check is compared
/// field by field by the caller.
#[track_caller]
fn probe_check(mut cmd: crate::support::cmd::Cmd, name: &str, code: i32) -> Value {
    let out = cmd
        .env("LC_ALL", "C.UTF-8")
        .args(["doctor", "--user", name, "--probe", "--output", "json"])
        .run()
        .expect(Expect::code(code).stdout_any(crate::support::doctor::REPORT_NOT_COMPARED));
    let report = crate::support::doctor::Report::parse(out);
    let check = report.check(&format!("probe.{name}")).clone();
    eprintln!("[podman e2e] probe.{name}: {check}");
    check
}

/// Which Podman and rootless network the tenants have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// This machine's Podman 4.3, slirp4netns.
    Podman4Slirp4netns,
    /// Podman 5.4 in the Debian 13 tree, pasta.
    Podman5Pasta,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Podman4Slirp4netns => "podman 4.3 + slirp4netns",
            Variant::Podman5Pasta => "podman 5.4 + pasta",
        }
    }

    /// The start of `podman --version`.
    fn version_prefix(self) -> &'static str {
        match self {
            Variant::Podman4Slirp4netns => "podman version 4.",
            Variant::Podman5Pasta => "podman version 5.4.",
        }
    }
}

#[test]
fn podman4_slirp4netns_bundle_runs_rootless_as_the_tenant_hardened_and_isolated() {
    require_e2e!("creates Unix users and runs their rootless Podman in a network namespace");
    bundle_runs_rootless(Variant::Podman4Slirp4netns);
}

#[test]
fn podman5_pasta_bundle_runs_rootless_as_the_tenant_hardened_and_isolated() {
    require_e2e!(
        "enters the Debian 13 tree and runs its tenants' rootless Podman 5 in a network namespace"
    );
    tree::require_tree();
    bundle_runs_rootless(Variant::Podman5Pasta);
}

fn bundle_runs_rootless(v: Variant) {
    podman::require_tools();
    let mut clock = Clock::start();
    podman::ensure_tun_usable();
    let kit = Kit::build();
    clock.lap("kit (image tarballs, podman-compose for tenants)");

    // The host: init, OpenBao, bootstrap, forwarder.
    let pasta = v == Variant::Podman5Pasta;
    let site = Fixture::host(if pasta { "vnpst" } else { "vnpod" })
        .init_args(["--flavor", "openbao", "--agent-image", AGENT_IMAGE])
        .openbao()
        .forwarder()
        .build();
    let host = site.ns();
    let token = site.scratch().join("operator-token");
    write_private(&token, &site.bao().root_token);
    clock.lap("host (init, OpenBao, bootstrap, socat forwarder)");
    // Podman 5's tenants live in the tree, entered in the host namespace
    // (which pasta needs a default route in).
    let tree = pasta.then(|| {
        host.add_default_route();
        let t = Tree::enter(host.name());
        clock.lap("Debian 13 tree entered");
        t
    });

    // Two tenants: Unix users with rootless Podman, bundles installed. In
    // the tree, bob's own containers.conf chooses slirp4netns: one
    // `add-user` run, with no flag, gives alice (pasta) `host-gateway` and
    // bob (slirp4netns) the host address, what works for each.
    let tag = std::process::id();
    let tenant_with = |letter: char, conf: &str| {
        let name = format!("vnp{letter}{tag}");
        match &tree {
            None => PodmanTenant::create(&name, host.name()),
            Some(t) => PodmanTenant::create_in(t, &name, conf),
        }
    };
    let tenant = |letter: char| tenant_with(letter, "");
    let alice = tenant('a');
    let bob = tenant_with(
        'b',
        "[network]\ndefault_rootless_network_cmd = \"slirp4netns\"\n",
    );
    let vaultnet = || {
        let mut c = site.vaultnet_without_token();
        if let Some(t) = &tree {
            c.within(t.launcher());
        }
        c
    };
    vaultnet()
        .args([
            "add-user",
            &alice.name,
            &bob.name,
            "--install",
            "--token-file",
        ])
        .arg(&token)
        .run()
        .expect({
            let dir = |t: &PodmanTenant| t.home.join(".config/vaultnet");
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
                .map(|t| {
                    format!(
                        "{}{}: installed into `{}`\n",
                        created(&t.name),
                        t.name,
                        dir(t).display()
                    )
                })
                .concat();
            site.expect(0)
                .stdout(format!("{added}{}{}", next_each(&alice.name), totals(2, 0, 0, 0)))
                .stderr(format!("{created}{}", site.gate_line()))
        });
    let bundle_a = alice.home.join(".config/vaultnet");
    let bundle_b = bob.home.join(".config/vaultnet");
    let compose_a = std::fs::read_to_string(bundle_a.join("compose.yaml"))
        .expect("add-user --install put compose.yaml in the tenant's home");
    assert!(
        compose_a.contains(&format!("${{VAULTNET_BUNDLE:-{}}}", bundle_a.display())),
        "the installed compose.yaml does not default to its own folder:\n{compose_a}"
    );
    let secret_a = secret_value("alice");
    let secret_b = secret_value("bob");
    let path_a = format!("secret/data/tenants/{}/app", alice.name);
    let path_b = format!("secret/data/tenants/{}/app", bob.name);
    site.write_secret(&alice.name, &secret_a);
    site.write_secret(&bob.name, &secret_b);
    clock.lap("tenants (useradd, add-user --install, secrets)");

    let version = alice
        .podman(["--version"])
        .run()
        .expect(Expect::success().stdout_any("the version this host has"));
    eprintln!("[podman e2e] {}: {}", v.name(), version.stdout.trim());
    assert!(
        version.stdout.starts_with(v.version_prefix()),
        "expected {}\n{version}",
        v.name()
    );
    alice.import(&kit.bao_tar, AGENT_IMAGE);
    bob.import(&kit.app_tar, APP_IMAGE);
    clock.lap("images (podman import per tenant)");

    // doctor's probe, from alice's own network: a container of the agent
    // image, as alice, with her bundle's mapping and certificate, reaches
    // Vault through the forwarder over mutual TLS.
    let podman_version = version.stdout.split_whitespace().last().unwrap_or_default();
    let (backend_a, mapping_a) = match v {
        Variant::Podman4Slirp4netns => ("slirp4netns", "ip"),
        Variant::Podman5Pasta => ("pasta", "host-gateway"),
    };
    let target_a = if pasta {
        "host-gateway".to_string()
    } else {
        site.host_ip().to_string()
    };
    let probe = probe_check(vaultnet(), &alice.name, 0);
    let seen = format!("{backend_a} (Podman {podman_version}), `--add-host {DNS_NAME}:{target_a}`");
    assert_eq!(probe["status"], "ok", "{probe}");
    assert_eq!(
        probe["title"],
        format!("tenant `{}`: Vault from its own containers", alice.name)
    );
    let detail = probe["detail"].as_str().unwrap_or_default();
    let answered =
        format!("{seen}: Vault answered `sys/health` over mutual TLS through the forwarder (bao ");
    assert!(
        detail.starts_with(&answered) && detail.ends_with(", active)"),
        "expected {answered:?}…\n{probe}"
    );
    assert_eq!(
        probe["network"],
        serde_json::json!({
            "backend": backend_a,
            "podman": podman_version,
            "mapping": mapping_a,
            "extra_host": format!("{DNS_NAME}:{target_a}"),
        })
    );
    assert!(probe.get("hint").is_none(), "{probe}");
    clock.lap("doctor --probe from alice's network");

    // What each bundle says about reaching Vault: the mapping its
    // tenant's own Podman needs, recorded with the reason.
    let extra_host_of = |bundle: &std::path::Path| -> String {
        let compose: Value = serde_saphyr::from_str(
            &std::fs::read_to_string(bundle.join("compose.yaml")).expect("compose.yaml"),
        )
        .expect("compose.yaml parses");
        compose["services"]["vault-agent"]["extra_hosts"][0]
            .as_str()
            .expect("extra_hosts in compose.yaml")
            .to_string()
    };
    let extra_host = extra_host_of(&bundle_b);
    let extra_host_a = extra_host_of(&bundle_a);
    let host_ip = site.host_ip().to_string();
    assert_eq!(extra_host_a, format!("{DNS_NAME}:{target_a}"));
    assert_eq!(extra_host, format!("{DNS_NAME}:{host_ip}"));
    let listed = vaultnet()
        .args(["list", "--output", "json"])
        .run()
        .expect(Expect::success().stdout_any("read field by field below: versions and paths vary"));
    let rows: Value = serde_json::from_str(&listed.stdout).expect("list JSON");
    let net = |name: &str| {
        rows["tenants"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["name"] == name))
            .map(|r| r["network"].clone())
            .unwrap_or_else(|| panic!("no {name} in\n{listed}"))
    };
    let (net_a, net_b) = (net(&alice.name), net(&bob.name));
    for (n, backend, mapping) in [
        (&net_a, backend_a, if pasta { "host-gateway" } else { "ip" }),
        (&net_b, "slirp4netns", "ip"),
    ] {
        assert_eq!(n["mapping"], mapping, "{listed}");
        assert_eq!(n["backend"], backend, "{listed}");
        assert_eq!(n["podman"], podman_version, "{listed}");
        assert_eq!(n["source"], "detected", "{listed}");
    }
    let agent_b: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle_b.join("agent.json")).expect("bob's agent.json"),
    )
    .expect("bob's agent.json parses");
    let vault_url = agent_b["vault"]["address"]
        .as_str()
        .expect("vault.address in agent.json")
        .to_string();
    assert_eq!(vault_url, format!("https://{DNS_NAME}:{PORT}"));

    // The hole the nft gate closes: with `allow_host_loopback`, a tenant's
    // slirp4netns reaches the host's loopback as 10.0.2.2, Vault's own
    // port included; pasta's `--map-gw` makes the container's gateway the
    // host's loopback. Before the gate is loaded, that works.
    let (loopback_net, loopback_addr) = match v {
        Variant::Podman4Slirp4netns => (
            "--network=slirp4netns:allow_host_loopback=true".to_string(),
            "10.0.2.2".to_string(),
        ),
        Variant::Podman5Pasta => (
            "--network=pasta:--map-gw".to_string(),
            host.default_gateway().to_string(),
        ),
    };
    let bypass = |expect_open: bool| {
        let out = probe_container(
            &bob,
            &kit,
            &[
                loopback_net.clone(),
                format!("--volume={}:/vaultnet:ro", bundle_b.display()),
                format!(
                    "--env=BAO_ADDR=https://{loopback_addr}:{}",
                    site.vault_addr().port()
                ),
                "--env=BAO_TLS_SERVER_NAME=localhost".into(),
                "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
                "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
                "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
            ],
            HEALTH_SCRIPT,
            &[],
        );
        let (out, m) = run_markers(out);
        let rc = marker(&m, "RC", &out);
        let text = marker(&m, "OUT", &out);
        if expect_open {
            assert!(
                rc == "0" && text.contains("initialized"),
                "expected Vault's loopback port to answer over the rootless network's host \
                 loopback before the nft gate is loaded\n{out}"
            );
        } else {
            assert!(
                rc != "0"
                    && (text.contains("connection reset") || text.contains("connection refused")),
                "the nft gate did not stop a tenant reaching Vault's loopback port\n{out}"
            );
        }
    };
    bypass(true);
    let nft = site.path("forwarder/vaultnet.nft");
    let out = host.exec(Command::new("nft").arg("-f").arg(&nft));
    assert!(
        out.status.success(),
        "nft -f {} failed: {}",
        nft.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    clock.lap("loopback bypass open, nft gate loaded");

    // Alice's project, as her installed bundle's README says: its example
    // app copied into a folder of her own and started with the bundle's
    // override, the README's lines run as written (podman-compose on her
    // PATH; the example's image imported under its name, never pulled).
    // When the app exits, podman-compose SIGTERMs the `podman start -a`
    // client of the sidecar; the agent ends on the signal and the bundle's
    // `restart: on-failure` makes Podman restart it, so compose waits 10 s,
    // kills its client and returns with the agent still running (Podman
    // 4.3, podman-compose 1.6). That costs 10 s here and leaves the agent
    // up for the checks below.
    let readme = std::fs::read_to_string(bundle_a.join("README.md")).expect("alice's README");
    let steps = readme_block(&readme, "## Try the example app");
    let example: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(bundle_a.join("app.yaml")).expect("the example app.yaml"),
    )
    .expect("app.yaml parses");
    let example_image = example["services"]["app"]["image"]
        .as_str()
        .expect("the example's image");
    alice.import(&kit.app_tar, example_image);
    let compose_dir = kit.compose.parent().expect("the kit's folder");
    let mut up = alice.cmd("sh");
    up.arg("-ec").arg(format!(
        "export PATH={}:$PATH\n{steps}",
        compose_dir.display()
    ));
    let out = up.run();
    if out.code != Some(0) {
        let logs = alice.podman(["ps", "-a"]).run();
        panic!("the README's example failed\n{out}\n{logs}");
    }
    // Shown with --nocapture (and by cargo when the test fails).
    eprintln!("{out}");
    let said: Vec<String> = format!("{}\n{}", out.stdout, out.stderr)
        .lines()
        .filter_map(|l| l.find("app: ").map(|i| l[i..].trim_end().to_string()))
        .collect();
    assert_eq!(
        said,
        [
            format!(
                "app: /secrets/app: mode 400, sha256 {}",
                sha256_hex(&secret_a)
            ),
            "app: done".to_string(),
        ],
        "the example app did not read what the operator wrote\n{out}"
    );
    assert!(
        !out.stdout.contains(&secret_a) && !out.stderr.contains(&secret_a),
        "the secret reached the project's output\n{out}"
    );
    clock.lap("podman-compose up: agent rendered, app read it");

    // The agent container as Podman configured it …
    let names = alice
        .podman(["ps", "-a", "--format", "{{.Names}}"])
        .run()
        .expect(
            Expect::success()
                .stdout_any("container names podman-compose chose")
                .stderr_any(PODMAN),
        );
    eprintln!("{}", alice.podman(["ps", "-a"]).run());
    let agent = names
        .stdout
        .lines()
        .find(|n| n.contains("vault-agent"))
        .unwrap_or_else(|| panic!("no agent container\n{names}"))
        .to_string();
    // The example app as Podman ran it: read-only root, no capabilities,
    // no_new_privs (what its `app.yaml` asks for).
    let app = names
        .stdout
        .lines()
        .find(|n| n.contains("_app_"))
        .unwrap_or_else(|| panic!("no app container\n{names}"))
        .to_string();
    let app_info = alice.podman(["inspect", &app]).run().expect(
        Expect::success()
            .stdout_any("podman's JSON, read field by field below")
            .stderr_any(PODMAN),
    );
    let app_info: Value = serde_json::from_str(&app_info.stdout).expect("podman inspect JSON");
    let app_info = &app_info[0];
    assert_eq!(app_info["HostConfig"]["ReadonlyRootfs"], true, "{app_info}");
    let app_caps = &app_info["EffectiveCaps"];
    assert!(
        app_caps.is_null() || app_caps.as_array().is_some_and(|c| c.is_empty()),
        "app EffectiveCaps: {app_caps}"
    );
    assert!(
        app_info["HostConfig"]["SecurityOpt"]
            .to_string()
            .contains("no-new-privileges"),
        "{app_info}"
    );
    let inspect = alice.podman(["inspect", &agent]).run().expect(
        Expect::success()
            .stdout_any("podman's JSON, read field by field below")
            .stderr_any(PODMAN),
    );
    let info: Value = serde_json::from_str(&inspect.stdout).expect("podman inspect JSON");
    let info = &info[0];
    eprintln!(
        "agent: ReadonlyRootfs={} EffectiveCaps={} BoundingCaps={} CapAdd={} CapDrop={} SecurityOpt={} User={}",
        info["HostConfig"]["ReadonlyRootfs"],
        info["EffectiveCaps"],
        info["BoundingCaps"],
        info["HostConfig"]["CapAdd"],
        info["HostConfig"]["CapDrop"],
        info["HostConfig"]["SecurityOpt"],
        info["Config"]["User"],
    );
    assert_eq!(
        info["HostConfig"]["ReadonlyRootfs"], true,
        "agent root fs\n{inspect}"
    );
    // Podman reports no capability set as `null`; a missing key would
    // make the check vacuous.
    for key in ["EffectiveCaps", "BoundingCaps"] {
        let caps = info
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in podman inspect\n{inspect}"));
        assert!(
            caps.is_null() || caps.as_array().is_some_and(|c| c.is_empty()),
            "agent {key}: {caps}"
        );
    }
    assert!(
        info["HostConfig"]["CapAdd"]
            .as_array()
            .is_none_or(|caps| caps.is_empty()),
        "agent added capabilities: {}",
        info["HostConfig"]["CapAdd"]
    );
    // Podman lists what `cap_drop: [ALL]` took from its default set;
    // Podman 5's default set no longer has CAP_NET_RAW to take.
    let dropped = info["HostConfig"]["CapDrop"].to_string();
    let mut caps = vec!["CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SYS_CHROOT"];
    if v == Variant::Podman4Slirp4netns {
        caps.push("CAP_NET_RAW");
    }
    for cap in caps {
        assert!(
            dropped.contains(cap),
            "agent CapDrop lacks {cap}: {dropped}"
        );
    }
    let security = info["HostConfig"]["SecurityOpt"].to_string();
    assert!(
        security.contains("no-new-privileges"),
        "agent SecurityOpt: {security}"
    );
    let bundle_mount = info["Mounts"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["Destination"] == "/vaultnet"))
        .unwrap_or_else(|| panic!("no /vaultnet mount on the agent\n{inspect}"));
    assert_eq!(bundle_mount["RW"], false, "bundle mount: {bundle_mount}");
    assert_eq!(
        bundle_mount["Source"],
        bundle_a.display().to_string(),
        "the bundle mounted is not the installed one"
    );

    // … and its live process, seen from the host: running as the tenant's
    // own uid (container root is the tenant), no capabilities,
    // no_new_privs, read-only root. (`start` is a no-op if it still runs.)
    alice.podman(["start", &agent]).run().expect(
        Expect::success()
            .stdout_any("podman names the container only if it was stopped")
            .stderr_any(PODMAN),
    );
    let pid: u32 = wait_for(
        "the agent container to run",
        Duration::from_secs(20),
        Duration::from_millis(100),
        || {
            let out = alice
                .podman(["inspect", "--format", "{{.State.Pid}}", &agent])
                .run();
            match out.stdout.trim().parse::<u32>() {
                Ok(p) if p > 0 => Ok(p),
                _ => Err(format!("{out}")),
            }
        },
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("agent pid {pid}: {e}"));
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status:\n{status}"))
            .to_string()
    };
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).starts_with("/bin/bao\0agent"),
        "pid {pid} is not the agent: {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    assert_eq!(
        field("Uid:").split_whitespace().next(),
        Some(alice.uid.to_string().as_str()),
        "the agent does not run as the tenant's uid\n{status}"
    );
    assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
    assert_eq!(field("NoNewPrivs:"), "1", "{status}");
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let root_opts = mountinfo
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .rfind(|f| f.len() > 5 && f[4] == "/")
        .map(|f| f[5].to_string())
        .unwrap_or_else(|| panic!("no root mount for pid {pid}:\n{mountinfo}"));
    assert!(
        root_opts.split(',').any(|o| o == "ro"),
        "agent root mount options: {root_opts}"
    );
    alice.podman(["stop", "--time", "2", &agent]).run().expect(
        Expect::success()
            .stdout(format!("{agent}\n"))
            .stderr_any(PODMAN),
    );
    clock.lap("agent container inspected and its process checked");

    // Isolation: bob, logged in with his own bundle, reads his secret but
    // is denied alice's.
    let with_bundle = |bundle: &std::path::Path, extra_host: &str| -> Vec<String> {
        vec![
            format!("--add-host={extra_host}"),
            format!("--volume={}:/vaultnet:ro", bundle.display()),
            format!("--env=BAO_ADDR={vault_url}"),
            "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
            "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
            "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
        ]
    };
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle(&bundle_b, &extra_host),
        OWN_BUNDLE_SCRIPT,
        &[&path_b, &path_a],
    ));
    assert_eq!(marker(&m, "LOGIN", &out), "ok", "{out}");
    assert_eq!(marker(&m, "OWN_RC", &out), "0", "{out}");
    assert!(marker(&m, "OWN", &out).contains(&secret_b), "{out}");
    assert_ne!(marker(&m, "OTHER_RC", &out), "0", "{out}");
    assert!(
        marker(&m, "OTHER", &out).contains("permission denied"),
        "{out}"
    );
    assert!(
        !out.stdout.contains(&secret_a) && !out.stderr.contains(&secret_a),
        "bob's container saw alice's secret\n{out}"
    );

    // A container with only the CA, no client certificate: no answer.
    let ca_b = bundle_b.join("ca.pem");
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &[
            format!("--add-host={extra_host}"),
            format!("--volume={}:/ca.pem:ro", ca_b.display()),
            format!("--env=BAO_ADDR={vault_url}"),
            "--env=BAO_CACERT=/ca.pem".into(),
        ],
        HEALTH_SCRIPT,
        &[],
    ));
    // No HTTP answer at all. With TLS 1.3 the refusal reaches the client
    // at its first read, so Go reports it as the server's alert
    // ("certificate required") or, when HTTP/2 set-up read it first, as
    // "http2: client conn could not be established"; when socat closes
    // both halves as soon as Vault closes its side, the alert can be lost
    // and the client sees "unexpected EOF" during the handshake. Bob's
    // request above took the same path with a certificate and got its
    // answer, so the network is not what failed.
    let text = marker(&m, "OUT", &out);
    assert_ne!(marker(&m, "RC", &out), "0", "{out}");
    assert!(
        !text.contains("Code: ") && !text.contains("initialized"),
        "Vault answered a client without a certificate\n{out}"
    );
    assert!(
        [
            "certificate required",
            "bad certificate",
            "handshake failure",
            "client conn could not be established",
            "unexpected EOF",
        ]
        .iter()
        .any(|e| text.contains(e)),
        "expected a TLS refusal without a client certificate\n{out}"
    );

    // The gate now refuses the loopback path.
    bypass(false);

    // … and the forwarder port to a user who is no tenant, even holding a
    // tenant's certificate: under pasta as under slirp4netns the host-side
    // socket is the user's own, so the per-uid allowlist sees who asks.
    let stranger = tenant('c');
    stranger.import(&kit.app_tar, APP_IMAGE);
    for f in ["ca.pem", "client.pem", "client-key.pem"] {
        let text = std::fs::read_to_string(bundle_b.join(f)).expect("bob's bundle file");
        stranger.write_file(&format!("creds/{f}"), &text, 0o600);
    }
    let (out, m) = run_markers(probe_container(
        &stranger,
        &kit,
        // The stranger's Podman is the tenants' default: alice's mapping.
        &with_bundle(&stranger.home.join("creds"), &extra_host_a),
        HEALTH_SCRIPT,
        &[],
    ));
    let text = marker(&m, "OUT", &out);
    assert_ne!(marker(&m, "RC", &out), "0", "{out}");
    assert!(
        !text.contains("initialized")
            && ["connection reset", "connection refused", "EOF"]
                .iter()
                .any(|e| text.contains(e)),
        "the gate let a user who is no tenant reach the forwarder\n{out}"
    );
    clock.lap(
        "isolation (other tenant denied, no certificate refused, loopback and strangers gated)",
    );

    // Under pasta, alice's bundle forced to the host address cannot work:
    // the probe fails and names the cause and the mapping that works.
    if pasta {
        vaultnet()
            .args([
                "add-user",
                &alice.name,
                "--host-mapping",
                "ip",
                "--token-file",
            ])
            .arg(&token)
            .run()
            .expect(
                Expect::success()
                    .stdout_any("add-user's report is compared in the tests of add-user")
                    .stderr_any("add-user's progress is compared in the tests of add-user"),
            );
        let probe = probe_check(vaultnet(), &alice.name, 1);
        assert_eq!(probe["status"], "fail", "{probe}");
        let seen = format!("pasta (Podman {podman_version}), `--add-host {DNS_NAME}:{host_ip}`");
        let detail = probe["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("{seen}: no answer from Vault: "))
                && detail.contains("connection refused")
                && detail.ends_with(&format!(
                    " — under pasta the host address {host_ip} is the container's own address"
                )),
            "{probe}"
        );
        assert_eq!(
            probe["hint"],
            format!(
                "`vaultnet add-user {n} --host-mapping host-gateway`, then restart `{n}`'s containers",
                n = alice.name
            )
        );
        assert_eq!(probe["network"]["mapping"], "ip", "{probe}");
        assert_eq!(probe["network"]["backend"], "pasta", "{probe}");
        clock.lap("doctor --probe names a host-address mapping under pasta");
    }
}

/// Podman 5.4's own Quadlet generator, in the Debian 13 tree, accepts the
/// bundle's `.container` and `.volume` units as the tenant installs them
/// in `~/.config/containers/systemd/` with the lines of its README
/// (`quadlet -dryrun -user`), and makes the agent's service the README
/// starts from them.
#[test]
fn quadlet_units_of_the_bundle_pass_podman_5_dry_run() {
    require_e2e!("enters the Debian 13 tree and adds a Unix user there");
    tree::require_tree();
    let site = Fixture::host("vnpql")
        .init_args(["--flavor", "openbao", "--agent-image", AGENT_IMAGE])
        .openbao()
        .build();
    let tree = Tree::enter(site.ns().name());
    let carol = PodmanTenant::create_in(&tree, &format!("vnpq{}", std::process::id()), "");
    let mut add = site.vaultnet();
    add.within(tree.launcher())
        .args(["add-user", &carol.name, "--install"]);
    add.run().expect(
        Expect::success()
            .stdout_any("add-user's report is compared in the tests of add-user")
            .stderr_any("add-user's progress is compared in the tests of add-user"),
    );
    // The README's install lines, run as written by the tenant; its
    // `systemctl --user` lines need a user session the tree has not, so
    // they are compared, and the service they start is the one Quadlet
    // makes.
    let bundle = carol.home.join(".config/vaultnet");
    let readme = std::fs::read_to_string(bundle.join("README.md")).expect("carol's README");
    let steps = readme_block(
        &readme,
        "## The agent as Quadlet units (instead of compose)",
    );
    let (install, start): (Vec<&str>, Vec<&str>) =
        steps.lines().partition(|l| !l.starts_with("systemctl "));
    assert_eq!(
        start,
        [
            "systemctl --user daemon-reload".to_string(),
            format!("systemctl --user start {}-vault-agent", carol.name),
        ],
        "{readme}"
    );
    carol
        .cmd("sh")
        .arg("-ec")
        .arg(install.join("\n"))
        .run()
        .expect(Expect::success());
    for u in [
        format!("{}-vault-agent.container", carol.name),
        format!("{}-vaultnet-secrets.volume", carol.name),
    ] {
        let installed = carol.home.join(".config/containers/systemd").join(&u);
        assert_eq!(
            std::fs::read_to_string(&installed).expect("a unit the README's lines installed"),
            std::fs::read_to_string(bundle.join(&u)).expect("a Quadlet unit in the bundle"),
            "{u}"
        );
    }
    let out = carol
        .cmd("/usr/libexec/podman/quadlet")
        .args(["-dryrun", "-user"])
        .run()
        .expect(
            Expect::success()
                .stdout_any("the generated units, read below")
                .stderr_any("quadlet logs what it loads; its verdict is the exit code"),
        );
    eprintln!("{out}");
    let service = format!("---{}-vault-agent.service---", carol.name);
    assert!(out.stdout.contains(&service), "no {service}\n{out}");
    let volume = format!("---{}-vaultnet-secrets-volume.service---", carol.name);
    assert!(out.stdout.contains(&volume), "no {volume}\n{out}");
    for want in [
        "ExecReload=/usr/bin/podman kill --signal HUP",
        "--label io.vaultnet.agent=",
        "--read-only",
        "--cap-drop all",
    ] {
        assert!(
            out.stdout.contains(want),
            "no `{want}` in the agent's service\n{out}"
        );
    }
    assert!(
        !out.stderr.to_lowercase().contains("error"),
        "quadlet reported an error\n{out}"
    );
}

/// Pattern L2 with this machine's Podman 4.3 and slirp4netns: the bundles
/// carry no `extra_hosts`, the agent connects to `host.containers.internal`
/// — which Podman points at the host's first non-loopback IPv4 address,
/// where the forwarder listens — and the server certificate names it.
/// Alice's own project renders her secret; bob's container, logged in with
/// his bundle by that name, reads his and is denied hers. Once another
/// address comes first, the name leads there and bob's login fails: the
/// mapping doctor warns about (`patterns::doctor_warns_when_l2s_…`).
#[test]
fn l2_podman4_tenants_reach_vault_as_host_containers_internal_with_no_extra_hosts() {
    require_e2e!("creates Unix users and runs their rootless Podman in a network namespace");
    podman::require_tools();
    podman::ensure_tun_usable();
    let kit = Kit::build();
    let site = Fixture::host("vnl2p")
        .init_args(["--profile", "l2", "--flavor", "openbao"])
        .init_args(["--agent-image", AGENT_IMAGE])
        .openbao()
        .forwarder()
        .build();
    let host = site.ns();
    let token = site.scratch().join("operator-token");
    write_private(&token, &site.bao().root_token);
    let tag = std::process::id();
    let alice = PodmanTenant::create(&format!("vnla{tag}"), host.name());
    let bob = PodmanTenant::create(&format!("vnlb{tag}"), host.name());
    let dir = |t: &PodmanTenant| t.home.join(".config/vaultnet");
    let mut add = site.vaultnet_without_token();
    add.args([
        "add-user",
        &alice.name,
        &bob.name,
        "--install",
        "--token-file",
    ])
    .arg(&token);
    add.run().expect({
        let added: String = [&alice, &bob]
            .map(|t| {
                format!(
                    "added tenant {n}: bundle in tenants/{n}, installed in {} (cert expires [DATE])\n",
                    dir(t).display(),
                    n = t.name
                )
            })
            .concat();
        let made: String = [&alice, &bob]
            .map(|t| {
                format!(
                    "{}{}: installed into `{}`\n",
                    created(&t.name),
                    t.name,
                    dir(t).display()
                )
            })
            .concat();
        site.expect(0)
            .stdout(format!("{added}{}{}", next_each(&alice.name), totals(2, 0, 0, 0)))
            .stderr(format!("{made}{}", site.gate_line()))
    });
    let (bundle_a, bundle_b) = (dir(&alice), dir(&bob));
    for b in [&bundle_a, &bundle_b] {
        let compose: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(b.join("compose.yaml")).unwrap())
                .unwrap();
        assert!(
            compose["services"]["vault-agent"]
                .get("extra_hosts")
                .is_none(),
            "{compose}"
        );
    }
    let agent_b: Value =
        serde_json::from_str(&std::fs::read_to_string(bundle_b.join("agent.json")).unwrap())
            .unwrap();
    let vault_url = format!("https://host.containers.internal:{PORT}");
    assert_eq!(agent_b["vault"]["address"], vault_url.as_str());
    // Each tenant's Podman was asked, and keeps Podman's own name.
    let listed = site
        .vaultnet_without_token()
        .args(["list", "--output", "json"])
        .run()
        .expect(Expect::success().stdout_any("read field by field below: versions vary"));
    let rows: Value = serde_json::from_str(&listed.stdout).unwrap();
    for r in rows["tenants"].as_array().unwrap() {
        assert_eq!(
            r["network"]["mapping"], "host-containers-internal",
            "{listed}"
        );
        assert_eq!(r["network"]["backend"], "slirp4netns", "{listed}");
        assert_eq!(r["network"]["source"], "detected", "{listed}");
        assert_eq!(r["endpoint"]["url"], vault_url.as_str(), "{listed}");
    }
    let secret_a = secret_value("alice");
    let secret_b = secret_value("bob");
    let path_a = format!("secret/data/tenants/{}/app", alice.name);
    let path_b = format!("secret/data/tenants/{}/app", bob.name);
    site.write_secret(&alice.name, &secret_a);
    site.write_secret(&bob.name, &secret_b);
    alice.import(&kit.bao_tar, AGENT_IMAGE);
    alice.import(&kit.app_tar, APP_IMAGE);
    bob.import(&kit.app_tar, APP_IMAGE);
    site.load_nft();

    // What Podman itself tells a container about the host.
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &[],
        "echo \"VN_HOSTS=$(grep -F host.containers.internal /etc/hosts | tr '\\t\\n' '  ')\"",
        &[],
    ));
    assert!(
        marker(&m, "HOSTS", &out).starts_with(&format!("{} ", site.host_ip())),
        "{out}"
    );

    // Alice's project with her installed bundle, unchanged: the agent
    // reaches Vault by Podman's name and renders her secret.
    let project = alice.dir(PROJECT);
    alice.write_file(&format!("{PROJECT}/app.yaml"), &app_yaml(), 0o644);
    let mut up = alice.cmd(&kit.compose);
    up.arg("-f")
        .arg("app.yaml")
        .arg("-f")
        .arg(bundle_a.join("compose.yaml"))
        .args(["up", "--exit-code-from", "app"])
        .current_dir(&project);
    let out = up.run();
    if out.code != Some(0) {
        let logs = alice.podman(["ps", "-a"]).run();
        panic!("podman-compose up failed\n{out}\n{logs}");
    }
    let m = markers(&format!("{}\n{}", out.stdout, out.stderr));
    assert_eq!(marker(&m, "SECRET", &out), secret_a, "{out}");

    // Bob, by the same name with his own bundle: his secret, not hers.
    let with_bundle = vec![
        format!("--volume={}:/vaultnet:ro", bundle_b.display()),
        format!("--env=BAO_ADDR={vault_url}"),
        "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
        "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
        "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
    ];
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle,
        OWN_BUNDLE_SCRIPT,
        &[&path_b, &path_a],
    ));
    assert_eq!(marker(&m, "LOGIN", &out), "ok", "{out}");
    assert!(marker(&m, "OWN", &out).contains(&secret_b), "{out}");
    assert!(
        marker(&m, "OTHER", &out).contains("permission denied"),
        "{out}"
    );
    assert!(!out.stdout.contains(&secret_a), "{out}");

    // Another address first: Podman's name moves there, and the same
    // bundle no longer reaches Vault.
    host.run_ip(&["addr", "add", "192.0.2.7/32", "dev", "lo"]);
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle,
        OWN_BUNDLE_SCRIPT,
        &[&path_b, &path_a],
    ));
    assert!(marker(&m, "LOGIN", &out).starts_with("failed"), "{out}");
    host.run_ip(&["addr", "del", "192.0.2.7/32", "dev", "lo"]);
}

/// Pattern R7 with this machine's Podman 4.3 and slirp4netns: no forwarder
/// runs; a tenant's rootless container connects to the host address, and
/// slirp4netns, connecting from the host's own stack as the tenant, passes
/// the `nat` output hook that DNATs it to Vault's loopback listener. Alice's
/// project renders her secret; bob's container reads his and is denied
/// hers; bob's container straight at Vault's loopback port (slirp4netns
/// `allow_host_loopback`) is refused by the uid gate that runs before NAT.
#[test]
fn r7_podman4_rootless_tenants_reach_vault_through_the_dnat_output_hook() {
    require_e2e!("creates Unix users and runs their rootless Podman in a network namespace");
    rootless_tenants_without_a_forwarder(
        "vnr7p",
        &["--profile", "r7", "--ingress-interface", "vnt0"],
        "7",
        true,
    );
}

/// Pattern R1 with this machine's Podman 4.3 and slirp4netns: no forwarder
/// runs; Vault itself listens on the host address, and a tenant's rootless
/// container reaches it there (slirp4netns connects from the host's own
/// stack as the tenant, whose uid the gate admits on that port). Alice's
/// project renders her secret; bob's container reads his and is denied
/// hers; bob's container at Vault's loopback listener (slirp4netns
/// `allow_host_loopback`), the operator's, is refused by the gate, and let
/// in once the gate is unloaded — the refusal was the gate's.
#[test]
fn r1_podman4_rootless_tenants_reach_vault_on_its_own_listener_at_the_host_address() {
    require_e2e!("creates Unix users and runs their rootless Podman in a network namespace");
    rootless_tenants_without_a_forwarder("vnr1p", &["--profile", "r1"], "1", false);
}

/// The steps of the R7 and R1 tests: a site of `profile` (no forwarder),
/// two rootless tenants (`vn{tag}a…`, `vn{tag}b…`); with `dnat`, the entry
/// exists only while the gate (which holds the DNAT) is loaded.
fn rootless_tenants_without_a_forwarder(prefix: &str, profile: &[&str], tag: &str, dnat: bool) {
    podman::require_tools();
    podman::ensure_tun_usable();
    let kit = Kit::build();
    let site = Fixture::host(prefix)
        .init_args(profile.to_vec())
        .init_args(["--flavor", "openbao", "--agent-image", AGENT_IMAGE])
        .openbao()
        .build();
    let host = site.ns();
    let token = site.scratch().join("operator-token");
    write_private(&token, &site.bao().root_token);
    let pid = std::process::id();
    let alice = PodmanTenant::create(&format!("vn{tag}a{pid}"), host.name());
    let bob = PodmanTenant::create(&format!("vn{tag}b{pid}"), host.name());
    let dir = |t: &PodmanTenant| t.home.join(".config/vaultnet");
    let mut add = site.vaultnet_without_token();
    add.args([
        "add-user",
        &alice.name,
        &bob.name,
        "--install",
        "--token-file",
    ])
    .arg(&token);
    add.run().expect({
        let added: String = [&alice, &bob]
            .map(|t| {
                format!(
                    "added tenant {n}: bundle in tenants/{n}, installed in {} (cert expires [DATE])\n",
                    dir(t).display(),
                    n = t.name
                )
            })
            .concat();
        let made: String = [&alice, &bob]
            .map(|t| {
                format!(
                    "{}{}: installed into `{}`\n",
                    created(&t.name),
                    t.name,
                    dir(t).display()
                )
            })
            .concat();
        site.expect(0)
            .stdout(format!("{added}{}{}", next_each(&alice.name), totals(2, 0, 0, 0)))
            .stderr(format!("{made}{}", site.gate_line()))
    });
    let (bundle_a, bundle_b) = (dir(&alice), dir(&bob));
    let vault_url = format!("https://{DNS_NAME}:{}", site.forwarder_port());
    let extra_host = format!("{DNS_NAME}:{}", site.host_ip());
    let secret_a = secret_value("alice");
    let secret_b = secret_value("bob");
    let path_a = format!("secret/data/tenants/{}/app", alice.name);
    let path_b = format!("secret/data/tenants/{}/app", bob.name);
    site.write_secret(&alice.name, &secret_a);
    site.write_secret(&bob.name, &secret_b);
    alice.import(&kit.bao_tar, AGENT_IMAGE);
    alice.import(&kit.app_tar, APP_IMAGE);
    bob.import(&kit.app_tar, APP_IMAGE);
    // Under R7 the gate holds the DNAT: nothing listens on the entry
    // without it.
    site.load_nft();

    let project = alice.dir(PROJECT);
    alice.write_file(&format!("{PROJECT}/app.yaml"), &app_yaml(), 0o644);
    let mut up = alice.cmd(&kit.compose);
    up.arg("-f")
        .arg("app.yaml")
        .arg("-f")
        .arg(bundle_a.join("compose.yaml"))
        .args(["up", "--exit-code-from", "app"])
        .current_dir(&project);
    let out = up.run();
    if out.code != Some(0) {
        let logs = alice.podman(["ps", "-a"]).run();
        panic!("podman-compose up failed\n{out}\n{logs}");
    }
    let m = markers(&format!("{}\n{}", out.stdout, out.stderr));
    assert_eq!(marker(&m, "SECRET", &out), secret_a, "{out}");

    let with_bundle = vec![
        format!("--add-host={extra_host}"),
        format!("--volume={}:/vaultnet:ro", bundle_b.display()),
        format!("--env=BAO_ADDR={vault_url}"),
        "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
        "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
        "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
    ];
    let (out, m) = run_markers(probe_container(
        &bob,
        &kit,
        &with_bundle,
        OWN_BUNDLE_SCRIPT,
        &[&path_b, &path_a],
    ));
    assert_eq!(marker(&m, "LOGIN", &out), "ok", "{out}");
    assert!(marker(&m, "OWN", &out).contains(&secret_b), "{out}");
    assert!(
        marker(&m, "OTHER", &out).contains("permission denied"),
        "{out}"
    );

    // Straight at Vault's loopback port (the operator's; under R7 where
    // every DNATed connection ends too): refused, because the gate judges
    // the port asked for.
    let bypass = || {
        run_markers(probe_container(
            &bob,
            &kit,
            &[
                "--network=slirp4netns:allow_host_loopback=true".into(),
                format!("--volume={}:/vaultnet:ro", bundle_b.display()),
                format!(
                    "--env=BAO_ADDR=https://10.0.2.2:{}",
                    site.vault_addr().port()
                ),
                "--env=BAO_TLS_SERVER_NAME=localhost".into(),
                "--env=BAO_CACERT=/vaultnet/ca.pem".into(),
                "--env=BAO_CLIENT_CERT=/vaultnet/client.pem".into(),
                "--env=BAO_CLIENT_KEY=/vaultnet/client-key.pem".into(),
            ],
            HEALTH_SCRIPT,
            &[],
        ))
    };
    let (out, m) = bypass();
    let text = marker(&m, "OUT", &out);
    assert!(
        marker(&m, "RC", &out) != "0"
            && (text.contains("connection reset") || text.contains("connection refused")),
        "a tenant's container reached Vault's loopback port past the gate\n{out}"
    );

    site.unload_nft();
    if dnat {
        // Without the gate there is no DNAT: the entry leads nowhere.
        let (out, m) = run_markers(probe_container(
            &bob,
            &kit,
            &with_bundle,
            OWN_BUNDLE_SCRIPT,
            &[&path_b, &path_a],
        ));
        assert!(marker(&m, "LOGIN", &out).starts_with("failed"), "{out}");
    }
    // … and the loopback port is open: the refusal above was the gate's.
    let (out, m) = bypass();
    assert!(
        marker(&m, "RC", &out) == "0" && marker(&m, "OUT", &out).contains("initialized"),
        "{out}"
    );
}
