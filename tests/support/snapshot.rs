//! Snapshots of a state directory: [`Snapshot`] records every entry
//! (kind, mode, owner, inode, mtime, bytes) so a test can prove that a run
//! changed nothing at all, and lists each difference when it did.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One entry of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir {
        mode: u32,
        uid: u32,
        mtime: SystemTime,
    },
    File {
        mode: u32,
        uid: u32,
        ino: u64,
        mtime: SystemTime,
        bytes: Vec<u8>,
    },
    Symlink {
        target: PathBuf,
    },
    Other {
        mode: u32,
    },
}

impl Entry {
    /// Permission bits (`0o7777`); 0 for a symlink.
    pub fn mode(&self) -> u32 {
        match self {
            Entry::Dir { mode, .. } | Entry::File { mode, .. } | Entry::Other { mode } => {
                mode & 0o7777
            }
            Entry::Symlink { .. } => 0,
        }
    }
}

/// Every entry under a directory (the directory itself is `""`), never
/// following symlinks. A directory that does not exist gives an empty
/// snapshot with `exists == false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub root: PathBuf,
    pub exists: bool,
    pub entries: BTreeMap<PathBuf, Entry>,
}

impl Snapshot {
    #[track_caller]
    pub fn take(root: &Path) -> Snapshot {
        let mut snap = Snapshot {
            root: root.to_path_buf(),
            exists: std::fs::symlink_metadata(root).is_ok(),
            entries: BTreeMap::new(),
        };
        if snap.exists {
            snap.walk(root, Path::new(""));
        }
        snap
    }

    #[track_caller]
    fn walk(&mut self, path: &Path, rel: &Path) {
        let m = std::fs::symlink_metadata(path)
            .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
        let ft = m.file_type();
        let entry = if ft.is_symlink() {
            Entry::Symlink {
                target: std::fs::read_link(path).unwrap_or_default(),
            }
        } else if ft.is_dir() {
            Entry::Dir {
                mode: m.mode(),
                uid: m.uid(),
                mtime: m.modified().expect("mtime"),
            }
        } else if ft.is_file() {
            Entry::File {
                mode: m.mode(),
                uid: m.uid(),
                ino: m.ino(),
                mtime: m.modified().expect("mtime"),
                bytes: std::fs::read(path)
                    .unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
            }
        } else {
            Entry::Other { mode: m.mode() }
        };
        self.entries.insert(rel.to_path_buf(), entry);
        if ft.is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(path)
                .unwrap_or_else(|e| panic!("list {}: {e}", path.display()))
                .map(|e| e.expect("dir entry").file_name())
                .collect();
            children.sort();
            for name in children {
                self.walk(&path.join(&name), &rel.join(&name));
            }
        }
    }

    /// The same snapshot without one entry (e.g. the lock file, which every
    /// run rewrites with its pid).
    pub fn without(mut self, rel: &str) -> Snapshot {
        self.entries.remove(Path::new(rel));
        self
    }

    /// Relative paths of all entries, the root (`""`) excluded.
    pub fn paths(&self) -> Vec<String> {
        self.entries
            .keys()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.display().to_string())
            .collect()
    }

    pub fn get(&self, rel: &str) -> Option<&Entry> {
        self.entries.get(Path::new(rel))
    }

    /// One line per difference between `self` (before) and `after`.
    pub fn diff(&self, after: &Snapshot) -> Vec<String> {
        let mut d = Vec::new();
        if self.exists != after.exists {
            d.push(format!(
                "`{}` existed before: {}, after: {}",
                self.root.display(),
                self.exists,
                after.exists
            ));
        }
        for (p, e) in &self.entries {
            match after.entries.get(p) {
                None => d.push(format!("removed `{}`", p.display())),
                Some(a) if a != e => d.push(format!("changed `{}`: {}", p.display(), what(e, a))),
                Some(_) => {}
            }
        }
        for p in after.entries.keys() {
            if !self.entries.contains_key(p) {
                d.push(format!("created `{}`", p.display()));
            }
        }
        d
    }

    /// Panics, listing every difference, unless `after` equals `self`.
    #[track_caller]
    pub fn assert_same(&self, after: &Snapshot, context: impl std::fmt::Display) {
        let d = self.diff(after);
        assert!(
            d.is_empty(),
            "state directory `{}` changed ({context}):\n  {}",
            self.root.display(),
            d.join("\n  ")
        );
    }
}

fn what(before: &Entry, after: &Entry) -> String {
    match (before, after) {
        (
            Entry::File {
                mode: m1,
                uid: u1,
                ino: i1,
                mtime: t1,
                bytes: b1,
            },
            Entry::File {
                mode: m2,
                uid: u2,
                ino: i2,
                mtime: t2,
                bytes: b2,
            },
        ) => {
            let mut w = Vec::new();
            if b1 != b2 {
                w.push("contents".to_string());
            }
            if m1 != m2 {
                w.push(format!("mode {:o} -> {:o}", m1 & 0o7777, m2 & 0o7777));
            }
            if u1 != u2 {
                w.push(format!("owner {u1} -> {u2}"));
            }
            if i1 != i2 {
                w.push("inode (rewritten)".into());
            }
            if t1 != t2 {
                w.push("mtime".into());
            }
            w.join(", ")
        }
        (
            Entry::Dir {
                mode: m1,
                uid: u1,
                mtime: t1,
            },
            Entry::Dir {
                mode: m2,
                uid: u2,
                mtime: t2,
            },
        ) => {
            let mut w = Vec::new();
            if m1 != m2 {
                w.push(format!("mode {:o} -> {:o}", m1 & 0o7777, m2 & 0o7777));
            }
            if u1 != u2 {
                w.push(format!("owner {u1} -> {u2}"));
            }
            if t1 != t2 {
                w.push("mtime (an entry was added or removed)".into());
            }
            w.join(", ")
        }
        (a, b) => format!("{a:?} -> {b:?}").chars().take(300).collect(),
    }
}
