//! `maplens pmap`: procps-ng pmap 4.0.2, byte for byte, reading smaps once.
//!
//! Options, messages and exit codes are pmap's (see `getopt`); the formats
//! are in `render`. Extensions: `-k`/`--use-kernel-name` (from later procps)
//! and `--from FILE` (show saved maps/smaps text). Deviations from pmap's
//! bugs are listed in docs/pmap.md.

mod getopt;
pub mod live;
mod rc;
mod render;
mod tty;

use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use getopt::{HasArg, Item, LongOpt};
use maplens_core::source::{Bundle, Target};
use render::{Mode, NameCtx, Persist, Shm, Style};

const USAGE: &str = "
Usage:
 pmap [options] PID [PID ...]

Options:
 -x, --extended              show details
 -X                          show even more details
            WARNING: format changes according to /proc/PID/smaps
 -XX                         show everything the kernel provides
 -c, --read-rc               read the default rc
 -C, --read-rc-from=<file>   read the rc from file
 -n, --create-rc             create new default rc
 -N, --create-rc-to=<file>   create new rc to file
            NOTE: pid arguments are not allowed with -n, -N
 -d, --device                show the device format
 -q, --quiet                 do not display header and footer
 -p, --show-path             show path in the mapping
 -A, --range=<low>[,<high>]  limit results to the given range

 -h, --help     display this help and exit
 -V, --version  output version information and exit

For more details see pmap(1).
";

/// Lines `maplens pmap -h` adds after pmap's own help (its extensions).
const EXTENSIONS: &str = "
maplens extensions:
 -k, --use-kernel-name       use names provided by kernel ([heap], [vdso], ...)
     --from=<file>           show saved maps/smaps text (or a /proc/PID-like
                             directory; `-` is stdin); PID then only labels it;
                             or a capture bundle, cap.tar or cap.tar:PID
";

const LONG: &[LongOpt] = &[
    LongOpt {
        name: "extended",
        has_arg: HasArg::No,
        val: 'x',
    },
    LongOpt {
        name: "device",
        has_arg: HasArg::No,
        val: 'd',
    },
    LongOpt {
        name: "quiet",
        has_arg: HasArg::No,
        val: 'q',
    },
    LongOpt {
        name: "range",
        has_arg: HasArg::Required,
        val: 'A',
    },
    LongOpt {
        name: "help",
        has_arg: HasArg::No,
        val: 'h',
    },
    LongOpt {
        name: "version",
        has_arg: HasArg::No,
        val: 'V',
    },
    LongOpt {
        name: "read-rc",
        has_arg: HasArg::No,
        val: 'c',
    },
    LongOpt {
        name: "read-rc-from",
        has_arg: HasArg::Required,
        val: 'C',
    },
    LongOpt {
        name: "create-rc",
        has_arg: HasArg::No,
        val: 'n',
    },
    LongOpt {
        name: "create-rc-to",
        has_arg: HasArg::Required,
        val: 'N',
    },
    LongOpt {
        name: "show-path",
        has_arg: HasArg::No,
        val: 'p',
    },
    LongOpt {
        name: "use-kernel-name",
        has_arg: HasArg::No,
        val: 'k',
    },
    LongOpt {
        name: "from",
        has_arg: HasArg::Required,
        val: 'F',
    },
];

fn warnx(msg: &str) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "pmap: {msg}");
}

fn errx(msg: &str) -> ExitCode {
    warnx(msg);
    ExitCode::FAILURE
}

fn usage_err() -> ExitCode {
    let mut e = io::stderr().lock();
    let _ = e.write_all(USAGE.as_bytes());
    let _ = e.write_all(EXTENSIONS.as_bytes());
    ExitCode::FAILURE
}

#[derive(Default)]
struct Opts {
    c: bool,
    big_c: bool,
    d: bool,
    n: bool,
    big_n: bool,
    q: bool,
    x: bool,
    big_x: u32,
    showpath: bool,
    kname: bool,
    rc_file: Option<OsString>,
    from: Option<OsString>,
    range: (u64, u64),
}

/// Runs pmap with its own argument syntax.
pub fn main(args: Vec<OsString>) -> ExitCode {
    if args.is_empty() {
        return usage_err();
    }
    let (items, operands) = getopt::scan(&args, "xXrdqA:hVcC:nN:pk", LONG);
    let mut o = Opts {
        range: (0, u64::MAX),
        ..Opts::default()
    };
    for item in items {
        let (c, arg) = match item {
            Item::Error(msg) => {
                // glibc's getopt names the program by argv[0] as invoked.
                let argv0 = std::env::args_os()
                    .next()
                    .filter(|a| Path::new(a).file_name().is_some_and(|n| n == "pmap"))
                    .map_or_else(|| "pmap".into(), |a| a.to_string_lossy().into_owned());
                let _ = writeln!(io::stderr().lock(), "{argv0}: {msg}");
                return usage_err();
            }
            Item::Opt(c, a) => (c, a),
        };
        match c {
            'x' => o.x = true,
            'X' => o.big_x += 1,
            'r' => warnx("option -r is ignored as SunOS compatibility"),
            'd' => o.d = true,
            'q' => o.q = true,
            'A' => {
                let a = arg.unwrap_or_default();
                match parse_range(a.as_encoded_bytes(), o.range) {
                    Some(r) => o.range = r,
                    None => {
                        return errx(&format!(
                            "failed to parse argument: '{}'",
                            a.to_string_lossy()
                        ));
                    }
                }
            }
            'h' => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(USAGE.as_bytes());
                let _ = out.write_all(EXTENSIONS.as_bytes());
                let _ = out.flush();
                return ExitCode::SUCCESS;
            }
            'V' => {
                let mut out = io::stdout().lock();
                let _ = out.write_all(b"pmap from procps-ng 4.0.2\n");
                let _ = out.flush();
                return ExitCode::SUCCESS;
            }
            'c' => o.c = true,
            'C' => {
                o.big_c = true;
                o.rc_file = arg;
            }
            'n' => o.n = true,
            'N' => {
                o.big_n = true;
                o.rc_file = arg;
            }
            'p' => o.showpath = true,
            'k' => o.kname = true,
            'F' => o.from = arg,
            _ => return usage_err(),
        }
    }
    let count = [o.c, o.big_c, o.d, o.n, o.big_n, o.x, o.big_x > 0]
        .iter()
        .filter(|&&b| b)
        .count();
    if count > 1 {
        return errx("options -c, -C, -d, -n, -N, -x, -X are mutually exclusive");
    }
    if (o.n || o.big_n) && (o.q || o.showpath) {
        return errx("options -p, -q are mutually exclusive with -n, -N");
    }
    if (o.n || o.big_n) && !operands.is_empty() {
        return errx("too many arguments");
    }
    let mut warn = |m: String| warnx(&m);
    if o.big_n {
        let path = PathBuf::from(o.rc_file.clone().unwrap_or_default());
        if rc::create(&path, &mut warn) {
            warnx("rc file successfully created, feel free to edit the content");
            return ExitCode::SUCCESS;
        }
        return errx("couldn't create the rc file");
    }
    if o.n {
        let Some(path) = default_rc() else {
            return ExitCode::FAILURE;
        };
        if rc::create(&path, &mut warn) {
            warnx("~/.pmaprc file successfully created, feel free to edit the content");
            return ExitCode::SUCCESS;
        }
        return errx("couldn't create ~/.pmaprc");
    }
    if operands.is_empty() && o.from.is_none() {
        return errx("argument missing");
    }
    let mut rc_fields = None;
    if o.big_c || o.c {
        let path = if o.big_c {
            PathBuf::from(o.rc_file.clone().unwrap_or_default())
        } else {
            match default_rc() {
                Some(p) => p,
                None => return ExitCode::FAILURE,
            }
        };
        match rc::read(&path, &mut warn) {
            Some(rc) => {
                if rc.showpath_toggles % 2 == 1 {
                    o.showpath = !o.showpath;
                }
                rc_fields = Some(rc.fields);
            }
            None if o.big_c => return errx("couldn't read the rc file"),
            None => {
                warnx("couldn't read ~/.pmaprc");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut pids = Vec::new();
    for op in &operands {
        let mut w = op.as_encoded_bytes();
        if let Some(rest) = w.strip_prefix(b"/proc/") {
            w = rest;
            if !w.first().is_some_and(u8::is_ascii_digit) {
                continue;
            }
        }
        if !w.first().is_some_and(u8::is_ascii_digit) {
            return usage_err();
        }
        let (pid, rest) = live::strtoul(w, 0);
        if !(1..=0x7fff_ffff).contains(&pid) || !rest.is_empty() {
            return usage_err();
        }
        pids.push(pid as u32);
    }
    let mode = if o.big_x > 0 || o.c || o.big_c {
        Mode::Detail
    } else if o.x {
        Mode::Extended
    } else if o.d {
        Mode::Device
    } else {
        Mode::Default
    };
    let style = Style {
        mode,
        x_level: o.big_x,
        quiet: o.q,
        showpath: o.showpath,
        kname: o.kname,
        range: o.range,
        rc_fields: rc_fields.as_deref(),
        tty: io::stdout().is_terminal(),
    };
    let utf8 = live::locale_is_utf8();
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let result = match &o.from {
        Some(from) => run_from(
            Path::new(from),
            pids.first().copied(),
            &style,
            utf8,
            &mut out,
        ),
        None => run_live(&pids, &style, utf8, &mut out),
    };
    let code = match result.and_then(|c| out.flush().map(|()| c)) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) if e.get_ref().is_some_and(|i| i.is::<ReadError>()) => {
            warnx(&e.to_string());
            1
        }
        Err(e) => {
            warnx(&format!("write error: {e}"));
            1
        }
    };
    ExitCode::from(code)
}

/// `-A low[,high]`: hex numbers as `strtoul(…, 16)` reads them; an empty
/// part keeps its bound.
fn parse_range(arg: &[u8], cur: (u64, u64)) -> Option<(u64, u64)> {
    let (a1, a2) = match arg.iter().position(|&b| b == b',') {
        Some(i) => (&arg[..i], &arg[i + 1..]),
        None => (arg, arg),
    };
    let mut r = cur;
    let mut ok = true;
    if !a1.is_empty() {
        let (v, rest) = live::strtoul(a1, 16);
        r.0 = v;
        ok &= rest.is_empty();
    }
    if !a2.is_empty() {
        let (v, rest) = live::strtoul(a2, 16);
        r.1 = v;
        ok &= rest.is_empty();
    }
    ok.then_some(r)
}

fn default_rc() -> Option<PathBuf> {
    match std::env::var_os("HOME") {
        Some(h) => {
            let mut p = h;
            p.push("/.pmaprc");
            Some(PathBuf::from(p))
        }
        None => {
            warnx("HOME variable undefined");
            None
        }
    }
}

/// The first line of a process: `label:   text` (pmap's `PID:   CMDLINE`;
/// `FILE:   (from a saved file)` for `--from`), escaped on a terminal.
fn header(out: &mut dyn Write, style: &Style<'_>, label: &[u8], text: &[u8]) -> io::Result<()> {
    let mut line = Vec::with_capacity(label.len() + text.len() + 8);
    line.extend_from_slice(label);
    line.extend_from_slice(b":   ");
    line.extend_from_slice(text);
    line.push(b'\n');
    if style.tty {
        let mut esc = Vec::with_capacity(line.len());
        tty::escape_keeping_backslashes(&line, &mut esc);
        line = esc;
    }
    out.write_all(&line)
}

/// The header of `--from` text: the PID given (or the directory's) with the
/// command line it recorded, else the file's name.
fn from_header(
    out: &mut dyn Write,
    style: &Style<'_>,
    pid: Option<u32>,
    file: &[u8],
    cmdline: Option<&[u8]>,
) -> io::Result<()> {
    match (pid, cmdline) {
        (Some(p), Some(c)) => header(out, style, p.to_string().as_bytes(), c),
        (Some(p), None) => {
            let mut t = b"(from ".to_vec();
            t.extend_from_slice(file);
            t.push(b')');
            header(out, style, p.to_string().as_bytes(), &t)
        }
        (None, _) => header(out, style, file, b"(from a saved file)"),
    }
}

/// Renders one process; on a terminal the `-X` text is escaped first (the
/// other formats print only `?` for such bytes, as pmap does). Returns
/// false when `-x` found no residency in the text.
fn render(
    file: &mut (dyn io::Read + Send),
    out: &mut dyn Write,
    style: &Style<'_>,
    ctx: &NameCtx,
    persist: &mut Persist,
) -> io::Result<bool> {
    if style.mode == Mode::Detail {
        if style.tty {
            let mut esc = tty::Escaped::new(file);
            return render::detail(&mut esc, out, style, persist).map(|()| true);
        }
        render::detail(file, out, style, persist).map(|()| true)
    } else {
        render::simple(file, out, style, ctx)
    }
}

/// `-x` of text without `Rss:` lines (a maps file): say so, once.
fn note_unmeasured(measured: bool, what: &[u8]) {
    if !measured {
        warnx(&format!(
            "{}: no smaps fields (Rss, Dirty): residency unknown, shown as -",
            maplens_core::text::escape(what)
        ));
    }
}

fn run_live(pids: &[u32], style: &Style<'_>, utf8: bool, out: &mut dyn Write) -> io::Result<u8> {
    let mut ret = 0u8;
    let mut missing = false;
    let mut persist = Persist::default();
    let mut shm: Option<u32> = None;
    for &pid in pids {
        // Every file of the process is opened through one handle on its
        // `/proc/PID`: a handle on a process that exits never reaches the
        // process that takes its PID next (its files fail to open), so the
        // header and the mappings are of one process.
        let handle = std::fs::File::open(format!("/proc/{pid}")).ok();
        let dir = handle.as_ref().map_or_else(
            || PathBuf::from(format!("/proc/{pid}")),
            |h| {
                PathBuf::from(format!(
                    "/proc/self/fd/{}",
                    std::os::fd::AsRawFd::as_raw_fd(h)
                ))
            },
        );
        let Some(facts) = live::facts(&dir, pid, utf8) else {
            missing = true;
            continue;
        };
        header(
            out,
            style,
            facts.tgid.to_string().as_bytes(),
            &facts.cmdline,
        )?;
        let smaps = matches!(style.mode, Mode::Extended | Mode::Detail);
        let name = if smaps { "smaps" } else { "maps" };
        // The path named in messages; a thread's own PID reads its
        // process's, as procps does.
        let path = format!("/proc/{}/{name}", facts.tgid);
        let opened = if facts.tgid == pid {
            std::fs::File::open(dir.join(name))
        } else {
            std::fs::File::open(&path)
        };
        let file = match opened {
            Ok(f) => f,
            Err(e) => {
                // procps says nothing here; one line says why.
                let why = match e.raw_os_error() {
                    Some(2 | 3) => {
                        "no such process (it exited before its mappings were read)".into()
                    }
                    _ => e.to_string(),
                };
                out.flush()?;
                warnx(&format!("{path}: {why}"));
                ret |= 1;
                continue;
            }
        };
        // The open holds on to the address space the process had at that
        // moment, so every mapping read below is of one program. It is the
        // one in the header unless the process exec'd (or exited) since:
        // its image, in `stat`, tells.
        let image_now = facts
            .identity
            .and_then(|_| maplens_core::source::Identity::read(&dir));
        let minor = *shm.get_or_insert_with(|| live::shm_minor().unwrap_or(u32::MAX));
        let ctx = NameCtx {
            start_stack: Some(facts.start_stack),
            shm: Shm::Minor(minor),
        };
        // A read that fails part-way (the process exited) names the file;
        // procps would print the part it had as if it were all.
        let mut file = Named { file, path: &path };
        render(&mut file, out, style, &ctx, &mut persist)?;
        // The header came from one reading of the process and the maps
        // from another: if it exec'd in between, they are of two programs;
        // if it exited, its address space was gone or going when smaps was
        // opened. procps prints both as if nothing happened. (Whether a
        // process that exits while its mappings are read cut the text short
        // cannot be told from the text: the kernel ends it cleanly either
        // way, and in tests the text was nearly always whole, so that is
        // not warned of.)
        let warning = match (facts.identity, image_now) {
            (Some(before), Some(now)) if now.image == [0; 3] && before.image != [0; 3] => {
                Some("the process exited while being read, so the mappings above may be incomplete")
            }
            (Some(before), Some(now)) if now != before => Some(
                "the process exec'd while being read, so the header and the mappings above may \
                 be of two different programs",
            ),
            _ => None,
        };
        if let Some(w) = warning {
            out.flush()?;
            warnx(&format!("/proc/{pid}: {w}"));
            ret |= 1;
        }
    }
    if missing {
        ret |= 42;
    }
    Ok(ret)
}

fn run_from(
    from: &Path,
    pid: Option<u32>,
    style: &Style<'_>,
    utf8: bool,
    out: &mut dyn Write,
) -> io::Result<u8> {
    let smaps = matches!(style.mode, Mode::Extended | Mode::Detail);
    let mut persist = Persist::default();
    let ctx = NameCtx {
        start_stack: None,
        shm: Shm::FromText,
    };
    if from.as_os_str() == "-" {
        from_header(out, style, pid, b"-", None)?;
        let mut stdin = io::stdin();
        let measured = render(&mut stdin, out, style, &ctx, &mut persist)?;
        note_unmeasured(measured, b"-");
        return Ok(0);
    }
    if let Some(word) = from.to_str()
        && let Target::Bundle { path, pid: which } = Target::parse(word)
    {
        return run_bundle(&path, which.or(pid), style, utf8, out);
    }
    let (file, label, cmdline) = if from.is_dir() {
        let names: &[&str] = if smaps {
            &["smaps"]
        } else {
            &["maps", "smaps"]
        };
        let Some(file) = names.iter().map(|n| from.join(n)).find(|p| p.is_file()) else {
            warnx(&format!(
                "{}: holds no {} file",
                maplens_core::text::escape(from.as_os_str().as_encoded_bytes()),
                names.join(" or ")
            ));
            return Ok(1);
        };
        let dir_pid = from
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok());
        let cmd = std::fs::read(from.join("cmdline"))
            .ok()
            .map(|raw| live::cmdline_cvt(Some(&raw), b"?", b'S', utf8));
        (file, pid.or(dir_pid), cmd)
    } else {
        (from.to_path_buf(), pid, None)
    };
    let mut f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) => {
            let name = maplens_core::text::escape(file.as_os_str().as_encoded_bytes());
            warnx(&format!("{name}: {e}"));
            return Ok(1);
        }
    };
    let name = from.as_os_str().as_encoded_bytes();
    from_header(out, style, label, name, cmdline.as_deref())?;
    let measured = render(&mut f, out, style, &ctx, &mut persist)?;
    note_unmeasured(measured, file.as_os_str().as_encoded_bytes());
    Ok(0)
}

/// `--from cap.tar[:PID]`: the process's smaps (or maps) from a capture
/// bundle, rendered as `--from FILE` renders saved text, under the header
/// pmap would have printed: the TGID and command line from the bundle's
/// `status`, `stat` and `cmdline`. With `stat` captured, its start of stack
/// names `[ stack ]` as live pmap does.
fn run_bundle(
    path: &Path,
    pid: Option<u32>,
    style: &Style<'_>,
    utf8: bool,
    out: &mut dyn Write,
) -> io::Result<u8> {
    let fail = |m: String| {
        warnx(&m);
        Ok(1)
    };
    let b = match Bundle::open(path) {
        Ok(b) => b,
        Err(e) => return fail(e.to_string()),
    };
    let pid = match pid {
        Some(p) if b.pids().contains(&p) => p,
        Some(p) => {
            return fail(
                maplens_core::source::SourceError::BundleNoPid {
                    path: path.to_owned(),
                    pid: p,
                    pids: b.pids().to_vec(),
                }
                .to_string(),
            );
        }
        None => match b.single_pid() {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        },
    };
    let file = |name: &str| b.file(pid, name);
    let smaps = matches!(style.mode, Mode::Extended | Mode::Detail);
    let names: &[&str] = if smaps {
        &["smaps"]
    } else {
        &["maps", "smaps"]
    };
    let mut text = None;
    for name in names {
        match file(name) {
            Ok(Some(t)) => {
                text = Some(t);
                break;
            }
            Ok(None) => {}
            Err(e) => return fail(e.to_string()),
        }
    }
    let Some(text) = text else {
        let light = smaps && matches!(file("smaps_rollup"), Ok(Some(_)));
        return fail(format!(
            "{}: holds no {} file{}",
            b.origin(pid),
            names.join(" or "),
            if light {
                " (captured with --light: smaps_rollup only)"
            } else {
                ""
            }
        ));
    };
    // Informative files: a missing or unreadable one is not fatal.
    let soft = |name: &str| file(name).ok().flatten();
    let stat = soft("stat");
    let status = soft("status");
    let cmdline = soft("cmdline");
    let (facts, start_stack) = match &stat {
        Some(st) => {
            let f = live::facts_from(st, status.as_deref(), cmdline.as_deref(), pid, utf8);
            let s = f.start_stack;
            (f, Some(s))
        }
        None => {
            let comm = soft("comm").unwrap_or_else(|| b"?".to_vec());
            let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
            let fake = format!("{pid} (");
            let mut st = fake.into_bytes();
            st.extend_from_slice(comm);
            st.extend_from_slice(b") S");
            let f = live::facts_from(&st, status.as_deref(), cmdline.as_deref(), pid, utf8);
            (f, None)
        }
    };
    let ctx = NameCtx {
        start_stack,
        // The captured machine's shm minor is unknown.
        shm: Shm::FromText,
    };
    let mut persist = Persist::default();
    header(
        out,
        style,
        facts.tgid.to_string().as_bytes(),
        &facts.cmdline,
    )?;
    let measured = render(&mut io::Cursor::new(text), out, style, &ctx, &mut persist)?;
    note_unmeasured(measured, b.origin(pid).as_bytes());
    Ok(0)
}

/// A `/proc` file whose read errors carry its path.
struct Named<'a> {
    file: std::fs::File,
    path: &'a str,
}

/// A read error of a [`Named`] file: "PATH: cause".
#[derive(Debug)]
struct ReadError(String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl io::Read for Named<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf).map_err(|e| {
            let why = if e.raw_os_error() == Some(3) {
                "no such process (it exited while being read)".to_owned()
            } else {
                e.to_string()
            };
            io::Error::new(e.kind(), ReadError(format!("{}: {why}", self.path)))
        })
    }
}
