//! Property tests (SECURITY.md I2, I4): whatever the validators accept —
//! tenant names, DNS names, images, the installed bundle's path — each
//! bundle file parses back with its consumer's syntax and carries the value
//! unchanged, and nothing a value holds adds a key, a line or a section;
//! hostile values the validators refuse are refused. The gate holds exactly
//! the uids and addresses it is given; every forwarder's files keep one
//! shape whatever addresses they carry; the renewal service runs exactly
//! `vaultnet renew` whatever its paths hold; and the state loader reads
//! back what it writes and answers any damaged byte with one line, never a
//! panic.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;

use super::Endpoint;
use super::bundle::{self, BundleSpec};
use crate::state::{Flavor, validate};

/// Cases per property; the suite prints how many it ran.
const CASES: u32 = 256;

pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What compose makes of `${NAME:-default}` and `$$`: the default, read the
/// way compose's interpolation reads it (it ends at the first `}`).
fn compose_default(s: &str) -> Option<String> {
    let rest = s.strip_prefix("${VAULTNET_BUNDLE:-")?;
    let end = rest.find('}')?;
    let default = &rest[..end];
    Some(default.replace("$$", "$"))
}

/// The keys of a Quadlet/systemd unit's lines, and the line count.
fn unit_shape(text: &str) -> (Vec<String>, usize) {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let keys = lines
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, _)) => k.to_string(),
            None => l.to_string(),
        })
        .collect();
    (keys, lines.len())
}

fn spec<'a>(
    tenant: &'a str,
    endpoint: &'a Endpoint,
    image: &'a str,
    installed_at: Option<String>,
) -> BundleSpec<'a> {
    BundleSpec {
        tenant,
        vault_name: tenant,
        role: tenant,
        endpoint,
        flavor: Flavor::Openbao,
        agent_image: image,
        kv_mount: "secret",
        tenant_prefix: "tenants",
        wrapped_secret_id_path: None,
        installed_at,
        auth: crate::state::Auth::Approle,
    }
}

fn endpoint(dns: &str) -> Endpoint {
    Endpoint {
        url: format!("https://{dns}:22300"),
        name: dns.to_string(),
        extra_host: Some(format!("{dns}:10.9.0.1")),
        connect: "10.9.0.1:22300".parse().expect("valid"),
    }
}

fn tenant() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_-]{0,29}[a-z0-9_]"
        .prop_filter("a valid tenant name", |n| validate::tenant_name(n).is_ok())
}

fn dns() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,8}(-[a-z0-9]{1,5})?(\\.[a-z]{1,6}){0,3}"
        .prop_filter("a valid DNS name", |n| validate::dns_name(n).is_ok())
}

fn image() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9./:@_-]{0,60}"
        .prop_filter("a valid image", |i| validate::image(i).is_ok())
}

/// Paths as validators see them: any printable text, and some of the
/// characters that break out of the files.
fn path_like() -> impl Strategy<Value = String> {
    "(/?[a-zA-Z0-9._+@ $%}{\"'\\\\\n:#-]{1,12}){1,4}"
}

/// Paths of the characters the validators accept, the same with one
/// character that breaks out of a file, and anything.
fn some_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "([a-zA-Z0-9._+@-]{1,12}/){0,3}[a-zA-Z0-9_+@-]{1,12}",
        "[a-zA-Z0-9_-]{1,8}[ $%}{\"'\\\\\n:#][a-zA-Z0-9_-]{1,8}",
        path_like(),
    ]
}

/// Runs `property` over `CASES` inputs, prints how many it ran, and fails
/// with the smallest failing input proptest finds.
pub(crate) fn check<S: Strategy>(
    name: &str,
    strategy: S,
    property: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let ran = std::cell::Cell::new(0u32);
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let result = runner.run(&strategy, |v| {
        ran.set(ran.get() + 1);
        property(v)
    });
    eprintln!("{name}: {} cases", ran.get());
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    assert!(ran.get() >= CASES, "{name}: only {} cases ran", ran.get());
}

#[test]
fn every_bundle_file_parses_back_and_carries_its_values_unchanged() {
    let inputs = (tenant(), dns(), image(), some_path(), some_path());
    check("bundle files", inputs, |(t, d, i, home, rel)| {
        let home = format!("/{home}");
        let home_ok = validate::home_dir(&t, Path::new(&home)).is_ok();
        let rel_ok = validate::install_path(Path::new(&rel)).is_ok();
        // Only what both validators accept ever reaches the files.
        let installed = (home_ok && rel_ok).then(|| format!("{home}/{rel}"));
        let e = endpoint(&d);
        let s = spec(&t, &e, &i, installed.clone());

        let agent: Value = serde_json::from_str(&bundle::agent(&s)).expect("agent.json is JSON");
        prop_assert_eq!(&agent["vault"]["address"], &Value::from(e.url.clone()));

        let compose: Value = serde_saphyr::from_str(&bundle::compose(&s)).expect("compose is YAML");
        let top: BTreeSet<&str> = compose
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        prop_assert_eq!(top, BTreeSet::from(["services", "volumes"]));
        let agent_svc = &compose["services"]["vault-agent"];
        prop_assert_eq!(&agent_svc["image"], &Value::from(i.clone()));
        prop_assert_eq!(
            &agent_svc["extra_hosts"][0],
            &Value::from(format!("{d}:10.9.0.1"))
        );
        let volume = agent_svc["volumes"][0].as_str().unwrap();
        let bundle_dir = compose_default(volume).expect("an interpolated default");
        prop_assert_eq!(&bundle_dir, installed.as_deref().unwrap_or("./vaultnet"));
        prop_assert!(volume.ends_with("}:/vaultnet:ro"), "{}", volume);

        // The Quadlet unit has the shape of a plain one, line for line.
        let plain_e = endpoint("vault.lan");
        let plain_dir = installed
            .as_ref()
            .map(|_| "/home/a/.config/vaultnet".to_string());
        let plain = spec("alice", &plain_e, "localhost/bao:test", plain_dir);
        let q = bundle::quadlet(&s);
        prop_assert_eq!(unit_shape(&q), unit_shape(&bundle::quadlet(&plain)));
        let vol = q
            .lines()
            .find(|l| l.starts_with("Volume=") && l.ends_with(":/vaultnet:ro"))
            .unwrap();
        // `%h` (the user's home) is the one specifier vaultnet means.
        let want = installed.as_deref().unwrap_or("%h/.config/vaultnet");
        prop_assert_eq!(vol, format!("Volume={want}:/vaultnet:ro"));
        Ok(())
    });
}

#[test]
fn paths_with_characters_that_break_out_of_a_bundle_file_are_refused() {
    check("hostile paths", path_like(), |rel| {
        let breaks = rel.contains(['\n', '}', '$', '%', ' ', '"', '\'', '\\', ':', '#', '{']);
        if breaks {
            let home = format!("/{rel}");
            prop_assert!(validate::install_path(Path::new(&rel)).is_err());
            prop_assert!(validate::home_dir("t", Path::new(&home)).is_err());
        }
        Ok(())
    });
}

#[test]
fn the_gate_holds_exactly_the_uids_and_addresses_it_is_given() {
    use super::nft::{self, NftSpec};
    let uid = proptest::num::u32::ANY.prop_filter("not root", |u| *u != 0);
    let inputs = (
        proptest::collection::btree_set(uid, 0..20),
        any::<[u8; 4]>(),
        1u16..,
        1u16..,
        any::<bool>(),
    );
    check("gate", inputs, |(uids, ip, port, vport, dnat)| {
        let uids: Vec<u32> = uids.into_iter().collect();
        let entry = std::net::SocketAddr::from((ip, port));
        let text = nft::render(&NftSpec {
            entries: &[entry],
            own_ports: &[],
            vaults: &[std::net::SocketAddr::from(([127, 0, 0, 1], vport))],
            tenant_uids: &uids,
            vault_clients: &["vaultnet-forwarder"],
            remote: nft::Remote::None,
            dnat_to: dnat.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], vport))),
        });
        let set = |name: &str| -> Vec<String> {
            let start = text.find(&format!("set {name} {{")).unwrap();
            let block = &text[start..start + text[start..].find('}').unwrap()];
            block
                .split_once("elements = { ")
                .map(|(_, e)| e.split(", ").map(|x| x.trim().to_string()).collect())
                .unwrap_or_default()
        };
        let want: Vec<String> = uids.iter().map(u32::to_string).collect();
        prop_assert_eq!(set("tenants"), want.clone());
        let allowed: Vec<String> = std::iter::once("0".to_string()).chain(want).collect();
        prop_assert_eq!(set("allowed"), allowed);
        prop_assert_eq!(set("vault_clients"), vec!["0", "vaultnet-forwarder"]);
        let rule = format!(
            "ip daddr {} tcp dport {port} meta skuid != @allowed reject with tcp reset",
            entry.ip()
        );
        prop_assert!(text.contains(&rule), "{}", text);
        let vault_rule = format!(
            "ip daddr 127.0.0.1 tcp dport {vport} meta skuid != @vault_clients reject with tcp reset"
        );
        prop_assert!(text.contains(&vault_rule), "{}", text);
        // A DNAT entry adds the nat output chain (no prerouting one: no
        // remote client is admitted) and runs the uid rules before it.
        prop_assert_eq!(text.matches("chain ").count(), if dnat { 3 } else { 2 });
        let priority = if dnat { "-150" } else { "filter" };
        let out_hook = format!("type filter hook output priority {priority};");
        prop_assert!(text.contains(&out_hook), "{}", text);
        Ok(())
    });
}

#[test]
fn the_state_loader_reads_back_what_it_writes_and_refuses_garbage_in_one_line() {
    use crate::state::State;
    let good = State::new(crate::state::site::sample_site("l1")).to_yaml();
    let mutation = (0..good.len(), any::<u8>());
    check("state loader", mutation, |(at, byte)| {
        // Writing what was read gives the same file.
        let state = State::parse(good.as_bytes()).unwrap();
        prop_assert_eq!(state.to_yaml(), good.clone());
        // Any one byte changed: a valid state or a one-line error, never a
        // panic.
        let mut bytes = good.clone().into_bytes();
        bytes[at] = byte;
        if let Err(e) = State::parse(&bytes) {
            prop_assert!(!e.contains('\n'), "{}", e);
            prop_assert!(!e.is_empty());
        }
        Ok(())
    });
}

/// Each forwarder's files have the shape of a plain site's, line for line
/// and key for key, whatever addresses and ports they are given, and carry
/// the addresses unchanged (only typed addresses reach them).
#[test]
fn every_forwarder_file_has_one_shape_and_carries_its_addresses() {
    use super::forwarder::{self, ForwarderSpec};
    use crate::state::Forwarder;
    let addr = (any::<[u8; 4]>(), 1u16..);
    check(
        "forwarder files",
        (addr.clone(), addr),
        |((lip, lport), (uip, uport))| {
            let spec = ForwarderSpec {
                listen: std::net::SocketAddr::from((lip, lport)),
                upstream: std::net::SocketAddr::from((uip, uport)),
                cluster: None,
            };
            let plain = ForwarderSpec {
                listen: "10.9.0.1:22300".parse().unwrap(),
                upstream: "127.0.0.1:8200".parse().unwrap(),
                cluster: None,
            };
            for kind in Forwarder::ALL {
                let got = forwarder::render(kind, &spec);
                let want = forwarder::render(kind, &plain);
                prop_assert_eq!(got.files.len(), want.files.len());
                for (g, w) in got.files.iter().zip(&want.files) {
                    prop_assert_eq!(&g.name, &w.name);
                    // Per line: its first word (a directive, or a unit key) and
                    // how many words it has.
                    let shape = |t: &str| -> Vec<(String, usize)> {
                        t.lines()
                            .map(|l| {
                                let first = l.split_whitespace().next().unwrap_or("");
                                let key = first.split_once('=').map_or(first, |(k, _)| k);
                                (key.to_string(), l.split_whitespace().count())
                            })
                            .collect()
                    };
                    prop_assert_eq!(shape(&g.contents), shape(&w.contents), "{}", g.contents);
                    for a in [spec.listen, spec.upstream] {
                        let shown = [a.to_string(), format!("{}:{}", a.ip(), a.port())];
                        let ip = a.ip().to_string();
                        prop_assert!(
                            shown.iter().any(|s| g.contents.contains(s.as_str()))
                                || (g.contents.contains(&ip)
                                    && g.contents.contains(&a.port().to_string())),
                            "{} is not in {}:\n{}",
                            a,
                            g.name,
                            g.contents
                        );
                    }
                }
            }
            Ok(())
        },
    );
}

/// The renewal service's `ExecStart=` is one line whatever the binary's
/// and the state directory's paths hold, and systemd's quoting (words,
/// `"…"` with `\"` and `\\`, `%%` for `%`) gives back exactly the command.
#[test]
fn the_renewal_service_runs_exactly_vaultnet_renew_for_any_paths() {
    use super::schedule;
    /// systemd's splitting of a command line, for what `exec_word` writes.
    fn split(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut chars = line.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let mut w = String::new();
            if first == '"' {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('x') => {
                                let hex: String = chars.by_ref().take(2).collect();
                                w.push(u8::from_str_radix(&hex, 16).unwrap() as char);
                            }
                            Some(e) => w.push(e),
                            None => {}
                        },
                        c => w.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ' ' {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
            }
            out.push(w.replace("%%", "%"));
        }
        out
    }
    let path = "(/[a-zA-Z0-9._ %\"'\\\\;$\t-]{1,10}){1,3}";
    check("renewal service", (path, path), |(bin, dir)| {
        let text = schedule::service(Path::new(&bin), Path::new(&dir));
        let exec: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("ExecStart="))
            .collect();
        prop_assert_eq!(exec.len(), 1, "{}", text);
        let argv = split(exec[0].strip_prefix("ExecStart=").unwrap());
        prop_assert_eq!(
            argv,
            vec![
                bin.clone(),
                "--dir".into(),
                dir.clone(),
                "renew".into(),
                "--token-file".into(),
                "%d/operator-token".into(),
            ]
        );
        Ok(())
    });
}

/// Any text, including what breaks out of a JSON string or a line.
fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "/[a-zA-Z0-9 \n\t\"'{}$%#;\\\\=:./-]{0,30}",
        "/\\PC{0,30}",
        any::<String>().prop_map(|s| format!("/{s}")),
    ]
}

fn any_addr() -> impl Strategy<Value = std::net::SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(std::net::SocketAddr::from),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(std::net::SocketAddr::from),
    ]
}

/// Vault's listener and a cluster node's raft stanza are JSON whatever the
/// paths hold: they parse back with exactly their keys, each path and
/// address unchanged, mutual TLS always required, one `retry_join` per peer.
#[test]
fn the_listener_and_raft_stanzas_carry_any_path_and_address_unchanged() {
    use super::{listener, raft};
    let node = "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?";
    let inputs = (
        (any_addr(), any_path(), any_path(), any_path()),
        (
            node,
            any_addr(),
            proptest::collection::vec(any_addr(), 0..6),
        ),
    );
    check(
        "listener and raft stanzas",
        inputs,
        |((addr, cert, key, ca), (node_id, api, peers))| {
            // One stanza per address (loopback, and the host's under R1).
            let addrs = [addr, api];
            for n in 1..=addrs.len() {
                let text = listener::render(&listener::ListenerSpec {
                    addresses: &addrs[..n],
                    cert_file: Path::new(&cert),
                    key_file: Path::new(&key),
                    client_ca_file: Path::new(&ca),
                });
                let v: Value = serde_json::from_str(&text).expect("the listener is JSON");
                prop_assert_eq!(v.as_object().unwrap().len(), 1);
                let stanzas = v["listener"].as_array().unwrap();
                prop_assert_eq!(stanzas.len(), n);
                for (stanza, a) in stanzas.iter().zip(&addrs) {
                    prop_assert_eq!(stanza.as_object().unwrap().len(), 1);
                    let tcp = stanza["tcp"].as_object().unwrap();
                    let keys: BTreeSet<&str> = tcp.keys().map(String::as_str).collect();
                    prop_assert_eq!(
                        keys,
                        BTreeSet::from([
                            "address",
                            "tls_cert_file",
                            "tls_key_file",
                            "tls_client_ca_file",
                            "tls_require_and_verify_client_cert",
                            "tls_min_version",
                        ])
                    );
                    prop_assert_eq!(&tcp["address"], &Value::from(a.to_string()));
                    prop_assert_eq!(&tcp["tls_cert_file"], &Value::from(cert.clone()));
                    prop_assert_eq!(&tcp["tls_key_file"], &Value::from(key.clone()));
                    prop_assert_eq!(&tcp["tls_client_ca_file"], &Value::from(ca.clone()));
                    prop_assert_eq!(
                        &tcp["tls_require_and_verify_client_cert"],
                        &Value::Bool(true)
                    );
                }
            }

            let peers: Vec<raft::Peer> = peers
                .iter()
                .map(|a| raft::Peer {
                    api_addr: format!("https://{a}"),
                })
                .collect();
            let cluster_addr = std::net::SocketAddr::new(api.ip(), api.port().wrapping_add(1));
            let text = raft::render(&raft::RaftSpec {
                node_id: &node_id,
                path: Path::new(&key),
                api_addr: api,
                cluster_addr,
                peers: &peers,
                ca_file: Path::new(&ca),
                join_identity: Path::new(&cert),
            });
            let v: Value = serde_json::from_str(&text).expect("the raft stanza is JSON");
            let top: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            prop_assert_eq!(
                top,
                BTreeSet::from([
                    "storage",
                    "api_addr",
                    "cluster_addr",
                    "disable_standby_reads"
                ])
            );
            prop_assert_eq!(&v["disable_standby_reads"], &Value::Bool(true));
            prop_assert_eq!(&v["api_addr"], &Value::from(format!("https://{api}")));
            prop_assert_eq!(
                &v["cluster_addr"],
                &Value::from(format!("https://{cluster_addr}"))
            );
            let r = &v["storage"]["raft"];
            prop_assert_eq!(&r["node_id"], &Value::from(node_id.clone()));
            prop_assert_eq!(&r["path"], &Value::from(key.clone()));
            let joins = r["retry_join"].as_array().unwrap();
            prop_assert_eq!(joins.len(), peers.len());
            for (j, p) in joins.iter().zip(&peers) {
                prop_assert_eq!(j.as_object().unwrap().len(), 4);
                prop_assert_eq!(&j["leader_api_addr"], &Value::from(p.api_addr.clone()));
                prop_assert_eq!(&j["leader_ca_cert_file"], &Value::from(ca.clone()));
                prop_assert_eq!(&j["leader_client_cert_file"], &Value::from(cert.clone()));
                prop_assert_eq!(&j["leader_client_key_file"], &Value::from(cert.clone()));
            }
            Ok(())
        },
    );
}

/// A cluster's HAProxy file checks exactly its nodes, in order, one
/// `server` line each, over mutual TLS with the given files; every other
/// line is the same whatever the nodes and paths (only paths HAProxy can
/// carry as a word are ever given, and any other is refused).
#[test]
fn the_cluster_forwarder_checks_exactly_its_nodes_over_mtls() {
    use super::forwarder::{self, ClusterCheck, ForwarderSpec};
    use crate::state::Forwarder;
    let node = "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?";
    let nodes = proptest::collection::btree_map(node, any_addr(), 1..7);
    let word = "/[a-zA-Z0-9._+@/-]{1,30}";
    let inputs = (nodes, word, word, any_path(), any_addr());
    check(
        "cluster forwarder",
        inputs,
        |(nodes, ca, crt, other, listen)| {
            let nodes: Vec<(String, std::net::SocketAddr)> = nodes.into_iter().collect();
            prop_assert!(forwarder::haproxy_path_ok(Path::new(&ca)));
            prop_assert!(forwarder::haproxy_path_ok(Path::new(&crt)));
            let carried = other
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-+@/".contains(&b));
            prop_assert_eq!(forwarder::haproxy_path_ok(Path::new(&other)), carried);
            let spec =
                |nodes: Vec<(String, std::net::SocketAddr)>, ca: &str, crt: &str| ForwarderSpec {
                    listen,
                    upstream: nodes[0].1,
                    cluster: Some(ClusterCheck {
                        nodes,
                        ca_file: ca.into(),
                        identity_file: crt.into(),
                    }),
                };
            let got = forwarder::render(Forwarder::Haproxy, &spec(nodes.clone(), &ca, &crt));
            let plain = forwarder::render(
                Forwarder::Haproxy,
                &spec(
                    vec![("bao1".into(), "127.0.0.1:8200".parse().unwrap())],
                    "/s/pki/trust.pem",
                    "/s/forwarder/check-key.pem",
                ),
            );
            prop_assert_eq!(got.files.len(), 1);
            let text = &got.files[0].contents;
            let servers: Vec<&str> = text
                .lines()
                .filter(|l| l.trim_start().starts_with("server "))
                .collect();
            let want: Vec<String> = nodes
                .iter()
                .map(|(n, a)| format!("    server {n} {a}"))
                .collect();
            prop_assert_eq!(servers, want);
            let check_line = format!(
                "    default-server check check-ssl verify required ca-file {ca} crt {crt} "
            );
            prop_assert_eq!(
                text.lines().filter(|l| l.starts_with(&check_line)).count(),
                1,
                "{}",
                text
            );
            // Everything but the comment naming the count, the listen
            // address and the server lines has one shape.
            let rest = |t: &str| -> Vec<(String, usize)> {
                t.lines()
                    .filter(|l| !l.starts_with('#') && !l.trim_start().starts_with("server "))
                    .map(|l| {
                        let first = l.split_whitespace().next().unwrap_or("").to_string();
                        (first, l.split_whitespace().count())
                    })
                    .collect()
            };
            prop_assert_eq!(rest(text), rest(&plain.files[0].contents), "{}", text);
            Ok(())
        },
    );
}

/// A tenant's policy, for any two tenants of any two sites (named or
/// not, the same or not) and any mount and prefix the validators accept
/// (SECURITY.md V2, C4): JSON with only `path`, read on its own data and
/// read and list on its own metadata (globs that end at its Vault name's
/// `/`, so `al` never reaches `alice`, nor `alice` site `b`'s `b.alice`),
/// plus its token's own paths, nothing else; none of it, and no wrapping
/// token of it, reaches the other tenant's paths or role; its roles grant
/// its policy alone.
#[test]
fn a_tenants_policy_and_roles_reach_only_its_own_paths() {
    use crate::policy;
    let segment = "[a-z0-9_][a-z0-9_-]{0,12}";
    let site_name = proptest::option::of("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?");
    let inputs = (
        (tenant(), site_name.clone()),
        (tenant(), site_name),
        segment,
        segment,
        "[a-z0-9/_-]{0,12}",
    );
    check(
        "policy and roles",
        inputs,
        |((a, sa), (b, sb), mount, prefix, rest)| {
            prop_assume!((&a, &sa) != (&b, &sb));
            let mut site = crate::state::site::sample_site("l1");
            site.kv_mount = mount.clone();
            site.tenant_prefix = prefix.clone();
            let mut site_b = site.clone();
            site.name = sa.clone();
            site_b.name = sb.clone();
            let (va, vb) = (site.vault_name(&a), site_b.vault_name(&b));
            prop_assert_ne!(&va, &vb);
            prop_assert_ne!(policy::role_name(&site, &a), policy::role_name(&site_b, &b));
            let v: Value = serde_json::from_str(&policy::policy_text(&site, &a)).expect("JSON");
            prop_assert_eq!(v.as_object().unwrap().len(), 1);
            let paths = v["path"].as_object().unwrap();
            let data = format!("{mount}/data/{prefix}/{va}/*");
            let meta = format!("{mount}/metadata/{prefix}/{va}/*");
            let want: BTreeSet<&str> = [
                data.as_str(),
                meta.as_str(),
                "auth/token/lookup-self",
                "auth/token/renew-self",
                "auth/token/revoke-self",
                "sys/capabilities-self",
            ]
            .into();
            prop_assert_eq!(
                paths.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                want
            );
            prop_assert_eq!(&paths[&data]["capabilities"], &serde_json::json!(["read"]));
            prop_assert_eq!(
                &paths[&meta]["capabilities"],
                &serde_json::json!(["read", "list"])
            );
            // Vault's glob: a trailing `*` matches any rest, else exact.
            let grants = |path: &str| {
                paths.keys().any(|p| match p.strip_suffix('*') {
                    Some(pre) => path.starts_with(pre),
                    None => path == p,
                })
            };
            let role_b = policy::role_path(&policy::role_name(&site_b, &b));
            for other in [
                format!("{mount}/data/{prefix}/{vb}/{rest}"),
                format!("{mount}/metadata/{prefix}/{vb}/{rest}"),
                format!("{mount}/data/{prefix}/{vb}"),
                format!("{role_b}/secret-id"),
                format!("{mount}/data/{prefix}"),
            ] {
                prop_assert!(!grants(&other), "{}'s policy grants {}", va, other);
                prop_assert!(
                    !policy::wraps_for_tenant(&site, &a, &policy::role_name(&site, &a), &other),
                    "a wrapping token at {} counted as {}'s",
                    other,
                    va
                );
            }
            let own = format!("{mount}/data/{prefix}/{va}/{rest}");
            prop_assert!(grants(&own), "{}'s policy does not grant {}", va, own);
            // `vaultnet unwrap` knows no site: a role of its name on any site
            // is its own, never another tenant's.
            prop_assert!(policy::names_tenant(&policy::role_name(&site, &a), &a));
            if a != b {
                prop_assert!(!policy::names_tenant(&policy::role_name(&site_b, &b), &a));
            }
            let limits = crate::state::Limits::default();
            for body in [
                policy::role_body(&site, &a, &limits),
                policy::cert_role_body(&site, &a, &limits, "CA"),
            ] {
                prop_assert_eq!(
                    &body["token_policies"],
                    &serde_json::json!([policy::policy_name(&site, &a)])
                );
                prop_assert_eq!(&body["token_no_default_policy"], &Value::Bool(true));
            }
            prop_assert_eq!(
                &policy::cert_role_body(&site, &a, &limits, "CA")["allowed_common_names"],
                &serde_json::json!([a.clone()])
            );
            Ok(())
        },
    );
}

/// Strings of the characters YAML gives a meaning to (indicators, white
/// space, digits, the letters of `yes`, `.inf`, `0x`, `e`), and any string.
fn yaml_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[-?:,\\[\\]{}#&*!|>'\"%@` \t\n.0-9_+~=<eExXoObBnNyYsStTrRuUfFaAlLiIcdD\u{85}\u{2028}\u{feff}]{0,10}",
        any::<String>(),
    ]
}

/// Whatever a string holds, the YAML writer gives it back unchanged as a
/// key, a value and a list item, read by a YAML parser; what it leaves
/// plain is never a form YAML 1.1 reads as another type (the unit tests
/// of `render::yaml` list those forms, which a YAML 1.2 parser would not
/// catch).
#[test]
fn every_string_reads_back_as_the_same_string_through_the_yaml_writer() {
    use super::yaml;
    check("yaml strings", (yaml_string(), yaml_string()), |(a, b)| {
        let doc = serde_json::json!({ "k": a.clone(), "l": [a.clone(), b.clone()], "m": { a.clone(): b.clone() } });
        let text = yaml::to_string(&doc);
        let back: Value = serde_saphyr::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &doc, "{}", text);
        let plain = !yaml::needs_quotes(&a);
        prop_assert_eq!(yaml::string(&a) == a, plain);
        if plain {
            // An oracle of its own for the commonest misreadings.
            let lower = a.to_ascii_lowercase();
            let words = [
                "yes", "no", "on", "off", "y", "n", "true", "false", "null", "~",
            ];
            prop_assert!(!words.contains(&lower.as_str()), "{:?} is plain", a);
            let number = a.replace('_', "").parse::<f64>().is_ok();
            let word = a.contains(|c: char| c.is_ascii_alphabetic() && !"eE".contains(c));
            prop_assert!(!number || word, "{:?} is plain but a number", a);
            let base60 = a.contains(':') && a.chars().all(|c| c.is_ascii_digit() || c == ':');
            prop_assert!(!base60, "{:?} is plain but a base-60 number", a);
        }
        Ok(())
    });
}
