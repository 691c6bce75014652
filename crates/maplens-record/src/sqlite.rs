//! SQLite recordings: the schema ([`SCHEMA`], explained in
//! `docs/recordings.md`), a writer that commits one sample per transaction
//! in WAL mode, and a reader.
//!
//! Addresses, inodes and sizes are unsigned 64-bit figures stored in
//! SQLite's signed 64-bit integers bit for bit: a figure of 2^63 and more
//! (the `[vsyscall]` page at `ffffffffff600000`) reads back negative in
//! `sqlite3`, and `printf('%x', start)` prints it right.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use maplens_core::model::{Sample, SampleRegion, SampleRow, SampleUsage};
use rusqlite::{Connection, OpenFlags, params};

use crate::{RecordError, Writer};

/// Version of [`SCHEMA`], in `meta` under `schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// The tables and views of a recording.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS process (
  id INTEGER PRIMARY KEY,
  pid INTEGER,
  comm TEXT,
  start_time INTEGER
);
CREATE TABLE IF NOT EXISTS sample (
  id INTEGER PRIMARY KEY,
  process_id INTEGER NOT NULL REFERENCES process(id),
  time_ms INTEGER NOT NULL,
  full INTEGER NOT NULL,
  regions INTEGER NOT NULL, size INTEGER NOT NULL,
  rss INTEGER, pss INTEGER, uss INTEGER, swap INTEGER,
  wall_us INTEGER NOT NULL, cpu_us INTEGER NOT NULL, bytes_read INTEGER NOT NULL,
  cgroup_max INTEGER, cgroup_current INTEGER, rlimit_as INTEGER,
  mem_available INTEGER, max_map_count INTEGER
);
CREATE INDEX IF NOT EXISTS sample_by_process ON sample(process_id, time_ms);
CREATE TABLE IF NOT EXISTS category (
  sample_id INTEGER NOT NULL REFERENCES sample(id),
  name TEXT NOT NULL,
  regions INTEGER NOT NULL, size INTEGER NOT NULL,
  rss INTEGER, pss INTEGER, uss INTEGER, swap INTEGER
);
CREATE INDEX IF NOT EXISTS category_by_sample ON category(sample_id);
CREATE TABLE IF NOT EXISTS object (
  sample_id INTEGER NOT NULL REFERENCES sample(id),
  name TEXT NOT NULL,
  regions INTEGER NOT NULL, size INTEGER NOT NULL,
  rss INTEGER, pss INTEGER, uss INTEGER, swap INTEGER
);
CREATE INDEX IF NOT EXISTS object_by_sample ON object(sample_id);
CREATE TABLE IF NOT EXISTS region_identity (
  id INTEGER PRIMARY KEY,
  process_id INTEGER NOT NULL REFERENCES process(id),
  start INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  path TEXT NOT NULL,
  file_offset INTEGER NOT NULL,
  UNIQUE (process_id, start, inode, path, file_offset)
);
CREATE TABLE IF NOT EXISTS region (
  sample_id INTEGER NOT NULL REFERENCES sample(id),
  region_id INTEGER NOT NULL REFERENCES region_identity(id),
  end_addr INTEGER NOT NULL,
  perms TEXT NOT NULL,
  category TEXT NOT NULL,
  rss INTEGER,
  PRIMARY KEY (sample_id, region_id)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS region_view AS
  SELECT s.time_ms, p.pid, p.comm, printf('%x', i.start) AS start_hex,
         printf('%x', r.end_addr) AS end_hex, r.end_addr - i.start AS size,
         r.perms, i.file_offset, i.inode, i.path, r.category, r.rss
  FROM region r JOIN region_identity i ON i.id = r.region_id
       JOIN sample s ON s.id = r.sample_id JOIN process p ON p.id = s.process_id;
";

/// SQLite's error as one safe line: its message may quote our multi-line
/// SQL (a forged schema: "no such column … in SELECT …") or text from the
/// file.
fn err(path: &Path) -> impl Fn(rusqlite::Error) -> RecordError + '_ {
    move |e| {
        let text = e.to_string();
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        RecordError::Sqlite {
            path: path.to_owned(),
            message: maplens_core::text::escape(line.as_bytes()).into_owned(),
        }
    }
}

/// A series' identity: pid, name, start time.
type SeriesKey = (Option<u32>, Option<String>, Option<u64>);

const fn i(v: u64) -> i64 {
    v as i64
}

fn oi(v: Option<u64>) -> Option<i64> {
    v.map(i)
}

/// Appends samples to a SQLite recording.
pub struct SqliteWriter {
    path: PathBuf,
    conn: Connection,
    processes: HashMap<SeriesKey, i64>,
    identities: HashMap<(i64, u64, u64, String, u64), i64>,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteWriter {
    /// Opens (creating) a recording: WAL journal, a full sync at every
    /// commit, the schema created if missing; a recording of another schema
    /// version is refused.
    pub fn open(path: &Path) -> Result<SqliteWriter, RecordError> {
        let e = err(path);
        let conn = Connection::open(path).map_err(&e)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(&e)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&e)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&e)?;
        conn.execute_batch(&format!("BEGIN; {SCHEMA} COMMIT;"))
            .map_err(&e)?;
        check_version(&conn, path, true)?;
        Ok(SqliteWriter {
            path: path.to_owned(),
            conn,
            processes: HashMap::new(),
            identities: HashMap::new(),
        })
    }

    fn process_id(&mut self, s: &Sample) -> rusqlite::Result<i64> {
        let key = (s.pid, s.comm.clone(), s.start_time);
        if let Some(&id) = self.processes.get(&key) {
            return Ok(id);
        }
        let (pid, comm, start) = (s.pid, s.comm.as_deref(), oi(s.start_time));
        let found = self
            .conn
            .query_row(
                "SELECT id FROM process WHERE pid IS ?1 AND comm IS ?2 AND start_time IS ?3",
                params![pid, comm, start],
                |r| r.get(0),
            )
            .ok();
        let id = match found {
            Some(id) => id,
            None => {
                self.conn.execute(
                    "INSERT INTO process (pid, comm, start_time) VALUES (?1, ?2, ?3)",
                    params![pid, comm, start],
                )?;
                self.conn.last_insert_rowid()
            }
        };
        self.processes.insert(key, id);
        Ok(id)
    }

    fn insert(&mut self, s: &Sample) -> rusqlite::Result<()> {
        let process = self.process_id(s)?;
        let t = &s.totals;
        let l = &s.limits;
        self.conn.execute(
            "INSERT INTO sample (process_id, time_ms, full, regions, size, rss, pss, uss, swap,
               wall_us, cpu_us, bytes_read, cgroup_max, cgroup_current, rlimit_as,
               mem_available, max_map_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                process,
                i(s.time_ms),
                s.full,
                i(t.regions),
                i(t.size),
                oi(t.rss),
                oi(t.pss),
                oi(t.uss),
                oi(t.swap),
                i(s.cost.wall_us),
                i(s.cost.cpu_us),
                i(s.cost.bytes_read),
                oi(l.cgroup_max),
                oi(l.cgroup_current),
                oi(l.rlimit_as),
                oi(l.mem_available),
                oi(l.max_map_count),
            ],
        )?;
        let sample = self.conn.last_insert_rowid();
        for (table, rows) in [("category", &s.categories), ("object", &s.objects)] {
            let mut st = self.conn.prepare_cached(&format!(
                "INSERT INTO {table} (sample_id, name, regions, size, rss, pss, uss, swap)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?;
            for r in rows {
                let u = &r.usage;
                st.execute(params![
                    sample,
                    r.name,
                    i(u.regions),
                    i(u.size),
                    oi(u.rss),
                    oi(u.pss),
                    oi(u.uss),
                    oi(u.swap)
                ])?;
            }
        }
        let mut ins_id = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO region_identity (process_id, start, inode, path, file_offset)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut get_id = self.conn.prepare_cached(
            "SELECT id FROM region_identity
             WHERE process_id = ?1 AND start = ?2 AND inode = ?3 AND path = ?4 AND file_offset = ?5",
        )?;
        let mut ins = self.conn.prepare_cached(
            "INSERT OR REPLACE INTO region (sample_id, region_id, end_addr, perms, category, rss)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for r in &s.regions {
            let key = (process, r.start, r.inode, r.path.clone(), r.offset);
            let id = match self.identities.get(&key) {
                Some(&id) => id,
                None => {
                    let p = params![process, i(r.start), i(r.inode), r.path, i(r.offset)];
                    ins_id.execute(p)?;
                    let id: i64 = get_id.query_row(p, |row| row.get(0))?;
                    self.identities.insert(key, id);
                    id
                }
            };
            ins.execute(params![
                sample,
                id,
                i(r.end),
                r.perms,
                r.category,
                oi(r.rss)
            ])?;
        }
        Ok(())
    }
}

impl Writer for SqliteWriter {
    fn write(&mut self, sample: &Sample) -> Result<(), RecordError> {
        let path = self.path.clone();
        let e = err(&path);
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(&e)?;
        match self.insert(sample) {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(&e),
            Err(x) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // Identities cached in the rolled-back transaction are gone.
                self.identities.clear();
                self.processes.clear();
                Err(e(x))
            }
        }
    }
}

fn check_version(conn: &Connection, path: &Path, write: bool) -> Result<(), RecordError> {
    let e = err(path);
    let v: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .ok();
    match v {
        None if write => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )
            .map_err(&e)?;
            Ok(())
        }
        Some(v) if v == SCHEMA_VERSION.to_string() => Ok(()),
        v => Err(RecordError::Sqlite {
            path: path.to_owned(),
            message: format!(
                "recording schema version {}; this maplens reads version {SCHEMA_VERSION}",
                v.as_deref().unwrap_or("(none: not a maplens recording)")
            ),
        }),
    }
}

fn u(v: i64) -> u64 {
    v as u64
}

fn ou(v: Option<i64>) -> Option<u64> {
    v.map(u)
}

/// Reads every sample of a SQLite recording, oldest first.
pub fn read(path: &Path) -> Result<Vec<Sample>, RecordError> {
    let e = err(path);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .or_else(|_| Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY))
        .map_err(&e)?;
    let is_db: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'meta'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(&e)?
        > 0;
    if !is_db {
        return Err(RecordError::NotRecording(path.to_owned()));
    }
    check_version(&conn, path, false)?;
    let mut processes: HashMap<i64, SeriesKey> = HashMap::new();
    let mut st = conn
        .prepare("SELECT id, pid, comm, start_time FROM process")
        .map_err(&e)?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)?, (r.get(1)?, r.get(2)?, ou(r.get(3)?))))
        })
        .map_err(&e)?;
    for r in rows {
        let (id, p) = r.map_err(&e)?;
        processes.insert(id, p);
    }
    let mut samples = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut st = conn
        .prepare(
            "SELECT id, process_id, time_ms, full, regions, size, rss, pss, uss, swap, wall_us,
                    cpu_us, bytes_read, cgroup_max, cgroup_current, rlimit_as, mem_available,
                    max_map_count
             FROM sample ORDER BY time_ms, id",
        )
        .map_err(&e)?;
    let rows = st
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            let process: i64 = r.get(1)?;
            let mut s = Sample {
                time_ms: u(r.get(2)?),
                full: r.get(3)?,
                totals: SampleUsage {
                    regions: u(r.get(4)?),
                    size: u(r.get(5)?),
                    rss: ou(r.get(6)?),
                    pss: ou(r.get(7)?),
                    uss: ou(r.get(8)?),
                    swap: ou(r.get(9)?),
                },
                ..Sample::default()
            };
            s.cost.wall_us = u(r.get(10)?);
            s.cost.cpu_us = u(r.get(11)?);
            s.cost.bytes_read = u(r.get(12)?);
            s.limits.cgroup_max = ou(r.get(13)?);
            s.limits.cgroup_current = ou(r.get(14)?);
            s.limits.rlimit_as = ou(r.get(15)?);
            s.limits.mem_available = ou(r.get(16)?);
            s.limits.max_map_count = ou(r.get(17)?);
            Ok((id, process, s))
        })
        .map_err(&e)?;
    for r in rows {
        let (id, process, mut s) = r.map_err(&e)?;
        if let Some((pid, comm, start)) = processes.get(&process) {
            (s.pid, s.comm, s.start_time) = (*pid, comm.clone(), *start);
        }
        index.insert(id, samples.len());
        samples.push(s);
    }
    for table in ["category", "object"] {
        let mut st = conn
            .prepare(&format!(
                "SELECT sample_id, name, regions, size, rss, pss, uss, swap FROM {table}
                 ORDER BY rowid"
            ))
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    SampleRow {
                        name: r.get(1)?,
                        usage: SampleUsage {
                            regions: u(r.get(2)?),
                            size: u(r.get(3)?),
                            rss: ou(r.get(4)?),
                            pss: ou(r.get(5)?),
                            uss: ou(r.get(6)?),
                            swap: ou(r.get(7)?),
                        },
                    },
                ))
            })
            .map_err(&e)?;
        for r in rows {
            let (sid, row) = r.map_err(&e)?;
            if let Some(&k) = index.get(&sid) {
                let s = &mut samples[k];
                if table == "category" {
                    s.categories.push(row);
                } else {
                    s.objects.push(row);
                }
            }
        }
    }
    let mut st = conn
        .prepare(
            "SELECT r.sample_id, i.start, r.end_addr, r.perms, i.file_offset, i.inode, i.path,
                    r.category, r.rss
             FROM region r JOIN region_identity i ON i.id = r.region_id",
        )
        .map_err(&e)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SampleRegion {
                    start: u(r.get(1)?),
                    end: u(r.get(2)?),
                    perms: r.get(3)?,
                    offset: u(r.get(4)?),
                    inode: u(r.get(5)?),
                    path: r.get(6)?,
                    category: r.get(7)?,
                    rss: ou(r.get(8)?),
                },
            ))
        })
        .map_err(&e)?;
    for r in rows {
        let (sid, region) = r.map_err(&e)?;
        if let Some(&k) = index.get(&sid) {
            samples[k].regions.push(region);
        }
    }
    for s in &mut samples {
        s.regions.sort_by_key(|r| r.start);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64, start_time: u64) -> Sample {
        let row = |name: &str, rss| SampleRow {
            name: name.into(),
            usage: SampleUsage {
                regions: 1,
                size: 8192,
                rss: Some(rss),
                ..SampleUsage::default()
            },
        };
        Sample {
            pid: Some(42),
            comm: Some("kid".into()),
            start_time: Some(start_time),
            time_ms: t,
            full: true,
            totals: SampleUsage {
                regions: 2,
                size: 1 << 20,
                rss: Some(t * 4096),
                pss: None,
                ..SampleUsage::default()
            },
            categories: vec![row("heap", t), row("anon-mmap", 5)],
            objects: vec![row("/bin/x", 7)],
            regions: vec![
                SampleRegion {
                    start: 0x1000,
                    end: 0x3000 + t * 4096,
                    perms: "rw-p".into(),
                    offset: 0,
                    inode: 0,
                    path: "[heap]".into(),
                    category: "heap".into(),
                    rss: Some(t),
                },
                SampleRegion {
                    start: 0xffffffffff600000,
                    end: 0xffffffffff601000,
                    perms: "--xp".into(),
                    offset: 0,
                    inode: 0,
                    path: "[vsyscall]".into(),
                    category: "kernel".into(),
                    rss: None,
                },
            ],
            ..Sample::default()
        }
    }

    #[test]
    fn round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.db");
        let written: Vec<Sample> = vec![sample(1, 100), sample(2, 100), sample(3, 900)];
        {
            let mut w = SqliteWriter::open(&p).unwrap();
            w.write(&written[0]).unwrap();
            w.write(&written[1]).unwrap();
        }
        // Appending from a second writer reuses the process and identities.
        let mut w = SqliteWriter::open(&p).unwrap();
        w.write(&written[2]).unwrap();
        drop(w);
        let back = read(&p).unwrap();
        assert_eq!(back, written);
        let conn = Connection::open(&p).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM process", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2, "a restart is a new series");
        let ids: i64 = conn
            .query_row("SELECT count(*) FROM region_identity", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ids, 4);
        let hex: String = conn
            .query_row(
                "SELECT start_hex FROM region_view WHERE path = '[vsyscall]' LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hex, "ffffffffff600000");
    }
}
