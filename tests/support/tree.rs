//! A Debian 13 root tree (`.deps/trixie`, built by `scripts/deps` with
//! debootstrap) entered as a second host: Podman 5.4 with pasta, where the
//! machine itself only has Podman 4.3 and slirp4netns.
//!
//! A [`Tree`] is one long-lived process, the holder, that made a mount
//! namespace of its own inside the test's network namespace (`nsenter
//! --net`, so `/sys` keeps its cgroup hierarchies, which runc needs), put a
//! per-test overlay over the shared tree (users made there and everything
//! else written go to the overlay, never into `.deps/trixie`), mounted
//! `/proc`, `/sys`, `/dev`, a fresh `/run`, and the host's `/tmp`, the
//! tenants' homes and the `vaultnet` binary's folder at the same paths as
//! outside, and then `pivot_root`ed into it. `pivot_root`, not `chroot`:
//! the kernel refuses user namespaces — rootless Podman — to a chrooted
//! process. After the pivot the new root is made shared again, as rootless
//! Podman wants it; nothing propagates to the machine, whose mounts the
//! namespace stopped sharing before anything was mounted.
//!
//! Commands enter it with `nsenter -t HOLDER -m -n` (the mount namespace's
//! root is the tree). Paths under `/tmp` and the homes are the same inside
//! and outside, so a test reads what vaultnet wrote in a tenant's home as
//! usual; any other path of the tree is reached from outside through
//! `/proc/HOLDER/root` ([`Tree::host_path`]). Dropping the tree kills the
//! holder (the namespace and its mounts go with the last process in it) and
//! removes the overlay and the homes.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cmd::Cmd;
use super::manifest_dir;

/// The marker `scripts/deps` writes last into a complete tree.
pub const MARKER: &str = ".vaultnet-tree";

/// Where `scripts/deps` builds the tree.
pub fn tree_dir() -> PathBuf {
    manifest_dir().join(".deps/trixie")
}

/// Panics unless the tree is complete (its marker is there).
#[track_caller]
pub fn require_tree() {
    let marker = tree_dir().join(MARKER);
    assert!(
        marker.is_file(),
        "the Debian 13 tree is missing or incomplete ({} not found) — run scripts/deps as root",
        marker.display()
    );
}

/// The holder: mounts the tree and pivots into it, says `ready`, and
/// sleeps until it is killed. Arguments: the tree, the work directory
/// (overlay layers and homes), then the paths shared at the same place.
const HOLDER: &str = r#"
set -eu
tree=$1 work=$2
shift 2
mount --make-rprivate /
mkdir -p "$work/upper" "$work/ovl" "$work/root"
mount -t overlay overlay -o "lowerdir=$tree,upperdir=$work/upper,workdir=$work/ovl" "$work/root"
cd "$work/root"
mount -t proc proc proc
mount --rbind /sys sys
mount --rbind /dev dev
mount -t tmpfs -o mode=0755 tmpfs run
mkdir -p run/user
mount --rbind /tmp tmp
for p in "$@"; do
  mkdir -p ".$p"
  mount --bind "$p" ".$p"
done
mkdir -p .oldroot
pivot_root . .oldroot
cd /
umount -l /.oldroot
rmdir /.oldroot
mount --make-rshared /
echo ready
exec sleep infinity
"#;

/// How a command enters the tree and changes to its working directory
/// there (the `DIR` of [`Cmd::within`]).
const LAUNCH: &str = r#"cd "$0" && exec "$@""#;

/// One entered tree; see the module docs.
pub struct Tree {
    holder: Child,
    work: PathBuf,
}

impl Tree {
    /// Enters the tree inside network namespace `netns`.
    #[track_caller]
    pub fn enter(netns: &str) -> Tree {
        require_tree();
        let work = tempfile::Builder::new()
            .prefix("vaultnet-tree-")
            .tempdir_in("/var/tmp")
            .expect("work dir for the tree")
            .keep();
        std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the tree's work dir");
        let homes = work.join("home");
        std::fs::create_dir(&homes).expect("mkdir the tenants' homes");
        std::fs::set_permissions(&homes, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the tenants' homes");
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_vaultnet"))
            .parent()
            .expect("the binary's folder")
            .to_path_buf();
        let mut holder = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args(["unshare", "--mount", "--propagation", "private"])
            .args(["/bin/sh", "-c", HOLDER, "holder"])
            .arg(tree_dir().canonicalize().expect("resolve the tree"))
            .arg(&work)
            .arg(&homes)
            .arg(&bin_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the tree's holder: {e}"));
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("holder stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = holder.kill();
            let out = holder.wait_with_output().expect("holder output");
            let _ = std::fs::remove_dir_all(&work);
            panic!(
                "entering the Debian 13 tree failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Tree { holder, work }
    }

    /// The holder's pid.
    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// The launcher for [`Cmd::within`]: root in the tree and the network
    /// namespace, in `DIR`.
    pub fn launcher(&self) -> Vec<OsString> {
        let pid = self.pid().to_string();
        [
            "nsenter", "-t", &pid, "-m", "-n", "--", "/bin/sh", "-c", LAUNCH,
        ]
        .map(OsString::from)
        .to_vec()
    }

    /// `program` run as root in the tree; add arguments to it.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        let mut c = Cmd::new(program);
        c.within(self.launcher());
        c
    }

    /// Runs `args` as root in the tree; panics unless it succeeds; stdout.
    #[track_caller]
    pub fn run_ok(&self, args: &[&str]) -> String {
        let mut c = self.cmd(args[0]);
        c.args(&args[1..]);
        let out = c.run();
        assert!(out.code == Some(0), "in the Debian 13 tree:\n{out}");
        out.stdout
    }

    /// Where tenants' homes live: the same path inside and outside.
    pub fn homes(&self) -> PathBuf {
        self.work.join("home")
    }

    /// A path of the tree as seen from outside it.
    pub fn host_path(&self, inside: impl AsRef<Path>) -> PathBuf {
        let inside = inside.as_ref();
        Path::new(&format!("/proc/{}/root", self.pid()))
            .join(inside.strip_prefix("/").unwrap_or(inside))
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // The overlay is unmounted once the last process of the namespace
        // (a tenant's pause process, say) is gone; tenants are dropped
        // before the tree, so that is at most a moment.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::remove_dir_all(&self.work).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
