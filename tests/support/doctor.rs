//! `doctor` run on a [`Fixture`], and its JSON report read back. The
//! doctor tests build the whole chain the way an operator does (a host
//! namespace, OpenBao, two tenants, the forwarder, the nft gate), then each
//! breaks one link and reads what `doctor` says about it through
//! [`Report`], which finds a check or a group by its stable id.
//! Every doctor run is also checked for the operator token in its output
//! (SECURITY.md S6).

use serde_json::Value;

use super::cmd::{Cmd, Output};
use super::fixture::Fixture;

/// Running `doctor` on a fixture.
impl Fixture {
    /// `vaultnet --dir D doctor ARGS…` with the root token and a UTF-8
    /// locale.
    pub fn doctor(&self, args: &[&str]) -> Cmd {
        let mut c = self.vaultnet();
        c.env("LC_ALL", "C.UTF-8").arg("doctor").args(args);
        c
    }

    /// Runs `doctor ARGS… --output json`, expects exit `code` and nothing
    /// on stderr, checks the operator token is not in the output and
    /// parses the report.
    #[track_caller]
    pub fn report(&self, args: &[&str], code: i32) -> Report {
        let out = self
            .doctor(args)
            .args(["--output", "json"])
            .run()
            .expect(self.expect(code).stdout_any(REPORT_NOT_COMPARED));
        assert_no_token(&out, &self.bao().root_token);
        if std::env::var_os("DUMP").is_some() {
            let t = self.doctor(args).run();
            eprintln!(
                "=== {:?} {args:?}\n{}",
                std::thread::current().name(),
                t.stdout
            );
        }
        Report::parse(out)
    }

    /// Runs the fix a hint names as a `vaultnet` command line (`vaultnet
    /// add-user alice`, `vaultnet init …`) and expects exactly `out` and
    /// `err` of it, exit 0 (the site's paths and addresses redacted).
    #[track_caller]
    pub fn run_vaultnet_fix(&self, words: &[&str], out: &str, err: &str) -> Output {
        self.vaultnet()
            .args(words)
            .run()
            .expect(self.expect(0).stdout(out).stderr(err))
    }
}

/// Why doctor's reports are not compared whole: they hold timings
/// (`connected in N ms`) and a line per check of a host the test builds;
/// [`Report`] reads each check by its stable id instead, and the text
/// tests check the marks and lines they are about.
pub const REPORT_NOT_COMPARED: &str =
    "doctor's report holds timings; its checks are read by stable id or line";

/// Panics if the operator token shows anywhere in a run's output.
#[track_caller]
pub fn assert_no_token(out: &Output, token: &str) {
    assert!(!token.is_empty());
    assert!(
        !out.stdout.contains(token) && !out.stderr.contains(token),
        "the operator token appears in the output\n{out}"
    );
}

/// `doctor --output json`, parsed, with the run that produced it.
pub struct Report {
    pub out: Output,
    pub json: Value,
}

impl Report {
    #[track_caller]
    pub fn parse(out: Output) -> Report {
        let json: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("doctor's JSON does not parse: {e}\n{out}"));
        assert_eq!(json["schema_version"], 1, "doctor's schema_version\n{out}");
        Report { out, json }
    }

    /// The report's overall `status`.
    pub fn status(&self) -> &str {
        self.json["status"].as_str().unwrap_or("<none>")
    }

    /// `summary.KEY` (`ok`, `warn`, `fail`, `skip`).
    #[track_caller]
    pub fn summary(&self, key: &str) -> u64 {
        self.json["summary"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("no summary.{key}\n{}", self.out))
    }

    /// Every group, then every check (a leaf), each in the report's order.
    pub fn all(&self) -> Vec<&Value> {
        let list = |key: &str| self.json[key].as_array().into_iter().flatten();
        list("groups").chain(list("checks")).collect()
    }

    /// The checks and groups directly in the group `id`, in order.
    pub fn children(&self, id: &str) -> Vec<&Value> {
        let list = |key: &str| self.json[key].as_array().into_iter().flatten();
        list("groups")
            .chain(list("checks"))
            .filter(|c| c["group"] == id)
            .collect()
    }

    /// Every check's id.
    pub fn ids(&self) -> Vec<String> {
        self.all()
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    }

    /// Ids of the checks (the leaves) whose status is `status`.
    pub fn leaves(&self, status: &str) -> Vec<String> {
        self.json["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["status"] == status)
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    }

    /// The check with this id; panics with the whole run if there is none.
    #[track_caller]
    pub fn check(&self, id: &str) -> &Value {
        self.all()
            .into_iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check `{id}` in the report\n{}", self.out))
    }

    /// The check with this id, after asserting its status.
    #[track_caller]
    pub fn expect(&self, id: &str, status: &str) -> &Value {
        let c = self.check(id);
        assert_eq!(
            c["status"], status,
            "check `{id}`: {c}\n--- whole run ---\n{}",
            self.out
        );
        c
    }

    /// Asserts the check failed (or warned) and its hint contains every
    /// one of `needles`; returns the hint.
    #[track_caller]
    pub fn expect_hint(&self, id: &str, status: &str, needles: &[&str]) -> String {
        let c = self.expect(id, status);
        let hint = c["hint"]
            .as_str()
            .unwrap_or_else(|| panic!("check `{id}` has no hint: {c}\n{}", self.out));
        for n in needles {
            assert!(
                hint.contains(n),
                "hint of `{id}` does not name {n:?}: {hint:?}\n{}",
                self.out
            );
        }
        hint.to_string()
    }

    /// The `detail` of a check ("" when it has none).
    #[track_caller]
    pub fn detail(&self, id: &str) -> String {
        self.check(id)["detail"].as_str().unwrap_or("").to_string()
    }
}
