//! What `maplens leaks --format json` says, for the tests that read it.

use serde_json::Value;

/// The regions `leaks --format json` calls leaking, by start address, in
/// the first series.
pub fn leaking_regions(doc: &Value) -> Vec<u64> {
    let mut v: Vec<u64> = doc["series"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["scope"] == "region" && f["leak"] == true)
        .filter_map(|f| f["start"].as_u64())
        .collect();
    v.sort_unstable();
    v
}
