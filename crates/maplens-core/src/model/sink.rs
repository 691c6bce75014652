//! Building a snapshot from text that arrives in pieces.
//!
//! [`TextSink`] takes maps, smaps or smaps_rollup text a chunk at a time
//! (as `read` hands it out), parses every whole region as soon as it has
//! arrived, and keeps only the records: a 60,000-region smaps (42 MB of
//! text) is never held at once. The result is the same as parsing the
//! whole text in one go ([`Snapshot::add_text`]), which is built on it.

use super::region::FlagsTexts;
use super::{Notice, Region, Smaps, Snapshot, TextError};
use crate::parse::{self, Format, Mode, ParseError};

/// Parses region text fed in arbitrary pieces into a [`Snapshot`].
///
/// ```
/// use maplens_core::model::{Snapshot, TextSink};
/// use maplens_core::parse::Mode;
/// let text = b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nRss: 4 kB\n\
///              00401000-00402000 rw-p 00001000 08:01 7 /bin/x\nRss: 8 kB\n";
/// let mut sink = TextSink::new("smaps", Mode::Strict);
/// for piece in text.chunks(7) {
///     sink.push(piece).unwrap();
/// }
/// let mut snap = Snapshot::default();
/// sink.finish(&mut snap).unwrap();
/// assert_eq!(snap, Snapshot::from_text("", text, Mode::Strict).map(|mut s| {
///     s.origin.clear();
///     s
/// }).unwrap());
/// ```
#[derive(Debug)]
pub struct TextSink {
    file: String,
    mode: Mode,
    /// Text received but not parsed yet: the start of a region whose end
    /// has not arrived (it begins at a line start).
    carry: Vec<u8>,
    /// Lines parsed so far (to number the lines of the next piece).
    lines: usize,
    /// The text's line ends, judged from its first line.
    crlf: Option<bool>,
    /// The total length, when known: sizes the region list.
    size_hint: Option<usize>,
    /// Bytes parsed so far.
    offset: usize,
    /// Offset of the first entry.
    first_offset: Option<usize>,
    skipped: usize,
    ignored: usize,
    first_error: Option<ParseError>,
    regions: Vec<Region>,
    overlaps: Vec<Notice>,
    rollup: Option<Smaps>,
    any_smaps: bool,
    keys: Option<Vec<String>>,
    /// The carry ends inside a line already longer than
    /// [`MAX_LINE`](parse::MAX_LINE): the rest of that line is counted, not
    /// kept, so a line of any length costs at most 1 MiB of memory.
    overlong: bool,
    /// Regions that came out of order, in the order they came.
    late: Vec<Region>,
    /// The `VmFlags` texts seen, each stored once.
    flags: FlagsTexts,
}

/// Where in `buf` (which begins at a line start) the last region that is
/// certainly complete ends: the start of the last whole line (one followed
/// by a newline) that begins like a header, when it is not the first line.
/// The parser ends every region, and every run of stray lines, before such
/// a line, so the text before it parses the same alone as within the whole.
fn last_boundary(buf: &[u8]) -> Option<usize> {
    // The end of the last whole line.
    let mut end = memchr::memrchr(b'\n', buf)?;
    loop {
        let start = memchr::memrchr(b'\n', &buf[..end]).map_or(0, |i| i + 1);
        if start == 0 {
            return None;
        }
        if parse::looks_like_header(&buf[start..end]) {
            return Some(start);
        }
        end = start - 1;
    }
}

/// The first line start in `buf` after its first newline that begins like
/// a header and is a whole line; the counterpart of [`last_boundary`] for
/// the head of a new chunk.
fn first_boundary(buf: &[u8]) -> Option<usize> {
    let mut at = memchr::memchr(b'\n', buf)? + 1;
    loop {
        let end = at + memchr::memchr(b'\n', &buf[at..])?;
        if parse::looks_like_header(&buf[at..end]) {
            return Some(at);
        }
        at = end + 1;
    }
}

impl TextSink {
    /// A sink for the text of `file` (the name is for messages).
    pub fn new(file: &str, mode: Mode) -> TextSink {
        TextSink {
            file: file.to_owned(),
            mode,
            carry: Vec::new(),
            lines: 0,
            crlf: None,
            size_hint: None,
            offset: 0,
            first_offset: None,
            skipped: 0,
            ignored: 0,
            first_error: None,
            regions: Vec::new(),
            overlaps: Vec::new(),
            rollup: None,
            any_smaps: false,
            keys: None,
            overlong: false,
            late: Vec::new(),
            flags: FlagsTexts::default(),
        }
    }

    /// The same, told the text's total length (a regular file's size): the
    /// region list is then sized once.
    pub fn with_size_hint(mut self, len: usize) -> TextSink {
        self.size_hint = Some(len);
        self
    }

    /// Takes the next piece of the text. Pieces may split lines and
    /// regions anywhere; each whole region is parsed at once. A line longer
    /// than [`MAX_LINE`](parse::MAX_LINE) is kept only up to that length
    /// (the parser refuses it just the same), so memory stays bounded
    /// whatever the input.
    pub fn push(&mut self, mut piece: &[u8]) -> Result<(), TextError> {
        if self.overlong {
            let Some(i) = memchr::memchr(b'\n', piece) else {
                return Ok(());
            };
            // The long line ends here; the parser meets its first
            // MAX_LINE + 1 bytes and refuses it as it would the whole. (The
            // byte offsets of the entries after it leave out the dropped
            // bytes: they only size the region list.)
            self.overlong = false;
            self.carry.push(b'\n');
            piece = &piece[i + 1..];
        }
        self.push_whole(piece)?;
        // Bound the unfinished last line of the carry.
        let line = memchr::memrchr(b'\n', &self.carry).map_or(0, |i| i + 1);
        if self.carry.len() - line > parse::MAX_LINE + 1 {
            self.carry.truncate(line + parse::MAX_LINE + 1);
            self.overlong = true;
        }
        Ok(())
    }

    fn push_whole(&mut self, piece: &[u8]) -> Result<(), TextError> {
        if piece.is_empty() {
            return Ok(());
        }
        if self.carry.is_empty() {
            // The common case: no copy. `piece` begins at a line start.
            return match last_boundary(piece) {
                Some(b) => {
                    self.parse(&piece[..b])?;
                    self.carry.extend_from_slice(&piece[b..]);
                    Ok(())
                }
                None => {
                    self.carry.extend_from_slice(piece);
                    Ok(())
                }
            };
        }
        // The carried start of a region, completed by the head of `piece`.
        let head_ends_line = self.carry.last() == Some(&b'\n');
        let first = if head_ends_line {
            // `piece` begins at a line start: it may itself be a header.
            let end = memchr::memchr(b'\n', piece);
            match end {
                Some(e) if parse::looks_like_header(&piece[..e]) => Some(0),
                Some(_) => first_boundary(piece),
                None => None,
            }
        } else {
            first_boundary(piece)
        };
        let Some(first) = first else {
            // A region longer than the piece. (A boundary is never needed:
            // any set of them gives the same result, only later.)
            self.carry.extend_from_slice(piece);
            return Ok(());
        };
        let mut done = std::mem::take(&mut self.carry);
        done.extend_from_slice(&piece[..first]);
        self.parse(&done)?;
        done.clear();
        self.carry = done;
        let rest = &piece[first..];
        match last_boundary(rest) {
            Some(b) if b > 0 => {
                self.parse(&rest[..b])?;
                self.carry.extend_from_slice(&rest[b..]);
            }
            _ => self.carry.extend_from_slice(rest),
        }
        Ok(())
    }

    /// Parses a run of whole regions (it ends at the end of the text or
    /// before a header-like line).
    pub(crate) fn parse(&mut self, text: &[u8]) -> Result<(), TextError> {
        let crlf = *self.crlf.get_or_insert_with(|| {
            memchr::memchr(b'\n', text).is_some_and(|i| i > 0 && text[i - 1] == b'\r')
        });
        let base_line = self.lines;
        let base_offset = self.offset;
        let mut parser = parse::Parser::with_crlf(text, crlf);
        for item in parser.by_ref() {
            let mut e = match item {
                Ok(e) => e,
                Err(mut error) => {
                    error.line += base_line;
                    if self.mode == Mode::Strict {
                        return Err(TextError {
                            file: self.file.clone(),
                            error,
                        });
                    }
                    self.skipped += 1;
                    self.first_error.get_or_insert(error);
                    continue;
                }
            };
            e.line += base_line;
            e.byte_offset += base_offset;
            match self.first_offset {
                None => {
                    self.first_offset = Some(e.byte_offset);
                    // smaps_rollup: one `[rollup]` block, no regions.
                    if e.header.path.raw() == b"[rollup]"
                        && let Some(b) = e.smaps.as_deref()
                    {
                        self.rollup = Some(Smaps::from_block(b));
                    }
                }
                Some(first) if self.regions.len() == 1 => {
                    // Size the list from the first region's share of the
                    // text (an smaps region is ~10x a maps line).
                    if let Some(len) = self.size_hint {
                        let span = e.byte_offset.saturating_sub(first).max(40);
                        self.regions.reserve(len / span + len / span / 8 + 16);
                    }
                }
                Some(_) => {}
            }
            if self.rollup.is_some() {
                continue;
            }
            if let Some(b) = e.smaps.as_deref() {
                self.any_smaps = true;
                if self.keys.is_none() {
                    self.keys = Some(
                        b.fields()
                            .map(|f| String::from_utf8_lossy(f.key).into_owned())
                            .collect(),
                    );
                }
            }
            let r = Region::from_entry_in(&e, &mut self.flags);
            let regions = &mut self.regions;
            let mut replaced = 0;
            while let Some(last) = regions.last() {
                if r.start < last.end && r.end > last.start || r.start == last.start {
                    regions.pop();
                    replaced += 1;
                } else {
                    break;
                }
            }
            if replaced > 0 {
                self.overlaps.push(Notice::Overlap {
                    file: self.file.clone(),
                    line: e.line,
                    replaced,
                });
            }
            if regions.last().is_some_and(|l| r.start < l.start) {
                // Out of order and not overlapping the last one (the kernel
                // prints sorted): set aside, and merged in place at the end,
                // so that a reversed text costs n log n, not n².
                self.late.push(r);
            } else {
                regions.push(r);
            }
        }
        self.lines += parser.lines_read();
        self.offset += text.len();
        self.ignored += parser.ignored_lines();
        Ok(())
    }

    /// Parses what is left and adds the regions (or the rollup) to `snap`,
    /// as [`Snapshot::add_text`] does.
    pub fn finish(mut self, snap: &mut Snapshot) -> Result<(), TextError> {
        let rest = std::mem::take(&mut self.carry);
        if !rest.is_empty() {
            self.parse(&rest)?;
        }
        let file = self.file;
        if self.skipped > 0 {
            snap.notices.push(Notice::SkippedLines {
                file: file.clone(),
                count: self.skipped,
                first: self.first_error.map(|e| e.to_string()).unwrap_or_default(),
            });
        }
        if self.ignored > 0 {
            snap.notices.push(Notice::ForeignLines {
                file,
                count: self.ignored,
            });
        }
        if self.rollup.is_some() {
            snap.rollup = self.rollup;
            if snap.format.is_none() {
                snap.format = Some(Format::SmapsRollup);
            }
            return Ok(());
        }
        // A maps text never downgrades an smaps snapshot.
        if snap.format != Some(Format::Smaps) {
            snap.format = Some(if self.any_smaps {
                Format::Smaps
            } else {
                Format::Maps
            });
        }
        if let Some(k) = self.keys {
            snap.smaps_keys = k;
        }
        snap.notices.extend(self.overlaps);
        snap.regions = merge_late(self.regions, self.late);
        Ok(())
    }
}

/// The regions in order of start address: `late` (out-of-order regions,
/// in the order they came) merged into the sorted `regions`, each before
/// any region of the same start that came earlier, as if each had been
/// inserted where it belongs when it came.
fn merge_late(regions: Vec<Region>, mut late: Vec<Region>) -> Vec<Region> {
    if late.is_empty() {
        return regions;
    }
    // Later arrivals first among equal starts: sort by start, newest first.
    let mut late: Vec<(usize, Region)> = late.drain(..).enumerate().collect();
    late.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(b.0.cmp(&a.0)));
    let mut out = Vec::with_capacity(regions.len() + late.len());
    let mut late = late.into_iter().map(|(_, r)| r).peekable();
    for r in regions {
        while late.peek().is_some_and(|l| l.start <= r.start) {
            out.extend(late.next());
        }
        out.push(r);
    }
    out.extend(late);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` in pieces of `n` bytes.
    fn chunked(text: &[u8], n: usize, mode: Mode) -> Result<Snapshot, String> {
        let mut sink = TextSink::new("t", mode);
        for piece in text.chunks(n) {
            sink.push(piece).map_err(|e| e.to_string())?;
        }
        let mut snap = Snapshot {
            origin: "t".into(),
            ..Snapshot::default()
        };
        sink.finish(&mut snap).map_err(|e| e.to_string())?;
        Ok(snap)
    }

    fn same_in_pieces(text: &[u8]) {
        for mode in [Mode::Lenient, Mode::Strict] {
            let whole = Snapshot::from_text("t", text, mode).map_err(|e| e.to_string());
            for n in [1, 2, 3, 5, 17, 64, 333, 4096, 1 << 20] {
                assert_eq!(chunked(text, n, mode), whole, "pieces of {n}, {mode:?}");
            }
        }
    }

    #[test]
    fn odd_texts_parse_the_same_in_pieces() {
        let texts: &[&[u8]] = &[
            b"",
            b"\n\n",
            b"not a map at all\nRss: 4 kB\n",
            b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x",
            b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\r\nRss: 4 kB\r\n\
              00401000-00402000 rw-p 00000000 00:00 0 \r\nRss: 8 kB\r\n",
            // A bad field, a bad header with fields under it, a blank line,
            // a foreign trailer, an overlap and an out-of-order region.
            b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nRss: 4 kB\nRss: lots\n\
              0040zz00-00402000 rw-p 00000000 00:00 0\nRss: 4 kB\nPss: 4 kB\n\n\
              00400000-00403000 r-xp 00000000 08:01 7 /bin/x\nSize: 12 kB\nHugePFNMap: 0 kB\n\
              VmFlags: rd ex mr mw me\n\
              00300000-00301000 rw-p 00000000 00:00 0 [heap]\nRss: 4 kB\n\
              Total number of mappings: 3\n",
            b"00000000-00000000 ---p 00000000 00:00 0 [rollup]\nRss: 4 kB\nPss: 2 kB\n",
            b"Rss: 4 kB\n00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nRss: 4 kB",
        ];
        for t in texts {
            same_in_pieces(t);
        }
    }

    /// A line of 3 MiB (a header with a huge name, and junk without a
    /// header) parses the same in pieces as whole, while the sink keeps no
    /// more than 1 MiB of it.
    #[test]
    fn overlong_lines_parse_the_same_in_pieces_and_are_not_kept() {
        let mut texts = Vec::new();
        for (head, tail) in [
            (&b"00402000-00403000 r--p 00000000 08:01 9 /"[..], &b""[..]),
            (b"", b""),
            (b"00402000-00403000 r--p 00000000 08:01 9 /", b"\nRss: 4 kB"),
        ] {
            let mut t = b"00400000-00401000 r-xp 00000000 08:01 7 /bin/x\nRss: 4 kB\n".to_vec();
            t.extend_from_slice(head);
            t.resize(t.len() + 3 * parse::MAX_LINE, b'x');
            t.extend_from_slice(tail);
            t.extend_from_slice(b"\n00500000-00501000 rw-p 00000000 00:00 0 \nRss: 8 kB\n");
            texts.push(t);
        }
        for t in &texts {
            for mode in [Mode::Lenient, Mode::Strict] {
                let whole = Snapshot::from_text("t", t, mode).map_err(|e| e.to_string());
                for n in [4096, 65536, 1 << 20, 3 << 20] {
                    assert_eq!(chunked(t, n, mode), whole, "pieces of {n}, {mode:?}");
                }
            }
            let mut sink = TextSink::new("t", Mode::Lenient);
            let mut most = 0;
            for piece in t.chunks(65536) {
                sink.push(piece).unwrap();
                most = most.max(sink.carry.len());
            }
            assert!(most <= parse::MAX_LINE + 65536 + 4096, "{most}");
        }
        let whole = Snapshot::from_text("t", &texts[0], Mode::Lenient).unwrap();
        assert_eq!(whole.regions.len(), 2);
    }

    /// Regions that come out of order end up where they belong, the later
    /// of two with the same start first, and a reversed text of 20,000
    /// regions is put in order (each one merged, not inserted: n log n).
    #[test]
    fn out_of_order_regions_are_merged_in_place() {
        let text = b"00005000-00006000 rw-p 00000000 00:00 0 /e\n\
            00001000-00002000 rw-p 00000000 00:00 0 /a\n\
            00003000-00004000 rw-p 00000000 00:00 0 /c1\n\
            00003000-00003800 rw-p 00000000 00:00 0 /c2\n\
            00006000-00007000 rw-p 00000000 00:00 0 /f\n\
            00002000-00003000 rw-p 00000000 00:00 0 /b\n";
        let snap = Snapshot::from_text("t", text, Mode::Lenient).unwrap();
        let got: Vec<&[u8]> = snap.regions.iter().map(|r| r.path.raw()).collect();
        let want: [&[u8]; 6] = [b"/a", b"/b", b"/c2", b"/c1", b"/e", b"/f"];
        assert_eq!(got, want);
        same_in_pieces(text);
        let n = 20_000u64;
        let mut rev = Vec::new();
        for i in (0..n).rev() {
            let a = 0x1000_0000 + i * 0x2000;
            rev.extend_from_slice(
                format!("{a:08x}-{:08x} rw-p 00000000 00:00 0\n", a + 0x1000).as_bytes(),
            );
        }
        let snap = Snapshot::from_text("t", &rev, Mode::Lenient).unwrap();
        assert_eq!(snap.regions.len() as u64, n);
        assert!(snap.regions.windows(2).all(|w| w[0].start < w[1].start));
    }

    #[test]
    fn fixtures_parse_the_same_in_pieces() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/fixtures");
        let mut seen = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if !p.is_file() {
                continue;
            }
            let text = std::fs::read(&p).unwrap();
            let whole = Snapshot::from_text("t", &text, Mode::Lenient).unwrap();
            for n in [1, 100, 4096, 65536] {
                assert_eq!(
                    chunked(&text, n, Mode::Lenient).unwrap(),
                    whole,
                    "{p:?} by {n}"
                );
            }
            seen += 1;
        }
        assert!(seen > 10, "only {seen} fixtures in {dir:?}");
    }
}
