//! `maplens plot`: a recording drawn to PNG and SVG, each checked for its
//! size and for content (pixels that are not background, the verdict and
//! the leak in the SVG's text).

use std::path::Path;

use serde_json::json;

use crate::watch::run;

/// A JSON Lines recording of 20 full samples, one region growing 1 MiB a
/// second, another flat.
fn recording(path: &Path) {
    let mib: u64 = 1 << 20;
    let mut text = String::new();
    for i in 0..20u64 {
        let leak = (4 + i) * mib;
        let usage = |rss: u64| json!({"regions": 1, "size": 64 * mib, "rss": rss});
        let region = |start: u64, rss: u64, path: &str, cat: &str| {
            json!({"start": start, "end": start + 64 * mib, "perms": "rw-p", "offset": 0,
                   "inode": 0, "path": path, "category": cat, "rss": rss})
        };
        let s = json!({
            "pid": 4242, "comm": "soak", "start_time": 77, "time_ms": 1_700_000_000_000u64 + i * 1000,
            "full": true,
            "totals": {"regions": 2, "size": 128 * mib, "rss": leak + 8 * mib},
            "categories": [{"name": "anon-mmap", "usage": usage(leak)}, {"name": "heap", "usage": usage(8 * mib)}],
            "objects": [],
            "regions": [region(0x7f00_0000_0000, leak, "", "anon-mmap"), region(0x5500_0000_0000, 8 * mib, "[heap]", "heap")],
        });
        text.push_str(&s.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn plot_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("soak.jsonl");
    recording(&rec);
    let rec = rec.to_str().unwrap();
    let png = dir.path().join("soak.png");
    let (code, _, err) = run(&[
        "plot",
        rec,
        "-o",
        png.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "500",
    ]);
    assert_eq!(code, 0, "{err}");
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (800, 500));
    let px = &buf[..info.buffer_size()];
    let step = info.color_type.samples();
    let not_white = px
        .chunks(step)
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count();
    let red = px
        .chunks(step)
        .filter(|p| p[0] > 200 && p[1] < 60 && p[2] < 60)
        .count();
    let total = (info.width * info.height) as usize;
    assert!(
        not_white > total / 10,
        "mostly blank: {not_white} of {total}"
    );
    assert!(red > 500, "no leak line: {red} red pixels");
    let svg = dir.path().join("soak.svg");
    let (code, _, err) = run(&["plot", rec, "-o", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("width=\"1200\""),
        "{}",
        &text[..100]
    );
    assert!(text.contains("soak (pid 4242): LEAK in 1 region"));
    assert!(text.contains("LEAK 7f0000000000-7f0004000000 anon-mmap [anon] +1.00 MiB/s"));
    assert!(text.matches("<polygon").count() + text.matches("<path").count() >= 2);
    let (code, _, err) = run(&["plot", rec, "-o", "chart.gif"]);
    assert_ne!(code, 0);
    assert!(err.contains(".svg or .png"), "{err}");
}
