//! The printer layer: every byte maplens writes for a person or a program
//! leaves through here.
//!
//! A `cmd_*` file parses its arguments, asks `maplens-core` for a value (a
//! report, region rows, process rows, findings) and hands it to one printer
//! in this module: [`report`], [`maps`], [`top`], [`libs`], [`check`] and
//! [`explain`], one file per command, each with its table, CSV and JSON
//! forms. What this module owns and the commands do not:
//!
//! - **Escaping.** Every string that came from the target (paths, `comm`,
//!   command lines, thread and region names) is turned into visible text by
//!   the one escaper, [`maplens_core::text::escape`], before it reaches a
//!   table or CSV cell: [`plain_table`] and [`csv`] escape every cell, so a
//!   printer cannot forget. Free text around the tables uses [`term`]. JSON
//!   keeps exact strings (its encoder escapes them).
//! - **Widths.** Columns are measured in terminal cells
//!   ([`maplens_core::text::display_width`]) and grow to fit any value, up
//!   to 2^64 bytes.
//! - **Units.** [`human`] (`4 KiB`, `1.5 MiB`) or exact bytes.
//!
//! It does not read `/proc` or classify anything.
//!
//! ```ignore
//! // (the binary's modules are private; this shows the shape)
//! let t = render::plain_table(&["NAME", "SIZE"], &[false, true],
//!     &[vec!["a\x1b[2J".into(), "4 KiB".into()]]);
//! assert_eq!(t, "NAME         SIZE\na\\x1b[2J  4 KiB\n");
//! ```

#[cfg(feature = "check")]
pub mod check;
pub mod diff;
pub mod explain;
pub mod leaks;
pub mod libs;
pub mod maps;
pub mod pages;
#[cfg(feature = "plot")]
pub mod plot;
pub mod report;
pub mod top;
pub mod watch;

use std::borrow::Cow;

use maplens_core::text::{display_width, escape};

/// Version of every JSON document maplens prints; bumped on any change
/// that is not a pure addition.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A string from the target, made safe for a terminal (and for CSV): the
/// one escaper, on text.
pub fn term(s: &str) -> Cow<'_, str> {
    escape(s.as_bytes())
}

/// Bytes from the target (a path, a name), made safe for a terminal.
pub fn term_bytes(b: &[u8]) -> Cow<'_, str> {
    escape(b)
}

/// A plain aligned table without borders (like ps or pmap), right-aligning
/// the columns flagged numeric. Every cell is escaped, so a cell may hold
/// any string from the target; columns are as wide as their widest cell.
///
/// Cells are text or bytes (`String`, or `Vec<u8>` for a path that need
/// not be UTF-8: its stray bytes show as `\xNN`).
pub fn plain_table<T: AsRef<[u8]>>(header: &[&str], numeric: &[bool], rows: &[Vec<T>]) -> String {
    let n = header.len();
    let cells: Vec<Vec<Cow<'_, str>>> = rows
        .iter()
        .map(|r| r.iter().take(n).map(|c| term_bytes(c.as_ref())).collect())
        .collect();
    let mut width: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(display_width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let pad = width[i].saturating_sub(display_width(c));
            if i > 0 {
                l.push_str("  ");
            }
            if numeric.get(i).copied().unwrap_or(false) {
                l.extend(std::iter::repeat_n(' ', pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                if i + 1 < n {
                    l.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in &cells {
        line(&mut r.iter().map(|c| c.as_ref()));
    }
    out
}

/// One row's cells, written into one buffer that is reused row after row
/// (a table of 60,000 regions once held 780,000 `String`s: two thirds of
/// `maps`' time and memory). Every text cell is escaped on the way in.
#[derive(Default)]
pub struct Cells {
    /// The cells one after another: always UTF-8 (escaped text, digits,
    /// the printer's own words), kept as bytes so that no cell is
    /// validated again on its way to the output.
    text: Vec<u8>,
    /// Where each cell ends in `text`, and the columns it takes (known
    /// as it is written: ASCII takes one a byte).
    ends: Vec<(usize, usize)>,
}

impl Cells {
    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Ends a cell that began at `start`: `ascii` when it is all ASCII.
    fn end(&mut self, start: usize, ascii: bool) {
        let cell = &self.text[start..];
        let w = if ascii { cell.len() } else { width_of(cell) };
        self.ends.push((self.text.len(), w));
    }

    /// A text cell (the printer's words or the target's): escaped.
    pub fn text(&mut self, s: &str) {
        let start = self.text.len();
        let plain = maplens_core::text::escape_into_bytes(s.as_bytes(), &mut self.text);
        self.end(start, plain);
    }

    /// A text cell of two parts, as one (no `format!` on the way).
    pub fn text2(&mut self, a: &str, b: &str) {
        let start = self.text.len();
        let pa = maplens_core::text::escape_into_bytes(a.as_bytes(), &mut self.text);
        let pb = maplens_core::text::escape_into_bytes(b.as_bytes(), &mut self.text);
        self.end(start, pa && pb);
    }

    /// A cell of bytes from the target (a path, a name): escaped.
    pub fn bytes(&mut self, b: &[u8]) {
        let start = self.text.len();
        let plain = maplens_core::text::escape_into_bytes(b, &mut self.text);
        self.end(start, plain);
    }

    /// A size cell: [`human`] units, or exact bytes.
    pub fn size(&mut self, bytes: u64, exact: bool) {
        let start = self.text.len();
        human_into(&mut self.text, bytes, exact);
        self.end(start, true);
    }

    /// The width a [`Cells::size`] cell of `bytes` would take, and no
    /// text: for a table's measuring pass.
    pub fn size_width(&mut self, bytes: u64, exact: bool) {
        self.ends.push((self.text.len(), human_width(bytes, exact)));
    }

    /// The width a [`Cells::dec`] cell of `v` would take, and no text.
    pub fn dec_width(&mut self, v: u64) {
        self.ends.push((self.text.len(), dec_width(v)));
    }

    /// A hexadecimal cell, zero-padded to `width` digits.
    pub fn hex(&mut self, v: u64, width: usize) {
        let start = self.text.len();
        push_hex(&mut self.text, v, width);
        self.end(start, true);
    }

    /// A device cell, as maps prints it: `MAJOR:MINOR` in hex, two digits
    /// at least each.
    pub fn dev(&mut self, major: u32, minor: u32) {
        let start = self.text.len();
        push_hex(&mut self.text, u64::from(major), 2);
        self.text.push(b':');
        push_hex(&mut self.text, u64::from(minor), 2);
        self.end(start, true);
    }

    /// A decimal cell.
    pub fn dec(&mut self, v: u64) {
        let start = self.text.len();
        push_dec(&mut self.text, v);
        self.end(start, true);
    }

    /// A cell of the printer's own ASCII words or figures, as they are
    /// (`-`, `rw-p`; never the target's text).
    pub fn ascii(&mut self, b: &[u8]) {
        debug_assert!(b.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'\\'));
        let start = self.text.len();
        self.text.extend_from_slice(b);
        self.end(start, true);
    }

    /// A cell of figures the printer formats itself (numbers, hex, units;
    /// never the target's text).
    pub fn fmt(&mut self, a: std::fmt::Arguments<'_>) {
        let start = self.text.len();
        let _ = std::io::Write::write_fmt(&mut self.text, a);
        self.end(start, false);
    }

    /// Each cell with the columns it takes.
    fn cells(&self) -> impl Iterator<Item = (&[u8], usize)> {
        let mut start = 0;
        self.ends.iter().map(move |&(e, w)| {
            let c = &self.text[start..e];
            start = e;
            (c, w)
        })
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.cells().map(|(c, _)| c)
    }
}

/// The columns UTF-8 text takes, one a character, as
/// [`display_width`] counts them: the bytes that start a character.
fn width_of(utf8: &[u8]) -> usize {
    utf8.iter().filter(|&&b| (b as i8) >= -0x40).count()
}

/// The length of `line` without its trailing whitespace (as
/// `str::trim_end` has it; `line` is UTF-8).
fn trimmed_len(line: &[u8]) -> usize {
    let mut n = line.len();
    while n > 0 {
        let b = line[n - 1];
        if b < 0x80 {
            if !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
                break;
            }
            n -= 1;
        } else {
            // A character of several bytes: decode the tail once.
            return std::str::from_utf8(&line[..n]).map_or(n, |s| s.trim_end().len());
        }
    }
    n
}

/// Writes an aligned table (as [`plain_table`]) of `n` rows without keeping
/// them: `fill(i, cells, measuring)` is called twice for row `i`, once to
/// measure the columns (`measuring`: it may leave out the last cell, which
/// is never padded) and once to write it, and must give the same cells
/// both times. `min_width[k]` (when given) is a width column `k` has at
/// least, so that a caller who knows a column's width may give an empty
/// cell while measuring.
pub fn stream_table(
    w: &mut dyn std::io::Write,
    header: &[&str],
    numeric: &[bool],
    min_width: &[usize],
    n: usize,
    fill: impl Fn(usize, &mut Cells, bool) + Sync,
) -> std::io::Result<()> {
    let cols = header.len();
    let mut width: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(k, h)| display_width(h).max(min_width.get(k).copied().unwrap_or(0)))
        .collect();
    let measure = |rows: std::ops::Range<usize>| {
        let mut width = vec![0usize; cols];
        let mut cells = Cells::default();
        for i in rows {
            cells.clear();
            fill(i, &mut cells, true);
            for (k, (_, w)) in cells.cells().take(cols).enumerate() {
                width[k] = width[k].max(w);
            }
        }
        width
    };
    let mid = if crate::par::worth_two_threads(n) {
        n / 2
    } else {
        n
    };
    let (head, tail) = if mid == n {
        (measure(0..n), Vec::new())
    } else {
        crate::par::on_two_threads(|| measure(0..mid), || measure(mid..n))
    };
    for part in [head, tail] {
        for (k, w) in part.into_iter().enumerate() {
            width[k] = width[k].max(w);
        }
    }
    let width = &width;
    let put = |out: &mut Vec<u8>, cells: &mut dyn Iterator<Item = (&[u8], usize)>| {
        let start = out.len();
        for (k, (c, w)) in cells.take(cols).enumerate() {
            let pad = width[k].saturating_sub(w);
            if k > 0 {
                out.extend_from_slice(b"  ");
            }
            if numeric.get(k).copied().unwrap_or(false) {
                out.resize(out.len() + pad, b' ');
                out.extend_from_slice(c);
            } else {
                out.extend_from_slice(c);
                if k + 1 < cols {
                    out.resize(out.len() + pad, b' ');
                }
            }
        }
        let t = trimmed_len(&out[start..]);
        out.truncate(start + t);
        out.push(b'\n');
    };
    let render = |rows: std::ops::Range<usize>, out: &mut Vec<u8>| {
        let mut cells = Cells::default();
        for i in rows {
            cells.clear();
            fill(i, &mut cells, false);
            put(out, &mut cells.cells());
        }
    };
    // Rows are written a block at a time. (Writing them on two threads
    // too was tried: on a 2-vCPU machine each thread then ran at little
    // more than half speed, and the whole gained 2 of 14 ms.)
    const ROWS: usize = 512;
    let mut out: Vec<u8> = Vec::with_capacity(1 << 16);
    put(
        &mut out,
        &mut header.iter().map(|h| (h.as_bytes(), display_width(h))),
    );
    for from in (0..n).step_by(ROWS) {
        render(from..n.min(from + ROWS), &mut out);
        w.write_all(&out)?;
        out.clear();
    }
    w.write_all(&out)
}

/// Whether an output error is only a closed pipe (`maplens … | head`),
/// which is not a failure.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|e| {
                matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// Writes CSV of `n` rows without keeping them, each filled once by
/// `fill(i, cells)` (escaped like [`csv`]).
pub fn stream_csv(
    w: &mut dyn std::io::Write,
    header: &[&str],
    n: usize,
    mut fill: impl FnMut(usize, &mut Cells, bool),
) -> anyhow::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(header)?;
    let mut cells = Cells::default();
    for i in 0..n {
        cells.clear();
        fill(i, &mut cells, false);
        out.write_record(cells.iter())?;
    }
    out.flush()?;
    Ok(())
}

/// CSV text of a header and rows. Every cell is escaped like a terminal
/// cell (a CSV file is read on a terminal and in spreadsheets, where a raw
/// control byte does as much harm), so a field never holds a line break.
pub fn csv<T: AsRef<[u8]>>(header: &[&str], rows: &[Vec<T>]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.write_record(r.iter().map(|c| term_bytes(c.as_ref()).into_owned()))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// serde_json's pretty printer, but a string's DEL, C1 and bidirectional
/// controls are written as `\uXXXX` too (serde_json writes them raw): the
/// document still decodes to the exact strings, and `cat`ing it to a
/// terminal cannot move the cursor or reverse text.
pub struct SafeFormatter(serde_json::ser::PrettyFormatter<'static>);

impl SafeFormatter {
    /// The pretty layout, two spaces an indent level.
    pub fn new() -> SafeFormatter {
        SafeFormatter(serde_json::ser::PrettyFormatter::new())
    }
}

impl serde_json::ser::Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        maplens_core::text::write_json_fragment(w, fragment)
    }

    // The pretty layout: delegate every structural call.
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes a value as pretty JSON (terminal-safe, see [`SafeFormatter`])
/// without a trailing newline.
pub fn json_to_writer<W: std::io::Write>(w: W, v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, SafeFormatter::new());
    v.serialize(&mut ser)?;
    Ok(())
}

/// Pretty JSON of a value and a newline.
pub fn json_text(v: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut out = Vec::new();
    json_to_writer(&mut out, v)?;
    out.push(b'\n');
    Ok(String::from_utf8(out)?)
}

/// Formats a size in bytes for people: `4 KiB`, `1.5 MiB`; exact with `bytes`.
///
/// One decimal below 10 units, none above, rounded half to even, in
/// integers (no float formatting: `maps` calls this for every cell).
pub fn human(bytes: u64, exact: bool) -> String {
    let mut s = Vec::new();
    human_into(&mut s, bytes, exact);
    // Digits, a point, a space and a unit: ASCII.
    String::from_utf8(s).unwrap_or_default()
}

/// Appends `v` in decimal.
fn push_dec(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `v` in lower-case hexadecimal, zero-padded to `width` digits.
fn push_hex(out: &mut Vec<u8>, v: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b'0'; 32];
    let digits = (64 - v.leading_zeros() as usize).div_ceil(4).max(1);
    let n = digits.max(width.min(32));
    let mut x = v;
    for slot in buf[n - digits..n].iter_mut().rev() {
        *slot = DIGITS[(x & 0xf) as usize];
        x >>= 4;
    }
    out.extend_from_slice(&buf[..n]);
}

/// A size in [`human`] units, as its parts: the whole number, the tenth
/// (shown below 10 of a unit, when not zero before rounding) and the unit.
fn human_parts(bytes: u64) -> (u64, Option<u64>, &'static str) {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    // The unit is a power of two, 1024^u: shifts and masks, no division
    // (up to 2^60, so that ten remainders still fit in 64 bits).
    let mut u = 0;
    while u < UNITS.len() - 1 && bytes >> (10 * (u + 1)) != 0 {
        u += 1;
    }
    let shift = 10 * u;
    let div = 1u64 << shift;
    let (q, r) = (bytes >> shift, bytes & (div - 1));
    // `q + frac / div` rounded to the nearest integer, ties to even
    // (`frac < div`).
    let round = |q: u64, frac: u64| {
        if frac * 2 > div || (frac * 2 == div && q % 2 == 1) {
            q + 1
        } else {
            q
        }
    };
    if u == 0 || r == 0 {
        (q, None, UNITS[u])
    } else if q < 10 {
        // Tenths: bytes * 10 / div, as q * 10 plus the tenths of r.
        let r10 = r * 10;
        let t = round(q * 10 + (r10 >> shift), r10 & (div - 1));
        (t / 10, Some(t % 10), UNITS[u])
    } else {
        (round(q, r), None, UNITS[u])
    }
}

/// [`human`], appended to `out` (no allocation of its own).
pub fn human_into(out: &mut Vec<u8>, bytes: u64, exact: bool) {
    if exact {
        push_dec(out, bytes);
        return;
    }
    let (whole, tenth, unit) = human_parts(bytes);
    push_dec(out, whole);
    if let Some(t) = tenth {
        out.push(b'.');
        push_dec(out, t);
    }
    out.push(b' ');
    out.extend_from_slice(unit.as_bytes());
}

/// The columns [`human_into`] takes, found without writing it.
fn human_width(bytes: u64, exact: bool) -> usize {
    if exact {
        return dec_width(bytes);
    }
    let (whole, tenth, unit) = human_parts(bytes);
    dec_width(whole) + if tenth.is_some() { 2 } else { 0 } + 1 + unit.len()
}

/// The digits of `v` in decimal.
fn dec_width(v: u64) -> usize {
    v.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A count and a noun, singular or plural: `1 region`, `2 regions`.
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_decimal_digits() {
        let hex = |v, w| {
            let mut out = Vec::new();
            push_hex(&mut out, v, w);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(hex(0, 0), "0");
        assert_eq!(hex(0, 8), "00000000");
        assert_eq!(hex(0x7f3a_0000_1000, 12), "7f3a00001000");
        assert_eq!(hex(0xab, 2), "ab");
        assert_eq!(hex(0xabc, 2), "abc");
        assert_eq!(hex(u64::MAX, 12), "ffffffffffffffff");
        for v in [0u64, 7, 10, 4096, 1 << 40, u64::MAX] {
            assert_eq!(hex(v, 0), format!("{v:x}"));
            let mut out = Vec::new();
            push_dec(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn widths_are_those_of_the_text() {
        let mut vals: Vec<u64> = vec![0, 1, 9, 10, 99, 100, 1023, 1024, 1025, u64::MAX];
        for shift in 0..64 {
            let p = 1u64 << shift;
            vals.extend([
                p - 1,
                p,
                p.saturating_add(1),
                p / 20 * 19,
                (p / 20).saturating_mul(21),
            ]);
            vals.push((p / 2).saturating_mul(3));
            vals.extend([p.saturating_mul(10) - 1, p.saturating_mul(999) / 100]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(x >> (x % 64));
        }
        for v in vals {
            for exact in [false, true] {
                let mut out = Vec::new();
                human_into(&mut out, v, exact);
                assert_eq!(human_width(v, exact), out.len(), "{v} exact={exact}");
            }
            assert_eq!(dec_width(v), v.to_string().len(), "{v}");
        }
    }

    #[test]
    fn human_units() {
        assert_eq!(human(0, false), "0 B");
        assert_eq!(human(4096, false), "4 KiB");
        assert_eq!(human(1536 * 1024, false), "1.5 MiB");
        assert_eq!(human(8 << 20, false), "8 MiB");
        assert_eq!(human(4097, true), "4097");
        assert_eq!(human(u64::MAX, false), "16 EiB");
        assert_eq!(human(u64::MAX, true), "18446744073709551615");
    }

    /// The float formatting `human` replaced, as the reference.
    fn human_by_floats(bytes: u64) -> String {
        const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let mut v = bytes as f64;
        let mut u = 0;
        while v >= 1024.0 && u < UNITS.len() - 1 {
            v /= 1024.0;
            u += 1;
        }
        if u == 0 || v.fract() == 0.0 {
            format!("{v:.0} {}", UNITS[u])
        } else if v < 10.0 {
            format!("{v:.1} {}", UNITS[u])
        } else {
            format!("{v:.0} {}", UNITS[u])
        }
    }

    #[test]
    fn human_in_integers_is_human_in_floats() {
        let mut vals: Vec<u64> = (0..70_000).collect();
        for u in 1..6u32 {
            let d = 1u64 << (10 * u);
            for q in [1u64, 2, 9, 10, 11, 100, 1000, 1023] {
                for num in [
                    0u64, 1, 5, 50, 95, 96, 99, 100, 105, 115, 125, 250, 500, 512, 999,
                ] {
                    vals.push(q * d + d * num / 1000);
                    vals.push(q * d + d / 2);
                    vals.push(q * d + d / 20);
                    vals.push(q * d + d / 20 * 3);
                }
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Below 2^53, where the float reference is exact.
            vals.push(x >> (x % 40 + 12));
        }
        // Below 2^53 the float reference is exact; above, a u64 does not
        // fit in an f64 and the integers are the right answer.
        for v in vals.into_iter().filter(|&v| v < 1 << 53) {
            assert_eq!(human(v, false), human_by_floats(v), "{v}");
        }
        assert_eq!(human(10_189_394_156_925_747, false), "9.0 PiB");
    }

    #[test]
    fn table_cells_are_escaped_and_aligned() {
        let t = plain_table(
            &["NAME", "SIZE"],
            &[false, true],
            &[
                vec!["a\x1b[2J".to_owned(), "4 KiB".to_owned()],
                vec!["b\nc".to_owned(), "18446744073709551615".to_owned()],
            ],
        );
        assert_eq!(
            t,
            "NAME                      SIZE\n\
             a\\x1b[2J                 4 KiB\n\
             b\\012c    18446744073709551615\n"
        );
    }

    /// `stream_table` of `rows` (text, then a number) is `plain_table` of them.
    fn streams_as_plain(header: &[&str], rows: &[Vec<String>]) {
        let mut out = Vec::new();
        stream_table(
            &mut out,
            header,
            &[false, true],
            &[],
            rows.len(),
            |i, c, _| {
                c.text(&rows[i][0]);
                c.fmt(format_args!("{}", rows[i][1]));
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            plain_table(header, &[false, true], rows)
        );
    }

    /// A table big enough to be measured on two threads comes out as the
    /// same table: the widest cell is in the second half.
    #[test]
    fn a_big_streamed_table_is_the_same_table() {
        let rows: Vec<Vec<String>> = (0..20_000u64)
            .map(|i| vec![format!("r{i}"), (i * i * i).to_string()])
            .collect();
        let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
        assert!(crate::par::worth_two_threads(rows.len()) || one_core);
        streams_as_plain(&["NAME", "N"], &rows);
    }

    #[test]
    fn a_streamed_table_is_the_same_table() {
        let rows = [
            vec!["a\x1b[2J".to_owned(), "4 KiB".to_owned()],
            vec!["b\nc".to_owned(), "18446744073709551615".to_owned()],
        ];
        streams_as_plain(&["NAME", "SIZE"], &rows);
        let mut out = Vec::new();
        stream_csv(&mut out, &["NAME", "SIZE"], rows.len(), |i, c, _| {
            c.text(&rows[i][0]);
            c.text(&rows[i][1]);
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            csv(&["NAME", "SIZE"], &rows).unwrap()
        );
    }

    #[test]
    fn csv_cells_are_escaped() {
        let c = csv(&["a"], &[vec!["x\ny\u{202e}".to_owned()]]).unwrap();
        assert_eq!(c, "a\nx\\012y\\u{202e}\n");
    }

    #[test]
    fn json_escapes_what_a_terminal_would_obey_and_stays_exact() {
        let v = serde_json::json!({"p": "a\u{7f}b\u{85}c\u{202e}d\u{1b}e\\f"});
        let t = json_text(&v).unwrap();
        assert!(t.is_ascii(), "{t}");
        assert!(t.contains(r#""a\u007fb\u0085c\u202ed\u001be\\f""#), "{t}");
        let back: serde_json::Value = serde_json::from_str(&t).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn hex_and_decimal_cells() {
        let mut c = Cells::default();
        c.hex(0, 8);
        c.hex(0x7f3a_1c00_0000, 12);
        c.hex(u64::MAX, 12);
        c.dec(0);
        c.dec(u64::MAX);
        let v: Vec<&str> = c.iter().map(|b| std::str::from_utf8(b).unwrap()).collect();
        assert_eq!(
            v,
            [
                "00000000",
                "7f3a1c000000",
                "ffffffffffffffff",
                "0",
                "18446744073709551615"
            ]
        );
    }

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1u32, "region", "regions"), "1 region");
        assert_eq!(count(0u32, "region", "regions"), "0 regions");
        assert_eq!(count(2u32, "page", "pages"), "2 pages");
    }
}
