//! smaps field lines: `Key:   N kB`, `THPeligible: 0`, `VmFlags: …`,
//! Android's `Name:` and any key a newer kernel adds.

use super::header::{chunk, dec_prefix_len, dec_value, first_byte, newline};
use super::vmflags::VmFlags;

macro_rules! known_fields {
    ($( $variant:ident $key:literal $doc:literal ),* $(,)?) => {
        /// The smaps keys maplens knows by name. Any other key is still kept
        /// (see [`SmapsBlock::fields`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Field {
            $( #[doc = $doc] $variant, )*
        }

        impl Field {
            /// Every known field, in the order the 6.x kernel prints them.
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];

            /// The key as printed, without the colon.
            pub const fn key(self) -> &'static str {
                match self { $(Field::$variant => $key,)* }
            }

            /// Looks a key up: one hash and one comparison (see
            /// `KEY_TABLE`), not a chain of 27 comparisons.
            #[inline]
            pub fn from_key(key: &[u8]) -> Option<Field> {
                let i = KEY_TABLE[key_hash(key)?];
                let f = *Field::ALL.get(usize::from(i))?;
                if f.key().as_bytes() == key { Some(f) } else { None }
            }

            /// What the field means.
            pub const fn doc(self) -> &'static str {
                match self { $(Field::$variant => $doc,)* }
            }
        }
    };
}

known_fields! {
    Size "Size" "Size of the region (kB).",
    KernelPageSize "KernelPageSize" "Page size the kernel uses for the region (kB).",
    MmuPageSize "MMUPageSize" "Page size the MMU uses for the region (kB).",
    Rss "Rss" "Resident set size: pages of the region in RAM (kB).",
    Pss "Pss" "Proportional set size: resident pages, each divided by the number of processes mapping it (kB).",
    PssDirty "Pss_Dirty" "Dirty part of Pss (kB).",
    PssAnon "Pss_Anon" "Anonymous part of Pss (smaps_rollup, kB).",
    PssFile "Pss_File" "File-backed part of Pss (smaps_rollup, kB).",
    PssShmem "Pss_Shmem" "Shared-memory part of Pss (smaps_rollup, kB).",
    SharedClean "Shared_Clean" "Resident, unmodified pages also mapped by another process (kB).",
    SharedDirty "Shared_Dirty" "Resident, modified pages also mapped by another process (kB).",
    PrivateClean "Private_Clean" "Resident, unmodified pages mapped only here (kB).",
    PrivateDirty "Private_Dirty" "Resident, modified pages mapped only here (kB).",
    Referenced "Referenced" "Pages recently accessed (kB).",
    Anonymous "Anonymous" "Pages not backed by a file, including copy-on-write copies (kB).",
    Ksm "KSM" "Pages shared by KSM (kB).",
    LazyFree "LazyFree" "Pages freed with MADV_FREE, reclaimable (kB).",
    AnonHugePages "AnonHugePages" "Anonymous memory in transparent huge pages (kB).",
    ShmemPmdMapped "ShmemPmdMapped" "Shared memory mapped with huge pages (kB).",
    FilePmdMapped "FilePmdMapped" "File pages mapped with huge pages (kB).",
    SharedHugetlb "Shared_Hugetlb" "hugetlbfs pages shared with other processes (kB).",
    PrivateHugetlb "Private_Hugetlb" "hugetlbfs pages mapped only here (kB).",
    Swap "Swap" "Pages swapped out (kB).",
    SwapPss "SwapPss" "Proportional share of swapped-out pages (kB).",
    Locked "Locked" "Pages locked in memory (kB).",
    ThpEligible "THPeligible" "1 when the region may use transparent huge pages (no unit).",
    ProtectionKey "ProtectionKey" "Memory protection key of the region (no unit).",
}

/// Number of [`Field`]s.
pub const FIELD_COUNT: usize = Field::ALL.len();

/// Slot of a key in `KEY_TABLE`: a hash of its length, first, middle and
/// last bytes that is collision-free over the known keys (checked when the
/// table is built, at compile time).
#[inline(always)]
const fn key_hash(k: &[u8]) -> Option<usize> {
    let n = k.len();
    if n == 0 {
        return None;
    }
    Some((n + k[0] as usize + (k[n - 1] as usize) * 26 + k[n / 2] as usize) & 63)
}

/// `KEY_TABLE[key_hash(key)]` is the index in [`Field::ALL`] of the only
/// known key that can have this hash, or `0xff`.
static KEY_TABLE: [u8; 64] = {
    let mut t = [0xffu8; 64];
    let mut i = 0;
    while i < Field::ALL.len() {
        let Some(h) = key_hash(Field::ALL[i].key().as_bytes()) else {
            panic!("empty smaps key");
        };
        assert!(t[h] == 0xff, "smaps key hash collision: change key_hash");
        t[h] = i as u8;
        i += 1;
    }
    t
};

/// A known key as two little-endian words (zero-padded to 16 bytes) and
/// its length, to compare a key of the text in two instructions.
#[derive(Clone, Copy)]
struct KeyWords {
    lo: u64,
    hi: u64,
    len: usize,
}

/// `KEY_WORDS[i]` is `Field::ALL[i].key()` as [`KeyWords`].
static KEY_WORDS: [KeyWords; FIELD_COUNT] = {
    let mut t = [KeyWords {
        lo: 0,
        hi: 0,
        len: 0,
    }; FIELD_COUNT];
    let mut i = 0;
    while i < FIELD_COUNT {
        let k = Field::ALL[i].key().as_bytes();
        assert!(k.len() < 16, "smaps keys are shorter than 16 bytes");
        let mut j = 0;
        while j < k.len() {
            if j < 8 {
                t[i].lo |= (k[j] as u64) << (8 * j);
            } else {
                t[i].hi |= (k[j] as u64) << (8 * (j - 8));
            }
            j += 1;
        }
        t[i].len = k.len();
        i += 1;
    }
    t
};

/// `CANON[i]` is how the kernel prints the key of `Field::ALL[i]`: the key,
/// its colon and spaces to column 16, as two little-endian words. (Every
/// kernel since 2.6 prints a numeric field as `"Key:" padded to 16` and the
/// value right-aligned in 8 columns, then ` kB` or nothing.)
static CANON: [(u64, u64); FIELD_COUNT] = {
    let mut t = [(0u64, 0u64); FIELD_COUNT];
    let mut i = 0;
    while i < FIELD_COUNT {
        let k = Field::ALL[i].key().as_bytes();
        let mut b = [b' '; 16];
        let mut j = 0;
        while j < k.len() {
            b[j] = k[j];
            j += 1;
        }
        b[k.len()] = b':';
        let mut lo = 0u64;
        let mut hi = 0u64;
        let mut j = 0;
        while j < 8 {
            lo |= (b[j] as u64) << (8 * j);
            hi |= (b[j + 8] as u64) << (8 * j);
            j += 1;
        }
        t[i] = (lo, hi);
        i += 1;
    }
    t
};

/// The order of the fields of an smaps block, learned from the text: a
/// kernel prints the same keys in the same order for every region, so the
/// key that followed a field last time is, nearly always, the next one.
/// A line in the kernel's exact layout with that key is read with a few
/// word comparisons ([`FieldOrder::predict`]); anything else goes to
/// [`fast_field`] and teaches the order ([`FieldOrder::learn`]).
#[derive(Clone, Debug)]
pub(crate) struct FieldOrder {
    /// `next[i]`: the field index that followed field `i` (`START` for
    /// the first line of a block), or `0xff`.
    next: [u8; FIELD_COUNT + 1],
}

impl FieldOrder {
    /// The "field" before the first line of a block.
    pub(crate) const START: usize = FIELD_COUNT;

    pub(crate) const fn new() -> Self {
        FieldOrder {
            next: [0xff; FIELD_COUNT + 1],
        }
    }

    /// Reads the line at the start of `rest` as the field that followed
    /// `prev` last time, if it is printed exactly as the kernel does:
    /// the 16-byte padded key, eight columns of spaces then digits, and
    /// ` kB\n` or `\n`. Gives the same result as [`fast_field`] for every
    /// line it accepts.
    #[inline(always)]
    pub(crate) fn predict(&self, prev: usize, rest: &[u8]) -> Option<(Field, u64, usize)> {
        const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
        const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
        const KB_NL: u32 = u32::from_le_bytes(*b" kB\n");
        // One bounds check for the whole line (and beyond: a line this
        // short can only be near the end of the text, where the general
        // path takes over).
        let b: &[u8; 32] = rest.get(..32)?.try_into().ok()?;
        let word = |i: usize| {
            u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        let idx = usize::from(*self.next.get(prev)?);
        let &(lo, hi) = CANON.get(idx)?;
        if word(0) != lo || word(8) != hi {
            return None;
        }
        let len = if u32::from_le_bytes([b[24], b[25], b[26], b[27]]) == KB_NL {
            28
        } else if b[24] == b'\n' {
            25
        } else {
            return None;
        };
        // Eight columns: spaces, then at least one digit, then only digits.
        let w = word(16);
        let x = w ^ SPACES;
        if x == 0 {
            return None;
        }
        let mask = u64::MAX << (x.trailing_zeros() & 56);
        let w = (w & mask) | (ZEROS & !mask);
        if (w & 0xf0f0_f0f0_f0f0_f0f0)
            | ((w.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0) >> 4)
            != 0x3333_3333_3333_3333
        {
            return None;
        }
        Some((*Field::ALL.get(idx)?, dec_value(w, 8), len))
    }

    /// Notes that field `f`, read at the start of `rest`, followed `prev`
    /// (only when it is printed in the kernel's layout, the one
    /// [`FieldOrder::predict`] reads).
    #[inline(always)]
    pub(crate) fn learn(&mut self, prev: usize, f: Field, rest: &[u8]) {
        let (lo, hi) = CANON[f as usize];
        if chunk(rest, 0) == lo
            && chunk(rest, 8) == hi
            && let Some(slot) = self.next.get_mut(prev)
        {
            *slot = f as u8;
        }
    }
}

/// Bytes a field key is made of: `[A-Za-z0-9_]`.
static KEY_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'_';
        c += 1;
    }
    t
};

/// Index of the first byte at or after `i` that is not a blank (space or
/// tab). Skips runs of spaces eight at a time: the kernel pads values to a
/// fixed column.
#[inline(always)]
pub(crate) fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_spaces(s, i);
        if s.get(i) == Some(&b'\t') {
            i += 1;
        } else {
            return i;
        }
    }
}

/// Index of the first byte at or after `i` that is not a space.
#[inline(always)]
pub(crate) fn skip_spaces(s: &[u8], mut i: usize) -> usize {
    const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
    while let Some(chunk) = s.get(i..i + 8) {
        let Ok(w) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(w) ^ SPACES;
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while s.get(i) == Some(&b' ') {
        i += 1;
    }
    i
}

/// The common field line, `Key:<blanks>digits[ kB]` with a known key, read
/// straight from the text: returns the field, its value and the length of
/// the line with its terminator. `None` means "use the general path"
/// ([`parse_field`]), which gives the same result for every line this
/// accepts.
#[inline(always)]
pub(crate) fn fast_field(rest: &[u8], crlf: bool) -> Option<(Field, u64, usize)> {
    let w0 = chunk(rest, 0);
    let w1 = chunk(rest, 8);
    let n = match first_byte(w0, b':') {
        8 => 8 + first_byte(w1, b':'),
        c => c,
    };
    if n >= 16 {
        return None;
    }
    let idx = usize::from(KEY_TABLE[key_hash(rest.get(..n)?)?]);
    let k = KEY_WORDS.get(idx)?;
    let (m0, m1) = if n >= 8 {
        (u64::MAX, (1u64 << (8 * (n - 8))) - 1)
    } else {
        ((1u64 << (8 * n)) - 1, 0)
    };
    if k.len != n || w0 & m0 != k.lo || w1 & m1 != k.hi {
        return None;
    }
    let field = *Field::ALL.get(idx)?;
    let mut i = skip_blanks(rest, n + 1);
    let d0 = i;
    let mut v: u64 = 0;
    while let Some(&c) = rest.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if i - d0 == 19 {
            return None; // 20 digits might overflow: the general path decides
        }
        v = v * 10 + u64::from(d);
        i += 1;
    }
    if i == d0 {
        return None;
    }
    if rest.get(i..i + 3) == Some(b" kB") {
        if v > u64::MAX >> 10 {
            return None; // more bytes than 64 bits hold: the general path says so
        }
        i += 3;
    }
    match rest.get(i) {
        None => Some((field, v, i)),
        Some(b'\n') => Some((field, v, i + 1)),
        Some(b'\r') if crlf => match rest.get(i + 1) {
            None => Some((field, v, i + 1)),
            Some(b'\n') => Some((field, v, i + 2)),
            Some(_) => None,
        },
        Some(_) => None,
    }
}

/// The value of one field line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// `N kB`.
    Kb(u64),
    /// A bare number (`THPeligible`, `ProtectionKey`).
    Number(u64),
    /// Anything else (`VmFlags`, `Name`, an unknown format), trimmed.
    Text(&'a [u8]),
}

/// One `Key: value` line, as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawField<'a> {
    /// The key, without the colon.
    pub key: &'a [u8],
    /// The value.
    pub value: FieldValue<'a>,
}

/// Typed numeric values of the known fields, with which ones were present.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct KnownValues {
    values: [u64; FIELD_COUNT],
    present: u32,
}

impl std::fmt::Debug for KnownValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k.key(), v)))
            .finish()
    }
}

impl KnownValues {
    /// The value (kB for sizes), or `None` when the kernel did not print it.
    #[inline]
    pub const fn get(&self, f: Field) -> Option<u64> {
        if self.present & (1 << f as u32) != 0 {
            Some(self.values[f as usize])
        } else {
            None
        }
    }

    /// The value, 0 when absent.
    #[inline]
    pub const fn get_or_zero(&self, f: Field) -> u64 {
        self.values[f as usize]
    }

    /// Sets a value.
    #[inline]
    pub fn set(&mut self, f: Field, v: u64) {
        self.values[f as usize] = v;
        self.present |= 1 << f as u32;
    }

    /// The values, indexed by `Field as usize` (0 when absent), and the
    /// set of printed fields (bit `Field as u32`).
    pub(crate) const fn raw_parts(&self) -> (&[u64; FIELD_COUNT], u32) {
        (&self.values, self.present)
    }

    /// The set of printed fields, bit `Field as u32` for each: to compare
    /// with a set of fields in one step.
    ///
    /// ```
    /// use maplens_core::parse::{Field, KnownValues};
    /// let mut k = KnownValues::default();
    /// k.set(Field::Rss, 4);
    /// k.set(Field::Swap, 0);
    /// assert_eq!(k.present(), 1 << Field::Rss as u32 | 1 << Field::Swap as u32);
    /// ```
    #[inline]
    pub const fn present(&self) -> u32 {
        self.present
    }

    /// True when the field was printed.
    pub const fn has(&self, f: Field) -> bool {
        self.present & (1 << f as u32) != 0
    }

    /// Present fields with their values, in [`Field::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Field, u64)> + '_ {
        Field::ALL
            .iter()
            .filter_map(move |&f| self.get(f).map(|v| (f, v)))
    }

    /// Adds every present value of `other` (for totals).
    pub fn add(&mut self, other: &KnownValues) {
        for (f, v) in other.iter() {
            if matches!(
                f,
                Field::ThpEligible
                    | Field::ProtectionKey
                    | Field::KernelPageSize
                    | Field::MmuPageSize
            ) {
                continue;
            }
            let cur = self.get_or_zero(f);
            self.set(f, cur.saturating_add(v));
        }
    }
}

/// The field lines that follow a header in smaps or smaps_rollup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmapsBlock<'a> {
    /// Values of the known fields.
    pub known: KnownValues,
    /// The `VmFlags:` line, when printed (kernel 3.8+).
    pub vmflags: Option<VmFlags<'a>>,
    /// Android's `Name:` line (the region's name as set by the process).
    pub name: Option<&'a [u8]>,
    /// Number of field lines whose key is not a [`Field`] (kept in `raw`).
    pub unknown_fields: u16,
    /// All the field lines, verbatim, for [`SmapsBlock::fields`].
    pub raw: &'a [u8],
    /// 1-based line number of the first field line.
    pub first_line: usize,
}

impl<'a> SmapsBlock<'a> {
    /// Every field line in order, known or not.
    ///
    /// ```
    /// use maplens_core::parse::{Parser, FieldValue};
    /// let text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nRss: 4 kB\nHugePFNMap: 0 kB\n";
    /// let e = Parser::new(text).next().unwrap().unwrap();
    /// let s = e.smaps.as_deref().unwrap();
    /// let f: Vec<_> = s.fields().collect();
    /// assert_eq!(f[1].key, b"HugePFNMap");
    /// assert_eq!(f[1].value, FieldValue::Kb(0));
    /// assert_eq!(s.unknown_fields, 1);
    /// ```
    pub fn fields(&self) -> impl Iterator<Item = RawField<'a>> + 'a {
        self.raw
            .split(|&b| b == b'\n')
            .filter_map(|l| parse_field(l.strip_suffix(b"\r").unwrap_or(l)))
    }

    /// Every field line in order, split but not read: the key and the
    /// value's text as printed, for output that must copy the kernel's
    /// digits (see [`FieldLine::digits`]). The same lines, keys and values
    /// as [`SmapsBlock::fields`] (see [`FieldLine::value`]), faster: no
    /// number is converted.
    ///
    /// ```
    /// use maplens_core::parse::{Field, Parser};
    /// let text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\n\
    ///              Rss:                  64 kB\n\
    ///              HugePFNMap:            0 kB\n\
    ///              VmFlags: rd mr mw me \n";
    /// let e = Parser::new(text).next().unwrap().unwrap();
    /// let l: Vec<_> = e.smaps.as_deref().unwrap().lines().collect();
    /// assert_eq!((l[0].key, l[0].text, l[0].digits()), (&b"Rss"[..], &b"64 kB"[..], &b"64"[..]));
    /// assert_eq!(l[0].field(), Some(Field::Rss));
    /// assert_eq!((l[1].field(), l[1].digits()), (None, &b"0"[..]));
    /// assert_eq!((l[2].key, l[2].text, l[2].digits()), (&b"VmFlags"[..], &b"rd mr mw me "[..], &b""[..]));
    /// ```
    pub fn lines(&self) -> FieldLines<'a> {
        FieldLines { rest: self.raw }
    }

    /// Fields whose key is not a known [`Field`].
    pub fn unknown(&self) -> impl Iterator<Item = RawField<'a>> + 'a {
        self.fields()
            .filter(|f| Field::from_key(f.key).is_none() && f.key != b"VmFlags" && f.key != b"Name")
    }
}

/// One field line of an smaps block as the kernel printed it: the key and
/// the text of the value, for tools that must echo the kernel's own digits
/// (procps `pmap -X` prints them as they were). See [`SmapsBlock::lines`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLine<'a> {
    /// The key, without the colon.
    pub key: &'a [u8],
    /// The value as printed: from the first byte after the colon and the
    /// blanks that follow it to the end of the line (`1234 kB`,
    /// `rd wr mr mw me `), without the line terminator.
    pub text: &'a [u8],
    field: Option<Field>,
}

impl<'a> FieldLine<'a> {
    /// The key as a known [`Field`], when it is one (found while the line
    /// was split: no second lookup).
    #[inline]
    pub const fn field(&self) -> Option<Field> {
        self.field
    }

    /// The decimal digits the value starts with, as printed: `b"1234"` of
    /// `1234 kB`, leading zeros and all; empty when the value does not
    /// start with a digit (`VmFlags`).
    #[inline]
    pub fn digits(&self) -> &'a [u8] {
        let t = self.text;
        let mut n = 0;
        loop {
            let k = dec_prefix_len(chunk(t, n));
            n += k;
            if k < 8 {
                return &t[..n.min(t.len())];
            }
        }
    }

    /// The value, read as [`SmapsBlock::fields`] reads it.
    pub fn value(&self) -> FieldValue<'a> {
        let mut v = self.text;
        while let [rest @ .., b' ' | b'\t'] = v {
            v = rest;
        }
        parse_value(v)
    }
}

/// Iterator of [`SmapsBlock::lines`].
#[derive(Clone, Debug)]
pub struct FieldLines<'a> {
    rest: &'a [u8],
}

impl<'a> FieldLines<'a> {
    /// The field lines of `text` (lines of `Key: value`, as in
    /// [`SmapsBlock::raw`]); other lines are skipped.
    ///
    /// ```
    /// use maplens_core::parse::FieldLines;
    /// let l: Vec<_> = FieldLines::new(b"VmFlags: rd mr \nnot a field\n").collect();
    /// assert_eq!((l.len(), l[0].key, l[0].text), (1, &b"VmFlags"[..], &b"rd mr "[..]));
    /// ```
    pub const fn new(text: &'a [u8]) -> Self {
        FieldLines { rest: text }
    }
}

impl<'a> Iterator for FieldLines<'a> {
    type Item = FieldLine<'a>;

    #[inline]
    fn next(&mut self) -> Option<FieldLine<'a>> {
        loop {
            let rest = self.rest;
            if rest.is_empty() {
                return None;
            }
            let (mut line, adv) = match newline(rest) {
                Some(i) => (&rest[..i], i + 1),
                None => (rest, rest.len()),
            };
            self.rest = &rest[adv..];
            if let [l @ .., b'\r'] = line {
                line = l;
            }
            if let Some(f) = split_field(line) {
                return Some(f);
            }
        }
    }
}

/// Splits one field line (as [`parse_field`] does, without reading the
/// value). Every key the kernel prints is shorter than 16 bytes: its colon
/// is found in two words, and a known key is recognised by comparing them.
#[inline(always)]
fn split_field(line: &[u8]) -> Option<FieldLine<'_>> {
    let w0 = chunk(line, 0);
    let w1 = chunk(line, 8);
    let mut n = match first_byte(w0, b':') {
        8 => 8 + first_byte(w1, b':'),
        c => c,
    };
    if n >= 16 {
        n = memchr::memchr(b':', line)?;
    }
    if n == 0 || n >= line.len() {
        return None;
    }
    let key = &line[..n];
    let field = known_key(key, w0, w1);
    if field.is_none() && !key.iter().all(|&b| KEY_BYTE[b as usize]) {
        return None;
    }
    let text = &line[skip_blanks(line, n + 1).min(line.len())..];
    Some(FieldLine { key, text, field })
}

/// `key` (the first `key.len()` bytes of the line, whose first sixteen are
/// `w0` and `w1`) as a known field.
#[inline(always)]
fn known_key(key: &[u8], w0: u64, w1: u64) -> Option<Field> {
    let n = key.len();
    if n >= 16 {
        return None;
    }
    let idx = usize::from(KEY_TABLE[key_hash(key)?]);
    let k = KEY_WORDS.get(idx)?;
    let (m0, m1) = if n >= 8 {
        (u64::MAX, (1u64 << (8 * (n - 8))) - 1)
    } else {
        ((1u64 << (8 * n)) - 1, 0)
    };
    if k.len != n || w0 & m0 != k.lo || w1 & m1 != k.hi {
        return None;
    }
    Field::ALL.get(idx).copied()
}

/// Parses one field line. `None` when it is not `Key: value`.
#[inline]
pub(crate) fn parse_field(line: &[u8]) -> Option<RawField<'_>> {
    let colon = memchr::memchr(b':', line)?;
    let key = &line[..colon];
    if key.is_empty() || !key.iter().all(|&b| KEY_BYTE[b as usize]) {
        return None;
    }
    let mut v = &line[colon + 1..];
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    Some(RawField {
        key,
        value: parse_value(v),
    })
}

#[inline(always)]
fn parse_value(v: &[u8]) -> FieldValue<'_> {
    let mut n: u64 = 0;
    let mut i = 0;
    while i < v.len() {
        let d = v[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        match n.checked_mul(10).and_then(|n| n.checked_add(d as u64)) {
            Some(x) => n = x,
            None => return FieldValue::Text(v),
        }
        i += 1;
    }
    if i == 0 {
        return FieldValue::Text(v);
    }
    let rest = &v[i..];
    if rest.is_empty() {
        return FieldValue::Number(n);
    }
    let mut r = rest;
    while let [b' ' | b'\t', tail @ ..] = r {
        r = tail;
    }
    // A kB figure whose bytes do not fit in 64 bits is no kernel's: no
    // address space holds it. Kept as text, so it is reported, never
    // multiplied into a wrapped number.
    if r == b"kB" && n <= u64::MAX >> 10 {
        FieldValue::Kb(n)
    } else {
        FieldValue::Text(v)
    }
}
