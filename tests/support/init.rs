//! What `vaultnet init` says, for exact comparisons: [`first_init`],
//! [`unchanged_init`] and [`bootstrap_init`] are the expectations of the
//! runs many tests start with — a site whose Vault is not reachable yet,
//! the same again, and the first run with a token that reaches a real
//! OpenBao — and the smaller pieces they are made of.

use std::path::Path;

use vaultnet::pki::CertInfo;

use super::expect::Expect;
use super::fixture::Fixture;

/// The CA's common name (`vaultnet CA <host> <random>`), as `init` names
/// it; a placeholder when there is no CA, so the diff shows the run.
pub fn ca_name(f: &Fixture) -> String {
    ca_name_of(&f.path("pki/ca.pem"))
}

/// [`ca_name`] of the next CA (`pki/next-ca.pem`).
pub fn next_ca_name(f: &Fixture) -> String {
    ca_name_of(&f.path("pki/next-ca.pem"))
}

/// The line `init` prints of a next CA it created.
pub fn created_next_ca(f: &Fixture) -> String {
    format!(
        "created next CA `pki/next-ca.pem` ({}, expires [DATE]), trusted from now on so `vaultnet renew --rotate-ca` can switch to it\n",
        next_ca_name(f)
    )
}

/// How many things a run that keeps the PKI keeps: the CA, the next CA,
/// the server and the operator certificates.
pub const KEPT_PKI: u32 = 4;

/// [`ca_name`] of the CA certificate at `path`.
pub fn ca_name_of(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|pem| CertInfo::parse(&pem).ok())
        .and_then(|c| c.common_name)
        .unwrap_or_else(|| "<no CA in pki/ca.pem>".into())
}

/// How `init` tells the operator to install each forwarder, from the
/// state directory.
pub fn install_steps(forwarder: &str) -> &'static str {
    match forwarder {
        "socat" => {
            "  id -u vaultnet-forwarder >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vaultnet-forwarder
  install -m 0644 forwarder/vaultnet-forwarder.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now vaultnet-forwarder.service
"
        }
        "nginx" => {
            "  install -m 0644 forwarder/vaultnet-stream.conf /etc/nginx/
  grep -q vaultnet-stream.conf /etc/nginx/nginx.conf || echo 'include /etc/nginx/vaultnet-stream.conf;' >> /etc/nginx/nginx.conf
  nginx -t && systemctl reload nginx
"
        }
        "haproxy" => {
            "  cat forwarder/vaultnet-haproxy.cfg >> /etc/haproxy/haproxy.cfg
  haproxy -c -f /etc/haproxy/haproxy.cfg && systemctl reload haproxy
"
        }
        "socket-proxyd" => {
            "  id -u vaultnet-forwarder >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vaultnet-forwarder
  install -m 0644 forwarder/vaultnet-forwarder.socket forwarder/vaultnet-forwarder.service /etc/systemd/system/
  systemctl daemon-reload
  systemctl enable --now vaultnet-forwarder.socket
"
        }
        other => panic!("no install steps known for forwarder {other}"),
    }
}

/// The host IP as [`Fixture::expect`] shows it: the offline address itself,
/// `[HOST_IP]` for a namespace's.
fn shown_host_ip(f: &Fixture) -> String {
    match f.ns_name() {
        Some(_) => "[HOST_IP]".into(),
        None => f.host_ip().to_string(),
    }
}

/// What `init` leaves to do once it has a token good enough to set Vault
/// up (the last step of "Left to do").
pub const TOKEN_STEP: &str = "run `vaultnet init` again with an operator token (`BAO_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2";

/// The end of `init`'s report when Vault could not be set up: `first`
/// (what the operator must do to Vault), then [`TOKEN_STEP`].
pub fn left_to_do(first: Option<&str>) -> String {
    match first {
        Some(step) => format!("Left to do:\n  1. {step}\n  2. then {TOKEN_STEP}\n"),
        None => format!("Left to do:\n  1. {TOKEN_STEP}\n"),
    }
}

/// The end of `init`'s report once Vault is set up.
pub const NEXT_ADD_USER: &str = "Next: `vaultnet add-user NAME` for each tenant.\n";

/// `init`'s summary line for a run that changed or kept files.
pub fn initialised(changed: u32, kept: u32) -> String {
    format!("vaultnet initialised in `[STATE]`: {changed} changed, {kept} kept\n")
}

/// The note `init` adds when nothing listens at Vault's address.
pub const UNREACHABLE: &str = "note: OpenBao at https://[VAULT_ADDR] is not reachable: cannot reach https://[VAULT_ADDR]: connection refused\n";

/// The note `init` adds when the host address is on no interface: an
/// offline fixture's address ([`super::fixture::OFFLINE_HOST_IP`]) is on
/// none of this machine's (a namespaced host's is on its `vnhost`).
pub fn no_interface_note(f: &Fixture) -> String {
    match f.ns_name() {
        Some(_) => String::new(),
        None => format!(
            "note: the host address {} is on no interface of this host: nothing listens there, and tenants cannot connect, until an interface has it (`ip -brief address` lists them)\n",
            f.host_ip()
        ),
    }
}

/// stdout of `init`: `head` (the summary, and a note if any), the
/// listener, the forwarder's install steps and the operator's access,
/// then `ending` (what is left to do, or the next command).
pub fn init_report(f: &Fixture, head: &str, forwarder: &str, ending: &str) -> String {
    format!("{head}{}\n{ending}", init_steps(f, forwarder))
}

/// stdout of `init` while nothing listens at Vault's address (so no token
/// reaches Vault): the summary, the unreachable Vault, the files to
/// install, and what is left to do.
pub fn init_stdout(f: &Fixture, changed: u32, kept: u32, forwarder: &str) -> String {
    init_report(
        f,
        &format!(
            "{}{}{UNREACHABLE}",
            initialised(changed, kept),
            no_interface_note(f)
        ),
        forwarder,
        &left_to_do(Some(
            "start OpenBao with the listener as an extra config: `bao server -config <your config> -config [STATE]/vault/listener.json`",
        )),
    )
}

/// stdout of `init` that reached Vault with a token good enough to set
/// it up: the summary, the files to install, and the next command.
pub fn init_stdout_with_vault(f: &Fixture, changed: u32, kept: u32, forwarder: &str) -> String {
    init_report(
        f,
        &(initialised(changed, kept) + &no_interface_note(f)),
        forwarder,
        NEXT_ADD_USER,
    )
}

/// The part of `init`'s report between the summary and what to do next:
/// the listener, the way in and its install steps, and the operator's
/// access — as the site's profile (l1, l2, l4, l6, r1 or r7) words them.
fn init_steps(f: &Fixture, forwarder: &str) -> String {
    let host = shown_host_ip(f);
    let profile = site_profile(f);
    let cidrs = allow_cidrs(f);
    let (listeners, way_in) = match profile.as_str() {
        "r1" => {
            let entry = format!("{host}:{}", entry_port(f));
            let remote = if cidrs.is_empty() {
                format!(
                    "Clients from outside this host: from every network that reaches {entry}; mutual TLS is the only lock (limit them with `--allow-cidr NETWORK`).\n"
                )
            } else {
                remote_line(&cidrs)
            };
            (
                format!("[VAULT_ADDR] and {entry}"),
                format!(
                    "{remote}No forwarder: tenants and remote clients reach OpenBao itself at {entry} (the second listener of `vault/listener.json`); start it once {host} is up on its interface, or set `net.ipv4.ip_nonlocal_bind=1`. Install the gate from `[STATE]` with:\n{}\n",
                    gate_step(&cidrs, true)
                ),
            )
        }
        "l3" => (
            "[VAULT_ADDR]".to_string(),
            format!(
                "Forwarder ({forwarder}): a port per tenant on {host}, from {} up (`vaultnet list` shows each) -> [VAULT_ADDR]; install it from `[STATE]` with:\n{}{}\n",
                entry_port(f),
                l3_install_steps(f, forwarder),
                "  nft -f forwarder/vaultnet.nft    # the gate: each tenant's uid on its own port only, never on Vault's port"
            ),
        ),
        "r7" => {
            let entry = format!("{host}:{}", entry_port(f));
            let (remote, dnat_remote, sysctl) = match (cidrs.is_empty(), ingress_interface(f)) {
                (true, Some(i)) => (
                    format!(
                        "Clients from outside this host: from every network that reaches {entry}; mutual TLS is the only lock (limit them with `--allow-cidr NETWORK`).\n"
                    ),
                    format!(
                        " in prerouting for remote clients (arriving on `{i}`, which needs route_localnet) and"
                    ),
                    route_localnet_steps(&i),
                ),
                (false, Some(i)) => (
                    remote_line(&cidrs),
                    format!(
                        " in prerouting for remote clients (arriving on `{i}`, which needs route_localnet) and"
                    ),
                    route_localnet_steps(&i),
                ),
                (_, None) => panic!("an r7 site records its ingress interface"),
            };
            (
                "[VAULT_ADDR]".to_string(),
                format!(
                    "{remote}No userspace proxy: nftables DNATs {entry} to OpenBao at [VAULT_ADDR]{dnat_remote} in output for local tenants and their rootless containers. Install from `[STATE]` with:\n{}\n{sysctl}",
                    gate_step(&cidrs, true)
                ),
            )
        }
        other => {
            let remote = match other {
                "l4" => remote_line(&cidrs),
                "l2" => format!(
                    "Bundles connect to `host.containers.internal` (no extra_hosts): Podman points it at this host's first IPv4 address, which must stay {host}; `vaultnet doctor` warns when it moves.\n"
                ),
                _ => String::new(),
            };
            (
                "[VAULT_ADDR]".to_string(),
                format!(
                    "{remote}Forwarder ({forwarder}): {host}:{} -> [VAULT_ADDR]; install it from `[STATE]` with:\n{}{}\n",
                    entry_port(f),
                    install_steps(forwarder),
                    gate_step(&cidrs, false)
                ),
            )
        }
    };
    format!(
        "
{profile_line}
Vault listener: {listeners}, mutual TLS required (`vault/listener.json`).
  The OpenBao server's user must be able to read `[STATE]/vault/server-key.pem`.
{way_in}{RENEWAL_STEPS}Operator access:
  export BAO_ADDR=https://[VAULT_ADDR] BAO_CACERT=[STATE]/pki/trust.pem BAO_CLIENT_CERT=[STATE]/operator/client.pem BAO_CLIENT_KEY=[STATE]/operator/client-key.pem
",
        profile_line = profile_line(f),
    )
}

/// The tenants' own ports as the state records them, in tenant order.
pub fn tenant_ports(f: &Fixture) -> Vec<(String, u16)> {
    let text = std::fs::read_to_string(f.path("vaultnet.yaml")).unwrap_or_default();
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
    let mut out: Vec<(String, u16)> = v
        .pointer("/tenants")
        .and_then(serde_json::Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(n, t)| Some((n.clone(), t.get("port")?.as_u64()? as u16)))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// How `init` of an l3 site tells the operator to install `forwarder`:
/// its files, then every tenant's port.
fn l3_install_steps(f: &Fixture, forwarder: &str) -> String {
    let mut ports: Vec<u16> = tenant_ports(f).into_iter().map(|(_, p)| p).collect();
    ports.sort_unstable();
    match forwarder {
        "socat" => {
            let mut s = "  id -u vaultnet-forwarder >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vaultnet-forwarder
  install -m 0644 forwarder/vaultnet-forwarder@.service /etc/systemd/system/
  systemctl daemon-reload
".to_string();
            for p in ports {
                s.push_str(&format!(
                    "  systemctl enable --now vaultnet-forwarder@{p}.service\n"
                ));
            }
            s
        }
        other => panic!("no l3 install steps known for forwarder {other}"),
    }
}

/// The commands that turn `route_localnet` on for `iface` (pattern R7).
fn route_localnet_steps(iface: &str) -> String {
    format!(
        "  install -m 0644 forwarder/vaultnet-route-localnet.conf /etc/sysctl.d/    # route_localnet on {iface} only, at every boot\n  sysctl -w net.ipv4.conf.{iface}.route_localnet=1    # and now, once the gate is loaded\n"
    )
}

/// The site's `ingress_interface` as its state records it.
pub fn ingress_interface(f: &Fixture) -> Option<String> {
    let text = std::fs::read_to_string(f.path("vaultnet.yaml")).ok()?;
    let v: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
    v.pointer("/site/ingress_interface")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

/// `init`'s line on the clients it admits from the networks `cidrs`.
fn remote_line(cidrs: &[String]) -> String {
    format!(
        "Clients from outside this host: only from {} (`--allow-cidr`); the gate resets every other.\n",
        cidrs.join(", ")
    )
}

/// The command that loads the gate, with its comment: tenant uids only
/// (l1, l6), also listed networks (`cidrs`), or also every network (r1
/// without `--allow-cidr`; `open` says the profile may be open).
fn gate_step(cidrs: &[String], open: bool) -> &'static str {
    match (cidrs.is_empty(), open) {
        (true, false) => {
            "  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port"
        }
        (true, true) => {
            "  nft -f forwarder/vaultnet.nft    # the gate: tenant uids, and from outside every network; no tenant on Vault's loopback port"
        }
        (false, _) => {
            "  nft -f forwarder/vaultnet.nft    # the gate: tenant uids, and from outside only the --allow-cidr networks; no tenant on Vault's loopback port"
        }
    }
}

/// The site's profile as its state records it, else as the fixture's
/// `--profile` asks, else l1.
pub fn site_profile(f: &Fixture) -> String {
    let state = std::fs::read_to_string(f.path("vaultnet.yaml")).unwrap_or_default();
    if let Some(p) = state
        .lines()
        .find_map(|l| l.trim().strip_prefix("profile: "))
    {
        return p.trim().to_string();
    }
    let args: Vec<String> = f
        .init_args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    args.windows(2)
        .find(|w| w[0] == "--profile")
        .map_or("l1".into(), |w| w[1].clone())
}

/// The site's `allow_cidrs` as its state records them.
fn allow_cidrs(f: &Fixture) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(f.path("vaultnet.yaml")) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
    v.pointer("/site/allow_cidrs")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The port tenants connect to, as the state records it.
fn entry_port(f: &Fixture) -> u16 {
    let text = std::fs::read_to_string(f.path("vaultnet.yaml")).unwrap_or_default();
    let v: serde_json::Value = serde_saphyr::from_str(&text).unwrap_or_default();
    v.pointer("/site/port")
        .and_then(serde_json::Value::as_u64)
        .map_or(22300, |p| p as u16)
}

/// The profile line of `init`'s report, for the profile the site's state
/// records (l1 before the first run).
fn profile_line(f: &Fixture) -> &'static str {
    match site_profile(f).as_str() {
        "l6" => {
            "Profile l6 (pattern L6): host forwarder + DNS name + mTLS, pasta (host-gateway mapping)."
        }
        "l2" => {
            "Profile l2 (pattern L2): host forwarder + host.containers.internal (no extra_hosts) + mTLS."
        }
        "l4" => {
            "Profile l4 (pattern L4): host forwarder open to listed networks (--allow-cidr) + mTLS."
        }
        "r1" => {
            "Profile r1 (pattern R1): Vault listening on the host address, no forwarder + mTLS."
        }
        "l3" => "Profile l3 (pattern L3): a forwarder port per tenant, gated by uid + mTLS.",
        "r7" => {
            "Profile r7 (pattern R7): nftables DNAT to Vault's loopback listener, no userspace proxy + mTLS."
        }
        _ => "Profile l1 (pattern L1): host forwarder + DNS name + mTLS.",
    }
}

/// How `init` shows the server certificate's expiry: a date, or the time
/// when the site asked for a lifetime under two days (`--server-cert-ttl
/// 2m`, `12h`; days count as long).
fn server_expiry(f: &Fixture) -> &'static str {
    let args: Vec<String> = f
        .init_args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let short = args
        .windows(2)
        .find(|w| w[0] == "--server-cert-ttl")
        .is_some_and(|w| !w[1].ends_with('d'));
    if short { "[TIME]" } else { "[DATE]" }
}

/// The four lines of a run that kept both CAs and both certificates.
pub fn kept_certificates(f: &Fixture) -> String {
    format!(
        "kept CA `pki/ca.pem` ({}, expires [DATE])
kept next CA `pki/next-ca.pem` ({}, expires [DATE])
kept Vault server certificate `vault/server.pem` (expires {})
kept operator certificate `operator/client.pem` (expires [DATE])
",
        ca_name(f),
        next_ca_name(f),
        server_expiry(f)
    )
}

/// The first `init` of a site whose Vault is not reachable yet: every
/// file created. Build it after the run: it names the CA the run made.
pub fn first_init(f: &Fixture) -> Expect {
    first_init_with(f, "socat")
}

/// The files `init` writes for each forwarder, in the order it reports
/// them.
pub fn forwarder_files(forwarder: &str) -> &'static [&'static str] {
    match forwarder {
        "socat" => &["vaultnet-forwarder.service"],
        "nginx" => &["vaultnet-stream.conf"],
        "haproxy" => &["vaultnet-haproxy.cfg"],
        "socket-proxyd" => &["vaultnet-forwarder.socket", "vaultnet-forwarder.service"],
        other => panic!("no files known for forwarder {other}"),
    }
}

/// How `init` tells the operator to schedule `vaultnet renew`.
pub const RENEWAL_STEPS: &str = "Renewal, daily: put an operator token in `/etc/vaultnet/operator-token` (root, 0600), then install `renew/` with:
  install -m 0644 renew/vaultnet-renew.service renew/vaultnet-renew.timer /etc/systemd/system/
  systemctl daemon-reload && systemctl enable --now vaultnet-renew.timer
";

/// The renewal timer and service, as the first `init` writes them.
pub const RENEW_FILES: &str =
    "wrote `renew/vaultnet-renew.service`\nwrote `renew/vaultnet-renew.timer`\n";

/// [`first_init`] with `--forwarder FORWARDER`.
pub fn first_init_with(f: &Fixture, forwarder: &str) -> Expect {
    // Profiles r1 and r7 have no forwarder; r7 writes a sysctl file after
    // the gate; l3's socat forwarder is one template unit.
    let (written, after) = match (site_profile(f).as_str(), forwarder) {
        ("r1", _) => (&[][..], &[][..]),
        ("r7", _) => (&[][..], &["vaultnet-route-localnet.conf"][..]),
        ("l3", "socat") => (&["vaultnet-forwarder@.service"][..], &[][..]),
        _ => (forwarder_files(forwarder), &[][..]),
    };
    let wrote = |names: &[&str]| -> String {
        names
            .iter()
            .map(|file| format!("wrote `forwarder/{file}`\n"))
            .collect()
    };
    let (files, after_gate) = (wrote(written), wrote(after));
    let changed = 10 + (written.len() + after.len()) as u32;
    f.expect(0)
        .stdout(init_stdout(f, changed, 0, forwarder))
        .stderr(format!(
            "created CA `pki/ca.pem` ({}, expires [DATE])
{}created Vault server certificate `vault/server.pem` (expires {})
created operator certificate `operator/client.pem` (expires [DATE])
wrote `pki/trust.pem`
wrote `vault/listener.json`
wrote `vaultnet.yaml`
{files}wrote `forwarder/vaultnet.nft`
{after_gate}{RENEW_FILES}",
            ca_name(f),
            created_next_ca(f),
            server_expiry(f)
        ))
}

/// `init` again with the same settings, Vault still not reachable:
/// everything kept, nothing written.
pub fn unchanged_init(f: &Fixture) -> Expect {
    f.expect(0)
        .stdout(init_stdout(f, 0, KEPT_PKI, "socat"))
        .stderr(kept_certificates(f))
}

/// What `init` says of Vault's AppRole auth method and KV v2 mount
/// (`enabled` or `present` each).
pub fn vault_setup(approle: &str, kv: &str) -> String {
    format!("AppRole auth at `approle/`: {approle}\nKV v2 at `secret/`: {kv}\n")
}

/// `init` with the root token the first time it reaches a real OpenBao
/// (after a first `init` without one): certificates kept, AppRole and KV
/// v2 enabled.
pub fn bootstrap_init(f: &Fixture) -> Expect {
    bootstrap_init_with(f, "socat")
}

/// [`bootstrap_init`] of a site whose forwarder is `forwarder`.
pub fn bootstrap_init_with(f: &Fixture, forwarder: &str) -> Expect {
    f.expect(0)
        .stdout(init_stdout_with_vault(f, 2, KEPT_PKI, forwarder))
        .stderr(format!(
            "{}{}",
            kept_certificates(f),
            vault_setup("enabled", "enabled")
        ))
}
