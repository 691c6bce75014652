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
}
