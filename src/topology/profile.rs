//! Built-in deployment patterns, read from `profiles/*.yaml` embedded in the
//! binary. A profile says where Vault binds, how the forwarder is laid out,
//! what tenants map the DNS name to, and how the host gates tenant traffic.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::state::HostMapping;

const BUILTIN: &[(&str, &str)] = &[
    ("l1", include_str!("../../profiles/l1.yaml")),
    ("l6", include_str!("../../profiles/l6.yaml")),
];

pub const DEFAULT: &str = "l1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaultBind {
    Loopback,
    Nic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwarderMode {
    Shared,
    PerTenant,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwarderSpec {
    pub mode: ForwarderMode,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub skuid_allowlist: bool,
    pub protect_vault_port: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub code: String,
    pub summary: String,
    pub vault_bind: VaultBind,
    pub forwarder: ForwarderSpec,
    pub host_mapping: HostMapping,
    pub extra_sans: Vec<String>,
    pub gate: Gate,
}

impl Profile {
    pub fn builtin(name: &str) -> Result<Profile> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let known: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Error::usage(format!("unknown profile `{}`", name.escape_debug()))
                .hint(format!("known profiles: {}", known.join(", ")))
        })?;
        Ok(serde_saphyr::from_str(text).expect("built-in profiles are valid"))
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses() {
        for name in Profile::names() {
            let p = Profile::builtin(name).unwrap();
            assert!(!p.summary.is_empty());
        }
    }

    #[test]
    fn l1_is_loopback_vault_behind_one_forwarder_on_22300() {
        let p = Profile::builtin("l1").unwrap();
        assert_eq!(p.code, "L1");
        assert_eq!(p.vault_bind, VaultBind::Loopback);
        assert_eq!(p.forwarder.mode, ForwarderMode::Shared);
        assert_eq!(p.forwarder.port, 22300);
        assert_eq!(p.host_mapping, HostMapping::Ip);
        assert!(p.gate.skuid_allowlist && p.gate.protect_vault_port);
    }

    #[test]
    fn l6_differs_from_l1_only_in_the_host_mapping() {
        let l1 = Profile::builtin("l1").unwrap();
        let l6 = Profile::builtin("l6").unwrap();
        assert_eq!(l6.host_mapping, HostMapping::HostGateway);
        assert_eq!(
            Profile {
                code: l1.code.clone(),
                summary: l1.summary.clone(),
                host_mapping: l1.host_mapping,
                ..l6
            },
            l1
        );
    }

    #[test]
    fn unknown_profile_is_a_usage_error_with_the_known_names() {
        let e = Profile::builtin("l9").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.hint_text().unwrap().contains("l1"));
    }
}
