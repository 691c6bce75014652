//! JSON comparison helpers shared by test binaries (included with
//! `#[path]`): a document without its `source`, and the first difference
//! between two documents, named by its path.
#![allow(dead_code)]

use serde_json::Value;

/// The JSON document with the keys that name where the text came from
/// removed: `source` (`/proc/PID` live, `cap.tar:PID` from a bundle) and,
/// in check's targets, `target` (the word typed on the command line).
pub fn json_sans_source(text: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("source");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(text).expect("maplens prints JSON");
    strip(&mut v);
    if let Some(targets) = v.get_mut("targets").and_then(Value::as_array_mut) {
        for t in targets {
            t.as_object_mut().map(|m| m.remove("target"));
        }
    }
    v
}

/// The path and values of the first difference between two JSON values.
pub fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_diff(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: {u:?} vs {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_diff(u, v, &format!("{path}[{i}]"))),
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

pub fn assert_same(a: &Value, b: &Value, what: &str) {
    if let Some(d) = first_diff(a, b, "") {
        panic!("{what}: {d}");
    }
}
