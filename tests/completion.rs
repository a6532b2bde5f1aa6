//! Shell completion in a real terminal (gated by `VAULTNET_E2E=1`: the
//! tenants are made in a real OpenBao): bash, zsh and fish each load the
//! script `vaultnet completions SHELL` prints (the one shipped in
//! `completions/`), and TAB after `remove-user` offers the site's tenant
//! names that match what is typed — read from `vaultnet.yaml` by vaultnet
//! itself at each TAB — and nothing else; `--profile` offers the built-in
//! profiles.

use std::path::Path;
use std::time::Duration;

use crate::support::cmd::Cmd;
use crate::support::fixture::Fixture;
use crate::support::manifest_dir;
use crate::support::pty::Terminal;
use crate::support::require_e2e;
use crate::support::tenant::add_expect;

const EXIT: Duration = Duration::from_secs(30);

/// Keys sent to a shell (none: only wait), and what must show then.
type Step<'a> = (&'a str, &'a str);

/// An interactive shell with no user configuration, the built vaultnet
/// first on its `PATH`, and its prompt made plain.
fn shell(program: &str, args: &[&str], home: &Path) -> Terminal {
    let bin = Path::new(env!("CARGO_BIN_EXE_vaultnet"))
        .parent()
        .expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Cmd::new(program);
    cmd.args(args)
        .env("PATH", path)
        .env("PS1", "vn$ ")
        .env("TERM", "xterm")
        .home(home);
    Terminal::start(&cmd)
}

#[test]
fn bash_zsh_and_fish_complete_the_sites_tenant_names_and_the_profiles() {
    require_e2e!("makes tenants in a real OpenBao");
    let site = Fixture::builder().openbao().build();
    let names = ["cmpalpha1", "cmpalpha2", "cmpbeta"];
    let mut add = site.vaultnet();
    add.args(["add-user", "--no-unix-user"]).args(names);
    add.run().expect(add_expect(&site, &names, false));
    let dir = site.dir().display().to_string();
    let scripts = manifest_dir().join("completions");
    let line = format!("vaultnet --dir {dir} remove-user cmpal");
    let home = tempfile::tempdir().expect("a home for the shells");

    // Each shell: what it is sent and what must show before the next
    // keys; then it exits, and no tenant that does not match was offered.
    let bash = format!("source {}\n", scripts.join("vaultnet.bash").display());
    let zsh = format!(
        "autoload -U compinit && compinit -u && source {}\n",
        scripts.join("_vaultnet").display()
    );
    let fish = format!("source {}\n", scripts.join("vaultnet.fish").display());
    let tab = format!("{line}\t");
    let shells: [(&str, &[&str], Vec<Step>); 3] = [
        // TAB inserts the common part (after the bell for an ambiguous
        // word), a second TAB lists both; then the profiles.
        (
            "bash",
            &["--norc", "--noprofile", "-i"],
            vec![
                (bash.as_str(), ""),
                (tab.as_str(), "pha"),
                ("\t\t", "cmpalpha1"),
                ("", "cmpalpha2"),
                ("\x15vaultnet init --profile \t\t", "l1"),
                ("", "r1"),
            ],
        ),
        // The script is a completion function (`#compdef`), loaded after
        // compinit: TAB inserts the common part, a second lists both.
        (
            "zsh",
            &["-f", "-i"],
            vec![
                (zsh.as_str(), ""),
                (tab.as_str(), "cmpalpha"),
                ("\t", "cmpalpha1"),
                ("", "cmpalpha2"),
            ],
        ),
        // TAB opens the pager with both.
        (
            "fish",
            &["--no-config", "-i"],
            vec![
                (fish.as_str(), ""),
                (tab.as_str(), "cmpalpha1"),
                ("", "cmpalpha2"),
            ],
        ),
    ];
    for (program, args, steps) in shells {
        let mut t = shell(program, args, home.path());
        for (keys, shows) in steps {
            if !keys.is_empty() {
                t.send(keys);
            }
            if !shows.is_empty() {
                t.wait_for(shows);
            }
        }
        t.send("\x15exit\n");
        let s = t.finish(EXIT);
        assert!(
            !s.transcript.contains("cmpbeta"),
            "{program} offered a tenant that does not match:\n{}",
            s.transcript
        );
    }
}
