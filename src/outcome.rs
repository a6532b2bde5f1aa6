//! What a converging step did, as a type: the Vault operations and the
//! provisioning phases return an [`Outcome`] for each thing they touch,
//! and report it to an [`Observer`] as it happens (the command prints it).
//! Every decision about what happened reads the outcome's [`Change`],
//! never its text.

/// What a phase did to one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Made for the first time.
    Created,
    /// Existed, differed from what vaultnet wants, and was made right.
    Repaired,
    /// Existed and was replaced by a new one (renewed, rotated, `--force`).
    Replaced,
    /// Existed as wanted and was left alone.
    Kept,
    /// Taken away.
    Removed,
}

/// One outcome: its kind, and the line that tells the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub change: Change,
    pub text: String,
}

impl Outcome {
    pub fn new(change: Change, text: impl Into<String>) -> Outcome {
        Outcome {
            change,
            text: text.into(),
        }
    }

    /// Anything but [`Change::Kept`].
    pub fn changed(&self) -> bool {
        self.change != Change::Kept
    }
}

/// Where phases send each outcome as it happens.
pub type Observer<'a> = &'a mut dyn FnMut(&Outcome);

/// The outcome of a file write.
pub fn file_outcome(rel: &str, change: crate::sys::fsx::Change) -> Option<Outcome> {
    use crate::sys::fsx::Change as F;
    match change {
        F::Created => Some(Outcome::new(Change::Created, format!("wrote `{rel}`"))),
        F::Updated => Some(Outcome::new(Change::Repaired, format!("updated `{rel}`"))),
        F::Unchanged => None,
    }
}
