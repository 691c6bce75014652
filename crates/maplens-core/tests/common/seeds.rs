//! What the bounded fuzz runs of every crate (`tests/fuzz_regress.rs` in
//! maplens-core, maplens-record and maplens-serve, which include this file
//! by path) share: the committed seed corpora and byte mutations.

#![allow(dead_code)]

use std::path::Path;

/// The committed seed corpus of a fuzz target (`fuzz/corpus/NAME`), in
/// name order.
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    named_corpus(name).into_iter().map(|(_, d)| d).collect()
}

/// [`corpus`] with each file's name.
pub fn named_corpus(name: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).unwrap())
        })
        .collect()
}

/// One edit of an input, positions taken modulo its length.
#[derive(Clone, Debug)]
pub enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

/// Applies `m` to `data`.
pub fn apply(data: &mut Vec<u8>, m: &Mutation) {
    let len = data.len().max(1);
    match m {
        Mutation::Set(i, b) if !data.is_empty() => data[i % len] = *b,
        Mutation::Insert(i, v) => {
            let at = i % (data.len() + 1);
            data.splice(at..at, v.iter().copied());
        }
        Mutation::Delete(i, n) if !data.is_empty() => {
            let at = i % len;
            let end = (at + n).min(data.len());
            data.drain(at..end);
        }
        Mutation::Truncate(i) => data.truncate(i % (data.len() + 1)),
        _ => {}
    }
}
