//! `maplens explain` on real lines taken from the fixtures (and a few made
//! from them): every field is spelled out in plain words.

use std::path::Path;

use assert_cmd::Command;

fn fixture_text(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The first line of a fixture containing `needle`.
fn line_with(fixture: &str, needle: &str) -> String {
    fixture_text(fixture)
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in {fixture}"))
        .to_owned()
}

/// `maplens explain ARGS` (with `stdin`), which must succeed without a panic.
fn explain(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::cargo_bin("maplens").expect("the maplens binary is built");
    cmd.arg("explain").args(args);
    if let Some(s) = stdin {
        cmd.write_stdin(s.to_owned());
    }
    let out = cmd.output().expect("run maplens");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "maplens panicked: {stderr}");
    assert!(
        out.status.success(),
        "maplens explain {args:?} failed: {stderr}"
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The explanation line starting with `  FIELD ` (e.g. `device`).
fn field<'a>(out: &'a str, name: &str) -> &'a str {
    let prefix = format!("  {name} ");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "one {name} line in:\n{out}");
    lines[0]
}

#[test]
fn device_numbers_are_decoded_from_hex() {
    // A real Android line on 08:0a: major 8, minor 10 (the minor is hex).
    let line = line_with(
        "gracker-systraceanalysis__android-arm64-app.smaps",
        " 08:0a ",
    );
    let out = explain(&[&line], None);
    assert!(out.starts_with(&line), "echoes the line first:\n{out}");
    let dev = field(&out, "device");
    assert!(dev.contains("08:0a: major 8, minor 10"), "{dev}");
    assert!(dev.contains("block device"), "{dev}");

    // The same line on device 08:05.
    let line05 = line.replacen(" 08:0a ", " 08:05 ", 1);
    let out = explain(&[&line05], None);
    let dev = field(&out, "device");
    assert!(dev.contains("08:05: major 8, minor 5"), "{dev}");

    // A real fd:00 line (device mapper): major 253.
    let line = line_with("jc__x86_64-linux5-systemd-pid1.maps", " fd:00 ");
    let dev_line = explain(&[&line], None);
    assert!(
        field(&dev_line, "device").contains("fd:00: major 253, minor 0"),
        "{dev_line}"
    );

    // 00:00: no device at all.
    let line = line_with("jc__x86_64-linux5-systemd-pid1.maps", "[heap]");
    let out = explain(&[&line], None);
    let dev = field(&out, "device");
    assert!(dev.contains("00:00: major 0, minor 0"), "{dev}");
    assert!(dev.contains("no block device"), "{dev}");
}

#[test]
fn perms_offset_and_inode() {
    let fx = "jc__x86_64-linux5-systemd-pid1.maps";
    // A private code segment of a file.
    let line = fixture_text(fx)
        .lines()
        .find(|l| l.contains(" r-xp ") && l.ends_with("/usr/lib/systemd/systemd"))
        .expect("systemd text segment")
        .to_owned();
    let inode = line.split_whitespace().nth(4).unwrap().to_owned();
    let offset = line.split_whitespace().nth(2).unwrap().to_owned();
    let out = explain(&[&line], None);
    let perms = field(&out, "perms");
    assert!(perms.contains("r-xp: r readable"), "{perms}");
    assert!(perms.contains("- not writable"), "{perms}");
    assert!(perms.contains("x executable"), "{perms}");
    // Not writable: nothing is ever copied, so no "copy-on-write".
    assert!(
        perms.contains("p private (MAP_PRIVATE; not writable"),
        "r-xp is private but never copied: {perms}"
    );
    assert!(!perms.contains("copy-on-write"), "{perms}");
    let off = field(&out, "offset");
    let off_num = u64::from_str_radix(&offset, 16).unwrap();
    assert!(off_num > 0, "{line}");
    assert!(
        off.contains(&format!("starts {off_num} bytes into the file")),
        "{off}"
    );
    let ino = field(&out, "inode");
    assert!(ino.contains(&format!("find -inum {inode}")), "{ino}");
    assert!(
        field(&out, "kind").contains("code"),
        "{}",
        field(&out, "kind")
    );
    // The size: end - start, in bytes and pages.
    let (a, b) = line
        .split_whitespace()
        .next()
        .unwrap()
        .split_once('-')
        .unwrap();
    let size = u64::from_str_radix(b, 16).unwrap() - u64::from_str_radix(a, 16).unwrap();
    let addr = field(&out, "address");
    assert!(addr.contains(&format!("({size} bytes)")), "{addr}");
    // One maps line does not say the page size: no page count is guessed.
    assert!(addr.contains("page size unknown"), "{addr}");
    assert!(!addr.contains("pages of"), "{addr}");
    // Given one, pages are counted, singular or plural.
    let out = explain(&["--page-size", "4096", &line], None);
    let addr = field(&out, "address");
    let n = size / 4096;
    let word = if n == 1 { "page" } else { "pages" };
    assert!(addr.contains(&format!("{n} {word} of 4 KiB")), "{addr}");
    assert!(addr.contains(&format!("0x{a}-0x{b}")), "{addr}");

    // Anonymous memory: inode 0 is not backed by a file; a shared mapping.
    let line = line_with(
        "localcap__x86_64-linux6.18-python-oddnames.maps",
        "/dev/zero (deleted)",
    );
    let out = explain(&[&line], None);
    assert!(
        field(&out, "perms").contains("s shared (MAP_SHARED"),
        "{out}"
    );
    assert!(field(&out, "pathname").contains("(deleted)"), "{out}");
    let line = fixture_text("localcap__x86_64-linux6.18-python-oddnames.maps")
        .lines()
        .find(|l| l.contains(" rw-p ") && l.trim_end().ends_with(" 0"))
        .expect("an anonymous rw-p line")
        .to_owned();
    let out = explain(&[&line], None);
    let ino = field(&out, "inode");
    assert!(ino.contains("0: not backed by a file"), "{ino}");
    assert!(
        field(&out, "pathname").contains("anonymous memory"),
        "{out}"
    );
}

#[test]
fn odd_path_names() {
    let fx = "localcap__x86_64-linux6.18-python-oddnames.maps";
    // \012 is a newline in the file name.
    let line = line_with(fx, "new\\012line.bin");
    let out = explain(&[&line], None);
    let p = field(&out, "pathname");
    assert!(p.contains("new\\012line.bin"), "{p}");
    assert!(
        p.contains("\\012 is how the kernel writes a newline"),
        "{p}"
    );
    assert_eq!(
        out.lines().count(),
        10,
        "the line, 8 fields and a blank:\n{out}"
    );

    let line = line_with(fx, "(deleted)");
    let out = explain(&[&line], None);
    assert!(field(&out, "pathname").contains("removed"), "{out}");

    let line = line_with(fx, "/SYSV1234abcd");
    let out = explain(&[&line], None);
    assert!(
        field(&out, "pathname").contains("System V shared memory segment, key 0x1234abcd"),
        "{out}"
    );

    let line = line_with(fx, "/memfd:");
    let out = explain(&[&line], None);
    assert!(
        field(&out, "pathname").contains("memfd named \"fixture memfd\""),
        "{out}"
    );
}

#[test]
fn thread_stack_tag_names_the_thread() {
    let fx = "innofirmware__armv7-linux4.4-python34-stackTID.maps";
    let line = line_with(fx, "[stack:885]");
    let out = explain(&[&line], None);
    let p = field(&out, "pathname");
    assert!(p.contains("the stack of thread 885"), "{p}");
    assert_eq!(
        p.matches("[stack:885]").count(),
        1,
        "the tag is printed once: {p}"
    );
    let k = field(&out, "kind");
    assert!(k.contains("thread-stack"), "{k}");
    assert!(k.contains("thread 885"), "{k}");
}

/// The `---p` page right below a `[stack:TID]` region is its guard page.
#[test]
fn guard_page_under_a_stack_tid_region() {
    let fx = "innofirmware__armv7-linux4.4-python34-stackTID.maps";
    let text = fixture_text(fx);
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("[stack:885]"))
        .unwrap();
    let out = explain(&[lines[i - 1], lines[i]], None);
    let kinds: Vec<&str> = out.lines().filter(|l| l.starts_with("  kind ")).collect();
    assert_eq!(kinds.len(), 2, "{out}");
    assert!(kinds[0].contains("guard-page"), "{}", kinds[0]);
    assert!(kinds[1].contains("thread-stack"), "{}", kinds[1]);
}

#[test]
fn smaps_field_lines_are_explained() {
    let fx = "localcap__x86_64-linux6.18-python-oddnames.smaps";
    let text = fixture_text(fx);
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains("[heap]"))
        .expect("heap region");
    let end = lines[i + 1..]
        .iter()
        .position(|l| l.starts_with("VmFlags:"))
        .map(|j| i + 1 + j)
        .expect("VmFlags of the heap");
    let block = lines[i..=end].join("\n") + "\n";
    let rss: &str = lines[i..end]
        .iter()
        .find(|l| l.starts_with("Rss:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();

    let out = explain(&["--stdin"], Some(&block));
    assert!(out.starts_with(lines[i]), "{out}");
    assert!(field(&out, "kind").contains("heap"), "{out}");
    let r = field(&out, "Rss");
    assert!(r.contains(&format!("{rss} kB: Resident set size")), "{r}");
    assert!(
        field(&out, "Pss").contains("Proportional set size"),
        "{out}"
    );
    assert!(field(&out, "Swap").contains("swapped out"), "{out}");
    let vm = field(&out, "VmFlags");
    assert!(vm.contains("rd=readable"), "{vm}");
    assert!(vm.contains("wr="), "{vm}");
    // Every field line of the block got its own explanation.
    for l in &lines[i + 1..=end] {
        let key = l.split(':').next().unwrap();
        field(&out, key);
    }
}

#[test]
fn stdin_explains_many_lines_together() {
    let fx = "jc__x86_64-linux5-systemd-pid1.maps";
    let text = fixture_text(fx);
    let n = text.lines().count();
    let out = explain(&["--stdin"], Some(&text));
    // One block per line, each starting with the line itself.
    assert_eq!(out.matches("\n  address ").count(), n, "{out}");
    for l in text.lines() {
        assert!(out.contains(&format!("{l}\n  address ")), "missing {l}");
    }
    // No lines and no --stdin also reads stdin.
    let one = text.lines().next().unwrap();
    let out = explain(&[], Some(&format!("{one}\n")));
    assert!(out.starts_with(one), "{out}");
}

#[test]
fn bad_input_is_reported_not_panicked() {
    // A malformed line among good ones: said so, the good one explained.
    let good = line_with("jc__x86_64-linux5-systemd-pid1.maps", "[heap]");
    let out = Command::cargo_bin("maplens")
        .unwrap()
        .args(["explain", "--stdin"])
        .write_stdin(format!("{good}\nnot a maps line at all\n"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // The complaint on standard error, the explanation on standard output.
    assert!(stderr.contains("line 2: not a maps line"), "{stderr}");
    assert!(!stdout.contains("not a maps line"), "{stdout}");
    assert!(stdout.contains(&format!("{good}\n  address ")), "{stdout}");

    // Only garbage: an error (one line, naming the line), nothing on stdout.
    let out = Command::cargo_bin("maplens")
        .unwrap()
        .args(["explain", "garbage"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 1: not a maps line"), "{stderr}");

    // Nothing to explain: one-line error, non-zero exit.
    let out = Command::cargo_bin("maplens")
        .unwrap()
        .args(["explain", "--stdin"])
        .write_stdin("")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no maps line to explain"), "{stderr}");
}

/// A whole process at once: every region is explained, under its own line,
/// in order. (Each region used to be looked up by scanning the regions and
/// the text from the start: hours for a 60,000-region smaps. This size
/// makes that visible in the test run without timing anything.)
#[test]
fn many_regions_each_explained_under_its_own_line() {
    let n = 20_000u64;
    let mut text = String::new();
    for i in 0..n {
        let start = 0x7f00_0000_0000 + i * 0x2000;
        let perms = if i % 2 == 0 { "r--p" } else { "rw-p" };
        text.push_str(&format!(
            "{start:x}-{:x} {perms} 00000000 00:00 0 \n",
            start + 0x1000
        ));
    }
    let out = explain(&["--stdin"], Some(&text));
    let echoed: Vec<&str> = out.lines().filter(|l| l.starts_with("7f")).collect();
    assert_eq!(echoed.len() as u64, n);
    assert_eq!(echoed.first().copied(), text.lines().next());
    assert_eq!(echoed.last().copied(), text.lines().last());
    assert_eq!(out.matches("  address   ").count() as u64, n);
}
