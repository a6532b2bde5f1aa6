//! Files the way secrets need them: atomic writes (temp file created
//! `O_EXCL|O_NOFOLLOW` with its mode set on the open descriptor, fsync,
//! rename, fsync of the directory), private directories, and the exclusive
//! lock that keeps two runs from writing the state at once (PROMISES S1, S2, S5).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// Mode of every file holding a private key, role_id, secret_id or token.
pub const SECRET: u32 = 0o600;
/// Mode of files that are not secret (certificates, configs).
pub const PUBLIC: u32 = 0o644;
/// Mode of every directory vaultnet creates in the state.
pub const PRIVATE_DIR: u32 = 0o700;

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

/// Writes `contents` to `path` atomically with `mode`, whatever the umask.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
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
        fs::rename(&tmp, path).io_ctx("replace", path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `contents` unless the file already holds exactly that with `mode`.
pub fn write_if_changed(path: &Path, contents: &[u8], mode: u32) -> Result<Change> {
    let change = match read_limited(path, 16 << 20)? {
        None => Change::Created,
        Some(old) => {
            let mode_ok = fs::symlink_metadata(path)
                .map(|m| m.is_file() && m.permissions().mode() & 0o7777 == mode)
                .unwrap_or(false);
            if old == contents && mode_ok {
                return Ok(Change::Unchanged);
            }
            Change::Updated
        }
    };
    write_atomic(path, contents, mode)?;
    Ok(change)
}

/// Reads a file of at most `limit` bytes; `None` when it does not exist.
/// Never follows a symbolic link at the last component.
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

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .io_ctx("sync directory", dir)
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
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
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
