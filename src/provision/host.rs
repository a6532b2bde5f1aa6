//! The host files in `forwarder/` — the entry's forwarder configuration
//! and the gate — kept in step with the site and its tenants, and the files
//! an earlier setting left there removed so they cannot mislead.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::state::State;
use crate::sys::fsx::{self, Change};
use crate::topology::{HostFiles, Topology};

/// What happened to one host file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostChange {
    Written(Change),
    /// Left by an earlier setting; `why` names it.
    Removed {
        why: String,
    },
}

/// Writes every host file the topology derives for the current tenants and
/// removes retired ones; returns the files and their enable commands, and
/// what happened to each path.
pub fn write(layout: &Layout, state: &State) -> Result<(HostFiles, Vec<(PathBuf, HostChange)>)> {
    let topology = Topology::of(state)?;
    let files = topology.host_files(layout, &state.tenant_uids());
    let dir = layout.forwarder();
    let mut done = Vec::new();
    for f in &files.files {
        let path = dir.join(&f.name);
        let change = fsx::write_if_changed(&path, f.contents.as_bytes(), fsx::PUBLIC)?;
        done.push((path, HostChange::Written(change)));
    }
    let present: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    for (name, why) in topology.retired_host_files(&present) {
        let path = dir.join(&name);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| Error::io("remove", &path, e))?;
            done.push((path, HostChange::Removed { why }));
        }
    }
    Ok((files, done))
}

/// The outcomes of [`write`] that changed something, with their paths.
pub fn outcomes(layout: &Layout, done: &[(PathBuf, HostChange)]) -> Vec<(PathBuf, super::Outcome)> {
    done.iter()
        .filter_map(|(path, c)| {
            let rel = layout.rel(path);
            let o = match c {
                HostChange::Written(w) => super::file_outcome(&rel, *w),
                HostChange::Removed { why } => Some(super::Outcome::new(
                    super::Change::Removed,
                    format!("removed `{rel}` ({why})"),
                )),
            };
            o.map(|o| (path.clone(), o))
        })
        .collect()
}
