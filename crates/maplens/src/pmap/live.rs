//! What pmap learns about a live process besides its maps: the header line
//! (`TGID:   cmdline`, as libproc2's `PIDS_CMDLINE` renders it), the main
//! stack's start address, and the device minor of SysV shared memory.

use std::path::Path;

/// The libproc2 facts pmap prints or uses.
pub struct ProcFacts {
    /// `Tgid:` of `status` (a TID given on the command line shows its
    /// process).
    pub tgid: u32,
    /// `PIDS_CMDLINE`, escaped.
    pub cmdline: Vec<u8>,
    /// `PIDS_ADDR_STACK_START` (field 28 of `stat`).
    pub start_stack: u64,
    /// Which process and image these facts are of (live only): read
    /// again after the maps, it tells whether the PID changed hands.
    pub identity: Option<maplens_core::source::Identity>,
}

/// Reads the facts of `/proc/PID`; `None` when the process is not there
/// (libproc2 then leaves it out, and pmap exits 42).
pub fn facts(dir: &Path, pid: u32, utf8: bool) -> Option<ProcFacts> {
    let stat = std::fs::read(dir.join("stat")).ok()?;
    if !stat.contains(&b'(') || !stat.contains(&b')') {
        return None;
    }
    let status = std::fs::read(dir.join("status")).ok();
    let raw = std::fs::read(dir.join("cmdline")).ok();
    let mut facts = facts_from(&stat, status.as_deref(), raw.as_deref(), pid, utf8);
    facts.identity = maplens_core::source::Identity::of_stat(&stat);
    Some(facts)
}

/// The facts from the text of `stat`, `status` and `cmdline` (live, or
/// saved in a capture bundle).
pub fn facts_from(
    stat: &[u8],
    status: Option<&[u8]>,
    cmdline: Option<&[u8]>,
    pid: u32,
    utf8: bool,
) -> ProcFacts {
    let open = stat.iter().position(|&b| b == b'(');
    let close = stat.iter().rposition(|&b| b == b')');
    let (comm, after) = match (open, close) {
        (Some(o), Some(c)) if o < c => (&stat[o + 1..c], &stat[c + 1..]),
        _ => (&b"?"[..], &b""[..]),
    };
    let rest: Vec<&[u8]> = after
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let state = rest
        .first()
        .and_then(|s| s.first())
        .copied()
        .unwrap_or(b'?');
    // Field 3 is the state (index 0 here); startstack is field 28.
    let start_stack = rest
        .get(25)
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let tgid = status
        .and_then(|s| {
            s.split(|&b| b == b'\n')
                .find_map(|l| l.strip_prefix(b"Tgid:"))
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(pid);
    ProcFacts {
        tgid,
        cmdline: cmdline_cvt(cmdline, comm, state, utf8),
        start_stack,
        identity: None,
    }
}

/// libproc2's buffer size for a command line.
const MAX_BUFSZ: usize = 1024 * 64 * 2;

/// `read_unvectored`: NULs and newlines between arguments become spaces;
/// trailing NULs go; a space or newline that is the last byte read is cut.
fn unvectored(raw: &[u8]) -> Option<Vec<u8>> {
    let n = raw.len().min(MAX_BUFSZ - 1);
    let mut dst = raw.get(..n)?.to_vec();
    let last = *dst.last()?;
    let keep = dst.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    for b in dst.iter_mut().take(keep) {
        if *b == b'\n' || *b == 0 {
            *b = b' ';
        }
    }
    if keep == n && matches!(last, b' ' | b'\n') {
        dst.truncate(n - 1);
    } else {
        dst.truncate(keep);
    }
    Some(dst)
}

fn utf8_len(b: u8) -> Option<usize> {
    match b {
        0x00..=0x7f => Some(1),
        0xc2..=0xdf => Some(2),
        0xe0..=0xef => Some(3),
        0xf0..=0xf4 => Some(4),
        _ => None,
    }
}

/// `escape_str`: in a UTF-8 locale every byte that does not start a
/// well-formed sequence (and every control, C1 included) becomes `?`;
/// elsewhere controls become `.` and bytes above 0x7f `?`.
pub fn escape_str(src: &[u8], utf8: bool) -> Vec<u8> {
    let end = src.iter().position(|&b| b == 0).unwrap_or(src.len());
    let mut s = src[..end.min(MAX_BUFSZ - 1)].to_vec();
    if !utf8 {
        for b in &mut s {
            match *b {
                0x20..=0x7e => {}
                0x80..=0xff => *b = b'?',
                _ => *b = b'.',
            }
        }
        return s;
    }
    let len = s.len();
    let mut i = 0;
    while i < len {
        let lead = s[i];
        let c1 = lead == 0xc2 && s.get(i + 1).is_some_and(|b| (0x80..=0x9f).contains(b));
        let good = utf8_len(lead)
            .filter(|&n| i + n <= len && !c1 && (1..n).all(|x| (0x80..=0xbf).contains(&s[i + x])));
        match good {
            Some(n) => {
                if lead < 0x20 || lead == 0x7f {
                    s[i] = b'?';
                }
                i += n;
            }
            None => {
                s[i] = b'?';
                i += 1;
            }
        }
    }
    s
}

/// `fill_cmdline_cvt`: the command line, or `[comm]` (with ` <defunct>` for
/// a zombie) when it is empty; `?` when that escapes to nothing.
pub fn cmdline_cvt(raw: Option<&[u8]>, comm: &[u8], state: u8, utf8: bool) -> Vec<u8> {
    let text = match raw.and_then(unvectored) {
        Some(line) => escape_str(&line, utf8),
        None => {
            let mut out = vec![b'['];
            out.extend_from_slice(&escape_str(comm, utf8));
            out.push(b']');
            if state == b'Z' {
                out.extend_from_slice(b" <defunct>");
            }
            out
        }
    };
    if text.is_empty() { b"?".to_vec() } else { text }
}

/// Whether `setlocale(LC_ALL, "")` would give a UTF-8 `LC_CTYPE`. It fails
/// as a whole (leaving "C") when any category names a locale that is not
/// installed.
pub fn locale_is_utf8() -> bool {
    const CATS: [&str; 12] = [
        "LC_CTYPE",
        "LC_NUMERIC",
        "LC_TIME",
        "LC_COLLATE",
        "LC_MONETARY",
        "LC_MESSAGES",
        "LC_PAPER",
        "LC_NAME",
        "LC_ADDRESS",
        "LC_TELEPHONE",
        "LC_MEASUREMENT",
        "LC_IDENTIFICATION",
    ];
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let lang = var("LANG");
    let pick = |cat: &str| {
        var("LC_ALL")
            .or_else(|| var(cat))
            .or_else(|| lang.clone())
            .unwrap_or_else(|| "C".into())
    };
    if !CATS.iter().all(|c| locale_available(&pick(c))) {
        return false;
    }
    codeset_is_utf8(&pick("LC_CTYPE"))
}

fn codeset_is_utf8(name: &str) -> bool {
    let Some((_, cs)) = name.split_once('.') else {
        return false;
    };
    let cs = cs.split('@').next().unwrap_or("");
    let norm: String = cs
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    norm == "utf8"
}

fn locale_available(name: &str) -> bool {
    if matches!(name, "C" | "POSIX") || name.contains('/') {
        return matches!(name, "C" | "POSIX");
    }
    // glibc 2.35+ has C.UTF-8 built in.
    if let Some(("C", _)) = name.split_once('.')
        && codeset_is_utf8(name)
    {
        return true;
    }
    let root = Path::new("/usr/lib/locale");
    if root.join(name).is_dir() {
        return true;
    }
    if let Some((base, cs)) = name.split_once('.') {
        let (cs, modifier) = match cs.split_once('@') {
            Some((c, m)) => (c, Some(m)),
            None => (cs, None),
        };
        let mut norm: String = cs
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if norm.chars().all(|c| c.is_ascii_digit()) {
            norm.insert_str(0, "iso");
        }
        let mut n = format!("{base}.{norm}");
        if let Some(m) = modifier {
            n.push('@');
            n.push_str(m);
        }
        if root.join(&n).is_dir() {
            return true;
        }
    }
    // A locale archive may hold it; without parsing it, assume it does.
    root.join("locale-archive").is_file()
}

/// The device minor of SysV shared memory: the kernel's internal shmem
/// mount, which memfd files live on too. pmap finds it by attaching a
/// segment of its own; a memfd says the same without creating IPC objects.
pub fn shm_minor() -> Option<u32> {
    let fd = rustix::fs::memfd_create("pmap", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    (rustix::fs::major(st.st_dev) == 0).then(|| rustix::fs::minor(st.st_dev))
}

/// C's `strtoul(s, &end, base)`: the value and the unparsed rest.
pub fn strtoul(s: &[u8], base: u32) -> (u64, &[u8]) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let has_0x = |i: usize| {
        s.get(i) == Some(&b'0')
            && matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    if (base == 0 || base == 16) && has_0x(i) {
        i += 2;
        base = 16;
    } else if base == 0 {
        base = if s.get(i) == Some(&b'0') { 8 } else { 10 };
    }
    let start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() {
        let d = match (s[i] as char).to_digit(36) {
            Some(d) if d < base => d,
            _ => break,
        };
        match v
            .checked_mul(base as u64)
            .and_then(|x| x.checked_add(d as u64))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, s);
    }
    if overflow {
        return (u64::MAX, &s[i..]);
    }
    (if neg { v.wrapping_neg() } else { v }, &s[i..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_escapes_like_libproc2() {
        let raw = b"we\tird\xc3\xa9\xff\nname\x001000\x00";
        assert_eq!(
            cmdline_cvt(Some(raw), b"sleep", b'S', true),
            b"we?ird\xc3\xa9? name 1000"
        );
        assert_eq!(
            cmdline_cvt(Some(raw), b"sleep", b'S', false),
            b"we.ird??? name 1000"
        );
        assert_eq!(
            cmdline_cvt(Some(b""), b"kthreadd", b'S', true),
            b"[kthreadd]"
        );
        assert_eq!(cmdline_cvt(None, b"sh", b'Z', true), b"[sh] <defunct>");
    }

    #[test]
    fn strtoul_is_c() {
        assert_eq!(strtoul(b"0x1f", 0), (31, &b""[..]));
        assert_eq!(strtoul(b"010", 0), (8, &b""[..]));
        assert_eq!(strtoul(b"7f00,", 16), (0x7f00, &b","[..]));
        assert_eq!(strtoul(b"0x", 16), (0, &b"x"[..]));
        assert_eq!(strtoul(b"zz", 16), (0, &b"zz"[..]));
        assert_eq!(strtoul(b"1x", 16), (1, &b"x"[..]));
    }

    #[test]
    fn utf8_codesets() {
        assert!(codeset_is_utf8("C.UTF-8"));
        assert!(codeset_is_utf8("en_US.utf8@euro"));
        assert!(!codeset_is_utf8("C"));
        assert!(locale_available("C.utf8"));
    }
}
