//! `vaultnet init`: the operator's first step. Creates the CA, the Vault
//! server and operator certificates, the listener stanza and the forwarder
//! files, records the site settings, and — when Vault answers and an
//! operator token is at hand — enables AppRole and KV v2. Safe to re-run.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::OffsetDateTime;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::pki::{Ca, CertInfo, Issued};
use crate::render::{self, forwarder::ForwarderSpec, listener::ListenerSpec};
use crate::state::{Flavor, Forwarder, HostMapping, Site, State, validate};
use crate::sys::fsx::{self, Change};
use crate::sys::hostnet;
use crate::topology::profile::{self, Profile};
use crate::ui;
use crate::vault::Health;
use crate::vault::ops::{self, Step};

const EXAMPLES: &str = "\
EXAMPLES:
  vaultnet init --yes --host-ip 192.168.1.10
  VAULT_TOKEN=… vaultnet init --forwarder nginx --dns-name vault.lan
  vaultnet init --force        # new CA and certificates; every tenant must be re-added

EXIT CODES:
  0  files written (Vault bootstrapped, or what is left to do printed)
  1  Vault answered and refused a step (e.g. permission denied)
  2  bad input; nothing was changed";

#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Deployment pattern: l1 (host forwarder), l6 (l1 for pasta: host-gateway mapping) [default: l1]
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Name tenants use to reach Vault [default: vault.lan]
    #[arg(long, value_name = "NAME")]
    pub dns_name: Option<String>,
    /// Host address the forwarder listens on [default: the default-route interface's address]
    #[arg(long, value_name = "IP")]
    pub host_ip: Option<String>,
    /// Forwarder port on the host address [default: 22300]
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// Loopback address Vault's listener binds [default: 127.0.0.1:8200]
    #[arg(long, value_name = "IP:PORT")]
    pub vault_addr: Option<String>,
    /// Host forwarder to configure [default: socat]
    #[arg(long, value_enum)]
    pub forwarder: Option<Forwarder>,
    /// Vault or OpenBao: binary and image names, VAULT_* or BAO_* in instructions [default: openbao]
    #[arg(long, value_enum)]
    pub flavor: Option<Flavor>,
    /// Agent sidecar image for tenant bundles [default: the flavor's official image]
    #[arg(long, value_name = "IMAGE")]
    pub agent_image: Option<String>,
    /// How tenants' extra_hosts reach the host: the host IP (slirp4netns, rootful) or host-gateway (pasta) [default: ip]
    #[arg(long, value_enum)]
    pub host_mapping: Option<HostMapping>,
    /// KV v2 mount holding tenant secrets [default: secret]
    #[arg(long, value_name = "MOUNT")]
    pub kv_mount: Option<String>,
    /// Prefix under the KV mount; tenant NAME owns <kv-mount>/<prefix>/NAME/ [default: tenants]
    #[arg(long, value_name = "PREFIX")]
    pub tenant_prefix: Option<String>,
    /// Validity of the Vault server certificate, in days [default: 365]
    #[arg(long, value_name = "DAYS")]
    pub server_cert_days: Option<u32>,
    /// File holding the operator token (else VAULT_TOKEN/BAO_TOKEN, then ~/.vault-token)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Never prompt; use flags, recorded settings and defaults
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Replace the CA, the server and operator certificates (tenants must be re-added)
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for Vault
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
}

/// Leaf certificates this close to expiry are renewed by a re-run.
const RENEW_WITHIN_DAYS: i64 = 30;

pub fn run(env: &Env, dir_flag: Option<&Path>, args: Args) -> Result<u8> {
    let dir = env.state_dir(dir_flag)?;
    // Everything that can be rejected is rejected before anything is written.
    let parsed = Parsed::from_args(&args)?;
    let token = env.operator_token(args.token_file.as_deref())?;
    fsx::check_writable(&dir)?;
    let previous = if dir.is_dir() {
        crate::store::load(&dir)?
    } else {
        None
    };
    let site = resolve_site(&parsed, previous.as_ref().map(|s| &s.site), &args)?;

    // Creating the state directory is the first write; when it fails
    // nothing changed, so it is a rejection like any unwritable directory.
    // (`check_writable` cannot catch it all: as root, `access(2)` allows
    // /proc and /sys, where mkdir still fails.)
    fsx::private_dir(&dir).map_err(|e| {
        if dir.is_dir() {
            e
        } else {
            Error::usage(e.message().to_string())
                .hint("choose a writable directory with `--dir DIR` (or `VAULTNET_DIR`)")
        }
    })?;
    let _lock = fsx::Lock::acquire(&dir)?;
    // Re-read under the lock: another run may have finished meanwhile.
    let previous = crate::store::load(&dir)?;
    let layout = Layout::new(&dir);
    for d in [
        layout.pki(),
        layout.vault(),
        layout.operator(),
        layout.forwarder(),
        layout.tenants(),
    ] {
        fsx::private_dir(&d)?;
    }

    let now = OffsetDateTime::now_utc();
    let mut report = Report::default();
    if let Some(prev) = &previous {
        let diff = site_diff(&prev.site, &site);
        for (what, old, new) in &diff {
            report.changed(format!("setting {what}: {old} -> {new}"));
        }
        // Bundles carry the address, name, mapping and image tenants use.
        let in_bundles = [
            "dns-name",
            "host-ip",
            "port",
            "host-mapping",
            "agent-image",
            "flavor",
            "kv-mount",
            "tenant-prefix",
        ];
        if !prev.tenants.is_empty() && diff.iter().any(|(w, _, _)| in_bundles.contains(w)) {
            let names: Vec<&str> = prev.tenants.keys().map(String::as_str).collect();
            report.note(format!(
                "tenant bundles still hold the old settings: run `vaultnet add-user {}` to rewrite them",
                names.join(" ")
            ));
        }
    }
    let (ca, ca_replaced) = ensure_ca(&layout, args.force, now, &mut report)?;
    ensure_server_cert(
        &layout,
        &site,
        &ca,
        args.force || ca_replaced,
        now,
        &mut report,
    )?;
    ensure_operator_cert(&layout, &ca, args.force || ca_replaced, now, &mut report)?;
    write_listener(&layout, &site, &mut report)?;
    let forwarder = write_forwarder(&layout, &site, &mut report)?;

    let previous_kv_mount = previous.as_ref().map(|p| p.site.kv_mount.clone());
    let mut state = previous.unwrap_or_else(|| State::new(site.clone()));
    state.site = site.clone();
    if crate::store::save(&dir, &state)? != Change::Unchanged {
        report.changed(format!("wrote `{}`", crate::state::STATE_FILE));
    }
    // The gate exists from the start: even with no tenant yet it keeps
    // Vault's loopback port and the forwarder port from strangers.
    let (nft, change) = super::write_nft(&layout, &state)?;
    note_write(&layout, &nft, change, &mut report);
    if ca_replaced && !state.tenants.is_empty() {
        report.note(format!(
            "the new CA does not know the certificates of {} tenant(s): re-add them with `vaultnet add-user --rotate NAME`",
            state.tenants.len()
        ));
    }

    let pending = match bootstrap(
        &layout,
        &site,
        token,
        Duration::from_secs(args.timeout),
        &mut report,
    ) {
        Ok(p) => p,
        Err(e) => {
            // A mount Vault refused must not stick: the next plain `init`
            // goes back to the one that worked.
            if let Some(old) = previous_kv_mount.filter(|m| *m != site.kv_mount) {
                state.site.kv_mount = old;
                crate::store::save(&dir, &state)?;
            }
            return Err(e);
        }
    };

    print_summary(&layout, &site, &forwarder, &report, &pending)?;
    Ok(0)
}

/// Flag values, parsed and validated.
struct Parsed {
    host_ip: Option<IpAddr>,
    port: Option<u16>,
    vault_addr: Option<SocketAddr>,
}

impl Parsed {
    fn from_args(a: &Args) -> Result<Parsed> {
        let host_ip = a.host_ip.as_deref().map(parse_host_ip).transpose()?;
        let port = a.port.as_deref().map(parse_port).transpose()?;
        let vault_addr = a.vault_addr.as_deref().map(parse_vault_addr).transpose()?;
        if let Some(d) = &a.dns_name {
            validate::dns_name(d)?;
        }
        if let Some(i) = &a.agent_image {
            validate::image(i)?;
        }
        if let Some(m) = &a.kv_mount {
            validate::path_segment("KV mount", "--kv-mount", m)?;
        }
        if let Some(p) = &a.tenant_prefix {
            validate::path_segment("tenant prefix", "--tenant-prefix", p)?;
        }
        if let Some(d) = a.server_cert_days {
            validate::cert_days(d)?;
        }
        Ok(Parsed {
            host_ip,
            port,
            vault_addr,
        })
    }
}

pub fn parse_host_ip(s: &str) -> Result<IpAddr> {
    let ip: IpAddr = s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid host IP `{}`: not an IP address",
            s.escape_debug()
        ))
        .hint("pass the host's address, e.g. `--host-ip 192.168.1.10`")
    })?;
    validate::host_ip(ip)?;
    Ok(ip)
}

pub fn parse_port(s: &str) -> Result<u16> {
    let bad = || {
        Error::usage(format!(
            "invalid port `{}`: must be a number from 1 to 65535",
            s.escape_debug()
        ))
        .hint("pass e.g. `--port 22300`")
    };
    match s.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(bad()),
    }
}

pub fn parse_vault_addr(s: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = s.trim().parse().map_err(|_| {
        Error::usage(format!(
            "invalid Vault address `{}`: expected IP:PORT",
            s.escape_debug()
        ))
        .hint("pass e.g. `--vault-addr 127.0.0.1:8200`")
    })?;
    validate::vault_addr(addr)?;
    Ok(addr)
}

/// Settings: flags, then what init recorded before, then a prompt (on a
/// terminal without `--yes`), then defaults.
fn resolve_site(p: &Parsed, prev: Option<&Site>, a: &Args) -> Result<Site> {
    let profile = Profile::builtin(
        a.profile
            .as_deref()
            .or(prev.map(|s| s.profile.as_str()))
            .unwrap_or(profile::DEFAULT),
    )?;
    let ask = !a.yes && ui::interactive();
    // First init on a terminal: ask for each value no flag gave.
    let first = ask && prev.is_none();
    let flavor = match a.flavor.or(prev.map(|s| s.flavor)) {
        Some(f) => f,
        None if first => choose("Vault or OpenBao", Flavor::Openbao)?,
        None => Flavor::Openbao,
    };

    let dns_name = match (&a.dns_name, prev) {
        (Some(d), _) => d.clone(),
        (None, Some(s)) => s.dns_name.clone(),
        (None, None) if ask => prompt("DNS name tenants use for Vault", "vault.lan", |v| {
            validate::dns_name(v).map(|_| v.to_string())
        })?,
        (None, None) => "vault.lan".into(),
    };
    let host_ip = match (p.host_ip, prev) {
        (Some(ip), _) => ip,
        (None, Some(s)) => s.host_ip,
        (None, None) => {
            let proposed = hostnet::default_host_ip();
            if ask {
                let default = proposed.map(|ip| ip.to_string()).unwrap_or_default();
                prompt(
                    "Host address the forwarder listens on",
                    &default,
                    parse_host_ip,
                )?
            } else {
                proposed.ok_or_else(|| {
                    Error::usage("cannot find this host's address: there is no default route")
                        .hint("pass the address containers reach the host on, e.g. `--host-ip 192.168.1.10`")
                })?
            }
        }
    };
    let port = match (p.port, prev) {
        (Some(port), _) => port,
        (None, Some(s)) => s.port,
        (None, None) if ask => prompt(
            "Forwarder port",
            &profile.forwarder.port.to_string(),
            parse_port,
        )?,
        (None, None) => profile.forwarder.port,
    };
    let vault_addr = match (p.vault_addr, prev) {
        (Some(v), _) => v,
        (None, Some(s)) => s.vault_addr,
        (None, None) if ask => prompt(
            "Loopback address of Vault's listener",
            "127.0.0.1:8200",
            parse_vault_addr,
        )?,
        (None, None) => "127.0.0.1:8200".parse().expect("valid"),
    };
    let forwarder = match a.forwarder.or(prev.map(|s| s.forwarder)) {
        Some(f) => f,
        None if first => choose("Host forwarder", Forwarder::Socat)?,
        None => Forwarder::Socat,
    };
    let agent_image = match (&a.agent_image, prev) {
        (Some(i), _) => i.clone(),
        // A recorded default follows a flavor change; an explicit image stays.
        (None, Some(s)) if s.agent_image != s.flavor.default_agent_image() => s.agent_image.clone(),
        (None, None) if first => {
            prompt("Agent sidecar image", flavor.default_agent_image(), |v| {
                validate::image(v).map(|_| v.to_string())
            })?
        }
        _ => flavor.default_agent_image().to_string(),
    };
    // A new profile brings its own defaults; explicit flags still win.
    let same_profile = prev.filter(|p| p.profile == profile.code.to_lowercase());
    let host_mapping = match a.host_mapping.or(same_profile.map(|s| s.host_mapping)) {
        Some(m) => m,
        None if first => choose(
            "How containers reach the host (ip: slirp4netns or rootful; host-gateway: pasta)",
            profile.host_mapping,
        )?,
        None => profile.host_mapping,
    };
    let segment = |flag: &str,
                   what: &'static str,
                   given: &Option<String>,
                   old: Option<String>,
                   default: &str|
     -> Result<String> {
        match given.clone().or(old) {
            Some(v) => Ok(v),
            None if first => prompt(what, default, |v| {
                validate::path_segment(what, flag, v).map(|_| v.to_string())
            }),
            None => Ok(default.to_string()),
        }
    };
    let kv_mount = segment(
        "--kv-mount",
        "KV v2 mount for tenant secrets",
        &a.kv_mount,
        prev.map(|s| s.kv_mount.clone()),
        "secret",
    )?;
    let tenant_prefix = segment(
        "--tenant-prefix",
        "Prefix under the mount (tenant NAME owns <mount>/<prefix>/NAME/)",
        &a.tenant_prefix,
        prev.map(|s| s.tenant_prefix.clone()),
        "tenants",
    )?;
    let site = Site {
        profile: profile.code.to_lowercase(),
        dns_name,
        host_ip,
        port,
        vault_addr,
        forwarder,
        flavor,
        agent_image,
        host_mapping,
        kv_mount,
        tenant_prefix,
        server_cert_days: a
            .server_cert_days
            .or(prev.map(|s| s.server_cert_days))
            .unwrap_or(365),
    };
    validate::site(&site)?;
    crate::topology::Topology::new(&site)?;
    if site.port == site.vault_addr.port() && site.host_ip == site.vault_addr.ip() {
        return Err(
            Error::usage("the forwarder and Vault cannot share one address")
                .hint("pick another `--port`"),
        );
    }
    Ok(site)
}

fn prompt<T>(question: &str, default: &str, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(question)
        .validate_with(|v: &String| parse(v).map(drop).map_err(|e| e.message().to_string()));
    if !default.is_empty() {
        input = input.default(default.to_string());
    }
    let answer = input.interact_text().map_err(|e| {
        Error::usage(format!("prompt aborted: {e}"))
            .hint("pass the value as a flag, or `--yes` for defaults")
    })?;
    parse(&answer)
}

/// A choice among an option's values, the default first selected.
fn choose<T: clap::ValueEnum + Copy + PartialEq>(question: &str, default: T) -> Result<T> {
    let values = T::value_variants();
    let names: Vec<String> = values
        .iter()
        .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
        .collect();
    let start = values.iter().position(|v| *v == default).unwrap_or(0);
    let i = dialoguer::Select::new()
        .with_prompt(question)
        .items(&names)
        .default(start)
        .interact()
        .map_err(|e| {
            Error::usage(format!("prompt aborted: {e}"))
                .hint("pass the value as a flag, or `--yes` for defaults")
        })?;
    Ok(values[i])
}

fn site_diff(old: &Site, new: &Site) -> Vec<(&'static str, String, String)> {
    let mut d = Vec::new();
    let mut cmp = |what, a: String, b: String| {
        if a != b {
            d.push((what, a, b));
        }
    };
    cmp("profile", old.profile.clone(), new.profile.clone());
    cmp("dns-name", old.dns_name.clone(), new.dns_name.clone());
    cmp("host-ip", old.host_ip.to_string(), new.host_ip.to_string());
    cmp("port", old.port.to_string(), new.port.to_string());
    cmp(
        "vault-addr",
        old.vault_addr.to_string(),
        new.vault_addr.to_string(),
    );
    cmp(
        "forwarder",
        old.forwarder.to_string(),
        new.forwarder.to_string(),
    );
    cmp("flavor", old.flavor.to_string(), new.flavor.to_string());
    cmp(
        "agent-image",
        old.agent_image.clone(),
        new.agent_image.clone(),
    );
    cmp(
        "host-mapping",
        old.host_mapping.to_string(),
        new.host_mapping.to_string(),
    );
    cmp("kv-mount", old.kv_mount.clone(), new.kv_mount.clone());
    cmp(
        "tenant-prefix",
        old.tenant_prefix.clone(),
        new.tenant_prefix.clone(),
    );
    cmp(
        "server-cert-days",
        old.server_cert_days.to_string(),
        new.server_cert_days.to_string(),
    );
    d
}

/// What a run did, for the summary.
#[derive(Default)]
struct Report {
    changed: Vec<String>,
    kept: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    fn changed(&mut self, s: String) {
        ui::status(&s);
        self.changed.push(s);
    }
    fn kept(&mut self, s: String) {
        ui::status(&s);
        self.kept.push(s);
    }
    fn note(&mut self, s: String) {
        self.notes.push(s);
    }
}

fn date(t: OffsetDateTime) -> String {
    t.date().to_string()
}

fn read_text(path: &Path) -> Result<Option<String>> {
    fsx::read_limited(path, 1 << 20)?
        .map(|b| {
            String::from_utf8(b)
                .map_err(|_| Error::failed(format!("`{}` is not PEM text", path.display())))
        })
        .transpose()
}

/// Writes a key then its certificate, each atomically. A run interrupted
/// between the two leaves a pair that does not match, which the next run
/// detects and reissues.
fn write_pair(cert: &Path, key: &Path, issued: &Issued) -> Result<()> {
    fsx::write_atomic(key, issued.key_pem.as_bytes(), fsx::SECRET)?;
    fsx::write_atomic(cert, issued.cert_pem.as_bytes(), fsx::PUBLIC)
}

fn ensure_ca(
    layout: &Layout,
    force: bool,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<(Ca, bool)> {
    let (cert_path, key_path) = (layout.ca_cert(), layout.ca_key());
    let cert = read_text(&cert_path)?;
    let key = fsx::read_limited(&key_path, 1 << 20)?
        .map(|b| zeroize::Zeroizing::new(String::from_utf8_lossy(&b).into_owned()));
    let old = match (&cert, &key) {
        (Some(c), Some(k)) if !force => {
            let ca = Ca::load(c, k)?;
            let info = CertInfo::parse(c)?;
            report.kept(format!(
                "kept CA `pki/ca.pem` ({}, expires {})",
                info.common_name.unwrap_or_default(),
                date(info.not_after)
            ));
            return Ok((ca, false));
        }
        (Some(c), _) => CertInfo::parse(c).ok(),
        (None, Some(_)) if !force => {
            return Err(Error::failed(
                "`pki/ca-key.pem` exists but `pki/ca.pem` is missing",
            )
            .hint("restore `pki/ca.pem` from a backup, or run `vaultnet init --force` to start a new CA"));
        }
        _ => None,
    };
    if cert.is_some() && key.is_none() && !force {
        return Err(Error::failed("`pki/ca.pem` exists but its key `pki/ca-key.pem` is missing")
            .hint("restore `pki/ca-key.pem` from a backup, or run `vaultnet init --force` to start a new CA"));
    }
    let (ca, issued) = Ca::generate(now, &hostnet::hostname())?;
    write_pair(&cert_path, &key_path, &issued)?;
    let info = CertInfo::parse(&issued.cert_pem)?;
    match old {
        Some(o) => report.changed(format!(
            "replaced CA `pki/ca.pem`: `{}` (serial {}) -> `{}` (serial {}), expires {}",
            o.common_name.unwrap_or_default(),
            o.serial,
            info.common_name.unwrap_or_default(),
            info.serial,
            date(issued.not_after)
        )),
        None => report.changed(format!(
            "created CA `pki/ca.pem` ({}, expires {})",
            info.common_name.unwrap_or_default(),
            date(issued.not_after)
        )),
    }
    Ok((ca, true))
}

/// Why an existing leaf cannot be kept, or `None` when it can.
fn leaf_problem(
    cert: &str,
    key: &str,
    ca: &Ca,
    now: OffsetDateTime,
    want_dns: Option<&[String]>,
    want_ips: Option<&[IpAddr]>,
) -> Option<String> {
    let Ok(info) = CertInfo::parse(cert) else {
        return Some("it is not a valid certificate".into());
    };
    let Ok(ca_info) = CertInfo::parse(&ca.cert_pem) else {
        return Some("the CA cannot be read".into());
    };
    if info.issuer != ca_info.subject {
        return Some("it was issued by another CA".into());
    }
    if !crate::pki::key_matches(cert, key).unwrap_or(false) {
        return Some("its key does not match it".into());
    }
    if info.days_left(now) < RENEW_WITHIN_DAYS {
        return Some(format!("it expires on {}", date(info.not_after)));
    }
    if let Some(dns) = want_dns
        && info.dns_sans != dns
    {
        {
            return Some(format!(
                "its DNS names {:?} are not {:?}",
                info.dns_sans, dns
            ));
        }
    }
    if let Some(ips) = want_ips
        && info.ip_sans != ips
    {
        {
            let show = |v: &[IpAddr]| {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Some(format!(
                "its addresses [{}] are not [{}]",
                show(&info.ip_sans),
                show(ips)
            ));
        }
    }
    None
}

fn server_sans(site: &Site) -> (Vec<String>, Vec<IpAddr>) {
    let profile = Profile::builtin(&site.profile).expect("validated");
    let mut dns = vec![site.dns_name.clone()];
    for s in profile.extra_sans {
        if !dns.contains(&s) {
            dns.push(s);
        }
    }
    if !dns.iter().any(|d| d == "localhost") {
        dns.push("localhost".into());
    }
    let mut ips = vec![site.host_ip];
    for ip in [site.vault_addr.ip(), "127.0.0.1".parse().expect("valid")] {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    (dns, ips)
}

fn ensure_server_cert(
    layout: &Layout,
    site: &Site,
    ca: &Ca,
    reissue: bool,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<()> {
    let (dns, ips) = server_sans(site);
    ensure_leaf(
        layout,
        &layout.server_cert(),
        &layout.server_key(),
        "Vault server certificate",
        reissue,
        now,
        report,
        ca,
        Some((&dns, &ips)),
        || ca.issue_server(&dns, &ips, site.server_cert_days, now),
    )
}

fn ensure_operator_cert(
    layout: &Layout,
    ca: &Ca,
    reissue: bool,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<()> {
    ensure_leaf(
        layout,
        &layout.operator_cert(),
        &layout.operator_key(),
        "operator certificate",
        reissue,
        now,
        report,
        ca,
        None,
        || ca.issue_client("vaultnet-operator", 365, now),
    )
}

#[allow(clippy::too_many_arguments)]
fn ensure_leaf(
    layout: &Layout,
    cert_path: &Path,
    key_path: &Path,
    what: &str,
    reissue: bool,
    now: OffsetDateTime,
    report: &mut Report,
    ca: &Ca,
    sans: Option<(&[String], &[IpAddr])>,
    issue: impl FnOnce() -> Result<Issued>,
) -> Result<()> {
    let rel = layout.rel(cert_path).into_owned();
    let cert = read_text(cert_path)?;
    let key = fsx::read_limited(key_path, 1 << 20)?
        .map(|b| zeroize::Zeroizing::new(String::from_utf8_lossy(&b).into_owned()));
    let reason = match (&cert, &key) {
        (Some(c), Some(k)) => {
            if reissue {
                Some("`--force` or a new CA".to_string())
            } else {
                match leaf_problem(c, k, ca, now, sans.map(|s| s.0), sans.map(|s| s.1)) {
                    None => {
                        let info = CertInfo::parse(c)?;
                        report.kept(format!(
                            "kept {what} `{rel}` (expires {})",
                            date(info.not_after)
                        ));
                        return Ok(());
                    }
                    Some(p) => Some(p),
                }
            }
        }
        (None, None) => None,
        _ => Some("its certificate or key is missing".to_string()),
    };
    let issued = issue()?;
    write_pair(cert_path, key_path, &issued)?;
    match reason {
        None => report.changed(format!(
            "created {what} `{rel}` (expires {})",
            date(issued.not_after)
        )),
        Some(why) => report.changed(format!(
            "replaced {what} `{rel}` because {why} (new serial {}, expires {})",
            issued.serial,
            date(issued.not_after)
        )),
    }
    Ok(())
}

fn write_listener(layout: &Layout, site: &Site, report: &mut Report) -> Result<()> {
    let text = render::listener::render(&ListenerSpec {
        address: site.vault_addr,
        cert_file: &layout.server_cert(),
        key_file: &layout.server_key(),
        client_ca_file: &layout.ca_cert(),
    });
    let path = layout.listener();
    note_write(
        layout,
        &path,
        fsx::write_if_changed(&path, text.as_bytes(), fsx::PUBLIC)?,
        report,
    );
    Ok(())
}

fn note_write(layout: &Layout, path: &Path, change: Change, report: &mut Report) {
    let rel = layout.rel(path);
    match change {
        Change::Created => report.changed(format!("wrote `{rel}`")),
        Change::Updated => report.changed(format!("updated `{rel}`")),
        Change::Unchanged => {}
    }
}

fn write_forwarder(
    layout: &Layout,
    site: &Site,
    report: &mut Report,
) -> Result<render::forwarder::ForwarderFiles> {
    let files = render::forwarder::render(
        site.forwarder,
        &ForwarderSpec {
            listen: site.forwarder_addr(),
            upstream: site.vault_addr,
        },
    );
    let dir = layout.forwarder();
    let mut keep = Vec::new();
    for f in &files.files {
        let path = dir.join(&f.name);
        note_write(
            layout,
            &path,
            fsx::write_if_changed(&path, f.contents.as_bytes(), fsx::PUBLIC)?,
            report,
        );
        keep.push(f.name.clone());
    }
    // Files of a forwarder chosen earlier would mislead: remove them.
    let others = [
        Forwarder::Socat,
        Forwarder::Nginx,
        Forwarder::Haproxy,
        Forwarder::SocketProxyd,
    ];
    for kind in others.into_iter().filter(|k| *k != site.forwarder) {
        let stale = render::forwarder::render(
            kind,
            &ForwarderSpec {
                listen: site.forwarder_addr(),
                upstream: site.vault_addr,
            },
        );
        for f in stale.files.iter().filter(|f| !keep.contains(&f.name)) {
            let path = dir.join(&f.name);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
                report.changed(format!(
                    "removed `{}` ({kind} is no longer the forwarder)",
                    layout.rel(&path)
                ));
            }
        }
    }
    Ok(files)
}

/// Enables AppRole and KV v2 when Vault answers; returns what is left to do.
fn bootstrap(
    layout: &Layout,
    site: &Site,
    token: Option<crate::secret::Secret>,
    timeout: Duration,
    report: &mut Report,
) -> Result<Vec<String>> {
    let cli = site.flavor.binary();
    let prefix = site.flavor.env_prefix();
    let start = format!(
        "start {} with the listener as an extra config: `{cli} server -config <your config> -config {}`",
        site.flavor.display_name(),
        layout.listener().display()
    );
    let rerun = format!(
        "then run `vaultnet init` again with an operator token (`{prefix}_TOKEN`, `--token-file` or `~/.vault-token`) to enable AppRole and KV v2"
    );
    let client = ops::operator_client(layout, site, None, timeout)?;
    let health = match client.health() {
        Ok((h, _)) => h,
        Err(e) => {
            report.note(format!(
                "{} at {} is not reachable: {}",
                site.flavor.display_name(),
                site.vault_url(),
                e.message()
            ));
            return Ok(vec![start, rerun]);
        }
    };
    match health {
        Health::Active => {}
        Health::NotInitialized => {
            return Ok(vec![
                format!(
                    "initialise {}: `{cli} operator init`",
                    site.flavor.display_name()
                ),
                format!("unseal it: `{cli} operator unseal`"),
                rerun,
            ]);
        }
        Health::Sealed => return Ok(vec![format!("unseal it: `{cli} operator unseal`"), rerun]),
        Health::Standby | Health::PerfStandby => {
            return Err(Error::failed(format!(
                "{} at {} is a standby node",
                site.flavor.display_name(),
                site.vault_url()
            ))
            .hint("point `--vault-addr` at the active node"));
        }
        other => {
            return Err(Error::failed(format!(
                "{} at {} is not ready: {other:?}",
                site.flavor.display_name(),
                site.vault_url()
            ))
            .hint("run `vaultnet doctor`"));
        }
    }
    let Some(token) = token else {
        return Ok(vec![rerun.replacen("then run", "run", 1)]);
    };
    let client = client.with_token(token);
    for step in [
        ops::ensure_approle(&client)?,
        ops::ensure_kv2(&client, &site.kv_mount)?,
    ] {
        match step {
            Step::Changed(s) => report.changed(s),
            Step::Unchanged(s) => report.kept(s),
        }
    }
    Ok(Vec::new())
}

fn print_summary(
    layout: &Layout,
    site: &Site,
    fwd: &render::forwarder::ForwarderFiles,
    report: &Report,
    pending: &[String],
) -> Result<()> {
    let prefix = site.flavor.env_prefix();
    let root = layout.root.display();
    if report.changed.is_empty() && pending.is_empty() {
        ui::out(format!(
            "vaultnet is initialised in `{root}`: nothing changed ({} checked)",
            report.kept.len()
        ))?;
    } else {
        ui::out(format!(
            "vaultnet initialised in `{root}`: {} changed, {} kept",
            report.changed.len(),
            report.kept.len()
        ))?;
    }
    for n in &report.notes {
        ui::out(format!("note: {n}"))?;
    }
    ui::out("")?;
    ui::out(format!(
        "Vault listener: {}, mutual TLS required (`vault/listener.json`).",
        site.vault_addr
    ))?;
    ui::out(format!(
        "  The {} server's user must be able to read `{}`.",
        site.flavor.display_name(),
        layout.server_key().display()
    ))?;
    ui::out(format!(
        "Forwarder ({}): {} -> {}; install it from `{root}` with:",
        site.forwarder,
        site.forwarder_addr(),
        site.vault_addr
    ))?;
    for c in &fwd.enable {
        ui::out(format!("  {c}"))?;
    }
    ui::out(
        "  nft -f forwarder/vaultnet.nft    # the gate: tenant uids only, never on Vault's port",
    )?;
    ui::out("Operator access:")?;
    ui::out(format!(
        "  export {prefix}_ADDR={} {prefix}_CACERT={} {prefix}_CLIENT_CERT={} {prefix}_CLIENT_KEY={}",
        site.vault_url(),
        layout.ca_cert().display(),
        layout.operator_cert().display(),
        layout.operator_key().display()
    ))?;
    if pending.is_empty() {
        ui::out("")?;
        ui::out("Next: `vaultnet add-user NAME` for each tenant.")?;
    } else {
        ui::out("")?;
        ui::out("Left to do:")?;
        for (i, p) in pending.iter().enumerate() {
            ui::out(format!("  {}. {p}", i + 1))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_outside_1_to_65535_are_usage_errors() {
        for bad in ["0", "70000", "-1", "x", ""] {
            let e = parse_port(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.hint_text().unwrap().contains("--port"));
        }
        assert_eq!(parse_port("22300").unwrap(), 22300);
    }

    #[test]
    fn host_ip_must_be_a_unicast_non_loopback_address() {
        for bad in [
            "10.0.0.256",
            "127.0.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "vault.lan",
        ] {
            assert_eq!(parse_host_ip(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        assert!(parse_host_ip("10.0.0.1").is_ok());
    }

    #[test]
    fn vault_addr_must_be_ip_and_port() {
        assert!(parse_vault_addr("127.0.0.1").is_err());
        assert!(parse_vault_addr("127.0.0.1:0").is_err());
        assert!(parse_vault_addr("127.0.0.1:8200").is_ok());
    }
}
