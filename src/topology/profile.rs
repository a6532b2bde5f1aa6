//! Built-in deployment patterns, read from `profiles/*.yaml` embedded in the
//! binary. A profile is data over independent axes: where Vault binds, how
//! tenants enter, what they map the Vault name to, and how the host gates
//! them. A value vaultnet does not implement is refused when the profile
//! is read, never silently treated as another.

use serde::Deserialize;

use crate::error::{Error, Result};

const BUILTIN: &[(&str, &str)] = &[
    ("l1", include_str!("../../profiles/l1.yaml")),
    ("l2", include_str!("../../profiles/l2.yaml")),
    ("l3", include_str!("../../profiles/l3.yaml")),
    ("l4", include_str!("../../profiles/l4.yaml")),
    ("l6", include_str!("../../profiles/l6.yaml")),
    ("r1", include_str!("../../profiles/r1.yaml")),
    ("r7", include_str!("../../profiles/r7.yaml")),
];

pub const DEFAULT: &str = "l1";

/// Where Vault's listener binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaultBind {
    /// Loopback only: tenants reach Vault through their entry, never directly.
    Loopback,
    /// Loopback for the operator, and the host address for tenants and
    /// remote clients: Vault is its own entry (entry `direct`).
    Nic,
}

/// How tenants' connections enter the host on their way to Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// One forwarder port on the host address, shared by every tenant.
    SharedPort,
    /// No forwarder: Vault's own listener on the host address and the
    /// site's port (needs `vault_bind: nic`).
    Direct,
    /// One forwarder port on the host address for each tenant, allocated
    /// by `add-user` from the site's port up and recorded in the state
    /// (needs `gate: per-port`).
    PerTenantPort,
    /// No forwarder: nftables DNATs the host address and the site's port
    /// to Vault's loopback listener (pattern R7).
    Dnat,
}

/// What tenants' `extra_hosts` map the Vault name to (a state type: each
/// tenant's choice is recorded).
pub use crate::state::HostMapping;

/// How the host keeps everyone but tenants off the entry and off Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateKind {
    /// nftables `meta skuid`: tenant uids only on the entry, none on Vault's
    /// port; nothing from outside this host.
    UidAllowlist,
    /// `uid-allowlist` for local clients, and from outside this host only
    /// the source networks of `init --allow-cidr` (at least one); every
    /// other remote client is reset.
    SourceAllowlist,
    /// `source-allowlist` when `init --allow-cidr` lists networks; without
    /// any, remote clients from every network reach the entry.
    OptionalSourceAllowlist,
    /// nftables `meta skuid` per port: on each tenant's own port only that
    /// tenant's uid (and root, for the operator), none on Vault's port;
    /// nothing from outside this host (needs `entry: per-tenant-port`).
    PerPort,
}

impl GateKind {
    /// Whether clients from outside this host may reach the entry.
    pub fn admits_remote(self) -> bool {
        !matches!(self, GateKind::UidAllowlist | GateKind::PerPort)
    }

    /// Whether a site needs at least one `--allow-cidr` network.
    pub fn needs_networks(self) -> bool {
        matches!(self, GateKind::SourceAllowlist)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `L1`, `L6`, …: the pattern's code on the map (DESIGN "Patterns").
    pub code: String,
    pub summary: String,
    pub vault_bind: VaultBind,
    pub entry: EntryKind,
    /// The port tenants use unless `init --port` says otherwise.
    pub port: u16,
    pub host_mapping: HostMapping,
    pub extra_sans: Vec<String>,
    pub gate: GateKind,
    /// What the pattern cannot do, one line each (`vaultnet profiles`).
    pub limits: Vec<String>,
}

impl Profile {
    pub fn builtin(name: &str) -> Result<Profile> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let known: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
            Error::usage(format!("unknown profile `{}`", name.escape_debug()))
                .hint(format!("known profiles: {}", known.join(", ")))
        })?;
        Ok(Profile::parse(text).expect("built-in profiles are valid"))
    }

    /// Parses and checks a profile; the error is one line.
    pub fn parse(text: &str) -> std::result::Result<Profile, String> {
        let p: Profile = serde_saphyr::from_str(text)
            .map_err(|e| crate::state::validate::first_line(&e.to_string()))?;
        let code_ok = p.code.len() >= 2
            && p.code.starts_with(['L', 'R'])
            && p.code[1..].bytes().all(|b| b.is_ascii_digit());
        if !code_ok {
            return Err(format!(
                "code `{}` is not a pattern code such as `L1`",
                p.code
            ));
        }
        if p.summary.trim().is_empty() || p.summary.contains('\n') {
            return Err("summary must be one non-empty line".into());
        }
        if p.port == 0 {
            return Err("port 0".into());
        }
        // Vault on the host address is the entry itself; a forwarder on
        // that address and port would fight Vault for it.
        if (p.vault_bind == VaultBind::Nic) != (p.entry == EntryKind::Direct) {
            return Err("entry `direct` and `vault_bind: nic` go together".into());
        }
        // A port per tenant is what lets the gate tell tenants apart by
        // port; a gate per port needs those ports.
        if (p.entry == EntryKind::PerTenantPort) != (p.gate == GateKind::PerPort) {
            return Err("entry `per-tenant-port` and `gate: per-port` go together".into());
        }
        if p.limits
            .iter()
            .any(|l| l.trim().is_empty() || l.contains('\n'))
        {
            return Err("each limit must be one non-empty line".into());
        }
        for s in &p.extra_sans {
            crate::state::validate::dns_name(s).map_err(|e| e.message().to_string())?;
        }
        Ok(p)
    }

    /// The name `--profile` takes: the code in lower case.
    pub fn name(&self) -> String {
        self.code.to_lowercase()
    }

    pub fn names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    /// Every built-in profile.
    pub fn all() -> Vec<Profile> {
        Self::names()
            .map(|n| Self::builtin(n).expect("built-in"))
            .collect()
    }

    /// The YAML text of a built-in profile, for tests of what each key does.
    pub fn builtin_text(name: &str) -> Option<&'static str> {
        BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_profile_parses_and_is_named_after_its_code() {
        for name in Profile::names() {
            let p = Profile::builtin(name).unwrap();
            assert_eq!(p.name(), name);
        }
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
                limits: l1.limits.clone(),
                ..l6
            },
            l1
        );
    }

    #[test]
    fn values_vaultnet_does_not_implement_are_refused() {
        let l1 = Profile::builtin_text("l1").unwrap();
        for (from, to) in [
            ("entry: shared-port", "entry: per-tenant-port"),
            ("vault_bind: loopback", "vault_bind: nic"),
            ("vault_bind: loopback", "vault_bind: lan"),
            ("entry: shared-port", "entry: direct"),
            ("gate: uid-allowlist", "gate: none"),
            ("code: L1", "code: l1"),
            ("port: 22300", "port: 0"),
            ("extra_sans: []", "extra_sans: [\"a b\"]"),
        ] {
            let text = l1.replace(from, to);
            assert_ne!(text, l1, "{from}");
            assert!(Profile::parse(&text).is_err(), "`{to}` was accepted");
        }
        assert!(Profile::parse(&format!("{l1}mode: shared\n")).is_err());
    }

    #[test]
    fn unknown_profile_is_a_usage_error_with_the_known_names() {
        let e = Profile::builtin("l9").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.hint_text(),
            Some("known profiles: l1, l2, l3, l4, l6, r1, r7")
        );
    }
}
