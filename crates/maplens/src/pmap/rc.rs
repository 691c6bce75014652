//! pmap's rc file (`~/.pmaprc`, `-c`/`-C` read it, `-n`/`-N` write it):
//! `[Fields Display]` enables fields by name, `[Mapping]` `ShowPath`
//! toggles full paths.

use std::io::{BufRead, Write};
use std::path::Path;

/// What an rc file enables.
#[derive(Default)]
pub struct Rc {
    /// Field names enabled, in file order.
    pub fields: Vec<Vec<u8>>,
    /// How many times `ShowPath` appeared (each toggles).
    pub showpath_toggles: usize,
}

const MAX_LINE: usize = 1024;

/// Reads an rc file, printing pmap's warnings through `warn`. `None` when it
/// cannot be opened.
pub fn read(path: &Path, warn: &mut dyn FnMut(String)) -> Option<Rc> {
    let f = std::fs::File::open(path).ok()?;
    Some(parse(std::io::BufReader::new(f), warn))
}

/// Parses rc file text as pmap does, printing its warnings (each naming
/// its line) through `warn`; a read error ends the file there.
pub fn parse(mut r: impl BufRead, warn: &mut dyn FnMut(String)) -> Rc {
    let mut rc = Rc::default();
    #[derive(PartialEq)]
    enum Section {
        None,
        Unsupported,
        Fields,
        Mapping,
    }
    let mut section = Section::None;
    let mut line_no = 0;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        // fgets with a MAX_LINE buffer: a longer line is cut and its tail
        // skipped, with a warning.
        match r.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        line_no += 1;
        let mut line: &[u8] = &raw;
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        if line.len() >= MAX_LINE {
            warn(format!("config line too long - line {line_no}"));
            line = &line[..MAX_LINE];
        }
        // fgets stops at a NUL for C string purposes.
        if let Some(nul) = line.iter().position(|&b| b == 0) {
            line = &line[..nul];
        }
        let mut t = trim_start(line);
        if t.is_empty() || t[0] == b'#' {
            continue;
        }
        if t[0] == b'[' {
            if let Some(rest) = t.strip_prefix(b"[Fields Display]".as_slice()) {
                t = rest;
                section = Section::Fields;
            } else if let Some(rest) = t.strip_prefix(b"[Mapping]".as_slice()) {
                t = rest;
                section = Section::Mapping;
            } else {
                match t.iter().position(|&b| b == b']') {
                    Some(p) => {
                        section = Section::Unsupported;
                        warn(format!(
                            "unsupported section found in the config - line {line_no}"
                        ));
                        t = &t[p + 1..];
                    }
                    None => {
                        warn(format!("syntax error found in the config - line {line_no}"));
                        t = &t[t.len()..];
                    }
                }
            }
            t = trim_start(t);
            if t.is_empty() || t[0] == b'#' {
                continue;
            }
            warn(format!("syntax error found in the config - line {line_no}"));
        }
        let mut tokens = t
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        match section {
            Section::Fields | Section::Mapping => {
                if let Some(tok) = tokens.next() {
                    if tokens.next().is_some_and(|tail| tail[0] != b'#') {
                        warn(format!("syntax error found in the config - line {line_no}"));
                    }
                    if section == Section::Fields {
                        // pmap keeps at most 31 bytes of a name.
                        rc.fields.push(tok[..tok.len().min(31)].to_vec());
                    } else if tok == b"ShowPath" {
                        rc.showpath_toggles += 1;
                    }
                }
            }
            Section::Unsupported => {}
            Section::None => {
                warn(format!("syntax error found in the config - line {line_no}"));
            }
        }
    }
    rc
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// The template `-n`/`-N` write.
pub const TEMPLATE: &str = "# pmap's Config File

# All the entries are case sensitive.
# Unsupported entries are ignored!

[Fields Display]

# To enable a field uncomment its entry

#Perm
#Offset
#Device
#Inode
#Size
#Rss
#Pss
#Shared_Clean
#Shared_Dirty
#Private_Clean
#Private_Dirty
#Referenced
#Anonymous
#AnonHugePages
#Swap
#KernelPageSize
#MMUPageSize
#Locked
#VmFlags
#Mapping


[Mapping]

# to show paths in the mapping column uncomment the following line
#ShowPath

";

/// Writes the template unless the file exists (pmap's warning then).
pub fn create(path: &Path, warn: &mut dyn FnMut(String)) -> bool {
    if std::fs::File::open(path).is_ok() {
        warn("the file already exists - delete or rename it first".into());
        return false;
    }
    match std::fs::File::create(path) {
        Ok(mut f) => f.write_all(TEMPLATE.as_bytes()).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
#[path = "../../tests/common/pmaprc_invariants.rs"]
mod pmaprc_invariants;

#[cfg(test)]
mod tests {
    use super::pmaprc_invariants::check;
    use proptest::prelude::*;

    fn parse(input: &[u8], warn: &mut dyn FnMut(String)) -> (Vec<Vec<u8>>, usize) {
        let rc = super::parse(input, warn);
        (rc.fields, rc.showpath_toggles)
    }

    /// The template `-n` writes, and the seed corpus of the `pmaprc` fuzz
    /// target (`fuzz/corpus/pmaprc`).
    #[test]
    fn template_and_corpus() {
        let mut warnings = Vec::new();
        let rc = super::parse(super::TEMPLATE.as_bytes(), &mut |w| warnings.push(w));
        assert!(warnings.is_empty() && rc.fields.is_empty() && rc.showpath_toggles == 0);
        check(super::TEMPLATE.as_bytes(), parse);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/pmaprc");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            check(&std::fs::read(e.unwrap().path()).unwrap(), parse);
            n += 1;
        }
        assert!(n >= 4, "{n} seeds in {}", dir.display());
    }

    #[test]
    fn warnings_name_their_line() {
        let text = b"#c\n[Fields Display]\nRss Pss\n[Other]\nx\n[Mapping]\nShowPath\n[Bad\n";
        let mut w = Vec::new();
        let rc = super::parse(&text[..], &mut |m| w.push(m));
        assert_eq!(rc.fields, [b"Rss".to_vec()]);
        assert_eq!(rc.showpath_toggles, 1);
        assert_eq!(
            w,
            [
                "syntax error found in the config - line 3",
                "unsupported section found in the config - line 4",
                "syntax error found in the config - line 8",
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
            check(&data, parse);
        }

        #[test]
        fn arbitrary_lines(lines in prop::collection::vec(prop_oneof![
            prop::sample::select(vec![
                "[Fields Display]", "[Mapping]", "[Other]", "[Fields Display] x", "[",
                "Rss", "Pss # c", "ShowPath", "  ShowPath\t", "#Rss", "a b", "\0Rss",
                "VeryLongFieldNameThatIsOverThirtyOneBytes",
            ]).prop_map(String::from),
            "[ -~\t]{0,20}",
            Just("x".repeat(1100)),
        ], 0..12)) {
            check(lines.join("\n").as_bytes(), parse);
        }
    }
}
