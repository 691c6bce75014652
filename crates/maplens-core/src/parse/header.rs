//! The region header line shared by `maps`, `smaps` and `smaps_rollup`.
//!
//! The kernel prints it in `show_vma_header_prefix()` as
//! `"%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu "` and then, when the region
//! has a name, pads with spaces to a fixed column and prints the name. So:
//!
//! * addresses and the offset have *at least* 8 hex digits (16 on 64-bit,
//!   9 on 36-bit physical layouts, anything up to 16 is accepted);
//! * the device is `major:minor`, each at least 2 hex digits (Android shows
//!   `103:1d`);
//! * the pathname is everything after the padding up to the end of the line,
//!   byte for byte (spaces inside and at the end, any non-UTF-8 byte).

use super::error::ErrorKind;
use super::path::Pathname;
use super::smaps::skip_spaces;

/// Access permissions of a region, as in the `rwxp` column.
///
/// ```
/// use maplens_core::parse::Perms;
/// let p = Perms::parse(b"r-xp").unwrap();
/// assert!(p.read() && !p.write() && p.exec() && !p.shared());
/// assert_eq!(p.to_string(), "r-xp");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Perms(u8);

impl Perms {
    const R: u8 = 1;
    const W: u8 = 2;
    const X: u8 = 4;
    const S: u8 = 8;

    /// Builds permissions from the four flags.
    pub const fn new(read: bool, write: bool, exec: bool, shared: bool) -> Perms {
        Perms(
            ((read as u8) * Self::R)
                | ((write as u8) * Self::W)
                | ((exec as u8) * Self::X)
                | ((shared as u8) * Self::S),
        )
    }

    /// Parses exactly four bytes `[r-][w-][x-][sp]`.
    #[inline]
    pub fn parse(b: &[u8]) -> Option<Perms> {
        if b.len() != 4 {
            return None;
        }
        let r = match b[0] {
            b'r' => true,
            b'-' => false,
            _ => return None,
        };
        let w = match b[1] {
            b'w' => true,
            b'-' => false,
            _ => return None,
        };
        let x = match b[2] {
            b'x' => true,
            b'-' => false,
            _ => return None,
        };
        let s = match b[3] {
            b's' => true,
            b'p' => false,
            _ => return None,
        };
        Some(Perms::new(r, w, x, s))
    }

    /// Readable (`r`).
    pub const fn read(self) -> bool {
        self.0 & Self::R != 0
    }
    /// Writable (`w`).
    pub const fn write(self) -> bool {
        self.0 & Self::W != 0
    }
    /// Executable (`x`).
    pub const fn exec(self) -> bool {
        self.0 & Self::X != 0
    }
    /// Shared (`s`, `MAP_SHARED`); otherwise private copy-on-write (`p`).
    pub const fn shared(self) -> bool {
        self.0 & Self::S != 0
    }
    /// No access at all (`---p` or `---s`): a reservation or guard.
    pub const fn none(self) -> bool {
        self.0 & (Self::R | Self::W | Self::X) == 0
    }
    /// The four characters the kernel prints.
    pub fn as_bytes(self) -> [u8; 4] {
        [
            if self.read() { b'r' } else { b'-' },
            if self.write() { b'w' } else { b'-' },
            if self.exec() { b'x' } else { b'-' },
            if self.shared() { b's' } else { b'p' },
        ]
    }
}

impl std::fmt::Display for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.as_bytes();
        // The four bytes are ASCII by construction.
        f.write_str(std::str::from_utf8(&b).unwrap_or("????"))
    }
}

impl std::fmt::Debug for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Perms({self})")
    }
}

/// A device number `major:minor` as printed in hex by the kernel.
///
/// ```
/// use maplens_core::parse::Dev;
/// let d = Dev { major: 0x103, minor: 0x1d };
/// assert_eq!(d.to_string(), "103:1d");
/// assert!(Dev::default().is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug, PartialOrd, Ord)]
pub struct Dev {
    /// Major number (the driver or filesystem type; 0 for anonymous and
    /// pseudo filesystems such as tmpfs, hugetlbfs, NFS).
    pub major: u32,
    /// Minor number (which device or superblock).
    pub minor: u32,
}

impl Dev {
    /// `00:00`: no backing device.
    pub const fn is_none(self) -> bool {
        self.major == 0 && self.minor == 0
    }
}

impl std::fmt::Display for Dev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x}:{:02x}", self.major, self.minor)
    }
}

/// One parsed header line: the whole of a `maps` line, or the first line of
/// an `smaps` block. Borrows the pathname from the input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Header<'a> {
    /// First address of the region.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions.
    pub perms: Perms,
    /// Offset into the file (or, on old kernels, `vm_pgoff` of anonymous
    /// memory, which is the address divided by the page size, printed as an
    /// address).
    pub offset: u64,
    /// Device of the backing file.
    pub dev: Dev,
    /// Inode of the backing file; 0 when there is none.
    pub inode: u64,
    /// The pathname, byte-exact.
    pub path: Pathname<'a>,
}

impl Header<'_> {
    /// Size in bytes (`end - start`).
    pub const fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;

/// Up to eight bytes of `line` from `i`, little-endian (the first byte in
/// the low bits), zero-padded past the end (NUL is not a hex digit).
#[inline(always)]
pub(crate) fn chunk(line: &[u8], i: usize) -> u64 {
    if let Some(c) = line.get(i..i + 8)
        && let Ok(a) = <[u8; 8]>::try_from(c)
    {
        return u64::from_le_bytes(a);
    }
    let mut a = [0u8; 8];
    let tail = line.get(i..).unwrap_or_default();
    a[..tail.len()].copy_from_slice(tail);
    u64::from_le_bytes(a)
}

/// How many of the eight bytes of `w`, from the first, are hex digits
/// (`0-9a-fA-F`). SWAR: the high bit of each byte of the mask is set when
/// the byte is a digit; no carry crosses a byte because the high bits are
/// cleared first.
#[inline(always)]
fn hex_prefix_len(w: u64) -> usize {
    ((!hex_ok(w) & HI).trailing_zeros() / 8) as usize
}

/// The high bit of each byte of the result is set when that byte of `w`
/// is a hex digit; the other bits are clear.
#[inline(always)]
fn hex_ok(w: u64) -> u64 {
    let x = w & LO7;
    let ge_0 = x + ONES * (0x80 - b'0' as u64);
    let gt_9 = x + ONES * (0x80 - b'9' as u64 - 1);
    let l = x | (ONES * 0x20);
    let ge_a = l + ONES * (0x80 - b'a' as u64);
    let gt_f = l + ONES * (0x80 - b'f' as u64 - 1);
    ((ge_0 & !gt_9) | (ge_a & !gt_f)) & !w & HI
}

/// Exactly `n` (1..=16) hex digits at `pos` (what follows is not looked
/// at). The loads do not depend on each other or on earlier fields, so a
/// whole header's numbers are read in parallel.
#[inline(always)]
fn hex_exact(line: &[u8], pos: usize, n: usize) -> Option<u64> {
    let a = chunk(line, pos);
    if n <= 8 {
        let need = HI >> (8 * (8 - n));
        if hex_ok(a) & need != need {
            return None;
        }
        Some(hex_value(a, n))
    } else {
        // The last eight digits, overlapping the first word when n < 16.
        let b = chunk(line, pos + n - 8);
        if hex_ok(a) & hex_ok(b) != HI {
            return None;
        }
        Some((hex_value(a, n - 8) << 32) | hex_value(b, 8))
    }
}

/// The value of the first `k` (0..=8) bytes of `w`, all hex digits.
#[inline(always)]
fn hex_value(w: u64, k: usize) -> u64 {
    if k == 0 {
        return 0;
    }
    // Drop the bytes after the digits: the first digit lands in byte
    // 8-k and the bytes below it are zero, i.e. leading zeros.
    let w = w << (8 * (8 - k));
    // '0'-'9' -> 0-9; 'a'-'f' and 'A'-'F' (bit 6 set) -> 1-6 + 9.
    let d = (w & (ONES * 0x0f)) + ((w >> 6) & ONES) * 9;
    // Pairs of nibbles, then pairs of bytes, then pairs of 16-bit lanes;
    // the first digit (lowest byte) is the most significant.
    let d = ((d << 4) | (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let d = ((d << 8) | (d >> 16)) & 0x0000_ffff_0000_ffff;
    ((d << 16) | (d >> 32)) & 0xffff_ffff
}

/// Parses hex digits at `line[*pos..]`: at least one, at most `max_digits`
/// (at most 16; leading zeros count: the kernel pads, it never prints more
/// than 16). On failure `*pos` is left at the first digit, so an error
/// points at the start of the malformed number. Reads eight digits at a
/// time.
#[inline(always)]
fn hex(line: &[u8], pos: &mut usize, max_digits: usize) -> Option<u64> {
    let start = *pos;
    let w = chunk(line, start);
    let k = hex_prefix_len(w);
    let mut v = hex_value(w, k);
    let mut n = k;
    // Eight digits and then a delimiter (offsets, 32-bit addresses): one
    // table look instead of a second chunk.
    if k == 8
        && line
            .get(start + 8)
            .is_some_and(|&c| HEX[c as usize] != 0xff)
    {
        let w = chunk(line, start + 8);
        let k = hex_prefix_len(w);
        v = (v << (4 * k)) | hex_value(w, k);
        n += k;
        if k == 8
            && line
                .get(start + 16)
                .is_some_and(|&c| HEX[c as usize] != 0xff)
        {
            return None;
        }
    }
    if n == 0 || n > max_digits {
        return None;
    }
    *pos = start + n;
    Some(v)
}

/// How many of the eight bytes of `w`, from the first, are decimal digits.
#[inline(always)]
pub(crate) fn dec_prefix_len(w: u64) -> usize {
    let x = w & LO7;
    let ge_0 = x + ONES * (0x80 - b'0' as u64);
    let gt_9 = x + ONES * (0x80 - b'9' as u64 - 1);
    let ok = ge_0 & !gt_9 & !w & HI;
    ((!ok & HI).trailing_zeros() / 8) as usize
}

/// The value of the first `k` (0..=8) bytes of `w`, all decimal digits:
/// three multiplications combine pairs, quads and then the two halves.
#[inline(always)]
pub(crate) fn dec_value(w: u64, k: usize) -> u64 {
    if k == 0 {
        return 0;
    }
    // The first digit lands in byte 8-k; the zero bytes below it are
    // leading zeros.
    let d = (w.wrapping_sub(ONES * u64::from(b'0'))) << (8 * (8 - k));
    let d = (d.wrapping_mul(10) + (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let d = (d.wrapping_mul(100) + (d >> 16)) & 0x0000_ffff_0000_ffff;
    (d.wrapping_mul(10000) + (d >> 32)) & 0xffff_ffff
}

/// Parses a decimal `u64`; on failure (no digit, overflow) `*pos` is left
/// at the first digit. Reads up to eight digits at once.
#[inline(always)]
fn dec(line: &[u8], pos: &mut usize) -> Option<u64> {
    let start = *pos;
    let w = chunk(line, start);
    let k = dec_prefix_len(w);
    if k == 0 {
        return None;
    }
    if k < 8 || !line.get(start + 8).is_some_and(u8::is_ascii_digit) {
        *pos = start + k;
        return Some(dec_value(w, k));
    }
    // Nine digits or more (large inode numbers): one at a time, checked.
    let mut p = start;
    let mut v: u64 = 0;
    while let Some(&c) = line.get(p) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
        p += 1;
    }
    if p == start {
        return None;
    }
    *pos = p;
    Some(v)
}

/// The four permission bytes at `p`, all at once: each must be its letter
/// or `-` (`s` or `p` for the last).
#[inline(always)]
fn perms4(line: &[u8], p: usize) -> Option<Perms> {
    let b = line.get(p..p + 4)?;
    let w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    // High bit of each byte set where the byte of `w` equals that of `t`
    // (exact: no borrow crosses bytes).
    let eq = |t: u32| {
        let x = w ^ t;
        !(((x & 0x7f7f_7f7f) + 0x7f7f_7f7f) | x) & 0x8080_8080
    };
    let letter = eq(u32::from_le_bytes(*b"rwxs"));
    let other = eq(u32::from_le_bytes(*b"---p"));
    if letter | other != 0x8080_8080 {
        return None;
    }
    // Gather the four flags (bits 7, 15, 23, 31) into bits 0-3, in the
    // order of `Perms`' bits: r, w, x, s.
    let bits = ((u64::from(letter >> 7) * 0x0020_4081) >> 21) & 0xf;
    Some(Perms(bits as u8))
}

/// `hh:hh ` at `p`: the device as the kernel prints it for minor and
/// major numbers below 256.
#[inline(always)]
fn dev2(line: &[u8], p: usize) -> Option<(u64, u64)> {
    let b = line.get(p..p + 6)?;
    let (a, c, d, e) = (
        HEX[b[0] as usize],
        HEX[b[1] as usize],
        HEX[b[3] as usize],
        HEX[b[4] as usize],
    );
    if (a | c | d | e) & 0xf0 != 0 || b[2] != b':' || b[5] != b' ' {
        return None;
    }
    Some((u64::from(a << 4 | c), u64::from(d << 4 | e)))
}

#[inline(always)]
fn expect(line: &[u8], pos: &mut usize, c: u8) -> bool {
    if line.get(*pos) == Some(&c) {
        *pos += 1;
        true
    } else {
        false
    }
}

/// True when `line` starts like a header (`hex-`), as opposed to an smaps
/// field line (`Key:`). Cheap: field keys stop at their second byte. Where
/// it is true of a line, the parser ends the region before it.
///
/// ```
/// use maplens_core::parse::looks_like_header;
/// assert!(looks_like_header(b"7f00-7f01 ---p 00000000 00:00 0"));
/// assert!(!looks_like_header(b"AnonHugePages:         0 kB"));
/// ```
#[inline(always)]
pub fn looks_like_header(line: &[u8]) -> bool {
    let mut i = 0;
    loop {
        let k = hex_prefix_len(chunk(line, i));
        i += k;
        if k < 8 {
            break;
        }
    }
    i > 0 && line.get(i) == Some(&b'-')
}

/// Parses one header line (without its line terminator).
///
/// On error returns the 0-based byte column and what was wrong.
///
/// ```
/// use maplens_core::parse::parse_header;
/// let h = parse_header(b"7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0 ").unwrap();
/// assert_eq!(h.size(), 0x21000);
/// assert!(h.path.is_empty());
/// let h = parse_header(b"00400000-0040b000 r-xp 00000000 08:05 1234    /usr/bin/a b ").unwrap();
/// assert_eq!(h.path.raw(), b"/usr/bin/a b ");
/// assert_eq!((h.dev.major, h.dev.minor, h.inode), (8, 5, 1234));
/// ```
pub fn parse_header(line: &[u8]) -> Result<Header<'_>, (usize, ErrorKind)> {
    let (mut h, p, _) = fields(line)?;
    h.path = match line.get(p) {
        None => Pathname::new(b""),
        // Skip the padding; whatever follows, to the end of the line, is
        // the name. A line trimmed of trailing blanks has no padding.
        Some(b' ') => Pathname::new(&line[skip_spaces(line, p)..]),
        Some(_) => return Err((p, ErrorKind::BadInode)),
    };
    Ok(h)
}

/// The columns of a header line as the kernel printed them, byte for byte:
/// each number with its own digits (the leading zeros of `%08lx` included),
/// where [`Header`] has only their values. For tools that must echo the
/// kernel's text: procps `pmap -X` shows `00000000` as the offset and
/// `fe:00` as the device, not `0` and `254:0`.
///
/// ```
/// use maplens_core::parse::HeaderText;
/// let line = b"7f3a1c000000-7f3a1c021000 rw-p 00001000 fe:01 123456    /lib/x.so\nRss: 4 kB\n";
/// let t = HeaderText::parse(line).unwrap();
/// assert_eq!(t.start, b"7f3a1c000000");
/// assert_eq!(t.end, b"7f3a1c021000");
/// assert_eq!(t.perms, b"rw-p");
/// assert_eq!(t.offset, b"00001000");
/// assert_eq!(t.dev, b"fe:01");
/// assert_eq!(t.inode, b"123456");
/// assert!(HeaderText::parse(b"Rss: 4 kB").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderText<'a> {
    /// The start address's hex digits.
    pub start: &'a [u8],
    /// The end address's hex digits.
    pub end: &'a [u8],
    /// The four permission bytes.
    pub perms: &'a [u8],
    /// The offset's hex digits.
    pub offset: &'a [u8],
    /// The device, `major:minor`.
    pub dev: &'a [u8],
    /// The inode's decimal digits.
    pub inode: &'a [u8],
}

impl<'a> HeaderText<'a> {
    /// Splits the header at the start of `text` (a line, or the rest of a
    /// text from a header's first byte: nothing after the inode is looked
    /// at). `None` when [`parse_header`] would not accept the columns up
    /// to the inode. No allocation.
    pub fn parse(text: &'a [u8]) -> Option<HeaderText<'a>> {
        let (_, p, l) = fields(text).ok()?;
        let (ns, ne, no) = (
            usize::from(l.start),
            usize::from(l.end),
            usize::from(l.offset),
        );
        let (nma, nmi) = (usize::from(l.major), usize::from(l.minor));
        // Every column is followed by one delimiter (`fields` checked it).
        let pe = ns + 1;
        let pp = pe + ne + 1;
        let po = pp + 5;
        let pd = po + no + 1;
        let pi = pd + nma + 1 + nmi + 1;
        Some(HeaderText {
            start: text.get(..ns)?,
            end: text.get(pe..pe + ne)?,
            perms: text.get(pp..pp + 4)?,
            offset: text.get(po..po + no)?,
            dev: text.get(pd..pd + nma + 1 + nmi)?,
            inode: text.get(pi..p)?,
        })
    }
}

/// The widths of a header's numbers (digits of start, end, offset, major
/// and minor), learned from the last header read: in one process they are
/// nearly always the same on every line. All zero: none learned yet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    start: u8,
    end: u8,
    offset: u8,
    major: u8,
    minor: u8,
}

/// The fields of a header whose numbers have the widths of `l`: every
/// position is known in advance, so nothing waits for the field before it.
/// `None` when the line is laid out otherwise (or is not a header); for a
/// line it accepts it gives what [`fields`] gives.
#[inline(always)]
fn fields_as(line: &[u8], l: Layout) -> Option<(Header<'static>, usize)> {
    let (ns, ne, no, nma, nmi) = (
        usize::from(l.start),
        usize::from(l.end),
        usize::from(l.offset),
        usize::from(l.major),
        usize::from(l.minor),
    );
    if ns == 0 {
        return None;
    }
    let pe = ns + 1;
    let pp = pe + ne + 1;
    let po = pp + 5;
    let pma = po + no + 1;
    let pmi = pma + nma + 1;
    let pi = pmi + nmi + 1;
    let (start, end) = if ns == 12 && ne == 12 {
        // The usual 64-bit user address: three conversions for the two,
        // the last four digits of each sharing one word.
        let (a, b) = (chunk(line, 0), chunk(line, 13));
        let t = (chunk(line, 8) & 0xffff_ffff) | (chunk(line, 21) << 32);
        if hex_ok(a) & hex_ok(b) & hex_ok(t) != HI {
            return None;
        }
        let t = hex_value(t, 8);
        (
            Some((hex_value(a, 8) << 16) | (t >> 16)),
            Some((hex_value(b, 8) << 16) | (t & 0xffff)),
        )
    } else {
        (hex_exact(line, 0, ns), hex_exact(line, pe, ne))
    };
    let offset = hex_exact(line, po, no);
    let (major, minor) = if nma == 2 && nmi == 2 {
        match dev2(line, pma) {
            Some((a, b)) => (Some(a), Some(b)),
            None => return None,
        }
    } else {
        (hex_exact(line, pma, nma), hex_exact(line, pmi, nmi))
    };
    let perms = perms4(line, pp);
    let delims = line.get(pi - 1) == Some(&b' ')
        && line[ns] == b'-'
        && line[pp - 1] == b' '
        && line[po - 1] == b' '
        && line[pma - 1] == b' '
        && line[pmi - 1] == b':';
    let (start, end, offset, major, minor, perms) = (start?, end?, offset?, major?, minor?, perms?);
    if !delims || end < start {
        return None;
    }
    let mut p = pi;
    let inode = dec(line, &mut p)?;
    Some((unnamed(start, end, perms, offset, (major, minor), inode), p))
}

/// A header without its name (set once the line's end is known).
#[inline(always)]
const fn unnamed(
    start: u64,
    end: u64,
    perms: Perms,
    offset: u64,
    (major, minor): (u64, u64),
    inode: u64,
) -> Header<'static> {
    Header {
        start,
        end,
        perms,
        offset,
        dev: Dev {
            major: major as u32,
            minor: minor as u32,
        },
        inode,
        path: Pathname::new(b""),
    }
}

/// The header fast path: parses a header at the start of `rest` (the text
/// from a line start to the end of the input, LF line ends) and finds the
/// end of its line in the same pass. Returns the header and the length of
/// the line with its terminator, or `None` for anything the general path
/// ([`parse_header`] on a line found first) must look at; for every line it
/// accepts the two give the same header.
#[inline(always)]
pub(crate) fn fast_header<'a>(rest: &'a [u8], layout: &mut Layout) -> Option<(Header<'a>, usize)> {
    // A header starts with a hex digit; smaps field lines (`Size:`,
    // `VmFlags:`) end here, for one table look.
    if HEX[usize::from(*rest.first()?)] == 0xff {
        return None;
    }
    // Neither reader reads past the line: each number stops at the first
    // byte that is not a digit (a newline is none), or must be followed by
    // its delimiter.
    let (mut h, p) = match fields_as(rest, *layout) {
        Some(x) => x,
        None => {
            let (h, p, l) = fields(rest).ok()?;
            *layout = l;
            (h, p)
        }
    };
    match rest.get(p) {
        None => Some((h, p)),
        Some(b'\n') => Some((h, p + 1)),
        Some(b' ') => {
            let q = skip_spaces(rest, p);
            let tail = rest.get(q..)?;
            let (name, len) = match newline(tail) {
                Some(i) => (&tail[..i], q + i + 1),
                None => (tail, rest.len()),
            };
            // Too long to be kernel output: the general path says so.
            if len > super::MAX_LINE {
                return None;
            }
            h.path = Pathname::new(name);
            Some((h, len))
        }
        Some(_) => None,
    }
}

/// Index of the first byte of the eight of `w` (little-endian) that is
/// `c`; 8 when none is. (The zero-byte test flags the lowest match
/// exactly; only bytes above it can be flagged wrongly.)
#[inline(always)]
pub(crate) fn first_byte(w: u64, c: u8) -> usize {
    let x = w ^ (ONES * u64::from(c));
    let z = x.wrapping_sub(ONES) & !x & HI;
    (z.trailing_zeros() / 8) as usize
}

/// Index of the first `\n` in `s`. Names are short (tens of bytes): eight
/// bytes at a time beats a call to `memchr` for them; long ones go to it.
#[inline(always)]
pub(crate) fn newline(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < 64 {
        let Some(c) = s.get(i..i + 8) else {
            break;
        };
        let Ok(a) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let k = first_byte(u64::from_le_bytes(a), b'\n');
        if k < 8 {
            return Some(i + k);
        }
        i += 8;
    }
    memchr::memchr(b'\n', s.get(i..)?).map(|j| i + j)
}

/// Everything before the name: the header with an empty path, the
/// position just after the inode, and the widths of its numbers.
#[inline(always)]
fn fields(line: &[u8]) -> Result<(Header<'static>, usize, Layout), (usize, ErrorKind)> {
    let mut p = 0usize;
    let mut l = Layout::default();
    let start = hex(line, &mut p, 16).ok_or((p, ErrorKind::BadAddress))?;
    l.start = p as u8;
    if !expect(line, &mut p, b'-') {
        return Err((p, ErrorKind::BadAddress));
    }
    let q = p;
    let end = hex(line, &mut p, 16).ok_or((p, ErrorKind::BadAddress))?;
    l.end = (p - q) as u8;
    if end < start {
        return Err((0, ErrorKind::EndBeforeStart));
    }
    if !expect(line, &mut p, b' ') {
        return Err((p, ErrorKind::BadAddress));
    }
    let perms = perms4(line, p).ok_or((p, ErrorKind::BadPerms))?;
    p += 4;
    if !expect(line, &mut p, b' ') {
        return Err((p, ErrorKind::BadPerms));
    }
    let q = p;
    let offset = hex(line, &mut p, 16).ok_or((p, ErrorKind::BadOffset))?;
    l.offset = (p - q) as u8;
    if !expect(line, &mut p, b' ') {
        return Err((p, ErrorKind::BadOffset));
    }
    let (major, minor) = match dev2(line, p) {
        // The kernel's `%02x:%02x`, nearly always two digits each.
        Some(d) => {
            p += 6;
            (l.major, l.minor) = (2, 2);
            d
        }
        None => {
            let q = p;
            let major = hex(line, &mut p, 8).ok_or((p, ErrorKind::BadDevice))?;
            l.major = (p - q) as u8;
            if !expect(line, &mut p, b':') {
                return Err((p, ErrorKind::BadDevice));
            }
            let q = p;
            let minor = hex(line, &mut p, 8).ok_or((p, ErrorKind::BadDevice))?;
            l.minor = (p - q) as u8;
            if !expect(line, &mut p, b' ') {
                return Err((p, ErrorKind::BadDevice));
            }
            (major, minor)
        }
    };
    let inode = dec(line, &mut p).ok_or((p, ErrorKind::BadInode))?;
    Ok((
        unnamed(start, end, perms, offset, (major, minor), inode),
        p,
        l,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time permission reader agrees with `Perms::parse` on
    /// every 4-byte combination of interesting bytes.
    #[test]
    fn perms4_agrees_with_parse() {
        let bytes = b"rwxsp-\0 R\xff";
        for &a in bytes {
            for &b in bytes {
                for &c in bytes {
                    for &d in bytes {
                        let s = [a, b, c, d];
                        assert_eq!(perms4(&s, 0), Perms::parse(&s), "{s:?}");
                    }
                }
            }
        }
        assert_eq!(perms4(b"rwx", 0), None);
    }

    #[test]
    fn swar_dec_agrees_with_bytes() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for n in [0u64, 1, 9, 10, 99, 1234567, 12345678, 123456789, u64::MAX] {
            cases.push(n.to_string().into_bytes());
        }
        cases.push(b"18446744073709551616".to_vec());
        cases.push(b"00000000000000000000000001".to_vec());
        for c in cases {
            for tail in [&b""[..], b" ", b"\n", b"x", b"/"] {
                let t = [&c[..], tail].concat();
                let mut p = 0;
                let want = std::str::from_utf8(&c)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok());
                assert_eq!(dec(&t, &mut p), want, "{t:?}");
                if want.is_some() {
                    assert_eq!(p, c.len());
                }
            }
        }
        let mut p = 0;
        assert_eq!(dec(b"x1", &mut p), None);
    }

    #[test]
    fn newline_search() {
        for n in 0..200 {
            let mut s = vec![b'a'; n];
            assert_eq!(newline(&s), None);
            s.push(b'\n');
            s.extend_from_slice(b"xx\n");
            assert_eq!(newline(&s), Some(n));
        }
    }

    /// The SWAR digit scan and value agree with a byte-at-a-time reading
    /// for every byte in every position.
    #[test]
    fn swar_hex_agrees_with_bytes() {
        let mut buf = *b"0123abcd";
        for pos in 0..8 {
            for b in 0..=255u8 {
                buf[pos] = b;
                let w = u64::from_le_bytes(buf);
                let want = buf.iter().take_while(|&&c| HEX[c as usize] != 0xff).count();
                assert_eq!(hex_prefix_len(w), want, "{buf:?}");
                let s = std::str::from_utf8(&buf[..want]).unwrap_or("");
                let v = if want == 0 {
                    0
                } else {
                    u64::from_str_radix(s, 16).unwrap()
                };
                assert_eq!(hex_value(w, want), v, "{buf:?}");
            }
            buf[pos] = b"0123abcd"[pos];
        }
        for (t, v) in [
            (&b"ffffffffffffffff "[..], Some(u64::MAX)),
            (b"0000000000000001", Some(1)),
            (b"00000000000000001", None),
            (b"DEADbeef0", Some(0xdeadbeef0)),
            (b"", None),
            (b"-", None),
        ] {
            let mut p = 0;
            assert_eq!(hex(t, &mut p, 16), v, "{t:?}");
        }
    }
}
