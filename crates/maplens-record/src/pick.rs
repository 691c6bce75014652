//! Naming one sample of a recording: `@first`, `@last`, `@N` (from 0),
//! `@-N` (from the end), `@TIME` (UTC, `2026-12-01T03:00[:SS][Z]`).

use maplens_core::model::Sample;

/// Which sample of a series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// By position: 0 is the first, -1 the last.
    Index(i64),
    /// The last sample taken at or before this time (ms since the epoch).
    Time(u64),
}

impl Pick {
    /// Parses the text after the `@`.
    ///
    /// ```
    /// use maplens_record::Pick;
    /// assert_eq!(Pick::parse("first"), Some(Pick::Index(0)));
    /// assert_eq!(Pick::parse("-1"), Some(Pick::Index(-1)));
    /// assert_eq!(Pick::parse("1970-01-01T00:01"), Some(Pick::Time(60_000)));
    /// assert_eq!(Pick::parse("soon"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Pick> {
        match text {
            "first" => Some(Pick::Index(0)),
            "last" => Some(Pick::Index(-1)),
            _ => text
                .parse()
                .ok()
                .map(Pick::Index)
                .or_else(|| parse_time(text).map(Pick::Time)),
        }
    }

    /// The index of the picked sample among `samples` (in time order).
    pub fn choose(&self, samples: &[Sample]) -> Option<usize> {
        let n = samples.len() as i64;
        match *self {
            Pick::Index(i) if i >= 0 && i < n => Some(i as usize),
            Pick::Index(i) if i < 0 && -i <= n => Some((n + i) as usize),
            Pick::Index(_) => None,
            Pick::Time(t) => samples.iter().rposition(|s| s.time_ms <= t),
        }
    }
}

/// Milliseconds since the epoch of a UTC time `YYYY-MM-DDTHH:MM[:SS][Z]`
/// (a space may stand for the `T`).
///
/// ```
/// assert_eq!(maplens_record::parse_time("2000-03-01T00:00:01Z"), Some(951_868_801_000));
/// assert_eq!(maplens_record::parse_time("2000-13-01T00:00"), None);
/// ```
pub fn parse_time(text: &str) -> Option<u64> {
    let t = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = t.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let mut h = time.split(':');
    let (hh, mm): (i64, i64) = (h.next()?.parse().ok()?, h.next()?.parse().ok()?);
    let ss: i64 = match h.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if d.next().is_some()
        || h.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || hh > 23
        || mm > 59
        || ss > 60
        || y < 1970
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(((days * 24 + hh) * 60 + mm) * 60 + ss)
        .ok()
        .map(|s| s * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose() {
        let s: Vec<Sample> = (1..=4)
            .map(|t| Sample {
                time_ms: t * 1000,
                ..Sample::default()
            })
            .collect();
        assert_eq!(Pick::Index(0).choose(&s), Some(0));
        assert_eq!(Pick::Index(-1).choose(&s), Some(3));
        assert_eq!(Pick::Index(-4).choose(&s), Some(0));
        assert_eq!(Pick::Index(4).choose(&s), None);
        assert_eq!(Pick::Time(2500).choose(&s), Some(1));
        assert_eq!(Pick::Time(500).choose(&s), None);
        assert_eq!(parse_time("2026-12-01T03:00"), Some(1_796_094_000_000));
    }
}
