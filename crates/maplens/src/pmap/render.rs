//! The four output formats of procps-ng pmap 4.0.2, produced from one
//! streaming read of maps or smaps text.
//!
//! Default, `-x` and `-d` print as they read (their widths are fixed).
//! `-X`, `-XX` and `-c` need every width before the first line, so the
//! first pass keeps a compact record of each mapping (its tokens and the
//! decimal digits of its numbers, interned names and flags) and the second
//! only pads and copies; the text is read once, never twice.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use bstr::ByteSlice;
use maplens_core::parse::parse_header;

/// Which format.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Default,
    Extended,
    Device,
    /// `-X` (1), `-XX` (2+), or rc-selected fields (`-c`, with `rc` set).
    Detail,
}

/// Options that shape the output.
pub struct Style<'a> {
    pub mode: Mode,
    pub x_level: u32,
    pub quiet: bool,
    pub showpath: bool,
    pub kname: bool,
    pub range: (u64, u64),
    /// Fields enabled by an rc file (`-c`/`-C`).
    pub rc_fields: Option<&'a [Vec<u8>]>,
    /// Stdout is a terminal: text from the target is escaped (`super::tty`).
    pub tty: bool,
}

/// How mapping names are decided for one process.
pub struct NameCtx {
    /// `PIDS_ADDR_STACK_START`; `None` for text from a file, where the
    /// `[stack]` name stands in for it.
    pub start_stack: Option<u64>,
    /// How SysV shared memory is recognised.
    pub shm: Shm,
}

/// How `[ shmid=0x… ]` mappings are told apart.
#[derive(Clone, Copy)]
pub enum Shm {
    /// Live: the shm mount's minor (`u32::MAX` when unknown, as pmap).
    Minor(u32),
    /// Text from another machine: a major-0 `/SYSV… (deleted)` name.
    FromText,
}

/// State that pmap keeps across the PIDs of one run: the `-X` columns
/// (names, widths, totals).
#[derive(Default)]
pub struct Persist {
    cols: Vec<Col>,
}

struct Col {
    name: Vec<u8>,
    width: usize,
    total: u64,
}

/// Bytes per read: `/proc` files fill as much of a read as fits.
const CHUNK: usize = 256 * 1024;

/// Reads `r` and calls `f` for each line (without its newline).
pub fn for_each_line(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    for_each_block(r, |block| {
        let mut rest = block;
        while let Some(i) = rest.find_byte(b'\n') {
            f(&rest[..i])?;
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            f(rest)?;
        }
        Ok(())
    })
}

/// Reads `r` and calls `f` with runs of whole lines, each with its newline
/// (the last line of the text may lack one). A second thread reads while
/// this one parses, so the kernel's work of producing smaps overlaps ours;
/// a few chunks are in flight at most, so memory stays flat however large
/// the file. `MAPLENS_PMAP_SYNC` in the environment reads on this thread.
pub fn for_each_block(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    use std::sync::mpsc;
    if std::env::var_os("MAPLENS_PMAP_SYNC").is_some() {
        return for_each_block_sync(r, f);
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(3);
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        s.spawn(move || {
            loop {
                let mut buf = back_rx.try_recv().unwrap_or_default();
                if buf.len() < CHUNK {
                    buf.resize(CHUNK, 0);
                }
                // seq_file hands out at most a page per read: fill the
                // whole chunk before waking the parser.
                let mut filled = 0;
                let mut eof = false;
                while filled < CHUNK {
                    match r.read(&mut buf[filled..]) {
                        Ok(0) => {
                            eof = true;
                            break;
                        }
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                if filled > 0 && tx.send(Ok((buf, filled))).is_err() {
                    return;
                }
                if eof {
                    return;
                }
            }
        });
        let mut carry: Vec<u8> = Vec::new();
        let result = (|| {
            for chunk in rx.iter() {
                let (buf, len) = chunk?;
                let chunk = &buf[..len];
                let mut start = 0;
                if !carry.is_empty() {
                    match chunk.find_byte(b'\n') {
                        Some(i) => {
                            carry.extend_from_slice(&chunk[..=i]);
                            f(&carry)?;
                            carry.clear();
                            start = i + 1;
                        }
                        None => {
                            carry.extend_from_slice(chunk);
                            let _ = back_tx.send(buf);
                            continue;
                        }
                    }
                }
                let rest = &chunk[start..];
                match rest.rfind_byte(b'\n') {
                    Some(j) => {
                        f(&rest[..=j])?;
                        carry.extend_from_slice(&rest[j + 1..]);
                    }
                    None => carry.extend_from_slice(rest),
                }
                let _ = back_tx.send(buf);
            }
            if !carry.is_empty() {
                f(&carry)?;
            }
            Ok(())
        })();
        drop(rx);
        result
    })
}

fn for_each_block_sync(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    // buf[..end] holds text not yet handed out; none of it before `seen`
    // is a newline.
    let (mut end, mut seen) = (0usize, 0usize);
    loop {
        if let Some(j) = buf[seen..end].rfind_byte(b'\n') {
            let j = seen + j;
            f(&buf[..=j])?;
            buf.copy_within(j + 1..end, 0);
            end -= j + 1;
        }
        seen = end;
        if end == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = loop {
            match r.read(&mut buf[end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            if end > 0 {
                f(&buf[..end])?;
            }
            return Ok(());
        }
        end += n;
    }
}

// ---- small formatting helpers -------------------------------------------

fn dec_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

fn put_dec(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = &tmp[i..];
    if width > digits.len() {
        out.resize(out.len() + width - digits.len(), b' ');
    }
    out.extend_from_slice(digits);
}

fn put_hex0(out: &mut Vec<u8>, v: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = HEX[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    let digits = &tmp[i..];
    if width > digits.len() {
        out.resize(out.len() + width - digits.len(), b'0');
    }
    out.extend_from_slice(digits);
}

/// A `-x` RSS or Dirty figure (`%7llu`), or `-` in its place when the
/// text said nothing of residency (a maps file given to `--from`).
fn put_kb(out: &mut Vec<u8>, v: u64, measured: bool) {
    if measured {
        put_dec(out, v, 7);
    } else {
        put_right(out, b"-", 7);
    }
}

/// `%*s`: right-justified.
fn put_right(out: &mut Vec<u8>, s: &[u8], width: usize) {
    if width > s.len() {
        out.resize(out.len() + width - s.len(), b' ');
    }
    out.extend_from_slice(s);
}

/// pmap's `justify_print`: `puts` for a width below 1, else the string
/// padded to at least its width, and a space. Returns the width used.
fn justify(out: &mut Vec<u8>, s: &str, width: usize, right: bool) -> usize {
    if width < 1 {
        out.extend_from_slice(s.as_bytes());
        out.push(b'\n');
        return width;
    }
    let w = width.max(s.len());
    if right {
        put_right(out, s.as_bytes(), w);
    } else {
        out.extend_from_slice(s.as_bytes());
        for _ in s.len()..w {
            out.push(b' ');
        }
    }
    out.push(b' ');
    w
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&byte) = b.get(*pos) {
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

/// Writes `buf` out once it is large, keeping memory flat.
fn flush_if_big(out: &mut Vec<u8>, w: &mut dyn Write) -> io::Result<()> {
    if out.len() >= 64 * 1024 {
        w.write_all(out)?;
        out.clear();
    }
    Ok(())
}

// ---- names -----------------------------------------------------------------

/// pmap 4.0.2 replaces every byte of the maps line that is not printable
/// ASCII with `?` before choosing the name (default, `-x`, `-d`).
fn sanitize(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(
        s.iter()
            .map(|&b| if (0x20..=0x7e).contains(&b) { b } else { b'?' }),
    );
}

/// `mapping_name()` of pmap, for the default, `-x` and `-d` formats.
#[allow(clippy::too_many_arguments)]
fn mapping_name(
    out: &mut Vec<u8>,
    path: &[u8],
    start: u64,
    end: u64,
    major: u32,
    minor: u32,
    inode: u64,
    style: &Style<'_>,
    ctx: &NameCtx,
) {
    let sysv = major == 0
        && path.find(b"/SYSV").is_some()
        && match ctx.shm {
            Shm::Minor(m) => m == minor,
            Shm::FromText => path.ends_with(b" (deleted)"),
        };
    if sysv {
        out.extend_from_slice(b"  [ shmid=0x");
        let mut tmp = Vec::new();
        put_hex0(&mut tmp, inode, 0);
        out.extend_from_slice(&tmp);
        out.extend_from_slice(b" ]");
        return;
    }
    if let Some(last) = path.rfind_byte(b'/') {
        if style.showpath {
            let first = path.find_byte(b'/').unwrap_or(last);
            sanitize(out, &path[first..]);
        } else if last + 1 < path.len() {
            sanitize(out, &path[last + 1..]);
        } else {
            out.push(b'/');
        }
        return;
    }
    if style.kname
        && path.last() == Some(&b']')
        && let Some(open) = path.find_byte(b'[')
    {
        sanitize(out, &path[open..]);
        return;
    }
    let is_stack = match ctx.start_stack {
        Some(s) => s >= start && s <= end,
        None => path == b"[stack]",
    };
    out.extend_from_slice(if is_stack {
        b"  [ stack ]"
    } else {
        b"  [ anon ]"
    });
}

fn perms5(p: &[u8]) -> [u8; 5] {
    let mut r = [b'-'; 5];
    for (i, &b) in p.iter().take(4).enumerate() {
        r[i] = b;
    }
    if r[3] == b'p' {
        r[3] = b'-';
    }
    r
}

fn in_range(style: &Style<'_>, start: u64, end: u64) -> bool {
    !(end.wrapping_sub(1) < style.range.0 || style.range.1 < start)
}

/// Prints one process in the default, `-x` or `-d` format, streaming.
/// Returns false when `-x` was given text without residency (maps, not
/// smaps): its RSS and Dirty columns then show `-`.
pub fn simple(
    r: &mut (dyn Read + Send),
    w: &mut dyn Write,
    style: &Style<'_>,
    ctx: &NameCtx,
) -> io::Result<bool> {
    let mut out: Vec<u8> = Vec::with_capacity(128 * 1024);
    let q = style.quiet;
    match style.mode {
        Mode::Extended if !q => {
            out.extend_from_slice(b"Address           Kbytes     RSS   Dirty Mode  Mapping\n")
        }
        Mode::Device if !q => out.extend_from_slice(
            b"Address           Kbytes Mode  Offset           Device    Mapping\n",
        ),
        _ => {}
    }
    let (mut shared, mut priv_w, mut priv_r) = (0u64, 0u64, 0u64);
    let (mut t_rss, mut t_dirty) = (0u64, 0u64);
    // -x: the line of the mapping being read, printed at its end, and
    // where its RSS and Dirty go (after the Kbytes, which `%7lu` widens
    // for 8 digits and more).
    let mut pending: Option<(Vec<u8>, usize)> = None;
    let (mut rss, mut dirty) = (0u64, 0u64);
    // Whether any mapping had a `Key: value` line: text without them (a
    // maps file) does not say what is resident.
    let mut measured = false;
    let mut done = false;
    let ext = style.mode == Mode::Extended;
    let finish_x = |out: &mut Vec<u8>,
                    pending: &mut Option<(Vec<u8>, usize)>,
                    rss: u64,
                    dirty: u64,
                    measured: bool| {
        if let Some((p, at)) = pending.take() {
            out.extend_from_slice(&p[..at]);
            out.push(b' ');
            put_kb(out, rss, measured);
            out.push(b' ');
            put_kb(out, dirty, measured);
            out.extend_from_slice(&p[at..]);
        }
    };
    for_each_line(r, |line| {
        if done {
            return Ok(());
        }
        match line.first() {
            None => return Ok(()),
            Some(b'A'..=b'Z') => {
                measured = true;
                if ext && pending.is_some() {
                    let colon = line.find_byte(b':').unwrap_or(line.len());
                    let key = &line[..colon];
                    let v = || {
                        let rest = line.get(colon + 1..).unwrap_or_default();
                        crate::pmap::live::strtoul(rest, 10).0
                    };
                    match key {
                        b"Rss" => rss = v(),
                        b"Shared_Dirty" | b"Private_Dirty" => dirty = dirty.wrapping_add(v()),
                        _ => {}
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        let Ok(h) = parse_header(line) else {
            return Ok(());
        };
        if ext {
            finish_x(&mut out, &mut pending, rss, dirty, measured);
            t_rss = t_rss.wrapping_add(rss);
            t_dirty = t_dirty.wrapping_add(dirty);
            rss = 0;
            dirty = 0;
        }
        if h.end.wrapping_sub(1) < style.range.0 {
            return Ok(());
        }
        if style.range.1 < h.start {
            done = true;
            return Ok(());
        }
        let diff = h.end.wrapping_sub(h.start);
        let perms = h.perms.as_bytes();
        if h.perms.shared() {
            shared = shared.wrapping_add(diff);
        } else if h.perms.write() {
            priv_w = priv_w.wrapping_add(diff);
        } else {
            priv_r = priv_r.wrapping_add(diff);
        }
        let p5 = perms5(&perms);
        let (major, minor) = (h.dev.major, h.dev.minor);
        match style.mode {
            Mode::Extended => {
                let mut p = Vec::with_capacity(64);
                put_hex0(&mut p, h.start, 16);
                p.push(b' ');
                put_dec(&mut p, diff >> 10, 7);
                let at = p.len();
                p.push(b' ');
                p.extend_from_slice(&p5);
                p.push(b' ');
                let path = h.path.raw();
                mapping_name(
                    &mut p, path, h.start, h.end, major, minor, h.inode, style, ctx,
                );
                p.push(b'\n');
                pending = Some((p, at));
            }
            Mode::Device => {
                put_hex0(&mut out, h.start, 16);
                out.push(b' ');
                put_dec(&mut out, diff >> 10, 7);
                out.push(b' ');
                out.extend_from_slice(&p5);
                out.push(b' ');
                put_hex0(&mut out, h.offset, 16);
                out.push(b' ');
                put_hex0(&mut out, u64::from(major), 3);
                out.push(b':');
                put_hex0(&mut out, u64::from(minor), 5);
                out.push(b' ');
                mapping_name(
                    &mut out,
                    h.path.raw(),
                    h.start,
                    h.end,
                    major,
                    minor,
                    h.inode,
                    style,
                    ctx,
                );
                out.push(b'\n');
            }
            _ => {
                put_hex0(&mut out, h.start, 16);
                out.push(b' ');
                put_dec(&mut out, diff >> 10, 6);
                out.extend_from_slice(b"K ");
                out.extend_from_slice(&p5);
                out.push(b' ');
                mapping_name(
                    &mut out,
                    h.path.raw(),
                    h.start,
                    h.end,
                    major,
                    minor,
                    h.inode,
                    style,
                    ctx,
                );
                out.push(b'\n');
            }
        }
        flush_if_big(&mut out, w)
    })?;
    if ext {
        if pending.is_some() {
            t_rss = t_rss.wrapping_add(rss);
            t_dirty = t_dirty.wrapping_add(dirty);
        }
        finish_x(&mut out, &mut pending, rss, dirty, measured);
    }
    let mapped = shared.wrapping_add(priv_w).wrapping_add(priv_r);
    if !q {
        match style.mode {
            Mode::Extended => {
                out.extend_from_slice(b"---------------- ------- ------- ------- \n");
                out.extend_from_slice(b"total kB         ");
                put_dec(&mut out, mapped >> 10, 7);
                out.push(b' ');
                put_kb(&mut out, t_rss, measured);
                out.push(b' ');
                put_kb(&mut out, t_dirty, measured);
                out.push(b'\n');
            }
            Mode::Device => {
                out.extend_from_slice(b"mapped: ");
                put_dec(&mut out, mapped >> 10, 0);
                out.extend_from_slice(b"K    writeable/private: ");
                put_dec(&mut out, priv_w >> 10, 0);
                out.extend_from_slice(b"K    shared: ");
                put_dec(&mut out, shared >> 10, 0);
                out.extend_from_slice(b"K\n");
            }
            _ => {
                out.extend_from_slice(b" total ");
                put_dec(&mut out, mapped >> 10, 16);
                out.extend_from_slice(b"K\n");
            }
        }
    }
    w.write_all(&out)?;
    Ok(!ext || measured)
}

// ---- -X, -XX, -c ---------------------------------------------------------
//
// The widths of `-X` are known only at the end, so nothing can be printed
// while smaps is read. What can be done then is done then: the parser keeps
// each shown row as the bytes it will print (the header tokens, and each
// number as its decimal digits, copied from the kernel's text), so that the
// pass after the read only pads and copies, a few fixed-size moves a cell.

const UNIMPORTANT: &[&[u8]] = &[
    b"AnonHugePages",
    b"KernelPageSize",
    b"MMUPageSize",
    b"Shared_Dirty",
    b"Private_Dirty",
    b"Shared_Clean",
    b"Private_Clean",
    b"VmFlags",
];

fn enabled(style: &Style<'_>, name: &[u8]) -> bool {
    if style.x_level == 1 {
        return !UNIMPORTANT.contains(&name);
    }
    if let Some(list) = style.rc_fields {
        return list.iter().any(|f| f.as_slice() == name);
    }
    true
}

/// What to do with a field line at one position of a block.
#[derive(Clone, Copy)]
enum Decision {
    Skip,
    Col(usize),
    Flags,
}

/// Equality of two short keys of the same length without a call to memcmp
/// (smaps keys are 3 to 15 bytes; this runs for every field line).
#[inline(always)]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    if (8..=16).contains(&n) {
        // Two overlapping 8-byte words cover the whole key.
        word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
    } else if n < 8 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// Interns byte strings: index by content.
#[derive(Default)]
struct Interner {
    map: HashMap<Vec<u8>, u32>,
    list: Vec<Vec<u8>>,
}

impl Interner {
    fn id(&mut self, s: &[u8]) -> u32 {
        // Neighbouring mappings usually share a name (a library's
        // segments) or flags: skip the hash then.
        // (Lengths first: an empty name, every anonymous mapping's, then
        // costs no memcmp; glibc's masked-load memcmp is slow on the
        // dangling pointer of an empty Vec.)
        if let Some(last) = self.list.last()
            && last.len() == s.len()
            && (s.is_empty() || last.as_slice() == s)
        {
            return u32::try_from(self.list.len() - 1).unwrap_or(u32::MAX);
        }
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(s.to_vec());
        self.map.insert(s.to_vec(), i);
        i
    }
}

/// `strtoul(s, 16)` for the address of a maps line: plain lowercase or
/// uppercase hex digits, 1 to 16 of them, the kernel's form, parse here;
/// anything else goes to the C-like `strtoul`.
fn hex_addr(s: &[u8]) -> u64 {
    if (1..=16).contains(&s.len()) {
        let mut v = 0u64;
        for &b in s {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return crate::pmap::live::strtoul(s, 16).0,
            };
            v = (v << 4) | u64::from(d);
        }
        return v;
    }
    crate::pmap::live::strtoul(s, 16).0
}

/// The end of the line that holds `at`: the index of its newline, or the
/// end of the text.
fn line_end(b: &[u8], at: usize) -> usize {
    b.get(at..)
        .and_then(|r| r.find_byte(b'\n'))
        .map_or(b.len(), |i| at + i)
}

/// A number in a row record: a lone digit is itself, a longer number is its
/// length (2 to 20, below `'0'`) and its digits; 0 is an empty cell.
fn put_cell(rec: &mut Vec<u8>, digits: &[u8]) {
    if let [d] = digits {
        rec.push(*d);
    } else {
        rec.push(digits.len() as u8);
        rec.extend_from_slice(digits);
    }
}

/// Where a cell's digits start, and how many there are.
#[inline(always)]
fn cell_at(rec: &[u8], pos: usize) -> (usize, usize) {
    match rec.get(pos) {
        Some(&b) if b >= b'0' => (pos, 1),
        Some(&b) => (pos + 1, usize::from(b)),
        None => (pos, 0),
    }
}

/// The eight bytes at `at` as a little-endian word, when there are eight.
#[inline(always)]
fn word_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at + 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(s);
    Some(u64::from_le_bytes(w))
}

const SPACES: u64 = u64::from_le_bytes([b' '; 8]);
const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
const HIGH_NIBBLES: u64 = u64::from_le_bytes([0xf0; 8]);

/// The value of eight ASCII digits, the first in the low byte.
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let v = w.wrapping_sub(ZEROS);
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let lo = (v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32));
    lo.wrapping_add(hi) >> 32
}

/// A number line exactly as the kernel prints it at `p`: `prefix` (the
/// key, its colon and spaces to column 16), a number of one to eight digits
/// right-aligned in the next eight columns, then ` kB` (`SEQ_PUT_DEC`) or
/// nothing (`THPeligible`, `ProtectionKey`), and the newline. Returns the
/// number, its digits (in the low bytes, first digit lowest), how many
/// there are, and where the next line starts; `None` for anything else
/// (the caller then reads the line the general way).
#[inline(always)]
fn kb_line(b: &[u8], p: usize, prefix: &[u64; 2]) -> Option<(u64, u64, usize, usize)> {
    // A fixed-size view: no bounds checks below. (The last line of a block
    // is read the general way.)
    let s: &[u8; 32] = b.get(p..p + 32)?.try_into().ok()?;
    let w = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(x)
    };
    if w(0) != prefix[0] || w(8) != prefix[1] {
        return None;
    }
    let tail = w(24);
    let next = if tail & 0xffff_ffff == u64::from(u32::from_le_bytes(*b" kB\n")) {
        p + 28
    } else if tail & 0xff == u64::from(b'\n') {
        p + 25
    } else {
        return None;
    };
    let v = w(16);
    let x = v ^ SPACES;
    if x == 0 {
        return None;
    }
    // Spaces, then only digits.
    let lead = x.trailing_zeros() / 8;
    let mask = u64::MAX >> (8 * lead);
    let d = v >> (8 * lead);
    let want = ZEROS & mask;
    if d & HIGH_NIBBLES & mask != want
        || d.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES & mask != want
    {
        return None;
    }
    // The leading spaces become zeros (0x20 | 0x10 = '0'; digits keep
    // their bits).
    Some((
        eight_digits(v | 0x1010_1010_1010_1010),
        d,
        8 - lead as usize,
        next,
    ))
}

const ONES: u64 = u64::from_le_bytes([1; 8]);
const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);

/// The bytes of `w` equal to `c` marked by their high bit: the lowest mark
/// is exact (marks above it may be false).
#[inline(always)]
fn bytes_eq(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * u64::from(c));
    x.wrapping_sub(ONES) & !x & HIGH_BITS
}

/// The index of the first space or tab in `s` at or after `at`, or the end.
#[inline(always)]
fn find_blank(s: &[u8], mut at: usize) -> usize {
    while let Some(w) = word_at(s, at) {
        let m = bytes_eq(w, b' ') | bytes_eq(w, b'\t');
        if m != 0 {
            return at + (m.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&c) = s.get(at)
        && c != b' '
        && c != b'\t'
    {
        at += 1;
    }
    at.min(s.len())
}

/// The index of the first byte that is not a space or tab in `s` at or
/// after `at`, or the end; spaces go eight at a time.
#[inline(always)]
fn skip_blanks(s: &[u8], mut at: usize) -> usize {
    loop {
        if let Some(w) = word_at(s, at) {
            let x = w ^ SPACES;
            if x == 0 {
                at += 8;
                continue;
            }
            at += (x.trailing_zeros() / 8) as usize;
        }
        match s.get(at) {
            Some(b' ' | b'\t') => at += 1,
            _ => return at.min(s.len()),
        }
    }
}

/// A field key seen at one line position, with what to do with its lines.
struct CachedKey {
    text: Vec<u8>,
    decision: Decision,
    /// `text` and its colon as two little-endian words and the masks of
    /// their bytes, when they fit in 16 bytes (every key a kernel prints).
    words: Option<([u64; 2], [u64; 2])>,
    /// The first 16 bytes of the line as the kernel prints a size
    /// (`SEQ_PUT_DEC`: the key, its colon, spaces), for `kb_line`.
    prefix: Option<[u64; 2]>,
}

impl CachedKey {
    fn new(key: &[u8], decision: Decision) -> Self {
        let words = (key.len() < 16).then(|| {
            let mut b = [0u8; 16];
            let mut m = [0u8; 16];
            b[..key.len()].copy_from_slice(key);
            b[key.len()] = b':';
            m[..=key.len()].fill(0xff);
            let w = |a: &[u8; 16], i: usize| {
                let mut x = [0u8; 8];
                x.copy_from_slice(&a[i..i + 8]);
                u64::from_le_bytes(x)
            };
            ([w(&b, 0), w(&b, 8)], [w(&m, 0), w(&m, 8)])
        });
        let prefix = (key.len() < 16 && !matches!(decision, Decision::Flags)).then(|| {
            let mut b = [b' '; 16];
            b[..key.len()].copy_from_slice(key);
            b[key.len()] = b':';
            [word_at(&b, 0).unwrap_or(0), word_at(&b, 8).unwrap_or(0)]
        });
        CachedKey {
            text: key.to_vec(),
            decision,
            words,
            prefix,
        }
    }

    /// The line at `p` starts with this key and a colon.
    #[inline(always)]
    fn matches(&self, b: &[u8], p: usize) -> bool {
        if let Some((k, m)) = &self.words
            && let (Some(w0), Some(w1)) = (word_at(b, p), word_at(b, p + 8))
        {
            return (w0 ^ k[0]) & m[0] == 0 && (w1 ^ k[1]) & m[1] == 0;
        }
        let k = &self.text;
        b.get(p + k.len()) == Some(&b':') && b.get(p..p + k.len()).is_some_and(|s| key_eq(s, k))
    }
}

/// The first pass of `-X`: parses smaps text block by block and keeps one
/// record per shown mapping in `recs`: five tokens (a length byte and the
/// bytes each), the name id, the cell count, the cells (see `put_cell`) in
/// column order, and the flags id + 1 (0: none).
struct Detail<'s, 'c> {
    style: &'s Style<'s>,
    quiet: bool,
    cols: &'c mut Vec<Col>,
    /// VmFlags is shown (`-XX`, or chosen in the rc file).
    want_flags: bool,
    maxw: [usize; 5],
    maxwv: usize,
    has_vmflags: bool,
    any: bool,
    names: Interner,
    flags: Interner,
    recs: Vec<u8>,
    /// A mapping is being read; it is shown (in the `-A` range).
    in_row: bool,
    inr: bool,
    cur_flags: Option<u32>,
    /// Where this mapping's cells start in `recs` (its count is the byte
    /// before), and how many it has.
    cells_at: usize,
    ncells: usize,
    /// Each cell's column has been one more than the last: they go to
    /// `recs` as they come. Otherwise `cell_cols` has the column of each,
    /// and `finish` puts them in order.
    in_order: bool,
    cell_cols: Vec<usize>,
    /// Scratch for `finish`.
    cells: Vec<u8>,
    /// The key and decision seen at each line position of a block.
    cache: Vec<CachedKey>,
    line_idx: usize,
}

impl Detail<'_, '_> {
    /// Parses whole lines (the last one may lack its newline).
    fn block(&mut self, b: &[u8]) {
        let mut p = 0;
        while let Some(&c) = b.get(p) {
            p = match c {
                b'A'..=b'Z' => self.field(b, p),
                b'\n' => p + 1,
                _ => self.header(b, p),
            };
        }
    }

    /// A `Key: value` line at `p`; returns where the next line starts.
    #[inline(always)]
    fn field(&mut self, b: &[u8], p: usize) -> usize {
        if !self.in_row {
            return line_end(b, p) + 1;
        }
        // The lines in the kernel's own form, one after the other.
        let mut p = p;
        while let Some(&CachedKey {
            prefix: Some(pre),
            decision,
            ..
        }) = self.cache.get(self.line_idx)
            && let Some((value, digits, n, next)) = kb_line(b, p, &pre)
        {
            self.line_idx += 1;
            if let Decision::Col(c) = decision
                && self.inr
            {
                self.cell_word(c, digits, n, value);
            }
            p = next;
            if !b.get(p).is_some_and(u8::is_ascii_uppercase) {
                return p;
            }
        }
        let li = self.line_idx;
        // Kernels print the same keys in the same order for every mapping:
        // try the key seen at this line position first, which saves looking
        // for the colon.
        let (colon, decision) = match self.cache.get(li) {
            Some(k) if k.matches(b, p) => (p + k.text.len(), k.decision),
            _ => {
                let end = line_end(b, p);
                let Some(c) = b[p..end].find_byte(b':') else {
                    return end + 1;
                };
                (p + c, self.decide(&b[p..p + c], li))
            }
        };
        self.line_idx += 1;
        match decision {
            Decision::Skip => return line_end(b, colon) + 1,
            Decision::Col(_) if !self.inr => return line_end(b, colon) + 1,
            _ => {}
        }
        let mut q = skip_blanks(b, colon + 1);
        if let Decision::Flags = decision {
            return self.vmflags(b, q);
        }
        let ds = q;
        let mut value = 0u64;
        while let Some(&d) = b.get(q)
            && d.is_ascii_digit()
            && q - ds < 20
        {
            value = value.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            q += 1;
        }
        let next = if b.get(q..q + 4) == Some(&b" kB\n"[..]) {
            q + 4
        } else if b.get(q) == Some(&b'\n') {
            q + 1
        } else {
            line_end(b, q) + 1
        };
        match decision {
            Decision::Col(c) if self.inr && q > ds => self.cell(c, &b[ds..q], value),
            _ => {}
        }
        next
    }

    /// Counts a cell of column `c`; the first one out of order starts the
    /// list of columns.
    #[inline(always)]
    fn note_col(&mut self, c: usize) {
        if self.in_order && c != self.ncells {
            self.in_order = false;
            self.cell_cols.clear();
            self.cell_cols.extend(0..self.ncells);
        }
        if !self.in_order {
            self.cell_cols.push(c);
        }
        self.ncells += 1;
    }

    /// `cell` for `kb_line`'s digits: `n` (1 to 8) of them in the low bytes
    /// of `digits`.
    #[inline(always)]
    fn cell_word(&mut self, c: usize, digits: u64, n: usize, value: u64) {
        if n > 1 && digits & 0xff == u64::from(b'0') {
            // Leading zeros: not the kernel's form.
            let bytes = digits.to_le_bytes();
            return self.cell(c, &bytes[..n], value);
        }
        self.note_col(c);
        // `put_cell` with fixed-size copies: nine bytes, then cut.
        let at = self.recs.len();
        let mut tmp = [0u8; 9];
        tmp[1..].copy_from_slice(&digits.to_le_bytes());
        let len = if n == 1 {
            tmp[0] = tmp[1];
            1
        } else {
            tmp[0] = n as u8;
            n + 1
        };
        self.recs.extend_from_slice(&tmp);
        self.recs.truncate(at + len);
        if let Some(col) = self.cols.get_mut(c) {
            col.total = col.total.wrapping_add(value);
            if self.quiet {
                col.width = col.width.max(n);
            }
        }
    }

    /// Records `value`, read from `digits` (1 to 20 of them), in column `c`
    /// of the mapping being read.
    #[inline(always)]
    fn cell(&mut self, c: usize, digits: &[u8], value: u64) {
        self.note_col(c);
        let nd = digits.len();
        let len = if nd < 20 && (nd == 1 || digits[0] != b'0') {
            // The kernel's digits are the number as pmap prints it.
            put_cell(&mut self.recs, digits);
            nd
        } else {
            let mut tmp = Vec::with_capacity(20);
            put_dec(&mut tmp, value, 0);
            put_cell(&mut self.recs, &tmp);
            tmp.len()
        };
        if let Some(col) = self.cols.get_mut(c) {
            col.total = col.total.wrapping_add(value);
            if self.quiet {
                col.width = col.width.max(len);
            }
        }
    }

    /// What the key at line position `li` means; remembered for that
    /// position.
    fn decide(&mut self, key: &[u8], li: usize) -> Decision {
        let style = self.style;
        let d = if key == b"VmFlags" {
            if self.want_flags {
                Decision::Flags
            } else {
                Decision::Skip
            }
        } else if key.len() > 31 || !enabled(style, key) {
            Decision::Skip
        } else if let Some(i) = self.cols.iter().position(|c| c.name == key) {
            Decision::Col(i)
        } else {
            self.cols.push(Col {
                name: key.to_vec(),
                width: if style.quiet { 0 } else { key.len() },
                total: 0,
            });
            Decision::Col(self.cols.len() - 1)
        };
        let k = CachedKey::new(key, d);
        if li < self.cache.len() {
            self.cache[li] = k;
        } else {
            self.cache.push(k);
        }
        d
    }

    /// The value of a `VmFlags:` line starting at `q`.
    fn vmflags(&mut self, b: &[u8], q: usize) -> usize {
        let end = line_end(b, q);
        let v = &b[q..end];
        let n = v
            .iter()
            .take(127)
            .take_while(|&&b| b.is_ascii_lowercase() || b == b' ')
            .count();
        if n > 0 {
            let mut f = &v[..n];
            if let Some(x) = f.strip_suffix(b" ") {
                f = x;
            }
            // Widths come from every mapping, shown or not.
            self.maxwv = self.maxwv.max(f.len());
            self.has_vmflags = true;
            if self.inr {
                self.cur_flags = Some(self.flags.id(f));
            }
        }
        end + 1
    }

    /// A line that is not `Key: value`: a mapping's header, or nothing.
    /// Its tokens are pmap's `-X` fields: start, perms, offset, device,
    /// inode, then the name (all of it; pmap keeps 127 bytes).
    fn header(&mut self, b: &[u8], p: usize) -> usize {
        let end = line_end(b, p);
        let line = &b[..end];
        let mut toks = [(0usize, 0usize); 5];
        let mut at = skip_blanks(line, p);
        for t in toks.iter_mut() {
            let e = find_blank(line, at);
            if e == at {
                return end + 1;
            }
            *t = (at, e);
            at = skip_blanks(line, e);
        }
        let name = &line[at..];
        // The range: its start is the first token, its end only decides
        // whether an -A range shows it.
        let (rs, re) = toks[0];
        let Some(dash) = line[rs..re].find_byte(b'-') else {
            return end + 1;
        };
        toks[0] = (rs, rs + dash);
        self.finish();
        self.line_idx = 0;
        self.any = true;
        for (m, &(ts, te)) in self.maxw.iter_mut().zip(toks.iter()) {
            *m = (*m).max(te - ts);
        }
        self.in_row = true;
        self.inr = self.style.range == (0, u64::MAX)
            || in_range(
                self.style,
                hex_addr(&line[rs..rs + dash]),
                hex_addr(&line[rs + dash + 1..re]),
            );
        if self.inr {
            // Each token as a length byte and its bytes, gathered with
            // fixed-size copies when the text allows.
            let mut rec = [0u8; 5 * 17];
            let mut n = 0;
            for &(ts, te) in &toks {
                let len = (te - ts).min(255);
                match b.get(ts..ts + 16) {
                    Some(src) if len <= 16 => {
                        rec[n] = len as u8;
                        rec[n + 1..n + 17].copy_from_slice(src);
                        n += 1 + len;
                    }
                    _ => {
                        self.recs.extend_from_slice(&rec[..n]);
                        n = 0;
                        self.recs.push(len as u8);
                        self.recs.extend_from_slice(&b[ts..ts + len]);
                    }
                }
            }
            self.recs.extend_from_slice(&rec[..n]);
            put_varint(&mut self.recs, u64::from(self.names.id(name)));
            // The cell count, set by `finish`.
            self.recs.push(0);
            self.cells_at = self.recs.len();
        }
        end + 1
    }

    /// Ends the record of the mapping being read: the cell count (a byte,
    /// or 255 and a varint), the cells in column order, the flags id + 1.
    fn finish(&mut self) {
        if self.in_row && self.inr {
            let at = self.cells_at;
            if self.in_order && self.ncells < 255 {
                self.recs[at - 1] = self.ncells as u8;
            } else {
                // A column twice or out of order (the last value of each
                // column counts), or very many: written again.
                self.cells.clear();
                self.cells.extend_from_slice(&self.recs[at..]);
                self.recs.truncate(at - 1);
                if self.in_order {
                    self.cell_cols.clear();
                    self.cell_cols.extend(0..self.ncells);
                }
                let n = self.cell_cols.iter().max().map_or(0, |&m| m + 1);
                let mut slots: Vec<Option<(usize, usize)>> = vec![None; n];
                let mut pos = 0;
                for &c in &self.cell_cols {
                    let (s, len) = cell_at(&self.cells, pos);
                    slots[c] = Some((pos, s + len));
                    pos = s + len;
                }
                if n < 255 {
                    self.recs.push(n as u8);
                } else {
                    self.recs.push(255);
                    put_varint(&mut self.recs, n as u64);
                }
                for s in slots {
                    match s {
                        Some((a, z)) => self.recs.extend_from_slice(&self.cells[a..z]),
                        None => self.recs.push(0),
                    }
                }
            }
            put_varint(
                &mut self.recs,
                self.cur_flags.map_or(0, |f| u64::from(f) + 1),
            );
        }
        self.in_row = false;
        self.cur_flags = None;
        self.ncells = 0;
        self.in_order = true;
    }
}

/// Bytes of output gathered before each write.
const OUT_CHUNK: usize = 256 * 1024;
/// Room kept past the end of what is written: a cell writes up to 48 bytes
/// beyond its start.
const SLACK: usize = 64;

/// Writes one right-justified field at `at`: a space when `sep` is 1, then
/// `src[..len]` padded on the left to `width`. Returns where it ends. Bytes
/// after the end may be overwritten with anything (the next field or the
/// next row covers them); `buf` grows when needed.
#[inline(always)]
fn field_at(
    buf: &mut Vec<u8>,
    at: usize,
    sep: usize,
    width: usize,
    src: &[u8],
    len: usize,
) -> usize {
    let span = sep + width;
    if len <= width && span <= 32 && len <= 16 && src.len() >= 16 && at + 48 <= buf.len() {
        // Spaces over the whole field and what the last one left behind,
        // then 16 bytes from the digits on: those past the end are junk.
        buf[at..at + 32].copy_from_slice(&[b' '; 32]);
        let c = at + span - len;
        buf[c..c + 16].copy_from_slice(&src[..16]);
        return at + span;
    }
    let end = at + sep + width.max(len);
    if end + SLACK > buf.len() {
        buf.resize(end + SLACK, 0);
    }
    buf[at..end - len].fill(b' ');
    buf[end - len..end].copy_from_slice(&src[..len]);
    // Cover what an earlier field left past its end.
    buf[end..end + 32].fill(b' ');
    end
}

/// Copies `s` to `buf` at `at`, growing it when needed; returns the end.
fn bytes_at(buf: &mut Vec<u8>, at: usize, s: &[u8]) -> usize {
    let end = at + s.len();
    if end + SLACK > buf.len() {
        buf.resize(end + SLACK, 0);
    }
    buf[at..end].copy_from_slice(s);
    end
}

/// Prints one process in the `-X`/`-XX`/`-c` format.
pub fn detail(
    r: &mut (dyn Read + Send),
    w: &mut dyn Write,
    style: &Style<'_>,
    persist: &mut Persist,
) -> io::Result<()> {
    let q = style.quiet;
    let en = |n: &str| enabled(style, n.as_bytes());
    let mut d = Detail {
        style,
        quiet: q,
        cols: &mut persist.cols,
        want_flags: en("VmFlags"),
        maxw: [0; 5],
        maxwv: 0,
        has_vmflags: false,
        any: false,
        names: Interner::default(),
        flags: Interner::default(),
        recs: Vec::new(),
        in_row: false,
        inr: false,
        cur_flags: None,
        cells_at: 0,
        ncells: 0,
        in_order: true,
        cell_cols: Vec::new(),
        cells: Vec::new(),
        cache: Vec::new(),
        line_idx: 0,
    };
    for_each_block(r, |b| {
        d.block(b);
        Ok(())
    })?;
    d.finish();
    let Detail {
        cols,
        mut maxw,
        mut maxwv,
        has_vmflags,
        any,
        names,
        flags,
        mut recs,
        ..
    } = d;
    // Cells are copied 16 bytes at a time.
    recs.resize(recs.len() + 16, 0);

    if !q {
        for c in cols.iter_mut() {
            c.width = c.width.max(dec_len(c.total));
        }
    }
    let show = [true, en("Perm"), en("Offset"), en("Device"), en("Inode")];
    let show_flags = has_vmflags && en("VmFlags");
    let show_map = en("Mapping");
    let mut head: Vec<u8> = Vec::new();
    if any && !q {
        const HEAD: [&str; 5] = ["Address", "Perm", "Offset", "Device", "Inode"];
        for i in 0..5 {
            if show[i] {
                maxw[i] = justify(&mut head, HEAD[i], maxw[i], true);
            }
        }
        for c in cols.iter() {
            put_right(&mut head, &c.name, c.width);
            head.push(b' ');
        }
        if show_flags {
            maxwv = justify(&mut head, "VmFlags", maxwv, true);
        }
        if show_map {
            head.extend_from_slice(b"Mapping\n");
        } else {
            head.push(b'\n');
        }
    }
    w.write_all(&head)?;
    // What each name shows: from its last '/' on, or the whole path (-p).
    let shown: Vec<&[u8]> = names
        .list
        .iter()
        .map(|n| match n.rfind_byte(b'/') {
            Some(i) if !style.showpath => &n[i + 1..],
            _ => n.as_slice(),
        })
        .collect();
    let widths: Vec<usize> = cols.iter().map(|c| c.width).collect();
    let mut buf = vec![0u8; OUT_CHUNK + 4096];
    let mut o = 0;
    let mut pos = 0;
    let end = recs.len() - 16;
    while pos < end {
        for (i, &m) in maxw.iter().enumerate() {
            let len = usize::from(recs[pos]);
            if show[i] {
                o = field_at(&mut buf, o, usize::from(i > 0), m, &recs[pos + 1..], len);
            }
            pos += 1 + len;
        }
        let name_id = get_varint(&recs, &mut pos) as usize;
        let mut n = usize::from(recs[pos]);
        pos += 1;
        if n == 255 {
            n = get_varint(&recs, &mut pos) as usize;
        }
        for (k, &cw) in widths.iter().enumerate() {
            let (s, len) = if k < n { cell_at(&recs, pos) } else { (pos, 0) };
            o = field_at(&mut buf, o, 1, cw, &recs[s..], len);
            if k < n {
                pos = s + len;
            }
        }
        // Cells of columns this process does not have (none unless the
        // text is odd).
        for _ in widths.len()..n {
            let (s, len) = cell_at(&recs, pos);
            pos = s + len;
        }
        let fl = get_varint(&recs, &mut pos);
        if show_flags {
            let f = match fl {
                0 => &[][..],
                i => flags.list.get((i - 1) as usize).map_or(&[][..], |f| f),
            };
            o = field_at(&mut buf, o, 1, maxwv, f, f.len());
        }
        if show_map {
            o = bytes_at(&mut buf, o, b" ");
            o = bytes_at(&mut buf, o, shown.get(name_id).copied().unwrap_or_default());
        }
        o = bytes_at(&mut buf, o, b"\n");
        if o >= OUT_CHUNK {
            w.write_all(&buf[..o])?;
            o = 0;
        }
    }
    w.write_all(&buf[..o])?;
    drop(buf);
    let mut out: Vec<u8> = Vec::new();
    if !q && !cols.is_empty() {
        let mut gap = maxw[0] + 1;
        for i in 1..5 {
            if show[i] {
                gap += maxw[i] + 1;
            }
        }
        out.resize(out.len() + gap, b' ');
        for c in cols.iter() {
            out.resize(out.len() + c.width, b'=');
            out.push(b' ');
        }
        out.push(b'\n');
        out.resize(out.len() + gap, b' ');
        for c in cols.iter_mut() {
            put_dec(&mut out, c.total, c.width);
            out.push(b' ');
            c.total = 0;
        }
        out.extend_from_slice(b"KB \n");
    }
    w.write_all(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kb_line` on `line` (padded as text following it would): the number,
    /// how many digits, the line's length.
    fn kb(line: &str, key: &str) -> Option<(u64, usize, usize)> {
        let k = CachedKey::new(key.as_bytes(), Decision::Col(0));
        let mut text = line.as_bytes().to_vec();
        text.resize(64, b'X');
        let (v, _, n, next) = kb_line(&text, 0, k.prefix.as_ref()?)?;
        Some((v, n, next))
    }

    #[test]
    fn eight_digits_is_decimal() {
        for v in [0u64, 1, 7, 10, 99, 12_345, 4_096_000, 99_999_999] {
            let text = format!("{v:08}");
            let w = word_at(text.as_bytes(), 0).unwrap_or(0);
            assert_eq!(eight_digits(w), v, "{text}");
        }
    }

    #[test]
    fn kb_line_takes_only_the_kernel_form() {
        assert_eq!(
            kb("Rss:                  64 kB\n", "Rss"),
            Some((64, 2, 28))
        );
        assert_eq!(kb("Rss:                   0 kB\n", "Rss"), Some((0, 1, 28)));
        assert_eq!(
            kb("Rss:            12345678 kB\n", "Rss"),
            Some((12_345_678, 8, 28))
        );
        assert_eq!(
            kb("KernelPageSize:        4 kB\n", "KernelPageSize"),
            Some((4, 1, 28))
        );
        assert_eq!(
            kb("THPeligible:           1\n", "THPeligible"),
            Some((1, 1, 25))
        );
        // Anything else is read the general way.
        for odd in [
            "Rss:                     kB\n",
            "Rss:               6 4 kB\n",
            "Rss:\t                 64 kB\n",
            "Rss:                  6x kB\n",
            "Rss:           123456789 kB\n",
            "Rss:                  64 kBX",
            "Rss:                  64 KB\n",
            "Pss:                  64 kB\n",
            "THPeligible:    0\n",
        ] {
            assert_eq!(kb(odd, "Rss"), None, "{odd:?}");
        }
    }
}
