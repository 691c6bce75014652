//! The page as text: the fixed template around one data block, the data
//! escaped so that no string from the target can become markup, and a
//! script that never turns text into markup.

use maplens_core::analysis::{classify, report};
use maplens_core::check::{self, CheckOptions, Severity};
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;
use maplens_core::text::escape;
use proptest::prelude::*;

use crate::{Input, SCRIPT, STYLE, document, page};

const OPEN: &str = "<script type=\"application/json\" id=\"data\">";

/// A page of one region named `path`, with `comm` and `source` set to
/// the given text (the three strings a target chooses in a report).
fn page_of(path: &[u8], comm: &str, source: &str) -> (String, Snapshot) {
    let mut maps = b"55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 ".to_vec();
    maps.extend_from_slice(path);
    maps.extend_from_slice(b"\n7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]\n");
    let snap = Snapshot::from_text("maps", &maps, Mode::Lenient).expect("parse");
    let cl = classify(&snap);
    let mut rep = report(&snap, &cl);
    rep.comm = Some(comm.to_owned());
    rep.source = source.to_owned();
    let findings = check::evaluate(
        &snap,
        &cl,
        &CheckOptions {
            min_severity: Severity::Info,
            ignore: Vec::new(),
            system: None,
        },
    );
    let page = document(&Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: Some(&findings),
        recording: None,
    })
    .expect("document");
    (page, snap)
}

/// The page split around its data block: (before, data, after).
fn split(page: &str) -> (&str, &str, &str) {
    let i = page.find(OPEN).expect("data block") + OPEN.len();
    let j = i + page[i..].find("</script>").expect("end of the data block");
    (&page[..i], &page[i..j], &page[j..])
}

/// What would make a page run or load something: tags, event handler
/// attributes, `javascript:` URLs, CSS expressions and imports.
fn active_markup(text: &str) -> Vec<&'static str> {
    let low = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for (needle, what) in [
        ("<", "a tag"),
        ("javascript:", "a javascript: URL"),
        ("expression(", "a CSS expression"),
        ("@import", "a CSS import"),
        ("url(", "a CSS url()"),
    ] {
        if low.contains(needle) {
            found.push(what);
        }
    }
    let b = low.as_bytes();
    for (k, w) in b.windows(3).enumerate() {
        if w == b" on" || w == b"\"on" || w == b"'on" || w == b"/on" {
            let rest = &b[k + 3..];
            let name = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if name > 0 && rest.get(name) == Some(&b'=') {
                found.push("an event handler attribute");
            }
        }
    }
    found
}

#[test]
fn hostile_names_stay_inside_the_data_block() {
    let (page, _) = page_of(
        b"/tmp/\"><img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        "/tmp/<svg onload=alert(1)>",
    );
    assert!(!page.contains("<img") && !page.contains("<svg onload"));
    assert_eq!(page.matches("<script").count(), 2);
    assert!(page.contains(r#"/tmp/\"\u003e\u003cimg src=x onerror=alert(1)\u003e"#));
    assert!(page.contains(r"\u003cscript\u003ealert(1)\u003c/script\u003e"));
}

#[test]
fn object_paths_show_stray_bytes_as_escapes() {
    let maps = b"55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /lib/bad\xff.so\n\
55d0c0001000-55d0c0002000 r--p 00001000 08:01 7 /lib/bad\xff.so\n";
    let snap = Snapshot::from_text("maps", maps, Mode::Lenient).expect("parse");
    let cl = classify(&snap);
    let rep = report(&snap, &cl);
    assert_eq!(rep.objects.len(), 1);
    let page = document(&Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: None,
        recording: None,
    })
    .expect("document");
    let (_, data, _) = split(&page);
    let v: serde_json::Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(v["report"]["objects"][0]["path"], r"/lib/bad\xff.so");
    assert!(
        v["strings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == r"/lib/bad\xff.so")
    );
}

#[test]
fn the_template_and_the_style_hold_no_active_markup() {
    let empty = page("");
    let (before, data, after) = split(&empty);
    assert_eq!(data, "");
    // The page's own markup: the two script elements only.
    assert_eq!(empty.matches("<script").count(), 2);
    let outside_scripts: String = [before, after]
        .concat()
        .replace(SCRIPT, "")
        .replace("<script>", "")
        .replace(OPEN, "")
        .replace("</script>", "");
    let tags_removed: String = {
        // Only the attributes matter here: drop text between tags.
        let mut s = String::new();
        let mut in_tag = false;
        for c in outside_scripts.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if in_tag => s.push(c),
                _ => {}
            }
        }
        s
    };
    assert!(
        !active_markup(&tags_removed).contains(&"an event handler attribute"),
        "{tags_removed}"
    );
    assert!(
        active_markup(STYLE).is_empty(),
        "{:?}",
        active_markup(STYLE)
    );
}

#[test]
fn the_script_never_parses_markup() {
    for api in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "Function(",
        "setTimeout('",
        "srcdoc",
        "href",
        "setAttribute('on",
        "setAttribute('style",
        "DOMParser",
        "createContextualFragment",
    ] {
        assert!(!SCRIPT.contains(api), "report.js uses {api}");
    }
}

#[test]
fn the_policy_names_the_inline_script_and_style() {
    let page = page("");
    let csp = crate::content_security_policy();
    assert!(page.contains(&format!("content=\"{csp}\"")));
    assert!(csp.starts_with("default-src 'none';"));
    assert!(!csp.contains("unsafe"));
    // The hashed texts are exactly the elements' contents.
    assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(page.contains(&format!("<style>{STYLE}</style>")));
    // sha256 of "" is well known: the hash is standard base64 of SHA-256.
    assert_eq!(
        crate::csp_hash(""),
        "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No name a target chooses yields active content: outside the data
    /// block the page is the fixed template, byte for byte; inside it no
    /// `<`, `>`, `&`, U+2028 or U+2029 (so no tag, no end of the block, no
    /// character reference), and the block reads back as JSON holding the
    /// name as escaped text.
    #[test]
    fn no_target_string_yields_active_content(
        path in proptest::collection::vec(
            prop_oneof![
                Just(b'<'), Just(b'>'), Just(b'&'), Just(b'"'), Just(b'\''), Just(b'/'),
                Just(b'='), Just(b' '), Just(b'\\'), Just(0xe2), Just(0x80), Just(0xa8),
                Just(0xa9), Just(0xff), Just(0x1b), Just(b'\r'),
                b'a'..=b'z', 0u8..=255u8,
            ],
            0..80,
        ).prop_map(|mut v| { v.retain(|&b| b != b'\n'); v }),
        words in proptest::sample::select(vec![
            "<script>", "</script>", "<!--", "-->", "<img src=x onerror=alert(1)>",
            "javascript:alert(1)", "expression(alert(1))", "\u{2028}", "\u{2029}",
            "]]>", "<![CDATA[", "&lt;", "<style>", "</style>", "<svg/onload=alert(1)>",
        ]),
        comm in "\\PC{0,20}",
    ) {
        let mut path = path;
        path.extend_from_slice(words.as_bytes());
        let text = format!("{comm}{words}");
        let (doc, snap) = page_of(&path, &text, &text);
        let template = page("");
        let (before, data, after) = split(&doc);
        let (t_before, _, t_after) = split(&template);
        prop_assert_eq!(before, t_before);
        prop_assert_eq!(after, t_after);
        for c in ['<', '>', '&', '\u{2028}', '\u{2029}'] {
            prop_assert!(!data.contains(c), "{:?} in the data block", c);
        }
        let v: serde_json::Value = serde_json::from_str(data).expect("the block is JSON");
        let shown = escape(&snap.regions[0].path.view().decoded()).into_owned();
        let strings = v["strings"].as_array().expect("strings");
        prop_assert!(strings.iter().any(|s| s.as_str() == Some(&shown)), "{} not in the strings", shown);
        prop_assert_eq!(v["report"]["comm"].as_str(), Some(&*escape(text.as_bytes())));
        prop_assert_eq!(doc.matches("<script").count(), 2);
    }
}

/// A recording's time plot in the data block: one stacked series per
/// category with memory, values per full sample, the leaking region with
/// its target-chosen name escaped, and the verdict of the leak analysis.
#[test]
fn a_recording_adds_the_time_plot_data() {
    use maplens_core::analysis::leaks;
    use maplens_core::model::{Sample, SampleRegion, SampleRow, SampleUsage, Series};
    let name = "/tmp/<script>\x1b[31m</script>";
    let rss = |v: u64| SampleUsage {
        rss: Some(v),
        size: v,
        ..SampleUsage::default()
    };
    let mib = 1u64 << 20;
    let samples: Vec<Sample> = (0..12u64)
        .map(|i| Sample {
            pid: Some(42),
            comm: Some("<b>kid</b>".into()),
            time_ms: 1_000_000 + i * 500,
            // Every other sample is rollup only.
            full: i % 2 == 0,
            totals: rss((20 + 2 * i) * mib),
            categories: if i % 2 == 0 {
                vec![
                    SampleRow {
                        name: "anon-mmap".into(),
                        usage: rss((4 + 2 * i) * mib),
                    },
                    SampleRow {
                        name: "code".into(),
                        usage: rss(16 * mib),
                    },
                    SampleRow {
                        name: "heap".into(),
                        usage: rss(0),
                    },
                ]
            } else {
                Vec::new()
            },
            regions: if i % 2 == 0 {
                vec![SampleRegion {
                    start: 0x7f00_0000_0000,
                    end: 0x7f00_4000_0000,
                    perms: "rw-s".into(),
                    offset: 0,
                    inode: 9,
                    path: name.into(),
                    category: "anon-mmap".into(),
                    rss: Some((4 + 2 * i) * mib),
                }]
            } else {
                Vec::new()
            },
            ..Sample::default()
        })
        .collect();
    let series = Series::split(samples).remove(0);
    let trends = leaks(&series);
    assert!(trends.leak);
    let snap = Snapshot::from_text(
        "maps",
        b"55d0c0000000-55d0c0001000 r-xp 0 08:01 7 /x\n",
        Mode::Lenient,
    )
    .expect("parse");
    let cl = classify(&snap);
    let rep = report(&snap, &cl);
    let page = document(&Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: None,
        recording: Some(crate::Recording {
            series: &series,
            leaks: &trends,
        }),
    })
    .expect("document");
    assert_eq!(page.matches("<script").count(), 2);
    let (_, data, _) = split(&page);
    assert!(active_markup(data).is_empty(), "{:?}", active_markup(data));
    let d: serde_json::Value = serde_json::from_str(data).expect("JSON");
    let t = &d["timeline"];
    assert_eq!(t["samples"], 12);
    assert_eq!(t["full_samples"], 6);
    assert_eq!(t["leak"], true);
    assert_eq!(t["who"], "<b>kid</b> (pid 42)");
    assert_eq!(t["t"], serde_json::json!([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]));
    assert_eq!(t["total"].as_array().unwrap().len(), 12);
    assert_eq!(t["total"][11], serde_json::json!([5.5, 42 * mib]));
    // Categories with memory only (heap stays at 0), largest last first.
    let cats: Vec<&str> = t["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(cats, ["anon-mmap", "code"]);
    assert_eq!(t["categories"][0]["title"], "anonymous mmap");
    let anon: Vec<u64> = t["categories"][0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(anon, [4, 8, 12, 16, 20, 24].map(|m| m * mib));
    // The leaking region: named as the terminal escaper shows it.
    let leak = &t["leaks"][0];
    assert_eq!(leak["name"], "/tmp/<script>\\x1b[31m</script>");
    assert_eq!(leak["start"], "7f0000000000");
    assert_eq!(leak["category"], "anon-mmap");
    assert!((leak["slope"].as_f64().unwrap() - 4.0 * mib as f64).abs() < 1.0);
    assert_eq!(leak["values"][5], 24 * mib);
    assert!(
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["scope"] == "region" && f["start"] == "7f0000000000")
    );
    // Without a recording there is no time plot.
    let (plain, _) = page_of(b"/x", "kid", "test");
    let (_, data, _) = split(&plain);
    let d: serde_json::Value = serde_json::from_str(data).expect("JSON");
    assert!(d["timeline"].is_null());
}
