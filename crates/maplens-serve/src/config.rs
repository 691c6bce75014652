//! The configuration file of `maplens serve` (TOML): how processes are
//! grouped (the only labels a process contributes, so the number of
//! series stays bounded) and what collecting may cost.
//!
//! ```
//! use maplens_serve::config::Config;
//! let c = Config::parse(r#"
//! unmatched = "other"
//! [[group]]
//! name = "web-{comm}"
//! cmdline = "gunicorn|uvicorn"
//! user = ["www-data"]
//! "#).unwrap();
//! assert_eq!(c.groups.len(), 1);
//! assert_eq!(c.collect.interval_seconds, 15.0);
//! ```

use std::path::Path;

use anyhow::Context;
use regex::Regex;
use serde::Deserialize;

/// What to do with a process no rule matches.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Unmatched {
    /// One group per command name (`comm`), as process-exporter does.
    #[default]
    Comm,
    /// Every such process in one group named `other`.
    Other,
    /// Not exported.
    Drop,
}

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`--listen` wins).
    #[serde(default)]
    pub listen: Option<String>,
    /// Processes no rule matches.
    #[serde(default)]
    pub unmatched: Unmatched,
    /// Cost control.
    #[serde(default)]
    pub collect: Collect,
    /// The HTTP server's limits.
    #[serde(default)]
    pub server: Server,
    /// Grouping rules, first match wins.
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupRule>,
}

/// What collecting may cost.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Collect {
    /// Seconds between collections (`smaps_rollup` of every process).
    pub interval_seconds: f64,
    /// Full `smaps` of a process at most this often.
    pub full_interval_seconds: f64,
    /// Full `smaps` only for processes whose RSS is at most this (bytes);
    /// a rule with `full = true` overrides it.
    pub full_max_rss_bytes: u64,
    /// A process found to have more regions than this is not read in full
    /// again (its last categories are kept).
    pub full_max_regions: u64,
    /// Processes with a larger RSS (bytes) get `smaps_rollup` only every
    /// `full_interval_seconds`; their last figures are kept in between
    /// (and `maplens_group_oldest_sample_age_seconds` says how old). 0: no
    /// limit.
    pub rollup_max_rss_bytes: u64,
    /// A collection stops reading new processes after this many seconds;
    /// the rest keep their previous figures.
    pub budget_seconds: f64,
    /// Threads reading `/proc` (a pool of their own).
    pub threads: usize,
}

impl Default for Collect {
    fn default() -> Self {
        Collect {
            interval_seconds: 15.0,
            full_interval_seconds: 60.0,
            full_max_rss_bytes: 4 << 30,
            full_max_regions: 20_000,
            rollup_max_rss_bytes: 0,
            budget_seconds: 10.0,
            threads: 2,
        }
    }
}

/// The HTTP server's limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Connections served at once (64). With every slot taken, a new
    /// client evicts the oldest connection between requests (its first
    /// request head not yet whole, or idle after an answer); only while
    /// every slot is answering a request do more clients wait in the
    /// kernel's backlog.
    pub max_connections: usize,
    /// Seconds a connection may take to send each request head (5), a
    /// total, not a time between bytes: a client sending a byte a second
    /// is closed after it.
    pub header_timeout_seconds: f64,
    /// Seconds a whole connection may live (30).
    pub connection_timeout_seconds: f64,
    /// Bytes a connection may buffer of a request head, 8192 to 1 MiB
    /// (16384); a larger head is answered 431 and the connection closed.
    pub max_header_bytes: usize,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            max_connections: 64,
            header_timeout_seconds: 5.0,
            connection_timeout_seconds: 30.0,
            max_header_bytes: 16 << 10,
        }
    }
}

/// One grouping rule: every matcher given must match.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    /// The group's label; `{comm}` is replaced by the process's name.
    pub name: String,
    /// Any of these command names (exact).
    #[serde(default)]
    pub comm: Vec<String>,
    /// Any of these executables (exact path).
    #[serde(default)]
    pub exe: Vec<String>,
    /// A regex on the command line (arguments joined by spaces).
    #[serde(default, with = "opt_regex")]
    pub cmdline: Option<Regex>,
    /// Any of these users (names or uids).
    #[serde(default)]
    pub user: Vec<String>,
    /// A regex on the cgroup v2 path.
    #[serde(default, with = "opt_regex")]
    pub cgroup: Option<Regex>,
    /// Read full smaps of these processes whatever their size.
    #[serde(default)]
    pub full: bool,
}

/// What a rule is matched against.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// `comm`.
    pub comm: &'a str,
    /// `exe`, when readable.
    pub exe: Option<&'a str>,
    /// The command line.
    pub cmdline: &'a str,
    /// User name.
    pub user: &'a str,
    /// Uid.
    pub uid: Option<u32>,
    /// cgroup v2 path.
    pub cgroup: Option<&'a str>,
}

impl GroupRule {
    /// Whether every matcher of the rule matches.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        (self.comm.is_empty() || self.comm.iter().any(|c| c == s.comm))
            && (self.exe.is_empty() || s.exe.is_some_and(|e| self.exe.iter().any(|x| x == e)))
            && self.cmdline.as_ref().is_none_or(|r| r.is_match(s.cmdline))
            && (self.user.is_empty()
                || self
                    .user
                    .iter()
                    .any(|u| u == s.user || s.uid.is_some_and(|id| u.parse::<u32>() == Ok(id))))
            && self
                .cgroup
                .as_ref()
                .is_none_or(|r| s.cgroup.is_some_and(|c| r.is_match(c)))
    }

    /// The group name for a matching process.
    pub fn label(&self, s: &Subject<'_>) -> String {
        self.name.replace("{comm}", s.comm)
    }
}

impl Config {
    /// Parses TOML text.
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| {
            // toml's message spans lines (a caret under the text): one line.
            let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
            match e.span() {
                Some(sp) => {
                    let line = text[..sp.start.min(text.len())].matches('\n').count() + 1;
                    anyhow::anyhow!("line {line}: {msg}")
                }
                None => anyhow::anyhow!("{msg}"),
            }
        })?;
        c.check()?;
        Ok(c)
    }

    /// Reads and parses a file; errors name it.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Config::parse(&text).with_context(|| format!("config {}", path.display()))
    }

    fn check(&self) -> anyhow::Result<()> {
        let c = &self.collect;
        let pos = |v: f64, what: &str| {
            if v.is_finite() && v > 0.0 && v < 86_400.0 {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "{what} must be a number of seconds above 0 and below a day, not {v}"
                ))
            }
        };
        pos(c.interval_seconds, "collect.interval_seconds")?;
        pos(c.full_interval_seconds, "collect.full_interval_seconds")?;
        pos(c.budget_seconds, "collect.budget_seconds")?;
        pos(
            self.server.header_timeout_seconds,
            "server.header_timeout_seconds",
        )?;
        pos(
            self.server.connection_timeout_seconds,
            "server.connection_timeout_seconds",
        )?;
        if !(1..=64).contains(&c.threads) {
            anyhow::bail!("collect.threads must be 1 to 64, not {}", c.threads);
        }
        if !(1..=10_000).contains(&self.server.max_connections) {
            anyhow::bail!(
                "server.max_connections must be 1 to 10000, not {}",
                self.server.max_connections
            );
        }
        // hyper's minimum buffer is 8192 bytes (it asserts so).
        if !(8192..=1 << 20).contains(&self.server.max_header_bytes) {
            anyhow::bail!(
                "server.max_header_bytes must be 8192 to 1048576, not {}",
                self.server.max_header_bytes
            );
        }
        for g in &self.groups {
            if g.name.is_empty() {
                anyhow::bail!("a [[group]] has an empty name");
            }
        }
        Ok(())
    }
}

mod opt_regex {
    use regex::Regex;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Regex>, D::Error> {
        let s = String::deserialize(d)?;
        Regex::new(&s)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("bad regex '{s}': {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(comm: &'a str, cmdline: &'a str, user: &'a str) -> Subject<'a> {
        Subject {
            comm,
            exe: Some("/usr/bin/python3"),
            cmdline,
            user,
            uid: Some(33),
            cgroup: Some("/system.slice/web.service"),
        }
    }

    #[test]
    fn every_matcher_must_match() {
        let c = Config::parse(
            r#"
[[group]]
name = "web"
cmdline = "gunicorn"
user = ["33"]
cgroup = "web\\.service$"
"#,
        )
        .unwrap();
        let g = &c.groups[0];
        assert!(g.matches(&subject("python3", "python3 -m gunicorn app", "www-data")));
        assert!(!g.matches(&subject("python3", "python3 -m flask", "www-data")));
        let mut other_cg = subject("python3", "gunicorn", "www-data");
        other_cg.cgroup = Some("/user.slice");
        assert!(!g.matches(&other_cg));
    }

    #[test]
    fn comm_template_and_exe() {
        let c = Config::parse("[[group]]\nname = \"py-{comm}\"\nexe = [\"/usr/bin/python3\"]\n")
            .unwrap();
        let s = subject("celery", "", "x");
        assert!(c.groups[0].matches(&s));
        assert_eq!(c.groups[0].label(&s), "py-celery");
    }

    #[test]
    fn errors_are_one_line_with_a_line_number() {
        let e = Config::parse("[collect]\nthreads = 0\n").unwrap_err();
        assert_eq!(e.to_string(), "collect.threads must be 1 to 64, not 0");
        let e = Config::parse("\n[[group]]\nname = \"x\"\ncmdline = \"(\"\n").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("line 4: bad regex '('"), "{s}");
        assert!(!s.contains('\n'), "{s}");
        let e = Config::parse("[server]\nmax_header_bytes = 100\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "server.max_header_bytes must be 8192 to 1048576, not 100"
        );
        let e = Config::parse("colect = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: unknown field `colect`"), "{e}");
    }
}
