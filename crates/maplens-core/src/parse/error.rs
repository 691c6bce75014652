//! Parse errors that say where and what.

/// What was wrong with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum ErrorKind {
    /// The `start-end` address range is not hex.
    BadAddress,
    /// `end` is lower than `start`.
    EndBeforeStart,
    /// The permissions are not `[r-][w-][x-][sp]`.
    BadPerms,
    /// The offset is not hex.
    BadOffset,
    /// The device is not `hex:hex`.
    BadDevice,
    /// The inode is not a decimal number.
    BadInode,
    /// An smaps field line has no `Key:` or its value is not a number.
    BadField,
    /// An smaps field line before any region header.
    FieldBeforeHeader,
    /// A line longer than [`MAX_LINE`](super::MAX_LINE): no kernel prints one.
    LineTooLong,
}

impl ErrorKind {
    /// Plain-words description.
    pub const fn describe(self) -> &'static str {
        match self {
            ErrorKind::BadAddress => "expected an address range like 00400000-0040b000",
            ErrorKind::EndBeforeStart => "the end address is lower than the start address",
            ErrorKind::BadPerms => "expected permissions like r-xp (four of r/-, w/-, x/-, s/p)",
            ErrorKind::BadOffset => "expected a hex file offset",
            ErrorKind::BadDevice => "expected a device like 08:01 (hex major:minor)",
            ErrorKind::BadInode => "expected a decimal inode number",
            ErrorKind::BadField => "expected an smaps field like 'Rss:  12 kB'",
            ErrorKind::FieldBeforeHeader => "an smaps field line comes before any region line",
            ErrorKind::LineTooLong => {
                "the line is longer than 1 MiB, which no kernel prints (a name is at most a path)"
            }
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A malformed line: where it is, what is wrong, and the line itself.
///
/// ```
/// use maplens_core::parse::{Parser, ErrorKind};
/// let err = Parser::new(b"00400000-0040b000 r-xq 00000000 08:01 1 /bin/x\n")
///     .next().unwrap().unwrap_err();
/// assert_eq!((err.line, err.column, err.kind), (1, 19, ErrorKind::BadPerms));
/// assert!(err.to_string().starts_with("line 1, column 19: expected permissions"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}: `{}`", display_line(text))]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based byte column in the line.
    pub column: usize,
    /// What was wrong.
    pub kind: ErrorKind,
    /// The offending line (without its terminator), or its first 4 KiB.
    pub text: Vec<u8>,
}

/// A line made printable on one line: escapes control bytes, shortens it.
fn display_line(text: &[u8]) -> String {
    const MAX: usize = 160;
    let shown = &text[..text.len().min(MAX)];
    let mut s: String = String::from_utf8_lossy(shown)
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if text.len() > MAX {
        s.push('…');
    }
    s
}
