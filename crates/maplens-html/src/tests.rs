//! The page as text: one script, one style, the data escaped, no target
//! string able to become markup.

use maplens_core::analysis::{classify, report};
use maplens_core::model::Snapshot;
use maplens_core::parse::Mode;

use crate::{Input, document};

fn page_of(maps: &[u8]) -> String {
    let snap = Snapshot::from_text("maps", maps, Mode::Lenient).expect("parse");
    let cl = classify(&snap);
    let rep = report(&snap, &cl);
    document(&Input {
        snapshot: &snap,
        classified: &cl,
        report: &rep,
        findings: None,
    })
    .expect("document")
}

#[test]
fn hostile_names_stay_inside_the_data_block() {
    let maps =
        b"55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /tmp/\"><img src=x onerror=alert(1)>\n\
55d0c0001000-55d0c0002000 r--p 00000000 08:01 8 /tmp/<script>alert(1)</script>\n";
    let page = page_of(maps);
    assert!(!page.contains("<img"), "an img tag leaked");
    assert_eq!(page.matches("<script").count(), 2);
    assert!(page.contains(r#"/tmp/\"\u003e\u003cimg src=x onerror=alert(1)\u003e"#));
    assert!(page.contains(r"/tmp/\u003cscript\u003ealert(1)\u003c/script\u003e"));
}
