//! Text that came from a target, made safe to show.
//!
//! Every string maplens did not write itself — a pathname, `comm`, a command
//! line, a thread name, the name of a named anonymous region, a file name
//! inside a bundle — is bytes chosen by whoever made the process or the file.
//! Printed raw, a newline splits a table row, `ESC ] 0 ;` rewrites a
//! terminal's window title and U+202E reverses the text after it. This module
//! is the one place that turns such bytes into text for a terminal, a table or
//! a CSV cell. JSON keeps exact strings instead (its encoder escapes them);
//! pmap keeps procps's own byte-for-byte output when it is not on a terminal.
//!
//! The escaped form, one rule per input:
//!
//! | input | shown as |
//! | --- | --- |
//! | newline (0x0a) | `\012`, as the kernel writes it in `maps` |
//! | other C0 controls (0x00–0x1f) and DEL (0x7f) | `\xNN` |
//! | a backslash | `\\`, so that every escape reads back one way |
//! | a byte that is not part of valid UTF-8 | `\xNN` |
//! | C1 controls (U+0080–U+009F) | `\u{NN}` |
//! | bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) | `\u{NNNN}` |
//! | anything else | itself |
//!
//! ```
//! use maplens_core::text::escape;
//! assert_eq!(escape(b"/tmp/a\nb"), r"/tmp/a\012b");
//! assert_eq!(escape(b"\x1b]0;pwned\x07"), r"\x1b]0;pwned\x07");
//! assert_eq!(escape("x\u{202e}y".as_bytes()), r"x\u{202e}y");
//! assert_eq!(escape(b"caf\xe9"), r"caf\xe9");
//! assert_eq!(escape(b"plain/libc.so.6"), "plain/libc.so.6");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// True when `c` must not reach a terminal as itself.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\\'
        | '\u{061c}' | '\u{200e}' | '\u{200f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// True for a character that changes what a terminal shows rather than
/// showing itself: C0 and C1 controls, DEL and the bidirectional controls.
/// (A JSON encoder escapes C0 itself; a printer of JSON escapes the rest
/// of these as `\uXXXX`, which keeps the string exact.)
///
/// ```
/// use maplens_core::text::is_hazard;
/// assert!(is_hazard('\u{1b}') && is_hazard('\u{7f}') && is_hazard('\u{202e}'));
/// assert!(!is_hazard('a') && !is_hazard('\\') && !is_hazard('é'));
/// ```
pub fn is_hazard(c: char) -> bool {
    c != '\\' && needs_escape(c)
}

/// Writes a fragment of a JSON string with its hazardous characters
/// ([`is_hazard`]) as `\uXXXX` and the rest as it is: the body of every
/// maplens JSON formatter's `write_string_fragment` (serde_json leaves DEL,
/// C1 and bidi controls raw), so that a document stays exact and safe to
/// `cat`.
///
/// ```
/// let mut out = Vec::new();
/// maplens_core::text::write_json_fragment(&mut out, "a\u{7f}b\u{202e}").unwrap();
/// assert_eq!(out, br"a\u007fb\u202e");
/// ```
pub fn write_json_fragment<W: ?Sized + std::io::Write>(
    w: &mut W,
    fragment: &str,
) -> std::io::Result<()> {
    let mut rest = fragment;
    while let Some(i) = rest.find(is_hazard) {
        w.write_all(&rest.as_bytes()[..i])?;
        let c = rest[i..].chars().next().unwrap_or_default();
        write!(w, "\\u{:04x}", c as u32)?;
        rest = &rest[i + c.len_utf8()..];
    }
    w.write_all(rest.as_bytes())
}

/// The length of the longest prefix of `raw` that is printable ASCII and
/// no backslash: bytes shown as themselves (most text is all such bytes,
/// and needs no decoding).
fn plain_ascii_prefix(raw: &[u8]) -> usize {
    let special = |b: u8| !(0x20..0x7f).contains(&b) || b == b'\\';
    // Sixteen bytes at a time without a branch per byte (the compiler
    // makes vector compares of it): most text is plain all through.
    let mut at = 0;
    for block in raw.chunks_exact(16) {
        if block.iter().fold(false, |any, &b| any | special(b)) {
            break;
        }
        at += 16;
    }
    at + raw[at..]
        .iter()
        .position(|&b| special(b))
        .unwrap_or(raw.len() - at)
}

/// Appends the escaped form of `raw` (see the [module docs](self)) to `out`.
pub fn escape_into(raw: &[u8], out: &mut String) {
    let plain = plain_ascii_prefix(raw);
    let (head, rest) = raw.split_at(plain);
    // ASCII (so always UTF-8), and no UTF-8 sequence starts before
    // `plain` and ends after it.
    out.push_str(std::str::from_utf8(head).unwrap_or_default());
    escape_rest(rest, out);
}

/// [`escape_into`] for a byte buffer (a table row built as bytes): the
/// same escaped form, always UTF-8, appended to `out`. True when `raw`
/// was printable ASCII and went in as it is (one column a byte).
///
/// ```
/// let mut out = b"x ".to_vec();
/// assert!(!maplens_core::text::escape_into_bytes(b"/tmp/a\nb caf\xe9", &mut out));
/// assert_eq!(out, br"x /tmp/a\012b caf\xe9");
/// assert!(maplens_core::text::escape_into_bytes(b"/usr/lib/libc.so.6", &mut out));
/// ```
pub fn escape_into_bytes(raw: &[u8], out: &mut Vec<u8>) -> bool {
    let plain = plain_ascii_prefix(raw);
    let (head, rest) = raw.split_at(plain);
    out.extend_from_slice(head);
    if rest.is_empty() {
        return true;
    }
    let mut s = String::with_capacity(rest.len() + 8);
    escape_rest(rest, &mut s);
    out.extend_from_slice(s.as_bytes());
    false
}

/// The body of [`escape_into`], character by character.
fn escape_rest(raw: &[u8], out: &mut String) {
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid();
        // Most text needs nothing: copy up to the first character that does.
        let plain = valid.find(needs_escape).unwrap_or(valid.len());
        out.push_str(&valid[..plain]);
        for c in valid[plain..].chars() {
            match c {
                '\n' => out.push_str("\\012"),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x80 && needs_escape(c) => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if needs_escape(c) => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// The escaped form of `raw`, borrowed when nothing needed escaping.
///
/// This is the function every terminal, table and CSV output uses for text
/// from a target.
pub fn escape(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(raw)
        && !s.chars().any(needs_escape)
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    escape_into(raw, &mut out);
    Cow::Owned(out)
}

/// True when `raw` would be shown exactly as it is (nothing to escape).
pub fn is_plain(raw: &[u8]) -> bool {
    matches!(escape(raw), Cow::Borrowed(_))
}

/// The number of terminal columns the escaped text takes, for aligning tables.
///
/// Counts one column per `char`: maplens does not try to guess the width of
/// East Asian or combining characters, which terminals disagree on.
pub fn display_width(escaped: &str) -> usize {
    escaped.chars().count()
}

/// Serializes bytes from a target (a path, a name) as a JSON string: the
/// UTF-8 text itself, with U+FFFD where a byte is not UTF-8 (the exact
/// bytes of a region's path are in `maps`' `path_bytes`/`path_raw`).
/// For `#[serde(serialize_with = "...")]` on fields that carry bytes.
#[cfg(feature = "serde")]
pub fn ser_lossy<S: serde::Serializer, B: AsRef<[u8]> + ?Sized>(
    b: &B,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b.as_ref()))
}

/// Text of bytes from a target for matching and sorting by people (never
/// for a terminal: use [`escape`]): U+FFFD where a byte is not UTF-8.
pub fn lossy(b: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A count and a noun, singular or plural: `1 thread`, `2 threads`.
///
/// ```
/// use maplens_core::text::plural;
/// assert_eq!(plural(1, "line", "lines"), "1 line");
/// assert_eq!(plural(0, "line", "lines"), "0 lines");
/// ```
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block-at-a-time scan finds the first special byte wherever it
    /// is: in a block, in the tail, at a block's edge, or nowhere.
    #[test]
    fn plain_prefix_is_found_at_every_position() {
        let naive = |raw: &[u8]| {
            raw.iter()
                .position(|&b| !(0x20..0x7f).contains(&b) || b == b'\\')
                .unwrap_or(raw.len())
        };
        for len in 0..50 {
            let plain = vec![b'a'; len];
            assert_eq!(plain_ascii_prefix(&plain), len);
            for at in 0..len {
                for special in [0u8, b'\n', 0x1f, 0x7f, 0x80, 0xff, b'\\'] {
                    let mut t = plain.clone();
                    t[at] = special;
                    assert_eq!(plain_ascii_prefix(&t), naive(&t), "{len} {at} {special}");
                    assert_eq!(plain_ascii_prefix(&t), at);
                }
            }
        }
    }

    #[test]
    fn every_control_and_bidi_is_visible() {
        let hostile: &[&[u8]] = &[
            b"\n",
            b"\r",
            b"\x1b]0;title\x07",
            b"\x1b[2J",
            "\u{202e}".as_bytes(),
            "\u{2066}x\u{2069}".as_bytes(),
            "\u{85}".as_bytes(),
            b"\xff\xfe",
            b"\x00\x7f\t",
        ];
        for h in hostile {
            let e = escape(h);
            assert!(
                !e.chars()
                    .any(|c| c.is_control() || needs_escape(c) && c != '\\'),
                "{h:?} -> {e:?}"
            );
        }
        assert_eq!(escape(b"\r\t\x7f"), r"\x0d\x09\x7f");
        assert_eq!(escape("\u{85}".as_bytes()), r"\u{85}");
        assert_eq!(escape(br"a\b"), r"a\\b");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(is_plain("/usr/lib/ünïcode.so".as_bytes()));
        assert!(!is_plain(b"a\nb"));
        assert_eq!(display_width(&escape("é\u{202e}".as_bytes())), 9);
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_has_no_control_characters(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let e = escape(&raw);
            proptest::prop_assert!(!e.chars().any(|c| c.is_control()));
            let bidi = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            proptest::prop_assert!(!e.chars().any(bidi));
        }
    }
}
