//! docs/json.md's examples, run as written: every `console` block there is
//! a list of commands (`$ vaultnet … | jq …`), each followed by the lines
//! it prints. The test runs each line with bash and the real `jq`
//! (`scripts/deps` installs it) against the real binary on a site with two
//! tenants and a real OpenBao, and compares stdout exactly with the lines
//! in the doc — so a renamed field, a changed shape or an example that no
//! longer works fails here, not in a reader's script.

use crate::support::cmd::Cmd;
use crate::support::expect::Expect;
use crate::support::fixture::Fixture;
use crate::support::require_e2e;
use crate::support::tenant::add_expect;

const DOC: &str = include_str!("../docs/json.md");

/// One example: the doc's line number, the command line, what it prints.
#[derive(Debug, PartialEq, Eq)]
struct Example {
    line: usize,
    command: String,
    prints: String,
}

/// The `$ …` lines of every ```` ```console ```` block of `doc`, each with
/// the lines after it up to the next command or the end of the block.
fn examples(doc: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut inside = false;
    for (i, line) in doc.lines().enumerate() {
        if !inside {
            inside = line.trim_end() == "```console";
            continue;
        }
        if line.trim_end() == "```" {
            inside = false;
        } else if let Some(command) = line.strip_prefix("$ ") {
            out.push(Example {
                line: i + 1,
                command: command.to_string(),
                prints: String::new(),
            });
        } else {
            let last = out
                .last_mut()
                .unwrap_or_else(|| panic!("docs/json.md:{}: output before any `$ ` line", i + 1));
            last.prints.push_str(line);
            last.prints.push('\n');
        }
    }
    assert!(!inside, "docs/json.md: a ```console block is not closed");
    out
}

#[test]
fn examples_are_read_from_console_blocks_only() {
    let doc = "text\n```sh\n$ not this\n```\n```console\n$ vaultnet a | jq .\nx\ny\n$ vaultnet b | jq .\n```\n";
    assert_eq!(
        examples(doc),
        [
            Example {
                line: 6,
                command: "vaultnet a | jq .".into(),
                prints: "x\ny\n".into()
            },
            Example {
                line: 9,
                command: "vaultnet b | jq .".into(),
                prints: String::new()
            },
        ]
    );
}

#[test]
fn every_jq_example_of_docs_json_md_prints_what_the_doc_says() {
    require_e2e!("runs the examples against a real OpenBao");
    let site = Fixture::builder().openbao().build();
    site.add_user(&["--no-unix-user", "alice", "bob"])
        .run()
        .expect(add_expect(&site, &["alice", "bob"], false));
    let all = examples(DOC);
    // Every command with `--output json` documented.
    for command in [
        "init",
        "add-user",
        "remove-user",
        "list",
        "renew",
        "doctor",
        "profiles",
    ] {
        assert!(
            all.iter()
                .any(|e| e.command.starts_with(&format!("vaultnet {command} "))
                    || e.command.starts_with(&format!("vaultnet -q {command} "))),
            "docs/json.md has no example of `{command}`"
        );
    }
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_vaultnet"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let token = &site.bao().root_token;
    for e in &all {
        assert!(
            e.command.starts_with("vaultnet ") && e.command.contains("| jq "),
            "docs/json.md:{}: an example is `vaultnet … | jq …`: {}",
            e.line,
            e.command
        );
        // Not `pipefail`: doctor exits 1 on this site, whose forwarder is
        // not running. Anything vaultnet or jq says on stderr fails the
        // comparison, so a vaultnet that failed cannot pass as an empty
        // answer.
        let mut c = Cmd::new("bash");
        c.args(["-c", &e.command])
            .home(site.home())
            .env("PATH", &path)
            .env("VAULTNET_DIR", site.dir())
            .env("BAO_TOKEN", token)
            .env("LC_ALL", "C.UTF-8");
        c.run().expect(Expect::success().stdout(e.prints.as_str()));
    }

    // One timestamp form in every report that has one: RFC 3339, UTC,
    // whole seconds. (Each report's whole text is compared by the tests
    // of its command, which redact the times: this reads the times alone.)
    for args in [
        &["add-user", "--no-unix-user", "alice", "bob"][..],
        &["list"],
        &["renew", "alice"],
        &["doctor", "--user", "alice"],
    ] {
        let out = site.vaultnet().args(args).args(["--output", "json"]).run();
        let v: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}\n{out}"));
        assert_eq!(v["schema_version"], 1, "{args:?}\n{out}");
        let mut times = Vec::new();
        timestamps(&v, &mut times);
        assert!(!times.is_empty(), "{args:?}: no timestamp\n{out}");
        for t in times {
            assert!(
                is_utc_whole_seconds(&t),
                "{args:?}: `{t}` is not RFC 3339 UTC in whole seconds\n{out}"
            );
        }
    }
}

/// Every string in `v` that starts as a date and time does (`2027-…T`).
fn timestamps(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            let b = s.as_bytes();
            if b.len() > 10
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'-'
                && b[10] == b'T'
            {
                out.push(s.clone());
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| timestamps(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| timestamps(x, out)),
        _ => {}
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly.
fn is_utc_whole_seconds(t: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    t.len() == shape.len()
        && t.chars().zip(shape.chars()).all(|(c, s)| match s {
            'd' => c.is_ascii_digit(),
            s => c == s,
        })
}

#[test]
fn the_one_timestamp_form_is_utc_in_whole_seconds() {
    assert!(is_utc_whole_seconds("2027-02-26T08:00:00Z"));
    for t in [
        "2027-02-26T08:00:00.5Z",
        "2027-02-26T10:00:00+02:00",
        "2027-02-26 08:00:00Z",
    ] {
        assert!(!is_utc_whole_seconds(t), "{t}");
    }
}
