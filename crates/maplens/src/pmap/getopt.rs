//! GNU `getopt_long` as procps-ng pmap uses it: permuted operands, short
//! clusters, abbreviated long options, and glibc's messages, word for word.

use std::ffi::OsString;

/// How an option takes its argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
}

/// One long option: name, argument, and the short letter it stands for.
pub struct LongOpt {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub val: char,
}

/// What the scan found, in command-line order.
pub enum Item {
    /// An option letter and its argument.
    Opt(char, Option<OsString>),
    /// A parse error: the message (without the `pmap: ` prefix).
    Error(String),
}

/// Scans `args` like `getopt_long(argc, argv, short, long)`. Returns the
/// options in order (an error stops the scan, as pmap then exits) and the
/// operands.
pub fn scan(args: &[OsString], short: &str, long: &[LongOpt]) -> (Vec<Item>, Vec<OsString>) {
    let mut items = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_encoded_bytes();
        i += 1;
        if arg == b"--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix(b"--") {
            let (name, value) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let exact = long.iter().find(|o| o.name.as_bytes() == name);
            let found = match exact {
                Some(o) => o,
                None => {
                    let cands: Vec<&LongOpt> = long
                        .iter()
                        .filter(|o| o.name.as_bytes().starts_with(name))
                        .collect();
                    match cands.as_slice() {
                        [] => {
                            items.push(Item::Error(format!(
                                "unrecognized option '{}'",
                                String::from_utf8_lossy(arg)
                            )));
                            return (items, operands);
                        }
                        [o] => o,
                        many => {
                            let first = many[0];
                            if many
                                .iter()
                                .all(|o| o.val == first.val && o.has_arg == first.has_arg)
                            {
                                first
                            } else {
                                let list: Vec<String> =
                                    many.iter().map(|o| format!("'--{}'", o.name)).collect();
                                items.push(Item::Error(format!(
                                    "option '{}' is ambiguous; possibilities: {}",
                                    String::from_utf8_lossy(&arg[..2 + name.len()]),
                                    list.join(" ")
                                )));
                                return (items, operands);
                            }
                        }
                    }
                }
            };
            match (found.has_arg, value) {
                (HasArg::No, Some(_)) => {
                    items.push(Item::Error(format!(
                        "option '--{}' doesn't allow an argument",
                        found.name
                    )));
                    return (items, operands);
                }
                (HasArg::No, None) => items.push(Item::Opt(found.val, None)),
                (HasArg::Required, Some(v)) => {
                    items.push(Item::Opt(found.val, Some(os_from_bytes(v))))
                }
                (HasArg::Required, None) => {
                    if i < args.len() {
                        items.push(Item::Opt(found.val, Some(args[i].clone())));
                        i += 1;
                    } else {
                        items.push(Item::Error(format!(
                            "option '--{}' requires an argument",
                            found.name
                        )));
                        return (items, operands);
                    }
                }
            }
            continue;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            operands.push(args[i - 1].clone());
            continue;
        }
        // A cluster of short options.
        let mut k = 1;
        while k < arg.len() {
            let c = arg[k];
            k += 1;
            let spec = short.as_bytes().iter().position(|&s| s == c && s != b':');
            let Some(at) = spec else {
                items.push(Item::Error(format!(
                    "invalid option -- '{}'",
                    String::from_utf8_lossy(&[c])
                )));
                return (items, operands);
            };
            let needs = short.as_bytes().get(at + 1) == Some(&b':');
            if !needs {
                items.push(Item::Opt(c as char, None));
                continue;
            }
            if k < arg.len() {
                items.push(Item::Opt(c as char, Some(os_from_bytes(&arg[k..]))));
            } else if i < args.len() {
                items.push(Item::Opt(c as char, Some(args[i].clone())));
                i += 1;
            } else {
                items.push(Item::Error(format!(
                    "option requires an argument -- '{}'",
                    c as char
                )));
                return (items, operands);
            }
            break;
        }
    }
    (items, operands)
}

fn os_from_bytes(b: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(b.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[LongOpt] = &[
        LongOpt {
            name: "range",
            has_arg: HasArg::Required,
            val: 'A',
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
    ];

    fn run(a: &[&str]) -> (Vec<String>, Vec<String>) {
        let args: Vec<OsString> = a.iter().map(OsString::from).collect();
        let (items, ops) = scan(&args, "xXA:cC:", LONG);
        let items = items
            .into_iter()
            .map(|i| match i {
                Item::Opt(c, None) => c.to_string(),
                Item::Opt(c, Some(v)) => format!("{c}={}", v.to_string_lossy()),
                Item::Error(e) => format!("E:{e}"),
            })
            .collect();
        let ops = ops
            .into_iter()
            .map(|o| o.to_string_lossy().into_owned())
            .collect();
        (items, ops)
    }

    #[test]
    fn clusters_and_permutation() {
        let (i, o) = run(&["1", "-xXA0,f", "2", "--range", "5", "--", "-x"]);
        assert_eq!(i, ["x", "X", "A=0,f", "A=5"]);
        assert_eq!(o, ["1", "2", "-x"]);
    }

    #[test]
    fn glibc_messages() {
        assert_eq!(
            run(&["--read"]).0,
            ["E:option '--read' is ambiguous; possibilities: '--read-rc' '--read-rc-from'"]
        );
        assert_eq!(run(&["--read-rc"]).0, ["c"]);
        assert_eq!(run(&["--ran=3"]).0, ["A=3"]);
        assert_eq!(
            run(&["--read-rc=1"]).0,
            ["E:option '--read-rc' doesn't allow an argument"]
        );
        assert_eq!(run(&["-k"]).0, ["E:invalid option -- 'k'"]);
        assert_eq!(run(&["-A"]).0, ["E:option requires an argument -- 'A'"]);
        assert_eq!(run(&["--foo"]).0, ["E:unrecognized option '--foo'"]);
    }
}
