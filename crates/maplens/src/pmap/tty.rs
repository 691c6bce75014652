//! pmap on a terminal: procps writes the bytes of a mapping's name (and of
//! saved text) as they are, so an escape sequence in a file name would
//! reach the screen. Like `ls`, maplens keeps pmap's exact bytes when
//! stdout is not a terminal and escapes with `maplens_core::text::escape`
//! when it is.
//!
//! Backslashes are kept as they are: the kernel already writes a newline in
//! a path as `\012`, and escaping its backslash again would show `\\012`.

use std::io::{self, Read};

use maplens_core::text;

/// Appends `line` to `out` with every control byte, invalid UTF-8 and
/// bidirectional control escaped (see `maplens_core::text`); backslashes and
/// newlines stay.
pub fn escape_keeping_backslashes(line: &[u8], out: &mut Vec<u8>) {
    if text::is_plain(line) {
        out.extend_from_slice(line);
        return;
    }
    for (i, part) in line.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        for (j, piece) in part.split(|&b| b == b'\\').enumerate() {
            if j > 0 {
                out.push(b'\\');
            }
            out.extend_from_slice(text::escape(piece).as_bytes());
        }
    }
}

/// A reader that hands out the text of `inner` with each line escaped by
/// [`escape_keeping_backslashes`]; lines in the kernel's own form (plain
/// ASCII) pass unchanged.
pub struct Escaped<'a> {
    inner: &'a mut (dyn Read + Send),
    /// Escaped text not handed out yet, from `pos` on.
    ready: Vec<u8>,
    pos: usize,
    /// Raw text after the last newline read.
    carry: Vec<u8>,
    eof: bool,
}

impl<'a> Escaped<'a> {
    /// Wraps `inner`.
    pub fn new(inner: &'a mut (dyn Read + Send)) -> Self {
        Escaped {
            inner,
            ready: Vec::new(),
            pos: 0,
            carry: Vec::new(),
            eof: false,
        }
    }
}

impl Read for Escaped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        while self.pos == self.ready.len() && !self.eof {
            self.ready.clear();
            self.pos = 0;
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                self.eof = true;
                escape_keeping_backslashes(&self.carry, &mut self.ready);
                self.carry.clear();
                break;
            }
            self.carry.extend_from_slice(&chunk[..n]);
            if let Some(j) = self.carry.iter().rposition(|&b| b == b'\n') {
                escape_keeping_backslashes(&self.carry[..=j], &mut self.ready);
                self.carry.drain(..=j);
            }
        }
        let n = buf.len().min(self.ready.len() - self.pos);
        buf[..n].copy_from_slice(&self.ready[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(text: &[u8]) -> Vec<u8> {
        let mut src: &[u8] = text;
        let mut out = Vec::new();
        Escaped::new(&mut src).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn control_bytes_are_escaped_and_kernel_escapes_kept() {
        let mut out = Vec::new();
        escape_keeping_backslashes(b"/tmp/\x1b]0;title\x07 new\\012line\xff", &mut out);
        assert_eq!(out, b"/tmp/\\x1b]0;title\\x07 new\\012line\\xff");
    }

    #[test]
    fn reader_escapes_each_line_and_keeps_the_rest() {
        let text = b"Rss:                  64 kB\n7f-8f rw-p 0 00:00 0 /a\x1b[2J\nlast\x07";
        assert_eq!(
            through(text),
            b"Rss:                  64 kB\n7f-8f rw-p 0 00:00 0 /a\\x1b[2J\nlast\\x07"
        );
        // Longer than one read, with a name across the chunk boundary.
        let mut big = vec![b'a'; 64 * 1024 - 2];
        big.extend_from_slice(b"\x1b\x1b\n");
        let mut want = vec![b'a'; 64 * 1024 - 2];
        want.extend_from_slice(b"\\x1b\\x1b\n");
        assert_eq!(through(&big), want);
    }
}
