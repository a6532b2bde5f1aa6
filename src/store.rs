//! The state directory as a store: the writer lock, loading and saving
//! `vaultnet.yaml` (size-limited, validated against the schema and the
//! profile, never overwritten by a guess — SECURITY.md I2, S5).

use std::path::Path;

use crate::env::Env;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::state::{STATE_FILE, State};
use crate::sys::fsx::{self, Change, MAX_STATE_BYTES};

/// An initialised state directory, read under the writer lock when the
/// command changes it.
pub struct Opened {
    pub layout: Layout,
    pub state: State,
    _lock: Option<fsx::Lock>,
}

impl Opened {
    /// Writes the state back (atomically, 0600).
    pub fn save(&self) -> Result<Change> {
        save(&self.layout.root, &self.state)
    }
}

pub fn not_initialised(dir: &Path) -> Error {
    Error::usage(format!(
        "vaultnet is not initialised in `{}`",
        dir.display()
    ))
    .hint("run `vaultnet init` first, or pass the right `--dir`")
}

/// Opens the state of `--dir` (or its default); `lock` for commands that
/// change it.
pub fn open(env: &Env, dir_flag: Option<&Path>, lock: bool) -> Result<Opened> {
    let dir = env.state_dir(dir_flag)?;
    if !dir.join(STATE_FILE).exists() {
        return Err(not_initialised(&dir));
    }
    fsx::check_trusted_dir(&dir)?;
    let lock = if lock {
        let held = fsx::Lock::acquire(&dir)?;
        // A run killed mid-write left its temp file; the lock holder is
        // the only writer, so whatever temp file is there is stale.
        fsx::remove_stale_temps(&dir)?;
        Some(held)
    } else {
        None
    };
    let state = load(&dir)?.ok_or_else(|| not_initialised(&dir))?;
    Ok(Opened {
        layout: Layout::new(dir),
        state,
        _lock: lock,
    })
}

/// Reads `dir/vaultnet.yaml`; `None` when vaultnet was never initialised there.
pub fn load(dir: &Path) -> Result<Option<State>> {
    let path = dir.join(STATE_FILE);
    let restore = || format!("restore `{}` from a backup", path.display());
    let Some(bytes) = fsx::read_limited(&path, MAX_STATE_BYTES)
        .map_err(|e| Error::usage(e.message().to_string()).hint(restore()))?
    else {
        return Ok(None);
    };
    let invalid = |cause: String| {
        Error::usage(format!(
            "`{}` is not a valid state file: {cause}",
            path.display()
        ))
        .hint(format!(
            "{}; vaultnet never overwrites a state file it cannot read",
            restore()
        ))
    };
    let state = State::parse(&bytes).map_err(invalid)?;
    crate::topology::Topology::new(&state.site).map_err(|e| invalid(e.message().to_string()))?;
    Ok(Some(state))
}

pub fn save(dir: &Path, state: &State) -> Result<Change> {
    fsx::write_if_changed(
        &dir.join(STATE_FILE),
        state.to_yaml().as_bytes(),
        fsx::SECRET,
    )
}
