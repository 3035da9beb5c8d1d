//! The state file of `apoflow sandbox --state FILE`: payments (with their idempotency
//! records), card tokens, the request journal and the notification deliveries (with their retry
//! schedule) kept in SQLite, so a restarted sandbox resumes where it stopped.
//!
//! ```text
//!  State / Notifier / Journal (under their own locks, never waiting on the disk)
//!      put_* / delete_* / append_call / trim_calls / clear / set_meta
//!          ─► Pending (in memory; the latest change of a row replaces an earlier one)
//!                 ─► writer thread: one transaction per batch (WAL, synchronous=NORMAL)
//!  start: StateFile::open ─► Saved rows ─► State / Notifier / Journal restore themselves
//!  stop (SIGTERM): StateFile::flush waits until every change is written
//! ```
//! Rows are JSON documents (the owners decide their shape); this module knows tables, not
//! payments. The file is created with mode 0600 and held with an exclusive lock while the
//! sandbox runs, so a second sandbox on the same file is refused. Its schema version is
//! `PRAGMA user_version` ([`SCHEMA_VERSION`]); a file from a newer apoflow is refused rather
//! than misread. What bounds the memory bounds the file: every eviction deletes its row.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use indexmap::IndexMap;
use rusqlite::{Connection, ErrorCode, OptionalExtension as _, params};

/// The schema this apoflow writes and reads. A file with a larger `user_version` was written
/// by a newer apoflow and is refused; 0 is a new, empty file.
pub const SCHEMA_VERSION: i64 = 1;

/// How long the writer lets changes gather after the first one before it writes them.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);

/// How many journal rows may wait for the writer (each a few KiB); beyond it the oldest
/// waiting are dropped unwritten, so a writer that cannot keep up (a stalled disk) costs at most
/// this many rows of memory. The writer takes everything waiting every 10 ms.
const MAX_PENDING_CALLS: usize = 4_096;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (n INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (id INTEGER PRIMARY KEY, row BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Why a state file cannot be used; each message names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// Creating or opening the file failed.
    #[error("--state {path}: cannot open it: {reason}; give a writable file path")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// The file exists but is not an SQLite database.
    #[error(
        "--state {path}: the file is not an apoflow state file (not an SQLite database); give a new file name, or remove this file if it is not needed"
    )]
    NotSqlite {
        /// The file.
        path: PathBuf,
    },
    /// A newer apoflow wrote the file.
    #[error(
        "--state {path}: the file has state schema version {found}, newer than this apoflow's {SCHEMA_VERSION}; run the apoflow that wrote it, or give another --state file"
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
    },
    /// Another process (a running sandbox) holds the file.
    #[error(
        "--state {path}: the file is in use by another running sandbox; stop that one first, or give another --state file"
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// Reading or preparing the file failed otherwise.
    #[error("--state {path}: {reason}; give another --state file")]
    Broken {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
}

/// A table the owners write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Payments with their idempotency records, keyed by paymentId.
    Payments,
    /// Card tokens, in the order they were issued.
    Tokens,
    /// The request journal, keyed by sequence number.
    Calls,
    /// Notification deliveries, keyed by delivery id.
    Deliveries,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Payments => "payments",
            Table::Tokens => "tokens",
            Table::Calls => "calls",
            Table::Deliveries => "deliveries",
        }
    }
}

/// A counter kept beside the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Meta {
    /// The last sequence number handed out (journal entries and deliveries share it).
    Sequence,
    /// The last delivery id handed out.
    DeliveryId,
    /// The virtual clock's offset from real time, in milliseconds.
    ClockOffsetMs,
    /// Payments forgotten to stay within the limit.
    PaymentsEvicted,
    /// Deliveries forgotten to stay within the limit.
    DeliveriesDropped,
    /// Journal entries forgotten to stay within the limit.
    CallsDropped,
}

impl Meta {
    const ALL: [Meta; 6] = [
        Meta::Sequence,
        Meta::DeliveryId,
        Meta::ClockOffsetMs,
        Meta::PaymentsEvicted,
        Meta::DeliveriesDropped,
        Meta::CallsDropped,
    ];

    fn key(self) -> &'static str {
        match self {
            Meta::Sequence => "sequence",
            Meta::DeliveryId => "delivery_id",
            Meta::ClockOffsetMs => "clock_offset_ms",
            Meta::PaymentsEvicted => "payments_evicted",
            Meta::DeliveriesDropped => "deliveries_dropped",
            Meta::CallsDropped => "calls_dropped",
        }
    }
}

/// What the file held when it was opened, oldest first in each table.
#[derive(Debug, Default)]
pub struct Saved {
    /// Payment rows.
    pub payments: Vec<Vec<u8>>,
    /// (token, row), in the order they were issued.
    pub tokens: Vec<(String, Vec<u8>)>,
    /// Journal rows, by sequence number.
    pub calls: Vec<Vec<u8>>,
    /// Delivery rows, by id.
    pub deliveries: Vec<Vec<u8>>,
    meta: std::collections::HashMap<&'static str, i64>,
}

impl Saved {
    /// A counter (0 when never written).
    pub fn meta(&self, m: Meta) -> i64 {
        self.meta.get(m.key()).copied().unwrap_or(0)
    }
}

/// A journal row, made (and masked) on the writer thread, off the request's path.
type LazyRow = Box<dyn FnOnce() -> Vec<u8> + Send>;

/// Changes not yet written. A later change of a row replaces an earlier one.
#[derive(Default)]
struct Pending {
    /// Tables to empty before the changes below.
    clear: Vec<Table>,
    /// (table, key) → the row, or `None` to delete it.
    rows: IndexMap<(Table, String), Option<Vec<u8>>>,
    calls: Vec<(u64, LazyRow)>,
    /// Journal rows below this sequence number are deleted.
    calls_from: Option<u64>,
    meta: IndexMap<Meta, i64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.clear.is_empty()
            && self.rows.is_empty()
            && self.calls.is_empty()
            && self.calls_from.is_none()
            && self.meta.is_empty()
    }
}

#[derive(Default)]
struct Inbox {
    pending: Pending,
    /// The writer holds a batch it has not committed yet.
    busy: bool,
    /// Someone waits in [`StateFile::flush`]: write at once.
    flushing: bool,
    stop: bool,
    /// The last write error, reported by [`StateFile::flush`].
    error: Option<String>,
}

#[derive(Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    /// Wakes the writer (work queued, or stop).
    work: Condvar,
    /// Wakes flushers (a batch committed).
    written: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An open state file, written by a thread of its own.
pub struct StateFile {
    path: PathBuf,
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StateFile {
    /// Opens (or creates, mode 0600) the state file, takes its exclusive lock, checks its
    /// schema version and reads what it holds.
    pub fn open(path: &Path) -> Result<(StateFile, Saved), StateFileError> {
        let conn = connect(path)?;
        let saved = read_all(&conn).map_err(|e| classify(path, &e))?;
        let shared = Arc::new(Shared::default());
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("sandbox-state".to_owned())
                .spawn(move || write_loop(conn, &shared))
                .map_err(|e| StateFileError::Open {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?
        };
        Ok((
            StateFile {
                path: path.to_owned(),
                shared,
                writer: Mutex::new(Some(writer)),
            },
            saved,
        ))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn queue(&self, f: impl FnOnce(&mut Pending)) {
        let mut inbox = self.shared.lock();
        // The writer waits only when nothing is pending: wake it for the first change only.
        let first = inbox.pending.is_empty();
        f(&mut inbox.pending);
        drop(inbox);
        if first {
            self.shared.work.notify_one();
        }
    }

    /// Writes a row, or deletes it (`None`): the row as its owner now has it.
    pub fn set(&self, table: Table, key: String, row: Option<Vec<u8>>) {
        self.queue(|p| {
            p.rows.insert((table, key), row);
        });
    }

    /// Appends a journal row, made by `row` on the writer thread.
    pub fn append_call(&self, seq: u64, row: impl FnOnce() -> Vec<u8> + Send + 'static) {
        self.queue(|p| {
            p.calls.push((seq, Box::new(row)));
            if p.calls.len() > MAX_PENDING_CALLS {
                let over = p.calls.len() - MAX_PENDING_CALLS;
                p.calls.drain(..over);
            }
        });
    }

    /// Deletes the journal rows below `seq` (evicted entries).
    pub fn trim_calls(&self, seq: u64) {
        self.queue(|p| {
            p.calls_from = Some(p.calls_from.map_or(seq, |s| s.max(seq)));
        });
    }

    /// Sets a counter.
    pub fn set_meta(&self, m: Meta, value: i64) {
        self.queue(|p| {
            p.meta.insert(m, value);
        });
    }

    /// Empties a table (a reset); changes queued before are dropped.
    pub fn clear(&self, table: Table) {
        self.queue(|p| {
            p.rows.retain(|(t, _), _| *t != table);
            if table == Table::Calls {
                p.calls.clear();
                p.calls_from = None;
            }
            p.clear.push(table);
        });
    }

    /// Waits until every change queued so far is written; the last write error, if any.
    pub fn flush(&self) -> Result<(), String> {
        let mut inbox = self.shared.lock();
        inbox.flushing = true;
        self.shared.work.notify_one();
        while (!inbox.pending.is_empty() || inbox.busy) && inbox.error.is_none() {
            inbox = self
                .shared
                .written
                .wait(inbox)
                .unwrap_or_else(|e| e.into_inner());
        }
        inbox.flushing = false;
        match inbox.error.take() {
            Some(e) => Err(format!("--state {}: {e}", self.path.display())),
            None => Ok(()),
        }
    }
}

impl Drop for StateFile {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.work.notify_one();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = writer {
            let _ = w.join();
        }
    }
}

/// Creates the file (0600) if needed, opens it, locks it and brings its schema up to date.
fn connect(path: &Path) -> Result<Connection, StateFileError> {
    let open_err = |reason: String| StateFileError::Open {
        path: path.to_owned(),
        reason,
    };
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        if let Err(e) = options.open(path)
            && e.kind() != std::io::ErrorKind::AlreadyExists
        {
            return Err(open_err(e.to_string()));
        }
    } else if path.is_dir() {
        return Err(open_err("it is a folder".to_owned()));
    }
    let conn = Connection::open(path).map_err(|e| open_err(e.to_string()))?;
    let setup = || -> rusqlite::Result<i64> {
        // Fail at once, rather than wait, when another process holds the lock.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        // Locks, once taken (the first read, then the first write below), are held until the
        // file is closed: a second sandbox on this file is refused.
        conn.pragma_update_and_check(None, "locking_mode", "EXCLUSIVE", |r| r.get::<_, String>(0))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Ok(version);
        }
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(&format!(
            "BEGIN EXCLUSIVE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))?;
        Ok(version)
    };
    match setup() {
        Ok(found) if found > SCHEMA_VERSION => Err(StateFileError::Newer {
            path: path.to_owned(),
            found,
        }),
        Ok(_) => Ok(conn),
        Err(e) => Err(classify(path, &e)),
    }
}

/// The error for an SQLite failure on `path`.
fn classify(path: &Path, e: &rusqlite::Error) -> StateFileError {
    let path = path.to_owned();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StateFileError::NotSqlite { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StateFileError::InUse { path },
        _ => StateFileError::Broken {
            path,
            reason: e.to_string(),
        },
    }
}

fn read_all(conn: &Connection) -> rusqlite::Result<Saved> {
    let rows = |sql: &str| -> rusqlite::Result<Vec<Vec<u8>>> {
        let mut stmt = conn.prepare(sql)?;
        stmt.query_map([], |r| r.get(0))?.collect()
    };
    let mut saved = Saved {
        payments: rows("SELECT row FROM payments ORDER BY rowid")?,
        calls: rows("SELECT row FROM calls ORDER BY seq")?,
        deliveries: rows("SELECT row FROM deliveries ORDER BY id")?,
        ..Saved::default()
    };
    let mut stmt = conn.prepare("SELECT token, row FROM tokens ORDER BY n")?;
    saved.tokens = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for m in Meta::ALL {
        let value: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [m.key()], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(v) = value {
            saved.meta.insert(m.key(), v);
        }
    }
    Ok(saved)
}

/// The writer thread: takes what is pending and writes it in one transaction, until stopped.
fn write_loop(mut conn: Connection, shared: &Shared) {
    loop {
        let batch = {
            let mut inbox = shared.lock();
            while inbox.pending.is_empty() && !inbox.stop {
                inbox = shared.work.wait(inbox).unwrap_or_else(|e| e.into_inner());
            }
            if inbox.pending.is_empty() {
                return;
            }
            if !inbox.stop && !inbox.flushing {
                // Let a batch gather: fewer, larger transactions and fewer wake-ups.
                drop(inbox);
                std::thread::sleep(BATCH_WINDOW);
                inbox = shared.lock();
            }
            inbox.busy = true;
            std::mem::take(&mut inbox.pending)
        };
        let result = write(&mut conn, batch);
        let mut inbox = shared.lock();
        inbox.busy = false;
        if let Err(e) = result {
            tracing::error!("failed to write the sandbox state file: {e}");
            inbox.error = Some(e.to_string());
        }
        drop(inbox);
        shared.written.notify_all();
    }
}

fn write(conn: &mut Connection, batch: Pending) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    // Cached statements: the same few are run thousands of times.
    let run = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> rusqlite::Result<usize> {
        tx.prepare_cached(sql)?.execute(params)
    };
    let number = |key: &str| key.parse::<i64>().unwrap_or_default();
    for table in &batch.clear {
        tx.execute(&format!("DELETE FROM {}", table.name()), [])?;
    }
    if let Some(seq) = batch.calls_from {
        run("DELETE FROM calls WHERE seq < ?1", params![seq_param(seq)])?;
    }
    for ((table, key), row) in batch.rows {
        match (table, row) {
            (Table::Payments, Some(row)) => run(
                "INSERT INTO payments (id, row) VALUES (?1, ?2) \
                 ON CONFLICT(id) DO UPDATE SET row = excluded.row",
                params![key, row],
            )?,
            (Table::Tokens, Some(row)) => run(
                "INSERT INTO tokens (token, row) VALUES (?1, ?2) \
                 ON CONFLICT(token) DO UPDATE SET row = excluded.row",
                params![key, row],
            )?,
            (Table::Deliveries, Some(row)) => run(
                "INSERT OR REPLACE INTO deliveries (id, row) VALUES (?1, ?2)",
                params![number(&key), row],
            )?,
            (Table::Calls, Some(row)) => run(
                "INSERT OR REPLACE INTO calls (seq, row) VALUES (?1, ?2)",
                params![number(&key), row],
            )?,
            (Table::Payments, None) => run("DELETE FROM payments WHERE id = ?1", params![key])?,
            (Table::Tokens, None) => run("DELETE FROM tokens WHERE token = ?1", params![key])?,
            (Table::Deliveries, None) => run(
                "DELETE FROM deliveries WHERE id = ?1",
                params![number(&key)],
            )?,
            (Table::Calls, None) => run("DELETE FROM calls WHERE seq = ?1", params![number(&key)])?,
        };
    }
    let floor = batch.calls_from.unwrap_or(0);
    for (seq, row) in batch.calls {
        if seq >= floor {
            run(
                "INSERT OR REPLACE INTO calls (seq, row) VALUES (?1, ?2)",
                params![seq_param(seq), row()],
            )?;
        }
    }
    for (m, value) in batch.meta {
        run(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![m.key(), value],
        )?;
    }
    tx.commit()
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A name out of a fixed set (a notification type, a card row, …) in a saved row, read back
/// through [`de_known`]. An alias, not `&'static str` written out, so that serde's derive does
/// not take the field for a borrow of the input (which would allow reading from `'static`
/// input only).
pub type Known = &'static str;

/// The `&'static str` among `names` equal to `name` (for rows naming a fixed set of values).
pub fn known(name: &str, names: &[&'static str]) -> Option<&'static str> {
    names.iter().copied().find(|n| *n == name)
}

/// Deserializes a string that must be one of `names`, as the `&'static str` among them.
pub fn de_known<'de, D: serde::Deserializer<'de>>(
    d: D,
    names: &[&'static str],
) -> Result<&'static str, D::Error> {
    let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
    known(&name, names).ok_or_else(|| {
        serde::de::Error::custom(format!("{name:?} is not one of {}", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        (dir, path)
    }

    #[test]
    fn rows_survive_a_reopen_with_the_latest_change_of_each() {
        let (_dir, path) = file();
        {
            let (f, saved) = StateFile::open(&path).unwrap();
            assert!(saved.payments.is_empty() && saved.meta(Meta::Sequence) == 0);
            f.set(Table::Payments, "P1".into(), Some(b"one".to_vec()));
            f.set(Table::Payments, "P2".into(), Some(b"two".to_vec()));
            f.set(Table::Payments, "P1".into(), Some(b"one again".to_vec()));
            f.set(Table::Payments, "P2".into(), None);
            f.set(Table::Tokens, "t1".into(), Some(b"card".to_vec()));
            f.set(Table::Deliveries, "7".into(), Some(b"d7".to_vec()));
            for seq in 1..=4 {
                f.append_call(seq, move || format!("c{seq}").into_bytes());
            }
            f.trim_calls(3);
            f.set_meta(Meta::Sequence, 42);
            f.flush().unwrap();
        }
        let (_f, saved) = StateFile::open(&path).unwrap();
        assert_eq!(saved.payments, [b"one again".to_vec()]);
        assert_eq!(saved.tokens, [("t1".to_owned(), b"card".to_vec())]);
        assert_eq!(saved.deliveries, [b"d7".to_vec()]);
        assert_eq!(saved.calls, [b"c3".to_vec(), b"c4".to_vec()]);
        assert_eq!(saved.meta(Meta::Sequence), 42);
    }

    #[test]
    fn clear_empties_a_table_and_drops_what_was_queued_for_it() {
        let (_dir, path) = file();
        {
            let (f, _) = StateFile::open(&path).unwrap();
            f.set(Table::Payments, "P1".into(), Some(b"one".to_vec()));
            f.append_call(1, || b"c1".to_vec());
            f.flush().unwrap();
            f.set(Table::Payments, "P2".into(), Some(b"two".to_vec()));
            f.clear(Table::Payments);
            f.clear(Table::Calls);
            f.set(Table::Payments, "P3".into(), Some(b"three".to_vec()));
            f.flush().unwrap();
        }
        let (_f, saved) = StateFile::open(&path).unwrap();
        assert_eq!(saved.payments, [b"three".to_vec()]);
        assert!(saved.calls.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, path) = file();
        let _f = StateFile::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn bad_files_are_refused_with_what_to_do() {
        let (dir, path) = file();
        std::fs::write(&path, "not a database, just text\n".repeat(40)).unwrap();
        let err = StateFile::open(&path).unwrap_err();
        assert!(matches!(err, StateFileError::NotSqlite { .. }), "{err}");

        let newer = dir.path().join("newer.db");
        let conn = Connection::open(&newer).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let err = StateFile::open(&newer).unwrap_err();
        assert!(matches!(err, StateFileError::Newer { found, .. } if found == SCHEMA_VERSION + 1));

        let used = dir.path().join("used.db");
        let (_held, _) = StateFile::open(&used).unwrap();
        let err = StateFile::open(&used).unwrap_err();
        assert!(matches!(err, StateFileError::InUse { .. }), "{err}");
        assert!(err.to_string().contains("used.db"), "{err}");
    }
}
