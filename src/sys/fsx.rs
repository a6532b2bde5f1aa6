//! Files the way secrets need them: atomic writes (temp file created
//! `O_EXCL|O_NOFOLLOW` with its mode set on the open descriptor, fsync,
//! rename, fsync of the directory — once per [`Batch`] of writes into one
//! directory), private directories, and the exclusive
//! lock that keeps two runs from writing the state at once (SECURITY.md S1, S2, S5).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{Error, IoContext, Result};

/// Mode of every file holding a private key, role_id, secret_id or token.
pub const SECRET: u32 = 0o600;
/// Mode of files that are not secret (certificates, configs).
pub const PUBLIC: u32 = 0o644;
/// Mode of every directory vaultnet creates in the state.
pub const PRIVATE_DIR: u32 = 0o700;

/// Size limits of what vaultnet reads: its files are small, and anything
/// bigger is not one of them (SECURITY.md I2).
/// `vaultnet.yaml` (about 650 bytes a tenant: room for 100 000) and its
/// journal.
pub const MAX_STATE_BYTES: u64 = 64 << 20;
/// A certificate, a key, or a file of them.
pub const MAX_PEM_BYTES: u64 = 1 << 20;
/// A token, role_id or secret_id file.
pub const MAX_TOKEN_BYTES: u64 = 64 << 10;
/// A list of tenant names (`--from FILE`).
pub const MAX_LIST_BYTES: u64 = 1 << 20;
/// Any other file vaultnet wrote and compares before rewriting.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// What a write did, so commands can say exactly that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
}

/// Creates `dir` (and missing parents) with mode 0700, or checks that an
/// existing one is a real directory and tightens it to 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::failed(format!(
                "refusing to use `{}`: it is a symbolic link",
                dir.display()
            ))
            .hint("point `--dir` at the real directory"));
        }
        Ok(m) if !m.is_dir() => {
            return Err(
                Error::usage(format!("`{}` exists and is not a directory", dir.display()))
                    .hint("choose another state directory with `--dir`"),
            );
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(PRIVATE_DIR)
                .create(dir)
                .io_ctx("create directory", dir)?;
        }
        Err(e) => return Err(Error::io("inspect", dir, e)),
    }
    // The umask may have narrowed or the directory may predate us: set it.
    fs::set_permissions(dir, Permissions::from_mode(PRIVATE_DIR)).io_ctx("set mode of", dir)
}

/// Whether `name` is the temp name of an atomic write,
/// `.NAME.tmp-PID-XXXXXXXX`.
fn is_temp_name(name: &str) -> bool {
    let Some((_, tail)) = name.strip_prefix('.').and_then(|r| r.rsplit_once(".tmp-")) else {
        return false;
    };
    let Some((pid, hex)) = tail.split_once('-') else {
        return false;
    };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 8
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes the temp files of atomic writes that a killed run left in the
/// state directory `dir` and below it (links are neither followed nor
/// removed); returns how many. Only the holder of the state's lock calls
/// it, so no other run is writing there (SECURITY.md S2).
pub fn remove_stale_temps(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).io_ctx("list", &d)?.flatten() {
            let Ok(ty) = e.file_type() else { continue };
            let path = e.path();
            if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() && is_temp_name(&e.file_name().to_string_lossy()) {
                fs::remove_file(&path).io_ctx("remove", &path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Writes `contents` to `path` atomically with `mode`, whatever the umask.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    replace(path, contents, mode)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Several atomic writes whose directories are synced once, at
/// [`Batch::finish`], instead of after each rename: each file is still
/// whole and synced before its rename, so a reader or a crash sees the old
/// file or the new one, never a torn one; only which of the two a power
/// loss keeps is settled at the end.
#[derive(Default)]
pub struct Batch {
    dirs: Vec<PathBuf>,
}

impl Batch {
    pub fn write_atomic(&mut self, path: &Path, contents: &[u8], mode: u32) -> Result<()> {
        replace(path, contents, mode)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        if !self.dirs.contains(&dir) {
            self.dirs.push(dir);
        }
        Ok(())
    }

    /// [`write_if_changed`], the directory synced at the end.
    pub fn write_if_changed(&mut self, path: &Path, contents: &[u8], mode: u32) -> Result<Change> {
        let change = unchanged_or(path, contents, mode)?;
        if change != Change::Unchanged {
            self.write_atomic(path, contents, mode)?;
        }
        Ok(change)
    }

    /// Syncs every directory written to.
    pub fn finish(self) -> Result<()> {
        self.dirs.iter().try_for_each(|d| sync_dir(d))
    }
}

/// The atomic write up to the rename: the temp file created, written and
/// synced, then renamed over `path`.
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&tmp)
            .io_ctx("create", &tmp)?;
        f.set_permissions(Permissions::from_mode(mode))
            .io_ctx("set mode of", &tmp)?;
        f.write_all(contents).io_ctx("write", &tmp)?;
        f.sync_all().io_ctx("sync", &tmp)?;
        fs::rename(&tmp, path).io_ctx("replace", path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `contents` unless the file already holds exactly that with `mode`.
pub fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> Result<Change> {
    let change = unchanged_or(path, contents, mode)?;
    if change != Change::Unchanged {
        write_atomic(path, contents, mode)?;
    }
    Ok(change)
}

/// What writing `contents` with `mode` to `path` would change.
fn unchanged_or(path: &Path, contents: &[u8], mode: u32) -> Result<Change> {
    Ok(match read_limited(path, MAX_FILE_BYTES)? {
        None => Change::Created,
        Some(old) => {
            let mode_ok = fs::symlink_metadata(path)
                .map(|m| m.is_file() && m.permissions().mode() & 0o7777 == mode)
                .unwrap_or(false);
            if old == contents && mode_ok {
                Change::Unchanged
            } else {
                Change::Updated
            }
        }
    })
}

/// Reads a file of at most `limit` bytes; `None` when it does not exist.
/// Never follows a symbolic link at the last component.
/// Removes a file of the state directory if it is there; whether it was.
pub fn remove_if_there(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            if let Some(d) = path.parent() {
                sync_dir(d)?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

pub fn read_limited(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .io_ctx("read", path)?;
    if buf.len() as u64 > limit {
        return Err(Error::failed(format!(
            "`{}` is larger than {limit} bytes",
            path.display()
        )));
    }
    Ok(Some(buf))
}

/// Reads a secret file (a key, a token, a secret_id) into a buffer that is
/// zeroised on drop; never follows a symbolic link; `None` when missing.
pub fn read_secret(path: &Path, limit: u64) -> Result<Option<Zeroizing<Vec<u8>>>> {
    Ok(read_limited(path, limit)?.map(Zeroizing::new))
}

/// Reads a text file vaultnet wrote (a certificate, a config) without
/// following a link; `None` when missing. Invalid UTF-8 is replaced, so a
/// damaged file reads as text that fails to parse, with the parser's error.
pub fn read_text(path: &Path, limit: u64) -> Result<Option<String>> {
    Ok(read_limited(path, limit)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Makes the names in `dir` durable (after a create, rename or removal).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .io_ctx("sync directory", dir)
}

/// Refuses a state directory another user could tamper with (SECURITY.md
/// S8): the directory, when it exists, must belong to the running user,
/// and each directory above it to that user or root, none writable by
/// others unless sticky (as `/tmp`). Symbolic links on the way are
/// resolved first, so the real directories are the ones checked.
pub fn check_trusted_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let mut existing = dir.to_path_buf();
    while fs::symlink_metadata(&existing).is_err() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
            _ => return Ok(()),
        }
    }
    let real = fs::canonicalize(&existing).io_ctx("resolve", &existing)?;
    let refuse = |why: String, hint: &str| {
        Error::usage(format!(
            "refusing the state directory `{}`: {why}",
            dir.display()
        ))
        .hint(hint.to_string())
    };
    let mut is_state_dir = existing == dir;
    for d in real.ancestors() {
        let m = fs::metadata(d).io_ctx("inspect", d)?;
        if is_state_dir {
            if m.uid() != me {
                return Err(refuse(
                    format!("it belongs to uid {}, not to you (uid {me})", m.uid()),
                    "use a state directory of your own (`--dir DIR`), or give this one back to you with `chown -R`",
                ));
            }
            is_state_dir = false;
            continue;
        }
        if m.uid() != me && m.uid() != 0 {
            return Err(refuse(
                format!("`{}` above it belongs to uid {}", d.display(), m.uid()),
                "keep the state directory under directories that belong to you or to root",
            ));
        }
        let sticky = m.mode() & 0o1000 != 0;
        if m.mode() & 0o022 != 0 && !sticky {
            return Err(refuse(
                format!(
                    "`{}` above it is writable by others (mode {:04o})",
                    d.display(),
                    m.mode() & 0o7777
                ),
                &format!("`chmod go-w {}`, or choose another `--dir`", d.display()),
            ));
        }
    }
    Ok(())
}

/// Checks, without leaving anything behind, that `dir` (or the nearest
/// existing ancestor it would be created under) accepts new files.
pub fn check_writable(dir: &Path) -> Result<()> {
    let mut probe_dir = dir.to_path_buf();
    while fs::symlink_metadata(&probe_dir).is_err() {
        match probe_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe_dir = p.to_path_buf(),
            _ => {
                probe_dir = PathBuf::from(".");
                break;
            }
        }
    }
    let unwritable = |cause: String| {
        Error::usage(format!(
            "state directory `{}` is not writable: {cause}",
            dir.display()
        ))
        .hint("choose a writable directory with `--dir DIR` (or `VAULTNET_DIR`)")
    };
    let meta = fs::metadata(&probe_dir).map_err(|e| unwritable(e.to_string()))?;
    if !meta.is_dir() {
        return Err(unwritable(format!(
            "`{}` is not a directory",
            probe_dir.display()
        )));
    }
    // An anonymous temporary file proves write access (read-only mounts,
    // ACLs, root squash) and leaves no name behind.
    OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::TMPFILE.bits() as i32)
        .mode(0o600)
        .open(&probe_dir)
        .or_else(|e| {
            // Some filesystems lack O_TMPFILE; fall back to access(2).
            if e.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error())
                || e.raw_os_error() == Some(rustix::io::Errno::ISDIR.raw_os_error())
            {
                rustix::fs::access(&probe_dir, rustix::fs::Access::WRITE_OK)
                    .map_err(std::io::Error::from)
                    .and_then(|()| File::open(&probe_dir))
            } else {
                Err(e)
            }
        })
        .map(drop)
        .map_err(|e| unwritable(e.to_string()))
}

/// The exclusive lock held while a command changes the state. It is an
/// `flock` on a file beside vaultnet.yaml, so a crashed run never leaves a
/// stale lock behind: the kernel drops it with the process.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(state_dir: &Path) -> Result<Lock> {
        let path = state_dir.join(".vaultnet.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .io_ctx("open lock file", &path)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).io_ctx("write", &path)?;
                writeln!(file, "{}", std::process::id()).io_ctx("write", &path)?;
                Ok(Lock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                // The pid in the file is the last vaultnet run's: right when
                // the holder is vaultnet, stale when it is `flock(1)` or any
                // other tool. The kernel knows the real holder.
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match flock_holder(&file) {
                    Some(pid) => pid.to_string(),
                    None => holder.trim().to_string(),
                };
                let who = if holder.is_empty() {
                    "another vaultnet process".to_string()
                } else {
                    format!("process {holder}")
                };
                Err(Error::failed(format!(
                    "state `{}` is locked by {who}",
                    state_dir.display()
                ))
                .hint("wait for the other vaultnet command to finish, then run this one again"))
            }
            Err(fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
        }
    }
}

/// The pid holding an `flock` on `file`, from `/proc/locks`, whose lines
/// read `1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF` (waiters have a
/// `->` after the index and do not match).
fn flock_holder(file: &File) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().ok()?;
    let id = format!(
        "{:02x}:{:02x}:{}",
        rustix::fs::major(m.dev()),
        rustix::fs::minor(m.dev()),
        m.ino()
    );
    fs::read_to_string("/proc/locks")
        .ok()?
        .lines()
        .find_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, "FLOCK", _, _, pid, file_id, ..] if file_id == id => {
                    pid.parse().ok().filter(|p| *p > 0)
                }
                _ => None,
            },
        )
}

/// A file to place in a tenant's home.
pub struct HomeFile<'a> {
    pub name: &'a str,
    pub contents: &'a [u8],
    pub mode: u32,
}

fn errno_io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// Why a directory in a tenant's home is walked to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Walk {
    Install,
    Remove,
    Read,
}

/// Opens (creating when missing) the directory `rel` under `home`, one
/// component at a time, never following a symbolic link, and makes sure
/// each component belongs to `uid` (SECURITY.md S4). Returns the last one.
fn open_home_dir(
    home: &Path,
    rel: &Path,
    uid: u32,
    gid: u32,
    walk: Walk,
) -> Result<Option<std::os::fd::OwnedFd>> {
    // Only `--install` creates; removal and doctor's reads walk the same way.
    let create = walk == Walk::Install;
    let verb = match walk {
        Walk::Install => "write into",
        Walk::Remove => "remove from",
        Walk::Read => "read",
    };
    use rustix::fs::{CWD, Mode, OFlags, mkdirat, openat};
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let refuse = |p: &Path, why: &str| {
        Error::failed(format!("refusing to {verb} `{}`: {why}", p.display()))
            .hint("remove the link or fix the owner, then run the command again")
    };
    let mut fd = openat(CWD, home, dir_flags, Mode::empty())
        .map_err(|e| Error::io("open home directory", home, errno_io(e)))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Error::io("inspect", home, errno_io(e)))?;
    if st.st_uid != uid {
        return Err(refuse(
            home,
            &format!("it belongs to uid {}, not {uid}", st.st_uid),
        ));
    }
    let mut path = home.to_path_buf();
    for comp in rel.components() {
        let name = comp.as_os_str();
        path.push(name);
        let created = if create {
            match mkdirat(&fd, name, Mode::from_raw_mode(0o700)) {
                Ok(()) => true,
                Err(rustix::io::Errno::EXIST) => false,
                Err(e) => return Err(Error::io("create directory", &path, errno_io(e))),
            }
        } else {
            false
        };
        let next = match openat(&fd, name, dir_flags, Mode::empty()) {
            Ok(f) => f,
            Err(rustix::io::Errno::NOENT) if !create => return Ok(None),
            Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::NOTDIR) => {
                return Err(refuse(&path, "it is a symbolic link or not a directory"));
            }
            Err(e) => return Err(Error::io("open", &path, errno_io(e))),
        };
        let st = rustix::fs::fstat(&next).map_err(|e| Error::io("inspect", &path, errno_io(e)))?;
        if created {
            rustix::fs::fchown(
                &next,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| Error::io("set owner of", &path, errno_io(e)))?;
        } else if st.st_uid != uid {
            return Err(refuse(
                &path,
                &format!("it belongs to uid {}, not {uid}", st.st_uid),
            ));
        }
        fd = next;
    }
    Ok(Some(fd))
}

/// Writes `files` into `home/rel` as the tenant would own them: each file
/// is a new inode (created `O_EXCL|O_NOFOLLOW` on a temporary name,
/// `fchown`ed and `fchmod`ed on the open descriptor, fsynced, renamed over
/// the old name), so neither a symbolic link nor a hard link the tenant
/// planted is ever written through.
pub fn install_into_home(
    home: &Path,
    rel: &Path,
    uid: u32,
    gid: u32,
    files: &[HomeFile<'_>],
) -> Result<PathBuf> {
    use rustix::fs::{Mode, OFlags, openat, renameat};
    let dir = open_home_dir(home, rel, uid, gid, Walk::Install)?.expect("created");
    let target = home.join(rel);
    rustix::fs::fchmod(&dir, Mode::from_raw_mode(PRIVATE_DIR))
        .map_err(|e| Error::io("set mode of", &target, errno_io(e)))?;
    for f in files {
        let tmp = format!(
            ".{}.tmp-{}-{:08x}",
            f.name,
            std::process::id(),
            rand::random::<u32>()
        );
        let path = target.join(f.name);
        let fd = openat(
            &dir,
            tmp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| Error::io("create", &path, errno_io(e)))?;
        let result = (|| {
            rustix::fs::fchown(
                &fd,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(errno_io)?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(f.mode)).map_err(errno_io)?;
            let mut file = File::from(fd);
            file.write_all(f.contents)?;
            file.sync_all()?;
            renameat(&dir, tmp.as_str(), &dir, f.name).map_err(errno_io)
        })();
        if let Err(e) = result {
            let _ = rustix::fs::unlinkat(&dir, tmp.as_str(), rustix::fs::AtFlags::empty());
            return Err(Error::io("write", &path, e));
        }
    }
    rustix::fs::fsync(&dir).map_err(|e| Error::io("sync directory", &target, errno_io(e)))?;
    Ok(target)
}

/// One file of a directory in a tenant's home, as [`read_from_home`] found it.
#[derive(Debug, PartialEq, Eq)]
pub enum HomeRead {
    Missing,
    /// A symbolic link: not followed.
    Link,
    /// A directory, a FIFO, a device: not opened for reading.
    NotAFile,
    /// A regular file's bytes (at most the limit plus one byte).
    File(Zeroizing<Vec<u8>>),
}

/// Reads `names` from `home/rel` the way [`install_into_home`] writes them:
/// the walk on directory descriptors, each directory the tenant's, and no
/// link followed at any component (SECURITY.md S4); a file is opened
/// `O_NOFOLLOW|O_NONBLOCK` and read only when it is a regular file, so a
/// FIFO the tenant planted never blocks the reader. `None` when the
/// directory does not exist.
pub fn read_from_home(
    home: &Path,
    rel: &Path,
    uid: u32,
    names: &[&str],
    limit: u64,
) -> Result<Option<Vec<HomeRead>>> {
    use rustix::fs::{FileType, Mode, OFlags, openat};
    let Some(dir) = open_home_dir(home, rel, uid, 0, Walk::Read)? else {
        return Ok(None);
    };
    let target = home.join(rel);
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let path = target.join(name);
        let fd = match openat(&dir, *name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                out.push(HomeRead::Missing);
                continue;
            }
            Err(rustix::io::Errno::LOOP) => {
                out.push(HomeRead::Link);
                continue;
            }
            Err(e) => return Err(Error::io("read", &path, errno_io(e))),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| Error::io("inspect", &path, errno_io(e)))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            out.push(HomeRead::NotAFile);
            continue;
        }
        let mut buf = Zeroizing::new(Vec::new());
        File::from(fd)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .io_ctx("read", &path)?;
        out.push(HomeRead::File(buf));
    }
    Ok(Some(out))
}

/// Removes the named files from `home/rel`, then the directory if it is
/// empty. Missing files are fine. The whole walk is on directory
/// descriptors, the removal of the directory included: a link the tenant
/// swaps in anywhere on the way is never followed (SECURITY.md S4).
pub fn remove_from_home(home: &Path, rel: &Path, uid: u32, names: &[&str]) -> Result<bool> {
    use rustix::fs::{AtFlags, Mode, OFlags, openat};
    let Some(last) = rel.file_name() else {
        return Ok(false);
    };
    let above = rel.parent().unwrap_or(Path::new(""));
    let Some(parent) = open_home_dir(home, above, uid, 0, Walk::Remove)? else {
        return Ok(false);
    };
    let target = home.join(rel);
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = match openat(&parent, last, dir_flags, Mode::empty()) {
        Ok(d) => d,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(rustix::io::Errno::LOOP) | Err(rustix::io::Errno::NOTDIR) => {
            return Err(Error::failed(format!(
                "refusing to remove `{}`: it is a symbolic link or not a directory",
                target.display()
            ))
            .hint("remove the link, then run the command again"));
        }
        Err(e) => return Err(Error::io("open", &target, errno_io(e))),
    };
    let st = rustix::fs::fstat(&dir).map_err(|e| Error::io("inspect", &target, errno_io(e)))?;
    if st.st_uid != uid {
        return Err(Error::failed(format!(
            "refusing to remove `{}`: it belongs to uid {}, not {uid}",
            target.display(),
            st.st_uid
        ))
        .hint("remove the link or fix the owner, then run the command again"));
    }
    for name in names {
        match rustix::fs::unlinkat(&dir, *name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(Error::io("remove", &target.join(name), errno_io(e))),
        }
    }
    // Relative to the parent we hold: whatever now has the name `last`
    // there, a link is not a directory and is left alone, and a directory
    // the tenant put in its place is the tenant's own. Not empty, it stays.
    let _ = rustix::fs::unlinkat(&parent, last, AtFlags::REMOVEDIR);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_a_killed_run_left_are_removed_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("tenants/alice");
        fs::create_dir_all(&sub).unwrap();
        let stale = [
            d.path().join(".vaultnet.yaml.tmp-4242-0badf00d"),
            sub.join(".client-key.pem.tmp-1-deadbeef"),
        ];
        let kept = [
            d.path().join("vaultnet.yaml"),
            d.path().join(".vaultnet.lock"),
            sub.join(".x.tmp-12-notahexx"),
            sub.join("a.tmp-12-deadbeef"),
            sub.join(".x.tmp--deadbeef"),
        ];
        for p in stale.iter().chain(&kept) {
            fs::write(p, b"x").unwrap();
        }
        std::os::unix::fs::symlink(&sub, d.path().join(".l.tmp-1-deadbeef")).unwrap();
        assert_eq!(remove_stale_temps(d.path()).unwrap(), 2);
        assert!(stale.iter().all(|p| !p.exists()));
        assert!(kept.iter().all(|p| p.exists()));
        assert!(d.path().join(".l.tmp-1-deadbeef").is_symlink());
        assert!(sub.is_dir());
    }

    #[test]
    fn a_state_directory_under_a_directory_others_may_write_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, Permissions::from_mode(0o777)).unwrap();
        let e = check_trusted_dir(&open.join("state")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.message(),
            format!(
                "refusing the state directory `{}`: `{}` above it is writable by others (mode 0777)",
                open.join("state").display(),
                open.canonicalize().unwrap().display()
            )
        );
        // Sticky, as /tmp: others may create, not replace what is ours.
        fs::set_permissions(&open, Permissions::from_mode(0o1777)).unwrap();
        check_trusted_dir(&open.join("state")).unwrap();
        fs::create_dir(open.join("state")).unwrap();
        check_trusted_dir(&open.join("state")).unwrap();
        check_trusted_dir(&open.join("state/not/yet")).unwrap();
    }
}

#[cfg(test)]
mod home_read_tests {
    use super::*;

    /// doctor's reader of an installed copy: a link at a file is reported,
    /// never read; a link in place of a directory is refused; a FIFO is
    /// not opened for reading, so it cannot hold the reader up.
    #[test]
    fn reading_a_home_never_follows_a_link_or_blocks_on_a_fifo() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let dir = home.join(".config/vaultnet");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("ca.pem"), "ca").unwrap();
        fs::write(t.path().join("outside"), "secret").unwrap();
        std::os::unix::fs::symlink(t.path().join("outside"), dir.join("secret_id")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let me = rustix::process::geteuid().as_raw();
        let rel = Path::new(".config/vaultnet");
        let names = ["ca.pem", "secret_id", "fifo", "gone"];
        let read = read_from_home(&home, rel, me, &names, 1024)
            .unwrap()
            .unwrap();
        assert_eq!(
            read,
            [
                HomeRead::File(Zeroizing::new(b"ca".to_vec())),
                HomeRead::Link,
                HomeRead::NotAFile,
                HomeRead::Missing,
            ]
        );
        assert_eq!(
            read_from_home(&home, Path::new(".config/none"), me, &names, 1024).unwrap(),
            None
        );
        fs::rename(&dir, t.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(t.path().join("moved"), &dir).unwrap();
        let e = read_from_home(&home, rel, me, &names, 1024).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "refusing to read `{}`: it is a symbolic link or not a directory",
                dir.display()
            )
        );
    }
}

#[cfg(test)]
mod race_tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The attack of a tenant on `remove-user --purge`: while root removes
    /// `~/.config/vaultnet`, the tenant keeps exchanging `~/.config` with a
    /// symbolic link to a directory outside its home that holds an empty
    /// `vaultnet/`. However the race falls, that directory survives.
    #[test]
    fn purge_never_removes_a_directory_outside_the_home_whatever_is_swapped_in() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let victim = t.path().join("victim");
        fs::create_dir_all(victim.join("vaultnet")).unwrap();
        fs::create_dir_all(home.join(".config")).unwrap();
        std::os::unix::fs::symlink(&victim, home.join("swap")).unwrap();
        // The real `.config`, by inode, whichever name it has at the moment.
        let real = File::open(home.join(".config")).unwrap();
        let real = PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&real)
        ));
        let me = rustix::process::geteuid().as_raw();
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (home, stop) = (home.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        home.join(".config"),
                        rustix::fs::CWD,
                        home.join("swap"),
                        rustix::fs::RenameFlags::EXCHANGE,
                    );
                }
            })
        };
        for _ in 0..3000 {
            // The tenant's copy, made again in the real directory.
            let _ = fs::create_dir_all(real.join("vaultnet"));
            let _ = fs::write(real.join("vaultnet/ca.pem"), "x");
            let _ = remove_from_home(&home, Path::new(".config/vaultnet"), me, &["ca.pem"]);
            assert!(
                victim.join("vaultnet").is_dir(),
                "a directory outside the home was removed"
            );
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
    }
}
