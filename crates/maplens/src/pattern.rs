//! Regular expressions for `--path`, `--filter` and the like.
//!
//! Normal builds use the `regex` crate and match a path's exact bytes. The
//! lite device build (without the `unicode-regex` feature) uses the much
//! smaller `regex-lite`, which matches text: a path that is not UTF-8 is
//! matched on its lossy form (invalid bytes become U+FFFD).

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    #[cfg(feature = "unicode-regex")]
    re: regex::bytes::Regex,
    #[cfg(not(feature = "unicode-regex"))]
    re: regex_lite::Regex,
}

impl Pattern {
    /// Compiles `p`; the error says what is wrong with it.
    pub fn new(p: &str) -> Result<Pattern, String> {
        #[cfg(feature = "unicode-regex")]
        let re = regex::bytes::Regex::new(p).map_err(|e| e.to_string())?;
        #[cfg(not(feature = "unicode-regex"))]
        let re = regex_lite::Regex::new(p).map_err(|e| e.to_string())?;
        Ok(Pattern { re })
    }

    /// Whether the pattern matches anywhere in `bytes`.
    pub fn is_match(&self, bytes: &[u8]) -> bool {
        #[cfg(feature = "unicode-regex")]
        {
            self.re.is_match(bytes)
        }
        #[cfg(not(feature = "unicode-regex"))]
        {
            let text = String::from_utf8_lossy(bytes);
            self.re.is_match(&text)
        }
    }

    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match_str(&self, text: &str) -> bool {
        self.is_match(text.as_bytes())
    }
}

/// A `--perm` pattern: a prefix of `rwxp` where each position is the
/// letter, `-`, or `?`/`.` for either (`rw`, `r-x`, `??xp`, `---p`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermPattern(Vec<u8>);

impl PermPattern {
    /// Parses a pattern; the error is the one-line message for the user.
    pub fn new(p: &str) -> anyhow::Result<PermPattern> {
        let b = p.as_bytes().to_vec();
        let ok = b.len() <= 4
            && b.iter().enumerate().all(|(i, c)| {
                matches!(c, b'?' | b'.')
                    || match i {
                        0 => matches!(c, b'r' | b'-'),
                        1 => matches!(c, b'w' | b'-'),
                        2 => matches!(c, b'x' | b'-'),
                        _ => matches!(c, b's' | b'p'),
                    }
            });
        if !ok {
            anyhow::bail!(
                "--perm: '{p}' is not a pattern like rw, r-x, ??xp (r/w/x/s/p, '-' or '?')"
            );
        }
        Ok(PermPattern(b))
    }

    /// Whether permissions match.
    pub fn matches(&self, perms: maplens_core::parse::Perms) -> bool {
        self.0
            .iter()
            .zip(perms.as_bytes().iter())
            .all(|(w, h)| matches!(w, b'?' | b'.') || w == h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bytes_and_text() {
        let p = Pattern::new("libc|ld-linux").unwrap();
        assert!(p.is_match(b"/usr/lib/libc.so.6"));
        assert!(!p.is_match(b"/usr/lib/libm.so.6"));
        assert!(p.is_match_str("ld-linux-x86-64.so.2"));
        assert!(Pattern::new("(").is_err());
        let q = Pattern::new("caf").unwrap();
        assert!(q.is_match(b"/tmp/caf\xe9"));
    }

    #[test]
    fn perm_patterns() {
        use maplens_core::parse::Perms;
        let rx = Perms::parse(b"r-xp").unwrap();
        assert!(PermPattern::new("r-x").unwrap().matches(rx));
        assert!(PermPattern::new("??xp").unwrap().matches(rx));
        assert!(!PermPattern::new("rw").unwrap().matches(rx));
        assert!(
            PermPattern::new("---p")
                .unwrap()
                .matches(Perms::parse(b"---p").unwrap())
        );
        assert!(PermPattern::new("rwxps").is_err());
        assert!(PermPattern::new("x").is_err());
    }
}
