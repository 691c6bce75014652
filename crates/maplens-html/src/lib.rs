//! `maplens html`: the process report as one self-contained HTML file.
//!
//! [`document`] turns a classified snapshot, its [`Report`] and the
//! findings of the check engine into one page that a person can open from
//! disk or attach to a ticket: the figures, a treemap of memory by category
//! → object → region, the address-space map (to scale, or on a log scale),
//! the thread stacks, the findings and a sortable, searchable region table.
//!
//! What this crate owns:
//!
//! - **One file, no network.** The style sheet, the script and every
//!   picture (SVG drawn by the script) are inline. A Content-Security-Policy
//!   meta tag forbids every fetch (`default-src 'none'`) and allows exactly
//!   the page's own script and style sheet by their SHA-256 hashes, not
//!   `'unsafe-inline'`.
//! - **Data once, as JSON.** The figures travel in one
//!   `<script type="application/json">` block; the script draws the tables
//!   and pictures from it in the browser. Region strings (paths, notes,
//!   rules) are interned in one string table and the regions are columns, so
//!   60,000 regions stay a few MiB; a server-rendered table would repeat
//!   the markup of every cell.
//! - **Escaping.** Every string from the target is first made visible by
//!   [`maplens_core::text::escape`] (controls, bidirectional overrides and
//!   stray bytes shown as `\xNN`), then [`json_for_script`] escapes `<`,
//!   `>`, `&`, U+2028 and U+2029, so no byte of the target can end the data
//!   block or be read as markup. The script only ever sets `textContent`
//!   and attributes of its own choosing; it never parses markup.
//!
//! With a [`Recording`] (a series of samples and its leak analysis) the
//! page adds a time plot: the categories stacked over time, the objects
//! growing fastest as lines and the leaking regions marked, drawn by the
//! same script from the same data block.
//!
//! It does not read `/proc` nor classify: the caller passes the
//! classification and report that every other command prints.
//!
//! ```
//! use maplens_core::{analysis::{classify, report}, model::Snapshot, parse::Mode};
//! let text = b"55d0c0000000-55d0c0001000 r-xp 00000000 08:01 7 /bin/<script>\n";
//! let snap = Snapshot::from_text("maps", text, Mode::Strict).unwrap();
//! let cl = classify(&snap);
//! let rep = report(&snap, &cl);
//! let page = maplens_html::document(&maplens_html::Input {
//!     snapshot: &snap, classified: &cl, report: &rep, findings: None, recording: None,
//! }).unwrap();
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! assert!(page.contains(r"/bin/\u003cscript\u003e"));
//! assert_eq!(page.matches("<script").count(), 2); // the data and the code
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod data;
mod escape;
mod timeline;

pub use escape::json_for_script;
pub use timeline::Recording;

use base64::Engine as _;
use maplens_core::analysis::{Classified, Report};
use maplens_core::check::Outcome;
use maplens_core::model::Snapshot;
use sha2::{Digest, Sha256};

/// The page's script (hand-written, no framework).
pub const SCRIPT: &str = include_str!("assets/report.js");
/// The page's style sheet.
pub const STYLE: &str = include_str!("assets/report.css");
/// The page around them: `{{CSP}}`, `{{STYLE}}`, `{{DATA}}` and `{{SCRIPT}}`
/// are replaced, nothing else. It holds no text from the target.
const TEMPLATE: &str = include_str!("assets/page.html");

/// What a page is made of.
pub struct Input<'a> {
    /// The regions as read.
    pub snapshot: &'a Snapshot,
    /// Their classification (`maplens_core::analysis::classify`).
    pub classified: &'a Classified,
    /// The process report of that classification.
    pub report: &'a Report,
    /// The check engine's findings, when it ran.
    pub findings: Option<&'a Outcome>,
    /// A recording of the process, for the time plot.
    pub recording: Option<Recording<'a>>,
}

/// `'sha256-…'`: a CSP source that allows exactly this inline text.
pub fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The Content-Security-Policy of every page: nothing may be fetched, no
/// form sent, no base URL set; only the page's own script and style run.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src 'none'; \
         base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// The whole page.
///
/// Fails only if the figures cannot be encoded as JSON (they always can;
/// the error is passed on rather than hidden).
pub fn document(input: &Input<'_>) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(&data::build(input))?;
    Ok(page(&json_for_script(&json)))
}

/// The template filled with an already escaped data block.
fn page(data: &str) -> String {
    let mut out = String::with_capacity(TEMPLATE.len() + SCRIPT.len() + STYLE.len() + data.len());
    let mut rest = TEMPLATE;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        match &after[..j] {
            "CSP" => out.push_str(&content_security_policy()),
            "STYLE" => out.push_str(STYLE),
            "SCRIPT" => out.push_str(SCRIPT),
            "DATA" => out.push_str(data),
            other => {
                out.push_str("{{");
                out.push_str(other);
                out.push_str("}}");
            }
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
