//! Bytes in, records out: a zero-copy parser for `/proc/PID/maps`, `smaps`
//! and `smaps_rollup` text, and [`meminfo`] for `/proc/meminfo`. No I/O
//! happens here.
//!
//! [`Parser`] is an iterator of [`Entry`]: one per region, each with its
//! [`Header`] and, for smaps text, its [`SmapsBlock`]. It works on every
//! format the kernel has printed since 2.6 (the 6-field smaps of 2.6.1x,
//! `[stack:TID]` of 3.4–4.8, `Name:` lines of Android, the fields of 6.18),
//! on text whose trailing blanks were trimmed, without a final newline, or
//! with CRLF line ends.
//!
//! ```
//! use maplens_core::parse::{Parser, Field, PathKind, Format};
//! let text = b"\
//! 55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]
//! Size:                132 kB
//! Rss:                  12 kB
//! VmFlags: rd wr mr mw me ac
//! ";
//! assert_eq!(maplens_core::parse::detect_format(text), Format::Smaps);
//! let e = Parser::new(text).next().unwrap().unwrap();
//! assert_eq!(e.header.path.kind(), PathKind::Heap);
//! assert_eq!(e.smaps.as_deref().unwrap().known.get(Field::Rss), Some(12));
//! ```

pub mod elf;
mod error;
mod header;
pub mod kpageflags;
pub mod meminfo;
pub mod pagemap;
mod path;
pub mod procmap_query;
mod smaps;
mod vmflags;

pub use error::{ErrorKind, ParseError};
pub use header::{Dev, Header, HeaderText, Perms, parse_header};
pub use meminfo::{
    MeminfoError, MeminfoErrorKind, MeminfoLine, MeminfoLines, MeminfoValue, meminfo_lines,
};
pub use path::{DeletedSuffix, PathKind, Pathname, decode_escapes, encode_escapes};
pub use smaps::{
    FIELD_COUNT, Field, FieldLine, FieldLines, FieldValue, KnownValues, RawField, SmapsBlock,
};
pub use vmflags::{FlagInfo, KNOWN_FLAGS, VmFlags, flag_index};

pub use header::looks_like_header;
use header::{Layout, fast_header};
use smaps::{FieldOrder, fast_field, parse_field};
use std::collections::VecDeque;

/// Which kernel file the text is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Format {
    /// `/proc/PID/maps`: header lines only.
    Maps,
    /// `/proc/PID/smaps`: header lines each followed by field lines.
    Smaps,
    /// `/proc/PID/smaps_rollup`: one `[rollup]` header and its fields.
    SmapsRollup,
}

impl Format {
    /// The name of the kernel file.
    pub const fn file_name(self) -> &'static str {
        match self {
            Format::Maps => "maps",
            Format::Smaps => "smaps",
            Format::SmapsRollup => "smaps_rollup",
        }
    }
}

/// Guesses the format from the first region: a header followed by a field
/// line is smaps (smaps_rollup when the name is `[rollup]`); anything else
/// is maps. Empty text is maps.
pub fn detect_format(input: &[u8]) -> Format {
    let mut lines = input
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
    let Some(first) = lines.next() else {
        return Format::Maps;
    };
    let Ok(h) = parse_header(first) else {
        return Format::Maps;
    };
    if h.path.raw() == b"[rollup]" {
        return Format::SmapsRollup;
    }
    match lines.next() {
        Some(l) if !looks_like_header(l) && parse_field(l).is_some() => Format::Smaps,
        _ => Format::Maps,
    }
}

/// How much of `text` (which begins at a line start) is whole regions: the
/// offset of its last whole line (one followed by a newline) that begins
/// like a header, when that is not its first line; else 0. For text read in
/// pieces: a [`Parser`] over `text[..n]` gives the entries that a parser
/// over the whole text gives for that part (it ends every region before
/// such a line), and `text[n..]` goes in front of the next piece.
///
/// ```
/// use maplens_core::parse::whole_regions;
/// let text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nRss: 4 kB\n\
///              00401000-00402000 rw-p 00001000 08:01 7 /bin/x\nRss:";
/// assert_eq!(whole_regions(text), 57);
/// assert_eq!(whole_regions(&text[..57]), 0);
/// ```
pub fn whole_regions(text: &[u8]) -> usize {
    let Some(mut end) = memchr::memrchr(b'\n', text) else {
        return 0;
    };
    loop {
        let start = memchr::memrchr(b'\n', &text[..end]).map_or(0, |i| i + 1);
        if start == 0 {
            return 0;
        }
        if looks_like_header(&text[start..end]) {
            return start;
        }
        end = start - 1;
    }
}

/// One region: its header and, in smaps text, its fields.
///
/// The smaps block is boxed: it is ~300 bytes, and maps text (no block)
/// would otherwise pay for it in every entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The header line, parsed.
    pub header: Header<'a>,
    /// 1-based line number of the header.
    pub line: usize,
    /// Byte offset of the header line in the input.
    pub byte_offset: usize,
    /// The field lines, for smaps and smaps_rollup text.
    pub smaps: Option<Box<SmapsBlock<'a>>>,
}

/// Zero-copy iterator over the regions of maps, smaps or smaps_rollup text.
///
/// Yields `Err` for each malformed line and goes on with the next, so the
/// caller chooses: stop at the first error (strict) or skip and count
/// (lenient). A bad field line inside an smaps block is reported before the
/// region it belongs to, which is still yielded with the good fields.
#[derive(Clone, Debug)]
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
    crlf: bool,
    /// Errors found while reading a block, reported before its entry. A
    /// queue: a block of many bad lines must not cost O(n²) to drain.
    errors: VecDeque<ParseError>,
    pending: Option<Entry<'a>>,
    /// The header of the next line and its length, when already parsed
    /// (see `peek_header`).
    peeked: Option<(Header<'a>, usize)>,
    /// The order of smaps fields seen so far.
    order: FieldOrder,
    /// The widths of the last header's numbers.
    layout: Layout,
    /// Use the one-pass readers for well-formed lines (always, except to
    /// test them against the general path).
    fast: bool,
    ignored: usize,
}

/// Lines that tools other than the kernel add to maps text that people
/// commonly paste: HotSpot's `hs_err` files end their copy of
/// `/proc/self/maps` with `Total number of mappings: N`.
const FOREIGN_PREFIXES: &[&[u8]] = &[b"Total number of mappings:"];

/// The longest line the parser accepts, in bytes: 1 MiB.
///
/// A maps line is at most about 100 bytes plus its name, and a name is a
/// path the kernel's `d_path` printed (`PATH_MAX`, 4,096 bytes, for any
/// path a program can `open`; more only for a directory tree over 4,000
/// levels deep of 255-byte names), an `[anon:…]` name (at most 80 bytes)
/// or a bracketed kernel name. A longer line is not kernel output: it is
/// rejected as [`ErrorKind::LineTooLong`] at once, so that a hostile file
/// costs no more memory than its own bytes.
///
/// ```
/// use maplens_core::parse::{ErrorKind, MAX_LINE, Parser};
/// let mut text = b"00400000-00401000 r-xp 00000000 08:01 7 /".to_vec();
/// text.resize(text.len() + MAX_LINE, b'a');
/// let e = Parser::new(&text).next().unwrap().unwrap_err();
/// assert_eq!((e.line, e.kind), (1, ErrorKind::LineTooLong));
/// assert!(e.text.len() <= 4096); // the error keeps only the line's start
/// ```
pub const MAX_LINE: usize = 1 << 20;

/// How much of a malformed line a [`ParseError`] keeps.
const ERROR_TEXT: usize = 4096;

#[inline(always)]
fn is_foreign(line: &[u8]) -> bool {
    line.first() == Some(&b'T') && FOREIGN_PREFIXES.iter().any(|p| line.starts_with(p))
}

impl<'a> Parser<'a> {
    /// A parser over the whole text.
    pub fn new(input: &'a [u8]) -> Self {
        let crlf = memchr::memchr(b'\n', input).is_some_and(|i| i > 0 && input[i - 1] == b'\r');
        Parser::with_crlf(input, crlf)
    }

    /// A parser over one piece of a longer text whose line ends were judged
    /// from its first line (see [`Parser::crlf`]).
    pub(crate) fn with_crlf(input: &'a [u8], crlf: bool) -> Self {
        Parser {
            input,
            pos: 0,
            line: 0,
            crlf,
            errors: VecDeque::new(),
            pending: None,
            peeked: None,
            order: FieldOrder::new(),
            layout: Layout::default(),
            fast: true,
            ignored: 0,
        }
    }

    /// The same parser without its fast paths: every line is found first
    /// and then read by the general code. It gives the same items, only
    /// slower; it exists so that tests and the fuzzer can check that.
    #[doc(hidden)]
    pub fn without_fast_paths(mut self) -> Self {
        self.fast = false;
        self
    }

    /// The text uses CRLF line ends (judged from the first line). Then a
    /// final `\r` is removed from every line; otherwise it is kept as a
    /// byte of the name.
    pub const fn crlf(&self) -> bool {
        self.crlf
    }

    /// Lines read so far (all of them once the iterator is done). Just
    /// after an entry with an smaps block is yielded, it is the line number
    /// of the block's last line (the next header is not read yet): the
    /// block has `lines_read() - first_line + 1` lines.
    ///
    /// ```
    /// use maplens_core::parse::Parser;
    /// let text = b"00400000-00401000 r--p 00000000 08:01 7 /bin/x\nRss: 4 kB\nRss: 4 kB\n\
    ///              00401000-00402000 rw-p 00001000 08:01 7 /bin/x\nRss: 8 kB\n";
    /// let mut p = Parser::new(text);
    /// let e = p.next().unwrap().unwrap();
    /// assert_eq!(p.lines_read() - e.smaps.unwrap().first_line + 1, 2);
    /// ```
    pub const fn lines_read(&self) -> usize {
        self.line
    }

    /// Lines skipped because they are known additions of other tools (see
    /// `FOREIGN_PREFIXES`), not kernel output and not errors.
    pub const fn ignored_lines(&self) -> usize {
        self.ignored
    }

    /// Returns the next line (without terminator), its number and offset.
    #[inline(always)]
    fn next_line(&mut self) -> Option<(&'a [u8], usize, usize)> {
        if self.pos >= self.input.len() {
            return None;
        }
        let rest = &self.input[self.pos..];
        let (mut line, adv) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        if self.crlf
            && let [l @ .., b'\r'] = line
        {
            line = l;
        }
        let off = self.pos;
        self.pos += adv;
        self.line += 1;
        Some((line, self.line, off))
    }

    /// Peeks whether the next line is a field line (not a header, not blank).
    #[inline(always)]
    fn next_is_field(&self) -> bool {
        let rest = &self.input[self.pos.min(self.input.len())..];
        match rest.first() {
            None | Some(b'\n' | b'\r') => false,
            Some(_) => !looks_like_header(rest) && !is_foreign(rest),
        }
    }

    fn error(&self, line: usize, column0: usize, kind: ErrorKind, text: &[u8]) -> ParseError {
        ParseError {
            line,
            column: column0 + 1,
            kind,
            text: text[..text.len().min(ERROR_TEXT)].to_vec(),
        }
    }

    /// The header at the current position, by the fast path.
    #[inline(always)]
    fn fast_header(&mut self) -> Option<(Header<'a>, usize)> {
        if self.crlf || !self.fast {
            return None;
        }
        fast_header(
            self.input.get(self.pos..).unwrap_or_default(),
            &mut self.layout,
        )
    }

    /// True when the next line is a well-formed header; it is kept for
    /// the next entry, so that it is parsed once.
    #[inline(always)]
    fn peek_header(&mut self) -> bool {
        self.peeked = self.fast_header();
        self.peeked.is_some()
    }

    fn block(&mut self) -> Option<Box<SmapsBlock<'a>>> {
        if !self.next_is_field() {
            return None;
        }
        let start = self.pos;
        let first_line = self.line + 1;
        let mut known = KnownValues::default();
        let mut vmflags = None;
        let mut name = None;
        let mut unknown_fields = 0u16;
        let mut prev = FieldOrder::START;
        loop {
            // Most lines are `Key:   N kB` with a known key: read them in
            // one pass, without looking for the line end first; first as
            // the key that came next last time, then by a key lookup.
            let rest = self.input.get(self.pos..).unwrap_or_default();
            // (A known key is never a foreign line: see the test
            // `foreign_lines_are_not_fast_fields`.)
            let fast = match self.order.predict(prev, rest) {
                _ if !self.fast => None,
                Some(x) => Some(x),
                None => fast_field(rest, self.crlf).inspect(|&(f, _, _)| {
                    self.order.learn(prev, f, rest);
                }),
            };
            if let Some((f, v, len)) = fast {
                known.set(f, v);
                self.pos += len;
                self.line += 1;
                prev = f as usize;
                continue;
            }
            if self.peek_header() || !self.next_is_field() {
                break;
            }
            let Some((line, no, _)) = self.next_line() else {
                break;
            };
            if line.len() > MAX_LINE {
                let e = self.error(no, MAX_LINE, ErrorKind::LineTooLong, line);
                self.errors.push_back(e);
                continue;
            }
            let Some(f) = parse_field(line) else {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    let e = self.error(no, 0, ErrorKind::BadField, line);
                    self.errors.push_back(e);
                }
                continue;
            };
            match Field::from_key(f.key) {
                Some(k) => match f.value {
                    FieldValue::Kb(v) | FieldValue::Number(v) => {
                        known.set(k, v);
                        prev = k as usize;
                    }
                    FieldValue::Text(_) => {
                        // Point at the value that is not a number.
                        let after = f.key.len() + 1;
                        let col = after
                            + line[after..]
                                .iter()
                                .take_while(|&&b| b == b' ' || b == b'\t')
                                .count();
                        let e = self.error(no, col, ErrorKind::BadField, line);
                        self.errors.push_back(e);
                    }
                },
                None => match (f.key, f.value) {
                    (b"VmFlags", FieldValue::Text(t)) => vmflags = Some(VmFlags::parse(t)),
                    (b"VmFlags", _) => vmflags = Some(VmFlags::parse(b"")),
                    (b"Name", FieldValue::Text(t)) => name = Some(t),
                    _ => unknown_fields = unknown_fields.saturating_add(1),
                },
            }
        }
        if known == KnownValues::default()
            && vmflags.is_none()
            && name.is_none()
            && unknown_fields == 0
        {
            // Not one good field line: a malformed line under a maps line,
            // not an smaps block (its errors are queued already).
            return None;
        }
        let mut end = self.pos.min(self.input.len());
        // Keep `raw` to the field lines (drop the final terminator).
        if end > start && self.input[end - 1] == b'\n' {
            end -= 1;
        }
        Some(Box::new(SmapsBlock {
            known,
            vmflags,
            name,
            unknown_fields,
            raw: &self.input[start..end],
            first_line,
        }))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.errors.pop_front() {
            return Some(Err(e));
        }
        if let Some(e) = self.pending.take() {
            return Some(Ok(e));
        }
        // Most lines are well-formed headers: parse one where it starts,
        // finding its end on the way (a header line is never blank, never
        // foreign: it starts with a hex digit).
        if let Some((header, len)) = self.peeked.take().or_else(|| self.fast_header()) {
            let off = self.pos;
            self.pos += len;
            self.line += 1;
            return Some(self.entry(header, self.line, off));
        }
        loop {
            let (line, no, off) = self.next_line()?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if is_foreign(line) {
                self.ignored += 1;
                continue;
            }
            if line.len() > MAX_LINE {
                while self.next_is_field() {
                    self.next_line();
                }
                return Some(Err(self.error(no, MAX_LINE, ErrorKind::LineTooLong, line)));
            }
            return match parse_header(line) {
                // A line that does not even begin like a header (`hex-`).
                // (Any line parse_header accepts does.)
                Err(_) if !looks_like_header(line) => {
                    Some(Err(self.error(no, 0, ErrorKind::FieldBeforeHeader, line)))
                }
                Err((col, kind)) => {
                    // The fields under a bad header belong to it: skip them
                    // rather than report each as misplaced.
                    while self.next_is_field() {
                        self.next_line();
                    }
                    Some(Err(self.error(no, col, kind, line)))
                }
                Ok(header) => Some(self.entry(header, no, off)),
            };
        }
    }
}

impl<'a> Parser<'a> {
    /// The entry of a header just read: reads its smaps block, and yields
    /// the block's errors first.
    #[inline(always)]
    fn entry(
        &mut self,
        header: Header<'a>,
        line: usize,
        off: usize,
    ) -> Result<Entry<'a>, ParseError> {
        // In maps text the next line is the next header: read it now (it
        // is kept for the next call), and there is no block to look for.
        let smaps = if self.peek_header() {
            None
        } else {
            self.block()
        };
        let entry = Entry {
            header,
            line,
            byte_offset: off,
            smaps,
        };
        match self.errors.pop_front() {
            None => Ok(entry),
            Some(e) => {
                self.pending = Some(entry);
                Err(e)
            }
        }
    }
}

/// How to treat malformed lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Skip bad lines, count them and keep the first few.
    #[default]
    Lenient,
    /// Fail on the first bad line.
    Strict,
}

/// All the entries of a text, with what was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The format detected.
    pub format: Format,
    /// The regions, in input order.
    pub entries: Vec<Entry<'a>>,
    /// Number of malformed lines skipped (lenient mode).
    pub skipped: usize,
    /// The first malformed lines (at most [`Parsed::KEPT_ERRORS`]).
    pub errors: Vec<ParseError>,
    /// Lines known to be added by other tools, skipped (see
    /// [`Parser::ignored_lines`]).
    pub ignored: usize,
}

impl Parsed<'_> {
    /// How many errors are kept in [`Parsed::errors`].
    pub const KEPT_ERRORS: usize = 20;
}

/// Parses a whole text.
///
/// ```
/// use maplens_core::parse::{parse_all, Mode};
/// let text = b"00400000-00401000 r-xp 00000000 08:01 12 /bin/true\nbogus\n";
/// assert_eq!(parse_all(text, Mode::Lenient).unwrap().skipped, 1);
/// assert!(parse_all(text, Mode::Strict).is_err());
/// ```
pub fn parse_all(input: &[u8], mode: Mode) -> Result<Parsed<'_>, ParseError> {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = 0;
    let mut parser = Parser::new(input);
    while let Some(item) = parser.next() {
        match item {
            Ok(e) => {
                if entries.is_empty() {
                    // Size the vector from the first region's share of
                    // the text (an smaps region is ~10x a maps line):
                    // no reallocation, and no giant reservation either.
                    let span = parser.pos.saturating_sub(e.byte_offset).max(40);
                    entries.reserve(input.len() / span + input.len() / span / 8 + 16);
                }
                entries.push(e)
            }
            Err(e) if mode == Mode::Strict => return Err(e),
            Err(e) => {
                skipped += 1;
                if errors.len() < Parsed::KEPT_ERRORS {
                    errors.push(e);
                }
            }
        }
    }
    let format = match entries.first() {
        Some(e) if e.header.path.raw() == b"[rollup]" && e.smaps.is_some() => Format::SmapsRollup,
        _ if entries.iter().any(|e| e.smaps.is_some()) => Format::Smaps,
        _ => Format::Maps,
    };
    Ok(Parsed {
        format,
        entries,
        skipped,
        errors,
        ignored: parser.ignored_lines(),
    })
}

#[cfg(test)]
mod tests;
