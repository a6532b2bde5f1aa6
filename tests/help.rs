//! `--help` of every command, compared with the snapshots in
//! `tests/snapshots/`: a change to what users read is a reviewed change.
//! Regenerate with `VAULTNET_BLESS=1 cargo test --test integration help`.

use crate::support::cmd::Cmd;

const COMMANDS: &[&str] = &[
    "",
    "init",
    "add-user",
    "remove-user",
    "list",
    "doctor",
    "completions",
];

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let bless = std::env::var_os("VAULTNET_BLESS").is_some();
    let mut stale = Vec::new();
    for cmd in COMMANDS {
        let mut c = Cmd::vaultnet();
        if !cmd.is_empty() {
            c.arg(cmd);
        }
        // A fixed width: clap wraps help to the terminal.
        let out = c.arg("--help").env("COLUMNS", "100").run().expect_code(0);
        assert!(out.stderr.is_empty(), "{}", out.stderr);
        let name = if cmd.is_empty() { "vaultnet" } else { cmd };
        let path = dir.join(format!("help-{name}.txt"));
        if bless {
            std::fs::write(&path, &out.stdout).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if want != out.stdout {
            stale.push(format!("--- {}\n{}", path.display(), out.stdout));
        }
    }
    assert!(
        stale.is_empty(),
        "help changed; review and run `VAULTNET_BLESS=1 cargo test --test integration help`:\n{}",
        stale.join("\n")
    );
}
