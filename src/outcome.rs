//! What a converging step did, as a type: the Vault operations and the
//! provisioning phases return an [`Outcome`] for each thing they touch,
//! and report it to an [`Observer`] as it happens (the command prints it).
//! Every decision about what happened reads the outcome's [`Change`],
//! never its text: so does a tenant's [`Verdict`] (added, updated, up to
//! date) and a bulk run's [`Totals`].

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

impl Change {
    /// Its name in JSON reports: `created`, `repaired`, `replaced`, `kept`,
    /// `removed`.
    pub fn name(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Repaired => "repaired",
            Change::Replaced => "replaced",
            Change::Kept => "kept",
            Change::Removed => "removed",
        }
    }
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

/// What a run did to one thing made of several (a tenant) as a whole,
/// from its outcomes' [`Change`]: made for the first time, changed, or
/// left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Added,
    Updated,
    UpToDate,
}

impl Verdict {
    /// `new`: it did not exist before the run.
    pub fn of(new: bool, outcomes: &[Outcome]) -> Verdict {
        if new {
            Verdict::Added
        } else if outcomes.iter().any(Outcome::changed) {
            Verdict::Updated
        } else {
            Verdict::UpToDate
        }
    }
}

/// The things of a run (tenants) by what happened to them; `not_tried`
/// are those after the one that failed (a run stops at its first failure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    pub added: usize,
    pub updated: usize,
    pub up_to_date: usize,
    pub failed: usize,
    pub not_tried: usize,
}

impl Totals {
    /// The verdicts of those done, how many failed, and how many were
    /// planned.
    pub fn count(done: impl IntoIterator<Item = Verdict>, failed: usize, planned: usize) -> Totals {
        let mut t = Totals {
            failed,
            ..Totals::default()
        };
        let mut n = 0;
        for v in done {
            n += 1;
            match v {
                Verdict::Added => t.added += 1,
                Verdict::Updated => t.updated += 1,
                Verdict::UpToDate => t.up_to_date += 1,
            }
        }
        t.not_tried = planned.saturating_sub(n + t.failed);
        t
    }

    /// `28 added, 0 updated, 2 up to date, 0 failed`, and how many were
    /// not tried when some were not.
    pub fn line(&self) -> String {
        let not_tried = match self.not_tried {
            0 => String::new(),
            n => format!(", {n} not tried"),
        };
        format!(
            "{} added, {} updated, {} up to date, {} failed{not_tried}",
            self.added, self.updated, self.up_to_date, self.failed
        )
    }
}

/// The outcome of a file write.
pub fn file_outcome(rel: &str, change: crate::sys::fsx::Change) -> Option<Outcome> {
    use crate::sys::fsx::Change as F;
    match change {
        F::Created => Some(Outcome::new(Change::Created, format!("wrote `{rel}`"))),
        F::Updated => Some(Outcome::new(Change::Repaired, format!("updated `{rel}`"))),
        F::Unchanged => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_reads_the_change_of_the_outcomes_and_totals_count_them() {
        let kept = Outcome::new(Change::Kept, "policy: as expected");
        let fixed = Outcome::new(Change::Repaired, "role: repaired");
        assert_eq!(Verdict::of(true, &[]), Verdict::Added);
        assert_eq!(
            Verdict::of(false, std::slice::from_ref(&kept)),
            Verdict::UpToDate
        );
        assert_eq!(Verdict::of(false, &[kept, fixed]), Verdict::Updated);
        let t = Totals::count([Verdict::Added, Verdict::UpToDate, Verdict::Added], 1, 6);
        assert_eq!(
            t,
            Totals {
                added: 2,
                updated: 0,
                up_to_date: 1,
                failed: 1,
                not_tried: 2
            }
        );
    }

    #[test]
    fn the_totals_line_counts_every_kind_and_names_the_tenants_not_tried_only_when_some_were_not() {
        let t = Totals {
            added: 28,
            up_to_date: 2,
            ..Totals::default()
        };
        assert_eq!(t.line(), "28 added, 0 updated, 2 up to date, 0 failed");
        let t = Totals {
            added: 1,
            updated: 1,
            failed: 1,
            not_tried: 3,
            ..Totals::default()
        };
        assert_eq!(
            t.line(),
            "1 added, 1 updated, 0 up to date, 1 failed, 3 not tried"
        );
    }
}
