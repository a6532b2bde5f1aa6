use super::*;
use crate::render::bundle::{self, BundleSpec};
use crate::state::site::sample_site;

/// Everything vaultnet writes or prints that depends on the profile, for
/// the site a plain `init --host-ip 10.9.0.1` makes under it, and two
/// tenants.
fn rendered(profile: Profile) -> Result<String> {
    // A gate that admits only listed networks needs one; the others are
    // shown without, so each gate kind renders differently.
    let allow_cidr = match profile.gate {
        GateKind::SourceAllowlist => vec!["10.77.0.0/24".into()],
        _ => Vec::new(),
    };
    // A DNAT entry needs the interface remote clients arrive on; no
    // interface of the test's machine holds the sample address.
    let ingress_interface = (profile.entry == EntryKind::Dnat).then(|| "eth1".to_string());
    let flags = crate::settings::Flags {
        host_ip: Some("10.9.0.1".into()),
        allow_cidr,
        ingress_interface,
        ..Default::default()
    };
    let parsed = crate::settings::Parsed::from_flags(&flags)?;
    let mut site = crate::settings::resolve_under(&profile, &parsed, None, &flags, false)?;
    // The site records the profile by name; the test's profile is not built in.
    site.profile = profile.name();
    let site = &site;
    let t = Topology {
        site,
        profile: profile.clone(),
        // Used only where the entry gives each tenant a port of its own.
        tenant_ports: vec![
            TenantPort {
                name: "alice".into(),
                uid: Some(1001),
                port: site.port,
            },
            TenantPort {
                name: "bob".into(),
                uid: Some(1002),
                port: site.port + 1,
            },
        ],
        reserved: Vec::new(),
    };
    let _ = Topology::with_profile(site, profile)?;
    let mut out = vec![t.describe(), t.listing().join("\n")];
    let (dns, ips) = t.server_sans();
    out.push(format!("sans {dns:?} {ips:?}"));
    out.push(format!(
        "listeners {:?} exposed {:?}",
        t.vault_listeners(),
        t.vault_exposed()
    ));
    out.extend(t.init_lines("/s", "127.0.0.1:8200"));
    let host = t.host_files(&crate::layout::Layout::new("/s"), &[1001, 1002]);
    for f in host.files {
        out.push(format!("file {}\n{}", f.name, f.contents));
    }
    out.extend(host.enable);
    out.push(format!("retired {:?}", t.retired_host_files(&[])));
    for p in t.entry_probes() {
        out.push(format!("{p:?}"));
    }
    for tenant in ["alice", "bob"] {
        let e = t.endpoint(tenant);
        out.push(format!("{e:?}"));
        let spec = BundleSpec {
            tenant,
            vault_name: tenant,
            role: tenant,
            endpoint: &e,
            flavor: site.flavor,
            agent_image: &site.agent_image,
            kv_mount: &site.kv_mount,
            tenant_prefix: &site.tenant_prefix,
            wrapped_secret_id_path: None,
            installed_at: None,
            auth: crate::state::Auth::Approle,
        };
        out.push(bundle::agent(&spec));
        out.push(bundle::compose(&spec));
        out.push(bundle::quadlet(&spec));
        out.push(bundle::readme(&spec, "2027-01-01"));
    }
    Ok(out.join("\n"))
}

/// Other values to try for each key of a profile. A key missing here
/// fails the test below: every key must be shown to matter.
const ALTERNATIVES: &[(&str, &[&str])] = &[
    ("code", &["L9"]),
    ("summary", &["another summary"]),
    ("vault_bind", &["nic", "loopback"]),
    (
        "entry",
        &["per-tenant-port", "dnat", "shared-port", "direct"],
    ),
    ("port", &["22399"]),
    ("host_mapping", &["ip", "host-gateway"]),
    ("extra_sans", &["[extra.example]"]),
    (
        "gate",
        &[
            "none",
            "per-port",
            "uid-allowlist",
            "source-allowlist",
            "optional-source-allowlist",
        ],
    ),
    ("limits", &["[another limit]"]),
];

/// `text` with the value of top-level `key` replaced by `value`.
fn with_value(text: &str, key: &str, value: &str) -> String {
    let prefix = format!("{key}:");
    let mut found = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                found = true;
                format!("{key}: {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "no key `{key}`");
    out.join("\n") + "\n"
}

#[test]
fn every_key_of_every_profile_changes_what_is_rendered_or_is_refused() {
    for name in Profile::names() {
        let text = Profile::builtin_text(name).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with(' ') && l.contains(':'))
            .map(|l| l.split(':').next().unwrap())
            .collect();
        let known: Vec<&str> = ALTERNATIVES.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys, known,
            "profile `{name}`: keys and the table above differ"
        );
        let base = rendered(Profile::parse(text).unwrap()).unwrap();
        for (key, values) in ALTERNATIVES {
            for value in *values {
                let changed = with_value(text, key, value);
                if changed == text {
                    continue; // the profile's own value
                }
                match Profile::parse(&changed) {
                    Err(_) => {} // read, and refused: never silently ignored
                    Ok(p) => {
                        let r = rendered(p).unwrap_or_else(|e| e.message().to_string());
                        assert!(
                            r != base,
                            "profile `{name}`: `{key}: {value}` changes nothing vaultnet writes"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn l1_maps_the_name_to_the_host_ip_and_l6_to_host_gateway() {
    let l1 = sample_site("l1");
    let e = Topology::new(&l1).unwrap().endpoint("alice");
    assert_eq!(
        e,
        Endpoint {
            url: "https://vault.lan:22300".into(),
            name: "vault.lan".into(),
            extra_host: Some("vault.lan:10.9.0.1".into()),
            connect: "10.9.0.1:22300".parse().unwrap(),
        }
    );
    let l6 = sample_site("l6");
    let e6 = Topology::new(&l6).unwrap().endpoint("alice");
    assert_eq!(e6.extra_host.as_deref(), Some("vault.lan:host-gateway"));
    assert_eq!(e6.connect, e.connect);
}

#[test]
fn a_non_loopback_vault_or_a_forwarder_on_vaults_address_is_refused() {
    let mut site = sample_site("l1");
    site.vault_addr = "10.9.0.1:8200".parse().unwrap();
    let e = Topology::new(&site).unwrap_err();
    assert_eq!(
        e.message(),
        "invalid Vault address `10.9.0.1:8200`: profile L1 keeps Vault on loopback"
    );
    let mut site = sample_site("l1");
    site.port = 8200;
    let e = Topology::new(&site).unwrap_err();
    assert_eq!(
        e.message(),
        "the forwarder port 8200 is Vault's own port (`--vault-listen 127.0.0.1:8200`)"
    );
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn a_host_mapping_flag_that_contradicts_the_profile_is_refused_with_the_profile_that_fits() {
    let l6 = Profile::builtin("l6").unwrap();
    assert!(check_host_mapping(&l6, Some(HostMapping::HostGateway)).is_ok());
    assert!(check_host_mapping(&l6, None).is_ok());
    let e = check_host_mapping(&l6, Some(HostMapping::Ip)).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.message(),
        "`--host-mapping ip` contradicts profile `l6`, which maps the name to `host-gateway`"
    );
    assert_eq!(
        e.hint_text(),
        Some("drop `--host-mapping`, or choose the profile that maps to `ip`: `--profile l1`")
    );
}

#[test]
fn the_gate_admits_tenants_on_the_entry_and_refuses_them_on_vaults_port() {
    let site = sample_site("l1");
    let t = Topology::new(&site).unwrap();
    let files = t.host_files(&crate::layout::Layout::new("/s"), &[1001]);
    let nft = files
        .files
        .iter()
        .find(|f| f.name == gate::FILE)
        .expect("the gate file");
    assert!(nft.contents.contains(
        "ip daddr 10.9.0.1 tcp dport 22300 meta skuid != @allowed reject with tcp reset"
    ));
    // Vault's rule is an allowlist (root and the forwarder's own user) and
    // names Vault's address too: everyone keeps every other service on
    // that port.
    assert!(nft.contents.contains(
        "ip daddr 127.0.0.1 tcp dport 8200 meta skuid != @vault_clients reject with tcp reset"
    ));
    assert!(
        nft.contents
            .contains("elements = { 0, vaultnet-forwarder }")
    );
    let retired: Vec<String> = t.retired_host_files(&[]).into_iter().map(|r| r.0).collect();
    assert_eq!(
        retired,
        [
            "vaultnet-forwarder.socket",
            "vaultnet-forwarder@.service",
            "vaultnet-haproxy.cfg",
            "vaultnet-route-localnet.conf",
            "vaultnet-stream.conf"
        ]
    );
}

fn r7_site() -> Site {
    let mut site = sample_site("r7");
    site.ingress_interface = Some("eth1".into());
    site
}

#[test]
fn r7_dnats_the_entry_to_vault_before_which_the_uid_gate_runs_and_guards_loopback() {
    let site = r7_site();
    let t = Topology::new(&site).unwrap();
    let e = t.endpoint("alice");
    assert_eq!(e.url, "https://vault.lan:22300");
    assert_eq!(e.connect, "10.9.0.1:22300".parse().unwrap());
    assert_eq!(e.extra_host.as_deref(), Some("vault.lan:10.9.0.1"));
    assert!(
        t.entry_users().is_empty(),
        "no forwarder, no forwarder user"
    );
    assert_eq!(
        t.vault_listeners(),
        [site.vault_addr],
        "Vault stays on loopback"
    );
    let host = t.host_files(&crate::layout::Layout::new("/s"), &[1001]);
    let names: Vec<&str> = host.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, [gate::FILE, dnat::SYSCTL_FILE]);
    let nft = &host.files[0].contents;
    let dnat = "ip daddr 10.9.0.1 tcp dport 22300 dnat ip to 127.0.0.1:8200";
    assert_eq!(nft.matches(dnat).count(), 2, "prerouting and output: {nft}");
    assert!(nft.contains("type nat hook prerouting priority dstnat;"));
    assert!(nft.contains("type nat hook output priority -100;"));
    // The uid rules before NAT, where the entry's port is still seen.
    assert!(
        nft.contains("type filter hook output priority -150;"),
        "{nft}"
    );
    assert!(nft.contains(
        "ip daddr 10.9.0.1 tcp dport 22300 meta skuid != @allowed reject with tcp reset"
    ));
    assert!(nft.contains(
        "ip daddr 127.0.0.1 tcp dport 8200 meta skuid != @vault_clients reject with tcp reset"
    ));
    let input = &nft[nft.find("chain input").unwrap()..];
    let accept = input
        .find("ct status dnat ct original ip daddr 10.9.0.1 ct original proto-dst 22300 accept")
        .expect(input);
    let guard = input.find(dnat::GUARD).expect(input);
    assert!(accept < guard, "{input}");
    assert_eq!(
        host.files[1].contents.lines().last(),
        Some("net.ipv4.conf.eth1.route_localnet = 1")
    );
    // The guard is loaded before route_localnet opens the interface.
    assert!(
        host.enable[0].starts_with("nft -f forwarder/vaultnet.nft"),
        "{:?}",
        host.enable
    );
    assert_eq!(
        host.enable[2],
        "sysctl -w net.ipv4.conf.eth1.route_localnet=1    # and now, once the gate is loaded"
    );
    assert!(!host.enable.iter().any(|c| c.contains(".all.")));
    let links = t.host_links();
    let ids: Vec<&str> = links
        .iter()
        .map(|l| match l {
            HostLink::Sysctl { id, .. }
            | HostLink::NftRule { id, .. }
            | HostLink::FirstIpv4 { id, .. } => id.as_str(),
        })
        .collect();
    assert_eq!(
        ids,
        [
            "host.dnat.output",
            "host.dnat.prerouting",
            "host.guard",
            "host.route_localnet"
        ]
    );
    assert_eq!(t.entry_probes()[0].id, "dnat");
    assert!(
        t.retired_host_files(&[])
            .iter()
            .all(|(n, _)| n != dnat::SYSCTL_FILE)
    );
    // Every other profile retires the sysctl file.
    let l1 = sample_site("l1");
    let retired = Topology::new(&l1).unwrap().retired_host_files(&[]);
    assert!(retired.iter().any(|(n, _)| n == dnat::SYSCTL_FILE));
}

#[test]
fn r7_refuses_ipv6_a_cluster_and_a_missing_ingress_interface_and_others_refuse_one() {
    let mut site = r7_site();
    site.host_ip = "fd00::1".parse().unwrap();
    let e = Topology::new(&site).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.message().contains("IPv6 has no `route_localnet`"),
        "{}",
        e.message()
    );
    let mut site = r7_site();
    site.ingress_interface = None;
    let e = Topology::new(&site).unwrap_err();
    assert_eq!(
        e.hint_text(),
        Some("pass it, e.g. `--ingress-interface eth0` (`ip -brief address` lists them)")
    );
    let mut l1 = sample_site("l1");
    l1.ingress_interface = Some("eth1".into());
    let e = Topology::new(&l1).unwrap_err();
    assert_eq!(
        e.message(),
        "`--ingress-interface eth1` does not apply to profile l1: no remote client is DNATed to Vault's loopback listener"
    );
    // Flagged, else recorded, else the interface holding the host address;
    // other profiles keep none.
    let r7 = Profile::builtin("r7").unwrap();
    let found = || Some("eth9".to_string());
    assert_eq!(
        ingress_interface(&r7, Some("eth1"), Some("eth2"), found).as_deref(),
        Some("eth1")
    );
    assert_eq!(
        ingress_interface(&r7, None, Some("eth2"), found).as_deref(),
        Some("eth2")
    );
    assert_eq!(
        ingress_interface(&r7, None, None, found).as_deref(),
        Some("eth9")
    );
    let l1p = Profile::builtin("l1").unwrap();
    assert_eq!(ingress_interface(&l1p, None, Some("eth2"), found), None);
    for bad in [
        "all",
        "default",
        "lo",
        "",
        "eth 0",
        "a/b",
        "sixteen-chars-xx",
        "..",
    ] {
        let e = crate::state::validate::interface(bad).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{bad}");
        assert!(
            e.hint_text().unwrap().contains("--ingress-interface"),
            "{bad}"
        );
    }
    assert!(crate::state::validate::interface("eth0.100").is_ok());
}

#[test]
fn a_state_file_from_before_profiles_decided_the_mapping_is_read_when_it_agrees() {
    let mut site = sample_site("l6");
    site.legacy_host_mapping = Some("host-gateway".into());
    assert!(Topology::new(&site).is_ok());
    site.legacy_host_mapping = Some("ip".into());
    let e = Topology::new(&site).unwrap_err();
    assert_eq!(
        e.message(),
        "`host_mapping: ip` contradicts profile `l6`, which maps the name to `host-gateway`"
    );
    let yaml = crate::state::State::new(sample_site("l1")).to_yaml();
    let old = yaml.replace("  port: 22300\n", "  port: 22300\n  host_mapping: ip\n");
    assert_ne!(old, yaml);
    let state = crate::state::State::parse(old.as_bytes()).unwrap();
    assert_eq!(state.site.legacy_host_mapping.as_deref(), Some("ip"));
    assert_eq!(state.to_yaml(), yaml, "never written again");
}

#[test]
fn users_the_operator_names_join_root_and_the_forwarder_on_vaults_port() {
    let mut site = sample_site("l1");
    site.vault_clients = vec!["backup".into(), "4242".into()];
    let t = Topology::new(&site).unwrap();
    let files = t.host_files(&crate::layout::Layout::new("/s"), &[]);
    let nft = files.files.iter().find(|f| f.name == gate::FILE).unwrap();
    assert!(
        nft.contents
            .contains("elements = { 0, vaultnet-forwarder, backup, 4242 }"),
        "{}",
        nft.contents
    );
    site.vault_clients = vec!["bad name".into()];
    assert!(crate::state::validate::site(&site).is_err());
}

fn found(version: &str, backend: &str) -> Answer {
    Answer::Found {
        version: version.into(),
        backend: backend.into(),
    }
}

#[test]
fn each_tenant_gets_the_mapping_its_own_podman_can_use() {
    use HostMapping::{HostGateway, Ip};
    let pick = |site, answer: &Answer| {
        tenant_network("bob", site, None, None, Some(answer)).map(|n| (n.mapping, n.source))
    };
    // Whatever the site's profile says, the tenant's backend decides.
    for site in [Ip, HostGateway] {
        let slirp = pick(site, &found("4.3.1", "slirp4netns")).unwrap();
        assert_eq!(slirp, (Ip, MappingSource::Detected));
        let slirp5 = pick(site, &found("5.4.2", "slirp4netns")).unwrap();
        assert_eq!(slirp5, (Ip, MappingSource::Detected));
        let pasta = pick(site, &found("5.3.0", "pasta")).unwrap();
        assert_eq!(pasta, (HostGateway, MappingSource::Detected));
        // Asking nobody, or a Podman that cannot say: the site's.
        for answer in [
            Answer::Absent,
            Answer::Failed("no".into()),
            found("5.4.2", "bridge-of-sorts"),
        ] {
            assert_eq!(pick(site, &answer).unwrap(), (site, MappingSource::Site));
        }
        let none = tenant_network("bob", site, None, None, None).unwrap();
        assert_eq!((none.mapping, none.source), (site, MappingSource::Site));
    }
    let n = tenant_network("bob", Ip, None, None, Some(&found("5.4.2", "pasta"))).unwrap();
    assert_eq!(
        (n.backend.as_deref(), n.podman.as_deref()),
        (Some("pasta"), Some("5.4.2"))
    );
    assert!(
        n.reason.starts_with("Podman 5.4.2 uses pasta"),
        "{}",
        n.reason
    );
    let absent = tenant_network("bob", Ip, None, None, Some(&Answer::Absent)).unwrap();
    assert_eq!(
        absent.reason,
        "Podman is not installed for `bob`: the site's mapping"
    );
}

#[test]
fn pasta_before_podman_5_3_is_refused_with_the_ways_out() {
    let e = tenant_network(
        "bob",
        HostMapping::Ip,
        None,
        None,
        Some(&found("5.2.5", "pasta")),
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.message(),
        "tenant `bob`'s Podman 5.2.5 uses pasta, where the host address is the container's own, and `host-gateway` needs Podman 5.3"
    );
    assert!(e.hint_text().unwrap().contains("slirp4netns"), "{e:?}");
    // The operator may know better: the flag is the way out too.
    let n = tenant_network(
        "bob",
        HostMapping::Ip,
        Some(HostMapping::Ip),
        None,
        Some(&found("5.2.5", "pasta")),
    )
    .unwrap();
    assert_eq!(
        (n.mapping, n.source),
        (HostMapping::Ip, MappingSource::Flag)
    );
}

#[test]
fn a_mapping_chosen_by_flag_is_kept_until_another_flag() {
    let chosen = tenant_network(
        "bob",
        HostMapping::Ip,
        Some(HostMapping::HostGateway),
        None,
        Some(&found("4.3.1", "slirp4netns")),
    )
    .unwrap();
    assert_eq!(chosen.reason, "chosen with `--host-mapping host-gateway`");
    let again = tenant_network(
        "bob",
        HostMapping::Ip,
        None,
        Some(&chosen),
        Some(&found("4.3.1", "slirp4netns")),
    )
    .unwrap();
    assert_eq!(again, chosen);
    let detected = tenant_network(
        "bob",
        HostMapping::Ip,
        None,
        Some(&TenantNetwork {
            source: MappingSource::Detected,
            ..chosen
        }),
        Some(&found("4.3.1", "slirp4netns")),
    )
    .unwrap();
    assert_eq!(
        detected.mapping,
        HostMapping::Ip,
        "a detected one is asked again"
    );
}

/// An l3 site with alice on 22301, bob (no Unix user) on 22303 and the
/// port of a removed carol, 22302, reserved.
fn l3_state(forwarder: crate::state::Forwarder) -> State {
    let v3 = include_str!("../../tests/fixtures/state-v3.yaml");
    let mut state = State::parse(v3.as_bytes()).unwrap();
    state.site.profile = "l3".into();
    state.site.port = 22301;
    state.site.forwarder = forwarder;
    state.tenants.get_mut("alice").unwrap().port = Some(22301);
    state.tenants.get_mut("bob").unwrap().port = Some(22303);
    state.reserved_ports.push(crate::state::ReservedPort {
        port: 22302,
        tenant: "carol".into(),
        until: crate::state::rfc3339::parse("2027-06-01T00:00:00Z").unwrap(),
    });
    state
}

#[test]
fn l3_gives_each_tenant_its_own_endpoint_forwarder_entry_and_gate_rule() {
    let state = l3_state(crate::state::Forwarder::Socat);
    let t = Topology::of(&state).unwrap();
    let e = t.tenant_endpoint("alice", &state.tenants["alice"]);
    assert_eq!(e.url, "https://vault.lan:22301");
    assert_eq!(e.extra_host.as_deref(), Some("vault.lan:10.9.0.1"));
    assert_eq!(e.connect.to_string(), "10.9.0.1:22301");
    assert_eq!(t.endpoint("bob").url, "https://vault.lan:22303");
    let probes: Vec<(String, String)> = t
        .entry_probes()
        .into_iter()
        .map(|p| (p.id, p.addr.to_string()))
        .collect();
    assert_eq!(
        probes,
        [
            ("forwarder.alice".to_string(), "10.9.0.1:22301".to_string()),
            ("forwarder.bob".to_string(), "10.9.0.1:22303".to_string()),
        ]
    );
    let host = t.host_files(&crate::layout::Layout::new("/s"), &state.tenant_uids());
    let nft = &host
        .files
        .iter()
        .find(|f| f.name == gate::FILE)
        .unwrap()
        .contents;
    for rule in [
        "ip daddr 10.9.0.1 tcp dport 22301 meta skuid != { 0, 1001 } reject with tcp reset",
        // The removed tenant's port: root only, until its certificate expires.
        "ip daddr 10.9.0.1 tcp dport 22302 meta skuid != 0 reject with tcp reset",
        "ip daddr 10.9.0.1 tcp dport 22303 meta skuid != 0 reject with tcp reset",
        "ip daddr 10.9.0.1 tcp dport 22302 iifname != \"lo\" reject with tcp reset",
        "ip daddr 127.0.0.1 tcp dport 8200 meta skuid != @vault_clients reject with tcp reset",
    ] {
        assert!(nft.lines().any(|l| l.trim() == rule), "{rule}\n{nft}");
    }
    assert!(
        nft.contains("# reserved: removed tenant carol until 2027-06-01T00:00:00Z (root only)"),
        "{nft}"
    );
    assert!(
        !nft.contains("@allowed reject"),
        "no port admits every tenant: {nft}"
    );
    assert!(
        host.enable
            .contains(&"systemctl enable --now vaultnet-forwarder@22301.service".to_string())
    );
    assert!(
        host.enable
            .contains(&"systemctl enable --now vaultnet-forwarder@22303.service".to_string())
    );
    assert!(
        !host.enable.iter().any(|c| c.contains("22302")),
        "{:?}",
        host.enable
    );
    assert_eq!(
        t.port_rules(),
        [
            (
                "alice".to_string(),
                22301,
                "ip daddr 10.9.0.1 tcp dport 22301 meta skuid != { 0, 1001 } reject with tcp reset"
                    .to_string()
            ),
            (
                "bob".to_string(),
                22303,
                "ip daddr 10.9.0.1 tcp dport 22303 meta skuid != 0 reject with tcp reset"
                    .to_string()
            ),
        ]
    );
}

#[test]
fn l3_socket_proxyd_files_of_a_port_no_tenant_has_are_retired() {
    let state = l3_state(crate::state::Forwarder::SocketProxyd);
    let t = Topology::of(&state).unwrap();
    let names: Vec<String> = t
        .host_files(&crate::layout::Layout::new("/s"), &[])
        .files
        .into_iter()
        .map(|f| f.name)
        .collect();
    assert!(
        names.contains(&"vaultnet-forwarder-22303.socket".to_string()),
        "{names:?}"
    );
    let present: Vec<String> = [
        "vaultnet-forwarder-22301.socket",
        "vaultnet-forwarder-22302.socket",
        "vaultnet-forwarder-22302.service",
        "vaultnet.nft",
        "notes.txt",
    ]
    .map(String::from)
    .to_vec();
    let retired: Vec<(String, String)> = t
        .retired_host_files(&present)
        .into_iter()
        .filter(|(n, _)| n.contains("-2230"))
        .collect();
    assert_eq!(
        retired,
        [
            (
                "vaultnet-forwarder-22302.service".to_string(),
                "no tenant has its port any more".to_string()
            ),
            (
                "vaultnet-forwarder-22302.socket".to_string(),
                "no tenant has its port any more".to_string()
            ),
        ]
    );
}

#[test]
fn l3_refuses_vaults_port_as_the_first_port() {
    let mut state = l3_state(crate::state::Forwarder::Socat);
    state.site.port = 8200;
    let e = Topology::of(&state).unwrap_err();
    assert_eq!(
        e.message(),
        "the first tenant port 8200 is Vault's own port (`--vault-listen 127.0.0.1:8200`)"
    );
    assert_eq!(
        e.hint_text(),
        Some("pick another `--port`, e.g. `--port 22301`")
    );
}

#[test]
fn l2_bundles_use_podmans_name_for_the_host_with_no_extra_hosts_and_the_certificate_names_it() {
    let site = sample_site("l2");
    let t = Topology::new(&site).unwrap();
    assert_eq!(
        t.endpoint("alice"),
        Endpoint {
            url: "https://host.containers.internal:22300".into(),
            name: "host.containers.internal".into(),
            extra_host: None,
            connect: "10.9.0.1:22300".parse().unwrap(),
        }
    );
    let (dns, ips) = t.server_sans();
    assert_eq!(dns, ["vault.lan", "host.containers.internal", "localhost"]);
    assert_eq!(ips[0], site.host_ip);
    let spec = BundleSpec {
        tenant: "alice",
        vault_name: "alice",
        role: "alice",
        endpoint: &t.endpoint("alice"),
        flavor: site.flavor,
        agent_image: &site.agent_image,
        kv_mount: &site.kv_mount,
        tenant_prefix: &site.tenant_prefix,
        wrapped_secret_id_path: None,
        installed_at: None,
        auth: crate::state::Auth::Approle,
    };
    let compose = bundle::compose(&spec);
    assert!(!compose.contains("extra_hosts"), "{compose}");
    assert!(!bundle::quadlet(&spec).contains("AddHost="));
    // A tenant flagged onto the site's DNS name still gets its entry.
    let mapped = t.endpoint_mapped(None, Some(HostMapping::Ip));
    assert_eq!(mapped.extra_host.as_deref(), Some("vault.lan:10.9.0.1"));
    assert_eq!(mapped.url, "https://vault.lan:22300");
    // doctor watches the address Podman points its name at.
    assert!(matches!(
        &t.host_links()[..],
        [HostLink::FirstIpv4 { want, .. }] if *want == site.host_ip
    ));
    // The other profiles keep their names and their mappings.
    let l1 = sample_site("l1");
    let (dns, _) = Topology::new(&l1).unwrap().server_sans();
    assert_eq!(dns, ["vault.lan", "localhost"]);
}

#[test]
fn under_l2_each_backend_that_reaches_the_host_by_podmans_name_keeps_it() {
    use HostMapping::HostContainersInternal as Hci;
    for answer in [found("4.3.1", "slirp4netns"), found("5.4.2", "pasta")] {
        let n = tenant_network("bob", Hci, None, None, Some(&answer)).unwrap();
        assert_eq!((n.mapping, n.source), (Hci, MappingSource::Detected));
        assert!(
            n.reason
                .ends_with("whose containers reach the host as `host.containers.internal`"),
            "{}",
            n.reason
        );
    }
    // Pasta before 5.3 maps the name to the container's own address.
    assert!(tenant_network("bob", Hci, None, None, Some(&found("5.2.5", "pasta"))).is_err());
    let none = tenant_network("bob", Hci, None, None, None).unwrap();
    assert_eq!((none.mapping, none.source), (Hci, MappingSource::Site));
    // Only an L2 site's certificate names it.
    let e = tenant_network("bob", HostMapping::Ip, Some(Hci), None, None).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.hint_text(),
        Some(
            "drop `--host-mapping`, or move the site to the pattern: `vaultnet init --profile l2`"
        )
    );
    let e = check_host_mapping(&Profile::builtin("l1").unwrap(), Some(Hci)).unwrap_err();
    assert_eq!(
        e.hint_text(),
        Some(
            "drop `--host-mapping`, or choose the profile that maps to `host-containers-internal`: `--profile l2`"
        )
    );
}
