//! `/proc/meminfo`: bytes in, `(key, value)` lines out. No I/O here, and
//! no choice of which keys matter: that is the users' ([`SystemInfo`] of
//! `check`, [`MemInfo`] of `top`), who both take their figures from
//! [`meminfo_lines`].
//!
//! Each line is `Key:   N kB` (a size) or `Key:   N` (a count, the
//! `HugePages_*` lines). A size is given in bytes, and a kB figure whose
//! bytes do not fit in 64 bits is refused, never wrapped or saturated.
//!
//! [`SystemInfo`]: crate::model::SystemInfo
//! [`MemInfo`]: crate::system::MemInfo
//!
//! ```
//! use maplens_core::parse::{meminfo_lines, MeminfoErrorKind, MeminfoValue};
//! let text = b"MemTotal:  2048 kB\nHugePages_Total:  4\nBogus line\n";
//! let mut it = meminfo_lines(text);
//! let l = it.next().unwrap().unwrap();
//! assert_eq!((l.key, l.value), (&b"MemTotal"[..], MeminfoValue::Bytes(2048 << 10)));
//! assert_eq!(l.value.as_printed(), 2048);
//! let l = it.next().unwrap().unwrap();
//! assert_eq!((l.key, l.value), (&b"HugePages_Total"[..], MeminfoValue::Count(4)));
//! let e = it.next().unwrap().unwrap_err();
//! assert_eq!((e.line, e.kind), (3, MeminfoErrorKind::NoKey));
//! assert_eq!(e.to_string(), "meminfo line 3: expected a line like 'MemTotal:  2048 kB': `Bogus line`");
//! assert!(it.next().is_none());
//! ```

/// The value of a meminfo line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeminfoValue {
    /// A `N kB` line, in bytes (`N << 10`, which is known to fit).
    Bytes(u64),
    /// A line without a unit (`HugePages_Total`, …).
    Count(u64),
}

impl MeminfoValue {
    /// The number as the kernel printed it: kB for a size, else the count.
    pub const fn as_printed(self) -> u64 {
        match self {
            MeminfoValue::Bytes(b) => b >> 10,
            MeminfoValue::Count(n) => n,
        }
    }
}

/// One good line of meminfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeminfoLine<'a> {
    /// The key, before the `:` (may hold `(`, `)`, `_`).
    pub key: &'a [u8],
    /// The value, sized or counted.
    pub value: MeminfoValue,
    /// 1-based line number.
    pub line: usize,
}

/// What was wrong with a meminfo line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeminfoErrorKind {
    /// No `Key:` (no colon, or nothing before it).
    NoKey,
    /// The value is not a decimal number.
    BadNumber,
    /// A unit other than `kB`, or more after it.
    BadUnit,
    /// The number, or its bytes for a kB figure, does not fit in 64 bits.
    TooLarge,
}

impl MeminfoErrorKind {
    /// Plain-words description.
    pub const fn describe(self) -> &'static str {
        match self {
            MeminfoErrorKind::NoKey => "expected a line like 'MemTotal:  2048 kB'",
            MeminfoErrorKind::BadNumber => "expected a decimal number after the key",
            MeminfoErrorKind::BadUnit => "expected 'kB' or nothing after the number",
            MeminfoErrorKind::TooLarge => "the value does not fit in 64 bits of bytes",
        }
    }
}

impl std::fmt::Display for MeminfoErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A malformed meminfo line: where, what, and the line itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("meminfo line {line}: {kind}: `{}`", crate::text::escape(&text[..text.len().min(160)]))]
pub struct MeminfoError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub kind: MeminfoErrorKind,
    /// The offending line (without its terminator).
    pub text: Vec<u8>,
}

/// The lines of meminfo text, in order; blank lines are skipped, a bad
/// line is an `Err` and the next is read.
pub fn meminfo_lines(text: &[u8]) -> MeminfoLines<'_> {
    MeminfoLines {
        rest: text,
        line: 0,
    }
}

/// Iterator of [`meminfo_lines`].
#[derive(Clone, Debug)]
pub struct MeminfoLines<'a> {
    rest: &'a [u8],
    line: usize,
}

impl<'a> Iterator for MeminfoLines<'a> {
    type Item = Result<MeminfoLine<'a>, MeminfoError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, rest) = match memchr::memchr(b'\n', self.rest) {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &b""[..]),
            };
            self.rest = rest;
            self.line += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(parse_line(line, self.line).map_err(|kind| MeminfoError {
                line: self.line,
                kind,
                text: line.to_vec(),
            }));
        }
    }
}

/// One non-blank line.
fn parse_line(line: &[u8], no: usize) -> Result<MeminfoLine<'_>, MeminfoErrorKind> {
    let c = memchr::memchr(b':', line).ok_or(MeminfoErrorKind::NoKey)?;
    let key = line[..c].trim_ascii();
    if key.is_empty() {
        return Err(MeminfoErrorKind::NoKey);
    }
    let v = line[c + 1..].trim_ascii();
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return Err(MeminfoErrorKind::BadNumber);
    }
    let mut n: u64 = 0;
    for &d in &v[..digits] {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(MeminfoErrorKind::TooLarge)?;
    }
    // `v` is trimmed: after the digits comes nothing, or blanks and `kB`.
    let unit = &v[digits..];
    let value = if unit.is_empty() {
        MeminfoValue::Count(n)
    } else if unit[0].is_ascii_whitespace() && unit.trim_ascii_start() == b"kB" {
        if n > u64::MAX >> 10 {
            return Err(MeminfoErrorKind::TooLarge);
        }
        MeminfoValue::Bytes(n << 10)
    } else {
        // `12kB` (no blank), `12 MB`, `12 kB extra`.
        return Err(MeminfoErrorKind::BadUnit);
    };
    Ok(MeminfoLine {
        key,
        value,
        line: no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/meminfo` of Linux 6.18 (x86_64, no swap), as read.
    const LINUX_6_18: &[u8] = b"\
MemTotal:       24683584 kB
MemFree:        19473720 kB
MemAvailable:   23235008 kB
Buffers:           22292 kB
Cached:          3795472 kB
SwapCached:            0 kB
Active:          1500644 kB
Inactive:        3235400 kB
Active(anon):       1572 kB
Inactive(anon):   926064 kB
Active(file):    1499072 kB
Inactive(file):  2309336 kB
Unevictable:       11936 kB
Mlocked:           10936 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:            536072 kB
Writeback:             0 kB
AnonPages:        930264 kB
Mapped:           238084 kB
Shmem:              9356 kB
KReclaimable:     276048 kB
Slab:             344824 kB
SReclaimable:     276048 kB
SUnreclaim:        68776 kB
KernelStack:        5348 kB
PageTables:         8728 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    12341792 kB
Committed_AS:    1934792 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       18156 kB
VmallocChunk:          0 kB
Percpu:              744 kB
AnonHugePages:         0 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:     32768 kB
FilePmdMapped:         0 kB
Balloon:               0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:       26624 kB
DirectMap2M:     2070528 kB
DirectMap1G:    25165824 kB
";

    fn get(text: &[u8], key: &str) -> Option<MeminfoValue> {
        meminfo_lines(text)
            .filter_map(Result::ok)
            .find(|l| l.key == key.as_bytes())
            .map(|l| l.value)
    }

    #[test]
    fn real_text() {
        let lines: Vec<_> = meminfo_lines(LINUX_6_18).collect();
        assert_eq!(lines.len(), 54);
        assert!(lines.iter().all(Result::is_ok), "{lines:?}");
        use MeminfoValue::*;
        let t = LINUX_6_18;
        assert_eq!(get(t, "MemTotal"), Some(Bytes(24683584 << 10)));
        assert_eq!(get(t, "Active(anon)"), Some(Bytes(1572 << 10)));
        assert_eq!(get(t, "VmallocTotal"), Some(Bytes(34359738367 << 10)));
        assert_eq!(get(t, "HugePages_Total"), Some(Count(0)));
        assert_eq!(get(t, "Hugepagesize"), Some(Bytes(2 << 20)));
        assert_eq!(
            get(t, "DirectMap1G").map(MeminfoValue::as_printed),
            Some(25165824)
        );
        let last = lines.last().unwrap().as_ref().unwrap();
        assert_eq!((last.key, last.line), (&b"DirectMap1G"[..], 54));
    }

    #[test]
    fn crlf_tabs_and_no_final_newline() {
        let t = b"MemTotal:\t2048 kB\r\n\r\nHugePages_Free:\t3 \r\nShmem: 8 kB";
        let lines: Vec<_> = meminfo_lines(t).map(Result::unwrap).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].value, MeminfoValue::Bytes(2 << 20));
        assert_eq!((lines[1].value, lines[1].line), (MeminfoValue::Count(3), 3));
        assert_eq!(lines[2].value, MeminfoValue::Bytes(8 << 10));
    }

    #[test]
    fn malformed_lines_are_errors_and_the_next_is_read() {
        let t = b"MemTotal:       2048 kB\nMemFree 1024 kB\n: 5 kB\nCached:   -1 kB\n\
                  Dirty:   12 MB\nMapped:   12kB\nSlab:  4 kB extra\nShmem:  8 kB\n";
        let got: Vec<_> = meminfo_lines(t)
            .map(|r| r.map(|l| l.line).map_err(|e| (e.line, e.kind)))
            .collect();
        use MeminfoErrorKind::*;
        assert_eq!(
            got,
            [
                Ok(1),
                Err((2, NoKey)),
                Err((3, NoKey)),
                Err((4, BadNumber)),
                Err((5, BadUnit)),
                Err((6, BadUnit)),
                Err((7, BadUnit)),
                Ok(8)
            ]
        );
        let e = meminfo_lines(b"MemFree 1024 kB\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.text, b"MemFree 1024 kB");
    }

    #[test]
    fn a_kb_figure_too_large_for_64_bits_of_bytes_is_refused() {
        let max_kb = u64::MAX >> 10;
        let ok = format!("MemTotal: {max_kb} kB\n");
        assert_eq!(
            get(ok.as_bytes(), "MemTotal"),
            Some(MeminfoValue::Bytes(max_kb << 10))
        );
        let big = format!("MemTotal: {} kB\n", max_kb + 1);
        let e = meminfo_lines(big.as_bytes()).next().unwrap().unwrap_err();
        assert_eq!((e.line, e.kind), (1, MeminfoErrorKind::TooLarge));
        // A count may use all 64 bits; one more digit may not.
        let t = format!(
            "HugePages_Total: {}\nHugePages_Free: {}0\n",
            u64::MAX,
            u64::MAX
        );
        let got: Vec<_> = meminfo_lines(t.as_bytes()).collect();
        assert_eq!(
            got[0].as_ref().unwrap().value,
            MeminfoValue::Count(u64::MAX)
        );
        assert_eq!(
            got[1].as_ref().unwrap_err().kind,
            MeminfoErrorKind::TooLarge
        );
    }
}
