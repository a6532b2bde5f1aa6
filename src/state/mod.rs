//! `vaultnet.yaml`: the site settings and the tenant records, as a
//! versioned schema with no secrets — and nothing else. Pure: no file, no
//! environment, no network (the store reads and writes the file).
//!
//! Timestamps are typed and written in one RFC 3339 form, whole seconds in
//! UTC (`2027-02-26T10:00:00Z`), here and in every `--output json`.

pub mod cidr;
pub mod cluster;
#[cfg(test)]
mod props;
pub mod site;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use site::{Flavor, Forwarder, HostMapping, PODMAN_HOST_NAME, Site, VaultReload};

use crate::error::{Error, Result};

pub const STATE_FILE: &str = "vaultnet.yaml";
/// What a run recorded since `vaultnet.yaml` was last written (see `store`).
pub const JOURNAL_FILE: &str = "vaultnet.journal";
/// Version 2: certificate lifetimes in seconds (`cert_ttl`,
/// `server_cert_ttl`), retiring secret_ids, the Vault reload. Version 3:
/// each tenant's role recorded. Version 4: each tenant's own port (pattern
/// L3) and the ports of removed tenants still reserved. Older files are
/// read and migrated ([`migrate_v1`], [`migrate_v2`], [`migrate_v3`]).
pub const SCHEMA: u32 = 4;

/// Every AppRole limit, explicit (SECURITY.md V1). Durations in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub token_ttl: u64,
    pub token_max_ttl: u64,
    /// 0: the agent's auto-auth token is used for many requests.
    pub token_num_uses: u64,
    pub secret_id_ttl: u64,
    /// 0: the agent must be able to log in again after a restart.
    pub secret_id_num_uses: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            token_ttl: 3600,
            token_max_ttl: 24 * 3600,
            token_num_uses: 0,
            secret_id_ttl: 30 * 24 * 3600,
            secret_id_num_uses: 0,
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<()> {
        use validate::show_duration;
        if self.token_ttl == 0 || self.token_max_ttl == 0 {
            return Err(Error::usage("token TTLs must be more than 0").hint(
                "pass e.g. `--token-ttl 1h --token-max-ttl 24h`; 0 would mean the server default",
            ));
        }
        if self.token_ttl > self.token_max_ttl {
            return Err(Error::usage(format!(
                "`--token-ttl` ({}) is longer than `--token-max-ttl` ({})",
                show_duration(self.token_ttl),
                show_duration(self.token_max_ttl)
            ))
            .hint("make `--token-max-ttl` at least as long as `--token-ttl`"));
        }
        if self.secret_id_ttl == 0 {
            return Err(Error::usage("`--secret-id-ttl` must be more than 0").hint(
                "pass e.g. `--secret-id-ttl 30d`; secret_ids that never expire are refused",
            ));
        }
        Ok(())
    }
}

/// How a tenant's agent logs in to Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    // AppRole: a role_id and a secret_id, with the client certificate for
    // the connection. (Plain comments: clap would list doc comments as
    // per-value help.)
    #[default]
    Approle,
    // The `cert` auth method: the client certificate alone, one role per
    // tenant; nothing else to renew or rotate.
    Cert,
}

impl Auth {
    pub fn is_approle(&self) -> bool {
        *self == Auth::Approle
    }
}

impl std::fmt::Display for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::Approle => "approle",
            Auth::Cert => "cert",
        })
    }
}

/// What vaultnet remembers about a tenant (no secrets: a secret_id's
/// accessor identifies it without granting anything, and so does its
/// SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The Unix user's uid; `None` with `--no-unix-user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// How its agent logs in.
    #[serde(default, skip_serializing_if = "Auth::is_approle")]
    pub auth: Auth,
    /// The name of its role in Vault (AppRole's or cert's, by `auth`):
    /// `vaultnet-NAME`, or `NAME` for a tenant recorded before the prefix
    /// (SECURITY.md V7). vaultnet touches only the role named here.
    pub role: String,
    /// Lifetime of its client certificates, in seconds.
    pub cert_ttl: u64,
    pub cert_serial: String,
    #[serde(with = "rfc3339")]
    pub cert_not_after: OffsetDateTime,
    pub limits: Limits,
    #[serde(default)]
    pub wrapped_secret_id: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id_accessor: Option<String>,
    /// `None` when unknown or never.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_id_expires: Option<OffsetDateTime>,
    /// SHA-256 (hex) of the plain secret_id in the bundle, which tells a
    /// rerun that the file still holds the one recorded by its accessor
    /// without sending the secret_id to Vault. It grants nothing and
    /// reveals nothing of it: a secret_id is 122 random bits. `None` for a
    /// wrapped one, and in a record from before it was kept (the next run
    /// looks the secret_id up by value once, and records it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_to: Option<PathBuf>,
    /// Secret_ids replaced by a renewal, kept until running agents have
    /// had their chance to log in with the new one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retiring: Vec<Retiring>,
    /// What its bundle maps the Vault name to, and why; `None` for a
    /// tenant added before vaultnet chose per tenant (the site's mapping).
    /// Optional with a default, so the schema version stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<TenantNetwork>,
    /// Its own forwarder port, where the profile gives each tenant one
    /// (`entry: per-tenant-port`); `None` under the other profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// With a port of its own: when the last of the client certificates
    /// ever issued to it expires (an earlier one can outlive the current
    /// one when `--cert-ttl` was shortened), which is how long its port
    /// stays reserved once it is removed.
    #[serde(
        default,
        with = "rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_cert_expiry: Option<OffsetDateTime>,
}

/// The port of a removed tenant, kept from every other tenant until `until`,
/// when the last client certificate issued for it expires: until then its
/// old bundle could still connect there (SECURITY.md G6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservedPort {
    pub port: u16,
    /// Whose it was.
    pub tenant: String,
    #[serde(with = "rfc3339")]
    pub until: OffsetDateTime,
}

/// A tenant's mapping of the Vault name and how it was chosen; also its
/// JSON form in `add-user` and `list` (stable field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantNetwork {
    pub mapping: HostMapping,
    /// The rootless network the tenant's Podman uses (`slirp4netns`,
    /// `pasta`), when Podman said.
    pub backend: Option<String>,
    /// The tenant's Podman version, when Podman said.
    pub podman: Option<String>,
    pub source: MappingSource,
    /// Why, in words: `Podman 5.4.2 uses pasta …`.
    pub reason: String,
}

/// Where a tenant's mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MappingSource {
    /// The tenant's own Podman, asked as the tenant.
    Detected,
    /// `add-user --host-mapping` (kept on later runs without the flag).
    Flag,
    /// The site's profile: Podman could not be asked.
    Site,
}

/// A replaced secret_id, destroyed by the first `renew` after `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retiring {
    pub accessor: String,
    #[serde(with = "rfc3339")]
    pub until: OffsetDateTime,
}

/// The CA a rotation replaced: still trusted (`pki/previous-ca.pem` in
/// `pki/trust.pem`) until `until`, when the last certificate it issued
/// expires; the first `renew` or `init` after that retires it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousCa {
    pub serial: String,
    #[serde(with = "rfc3339")]
    pub until: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema: u32,
    pub site: Site,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_ca: Option<PreviousCa>,
    /// Tenants whose Vault objects an `add-user` has begun to make and not
    /// yet recorded: what a run cut short left is vaultnet's own, and the
    /// next run takes it over (SECURITY.md V7).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Tenant>,
    /// Ports of removed tenants, not handed to another until they expire.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reserved_ports: Vec<ReservedPort>,
}

impl State {
    pub fn new(site: Site) -> Self {
        State {
            schema: SCHEMA,
            site,
            previous_ca: None,
            pending: BTreeSet::new(),
            tenants: BTreeMap::new(),
            reserved_ports: Vec::new(),
        }
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
                // A tenant is about 60 nodes: room for 100 000 of them.
                max_nodes: 8_000_000,
                ..serde_saphyr::Budget::default()
            }),
            ..serde_saphyr::Options::default()
        };
        let readable = |e: &dyn std::fmt::Display| {
            // The parser's advice to the programmer (`; use Option<String>`)
            // means nothing to whoever reads the error.
            let line = validate::first_line(&e.to_string());
            if let (true, Some(at)) = (line.contains("budget breached"), line.find(" at line ")) {
                return format!("nested too deeply{}", &line[at..]);
            }
            match (line.find("; use Option<"), line.find(" at line ")) {
                (Some(a), Some(b)) if a < b => format!("{}{}", &line[..a], &line[b..]),
                _ => line,
            }
        };
        let version: Version =
            serde_saphyr::from_str_with_options(text, options.clone()).map_err(|e| readable(&e))?;
        let state: State = if version.schema < SCHEMA && version.schema >= 1 {
            let mut old: serde_json::Value =
                serde_saphyr::from_str_with_options(text, options).map_err(|e| readable(&e))?;
            if version.schema == 1 {
                old = migrate_v1(old);
            }
            if version.schema <= 2 {
                old = migrate_v2(old);
            }
            serde_json::from_value(migrate_v3(old)).map_err(|e| readable(&e))?
        } else {
            serde_saphyr::from_str_with_options(text, options).map_err(|e| readable(&e))?
        };
        if state.schema != SCHEMA {
            return Err(format!(
                "schema version {} is not supported (this vaultnet reads version {SCHEMA})",
                state.schema
            ));
        }
        state.check()?;
        Ok(state)
    }

    /// What a state must be beyond its schema: a valid site, tenant names,
    /// the role each tenant may have, one tenant per port. The error is
    /// one line.
    pub fn check(&self) -> std::result::Result<(), String> {
        let state = self;
        validate::site(&state.site).map_err(|e| e.message().to_string())?;
        for (name, t) in &state.tenants {
            validate::tenant_name(name).map_err(|e| e.message().to_string())?;
            if t.role != *name && t.role != crate::policy::role_name(&state.site, name) {
                return Err(format!(
                    "tenant `{name}` has role `{}`: vaultnet names roles `{}` (or `{name}` before version 3)",
                    t.role.escape_debug(),
                    crate::policy::role_name(&state.site, name)
                ));
            }
        }
        for name in &state.pending {
            validate::tenant_name(name).map_err(|e| e.message().to_string())?;
        }
        let mut ports = BTreeMap::new();
        let recorded = state
            .tenants
            .iter()
            .filter_map(|(n, t)| t.port.map(|p| (p, n.as_str())))
            .chain(
                state
                    .reserved_ports
                    .iter()
                    .map(|r| (r.port, r.tenant.as_str())),
            );
        for (port, name) in recorded {
            if port == 0 {
                return Err(format!("tenant `{name}` has port 0"));
            }
            if let Some(other) = ports.insert(port, name) {
                return Err(format!(
                    "port {port} is recorded for both `{other}` and `{name}`"
                ));
            }
        }
        Ok(())
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

    /// The lowest port from `base` up that no tenant has and no removed
    /// tenant's reservation holds at `now`, skipping `avoid` (Vault's own
    /// ports); `None` when none is left below 65536.
    pub fn free_port(&self, base: u16, avoid: &[u16], now: OffsetDateTime) -> Option<u16> {
        let taken: BTreeSet<u16> = self
            .tenants
            .values()
            .filter_map(|t| t.port)
            .chain(
                self.reserved_ports
                    .iter()
                    .filter(|r| r.until > now)
                    .map(|r| r.port),
            )
            .chain(avoid.iter().copied())
            .collect();
        (base..=u16::MAX).find(|p| !taken.contains(p))
    }

    /// Forgets the reservations that have expired at `now`; whether any did.
    pub fn expire_reserved_ports(&mut self, now: OffsetDateTime) -> bool {
        let before = self.reserved_ports.len();
        self.reserved_ports.retain(|r| r.until > now);
        self.reserved_ports.len() != before
    }

    /// The sorted, unique uids of the tenants that have a Unix user.
    pub fn tenant_uids(&self) -> Vec<u32> {
        let mut uids: Vec<u32> = self.tenants.values().filter_map(|t| t.uid).collect();
        uids.sort_unstable();
        uids.dedup();
        uids
    }
}

/// Only the schema version, to choose how to read the rest.
#[derive(Deserialize)]
struct Version {
    schema: u32,
}

/// A version 1 state as version 2: lifetimes in days become seconds.
/// Anything else is left for the version 2 reader to accept or refuse.
pub fn migrate_v1(mut v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    fn days_to_secs(obj: &mut serde_json::Map<String, Value>, from: &str, to: &str) {
        if let Some(d) = obj.remove(from) {
            let secs = d.as_u64().map(|d| Value::from(d.saturating_mul(86400)));
            obj.insert(to.into(), secs.unwrap_or(d));
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("schema".into(), Value::from(2));
        if let Some(site) = o.get_mut("site").and_then(Value::as_object_mut) {
            days_to_secs(site, "server_cert_days", "server_cert_ttl");
        }
        if let Some(ts) = o.get_mut("tenants").and_then(Value::as_object_mut) {
            for t in ts.values_mut().filter_map(Value::as_object_mut) {
                days_to_secs(t, "cert_days", "cert_ttl");
            }
        }
    }
    v
}

/// A version 2 state as version 3: each tenant's role is recorded, under
/// the bare name version 2 gave it (vaultnet keeps using that role; new
/// tenants get prefixed names).
pub fn migrate_v2(mut v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    if let Some(o) = v.as_object_mut() {
        o.insert("schema".into(), Value::from(3));
        if let Some(ts) = o.get_mut("tenants").and_then(Value::as_object_mut) {
            for (name, t) in ts.iter_mut() {
                if let Some(t) = t.as_object_mut() {
                    t.entry("role").or_insert_with(|| Value::from(name.clone()));
                }
            }
        }
    }
    v
}

/// A version 3 state as version 4: no tenant had a port of its own and no
/// port was reserved, so only the version changes.
pub fn migrate_v3(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("schema".into(), serde_json::Value::from(SCHEMA));
    }
    v
}

/// The one timestamp form: RFC 3339, whole seconds, UTC. Reads any RFC 3339.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn format(t: OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        t.replace_nanosecond(0)
            .unwrap_or(t)
            .format(&Rfc3339)
            .expect("a UTC time formats as RFC 3339")
    }

    pub fn parse(s: &str) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(s, &Rfc3339).ok()
    }

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom(format!("`{s}` is not an RFC 3339 time")))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            match Option::<String>::deserialize(d)? {
                None => Ok(None),
                Some(s) => super::parse(&s).map(Some).ok_or_else(|| {
                    serde::de::Error::custom(format!("`{s}` is not an RFC 3339 time"))
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_ttl_above_max_and_endless_secret_ids() {
        let mut l = Limits::default();
        l.token_ttl = l.token_max_ttl + 1;
        assert!(l.validate().is_err());
        let l = Limits {
            secret_id_ttl: 0,
            ..Limits::default()
        };
        assert!(l.validate().is_err());
        assert!(Limits::default().validate().is_ok());
    }

    #[test]
    fn timestamps_are_written_in_one_form_and_read_in_any() {
        let t = rfc3339::parse("2027-02-26T10:00:00.123456789+02:00").unwrap();
        assert_eq!(rfc3339::format(t), "2027-02-26T08:00:00Z");
        let t = rfc3339::parse("2027-02-26T08:00:00Z").unwrap();
        let mut state = State::new(site::sample_site("l1"));
        state.tenants.insert(
            "alice".into(),
            Tenant {
                uid: Some(1001),
                role: "vaultnet-alice".into(),
                auth: Auth::Approle,
                cert_ttl: 90 * 86400,
                cert_serial: "ab".into(),
                cert_not_after: t,
                limits: Limits::default(),
                wrapped_secret_id: false,
                secret_id_accessor: None,
                secret_id_expires: Some(t),
                installed_to: None,
                retiring: Vec::new(),
                network: None,
                port: None,
                last_cert_expiry: None,
                secret_id_sha256: None,
            },
        );
        let yaml = state.to_yaml();
        assert!(
            yaml.contains("cert_not_after: 2027-02-26T08:00:00Z"),
            "{yaml}"
        );
        assert!(
            yaml.contains("secret_id_expires: 2027-02-26T08:00:00Z"),
            "{yaml}"
        );
        assert_eq!(State::parse(yaml.as_bytes()).unwrap(), state);
    }

    /// A state file as vaultnet wrote it before version 2 (lifetimes in
    /// days) is read as the same site and tenants, lifetimes in seconds.
    #[test]
    fn a_version_1_state_is_migrated_to_seconds() {
        let v1 = "schema: 1
site:
  profile: l1
  dns_name: vault.lan
  host_ip: 10.9.0.1
  port: 22300
  vault_addr: 127.0.0.1:8200
  forwarder: socat
  flavor: openbao
  agent_image: localhost/bao:test
  kv_mount: secret
  tenant_prefix: tenants
  server_cert_days: 365
tenants:
  alice:
    uid: 1001
    cert_days: 90
    cert_serial: ab
    cert_not_after: 2027-02-26T08:00:00Z
    limits:
      token_ttl: 3600
      token_max_ttl: 86400
      token_num_uses: 0
      secret_id_ttl: 2592000
      secret_id_num_uses: 0
    wrapped_secret_id: false
    secret_id_accessor: acc
    secret_id_expires: 2027-01-01T00:00:00Z
";
        let state = State::parse(v1.as_bytes()).unwrap();
        assert_eq!(state.schema, SCHEMA);
        assert_eq!(state.site, site::sample_site("l1"));
        let alice = &state.tenants["alice"];
        assert_eq!(alice.cert_ttl, 90 * 86400);
        assert_eq!(alice.uid, Some(1001));
        assert_eq!(alice.secret_id_accessor.as_deref(), Some("acc"));
        assert!(alice.retiring.is_empty());
        let again = State::parse(state.to_yaml().as_bytes()).unwrap();
        assert_eq!(again, state);
        assert!(
            state.to_yaml().contains("schema: 4\n"),
            "{}",
            state.to_yaml()
        );
        // Its tenant keeps the role of the bare name it had.
        assert_eq!(alice.role, "alice");
        // What version 3 refuses, a migrated version 1 file is refused for.
        let bad = v1.replace("  port: 22300\n", "  port: 22300\n  bogus: 1\n");
        let e = State::parse(bad.as_bytes()).unwrap_err();
        assert!(e.starts_with("unknown field `bogus`"), "{e}");
    }

    /// A site written by version 2 (the bare role names): read, each
    /// tenant recorded with the role it has, written back as version 3; a
    /// role vaultnet would not have named is refused.
    #[test]
    fn a_version_2_state_records_each_tenants_bare_role_name() {
        let v2 = include_str!("../../tests/fixtures/state-v2.yaml");
        let state = State::parse(v2.as_bytes()).unwrap();
        assert_eq!(state.schema, 4);
        let roles: Vec<(&str, &str)> = state
            .tenants
            .iter()
            .map(|(n, t)| (n.as_str(), t.role.as_str()))
            .collect();
        assert_eq!(roles, [("alice", "alice"), ("bob", "bob")]);
        assert!(state.pending.is_empty());
        let yaml = state.to_yaml();
        assert!(
            yaml.contains("schema: 4\n") && yaml.contains("    role: alice\n"),
            "{yaml}"
        );
        assert_eq!(State::parse(yaml.as_bytes()).unwrap(), state);
        let foreign = yaml.replace("    role: alice\n", "    role: jenkins\n");
        let e = State::parse(foreign.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            "tenant `alice` has role `jenkins`: vaultnet names roles `vaultnet-alice` (or `alice` before version 3)"
        );
    }

    /// A site written by version 3 (before tenants had ports of their
    /// own): read as the same site and tenants with no port and nothing
    /// reserved, and written back unchanged but for the version.
    #[test]
    fn a_version_3_state_is_read_with_no_ports_and_written_as_version_4() {
        let v3 = include_str!("../../tests/fixtures/state-v3.yaml");
        let state = State::parse(v3.as_bytes()).unwrap();
        assert_eq!(state.schema, 4);
        assert!(state.tenants.values().all(|t| t.port.is_none()));
        assert!(state.reserved_ports.is_empty());
        assert_eq!(state.pending.iter().collect::<Vec<_>>(), ["carol"]);
        assert_eq!(state.tenants["bob"].role, "vaultnet-bob");
        assert_eq!(
            state.to_yaml(),
            v3.replace("\nschema: 3\n", "\nschema: 4\n")
        );
    }

    fn two_tenants_with_ports() -> State {
        let v3 = include_str!("../../tests/fixtures/state-v3.yaml");
        let mut state = State::parse(v3.as_bytes()).unwrap();
        state.tenants.get_mut("alice").unwrap().port = Some(22301);
        state.tenants.get_mut("bob").unwrap().port = Some(22303);
        state
    }

    #[test]
    fn a_free_port_skips_tenants_live_reservations_and_vaults_ports() {
        let mut state = two_tenants_with_ports();
        let now = rfc3339::parse("2027-01-01T00:00:00Z").unwrap();
        assert_eq!(state.free_port(22301, &[], now), Some(22302));
        assert_eq!(state.free_port(22301, &[22302], now), Some(22304));
        state.reserved_ports.push(ReservedPort {
            port: 22302,
            tenant: "carol".into(),
            until: now + time::Duration::seconds(1),
        });
        assert_eq!(state.free_port(22301, &[], now), Some(22304));
        // Once carol's last certificate has expired her port is free again.
        let later = now + time::Duration::seconds(1);
        assert_eq!(state.free_port(22301, &[], later), Some(22302));
        assert!(!state.expire_reserved_ports(now));
        assert!(state.expire_reserved_ports(later));
        assert!(state.reserved_ports.is_empty());
        assert_eq!(state.free_port(65535, &[], now), Some(65535));
        state.tenants.get_mut("bob").unwrap().port = Some(65535);
        assert_eq!(state.free_port(65535, &[], now), None);
    }

    #[test]
    fn ports_round_trip_and_one_port_recorded_twice_is_refused() {
        let mut state = two_tenants_with_ports();
        state.reserved_ports.push(ReservedPort {
            port: 22302,
            tenant: "carol".into(),
            until: rfc3339::parse("2027-06-01T00:00:00Z").unwrap(),
        });
        let yaml = state.to_yaml();
        assert!(yaml.contains("    port: 22301\n"), "{yaml}");
        assert!(
            yaml.contains("reserved_ports:\n  - port: 22302\n    tenant: carol\n    until: 2027-06-01T00:00:00Z\n"),
            "{yaml}"
        );
        assert_eq!(State::parse(yaml.as_bytes()).unwrap(), state);
        let twice = yaml.replace("    port: 22303\n", "    port: 22301\n");
        assert_eq!(
            State::parse(twice.as_bytes()).unwrap_err(),
            "port 22301 is recorded for both `alice` and `bob`"
        );
        let zero = yaml.replace("    port: 22303\n", "    port: 0\n");
        assert_eq!(
            State::parse(zero.as_bytes()).unwrap_err(),
            "tenant `bob` has port 0"
        );
    }
}
