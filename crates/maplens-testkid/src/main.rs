//! `maplens-testkid`: a child process with a known memory layout.
//!
//! It creates every mapping asked for on its command line, prints ONE line of
//! JSON on stdout describing what it created, then blocks until its stdin
//! reaches EOF, cleans up (SysV shm segments, files it created) and exits 0.
//! Nothing else is ever written to stdout; errors go to stderr with exit 1
//! before the JSON line is printed.
//!
//! See the library (`maplens_testkid::Kid`) for how tests spawn it, and
//! `usage()` below for the options.

use std::ffi::{CStr, CString};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde_json::{Map, Value, json};

type Res<T> = Result<T, String>;

fn usage() -> &'static str {
    "usage: maplens-testkid [OPTIONS]
  --file-spaces DIR    mmap DIR/'file with  spaces.bin' (3 pages, private, read)
  --file-newline DIR   mmap DIR/'new<LF>line.bin' (2 pages, shared, read)
  --deleted DIR        mmap DIR/'to be deleted.bin' (2 pages) then unlink it
  --memfd NAME         memfd_create(NAME), 4 pages, shared rw, written
  --sysv-shm           SysV shm segment of 64 KiB, attached and touched
  --sysv-key HEX       key for --sysv-shm (default IPC_PRIVATE)
  --shared-anon        MAP_SHARED|MAP_ANONYMOUS 5 pages rw, touched
  --threads N          N threads with 8 MiB stacks, 40 KiB of stack touched
  --thread-names       name them kid-worker-<i> (prctl PR_SET_NAME)
  --arenas N           N threads doing 1000 mallocs of 1 KiB each (glibc arenas)
  --regions N          N single-page regions, alternating rw-p / r--p
  --rwx                2 pages anonymous rwxp
  --big-anon MIB       MIB MiB anonymous rw (MADV_NOHUGEPAGE), first page touched
  --mappings N         like --regions, for very many regions (not touched)
  --static-copy        accepted and ignored (the library copies the binary)
  --exec-stack         make the main thread's [stack] executable (mprotect rwx)
  --exec-anon          2 pages anonymous r-xp (written first, then made r-x)
  --shared-file DIR    mmap DIR/'shared writable.bin' (3 pages, MAP_SHARED rw), written
  --named-file PATH    create PATH (2 pages; any bytes in its name) and mmap it shared
  --comm NAME          name the main thread NAME (prctl PR_SET_NAME; any bytes, 15 kept)
  --adjacent N         N adjacent 1-page anonymous rw-p regions the kernel cannot merge
  --thp-small MIB      MIB MiB anonymous rw, 2 MiB aligned, touched on small pages,
                       then MADV_HUGEPAGE (THP-eligible, not on huge pages)
  --leak MIB           grow 1 MiB every 100 ms (on a fixed clock) into one reserved
                       anonymous mapping of MIB MiB, touched page by page
                       (MADV_NOHUGEPAGE), plus 256 mallocs of 256 bytes into the heap
                       each tick, until MIB MiB are touched; then stay
  --plateau MIB        the same, meant to stop soon: growth that levels off
  --changes            four regions that change on the first byte read from stdin:
                       one unmapped, one mprotected rw- to r--, one grown in place
                       (mremap), one mapped into a hole
  --pages-content      16 MiB anonymous rw (no THP): 4 MiB written with zeros, 4 MiB
                       four copies of one 1 MiB pattern of distinct pages, 8 MiB random
  --sparse MIB         MIB MiB anonymous rw (no THP), every page of every 4th MiB written
  --pageout-mib N      with --sparse: MADV_PAGEOUT the first N MiB afterwards
  --wss-loop MIB:HOT   MIB MiB anonymous rw (no THP), all written once, then a thread
                       writes the first HOT MiB again every 50 ms, forever
Prints one JSON line on stdout, then waits for EOF on stdin."
}

#[derive(Default)]
struct Opts {
    file_spaces: Option<PathBuf>,
    file_newline: Option<PathBuf>,
    deleted: Option<PathBuf>,
    memfd: Option<String>,
    sysv_shm: bool,
    sysv_key: Option<u32>,
    shared_anon: bool,
    threads: usize,
    thread_names: bool,
    arenas: usize,
    regions: usize,
    rwx: bool,
    big_anon_mib: Option<usize>,
    mappings: usize,
    static_copy: bool,
    /// `--leak MIB` / `--plateau MIB`: the cap, and the JSON key.
    grow: Option<(usize, &'static str)>,
    /// `--changes`.
    changes: bool,
    /// Conditions for `maplens check` tests, in command-line order.
    extra: Vec<Extra>,
}

fn parse_args() -> Res<Opts> {
    let mut o = Opts::default();
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let a = a
            .to_str()
            .ok_or_else(|| format!("non-UTF-8 option {a:?}"))?
            .to_owned();
        let mut val = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))
        };
        let num = |s: std::ffi::OsString, name: &str| -> Res<usize> {
            s.to_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("{name}: expected a number, got {s:?}"))
        };
        match a.as_str() {
            "--file-spaces" => o.file_spaces = Some(val(&a)?.into()),
            "--file-newline" => o.file_newline = Some(val(&a)?.into()),
            "--deleted" => o.deleted = Some(val(&a)?.into()),
            "--memfd" => {
                let v = val(&a)?;
                o.memfd = Some(
                    v.to_str()
                        .ok_or_else(|| format!("--memfd: non-UTF-8 name {v:?}"))?
                        .to_owned(),
                );
            }
            "--sysv-shm" => o.sysv_shm = true,
            "--sysv-key" => {
                let v = val(&a)?;
                let s = v.to_str().unwrap_or("");
                let s = s.trim_start_matches("0x").trim_start_matches("0X");
                o.sysv_key = Some(
                    u32::from_str_radix(s, 16)
                        .map_err(|e| format!("--sysv-key: bad hex {v:?}: {e}"))?,
                );
            }
            "--shared-anon" => o.shared_anon = true,
            "--threads" => o.threads = num(val(&a)?, &a)?,
            "--thread-names" => o.thread_names = true,
            "--arenas" => o.arenas = num(val(&a)?, &a)?,
            "--regions" => o.regions = num(val(&a)?, &a)?,
            "--rwx" => o.rwx = true,
            "--big-anon" => o.big_anon_mib = Some(num(val(&a)?, &a)?),
            "--mappings" => o.mappings = num(val(&a)?, &a)?,
            "--static-copy" => o.static_copy = true,
            "--leak" => o.grow = Some((num(val(&a)?, &a)?, "leak")),
            "--plateau" => o.grow = Some((num(val(&a)?, &a)?, "plateau")),
            "--changes" => o.changes = true,
            "--exec-stack" => o.extra.push(Extra::ExecStack),
            "--exec-anon" => o.extra.push(Extra::ExecAnon),
            "--shared-file" => o.extra.push(Extra::SharedFile(val(&a)?.into())),
            "--named-file" => o.extra.push(Extra::NamedFile(val(&a)?.into())),
            "--comm" => o.extra.push(Extra::Comm(val(&a)?)),
            "--adjacent" => o.extra.push(Extra::Adjacent(num(val(&a)?, &a)?)),
            "--thp-small" => o.extra.push(Extra::ThpSmall(num(val(&a)?, &a)?)),
            "--pages-content" => o.extra.push(Extra::PagesContent),
            "--sparse" => o.extra.push(Extra::Sparse(num(val(&a)?, &a)?)),
            "--pageout-mib" => o.extra.push(Extra::PageoutMib(num(val(&a)?, &a)?)),
            "--wss-loop" => {
                let v = val(&a)?;
                let parsed = v.to_str().and_then(|s| {
                    let (m, h) = s.split_once(':')?;
                    Some((m.parse().ok()?, h.parse().ok()?))
                });
                let (m, h) =
                    parsed.ok_or_else(|| format!("--wss-loop: expected MIB:HOT, got {v:?}"))?;
                o.extra.push(Extra::WssLoop(m, h));
            }
            "-h" | "--help" => {
                eprintln!("{}", usage());
                std::process::exit(0);
            }
            _ => return Err(format!("unknown option {a:?}\n{}", usage())),
        }
    }
    Ok(o)
}

fn errno(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

fn gettid() -> u64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let t = unsafe { libc::gettid() };
    t as u64
}

/// `mmap` wrapper returning the address; never MAP_FIXED on memory we don't own.
fn mmap(len: usize, prot: i32, flags: i32, fd: i32, what: &str) -> Res<usize> {
    // SAFETY: a NULL hint without MAP_FIXED never replaces existing mappings.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
    if p == libc::MAP_FAILED {
        Err(errno(what))
    } else {
        Ok(p as usize)
    }
}

/// `mprotect` on memory this program mapped itself and holds no references into.
fn mprotect(addr: usize, len: usize, prot: i32, what: &str) -> Res<()> {
    // SAFETY: callers only pass ranges of reservations created by `isolated_anon`,
    // to which no Rust references exist.
    let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) };
    if r != 0 { Err(errno(what)) } else { Ok(()) }
}

/// Touch (write) `len` bytes starting at `addr`, one byte per page.
fn touch_write(addr: usize, len: usize, ps: usize, val: u8) {
    for off in (0..len).step_by(ps) {
        // SAFETY: callers pass a writable mapping of at least `len` bytes that
        // this program created and that nothing else references.
        unsafe { std::ptr::write_volatile((addr + off) as *mut u8, val) };
    }
}

/// Read one byte per page of `len` bytes starting at `addr`.
fn touch_read(addr: usize, len: usize, ps: usize) -> u64 {
    let mut sum = 0u64;
    for off in (0..len).step_by(ps) {
        // SAFETY: callers pass a readable mapping of at least `len` bytes.
        sum += u64::from(unsafe { std::ptr::read_volatile((addr + off) as *const u8) });
    }
    sum
}

/// A private anonymous mapping of `len` bytes with `prot`, surrounded by one
/// PROT_NONE guard page on each side so the kernel cannot merge it with a
/// neighbouring mapping: the returned range is exactly one VMA (until split).
fn isolated_anon(len: usize, prot: i32, ps: usize, what: &str) -> Res<usize> {
    let res = mmap(
        len + 2 * ps,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
        -1,
        what,
    )?;
    let addr = res + ps;
    mprotect(addr, len, prot, what)?;
    Ok(addr)
}

/// Create `path` with `len` bytes of a non-zero pattern.
fn create_file(path: &Path, len: usize) -> Res<File> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
    f.write_all(&data)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(f)
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Everything that needs cleaning up or keeping alive until exit.
#[derive(Default)]
struct Keep {
    files_to_remove: Vec<PathBuf>,
    shmids: Vec<i32>,
    fds: Vec<OwnedFd>,
    files: Vec<File>,
    /// The last `--sparse` region (for `--pageout-mib`).
    sparse: Option<usize>,
}

fn do_file_spaces(dir: &Path, ps: usize, keep: &mut Keep) -> Res<Value> {
    let path = dir.join("file with  spaces.bin");
    let len = 3 * ps;
    let f = create_file(&path, len)?;
    keep.files_to_remove.push(path.clone());
    let addr = mmap(
        len,
        libc::PROT_READ,
        libc::MAP_PRIVATE,
        f.as_raw_fd(),
        "mmap file-spaces",
    )?;
    touch_read(addr, len, ps);
    keep.files.push(f);
    Ok(json!({"path": path_str(&path), "addr": addr, "len": len}))
}

fn do_file_newline(dir: &Path, ps: usize, keep: &mut Keep) -> Res<Value> {
    do_named_file(&dir.join("new\nline.bin"), ps, keep)
}

/// `--named-file PATH`: a two-page file created at PATH (any name, control
/// bytes included), mapped shared and read, removed at exit.
fn do_named_file(path: &Path, ps: usize, keep: &mut Keep) -> Res<Value> {
    let path = path.to_path_buf();
    let len = 2 * ps;
    let f = create_file(&path, len)?;
    keep.files_to_remove.push(path.clone());
    let addr = mmap(
        len,
        libc::PROT_READ,
        libc::MAP_SHARED,
        f.as_raw_fd(),
        "mmap file-newline",
    )?;
    touch_read(addr, len, ps);
    keep.files.push(f);
    Ok(json!({"path": path_str(&path), "addr": addr, "len": len}))
}

fn do_deleted(dir: &Path, ps: usize) -> Res<Value> {
    let path = dir.join("to be deleted.bin");
    let len = 2 * ps;
    let f = create_file(&path, len)?;
    let addr = mmap(
        len,
        libc::PROT_READ,
        libc::MAP_PRIVATE,
        f.as_raw_fd(),
        "mmap deleted",
    )?;
    touch_read(addr, len, ps);
    drop(f);
    fs::remove_file(&path).map_err(|e| format!("unlink {}: {e}", path.display()))?;
    Ok(json!({"path": path_str(&path), "addr": addr, "len": len}))
}

fn do_memfd(name: &str, ps: usize, keep: &mut Keep) -> Res<Value> {
    let cname = CString::new(name).map_err(|_| "--memfd: name contains NUL".to_owned())?;
    // SAFETY: cname is a valid NUL-terminated string.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(errno("memfd_create"));
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = 4 * ps;
    // SAFETY: ftruncate on a valid fd has no memory-safety preconditions.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } != 0 {
        return Err(errno("ftruncate memfd"));
    }
    let addr = mmap(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        fd.as_raw_fd(),
        "mmap memfd",
    )?;
    touch_write(addr, len, ps, 0x5a);
    let raw = fd.as_raw_fd();
    keep.fds.push(fd);
    Ok(json!({"name": name, "fd": raw, "addr": addr, "len": len}))
}

fn do_sysv(key: Option<u32>, ps: usize, keep: &mut Keep) -> Res<Value> {
    let len = 64 * 1024;
    let k: libc::key_t = match key {
        Some(k) => k as libc::key_t,
        None => libc::IPC_PRIVATE,
    };
    // SAFETY: shmget has no memory-safety preconditions.
    let id = unsafe { libc::shmget(k, len, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    if id < 0 {
        return Err(errno("shmget"));
    }
    keep.shmids.push(id);
    // SAFETY: attaching at a kernel-chosen address cannot clobber other mappings.
    let p = unsafe { libc::shmat(id, std::ptr::null(), 0) };
    if p as isize == -1 {
        return Err(errno("shmat"));
    }
    let addr = p as usize;
    touch_write(addr, len, ps, 0x33);
    let key_u = k as u32;
    Ok(json!({
        "shmid": id,
        "key": key_u,
        "key_hex": format!("{key_u:08x}"),
        "addr": addr,
        "len": len,
    }))
}

fn do_shared_anon(ps: usize) -> Res<Value> {
    let len = 5 * ps;
    let addr = mmap(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
        -1,
        "mmap shared-anon",
    )?;
    touch_write(addr, len, ps, 0x11);
    Ok(json!({"addr": addr, "len": len}))
}

/// Names the calling (main) thread: its `comm`, as `ps` and /proc show it.
fn do_comm(name: &std::ffi::OsStr) -> Res<Value> {
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(name.as_bytes()).map_err(|_| "--comm: name holds a NUL".to_owned())?;
    // SAFETY: name is a valid NUL-terminated string; the kernel reads at
    // most 16 bytes of it.
    if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
        return Err(errno("prctl(PR_SET_NAME)"));
    }
    Ok(json!({"comm": thread_name()}))
}

fn thread_name() -> String {
    let mut buf = [0u8; 17];
    // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL-terminated) into buf.
    let r = unsafe { libc::prctl(libc::PR_GET_NAME, buf.as_mut_ptr()) };
    if r != 0 {
        return String::new();
    }
    CStr::from_bytes_until_nul(&buf)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn do_threads(n: usize, names: bool) -> Res<Value> {
    const STACK_TOUCH: usize = 40 * 1024;
    let (tx, rx) = mpsc::channel::<Res<Value>>();
    for i in 0..n {
        let tx = tx.clone();
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                let mut res = Ok(());
                if names {
                    let name = CString::new(format!("kid-worker-{i}")).expect("no NUL");
                    // SAFETY: name is a valid NUL-terminated string (<= 16 bytes
                    // are used by the kernel).
                    if unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } != 0 {
                        res = Err(errno("prctl(PR_SET_NAME)"));
                    }
                }
                let mut stack = [0u8; STACK_TOUCH];
                for b in stack.iter_mut().step_by(512) {
                    // SAFETY: b is a valid &mut u8; volatile keeps the writes.
                    unsafe { std::ptr::write_volatile(b, 0x77) };
                }
                let sp = std::hint::black_box(&stack) as *const _ as usize;
                let msg = res.map(|()| {
                    json!({
                        "tid": gettid(),
                        "name": thread_name(),
                        "sp": sp,
                        "stack_touched": STACK_TOUCH,
                    })
                });
                let _ = tx.send(msg);
                drop(tx);
                std::hint::black_box(&mut stack);
                loop {
                    std::thread::park();
                }
            })
            .map_err(|e| format!("spawn thread: {e}"))?;
    }
    drop(tx);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(rx.recv().map_err(|_| "thread died".to_owned())??);
    }
    out.sort_by_key(|v| v["name"].as_str().map(str::to_owned));
    Ok(Value::Array(out))
}

fn do_arenas(n: usize) -> Res<Value> {
    const ALLOCS: usize = 1000;
    const SIZE: usize = 1024;
    let (tx, rx) = mpsc::channel::<Res<Value>>();
    for _ in 0..n {
        let tx = tx.clone();
        std::thread::Builder::new()
            .spawn(move || {
                let mut first = 0usize;
                let mut last = 0usize;
                let mut ok = true;
                for i in 0..ALLOCS {
                    // SAFETY: plain malloc; the blocks are intentionally leaked.
                    let p = unsafe { libc::malloc(SIZE) } as usize;
                    if p == 0 {
                        ok = false;
                        break;
                    }
                    touch_write(p, SIZE, SIZE, 0x42);
                    if i == 0 {
                        first = p;
                    }
                    last = p;
                }
                let msg = if ok {
                    Ok(json!({
                        "tid": gettid(),
                        "allocs": ALLOCS,
                        "size": SIZE,
                        "first": first,
                        "last": last,
                    }))
                } else {
                    Err("malloc failed".to_owned())
                };
                let _ = tx.send(msg);
                drop(tx);
                loop {
                    std::thread::park();
                }
            })
            .map_err(|e| format!("spawn arena thread: {e}"))?;
    }
    drop(tx);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(rx.recv().map_err(|_| "arena thread died".to_owned())??);
    }
    Ok(Value::Array(out))
}

/// `count` single-page regions at `base..base+count*ps`: even-indexed pages
/// are `rw-p`, odd-indexed pages `r--p`, inside PROT_NONE guard pages.
fn do_regions(count: usize, ps: usize, touch: bool, what: &str) -> Res<Value> {
    let len = count * ps;
    let base = isolated_anon(len, libc::PROT_READ | libc::PROT_WRITE, ps, what)?;
    if touch {
        for i in (0..count).step_by(2) {
            touch_write(base + i * ps, 1, ps, 0x99);
        }
    }
    for i in (1..count).step_by(2) {
        mprotect(base + i * ps, ps, libc::PROT_READ, what)?;
    }
    Ok(json!({
        "base": base,
        "count": count,
        "page_size": ps,
        "len": len,
        "even_perms": "rw-p",
        "odd_perms": "r--p",
        "touched": touch,
    }))
}

fn do_rwx(ps: usize) -> Res<Value> {
    let len = 2 * ps;
    let addr = isolated_anon(
        len,
        libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
        ps,
        "rwx",
    )?;
    touch_write(addr, len, ps, 0xc3);
    Ok(json!({"addr": addr, "len": len}))
}

fn do_big_anon(mib: usize, ps: usize) -> Res<Value> {
    let len = mib << 20;
    let addr = isolated_anon(len, libc::PROT_READ | libc::PROT_WRITE, ps, "big-anon")?;
    // SAFETY: madvise(MADV_NOHUGEPAGE) on our own mapping only changes THP policy.
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) } != 0 {
        return Err(errno("madvise big-anon"));
    }
    touch_write(addr, 1, ps, 0xbb);
    Ok(json!({"addr": addr, "len": len, "mib": mib, "touched_pages": 1}))
}

fn run(o: &Opts, keep: &mut Keep) -> Res<Value> {
    let ps = page_size();
    let mut m = Map::new();
    m.insert("pid".into(), json!(std::process::id()));
    m.insert("page_size".into(), json!(ps));
    if let Ok(exe) = fs::read_link("/proc/self/exe") {
        m.insert("exe".into(), json!(path_str(&exe)));
    }
    if let Some(d) = &o.file_spaces {
        m.insert("file_spaces".into(), do_file_spaces(d, ps, keep)?);
    }
    if let Some(d) = &o.file_newline {
        m.insert("file_newline".into(), do_file_newline(d, ps, keep)?);
    }
    if let Some(d) = &o.deleted {
        m.insert("deleted".into(), do_deleted(d, ps)?);
    }
    if let Some(n) = &o.memfd {
        m.insert("memfd".into(), do_memfd(n, ps, keep)?);
    }
    if o.sysv_shm || o.sysv_key.is_some() {
        m.insert("sysv_shm".into(), do_sysv(o.sysv_key, ps, keep)?);
    }
    if o.shared_anon {
        m.insert("shared_anon".into(), do_shared_anon(ps)?);
    }
    if o.threads > 0 {
        m.insert("threads".into(), do_threads(o.threads, o.thread_names)?);
    }
    if o.arenas > 0 {
        m.insert("arenas".into(), do_arenas(o.arenas)?);
    }
    if o.regions > 0 {
        m.insert(
            "regions".into(),
            do_regions(o.regions, ps, true, "regions")?,
        );
    }
    if o.rwx {
        m.insert("rwx".into(), do_rwx(ps)?);
    }
    if let Some(mib) = o.big_anon_mib {
        m.insert("big_anon".into(), do_big_anon(mib, ps)?);
    }
    if o.mappings > 0 {
        m.insert(
            "mappings".into(),
            do_regions(o.mappings, ps, false, "mappings")?,
        );
    }
    if o.static_copy {
        m.insert("static_copy".into(), json!(true));
    }
    if let Some((mib, key)) = o.grow {
        m.insert(key.into(), grow::setup(mib, ps)?);
    }
    if o.changes {
        m.insert("changes".into(), changes::setup(ps)?);
    }
    for e in &o.extra {
        let (key, value) = do_extra(e, ps, keep)?;
        m.insert(key.into(), value);
    }
    Ok(Value::Object(m))
}

fn cleanup(keep: &mut Keep) {
    for id in keep.shmids.drain(..) {
        // SAFETY: IPC_RMID ignores the buffer argument.
        unsafe { libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
    for p in keep.files_to_remove.drain(..) {
        let _ = fs::remove_file(p);
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("maplens-testkid: {e}");
            std::process::exit(2);
        }
    };
    let mut keep = Keep::default();
    let info = match run(&opts, &mut keep) {
        Ok(v) => v,
        Err(e) => {
            cleanup(&mut keep);
            eprintln!("maplens-testkid: {e}");
            std::process::exit(1);
        }
    };
    let mut line = serde_json::to_string(&info).expect("JSON serialisation");
    line.push('\n');
    let mut out = io::stdout().lock();
    if out
        .write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        cleanup(&mut keep);
        std::process::exit(1);
    }
    drop(out);
    if let Some((mib, _)) = opts.grow {
        // The growth runs on the main thread (its mallocs land in the
        // [heap] of the main arena); stdin is watched on another.
        std::thread::spawn(move || {
            wait_for_eof(false, &info);
            cleanup(&mut keep);
            std::process::exit(0);
        });
        grow::run(mib, page_size());
    }
    wait_for_eof(opts.changes, &info);
    cleanup(&mut keep);
    std::process::exit(0);
}

/// Blocks until stdin reaches EOF (or errors); with `changes`, makes the
/// `--changes` changes when the first bytes arrive.
fn wait_for_eof(changes: bool, info: &Value) {
    let mut buf = [0u8; 4096];
    let mut stdin = io::stdin().lock();
    let mut pending = changes;
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) if pending => {
                pending = false;
                if let Err(e) = changes::apply(&info["changes"], page_size()) {
                    eprintln!("maplens-testkid: {e}");
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

// ---------------------------------------------------------------------------
// Conditions for `maplens check` (security and memory findings).

/// An option that creates one condition `maplens check` looks for.
enum Extra {
    /// `--exec-stack`.
    ExecStack,
    /// `--exec-anon`.
    ExecAnon,
    /// `--shared-file DIR`.
    SharedFile(PathBuf),
    /// `--named-file PATH`.
    NamedFile(PathBuf),
    /// `--comm NAME`.
    Comm(std::ffi::OsString),
    /// `--adjacent N`.
    Adjacent(usize),
    /// `--thp-small MIB`.
    ThpSmall(usize),
    /// `--pages-content`.
    PagesContent,
    /// `--sparse MIB`.
    Sparse(usize),
    /// `--pageout-mib N` (applies to the last `--sparse` region).
    PageoutMib(usize),
    /// `--wss-loop MIB:HOT`.
    WssLoop(usize, usize),
}

fn do_extra(e: &Extra, ps: usize, keep: &mut Keep) -> Res<(&'static str, Value)> {
    Ok(match e {
        Extra::ExecStack => ("exec_stack", do_exec_stack()?),
        Extra::ExecAnon => ("exec_anon", do_exec_anon(ps)?),
        Extra::SharedFile(dir) => ("shared_file", do_shared_file(dir, ps, keep)?),
        Extra::NamedFile(path) => ("named_file", do_named_file(path, ps, keep)?),
        Extra::Comm(name) => ("comm", do_comm(name)?),
        Extra::Adjacent(n) => ("adjacent", do_adjacent(*n, ps)?),
        Extra::ThpSmall(mib) => ("thp_small", do_thp_small(*mib, ps)?),
        Extra::PagesContent => ("pages_content", do_pages_content(ps)?),
        Extra::Sparse(mib) => ("sparse", do_sparse(*mib, ps, keep)?),
        Extra::PageoutMib(n) => ("pageout", do_pageout(*n, keep)?),
        Extra::WssLoop(mib, hot) => ("wss_loop", do_wss_loop(*mib, *hot, ps)?),
    })
}

/// The `[stack]` range from `/proc/self/maps`.
fn main_stack_range() -> Res<(usize, usize)> {
    let maps = fs::read_to_string("/proc/self/maps").map_err(|e| format!("read maps: {e}"))?;
    for line in maps.lines() {
        if line.ends_with("[stack]") {
            let range = line.split(' ').next().unwrap_or("");
            if let Some((a, b)) = range.split_once('-') {
                let a = usize::from_str_radix(a, 16).map_err(|e| format!("maps: {e}"))?;
                let b = usize::from_str_radix(b, 16).map_err(|e| format!("maps: {e}"))?;
                return Ok((a, b));
            }
        }
    }
    Err("no [stack] in /proc/self/maps".into())
}

/// Makes the whole main stack VMA executable, as the dynamic loader does for
/// a program whose `PT_GNU_STACK` asks for it (`execstack -s`).
fn do_exec_stack() -> Res<Value> {
    let (a, b) = main_stack_range()?;
    // SAFETY: changes only the protection of this thread's own stack mapping,
    // adding PROT_EXEC; the range stays readable and writable.
    let r = unsafe {
        libc::mprotect(
            a as *mut libc::c_void,
            b - a,
            libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
        )
    };
    if r != 0 {
        return Err(errno("mprotect [stack] rwx"));
    }
    Ok(json!({"addr": a, "len": b - a}))
}

fn do_exec_anon(ps: usize) -> Res<Value> {
    let len = 2 * ps;
    let addr = isolated_anon(len, libc::PROT_READ | libc::PROT_WRITE, ps, "exec-anon")?;
    touch_write(addr, len, ps, 0xc3);
    mprotect(addr, len, libc::PROT_READ | libc::PROT_EXEC, "exec-anon")?;
    Ok(json!({"addr": addr, "len": len}))
}

fn do_shared_file(dir: &Path, ps: usize, keep: &mut Keep) -> Res<Value> {
    let path = dir.join("shared writable.bin");
    let len = 3 * ps;
    let f = create_file(&path, len)?;
    keep.files_to_remove.push(path.clone());
    let addr = mmap(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        f.as_raw_fd(),
        "mmap shared-file",
    )?;
    touch_write(addr, len, ps, 0x44);
    keep.files.push(f);
    Ok(json!({"path": path_str(&path), "addr": addr, "len": len}))
}

/// `n` adjacent one-page `rw-p` regions. Each page is faulted in its own
/// mapping first (so each has its own anon_vma) and then moved next to the
/// previous one with `mremap`: the kernel cannot merge VMAs with different
/// anon_vmas, so the map shows `n` regions with identical permissions.
fn do_adjacent(n: usize, ps: usize) -> Res<Value> {
    let len = n * ps;
    let base = isolated_anon(len, libc::PROT_NONE, ps, "adjacent")?;
    for i in 0..n {
        let page = mmap(
            ps,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            "adjacent page",
        )?;
        touch_write(page, ps, ps, 0x5c);
        let to = base + i * ps;
        // SAFETY: moves our own fresh page over part of our own PROT_NONE
        // reservation (MREMAP_FIXED replaces only that range).
        let p = unsafe {
            libc::mremap(
                page as *mut libc::c_void,
                ps,
                ps,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                to as *mut libc::c_void,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno("mremap adjacent"));
        }
    }
    Ok(json!({"base": base, "count": n, "page_size": ps, "len": len, "perms": "rw-p"}))
}

/// `mib` MiB of anonymous memory at a 2 MiB-aligned address, faulted on small
/// pages (MADV_NOHUGEPAGE while touching), then MADV_HUGEPAGE: the kernel
/// reports it THP-eligible, but the pages stay small until khugepaged
/// collapses them (which it may do later).
fn do_thp_small(mib: usize, ps: usize) -> Res<Value> {
    const HUGE: usize = 2 << 20;
    let len = mib << 20;
    let res = isolated_anon(len + HUGE, libc::PROT_NONE, ps, "thp-small")?;
    let addr = (res + HUGE - 1) & !(HUGE - 1);
    mprotect(addr, len, libc::PROT_READ | libc::PROT_WRITE, "thp-small")?;
    // SAFETY: madvise on our own mapping only changes THP policy.
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) } != 0 {
        return Err(errno("madvise nohugepage"));
    }
    touch_write(addr, len, ps, 0x7e);
    // SAFETY: as above.
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE) } != 0 {
        return Err(errno("madvise hugepage"));
    }
    Ok(json!({"addr": addr, "len": len, "mib": mib}))
}

// ---------------------------------------------------------------------------
// Growth over time (`--leak`, `--plateau`) and changes on request
// (`--changes`), for `maplens leaks` and `maplens diff`.

mod grow {
    use super::*;
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// The reserved mapping: address and length.
    static AREA: OnceLock<(usize, usize)> = OnceLock::new();

    /// MiB touched each tick.
    pub const MIB_PER_TICK: usize = 1;
    /// The tick.
    pub const TICK_MS: u64 = 100;
    /// Heap blocks each tick, and their size.
    pub const MALLOCS: usize = 256;
    /// Bytes a heap block.
    pub const MALLOC_SIZE: usize = 256;

    /// Reserves the mapping (nothing touched yet) and finds the heap.
    pub fn setup(mib: usize, ps: usize) -> Res<Value> {
        let len = mib << 20;
        let addr = isolated_anon(len, libc::PROT_READ | libc::PROT_WRITE, ps, "leak")?;
        // SAFETY: madvise on our own mapping only changes THP policy.
        if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) } != 0 {
            return Err(errno("madvise leak"));
        }
        let _ = AREA.set((addr, len));
        // One block first, so that the main arena's heap exists.
        // SAFETY: plain malloc; intentionally leaked.
        let p = unsafe { libc::malloc(MALLOC_SIZE) };
        if p.is_null() {
            return Err("malloc failed".into());
        }
        let heap = heap_start()?;
        Ok(json!({
            "addr": addr,
            "len": len,
            "mib": mib,
            "bytes_per_sec": (MIB_PER_TICK << 20) as u64 * 1000 / TICK_MS,
            "heap_start": heap,
            "heap_bytes_per_sec": (MALLOCS * MALLOC_SIZE) as u64 * 1000 / TICK_MS,
            "tick_ms": TICK_MS,
        }))
    }

    fn heap_start() -> Res<usize> {
        let maps = fs::read_to_string("/proc/self/maps").map_err(|e| format!("read maps: {e}"))?;
        maps.lines()
            .find(|l| l.ends_with("[heap]"))
            .and_then(|l| usize::from_str_radix(l.split('-').next()?, 16).ok())
            .ok_or_else(|| "no [heap] in /proc/self/maps".to_owned())
    }

    /// Touches 1 MiB and mallocs 64 KiB every tick, on a fixed clock
    /// (tick k at start + k ticks, whatever each took), until the mapping
    /// is full; then never returns.
    pub fn run(_mib: usize, ps: usize) -> ! {
        let (addr, len) = *AREA.get().expect("setup ran");
        let start = Instant::now();
        let step = MIB_PER_TICK << 20;
        let mut done = 0;
        let mut k = 0u32;
        while done < len {
            k += 1;
            let at = start + Duration::from_millis(TICK_MS) * k;
            if let Some(wait) = at.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let n = step.min(len - done);
            touch_write(addr + done, n, ps, 0x6c);
            done += n;
            for _ in 0..MALLOCS {
                // SAFETY: plain malloc; the blocks are intentionally leaked.
                let p = unsafe { libc::malloc(MALLOC_SIZE) } as usize;
                if p != 0 {
                    touch_write(p, MALLOC_SIZE, 64, 0x6d);
                }
            }
        }
        loop {
            std::thread::park();
        }
    }
}

mod changes {
    use super::*;

    /// Four regions: `unmap`, `mprotect` (4 pages each, touched), `grow`
    /// (2 pages with a 2-page hole after them) and `map` (a 2-page hole
    /// between guard pages).
    pub fn setup(ps: usize) -> Res<Value> {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let unmap = isolated_anon(4 * ps, rw, ps, "changes unmap")?;
        touch_write(unmap, 4 * ps, ps, 1);
        let prot = isolated_anon(4 * ps, rw, ps, "changes mprotect")?;
        touch_write(prot, 4 * ps, ps, 2);
        let grow = isolated_anon(4 * ps, rw, ps, "changes grow")?;
        touch_write(grow, 2 * ps, ps, 3);
        munmap(grow + 2 * ps, 2 * ps)?;
        let map = isolated_anon(2 * ps, rw, ps, "changes map")?;
        munmap(map, 2 * ps)?;
        Ok(json!({
            "unmap": {"addr": unmap, "len": 4 * ps},
            "mprotect": {"addr": prot, "len": 4 * ps, "before": "rw-p", "after": "r--p"},
            "grow": {"addr": grow, "len": 2 * ps, "grown_len": 4 * ps},
            "map": {"addr": map, "len": 2 * ps},
        }))
    }

    fn munmap(addr: usize, len: usize) -> Res<()> {
        // SAFETY: only ranges of reservations this module made, which
        // nothing references.
        if unsafe { libc::munmap(addr as *mut libc::c_void, len) } != 0 {
            return Err(errno("munmap"));
        }
        Ok(())
    }

    /// Makes the four changes.
    pub fn apply(info: &Value, ps: usize) -> Res<()> {
        let at = |k: &str| {
            info[k]["addr"]
                .as_u64()
                .map(|a| a as usize)
                .ok_or("no address")
        };
        munmap(at("unmap")?, 4 * ps)?;
        mprotect(at("mprotect")?, 4 * ps, libc::PROT_READ, "changes mprotect")?;
        let g = at("grow")?;
        // SAFETY: grows our own mapping in place into the hole after it
        // (no MREMAP_MAYMOVE: it fails rather than move).
        let p = unsafe { libc::mremap(g as *mut libc::c_void, 2 * ps, 4 * ps, 0) };
        if p == libc::MAP_FAILED {
            return Err(errno("mremap grow"));
        }
        touch_write(g, 4 * ps, ps, 4);
        let m = at("map")?;
        // SAFETY: MAP_FIXED_NOREPLACE never replaces a mapping: it fails
        // if anything took the hole.
        let p = unsafe {
            libc::mmap(
                m as *mut libc::c_void,
                2 * ps,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED || p as usize != m {
            return Err(errno("mmap into the hole"));
        }
        touch_write(m, 2 * ps, ps, 5);
        Ok(())
    }
}

/// Anonymous memory of `len` bytes that stays on small pages.
fn small_page_anon(len: usize, ps: usize, what: &str) -> Res<usize> {
    let addr = isolated_anon(len, libc::PROT_READ | libc::PROT_WRITE, ps, what)?;
    // SAFETY: madvise(MADV_NOHUGEPAGE) on our own mapping only changes THP policy.
    if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_NOHUGEPAGE) } != 0 {
        return Err(errno(what));
    }
    Ok(addr)
}

/// xorshift64*: a fixed stream of pseudo-random words per seed.
fn fill_random(addr: usize, len: usize, seed: u64) {
    let mut x = seed | 1;
    for off in (0..len).step_by(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        // SAFETY: callers pass a writable mapping of `len` bytes (a multiple
        // of 8) that this program created and nothing else references.
        unsafe { std::ptr::write_volatile((addr + off) as *mut u64, v) };
    }
}

/// 16 MiB: 4 MiB of zeros written, then four copies of one 1 MiB pattern
/// (256 distinct pages), then 8 MiB of random bytes: 1,024 zero pages and
/// 768 duplicate pages.
fn do_pages_content(ps: usize) -> Res<Value> {
    const MIB: usize = 1 << 20;
    let len = 16 * MIB;
    let addr = small_page_anon(len, ps, "pages-content")?;
    for off in (0..4 * MIB).step_by(8) {
        // SAFETY: inside our own fresh writable mapping.
        unsafe { std::ptr::write_volatile((addr + off) as *mut u64, 0) };
    }
    let pattern = addr + 4 * MIB;
    fill_random(pattern, MIB, 0x9e37_79b9_7f4a_7c15);
    for copy in 1..4 {
        // SAFETY: both ranges lie in our mapping and do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                pattern as *const u8,
                (pattern + copy * MIB) as *mut u8,
                MIB,
            )
        };
    }
    fill_random(addr + 8 * MIB, 8 * MIB, 0xdead_beef_cafe_f00d);
    let pages = (MIB / ps) as u64;
    Ok(json!({
        "addr": addr, "len": len,
        "zero_pages": 4 * pages, "duplicate_pages": 3 * pages, "random_pages": 8 * pages,
    }))
}

/// `mib` MiB; every page of MiB 0, 4, 8, … written.
fn do_sparse(mib: usize, ps: usize, keep: &mut Keep) -> Res<Value> {
    const MIB: usize = 1 << 20;
    let len = mib * MIB;
    let addr = small_page_anon(len, ps, "sparse")?;
    let mut touched = Vec::new();
    for m in (0..mib).step_by(4) {
        touch_write(addr + m * MIB, MIB, ps, 0x5e);
        touched.push(m);
    }
    keep.sparse = Some(addr);
    Ok(json!({
        "addr": addr, "len": len, "touched_mib": touched,
        "touched_pages": touched.len() * MIB / ps,
    }))
}

/// MADV_PAGEOUT of the first `n` MiB of the last `--sparse` region.
fn do_pageout(n: usize, keep: &Keep) -> Res<Value> {
    let addr = keep
        .sparse
        .ok_or("--pageout-mib needs a --sparse region before it")?;
    let len = n << 20;
    // SAFETY: MADV_PAGEOUT on our own mapping only asks for reclaim; the
    // contents stay (swapped or kept).
    let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
    Ok(json!({"addr": addr, "len": len, "ok": r == 0}))
}

/// `mib` MiB, all written once; a thread keeps writing the first `hot` MiB.
fn do_wss_loop(mib: usize, hot: usize, ps: usize) -> Res<Value> {
    let len = mib << 20;
    let addr = small_page_anon(len, ps, "wss-loop")?;
    touch_write(addr, len, ps, 1);
    let hot_len = hot << 20;
    std::thread::Builder::new()
        .name("kid-wss".into())
        .spawn(move || {
            let mut v = 2u8;
            loop {
                touch_write(addr, hot_len, ps, v);
                v = v.wrapping_add(1);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
        .map_err(|e| format!("spawn wss thread: {e}"))?;
    Ok(json!({"addr": addr, "len": len, "hot_len": hot_len}))
}
