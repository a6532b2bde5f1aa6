//! `--help` of every command, compared with the snapshots in
//! `tests/snapshots/`: a change to what users read is a reviewed change.
//! Exit code, stdout and stderr are compared exactly (see
//! `support::expect`; the snapshots are stored redacted).
//! Regenerate with `VAULTNET_BLESS=1 cargo test --test integration help`.

use crate::support::cmd::Cmd;
use crate::support::expect::Expect;

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
        let out = c.arg("--help").env("COLUMNS", "100").run();
        let name = if cmd.is_empty() { "vaultnet" } else { cmd };
        let path = dir.join(format!("help-{name}.txt"));
        if bless {
            // Only a clean run is worth a snapshot; it is stored redacted
            // (a date in an example shows as `[DATE]`), as it is compared.
            let want = Expect::success().stdout_any("being blessed");
            let out = out.expect(want.clone());
            std::fs::write(&path, want.redacted(&out.stdout)).unwrap();
            continue;
        }
        // Exit 0, the snapshot on stdout, nothing on stderr; every command
        // is checked before the test fails, so one run shows them all.
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if let Err(msg) = Expect::success().stdout(want).check(&out) {
            stale.push(format!("=== {}\n{msg}", path.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "help changed; review and run `VAULTNET_BLESS=1 cargo test --test integration help`:\n{}",
        stale.join("\n")
    );
}
