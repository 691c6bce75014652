//! Spawn `maplens-testkid`, a child process with a known memory layout, from
//! tests.
//!
//! ```no_run
//! use maplens_testkid::Kid;
//! let dir = std::env::temp_dir();
//! let kid = Kid::spawn(&["--memfd", "hello", "--threads", "2", "--thread-names"]).unwrap();
//! let memfd_addr = kid.info["memfd"]["addr"].as_u64().unwrap();
//! let maps = std::fs::read(format!("/proc/{}/maps", kid.pid)).unwrap();
//! # let _ = (dir, memfd_addr, maps);
//! kid.stop().unwrap(); // frozen: smaps is stable now
//! kid.cont().unwrap();
//! // Dropping `kid` ends the child (stdin EOF -> cleanup -> exit 0).
//! ```
//!
//! The kid prints one JSON line describing what it created; it is available
//! parsed as [`Kid::info`]. Keys (each present only if its option was given):
//! `pid`, `page_size`, `exe` always; `file_spaces`, `file_newline`, `deleted`
//! (`{path, addr, len}`), `memfd` (`{name, fd, addr, len}`), `sysv_shm`
//! (`{shmid, key, key_hex, addr, len}`), `shared_anon` (`{addr, len}`),
//! `threads` (`[{tid, name, sp, stack_touched}]`), `arenas`
//! (`[{tid, allocs, size, first, last}]`), `regions` and `mappings`
//! (`{base, count, page_size, len, even_perms, odd_perms, touched}`), `rwx`
//! (`{addr, len}`), `big_anon` (`{addr, len, mib, touched_pages}`),
//! `static_copy` (`true`), `leak` / `plateau` (`{addr, len, mib,
//! bytes_per_sec, heap_start, heap_bytes_per_sec, tick_ms}`), `changes`
//! (`{unmap, mprotect, grow, map}`, each `{addr, len, …}`), `pages_content`
//! (`{addr, len, zero_pages, duplicate_pages, random_pages}`), `sparse`
//! (`{addr, len, touched_mib, touched_pages}`), `pageout` (`{addr, len,
//! ok}`), `wss_loop` (`{addr, len, hot_len}`). Addresses and lengths are
//! decimal numbers.
//!
//! Cargo does not build the binaries of a dev-dependency, so [`kid_binary`]
//! builds `maplens-testkid` on demand (once per process) when it is missing
//! from the test executable's target directory or older than its sources.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN_NAME: &str = "maplens-testkid";

/// A running `maplens-testkid` child. Dropping it ends the child.
pub struct Kid {
    /// The child process. Its stdin is kept open (closing it ends the kid);
    /// its stdout has been consumed (the kid prints nothing after the JSON).
    pub child: Child,
    /// The parsed JSON line the kid printed (see the crate docs for keys).
    pub info: serde_json::Value,
    /// The kid's process id.
    pub pid: u32,
    stdin: Option<ChildStdin>,
    copy_dir: Option<PathBuf>,
}

impl Kid {
    /// Spawn the kid with the given args; reads the JSON line; returns once
    /// the layout exists.
    ///
    /// If `args` contains `--static-copy`, this behaves like
    /// [`Kid::spawn_copy`].
    pub fn spawn(args: &[&str]) -> io::Result<Kid> {
        if args.contains(&"--static-copy") {
            return Self::spawn_copy(args);
        }
        Self::spawn_at(&try_kid_binary()?, args, None)
    }

    /// Like [`Kid::spawn`], but first copies the binary to a fresh temporary
    /// directory under a unique name and runs the copy, so that the kid's own
    /// text/rodata/data pages are backed by a file no other process maps: its
    /// PSS for those pages equals its RSS and does not change when another
    /// process runs `maplens-testkid`. The copy is removed when the `Kid` is
    /// dropped.
    ///
    /// The binary is dynamically linked (making it static would need
    /// `-C target-feature=+crt-static`, which can only be set workspace-wide),
    /// so these pages REMAIN SHARED with other processes: the glibc objects it
    /// links (`libc.so.6`, `libgcc_s.so.1`, and possibly `libm.so.6`), the
    /// dynamic loader `ld-linux-*.so.*`, and the kernel's `[vdso]` / `[vvar]`
    /// pages. Tests comparing PSS must exclude those mappings (or compare
    /// only the kid's own mappings: the copy, anonymous memory, its files).
    pub fn spawn_copy(args: &[&str]) -> io::Result<Kid> {
        Self::spawn_copy_any(args)
    }

    /// Like [`Kid::spawn_copy`], with arguments of any bytes (file names
    /// that are not UTF-8).
    pub fn spawn_copy_os(args: &[OsString]) -> io::Result<Kid> {
        Self::spawn_copy_any(args)
    }

    /// Like [`Kid::spawn_copy`], and the shared objects it links (glibc,
    /// libgcc_s, the dynamic loader) are private copies too: the kid runs
    /// as `COPY/ld-linux… --library-path COPY COPY/kid ARGS`, so no file
    /// page it maps is mapped by another process, and its PSS does not move
    /// when other processes start or exit (only the kernel's `[vdso]`
    /// pages are shared, and they count no PSS). `/proc/PID/exe` is the
    /// loader's copy. The copies are removed when the `Kid` is dropped.
    pub fn spawn_private(args: &[&str]) -> io::Result<Kid> {
        let src = try_kid_binary()?;
        // Which objects the kid links: those a plain kid maps.
        let probe = Self::spawn_at(&src, &[] as &[&str], None)?;
        let maps = fs::read_to_string(probe.proc("maps"))?;
        drop(probe);
        let mut libs: Vec<PathBuf> = maps
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .filter(|p| p.starts_with('/') && p.contains(".so"))
            .map(PathBuf::from)
            .collect();
        libs.sort();
        libs.dedup();
        let (dir, bin) = copy_binary(&src)?;
        let mut loader = None;
        for lib in &libs {
            let name = lib.file_name().ok_or_else(|| io::Error::other("no name"))?;
            let to = dir.join(name);
            fs::copy(lib, &to)?;
            if name.to_string_lossy().starts_with("ld-") {
                loader = Some(to);
            }
        }
        let Some(loader) = loader else {
            let _ = fs::remove_dir_all(&dir);
            return Err(io::Error::other(format!(
                "no dynamic loader among {libs:?}"
            )));
        };
        let mut full: Vec<OsString> = vec!["--library-path".into(), dir.clone().into()];
        full.push(bin.into());
        full.extend(args.iter().map(OsString::from));
        match Self::spawn_at(&loader, &full, Some(dir.clone())) {
            Ok(k) => Ok(k),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn spawn_copy_any<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> io::Result<Kid> {
        let src = try_kid_binary()?;
        let (dir, bin) = copy_binary(&src)?;
        match Self::spawn_at(&bin, args, Some(dir.clone())) {
            Ok(k) => Ok(k),
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    fn spawn_at<S: AsRef<std::ffi::OsStr>>(
        bin: &Path,
        args: &[S],
        copy_dir: Option<PathBuf>,
    ) -> io::Result<Kid> {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // A freshly copied binary can hit ETXTBSY while another thread of this
        // process forks with the copy's write fd still open: retry briefly.
        let mut tries = 0;
        let mut child = loop {
            match cmd.spawn() {
                Ok(c) => break c,
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("spawn {}: {e}", bin.display()),
                    ));
                }
            }
        };
        let pid = child.id();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let parsed = match read {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "maplens-testkid exited before printing its layout (see its stderr)",
            )),
            Ok(_) => serde_json::from_str::<serde_json::Value>(&line).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("maplens-testkid printed bad JSON ({e}): {line:?}"),
                )
            }),
            Err(e) => Err(e),
        };
        let mut kid = Kid {
            child,
            info: serde_json::Value::Null,
            pid,
            stdin,
            copy_dir,
        };
        match parsed {
            Ok(info) => {
                kid.info = info;
                Ok(kid)
            }
            Err(e) => {
                drop(kid); // reaps the child and removes the copy
                Err(e)
            }
        }
    }

    /// Send SIGSTOP and wait (up to 5 s) until every thread of the kid shows
    /// state `T` in `/proc/PID/task/TID/stat`.
    pub fn stop(&self) -> io::Result<()> {
        self.signal(libc::SIGSTOP)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if self.all_stopped()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("kid {} did not reach state T", self.pid),
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Writes `bytes` to the kid's stdin (with `--changes`, the first
    /// write makes the changes).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("the kid's stdin is closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    /// Send SIGCONT.
    pub fn cont(&self) -> io::Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// Path of `/proc/PID/<what>` for this kid, e.g. `kid.proc("smaps")`.
    pub fn proc(&self, what: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/{what}", self.pid))
    }

    fn all_stopped(&self) -> io::Result<bool> {
        let mut any = false;
        for ent in fs::read_dir(self.proc("task"))? {
            let stat = match fs::read(ent?.path().join("stat")) {
                Ok(s) => s,
                Err(_) => continue, // thread vanished
            };
            any = true;
            if proc_state(&stat) != Some(b'T') {
                return Ok(false);
            }
        }
        Ok(any)
    }

    fn signal(&self, sig: libc::c_int) -> io::Result<()> {
        let pid = libc::pid_t::try_from(self.pid).map_err(io::Error::other)?;
        // SAFETY: kill has no memory-safety preconditions; the pid is our own
        // un-reaped child, so it cannot have been recycled.
        if unsafe { libc::kill(pid, sig) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Kid {
    /// SIGCONT, close stdin, wait up to 5 s, then SIGKILL; removes the copy
    /// made by [`Kid::spawn_copy`].
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.cont();
            drop(self.stdin.take());
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match self.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        if let Some(dir) = self.copy_dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// The state letter of a `/proc/PID/stat` line (the field after the last `)`).
fn proc_state(stat: &[u8]) -> Option<u8> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).copied()
}

fn copy_binary(src: &Path) -> io::Result<(PathBuf, PathBuf)> {
    static N: AtomicU64 = AtomicU64::new(0);
    let tmp = std::env::temp_dir();
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag = format!("{}-{n}-{nanos:x}", std::process::id());
        let dir = tmp.join(format!("maplens-testkid-{tag}"));
        match fs::create_dir(&dir) {
            Ok(()) => {
                let bin = dir.join(format!("{BIN_NAME}-copy-{tag}"));
                if let Err(e) = fs::copy(src, &bin) {
                    let _ = fs::remove_dir_all(&dir);
                    return Err(e);
                }
                return Ok((dir, bin));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Locates the built `maplens-testkid` binary, building it if needed.
///
/// Panics if it cannot be found or built; see [`try_kid_binary`].
pub fn kid_binary() -> PathBuf {
    match try_kid_binary() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Locates the built `maplens-testkid` binary.
///
/// Order: `$MAPLENS_TESTKID_BIN` if set; else `maplens-testkid` in the target
/// directory of the running executable (`current_exe()`'s parent's parent,
/// i.e. `target/<profile>/`). If that is missing or older than this crate's
/// sources, it runs (once per process)
/// `$CARGO build -p maplens-testkid --bin maplens-testkid` with the same
/// profile, `--target` and `--target-dir` as the running test executable.
pub fn try_kid_binary() -> io::Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| locate_or_build().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn locate_or_build() -> io::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MAPLENS_TESTKID_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .ok_or_else(|| io::Error::other("current_exe has no parent"))?;
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps" | "examples")
    ) {
        dir = dir.parent().unwrap_or(dir);
    }
    let profile_dir = dir.to_path_buf();
    let bin = profile_dir.join(BIN_NAME);
    if is_fresh(&bin) {
        return Ok(bin);
    }
    build(&profile_dir)?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(io::Error::other(format!(
            "built maplens-testkid but {} does not exist",
            bin.display()
        )))
    }
}

/// The binary exists and is newer than every source file of this crate.
fn is_fresh(bin: &Path) -> bool {
    let Ok(bin_time) = fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut newest = None;
    let mut visit = |p: &Path| {
        if let Ok(t) = fs::metadata(p).and_then(|m| m.modified()) {
            newest = newest.max(Some(t));
        }
    };
    visit(&root.join("Cargo.toml"));
    if let Ok(rd) = fs::read_dir(root.join("src")) {
        for e in rd.flatten() {
            visit(&e.path());
        }
    }
    newest.is_none_or(|n| n <= bin_time)
}

fn build(profile_dir: &Path) -> io::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", BIN_NAME, "--bin", BIN_NAME]);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    // target/<profile> or target/<triple>/<profile>; the target root holds
    // CACHEDIR.TAG.
    if let Some(parent) = profile_dir.parent() {
        if parent.join("CACHEDIR.TAG").exists() {
            cmd.arg("--target-dir").arg(parent);
        } else if let (Some(root), Some(triple)) = (parent.parent(), parent.file_name())
            && root.join("CACHEDIR.TAG").exists()
        {
            cmd.arg("--target-dir")
                .arg(root)
                .arg("--target")
                .arg(triple);
        }
    }
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("running {}: {e}", Path::new(&cargo).display()),
        )
    })?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "`{cmd:?}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::proc_state;

    #[test]
    fn state_after_comm_with_parens() {
        assert_eq!(proc_state(b"12 (a) b) T 1 2 3"), Some(b'T'));
        assert_eq!(proc_state(b"12 (kid) S 1"), Some(b'S'));
        assert_eq!(proc_state(b"garbage"), None);
    }
}
