//! `--state PATH`: accounts, apps and ledgers kept in a SQLite database (WAL mode), as
//! tables a user can read with `sqlite3` (the schema is in `docs/state.md`).
//!
//! - One writer thread owns the connection. A change is sent to it and the request that
//!   made it waits for its [`Receipt`] before answering: a charged call is committed
//!   before its answer is sent, so `kill -9` at any moment loses no answered call. Changes
//!   that arrive while a commit is under way share the next one (group commit), so the
//!   cost per call stays small. No runtime worker ever touches the file.
//! - At start the file is checked before anything is read from it: a file that is not a
//!   SQLite database, a database of another program or of a newer schema, one that fails
//!   SQLite's structural check, or rows that contradict each other are refused with the
//!   file and the reason, and the file is left as it is.
//! - The connection holds the database's lock for as long as the server runs (exclusive
//!   locking mode): a second server on the same file is refused.
//! - Commits are durable against a killed process (the operating system holds what was
//!   written); `synchronous = NORMAL` leaves the last commits to the disk's next sync on a
//!   power cut, as WAL mode does by design.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};
use tokio::sync::oneshot;

use crate::ledger::{Kind, FREE_QUOTA, YEAR_MS};
use crate::registry::Event;

/// The schema this build reads and writes; a file of another version is refused.
const SCHEMA_VERSION: &str = "1";

/// Changes committed together at most.
const BATCH: usize = 1024;

/// How long the writer lets changes gather after a batch of more than one. Under load this
/// turns ~20,000 commits (and wake-ups of this thread) a second into a few thousand; it
/// adds at most this much to a charged call's answer. Chosen by `bench --scenario
/// state-cost` (50 µs: 7% cost, 100–200 µs: 3%, 500 µs: the 32 connections wait on it).
const GATHER: Duration = Duration::from_micros(100);

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE accounts (
    ak TEXT PRIMARY KEY,
    sk TEXT,                              -- NULL for an account the config declares
    created INTEGER NOT NULL,             -- 1: made through the control API
    offset_ms INTEGER NOT NULL DEFAULT 0  -- the account's clock, ahead of the server's
) STRICT;
CREATE TABLE apps (                       -- apps made through the control API
    appkey TEXT PRIMARY KEY,
    ak TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL
) STRICT;
CREATE TABLE app_limits (appkey TEXT PRIMARY KEY, concurrency INTEGER) STRICT;
CREATE TABLE enabled_apis (appkey TEXT NOT NULL, api TEXT NOT NULL, PRIMARY KEY (appkey, api)) STRICT;
CREATE TABLE packages (
    appkey TEXT NOT NULL,
    api TEXT NOT NULL,
    id INTEGER NOT NULL,                  -- 1, 2, … per app and api, in purchase order
    kind TEXT NOT NULL CHECK (kind IN ('free', 'paid', 'custom')),
    calls INTEGER NOT NULL CHECK (calls > 0),
    used INTEGER NOT NULL CHECK (used >= 0 AND used <= calls),
    purchased_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (appkey, api, id)
) STRICT;
CREATE TABLE ledgers (                    -- the paid package calls are taken from first
    appkey TEXT NOT NULL,
    api TEXT NOT NULL,
    in_use INTEGER,
    PRIMARY KEY (appkey, api)
) STRICT;
";

/// Why the state cannot be used. Always names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateError(pub String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The open database.
#[derive(Debug)]
pub(crate) struct SqliteStore {
    /// `None` only while dropping.
    jobs: Option<Sender<Job>>,
    /// The writer; joined on drop, so that the file is closed (and its lock given back)
    /// by the time a server's state is gone.
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// A change to write, or none (a barrier: answered once everything before it is kept).
#[derive(Debug)]
struct Job {
    event: Option<Event>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A change on its way to the database; [`Receipt::durable`] waits until it is committed.
#[derive(Debug)]
pub(crate) struct Receipt(Option<oneshot::Receiver<Result<(), String>>>);

impl Receipt {
    /// A change that needs no waiting (nothing to keep).
    pub(crate) fn none() -> Receipt {
        Receipt(None)
    }

    /// Waits until the change is committed, or says why it was not.
    pub(crate) async fn durable(self) -> Result<(), String> {
        match self.0 {
            None => Ok(()),
            Some(done) => done.await.unwrap_or_else(|_| Err("the state writer has stopped".into())),
        }
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, checks it, and replays what it holds.
    pub(crate) fn open(path: &Path, mut replay: impl FnMut(Event)) -> Result<SqliteStore, StateError> {
        let fail = |why: String| StateError(format!("state file {}: {why}", path.display()));
        check_header(path).map_err(fail)?;
        let conn = connect(path).map_err(fail)?;
        for event in load(&conn).map_err(fail)? {
            replay(event);
        }
        let (jobs, queue) = channel();
        let file = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("mock-server-state".into())
            .spawn(move || write_loop(conn, &queue, &file))
            .map_err(|e| fail(format!("cannot start its writer: {e}")))?;
        Ok(SqliteStore { jobs: Some(jobs), writer: Some(writer) })
    }

    /// Sends one change to the writer; the receipt resolves once it is committed.
    pub(crate) fn apply(&self, event: Event) -> Receipt {
        self.send(Some(event))
    }

    /// A receipt that resolves once every change sent before it is committed.
    pub(crate) fn barrier(&self) -> Receipt {
        self.send(None)
    }

    fn send(&self, event: Option<Event>) -> Receipt {
        let (done, receipt) = oneshot::channel();
        // A stopped writer drops `done`: the receipt then says so.
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job { event, done });
        }
        Receipt(Some(receipt))
    }
}

/// A file that exists and is not empty must start as a SQLite database does.
fn check_header(path: &Path) -> Result<(), String> {
    let mut head = [0u8; 16];
    let read = match std::fs::File::open(path) {
        Ok(mut file) => std::io::Read::read(&mut file, &mut head).map_err(|e| format!("cannot be read: {e}"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot be opened: {e}")),
    };
    if read == 0 || head == *b"SQLite format 3\0" {
        return Ok(());
    }
    if head.first() == Some(&b'{') {
        return Err("is a JSON-lines log of an earlier version, not a SQLite database; \
                    start once without --state, or move the file away"
            .into());
    }
    Err(format!(
        "is not a SQLite database (it starts with {:?}); name another file or move this one away",
        String::from_utf8_lossy(&head[..read])
    ))
}

/// Opens the connection, takes the database's lock for good, checks the structure and
/// the schema, and creates the tables in a new file.
fn connect(path: &Path) -> Result<Connection, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(|e| format!("cannot be opened: {e}"))?;
    let busy = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            "is in use by another server (its lock is held); stop that server or name another file".to_string()
        }
        Some(rusqlite::ErrorCode::NotADatabase) => "is not a SQLite database, or is damaged".to_string(),
        _ => format!("cannot be used: {e}"),
    };
    conn.busy_timeout(Duration::ZERO).map_err(busy)?;
    // Nothing is written before the file is known to be a state file: the checks read only.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(busy)?;
    let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(busy)?;
    if check != "ok" {
        return Err(format!("is damaged: sqlite's check says {check:?}; restore a copy or move it away"));
    }
    let tables: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0)).map_err(busy)?;
    if tables > 0 {
        let version: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        match version.as_deref() {
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(format!("has schema version {other}; this server reads version {SCHEMA_VERSION}"))
            }
            None => {
                return Err(
                    "is a SQLite database of another program (no mock-server schema in it); name another file".into()
                )
            }
        }
    }
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(busy)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("cannot be put in WAL mode (it stays in {mode} mode)"));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(busy)?;
    // A write transaction takes the lock that exclusive mode then keeps for good.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(busy)?;
    if tables == 0 {
        tx.execute_batch(SCHEMA).map_err(|e| format!("cannot be given its tables: {e}"))?;
        tx.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION])
            .map_err(|e| format!("cannot be written: {e}"))?;
    }
    tx.commit().map_err(|e| format!("cannot be written: {e}"))?;
    Ok(conn)
}

/// The database's content as the events that rebuild it, in an order that replays.
fn load(conn: &Connection) -> Result<Vec<Event>, String> {
    let bad = |e: rusqlite::Error| format!("cannot be read: {e}");
    let mut events = Vec::new();
    let mut accounts = conn.prepare("SELECT ak, sk, created, offset_ms FROM accounts ORDER BY ak").map_err(bad)?;
    let mut offsets = Vec::new();
    let rows = accounts
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
        })
        .map_err(bad)?;
    for row in rows {
        let (ak, sk, created, offset_ms) = row.map_err(bad)?;
        if created != 0 {
            let sk = sk.ok_or_else(|| format!("account `{ak}` was made through the control api but has no sk"))?;
            events.push(Event::Account { ak: ak.clone(), sk });
        }
        if offset_ms != 0 {
            offsets.push(Event::Clock { ak, offset_ms });
        }
    }
    let mut apps = conn.prepare("SELECT ak, name, description, appkey FROM apps ORDER BY rowid").map_err(bad)?;
    for row in apps
        .query_map([], |r| Ok(Event::App { ak: r.get(0)?, name: r.get(1)?, description: r.get(2)?, appkey: r.get(3)? }))
        .map_err(bad)?
    {
        events.push(row.map_err(bad)?);
    }
    let mut limits = conn.prepare("SELECT appkey, concurrency FROM app_limits ORDER BY appkey").map_err(bad)?;
    for row in limits.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))).map_err(bad)? {
        let (appkey, concurrency) = row.map_err(bad)?;
        let concurrency = concurrency
            .map(|n| {
                u32::try_from(n)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("app `{appkey}` has a concurrency limit of {n}"))
            })
            .transpose()?;
        events.push(Event::Limit { appkey, concurrency });
    }
    let mut enabled = conn.prepare("SELECT appkey, api FROM enabled_apis ORDER BY appkey, api").map_err(bad)?;
    for row in enabled.query_map([], |r| Ok(Event::Enable { appkey: r.get(0)?, api: r.get(1)? })).map_err(bad)? {
        events.push(row.map_err(bad)?);
    }
    load_packages(conn, &mut events)?;
    events.extend(offsets);
    Ok(events)
}

/// Purchases in id order (ids 1, 2, … with no gap, as the ledger numbers them), then the
/// calls used, the package in use last so that replaying marks it in use.
fn load_packages(conn: &Connection, events: &mut Vec<Event>) -> Result<(), String> {
    let bad = |e: rusqlite::Error| format!("cannot be read: {e}");
    let mut rows = conn
        .prepare(
            "SELECT p.appkey, p.api, p.id, p.kind, p.calls, p.used, p.purchased_ms, l.in_use
             FROM packages p LEFT JOIN ledgers l ON l.appkey = p.appkey AND l.api = p.api
             ORDER BY p.appkey, p.api, p.id",
        )
        .map_err(bad)?;
    let mut uses: Vec<(bool, Event)> = Vec::new();
    let mut last: Option<(String, String, i64)> = None;
    let mut query = rows.query([]).map_err(bad)?;
    while let Some(r) = query.next().map_err(bad)? {
        let (appkey, api, id): (String, String, i64) =
            (r.get(0).map_err(bad)?, r.get(1).map_err(bad)?, r.get(2).map_err(bad)?);
        let (kind, calls, used, at_ms): (String, i64, i64, i64) =
            (r.get(3).map_err(bad)?, r.get(4).map_err(bad)?, r.get(5).map_err(bad)?, r.get(6).map_err(bad)?);
        let in_use: Option<i64> = r.get(7).map_err(bad)?;
        let expected = match &last {
            Some((a, b, n)) if *a == appkey && *b == api => n + 1,
            _ => {
                events.append(&mut flush(&mut uses));
                1
            }
        };
        if id != expected {
            return Err(format!(
                "packages of app `{appkey}` for {api} skip from id {} to {id}: rows were lost or edited",
                expected - 1
            ));
        }
        let kind = match kind.as_str() {
            "free" => Kind::Free,
            "paid" => Kind::Paid,
            _ => Kind::Custom,
        };
        let (calls, used) = (calls as u64, used as u64);
        events.push(match kind {
            Kind::Free => Event::Claim { appkey: appkey.clone(), api: api.clone(), at_ms },
            kind => Event::Buy { appkey: appkey.clone(), api: api.clone(), kind, calls, at_ms },
        });
        if kind == Kind::Free && calls != FREE_QUOTA {
            return Err(format!("the free quota of app `{appkey}` for {api} has {calls} calls, not {FREE_QUOTA}"));
        }
        if used > 0 {
            uses.push((
                in_use == Some(id),
                Event::Used { appkey: appkey.clone(), api: api.clone(), package: id as u64, count: used },
            ));
        }
        last = Some((appkey, api, id));
    }
    events.append(&mut flush(&mut uses));
    Ok(())
}

/// One ledger's `Used` events, the package in use last.
fn flush(uses: &mut Vec<(bool, Event)>) -> Vec<Event> {
    uses.sort_by_key(|(in_use, _)| *in_use);
    uses.drain(..).map(|(_, e)| e).collect()
}

/// The writer: takes every change waiting, commits them in one transaction, answers each.
/// When more than one change was waiting (calls are arriving together), it pauses for
/// [`GATHER`] before taking the next ones, so that a busy server commits (and wakes this
/// thread) once per few dozen calls rather than once per two or three; a lone call is
/// committed at once.
fn write_loop(mut conn: Connection, queue: &Receiver<Job>, file: &Path) {
    loop {
        let first = match queue.try_recv() {
            Ok(job) => job,
            Err(TryRecvError::Empty) => match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            Err(TryRecvError::Disconnected) => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // The error goes back to each request, which logs it and answers 50000: this
        // thread never writes to standard error, which may be a pipe nobody reads.
        let result =
            commit(&mut conn, &batch).map_err(|e| format!("the state file {} cannot be written: {e}", file.display()));
        let busy = batch.len() > 1;
        for job in batch {
            let _ = job.done.send(result.clone());
        }
        if busy {
            std::thread::sleep(GATHER);
        }
    }
}

/// Commits a batch in one transaction. The calls charged in a row are written as one
/// UPDATE per package (a busy server sends dozens per batch, nearly all to one package).
fn commit(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let mut uses = Uses::default();
    for event in batch.iter().filter_map(|job| job.event.as_ref()) {
        match event {
            Event::Use { appkey, api, package } => uses.add(appkey, api, *package, 1),
            Event::Used { appkey, api, package, count } => uses.add(appkey, api, *package, *count),
            other => {
                uses.write(&tx)?;
                write(&tx, other)?;
            }
        }
    }
    uses.write(&tx)?;
    tx.commit()
}

/// Calls charged, summed per package, in the order their packages were first charged.
#[derive(Default)]
struct Uses<'b> {
    /// (appkey, api, package, calls).
    sums: Vec<(&'b str, &'b str, u64, u64)>,
    /// (appkey, api, package), each once, in the order of their last charge: marking them
    /// in use in this order leaves each ledger's last paid package in use, as one call
    /// after another would.
    last: Vec<(&'b str, &'b str, u64)>,
}

impl<'b> Uses<'b> {
    fn add(&mut self, appkey: &'b str, api: &'b str, package: u64, count: u64) {
        match self.sums.iter_mut().find(|(a, b, p, _)| *a == appkey && *b == api && *p == package) {
            Some(sum) => sum.3 += count,
            None => self.sums.push((appkey, api, package, count)),
        }
        self.last.retain(|(a, b, p)| !(*a == appkey && *b == api && *p == package));
        self.last.push((appkey, api, package));
    }

    fn write(&mut self, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        for (appkey, api, package, count) in self.sums.drain(..) {
            // A plain UPDATE of one row: no RETURNING, which would make SQLite open a
            // statement journal for it (and allocate and free 64 KiB each time).
            tx.prepare_cached("UPDATE packages SET used = used + ?4 WHERE appkey = ?1 AND api = ?2 AND id = ?3")?
                .execute(params![appkey, api, package as i64, count as i64])?;
        }
        for (appkey, api, package) in self.last.drain(..) {
            // The free quota is never "in use": paid packages are, the free one after them.
            tx.prepare_cached(
                "INSERT INTO ledgers (appkey, api, in_use)
                 SELECT ?1, ?2, ?3 WHERE EXISTS
                   (SELECT 1 FROM packages WHERE appkey = ?1 AND api = ?2 AND id = ?3 AND kind != 'free')
                 ON CONFLICT (appkey, api) DO UPDATE SET in_use = excluded.in_use",
            )?
            .execute(params![appkey, api, package as i64])?;
        }
        Ok(())
    }
}

/// One change, as rows.
fn write(tx: &Transaction<'_>, event: &Event) -> rusqlite::Result<()> {
    match event {
        Event::Account { ak, sk } => tx
            .prepare_cached(
                "INSERT INTO accounts (ak, sk, created) VALUES (?1, ?2, 1)
                 ON CONFLICT (ak) DO UPDATE SET sk = excluded.sk, created = 1",
            )?
            .execute(params![ak, sk])
            .map(drop),
        Event::App { ak, name, description, appkey } => tx
            .prepare_cached("INSERT OR REPLACE INTO apps (appkey, ak, name, description) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![appkey, ak, name, description])
            .map(drop),
        Event::Enable { appkey, api } => tx
            .prepare_cached("INSERT OR IGNORE INTO enabled_apis (appkey, api) VALUES (?1, ?2)")?
            .execute(params![appkey, api])
            .map(drop),
        Event::Claim { appkey, api, at_ms } => add_package(tx, appkey, api, Kind::Free, FREE_QUOTA, *at_ms),
        Event::Buy { appkey, api, kind, calls, at_ms } => add_package(tx, appkey, api, *kind, *calls, *at_ms),
        // Written by `Uses`, summed.
        Event::Use { .. } | Event::Used { .. } => Ok(()),
        Event::Clock { ak, offset_ms } => tx
            .prepare_cached(
                "INSERT INTO accounts (ak, created, offset_ms) VALUES (?1, 0, ?2)
                 ON CONFLICT (ak) DO UPDATE SET offset_ms = excluded.offset_ms",
            )?
            .execute(params![ak, offset_ms])
            .map(drop),
        Event::Limit { appkey, concurrency } => tx
            .prepare_cached("INSERT OR REPLACE INTO app_limits (appkey, concurrency) VALUES (?1, ?2)")?
            .execute(params![appkey, concurrency])
            .map(drop),
        Event::Reset { ak, appkeys } => {
            for appkey in appkeys {
                for table in ["packages", "ledgers", "enabled_apis", "app_limits"] {
                    tx.prepare_cached(&format!("DELETE FROM {table} WHERE appkey = ?1"))?.execute([appkey])?;
                }
            }
            tx.prepare_cached("DELETE FROM apps WHERE ak = ?1")?.execute([ak])?;
            tx.prepare_cached("UPDATE accounts SET offset_ms = 0 WHERE ak = ?1")?.execute([ak]).map(drop)
        }
    }
}

fn add_package(
    tx: &Transaction<'_>,
    appkey: &str,
    api: &str,
    kind: Kind,
    calls: u64,
    at_ms: i64,
) -> rusqlite::Result<()> {
    let kind = match kind {
        Kind::Free => "free",
        Kind::Paid => "paid",
        Kind::Custom => "custom",
    };
    tx.prepare_cached(
        "INSERT INTO packages (appkey, api, id, kind, calls, used, purchased_ms, expires_ms)
         VALUES (?1, ?2, (SELECT coalesce(max(id), 0) + 1 FROM packages WHERE appkey = ?1 AND api = ?2), ?3, ?4, 0, ?5, ?6)",
    )?
    .execute(params![appkey, api, kind, calls as i64, at_ms, at_ms.saturating_add(YEAR_MS)])
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(event: Event) -> Job {
        Job { event: Some(event), done: oneshot::channel().0 }
    }

    fn used(appkey: &str, package: u64) -> Event {
        Event::Use { appkey: appkey.into(), api: "hat".into(), package }
    }

    #[test]
    fn a_batch_of_calls_is_kept_as_one_call_after_another_would_be() {
        let dir = std::env::temp_dir().join(format!("mock-sqlite-batch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("state.db");
        let _ = std::fs::remove_file(&path);
        let mut conn = connect(&path).expect("a new state file");
        let buy = |appkey: &str| Event::Buy {
            appkey: appkey.into(),
            api: "hat".into(),
            kind: Kind::Paid,
            calls: 10,
            at_ms: 0,
        };
        let claim = |appkey: &str| Event::Claim { appkey: appkey.into(), api: "hat".into(), at_ms: 0 };
        let first = [buy("a"), claim("a"), buy("a"), buy("b"), used("a", 3)];
        commit(&mut conn, &first.map(job)).expect("first batch");
        // Package 3 was in use; then 3, 1 (paid) and 2 (free) are charged, the free quota
        // last: package 1 is in use at the end. b's ledger is kept apart from a's.
        let second = [used("a", 3), used("a", 1), used("b", 1), used("a", 2), used("a", 1), used("a", 2)];
        commit(&mut conn, &second.map(job)).expect("second batch");
        let events = load(&conn).expect("load");
        let uses: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Used { .. })).collect();
        let count = |appkey: &str, package: u64| {
            uses.iter().find_map(|e| match e {
                Event::Used { appkey: a, package: p, count, .. } if a == appkey && *p == package => Some(*count),
                _ => None,
            })
        };
        assert_eq!((count("a", 1), count("a", 2), count("a", 3), count("b", 1)), (Some(2), Some(2), Some(2), Some(1)));
        let in_use: Option<i64> = conn
            .query_row("SELECT in_use FROM ledgers WHERE appkey = 'a' AND api = 'hat'", [], |r| r.get(0))
            .expect("a's ledger");
        assert_eq!(in_use, Some(1), "the last paid package charged is in use; the free quota never is");
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
