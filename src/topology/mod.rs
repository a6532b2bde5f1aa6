//! The deployment pattern: the only reader of a profile. From a profile and
//! the site it derives what the rest of vaultnet consumes.

pub mod profile;

use crate::error::{Error, Result};
use crate::state::Site;
use profile::{Profile, VaultBind};

/// A site seen through its profile.
pub struct Topology<'a> {
    pub site: &'a Site,
    pub profile: Profile,
}

impl<'a> Topology<'a> {
    /// Reads the site's profile and checks the site against it.
    pub fn new(site: &'a Site) -> Result<Topology<'a>> {
        let profile = Profile::builtin(&site.profile)?;
        if profile.vault_bind == VaultBind::Loopback && !site.vault_addr.ip().is_loopback() {
            return Err(Error::usage(format!(
                "invalid Vault address `{}`: profile {} keeps Vault on loopback",
                site.vault_addr, profile.code
            ))
            .hint("pass a loopback address, e.g. `--vault-addr 127.0.0.1:8200`"));
        }
        Ok(Topology { site, profile })
    }
}
