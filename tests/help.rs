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
    "renew",
    "unwrap",
    "sites",
    "sites list",
    "sites add",
    "sites remove",
    "profiles",
    "completions",
];

/// Every command `vaultnet --help` lists has a snapshot: a new command
/// cannot slip past review.
#[test]
fn every_listed_command_has_a_help_snapshot() {
    let out = Cmd::vaultnet().arg("--help").env("COLUMNS", "100").run();
    let listed: Vec<String> = out
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    for c in &listed {
        assert!(COMMANDS.contains(&c.as_str()), "`{c}` has no help snapshot");
    }
    assert_eq!(
        listed.len(),
        COMMANDS
            .iter()
            .filter(|c| !c.is_empty() && !c.contains(' '))
            .count()
    );
}

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let bless = std::env::var_os("VAULTNET_BLESS").is_some();
    let mut stale = Vec::new();
    for cmd in COMMANDS {
        let mut c = Cmd::vaultnet();
        c.args(cmd.split_whitespace());
        // A fixed width: clap wraps help to the terminal.
        let out = c.arg("--help").env("COLUMNS", "100").run();
        let name = if cmd.is_empty() {
            "vaultnet".to_string()
        } else {
            cmd.replace(' ', "-")
        };
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

/// `vaultnet profiles` lists every built-in profile, in the order the
/// binary knows them, each with what it writes and its limits, as the
/// snapshot `tests/snapshots/profiles.txt` (blessed like the help); the
/// JSON carries the same.
#[test]
fn profiles_lists_every_builtin_pattern_with_what_it_writes_and_its_limits() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/profiles.txt");
    let out = Cmd::vaultnet().arg("profiles").run();
    if std::env::var_os("VAULTNET_BLESS").is_some() {
        std::fs::write(&path, &out.stdout).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    let out = out.expect(Expect::success().stdout(want));
    let json = Cmd::vaultnet()
        .args(["profiles", "--output", "json"])
        .run()
        .expect(Expect::success().stdout_any("parsed and compared below"));
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(doc["schema_version"], 1, "{json}");
    let v = &doc["profiles"];
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let known: Vec<&str> = vaultnet::topology::profile::Profile::names().collect();
    assert_eq!(names, known);
    for p in v.as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let heading = format!(
            "{name} (pattern {}{}): {}",
            p["code"].as_str().unwrap(),
            if p["default"] == true {
                ", the default"
            } else {
                ""
            },
            p["summary"].as_str().unwrap()
        );
        assert!(out.stdout.lines().any(|l| l == heading), "{heading}\n{out}");
        let details = p["details"].as_array().unwrap();
        assert!(
            details.iter().any(|d| d
                .as_str()
                .unwrap()
                .starts_with("writes: vault/listener.json")),
            "{p}"
        );
        assert!(
            details
                .iter()
                .any(|d| d.as_str().unwrap().starts_with("limit: ")),
            "{name} lists no limit"
        );
    }
    assert_eq!(
        v.as_array()
            .unwrap()
            .iter()
            .filter(|p| p["default"] == true)
            .count(),
        1
    );
}
