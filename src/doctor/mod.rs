//! `vaultnet doctor`'s checks and their report. The checks walk the chain
//! the way a packet and a login do — files, Vault directly, the forwarder,
//! the name tenants use, Vault's config, each tenant's login, the nft gate —
//! and each is a small function returning a [`Check`]: a status, what was
//! seen, and for every warning or failure a `hint` with the exact fix.
//! A group's status is its worst child's (as `vault operator diagnose`).

pub mod files;
pub mod network;
pub mod vaultcfg;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skip,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Check>,
}

impl Check {
    fn new(id: impl Into<String>, title: impl Into<String>, status: Status) -> Check {
        Check {
            id: id.into(),
            title: title.into(),
            status,
            detail: None,
            hint: None,
            children: Vec::new(),
        }
    }

    pub fn ok(id: impl Into<String>, title: impl Into<String>) -> Check {
        Check::new(id, title, Status::Ok)
    }

    pub fn warn(id: impl Into<String>, title: impl Into<String>, hint: impl Into<String>) -> Check {
        let mut c = Check::new(id, title, Status::Warn);
        c.hint = Some(hint.into());
        c
    }

    pub fn fail(id: impl Into<String>, title: impl Into<String>, hint: impl Into<String>) -> Check {
        let mut c = Check::new(id, title, Status::Fail);
        c.hint = Some(hint.into());
        c
    }

    pub fn skip(id: impl Into<String>, title: impl Into<String>) -> Check {
        Check::new(id, title, Status::Skip)
    }

    #[must_use]
    pub fn detail(mut self, d: impl Into<String>) -> Check {
        self.detail = Some(d.into());
        self
    }

    /// A group whose status is the worst of its children.
    pub fn group(id: impl Into<String>, title: impl Into<String>, children: Vec<Check>) -> Check {
        let status = children
            .iter()
            .map(|c| c.status)
            .filter(|s| *s != Status::Skip)
            .max()
            .unwrap_or(if children.is_empty() {
                Status::Ok
            } else {
                Status::Skip
            });
        let mut c = Check::new(id, title, status);
        c.children = children;
        c
    }

    pub fn find(&self, id: &str) -> Option<&Check> {
        if self.id == id {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(id))
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

/// Counts the leaves.
pub fn summarize(checks: &[Check]) -> Summary {
    fn walk(c: &Check, s: &mut Summary) {
        if c.children.is_empty() {
            match c.status {
                Status::Ok => s.ok += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
        }
        for ch in &c.children {
            walk(ch, s);
        }
    }
    let mut s = Summary::default();
    for c in checks {
        walk(c, &mut s);
    }
    s
}

pub struct Symbols {
    pub ok: &'static str,
    pub warn: &'static str,
    pub fail: &'static str,
    pub skip: &'static str,
}

pub const UNICODE: Symbols = Symbols {
    ok: "✓",
    warn: "!",
    fail: "✗",
    skip: "-",
};

pub const ASCII: Symbols = Symbols {
    ok: "[ok]",
    warn: "[warn]",
    fail: "[FAIL]",
    skip: "[skip]",
};

/// The report as an indented tree, one line per check.
pub fn render_tree(checks: &[Check], sym: &Symbols) -> Vec<String> {
    fn walk(c: &Check, depth: usize, sym: &Symbols, out: &mut Vec<String>) {
        let pad = "  ".repeat(depth);
        let mark = match c.status {
            Status::Ok => sym.ok,
            Status::Warn => sym.warn,
            Status::Fail => sym.fail,
            Status::Skip => sym.skip,
        };
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        out.push(format!("{pad}{mark} {}{detail}", c.title));
        if let Some(h) = &c.hint
            && c.status != Status::Ok
        {
            out.push(format!("{pad}    hint: {h}"));
        }
        for ch in &c.children {
            walk(ch, depth + 1, sym, out);
        }
    }
    let mut out = Vec::new();
    for c in checks {
        walk(c, 0, sym, &mut out);
    }
    out
}
