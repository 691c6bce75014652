//! The one HTML escaper of maplens: JSON made safe inside a `<script>`
//! data block.

/// Escapes JSON text for a `<script type="application/json">` block: `<`,
/// `>` and `&` become `\u003c`, `\u003e`, `\u0026` (so no `</script>`,
/// `<!--` or character reference can appear), and U+2028 / U+2029 become
/// `\u2028` / `\u2029`. These characters only occur inside JSON strings,
/// where the escapes mean the same characters: the result parses to the
/// same value.
///
/// ```
/// use maplens_html::json_for_script;
/// assert_eq!(json_for_script(r#"["</script><b>&"]"#), r#"["\u003c/script\u003e\u003cb\u003e\u0026"]"#);
/// assert_eq!(json_for_script("\"a\u{2028}b\""), r#""a\u2028b""#);
/// ```
pub fn json_for_script(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    let mut start = 0;
    for (i, c) in json.char_indices() {
        let rep = match c {
            '<' => "\\u003c",
            '>' => "\\u003e",
            '&' => "\\u0026",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            _ => continue,
        };
        out.push_str(&json[start..i]);
        out.push_str(rep);
        start = i + c.len_utf8();
    }
    out.push_str(&json[start..]);
    out
}
