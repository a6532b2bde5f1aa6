//! Records the commit vaultnet is built from, for `vaultnet --version`:
//! `git describe` of the source tree when it is a git checkout (with
//! `-dirty` for uncommitted changes), else nothing.

use std::process::Command;

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let git = std::path::Path::new(&root).join(".git");
    if git.exists() {
        // A new commit or checkout changes HEAD or the ref it names.
        for f in ["HEAD", "index"] {
            println!("cargo:rerun-if-changed={}", git.join(f).display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    let commit = Command::new("git")
        .args([
            "-C",
            &root,
            "describe",
            "--always",
            "--dirty",
            "--abbrev=12",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let version = match commit {
        Some(c) => format!(
            "{} (commit {c})",
            std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
        ),
        None => std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
    };
    println!("cargo:rustc-env=VAULTNET_VERSION={version}");
}
