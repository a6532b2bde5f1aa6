//! The product on stdout reports its own failure: a full disk is an error
//! (exit 1, one line), a reader that goes away (`| head`) is not (exit 0).

use std::process::{Command, Stdio};

use crate::support::fixture::Fixture;

fn initialised() -> Fixture {
    Fixture::builder().init().build()
}

#[test]
fn list_json_into_a_full_disk_exits_1_with_one_line() {
    let site = initialised();
    let f = std::fs::File::create("/dev/full").expect("/dev/full");
    let mut cmd = site.vaultnet().to_command();
    let out = cmd
        .args(["list", "--output", "json"])
        .stdin(Stdio::null())
        .stdout(f)
        .output()
        .expect("vaultnet runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: cannot write the output: No space left on device (os error 28)\n"
    );
}

#[test]
fn list_json_into_a_closed_pipe_exits_0_quietly() {
    let site = initialised();
    // The reader is gone before vaultnet writes a byte: the write fails
    // with EPIPE every time, not only when the output outgrows the pipe.
    let mut cmd = site.vaultnet().to_command();
    let mut child = cmd
        .args(["list", "--output", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vaultnet runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("vaultnet ends");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn list_json_piped_to_head_c1_exits_0() {
    let site = initialised();
    let vaultnet = site.vaultnet().display();
    let out = Command::new("bash")
        .args([
            "-c",
            &format!("set -o pipefail; {vaultnet} list --output json | head -c1"),
        ])
        .env("HOME", site.home())
        .env_remove("VAULTNET_DIR")
        .output()
        .expect("bash runs");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
