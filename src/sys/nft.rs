//! The `nft` program, as the gate uses it: whether a table is loaded in
//! this network namespace's kernel, loading a file, adding one element to
//! a set. The operator token may be in vaultnet's environment; it never
//! reaches `nft` (SECURITY.md S6).

use std::path::Path;
use std::process::{Command, Stdio};

/// Whether a table is in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    Yes,
    No,
    /// `nft` is not installed (or cannot run).
    NoNft,
}

fn nft(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("nft")
        .env_remove("VAULT_TOKEN")
        .env_remove("BAO_TOKEN")
        .args(args)
        .stdin(Stdio::null())
        .output()
}

/// `Err`: nft's first line of complaint, or why it could not run.
fn run(args: &[&str]) -> Result<(), String> {
    match nft(args) {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let line = err
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message");
            Err(crate::state::validate::first_line(&format!(
                "{line} (exit {})",
                o.status.code().unwrap_or(-1)
            )))
        }
        Err(e) => Err(format!("cannot run `nft`: {e}")),
    }
}

pub fn table_loaded(family: &str, table: &str) -> Loaded {
    match nft(&["list", "table", family, table]) {
        Ok(o) if o.status.success() => Loaded::Yes,
        Ok(_) => Loaded::No,
        Err(_) => Loaded::NoNft,
    }
}

/// `nft -f PATH`: the file replaces what it names, in one transaction.
pub fn load_file(path: &Path) -> Result<(), String> {
    let p = path.to_string_lossy();
    run(&["-f", &p])
}

/// `nft add element FAMILY TABLE SET { ELEMENT }`.
pub fn add_element(family: &str, table: &str, set: &str, element: &str) -> Result<(), String> {
    run(&[
        "add",
        "element",
        family,
        table,
        set,
        &format!("{{ {element} }}"),
    ])
}

/// `nft list chain FAMILY TABLE CHAIN`: the chain as nft prints it;
/// `Err(None)` when nft cannot run, `Err(Some(why))` when it refuses
/// (no such table or chain).
pub fn list_chain(family: &str, table: &str, chain: &str) -> Result<String, Option<String>> {
    match nft(&["list", "chain", family, table, chain]) {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(Some(
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message")
                .to_string(),
        )),
        Err(_) => Err(None),
    }
}
