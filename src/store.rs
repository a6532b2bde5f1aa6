//! The state directory as a store: the writer lock, loading and saving
//! `vaultnet.yaml` (size-limited, validated against the schema and the
//! profile, never overwritten by a guess — SECURITY.md I2, S5), and the
//! journal that makes recording one tenant cost the same at any size (S2).
//!
//! A run records each step of a tenant as one line appended to
//! `vaultnet.journal` and synced, instead of rewriting the whole state
//! file; the journal is folded into `vaultnet.yaml` at the end of the run
//! and by the next run that takes the lock, so a killed run loses nothing
//! it recorded. The journal's first line names the digest of the
//! `vaultnet.yaml` it applies to: once that file is rewritten the journal
//! is spent and is never applied again.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::{Error, IoContext, Result};
use crate::layout::Layout;
use crate::state::{JOURNAL_FILE, STATE_FILE, State, Tenant};
use crate::sys::fsx::{self, Change, MAX_STATE_BYTES};

/// The version of the journal's format, in its first line.
const JOURNAL_VERSION: u32 = 1;
/// A journal this long is folded into the state file and begun anew (about
/// 4000 new tenants' lines), so it stays far below what a reader accepts.
const JOURNAL_FOLD_BYTES: u64 = if cfg!(test) { 4 << 10 } else { 8 << 20 };

/// The opened state shared by tenants provisioned at once (`add-user`'s
/// workers): each step holds it only while it reads the state or records
/// its tenant, so one tenant's requests and file writes overlap another's.
pub struct Shared<'a>(std::sync::Mutex<&'a mut Opened>);

impl<'a> Shared<'a> {
    pub fn new(opened: &'a mut Opened) -> Shared<'a> {
        Shared(std::sync::Mutex::new(opened))
    }

    /// `f` with the state to itself. A poisoned lock is taken as it is:
    /// a worker's panic ends the run once the other workers have stopped.
    pub fn with<R>(&self, f: impl FnOnce(&mut Opened) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// An initialised state directory, read under the writer lock when the
/// command changes it.
pub struct Opened {
    pub layout: Layout,
    pub state: State,
    /// What `vaultnet.yaml` and the journal hold together.
    durable: State,
    /// The digest of `vaultnet.yaml` as it is on disk: the journal's base.
    base: String,
    /// The journal this run appends to, once it has begun one, and how
    /// many bytes it holds.
    journal: Option<(File, u64)>,
    /// An append failed (a full disk): the journal may end in a torn line,
    /// so nothing more is appended and every record saves the whole state.
    torn: bool,
    _lock: Option<fsx::Lock>,
}

impl Opened {
    /// Writes the whole state back when it differs from what is on disk
    /// (atomically, 0600), and folds the journal into it.
    pub fn save(&mut self) -> Result<Change> {
        if self.journal.is_none() && self.state == self.durable {
            return Ok(Change::Unchanged);
        }
        debug_assert!(self._lock.is_some(), "saved without the writer lock");
        let (change, base) = write_state(&self.layout.root, &self.state)?;
        self.journal = None;
        self.torn = false;
        self.base = base;
        self.durable = self.state.clone();
        Ok(change)
    }

    /// Makes tenant `name`'s record and pending mark durable, at a cost
    /// that does not grow with the number of tenants: one line appended to
    /// the journal and synced. Nothing is written when they are already
    /// durable; a change elsewhere in the state (the site, a reserved port)
    /// saves the whole state instead.
    pub fn record(&mut self, name: &str) -> Result<()> {
        debug_assert!(self._lock.is_some(), "recorded without the writer lock");
        let (now, then) = (&self.state, &self.durable);
        let rest_same = now.schema == then.schema
            && now.site == then.site
            && now.previous_ca == then.previous_ca
            && now.reserved_ports == then.reserved_ports;
        if !rest_same || self.torn {
            return self.save().map(|_| ());
        }
        let record = now.tenants.get(name);
        let pending = now.pending.contains(name);
        // Compared as written: the files keep times in whole seconds, and
        // a time that differs below that is no change.
        let written = |r: Option<&Tenant>| r.map(|r| serde_json::to_value(r).ok());
        if pending == then.pending.contains(name)
            && (record == then.tenants.get(name)
                || written(record) == written(then.tenants.get(name)))
        {
            return Ok(());
        }
        let mut line = serde_json::to_string(&Entry {
            tenant: name.to_string(),
            pending,
            record: record.cloned(),
        })
        .expect("a tenant record serialises");
        line.push('\n');
        let path = self.layout.root.join(JOURNAL_FILE);
        match self.journal.as_mut() {
            Some((f, len)) => {
                let appended = f.write_all(line.as_bytes()).and_then(|()| f.sync_data());
                if let Err(e) = appended {
                    // Cut back to the last whole line if the disk lets us;
                    // a torn line that stays is the last, and left out.
                    let _ = f.set_len(*len);
                    self.torn = true;
                    return Err(Error::io("append to", &path, e));
                }
                *len += line.len() as u64;
            }
            None => {
                let mut head = serde_json::to_string(&Header {
                    vaultnet_journal: JOURNAL_VERSION,
                    base: self.base.clone(),
                })
                .expect("the header serialises");
                head.push('\n');
                head.push_str(&line);
                let f = create_journal(&path, head.as_bytes()).inspect_err(|_| self.torn = true)?;
                self.journal = Some((f, head.len() as u64));
            }
        }
        match record {
            Some(r) => self.durable.tenants.insert(name.to_string(), r.clone()),
            None => self.durable.tenants.remove(name),
        };
        if pending {
            self.durable.pending.insert(name.to_string());
        } else {
            self.durable.pending.remove(name);
        }
        if self
            .journal
            .as_ref()
            .is_some_and(|(_, len)| *len > JOURNAL_FOLD_BYTES)
        {
            self.save()?;
        }
        Ok(())
    }
}

/// The journal's first line.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    vaultnet_journal: u32,
    /// The SHA-256 of the `vaultnet.yaml` the entries apply to, in hex.
    base: String,
}

/// One tenant's record and pending mark as they stood after a step.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    tenant: String,
    pending: bool,
    record: Option<Tenant>,
}

fn create_journal(path: &Path, contents: &[u8]) -> Result<File> {
    let mut f = OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(fsx::SECRET)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .io_ctx("create", path)?;
    f.set_permissions(Permissions::from_mode(fsx::SECRET))
        .io_ctx("set mode of", path)?;
    f.write_all(contents).io_ctx("write", path)?;
    f.sync_all().io_ctx("sync", path)?;
    fsx::sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(f)
}

fn digest(bytes: &[u8]) -> String {
    crate::secret::sha256_hex(bytes)
}

pub fn not_initialised(dir: &Path) -> Error {
    Error::usage(format!(
        "vaultnet is not initialised in `{}`",
        dir.display()
    ))
    .hint("run `vaultnet init` first, or pass the right `--dir`")
}

/// Opens the state of `--dir` (or its default); `lock` for commands that
/// change it. With the lock, a journal a run cut short left is folded in.
pub fn open(env: &Env, dir_flag: Option<&Path>, lock: bool) -> Result<Opened> {
    let dir = env.state_dir(dir_flag)?;
    if !dir.join(STATE_FILE).exists() {
        return Err(not_initialised(&dir));
    }
    fsx::check_trusted_dir(&dir)?;
    let lock = if lock {
        let held = fsx::Lock::acquire(&dir)?;
        // A run killed mid-write left its temp file; the lock holder is
        // the only writer, so whatever temp file is there is stale.
        fsx::remove_stale_temps(&dir)?;
        Some(held)
    } else {
        None
    };
    let Loaded {
        state,
        base,
        journal,
    } = read(&dir)?.ok_or_else(|| not_initialised(&dir))?;
    let layout = Layout::new(dir);
    let mut base = base;
    if lock.is_some() {
        match journal {
            Journal::None => {}
            Journal::Spent => {
                fsx::remove_if_there(&layout.root.join(JOURNAL_FILE))?;
            }
            // What a run cut short recorded goes into the state file now.
            Journal::Applied => base = write_state(&layout.root, &state)?.1,
        }
    }
    Ok(Opened {
        layout,
        durable: state.clone(),
        state,
        base,
        journal: None,
        torn: false,
        _lock: lock,
    })
}

/// What the journal beside a state file was.
#[derive(Debug, PartialEq, Eq)]
enum Journal {
    None,
    /// Written against an earlier `vaultnet.yaml`: already folded in.
    Spent,
    Applied,
}

struct Loaded {
    state: State,
    base: String,
    journal: Journal,
}

/// Reads `dir/vaultnet.yaml` with its journal applied; `None` when
/// vaultnet was never initialised there.
pub fn load(dir: &Path) -> Result<Option<State>> {
    Ok(read(dir)?.map(|l| l.state))
}

fn read(dir: &Path) -> Result<Option<Loaded>> {
    let path = dir.join(STATE_FILE);
    let restore = || format!("restore `{}` from a backup", path.display());
    let Some(bytes) = fsx::read_limited(&path, MAX_STATE_BYTES)
        .map_err(|e| Error::usage(e.message().to_string()).hint(restore()))?
    else {
        return Ok(None);
    };
    let invalid = |cause: String| {
        Error::usage(format!(
            "`{}` is not a valid state file: {cause}",
            path.display()
        ))
        .hint(format!(
            "{}; vaultnet never overwrites a state file it cannot read",
            restore()
        ))
    };
    let mut state = State::parse(&bytes).map_err(invalid)?;
    let base = digest(&bytes);
    let journal = apply_journal(dir, &base, &mut state)?;
    crate::topology::Topology::new(&state.site).map_err(|e| invalid(e.message().to_string()))?;
    Ok(Some(Loaded {
        state,
        base,
        journal,
    }))
}

/// Applies the journal beside the state file, when it was written against
/// this very file (`base`). A last line without its newline was never
/// synced, so never acted on: it is left out.
fn apply_journal(dir: &Path, base: &str, state: &mut State) -> Result<Journal> {
    let path = dir.join(JOURNAL_FILE);
    let hint = || {
        format!(
            "restore `{}` and `{JOURNAL_FILE}` from a backup; vaultnet never discards a journal it cannot read",
            dir.join(STATE_FILE).display()
        )
    };
    let invalid = |cause: String| {
        Error::usage(format!(
            "`{}` is not a valid journal: {cause}",
            path.display()
        ))
        .hint(hint())
    };
    let Some(bytes) = fsx::read_limited(&path, MAX_STATE_BYTES)
        .map_err(|e| Error::usage(e.message().to_string()).hint(hint()))?
    else {
        return Ok(Journal::None);
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid("not UTF-8".into()))?;
    let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
    let mut lines = whole.lines();
    let Some(first) = lines.next() else {
        // Cut short before its header was synced: it recorded nothing.
        return Ok(Journal::Spent);
    };
    let header: Header = serde_json::from_str(first).map_err(|e| invalid(at_line(1, &e)))?;
    if header.vaultnet_journal != JOURNAL_VERSION {
        return Err(invalid(format!(
            "version {} is not supported (this vaultnet reads version {JOURNAL_VERSION})",
            header.vaultnet_journal
        )));
    }
    if header.base != base {
        return Ok(Journal::Spent);
    }
    for (i, line) in lines.enumerate() {
        let entry: Entry = serde_json::from_str(line).map_err(|e| invalid(at_line(i + 2, &e)))?;
        crate::state::validate::tenant_name(&entry.tenant)
            .map_err(|e| invalid(format!("line {}: {}", i + 2, e.message())))?;
        match entry.record {
            Some(r) => state.tenants.insert(entry.tenant.clone(), r),
            None => state.tenants.remove(&entry.tenant),
        };
        if entry.pending {
            state.pending.insert(entry.tenant);
        } else {
            state.pending.remove(&entry.tenant);
        }
    }
    state.check().map_err(invalid)?;
    Ok(Journal::Applied)
}

/// A parser's error on line `n` of the journal: `line N, column C: what`.
fn at_line(n: usize, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    format!("line {n}, column {}: {what}", e.column())
}

/// Writes the whole state (atomically, 0600); a journal beside it is then
/// spent and removed. For a state read with [`load`] under the lock.
pub fn save(dir: &Path, state: &State) -> Result<Change> {
    Ok(write_state(dir, state)?.0)
}

/// The whole state written, then the journal removed (until the state
/// file holds everything, the journal is what knows it); the change and
/// the new file's digest.
fn write_state(dir: &Path, state: &State) -> Result<(Change, String)> {
    let yaml = state.to_yaml();
    let change = fsx::write_if_changed(&dir.join(STATE_FILE), yaml.as_bytes(), fsx::SECRET)?;
    fsx::remove_if_there(&dir.join(JOURNAL_FILE))?;
    Ok((change, digest(yaml.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Auth, Limits, TenantNetwork};

    fn tenant(name: &str, serial: &str) -> Tenant {
        Tenant {
            uid: Some(1001),
            role: format!("vaultnet-{name}"),
            auth: Auth::Approle,
            cert_ttl: 90 * 86400,
            cert_serial: serial.into(),
            cert_not_after: crate::state::rfc3339::parse("2027-02-26T08:00:00Z").unwrap(),
            limits: Limits::default(),
            wrapped_secret_id: false,
            secret_id_accessor: Some("3f1c0c6e-5c1b-4a55-9d0e-6f3f8f1e2a10".into()),
            secret_id_expires: None,
            installed_to: None,
            retiring: Vec::new(),
            network: None::<TenantNetwork>,
            port: None,
            last_cert_expiry: None,
            secret_id_sha256: None,
        }
    }

    /// A site of `n` tenants, written as `init` and `add-user` leave it,
    /// and opened under the lock.
    fn site_of(n: usize) -> (tempfile::TempDir, Env) {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        fsx::private_dir(&dir).unwrap();
        let mut state = State::new(crate::state::site::sample_site("l1"));
        for i in 0..n {
            let name = format!("t{i:05}");
            state.tenants.insert(name.clone(), tenant(&name, "01"));
        }
        save(&dir, &state).unwrap();
        let env = Env {
            vaultnet_dir: Some(dir),
            ..Env::default()
        };
        (d, env)
    }

    fn bytes(env: &Env, file: &str) -> Option<Vec<u8>> {
        std::fs::read(env.vaultnet_dir.as_ref().unwrap().join(file)).ok()
    }

    /// Tenants recorded at once from several threads (`add-user`'s
    /// workers, through `Shared`): a reader applies every line, whatever
    /// order the threads appended them in — across the folds a small
    /// journal limit brings on the way.
    #[test]
    fn tenants_recorded_at_once_from_several_threads_are_all_read_back() {
        let (_d, env) = site_of(0);
        let dir = env.vaultnet_dir.clone().unwrap();
        let mut opened = open(&env, None, true).unwrap();
        let shared = Shared::new(&mut opened);
        std::thread::scope(|s| {
            for t in 0..4 {
                let shared = &shared;
                s.spawn(move || {
                    for i in 0..50 {
                        let name = format!("w{t}n{i:02}");
                        shared
                            .with(|o| {
                                o.state.pending.insert(name.clone());
                                o.record(&name)
                            })
                            .unwrap();
                        shared
                            .with(|o| {
                                o.state.pending.remove(&name);
                                o.state.tenants.insert(name.clone(), tenant(&name, "02"));
                                o.record(&name)
                            })
                            .unwrap();
                    }
                });
            }
        });
        // As a run killed here leaves it: the state file and the journal.
        let read = load(&dir).unwrap().unwrap();
        assert_eq!(read.tenants.len(), 200);
        assert!(read.pending.is_empty());
        assert!(read == opened.state);
        opened.save().unwrap();
        assert_eq!(bytes(&env, JOURNAL_FILE), None);
        assert!(load(&dir).unwrap().unwrap() == opened.state);
    }

    #[test]
    fn recording_a_tenant_appends_one_line_of_the_same_size_at_any_size_and_rewrites_nothing() {
        let mut grew = Vec::new();
        for n in [10, 1000] {
            let (_d, env) = site_of(n);
            let before = bytes(&env, STATE_FILE).unwrap();
            let mut opened = open(&env, None, true).unwrap();
            opened.state.pending.insert("new".into());
            opened.record("new").unwrap();
            let first = bytes(&env, JOURNAL_FILE).unwrap().len();
            opened.state.pending.remove("new");
            opened
                .state
                .tenants
                .insert("new".into(), tenant("new", "02"));
            opened.record("new").unwrap();
            let second = bytes(&env, JOURNAL_FILE).unwrap().len();
            // Recording what is already durable writes nothing.
            opened.record("new").unwrap();
            assert_eq!(bytes(&env, JOURNAL_FILE).unwrap().len(), second);
            assert_eq!(bytes(&env, STATE_FILE).unwrap(), before, "N={n}");
            grew.push((first, second - first));
            // A reader sees what the journal holds before it is folded.
            let seen = load(env.vaultnet_dir.as_ref().unwrap()).unwrap().unwrap();
            assert_eq!(seen, opened.state);
            assert_eq!(opened.save().unwrap(), Change::Updated);
            assert_eq!(bytes(&env, JOURNAL_FILE), None, "folded at the end");
            let parsed = State::parse(&bytes(&env, STATE_FILE).unwrap()).unwrap();
            assert_eq!(parsed, opened.state);
            assert_eq!(parsed.tenants.len(), n + 1);
        }
        assert_eq!(grew[0], grew[1], "the same bytes at 10 and at 1000 tenants");
    }

    #[test]
    fn a_journal_past_its_limit_is_folded_and_begun_again() {
        let (_d, env) = site_of(1);
        let mut opened = open(&env, None, true).unwrap();
        let mut folded = 0;
        for i in 0..12 {
            let name = format!("n{i:02}");
            opened
                .state
                .tenants
                .insert(name.clone(), tenant(&name, "03"));
            opened.record(&name).unwrap();
            let len = bytes(&env, JOURNAL_FILE).map_or(0, |b| b.len() as u64);
            assert!(len <= JOURNAL_FOLD_BYTES + 1024, "{len}");
            if len == 0 {
                folded += 1;
                let parsed = State::parse(&bytes(&env, STATE_FILE).unwrap()).unwrap();
                assert_eq!(parsed, opened.state, "folded whole after {name}");
            }
        }
        assert!(folded >= 1, "never folded");
        assert_eq!(
            load(env.vaultnet_dir.as_ref().unwrap()).unwrap().unwrap(),
            opened.state
        );
    }

    #[test]
    fn a_time_that_differs_below_a_second_is_no_change_and_writes_nothing() {
        let (_d, env) = site_of(2);
        let before = bytes(&env, STATE_FILE).unwrap();
        let mut opened = open(&env, None, true).unwrap();
        let t = opened.state.tenants.get_mut("t00001").unwrap();
        t.cert_not_after += time::Duration::milliseconds(400);
        opened.record("t00001").unwrap();
        assert_eq!(bytes(&env, JOURNAL_FILE), None);
        assert_eq!(opened.save().unwrap(), Change::Unchanged);
        assert_eq!(bytes(&env, STATE_FILE).unwrap(), before);
    }

    #[test]
    fn a_journal_a_killed_run_left_is_folded_in_by_the_next_run_that_takes_the_lock() {
        let (_d, env) = site_of(3);
        let mut opened = open(&env, None, true).unwrap();
        opened.state.pending.insert("carol".into());
        opened.record("carol").unwrap();
        opened.state.tenants.remove("t00001");
        opened.record("t00001").unwrap();
        opened
            .state
            .tenants
            .insert("t00002".into(), tenant("t00002", "09"));
        opened.record("t00002").unwrap();
        let want = opened.state.clone();
        drop(opened); // killed: never saved
        let journal = bytes(&env, JOURNAL_FILE).unwrap();
        assert_eq!(journal.iter().filter(|b| **b == b'\n').count(), 4);
        // A reader applies it and changes nothing on disk.
        let read = open(&env, None, false).unwrap();
        assert_eq!(read.state, want);
        assert_eq!(bytes(&env, JOURNAL_FILE).unwrap(), journal);
        drop(read);
        let next = open(&env, None, true).unwrap();
        assert_eq!(next.state, want);
        assert_eq!(bytes(&env, JOURNAL_FILE), None);
        assert_eq!(
            State::parse(&bytes(&env, STATE_FILE).unwrap()).unwrap(),
            want
        );
    }

    #[test]
    fn a_spent_journal_is_never_applied_again_and_a_torn_last_line_is_left_out() {
        let (_d, env) = site_of(2);
        let dir = env.vaultnet_dir.clone().unwrap();
        let mut opened = open(&env, None, true).unwrap();
        opened.state.tenants.remove("t00000");
        opened.record("t00000").unwrap();
        let spent = bytes(&env, JOURNAL_FILE).unwrap();
        opened
            .state
            .tenants
            .insert("t00000".into(), tenant("t00000", "07"));
        opened.save().unwrap();
        drop(opened);
        // Killed after the state file was written, before the journal went.
        std::fs::write(dir.join(JOURNAL_FILE), &spent).unwrap();
        let s = load(&dir).unwrap().unwrap();
        assert_eq!(s.tenants["t00000"].cert_serial, "07");
        // Killed while appending: the last line has no newline.
        let opened = open(&env, None, true).unwrap();
        let base = opened.base.clone();
        drop(opened);
        let mut torn = format!(
            "{{\"vaultnet_journal\":1,\"base\":\"{base}\"}}\n{{\"tenant\":\"t00001\",\"pending\":false,\"record\":null}}\n"
        );
        torn.push_str("{\"tenant\":\"t00000\",\"pending\":false,\"rec");
        std::fs::write(dir.join(JOURNAL_FILE), &torn).unwrap();
        let s = load(&dir).unwrap().unwrap();
        assert!(!s.tenants.contains_key("t00001"), "the whole line applies");
        assert_eq!(
            s.tenants["t00000"].cert_serial, "07",
            "the torn one does not"
        );
    }

    #[test]
    fn a_damaged_journal_is_refused_naming_its_line_and_nothing_is_changed() {
        let (_d, env) = site_of(1);
        let dir = env.vaultnet_dir.clone().unwrap();
        let base = open(&env, None, false).unwrap().base;
        let state = bytes(&env, STATE_FILE).unwrap();
        for (body, why) in [
            (
                "{\"tenant\":\"t00000\",\"pending\":false,\"record\":null,\"x\":1}\n",
                "line 2, column 52: unknown field `x`, expected one of `tenant`, `pending`, `record`",
            ),
            (
                "{\"tenant\":\"../x\",\"pending\":true,\"record\":null}\n",
                "line 2: invalid tenant name `../x`: must start with a lower-case letter or `_`",
            ),
            ("not json\n", "line 2, column 2: expected ident"),
        ] {
            let text = format!("{{\"vaultnet_journal\":1,\"base\":\"{base}\"}}\n{body}");
            std::fs::write(dir.join(JOURNAL_FILE), &text).unwrap();
            let e = open(&env, None, true).err().expect("refused");
            let msg = e.message().to_string();
            assert_eq!(
                msg,
                format!(
                    "`{}` is not a valid journal: {why}",
                    dir.join(JOURNAL_FILE).display()
                ),
            );
            assert_eq!(
                e.hint_text().unwrap(),
                format!(
                    "restore `{}` and `vaultnet.journal` from a backup; vaultnet never discards a journal it cannot read",
                    dir.join(STATE_FILE).display()
                )
            );
            assert_eq!(
                std::fs::read(dir.join(JOURNAL_FILE)).unwrap(),
                text.as_bytes()
            );
            assert_eq!(bytes(&env, STATE_FILE).unwrap(), state);
        }
    }

    #[test]
    fn a_site_of_three_thousand_tenants_is_read_back_whole() {
        let (_d, env) = site_of(3000);
        let opened = open(&env, None, false).unwrap();
        assert_eq!(opened.state.tenants.len(), 3000);
    }
}
