//! Property tests, through the binary: an smaps file whose mapped paths
//! and anonymous-region names are arbitrary bytes (all but the newline,
//! which the kernel writes as `\012`), saved under a file name of
//! arbitrary bytes (the target's name in every heading), is shown by
//! `maps`, `report`, `check` and `explain` without one byte a terminal
//! would act on, and by `html` without active content: the page outside
//! its JSON data block is the page of a benign file, byte for byte, and
//! the data block holds no `<`, `>`, `&`, U+2028 or U+2029 (it cannot end,
//! nor hold markup or a character reference), so the only scripts are the
//! page's own two (the data and the code its CSP allows by hash), and no
//! `on…=` handler, `javascript:` URL or CSS `expression(`/`url(` can come
//! from the target. (The page's script puts target strings into
//! `textContent` and `<title>` text only; crates/maplens-html/src/tests.rs
//! tests the same at the library level with more cases.)
//!
//! 64 cases, each running the binary five times.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use maplens_core::text::escape;
use proptest::prelude::*;

/// Bytes that hurt terminals, markup, JSON or the maps syntax.
fn hostile_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0x1b),
        Just(b'\r'),
        Just(0x07),
        Just(0x00),
        Just(0x7f),
        Just(0x9b),
        Just(0xc2),
        Just(0x85),
        Just(0xe2),
        Just(0x80),
        Just(0xae),
        Just(0xff),
        Just(b'<'),
        Just(b'>'),
        Just(b'&'),
        Just(b'"'),
        Just(b'\''),
        Just(b'\\'),
        Just(b' '),
        Just(b'\t'),
        Just(b'='),
        b'a'..=b'z',
        0u8..=255u8,
    ]
}

/// Words that would be active if they reached a page or a terminal raw.
const WORDS: &[&str] = &[
    "<script>alert(1)</script>",
    "</script><script>",
    "<img src=x onerror=alert(1)>",
    "\" onmouseover=\"alert(1)",
    "javascript:alert(1)",
    "x{background:url(javascript:alert(1))}",
    "expression(alert(1))",
    "<!--",
    "<style>",
    "\u{2028}\u{2029}",
    "\u{202e}txt.exe",
    "\x1b]0;pwned\x07",
    "\x1b[2J\x1b[H",
    "\u{9b}31m",
    " (deleted)",
];

fn word() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(WORDS)
}

/// Bytes a terminal would act on: C0 controls but `\n` and `\t`, DEL, a
/// byte that is not UTF-8 (0x9b alone is an 8-bit CSI), and decoded C1
/// and bidirectional controls.
fn hazards(out: &[u8]) -> Vec<String> {
    let mut bad = super::odd_names::hazards(out);
    for chunk in out.utf8_chunks() {
        if !chunk.invalid().is_empty() {
            bad.push(format!("bytes {:02x?} are not UTF-8", chunk.invalid()));
        }
    }
    bad
}

fn smaps_entry(range: &str, perms: &str, offset: &str, inode: u32, name: &[u8]) -> Vec<u8> {
    let mut e = format!("{range} {perms} {offset} 08:01 {inode:<10} ").into_bytes();
    e.extend_from_slice(name);
    e.push(b'\n');
    for (k, v) in [
        ("Size", 8),
        ("KernelPageSize", 4),
        ("MMUPageSize", 4),
        ("Rss", 8),
        ("Pss", 8),
        ("Shared_Clean", 0),
        ("Shared_Dirty", 0),
        ("Private_Clean", 4),
        ("Private_Dirty", 4),
        ("Referenced", 8),
        ("Anonymous", 4),
        ("Swap", 0),
        ("SwapPss", 0),
        ("Locked", 0),
    ] {
        e.extend_from_slice(format!("{:<16}{v:>8} kB\n", format!("{k}:")).as_bytes());
    }
    e.extend_from_slice(b"VmFlags: rd mr mw me ac\n");
    e
}

/// An smaps text: the hostile path's code and data, and an anonymous
/// region named by the hostile name.
fn smaps(path: &[u8], anon: &[u8]) -> Vec<u8> {
    let mut anon_name = b"[anon:".to_vec();
    anon_name.extend_from_slice(anon);
    anon_name.push(b']');
    let mut t = smaps_entry("55d0c0000000-55d0c0002000", "r-xp", "00000000", 7, path);
    t.extend(smaps_entry(
        "55d0c0002000-55d0c0004000",
        "rw-p",
        "00002000",
        7,
        path,
    ));
    t.extend(smaps_entry(
        "7f0000000000-7f0000002000",
        "rw-p",
        "00000000",
        0,
        &anon_name,
    ));
    t
}

/// Writes `text` as `dir/t<name>` (the `t`: never all digits, a PID, nor
/// an option), the name's bytes as they are (a TARGET need not be UTF-8).
fn save(dir: &Path, name: &[u8], text: &[u8]) -> PathBuf {
    let mut file = b"t".to_vec();
    file.extend(name.iter().filter(|&&b| b != b'/' && b != 0));
    let path = dir.join(OsString::from_vec(file));
    std::fs::write(&path, text).expect("write the smaps file");
    path
}

/// stdout of a successful maplens run (`check`: 1 is findings, a success).
fn maplens(args: &[&std::ffi::OsStr], stdin: Option<&Path>) -> Vec<u8> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_maplens"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).expect("open")),
        None => Stdio::null(),
    });
    let out = cmd.output().expect("run maplens");
    let ok = out.status.success() || (args[0] == "check" && out.status.code() == Some(1));
    assert!(
        ok,
        "{args:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        hazards(&out.stderr).is_empty(),
        "{args:?} stderr: {:?}",
        hazards(&out.stderr)
    );
    out.stdout
}

const OPEN: &str = "<script type=\"application/json\" id=\"data\">";

/// The page around its data block, and the block.
fn split(page: &str) -> (&str, &str, &str) {
    let a = page.find(OPEN).expect("a data block") + OPEN.len();
    let b = a + page[a..].find("</script>").expect("the block's end");
    (&page[..a], &page[a..b], &page[b..])
}

fn html(file: &Path) -> String {
    String::from_utf8(maplens(&["html".as_ref(), file.as_os_str()], None)).expect("UTF-8 page")
}

/// The page of a benign file: what every page must be outside its data.
fn benign_page() -> &'static (String, String) {
    static PAGE: OnceLock<(String, String)> = OnceLock::new();
    PAGE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = save(dir.path(), b"benign", &smaps(b"/usr/bin/benign", b"benign"));
        let page = html(&file);
        let (before, _, after) = split(&page);
        assert!(
            before.contains("script-src 'sha256-") && !before.contains("unsafe-inline"),
            "the page's CSP does not pin its script by hash"
        );
        (before.to_owned(), after.to_owned())
    })
}

/// `on…=`, as an event-handler attribute would start.
fn handlers(text: &str) -> usize {
    let t = text.to_ascii_lowercase();
    let b = t.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i..].starts_with(b"on") && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) && {
                let rest = &b[i + 2..];
                let n = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                n > 0 && rest[n..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'=')
            }
        })
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_target_bytes_act_on_a_terminal_or_a_page(
        path in proptest::collection::vec(hostile_byte(), 0..40),
        path_word in word(),
        anon in proptest::collection::vec(hostile_byte(), 0..30),
        anon_word in word(),
        name in proptest::collection::vec(hostile_byte(), 0..30),
        name_word in word(),
    ) {
        let no_nl = |mut v: Vec<u8>, w: &str| {
            v.extend_from_slice(w.as_bytes());
            v.retain(|&b| b != b'\n');
            v
        };
        let mut path = no_nl(path, path_word);
        path.insert(0, b'/');
        let anon = no_nl(anon, anon_word);
        let name = no_nl(name, name_word);
        let dir = tempfile::tempdir().expect("tempdir");
        let text = smaps(&path, &anon);
        let file = save(dir.path(), &name, &text);
        let f = file.as_os_str();

        for args in [
            &["maps".as_ref(), f][..],
            &["report".as_ref(), f],
            &["check".as_ref(), f],
        ] {
            let out = maplens(args, None);
            prop_assert!(hazards(&out).is_empty(), "{:?}: {:?}", args, hazards(&out));
        }
        let explained = maplens(&["explain".as_ref(), "--stdin".as_ref()], Some(&file));
        prop_assert!(hazards(&explained).is_empty(), "explain: {:?}", hazards(&explained));
        // The names were shown (escaped), not dropped: else this proves
        // nothing.
        let shown = String::from_utf8_lossy(&explained);
        let path_shown = escape(&path);
        prop_assert!(shown.contains(&*path_shown), "{} not in explain's output", path_shown);

        let page = html(&file);
        let (before, data, after) = split(&page);
        let (base_before, base_after) = benign_page();
        prop_assert_eq!(before, base_before.as_str());
        prop_assert_eq!(after, base_after.as_str());
        for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            prop_assert!(!data.contains(c), "{:?} in the data block", c);
        }
        prop_assert_eq!(page.matches("<script").count(), 2);
        let outside = format!("{before}{after}");
        prop_assert_eq!(handlers(&outside), handlers(&format!("{base_before}{base_after}")));
        for needle in ["javascript:", "expression(", "url("] {
            prop_assert!(!outside.to_ascii_lowercase().contains(needle), "{} in the page", needle);
        }
        let v: serde_json::Value = serde_json::from_str(data).expect("the block is JSON");
        // The page keeps " (deleted)" as a flag, apart from the path.
        let kept = escape(path.strip_suffix(b" (deleted)").unwrap_or(&path));
        let strings = v["strings"].as_array().expect("strings");
        prop_assert!(
            strings.iter().any(|s| s.as_str() == Some(&*kept)),
            "{} not in the page's strings", kept
        );
    }
}
