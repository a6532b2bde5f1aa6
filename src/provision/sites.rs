//! Other sites sharing this site's raft cluster (`vaultnet sites`): each
//! one's CAs in `pki/sites/NAME.pem`, its name and the serials of its CAs
//! in the state, and the nodes' client CA file `pki/clients.pem` (this
//! site's CAs, then every other site's) that each node's listener names
//! once a site is added. Never this site's own CA, never one CA under two
//! names. A site's tenants are named `vaultnet-SITE.TENANT` in Vault, so
//! no site's tenant ever holds another's names (SECURITY.md C4).

use std::path::Path;

use super::{Change, Observer, Outcome, file_outcome};
use crate::error::{Error, Result};
use crate::state::Site;
use crate::state::cluster::PeerSite;
use crate::store::Opened;
use crate::sys::fsx::{self, MAX_PEM_BYTES};

/// A trusted site as `sites list` shows it.
pub struct Shown {
    pub name: String,
    /// The first CA's subject common name.
    pub ca: String,
    pub expires: String,
    pub file: String,
}

/// Only the site whose `init --vault-node` wrote the nodes' files decides
/// what they trust.
pub fn runs_cluster(site: &Site) -> Result<()> {
    match &site.cluster {
        Some(c) if !c.joined => Ok(()),
        Some(_) => Err(Error::usage(
            "this site joined another site's cluster: that site decides what its nodes trust",
        )
        .hint("run `vaultnet sites` on the site that runs the cluster")),
        None => Err(
            Error::usage("this site runs no cluster: its Vault is its own").hint(
                "other sites share a raft cluster: `vaultnet init --vault-node NAME=IP:PORT …`",
            ),
        ),
    }
}

fn shown(opened: &Opened, name: &str, pem: &str) -> Result<Shown> {
    let certs = crate::pki::certificates(pem)?;
    let first = &certs[0].1;
    let soonest = certs.iter().map(|(_, i)| i.not_after).min().expect("one");
    Ok(Shown {
        name: name.to_string(),
        ca: first
            .common_name
            .clone()
            .unwrap_or_else(|| first.subject.clone()),
        expires: super::tenant::show_time(soonest),
        file: opened.layout.rel(&opened.layout.site_ca(name)).into_owned(),
    })
}

pub fn list(opened: &Opened) -> Result<Vec<Shown>> {
    let sites = opened
        .state
        .site
        .cluster
        .as_ref()
        .map_or(&[][..], |c| &c.sites[..]);
    sites
        .iter()
        .map(|s| {
            let file = opened.layout.site_ca(&s.name);
            let pem = fsx::read_text(&file, MAX_PEM_BYTES)?.ok_or_else(|| {
                Error::usage(format!("`{}` is missing", opened.layout.rel(&file))).hint(format!(
                    "trust site `{0}` again: `vaultnet sites add {0} FILE`",
                    s.name
                ))
            })?;
            shown(opened, &s.name, &pem)
        })
        .collect()
}

/// Trusts site `name` with the CAs in `file`. `None`: it was trusted
/// with those CAs already, and nothing changed. Every check comes before
/// the first write; the CA file first, then the state, then the files
/// the nodes read, so a run cut short is finished by the next.
pub fn add(
    opened: &mut Opened,
    name: &str,
    file: &Path,
    observe: Observer<'_>,
) -> Result<Option<Shown>> {
    crate::state::validate::site_name(name)?;
    let site = &opened.state.site;
    if site.name.as_deref() == Some(name) {
        return Err(Error::usage(format!("`{name}` is this site's own name"))
            .hint("pass the other site's name, as its `init --site-name` was given"));
    }
    let hint = format!(
        "pass the other site's `pki/trust.pem`, e.g. `vaultnet sites add {name} /tmp/{name}-trust.pem`"
    );
    let pem = crate::settings::read_ca_file(file, &hint)?;
    let serials: Vec<String> = crate::pki::certificates(&pem)?
        .into_iter()
        .map(|(_, i)| i.serial)
        .collect();
    let own = crate::pki::certificates(&super::ca::trust_pem(&opened.layout)?)?;
    if own.iter().any(|(_, i)| serials.contains(&i.serial)) {
        return Err(
            Error::usage(format!("`{}` holds this site's own CA", file.display())).hint(hint),
        );
    }
    let sites = &site.cluster.as_ref().expect("runs_cluster").sites;
    if let Some(other) = sites
        .iter()
        .find(|s| s.name != name && s.serials.iter().any(|x| serials.contains(x)))
    {
        return Err(Error::usage(format!(
            "`{}` holds a CA site `{}` is trusted with already",
            file.display(),
            other.name
        ))
        .hint("each site has CAs of its own: pass that site's `pki/trust.pem`"));
    }
    let ca_file = opened.layout.site_ca(name);
    match sites.iter().find(|s| s.name == name) {
        // The same CAs, their file as it was: nothing to do.
        Some(s)
            if s.serials == serials
                && fsx::read_text(&ca_file, MAX_PEM_BYTES)?.as_deref() == Some(pem.as_str()) =>
        {
            return Ok(None);
        }
        Some(s) if s.serials == serials => {}
        Some(_) => {
            return Err(
                Error::usage(format!("site `{name}` is trusted with other CAs")).hint(format!(
                    "to trust its new CAs, remove it first: `vaultnet sites remove {name}`"
                )),
            );
        }
        None => {}
    }
    fsx::private_dir(&opened.layout.sites())?;
    let change = fsx::write_if_changed(&ca_file, pem.as_bytes(), fsx::PUBLIC)?;
    if let Some(o) = file_outcome(&opened.layout.rel(&ca_file), change) {
        observe(&o);
    }
    let cluster = opened.state.site.cluster.as_mut().expect("runs_cluster");
    cluster.sites.retain(|s| s.name != name);
    cluster.sites.push(PeerSite {
        name: name.to_string(),
        serials,
    });
    cluster.sites.sort_by(|a, b| a.name.cmp(&b.name));
    nodes_follow(opened, observe)?;
    Ok(Some(shown(opened, name, &pem)?))
}

/// Trusts site `name` no more: out of the state, then out of the files
/// the nodes read, then its CA file.
pub fn remove(opened: &mut Opened, name: &str, observe: Observer<'_>) -> Result<()> {
    crate::state::validate::site_name(name)?;
    let ca_file = opened.layout.site_ca(name);
    let cluster = opened.state.site.cluster.as_mut().expect("runs_cluster");
    let known = cluster.sites.iter().any(|s| s.name == name);
    if !known && !ca_file.exists() {
        let names: Vec<&str> = cluster.sites.iter().map(|s| s.name.as_str()).collect();
        return Err(
            Error::usage(format!("no site `{name}` shares this cluster")).hint(
                if names.is_empty() {
                    "no other site is trusted: `vaultnet sites list`".to_string()
                } else {
                    format!("the sites trusted are {}", names.join(", "))
                },
            ),
        );
    }
    cluster.sites.retain(|s| s.name != name);
    nodes_follow(opened, observe)?;
    if fsx::remove_if_there(&ca_file)? {
        observe(&Outcome::new(
            Change::Removed,
            format!("removed `{}`", opened.layout.rel(&ca_file)),
        ));
    }
    Ok(())
}

/// The state saved, then `pki/clients.pem` and every node's listener
/// brought in step with the sites it lists.
fn nodes_follow(opened: &mut Opened, observe: Observer<'_>) -> Result<()> {
    if opened.save()? != fsx::Change::Unchanged {
        observe(&Outcome::new(
            Change::Created,
            format!("wrote `{}`", crate::state::STATE_FILE),
        ));
    }
    let site = &opened.state.site;
    for o in super::ca::write_clients(&opened.layout, site)?
        .into_iter()
        .chain(super::site::write_listener(&opened.layout, site)?)
    {
        observe(&o);
    }
    Ok(())
}
