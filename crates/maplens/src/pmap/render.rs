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
use maplens_core::parse::{
    Entry, FIELD_COUNT, Field, FieldLine, FieldLines, HeaderText, Parser, SmapsBlock,
    looks_like_header, whole_regions,
};

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

/// Where the first region of `chunk` starts, `chunk` following text that
/// ends with a newline when `at_line_start` (else mid-line): the first
/// whole line from there that begins like a header. `None` when `chunk`
/// holds no such line (the region goes on past it, or its line does).
fn first_region(chunk: &[u8], at_line_start: bool) -> Option<usize> {
    let mut at = if at_line_start {
        0
    } else {
        chunk.find_byte(b'\n')? + 1
    };
    loop {
        let end = at + chunk.get(at..)?.find_byte(b'\n')?;
        if looks_like_header(&chunk[at..end]) {
            return Some(at);
        }
        at = end + 1;
    }
}

/// Reads `r` and calls `f` with runs of whole regions (header and field
/// lines; the parser gives for each run what it gives for that part of
/// the whole text, see `whole_regions`). A second thread reads while this
/// one parses, so the kernel's work of producing smaps overlaps ours; a
/// few chunks are in flight at most, so memory stays flat however large
/// the file. `MAPLENS_PMAP_SYNC` in the environment reads on this thread.
pub fn for_each_regions(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    use std::sync::mpsc;
    if std::env::var_os("MAPLENS_PMAP_SYNC").is_some() {
        return for_each_regions_sync(r, f);
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
        // The start of a region whose end has not arrived yet.
        let mut carry: Vec<u8> = Vec::new();
        let result = (|| {
            for chunk in rx.iter() {
                let (buf, len) = chunk?;
                let chunk = &buf[..len];
                let mut start = 0;
                if !carry.is_empty() {
                    match first_region(chunk, carry.last() == Some(&b'\n')) {
                        Some(i) => {
                            carry.extend_from_slice(&chunk[..i]);
                            f(&carry)?;
                            carry.clear();
                            start = i;
                        }
                        None => {
                            carry.extend_from_slice(chunk);
                            let _ = back_tx.send(buf);
                            continue;
                        }
                    }
                }
                let rest = &chunk[start..];
                let n = whole_regions(rest);
                if n > 0 {
                    f(&rest[..n])?;
                }
                carry.extend_from_slice(&rest[n..]);
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

fn for_each_regions_sync(
    r: &mut (dyn Read + Send),
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    // buf[..end] holds text not yet handed out.
    let mut end = 0usize;
    loop {
        let n = whole_regions(&buf[..end]);
        if n > 0 {
            f(&buf[..n])?;
            buf.copy_within(n..end, 0);
            end -= n;
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

/// The running state of the default, `-x` and `-d` formats.
#[derive(Default)]
struct Simple {
    shared: u64,
    priv_w: u64,
    priv_r: u64,
    t_rss: u64,
    t_dirty: u64,
    /// -x: the line of the mapping shown last, printed when the next one
    /// starts (with `measured` as it is then), and where its RSS and
    /// Dirty go (after the Kbytes, which `%7lu` widens for 8 digits and
    /// more).
    pending: Option<(Vec<u8>, usize)>,
    rss: u64,
    dirty: u64,
    /// Whether any mapping had smaps fields: text without them (a maps
    /// file) does not say what is resident.
    measured: bool,
    /// Past the end of the `-A` range: the rest is not shown.
    done: bool,
}

impl Simple {
    /// Prints the pending `-x` line, its figures now known.
    fn finish_x(&mut self, out: &mut Vec<u8>) {
        if let Some((p, at)) = self.pending.take() {
            out.extend_from_slice(&p[..at]);
            out.push(b' ');
            put_kb(out, self.rss, self.measured);
            out.push(b' ');
            put_kb(out, self.dirty, self.measured);
            out.extend_from_slice(&p[at..]);
        }
    }

    /// One mapping.
    fn row(&mut self, e: &Entry<'_>, out: &mut Vec<u8>, style: &Style<'_>, ctx: &NameCtx) {
        let h = &e.header;
        let ext = style.mode == Mode::Extended;
        if ext {
            self.finish_x(out);
            self.t_rss = self.t_rss.wrapping_add(self.rss);
            self.t_dirty = self.t_dirty.wrapping_add(self.dirty);
            self.rss = 0;
            self.dirty = 0;
        }
        if h.end.wrapping_sub(1) < style.range.0 {
            self.measured |= e.smaps.is_some();
            return;
        }
        if style.range.1 < h.start {
            self.done = true;
            return;
        }
        let diff = h.end.wrapping_sub(h.start);
        let perms = h.perms.as_bytes();
        if h.perms.shared() {
            self.shared = self.shared.wrapping_add(diff);
        } else if h.perms.write() {
            self.priv_w = self.priv_w.wrapping_add(diff);
        } else {
            self.priv_r = self.priv_r.wrapping_add(diff);
        }
        let p5 = perms5(&perms);
        let (major, minor) = (h.dev.major, h.dev.minor);
        let path = h.path.raw();
        let name = |out: &mut Vec<u8>| {
            mapping_name(out, path, h.start, h.end, major, minor, h.inode, style, ctx);
        };
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
                name(&mut p);
                p.push(b'\n');
                self.pending = Some((p, at));
            }
            Mode::Device => {
                put_hex0(out, h.start, 16);
                out.push(b' ');
                put_dec(out, diff >> 10, 7);
                out.push(b' ');
                out.extend_from_slice(&p5);
                out.push(b' ');
                put_hex0(out, h.offset, 16);
                out.push(b' ');
                put_hex0(out, u64::from(major), 3);
                out.push(b':');
                put_hex0(out, u64::from(minor), 5);
                out.push(b' ');
                name(out);
                out.push(b'\n');
            }
            _ => {
                put_hex0(out, h.start, 16);
                out.push(b' ');
                put_dec(out, diff >> 10, 6);
                out.extend_from_slice(b"K ");
                out.extend_from_slice(&p5);
                out.push(b' ');
                name(out);
                out.push(b'\n');
            }
        }
        if let Some(b) = e.smaps.as_deref() {
            self.measured = true;
            if ext {
                let k = &b.known;
                self.rss = k.get_or_zero(Field::Rss);
                self.dirty = k
                    .get_or_zero(Field::SharedDirty)
                    .wrapping_add(k.get_or_zero(Field::PrivateDirty));
            }
        }
    }
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
    let mut st = Simple::default();
    for_each_regions(r, |text| {
        for item in Parser::new(text) {
            if st.done {
                return Ok(());
            }
            // A malformed line is skipped, as pmap skips what it cannot
            // read.
            if let Ok(e) = item {
                st.row(&e, &mut out, style, ctx);
                flush_if_big(&mut out, w)?;
            }
        }
        Ok(())
    })?;
    let ext = style.mode == Mode::Extended;
    if ext {
        if st.pending.is_some() {
            st.t_rss = st.t_rss.wrapping_add(st.rss);
            st.t_dirty = st.t_dirty.wrapping_add(st.dirty);
        }
        st.finish_x(&mut out);
    }
    let Simple {
        shared,
        priv_w,
        priv_r,
        t_rss,
        t_dirty,
        measured,
        ..
    } = st;
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

/// What to do with the field lines of one key.
#[derive(Clone, Copy)]
enum Decision {
    Skip,
    Col(usize),
    Flags,
}

/// Interns byte strings: index by content.
#[derive(Default)]
struct Interner {
    map: HashMap<Vec<u8>, u32>,
    list: Vec<Vec<u8>>,
    /// The ids returned last and the time before (the flags of a run of
    /// mappings alternate between two, a library's names repeat).
    recent: [u32; 2],
}

impl Interner {
    fn id(&mut self, s: &[u8]) -> u32 {
        // Neighbouring mappings usually share a name (a library's
        // segments) or flags: skip the hash then.
        // (Lengths first: an empty name, every anonymous mapping's, then
        // costs no memcmp; glibc's masked-load memcmp is slow on the
        // dangling pointer of an empty Vec.)
        for k in 0..2 {
            let i = self.recent[k];
            if let Some(r) = self.list.get(i as usize)
                && r.len() == s.len()
                && (s.is_empty() || r.as_slice() == s)
            {
                if k == 1 {
                    self.recent.swap(0, 1);
                }
                return i;
            }
        }
        let i = match self.map.get(s) {
            Some(&i) => i,
            None => {
                let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
                self.list.push(s.to_vec());
                self.map.insert(s.to_vec(), i);
                i
            }
        };
        self.recent = [i, self.recent[0]];
        i
    }
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

/// The first pass of `-X`: reads smaps entries and keeps one record per
/// shown mapping in `recs`: five tokens (a length byte and the bytes
/// each), the name id, the cell count, the cells (see `put_cell`) in column
/// order, and the flags id + 1 (0: none).
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
    /// What to do with each known key (indexed by `Field`), once decided.
    known: [Option<Decision>; FIELD_COUNT],
    /// The fields of `known` decided (bit `Field as u32`).
    decided: u32,
    /// The same for the keys that are not a `Field`.
    unknown: Vec<(Vec<u8>, Decision)>,
    /// The decision for `VmFlags`, once made.
    flags_decision: Option<Decision>,
    /// The `Field` of each column that is one (for `fast_cells`).
    col_field: Vec<Option<Field>>,
    /// Every block the general way (`lines`): for tests of `fast_cells`.
    general_only: bool,
}

impl Detail<'_, '_> {
    /// A run of whole regions: each entry the core parser reads.
    fn regions(&mut self, text: &[u8]) {
        // A malformed line is skipped (pmap skips what it cannot read);
        // the entry after one is read line by line.
        let mut clean = true;
        let mut parser = Parser::new(text);
        while let Some(item) = parser.next() {
            match item {
                Ok(e) => {
                    // The lines of its block, when nothing was refused.
                    let lines = match &e.smaps {
                        Some(b) if clean => (parser.lines_read() + 1).checked_sub(b.first_line),
                        _ => None,
                    };
                    self.entry(text, &e, lines);
                    clean = true;
                }
                Err(_) => clean = false,
            }
        }
    }

    /// One mapping: its header's tokens as printed (pmap's `-X` fields:
    /// start, perms, offset, device, inode), its name, then its fields.
    fn entry(&mut self, text: &[u8], e: &Entry<'_>, lines: Option<usize>) {
        let at = e.byte_offset;
        let Some(t) = HeaderText::parse(&text[at..]) else {
            return;
        };
        self.finish();
        self.any = true;
        let toks = [t.start, t.perms, t.offset, t.dev, t.inode];
        for (m, tok) in self.maxw.iter_mut().zip(toks) {
            *m = (*m).max(tok.len());
        }
        self.in_row = true;
        let h = &e.header;
        self.inr = self.style.range == (0, u64::MAX) || in_range(self.style, h.start, h.end);
        if self.inr {
            // Each token as a length byte and its bytes, gathered with
            // fixed-size copies when the text allows. The tokens are one
            // delimiter apart from the line's start on (`HeaderText`):
            // the end address is skipped.
            let mut rec = [0u8; 5 * 17];
            let mut n = 0;
            let mut ts = at;
            for (i, tok) in toks.iter().enumerate() {
                let len = tok.len().min(255);
                match text.get(ts..ts + 16) {
                    Some(src) if len <= 16 => {
                        rec[n] = len as u8;
                        rec[n + 1..n + 17].copy_from_slice(src);
                        n += 1 + len;
                    }
                    _ => {
                        self.recs.extend_from_slice(&rec[..n]);
                        n = 0;
                        self.recs.push(len as u8);
                        self.recs.extend_from_slice(&tok[..len]);
                    }
                }
                ts += tok.len() + 1;
                if i == 0 {
                    ts += t.end.len() + 1;
                }
            }
            self.recs.extend_from_slice(&rec[..n]);
            put_varint(&mut self.recs, u64::from(self.names.id(h.path.raw())));
            // The cell count, set by `finish`.
            self.recs.push(0);
            self.cells_at = self.recs.len();
        }
        if let Some(b) = e.smaps.as_deref()
            && !lines.is_some_and(|n| self.fast_cells(b, n))
        {
            for l in b.lines() {
                self.field(&l);
            }
        }
    }

    /// The cells of a block of `lines` lines from the values the core
    /// parser read, when that gives what reading its lines gives (`field`
    /// for each): every line is a field already decided (no new column),
    /// each at most once, none the parser refused (the caller knows: else
    /// it does not call), `VmFlags` last. A cell
    /// is then the field's value (the kernel's digits are its decimal
    /// form, and pmap prints other digits as the value). Returns false,
    /// having done nothing, otherwise.
    #[inline(always)]
    fn fast_cells(&mut self, b: &SmapsBlock<'_>, lines: usize) -> bool {
        if self.general_only {
            return false;
        }
        let k = &b.known;
        let present = k.present();
        if b.unknown_fields != 0 || b.name.is_some() || present & !self.decided != 0 {
            return false;
        }
        let flags = match (b.vmflags.is_some(), self.flags_decision) {
            (false, _) => None,
            (true, Some(d)) => Some(d),
            (true, None) => return false,
        };
        // One line per field: no key twice.
        if lines != present.count_ones() as usize + usize::from(flags.is_some()) {
            return false;
        }
        let flags_text = match flags {
            Some(Decision::Flags) => {
                let last = b.raw.rfind_byte(b'\n').map_or(b.raw, |i| &b.raw[i + 1..]);
                let Some(l) = FieldLines::new(last).next() else {
                    return false;
                };
                if l.key != b"VmFlags" {
                    return false;
                }
                Some(l.text)
            }
            _ => None,
        };
        if self.inr {
            // A cell for every column, in order (an empty one where the
            // block has no value): what `finish` makes of `field`'s cells.
            let Detail {
                recs,
                cols,
                col_field,
                quiet,
                ..
            } = self;
            let n = col_field.len().min(cols.len());
            recs.reserve(n * 21);
            for (f, col) in col_field.iter().zip(cols.iter_mut()) {
                let Some(v) = f.and_then(|f| k.get(f)) else {
                    recs.push(0);
                    continue;
                };
                col.total = col.total.wrapping_add(v);
                let len = if v < 10 {
                    recs.push(b'0' + v as u8);
                    1
                } else {
                    let mut tmp = [0u8; 20];
                    let mut i = tmp.len();
                    let mut x = v;
                    while x > 0 {
                        i -= 1;
                        tmp[i] = b'0' + (x % 10) as u8;
                        x /= 10;
                    }
                    recs.push((20 - i) as u8);
                    recs.extend_from_slice(&tmp[i..]);
                    20 - i
                };
                if *quiet {
                    col.width = col.width.max(len);
                }
            }
            self.ncells = n;
        }
        if let Some(t) = flags_text {
            self.vmflags(t);
        }
        true
    }

    /// One field line of the mapping being read.
    #[inline(always)]
    fn field(&mut self, l: &FieldLine<'_>) {
        let decision = match l.field() {
            Some(f) => match self.known[f as usize] {
                Some(d) => d,
                None => {
                    let d = self.decide(l.key);
                    self.known[f as usize] = Some(d);
                    self.decided |= 1 << f as u32;
                    d
                }
            },
            None => match self.unknown.iter().find(|(k, _)| k.as_slice() == l.key) {
                Some(&(_, d)) => d,
                None => {
                    let d = self.decide(l.key);
                    self.unknown.push((l.key.to_vec(), d));
                    if l.key == b"VmFlags" {
                        self.flags_decision = Some(d);
                    }
                    d
                }
            },
        };
        match decision {
            Decision::Skip => {}
            Decision::Flags => self.vmflags(l.text),
            Decision::Col(_) if !self.inr => {}
            Decision::Col(c) => {
                // pmap reads at most 20 digits of a number.
                let d = l.digits();
                let d = &d[..d.len().min(20)];
                if !d.is_empty() {
                    let value = d.iter().fold(0u64, |v, &c| {
                        v.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
                    });
                    self.cell(c, d, value);
                }
            }
        }
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

    /// What the lines of `key` mean (decided once per key).
    fn decide(&mut self, key: &[u8]) -> Decision {
        let style = self.style;
        if key == b"VmFlags" {
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
            self.col_field.push(Field::from_key(key));
            Decision::Col(self.cols.len() - 1)
        }
    }

    /// The value of a `VmFlags:` line.
    fn vmflags(&mut self, v: &[u8]) {
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
    detail_with(r, w, style, persist, false)
}

/// `detail`; with `general_only`, every field line is read one by one
/// (tests check that the shortcut gives the same bytes).
fn detail_with(
    r: &mut (dyn Read + Send),
    w: &mut dyn Write,
    style: &Style<'_>,
    persist: &mut Persist,
    general_only: bool,
) -> io::Result<()> {
    let q = style.quiet;
    let en = |n: &str| enabled(style, n.as_bytes());
    let mut d = Detail {
        style,
        quiet: q,
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
        known: [None; FIELD_COUNT],
        decided: 0,
        unknown: Vec::new(),
        flags_decision: None,
        col_field: persist
            .cols
            .iter()
            .map(|c| Field::from_key(&c.name))
            .collect(),
        general_only,
        cols: &mut persist.cols,
    };
    for_each_regions(r, |text| {
        d.regions(text);
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

    fn style(x_level: u32, quiet: bool, rc: Option<&[Vec<u8>]>) -> Style<'_> {
        Style {
            mode: Mode::Detail,
            x_level,
            quiet,
            showpath: false,
            kname: false,
            range: (0, u64::MAX),
            rc_fields: rc,
            tty: false,
        }
    }

    /// `-X` of several texts in one run (columns carry over), with or
    /// without the shortcut of `fast_cells`.
    fn render(texts: &[&[u8]], style: &Style<'_>, general_only: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut persist = Persist::default();
        for t in texts {
            let mut r = io::Cursor::new(t.to_vec());
            detail_with(&mut r, &mut out, style, &mut persist, general_only).unwrap();
        }
        out
    }

    const ODD: &[u8] = b"\
00400000-00401000 r-xp 00000000 08:01 7                          /bin/x
Size:                  4 kB
Rss:                   4 kB
Swap:                  0 kB
VmFlags: rd ex mr mw me 
00401000-00402000 rw-p 00001000 08:01 7                          /bin/x
Size:                  4 kB
Rss:                   4 kB
Rss:                   8 kB
Swap:                  0 kB
VmFlags: rd wr mr mw me  
00402000-00403000 rw-p 00000000 00:00 0 
Rss:                0012 kB
Size:                  4 kB
Swap:                  0 kB
VmFlags: rd wr mr mw me 
00403000-00404000 rw-p 00000000 00:00 0 
Size:                  4 kB
VmFlags: rd wr mr mw me ac 
Rss:                   4 kB
Swap:                  0 kB
00404000-00405000 rw-p 00000000 00:00 0 
Size:                  4 kB
Rss:                  7x kB
Swap:    10000000000000000000 kB
00405000-00406000 rw-p 00000000 00:00 0 
Size:                  4 kB
Rss:                   4 kB
HugePFNMap:            3 kB
Name:           [anon:x]
Swap:                  0 kB
00406000-00407000 rw-p 00000000 00:00 0 
Size:                  4 kB
Pss:                   2 kB
Swap:    123456789012345678901 kB
00407000-00408000 rw-p 00000000 00:00 0 
Size:                  4 kB
Pss:                   2 kB
VmFlags: rd wr mr mw me ac ab cd ef gh ij kl mn op qr st uv wx yz ab cd ef gh ij kl mn op qr st uv wx yz ab cd ef gh ij kl mn op qr st uv wx yz ab cd ef gh
00408000-00409000 rw-p 00000000 00:00 0 
Size:                  4 kB
";

    /// The shortcut gives the bytes that reading every line gives: on
    /// every smaps fixture, and on text with repeated, reordered, unknown
    /// and malformed fields, in every `-X` flavour, several PIDs per run.
    #[test]
    fn fast_cells_change_nothing() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
        let mut texts: Vec<Vec<u8>> = vec![ODD.to_vec()];
        for f in std::fs::read_dir(&dir).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "smaps") {
                texts.push(std::fs::read(&p).unwrap());
            }
        }
        assert!(texts.len() > 5);
        let rc: Vec<Vec<u8>> = ["Rss", "Swap", "VmFlags", "Mapping", "Perm"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        let styles = [
            style(1, false, None),
            style(1, true, None),
            style(2, false, None),
            style(2, true, None),
            style(0, false, Some(&rc)),
        ];
        for st in &styles {
            for t in &texts {
                let runs: [&[&[u8]]; 2] = [&[t], &[t, ODD]];
                for run in runs {
                    let fast = render(run, st, false);
                    let slow = render(run, st, true);
                    assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&slow)
                    );
                }
            }
        }
        // It is taken at all: the common block is read from its values.
        let st = style(2, false, None);
        let out = String::from_utf8(render(&[ODD], &st, false)).unwrap();
        assert!(out.contains("HugePFNMap"), "{out}");
    }
}
