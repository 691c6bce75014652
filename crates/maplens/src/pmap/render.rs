//! The four output formats of procps-ng pmap 4.0.2, produced from one
//! streaming read of maps or smaps text.
//!
//! Default, `-x` and `-d` print as they read (their widths are fixed).
//! `-X`, `-XX` and `-c` need every width before the first line, so the
//! first pass keeps a compact record of each mapping (varint numbers,
//! interned names and flags) and the second prints from it; the text is
//! read once, never twice.

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

/// Reads `r` and calls `f` for each line (without its newline). A second
/// thread reads while this one parses, so the kernel's work of producing
/// smaps overlaps ours; a few chunks are in flight at most, so memory stays
/// flat however large the file.
pub fn for_each_line(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    use std::sync::mpsc;
    if std::env::var_os("MAPLENS_PMAP_SYNC").is_some() {
        return for_each_line_sync(r, f);
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
                            carry.extend_from_slice(&chunk[..i]);
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
                let mut rest = &chunk[start..];
                while let Some(i) = rest.find_byte(b'\n') {
                    f(&rest[..i])?;
                    rest = &rest[i + 1..];
                }
                carry.extend_from_slice(rest);
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

fn for_each_line_sync(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    loop {
        while let Some(i) = buf[start..end].find_byte(b'\n') {
            f(&buf[start..start + i])?;
            start += i + 1;
        }
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
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
            if end > start {
                f(&buf[start..end])?;
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
pub fn simple(
    r: &mut (dyn Read + Send),
    w: &mut dyn Write,
    style: &Style<'_>,
    ctx: &NameCtx,
) -> io::Result<()> {
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
    // -x: the line of the mapping being read, printed at its end.
    let mut pending: Option<Vec<u8>> = None;
    let (mut rss, mut dirty) = (0u64, 0u64);
    let mut done = false;
    let ext = style.mode == Mode::Extended;
    let finish_x = |out: &mut Vec<u8>, pending: &mut Option<Vec<u8>>, rss: u64, dirty: u64| {
        if let Some(p) = pending.take() {
            out.extend_from_slice(&p[..16 + 1 + 7]);
            out.push(b' ');
            put_dec(out, rss, 7);
            out.push(b' ');
            put_dec(out, dirty, 7);
            out.extend_from_slice(&p[16 + 1 + 7..]);
        }
    };
    for_each_line(r, |line| {
        if done {
            return Ok(());
        }
        match line.first() {
            None => return Ok(()),
            Some(b'A'..=b'Z') => {
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
            finish_x(&mut out, &mut pending, rss, dirty);
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
                p.push(b' ');
                p.extend_from_slice(&p5);
                p.push(b' ');
                let path = h.path.raw();
                mapping_name(
                    &mut p, path, h.start, h.end, major, minor, h.inode, style, ctx,
                );
                p.push(b'\n');
                pending = Some(p);
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
        finish_x(&mut out, &mut pending, rss, dirty);
    }
    let mapped = shared.wrapping_add(priv_w).wrapping_add(priv_r);
    if !q {
        match style.mode {
            Mode::Extended => {
                out.extend_from_slice(b"---------------- ------- ------- ------- \n");
                out.extend_from_slice(b"total kB         ");
                put_dec(&mut out, mapped >> 10, 7);
                out.push(b' ');
                put_dec(&mut out, t_rss, 7);
                out.push(b' ');
                put_dec(&mut out, t_dirty, 7);
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
    w.write_all(&out)
}

// ---- -X, -XX, -c ---------------------------------------------------------

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
        if let Some(last) = self.list.last()
            && last.as_slice() == s
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

fn next_token<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    while let [b' ' | b'\t', r @ ..] = *rest {
        *rest = r;
    }
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(rest.len());
    let (tok, r) = rest.split_at(end);
    *rest = r;
    (!tok.is_empty()).then_some(tok)
}

/// Start, perms, offset, device and inode text; start; end; name.
type HeaderTokens<'a> = ([&'a [u8]; 5], u64, u64, &'a [u8]);

/// Splits a header line into pmap's `-X` tokens: start, perms, offset,
/// device, inode, and the name (all of it; pmap keeps 127 bytes).
fn tokens(line: &[u8]) -> Option<HeaderTokens<'_>> {
    let mut rest = line;
    let range = next_token(&mut rest)?;
    let dash = range.find_byte(b'-')?;
    let (s, e) = (&range[..dash], &range[dash + 1..]);
    let perms = next_token(&mut rest)?;
    let offset = next_token(&mut rest)?;
    let dev = next_token(&mut rest)?;
    let inode = next_token(&mut rest)?;
    while let [b' ' | b'\t', r @ ..] = rest {
        rest = r;
    }
    let start = crate::pmap::live::strtoul(s, 16).0;
    let end = crate::pmap::live::strtoul(e, 16).0;
    Some(([s, perms, offset, dev, inode], start, end, rest))
}

/// Prints one process in the `-X`/`-XX`/`-c` format.
pub fn detail(
    r: &mut (dyn Read + Send),
    w: &mut dyn Write,
    style: &Style<'_>,
    persist: &mut Persist,
) -> io::Result<()> {
    let q = style.quiet;
    let mut maxw = [0usize; 5];
    let mut maxwv = 0usize;
    let mut has_vmflags = false;
    let mut any = false;
    let mut names = Interner::default();
    let mut flags = Interner::default();
    // One record per in-range mapping: tokens (length-prefixed), name id,
    // flags id + 1 (0: none), then the values.
    let mut recs: Vec<u8> = Vec::new();
    // Per mapping being read.
    let mut cur_vals: Vec<(usize, u64)> = Vec::new();
    let mut cur_hdr: Option<(Vec<u8>, bool)> = None;
    let mut cur_flags: Option<u32> = None;
    let cols = &mut persist.cols;
    let mut cache: Vec<(Vec<u8>, Decision)> = Vec::new();
    let mut line_idx = 0usize;

    let finish = |recs: &mut Vec<u8>,
                  hdr: Option<(Vec<u8>, bool)>,
                  vals: &mut Vec<(usize, u64)>,
                  fl: Option<u32>,
                  cols: &mut Vec<Col>| {
        if let Some((h, inr)) = hdr
            && inr
        {
            recs.extend_from_slice(&h);
            put_varint(recs, fl.map_or(0, |f| u64::from(f) + 1));
            let in_order = vals.iter().enumerate().all(|(i, &(c, _))| i == c);
            if in_order {
                put_varint(recs, (vals.len() as u64) << 1);
                for &(_, v) in vals.iter() {
                    put_varint(recs, v);
                }
            } else {
                put_varint(recs, ((vals.len() as u64) << 1) | 1);
                for &(c, v) in vals.iter() {
                    put_varint(recs, c as u64);
                    put_varint(recs, v);
                }
            }
            for &(c, v) in vals.iter() {
                let col = &mut cols[c];
                col.total = col.total.wrapping_add(v);
                if q {
                    col.width = col.width.max(dec_len(v));
                }
            }
        }
        vals.clear();
    };

    for_each_line(r, |line| {
        match line.first() {
            None => {}
            Some(b'A'..=b'Z') => {
                if cur_hdr.is_none() {
                    return Ok(());
                }
                let li = line_idx;
                // Kernels print the same keys in the same order for every
                // mapping: try the key seen at this line position first,
                // which saves looking for the colon.
                let colon = match cache.get(li) {
                    Some((k, _))
                        if line.get(k.len()) == Some(&b':') && key_eq(&line[..k.len()], k) =>
                    {
                        k.len()
                    }
                    _ => match line.find_byte(b':') {
                        Some(c) => c,
                        None => return Ok(()),
                    },
                };
                let key = &line[..colon];
                line_idx += 1;
                // Decide once per line position.
                let decision = match cache.get(li) {
                    Some((k, d)) if k.len() == key.len() && key_eq(k, key) => *d,
                    _ => {
                        let d = if key == b"VmFlags" {
                            Decision::Flags
                        } else if key.len() > 31 || !enabled(style, key) {
                            Decision::Skip
                        } else if let Some(i) = cols.iter().position(|c| c.name == key) {
                            Decision::Col(i)
                        } else {
                            cols.push(Col {
                                name: key.to_vec(),
                                width: if q { 0 } else { key.len() },
                                total: 0,
                            });
                            Decision::Col(cols.len() - 1)
                        };
                        if li < cache.len() {
                            cache[li] = (key.to_vec(), d);
                        } else {
                            cache.push((key.to_vec(), d));
                        }
                        d
                    }
                };
                let mut v = &line[colon + 1..];
                while let [b' ' | b'\t', r @ ..] = v {
                    v = r;
                }
                let c = match decision {
                    Decision::Skip => return Ok(()),
                    Decision::Col(c) => c,
                    Decision::Flags => {
                        let n = v
                            .iter()
                            .take(127)
                            .take_while(|&&b| b.is_ascii_lowercase() || b == b' ')
                            .count();
                        if n == 0 {
                            return Ok(());
                        }
                        let mut f = &v[..n];
                        if let Some(x) = f.strip_suffix(b" ") {
                            f = x;
                        }
                        maxwv = maxwv.max(f.len());
                        has_vmflags = true;
                        cur_flags = Some(flags.id(f));
                        return Ok(());
                    }
                };
                let mut value = 0u64;
                let mut digits = 0;
                for &b in v.iter().take(20) {
                    if !b.is_ascii_digit() {
                        break;
                    }
                    value = value.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
                    digits += 1;
                }
                if digits == 0 {
                    return Ok(());
                }
                cur_vals.push((c, value));
            }
            Some(_) => {
                let Some((toks, start, end, name)) = tokens(line) else {
                    return Ok(());
                };
                finish(&mut recs, cur_hdr.take(), &mut cur_vals, cur_flags, cols);
                cur_flags = None;
                line_idx = 0;
                any = true;
                for (m, t) in maxw.iter_mut().zip(toks.iter()) {
                    *m = (*m).max(t.len());
                }
                let inr = in_range(style, start, end);
                let mut h = Vec::with_capacity(48);
                if inr {
                    for t in toks {
                        h.push(t.len().min(255) as u8);
                        h.extend_from_slice(&t[..t.len().min(255)]);
                    }
                    put_varint(&mut h, u64::from(names.id(name)));
                }
                cur_hdr = Some((h, inr));
            }
        }
        Ok(())
    })?;
    finish(&mut recs, cur_hdr.take(), &mut cur_vals, cur_flags, cols);

    if !q {
        for c in cols.iter_mut() {
            c.width = c.width.max(dec_len(c.total));
        }
    }
    let en = |n: &str| enabled(style, n.as_bytes());
    let show = [true, en("Perm"), en("Offset"), en("Device"), en("Inode")];
    let show_flags = has_vmflags && en("VmFlags");
    let show_map = en("Mapping");
    let mut out: Vec<u8> = Vec::with_capacity(128 * 1024);
    if any && !q {
        const HEAD: [&str; 5] = ["Address", "Perm", "Offset", "Device", "Inode"];
        for i in 0..5 {
            if show[i] {
                maxw[i] = justify(&mut out, HEAD[i], maxw[i], true);
            }
        }
        for c in cols.iter() {
            put_right(&mut out, &c.name, c.width);
            out.push(b' ');
        }
        if show_flags {
            maxwv = justify(&mut out, "VmFlags", maxwv, true);
        }
        if show_map {
            out.extend_from_slice(b"Mapping\n");
        } else {
            out.push(b'\n');
        }
    }
    let mut vals: Vec<Option<u64>> = vec![None; cols.len()];
    let mut pos = 0;
    while pos < recs.len() {
        for (i, &m) in maxw.iter().enumerate() {
            let len = recs[pos] as usize;
            let tok = &recs[pos + 1..pos + 1 + len];
            pos += 1 + len;
            if show[i] {
                if i > 0 {
                    out.push(b' ');
                }
                put_right(&mut out, tok, m);
            }
        }
        let name_id = get_varint(&recs, &mut pos) as usize;
        let fl = get_varint(&recs, &mut pos);
        let head = get_varint(&recs, &mut pos);
        let n = (head >> 1) as usize;
        vals.iter_mut().for_each(|v| *v = None);
        for i in 0..n {
            let c = if head & 1 == 1 {
                get_varint(&recs, &mut pos) as usize
            } else {
                i
            };
            let v = get_varint(&recs, &mut pos);
            if let Some(slot) = vals.get_mut(c) {
                *slot = Some(v);
            }
        }
        for (c, v) in cols.iter().zip(vals.iter()) {
            out.push(b' ');
            match v {
                Some(v) => put_dec(&mut out, *v, c.width),
                None => put_right(&mut out, b"", c.width),
            }
        }
        if show_flags {
            out.push(b' ');
            let f = match fl {
                0 => &[][..],
                i => flags.list[(i - 1) as usize].as_slice(),
            };
            put_right(&mut out, f, maxwv);
        }
        if show_map {
            out.push(b' ');
            let name = names.list[name_id].as_slice();
            if style.showpath {
                out.extend_from_slice(name);
            } else {
                match name.rfind_byte(b'/') {
                    Some(i) => out.extend_from_slice(&name[i + 1..]),
                    None => out.extend_from_slice(name),
                }
            }
        }
        out.push(b'\n');
        flush_if_big(&mut out, w)?;
    }
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
