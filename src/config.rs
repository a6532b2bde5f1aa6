//! vaultnet.yaml — the site settings and tenant records, with a versioned
//! schema and no secrets — and the process environment, which is read here
//! and nowhere else.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sys::fsx;

pub const STATE_FILE: &str = "vaultnet.yaml";
pub const SCHEMA: u32 = 1;
/// vaultnet.yaml is small; anything bigger is not ours (PROMISES I2).
pub const MAX_STATE_BYTES: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Forwarder {
    Socat,
    Nginx,
    Haproxy,
    SocketProxyd,
}

impl fmt::Display for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Forwarder::Socat => "socat",
            Forwarder::Nginx => "nginx",
            Forwarder::Haproxy => "haproxy",
            Forwarder::SocketProxyd => "socket-proxyd",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    Vault,
    Openbao,
}

impl Flavor {
    /// The server/CLI/agent binary.
    pub fn binary(self) -> &'static str {
        match self {
            Flavor::Vault => "vault",
            Flavor::Openbao => "bao",
        }
    }

    /// Prefix of the CLI's environment variables (`VAULT_ADDR`, `BAO_ADDR`).
    pub fn env_prefix(self) -> &'static str {
        match self {
            Flavor::Vault => "VAULT",
            Flavor::Openbao => "BAO",
        }
    }

    /// The agent image used when `--agent-image` is not given.
    pub fn default_agent_image(self) -> &'static str {
        match self {
            Flavor::Vault => "docker.io/hashicorp/vault:1.18",
            Flavor::Openbao => "quay.io/openbao/openbao:2.7.2",
        }
    }

    /// Where the binary sits inside the flavor's official image.
    pub fn image_binary_path(self) -> &'static str {
        match self {
            Flavor::Vault => "/bin/vault",
            Flavor::Openbao => "/bin/bao",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Flavor::Vault => "Vault",
            Flavor::Openbao => "OpenBao",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Vault => "vault",
            Flavor::Openbao => "openbao",
        })
    }
}

/// How tenants' `extra_hosts` reach the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HostMapping {
    /// The host IP itself: slirp4netns and rootful engines.
    Ip,
    /// `host-gateway`: pasta (Podman ≥ 5.3), where the host's own IP is not reachable.
    HostGateway,
}

impl fmt::Display for HostMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostMapping::Ip => "ip",
            HostMapping::HostGateway => "host-gateway",
        })
    }
}

/// Every site setting later commands need. Written by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub profile: String,
    pub dns_name: String,
    pub host_ip: IpAddr,
    pub port: u16,
    pub vault_addr: SocketAddr,
    pub forwarder: Forwarder,
    pub flavor: Flavor,
    pub agent_image: String,
    pub host_mapping: HostMapping,
    pub kv_mount: String,
    pub tenant_prefix: String,
    /// Validity of the Vault server certificate, in days.
    pub server_cert_days: u32,
}

impl Site {
    /// The address tenants use: `https://vault.lan:22300`.
    pub fn tenant_url(&self) -> String {
        format!("https://{}:{}", self.dns_name, self.port)
    }

    /// The address the operator uses, straight at the loopback listener.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_addr)
    }

    pub fn forwarder_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.port)
    }
}

/// A site for unit tests: vault.lan on 10.9.0.1:22300, Vault on 127.0.0.1:8200.
#[cfg(test)]
pub(crate) fn sample_site(mapping: HostMapping) -> Site {
    Site {
        profile: "l1".into(),
        dns_name: "vault.lan".into(),
        host_ip: "10.9.0.1".parse().unwrap(),
        port: 22300,
        vault_addr: "127.0.0.1:8200".parse().unwrap(),
        forwarder: Forwarder::Socat,
        flavor: Flavor::Openbao,
        agent_image: "localhost/bao:test".into(),
        host_mapping: mapping,
        kv_mount: "secret".into(),
        tenant_prefix: "tenants".into(),
        server_cert_days: 365,
    }
}

/// What vaultnet remembers about a tenant (no secrets: a secret_id's
/// accessor identifies it without granting anything).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The Unix user's uid; `None` with `--no-unix-user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub cert_days: u32,
    pub cert_serial: String,
    /// RFC 3339.
    pub cert_not_after: String,
    pub limits: crate::policy::Limits,
    #[serde(default)]
    pub wrapped_secret_id: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id_accessor: Option<String>,
    /// RFC 3339; `None` when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id_expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_to: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema: u32,
    pub site: Site,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Tenant>,
}

impl State {
    pub fn new(site: Site) -> Self {
        State {
            schema: SCHEMA,
            site,
            tenants: BTreeMap::new(),
        }
    }

    /// Reads `dir/vaultnet.yaml`; `None` when vaultnet was never initialised there.
    pub fn load(dir: &Path) -> Result<Option<State>> {
        let path = dir.join(STATE_FILE);
        let Some(bytes) = fsx::read_limited(&path, MAX_STATE_BYTES).map_err(|e| {
            Error::usage(e.message().to_string())
                .hint(format!("restore `{}` from a backup", path.display()))
        })?
        else {
            return Ok(None);
        };
        Self::parse(&bytes).map(Some).map_err(|cause| {
            Error::usage(format!(
                "`{}` is not a valid state file: {cause}",
                path.display()
            ))
            .hint(format!(
                "restore `{}` from a backup; vaultnet never overwrites a state file it cannot read",
                path.display()
            ))
        })
    }

    /// Parses and validates a state file. The error is one line.
    pub fn parse(bytes: &[u8]) -> std::result::Result<State, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
        if text.trim().is_empty() {
            return Err("the file is empty".into());
        }
        let options = serde_saphyr::Options {
            with_snippet: false,
            budget: Some(serde_saphyr::Budget {
                max_depth: 16,
                max_nodes: 100_000,
                ..serde_saphyr::Budget::default()
            }),
            ..serde_saphyr::Options::default()
        };
        let state: State = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| first_line(&e.to_string()))?;
        if state.schema != SCHEMA {
            return Err(format!(
                "schema version {} is not supported (this vaultnet reads version {SCHEMA})",
                state.schema
            ));
        }
        validate::site(&state.site).map_err(|e| e.message().to_string())?;
        for name in state.tenants.keys() {
            validate::tenant_name(name).map_err(|e| e.message().to_string())?;
        }
        Ok(state)
    }

    pub fn to_yaml(&self) -> String {
        let mut body = serde_saphyr::to_string(self).expect("state serialises");
        if !body.ends_with('\n') {
            body.push('\n');
        }
        format!(
            "# vaultnet state: site settings and tenant records. No secrets live here.\n\
             # Written by vaultnet; edit with care (unknown keys are rejected).\n{body}"
        )
    }

    pub fn save(&self, dir: &Path) -> Result<fsx::Change> {
        fsx::write_if_changed(&dir.join(STATE_FILE), self.to_yaml().as_bytes(), 0o600)
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Input validation shared by commands and the state loader.
pub mod validate {
    use super::*;

    pub fn dns_name(name: &str) -> Result<()> {
        let bad = |why: &str| {
            Error::usage(format!("invalid DNS name `{}`: {why}", name.escape_debug()))
                .hint("pass a name such as `--dns-name vault.lan` (letters, digits, `-`, dots)")
        };
        if name.is_empty() || name.len() > 253 {
            return Err(bad("must be 1 to 253 characters"));
        }
        if name.parse::<IpAddr>().is_ok() {
            return Err(bad("it is an IP address; use `--host-ip` for addresses"));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("each label must be 1 to 63 characters"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad(
                    "only lower-case letters, digits and `-` are allowed in a label",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label cannot start or end with `-`"));
            }
        }
        if name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad("the last label cannot be all digits"));
        }
        Ok(())
    }

    pub fn host_ip(ip: IpAddr) -> Result<()> {
        if ip.is_unspecified() || ip.is_multicast() {
            return Err(Error::usage(format!(
                "invalid host IP `{ip}`: containers need a unicast address of this host"
            ))
            .hint("pass the host's address, e.g. `--host-ip 192.168.1.10`"));
        }
        if ip.is_loopback() {
            return Err(Error::usage(format!(
                "invalid host IP `{ip}`: containers cannot reach the host's loopback through it"
            ))
            .hint("pass an address of a host interface, e.g. `--host-ip 192.168.1.10`"));
        }
        Ok(())
    }

    pub fn vault_addr(addr: SocketAddr) -> Result<()> {
        if !addr.ip().is_loopback() {
            return Err(Error::usage(format!(
                "invalid Vault address `{addr}`: pattern L1 keeps Vault on loopback"
            ))
            .hint("pass a loopback address, e.g. `--vault-addr 127.0.0.1:8200`"));
        }
        if addr.port() == 0 {
            return Err(
                Error::usage(format!("invalid Vault address `{addr}`: port 0"))
                    .hint("pass a port from 1 to 65535, e.g. `--vault-addr 127.0.0.1:8200`"),
            );
        }
        Ok(())
    }

    /// A Vault mount path or prefix segment: kept to a safe, boring alphabet
    /// because it ends up inside policy paths.
    pub fn path_segment(what: &str, flag: &str, value: &str) -> Result<()> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && !value.starts_with('-');
        if ok {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "invalid {what} `{}`: use 1 to 64 lower-case letters, digits, `-` or `_`",
                value.escape_debug()
            ))
            .hint(format!("pass e.g. `{flag} secret`")))
        }
    }

    pub fn image(image: &str) -> Result<()> {
        let ok = !image.is_empty()
            && image.len() <= 255
            && image
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"./:-_@".contains(&b))
            && !image.starts_with(['-', '.', ':', '/']);
        if ok {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "invalid image reference `{}`",
                image.escape_debug()
            ))
            .hint("pass e.g. `--agent-image quay.io/openbao/openbao:2.7.2`"))
        }
    }

    pub fn cert_days(days: u32) -> Result<()> {
        if (1..=3650).contains(&days) {
            Ok(())
        } else {
            Err(
                Error::usage(format!("invalid certificate validity: {days} days"))
                    .hint("pass a number of days from 1 to 3650"),
            )
        }
    }

    pub fn site(site: &Site) -> Result<()> {
        dns_name(&site.dns_name)?;
        host_ip(site.host_ip)?;
        if site.port == 0 {
            return Err(Error::usage("invalid port 0").hint("pass e.g. `--port 22300`"));
        }
        vault_addr(site.vault_addr)?;
        image(&site.agent_image)?;
        path_segment("KV mount", "--kv-mount", &site.kv_mount)?;
        path_segment("tenant prefix", "--tenant-prefix", &site.tenant_prefix)?;
        cert_days(site.server_cert_days)?;
        crate::topology::profile::Profile::builtin(&site.profile)?;
        Ok(())
    }

    /// Names that must never become tenants: Vault's own policies and
    /// identities that would be confusing or dangerous (PROMISES I1).
    pub const RESERVED: &[&str] = &[
        "root",
        "default",
        "admin",
        "administrator",
        "operator",
        "vault",
        "bao",
        "openbao",
        "vaultnet",
        "daemon",
        "bin",
        "sys",
        "nobody",
        "response-wrapping",
        "control-group",
        "token",
        "identity",
        "approle",
    ];

    pub fn tenant_name(name: &str) -> Result<()> {
        let shown = name.escape_debug().to_string();
        let bad = |why: &str| {
            Error::usage(format!("invalid tenant name `{shown}`: {why}")).hint(
                "tenant names are Unix user names: a lower-case letter or `_`, then up to 30 \
                 lower-case letters, digits, `_` or `-`, e.g. `alice`",
            )
        };
        let bytes = name.as_bytes();
        let Some(&first) = bytes.first() else {
            return Err(bad("it is empty"));
        };
        if bytes.len() > 31 {
            return Err(bad("longer than 31 characters"));
        }
        if !(first.is_ascii_lowercase() || first == b'_') {
            return Err(bad("must start with a lower-case letter or `_`"));
        }
        if !bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "only lower-case letters, digits, `_` and `-` are allowed",
            ));
        }
        if name.ends_with('-') {
            return Err(bad("cannot end with `-`"));
        }
        if RESERVED.contains(&name) {
            return Err(Error::usage(format!("tenant name `{name}` is reserved"))
                .hint("choose another name; reserved names are Vault's own policies and system accounts"));
        }
        Ok(())
    }
}

/// A secret string (token, secret_id): zeroised on drop, never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The environment vaultnet reads, captured once at start-up. (vaultnet
/// prints no colour, so `NO_COLOR` holds trivially.)
#[derive(Debug, Default)]
pub struct Env {
    pub vaultnet_dir: Option<PathBuf>,
    pub vault_token: Option<Secret>,
    pub home: Option<PathBuf>,
    /// Whether the locale can show ✓ and ✗.
    pub utf8: bool,
}

impl Env {
    pub fn capture() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let token = std::env::var("VAULT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| std::env::var("BAO_TOKEN").ok().filter(|t| !t.is_empty()));
        Env {
            vaultnet_dir: var("VAULTNET_DIR").map(PathBuf::from),
            vault_token: token.map(Secret::new),
            home: var("HOME").map(PathBuf::from),
            utf8: ["LC_ALL", "LC_CTYPE", "LANG"]
                .iter()
                .find_map(|k| var(k))
                .map(|v| {
                    let v = v.to_string_lossy().to_lowercase();
                    v.contains("utf-8") || v.contains("utf8")
                })
                .unwrap_or(false),
        }
    }

    /// The state directory: `--dir`, then `VAULTNET_DIR`, then the platform data directory.
    pub fn state_dir(&self, flag: Option<&Path>) -> Result<PathBuf> {
        if let Some(d) = flag
            .map(Path::to_path_buf)
            .or_else(|| self.vaultnet_dir.clone())
        {
            return Ok(d);
        }
        directories::ProjectDirs::from("", "", "vaultnet")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| {
                Error::usage("cannot find a data directory for vaultnet (no home directory)")
                    .hint("pass `--dir DIR` or set `VAULTNET_DIR`")
            })
    }

    /// The operator token: `VAULT_TOKEN`/`BAO_TOKEN`, then `--token-file`,
    /// then `~/.vault-token` — never a command-line argument.
    pub fn operator_token(&self, token_file: Option<&Path>) -> Result<Option<Secret>> {
        if let Some(t) = &self.vault_token {
            return Ok(Some(t.clone()));
        }
        let (path, required) = match token_file {
            Some(p) => (p.to_path_buf(), true),
            None => match &self.home {
                Some(h) => (h.join(".vault-token"), false),
                None => return Ok(None),
            },
        };
        match fsx::read_limited(&path, 64 << 10)? {
            Some(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    Error::usage(format!("token file `{}` is not text", path.display()))
                        .hint("write the operator token into it as one line of text, or set `VAULT_TOKEN`")
                })?;
                let t = text.trim();
                if t.is_empty() {
                    return Err(
                        Error::usage(format!("token file `{}` is empty", path.display()))
                            .hint("write the operator token into it, or set `VAULT_TOKEN`"),
                    );
                }
                Ok(Some(Secret::new(t.to_string())))
            }
            None if required => Err(Error::usage(format!(
                "token file `{}` does not exist",
                path.display()
            ))
            .hint("pass the path of a file holding the operator token")),
            None => Ok(None),
        }
    }
}
